package scan

import (
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/emersion/go-message/textproto"
)

func TestMultipartReader(t *testing.T) {
	for _, c := range []struct {
		name, body string
		parts      []string // each part's Content-Type, "|", its body
		err        error    // what NextPart returns after the last part
	}{
		{"two parts, preamble and epilogue", "pre\r\n--b\r\nContent-Type: text/plain\r\n\r\none\r\n--b\r\n\r\ntwo\r\nlines\r\n--b--\r\nafter\r\n",
			[]string{"text/plain|one", "|two\r\nlines"}, io.EOF},
		{"a nested boundary that extends this one is content", "--b\nContent-Type: multipart/mixed; boundary=b-1\n\n--b-1\n\ninner\n--b-1--\n--b--\n",
			[]string{"multipart/mixed; boundary=b-1|--b-1\n\ninner\n--b-1--"}, io.EOF},
		{"white space after a delimiter", "--b  \n\nx\n--b-- \n", []string{"|x"}, io.EOF},
		{"no closing delimiter", "--b\n\ncut off", []string{"|cut off"}, errUnterminated},
		{"no delimiter at all", "just text\n", nil, errNoBoundary},
	} {
		for _, oneByte := range []bool{false, true} {
			var r io.Reader = strings.NewReader(c.body)
			if oneByte {
				r = iotest.OneByteReader(r)
			}
			m := newMultipartReader(r, "b")
			var got []string
			var err error
			for {
				var h textproto.Header
				var body io.Reader
				h, body, err = m.NextPart()
				if err != nil {
					break
				}
				b, _ := io.ReadAll(body)
				got = append(got, h.Get("Content-Type")+"|"+string(b))
			}
			if strings.Join(got, "#") != strings.Join(c.parts, "#") || err != c.err {
				t.Errorf("%s (one byte a read: %v): parts %q, then %v; want %q, then %v", c.name, oneByte, got, err, c.parts, c.err)
			}
		}
	}
}

// A part whose header does not parse is still read, and the walk says so.
func TestMultipartBadPartHeader(t *testing.T) {
	raw := "Content-Type: multipart/mixed; boundary=b\n\n--b\nnot a header line\nContent-Type: text/plain\n\nbody words\n--b--\n"
	m, err := Parse(strings.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Problems) == 0 {
		t.Error("no problem reported for the part's header")
	}
	if len(m.Parts) != 1 {
		t.Fatalf("%d parts, want 1", len(m.Parts))
	}
}
