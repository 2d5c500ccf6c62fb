// Package resolver is the one way Postern asks DNS: block lists, URI block lists and
// sender authentication all query the operator's configured resolver (normally a local
// caching one) through it, each query under a deadline, with a small cache in front.
//
// It never decides anything about mail: callers treat an error as "no answer", and
// Postern's rule is that a failed lookup never rejects.
package resolver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

// ErrTimeout is returned when the server did not answer within the deadline.
var ErrTimeout = errors.New("resolver: timeout")

// Resolver asks one DNS server. The zero value is not usable: use New.
type Resolver struct {
	server  string
	timeout time.Duration
	udp     *dns.Client
	tcp     *dns.Client

	mu    sync.Mutex
	cache map[cacheKey]*entry
	max   int
	now   func() time.Time

	queries, failures, hits atomic.Int64
}

type cacheKey struct {
	name  string
	qtype uint16
}

type entry struct {
	rrs     []dns.RR
	nx      bool // the name does not exist (or has no record of the type)
	expires time.Time
}

// Stats counts what the resolver did since it was made.
type Stats struct {
	Queries   int64 // sent to the server
	Failures  int64 // timed out, refused, SERVFAIL, unreachable
	CacheHits int64
}

// Options configure a Resolver.
type Options struct {
	// Timeout bounds one query when the caller's context has no earlier deadline.
	Timeout time.Duration
	// CacheSize is the most answers kept; 0 turns the cache off.
	CacheSize int
}

// New returns a resolver that sends every query to server (HOST:PORT).
func New(server string, o Options) (*Resolver, error) {
	if _, _, err := net.SplitHostPort(server); err != nil {
		return nil, fmt.Errorf("resolver: %q: want HOST:PORT: %w", server, err)
	}
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Second
	}
	return &Resolver{
		server: server, timeout: o.Timeout,
		udp:   &dns.Client{Net: "udp", UDPSize: 1232},
		tcp:   &dns.Client{Net: "tcp"},
		cache: map[cacheKey]*entry{}, max: o.CacheSize, now: time.Now,
	}, nil
}

// Server is the address queries go to.
func (r *Resolver) Server() string { return r.server }

// Stats returns the counters.
func (r *Resolver) Stats() Stats {
	return Stats{Queries: r.queries.Load(), Failures: r.failures.Load(), CacheHits: r.hits.Load()}
}

// LookupIP returns the A (or AAAA) addresses of name; none, without an error, when
// the name does not exist or has no such record.
func (r *Resolver) LookupIP(ctx context.Context, name string, qtype uint16) ([]netip.Addr, error) {
	rrs, err := r.Lookup(ctx, name, qtype)
	if err != nil {
		return nil, err
	}
	var out []netip.Addr
	for _, rr := range rrs {
		switch v := rr.(type) {
		case *dns.A:
			if a, ok := netip.AddrFromSlice(v.A.To4()); ok {
				out = append(out, a)
			}
		case *dns.AAAA:
			if a, ok := netip.AddrFromSlice(v.AAAA); ok {
				out = append(out, a)
			}
		}
	}
	return out, nil
}

// LookupTXT returns the TXT strings of name, each record's strings joined.
func (r *Resolver) LookupTXT(ctx context.Context, name string) ([]string, error) {
	rrs, err := r.Lookup(ctx, name, dns.TypeTXT)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, rr := range rrs {
		if t, ok := rr.(*dns.TXT); ok {
			out = append(out, strings.Join(t.Txt, ""))
		}
	}
	return out, nil
}

