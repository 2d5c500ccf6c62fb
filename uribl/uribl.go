// Package uribl is the content check that looks up the domains of a message's links in
// DNS domain block lists (RFC 5782 URI DNSBLs, e.g. dbl.spamhaus.org, multi.surbl.org)
// and adds points for each list that names one of them. Spam can change its sending
// address every minute; it cannot as easily change the site it advertises.
//
// A lookup that fails adds nothing and is noted: a block list never makes the message
// tempfail or score higher by being down.
package uribl

import (
	"context"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
	"sync"

	"github.com/miekg/dns"
	"golang.org/x/net/publicsuffix"

	"github.com/postern/postern/filter"
	"github.com/postern/postern/resolver"
	"github.com/postern/postern/rules"
)

// Lookuper is the DNS the check asks: resolver.Resolver.
type Lookuper interface {
	LookupIP(ctx context.Context, name string, qtype uint16) ([]netip.Addr, error)
}

// Zone is one domain block list.
type Zone struct {
	Name  string
	Test  string // name in X-Spam-Status; default URIBL_ and the zone's first label
	Score float64
}

// TestName is the zone's test name.
func (z Zone) TestName() string {
	if z.Test != "" {
		return z.Test
	}
	label, _, _ := strings.Cut(z.Name, ".")
	return "URIBL_" + strings.ToUpper(strings.ReplaceAll(label, "-", "_"))
}

// Check is the filter.Check.
type Check struct {
	Zones      []Zone
	Resolver   Lookuper
	MaxDomains int // distinct registered domains looked up per message, first seen first
	// Concurrency bounds the queries in flight for one message; 0 means 8.
	Concurrency int
}

func (c *Check) Name() string { return "uribl" }

// Check looks up every zone for the message's link domains.
func (c *Check) Check(ctx context.Context, m *filter.Message) filter.Result {
	var r filter.Result
	if m.Parsed == nil || len(c.Zones) == 0 {
		return r
	}
	var texts []string
	for _, p := range m.Parsed.Parts {
		if p.Text != "" {
			texts = append(texts, p.Text)
		}
	}
	domains := Domains(texts, c.MaxDomains)
	if len(domains) == 0 {
		return r
	}
	type q struct{ zone, domain int }
	var qs []q
	for zi := range c.Zones {
		for di := range domains {
			qs = append(qs, q{zi, di})
		}
	}
	listed := make([]string, len(c.Zones)) // first listed domain per zone
	var mu sync.Mutex
	var errs []string
	conc := c.Concurrency
	if conc <= 0 {
		conc = 8
	}
	sem := make(chan struct{}, conc)
	var wg sync.WaitGroup
	for _, x := range qs {
		wg.Add(1)
		sem <- struct{}{}
		go func(x q) {
			defer func() { <-sem; wg.Done() }()
			mu.Lock()
			done := listed[x.zone] != ""
			mu.Unlock()
			if done {
				return
			}
			z, d := c.Zones[x.zone], domains[x.domain]
			addrs, err := c.Resolver.LookupIP(ctx, d+"."+z.Name, dns.TypeA)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Sprintf("%s: %v", z.Name, err))
				return
			}
			for _, a := range addrs {
				if resolver.Listed(a) && listed[x.zone] == "" {
					listed[x.zone] = d
				}
			}
		}(x)
	}
	wg.Wait()
	for i, z := range c.Zones {
		if listed[i] != "" {
			r.Tests = append(r.Tests, filter.Test{Name: z.TestName(), Score: z.Score,
				Description: fmt.Sprintf("Contains a link to %s, listed in %s", listed[i], z.Name)})
		}
	}
	if len(errs) > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("uribl: %d lookups failed and added nothing (first: %s)", len(errs), errs[0]))
	}
	return r
}

// Domains returns the distinct registered domains (example.co.uk for
// www.shop.example.co.uk) of the links in texts, first seen first, at most n.
// Addresses and mail addresses are left out: domain lists hold names of web sites.
func Domains(texts []string, n int) []string {
	seen := map[string]bool{}
	var out []string
	for _, t := range texts {
		for _, u := range rules.FindURIs(t) {
			if n > 0 && len(out) >= n {
				return out
			}
			d := registered(u)
			if d != "" && !seen[d] {
				seen[d] = true
				out = append(out, d)
			}
		}
	}
	return out
}

func registered(raw string) string {
	if strings.HasPrefix(strings.ToLower(raw), "mailto:") {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if host == "" || !strings.Contains(host, ".") {
		return ""
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return ""
	}
	d, err := publicsuffix.EffectiveTLDPlusOne(host)
	if err != nil {
		return ""
	}
	return d
}
