// Package auth is the content check that verifies who sent a message: its DKIM
// signatures (RFC 6376), the From domain's DMARC policy (RFC 7489) against SPF (found
// at MAIL FROM by package policy) and DKIM, and writes one Authentication-Results
// header (RFC 8601). Each result is also a pseudo-rule with the name SpamAssassin
// gives it (SPF_PASS, DKIM_VALID, DMARC_REJECT, …), scored as SpamAssassin's
// network score set scores it, unless an operator's rule file says otherwise.
//
// A DNS failure is temperror in the header and adds nothing; only a DMARC reject
// policy the operator chose to enforce refuses a message.
package auth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"strings"

	"github.com/emersion/go-msgauth/authres"
	"github.com/emersion/go-msgauth/dkim"
	"github.com/emersion/go-msgauth/dmarc"
	"golang.org/x/net/publicsuffix"

	"github.com/postern/postern/filter"
)

// TXTLookuper is the DNS the check asks: resolver.NetStyle.
type TXTLookuper interface {
	LookupTXT(ctx context.Context, name string) ([]string, error)
}

// Check is the filter.Check.
type Check struct {
	Resolver   TXTLookuper
	AuthservID string
	// MaxSignatures bounds the DKIM signatures verified per message (and so the key
	// lookups): a message with a hundred signatures costs no more than this.
	MaxSignatures int
	// DMARCReject refuses a message that fails DMARC when its domain's policy is
	// p=reject (550 5.7.1); otherwise that only scores DMARC_REJECT.
	DMARCReject bool
	// Score, when set, is asked first for a pseudo-rule's score: an operator's
	// score line for SPF_FAIL wins over DefaultScores.
	Score func(name string) (float64, bool)
	// TrustedSealers are the ARC sealers (d= of the newest ARC-Seal, and domains
	// under them) whose word is taken: a message that fails DMARC, with a valid
	// chain from one of them whose first set recorded dmarc=pass, was broken by the
	// list or forwarder on the way, not forged, and its DMARC policy is not applied.
	TrustedSealers []string
}

// DefaultScores are SpamAssassin 4's scores for these tests in its score set for
// network tests with Bayes (set 3), where it has one.
var DefaultScores = map[string]float64{
	"SPF_PASS": -0.001, "SPF_FAIL": 0.919, "SPF_SOFTFAIL": 0.665, "SPF_NEUTRAL": 0.779, "SPF_NONE": 0.001,
	"SPF_HELO_PASS": -0.001, "SPF_HELO_FAIL": 0.001, "SPF_HELO_SOFTFAIL": 0.732, "SPF_HELO_NEUTRAL": 0.112,
	"SPF_HELO_NONE": 0.001, "T_SPF_TEMPERROR": 0.01, "T_SPF_PERMERROR": 0.01,
	"T_SPF_HELO_TEMPERROR": 0.01, "T_SPF_HELO_PERMERROR": 0.01,
	"DKIM_SIGNED": 0.1, "DKIM_VALID": -0.1, "DKIM_VALID_AU": -0.1, "DKIM_INVALID": 0.1,
	"DMARC_PASS": -0.001, "DMARC_REJECT": 1.797, "DMARC_QUAR": 1.198, "DMARC_NONE": 0.898, "DMARC_MISSING": 0.001,
	// SpamAssassin has no scores for these; as its DKIM ones.
	"ARC_SIGNED": 0.001, "ARC_VALID": -0.1, "ARC_INVALID": 0.1,
}

// Name is the check's name in logs and X-Postern-Skipped.
func (c *Check) Name() string { return "auth" }

// AuthenticatesSender keeps the check running for a message over scan_limit
// (filter.SenderAuthenticator): a DMARC reject policy holds whatever the size.
func (c *Check) AuthenticatesSender() {}

// Results is everything the check found, for tests and the header.
type Results struct {
	SPF *filter.SPF
	// SPFHelo is the HELO name's own result, for a message with a sender.
	SPFHelo *filter.SPF
	DKIM    []DKIMResult
	DMARC   DMARCResult
	ARC     ARCResult
}

