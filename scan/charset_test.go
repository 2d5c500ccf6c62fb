package scan

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"strings"
	"testing"

	"github.com/emersion/go-message/charset"
)

// validUTF8 allows the head of a longer text (cut) to end inside a character,
// and nothing else.
func TestValidUTF8(t *testing.T) {
	for _, tc := range []struct {
		in        string
		cut, want bool
	}{
		{"café", false, true},
		{"caf\xc3", true, true},   // é cut after its first byte
		{"caf\xc3", false, false}, // the whole text: a broken character
		{"\xe2\x82", true, true},  // € cut
		{"caf\xe9 ", true, false}, // Latin-1
		{"caf\xe9", false, false}, // Latin-1 at the end of the text
		{"\xc3\xa9\xa9", true, false},
		{"\xf0\x9f\x98", true, true},
		{"\xf0\x9f\x98\x80\x80", true, false},
	} {
		if got := validUTF8([]byte(tc.in), tc.cut); got != tc.want {
			t.Errorf("validUTF8(%q, %v) = %v, want %v", tc.in, tc.cut, got, tc.want)
		}
	}
}

// A read error met while relabel looks ahead reaches Parse's caller, even from a
// reader that reports it once (the buffered readers between pass it on once):
// read on after the look-ahead, such a reader would only say EOF.
func TestParseReadErrorLookingAhead(t *testing.T) {
	boom := errors.New("disk gone")
	r := &onceErr{r: strings.NewReader("Content-Type: text/plain; charset=iso-8859-1\r\n\r\ncaf\xe9 "), err: boom}
	if _, err := Parse(r); !errors.Is(err, boom) {
		t.Fatalf("Parse = %v, want the reader's error", err)
	}
}

// onceErr reads r, then fails with err once, then says EOF.
type onceErr struct {
	r    io.Reader
	err  error
	done bool
}

func (o *onceErr) Read(p []byte) (int, error) {
	if n, err := o.r.Read(p); n > 0 || err != io.EOF {
		return n, err
	}
	if o.done {
		return 0, io.EOF
	}
	o.done = true
	return 0, o.err
}

