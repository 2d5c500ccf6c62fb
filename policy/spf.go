package policy

import (
	"context"
	"net/netip"
	"strings"

	"blitiri.com.ar/go/spf"

	"github.com/postern/postern/recipients"
	"github.com/postern/postern/resolver"
)

// SPFResult is the SPF verdict (RFC 7208) on the session's sender, or on its HELO
// name when the sender is empty (bounces).
type SPFResult struct {
	Result   string // pass, fail, softfail, neutral, none, temperror, permerror
	Identity string // "mailfrom" or "helo"
	Domain   string // the domain whose record was evaluated
	Sender   string // the address checked (postmaster@HELO for an empty sender)
	Reason   string // the library's explanation, for permerror and temperror
}

// SPF checks senders against their domain's SPF record, through Postern's resolver.
type SPF struct {
	Resolver *resolver.Resolver
}

// Check evaluates the sender (or the HELO name, for the null sender).
func (s *SPF) Check(ctx context.Context, ip netip.Addr, helo, sender string) SPFResult {
	sender = recipients.NormalizeAddr(sender)
	r := SPFResult{Identity: "mailfrom", Sender: sender}
	if domain := senderDomain(sender); domain != "" {
		r.Domain = domain
	} else {
		r.Identity, r.Domain = "helo", strings.ToLower(strings.TrimSuffix(helo, "."))
		r.Sender = "postmaster@" + r.Domain
	}
	return s.check(ctx, ip, helo, r)
}

// senderDomain is the domain of a normalized sender; "" for the null sender or
// an address without one (SPF then checks the HELO name: Check).
func senderDomain(sender string) string {
	_, domain, _ := strings.Cut(sender, "@")
	return domain
}

// CheckHelo evaluates the HELO name itself (RFC 7208 2.3), as SpamAssassin does
// for every message (SPF_HELO_*): a client that names a domain which does not
// send from its address (a big provider's, above all) is forging it, whatever
// its sender. ok is false when the name is no domain to check: an address
// literal, or a name without a dot.
func (s *SPF) CheckHelo(ctx context.Context, ip netip.Addr, helo string) (r SPFResult, ok bool) {
	d := strings.ToLower(strings.TrimSuffix(helo, "."))
	if d == "" || strings.HasPrefix(d, "[") || !strings.Contains(d, ".") {
		return r, false
	}
	if _, err := netip.ParseAddr(d); err == nil {
		return r, false
	}
	return s.check(ctx, ip, helo, SPFResult{Identity: "helo", Domain: d, Sender: "postmaster@" + d}), true
}

func (s *SPF) check(ctx context.Context, ip netip.Addr, helo string, r SPFResult) SPFResult {
	if r.Domain == "" || !ip.IsValid() {
		r.Result = string(spf.None)
		return r
	}
	res, err := spf.CheckHostWithSender(ip.Unmap().AsSlice(), helo, r.Sender,
		spf.WithContext(ctx), spf.WithResolver(resolver.NetStyle{R: s.Resolver}))
	r.Result = string(res)
	if err != nil && (res == spf.PermError || res == spf.TempError) {
		r.Reason = err.Error()
	}
	return r
}
