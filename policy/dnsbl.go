package policy

import (
	"context"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"sync"

	"github.com/miekg/dns"

	"github.com/postern/postern/resolver"
)

// Lookuper is the DNS a block list asks: resolver.Resolver.
type Lookuper interface {
	LookupIP(ctx context.Context, name string, qtype uint16) ([]netip.Addr, error)
}

// Zone is one DNS block list and what its answers mean.
type Zone struct {
	Name string // the list's zone, e.g. zen.spamhaus.org
	// Test names the hit in X-Spam-Status and logs (e.g. RCVD_IN_ZEN); it defaults
	// to DNSBL_ and the zone's first label.
	Test string
	// Reject holds the return codes that refuse the client at RCPT TO with 554.
	Reject []CodeRange
	// Scores holds the return codes that add points to the content verdict instead.
	Scores []CodeScore
}

// CodeRange is a range of return codes, e.g. 127.0.0.2-127.0.0.3 or 127.0.0.4/30.
type CodeRange struct {
	From, To netip.Addr
	Text     string // as configured
}

// CodeScore is points for a range of return codes.
type CodeScore struct {
	CodeRange
	Score float64
}

// Contains reports whether a is in the range.
func (r CodeRange) Contains(a netip.Addr) bool {
	return r.From.Compare(a) <= 0 && a.Compare(r.To) <= 0
}

// ParseCodeRange reads "127.0.0.2", "127.0.0.2-127.0.0.9" or "127.0.0.8/30".
func ParseCodeRange(s string) (CodeRange, error) {
	if from, to, ok := strings.Cut(s, "-"); ok {
		a, err1 := netip.ParseAddr(strings.TrimSpace(from))
		b, err2 := netip.ParseAddr(strings.TrimSpace(to))
		if err1 != nil || err2 != nil || !a.Is4() || !b.Is4() || b.Less(a) {
			return CodeRange{}, fmt.Errorf("return code range %q: want A.B.C.D-A.B.C.D, low to high", s)
		}
		return CodeRange{a, b, s}, nil
	}
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil || !p.Addr().Is4() {
			return CodeRange{}, fmt.Errorf("return code range %q: want an IPv4 network", s)
		}
		p = p.Masked()
		last := p.Addr().As4()
		host := uint32(1)<<(32-p.Bits()) - 1
		v := uint32(last[0])<<24 | uint32(last[1])<<16 | uint32(last[2])<<8 | uint32(last[3]) | host
		return CodeRange{p.Addr(), netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), s}, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		return CodeRange{}, fmt.Errorf("return code %q: want an IPv4 address", s)
	}
	return CodeRange{a, a, s}, nil
}

// AnyListing is what a zone configured with nothing but its name rejects on: any
// return code in 127.0.0.0/8 (RFC 5782), less the error codes below.
var AnyListing = CodeRange{netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("127.255.255.254"), "127.0.0.0/8"}

// TestName is the zone's test name.
func (z *Zone) TestName() string {
	if z.Test != "" {
		return z.Test
	}
	label, _, _ := strings.Cut(z.Name, ".")
	return "DNSBL_" + strings.ToUpper(strings.NewReplacer("-", "_").Replace(label))
}

// Hit is one zone listing the client.
type Hit struct {
	Zone   string
	Test   string
	Code   netip.Addr
	Reject bool
	Score  float64
}

// DNSBL looks a client up in every zone at once.
type DNSBL struct {
	Zones    []Zone
	Resolver Lookuper
}

// Check queries every zone concurrently for ip and returns what listed it, sorted by
// zone order. A zone that does not answer adds nothing: its error is returned for the
// log, never a hit.
func (d *DNSBL) Check(ctx context.Context, ip netip.Addr) ([]Hit, []error) {
	ip = ip.Unmap()
	if !ip.IsValid() || len(d.Zones) == 0 {
		return nil, nil
	}
	rev := resolver.ReverseIP(ip)
	type res struct {
		hits []Hit
		err  error
	}
	out := make([]res, len(d.Zones))
	var wg sync.WaitGroup
	for i := range d.Zones {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			z := &d.Zones[i]
			addrs, err := d.Resolver.LookupIP(ctx, rev+"."+z.Name, dns.TypeA)
			if err != nil {
				out[i].err = fmt.Errorf("dnsbl %s: %w", z.Name, err)
				return
			}
			out[i].hits = z.judge(addrs)
		}(i)
	}
	wg.Wait()
	var hits []Hit
	var errs []error
	for _, r := range out {
		hits = append(hits, r.hits...)
		if r.err != nil {
			errs = append(errs, r.err)
		}
	}
	return hits, errs
}

// judge turns a zone's answer into at most one hit: a rejecting code wins over
// scoring ones; among scoring codes (several are returned by combined lists like
// zen) the highest score counts, once.
func (z *Zone) judge(addrs []netip.Addr) []Hit {
	sort.Slice(addrs, func(i, j int) bool { return addrs[i].Less(addrs[j]) })
	var best *Hit
	for _, a := range addrs {
		if !resolver.Listed(a) {
			continue // whatever the configuration says
		}
		for _, r := range z.Reject {
			if r.Contains(a) {
				return []Hit{{Zone: z.Name, Test: z.TestName(), Code: a, Reject: true}}
			}
		}
		for _, s := range z.Scores {
			if s.Contains(a) && (best == nil || s.Score > best.Score) {
				best = &Hit{Zone: z.Name, Test: z.TestName(), Code: a, Score: s.Score}
			}
		}
	}
	if best == nil {
		return nil
	}
	return []Hit{*best}
}
