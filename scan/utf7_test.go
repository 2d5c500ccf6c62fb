package scan

import (
	"bytes"
	"io"
	"testing"
	"testing/iotest"
	"unicode/utf8"

	"golang.org/x/text/transform"
)

// UTF-7 as RFC 2152's examples and Perl's Encode (SpamAssassin's decoder) read it.
func TestUTF7(t *testing.T) {
	for in, want := range map[string]string{
		"Hi Mom -+Jjo--!":            "Hi Mom -\u263a-!",
		"A+ImIDkQ.":                  "A\u2262\u0391.",
		"+ZeVnLIqe-":                 "日本語",
		"Item 3 is +AKM-1.":          "Item 3 is £1.",
		"1 +- 1 = 2":                 "1 + 1 = 2",
		"+ADw-html+AD4APA-head+AD4-": "<html><head>",
		"+2D3eAA-":                   "😀",         // a surrogate pair
		"+2D0- x":                    "\ufffd x",  // a high half alone
		"+3gA-":                      "\ufffd",    // a low half alone
		"+2D3YPd4A-":                 "\ufffd😀",   // a high half, then a pair
		"caf\xe9":                    "caf\ufffd", // 8-bit: never UTF-7
		"+AGE":                       "a",         // a run ends with the text
		"+AGEA":                      "a",         // its leftover bits dropped
		"a+":                         "a+",        // a "+" with no base64 after it
		"a+ b":                       "a+ b",
		"x+-":                        "x+",
		"+AGE+":                      "a", // "+" is base64 inside a run
		"+AGE-+AGI":                  "ab",
		"+AGE.+AGI-":                 "a.b", // a run ends at a byte outside base64
	} {
		got, err := utf7.NewDecoder().String(in)
		if err != nil || got != want {
			t.Errorf("%q: %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := utf7.NewEncoder().String("a"); err == nil {
		t.Error("encoding UTF-7: no error")
	}
}

// The decoder's state outlives a call: a byte at a time, and into a buffer
// too short for what a byte writes, the text decodes as it does whole.
func TestUTF7Streaming(t *testing.T) {
	in := "Hi +2D3eAA- and +ADw-p+AD4-caf+AOk- +ZeVnLIqe- +- done+AGE"
	want, _ := utf7.NewDecoder().String(in)
	got, err := io.ReadAll(transform.NewReader(iotest.OneByteReader(bytes.NewReader([]byte(in))), utf7.NewDecoder()))
	if err != nil || string(got) != want {
		t.Errorf("a byte at a time: %q, %v; want %q", got, err, want)
	}
	dst := make([]byte, utf7MaxOut)
	var out []byte
	d := utf7.NewDecoder()
	for src := []byte(in); ; {
		n, m, err := d.Transform(dst, src, true)
		out, src = append(out, dst[:n]...), src[m:]
		if err == nil {
			break
		}
		if err != transform.ErrShortDst {
			t.Fatal(err)
		}
	}
	if string(out) != want {
		t.Errorf("a short buffer: %q, want %q", out, want)
	}
}

// Any bytes decode to valid UTF-8, the same whole and a byte at a time.
func FuzzUTF7(f *testing.F) {
	for _, s := range []string{"Hi Mom -+Jjo--!", "+2D3eAA-", "+2D0- x", "caf\xe9", "+AGEA", "+-+"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		whole, err := utf7.NewDecoder().String(in)
		if err != nil {
			t.Fatal(err)
		}
		if !utf8.ValidString(whole) {
			t.Fatalf("%q: %q is not UTF-8", in, whole)
		}
		bytewise, err := io.ReadAll(transform.NewReader(iotest.OneByteReader(bytes.NewReader([]byte(in))), utf7.NewDecoder()))
		if err != nil || string(bytewise) != whole {
			t.Fatalf("%q: a byte at a time %q, %v; whole %q", in, bytewise, err, whole)
		}
	})
}
