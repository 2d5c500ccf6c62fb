// Package uribl is the content check that looks up the domains of a message's links in
// DNS domain block lists (RFC 5782 URI DNSBLs, e.g. dbl.spamhaus.org, multi.surbl.org),
// and the addresses their hosts, or their domains' name servers, resolve to in address
// lists (zen.spamhaus.org's SBL), and adds points for each list that names one of them.
// Spam can change its sending address every minute; it cannot as easily change the site
// it advertises, or where that site and its DNS are hosted.
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
	Lookup(ctx context.Context, name string, qtype uint16) ([]dns.RR, error)
}

// Asks is what a zone is asked about.
type Asks int

const (
	// LinkDomains: the links' registered domains (a domain list).
	LinkDomains Asks = iota
	// HostAddresses: the addresses the links' host names resolve to, in an
	// address list, as SpamAssassin's uridnssub rules with tflags a do
	// (URIBL_SBL_A): a spammer's site changes its name more easily than its
	// hosting.
	HostAddresses
	// NameServerAddresses: the addresses of the name servers of the links'
	// registered domains, in an address list, as SpamAssassin's uridnssub
	// rules do by default (URIBL_SBL): a spammer's throwaway domains tend to
	// share the name servers the spammer runs, on listed addresses, while a
	// legitimate site's DNS is hosted where nobody sends spam from.
	NameServerAddresses
)

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
	// Asks says what the zone is asked about: the links' domains (a domain
	// list, the zero value), or addresses (zen.spamhaus.org's SBL).
	Asks Asks
}

// points are what an answer's code adds for z, and whether it counts.
func (z Zone) points(code netip.Addr) (float64, bool) {
	if !resolver.Listed(code) {
		return 0, false
	}
	if len(z.Scores) == 0 {
		return z.Score, true
	}
	return resolver.HighestScore(z.Scores, code)
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
	name := "URIBL_" + strings.ToUpper(strings.ReplaceAll(label, "-", "_"))
	if z.Asks == NameServerAddresses {
		// (The same list is often asked about the hosts' addresses too.)
		name += "_NS"
	}
	return name
}

