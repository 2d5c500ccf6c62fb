package scan

import (
	"bytes"
	"encoding/base64"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestBase64Reader(t *testing.T) {
	data := bytes.Repeat([]byte("The quick brown fox jumps over the lazy dog. 0123456789\x00\xff"), 2000)
	std := base64.StdEncoding.EncodeToString(data)
	var lines strings.Builder
	for s := std; len(s) > 0; {
		n := min(76, len(s))
		lines.WriteString(s[:n] + "\r\n")
		s = s[n:]
	}
	tests := []struct {
		name    string
		in      string
		want    []byte
		wantErr bool
	}{
		{"one line", std, data, false},
		{"CRLF lines", lines.String(), data, false},
		{"spaces and tabs", " aGVs\tbG8g\r\n d29y bGQ= \r\n", []byte("hello world"), false},
		{"unpadded end", "aGVsbG8", []byte("hello"), false},
		{"empty", "", nil, false},
		{"invalid character", "aGVs!G8=", nil, true},
		{"garbage after valid data keeps the valid part", "aGVsbG8gd29ybGQh\r\n%%%%\r\n", []byte("hello world!"), true},
	}
	for _, tc := range tests {
		for name, wrap := range map[string]func(io.Reader) io.Reader{
			"whole": func(r io.Reader) io.Reader { return r }, "one byte": iotest.OneByteReader,
			"data with EOF": iotest.DataErrReader,
		} {
			t.Run(tc.name+"/"+name, func(t *testing.T) {
				r := newBase64Reader(wrap(strings.NewReader(tc.in)))
				got, err := io.ReadAll(r)
				r.release() // (the next case may get it back, to start afresh)
				if (err != nil) != tc.wantErr {
					t.Fatalf("err = %v", err)
				}
				if tc.want != nil && !bytes.Equal(got, tc.want) {
					t.Errorf("decoded %d bytes, want %d", len(got), len(tc.want))
				}
			})
		}
	}
}

// FuzzBase64Reader: for what the standard decoder accepts, ours gives the same bytes.
func FuzzBase64Reader(f *testing.F) {
	f.Add([]byte("aGVsbG8gd29ybGQ=\r\n"))
	f.Add([]byte("YQ==YQ=="))
	f.Fuzz(func(t *testing.T, in []byte) {
		got, err := io.ReadAll(newBase64Reader(bytes.NewReader(in)))
		clean := strings.NewReplacer("\r", "", "\n", "", " ", "", "\t", "").Replace(string(in))
		want, werr := base64.StdEncoding.DecodeString(clean)
		if werr == nil && (err != nil || !bytes.Equal(got, want)) {
			t.Fatalf("%q: got %q, %v; want %q", in, got, err, want)
		}
	})
}

func BenchmarkBase64Reader(b *testing.B) {
	data := make([]byte, 1<<20)
	for i := range data {
		data[i] = byte(i * 7)
	}
	enc := base64.StdEncoding.EncodeToString(data)
	var lines strings.Builder
	for s := enc; len(s) > 0; {
		n := min(76, len(s))
		lines.WriteString(s[:n] + "\r\n")
		s = s[n:]
	}
	in := lines.String()
	b.SetBytes(int64(len(data)))
	for i := 0; i < b.N; i++ {
		io.Copy(io.Discard, newBase64Reader(strings.NewReader(in)))
	}
}
