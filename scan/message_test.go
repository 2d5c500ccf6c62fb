package scan

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func crlf(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }

func TestParse(t *testing.T) {
	tests := []struct {
		name     string
		raw      string
		subject  string
		parts    []string // "type|filename|text"
		problems bool
	}{
		{
			name:    "plain",
			raw:     "Subject: hi\n\nhello world\n",
			subject: "hi",
			parts:   []string{"text/plain||hello world\n"},
		},
		{
			name:    "encoded subject and base64 body",
			raw:     "Subject: =?utf-8?q?caf=C3=A9?=\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\naGVsbG8gY2Fmw6k=\n",
			subject: "café",
			parts:   []string{"text/plain||hello café"},
		},
		{
			name:  "latin-1 quoted-printable",
			raw:   "Content-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: quoted-printable\n\nd=E9j=E0 vu=\n\n",
			parts: []string{"text/plain||déjà vu\n"},
		},
		{
			// Read as Windows-1252, as SpamAssassin and mail readers do: 0x93 and
			// 0x94 are quotes, 0x80 the euro, not C1 controls. Other names of
			// Latin-1 SpamAssassin reads strictly.
			name:  "latin-1 mislabelled windows-1252",
			raw:   "Content-Type: text/plain; charset=ISO-8859-1\nContent-Transfer-Encoding: quoted-printable\n\n=93Hi=94 =80=\n\n",
			parts: []string{"text/plain||\u201cHi\u201d \u20ac\n"},
		},
		{
			// 8-bit text that is valid UTF-8 is UTF-8, whatever its label
			// (SpamAssassin's _normalize): a client's default label on UTF-8.
			// Encoded words are read by their label, as SpamAssassin does.
			name:    "utf-8 mislabelled",
			raw:     "Subject: =?iso-8859-1?q?caf=C3=A9?=\nContent-Type: text/plain; charset=windows-1251\nContent-Transfer-Encoding: quoted-printable\n\n=D0=BF=D1=80=D0=B8=D0=B2=D0=B5=D1=82 caf=C3=A9=\n\n",
			subject: "caf\u00c3\u00a9",
			parts:   []string{"text/plain||привет café\n"},
		},
		{
			// Undeclared 8-bit text that is not UTF-8: Windows-1252, as
			// SpamAssassin's last resort reads it.
			name:  "undeclared 8-bit",
			raw:   "Subject: x\n\nThe \xa3130million \x93jet\x94\n",
			parts: []string{"text/plain||The \u00a3130million \u201cjet\u201d\n"},
		},
		{
			name:  "us-ascii 8-bit",
			raw:   "Content-Type: text/html; charset=us-ascii\n\n<p>\xe9t\xe9</p>\n",
			parts: []string{"text/html||<p>\u00e9t\u00e9</p>\n"},
		},
		{
			// UTF-7 (utf7.go): phishing's way of hiding HTML from filters that
			// read it as it stands.
			name:  "utf-7 html",
			raw:   "Content-Type: text/html; charset=\"utf-7\"\nContent-Transfer-Encoding: quoted-printable\n\n+ADw-p+AD4-caf+AOk-+ADw-/p+AD4-\n",
			parts: []string{"text/html||<p>café</p>\n"},
		},
		{
			// UTF-32, which Go's indexes name but do not decode: with its byte
			// order mark, without it (big-endian), and little-endian.
			name:  "utf-32",
			raw:   "Content-Type: text/plain; charset=UTF-32\nContent-Transfer-Encoding: base64\n\nAAD+/wAAAGMAAABhAAAAZgAAAOk=\n",
			parts: []string{"text/plain||café"},
		},
		{
			name:  "utf-32 without a byte order mark",
			raw:   "Content-Type: text/plain; charset=utf-32\nContent-Transfer-Encoding: base64\n\nAAAAYwAAAGEAAABmAAAA6Q==\n",
			parts: []string{"text/plain||café"},
		},
		{
			name:  "utf-32le",
			raw:   "Content-Type: text/plain; charset=\"utf-32le\"\nContent-Transfer-Encoding: base64\n\nYwAAAGEAAABmAAAA6QAAAA==\n",
			parts: []string{"text/plain||café"},
		},
		{
			name:  "undeclared utf-8",
			raw:   "Subject: x\n\ncaf\xc3\xa9\n",
			parts: []string{"text/plain||café\n"},
		},
		{
			name:  "latin1 read strictly",
			raw:   "Content-Type: text/plain; charset=latin1\nContent-Transfer-Encoding: quoted-printable\n\n=93Hi=94=\n\n",
			parts: []string{"text/plain||\u0093Hi\u0094\n"},
		},
		{
			name: "multipart alternative with attachment",
			raw: `Content-Type: multipart/mixed; boundary="outer"

--outer
Content-Type: multipart/alternative; boundary="inner"

--inner
Content-Type: text/plain

plain version
--inner
Content-Type: text/html

<p>html version</p>
--inner--
--outer
Content-Type: application/pdf; name="a.pdf"
Content-Disposition: attachment; filename="invoice.pdf"
Content-Transfer-Encoding: base64

JVBERi0=
--outer--
`,
			parts: []string{"text/plain||plain version", "text/html||<p>html version</p>", "application/pdf|invoice.pdf|"},
		},
		{
			name: "forwarded message/rfc822",
			raw: `Content-Type: multipart/mixed; boundary="b"

--b
Content-Type: text/plain

see below
--b
Content-Type: message/rfc822

Subject: inner
Content-Type: text/plain

inner body
--b--
`,
			parts: []string{"text/plain||see below", "text/plain||inner body"},
		},
		{
			name: "encoded parts are decoded once",
			raw: `Content-Type: multipart/mixed; boundary=b

--b
Content-Type: text/plain; charset=iso-8859-1
Content-Transfer-Encoding: quoted-printable

=E9t=E9
--b
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: base64

w6l0w6k=
--b--
`,
			parts: []string{"text/plain||été", "text/plain||été"},
		},
		{
			name:     "multipart without boundary is read as text",
			raw:      "Content-Type: multipart/mixed\n\nstill text\n",
			parts:    []string{"text/plain||still text\n"},
			problems: true,
		},
		{
			name:     "multipart whose boundary never occurs is read as text",
			raw:      "Content-Type: multipart/alternative; boundary=\"=B 1\"\n\n--= B 1\nContent-Type: text/plain\n\nguaranteed!\n--= B 1--\n",
			parts:    []string{"text/plain||--= B 1\nContent-Type: text/plain\n\nguaranteed!\n--= B 1--\n"},
			problems: true,
		},
		{
			name:     "unknown charset keeps the raw text",
			raw:      "Content-Type: text/plain; charset=x-martian\n\nhello\n",
			parts:    []string{"text/plain||hello\n"},
			problems: true,
		},
		{
			name:  "8-bit text without charset",
			raw:   "Subject: x\n\ncaf\xe9 cr\xe8me\n",
			parts: []string{"text/plain||café crème\n"},
		},
		{
			name:     "broken base64 keeps what decodes",
			raw:      "Content-Transfer-Encoding: base64\n\naGVsbG8=\n!!!!\n",
			parts:    []string{"text/plain||hello"},
			problems: true,
		},
		{
			name:     "unterminated multipart",
			raw:      "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\ncut off here",
			parts:    []string{"text/plain||cut off here"},
			problems: true,
		},
		{
			name:     "no header at all",
			raw:      "just some words\nwithout a header\n",
			problems: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Parse(strings.NewReader(crlf(tc.raw)))
			if err != nil {
				t.Fatal(err)
			}
			if tc.subject != "" && m.Subject() != tc.subject {
				t.Errorf("subject %q, want %q", m.Subject(), tc.subject)
			}
			var got []string
			for _, p := range m.Parts {
				got = append(got, p.ContentType+"|"+p.Filename+"|"+strings.ReplaceAll(p.Text, "\r\n", "\n"))
			}
			if tc.parts != nil && strings.Join(got, "\n~\n") != strings.Join(tc.parts, "\n~\n") {
				t.Errorf("parts\n got %q\nwant %q", got, tc.parts)
			}
			if tc.problems != (len(m.Problems) > 0) {
				t.Errorf("problems = %q", m.Problems)
			}
		})
	}
}

