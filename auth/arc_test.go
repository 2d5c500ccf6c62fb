package auth

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/postern/postern/filter"
	"github.com/postern/postern/internal/testutil"
	"github.com/postern/postern/resolver"
	"github.com/postern/postern/scan"
)

// seal adds ARC set i to raw as an intermediary would (RFC 8617 5.1): its
// ARC-Authentication-Results, an ARC-Message-Signature over From, To, Subject and
// the body, and an ARC-Seal over the chain. It is the verifier's inverse, written
// for the tests only.
func seal(t *testing.T, raw string, i int, cv, domain string, key *rsa.PrivateKey, results string) string {
	t.Helper()
	fields, body, err := readFields(strings.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	bh, _ := bodyHash(body, "relaxed")
	sign := func(data string) string {
		sum := sha256.Sum256([]byte(data))
		sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
		if err != nil {
			t.Fatal(err)
		}
		return base64.StdEncoding.EncodeToString(sig)
	}
	aar := fmt.Sprintf("ARC-Authentication-Results: i=%d; %s; %s\r\n", i, domain, results)
	ams := fmt.Sprintf("ARC-Message-Signature: i=%d; a=rsa-sha256; c=relaxed/relaxed; d=%s; s=arc;\r\n\th=from:to:subject; bh=%s; b=",
		i, domain, base64.StdEncoding.EncodeToString(bh))
	var data strings.Builder
	used := map[int]bool{}
	for _, name := range []string{"from", "to", "subject"} {
		for j := len(fields) - 1; j >= 0; j-- {
			if !used[j] && strings.EqualFold(fields[j].name, name) {
				used[j] = true
				data.WriteString(relaxedHeader(fields[j].raw))
				break
			}
		}
	}
	data.WriteString(strings.TrimSuffix(relaxedHeader(ams), "\r\n"))
	ams += sign(data.String()) + "\r\n"

	// The chain so far, oldest first, then this set.
	prev := map[int][3]string{}
	for _, f := range fields {
		n, err := instance(f.value())
		if err != nil {
			continue
		}
		s := prev[n]
		switch strings.ToLower(f.name) {
		case "arc-authentication-results":
			s[0] = f.raw
		case "arc-message-signature":
			s[1] = f.raw
		case "arc-seal":
			s[2] = f.raw
		}
		prev[n] = s
	}
	as := fmt.Sprintf("ARC-Seal: i=%d; a=rsa-sha256; cv=%s; d=%s; s=arc; b=", i, cv, domain)
	var chain strings.Builder
	for j := 1; j < i; j++ {
		for _, h := range prev[j] {
			chain.WriteString(relaxedHeader(h))
		}
	}
	chain.WriteString(relaxedHeader(aar))
	chain.WriteString(relaxedHeader(ams))
	chain.WriteString(strings.TrimSuffix(relaxedHeader(as), "\r\n"))
	as += sign(chain.String()) + "\r\n"
	return as + ams + aar + raw
}

func TestARC(t *testing.T) {
	key, _ := rsa.GenerateKey(rand.Reader, 1024)
	der, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	p := base64.StdEncoding.EncodeToString(der)
	srv := testutil.StartDNS(t)
	srv.Add(t,
		`arc._domainkey.lists.test. 60 IN TXT "v=DKIM1; k=rsa; p=`+p+`"`,
		`arc._domainkey.fwd.test. 60 IN TXT "v=DKIM1; k=rsa; p=`+p+`"`,
		`_dmarc.origin.test. 60 IN TXT "v=DMARC1; p=reject"`,
	)
	r, _ := resolver.New(srv.Addr, resolver.Options{Timeout: 300 * time.Millisecond, CacheSize: 100})
	c := &Check{Resolver: resolver.NetStyle{R: r}, AuthservID: "mx.test", DMARCReject: true, TrustedSealers: []string{"lists.test"}}

	orig := "From: A <a@origin.test>\r\nTo: list@lists.test\r\nSubject: [list] hello\r\n\r\nHello.\r\n\r\n-- \r\nlist footer\r\n"
	one := seal(t, orig, 1, "none", "lists.test", key, "dmarc=pass header.from=origin.test")
	two := seal(t, one, 2, "pass", "fwd.test", key, "arc=pass")
	tests := []struct {
		name, raw, result string
		instance          int
	}{
		{"no chain", orig, "none", 0},
		{"one set", one, "pass", 1},
		{"two sets", two, "pass", 2},
		{"body changed after sealing", strings.Replace(one, "Hello.", "Hello!", 1), "fail", 1},
		{"sealed header changed", strings.Replace(one, "cv=none", "cv=none ", 1), "fail", 1},
		{"first seal says cv=pass", seal(t, orig, 1, "pass", "lists.test", key, "dmarc=pass"), "fail", 1},
		{"set missing", strings.Replace(two, "ARC-Authentication-Results: i=1;", "X-Removed: i=1;", 1), "fail", 2},
		{"an older seal broken", strings.Replace(two, "i=1; lists.test; dmarc=pass", "i=1; lists.test; dmarc=fail", 1), "fail", 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := c.ARC(context.Background(), strings.NewReader(tc.raw))
			if got.Result != tc.result || got.Instance != tc.instance {
				t.Fatalf("got %+v, want %s with %d sets", got, tc.result, tc.instance)
			}
		})
	}

	// DMARC: the list broke nothing DMARC needs here (no DKIM, SPF of the list),
	// so the message fails origin.test's p=reject; the trusted sealer vouches.
	check := func(raw string) filter.Result {
		parsed, _ := scan.Parse(strings.NewReader(raw))
		m := &filter.Message{Env: &filter.Envelope{SPF: &filter.SPF{Result: "pass", Domain: "lists.test", Identity: "mailfrom"}},
			Raw: strings.NewReader(raw), Size: int64(len(raw)), Parsed: parsed}
		return c.Check(context.Background(), m)
	}
	if r := check(one); r.Refuse != nil || !strings.Contains(r.Headers[0].Value, "arc=pass") {
		t.Errorf("trusted sealer: refused %+v, header %q", r.Refuse, r.Headers[0].Value)
	}
	c.TrustedSealers = []string{"other.test"}
	if r := check(one); r.Refuse == nil {
		t.Error("an untrusted sealer's chain overrode DMARC")
	}
}

