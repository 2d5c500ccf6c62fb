package policy_test

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/postern/postern/internal/testutil"
	"github.com/postern/postern/policy"
	"github.com/postern/postern/resolver"
)

func codes(t *testing.T, ss ...string) []resolver.CodeRange {
	t.Helper()
	var out []resolver.CodeRange
	for _, s := range ss {
		r, err := resolver.ParseCodeRange(s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

// blockLists starts a DNS server with three lists: "zen.test" lists 192.0.2.2 (SBL,
// rejects), 192.0.2.10 (PBL, scores) and answers 127.255.255.254 (query refused) for
// 192.0.2.99; "score.test" lists 192.0.2.2 and 192.0.2.10; "slow.test" never answers in time.
func blockLists(t *testing.T) (*testutil.DNSServer, *policy.DNSBL) {
	srv := testutil.StartDNS(t)
	srv.Add(t,
		"2.2.0.192.zen.test. 60 IN A 127.0.0.2",
		"2.2.0.192.zen.test. 60 IN A 127.0.0.10",
		"10.2.0.192.zen.test. 60 IN A 127.0.0.10",
		"99.2.0.192.zen.test. 60 IN A 127.255.255.254",
		"2.2.0.192.score.test. 60 IN A 127.0.0.2",
		"10.2.0.192.score.test. 60 IN A 127.0.0.4",
		"2.2.0.192.slow.test. 60 IN A 127.0.0.2",
		"1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.zen.test. 60 IN A 127.0.0.3",
	)
	srv.Delay("slow.test", time.Second)
	r, err := resolver.New(srv.Addr, resolver.Options{Timeout: 300 * time.Millisecond, CacheSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	return srv, &policy.DNSBL{Resolver: r, Zones: []policy.Zone{
		{Name: "zen.test", Test: "RCVD_IN_ZEN", Reject: codes(t, "127.0.0.2-127.0.0.9"),
			Scores: []resolver.CodeScore{{CodeRange: codes(t, "127.0.0.10/31")[0], Score: 1.5}}},
		{Name: "score.test", Scores: []resolver.CodeScore{
			{CodeRange: codes(t, "127.0.0.2")[0], Score: 2}, {CodeRange: codes(t, "127.0.0.4")[0], Score: 0.5}}},
		{Name: "slow.test", Reject: []resolver.CodeRange{resolver.AnyListing}},
	}}
}

func TestDNSBL(t *testing.T) {
	_, bl := blockLists(t)
	tests := []struct {
		ip   string
		want string // zone:test:reject/score, space separated
		errs int
	}{
		{"192.0.2.2", "zen.test:RCVD_IN_ZEN:reject score.test:DNSBL_SCORE:2", 1},
		{"192.0.2.10", "zen.test:RCVD_IN_ZEN:1.5 score.test:DNSBL_SCORE:0.5", 1},
		{"192.0.2.99", "", 2}, // a refusal is not a listing, and is reported
		{"192.0.2.50", "", 1},
		{"2001:db8::1", "zen.test:RCVD_IN_ZEN:reject", 1},
	}
	for _, tc := range tests {
		t.Run(tc.ip, func(t *testing.T) {
			hits, errs := bl.Check(context.Background(), netip.MustParseAddr(tc.ip))
			var got []string
			for _, h := range hits {
				s := h.Zone + ":" + h.Test + ":"
				if h.Reject {
					s += "reject"
				} else {
					s += strconv.FormatFloat(h.Score, 'g', -1, 64)
				}
				got = append(got, s)
			}
			if strings.Join(got, " ") != tc.want {
				t.Errorf("hits %q, want %q", strings.Join(got, " "), tc.want)
			}
			if len(errs) != tc.errs { // slow.test times out every time
				t.Errorf("errors %v, want %d", errs, tc.errs)
			}
			if refused := strings.Contains(fmt.Sprint(errs), "zen.test refused the query (127.255.255.254)"); refused != (tc.ip == "192.0.2.99") {
				t.Errorf("errors %v: a refusal reported %v", errs, refused)
			}
		})
	}
}

func newPolicy(t *testing.T, allow, deny, greyAllow string) (*policy.Policy, *clock) {
	t.Helper()
	_, bl := blockLists(t)
	bl.Zones = bl.Zones[:2] // the slow zone has its own test
	clk := newClock()
	p := &policy.Policy{
		RoleAccounts: []string{"postmaster", "abuse"},
		Trusted:      []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
		DNSBL:        bl, DNSTimeout: time.Second,
		Greylist: &policy.Greylist{Config: policy.DefaultGreylist, Store: openGrey(t), Now: clk.now},
	}
	for _, l := range []struct {
		dst  interface{ Store(*policy.List) }
		text string
	}{{&p.Allow, allow}, {&p.Deny, deny}, {&p.GreyAllow, greyAllow}} {
		list, err := policy.ParseList("test.list", strings.NewReader(l.text))
		if err != nil {
			t.Fatal(err)
		}
		l.dst.Store(list)
	}
	return p, clk
}

func TestRcptDecisions(t *testing.T) {
	p, _ := newPolicy(t,
		"client 192.0.2.77\nfrom friend@partner.example\nrcpt spamlover@example.org\n",
		"client 192.0.2.66\nhelo bad.example\nfrom spammer@evil.example\nrcpt closed@example.org\nclient 192.0.2.77\n",
		"client 198.51.100.0/24\nrcpt nogrey@example.org\n")
	tests := []struct {
		name, ip, helo, from, rcpt, auth string
		action                           policy.Action
		code                             int
		reason                           string
		noReject                         bool
	}{
		{"greylisted", "192.0.2.50", "h", "a@b.example", "u@example.org", "", policy.TempFail, 450, policy.ReasonGreylist, false},
		{"role account on a blocked client", "192.0.2.2", "h", "a@b.example", "Postmaster@example.org", "", policy.Continue, 0, policy.ReasonRole, true},
		{"abuse on a denied client", "192.0.2.66", "h", "a@b.example", "<abuse@example.org>", "", policy.Continue, 0, policy.ReasonRole, true},
		{"DNSBL reject", "192.0.2.2", "h", "a@b.example", "u@example.org", "", policy.Reject, 554, policy.ReasonDNSBL, false},
		{"deny client", "192.0.2.66", "h", "a@b.example", "u@example.org", "", policy.Reject, 554, policy.ReasonDeny, false},
		{"deny helo", "192.0.2.50", "bad.example", "a@b.example", "u@example.org", "", policy.Reject, 554, policy.ReasonDeny, false},
		{"deny sender", "192.0.2.50", "h", "spammer@evil.example", "u@example.org", "", policy.Reject, 554, policy.ReasonDeny, false},
		{"deny recipient", "192.0.2.50", "h", "a@b.example", "closed@example.org", "", policy.Reject, 554, policy.ReasonDeny, false},
		{"allow beats deny", "192.0.2.77", "h", "a@b.example", "u@example.org", "", policy.Continue, 0, policy.ReasonAllow, false},
		{"allowed sender skips DNSBL", "192.0.2.2", "h", "friend@partner.example", "u@example.org", "", policy.Continue, 0, policy.ReasonAllow, false},
		{"allowed recipient skips greylisting", "192.0.2.51", "h", "a@b.example", "spamlover@example.org", "", policy.Continue, 0, policy.ReasonAllow, false},
		{"greylist allow client", "198.51.100.9", "h", "a@b.example", "u@example.org", "", policy.Continue, 0, "", false},
		{"greylist opt-out recipient", "192.0.2.52", "h", "a@b.example", "nogrey@example.org", "", policy.Continue, 0, "", false},
		{"trusted network", "127.0.0.1", "h", "a@b.example", "u@example.org", "", policy.Continue, 0, policy.ReasonTrusted, false},
		{"authenticated", "192.0.2.2", "h", "a@b.example", "u@example.org", "alice", policy.Continue, 0, policy.ReasonAuth, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := p.Connect(policy.Client{Addr: netip.MustParseAddr(tc.ip), Name: "unknown"})
			defer c.Close()
			c.Helo(tc.helo)
			m := c.Mail(context.Background(), tc.from, tc.auth)
			d := m.Rcpt(context.Background(), tc.rcpt)
			if d.Action != tc.action || d.Code != tc.code || d.Reason != tc.reason {
				t.Fatalf("got %s %d %q (%s), want %s %d %q", d.Action, d.Code, d.Reason, d.Detail, tc.action, tc.code, tc.reason)
			}
			if got := m.Content().NoReject; got != tc.noReject {
				t.Fatalf("NoReject = %v", got)
			}
		})
	}
}

func TestRcptScoresAndGreylistReply(t *testing.T) {
	p, clk := newPolicy(t, "", "", "")
	c := p.Connect(policy.Client{Addr: netip.MustParseAddr("192.0.2.10"), Name: "unknown"})
	defer c.Close()
	m := c.Mail(context.Background(), "a@b.example", "")
	d := m.Rcpt(context.Background(), "u@example.org")
	if d.Reply() != "450 4.7.1 Greylisted, please try again in 300 seconds" {
		t.Fatalf("reply %q", d.Reply())
	}
	clk.advance(5 * time.Minute)
	m = c.Mail(context.Background(), "a@b.example", "")
	if d := m.Rcpt(context.Background(), "u@example.org"); d.Action != policy.Continue || d.Greylist != policy.GreyPassed {
		t.Fatalf("retry: %+v", d)
	}
	if d := m.Rcpt(context.Background(), "postmaster@example.org"); d.Reply() != "452 4.5.3 Too many recipients: send to this one in a message of its own" {
		t.Fatalf("a role account beside another recipient: %q", d.Reply())
	}
	got := m.Content()
	if len(got.Scores) != 2 || got.Scores[0].Test != "RCVD_IN_ZEN" || got.Scores[0].Score != 1.5 || got.NoReject {
		t.Fatalf("content %+v", got)
	}
}

func TestDNSTimeoutNeverRejects(t *testing.T) {
	_, bl := blockLists(t)
	bl.Zones = bl.Zones[2:] // slow.test lists 192.0.2.2 but answers after 2 s
	p := &policy.Policy{DNSBL: bl, DNSTimeout: 200 * time.Millisecond}
	c := p.Connect(policy.Client{Addr: netip.MustParseAddr("192.0.2.2")})
	defer c.Close()
	d := c.Mail(context.Background(), "a@b.example", "").Rcpt(context.Background(), "u@example.org")
	if d.Action != policy.Continue || len(d.Errors) != 1 {
		t.Fatalf("got %+v, want continue with the timeout reported", d)
	}
}

func TestAllowSkipsContent(t *testing.T) {
	p, _ := newPolicy(t, "from friend@partner.example\n", "", "")
	for _, skip := range []bool{false, true} {
		p.AllowSkipsContent = skip
		c := p.Connect(policy.Client{Addr: netip.MustParseAddr("192.0.2.50")})
		m := c.Mail(context.Background(), "friend@partner.example", "")
		m.Rcpt(context.Background(), "u@example.org")
		if got := m.Content(); got.SkipScoring != skip || got.Allowed == "" {
			t.Errorf("allow_skips_content %v: %+v", skip, got)
		}
		c.Close()
	}
}

// TestSplit: one reply at end of data answers for every recipient, so a
// recipient whose content settings differ from the first accepted one's is
// deferred with 452 4.5.3, whatever order they come in; a refused recipient
// sets nothing.
func TestSplit(t *testing.T) {
	class := func(rcpt string) string {
		if strings.HasSuffix(rcpt, "@lenient.example>") {
			return "recipients @lenient.example"
		}
		return ""
	}
	tests := []struct {
		name     string
		rcpts    []string
		want     string // per recipient: c continue, s split (452), r refused
		noReject bool
	}{
		{"one class", []string{"<a@example.org>", "<b@example.org>"}, "cc", false},
		{"an entry after the defaults", []string{"<a@example.org>", "<x@lenient.example>", "<b@example.org>"}, "csc", false},
		{"the defaults after an entry", []string{"<x@lenient.example>", "<a@example.org>", "<y@lenient.example>"}, "csc", false},
		{"a role account after a user", []string{"<a@example.org>", "<postmaster@example.org>"}, "cs", false},
		{"a user after a role account", []string{"<abuse@example.org>", "<a@example.org>", "<postmaster@example.org>"}, "csc", true},
		{"a refused recipient sets nothing", []string{"<denied@example.org>", "<x@lenient.example>", "<a@example.org>"}, "rcs", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, _ := newPolicy(t, "", "rcpt denied@example.org\n", "rcpt a@example.org\nrcpt b@example.org\nrcpt x@lenient.example\nrcpt y@lenient.example\n")
			p.Class = class
			c := p.Connect(policy.Client{Addr: netip.MustParseAddr("192.0.2.77"), Name: "unknown"})
			defer c.Close()
			m := c.Mail(context.Background(), "s@sender.example", "")
			got := ""
			for _, r := range tc.rcpts {
				d := m.Rcpt(context.Background(), r)
				switch {
				case d.Action == policy.Continue:
					got += "c"
				case d.Reason == policy.ReasonSplit:
					if d.Reply() != "452 4.5.3 Too many recipients: send to this one in a message of its own" {
						t.Errorf("reply %q", d.Reply())
					}
					got += "s"
				default:
					got += "r"
				}
			}
			if got != tc.want || m.Content().NoReject != tc.noReject {
				t.Errorf("got %s NoReject=%v, want %s %v", got, m.Content().NoReject, tc.want, tc.noReject)
			}
		})
	}
}