func TestParseReadError(t *testing.T) {
	boom := errors.New("disk gone")
	r := io.MultiReader(strings.NewReader("Subject: x\r\n\r\nsome body "), iotest.ErrReader(boom))
	if _, err := Parse(r); !errors.Is(err, boom) {
		t.Fatalf("Parse = %v, want the reader's error", err)
	}
}

func TestParseBounded(t *testing.T) {
	big := strings.Repeat("a", 3<<20)
	raw := "Subject: big\r\n\r\n" + big
	m, err := Parse(strings.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Parts) != 1 || !m.Parts[0].Truncated || len(m.Parts[0].Text) != maxTextBytes {
		t.Errorf("text part of %d bytes, truncated %v", len(m.Parts[0].Text), m.Parts[0].Truncated)
	}
	deep := strings.Repeat("Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n", 100) + "Content-Type: text/plain\r\n\r\ndeep\r\n"
	if _, err := Parse(strings.NewReader(deep)); err != nil {
		t.Fatal(err)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"Subject: hi\r\n\r\nbody",
		"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: x\r\n\r\ny\r\n--b--\r\n",
		"Content-Transfer-Encoding: quoted-printable\r\nContent-Type: text/html; charset=koi8-r\r\n\r\n=E1=\r\n",
		"\x00\xff: \r\n\r\n",
		// Fields the standard parser refuses, read leniently (contentType).
		"Content-Type: multipart/alternative; boundary=\"b\"; boundary=c;;\r\n\r\n--b\r\nContent-Type: text/html;;; name=a\r\n\r\n<b>x</b>\r\n--b--\r\n",
		"Subject: =?utf-7?B?K0FEdy0=?=\r\nContent-Type: text/html; charset=utf-7\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n+ADw-p+AD4-=\r\ncaf+AOk- +2D0-\r\n",
		// A PDF with a link and a ZIP, read for their links and encryption.
		"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.4\r\n<</A<</S/URI/URI(https://a.example/)>>>>\r\n" +
			"--b\r\nContent-Type: application/zip\r\nContent-Transfer-Encoding: base64\r\n\r\nUEsDBBQAAQAIAA==\r\n--b--\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Parse(strings.NewReader(string(b)))
		if err != nil {
			t.Fatalf("Parse of an in-memory message failed: %v", err)
		}
		if len(m.Parts) > maxParts {
			t.Fatalf("%d parts", len(m.Parts))
		}
	})
}

