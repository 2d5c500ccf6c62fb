package rules

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/postern/postern/auth"
	"github.com/postern/postern/filter"
	"github.com/postern/postern/internal/testutil"
	"github.com/postern/postern/resolver"
)

// TestDKIMWelcomelistsAsSpamAssassin signs messages, serves their keys from a
// DNS server on loopback, and asks SpamAssassin (its DKIM plugin, Mail::DKIM)
// and Postern (the auth check's verification, then the rules) which DKIM
// welcome list each is on, and whether it has a valid signature (DKIM_VALID)
// by its author's domain (DKIM_VALID_AU); then, with the stock rules, whether a
// bank's mail is FROM_BANK_NOAUTH (neither SPF_PASS nor DKIM_VALID_AU). (SpamAssassin's SPF plugin needs Mail::SPF, which
// Debian's spamassassin does not install: the SPF lists are held to its Perl in
// TestAuthenticatedWelcomelists.)
func TestDKIMWelcomelistsAsSpamAssassin(t *testing.T) {
	if _, err := exec.LookPath("spamassassin"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("spamassassin not found: .ci/run must install it")
		}
		t.Skip("spamassassin not found (apt-get install spamassassin)")
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	dns := testutil.StartDNS(t)
	for _, d := range []string{"bank.example", "esp.example", "eu.esp.example", "imdb.example", "x.example", "news.shop.example", "shop.example", "abbey.com"} {
		dns.Add(t, `sel._domainkey.`+d+`. 60 IN TXT "v=DKIM1; k=rsa; p=`+base64.StdEncoding.EncodeToString(der)+`"`)
	}
	r, err := resolver.New(dns.Addr, resolver.Options{Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ac := &auth.Check{Resolver: resolver.NetStyle{R: r}}
	names := []string{"USER_IN_DKIM_WELCOMELIST", "USER_IN_DEF_DKIM_WL", "DKIM_VALID", "DKIM_VALID_AU"}
	tests := []struct {
		name, lines, from, d, i string
		alter                   bool // change the body after signing
	}{
		{"welcomelist_auth, author domain signature", "welcomelist_auth *@bank.example", "a@bank.example", "bank.example", "", false},
		{"welcomelist_auth, upper case", "welcomelist_auth *@bank.example", "Bank <a@Bank.example>", "bank.example", "", false},
		{"welcomelist_auth, a third party's signature", "welcomelist_auth *@bank.example", "a@bank.example", "esp.example", "", false},
		{"welcomelist_auth, i= a subdomain", "welcomelist_auth *@bank.example", "a@bank.example", "bank.example", "alerts@mail.bank.example", false},
		{"welcomelist_auth, body altered", "welcomelist_auth *@bank.example", "a@bank.example", "bank.example", "", true},
		{"from_dkim, a named signer", "welcomelist_from_dkim *@imdb.example esp.example", "a@imdb.example", "esp.example", "", false},
		{"from_dkim, a named signer, the author signs", "welcomelist_from_dkim *@imdb.example esp.example", "a@imdb.example", "imdb.example", "", false},
		{"from_dkim, *.signer, a subdomain", "def_welcomelist_from_dkim *@* *.esp.example", "a@any.example", "eu.esp.example", "", false},
		{"from_dkim, *.signer, itself", "def_welcomelist_from_dkim *@* *.esp.example", "a@any.example", "esp.example", "", false},
		{"from_dkim, .signer", "welcomelist_from_dkim *@* .esp.example", "a@any.example", "eu.esp.example", "", false},
		{"from_dkim, an address as the signer", "welcomelist_from_dkim a@x.example bounce@ESP.example", "a@x.example", "esp.example", "", false},
		{"from_dkim, no signer: the author's domain", "def_welcomelist_from_dkim *@*.shop.example", "a@news.shop.example", "news.shop.example", "", false},
		{"unwelcomelist_from_dkim", "welcomelist_from_dkim *@x.example esp.example\nwelcomelist_from_dkim *@x.example\nunwelcomelist_from_dkim *@x.example esp.example",
			"a@x.example", "esp.example", "", false},
		{"the author's domain a subdomain of the signer's", "# no list", "a@news.shop.example", "shop.example", "", false},
		{"two authors, the second's domain signs", "welcomelist_auth *@shop.example", "a@x.example, b@shop.example", "shop.example", "", false},
		{"unwelcomelist_auth", "welcomelist_auth *@bank.example\ndef_welcomelist_auth *@bank.example\nunwelcomelist_auth *@bank.example", "a@bank.example", "bank.example", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := "From: " + tt.from + "\r\nTo: b@example.net\r\nSubject: x\r\nMessage-ID: <1@x.example>\r\n" +
				"Date: Mon, 1 Jun 2026 10:00:00 +0000\r\n\r\nhello\r\n"
			var signed bytes.Buffer
			if err := dkim.Sign(&signed, strings.NewReader(raw), &dkim.SignOptions{Domain: tt.d, Selector: "sel", Signer: key,
				Identifier: tt.i, HeaderKeys: []string{"From", "To", "Subject"}}); err != nil {
				t.Fatal(err)
			}
			msg := signed.String()
			if tt.alter {
				msg = strings.Replace(msg, "hello", "hullo", 1)
			}

			// SpamAssassin with its network tests on, every query to the test's server.
			_, port, _ := strings.Cut(dns.Addr, ":")
			cmd := exec.Command("spamassassin", "-t", "--cf=dns_server 127.0.0.1:"+port, "--cf=dns_available yes",
				"--cf=skip_rbl_checks 1", "--cf="+tt.lines)
			cmd.Stdin = strings.NewReader(msg)
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("spamassassin: %v", err)
			}
			var want []string
			for _, n := range names {
				if bytes.Contains(out, []byte(" "+n+" ")) {
					want = append(want, n)
				}
			}

			dir := writeRules(t, map[string]string{"a.cf": tt.lines + `
header USER_IN_DKIM_WELCOMELIST eval:check_for_dkim_welcomelist_from()
header USER_IN_DEF_DKIM_WL eval:check_for_def_dkim_welcomelist_from()
score USER_IN_DKIM_WELCOMELIST -100
score USER_IN_DEF_DKIM_WL -7.5
`})
			s, problems := Load(filepath.Join(dir, "a.cf"))
			if errs := Errors(problems); len(errs) > 0 {
				t.Fatal(errs)
			}
			m := msgOf(t, strings.ReplaceAll(msg, "\r\n", "\n"))
			hits, err := s.EvalAuthenticated(m, authenticated(t, ac, m))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, h := range hits {
				got = append(got, h.Rule.Name)
			}
			// DKIM_VALID and DKIM_VALID_AU are the auth check's pseudo-rules.
			for _, x := range ac.Check(context.Background(), m).Tests {
				if x.Name == "DKIM_VALID" || x.Name == "DKIM_VALID_AU" {
					got = append(got, x.Name)
				}
			}
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("Postern: %v; SpamAssassin: %v", got, want)
			}
		})
	}

	// With the stock rules, a meta rule that spares authenticated mail: a
	// bank's From:, through an outside relay, signed by the bank or not.
	stock := stockRules(t, false)
	for _, tt := range []struct {
		name, d string
	}{{"the bank signs", "abbey.com"}, {"another domain signs", "esp.example"}, {"unsigned", ""}} {
		t.Run("FROM_BANK_NOAUTH, "+tt.name, func(t *testing.T) {
			msg := "Received: from mail.abbey.com (mail.abbey.com [203.0.113.9]) by mx.example.net (Postfix) with ESMTP id A1; Mon, 1 Jun 2026 10:00:00 +0000\r\n" +
				"From: Abbey <alerts@abbey.com>\r\nTo: b@example.net\r\nSubject: Your statement\r\nMessage-ID: <1@abbey.com>\r\n" +
				"Date: Mon, 1 Jun 2026 10:00:00 +0000\r\n\r\nYour statement is ready.\r\n"
			if tt.d != "" {
				var signed bytes.Buffer
				if err := dkim.Sign(&signed, strings.NewReader(msg), &dkim.SignOptions{Domain: tt.d, Selector: "sel", Signer: key,
					HeaderKeys: []string{"From", "To", "Subject"}}); err != nil {
					t.Fatal(err)
				}
				msg = signed.String()
			}
			_, port, _ := strings.Cut(dns.Addr, ":")
			cmd := exec.Command("spamassassin", "-t", "--cf=dns_server 127.0.0.1:"+port, "--cf=dns_available yes", "--cf=skip_rbl_checks 1")
			cmd.Stdin = strings.NewReader(msg)
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("spamassassin: %v", err)
			}
			m := msgOf(t, strings.ReplaceAll(msg, "\r\n", "\n"))
			hits, err := stock.EvalAuthenticated(m, authenticated(t, ac, m))
			if err != nil {
				t.Fatal(err)
			}
			got := false
			for _, h := range hits {
				got = got || h.Rule.Name == "FROM_BANK_NOAUTH"
			}
			if want := bytes.Contains(out, []byte(" FROM_BANK_NOAUTH ")); got != want {
				t.Errorf("FROM_BANK_NOAUTH: Postern %v, SpamAssassin %v", got, want)
			}
		})
	}
}

// authenticated is what serve gives the rules (cmd/postern's ruleSignatures
// and ruleAuth): the auth check's results, as the rules read them.
func authenticated(t *testing.T, ac *auth.Check, m *filter.Message) *AuthSource {
	return &AuthSource{
		Signatures: func() []DKIMSignature {
			sigs, err := ac.Signatures(context.Background(), m)
			if err != nil {
				t.Fatal(err)
			}
			var out []DKIMSignature
			for _, r := range sigs {
				out = append(out, DKIMSignature{Valid: r.Result == "pass", Domain: r.SigningDomain()})
			}
			return out
		},
		All: func() *Authentication {
			res, err := ac.Results(context.Background(), m)
			if err != nil {
				t.Fatal(err)
			}
			a := &Authentication{ARC: res.ARC.Result}
			if d := res.DMARC; d.Domain != "" && d.Override == "" {
				a.DMARC, a.DMARCPolicy = d.Result, d.Policy
			}
			return a
		},
	}
}
