package e2e

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/postern/postern/internal/testutil"
)

// TestAuthenticationThroughPostfix sends a message DKIM-signed by the test, from a
// domain whose SPF record names the client, and one forging a domain with a DMARC
// reject policy, through the real Postfix; every DNS answer comes from the test.
func TestAuthenticationThroughPostfix(t *testing.T) {
	e := newEnv(t)
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	dns := testutil.StartDNS(t)
	dns.Add(t,
		`example.org. 60 IN TXT "v=spf1 ip4:127.0.0.1 -all"`,
		`sel._domainkey.example.org. 60 IN TXT "v=DKIM1; k=ed25519; p=`+base64.StdEncoding.EncodeToString(pub)+`"`,
		`_dmarc.example.org. 60 IN TXT "v=DMARC1; p=reject"`,
		`_dmarc.bank.test. 60 IN TXT "v=DMARC1; p=reject"`,
		`shop.test. 60 IN TXT "v=spf1 ip4:127.0.0.1 -all"`,
		`client.test.invalid. 60 IN TXT "v=spf1 ip4:127.0.0.1 -all"`, // the test client's HELO name
		`sel._domainkey.shop.test. 60 IN TXT "v=DKIM1; k=ed25519; p=`+base64.StdEncoding.EncodeToString(pub)+`"`,
	)
	// An operator's welcome list for a sender who authenticates, and a rule
	// that would refuse that sender's message otherwise. (The two rules are the
	// stock ones, defined here too for a machine without SpamAssassin's.)
	rulesDir := t.TempDir()
	local := `welcomelist_auth *@shop.test
header USER_IN_SPF_WELCOMELIST eval:check_for_spf_welcomelist_from()
header USER_IN_DKIM_WELCOMELIST eval:check_for_dkim_welcomelist_from()
score USER_IN_SPF_WELCOMELIST -100
score USER_IN_DKIM_WELCOMELIST -100
body T_MIRACLE /miracle offer/
score T_MIRACLE 30
`
	if err := os.WriteFile(filepath.Join(rulesDir, "local.cf"), []byte(local), 0o644); err != nil {
		t.Fatal(err)
	}
	conf := `rules_paths = ["stock", "default", "` + rulesDir + `"]
[milter]
shutdown_timeout = "5s"
[policy]
trusted_networks = []
[dns]
resolver = "` + dns.Addr + `"
[auth]
enabled = true
authserv_id = "mx.test"
dmarc_reject = true
[limits]
scan_limit = "64KiB"
`
	if err := os.WriteFile(e.cfg, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	e.start()
	rcpt := []string{"user@example.com"}
	// sign is raw DKIM-signed by domain with the test's key (selector sel).
	sign := func(t *testing.T, raw, domain string) string {
		t.Helper()
		var signed bytes.Buffer
		if err := dkim.Sign(&signed, strings.NewReader(raw), &dkim.SignOptions{Domain: domain, Selector: "sel", Signer: priv,
			HeaderKeys: []string{"From", "To", "Subject", "Message-ID"}}); err != nil {
			t.Fatal(err)
		}
		return signed.String()
	}

	t.Run("signed, SPF pass, DMARC pass; a forged result removed", func(t *testing.T) {
		raw := "From: Alice <alice@example.org>\r\nTo: user@example.com\r\nSubject: signed\r\n" +
			"Message-ID: <signed-1@example.org>\r\nAuthentication-Results: mx.test; dkim=pass header.d=bank.test\r\n\r\n" +
			"A signed message.\r\nsigned-1\r\n"
		code, text := sendSMTP(t, e.pf.SMTPAddr, "alice@example.org", rcpt, sign(t, raw, "example.org"))
		got := delivered(t, e.sink, "signed-1", code, text)
		ar := headerOf(got.Data, "Authentication-Results")
		if i, j := strings.Index(got.Data, "Authentication-Results: mx.test"), strings.Index(got.Data, "From: Alice"); i < 0 || i > j {
			t.Errorf("Authentication-Results is not above the sender's headers:\n%s", got.Data)
		}
		for _, want := range []string{"mx.test;", "spf=pass", "smtp.mailfrom=alice@example.org", "smtp.helo=client.test.invalid", "dkim=pass", "header.d=example.org", "dmarc=pass", "header.from=example.org"} {
			if !strings.Contains(ar, want) {
				t.Errorf("Authentication-Results %q lacks %q", ar, want)
			}
		}
		if strings.Contains(got.Data, "header.d=bank.test") {
			t.Errorf("the forged Authentication-Results survived:\n%s", got.Data)
		}
		if status := headerOf(got.Data, "X-Spam-Status"); !strings.Contains(status, "DKIM_VALID_AU") || !strings.Contains(status, "SPF_PASS") || !strings.Contains(status, "SPF_HELO_PASS") {
			t.Errorf("X-Spam-Status %q lacks the authentication pseudo-rules", status)
		} else if strings.Count(status, "SPF_PASS") != 1 || strings.Count(status, "DKIM_VALID_AU") != 1 {
			t.Errorf("X-Spam-Status %q counts a result twice (the rules' SPF and DKIM evals answer too)", status)
		}
	})

	// welcomelist_auth holds for the sender whose SPF passed and whose domain
	// signed, and for no one who only writes the address.
	t.Run("welcomelist_auth: the authenticated sender is let through", func(t *testing.T) {
		raw := "From: Shop <news@shop.test>\r\nTo: user@example.com\r\nSubject: offer\r\n" +
			"Message-ID: <welcome-1@shop.test>\r\n\r\nOur miracle offer for members.\r\nwelcome-1\r\n"
		code, text := sendSMTP(t, e.pf.SMTPAddr, "news@shop.test", rcpt, sign(t, raw, "shop.test"))
		got := delivered(t, e.sink, "welcome-1", code, text)
		status := headerOf(got.Data, "X-Spam-Status")
		for _, want := range []string{"T_MIRACLE", "USER_IN_SPF_WELCOMELIST", "USER_IN_DKIM_WELCOMELIST"} {
			if !strings.Contains(status, want) {
				t.Errorf("X-Spam-Status %q lacks %s", status, want)
			}
		}
	})
	t.Run("welcomelist_auth: the same From, unauthenticated, is refused", func(t *testing.T) {
		raw := "From: Shop <news@shop.test>\r\nTo: user@example.com\r\nSubject: offer\r\n" +
			"Message-ID: <welcome-2@shop.test>\r\n\r\nOur miracle offer for members.\r\nwelcome-2\r\n"
		// From another domain's sender: no SPF pass for shop.test, no signature.
		// (shop.test publishes no DMARC policy: the rule refuses it, not DMARC.)
		code, text := sendSMTP(t, e.pf.SMTPAddr, "someone@elsewhere.test", rcpt, raw)
		if code != 550 || refOf(text) == "" || strings.Contains(text, "DMARC") {
			t.Fatalf("reply %d %q, want the 550 for spam with a ref", code, text)
		}
		notDelivered(t, e.sink, "welcome-2")
	})

	t.Run("a forged From with p=reject is refused and kept", func(t *testing.T) {
		raw := "From: Bank <security@bank.test>\r\nTo: user@example.com\r\nSubject: verify your account\r\n" +
			"Message-ID: <forged-1@bank.test>\r\n\r\nClick.\r\nforged-1\r\n"
		code, text := sendSMTP(t, e.pf.SMTPAddr, "alice@example.org", rcpt, raw)
		if code != 550 || !strings.Contains(text, "DMARC policy of bank.test") || refOf(text) == "" {
			t.Fatalf("reply %d %q, want 550 naming the DMARC policy and a ref", code, text)
		}
		notDelivered(t, e.sink, "forged-1")
		out, _ := e.cli("quarantine", "show", refOf(text))
		if !strings.Contains(out, "forged-1") {
			t.Errorf("the refused message is not in the quarantine:\n%s", out)
		} else if !strings.Contains(out, "dmarc=fail (p=reject) header.from=bank.test") {
			t.Errorf("quarantine show does not say why:\n%s", out)
		}
	})

	// Over scan_limit the message is not scored, but its sender is still
	// authenticated: padding does not carry a forgery past p=reject.
	pad := "Content-Type: text/plain\r\n\r\n" + strings.Repeat(strings.Repeat("x", 74)+"\r\n", 1200) // 91 KB
	t.Run("over scan_limit: a forged From with p=reject is still refused", func(t *testing.T) {
		raw := "From: Bank <security@bank.test>\r\nTo: user@example.com\r\nSubject: your statement\r\n" +
			"Message-ID: <forged-big@bank.test>\r\n" + pad + "forged-big\r\n"
		code, text := sendSMTP(t, e.pf.SMTPAddr, "alice@example.org", rcpt, raw)
		if code != 550 || !strings.Contains(text, "DMARC policy of bank.test") || refOf(text) == "" {
			t.Fatalf("reply %d %q, want 550 naming the DMARC policy and a ref", code, text)
		}
		notDelivered(t, e.sink, "forged-big")
	})
	t.Run("over scan_limit: a signed message delivered, authenticated, not scored", func(t *testing.T) {
		raw := "From: Alice <alice@example.org>\r\nTo: user@example.com\r\nSubject: the big file\r\n" +
			"Message-ID: <signed-big@example.org>\r\n" + pad + "signed-big\r\n"
		code, text := sendSMTP(t, e.pf.SMTPAddr, "alice@example.org", rcpt, sign(t, raw, "example.org"))
		got := delivered(t, e.sink, "signed-big", code, text)
		if ar := headerOf(got.Data, "Authentication-Results"); !strings.Contains(ar, "dkim=pass") || !strings.Contains(ar, "dmarc=pass") {
			t.Errorf("Authentication-Results %q, want dkim=pass and dmarc=pass", ar)
		}
		if sk := headerOf(got.Data, "X-Postern-Skipped"); !strings.Contains(sk, "exceeds scan_limit") {
			t.Errorf("X-Postern-Skipped %q, want the scan_limit named", sk)
		}
	})
}
