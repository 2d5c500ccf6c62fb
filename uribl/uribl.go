// Package uribl is the content check that looks up the domains of a message's links in
// DNS domain block lists (RFC 5782 URI DNSBLs, e.g. dbl.spamhaus.org, multi.surbl.org),
// and the addresses their hosts resolve to in address lists (zen.spamhaus.org's SBL),
// and adds points for each list that names one of them. Spam can change its sending
// address every minute; it cannot as easily change the site it advertises, or where
// that site is hosted.
//
// A lookup that fails adds nothing and is noted: a block list never makes the message
// tempfail or score higher by being down.
package uribl

import (
	"context"
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

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
	Test  string  // name in X-Spam-Status; default URIBL_ and the zone's first label
	Score float64 // for any listing, when Scores is empty
	// Scores are points by return code: a list's answer says why it lists a
	// domain (dbl.spamhaus.org's 127.0.1.2 for a spammer's own, 127.0.1.102
	// for a compromised site; multi.uribl.com's bit 2 black, bit 4 grey).
	// The highest the message's domains reach counts, once; a code none
	// names adds nothing.
	Scores []resolver.CodeScore
	// IP makes the zone a list of addresses (zen.spamhaus.org's SBL), in
	// which the addresses the links' host names resolve to are looked up, as
	// SpamAssassin's uridnssub rules with tflags a do (URIBL_SBL_A): a
	// spammer's site changes its name more easily than its hosting.
	IP bool
}

// points are what an answer's code adds for z, and whether it counts.
func (z Zone) points(code netip.Addr) (float64, bool) {
	if !resolver.Listed(code) {
		return 0, false
	}
	if len(z.Scores) == 0 {
		return z.Score, true
	}
	best, ok := 0.0, false
	for _, s := range z.Scores {
		if s.Contains(code) && (!ok || s.Score > best) {
			best, ok = s.Score, true
		}
	}
	return best, ok
}

// most is the most z can add: a listing that adds it ends z's lookups.
func (z Zone) most() float64 {
	if len(z.Scores) == 0 {
		return z.Score
	}
	m := z.Scores[0].Score
	for _, s := range z.Scores[1:] {
		m = max(m, s.Score)
	}
	return m
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
	MaxDomains int // distinct registered domains looked up per message, first seen first; as many host names, for the IP zones
	// Concurrency bounds the queries in flight for one message, the host
	// names' and the lists'; 0 means 8.
	Concurrency int
	// URIs gives a message's links: the rule set's, with its redirectors'
	// targets (rules.Set.MessageURIs). Nil means rules.MessageURIs.
	URIs func(*filter.Message) []string
	// Skip says whether a host or registered domain is not looked up: the
	// rule set's uridnsbl_skip_domain names (rules.Set.SkipsURIDomain). Nil
	// skips none.
	Skip func(name string) bool
}

func (c *Check) Name() string { return "uribl" }

// Check looks up the message's link domains in every domain zone, and the
// addresses of its link hosts in every IP zone.
func (c *Check) Check(ctx context.Context, m *filter.Message) filter.Result {
	var r filter.Result
	if m.Parsed == nil || len(c.Zones) == 0 {
		return r
	}
	uris := rules.MessageURIs
	if c.URIs != nil {
		uris = c.URIs
	}
	// What is looked up in each kind of zone, before the zone's name, in the
	// order of the links; and what the test names for it.
	var byDomain, byAddress []lookup
	domains, hosts := linkNames(uris(m), c.MaxDomains, c.Skip)
	for _, d := range domains {
		byDomain = append(byDomain, lookup{d, d})
	}
	if slices.ContainsFunc(c.Zones, func(z Zone) bool { return z.IP }) {
		byAddress = c.addresses(ctx, hosts)
	}
	type q struct{ zone, target int }
	var qs []q
	targets := func(z Zone) []lookup {
		if z.IP {
			return byAddress
		}
		return byDomain
	}
	for zi, z := range c.Zones {
		for ti := range targets(z) {
			qs = append(qs, q{zi, ti})
		}
	}
	if len(qs) == 0 {
		return r
	}
	// Per zone, the listing that adds most: the first such link and its code.
	type hit struct {
		target int // index in the zone's targets; -1: none
		code   netip.Addr
		points float64
	}
	hits := make([]hit, len(c.Zones))
	for i := range hits {
		hits[i].target = -1
	}
	var mu sync.Mutex
	var errs []string
	c.each(len(qs), func(i int) {
		x := qs[i]
		z, t := c.Zones[x.zone], targets(c.Zones[x.zone])[x.target]
		mu.Lock()
		done := hits[x.zone].target >= 0 && hits[x.zone].points >= z.most()
		mu.Unlock()
		if done {
			return
		}
		addrs, err := c.Resolver.LookupIP(ctx, t.name+"."+z.Name, dns.TypeA)
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", z.Name, err))
			return
		}
		if k := slices.IndexFunc(addrs, resolver.Refusal); k >= 0 {
			errs = append(errs, resolver.RefusedError(z.Name, addrs[k]).Error())
		}
		for _, a := range addrs {
			h := &hits[x.zone]
			// (Lookups end in any order: among equal listings, the
			// link first in the message is the one named.)
			if p, ok := z.points(a); ok && (h.target < 0 || p > h.points || p == h.points && x.target < h.target) {
				*h = hit{x.target, a, p}
			}
		}
	})
	for i, z := range c.Zones {
		if h := hits[i]; h.target >= 0 {
			desc := fmt.Sprintf("Contains a link to %s, listed in %s", targets(z)[h.target].shown, z.Name)
			if len(z.Scores) > 0 {
				desc += " (" + h.code.String() + ")"
			}
			r.Tests = append(r.Tests, filter.Test{Name: z.TestName(), Score: h.points, Description: desc})
		}
	}
	if len(errs) > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("uribl: %d lookups failed or were refused, and added nothing (first: %s)", len(errs), errs[0]))
	}
	return r
}

