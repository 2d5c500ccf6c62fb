// Package policy holds the envelope-stage checks the milter runs before any content is
// transferred: allow and deny lists, role accounts, DNS block lists and greylisting.
// Each recipient gets a Decision at RCPT TO (go on, 450, or 5xx); what the checks learned
// that content scoring needs (block-list points, "a role account is a recipient: never
// reject", "allow-listed: skip scoring") is handed to the pipeline per message.
//
// Order at RCPT TO, first that applies wins:
//  1. a role account (postmaster@, abuse@) is accepted: no list, block list or greylisting;
//  2. a trusted network or an authenticated client: nothing else is checked;
//  3. an allow-list entry (client, HELO, sender, recipient) skips block lists and
//     greylisting, even where a deny entry matches too: an allow entry is how an
//     operator fixes a false positive, and it must win;
//  4. a deny-list entry: 554 5.7.1;
//  5. a block list whose return code rejects: 554 5.7.1; scoring codes add points;
//  6. greylisting: 450 4.7.1 until the triplet has waited;
//  7. a recipient accepted by the above whose content settings (Policy.Class) differ
//     from the message's first accepted recipient's: 452 4.5.3, sent again apart,
//     since one reply at end of data answers for every recipient.
//
// A DNS failure never rejects: the zone adds nothing and the error is reported.
package policy

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"github.com/postern/postern/recipients"
)

// Action is what the MTA is told about a recipient.
type Action int

const (
	Continue Action = iota
	TempFail        // 4xx: greylisted, or a check failed
	Reject          // 5xx
)

func (a Action) String() string {
	return [...]string{"continue", "tempfail", "reject"}[a]
}

// Reasons in decisions, as logged and counted.
const (
	ReasonRole     = "role-account"
	ReasonTrusted  = "trusted"
	ReasonAuth     = "authenticated"
	ReasonAllow    = "allow-list"
	ReasonDeny     = "deny-list"
	ReasonDNSBL    = "dnsbl"
	ReasonGreylist = "greylist"
	ReasonSPF      = "spf"
	ReasonError    = "error"
	// ReasonSplit: the recipient's content settings differ from those of the
	// message's first accepted recipient (Policy.Class), so it is deferred with
	// 452 4.5.3 and sent again in a message of its own.
	ReasonSplit = "split"
)

// Decision is the answer for one recipient.
type Decision struct {
	Action   Action
	Code     int
	Enhanced string
	Text     string
	Reason   string // one of the Reason constants, "" when nothing in particular applied
	Detail   string // the list entry, zone or greylisting outcome behind it
	Greylist string // the greylisting outcome, when it ran
	Hits     []Hit  // block-list hits (rejecting and scoring)
	Errors   []error
}

// Reply is the SMTP reply line (for Action other than Continue).
func (d Decision) Reply() string { return fmt.Sprintf("%d %s %s", d.Code, d.Enhanced, d.Text) }

// Policy is the configured envelope checks. Lists can be swapped while serving.
type Policy struct {
	Allow     atomic.Pointer[List]
	Deny      atomic.Pointer[List]
	GreyAllow atomic.Pointer[List] // skip greylisting only: senders that retry badly, recipients that opt out

	RoleAccounts      []string // local parts ("postmaster") or addresses
	Trusted           []netip.Prefix
	AllowSkipsContent bool
	Greylist          *Greylist // nil: off
	DNSBL             *DNSBL    // nil or no zones: off
	DNSTimeout        time.Duration
	// SPF, when set, checks every sender at MAIL FROM; SPFRejectFail refuses a
	// sender whose domain's record says fail (at RCPT TO, role accounts excepted).
	SPF           *SPF
	SPFRejectFail bool
	// OnErrorAccept: a greylisting store that fails lets the recipient through
	// (on_error = "accept") instead of answering 451.
	OnErrorAccept bool
	// Class names the content settings a recipient's mail is judged by: its
	// [recipients] entry, whether it takes banned attachments ("" for the
	// defaults). A role account is a class of its own. One reply at end of data
	// answers for all of a message's recipients, so a recipient whose class
	// differs from the first accepted one's is deferred (ReasonSplit): a spammer
	// who adds postmaster@ to the recipients does not get the others' copies
	// tagged instead of refused.
	Class func(rcpt string) string
}

// Client is what the MTA said about the SMTP client at connect.
type Client struct {
	Addr netip.Addr // invalid for a local (non-TCP) client
	Name string     // verified host name, "unknown" when none
}

// Conn is the state of one SMTP connection.
type Conn struct {
	p      *Policy
	client Client
	helo   string
	// heloSPF is the HELO name's own SPF result, checked at the first MAIL FROM
	// with a sender after the HELO (heloChecked); nil when it is no domain.
	heloSPF     *SPFResult
	heloChecked bool

	started chan struct{}
	hits    []Hit
	errs    []error
	cancel  context.CancelFunc
}

