package main

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/postern/postern/config"
	"github.com/postern/postern/filter"
	"github.com/postern/postern/milter"
	"github.com/postern/postern/policy"
	"github.com/postern/postern/recipients"
	"github.com/postern/postern/resolver"
	"github.com/postern/postern/uribl"
)

// envelope is the envelope checks as configured, with what they opened.
type envelope struct {
	// current is the envelope checks in use: built at start, built again from
	// the configuration by a SIGHUP (reload).
	current  atomic.Pointer[policy.Policy]
	Grey     greyStore          // nil: greylisting off
	Resolver *resolver.Resolver // nil: no DNS at all
}

// Policy is the envelope checks in use.
func (e *envelope) Policy() *policy.Policy { return e.current.Load() }

// buildEnvelope wires the [policy], [greylist] and [dnsbl] sections, with dnsr, the
// one resolver (and cache) the content checks use too (nil: no DNS). The
// greylisting database is opened (created) only when greylisting is on and openGrey
// is set (serve; check only reads what it would decide). class is the content
// checks' (components.Class): recipients it tells apart are not in one message.
func buildEnvelope(cfg config.Config, openGrey bool, dnsr *resolver.Resolver, class func(string) string) (*envelope, error) {
	e := &envelope{Resolver: dnsr}
	p, err := e.newPolicy(cfg, class)
	if err != nil {
		return nil, err
	}
	if err := loadLists(p, cfg); err != nil {
		return nil, err
	}
	if cfg.Greylist.Enabled && openGrey {
		s, err := openGreyStore(cfg)
		if err != nil {
			return nil, err
		}
		e.Grey = s
		p.Greylist = &policy.Greylist{Config: greyConfig(cfg), Store: s}
	}
	e.current.Store(p)
	return e, nil
}

// newPolicy is cfg's envelope checks, with the resolver and the greylisting
// store e holds (greylisting stays off without one), and no lists yet
// (loadLists).
func (e *envelope) newPolicy(cfg config.Config, class func(string) string) (*policy.Policy, error) {
	p := &policy.Policy{
		Class:             class,
		RoleAccounts:      cfg.Policy.RoleAccounts,
		AllowSkipsContent: cfg.Policy.AllowSkipsContent,
		DNSTimeout:        cfg.DNS.Timeout.D(),
		OnErrorAccept:     cfg.OnError == "accept",
	}
	for _, n := range cfg.Policy.TrustedNetworks {
		pr, err := netip.ParsePrefix(n)
		if err != nil {
			return nil, fmt.Errorf("policy.trusted_networks: %w", err)
		}
		p.Trusted = append(p.Trusted, pr.Masked())
	}
	if cfg.Auth.Enabled && e.Resolver != nil {
		p.SPF = &policy.SPF{Resolver: e.Resolver}
		p.SPFRejectFail = cfg.Auth.SPFRejectFail
	}
	if len(cfg.DNSBL.Zones) > 0 && e.Resolver != nil {
		bl := &policy.DNSBL{Resolver: e.Resolver}
		for _, name := range cfg.DNSBL.Zones {
			z, err := dnsblZone(name, cfg.DNSBL.Zone)
			if err != nil {
				return nil, err
			}
			bl.Zones = append(bl.Zones, z)
		}
		p.DNSBL = bl
	}
	if e.Grey != nil {
		p.Greylist = &policy.Greylist{Config: greyConfig(cfg), Store: e.Grey}
	}
	return p, nil
}

// reload builds the envelope checks from cfg and has them answer from now on
// (serve hands them to the milter server too). Lists with an error keep the
// old lists, settings with an error the old checks; either error is returned
// (lists, then settings) so that serve logs it. It returns the checks in use.
func (e *envelope) reload(cfg config.Config, class func(string) string) (p *policy.Policy, lists, settings error) {
	old := e.Policy()
	p, settings = e.newPolicy(cfg, class)
	if settings != nil {
		p = old
	}
	if lists = loadLists(p, cfg); lists != nil && p != old {
		p.Allow.Store(old.Allow.Load())
		p.Deny.Store(old.Deny.Load())
		p.GreyAllow.Store(old.GreyAllow.Load())
	}
	e.current.Store(p)
	return p, lists, settings
}

func greyConfig(cfg config.Config) policy.GreylistConfig {
	g := cfg.Greylist
	return policy.GreylistConfig{
		Delay: g.Delay.D(), RetryWindow: g.RetryWindow.D(), Expire: g.Expire.D(),
		AutoAllowAfter: g.AutoAllowAfter, IPv4Prefix: g.IPv4Prefix, IPv6Prefix: g.IPv6Prefix,
	}
}

