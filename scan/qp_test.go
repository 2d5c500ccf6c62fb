package scan

import (
	"bytes"
	"errors"
	"io"
	"mime/quotedprintable"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
)

// qpDecodeSA is SpamAssassin's qp_decode (Mail::SpamAssassin::Util), its three
// substitutions in turn: the reference qpReader is held to.
func qpDecodeSA(s string) string {
	s = regexp.MustCompile(`[ \t]+(\r?\n)`).ReplaceAllString(s, "$1") // s/[ \t]+(?=\r?\n)//gs
	s = regexp.MustCompile(`=\r?\n`).ReplaceAllString(s, "")
	return regexp.MustCompile(`=[0-9a-fA-F]{2}`).ReplaceAllStringFunc(s, func(e string) string {
		b, _ := strconv.ParseUint(e[1:], 16, 8)
		return string([]byte{byte(b)})
	})
}

// joinsAcrossBreak matches what qpReader's single pass reads otherwise than
// qp_decode's three: an escape begun before a soft line break and ended after
// it, which qp_decode joins once the break is gone.
var joinsAcrossBreak = regexp.MustCompile(`=[0-9a-fA-F]?(=[ \t]*\r?\n)+`)

// readQP decodes s through qpReader, reading it through r (s's reader, or one
// that hands it over a byte at a time, or in halves).
func readQP(t testing.TB, s string, wrap func(io.Reader) io.Reader) string {
	q := newQPReader(wrap(strings.NewReader(s)))
	defer q.release()
	b, err := io.ReadAll(q)
	if err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	return string(b)
}

var qpReads = map[string]func(io.Reader) io.Reader{
	"whole":    func(r io.Reader) io.Reader { return r },
	"bytes":    iotest.OneByteReader,
	"halves":   iotest.HalfReader,
	"data+EOF": iotest.DataErrReader,
}

func TestQPReader(t *testing.T) {
	long := strings.Repeat("A", 5000)
	for _, c := range []struct{ in, want string }{
		{"Caf=C3=A9 cr=e8me\n", "Café cr\xe8me\n"},
		{"soft=\nbreak=\r\nhere\r\n", "softbreakhere\r\n"},
		{"trailing  \t\nspace \r\nkept inside\n", "trailing\nspace\r\nkept inside\n"},
		{"soft with space= \t\nafter\n", "soft with spaceafter\n"},
		{"= literal, =XY, =4 and =\n", "= literal, =XY, =4 and "},
		{"end=", "end="},
		{"end with space  ", "end with space  "},
		{"==41 =3d", "=A ="},
		// The standard library's decoder stopped at these: what follows is read.
		{long + "=20\nafter a long line\n", long + " \nafter a long line\n"},
		{"TITLE\n=====\nthe rest\n", "TITLE\n====the rest\n"}, // (an underline: its last = a soft break)
		{"a NUL \x00 and ESC \x1b, then more\n", "a NUL \x00 and ESC \x1b, then more\n"},
		{"8-bit \xe9t\xe9\n", "8-bit \xe9t\xe9\n"},
		{"lone \r in a line \r\n", "lone \r in a line\r\n"},
		{strings.Repeat(" ", 300000) + "x\n", strings.Repeat(" ", 300000) + "x\n"},
		{strings.Repeat(" ", 70000) + "\n", "\n"},
	} {
		for name, wrap := range qpReads {
			if got := readQP(t, c.in, wrap); got != c.want {
				t.Errorf("%s: %.60q: got %.80q, want %.80q", name, c.in, got, c.want)
			}
		}
		if sa := qpDecodeSA(c.in); sa != c.want && !joinsAcrossBreak.MatchString(c.in) {
			t.Errorf("%.60q: SpamAssassin's decoding %.80q, want %.80q", c.in, sa, c.want)
		}
	}
}

// A body of any bytes, read in any pieces, decodes as SpamAssassin decodes it
// (but for an escape cut by a soft line break, joinsAcrossBreak).
func FuzzQPReader(f *testing.F) {
	for _, s := range []string{"a=3D=\r\nb  \r\n", "=4=\n1", "x = \t\ny=ZZ=0", "  \r \n=\r", "\t=\n=\n=41"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		s := string(in)
		want := qpDecodeSA(s)
		for name, wrap := range qpReads {
			got := readQP(t, s, wrap)
			if got != want && !joinsAcrossBreak.MatchString(s) {
				t.Fatalf("%s: %q: got %q, SpamAssassin %q", name, s, got, want)
			}
			if whole := readQP(t, s, qpReads["whole"]); got != whole {
				t.Fatalf("%s: %q: got %q, read whole %q", name, s, got, whole)
			}
		}
	})
}

// A long first line no longer hides the rest of a quoted-printable part.
func TestParseQuotedPrintableLongLine(t *testing.T) {
	body := strings.Repeat("x", 6000) + "=20\r\nclick here=\r\n now\r\n"
	m, err := Parse(bytes.NewReader([]byte("Content-Type: text/plain\r\nContent-Transfer-Encoding: Quoted-Printable\r\n\r\n" + body)))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Parts) != 1 || !strings.HasSuffix(m.Parts[0].Text, " \nclick here now\n") { // (CRLF read as LF: crlfReader)
		t.Errorf("parts %d, text ends %q", len(m.Parts), m.Parts[0].Text[max(0, len(m.Parts[0].Text)-40):])
	}
}

// BenchmarkQPReader decodes the quoted-printable bodies of corpus-like text, with
// qpReader and with the standard library's decoder (which go-message used).
func BenchmarkQPReader(b *testing.B) {
	line := "Dear customer, your account =E9t=E9 has been suspended. Please click=\r\nhere to verify your identity =3D now.   \r\n"
	body := strings.Repeat(line, 100)
	b.SetBytes(int64(len(body)))
	b.Run("qpReader", func(b *testing.B) {
		for b.Loop() {
			q := newQPReader(strings.NewReader(body))
			io.Copy(io.Discard, q)
			q.release()
		}
	})
	b.Run("stdlib", func(b *testing.B) {
		for b.Loop() {
			io.Copy(io.Discard, quotedprintable.NewReader(strings.NewReader(body)))
		}
	})
}

// A read error in the body reaches the decoders' reader after what was decoded
// before it (the walk then fails, and the message is tempfailed), never an end.
func TestDecodersPassReadErrors(t *testing.T) {
	boom := errors.New("disk gone")
	for name, dec := range map[string]func(io.Reader) io.Reader{
		"quoted-printable": func(r io.Reader) io.Reader { return newQPReader(r) },
		"base64":           func(r io.Reader) io.Reader { return newBase64Reader(r) },
	} {
		got, err := io.ReadAll(dec(io.MultiReader(strings.NewReader("aGVsbG8g\r\n"), iotest.ErrReader(boom))))
		if !errors.Is(err, boom) {
			t.Errorf("%s: %q, %v; want the reader's error", name, got, err)
		}
	}
}
