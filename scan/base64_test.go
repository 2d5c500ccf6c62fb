package scan

import (
	"bytes"
	"encoding/base64"
	"io"
	"regexp"
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
		// Characters outside the alphabet are skipped, and counted (the error,
		// after all of the body): SpamAssassin's base64_decode.
		{"invalid character", "aGVs!G8=", []byte("hel\x1b"), true},
		{"garbage after valid data keeps the valid part", "aGVsbG8gd29ybGQh\r\n%%%%\r\n", []byte("hello world!"), true},
		{"garbage before the rest", "aGVs\r\n!\r\nbG8gd29ybGQh\r\n", []byte("hello world!"), true},
		// Padding inside the body reads as A, as SpamAssassin reads it.
		{"blocks after padding", "YQ==\r\nYQ==\r\n", []byte("a\x00\x00a"), false},
		{"a last character alone", "aGVsbG8gd", []byte("hello "), false},
		// A megabyte of "=" then data: as many zero bytes, as SpamAssassin reads
		// it; decoded as it comes, past maxPendingPad, not looked through again
		// at each block.
		{"a long run of padding", strings.Repeat("=", 1<<20) + "YQ==", append(make([]byte, 3<<18), 'a'), false},
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

// base64DecodeSA is SpamAssassin's base64_decode (Mail::SpamAssassin::Util): a
// well-formed body (its length a multiple of four, only the alphabet and "=") with
// every "=" but the final ones read as A; any other with the characters outside
// the alphabet dropped, the final "=" too, and the others read as "/".
func base64DecodeSA(in string) []byte {
	s := strings.Map(func(r rune) rune {
		if strings.ContainsRune(" \t\n\r\f\v", r) {
			return -1
		}
		return r
	}, in)
	if len(s)%4 == 0 && regexp.MustCompile(`^[A-Za-z0-9+/=]{2,}={0,2}$`).MatchString(s) {
		s = strings.ReplaceAll(strings.TrimRight(s, "="), "=", "A")
	} else {
		s = regexp.MustCompile(`[^A-Za-z0-9+/=]`).ReplaceAllString(s, "")
		s = strings.ReplaceAll(strings.TrimRight(s, "="), "=", "/")
	}
	if len(s)%4 == 1 {
		s = s[:len(s)-1]
	}
	out, err := base64.RawStdEncoding.DecodeString(s)
	if err != nil {
		panic(err) // (only the alphabet is left)
	}
	return out
}

// FuzzBase64ReaderSA: any body, read whole or a byte at a time, decodes as
// SpamAssassin decodes it, but for an "=" inside a body that is not well formed
// (read as A here, as "/" there).
func FuzzBase64ReaderSA(f *testing.F) {
	for _, s := range []string{"aGVsbG8gd29ybGQ=\r\n", "YQ==YQ==", "aGVs!G8=", "a===", "ab======", "\f=\vx", "aGk=!"} {
		f.Add([]byte(s))
	}
	wellFormed := regexp.MustCompile(`^[A-Za-z0-9+/=]{2,}={0,2}$`)
	midPad := regexp.MustCompile(`=[^=]*[A-Za-z0-9+/]`)
	f.Fuzz(func(t *testing.T, in []byte) {
		s := string(in)
		clean := strings.Map(func(r rune) rune {
			if strings.ContainsRune(" \t\n\r\f\v", r) {
				return -1
			}
			return r
		}, s)
		if !(len(clean)%4 == 0 && wellFormed.MatchString(clean)) && midPad.MatchString(clean) {
			return
		}
		want := base64DecodeSA(s)
		for name, wrap := range map[string]func(io.Reader) io.Reader{"whole": func(r io.Reader) io.Reader { return r }, "one byte": iotest.OneByteReader} {
			r := newBase64Reader(wrap(strings.NewReader(s)))
			got, _ := io.ReadAll(r)
			r.release()
			if !bytes.Equal(got, want) {
				t.Fatalf("%s: %q: got %q, SpamAssassin %q", name, s, got, want)
			}
		}
	})
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
