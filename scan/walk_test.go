package scan

import (
	"bytes"
	"io"
	"slices"
	"strings"
	"testing"
)

// TestWalkVerbatim: a leaf is verbatim when neither it nor a message/rfc822 around
// it has a transfer encoding (a multipart's is ignored, as go-message ignores it),
// and then its bytes are in the raw message as they are: the virus check leaves
// such parts to the whole-message scan.
func TestWalkVerbatim(t *testing.T) {
	const mixed = "Content-Type: multipart/mixed; boundary=b\n\n--b\n%s\n--b\n%s\n--b--\n"
	part := func(ctype, cte, body string) string {
		h := "Content-Type: " + ctype + "\n"
		if cte != "" {
			h += "Content-Transfer-Encoding: " + cte + "\n"
		}
		return h + "\n" + body
	}
	multi := func(a, b string) string {
		return strings.Replace(strings.Replace(mixed, "%s", a, 1), "%s", b, 1)
	}
	fwd := func(cte, inner string) string {
		return "Content-Type: multipart/mixed; boundary=o\n\n--o\n" + part("message/rfc822", cte, inner) + "\n--o--\n"
	}
	b64 := part("application/octet-stream", "base64", "aGVsbG8gd29ybGQ=")
	tests := []struct {
		name string
		raw  string
		want []bool // each leaf's Verbatim, in order
	}{
		{"no encoding", "Subject: x\n\nplain words\n", []bool{true}},
		{"7bit", part("text/plain", "7bit", "plain words\n"), []bool{true}},
		{"8bit, odd case and spaces", part("text/plain", " 8BIT ", "plain words\n"), []bool{true}},
		{"binary", part("application/octet-stream", "binary", "bytes\n"), []bool{true}},
		{"quoted-printable", part("text/plain", "quoted-printable", "soft=\nbreak\n"), []bool{false}},
		{"base64", b64, []bool{false}},
		{"unknown encoding", part("text/plain", "x-uuencode", "begin 644 x\n"), []bool{false}},
		{"text and a base64 attachment", multi(part("text/plain", "", "hello"), b64), []bool{true, false}},
		{"a multipart's own encoding is ignored", strings.Replace(multi(part("text/plain", "8bit", "hello"), b64),
			"boundary=b\n", "boundary=b\nContent-Transfer-Encoding: base64\n", 1), []bool{true, false}},
		{"a forwarded message", fwd("7bit", multi(part("text/plain", "", "inner"), b64)), []bool{true, false}},
		{"a forwarded message in base64", fwd("base64", "U3ViamVjdDogeAoKaW5uZXIK"), []bool{false}},
		{"a multipart without its boundary, read as text", "Content-Type: multipart/mixed; boundary=zz\n\nno parts here\n", []bool{true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []bool
			_, _, err := Walk(strings.NewReader(tc.raw), func(l Leaf, body io.Reader) error {
				got = append(got, l.Verbatim)
				b, err := io.ReadAll(body)
				if err != nil {
					return err
				}
				if l.Verbatim && !bytes.Contains([]byte(tc.raw), b) {
					t.Errorf("verbatim %s part %q is not in the raw message", l.ContentType, b)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("leaves %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("leaf %d: verbatim %v, want %v (all: %v)", i, got[i], tc.want[i], got)
				}
			}
			m, err := Parse(strings.NewReader(tc.raw))
			if err != nil {
				t.Fatal(err)
			}
			if all := !slices.Contains(tc.want, false); m.Verbatim() != all {
				t.Errorf("parsed message Verbatim() = %v, want %v", m.Verbatim(), all)
			}
		})
	}
}

// A message whose parts were not all kept cannot be called verbatim: the parts
// past maxParts were not looked at.
func TestVerbatimNeedsEveryPart(t *testing.T) {
	m := &Message{Parts: make([]Part, maxParts)}
	for i := range m.Parts {
		m.Parts[i].Verbatim = true
	}
	if m.Verbatim() {
		t.Errorf("%d parts kept (the most): Verbatim() = true", maxParts)
	}
	m.Parts = m.Parts[:maxParts-1]
	if !m.Verbatim() {
		t.Errorf("%d verbatim parts: Verbatim() = false", maxParts-1)
	}
}