// Lookup returns the records of type qtype for name (answer section, CNAMEs followed
// by the server). NXDOMAIN and NODATA are an empty answer, not an error.
func (r *Resolver) Lookup(ctx context.Context, name string, qtype uint16) ([]dns.RR, error) {
	name = dns.Fqdn(strings.ToLower(name))
	key := cacheKey{name, qtype}
	if e := r.cached(key); e != nil {
		r.hits.Add(1)
		return e.rrs, nil
	}
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	r.queries.Add(1)
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.RecursionDesired = true
	m.SetEdns0(1232, false)
	in, _, err := r.udp.ExchangeContext(ctx, m, r.server)
	if err == nil && in.Truncated {
		in, _, err = r.tcp.ExchangeContext(ctx, m, r.server)
	}
	if err != nil {
		r.failures.Add(1)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("%w: %s %s via %s", ErrTimeout, dns.TypeToString[qtype], name, r.server)
		}
		return nil, fmt.Errorf("resolver: %s %s via %s: %w", dns.TypeToString[qtype], name, r.server, err)
	}
	switch in.Rcode {
	case dns.RcodeSuccess, dns.RcodeNameError:
	default:
		r.failures.Add(1)
		return nil, fmt.Errorf("resolver: %s %s via %s: %s", dns.TypeToString[qtype], name, r.server, dns.RcodeToString[in.Rcode])
	}
	var rrs []dns.RR
	ttl := uint32(3600)
	for _, rr := range in.Answer {
		if rr.Header().Rrtype == qtype {
			rrs = append(rrs, rr)
			ttl = min(ttl, rr.Header().Ttl)
		}
	}
	if len(rrs) == 0 {
		// A negative answer lives as long as the zone's SOA says (RFC 2308), capped.
		ttl = 300
		for _, rr := range in.Ns {
			if soa, ok := rr.(*dns.SOA); ok {
				ttl = min(ttl, soa.Minttl, soa.Hdr.Ttl)
			}
		}
	}
	r.store(key, &entry{rrs: rrs, nx: len(rrs) == 0, expires: r.now().Add(time.Duration(ttl) * time.Second)})
	return rrs, nil
}

func (r *Resolver) cached(k cacheKey) *entry {
	if r.max <= 0 {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.cache[k]
	if e == nil {
		return nil
	}
	if !r.now().Before(e.expires) {
		delete(r.cache, k)
		return nil
	}
	return e
}

func (r *Resolver) store(k cacheKey, e *entry) {
	if r.max <= 0 || !e.expires.After(r.now()) {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.cache) >= r.max {
		// Drop the expired, and if that is not enough about a quarter at random (map
		// order): a small cache for bursts from one client, not a resolver's cache.
		now, n := r.now(), 0
		for k, old := range r.cache {
			if !now.Before(old.expires) || n < r.max/4+1 {
				delete(r.cache, k)
				n++
			}
		}
	}
	r.cache[k] = e
}

// ReverseIP returns the label form of ip that DNS lists are queried with: the octets
// of an IPv4 address reversed, the nibbles of an IPv6 address reversed (RFC 5782).
func ReverseIP(ip netip.Addr) string {
	ip = ip.Unmap()
	if ip.Is4() {
		b := ip.As4()
		return fmt.Sprintf("%d.%d.%d.%d", b[3], b[2], b[1], b[0])
	}
	b := ip.As16()
	var sb strings.Builder
	const hex = "0123456789abcdef"
	for i := 15; i >= 0; i-- {
		sb.WriteByte(hex[b[i]&0xf])
		sb.WriteByte('.')
		sb.WriteByte(hex[b[i]>>4])
		if i > 0 {
			sb.WriteByte('.')
		}
	}
	return sb.String()
}

// Listed reports whether an answer of a DNS list (RFC 5782) means "listed": an
// address in 127.0.0.0/8, but neither 127.0.0.1 nor 127.255.255.0/24, which lists
// such as Spamhaus return to say the query was refused (a public resolver, a
// quota). Anything outside 127/8 is what a wildcarding resolver or a list that has
// shut down answers for every name. Reading either as a listing would block all
// mail, so every list check, of clients and of domains, asks this first.
func Listed(a netip.Addr) bool {
	a = a.Unmap()
	return a.Is4() && a.As4()[0] == 127 && !Refusal(a)
}

// Refusal reports whether a list's answer says it refused the query rather
// than that it lists the name: 127.0.0.1 (URIBL's and SURBL's "blocked") or
// 127.255.255.0/24 (Spamhaus: a public resolver, more than the free use, a
// zone name it does not serve). While a list refuses, its listings are not
// seen: an operator needs to hear of it, as of a list that does not answer.
func Refusal(a netip.Addr) bool {
	a = a.Unmap()
	if !a.Is4() {
		return false
	}
	b := a.As4()
	return a == netip.AddrFrom4([4]byte{127, 0, 0, 1}) || b[0] == 127 && b[1] == 255 && b[2] == 255
}

// Refused is the error a block list's check reports when zone's answer holds
// a code Refusal reads as a refused query; nil when none does.
func Refused(zone string, answer []netip.Addr) error {
	k := slices.IndexFunc(answer, Refusal)
	if k < 0 {
		return nil
	}
	return fmt.Errorf("%s refused the query (%s): its listings are not seen; use a resolver the list serves (a local one, not a public one)", zone, answer[k])
}
