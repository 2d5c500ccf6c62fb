package mbox

import (
	"bytes"
	"fmt"
	"regexp"
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
		// Exactly as sent, after the id: SpamAssassin reads what Split does,
		// with no blank line more at the end (an HTML part's length).
		want := fmt.Sprintf("X-Eval-Id: %d\n", i) + strings.ReplaceAll(msgs[i], "\r\n", "\n")
		if string(g) != want {
			t.Errorf("message %d: %q, want %q", i, g, want)
		}
	}
	if s := StripFrom([]byte("From x Mon\nSubject: y\n")); string(s) != "Subject: y\n" {
		t.Errorf("StripFrom: %q", s)
	}
	if one := Split([]byte("Subject: z\n\nno separator\n")); len(one) != 1 {
		t.Errorf("a plain message split into %d", len(one))
	}
}

// A message starts only at a separator line; one left unescaped in a body, or a
// "From " line with no date, stays in its message.
func TestSplit(t *testing.T) {
	for _, c := range []struct {
		name, in string
		want     []string
	}{
		{"two", "From a@x Thu Jan  1 00:00:00 2004\nSubject: 1\n\none\n\nFrom b@y Fri Jan  2 10:11:12 2004\nSubject: 2\n\ntwo\n",
			[]string{"Subject: 1\n\none\n", "Subject: 2\n\ntwo\n"}},
		{"unescaped body line", "From a@x Thu Jan  1 00:00:00 2004\nSubject: 1\n\nFrom thrilling slots to classic casino tables\nFrom 9 to 5\n",
			[]string{"Subject: 1\n\nFrom thrilling slots to classic casino tables\nFrom 9 to 5\n"}},
		{"escaped body line", "From a@x Thu Jan  1 00:00:00 2004\nSubject: 1\n\n>From a@x Thu Jan  1 00:00:00 2004\n",
			[]string{"Subject: 1\n\nFrom a@x Thu Jan  1 00:00:00 2004\n"}},
		{"other date forms", "From MAILER-DAEMON Mon Aug 5 9:05 2002\nSubject: 1\n\n\nFrom x 2024-01-02 03:04:05 +0000\nSubject: 2\n",
			[]string{"Subject: 1\n\n", "Subject: 2\n"}},
		{"no blank line before a separator", "From a@x Thu Jan  1 00:00:00 2004\nSubject: 1\n\none\nFrom b@y Fri Jan  2 10:11:12 2004\nSubject: 2\n\ntwo\n",
			[]string{"Subject: 1\n\none\n", "Subject: 2\n\ntwo\n"}},
		{"separator only", "From a@x Thu Jan  1 00:00:00 2004", nil},
		{"not an mbox", "Subject: z\n\nFrom a@x Thu Jan  1 00:00:00 2004\n", []string{"Subject: z\n\nFrom a@x Thu Jan  1 00:00:00 2004\n"}},
	} {
		var got []string
		for _, m := range Split([]byte(c.in)) {
			got = append(got, string(m))
		}
		if strings.Join(got, "|") != strings.Join(c.want, "|") || len(got) != len(c.want) {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

// What spamassassin --mbox writes back: its X-Spam-* fields, folded, before or after
// the copied id, and a body line that looks like one.
func TestSpamHeaders(t *testing.T) {
	out := "From eval@localhost Thu Jan  1 00:00:00 2004\nX-Spam-Tests: GTUBE,\n\tHTML_MESSAGE\nX-Spam-Evalid: 0\nX-Eval-Id: 0\nSubject: a\n\nX-Spam-Tests: in the body\n\n" +
		"From eval@localhost Thu Jan  1 00:00:00 2004\nX-Spam-Evalid: 1\nX-Spam-Bayes: 0.9\nX-Spam-Tests: none\n\nbody\n"
	got := SpamHeaders([]byte(out))
	if len(got) != 2 || got[0]["Tests"] != "GTUBE, HTML_MESSAGE" || got[1]["Bayes"] != "0.9" || got[1]["Tests"] != "none" {
		t.Errorf("%v", got)
	}
}

// Whatever a file holds, Split ends; messages written by Append come back as
// written (LF line ends), however their lines look, but for lines escaped
// already (">From ", which mboxo cannot tell from an escaped "From ").
func FuzzSplit(f *testing.F) {
	f.Add("Subject: a\n\nFrom the start\n", "b")
	f.Add("From a@x Thu Jan  1 00:00:00 2004\n", "\nFrom 1:00\n")
	f.Fuzz(func(t *testing.T, a, b string) {
		Split([]byte(a + b))
		if escaped := regexp.MustCompile(`(?m)^>+From `); escaped.MatchString(a) || escaped.MatchString(b) {
			return
		}
		msgs := []string{"X: 1\n\n" + a, "X: 2\n\n" + b}
		var buf bytes.Buffer
		for i, m := range msgs {
			Append(&buf, i, []byte(m))
		}
		got := Split(buf.Bytes())
		if len(got) != 2 {
			t.Fatalf("%d messages from %q", len(got), buf.Bytes())
		}
		for i, g := range got {
			want := strings.ReplaceAll(msgs[i], "\r\n", "\n")
			if !strings.HasSuffix(want, "\n") {
				want += "\n"
			}
			if !bytes.HasSuffix(g, []byte(want)) {
				t.Errorf("message %d: %q, want it to end %q", i, g, want)
			}
		}
	})
}