// dnsblZone reads one zone's settings; a zone without any rejects every listing.
func dnsblZone(name string, settings map[string]config.DNSBLZone) (policy.Zone, error) {
	z := policy.Zone{Name: name}
	s, ok := settings[name]
	if !ok {
		z.Reject = []resolver.CodeRange{resolver.AnyListing}
		return z, nil
	}
	z.Test = s.Test
	for _, c := range s.Reject {
		r, err := resolver.ParseCodeRange(c)
		if err != nil {
			return z, fmt.Errorf("dnsbl.zone.%q.reject: %w", name, err)
		}
		z.Reject = append(z.Reject, r)
	}
	scores, err := resolver.ParseCodeScores(s.Scores)
	if err != nil {
		return z, fmt.Errorf("dnsbl.zone.%q.scores: %w", name, err)
	}
	z.Scores = scores
	if len(z.Reject) == 0 && len(z.Scores) == 0 {
		z.Reject = []resolver.CodeRange{resolver.AnyListing}
	}
	return z, nil
}

// uriblZone reads one URI block list's settings, as asked about what: points
// by return code from its [uribl.zone] table ([uribl.ns_zone] for the name
// servers' addresses), else uribl.scores' points (2.0 unnamed) for any
// listing.
func uriblZone(name string, asks uribl.Asks, cfg config.URIBL) (uribl.Zone, error) {
	z := uribl.Zone{Name: name, Score: 2.0, Asks: asks}
	if score, ok := cfg.Scores[name]; ok {
		z.Score = score
	}
	table, s := "zone", cfg.Zone[name]
	if asks == uribl.NameServerAddresses {
		table, s = "ns_zone", cfg.NSZone[name]
	}
	z.Test = s.Test
	scores, err := resolver.ParseCodeScores(s.Scores)
	if err != nil {
		return z, fmt.Errorf("uribl.%s.%q.scores: %w", table, name, err)
	}
	z.Scores = scores
	return z, nil
}

// loadLists reads the allow, deny and greylisting allow lists into p, only
// when all three read without an error.
func loadLists(p *policy.Policy, cfg config.Config) error {
	allow, err := policy.LoadLists(cfg.Policy.AllowLists)
	if err != nil {
		return fmt.Errorf("policy.allow_lists: %w", err)
	}
	deny, err := policy.LoadLists(cfg.Policy.DenyLists)
	if err != nil {
		return fmt.Errorf("policy.deny_lists: %w", err)
	}
	grey, err := policy.LoadLists(cfg.Greylist.AllowLists)
	if err != nil {
		return fmt.Errorf("greylist.allow_lists: %w", err)
	}
	p.Allow.Store(allow)
	p.Deny.Store(deny)
	p.GreyAllow.Store(grey)
	return nil
}

// Close closes the greylisting database.
func (e *envelope) Close() {
	if e.Grey != nil {
		e.Grey.Close()
	}
}

// describe logs at start what the envelope checks will do, and that no DNS query
// leaves the machine when no resolver is set.
func (e *envelope) describe(log logrus.FieldLogger, cfg config.Config) {
	log.WithFields(e.fields(cfg)).Info("envelope checks")
	if !cfg.Auth.Enabled {
		log.Info("sender authentication (SPF, DKIM, DMARC) is off: [auth] enabled = true with a [dns] resolver turns it on")
	}
	if e.Resolver == nil {
		log.Info("no [dns] resolver configured: Postern sends no DNS query (block lists are off)")
	} else {
		log.WithField("resolver", e.Resolver.Server()).Info("DNS checks use this resolver")
	}
}

// fields are what the envelope checks in use do, built from cfg, for the log
// (at start, and after a SIGHUP).
func (e *envelope) fields(cfg config.Config) logrus.Fields {
	p := e.Policy()
	f := logrus.Fields{
		"allow_entries": p.Allow.Load().Len(), "deny_entries": p.Deny.Load().Len(),
		"role_accounts": cfg.Policy.RoleAccounts, "trusted_networks": cfg.Policy.TrustedNetworks,
		"greylist": cfg.Greylist.Enabled,
	}
	if cfg.Greylist.Enabled {
		f["greylist_delay"] = cfg.Greylist.Delay.String()
	}
	if p.DNSBL != nil {
		f["dnsbl"] = cfg.DNSBL.Zones
	}
	if len(cfg.URIBL.Zones) > 0 {
		f["uribl"] = cfg.URIBL.Zones
	}
	if len(cfg.URIBL.IPZones) > 0 {
		f["uribl_ip"] = cfg.URIBL.IPZones
	}
	if len(cfg.URIBL.NSZones) > 0 {
		f["uribl_ns"] = cfg.URIBL.NSZones
	}
	f["auth"] = cfg.Auth.Enabled
	if cfg.Auth.Enabled {
		f["authserv_id"] = authservID(cfg)
		f["spf_reject_fail"], f["dmarc_reject"] = cfg.Auth.SPFRejectFail, cfg.Auth.DMARCReject
	}
	return f
}

