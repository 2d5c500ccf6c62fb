// Package e2e runs the postern binary behind a real, private Postfix that relays to a
// sink the test owns: the path a message takes in production.
package e2e

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/smtp"
	"net/textproto"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/postern/postern/internal/testutil"
)

const gtube = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"

// sendSMTP submits one message and returns the server's final reply code and text
// (250 on success).
func sendSMTP(t *testing.T, addr, from string, to []string, msg string) (int, string) {
	t.Helper()
	code, text, err := submit(addr, from, to, []byte(msg))
	if err != nil {
		t.Fatalf("smtp: %v", err)
	}
	return code, text
}

// submit sends one message in its own SMTP session. A reply that ends it is a code
// and text (250 and "" when delivered); err is for what is not a reply.
func submit(addr, from string, to []string, msg []byte) (int, string, error) {
	c, err := dialSMTP(addr)
	if err != nil {
		return 0, "", err
	}
	defer c.Close()
	reply := func(err error) (int, string, error) {
		if code, text := codeOf(err); code != 0 {
			return code, text, nil
		}
		return 0, "", err
	}
	if err := c.Hello("client.test.invalid"); err != nil {
		return reply(err)
	}
	if err := c.Mail(from); err != nil {
		return reply(err)
	}
	for _, r := range to {
		if err := c.Rcpt(r); err != nil {
			return reply(err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return reply(err)
	}
	if _, err := w.Write(msg); err != nil {
		return 0, "", err
	}
	if err := w.Close(); err != nil {
		return reply(err)
	}
	c.Quit()
	return 250, "", nil
}

// codeOf is the SMTP reply an error carries; 0 when it is not a reply.
func codeOf(err error) (int, string) {
	if te, ok := err.(*textproto.Error); ok {
		return te.Code, te.Msg
	}
	return 0, err.Error()
}

func dialSMTP(addr string) (*smtp.Client, error) {
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, err
	}
	conn.SetDeadline(time.Now().Add(2 * time.Minute))
	return smtp.NewClient(conn, "127.0.0.1")
}

// delivered fails the test unless the reply was 250 and the sink received the
// message with this marker in time, and returns what the sink got.
func delivered(t *testing.T, sink *testutil.Sink, marker string, code int, text string) testutil.Delivered {
	t.Helper()
	if code != 250 {
		t.Fatalf("reply %d %s, want 250", code, text)
	}
	got, ok := sink.WaitFor(marker, 30*time.Second)
	if !ok {
		t.Fatalf("%s was accepted but never reached the sink", marker)
	}
	return got
}

// notDelivered fails the test if the message with this marker reaches the sink: it
// was refused, and no one may deliver it later.
func notDelivered(t *testing.T, sink *testutil.Sink, marker string) {
	t.Helper()
	if _, ok := sink.WaitFor(marker, 2*time.Second); ok {
		t.Errorf("%s was refused, yet delivered", marker)
	}
}

// headerOf returns the first header field of this name in a delivered message,
// unfolded ("" when absent).
func headerOf(data, name string) string {
	head, _, _ := strings.Cut(data, "\r\n\r\n")
	for _, line := range strings.Split(strings.ReplaceAll(head, "\r\n\t", " "), "\r\n") {
		if strings.HasPrefix(line, name+":") {
			return line
		}
	}
	return ""
}

func message(subject, marker, body string) string {
	return fmt.Sprintf("From: sender@example.org\r\nTo: rcpt@example.com\r\nSubject: %s\r\n"+
		"Message-ID: <%s@example.org>\r\nX-Spam-Flag: YES\r\nX-Spam-Status: Yes, forged\r\n\r\n%s\r\n%s\r\n",
		subject, marker, marker, body)
}

func TestPostfixEndToEnd(t *testing.T) {
	testutil.Require(t, "postfix")
	tmp := t.TempDir()
	bin := testutil.BuildPostern(t, "..", tmp)
	sink := testutil.StartSink(t)

	milterAddr := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
	cfg := filepath.Join(tmp, "postern.toml")
	metricsAddr := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
	conf := fmt.Sprintf("log_level = \"debug\"\n[milter]\nshutdown_timeout = \"5s\"\n[metrics]\nlisten = %q\n", metricsAddr)
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	daemon := testutil.StartDaemon(t, bin, milterAddr, "serve", "-c", cfg,
		"--data-dir", filepath.Join(tmp, "data"), "--listen", "inet:"+milterAddr)

	snippet := testutil.MilterSnippet(t, "../docs/postfix.md")
	snippet = strings.Replace(snippet, "inet:127.0.0.1:8895", "inet:"+milterAddr, 1)
	if !strings.Contains(snippet, milterAddr) {
		t.Fatal("docs/postfix.md snippet does not use the default listen address")
	}
	pf := testutil.StartPostfix(t, snippet, sink.Addr)
	rcpts := []string{"rcpt@example.com", "second@example.com"}

	t.Run("clean mail arrives tagged", func(t *testing.T) {
		code, text := sendSMTP(t, pf.SMTPAddr, "sender@example.org", rcpts, message("hello", "clean-1", "A clean message."))
		got := delivered(t, sink, "clean-1", code, text)
		// The default configuration: the stock rules (where the machine has them)
		// may add a point or two, never the verdict.
		if !strings.Contains(got.Data, "X-Spam-Status: No, score=") || !strings.Contains(got.Data, " required=5.0 tests=") {
			t.Errorf("no X-Spam-Status: No header:\n%s", got.Data)
		}
		if strings.Contains(got.Data, "X-Spam-Flag: YES") || strings.Contains(got.Data, "forged") {
			t.Errorf("forged X-Spam headers survived:\n%s", got.Data)
		}
		if got.From != "sender@example.org" || strings.Join(got.Rcpts, ",") != strings.Join(rcpts, ",") {
			t.Errorf("envelope %s → %v", got.From, got.Rcpts)
		}
		if !daemon.WaitOutput("message checked", 5*time.Second) {
			t.Error("no log line for the message")
		}
		if !daemon.WaitOutput("offered_version=6", time.Second) {
			t.Error("Postfix's milter negotiation not logged")
		}
		t.Log(regexp.MustCompile(`.*milter negotiation.*`).FindString(daemon.Output()))
	})

	t.Run("GTUBE is refused during SMTP", func(t *testing.T) {
		code, text := sendSMTP(t, pf.SMTPAddr, "sender@example.org", rcpts, message("gtube", "gtube-1", gtube))
		if code != 550 || !strings.HasPrefix(text, "5.7.1 ") || !strings.Contains(text, "(ref ") {
			t.Fatalf("reply %d %q, want 550 5.7.1 … (ref …)", code, text)
		}
		ref := refOf(text)
		if !daemon.WaitOutput("ref="+ref, 5*time.Second) {
			t.Errorf("ref %s not in the log", ref)
		}
		notDelivered(t, sink, "gtube-1")
	})

	t.Run("several messages in one SMTP session", func(t *testing.T) {
		c, err := smtp.Dial(pf.SMTPAddr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		for i := 0; i < 3; i++ {
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
			fmt.Fprint(w, message("multi", fmt.Sprintf("multi-%d", i), "one of several"))
			if err := w.Close(); err != nil {
				t.Fatalf("message %d: %v", i, err)
			}
		}
		for i := 0; i < 3; i++ {
			if _, ok := sink.WaitFor(fmt.Sprintf("multi-%d", i), 30*time.Second); !ok {
				t.Fatalf("message %d never arrived", i)
			}
		}
	})

	t.Run("metrics count the answers", func(t *testing.T) {
		wantMetrics(t, metricsAddr,
			`postern_messages_total{action="accept",reason="clean"}`, `postern_messages_total{action="reject",reason="spam"} 1`,
			"postern_clamd_up -1", "postern_check_seconds_count", `postern_check_step_seconds_count{step="rules"}`, "postern_quarantine_write_seconds_count 1", "postern_rules ", "postern_rules_dfa_bytes ")
	})

	t.Run("postern stopped: Postfix tempfails and accepts nothing", func(t *testing.T) {
		if err := daemon.Stop(10 * time.Second); err != nil {
			t.Fatalf("postern exit after SIGTERM: %v", err)
		}
		if !daemon.WaitOutput("stopped", 5*time.Second) {
			t.Error("no clean shutdown in the log")
		}
		code, text := sendSMTP(t, pf.SMTPAddr, "sender@example.org", rcpts, message("down", "down-1", "sent while postern is down"))
		if code/100 != 4 {
			t.Fatalf("reply %d %s, want 4xx", code, text)
		}
		notDelivered(t, sink, "down-1")
	})
}

// wantMetrics fails the test for each text serve's /metrics lacks.
func wantMetrics(t *testing.T, addr string, wants ...string) {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range wants {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}
