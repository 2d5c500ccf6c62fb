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
	Reject []resolver.CodeRange
	// Scores holds the return codes that add points to the content verdict instead.
	Scores []resolver.CodeScore
}

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
			if err := resolver.Refused(z.Name, addrs); err != nil {
				out[i].err = fmt.Errorf("dnsbl %w", err)
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
		if p, ok := resolver.HighestScore(z.Scores, a); ok && (best == nil || p > best.Score) {
			best = &Hit{Zone: z.Name, Test: z.TestName(), Code: a, Score: p}
		}
	}
	if best == nil {
		return nil
	}
	return []Hit{*best}
}