// Check is the filter.Check.
type Check struct {
	Zones      []Zone
	Resolver   Lookuper
	MaxDomains int // distinct registered domains looked up per message, first seen first; as many host names, and name servers, for the address zones
	// Concurrency bounds the queries in flight for one message, the host
	// names', the name servers' and the lists'; 0 means 8.
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
// addresses of its link hosts, or of its link domains' name servers, in every
// address zone.
func (c *Check) Check(ctx context.Context, m *filter.Message) filter.Result {
	var r filter.Result
	if m.Parsed == nil || len(c.Zones) == 0 {
		return r
	}
	uris := rules.MessageURIs
	if c.URIs != nil {
		uris = c.URIs
	}
	// One bound on the queries in flight, whatever phase they are of.
	conc := c.Concurrency
	if conc <= 0 {
		conc = 8
	}
	sem := make(chan struct{}, conc)
	// What is looked up in each kind of zone, before the zone's name, in the
	// order of the links; and what the test names for it.
	var targets [NameServerAddresses + 1][]lookup
	domains, hosts := linkNames(uris(m), c.MaxDomains, c.Skip)
	for _, d := range domains {
		targets[LinkDomains] = append(targets[LinkDomains], lookup{name: d, shown: d})
	}
	// The two address phases are each a chain of lookups: run side by side.
	var wg sync.WaitGroup
	if c.asks(HostAddresses) {
		wg.Go(func() { targets[HostAddresses] = c.hostAddresses(ctx, sem, hosts) })
	}
	if c.asks(NameServerAddresses) {
		wg.Go(func() { targets[NameServerAddresses] = c.nameServerAddresses(ctx, sem, domains) })
	}
	wg.Wait()
	type q struct{ zone, target int }
	var qs []q
	for zi, z := range c.Zones {
		if z.Asks < LinkDomains || z.Asks > NameServerAddresses {
			continue // (no such kind: asked nothing, rather than a panic)
		}
		for ti := range targets[z.Asks] {
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
	most := make([]float64, len(c.Zones))
	for i, z := range c.Zones {
		hits[i].target = -1
		most[i] = z.most()
	}
	var mu sync.Mutex
	var errs []string
	each(sem, len(qs), func(i int) {
		x := qs[i]
		z, t := c.Zones[x.zone], targets[c.Zones[x.zone].Asks][x.target]
		mu.Lock()
		done := hits[x.zone].target >= 0 && hits[x.zone].points >= most[x.zone]
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
		if err := resolver.Refused(z.Name, addrs); err != nil {
			errs = append(errs, err.Error())
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
			t := targets[z.Asks][h.target]
			desc := fmt.Sprintf("Contains a link to %s, listed in %s", t.shown, z.Name)
			if t.nameServer != "" {
				desc = fmt.Sprintf("Contains a link to %s, whose name server %s is listed in %s", t.shown, t.nameServer, z.Name)
			}
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

// asks says whether a zone asks about what.
func (c *Check) asks(what Asks) bool {
	return slices.ContainsFunc(c.Zones, func(z Zone) bool { return z.Asks == what })
}

// each runs f(0) … f(n-1), at most as many at once, with those of other
// calls sharing sem, as sem holds, and returns when all have.
func each(sem chan struct{}, n int, f func(i int)) {
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
// hit's description names for it: the link's host or domain, and the name
// server whose address was listed, if that is what was.
type lookup struct{ name, shown, nameServer string }

// maxAddresses bounds the addresses of one host looked up in the address
// lists; maxNameServers the name servers of one domain resolved.
const (
	maxAddresses   = 4
	maxNameServers = 4
)

// hostAddresses are the lookups of the hosts' addresses, in the hosts' order.
func (c *Check) hostAddresses(ctx context.Context, sem chan struct{}, hosts []string) []lookup {
	var out []lookup
	for _, a := range c.addresses(ctx, sem, hosts) {
		out = append(out, lookup{name: resolver.ReverseIP(a.addr), shown: hosts[a.host] + " (" + a.addr.String() + ")"})
	}
	return out
}

// nameServerAddresses are the lookups of the addresses of the domains' name
// servers (NS records, at most maxNameServers a domain, as many name servers
// as MaxDomains in all), in the domains' order: each address once, named
// with the first domain whose name server has it. A domain whose NS lookup
// fails or finds nothing adds nothing, as a host that does not resolve.
func (c *Check) nameServerAddresses(ctx context.Context, sem chan struct{}, domains []string) []lookup {
	servers := make([][]string, len(domains))
	each(sem, len(domains), func(i int) {
		rrs, err := c.Resolver.Lookup(ctx, domains[i], dns.TypeNS)
		if err != nil {
			return
		}
		for _, rr := range rrs {
			// (The root, ".", is no name server's name.)
			if ns, ok := rr.(*dns.NS); ok && strings.Trim(ns.Ns, ".") != "" {
				servers[i] = append(servers[i], strings.ToLower(strings.TrimSuffix(ns.Ns, ".")))
			}
		}
		// In one order, whichever order the server answered in.
		slices.Sort(servers[i])
		servers[i] = slices.Compact(servers[i])
		if len(servers[i]) > maxNameServers {
			servers[i] = servers[i][:maxNameServers]
		}
	})
	var names []string
	var of []int // the domain each of names is the first found for
	seen := map[string]bool{}
	for i, list := range servers {
		for _, ns := range list {
			if !seen[ns] && (c.MaxDomains <= 0 || len(names) < c.MaxDomains) {
				seen[ns] = true
				names = append(names, ns)
				of = append(of, i)
			}
		}
	}
	var out []lookup
	for _, a := range c.addresses(ctx, sem, names) {
		out = append(out, lookup{name: resolver.ReverseIP(a.addr), shown: domains[of[a.host]], nameServer: names[a.host] + " (" + a.addr.String() + ")"})
	}
	return out
}

// hostAddr is an address and the index of the first host found to have it.
type hostAddr struct {
	host int
	addr netip.Addr
}

// addresses resolves the hosts, under sem, to the public IPv4 addresses their
// names have (A records, at most maxAddresses each): what the address lists
// are asked about, in the hosts' order, each address once, with the first
// host that has it. A site's names (www.example.com and example.com), and a
// domain's name servers, often share an address, and a list's answer is the
// address's. A host that does not resolve, or whose lookup fails, adds
// nothing: a spam site's name may be gone already, and the resolver's
// failures metric counts the lookups that failed.
func (c *Check) addresses(ctx context.Context, sem chan struct{}, hosts []string) []hostAddr {
	found := make([][]netip.Addr, len(hosts))
	each(sem, len(hosts), func(i int) {
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
	var out []hostAddr
	seen := map[netip.Addr]bool{}
	for i, addrs := range found {
		for _, a := range addrs {
			if !seen[a] {
				seen[a] = true
				out = append(out, hostAddr{i, a})
			}
		}
	}
	return out
}

// linkNames reads a message's links once for the lookups: the distinct
// registered domains (example.co.uk for www.shop.example.co.uk), what domain
// lists are asked about, and the distinct host names, whose addresses address
// lists are asked about; each first seen first, at most n. The links are
// those uri rules read (rules.URIs), as SpamAssassin's URIDNSBL looks up its
// URI list: the text a reader sees, with the names spam leaves unlinked so
// that what reads links passes them by ("type cheap-pills.shop"), and the
// HTML's tags read against their <base href>, and the signing domains of the
// DKIM signatures (parse_dkim_uris); not what the HTML source holds besides
// (a DOCTYPE's w3.org, a script's strings). Addresses and mail addresses are
// left out: domain lists hold names of web sites. A name in another script is
// looked up as the list holds it, in its ASCII form (xn--pypal-4ve.com for
// pаypal.com, the Cyrillic а of a phish). A link whose host or registered
// domain skip names (nil: none) is passed by, as URIDNSBL passes by its
// uridnsbl_skip_domain names, before the count.
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
