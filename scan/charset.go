package scan

import (
	"bytes"
	"fmt"
	"io"
	"maps"
	"mime"
	"regexp"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/emersion/go-message/charset" // decode text in common non-UTF-8 charsets
	"github.com/emersion/go-message/textproto"
	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/htmlindex"
	"golang.org/x/text/encoding/ianaindex"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/korean"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/traditionalchinese"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/encoding/unicode/utf32"
)

// Text labelled ISO-8859-1 is read as Windows-1252, its superset, as
// SpamAssassin's Message::Node::_normalize does (normalize_charset, on by
// default), and mail readers and browsers (after HTML5): 0x80-0x9F are then the
// smart quotes, dashes and euro sign that mislabelled mail means, not C1
// control characters. Read as controls, a quote was a letter to the HTML
// analysis (HTML_OBFUSCATE_05_10 hit where SpamAssassin reads a '"'). The
// names are SpamAssassin's (ISO-?8859-1); Latin-1's other aliases it reads
// strictly, as the standard decoder does. Header fields' encoded words go
// through DecodeHeader, since the standard library decodes ISO-8859-1 ones
// itself, strictly.
//
// UTF-7 (utf7.go) and UTF-32 are decoded, in parts and in encoded words, as
// SpamAssassin (Perl's Encode) decodes them; Go's text packages know their
// names but leave them out of their indexes. UTF-32 without a byte order mark
// is big-endian.
func init() {
	ours := perlAliases()
	maps.Copy(ours, map[string]encoding.Encoding{
		"iso-8859-1": charmap.Windows1252,
		"iso8859-1":  charmap.Windows1252,
		"utf-7":      utf7,
		"utf-32":     utf32.UTF32(utf32.BigEndian, utf32.UseBOM),
		"utf-32be":   utf32.UTF32(utf32.BigEndian, utf32.IgnoreBOM),
		"utf-32le":   utf32.UTF32(utf32.LittleEndian, utf32.IgnoreBOM),
	})
	for name, enc := range ours {
		charsetQuirks[name] = enc
		charset.RegisterEncoding(name, enc)
	}
}

// perlAliases are the names of charsets that Perl's Encode (Encode::Alias),
// and so SpamAssassin, decodes and Go's indexes do not know: Windows' East
// Asian code pages by number (cp932, ms949, windows-950: Encode::Alias reads
// ibm, ms and windows before the number as cp), the Latin alphabets with a
// hyphen or an underscore (latin-1, latin_9: ISO 8859's parts in Encode's
// order), and GB 2312 with anything after its number (GB2312_CHARSET, the name
// of Windows' font character set that Outlook Express wrote, read as EUC-CN).
// Text in them stayed undecoded bytes, which neither the rules nor Bayes read
// as the letters SpamAssassin reads. Windows' other font names
// (CHINESEBIG5_CHARSET, SHIFTJIS_CHARSET) are no names to Encode either, and
// stay so here. The encodings are the WHATWG ones Go has for these code
// pages: its Shift_JIS is Windows-31J (cp932), its EUC-KR is Unified Hangul
// (cp949), its Big5 holds cp950's characters, its GBK is a superset of
// EUC-CN.
func perlAliases() map[string]encoding.Encoding {
	m := map[string]encoding.Encoding{"gb2312_charset": simplifiedchinese.GBK}
	for cp, enc := range map[string]encoding.Encoding{
		"932": japanese.ShiftJIS, "949": korean.EUCKR, "950": traditionalchinese.Big5,
	} {
		for _, prefix := range []string{"cp", "ms", "ibm", "windows-", "windows_", "ms-", "ms_", "ibm-", "ibm_"} {
			m[prefix+cp] = enc
		}
	}
	for n, enc := range []encoding.Encoding{1: charmap.ISO8859_1, 2: charmap.ISO8859_2, 3: charmap.ISO8859_3,
		4: charmap.ISO8859_4, 5: charmap.ISO8859_9, 6: charmap.ISO8859_10, 7: charmap.ISO8859_13,
		8: charmap.ISO8859_14, 9: charmap.ISO8859_15, 10: charmap.ISO8859_16} {
		if enc != nil {
			m[fmt.Sprintf("latin-%d", n)] = enc
			m[fmt.Sprintf("latin_%d", n)] = enc
		}
	}
	return m
}