// The message-signature check is DKIM's: go-msgauth's signer, an independent
// implementation, must pass it in both canonicalizations, and an altered body fail.
func TestAMSVerifiesDKIMSignatures(t *testing.T) {
	key, _ := rsa.GenerateKey(rand.Reader, 1024)
	der, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	srv := testutil.StartDNS(t)
	srv.Add(t, `sel._domainkey.origin.test. 60 IN TXT "v=DKIM1; k=rsa; p=`+base64.StdEncoding.EncodeToString(der)+`"`)
	r, _ := resolver.New(srv.Addr, resolver.Options{Timeout: 300 * time.Millisecond})
	c := &Check{Resolver: resolver.NetStyle{R: r}}
	raw := "From: A <a@origin.test>\r\nTo:  b@x.test \r\nSubject: a\t  folded\r\n subject\r\n\r\nBody  with   spaces \r\n\r\n\r\n"
	for _, canon := range []dkimCanon{dkimSimple, dkimRelaxed} {
		signed := dkimSign(t, raw, "origin.test", "sel", key, canon)
		for _, tc := range []struct {
			name string
			msg  string
			ok   bool
		}{{"as signed", signed, true}, {"body altered", strings.Replace(signed, "Body", "Body!", 1), false}} {
			fields, body, _ := readFields(strings.NewReader(tc.msg))
			var sig *headerField
			for i := range fields {
				if strings.EqualFold(fields[i].name, "DKIM-Signature") {
					sig = &fields[i]
				}
			}
			err := c.verifyAMS(context.Background(), fields, body, sig)
			if (err == nil) != tc.ok {
				t.Errorf("%s, %s: %v", canon, tc.name, err)
			}
		}
	}
}
