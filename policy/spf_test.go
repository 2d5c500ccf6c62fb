package policy_test

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/postern/postern/internal/testutil"
	"github.com/postern/postern/policy"
	"github.com/postern/postern/resolver"
)

func spfServer(t testing.TB) *policy.SPF {
	srv := testutil.StartDNS(t)
	srv.Add(t,
		`pass.test. 60 IN TXT "v=spf1 ip4:192.0.2.0/24 -all"`,
		`fail.test. 60 IN TXT "v=spf1 ip4:198.51.100.1 -all"`,
		`soft.test. 60 IN TXT "v=spf1 ~all"`,
		`neutral.test. 60 IN TXT "v=spf1 ?all"`,
		`mx.test. 60 IN TXT "v=spf1 mx -all"`,
		`mx.test. 60 IN MX 10 mail.mx.test.`,
		`mail.mx.test. 60 IN A 192.0.2.25`,
		`helo.example. 60 IN TXT "v=spf1 a -all"`,
		`helo.example. 60 IN A 192.0.2.9`,
		`broken.test. 60 IN TXT "v=spf1 ip4:nonsense -all"`,
		`nospf.test. 60 IN A 192.0.2.1`,
	)
	// permerror: more than ten lookups (RFC 7208 4.6.4).
	var inc []string
	for i := 0; i < 11; i++ {
		inc = append(inc, fmt.Sprintf("include:i%d.loop.test", i))
		srv.Add(t, fmt.Sprintf(`i%d.loop.test. 60 IN TXT "v=spf1 -all"`, i))
	}
	srv.Add(t, fmt.Sprintf(`loop.test. 60 IN TXT "v=spf1 %s -all"`, strings.Join(inc, " ")))
	srv.Fail("servfail.test", dns.RcodeServerFailure)
	srv.Delay("slow.test", time.Second)
	r, err := resolver.New(srv.Addr, resolver.Options{Timeout: 200 * time.Millisecond, CacheSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	return &policy.SPF{Resolver: r}
}

func TestSPF(t *testing.T) {
	s := spfServer(t)
	tests := []struct {
		ip, helo, sender string
		want, identity   string
	}{
		{"192.0.2.7", "h.example", "a@pass.test", "pass", "mailfrom"},
		{"203.0.113.7", "h.example", "a@pass.test", "fail", "mailfrom"},
		{"203.0.113.7", "h.example", "a@fail.test", "fail", "mailfrom"},
		{"203.0.113.7", "h.example", "<a@soft.test>", "softfail", "mailfrom"},
		{"203.0.113.7", "h.example", "a@neutral.test", "neutral", "mailfrom"},
		{"192.0.2.25", "h.example", "a@mx.test", "pass", "mailfrom"},
		{"203.0.113.7", "h.example", "a@nospf.test", "none", "mailfrom"},
		{"203.0.113.7", "h.example", "a@unknown.test", "none", "mailfrom"},
		{"203.0.113.7", "h.example", "a@servfail.test", "temperror", "mailfrom"},
		{"203.0.113.7", "h.example", "a@slow.test", "temperror", "mailfrom"},
		{"203.0.113.7", "h.example", "a@broken.test", "permerror", "mailfrom"},
		{"203.0.113.7", "h.example", "a@loop.test", "permerror", "mailfrom"},
		{"192.0.2.9", "helo.example", "<>", "pass", "helo"}, // bounces: the HELO name
		{"203.0.113.9", "helo.example", "", "fail", "helo"},
	}
	for _, tc := range tests {
		t.Run(tc.sender+"@"+tc.ip, func(t *testing.T) {
			got := s.Check(context.Background(), netip.MustParseAddr(tc.ip), tc.helo, tc.sender)
			if got.Result != tc.want || got.Identity != tc.identity {
				t.Fatalf("got %+v, want %s (%s)", got, tc.want, tc.identity)
			}
		})
	}
}

func TestSPFRejectFail(t *testing.T) {
	s := spfServer(t)
	for _, reject := range []bool{false, true} {
		p := &policy.Policy{SPF: s, SPFRejectFail: reject, RoleAccounts: []string{"postmaster"}}
		c := p.Connect(policy.Client{Addr: netip.MustParseAddr("203.0.113.7")})
		m := c.Mail(context.Background(), "a@fail.test", "")
		d := m.Rcpt(context.Background(), "u@example.org")
		if reject && (d.Action != policy.Reject || d.Code != 550 || d.Enhanced != "5.7.23") {
			t.Errorf("spf_reject_fail on: %+v", d)
		}
		if !reject && d.Action != policy.Continue {
			t.Errorf("spf_reject_fail off: %+v", d)
		}
		// The postmaster in a message of its own: it would be deferred beside
		// another recipient (ReasonSplit).
		pm := c.Mail(context.Background(), "a@fail.test", "")
		if d := pm.Rcpt(context.Background(), "postmaster@example.org"); d.Action != policy.Continue {
			t.Errorf("postmaster refused for SPF: %+v", d)
		}
		if got := pm.Content().SPF; got == nil || got.Result != "fail" {
			t.Errorf("content SPF %+v", got)
		}
		c.Close()
	}
}

// BenchmarkSPF is the time SPF adds at MAIL FROM with a warm DNS cache, for a record
// with an mx mechanism (three lookups).
//
//	go test -run '^$' -bench SPF -benchtime 5000x ./policy
func BenchmarkSPF(b *testing.B) {
	s := spfServer(b)
	ip := netip.MustParseAddr("192.0.2.25")
	s.Check(context.Background(), ip, "h.example", "a@mx.test")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if r := s.Check(context.Background(), ip, "h.example", "a@mx.test"); r.Result != "pass" {
			b.Fatal(r)
		}
	}
}

// The HELO name's own SPF result (SpamAssassin's SPF_HELO_*), for messages with
// a sender: checked once a connection, again after a new HELO; none for an
// address literal or a name without a dot; for the null sender, the one result
// is the HELO name's.
func TestSPFHelo(t *testing.T) {
	s := spfServer(t)
	for _, tc := range []struct {
		helo, ip string
		want     string // "" : not checked
	}{
		{"helo.example", "192.0.2.9", "pass"},
		{"HELO.example.", "203.0.113.9", "fail"},
		{"h.nospf.test", "192.0.2.9", "none"},
		{"[192.0.2.9]", "192.0.2.9", ""},
		{"192.0.2.9", "192.0.2.9", ""},
		{"localhost", "192.0.2.9", ""},
	} {
		got, ok := s.CheckHelo(context.Background(), netip.MustParseAddr(tc.ip), tc.helo)
		if (tc.want == "") != !ok || (ok && (got.Result != tc.want || got.Identity != "helo")) {
			t.Errorf("HELO %s from %s: %+v, %v; want %q", tc.helo, tc.ip, got, ok, tc.want)
		}
	}

	p := &policy.Policy{SPF: s}
	c := p.Connect(policy.Client{Addr: netip.MustParseAddr("192.0.2.9")})
	defer c.Close()
	c.Helo("helo.example")
	m := c.Mail(context.Background(), "a@pass.test", "")
	if got := m.Content(); got.SPF == nil || got.SPF.Result != "pass" || got.SPFHelo == nil || got.SPFHelo.Result != "pass" || got.SPFHelo.Domain != "helo.example" {
		t.Errorf("content %+v %+v", got.SPF, got.SPFHelo)
	}
	bounce := c.Mail(context.Background(), "", "")
	if got := bounce.Content(); got.SPF == nil || got.SPF.Identity != "helo" || got.SPFHelo != nil {
		t.Errorf("null sender: content %+v %+v, want the HELO's result once, as SPF", got.SPF, got.SPFHelo)
	}
	c.Helo("other.nospf.test")
	if got := c.Mail(context.Background(), "a@pass.test", "").Content().SPFHelo; got == nil || got.Domain != "other.nospf.test" || got.Result != "none" {
		t.Errorf("after a new HELO: %+v", got)
	}
}
