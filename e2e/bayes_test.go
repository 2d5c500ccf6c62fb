package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeMessages writes n messages of one kind, each with its own Message-ID, into a
// new directory and returns it.
func writeMessages(t *testing.T, dir, kind string, n int, format string) string {
	t.Helper()
	out := filepath.Join(dir, kind)
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		msg := fmt.Sprintf("Message-ID: <%s-%d@example.org>\n", kind, i) + fmt.Sprintf(format, i)
		if err := os.WriteFile(filepath.Join(out, fmt.Sprint(i)), []byte(msg), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// TestBayesThroughPostfix: serve started on a store in cold start adds no Bayes rule;
// once postern learn has taught it enough, serve picks that up within
// bayes.refresh and X-Spam-Status carries the BAYES_xx rule; serve autolearns a
// clean message Bayes is unsure of, but not one Bayes is sure is spam (the veto).
func TestBayesThroughPostfix(t *testing.T) {
	e := newEnv(t)
	// autolearn_veto 0.6 rather than 0.2: an unsure message (BAYES_50) then qualifies
	// as ham, one Bayes gives 0.6 or more does not.
	cfg := "[milter]\nshutdown_timeout = \"5s\"\n[bayes]\nmin_spam = 20\nmin_ham = 20\nrefresh = \"200ms\"\nautolearn_veto = 0.6\n"
	if err := os.WriteFile(e.cfg, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	spam := writeMessages(t, e.tmp, "pills", 30, "From: deals%d@promo.example\nSubject: cheap pills offer\n\nbuy cheap pills now, limited offer, click http://promo.example/buy\n")
	ham := writeMessages(t, e.tmp, "agenda", 30, "From: colleague%d@work.example\nSubject: meeting agenda\n\nthe project meeting agenda for tomorrow, see the quarterly report\n")
	learn := func(args ...string) {
		t.Helper()
		if out, code := e.cli(append([]string{"learn"}, args...)...); code != 0 || !strings.Contains(out, "learned 30,") {
			t.Fatalf("learn %v: %d %s", args, code, out)
		}
	}
	learn("--spam", spam)
	d := e.start()

	// status sends a message and returns its X-Spam-Status as delivered.
	status := func(marker, subject, body string) string {
		t.Helper()
		code, text := sendSMTP(t, e.pf.SMTPAddr, "sender@example.org", []string{"rcpt@example.com"}, message(subject, marker, body))
		return headerOf(delivered(t, e.sink, marker+"@example.org", code, text).Data, "X-Spam-Status")
	}
	// "click here" (a default rule, 0.5 points) keeps these out of autolearning, so
	// that they teach the store nothing.
	if s := status("b-cold", "cheap pills offer", "buy cheap pills now, click here"); strings.Contains(s, "BAYES_") || !strings.Contains(s, "autolearn=no") {
		t.Errorf("in cold start: %s", s)
	}
	learn("--ham", ham)
	for i := 0; ; i++ {
		s := status(fmt.Sprintf("b-ready-%d", i), "cheap pills offer", "buy cheap pills now, click here")
		if strings.Contains(s, "BAYES_99") {
			break
		}
		if i == 20 {
			t.Fatalf("serve never picked up what postern learn taught: %s\n%s", s, d.Output())
		}
		time.Sleep(100 * time.Millisecond)
	}

	// No rule hits this one, so by the rules alone it would be learned as ham;
	// Bayes is sure it is spam and vetoes that (bayes.autolearn_veto).
	if s := status("b-spam", "cheap pills offer", "buy cheap pills now, limited offer"); !strings.Contains(s, "BAYES_99") || !strings.Contains(s, "autolearn=no") {
		t.Errorf("spam-like message: %s", s)
	}
	if s := status("b-ham", "meeting agenda", "the project meeting agenda for tomorrow"); !strings.Contains(s, "BAYES_00") || !strings.Contains(s, "autolearn=ham") {
		t.Errorf("ham-like message: %s", s)
	}
	// A clean message about something new: Bayes is unsure, so the autolearner
	// learns it as ham, in the background, into the store the CLI reads. (The
	// ham-like one before it was passed over: Bayes was sure of it.)
	if s := status("b-new", "lunch", "shall we try noodle soup downtown"); strings.Contains(s, "BAYES_00") || !strings.Contains(s, "autolearn=ham") {
		t.Errorf("new topic: %s", s)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		out, _ := e.cli("bayes", "stats")
		if !strings.Contains(out, "30 spam, 30 ham") {
			// Learned in the order they came: a second look shows nothing followed.
			time.Sleep(500 * time.Millisecond)
			if out, _ := e.cli("bayes", "stats"); !strings.Contains(out, "30 spam, 31 ham") {
				t.Fatalf("want exactly the unsure clean message autolearned:\n%s\n%s", out, d.Output())
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the unsure clean message was not autolearned:\n%s\n%s", out, d.Output())
		}
	}
}