// DKIMResult is one signature's verification.
type DKIMResult struct {
	Result string // pass, fail, neutral, temperror, permerror
	Domain string // d=
	AUID   string // i=
	Reason string
}

// SigningDomain is the domain SpamAssassin's DKIM plugin compares with the
// author's and its welcome lists' (DKIM_VALID_AU, welcomelist_from_dkim): the
// identity's (i=), which is d= or a subdomain of it, else d=; lower case.
func (d DKIMResult) SigningDomain() string {
	if _, dom, ok := strings.Cut(d.AUID, "@"); ok {
		dom, _, _ = strings.Cut(dom, " ")
		return strings.ToLower(dom)
	}
	return d.Domain
}

// DMARCResult is the From domain's DMARC evaluation.
type DMARCResult struct {
	Result string // pass, fail, none, temperror, permerror
	Domain string // the From domain
	Policy string // the policy that applies: none, quarantine, reject ("" without a record)
	Reason string
	// Override names the trusted ARC sealer whose chain vouches for a message that
	// fails: its policy is then not applied.
	Override string
}

// Check verifies the message and turns the results into pseudo-rules and a header.
func (c *Check) Check(ctx context.Context, m *filter.Message) filter.Result {
	res, err := c.Results(ctx, m)
	if err != nil {
		return filter.Result{Err: err}
	}
	var r filter.Result
	add := func(name string) {
		score, ok := 0.0, false
		if c.Score != nil {
			score, ok = c.Score(name)
		}
		if !ok {
			score = DefaultScores[name]
		}
		r.Tests = append(r.Tests, filter.Test{Name: name, Score: score, Description: descriptions[name]})
	}
	for _, s := range []*filter.SPF{res.SPF, res.SPFHelo} {
		if s == nil {
			continue
		}
		prefix := "SPF_"
		if s.Identity == "helo" {
			prefix = "SPF_HELO_"
		}
		switch s.Result {
		case "pass", "fail", "softfail", "neutral", "none":
			add(prefix + strings.ToUpper(s.Result))
		case "temperror", "permerror":
			add("T_" + prefix + strings.ToUpper(s.Result))
		}
	}
	if len(res.DKIM) > 0 {
		add("DKIM_SIGNED")
		valid, author := false, false
		authors := authorDomains(m)
		for _, d := range res.DKIM {
			if d.Result == "pass" {
				valid = true
				author = author || authors[d.SigningDomain()]
			}
		}
		switch {
		case valid:
			add("DKIM_VALID")
			if author {
				add("DKIM_VALID_AU")
			}
		default:
			add("DKIM_INVALID")
		}
	}
	switch res.ARC.Result {
	case "pass":
		add("ARC_SIGNED")
		add("ARC_VALID")
	case "fail":
		add("ARC_SIGNED")
		add("ARC_INVALID")
	}
	switch d := res.DMARC; {
	case d.Override != "":
		// Vouched for by a trusted sealer: neither scored nor refused.
	case d.Result == "pass":
		add("DMARC_PASS")
	case d.Result == "fail" && d.Policy == "reject":
		add("DMARC_REJECT")
		if c.DMARCReject {
			r.Refuse = &filter.Refusal{Reason: filter.ReasonDMARC,
				Text:   fmt.Sprintf("Message rejected: it fails the DMARC policy of %s (ref {ref})", d.Domain),
				Detail: "dmarc=fail (p=reject) header.from=" + d.Domain}
		}
	case d.Result == "fail" && d.Policy == "quarantine":
		add("DMARC_QUAR")
	case d.Result == "fail":
		add("DMARC_NONE")
	case d.Result == "none" && d.Domain != "":
		add("DMARC_MISSING")
	}
	r.Headers = []filter.Header{{Name: "Authentication-Results", Value: c.Header(res), Top: true}}
	return r
}