// charsetQuirks are the names go-message's charset package (v0.18.2) maps
// before it asks the indexes, and ours (init), for header fields' encoded words
// (wordEncoding).
var charsetQuirks = map[string]encoding.Encoding{
	"ansi_x3.110-1983": charmap.ISO8859_1,
	"x-utf_8j":         unicode.UTF8,
}

// headerDecoder decodes encoded words in the charsets go-message knows.
var headerDecoder = &mime.WordDecoder{CharsetReader: wordCharsetReader}

// wordCharsetReader decodes an encoded word's bytes from charset cs at once.
// go-message's charset.Reader, which the body's parse uses, returns a streaming
// reader with two 4 KB buffers, and the standard decoder copied the word from it
// with io.Copy, which made a 32 KB buffer more (neither side has a WriteTo or
// ReadFrom): 40 KB for a few dozen bytes, for every word in a charset other than
// UTF-8, such as every Latin-1 word (DecodeHeader reads them as Windows-1252). A
// bytes.Reader has a WriteTo, so the copy takes no buffer either.
func wordCharsetReader(cs string, in io.Reader) (io.Reader, error) {
	enc, err := wordEncoding(cs)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(in)
	if err != nil {
		return nil, err
	}
	if b, err = enc.NewDecoder().Bytes(b); err != nil {
		return nil, fmt.Errorf("charset %q: %w", cs, err)
	}
	return bytes.NewReader(b), nil
}

// wordEncodings holds the encodings wordEncoding found, by name. Only names
// found are kept, and mime.WordDecoder lower-cases the name before it asks
// (as charset.Reader looks up its quirks), so what a sender can add to it is
// bounded by the names the indexes know, not by their spellings' cases.
var wordEncodings sync.Map // string → encoding.Encoding

