// Package filter is the content pipeline and its vocabulary: a Check looks at one
// message and returns a Result; the Pipeline runs every check concurrently under one
// deadline and combines the results into a Verdict (accept, reject, tempfail) with the
// reply and the headers to write. What to do with a result is decided here, not in the
// checks, and every failure of a check becomes a tempfail unless configured otherwise.
package filter

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/postern/postern/scan"
)

// Envelope is what the MTA told us about the message and its SMTP session.
type Envelope struct {
	QueueID    string
	ClientAddr string // IP address of the SMTP client
	ClientName string // its verified host name, or "unknown"
	Helo       string
	MailFrom   string
	Rcpts      []string
	AuthUser   string // SASL login name, when the client authenticated

	// What the envelope checks (package policy) decided for the content.
	//
	// PolicyTests are points they add, e.g. a block list that scores.
	PolicyTests []Test
	// NoReject: a role account (postmaster@, abuse@) is a recipient, so nothing is
	// refused for its content: spam is tagged, a virus is delivered marked infected.
	NoReject bool
	// SkipScoring: the client or sender is allow-listed and the operator chose to
	// skip content scoring for it. Virus scanning still runs (VirusScanner checks).
	SkipScoring bool
	// SPF is the sender's SPF result, checked at MAIL FROM; nil when not checked.
	SPF *SPF
	// SPFHelo is the HELO name's own SPF result, for a message with a sender;
	// nil when not checked, and for the null sender, whose SPF is the HELO's.
	SPFHelo *SPF
}

// SPF is an SPF result (RFC 7208) as the envelope checks found it.
type SPF struct {
	Result   string // pass, fail, softfail, neutral, none, temperror, permerror
	Identity string // "mailfrom", or "helo" for the null sender
	Domain   string
	Sender   string
}

// Message is one message as checks see it: the raw bytes and the parsed model.
type Message struct {
	Env    *Envelope
	Raw    io.ReaderAt // the whole message, header and body, as received
	Size   int64
	Parsed *scan.Message
	memo   sync.Map // what one step worked out for a later one (Remember)
}

// Remember keeps what a check worked out about the message for a step after it
// (the autolearner learns the tokens the Bayes check read, rather than
// tokenizing the message again). Keys are values of a type of the caller's own,
// as with context keys.
func (m *Message) Remember(key, v any) { m.memo.Store(key, v) }

// Recall returns what was remembered under key.
func (m *Message) Recall(key any) (any, bool) { return m.memo.Load(key) }

// Once returns what f works out about the message, worked out once under key
// (a value of a type of the caller's own, apart from Remember's keys): checks that
// run side by side and need the same thing wait for the first one's rather than
// work it out again. A caller must not change what it returns.
func (m *Message) Once(key any, f func() any) any {
	e, _ := m.memo.LoadOrStore(key, &onceValue{})
	o := e.(*onceValue)
	o.once.Do(func() { o.v, o.ok = f(), true })
	if !o.ok { // f panicked for the first caller: this one's own run will say so too
		return f()
	}
	return o.v
}

// Fresh is the message as a new check of it starts: the same bytes and parse,
// nothing remembered (Remember, Once). For runs that check one message many
// times (benchmarks, `postern rules cost`): each check then pays what one in
// serve pays, not only the first.
func (m *Message) Fresh() *Message {
	return &Message{Env: m.Env, Raw: m.Raw, Size: m.Size, Parsed: m.Parsed}
}

type onceValue struct {
	once sync.Once
	v    any
	ok   bool
}

// RawReader returns a fresh reader over the raw message.
func (m *Message) RawReader() *io.SectionReader { return io.NewSectionReader(m.Raw, 0, m.Size) }

// Test is one rule (or pseudo-rule) that hit, with its score.
type Test struct {
	Name        string  `json:"name"`
	Score       float64 `json:"score"`
	Description string  `json:"-"`
	Bayes       bool    `json:"-"` // a BAYES_xx pseudo-rule: left out of the autolearn score
	NoAutolearn bool    `json:"-"` // tflags noautolearn: left out of the autolearn score
}

// Header is one header field to add to an accepted message: appended, or with Top
// inserted above all others (trace headers such as Authentication-Results, which
// RFC 8601 wants on top).
type Header struct {
	Name, Value string
	Top         bool
}

// Result is what one check found. A failed check sets Err: the check did not run to the
// end and its silence must not be read as "clean".
type Result struct {
	Check string
	Tests []Test
	// TestsNoBayes, when not nil, replace Tests when no check gave a Bayes
	// probability (Bayes off or in cold start): rules scored as SpamAssassin's
	// score set 0, which weighs the rules for doing without Bayes.
	TestsNoBayes []Test
	Virus        string   // signature name, when a virus was found
	VirusPart    string   // where: file name and content type, for the log
	Bayes        *float64 // spam probability, when the classifier gave one
	Headers      []Header // headers the check wants on accepted mail (e.g. X-Virus-Status)
	Notes        []string // what the operator should know (e.g. Bayes in cold start)
	// Refuse, when set, asks for the message to be refused whatever its score (a
	// domain's DMARC reject policy the operator chose to enforce).
	Refuse *Refusal
	// Marked is the reason of a finding the message's recipients take (a banned
	// file to an [attachments] exempt_rcpts recipient): delivered, marked by the
	// check's headers, and the verdict's Reason, as a refusal's is when a role
	// account is a recipient.
	Marked string
	Err    error
	// Duration is how long the check ran (the pipeline sets it): up to the
	// deadline for a check that had not answered by then.
	Duration time.Duration
	// Times are parts of Duration the check measures itself, shown after its
	// own (Verdict.Times): clamav's "clamav_wait", the time its streams waited
	// for a free clamd connection, tells a pool too small from a slow clamd.
	Times []Timing
}

