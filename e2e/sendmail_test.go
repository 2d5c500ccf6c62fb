package e2e

import (
	"fmt"
	"net/smtp"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/postern/postern/internal/testutil"
)

// TestSendmailEndToEnd runs postern behind a private Sendmail (Debian's sendmail-bin,
// unpacked by scripts/test.sh) configured with exactly docs/sendmail.md's lines, with
// a private clamd, relaying to the test's sink.
func TestSendmailEndToEnd(t *testing.T) {
	testutil.RequireSendmail(t)
	tmp := t.TempDir()
	bin := testutil.BuildPostern(t, "..", tmp)
	sink := testutil.StartSink(t)
	clamd := testutil.StartClamd(t, "")
	milterPort := testutil.FreePort(t)
	milterAddr := fmt.Sprintf("127.0.0.1:%d", milterPort)
	cfg := filepath.Join(tmp, "postern.toml")
	dns := testutil.StartDNS(t) // no records: every lookup answers NXDOMAIN
	conf := fmt.Sprintf("log_level = \"debug\"\n[milter]\nshutdown_timeout = \"5s\"\n[clamd]\naddress = %q\n"+
		"[dns]\nresolver = %q\n[auth]\nenabled = true\nauthserv_id = \"mx.sendmail.test\"\n", clamd.TCP, dns.Addr)
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(tmp, "data")
	daemon := testutil.StartDaemon(t, bin, milterAddr, "serve", "-c", cfg, "--data-dir", data, "--listen", "inet:"+milterAddr)

	snippet := testutil.Snippet(t, "../docs/sendmail.md", "sendmail.mc milter snippet")
	snippet = strings.Replace(snippet, "S=inet:8895@127.0.0.1", fmt.Sprintf("S=inet:%d@127.0.0.1", milterPort), 1)
	if !strings.Contains(snippet, fmt.Sprint(milterPort)) {
		t.Fatal("docs/sendmail.md snippet does not use the default listen address")
	}
	sm := testutil.StartSendmail(t, snippet, sink.Addr)
	rcpts := []string{"rcpt@example.com"}

	t.Run("clean mail arrives tagged", func(t *testing.T) {
		code, text := sendSMTP(t, sm.SMTPAddr, "sender@example.org", rcpts, message("hello", "sm-clean-1", "A clean message."))
		got := delivered(t, sink, "sm-clean-1", code, text)
		if !strings.Contains(got.Data, "X-Spam-Status: No, score=") || strings.Contains(got.Data, "forged") {
			t.Errorf("headers not as expected:\n%s", got.Data)
		}
		// Inserted on top (SMFIR_INSHEADER), as with Postfix.
		if i, j := strings.Index(got.Data, "Authentication-Results: mx.sendmail.test"), strings.Index(got.Data, "From: sender"); i < 0 || i > j {
			t.Errorf("Authentication-Results missing or not above the sender's headers:\n%s", got.Data)
		}
		if !daemon.WaitOutput("message checked", 5*time.Second) {
			t.Error("no log line for the message")
		}
		// Sendmail's queue id, as Postfix's, is in the verdict's log line.
		if !regexp.MustCompile(`msg="message checked".* queue_id=\w+`).MatchString(daemon.Output()) {
			t.Errorf("no queue id in the log line:\n%s", daemon.Output())
		}
		if !daemon.WaitOutput("offered_version=6", time.Second) {
			t.Error("Sendmail's milter negotiation not logged")
		}
		t.Log(regexp.MustCompile(`.*milter negotiation.*`).FindString(daemon.Output()))
	})

	t.Run("GTUBE is refused with its reference", func(t *testing.T) {
		code, text := sendSMTP(t, sm.SMTPAddr, "sender@example.org", rcpts, message("gtube", "sm-gtube-1", gtube))
		if code != 550 || !strings.Contains(text, "5.7.1") || refOf(text) == "" {
			t.Fatalf("reply %d %q, want 550 5.7.1 … (ref …)", code, text)
		}
		ref := refOf(text)
		out, _ := exec.Command(bin, "quarantine", "show", ref, "-c", cfg, "--data-dir", data).CombinedOutput()
		if !strings.Contains(string(out), "sm-gtube-1") {
			t.Errorf("quarantine show %s:\n%s", ref, out)
		}
		if !daemon.WaitOutput("ref="+ref, 5*time.Second) {
			t.Errorf("ref %s not in the log", ref)
		}
		notDelivered(t, sink, "sm-gtube-1")
	})

	t.Run("EICAR is refused", func(t *testing.T) {
		code, text := sendSMTP(t, sm.SMTPAddr, "sender@example.org", rcpts, message("virus", "sm-eicar-1", testutil.EICAR))
		if code != 554 || !strings.Contains(text, "5.7.1") {
			t.Fatalf("reply %d %q, want 554 5.7.1", code, text)
		}
		notDelivered(t, sink, "sm-eicar-1")
	})

	t.Run("two messages on one connection, both checked", func(t *testing.T) {
		c, err := smtp.Dial(sm.SMTPAddr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		for i := 0; i < 2; i++ {
			body := "one of two"
			if i == 1 {
				body = gtube
			}
			if err := c.Mail("sender@example.org"); err != nil {
				t.Fatal(err)
			}
			if err := c.Rcpt("rcpt@example.com"); err != nil {
				t.Fatal(err)
			}
			w, err := c.Data()
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprint(w, message("multi", fmt.Sprintf("sm-multi-%d", i), body))
			err = w.Close()
			if i == 0 && err != nil {
				t.Fatalf("first message: %v", err)
			}
			if i == 1 {
				if code, _ := codeOf(err); code != 550 {
					t.Fatalf("second message (GTUBE): %v, want 550", err)
				}
			}
		}
		if _, ok := sink.WaitFor("sm-multi-0", 30*time.Second); !ok {
			t.Fatal("the first message never arrived")
		}
		notDelivered(t, sink, "sm-multi-1")
	})

	t.Run("postern stopped: Sendmail tempfails and delivers nothing", func(t *testing.T) {
		if err := daemon.Stop(10 * time.Second); err != nil {
			t.Fatalf("postern exit: %v", err)
		}
		code, text := sendSMTP(t, sm.SMTPAddr, "sender@example.org", rcpts, message("down", "sm-down-1", "sent while postern is down"))
		if code/100 != 4 {
			t.Fatalf("reply %d %s, want 4xx", code, text)
		}
		notDelivered(t, sink, "sm-down-1")
	})
}
