package scan

import (
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestRawStats(t *testing.T) {
	for _, c := range []struct {
		name, raw string
		want      RawStats
	}{
		{"needless escapes, less the trailing =20", "=48i =3D=20\n=41=20=20 \n",
			RawStats{Bytes: 23, QPLines: 23, QPEscapes: 2}},
		{"needed escapes only", "caf=E9=0A=7F\n", RawStats{Bytes: 13, QPLines: 13}},
		{"CRLF counts as LF; a lone CR is illegal", "ab\r\ncd\ref\r\n", RawStats{Bytes: 9, QPLines: 9, IllegalASCII: 1}},
		{"a long line", strings.Repeat("x", 79) + "\n", RawStats{Bytes: 80, QPLines: 80, QPLongLine: true}},
		{"SPAM: lines are not counted", "SPAM: =41=42\n", RawStats{Bytes: 13}},
		{"high bytes; a last line without newline", "caf\xe9 &#x00E9;&#x00e9;", RawStats{Bytes: 21, QPLines: 21, IllegalASCII: 1}},
	} {
		for _, oneByte := range []bool{false, true} {
			var st RawStats
			var r io.Reader = strings.NewReader(c.raw)
			if oneByte {
				r = iotest.OneByteReader(r) // CRLF split across reads
			}
			if _, err := io.Copy(io.Discard, newRawStatsReader(r, &st, true)); err != nil {
				t.Fatal(err)
			}
			if st != c.want {
				t.Errorf("%s (one byte a read: %v): %+v, want %+v", c.name, oneByte, st, c.want)
			}
		}
	}
}

// A part that is not quoted-printable is measured, its escapes not read.
func TestRawStatsNotQP(t *testing.T) {
	var st RawStats
	io.Copy(io.Discard, newRawStatsReader(strings.NewReader("=48i =3D=20\n"+strings.Repeat("x", 79)+"\ncaf\xe9\n"), &st, false))
	if want := (RawStats{Bytes: 97, IllegalASCII: 1}); st != want {
		t.Errorf("%+v, want %+v", st, want)
	}
}
