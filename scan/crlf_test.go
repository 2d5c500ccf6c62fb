package scan

import (
	"bytes"
	"encoding/base64"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/postern/postern/internal/corpus"
	"github.com/postern/postern/internal/mbox"
)

// crlfReader makes every CRLF an LF and leaves lone CRs, however the reads cut
// the text (one byte at a time: a CRLF always cut).
func TestCRLFReader(t *testing.T) {
	for in, want := range map[string]string{
		"a\r\nb\r\n":       "a\nb\n",
		"a\rb\r":           "a\rb\r",
		"\r\r\n\n\r":       "\r\n\n\r",
		"no line ends":     "no line ends",
		"x\r\n\r\ny\r\n\r": "x\n\ny\n\r",
		"":                 "",
	} {
		for _, wrap := range []func(io.Reader) io.Reader{
			func(r io.Reader) io.Reader { return r },
			iotest.OneByteReader,
			iotest.HalfReader,
		} {
			for _, outer := range []func(io.Reader) io.Reader{
				func(r io.Reader) io.Reader { return r },
				iotest.OneByteReader, // (the caller's reads cut it too)
			} {
				c := newCRLFReader(wrap(strings.NewReader(in)))
				got, err := io.ReadAll(outer(c))
				c.release()
				if err != nil || string(got) != want {
					t.Errorf("%q: %q, %v; want %q", in, got, err, want)
				}
			}
		}
	}
}

// FuzzDropCRs holds DropCRs, in place, to the copy strings.ReplaceAll makes (go
// test ./scan -fuzz DropCRs).
func FuzzDropCRs(f *testing.F) {
	for _, s := range []string{"", "a\r\nb", "\r\r\n\n", "\r", "x\r", "\r\n\r\n", "no ends"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := string(DropCRs([]byte(s))), strings.ReplaceAll(s, "\r\n", "\n"); got != want {
			t.Errorf("DropCRs(%q) = %q, want %q", s, got, want)
		}
	})
}

// A text part's decoded line ends are LF, as SpamAssassin decodes them, however
// they came: in the message, inside base64, spelled by quoted-printable.
func TestParseTextLineEnds(t *testing.T) {
	for raw, want := range map[string]string{
		"Subject: x\r\n\r\na\r\nb\r\n": "a\nb\n",
		"Content-Transfer-Encoding: base64\r\n\r\n" + base64.StdEncoding.EncodeToString([]byte("a\r\nb\r\n")) + "\r\n": "a\nb\n",
		"Content-Transfer-Encoding: quoted-printable\r\n\r\na=0D=0Ab=\r\n":                                             "a\nb",
		"Content-Type: application/octet-stream\r\n\r\na\r\nb\r\n":                                                     "",
	} {
		m, err := Parse(strings.NewReader(raw))
		if err != nil || len(m.Parts) != 1 {
			t.Fatalf("%q: %v, %d parts", raw, err, len(m.Parts))
		}
		if got := m.Parts[0].Text; got != want {
			t.Errorf("%q: text %q, want %q", raw, got, want)
		}
	}
}

// BenchmarkParseCorpus parses the first 300 messages of each corpus directory as
// the milter hands them over (CRLF line ends), an op being all 900: what the
// text decoding (transfer encoding, charset, line ends) costs the check.
func BenchmarkParseCorpus(b *testing.B) {
	var msgs [][]byte
	for _, sub := range []string{"spamassassin/spam", "spamassassin/ham", "phishing"} {
		dir := filepath.Join(corpus.Dir(), sub)
		entries, _ := os.ReadDir(dir)
		for _, e := range entries[:min(300, len(entries))] {
			raw, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				continue
			}
			lf := bytes.ReplaceAll(mbox.StripFrom(raw), []byte("\r\n"), []byte("\n"))
			msgs = append(msgs, bytes.ReplaceAll(lf, []byte("\n"), []byte("\r\n")))
		}
	}
	if len(msgs) == 0 {
		b.Skip("no corpus: run ../shared/corpus/get-corpus.sh")
	}
	for b.Loop() {
		for _, m := range msgs {
			if _, err := Parse(bytes.NewReader(m)); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// Walk, unlike Parse, hands a text leaf over with its line ends as they came: a
// virus scanner sees the part's bytes.
func TestWalkKeepsLineEnds(t *testing.T) {
	var got []byte
	_, _, err := Walk(strings.NewReader("Content-Type: text/plain; charset=iso-8859-1\r\n\r\na\r\nb\r\n"), func(_ Leaf, body io.Reader) error {
		var err error
		got, err = io.ReadAll(body)
		return err
	})
	if err != nil || string(got) != "a\r\nb\r\n" {
		t.Fatalf("Walk: %q, %v; want the CRLFs kept", got, err)
	}
}