// Connect starts a connection's checks. The block-list lookups start now, so they run
// while the client says HELO and MAIL FROM; Close stops them.
func (p *Policy) Connect(c Client) *Conn {
	conn := &Conn{p: p, client: c}
	if p.DNSBL != nil && len(p.DNSBL.Zones) > 0 && c.Addr.IsValid() && !p.trusted(c.Addr) &&
		p.Allow.Load().Client(c.Addr, c.Name) == nil {
		timeout := p.DNSTimeout
		if timeout <= 0 {
			timeout = 5 * time.Second
		}
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		conn.cancel = cancel
		conn.started = make(chan struct{})
		go func() {
			defer close(conn.started)
			conn.hits, conn.errs = p.DNSBL.Check(ctx, c.Addr)
		}()
	}
	return conn
}

// Close releases the connection's lookups.
func (c *Conn) Close() {
	if c.cancel != nil {
		c.cancel()
	}
}

// Helo records the HELO name.
func (c *Conn) Helo(name string) {
	if name != c.helo {
		c.heloSPF, c.heloChecked = nil, false
	}
	c.helo = name
}

// dnsbl waits for the connection's block-list answers (each bounded by DNSTimeout).
func (c *Conn) dnsbl(ctx context.Context) ([]Hit, []error) {
	if c.started == nil {
		return nil, nil
	}
	select {
	case <-c.started:
		return c.hits, c.errs
	case <-ctx.Done():
		return nil, []error{fmt.Errorf("dnsbl: %w", ctx.Err())}
	}
}

func (p *Policy) trusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, t := range p.Trusted {
		if t.Contains(a) {
			return true
		}
	}
	return false
}

// Message is the state of one message (MAIL FROM to end of data).
type Message struct {
	c       *Conn
	from    string
	auth    string
	allowed *Match // client, HELO or sender on the allow list
	role    bool   // a role account is among the accepted recipients
	class   string // the first accepted recipient's (Policy.Class)
	classed bool   // a recipient was accepted: class is set
	scores  []Hit
	spf     *SPFResult
	heloSPF *SPFResult
}

// Mail starts a message from sender; auth is the SASL login ("" when none). With
// SPF on, the sender is checked now, within ctx (the resolver's deadline per query).
func (c *Conn) Mail(ctx context.Context, sender, auth string) *Message {
	m := &Message{c: c, from: recipients.NormalizeAddr(sender), auth: auth}
	if c.p.SPF != nil && c.client.Addr.IsValid() && auth == "" && !c.p.trusted(c.client.Addr) {
		// The HELO name's own result, once a connection, beside the sender's
		// (for the null sender, the sender's result is already the HELO name's).
		var helo chan *SPFResult
		if !c.heloChecked && senderDomain(m.from) != "" {
			helo = make(chan *SPFResult, 1)
			go func(name string) {
				if h, ok := c.p.SPF.CheckHelo(ctx, c.client.Addr, name); ok {
					helo <- &h
					return
				}
				helo <- nil
			}(c.helo)
		}
		r := c.p.SPF.Check(ctx, c.client.Addr, c.helo, sender)
		m.spf = &r
		if helo != nil {
			c.heloSPF, c.heloChecked = <-helo, true
		}
		if r.Identity == "mailfrom" {
			m.heloSPF = c.heloSPF
		}
	}
	allow := c.p.Allow.Load()
	if m.allowed = allow.Client(c.client.Addr, c.client.Name); m.allowed == nil {
		if m.allowed = allow.Helo(c.helo); m.allowed == nil {
			m.allowed = allow.Sender(m.from)
		}
	}
	return m
}

// IsRole reports whether rcpt is a role account.
func (p *Policy) IsRole(rcpt string) bool {
	addr := recipients.NormalizeAddr(rcpt)
	local, _, _ := strings.Cut(addr, "@")
	for _, r := range p.RoleAccounts {
		r = strings.ToLower(r)
		if r == addr || r == local || strings.TrimSuffix(r, "@") == local {
			return true
		}
	}
	return false
}

// Rcpt decides one recipient.
func (m *Message) Rcpt(ctx context.Context, rcpt string) Decision {
	d := m.rcpt(ctx, rcpt)
	if d.Action == Continue {
		class := m.c.p.class(rcpt, d.Reason == ReasonRole)
		if m.classed && class != m.class {
			return Decision{Action: TempFail, Code: 452, Enhanced: "4.5.3",
				Text:   "Too many recipients: send to this one in a message of its own",
				Reason: ReasonSplit, Detail: fmt.Sprintf("settings %s, the message's %s", className(class), className(m.class))}
		}
		m.class, m.classed = class, true
		if d.Reason == ReasonRole {
			m.role = true
		}
		for _, h := range d.Hits {
			if !h.Reject && !m.hasScore(h) {
				m.scores = append(m.scores, h)
			}
		}
	}
	return d
}

// class is rcpt's Class, a role account's marked so.
func (p *Policy) class(rcpt string, role bool) string {
	c := ""
	if p.Class != nil {
		c = p.Class(rcpt)
	}
	if role {
		c = "role-account " + c
	}
	return strings.TrimSpace(c)
}

