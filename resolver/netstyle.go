package resolver

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sort"
	"strings"

	"github.com/miekg/dns"
)

// NetStyle answers like net.Resolver, for libraries written against it (SPF,
// DKIM, DMARC): a name with no records is a *net.DNSError with IsNotFound, and a
// server that fails or times out is one with IsTemporary, which those libraries
// turn into temperror instead of a verdict.
type NetStyle struct{ R *Resolver }

func (n NetStyle) wrap(name string, err error) error {
	if err == nil {
		return nil
	}
	return &net.DNSError{Err: err.Error(), Name: name, Server: n.R.server,
		IsTimeout: errors.Is(err, ErrTimeout), IsTemporary: true}
}

func notFound(name string, server string) error {
	return &net.DNSError{Err: "no such host or no records", Name: name, Server: server, IsNotFound: true}
}

// LookupTXT returns the TXT records of name, each one's strings joined.
func (n NetStyle) LookupTXT(ctx context.Context, name string) ([]string, error) {
	txt, err := n.R.LookupTXT(ctx, name)
	if err != nil {
		return nil, n.wrap(name, err)
	}
	if len(txt) == 0 {
		return nil, notFound(name, n.R.server)
	}
	return txt, nil
}

// LookupMX returns the MX records of name, by preference.
func (n NetStyle) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	rrs, err := n.R.Lookup(ctx, name, dns.TypeMX)
	if err != nil {
		return nil, n.wrap(name, err)
	}
	var out []*net.MX
	for _, rr := range rrs {
		if mx, ok := rr.(*dns.MX); ok {
			out = append(out, &net.MX{Host: mx.Mx, Pref: mx.Preference})
		}
	}
	if len(out) == 0 {
		return nil, notFound(name, n.R.server)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Pref < out[j].Pref })
	return out, nil
}

// LookupIPAddr returns the A and AAAA addresses of host.
func (n NetStyle) LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error) {
	var out []net.IPAddr
	var firstErr error
	for _, t := range []uint16{dns.TypeA, dns.TypeAAAA} {
		addrs, err := n.R.LookupIP(ctx, host, t)
		if err != nil && firstErr == nil {
			firstErr = err
		}
		for _, a := range addrs {
			out = append(out, net.IPAddr{IP: a.AsSlice()})
		}
	}
	if len(out) == 0 {
		if firstErr != nil {
			return nil, n.wrap(host, firstErr)
		}
		return nil, notFound(host, n.R.server)
	}
	return out, nil
}

// LookupAddr returns the PTR names of an address.
func (n NetStyle) LookupAddr(ctx context.Context, addr string) ([]string, error) {
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return nil, &net.DNSError{Err: "not an address", Name: addr}
	}
	suffix := ".in-addr.arpa"
	if !ip.Unmap().Is4() {
		suffix = ".ip6.arpa"
	}
	name := ReverseIP(ip) + suffix
	rrs, err := n.R.Lookup(ctx, name, dns.TypePTR)
	if err != nil {
		return nil, n.wrap(name, err)
	}
	var out []string
	for _, rr := range rrs {
		if p, ok := rr.(*dns.PTR); ok {
			out = append(out, strings.ToLower(p.Ptr))
		}
	}
	if len(out) == 0 {
		return nil, notFound(name, n.R.server)
	}
	return out, nil
}
