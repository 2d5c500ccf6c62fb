package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestRecipientSettingsThroughPostfix: through the real Postfix, a recipient
// with settings of its own ([recipients]) is answered 452 4.5.3 beside one
// without, as is a role account, so the spam refused for the one is not delivered
// to the other; sent apart, the spam lover's copy is delivered tagged, and the
// log line names the entry that decided.
func TestRecipientSettingsThroughPostfix(t *testing.T) {
	e := newEnv(t)
	rules := t.TempDir()
	if err := os.WriteFile(filepath.Join(rules, "local.cf"), []byte("body T_OFFER /miracle offer/\nscore T_OFFER 20\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	conf := `rules_paths = ["default", "` + rules + `"]
[milter]
shutdown_timeout = "5s"
[recipients."@lenient.example"]
reject_score = 10000
subject_tag = "[SPAM]"
`
	if err := os.WriteFile(e.cfg, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	d := e.start()
	if !d.WaitOutput("recipient_settings=1", 5*time.Second) {
		t.Errorf("serve's start line does not count the [recipients] entries:\n%s", d.Output())
	}
	spam := func(marker string) string {
		return "From: sender@example.org\r\nTo: rcpt@example.com\r\nSubject: an offer\r\nMessage-ID: <" +
			marker + "@example.org>\r\n\r\na miracle offer\r\n" + marker + "\r\n"
	}
	// session sends one message to rcpts and returns each RCPT's reply code and
	// the end of data's reply ("" when no recipient was taken).
	session := func(marker string, rcpts ...string) ([]int, string) {
		t.Helper()
		c, err := dialSMTP(e.pf.SMTPAddr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Hello("client.test.invalid"); err != nil {
			t.Fatal(err)
		}
		if err := c.Mail("sender@example.org"); err != nil {
			t.Fatal(err)
		}
		var codes []int
		taken := 0
		for _, r := range rcpts {
			code := 250
			if err := c.Rcpt(r); err != nil {
				var text string
				if code, text = codeOf(err); code == 0 {
					t.Fatalf("rcpt %s: %v", r, err)
				}
				if code == 452 && !strings.HasPrefix(text, "4.5.3 ") {
					t.Errorf("rcpt %s: 452 %s, want 4.5.3", r, text)
				}
			} else {
				taken++
			}
			codes = append(codes, code)
		}
		if taken == 0 {
			return codes, ""
		}
		w, err := c.Data()
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(spam(marker)))
		end := "250"
		if err := w.Close(); err != nil {
			code, text := codeOf(err)
			end = fmt.Sprintf("%d %s", code, text)
		}
		c.Quit()
		return codes, end
	}

	codes, end := session("mixed", "rcpt@example.com", "x@lenient.example", "postmaster@example.com", "other@example.com")
	if !slices.Equal(codes, []int{250, 452, 452, 250}) || !strings.HasPrefix(end, "550 5.7.1") {
		t.Errorf("mixed recipients: RCPT %v, end of data %q; want 250 452 452 250 and 550 5.7.1", codes, end)
	}
	notDelivered(t, e.sink, "mixed@example.org")

	codes, end = session("lover", "x@lenient.example", "y+tag@lenient.example")
	if !slices.Equal(codes, []int{250, 250}) || end != "250" {
		t.Fatalf("the spam lovers apart: RCPT %v, end of data %q", codes, end)
	}
	got, ok := e.sink.WaitFor("lover@example.org", 30*time.Second)
	if !ok {
		t.Fatal("the spam lovers' copy never reached the sink")
	}
	if !strings.Contains(got.Data, "\r\nSubject: [SPAM] an offer\r\n") || headerOf(got.Data, "X-Spam-Flag") != "X-Spam-Flag: YES" ||
		!regexp.MustCompile(`X-Spam-Status: Yes, score=2\d\.\d required=5\.0`).MatchString(got.Data) {
		t.Errorf("not tagged:\n%.800s", got.Data)
	}
	if len(got.Rcpts) != 2 {
		t.Errorf("recipients %v, want both", got.Rcpts)
	}
	if !d.WaitOutput(`settings=@lenient.example`, 10*time.Second) || !d.WaitOutput(`reason=split`, time.Second) {
		t.Errorf("the log does not name the entry or the split:\n%s", d.Output())
	}
}