// Refusal is a check's request to refuse a message: the verdict's reason and the
// text after 550 5.7.1 ({ref} is filled in).
type Refusal struct {
	Reason string
	Text   string
	Detail string // what the check found, for the quarantine record (Verdict.Detail)
}

// Check is one content check. It must honour ctx's deadline; it reports failures in
// Result.Err and must not panic (the pipeline survives it if it does).
type Check interface {
	Name() string
	Check(ctx context.Context, m *Message) Result
}

// VirusScanner marks the checks that run even when SkipScoring is set, and
// for a message over scan_limit.
type VirusScanner interface {
	ScansForViruses()
}

// SenderAuthenticator marks the checks that verify who sent a message (DKIM,
// DMARC). They still run for a message over scan_limit: its size says nothing
// about its sender, and a forgery padded past the limit must not slip past its
// domain's DMARC reject policy. (Hashing the body costs far less than scoring
// it.) An allow-listed message skips them, as it skips scoring.
type SenderAuthenticator interface {
	AuthenticatesSender()
}

// Action is what the MTA is told to do with the message.
type Action int

const (
	Accept Action = iota
	Reject
	TempFail
)

func (a Action) String() string {
	switch a {
	case Accept:
		return "accept"
	case Reject:
		return "reject"
	case TempFail:
		return "tempfail"
	}
	return fmt.Sprintf("action(%d)", int(a))
}

// Reason says why a verdict is what it is, in one machine-readable word.
const (
	ReasonClean     = "clean"
	ReasonSpam      = "spam"
	ReasonVirus     = "virus"
	ReasonError     = "error"
	ReasonTooLarge  = "too-large"
	ReasonUnscanned = "unscanned"
	ReasonDMARC     = "dmarc"
	ReasonBanned    = "banned" // a banned attachment (package banned)
)

// Reply is an SMTP reply: it is exactly what the client sees.
type Reply struct {
	Code     int
	Enhanced string
	Text     string
}

func (r Reply) String() string { return fmt.Sprintf("%d %s %s", r.Code, r.Enhanced, r.Text) }

// Verdict is the combined outcome for one message.
type Verdict struct {
	Ref      string // reference id shown to the sender and logged
	Action   Action
	Reason   string
	Spam     bool
	Score    float64
	Required float64
	// Settings is the [recipients] entry whose scores and tag decided ("": the
	// global ones).
	Settings  string
	Tests     []Test // sorted by name
	Virus     string
	VirusPart string
	// Detail is what the check that refused the message found, and where (the
	// infected part, the banned file): kept with the quarantine's copy.
	Detail  string
	Bayes   *float64
	Reply   Reply    // for Reject and TempFail
	Headers []Header // for Accept
	// SubjectTag is put in front of the Subject (Policy.SubjectTag): set for
	// a message accepted as spam.
	SubjectTag string
	Skipped    []string // checks that failed while on_error = accept
	Notes      []string
	Autolearn  string  // "spam", "ham" or "no", as in X-Spam-Status
	Kept       bool    // a copy is in the quarantine (under Ref)
	Held       bool    // accepted into the MTA's hold queue, copy kept
	Errors     []error // every failure, for the log
	Duration   time.Duration
	// Times are the parse's and each check's durations, in the pipeline's order
	// ("parse" first): which part of Duration a slow message spent where. The
	// checks run side by side, so their times overlap.
	Times []Timing
	// Keep is how long writing the quarantine copy took (serve sets it, for a
	// rejected or held message), after Duration: the copy is durable before
	// the reply, so its commit is part of what the sender waits for.
	Keep time.Duration
}

// Timing is how long one step of the pipeline took.
type Timing struct {
	Step     string // "parse" or a check's name
	Duration time.Duration
}

// TimesText is Times as the log line and postern check show them, in
// milliseconds: "parse=0.4 rules=2.1 bayes=0.3 clamav=5.2".
func (v Verdict) TimesText() string {
	var b strings.Builder
	for i, t := range v.Times {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s=%.1f", t.Step, Millis(t.Duration))
	}
	return b.String()
}

// Millis is d in milliseconds, to the microsecond: the unit of the times the
// log, postern check and postern stats give.
func Millis(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// NewRef returns a short random reference id: printable in a reply, not guessable.
func NewRef() string {
	const alphabet = "abcdefghijkmnpqrstuvwxyz23456789" // no 0/o, 1/l
	var b [12]byte
	_, _ = rand.Read(b[:])
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b[:])
}
