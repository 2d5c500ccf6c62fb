package scan

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"sync"
)

// base64Reader decodes a base64 body in blocks: it drops line breaks and other white
// space, decodes whole quads with the standard library and keeps the remainder for the
// next block. It reads a body as SpamAssassin's base64_decode does
// (Mail::SpamAssassin::Util), and never stops short:
//
//   - a character outside the alphabet is skipped (a stray "!" used to end the
//     decoding, and with it the part's text: what followed reached no rule, a way
//     to hide spam that SpamAssassin and mail clients read through); the count
//     skipped is returned as an error once everything is decoded, for the walk to
//     note as a Problem;
//   - an "=" that does not end the body (a block of base64 after another's
//     padding) reads as "A", as in SpamAssassin's well-formed case;
//   - the end may lack its padding, and a last character alone is dropped.
//
// SpamAssassin reads an "=" inside a body that is not well formed (of a length
// not a multiple of four, or with characters outside the alphabet) as "/": those
// bytes only differ.
type base64Reader struct {
	r       io.Reader
	in      []byte // raw input block
	quad    []byte // filtered input not yet decoded (a part of a quad and a run of "=" between fills)
	out     []byte // decoded, not yet returned
	outBuf  []byte
	skipped int   // characters outside the alphabet, so far
	err     error // sticky: the input's error, or the end
}

// base64Readers keeps readers whose part has been read, for their buffers: 88 KB
// a part, allocated afresh, was a sixth of the check's garbage.
var base64Readers sync.Pool

func newBase64Reader(r io.Reader) *base64Reader {
	b, _ := base64Readers.Get().(*base64Reader)
	if b == nil {
		b = &base64Reader{in: make([]byte, 32<<10), quad: make([]byte, 0, 32<<10+4), outBuf: make([]byte, 0, 24<<10+3)}
	}
	b.r, b.quad, b.out, b.skipped, b.err = r, b.quad[:0], nil, 0, nil
	return b
}

// release gives b back for another part once its part has been read; nothing
// reads b after.
func (b *base64Reader) release() {
	b.r, b.out = nil, nil
	base64Readers.Put(b)
}

func (b *base64Reader) Read(p []byte) (int, error) {
	for len(b.out) == 0 {
		if b.err != nil {
			return 0, b.err
		}
		b.fill()
	}
	n := copy(p, b.out)
	b.out = b.out[n:]
	return n, nil
}

// fill reads one block and decodes what it can of it: the whole quads before a
// final run of "=", which waits, as whether an "=" is padding depends on whether
// anything follows it.
func (b *base64Reader) fill() {
	n, end, err := readBlock(b.r, b.in)
	b.quad = appendFiltered(b.quad, b.in[:n])
	b.err = err
	var src []byte
	for retry := false; ; retry = true {
		if src = b.ready(end); retry {
			for i, c := range src {
				if c == '=' {
					src[i] = 'A' // (not the body's end: SpamAssassin's s/(=+)(?!=*$)/A/)
				}
			}
		}
		b.outBuf = b.outBuf[:cap(b.outBuf)]
		if need := base64.RawStdEncoding.DecodedLen(len(src)) + 3; len(b.outBuf) < need {
			b.outBuf = make([]byte, need)
		}
		m, derr := base64.RawStdEncoding.Decode(b.outBuf, src)
		if derr == nil {
			b.out = b.outBuf[:m]
			break
		}
		var at base64.CorruptInputError
		if retry || !errors.As(derr, &at) { // (cannot happen: only the alphabet is left)
			b.out, b.err = b.outBuf[:m], fmt.Errorf("base64: %w", derr)
			return
		}
		b.skipped += b.dropJunk(int(at))
	}
	if !end {
		b.quad = append(b.quad[:0], b.quad[len(src):]...)
		return
	}
	b.quad = b.quad[:0]
	if b.err == nil {
		b.err = io.EOF
		if b.skipped > 0 {
			b.err = fmt.Errorf("base64: %d characters outside the alphabet skipped", b.skipped)
		}
	}
}

// ready is what of the filtered input can be decoded now: the whole quads before
// its final run of "=", which may be the body's padding; or at the end all of it,
// the padding dropped, and a last character alone (which holds less than a byte)
// too.
func (b *base64Reader) ready(end bool) []byte {
	src := bytes.TrimRight(b.quad, "=")
	if !end {
		if len(b.quad)-len(src) > maxPendingPad {
			// Not padding, or not worth the wait: read as A (zero bits), as
			// if data followed. It keeps what waits, and each fill's look
			// for it, bounded.
			return b.quad[:len(b.quad)/4*4]
		}
		return b.quad[:len(src)/4*4]
	}
	if len(src)%4 == 1 {
		src = src[:len(src)-1]
	}
	return src
}

// dropJunk removes from b.quad[from:] the characters outside the alphabet (keeping
// "="), and returns how many it removed.
func (b *base64Reader) dropJunk(from int) int {
	k := from
	for _, c := range b.quad[from:] {
		if base64Values[c] >= 0 || c == '=' {
			b.quad[k] = c
			k++
		}
	}
	n := len(b.quad) - k
	b.quad = b.quad[:k]
	return n
}

// maxPendingPad is the longest run of "=" that waits to see whether it ends the
// body: a body of nothing but "=" would otherwise be looked through again at
// each block.
const maxPendingPad = 64 << 10

// base64Chars is base64's alphabet (RFC 2045), in the order of the values.
const base64Chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

// base64Values are each byte's value in base64Chars, -1 for a byte outside the
// alphabet.
var base64Values = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	for i, c := range []byte(base64Chars) {
		t[c] = int8(i)
	}
	return t
}()

// appendFiltered appends src without white space. Mail wraps base64 in lines of 76:
// copying whole lines found with IndexByte is several times faster than a byte loop.
func appendFiltered(dst, src []byte) []byte {
	for len(src) > 0 {
		i := bytes.IndexByte(src, '\n')
		line := src
		if i >= 0 {
			line, src = src[:i], src[i+1:]
		} else {
			src = nil
		}
		line = bytes.TrimSuffix(line, []byte{'\r'})
		if bytes.IndexByte(line, ' ') < 0 && bytes.IndexByte(line, '\t') < 0 && bytes.IndexByte(line, '\r') < 0 {
			dst = append(dst, line...)
			continue
		}
		for _, c := range line {
			if c != ' ' && c != '\t' && c != '\r' {
				dst = append(dst, c)
			}
		}
	}
	return dst
}