// each runs f(0) … f(n-1), at most Concurrency at once (0: 8), and returns
// when all have.
func (c *Check) each(n int, f func(i int)) {
	conc := c.Concurrency
	if conc <= 0 {
		conc = 8
	}
	sem := make(chan struct{}, conc)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			f(i)
		}()
	}
	wg.Wait()
}

// lookup is a name looked up in a zone (before the zone's name) and what a
// hit's description names for it.
type lookup struct{ name, shown string }

// maxAddresses bounds the addresses of one host looked up in the IP lists.
const maxAddresses = 4

// addresses resolves the hosts, Concurrency at a time, to the public IPv4
// addresses their names have (A records, at most maxAddresses each): what the IP lists are asked about,
// reversed as RFC 5782 writes them, in the hosts' order. A host that does not
// resolve, or whose lookup fails, adds nothing: a spam site's name may be gone
// already, and the resolver's failures metric counts the lookups that failed.
func (c *Check) addresses(ctx context.Context, hosts []string) []lookup {
	found := make([][]netip.Addr, len(hosts))
	c.each(len(hosts), func(i int) {
		addrs, err := c.Resolver.LookupIP(ctx, hosts[i], dns.TypeA)
		if err != nil {
			return
		}
		for _, a := range addrs {
			if a = a.Unmap(); a.IsGlobalUnicast() && !a.IsPrivate() && len(found[i]) < maxAddresses {
				found[i] = append(found[i], a)
			}
		}
	})
	var out []lookup
	for i, addrs := range found {
		for _, a := range addrs {
			out = append(out, lookup{resolver.ReverseIP(a), hosts[i] + " (" + a.String() + ")"})
		}
	}
	return out
}

// Hosts returns the distinct host names of a message's links, as Domains
// reads them, first seen first, at most n: what the IP lists are asked
// about, by the addresses they resolve to.
func Hosts(uris []string, n int, skip func(string) bool) []string {
	_, hosts := linkNames(uris, n, skip)
	return hosts
}

// Domains returns the distinct registered domains (example.co.uk for
// www.shop.example.co.uk) of a message's links, first seen first, at most n.
// The links are those uri rules read (rules.URIs), as SpamAssassin's URIDNSBL
// looks up its URI list: the text a reader sees, with the names spam leaves
// unlinked so that what reads links passes them by ("type cheap-pills.shop"),
// and the HTML's tags read against their <base href>, and the signing domains
// of the DKIM signatures (parse_dkim_uris); not what the HTML source
// holds besides (a DOCTYPE's w3.org, a script's strings). Addresses and mail
// addresses are left out: domain lists hold names of web sites. A name in
// another script is looked up as the list holds it, in its ASCII form
// (xn--pypal-4ve.com for pаypal.com, the Cyrillic а of a phish). A link
// whose host or registered domain skip names (nil: none) is passed by, as
// URIDNSBL passes by its uridnsbl_skip_domain names, before the count.
func Domains(uris []string, n int, skip func(string) bool) []string {
	domains, _ := linkNames(uris, n, skip)
	return domains
}

// linkNames is Domains and Hosts, from one reading of the links: each list
// at most n long.
func linkNames(uris []string, n int, skip func(string) bool) (domains, hosts []string) {
	seen := map[string]bool{} // (a domain and a host may be one name)
	add := func(list *[]string, kind, name string) {
		if !seen[kind+name] && (n <= 0 || len(*list) < n) {
			seen[kind+name] = true
			*list = append(*list, name)
		}
	}
	for _, u := range uris {
		if n > 0 && len(domains) >= n && len(hosts) >= n {
			break
		}
		host, d := registered(u)
		if d == "" || skip != nil && (skip(d) || skip(host)) {
			continue
		}
		add(&domains, "d:", d)
		add(&hosts, "h:", host)
	}
	return domains, hosts
}

// registered is a link's host, lower-cased and ASCII, and its registered
// domain; "", "" for a link Domains leaves out.
func registered(raw string) (host, domain string) {
	if strings.HasPrefix(strings.ToLower(raw), "mailto:") {
		return "", ""
	}
	// A DKIM signing domain, which SpamAssassin's URIDNSBL looks up with the
	// links (parse_dkim_uris).
	if d, ok := strings.CutPrefix(raw, rules.SigningDomainPrefix); ok {
		raw = "http://" + d + "/"
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", ""
	}
	host = strings.TrimSuffix(u.Hostname(), ".")
	if host == "" || !strings.Contains(host, ".") {
		return "", ""
	}
	// Made ASCII before it is lower-cased, which would turn Latin-1 letters
	// (bytes that are no UTF-8) into U+FFFD.
	if strings.IndexFunc(host, func(r rune) bool { return r >= utf8.RuneSelf }) >= 0 {
		a, ok := rules.ASCIIHost(host)
		if !ok {
			return "", "" // no name: bytes no charset made, or a label IDNA forbids
		}
		host = a
	}
	host = strings.ToLower(host)
	if _, err := netip.ParseAddr(host); err == nil {
		return "", ""
	}
	// No known top-level domain: http://index.html, a relative link's
	// made-up host. Only the last label is asked, so that a site under a
	// private suffix (blogspot.com), where phishers live, is still looked up.
	if !rules.KnownTLD(host[strings.LastIndexByte(host, '.')+1:]) {
		return "", ""
	}
	d, err := publicsuffix.EffectiveTLDPlusOne(host)
	if err != nil {
		return "", ""
	}
	return host, d
}
