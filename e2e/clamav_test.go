package e2e

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/postern/postern/internal/testutil"
	"github.com/postern/postern/rules"
)

// TestVirusesThroughPostfix sends messages through a real Postfix to postern, which
// scans them with a real clamd holding a test-made EICAR signature.
func TestVirusesThroughPostfix(t *testing.T) {
	testutil.Require(t, "postfix", "clamd")
	tmp := t.TempDir()
	bin := testutil.BuildPostern(t, "..", tmp)
	sink := testutil.StartSink(t)
	clamd := testutil.StartClamd(t, "1M")
	silent := testutil.SilentServer(t)

	milterAddr := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
	start := func(clamdAddr, extra string) *testutil.Daemon {
		cfg := filepath.Join(tmp, "postern.toml")
		content := fmt.Sprintf("check_timeout = \"10s\"\n[clamd]\naddress = %q\ntimeout = \"2s\"\nstream_max_length = \"1MiB\"\n%s", clamdAddr, extra)
		if err := os.WriteFile(cfg, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return testutil.StartDaemon(t, bin, milterAddr, "serve", "-c", cfg,
			"--data-dir", filepath.Join(tmp, "data"), "--listen", "inet:"+milterAddr)
	}
	daemon := start(clamd.TCP, "")
	if !daemon.WaitOutput("clamd answers", 10*time.Second) {
		t.Errorf("no health probe in the log:\n%s", daemon.Output())
	}
	snippet := strings.Replace(testutil.MilterSnippet(t, "../docs/postfix.md"), "inet:127.0.0.1:8895", "inet:"+milterAddr, 1)
	pf := testutil.StartPostfix(t, snippet, sink.Addr)
	send := func(raw string) (int, string) {
		return sendSMTP(t, pf.SMTPAddr, "sender@example.org", []string{"rcpt@example.com"}, raw)
	}
	eicar := []byte(testutil.EICAR)

	infected := map[string]string{
		"base64 attachment": testutil.WithAttachment("v-b64", "eicar.com", "application/octet-stream", eicar),
		"zip":               testutil.WithAttachment("v-zip", "eicar.zip", "application/zip", testutil.Zip("eicar.com", eicar)),
		"forwarded message": testutil.Forwarded("v-fwd", testutil.WithAttachment("inner", "eicar.com", "application/octet-stream", eicar)),
		"quoted-printable":  testutil.QuotedPrintable("v-qp", "look: "+testutil.EICAR+" = end"),
	}
	for name, raw := range infected {
		t.Run("infected: "+name, func(t *testing.T) {
			code, text := send(raw)
			if code != 554 || !strings.HasPrefix(text, "5.7.1 ") || !strings.Contains(text, testutil.EICARSignature) || !strings.Contains(text, "(ref ") {
				t.Fatalf("reply %d %q, want 554 5.7.1 naming %s with a ref", code, text, testutil.EICARSignature)
			}
		})
	}
	if !daemon.WaitOutput(`virus_part="\"eicar.com\" (application/octet-stream)"`, 5*time.Second) {
		t.Errorf("the log does not name the infected part:\n%s", daemon.Output())
	}

	t.Run("clean multipart is delivered marked Clean", func(t *testing.T) {
		code, text := send(testutil.CleanMultipart("clean-mp"))
		got := delivered(t, sink, "clean-mp@example.org", code, text)
		for _, h := range []string{"X-Virus-Scanned: postern/clamav", "X-Virus-Status: Clean", "X-Spam-Status: No"} {
			if !strings.Contains(got.Data, h) {
				t.Errorf("delivered message lacks %q", h)
			}
		}
	})

	t.Run("part over StreamMaxLength is delivered marked Unscanned", func(t *testing.T) {
		code, text := send(testutil.Sized("big-part", 1500<<10))
		got := delivered(t, sink, "big-part@example.org", code, text)
		if !strings.Contains(got.Data, "X-Virus-Status: Unscanned (exceeds StreamMaxLength") {
			t.Errorf("no Unscanned status:\n%.600s", got.Data)
		}
	})

	t.Run("clamd killed: 451, nothing delivered", func(t *testing.T) {
		clamd.Kill()
		code, text := send(testutil.CleanMultipart("after-kill"))
		if code != 451 || !strings.HasPrefix(text, "4.7.1 ") {
			t.Fatalf("reply %d %q, want 451 4.7.1", code, text)
		}
		notDelivered(t, sink, "after-kill@example.org")
	})

	if err := daemon.Stop(10 * time.Second); err != nil {
		t.Fatalf("stop: %v", err)
	}
	t.Run("clamd that never answers: 451 within the deadline", func(t *testing.T) {
		d := start(silent, "")
		began := time.Now()
		code, text := send(testutil.CleanMultipart("silent"))
		if code != 451 {
			t.Fatalf("reply %d %q, want 451", code, text)
		}
		t.Logf("answered after %s (clamd timeout 2s)", time.Since(began).Round(time.Millisecond))
		d.Stop(10 * time.Second)
	})
	// Padding a message past scan_limit must not carry a virus or a program
	// through: only scoring is skipped (GTUBE is not read), and it says so.
	t.Run("over scan_limit: still scanned, not scored", func(t *testing.T) {
		d := start(testutil.StartClamd(t, "1M").TCP, "[limits]\nscan_limit = \"64KiB\"\n")
		pad := bytes.Repeat([]byte("0123456789abcdef"), 8<<10) // 128 KiB
		if code, text := send(testutil.WithAttachment("big-v", "eicar.com", "application/octet-stream", append(append([]byte(nil), eicar...), pad...))); code != 554 || !strings.Contains(text, testutil.EICARSignature) {
			t.Errorf("a virus in a message over scan_limit: reply %d %q, want 554 naming it", code, text)
		}
		if code, text := send(testutil.WithAttachment("big-exe", "setup.exe", "application/octet-stream", pad)); code != 550 || !strings.Contains(text, "setup.exe") {
			t.Errorf("a program in a message over scan_limit: reply %d %q, want 550 naming it", code, text)
		}
		code, text := send(testutil.WithAttachment("big-gtube", "notes.txt", "text/plain", append([]byte(rules.GTUBEString+"\n"), pad...)))
		got := delivered(t, sink, "big-gtube@example.org", code, text)
		for _, h := range []string{"X-Postern-Skipped: content scoring (message size ", "X-Virus-Status: Clean", "X-Spam-Status: No, score=0.0"} {
			if !strings.Contains(got.Data, h) {
				t.Errorf("delivered message lacks %q:\n%.800s", h, got.Data)
			}
		}
		for _, m := range []string{"big-v", "big-exe"} {
			notDelivered(t, sink, m+"@example.org")
		}
		if !d.WaitOutput("reason=unscanned", 5*time.Second) {
			t.Errorf("the log does not say the message was not scored:\n%s", d.Output())
		}
		d.Stop(10 * time.Second)
	})
	t.Run("on_too_large = tempfail", func(t *testing.T) {
		d := start(testutil.StartClamd(t, "1M").TCP, "on_too_large = \"tempfail\"\n")
		if code, text := send(testutil.Sized("big-tempfail", 1500<<10)); code != 451 {
			t.Fatalf("reply %d %q, want 451", code, text)
		}
		d.Stop(10 * time.Second)
	})
}