// Encoded words labelled ISO-8859-1 are Windows-1252, as SpamAssassin reads
// them (its own subject for the first row is "€100 off “now”"); an RFC 2231
// language after a charset is read past; others are the standard decoder's.
func TestDecodeHeader(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"=?iso-8859-1?Q?=80100_off_=93now=94?=", "€100 off “now”"},
		{"=?ISO-8859-1*en?q?caf=E9?= =?Iso-8859-1?B?gA==?=", "café€"},
		{"=?utf-8?q?=E2=82=AC1?= plain iso-8859-1? text", "€1 plain iso-8859-1? text"},
		{"=?windows-1251?b?z+Dw7uv8?=", "Пароль"},
		// Longer than wordReader's buffer once decoded.
		{"=?windows-1251?b?" + strings.Repeat("z+Dw7uv8", 40) + "?=", strings.Repeat("Пароль", 40)},
		{"=?UTF-8*de?Q?Gr=C3=BC=C3=9Fe?= aus =?utf-8*en-US?b?QmVybGlu?=", "Grüße aus Berlin"},
		{"a*b =?not really", "a*b =?not really"},
		// Raw 8-bit bytes: UTF-8 kept, anything else read as Windows-1252.
		{"sues for \xa3100,000", "sues for £100,000"},
		{"caf\xe9 =?utf-8?q?=E2=82=AC1?=", "café €1"},
		{"Grüße", "Grüße"},
	} {
		got, err := DecodeHeader(c.in)
		if err != nil || got != c.want {
			t.Errorf("DecodeHeader(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}

// A subject of Latin-1 words, as spam writes them: B/op shows the copy buffer
// the standard decoder made for each (wordReader).
func BenchmarkDecodeHeader(b *testing.B) {
	const subject = "=?iso-8859-1?Q?Gagnez_un_s=E9jour?= =?iso-8859-1?Q?_=E0_Paris_=96_100_=80?="
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeHeader(subject); err != nil {
			b.Fatal(err)
		}
	}
}

// Encoded words are decoded with an encoding of wordEncoding's choosing, the
// body with go-message's charset.Reader: for each name, the two must read the
// same bytes alike, or both refuse the name. The names are the corpus's, their
// aliases, go-message's quirks and ours, and some no index knows.
func TestWordEncoding(t *testing.T) {
	var in []byte
	for c := range 256 {
		in = append(in, byte(c))
	}
	in = append(in, "\x1b$B$3$s$K$A$O\x1b(B \xa4\xa4\xa4\xe5 \xc4\xe3\xba\xc3 caf\xc3\xa9 +AGEAYgBj-"...)
	for _, name := range []string{
		"iso-8859-1", "iso8859-1", "latin1", "windows-1252", "cp1252", "us-ascii", "ascii",
		"iso-8859-15", "iso-8859-2", "iso-8859-5", "iso-8859-7", "iso-8859-9", "windows-1251",
		"windows-1254", "windows-1256", "koi8-r", "big5", "gb2312", "gbk", "gb18030", "euc-kr",
		"ks_c_5601-1987", "iso-2022-jp", "shift_jis", "euc-jp", "utf-16", "utf-8",
		"ansi_x3.110-1983", "x-utf_8j", "isolatin1", "utf-7", "utf-32", "utf-32le", "utf-32be", "unknown-8bit", "default", "x-no-such",
		"gb2312_charset", "cp932", "ms949", "cp950", "latin-1", "latin_9", "chinesebig5",
	} {
		want, werr := readCharset(charset.Reader, name, in)
		got, gerr := readCharset(wordCharsetReader, name, in)
		if (werr != nil) != (gerr != nil) || got != want {
			t.Errorf("%s: encoded words read %q (%v), the body %q (%v)", name, got, gerr, want, werr)
		}
	}
}

func readCharset(reader func(string, io.Reader) (io.Reader, error), name string, in []byte) (string, error) {
	r, err := reader(name, bytes.NewReader(in))
	if err != nil {
		return "", err
	}
	b, err := io.ReadAll(r)
	return string(b), err
}

// Any header field decodes alike with wordCharsetReader and with go-message's
// charset.Reader, whose streaming reader it replaces for encoded words.
func FuzzWordCharsetReader(f *testing.F) {
	for _, s := range []string{
		"=?windows-1252?Q?=80100_off?=", "=?windows-1251?b?z+Dw7uv8?=", "=?koi8-r?q?=F0=D2=C9?=",
		"=?iso-2022-jp?b?GyRCJDMkcyRLJEEkTxsoQg==?=", "=?big5?q?=A4=A4?= x", "=?utf-7?q?+AGE-?=",
		"=?x-no-such?q?a?=", "=?gb2312?b?xOO6ww==?= =?euc-kr?b?vsiz5w==?=",
	} {
		f.Add(s)
	}
	stream := &mime.WordDecoder{CharsetReader: charset.Reader}
	f.Fuzz(func(t *testing.T, v string) {
		got, gerr := headerDecoder.DecodeHeader(v)
		want, werr := stream.DecodeHeader(v)
		if got != want || (gerr != nil) != (werr != nil) {
			t.Errorf("DecodeHeader(%q) = %q, %v; with charset.Reader %q, %v", v, got, gerr, want, werr)
		}
	})
}

// The charset names Perl's Encode reads and Go's indexes do not (perlAliases)
// decode a part's text and an encoded word as SpamAssassin decodes them;
// names Encode does not know either stay undecoded.
func TestPerlCharsetAliases(t *testing.T) {
	for _, tc := range []struct {
		charset, raw, want string
	}{
		{"GB2312_CHARSET", "\xd6\xd0\xce\xc4", "中文"},
		{"cp936", "\xd6\xd0\xce\xc4", "中文"}, // (known before: the case the others follow)
		{"cp932", "\x93\xfa\x96\x7b", "日本"},
		{"windows-932", "\x93\xfa\x96\x7b", "日本"},
		{"CP949", "\xc7\xd1\xb1\xdb", "한글"},
		{"ms949", "\xc7\xd1\xb1\xdb", "한글"},
		{"cp950", "\xa4\xa4\xa4\xe5", "中文"},
		{"MS950", "\xa4\xa4\xa4\xe5", "中文"},
		{"latin-1", "caf\xe9 \x80", "café \u0080"}, // ISO-8859-1 strictly, as Encode reads latin-1
		{"Latin_2", "\xb1", "ą"},
		{"latin-5", "\xfd", "ı"},
		{"latin-9", "\xa4", "€"},
		{"CHINESEBIG5", "\xa4\xa4\xa4\xe5", "\xa4\xa4\xa4\xe5"}, // no name to Encode: left as it is
	} {
		t.Run(tc.charset, func(t *testing.T) {
			raw := "From: a@example.org\r\nSubject: =?" + tc.charset + "?B?" + base64.StdEncoding.EncodeToString([]byte(tc.raw)) + "?=\r\n" +
				"Content-Type: text/plain; charset=\"" + tc.charset + "\"\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + tc.raw + "\r\n"
			m, err := Parse(strings.NewReader(raw))
			if err != nil {
				t.Fatal(err)
			}
			if len(m.Parts) != 1 || strings.TrimRight(m.Parts[0].Text, "\r\n") != tc.want {
				t.Errorf("text %q, want %q", m.Parts[0].Text, tc.want)
			}
			if tc.want == tc.raw {
				return // (an encoded word in an unknown charset is kept whole)
			}
			if got := m.Subject(); got != tc.want {
				t.Errorf("Subject %q, want %q", got, tc.want)
			}
		})
	}
}