// wordEncoding finds charset cs's encoding as go-message's charset.Reader does
// (TestWordEncoding holds the two to the same decoding): its quirks and ours
// (charsetQuirks), then the IANA names, with "cs" before them, then the WHATWG
// labels.
func wordEncoding(cs string) (encoding.Encoding, error) {
	if e, ok := wordEncodings.Load(cs); ok {
		return e.(encoding.Encoding), nil
	}
	enc, ok := charsetQuirks[cs]
	var err error
	if !ok {
		enc, err = ianaindex.MIME.Encoding(cs)
		if enc == nil {
			enc, err = ianaindex.MIME.Encoding("cs" + cs)
		}
		if enc == nil {
			enc, err = htmlindex.Get(cs)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("charset %q: %w", cs, err)
	}
	if enc == nil {
		return nil, fmt.Errorf("charset %q: unsupported charset", cs)
	}
	wordEncodings.Store(cs, enc)
	return enc, nil
}

// CharsetEncoding is charset cs's encoding, found as the message's own texts'
// charsets are (cs lower case): for a reader of a part's content that names
// its own charset, as an XML declaration does.
func CharsetEncoding(cs string) (encoding.Encoding, error) { return wordEncoding(cs) }

// DecodeHeader decodes a header field's encoded words (RFC 2047) as
// SpamAssassin does: those labelled ISO-8859-1 as Windows-1252, like text
// parts (the standard decoder reads them itself, strictly, and a subject's
// "=?iso-8859-1?Q?=80100_off?=" was a control character, not "€100 off"),
// and a word with an RFC 2231 language after its charset (=?utf-8*en?q?…?=),
// which the standard decoder refuses, leaving the whole field undecoded.
//
// Raw 8-bit bytes in the field that are not UTF-8 are read as Windows-1252
// first, as SpamAssassin's _decode_header guesses for the Latin letters (for
// other bytes it keeps them as they are, which its byte-wise rules then read:
// a "\xa3" in a rule finds a raw pound sign there, and finds "£" in UTF-8,
// whose second byte it is, here). Kept raw, a subject's pound sign was an
// invalid byte to every rule (LOTS_OF_MONEY on easy-ham-1.02345).
func DecodeHeader(v string) (string, error) {
	v = HeaderUTF8(v)
	if strings.Contains(v, "=?") {
		if strings.IndexByte(v, '*') >= 0 {
			v = reWordLanguage.ReplaceAllString(v, "=?$1?")
		}
		if reLatin1Word.MatchString(v) {
			v = reLatin1Word.ReplaceAllString(v, "=?windows-1252?")
		}
	}
	return headerDecoder.DecodeHeader(v)
}

// HeaderUTF8 is v with raw 8-bit bytes that are not UTF-8 read as
// Windows-1252: DecodeHeader's first step, alone, for the fields whose encoded
// words SpamAssassin leaves as they are.
func HeaderUTF8(v string) string {
	if !utf8.ValidString(v) {
		if d, err := charmap.Windows1252.NewDecoder().String(v); err == nil {
			return d
		}
	}
	return v
}

var (
	reWordLanguage = regexp.MustCompile(`=\?([^?*\s]+)\*[A-Za-z0-9-]*\?`)
	reLatin1Word   = regexp.MustCompile(`(?i)=\?iso-8859-1\?`)
)

// utf8Peek is how much of a text part relabel reads to choose: what the parse
// keeps of a part.
const utf8Peek = maxTextBytes

// relabel reads the start of a text part's body, raw (transfer-decoded, in its
// charset), and returns the header with the charset the text is read in, as
// SpamAssassin's _normalize chooses it; the reader it returns reads the body
// from its start.
//
//   - 8-bit text that is valid UTF-8 is UTF-8, whatever its label: UTF-8
//     labelled ISO-8859-1 or Windows-1251 (a client's default label) is common,
//     and the other way round rare, since Latin-1 or Cyrillic words seldom make
//     valid UTF-8. Read by its label, such text was "Ã©" where SpamAssassin and
//     the reader see "é".
//   - Other 8-bit text that declares no charset, or US-ASCII, is Windows-1252
//     (SpamAssassin's last resort): the bytes of a Western European client
//     that did not say so. Read as they were, its "£130million" was an invalid
//     byte before digits, and the money rules SpamAssassin's hits them with
//     missed it.
//
// Text that declares a charset and is not valid in it stays with its label
// and its decoder's replacement characters: SpamAssassin then falls back to
// Windows-1252 for the whole part (without Encode::Detect), which makes, say,
// a Korean text with one stray byte Latin-1 gibberish; a reader shows it Korean.
//
// t and params are the header's Content-Type, as the standard parser reads it
// (the decoder's parse: a field it refuses is not relabelled). release gives
// back the buffer the look-ahead was read into, once the part has been read.
func relabel(h textproto.Header, t string, params map[string]string, raw io.Reader) (_ textproto.Header, _ io.Reader, release func()) {
	cs := strings.ToLower(params["charset"])
	if cs == "utf-8" || cs == "utf8" {
		return h, raw, func() {}
	}
	buf := headBufs.Get().(*bytes.Buffer)
	release = func() {
		if buf.Cap() <= headBufKeep {
			buf.Reset()
			headBufs.Put(buf)
		}
	}
	_, err := buf.ReadFrom(io.LimitReader(raw, utf8Peek))
	head := buf.Bytes()
	if err != nil { // the part as far as it could be read, then why not
		return h, io.MultiReader(bytes.NewReader(head), failedReader{err}), release
	}
	raw = io.MultiReader(bytes.NewReader(head), raw)
	if !eightBit(head) {
		return h, raw, release
	}
	switch {
	case validUTF8(head, len(head) == utf8Peek):
		cs = "utf-8"
	case cs == "" || cs == "us-ascii":
		cs = "windows-1252"
	default:
		return h, raw, release
	}
	if params == nil {
		params = map[string]string{}
	}
	params["charset"] = cs
	v := mime.FormatMediaType(t, params)
	if v == "" {
		return h, raw, release
	}
	h = h.Copy()
	h.Set("Content-Type", v)
	return h, raw, release
}

// headBufs lend relabel its look-ahead buffers: read anew for each part, they
// were an eighth of a parse's time (BenchmarkParseCorpus). One grown past
// headBufKeep by a large part is not kept.
var headBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

const headBufKeep = 256 << 10

func eightBit(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return true
		}
	}
	return false
}

// validUTF8 says whether b is valid UTF-8; cut: but for a character the end of
// b may cut (b is the head of a longer text).
func validUTF8(b []byte, cut bool) bool {
	for i := len(b) - 1; cut && i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
		if utf8.RuneStart(b[i]) {
			if !utf8.FullRune(b[i:]) {
				b = b[:i]
			}
			break
		}
	}
	return utf8.Valid(b)
}

// failedReader fails with err: a read error met while looking ahead, handed on
// where the reading stopped.
type failedReader struct{ err error }

func (f failedReader) Read([]byte) (int, error) { return 0, f.err }
