package mbox

import (
	"bytes"
	"strings"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	msgs := []string{"Subject: a\n\nFrom the start\nbody\n", "Subject: b\r\n\r\nsecond\r\n"}
	var buf bytes.Buffer
	for i, m := range msgs {
		Append(&buf, i, []byte(m))
	}
	got := Split(buf.Bytes())
	if len(got) != 2 {
		t.Fatalf("%d messages", len(got))
	}
	for i, g := range got {
		want := strings.ReplaceAll(msgs[i], "\r\n", "\n")
		if !strings.Contains(string(g), strings.TrimSpace(want)) {
			t.Errorf("message %d: %q, want it to contain %q", i, g, want)
		}
	}
	if s := StripFrom([]byte("From x Mon\nSubject: y\n")); string(s) != "Subject: y\n" {
		t.Errorf("StripFrom: %q", s)
	}
	if one := Split([]byte("Subject: z\n\nno separator\n")); len(one) != 1 {
		t.Errorf("a plain message split into %d", len(one))
	}
}
