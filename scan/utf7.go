package scan

import (
	"errors"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/transform"
)

// utf7 is UTF-7 (RFC 2152), which Go's text packages do not decode: a part in
// it was read as it stands, and its HTML, "+ADw-html+AD4-", had no tag, link or
// word for the rules, the HTML analysis or Bayes to read. Phishing writes its
// HTML in UTF-7 for that (phishing/07832 of the corpus, sent through Amazon
// SES); SpamAssassin decodes it (Perl's Encode), and mail readers that render
// it show the page. Decoding only: nothing here writes UTF-7.
var utf7 encoding.Encoding = utf7Encoding{}

type utf7Encoding struct{}

func (utf7Encoding) NewDecoder() *encoding.Decoder {
	return &encoding.Decoder{Transformer: &utf7Decoder{}}
}

func (utf7Encoding) NewEncoder() *encoding.Encoder {
	return &encoding.Encoder{Transformer: noEncoder{}}
}

var errUTF7Encode = errors.New("utf-7: encoding is not supported")

type noEncoder struct{ transform.NopResetter }

func (noEncoder) Transform(dst, src []byte, atEOF bool) (int, int, error) {
	return 0, 0, errUTF7Encode
}

// utf7Decoder decodes UTF-7 a byte at a time, as Perl's Encode does. Outside a
// run, a byte is itself (a byte over 0x7F, which UTF-7 never has, is U+FFFD);
// "+" starts a run of base64 whose 16-bit units are UTF-16, which ends at the
// first byte outside base64's alphabet, a "-" there being dropped; "+-" is "+",
// and so is a "+" with no base64 after it ("a+ b" is itself). A unit that is
// half of a surrogate pair without its other half is U+FFFD, and bits left at
// a run's end (fewer than 16) are dropped, as a decoder that replaces errors
// reads them.
type utf7Decoder struct {
	run   bool   // inside a base64 run
	first bool   // no base64 yet after the "+": ended here, the run is a "+"
	bits  uint32 // the run's bits not yet a unit, the last n of them
	n     uint
	high  rune // a high surrogate waiting for its low half, or 0
}

func (d *utf7Decoder) Reset() { *d = utf7Decoder{} }

// utf7MaxOut is the most one input byte writes: U+FFFD for a surrogate left
// unpaired, then a rune of four bytes.
const utf7MaxOut = 3 + utf8.UTFMax

func (d *utf7Decoder) Transform(dst, src []byte, atEOF bool) (nDst, nSrc int, err error) {
	for ; nSrc < len(src); nSrc++ {
		if len(dst)-nDst < utf7MaxOut {
			return nDst, nSrc, transform.ErrShortDst
		}
		c := src[nSrc]
		if d.run {
			if v := base64Values[c]; v >= 0 {
				d.first = false
				d.bits = d.bits<<6 | uint32(v)
				d.n += 6
				if d.n >= 16 {
					d.n -= 16
					unit := rune(d.bits >> d.n & 0xffff)
					d.bits &= 1<<d.n - 1
					nDst += d.unit(dst[nDst:], unit)
				}
				continue
			}
			// The run's end; a "-" ending it is dropped.
			nDst += d.endRun(dst[nDst:])
			if c == '-' {
				continue
			}
		}
		switch {
		case c == '+':
			d.run, d.first = true, true
		case c < utf8.RuneSelf:
			dst[nDst] = c
			nDst++
		default:
			nDst += utf8.EncodeRune(dst[nDst:], utf8.RuneError)
		}
	}
	if atEOF && d.run {
		if len(dst)-nDst < utf7MaxOut {
			return nDst, nSrc, transform.ErrShortDst
		}
		nDst += d.endRun(dst[nDst:])
	}
	return nDst, nSrc, nil
}

// unit writes what a UTF-16 unit of a run completes, and returns its length.
func (d *utf7Decoder) unit(dst []byte, u rune) int {
	n := 0
	switch {
	case 0xd800 <= u && u < 0xdc00:
		if d.high != 0 {
			n += utf8.EncodeRune(dst, utf8.RuneError)
		}
		d.high = u
		return n
	case 0xdc00 <= u && u < 0xe000:
		if d.high == 0 {
			return utf8.EncodeRune(dst, utf8.RuneError)
		}
		r := 0x10000 + (d.high-0xd800)<<10 + (u - 0xdc00)
		d.high = 0
		return utf8.EncodeRune(dst, r)
	}
	if d.high != 0 {
		n += utf8.EncodeRune(dst, utf8.RuneError)
		d.high = 0
	}
	return n + utf8.EncodeRune(dst[n:], u)
}

// endRun ends a base64 run: a "+" with no base64 after it is itself, a high
// surrogate still waiting is U+FFFD, and the bits left over are dropped. It
// returns what it wrote.
func (d *utf7Decoder) endRun(dst []byte) int {
	n := 0
	if d.first {
		dst[0] = '+'
		n = 1
	}
	if d.high != 0 {
		n += utf8.EncodeRune(dst[n:], utf8.RuneError)
	}
	d.run, d.first, d.bits, d.n, d.high = false, false, 0, 0, 0
	return n
}
