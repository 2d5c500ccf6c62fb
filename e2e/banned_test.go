package e2e

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/postern/postern/internal/testutil"
)

// TestBannedAttachmentsThroughPostfix sends attachments through the real
// Postfix to postern on its built-in defaults: a program is refused with a
// reply that names it and a reference whose copy is in the quarantine, a
// document is delivered, and the postmaster's copy of a program is delivered
// marked. An SVG image that runs script is refused as a program is; a drawing
// is delivered.
func TestBannedAttachmentsThroughPostfix(t *testing.T) {
	e := newEnv(t)
	d := e.start()
	if !d.WaitOutput("banned_attachments=true", 5*time.Second) {
		t.Errorf("serve does not say at start that banned attachments are refused:\n%s", d.Output())
	}
	send := func(raw string, rcpt string) (int, string) {
		return sendSMTP(t, e.pf.SMTPAddr, "sender@example.org", []string{rcpt}, raw)
	}
	program := []byte("MZ" + strings.Repeat("\x00", 0x3a) + "\x40\x00\x00\x00PE\x00\x00" + strings.Repeat("\x00", 200))

	refused := []struct {
		name, raw, names string
	}{
		{"a double extension", testutil.WithAttachment("b-exe", "Invoice 2026.pdf.exe", "application/octet-stream", []byte("x")), "Invoice 2026.pdf.exe"},
		{"a script in a zip", testutil.WithAttachment("b-zip", "documents.zip", "application/zip", testutil.Zip("scan_0412.js", []byte("x"))), "documents.zip"},
		{"a program named as a picture", testutil.WithAttachment("b-pe", "photo.jpg", "image/jpeg", program), "photo.jpg"},
		{"an SVG image that runs script", testutil.WithAttachment("b-svg", "Payment.svg", "image/svg+xml",
			[]byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>location.href="https://login.example/"+atob("eA==")</script></svg>`)), "Payment.svg"},
	}
	var refs []string
	for _, tc := range refused {
		t.Run("refused: "+tc.name, func(t *testing.T) {
			code, text := send(tc.raw, "rcpt@example.com")
			if code != 550 || !strings.HasPrefix(text, "5.7.1 ") || !strings.Contains(text, "attachment "+tc.names+" is of a type not accepted here (ref ") {
				t.Fatalf("reply %d %q, want 550 5.7.1 naming %q with a ref", code, text, tc.names)
			}
			refs = append(refs, refOf(text))
		})
	}
	if !d.WaitOutput(`reason=banned`, 5*time.Second) || !d.WaitOutput(`banned attachment \"scan_0412.js\": extension .js (in \"documents.zip\")`, 5*time.Second) {
		t.Errorf("the log does not say what was banned:\n%s", d.Output())
	}
	out, code := e.cli("quarantine", "list", "--json", "--reason", "banned")
	if code != 0 {
		t.Fatalf("quarantine list: %d %s", code, out)
	}
	kept := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var r struct{ ID, Reason string }
		if err := json.Unmarshal([]byte(line), &r); err == nil && r.Reason == "banned" {
			kept[r.ID] = true
		}
	}
	for _, ref := range refs {
		if !kept[ref] {
			t.Errorf("refused message %s not in the quarantine as banned:\n%s", ref, out)
		}
	}
	if len(refs) == len(refused) {
		if out, _ := e.cli("quarantine", "show", refs[1]); !regexp.MustCompile(`Found: +"scan_0412.js": extension .js \(in "documents.zip"\)`).MatchString(out) {
			t.Errorf("quarantine show does not say what was banned:\n%s", out)
		}
	}
	if out, _ := e.cli("quarantine", "list"); !strings.Contains(out, "banned:scan_0412.js") || !strings.Contains(out, "banned:Invoice 2026.pdf.exe") {
		t.Errorf("quarantine list does not name the banned files:\n%s", out)
	}
	if out, _ := e.cli("quarantine", "stats"); !strings.Contains(out, "banned   4") {
		t.Errorf("quarantine stats:\n%s", out)
	}
	for _, m := range []string{"b-exe", "b-zip", "b-pe", "b-svg"} {
		notDelivered(t, e.sink, m+"@example.org")
	}

	t.Run("a document is delivered", func(t *testing.T) {
		code, text := send(testutil.WithAttachment("ok-pdf", "report.pdf", "application/pdf", []byte("%PDF-1.4\n")), "rcpt@example.com")
		got := delivered(t, e.sink, "ok-pdf@example.org", code, text)
		if strings.Contains(got.Data, "X-Postern-Banned") {
			t.Errorf("marked banned:\n%.800s", got.Data)
		}
	})
	t.Run("a drawing is delivered", func(t *testing.T) {
		logo := []byte(`<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="9" height="9"><rect width="9" height="9" fill="#036"/></svg>`)
		code, text := send(testutil.WithAttachment("ok-svg", "logo.svg", "image/svg+xml", logo), "rcpt@example.com")
		if got := delivered(t, e.sink, "ok-svg@example.org", code, text); strings.Contains(got.Data, "X-Postern-Banned") {
			t.Errorf("marked banned:\n%.800s", got.Data)
		}
	})
	t.Run("the postmaster's copy is delivered, marked", func(t *testing.T) {
		code, text := send(testutil.WithAttachment("pm-exe", "setup.exe", "application/octet-stream", program), "postmaster@example.com")
		got := delivered(t, e.sink, "pm-exe@example.org", code, text)
		if !strings.Contains(got.Data, `X-Postern-Banned: "setup.exe": extension .exe`) {
			t.Errorf("not marked:\n%.800s", got.Data)
		}
	})
}