// Verify runs DKIM and DMARC on the message (SPF comes from the envelope).
//
// Only a failure to read the message itself is an error (the check did not run:
// the pipeline tempfails); what the message or DNS got wrong is a result.
func (c *Check) Verify(ctx context.Context, m *filter.Message) (Results, error) {
	res := Results{SPF: m.Env.SPF, SPFHelo: m.Env.SPFHelo}
	forARC := &readErr{r: m.RawReader()}
	var dkimErr error
	res.DKIM, dkimErr = c.Signatures(ctx, m)
	res.ARC = c.ARC(ctx, forARC)
	if err := errors.Join(dkimErr, forARC.err); err != nil {
		return res, fmt.Errorf("auth: read message: %w", err)
	}
	res.DMARC = c.dmarc(ctx, m, res.SPF, res.DKIM)
	if res.DMARC.Result == "fail" && res.ARC.Result == "pass" && c.trusted(res.ARC.Sealer) && res.ARC.oldestDMARCPass() {
		res.DMARC.Override = res.ARC.Sealer
		res.DMARC.Reason = "arc: " + res.ARC.Sealer + " found dmarc=pass"
	}
	return res, nil
}

// Results is Verify once a message: the check and the rules' ARC and DMARC
// evals (rules.Check's Auth) share the one verification, and whichever asks
// second waits for the first's answer.
func (c *Check) Results(ctx context.Context, m *filter.Message) (Results, error) {
	v := m.Once(resultsKey{}, func() any {
		res, err := c.Verify(ctx, m)
		return verified{res, err}
	}).(verified)
	return v.res, v.err
}

// Signatures verifies the message's DKIM signatures, once a message, as
// Results does all of it: the rules' DKIM evals and welcome lists
// (rules.Check's Signatures) ask for these alone, so that they wait for the key
// lookups only (none for an unsigned message), not for DMARC's. The error is a
// failure to read the message.
func (c *Check) Signatures(ctx context.Context, m *filter.Message) ([]DKIMResult, error) {
	v := m.Once(signaturesKey{}, func() any {
		raw := &readErr{r: m.RawReader()}
		return verifiedSigs{c.dkim(ctx, raw), raw.err}
	}).(verifiedSigs)
	return v.sigs, v.err
}

// The keys of a message's verification. They name no check: the auth check a
// message started with and the one a SIGHUP put in place meanwhile (which the
// rules' evals may ask) share one verification.
type (
	resultsKey    struct{}
	signaturesKey struct{}
	verified      struct {
		res Results
		err error
	}
	verifiedSigs struct {
		sigs []DKIMResult
		err  error
	}
)

// readErr remembers a read error other than EOF, which the DKIM and ARC parsers
// would otherwise report as a malformed message.
type readErr struct {
	r   io.Reader
	err error
}

func (e *readErr) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF && e.err == nil {
		e.err = err
	}
	return n, err
}

func (c *Check) trusted(sealer string) bool {
	for _, t := range c.TrustedSealers {
		t = strings.ToLower(t)
		if sealer == t || strings.HasSuffix(sealer, "."+t) {
			return true
		}
	}
	return false
}

func (c *Check) lookup(ctx context.Context) func(string) ([]string, error) {
	return func(name string) ([]string, error) { return c.Resolver.LookupTXT(ctx, name) }
}

func (c *Check) dkim(ctx context.Context, raw *readErr) []DKIMResult {
	max := c.MaxSignatures
	if max <= 0 {
		max = 5
	}
	verifs, err := dkim.VerifyWithOptions(raw, &dkim.VerifyOptions{LookupTXT: c.lookup(ctx), MaxVerifications: max})
	if err != nil && !errors.Is(err, dkim.ErrTooManySignatures) {
		if raw.err != nil {
			return nil // Verify reports the read error
		}
		return []DKIMResult{{Result: "permerror", Reason: err.Error()}}
	}
	out := make([]DKIMResult, 0, len(verifs))
	for _, v := range verifs {
		d := DKIMResult{Result: "pass", Domain: strings.ToLower(v.Domain), AUID: v.Identifier}
		switch {
		case v.Err == nil:
		case dkim.IsTempFail(v.Err):
			d.Result, d.Reason = "temperror", v.Err.Error()
		case dkim.IsPermFail(v.Err):
			d.Result, d.Reason = "permerror", v.Err.Error()
		case strings.Contains(v.Err.Error(), "body length"):
			// l= leaves part of the body unsigned: valid or not, it is not accepted
			// (RFC 8601 2.7.1 "policy").
			d.Result, d.Reason = "policy", v.Err.Error()
		default:
			d.Result, d.Reason = "fail", v.Err.Error()
		}
		out = append(out, d)
	}
	return out
}

