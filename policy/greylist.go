package policy

import (
	"context"
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"time"

	"github.com/postern/postern/recipients"
)

// GreyStore keeps greylisting's state: one record per triplet and one per client
// that passed. SQLite is the embedded implementation; a shared database lets several
// Postern nodes greylist as one.
type GreyStore interface {
	Triplet(ctx context.Context, key string) (rec Triplet, found bool, err error)
	PutTriplet(ctx context.Context, key string, rec Triplet) error
	Client(ctx context.Context, ip string) (rec AutoAllow, found bool, err error)
	PutClient(ctx context.Context, ip string, rec AutoAllow) error
}

// Triplet is what is known of one (client network, sender, recipient).
type Triplet struct {
	First time.Time // first attempt of the current greylisting period
	Last  time.Time // latest attempt
}

// AutoAllow counts the times a client got a triplet through greylisting.
type AutoAllow struct {
	Count int
	Last  time.Time
}

// GreylistConfig are postgrey's knobs, with its defaults in DefaultGreylist.
type GreylistConfig struct {
	Delay          time.Duration // a triplet passes when retried this long after its first attempt
	RetryWindow    time.Duration // … and no later than this after it (else it starts over)
	Expire         time.Duration // records untouched this long are deleted
	AutoAllowAfter int           // a client whose triplets passed this many times is no longer greylisted; 0: never
	IPv4Prefix     int           // clients are grouped by network: /24 …
	IPv6Prefix     int           // … and /64
}

// DefaultGreylist is postgrey's default configuration.
var DefaultGreylist = GreylistConfig{
	Delay: 300 * time.Second, RetryWindow: 48 * time.Hour, Expire: 35 * 24 * time.Hour,
	AutoAllowAfter: 5, IPv4Prefix: 24, IPv6Prefix: 64,
}

// Greylist decides at RCPT TO whether a triplet has waited long enough.
type Greylist struct {
	Config GreylistConfig
	Store  GreyStore
	Now    func() time.Time // a fake clock in tests
}

// Greylist outcomes, as logged and counted.
const (
	GreyNew         = "new"          // first attempt: 450
	GreyEarly       = "early"        // retried before the delay: 450
	GreyPassed      = "passed"       // retried after the delay: this time it passes
	GreyKnown       = "known"        // passed before, still within expire
	GreyAutoAllowed = "auto-allowed" // the client passed often enough
)

// GreyResult is one greylisting decision.
type GreyResult struct {
	Outcome string
	Wait    time.Duration // for GreyNew and GreyEarly: how long until a retry passes
	Delayed time.Duration // for GreyPassed: how long the message was held up
}

// Defer reports whether the recipient must be answered 450.
func (r GreyResult) Defer() bool { return r.Outcome == GreyNew || r.Outcome == GreyEarly }

func (g *Greylist) now() time.Time {
	if g.Now != nil {
		return g.Now()
	}
	return time.Now()
}

// Check decides one triplet and records the attempt. It follows postgrey: a triplet
// seen again after the delay passes and stays passed while it keeps coming within
// expire; a first retry after the retry window starts over; a client (by address)
// whose triplets passed AutoAllowAfter times, counted at most once an hour, is no
// longer greylisted.
func (g *Greylist) Check(ctx context.Context, ip netip.Addr, sender, rcpt string) (GreyResult, error) {
	now := g.now().Truncate(time.Second)
	c := g.Config
	ip = ip.Unmap()
	clientKey := ip.String()
	awl, awlFound, err := g.Store.Client(ctx, clientKey)
	if err != nil {
		return GreyResult{}, fmt.Errorf("greylist: client %s: %w", clientKey, err)
	}
	if awlFound && c.Expire > 0 && now.Sub(awl.Last) > c.Expire {
		awl, awlFound = AutoAllow{}, false
	}
	if c.AutoAllowAfter > 0 && awl.Count >= c.AutoAllowAfter {
		if now.Sub(awl.Last) >= time.Hour || awl.Last.After(now) {
			awl.Count++
			awl.Last = now
			if err := g.Store.PutClient(ctx, clientKey, awl); err != nil {
				return GreyResult{}, fmt.Errorf("greylist: client %s: %w", clientKey, err)
			}
		}
		return GreyResult{Outcome: GreyAutoAllowed}, nil
	}

	key := TripletKey(ip, sender, rcpt, c.IPv4Prefix, c.IPv6Prefix)
	rec, found, err := g.Store.Triplet(ctx, key)
	if err != nil {
		return GreyResult{}, fmt.Errorf("greylist: triplet %s: %w", key, err)
	}
	first, passedBefore := now, false
	if found && (c.Expire <= 0 || now.Sub(rec.Last) <= c.Expire) {
		first = rec.First
		passedBefore = rec.Last.Sub(rec.First) >= c.Delay
		if !passedBefore && now.Sub(first) > c.RetryWindow {
			first = now // retried too late: start over
		}
		if first.After(now) {
			first = now // a clock that went back
		}
	}
	if err := g.Store.PutTriplet(ctx, key, Triplet{First: first, Last: now}); err != nil {
		return GreyResult{}, fmt.Errorf("greylist: triplet %s: %w", key, err)
	}
	wait := c.Delay - now.Sub(first)
	switch {
	case passedBefore:
		return GreyResult{Outcome: GreyKnown}, nil
	case wait > 0 && first.Equal(now):
		return GreyResult{Outcome: GreyNew, Wait: wait}, nil
	case wait > 0:
		return GreyResult{Outcome: GreyEarly, Wait: wait}, nil
	}
	if c.AutoAllowAfter > 0 && (!awlFound || now.Sub(awl.Last) >= time.Hour || awl.Last.After(now)) {
		awl.Count++
		awl.Last = now
		if err := g.Store.PutClient(ctx, clientKey, awl); err != nil {
			return GreyResult{}, fmt.Errorf("greylist: client %s: %w", clientKey, err)
		}
	}
	return GreyResult{Outcome: GreyPassed, Delayed: now.Sub(first)}, nil
}

// TripletKey is the greylisting key: the client's network, the sender with what
// changes from message to message taken out (as postgrey does: a +extension, numbers
// in the local part, a BATV tag), and the recipient, all in lower case.
func TripletKey(ip netip.Addr, sender, rcpt string, v4, v6 int) string {
	ip = ip.Unmap()
	bits := v6
	if ip.Is4() {
		bits = v4
	}
	network := ip.String()
	if p, err := ip.Prefix(bits); err == nil {
		network = p.Addr().String()
	}
	return network + "/" + normalizeSender(recipients.NormalizeAddr(sender)) + "/" + recipients.NormalizeAddr(rcpt)
}

var (
	batvTag = regexp.MustCompile(`^[0-9a-z]{10}`)
	numbers = regexp.MustCompile(`\b\d+\b`)
)

func normalizeSender(addr string) string {
	user, domain, ok := strings.Cut(addr, "@")
	if !ok {
		return addr
	}
	// BATV: prvs=tag-val=loc-core, sometimes prvs=loc-core=tag-val.
	if strings.HasPrefix(user, "prvs=") {
		if a := strings.Split(user, "="); len(a) == 3 {
			switch {
			case batvTag.MatchString(a[2]) && !batvTag.MatchString(a[1]):
				user = a[1]
			default:
				user = a[2]
			}
		}
	}
	if i := strings.IndexByte(user, '+'); i >= 0 {
		user = user[:i] // extensions, used for VERP
	}
	user = numbers.ReplaceAllString(user, "#")
	return user + "@" + domain
}
