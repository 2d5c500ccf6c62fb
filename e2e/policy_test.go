package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/postern/postern/internal/testutil"
	"github.com/postern/postern/rules"
)

// TestEnvelopeChecksThroughPostfix runs greylisting, a block list, a deny list and the
// role accounts behind the real Postfix, with every DNS answer from a server the test
// runs on loopback. Postfix connects from 127.0.0.1, so trusted_networks is emptied.
func TestEnvelopeChecksThroughPostfix(t *testing.T) {
	e := newEnv(t)
	dns := testutil.StartDNS(t)
	// The client is 127.0.0.1: listed with a scoring code by one zone, unlisted by another.
	// Two listed domains: example.net, which SpamAssassin's stock rules name in
	// uridnsbl_skip_domain, so the URI block lists pass it by, and one nobody skips.
	dns.Add(t, "1.0.0.127.score.test. 60 IN A 127.0.0.10", "pharmacy-offers.info.dbl.test. 60 IN A 127.0.1.2",
		"example.net.dbl.test. 60 IN A 127.0.1.2")
	// The listed domain's name server is on an address an address list lists
	// (ns_zones, SpamAssassin's URIBL_SBL).
	dns.Add(t, "pharmacy-offers.info. 60 IN NS ns1.bulk-dns.info.", "ns1.bulk-dns.info. 60 IN A 192.0.2.53",
		"53.2.0.192.sbl.test. 60 IN A 127.0.0.2")
	deny := filepath.Join(e.tmp, "deny.list")
	if err := os.WriteFile(deny, []byte("from spammer@evil.example\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	metricsAddr := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
	conf := fmt.Sprintf(`log_level = "debug"
[milter]
shutdown_timeout = "5s"
[metrics]
listen = %q
[policy]
trusted_networks = []
deny_lists = [%q]
[greylist]
enabled = true
delay = "2s"
[dns]
resolver = %q
[dnsbl]
zones = ["score.test", "reject.test"]
[dnsbl.zone."score.test"]
test = "RCVD_IN_SCORE_TEST"
scores = { "127.0.0.10" = 1.5 }
[uribl]
zones = ["dbl.test"]
ns_zones = ["sbl.test"]
[uribl.ns_zone."sbl.test"]
test = "URIBL_SBL"
scores = { "127.0.0.2" = 1.6 }
`, metricsAddr, deny, dns.Addr)
	if err := os.WriteFile(e.cfg, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	daemon := e.start()
	rcpt := []string{"user@example.com"}

	code, text := sendSMTP(t, e.pf.SMTPAddr, "news@example.org", rcpt, message("grey", "grey-1", "Hello."))
	if code != 450 || !strings.HasPrefix(text, "4.7.1 Greylisted, please try again in ") {
		t.Fatalf("first attempt: %d %q, want 450 4.7.1 Greylisted…", code, text)
	}
	notDelivered(t, e.sink, "grey-1")
	if !daemon.WaitOutput("greylist=new", 5*time.Second) {
		t.Error("no log line for the greylisted recipient")
	}

	time.Sleep(2 * time.Second) // the configured delay, on the real clock
	code, text = sendSMTP(t, e.pf.SMTPAddr, "news@example.org", rcpt, message("grey", "grey-1", "Hello. See http://www.pharmacy-offers.info/offer"))
	got := delivered(t, e.sink, "grey-1", code, text)
	if status := headerOf(got.Data, "X-Spam-Status"); !strings.Contains(status, "RCVD_IN_SCORE_TEST") || !strings.Contains(status, "URIBL_DBL") ||
		!strings.Contains(status, "URIBL_SBL") {
		t.Errorf("the block lists' points are not in %q", status)
	}

	t.Run("URI block lists read the rule set's redirectors and skip list", func(t *testing.T) {
		// Behind Google's translation proxy, which the built-in rules (and the
		// stock ones) name as a redirector: the target is looked up.
		code, text := sendSMTP(t, e.pf.SMTPAddr, "news@example.org", rcpt,
			message("redirect", "redir-1", "Log in: https://translate.google.com/translate?sl=auto&u=pharmacy-offers.info/login.php"))
		got := delivered(t, e.sink, "redir-1", code, text)
		if status := headerOf(got.Data, "X-Spam-Status"); !strings.Contains(status, "URIBL_DBL") {
			t.Errorf("the redirect's target was not looked up: %q", status)
		}
		if rules.FindStock() == "" {
			return // (no stock rules, no skip list: nothing more to see)
		}
		code, text = sendSMTP(t, e.pf.SMTPAddr, "news@example.org", rcpt, message("skipped", "skip-1", "See http://www.example.net/offer"))
		got = delivered(t, e.sink, "skip-1", code, text)
		if status := headerOf(got.Data, "X-Spam-Status"); strings.Contains(status, "URIBL_DBL") {
			t.Errorf("example.net, in the stock uridnsbl_skip_domain, was looked up: %q", status)
		}
	})

	t.Run("role account is never greylisted or rejected", func(t *testing.T) {
		code, text := sendSMTP(t, e.pf.SMTPAddr, "spammer@evil.example", []string{"postmaster@example.com"},
			message("complaint", "role-1", gtube))
		got := delivered(t, e.sink, "role-1", code, text)
		if !strings.Contains(got.Data, "X-Spam-Flag: YES") {
			t.Errorf("spam to postmaster is not tagged:\n%s", got.Data)
		}
	})

	t.Run("deny list refuses at RCPT", func(t *testing.T) {
		code, text := sendSMTP(t, e.pf.SMTPAddr, "spammer@evil.example", rcpt, message("deny", "deny-1", "Buy."))
		if code != 554 || !strings.HasPrefix(text, "5.7.1 Access denied (ref ") {
			t.Fatalf("denied sender: %d %q", code, text)
		}
		notDelivered(t, e.sink, "deny-1")
	})

	t.Run("SIGHUP reloads the lists, and keeps them on an error", func(t *testing.T) {
		hup := func(want string) {
			t.Helper()
			if err := daemon.Cmd.Process.Signal(syscall.SIGHUP); err != nil {
				t.Fatal(err)
			}
			if !daemon.WaitOutput(want, 10*time.Second) {
				t.Fatalf("no %q in the log after SIGHUP", want)
			}
		}
		os.WriteFile(deny, []byte("from spammer@evil.example\nfrom a b c\n"), 0o644)
		hup("keeping the old lists")
		if code, text := sendSMTP(t, e.pf.SMTPAddr, "spammer@evil.example", rcpt, message("deny", "deny-2", "Buy.")); code != 554 {
			t.Fatalf("after a bad reload: %d %q, want the old list's 554", code, text)
		}
		os.WriteFile(deny, []byte("from other@evil.example\n"), 0o644)
		hup("SIGHUP: lists reloaded")
		if code, text := sendSMTP(t, e.pf.SMTPAddr, "spammer@evil.example", rcpt, message("deny", "deny-3", "Buy.")); code != 450 {
			t.Fatalf("after the reload: %d %q, want 450 (greylisted, no longer denied)", code, text)
		}
	})

	t.Run("greylist CLI lists the triplet", func(t *testing.T) {
		out, code := e.cli("greylist", "list", "news@example.org")
		if code != 0 || !strings.Contains(out, "127.0.0.0/news@example.org/user@example.com") || !strings.Contains(out, "passed") {
			t.Fatalf("greylist list (%d):\n%s", code, out)
		}
	})

	t.Run("metrics count the envelope decisions", func(t *testing.T) {
		wantMetrics(t, metricsAddr,
			`postern_greylist_total{outcome="new"} 2`, `postern_greylist_total{outcome="passed"} 1`,
			`postern_dnsbl_hits_total{action="score",zone="score.test"}`,
			`postern_recipients_total{action="reject",reason="deny-list"} 2`,
			`postern_recipients_total{action="continue",reason="role-account"} 1`,
			"postern_dns_queries_total ", "postern_dns_cache_hits_total ")
	})
}