// greyExpireLoop deletes old greylisting records now and every hour, by the
// greylisting settings in use then (conf).
func greyExpireLoop(log logrus.FieldLogger, s greyStore, conf func() policy.GreylistConfig) func() {
	return periodic(time.Hour, func(ctx context.Context) {
		c := conf()
		now := time.Now()
		n, err := s.Expire(ctx, now.Add(-c.Expire), c, now)
		switch {
		case err != nil && ctx.Err() == nil:
			log.WithError(err).Error("greylist: expire failed")
		case n > 0:
			log.WithField("expired", n).Info("greylist: expired records")
		}
	})
}

// envelopeFlags are postern check's envelope options.
type envelopeFlags struct {
	ip, name, helo, from string
	rcpts                stringList
}

// readOnlyGrey answers greylisting from the store without recording the attempt:
// postern check shows what serve would decide and changes nothing.
type readOnlyGrey struct{ policy.GreyStore }

func (readOnlyGrey) PutTriplet(context.Context, string, policy.Triplet) error  { return nil }
func (readOnlyGrey) PutClient(context.Context, string, policy.AutoAllow) error { return nil }

// checkEnvelope runs the envelope checks as serve would for one client, sender and
// its recipients, prints each decision, and returns the envelope the content checks
// then see.
func checkEnvelope(cfg config.Config, ev envelopeFlags, comp *components, w io.Writer) (*filter.Envelope, error) {
	e, err := buildEnvelope(cfg, false, comp.Resolver, comp.Class)
	if err != nil {
		return nil, err
	}
	defer e.Close()
	if cfg.Greylist.Enabled {
		if storeExists(cfg, policy.GreylistFileName) {
			s, err := openGreyStore(cfg)
			if err != nil {
				return nil, err
			}
			defer s.Close()
			e.Policy().Greylist = &policy.Greylist{Config: greyConfig(cfg), Store: readOnlyGrey{s}}
		} else {
			e.Policy().Greylist = &policy.Greylist{Config: greyConfig(cfg), Store: readOnlyGrey{emptyGrey{}}}
		}
	}
	c := policy.Client{Name: ev.name}
	if ev.ip != "" {
		a, err := netip.ParseAddr(ev.ip)
		if err != nil {
			return nil, fmt.Errorf("--client-ip: %w", err)
		}
		c.Addr = a
	}
	conn := e.Policy().Connect(c)
	defer conn.Close()
	conn.Helo(ev.helo)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m := conn.Mail(ctx, ev.from, "")
	rcpts := ev.rcpts
	if len(rcpts) == 0 {
		rcpts = stringList{"postmaster-not-given@invalid"}
		fmt.Fprintln(w, "Envelope: no --rcpt given; checking one made-up recipient")
	}
	fmt.Fprintf(w, "Envelope: client %s (%s) helo %q from <%s>\n", ev.ip, ev.name, ev.helo, recipients.NormalizeAddr(ev.from))
	env := &filter.Envelope{ClientAddr: ev.ip, ClientName: ev.name, Helo: ev.helo, MailFrom: ev.from}
	for _, r := range rcpts {
		d := m.Rcpt(ctx, r)
		line := fmt.Sprintf("  rcpt <%s>: %s", recipients.NormalizeAddr(r), d.Action)
		if d.Action != policy.Continue {
			line += " (" + d.Reply() + ")"
		} else {
			env.Rcpts = append(env.Rcpts, r)
		}
		for _, x := range []struct{ k, v string }{{"reason", d.Reason}, {"detail", d.Detail}, {"greylist", d.Greylist}} {
			if x.v != "" {
				line += fmt.Sprintf(" %s=%s", x.k, x.v)
			}
		}
		for _, h := range d.Hits {
			line += fmt.Sprintf(" dnsbl=%s:%s", h.Zone, h.Code)
		}
		for _, err := range d.Errors {
			line += fmt.Sprintf(" error=%q", err.Error())
		}
		fmt.Fprintln(w, line)
	}
	if e.Resolver == nil {
		fmt.Fprintln(w, "  (no [dns] resolver: block lists not queried)")
	}
	milter.ApplyContent(env, m.Content())
	fmt.Fprintln(w)
	return env, nil
}

// emptyGrey is a greylisting store with nothing in it.
type emptyGrey struct{}

func (emptyGrey) Triplet(context.Context, string) (policy.Triplet, bool, error) {
	return policy.Triplet{}, false, nil
}
func (emptyGrey) PutTriplet(context.Context, string, policy.Triplet) error { return nil }
func (emptyGrey) Client(context.Context, string) (policy.AutoAllow, bool, error) {
	return policy.AutoAllow{}, false, nil
}
func (emptyGrey) PutClient(context.Context, string, policy.AutoAllow) error { return nil }