func className(c string) string {
	if c == "" {
		return "defaults"
	}
	return c
}

func (m *Message) hasScore(h Hit) bool {
	for _, s := range m.scores {
		if s.Zone == h.Zone {
			return true
		}
	}
	return false
}

func (m *Message) rcpt(ctx context.Context, rcpt string) Decision {
	p, c := m.c.p, m.c
	if p.IsRole(rcpt) {
		return Decision{Reason: ReasonRole, Detail: recipients.NormalizeAddr(rcpt)}
	}
	if c.client.Addr.IsValid() && p.trusted(c.client.Addr) {
		return Decision{Reason: ReasonTrusted, Detail: c.client.Addr.String()}
	}
	if m.auth != "" {
		return Decision{Reason: ReasonAuth, Detail: m.auth}
	}
	if m.allowed != nil {
		return Decision{Reason: ReasonAllow, Detail: m.allowed.String()}
	}
	if a := p.Allow.Load().Recipient(rcpt); a != nil {
		return Decision{Reason: ReasonAllow, Detail: a.String()}
	}
	deny := p.Deny.Load()
	for _, hit := range []*Match{deny.Client(c.client.Addr, c.client.Name), deny.Helo(c.helo), deny.Sender(m.from), deny.Recipient(rcpt)} {
		if hit != nil {
			return Decision{Action: Reject, Code: 554, Enhanced: "5.7.1", Text: "Access denied",
				Reason: ReasonDeny, Detail: hit.String()}
		}
	}
	if m.spf != nil && m.spf.Result == "fail" && p.SPFRejectFail {
		return Decision{Action: Reject, Code: 550, Enhanced: "5.7.23",
			Text:   fmt.Sprintf("SPF: %s is not allowed to send mail from %s", c.client.Addr, m.spf.Domain),
			Reason: ReasonSPF, Detail: "spf=fail " + m.spf.Domain}
	}
	var d Decision
	d.Hits, d.Errors = c.dnsbl(ctx)
	for _, h := range d.Hits {
		if h.Reject {
			d.Action, d.Code, d.Enhanced = Reject, 554, "5.7.1"
			d.Text = fmt.Sprintf("Service unavailable; client [%s] blocked using %s", c.client.Addr, h.Zone)
			d.Reason, d.Detail = ReasonDNSBL, fmt.Sprintf("%s %s", h.Zone, h.Code)
			return d
		}
	}
	g := p.Greylist
	if g == nil || !c.client.Addr.IsValid() {
		return d
	}
	ga := p.GreyAllow.Load()
	if a := firstMatch(ga.Client(c.client.Addr, c.client.Name), ga.Sender(m.from), ga.Recipient(rcpt)); a != nil {
		d.Greylist, d.Detail = "skipped", a.String()
		return d
	}
	r, err := g.Check(ctx, c.client.Addr, m.from, rcpt)
	if err != nil {
		d.Errors = append(d.Errors, err)
		if p.OnErrorAccept {
			d.Greylist = "error"
			return d
		}
		d.Action, d.Code, d.Enhanced, d.Text = TempFail, 451, "4.3.0", "Temporary failure, please try again later"
		d.Reason, d.Detail = ReasonError, "greylist store"
		return d
	}
	d.Greylist = r.Outcome
	if r.Defer() {
		secs := int((r.Wait + time.Second - 1) / time.Second)
		d.Action, d.Code, d.Enhanced = TempFail, 450, "4.7.1"
		d.Text = fmt.Sprintf("Greylisted, please try again in %d seconds", secs)
		d.Reason, d.Detail = ReasonGreylist, r.Outcome
	}
	return d
}

func firstMatch(ms ...*Match) *Match {
	for _, m := range ms {
		if m != nil {
			return m
		}
	}
	return nil
}

// Content is what the envelope checks tell content scoring about a message.
type Content struct {
	// Scores are the block-list hits that add points (each zone once).
	Scores []Hit
	// NoReject: a role account is among the recipients, so spam is tagged, not
	// refused (RFC 5321 4.5.1, RFC 2142): complaints about spam must get through.
	NoReject bool
	// SkipScoring: the client, HELO or sender is allow-listed and
	// allow_skips_content is on. Virus scanning still runs.
	SkipScoring bool
	Allowed     string // the allow-list entry, for the log
	// SPF is the sender's SPF result; nil when SPF is off or was not checked
	// (trusted network, authenticated client).
	SPF *SPFResult
	// SPFHelo is the HELO name's own SPF result, for a message with a sender
	// (for the null sender, SPF is the HELO name's); nil when not checked.
	SPFHelo *SPFResult
}

// Content returns what the message's accepted recipients decided for its content.
func (m *Message) Content() Content {
	c := Content{Scores: m.scores, NoReject: m.role, SPF: m.spf, SPFHelo: m.heloSPF}
	if m.allowed != nil {
		c.Allowed = m.allowed.String()
		c.SkipScoring = m.c.p.AllowSkipsContent
	}
	return c
}