// fromDomain is the domain of the single author address of the message; "" when
// there is none or more than one (DMARC then does not apply: RFC 7489 6.6.1).
func fromDomain(m *filter.Message) string {
	if m.Parsed == nil {
		return ""
	}
	fields := m.Parsed.Header.Values("From")
	if len(fields) != 1 {
		return ""
	}
	addrs, err := mail.ParseAddressList(fields[0])
	if err != nil || len(addrs) != 1 {
		return ""
	}
	_, domain, ok := strings.Cut(addrs[0].Address, "@")
	if !ok {
		return ""
	}
	return strings.ToLower(strings.TrimSuffix(domain, "."))
}

// authorDomains are the domains of every From: address (lower case), where
// fromDomain is DMARC's one: a valid signature by one of them is an Author
// Domain Signature (DKIM_VALID_AU), as SpamAssassin's _get_authors has them.
func authorDomains(m *filter.Message) map[string]bool {
	out := map[string]bool{}
	if m.Parsed == nil {
		return out
	}
	for _, f := range m.Parsed.Header.Values("From") {
		addrs, err := mail.ParseAddressList(f)
		if err != nil {
			continue
		}
		for _, a := range addrs {
			if i := strings.LastIndexByte(a.Address, '@'); i >= 0 {
				out[strings.ToLower(strings.TrimRight(a.Address[i+1:], " \t"))] = true
			}
		}
	}
	return out
}

func orgDomain(d string) string {
	if o, err := publicsuffix.EffectiveTLDPlusOne(d); err == nil {
		return o
	}
	return d
}

func aligned(a, b string, mode dmarc.AlignmentMode) bool {
	a, b = strings.ToLower(a), strings.ToLower(b)
	if mode == dmarc.AlignmentStrict {
		return a == b
	}
	return a != "" && orgDomain(a) == orgDomain(b)
}

func (c *Check) dmarc(ctx context.Context, m *filter.Message, spf *filter.SPF, sigs []DKIMResult) DMARCResult {
	r := DMARCResult{Domain: fromDomain(m)}
	if r.Domain == "" {
		r.Result = "none"
		return r
	}
	opts := &dmarc.LookupOptions{LookupTXT: c.lookup(ctx)}
	rec, err := dmarc.LookupWithOptions(r.Domain, opts)
	sub := false
	if errors.Is(err, dmarc.ErrNoPolicy) {
		if org := orgDomain(r.Domain); org != r.Domain {
			rec, err = dmarc.LookupWithOptions(org, opts)
			sub = true
		}
	}
	switch {
	case errors.Is(err, dmarc.ErrNoPolicy):
		r.Result = "none"
		return r
	case dmarc.IsTempFail(err):
		r.Result, r.Reason = "temperror", err.Error()
		return r
	case err != nil:
		r.Result, r.Reason = "permerror", err.Error()
		return r
	}
	r.Policy = string(rec.Policy)
	if sub && rec.SubdomainPolicy != "" {
		r.Policy = string(rec.SubdomainPolicy)
	}
	if rec.Percent != nil && *rec.Percent < 100 && r.Policy == "reject" {
		// A domain still rolling out its policy: RFC 7489 6.6.4 applies the next
		// lower one to the rest; without sampling, all of it.
		r.Policy = "quarantine"
	}
	if spf != nil && spf.Result == "pass" && aligned(spf.Domain, r.Domain, rec.SPFAlignment) {
		r.Result, r.Reason = "pass", "spf"
		return r
	}
	for _, s := range sigs {
		if s.Result == "pass" && aligned(s.Domain, r.Domain, rec.DKIMAlignment) {
			r.Result, r.Reason = "pass", "dkim"
			return r
		}
	}
	r.Result = "fail"
	return r
}