// readText gives a text part's bytes exactly, whether they fit its buffer, fill
// it to the byte, or run past it, read whole or in small pieces.
func TestReadText(t *testing.T) {
	buf := make([]byte, 1024)
	for _, n := range []int{0, 1, 1023, 1024, 1025, 5000} {
		var b strings.Builder
		for i := 0; b.Len() < n; i++ {
			fmt.Fprintf(&b, "%d,", i)
		}
		want := b.String()[:n]
		for name, r := range map[string]io.Reader{"whole": strings.NewReader(want), "pieces": iotest.OneByteReader(strings.NewReader(want))} {
			if got, err := readText(r, buf); err != nil || got != want {
				t.Errorf("%d bytes, %s: %d bytes, %v", n, name, len(got), err)
			}
		}
	}
}

func TestEffectiveType(t *testing.T) {
	for _, tc := range []struct{ ctype, name, want string }{
		{"application/octet-stream", "order.html", "text/html"},
		{"application/octet-stream", "ORDER.HTM", "text/html"},
		{"text/plain", "page.shtml", "text/html"},
		{"application/octet-stream", "x.shtm", "text/html"},
		{"application/octet-stream", "page.html.zip", "application/octet-stream"},
		{"text/plain", "", "text/plain"},
		{"application/pdf", "html", "application/pdf"},
	} {
		if got := effectiveType(tc.ctype, tc.name); got != tc.want {
			t.Errorf("effectiveType(%q, %q) = %q, want %q", tc.ctype, tc.name, got, tc.want)
		}
	}
}

// A part in ISO-2022-JP keeps its 7-bit bytes beside its decoded text, for the
// rawbody rules (SpamAssassin's read the bytes); other charsets keep only the text.
func TestParseUndecoded(t *testing.T) {
	jp := "\x1b$BF|K\\8l$N%F%-%9%H\x1b(B" // 日本語のテキスト
	for _, tc := range []struct{ charset, body, text, undecoded string }{
		{"ISO-2022-JP", jp + "\r\n", "日本語のテキスト\n", jp + "\n"},
		{"iso-8859-1", "caf\xe9\r\n", "café\n", ""},
		{"us-ascii", "plain\r\n", "plain\n", ""},
	} {
		raw := "Subject: x\r\nContent-Type: text/plain; charset=" + tc.charset + "\r\n\r\n" + tc.body
		m, err := Parse(strings.NewReader(raw))
		if err != nil || len(m.Parts) != 1 {
			t.Fatalf("%s: %v, %d parts", tc.charset, err, len(m.Parts))
		}
		if p := m.Parts[0]; p.Text != tc.text || p.Undecoded != tc.undecoded {
			t.Errorf("%s: text %q undecoded %q, want %q and %q", tc.charset, p.Text, p.Undecoded, tc.text, tc.undecoded)
		}
	}
}
