package auth_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"
	"github.com/miekg/dns"

	"github.com/postern/postern/auth"
	"github.com/postern/postern/filter"
	"github.com/postern/postern/internal/testutil"
	"github.com/postern/postern/resolver"
	"github.com/postern/postern/scan"
)

// keys is one RSA and one Ed25519 key, published by setup under selectors "rsa" and
// "ed" of good.test and sub.good.test's parent, and "revoked" with an empty key.
type keys struct {
	rsa *rsa.PrivateKey
	ed  ed25519.PrivateKey
}

func setup(t testing.TB) (*auth.Check, *keys, *testutil.DNSServer) {
	t.Helper()
	k := &keys{}
	var err error
	if k.rsa, err = rsa.GenerateKey(rand.Reader, 1024); err != nil {
		t.Fatal(err)
	}
	edPub, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	k.ed = edPriv
	der, _ := x509.MarshalPKIXPublicKey(&k.rsa.PublicKey)
	srv := testutil.StartDNS(t)
	srv.Add(t,
		`rsa._domainkey.good.test. 60 IN TXT "v=DKIM1; k=rsa; p=`+base64.StdEncoding.EncodeToString(der)+`"`,
		`ed._domainkey.good.test. 60 IN TXT "v=DKIM1; k=ed25519; p=`+base64.StdEncoding.EncodeToString(edPub)+`"`,
		`revoked._domainkey.good.test. 60 IN TXT "v=DKIM1; k=rsa; p="`,
		`rsa._domainkey.other.test. 60 IN TXT "v=DKIM1; k=rsa; p=`+base64.StdEncoding.EncodeToString(der)+`"`,
		`_dmarc.good.test. 60 IN TXT "v=DMARC1; p=reject; sp=quarantine"`,
		`_dmarc.quar.test. 60 IN TXT "v=DMARC1; p=quarantine"`,
		`_dmarc.none.test. 60 IN TXT "v=DMARC1; p=none"`,
		`_dmarc.strict.test. 60 IN TXT "v=DMARC1; p=reject; adkim=s; aspf=s"`,
		`_dmarc.pct.test. 60 IN TXT "v=DMARC1; p=reject; pct=20"`,
	)
	srv.Fail("broken.test", dns.RcodeServerFailure)
	r, err := resolver.New(srv.Addr, resolver.Options{Timeout: 300 * time.Millisecond, CacheSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	return &auth.Check{Resolver: resolver.NetStyle{R: r}, AuthservID: "mx.test", DMARCReject: true}, k, srv
}

func msg(from, body string) string {
	return "From: Someone <someone@" + from + ">\r\nTo: you@example.org\r\nSubject: hello\r\n" +
		"Message-ID: <1@" + from + ">\r\n\r\n" + body + "\r\n"
}

func sign(t testing.TB, raw, domain, selector string, signer crypto.Signer, exp time.Time) string {
	t.Helper()
	var out bytes.Buffer
	o := &dkim.SignOptions{Domain: domain, Selector: selector, Signer: signer, Expiration: exp,
		HeaderCanonicalization: dkim.CanonicalizationRelaxed, BodyCanonicalization: dkim.CanonicalizationRelaxed}
	if err := dkim.Sign(&out, strings.NewReader(raw), o); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

func run(t *testing.T, c *auth.Check, raw string, spf *filter.SPF) (auth.Results, filter.Result) {
	t.Helper()
	parsed, err := scan.Parse(strings.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	m := &filter.Message{Env: &filter.Envelope{SPF: spf}, Raw: strings.NewReader(raw), Size: int64(len(raw)), Parsed: parsed}
	res, err := c.Verify(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	return res, c.Check(context.Background(), m)
}

func TestDKIM(t *testing.T) {
	c, k, _ := setup(t)
	base := msg("good.test", "Hello, this is signed.")
	tests := []struct {
		name   string
		raw    string
		result string
		tests  string
	}{
		{"RSA valid", sign(t, base, "good.test", "rsa", k.rsa, time.Time{}), "pass", "DKIM_SIGNED DKIM_VALID DKIM_VALID_AU"},
		{"Ed25519 valid", sign(t, base, "good.test", "ed", k.ed, time.Time{}), "pass", "DKIM_SIGNED DKIM_VALID DKIM_VALID_AU"},
		{"valid, not the author's domain", sign(t, msg("elsewhere.test", "x"), "other.test", "rsa", k.rsa, time.Time{}), "pass", "DKIM_SIGNED DKIM_VALID"},
		// An Author Domain Signature is by the author's domain itself, as
		// SpamAssassin has it (TestDKIMWelcomelistsAsSpamAssassin in rules).
		{"valid, the author's a subdomain of d=", sign(t, msg("news.good.test", "x"), "good.test", "rsa", k.rsa, time.Time{}), "pass", "DKIM_SIGNED DKIM_VALID"},
		{"valid, by the second author's domain", sign(t, strings.Replace(base, "From: Someone <someone@good.test>", "From: a@elsewhere.test, b@good.test", 1),
			"good.test", "rsa", k.rsa, time.Time{}), "pass", "DKIM_SIGNED DKIM_VALID DKIM_VALID_AU"},
		{"body altered", strings.Replace(sign(t, base, "good.test", "rsa", k.rsa, time.Time{}), "this is signed", "this is changed", 1), "fail", "DKIM_SIGNED DKIM_INVALID"},
		{"header altered", strings.Replace(sign(t, base, "good.test", "rsa", k.rsa, time.Time{}), "Subject: hello", "Subject: hullo", 1), "fail", "DKIM_SIGNED DKIM_INVALID"},
		{"key missing", sign(t, base, "good.test", "nokey", k.rsa, time.Time{}), "permerror", "DKIM_SIGNED DKIM_INVALID"},
		{"key revoked", sign(t, base, "good.test", "revoked", k.rsa, time.Time{}), "permerror", "DKIM_SIGNED DKIM_INVALID"},
		{"expired", sign(t, base, "good.test", "rsa", k.rsa, time.Now().Add(-time.Hour)), "permerror", "DKIM_SIGNED DKIM_INVALID"},
		{"l= body length", strings.Replace(sign(t, base, "good.test", "rsa", k.rsa, time.Time{}), "DKIM-Signature: ", "DKIM-Signature: l=5; ", 1), "policy", "DKIM_SIGNED DKIM_INVALID"},
		{"key lookup fails", sign(t, msg("broken.test", "x"), "broken.test", "rsa", k.rsa, time.Time{}), "temperror", "DKIM_SIGNED DKIM_INVALID"},
		{"unsigned", base, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, r := run(t, c, tc.raw, nil)
			got := ""
			if len(res.DKIM) > 0 {
				got = res.DKIM[0].Result
			}
			if got != tc.result {
				t.Fatalf("dkim %q (%+v), want %q", got, res.DKIM, tc.result)
			}
			var names []string
			for _, x := range r.Tests {
				if strings.HasPrefix(x.Name, "DKIM") {
					names = append(names, x.Name)
				}
			}
			if strings.Join(names, " ") != tc.tests {
				t.Fatalf("tests %q, want %q", names, tc.tests)
			}
		})
	}
}

func TestDKIMSignatureCap(t *testing.T) {
	c, k, srv := setup(t)
	c.MaxSignatures = 3
	raw := msg("good.test", "many signatures")
	for i := 0; i < 10; i++ {
		raw = sign(t, raw, "good.test", "rsa", k.rsa, time.Time{})
	}
	before := srv.Queries()
	res, _ := run(t, c, raw, nil)
	if len(res.DKIM) != 3 {
		t.Fatalf("%d signatures verified, want 3", len(res.DKIM))
	}
	if q := srv.Queries() - before; q > 4 { // three keys at most, and the DMARC record
		t.Fatalf("%d lookups for a capped message", q)
	}
}

func TestDMARC(t *testing.T) {
	c, k, _ := setup(t)
	pass := func(domain string) *filter.SPF {
		return &filter.SPF{Result: "pass", Identity: "mailfrom", Domain: domain, Sender: "bounce@" + domain}
	}
	tests := []struct {
		name    string
		raw     string
		spf     *filter.SPF
		result  string
		policy  string
		test    string
		refused bool
	}{
		{"pass by SPF alignment", msg("good.test", "x"), pass("good.test"), "pass", "reject", "DMARC_PASS", false},
		{"pass by relaxed SPF alignment", msg("good.test", "x"), pass("bounces.good.test"), "pass", "reject", "DMARC_PASS", false},
		{"pass by DKIM alignment", sign(t, msg("good.test", "x"), "good.test", "rsa", k.rsa, time.Time{}), pass("elsewhere.test"), "pass", "reject", "DMARC_PASS", false},
		{"fail, p=reject", msg("good.test", "x"), pass("elsewhere.test"), "fail", "reject", "DMARC_REJECT", true},
		{"fail, SPF fail too", msg("good.test", "x"), &filter.SPF{Result: "fail", Domain: "good.test", Identity: "mailfrom"}, "fail", "reject", "DMARC_REJECT", true},
		{"fail, p=quarantine", msg("quar.test", "x"), nil, "fail", "quarantine", "DMARC_QUAR", false},
		{"fail, p=none", msg("none.test", "x"), nil, "fail", "none", "DMARC_NONE", false},
		{"subdomain: the organizational domain's sp=", msg("mail.good.test", "x"), nil, "fail", "quarantine", "DMARC_QUAR", false},
		{"strict alignment: a subdomain does not align", msg("strict.test", "x"), pass("mail.strict.test"), "fail", "reject", "DMARC_REJECT", true},
		{"pct below 100: quarantine, not reject", msg("pct.test", "x"), nil, "fail", "quarantine", "DMARC_QUAR", false},
		{"no record", msg("nodmarc.test", "x"), nil, "none", "", "DMARC_MISSING", false},
		{"DNS failure", msg("broken.test", "x"), nil, "temperror", "", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, r := run(t, c, tc.raw, tc.spf)
			if res.DMARC.Result != tc.result || res.DMARC.Policy != tc.policy {
				t.Fatalf("dmarc %+v, want %s policy %s", res.DMARC, tc.result, tc.policy)
			}
			found := tc.test == ""
			for _, x := range r.Tests {
				if strings.HasPrefix(x.Name, "DMARC") {
					found = found || x.Name == tc.test
					if tc.test == "" {
						t.Fatalf("unexpected %s", x.Name)
					}
				}
			}
			if !found {
				t.Fatalf("no %s in %+v", tc.test, r.Tests)
			}
			if (r.Refuse != nil) != tc.refused {
				t.Fatalf("refuse = %+v, want %v", r.Refuse, tc.refused)
			}
		})
	}
	// Not enforced: scored only.
	c.DMARCReject = false
	if _, r := run(t, c, msg("good.test", "x"), pass("elsewhere.test")); r.Refuse != nil {
		t.Fatal("refused with dmarc_reject off")
	}
}

func TestHeaderAndScores(t *testing.T) {
	c, k, _ := setup(t)
	c.Score = func(name string) (float64, bool) {
		if name == "SPF_FAIL" {
			return 4.2, true // an operator's score line
		}
		return 0, false
	}
	raw := sign(t, msg("good.test", "x"), "good.test", "ed", k.ed, time.Time{})
	_, r := run(t, c, raw, &filter.SPF{Result: "fail", Identity: "mailfrom", Domain: "good.test", Sender: "a@good.test"})
	if len(r.Headers) != 1 || r.Headers[0].Name != "Authentication-Results" {
		t.Fatalf("headers %+v", r.Headers)
	}
	v := r.Headers[0].Value
	for _, want := range []string{"mx.test;", "spf=fail smtp.mailfrom=a@good.test", "dkim=pass header.d=good.test", "dmarc=pass header.from=good.test"} {
		if !strings.Contains(v, want) {
			t.Errorf("Authentication-Results %q lacks %q", v, want)
		}
	}
	spfFail := -1.0
	for _, x := range r.Tests {
		if x.Name == "SPF_FAIL" {
			spfFail = x.Score
		}
	}
	if spfFail != 4.2 {
		t.Errorf("SPF_FAIL scored %.3f (-1: absent), want the operator's 4.2", spfFail)
	}
	if !auth.Ours("mx.test; spf=pass", "MX.test") || auth.Ours("other.test; spf=pass", "mx.test") || !auth.Ours("mx.test 1; none", "mx.test") {
		t.Error("Ours")
	}
}

// A message that cannot be read is a failed check (the pipeline tempfails it), not
// a DKIM permerror that lets it through.
func TestReadErrorFailsTheCheck(t *testing.T) {
	c, _, _ := setup(t)
	raw := msg("good.test", "x")
	parsed, _ := scan.Parse(strings.NewReader(raw))
	m := &filter.Message{Env: &filter.Envelope{}, Raw: failingReaderAt{}, Size: int64(len(raw)), Parsed: parsed}
	if r := c.Check(context.Background(), m); r.Err == nil {
		t.Fatalf("no error: %+v", r)
	}
}

type failingReaderAt struct{}

func (failingReaderAt) ReadAt([]byte, int64) (int, error) { return 0, errors.New("disk on fire") }

// The HELO name's own SPF result is SPF_HELO_* beside the sender's SPF_*, and a
// second spf result in the header, for smtp.helo.
func TestHeloSPF(t *testing.T) {
	c, _, _ := setup(t)
	raw := msg("good.test", "x")
	parsed, err := scan.Parse(strings.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	m := &filter.Message{Raw: strings.NewReader(raw), Size: int64(len(raw)), Parsed: parsed, Env: &filter.Envelope{
		SPF:     &filter.SPF{Result: "pass", Identity: "mailfrom", Domain: "good.test", Sender: "a@good.test"},
		SPFHelo: &filter.SPF{Result: "softfail", Identity: "helo", Domain: "mx.big.test", Sender: "postmaster@mx.big.test"},
	}}
	r := c.Check(context.Background(), m)
	var names []string
	for _, x := range r.Tests {
		if strings.HasPrefix(x.Name, "SPF") {
			names = append(names, x.Name)
		}
	}
	if strings.Join(names, " ") != "SPF_PASS SPF_HELO_SOFTFAIL" {
		t.Errorf("tests %v, want SPF_PASS and SPF_HELO_SOFTFAIL", names)
	}
	if v := r.Headers[0].Value; !strings.Contains(v, "spf=pass smtp.mailfrom=a@good.test") || !strings.Contains(v, "spf=softfail smtp.helo=mx.big.test") {
		t.Errorf("Authentication-Results %q lacks a result", v)
	}
}