// Header renders the Authentication-Results value.
func (c *Check) Header(res Results) string {
	var rs []authres.Result
	for _, s := range []*filter.SPF{res.SPF, res.SPFHelo} {
		if s == nil {
			continue
		}
		sr := &authres.SPFResult{Value: authres.ResultValue(s.Result)}
		if s.Identity == "helo" {
			sr.Helo = s.Domain
		} else {
			sr.From = s.Sender
		}
		rs = append(rs, sr)
	}
	if len(res.DKIM) == 0 {
		rs = append(rs, &authres.DKIMResult{Value: authres.ResultNone})
	}
	for _, d := range res.DKIM {
		rs = append(rs, &authres.DKIMResult{Value: authres.ResultValue(d.Result), Domain: d.Domain, Reason: d.Reason})
	}
	if res.DMARC.Result != "" {
		d := &authres.DMARCResult{Value: authres.ResultValue(res.DMARC.Result), From: res.DMARC.Domain}
		if res.DMARC.Result != "pass" {
			d.Reason = res.DMARC.Reason
		}
		rs = append(rs, d)
	}
	if res.ARC.Result != "" {
		// go-msgauth's formatter has no method name for its ARCResult.
		rs = append(rs, &authres.GenericResult{Method: "arc", Value: authres.ResultValue(res.ARC.Result)})
	}
	return authres.Format(c.AuthservID, rs)
}

// Ours reports whether an Authentication-Results value claims authservID: such a
// header from outside is a forgery (RFC 8601 5) and is removed on the way in.
func Ours(value, authservID string) bool {
	id, _, _ := strings.Cut(value, ";")
	f := strings.Fields(id)
	return len(f) > 0 && strings.EqualFold(f[0], authservID)
}

var descriptions = map[string]string{
	"SPF_PASS": "SPF: sender matches SPF record", "SPF_FAIL": "SPF: sender does not match SPF record (fail)",
	"SPF_SOFTFAIL": "SPF: sender does not match SPF record (softfail)", "SPF_NEUTRAL": "SPF: sender does not match SPF record (neutral)",
	"SPF_NONE": "SPF: sender does not publish an SPF record", "SPF_HELO_PASS": "SPF: HELO matches SPF record",
	"SPF_HELO_FAIL": "SPF: HELO does not match SPF record (fail)", "SPF_HELO_SOFTFAIL": "SPF: HELO does not match SPF record (softfail)",
	"SPF_HELO_NEUTRAL": "SPF: HELO does not match SPF record (neutral)", "SPF_HELO_NONE": "SPF: HELO does not publish an SPF record",
	"T_SPF_TEMPERROR": "SPF: test of record failed (temperror)", "T_SPF_PERMERROR": "SPF: test of record failed (permerror)",
	"T_SPF_HELO_TEMPERROR": "SPF: test of HELO record failed (temperror)", "T_SPF_HELO_PERMERROR": "SPF: test of HELO record failed (permerror)",
	"DKIM_SIGNED": "Message has a DKIM or DK signature, not necessarily valid", "DKIM_VALID": "Message has at least one valid DKIM or DK signature",
	"DKIM_VALID_AU": "Message has a valid DKIM or DK signature from author's domain", "DKIM_INVALID": "DKIM or DK signature exists, but is not valid",
	"DMARC_PASS": "DMARC pass policy", "DMARC_REJECT": "DMARC reject policy", "DMARC_QUAR": "DMARC quarantine policy",
	"DMARC_NONE": "DMARC none policy", "DMARC_MISSING": "Missing DMARC policy",
	"ARC_SIGNED": "Message has a ARC signature", "ARC_VALID": "Message has a valid ARC signature",
	"ARC_INVALID": "ARC signature exists, but is not valid",
}
