package filter

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"sort"
	"strings"
	"time"

	"github.com/postern/postern/recipients"
	"github.com/postern/postern/scan"
)

// Policy turns results into a verdict. It mirrors the configuration's verdict settings
// (the top-level scores, [recipients], limits.scan_limit, the replies).
type Policy struct {
	RequiredScore float64
	RejectScore   float64
	OnErrorAccept bool          // on_error = "accept"
	Timeout       time.Duration // all checks of one message together
	// ScanLimit: a message larger than this (0: no limit) is not scored. The
	// checks that look for malware (VirusScanner: clamd, banned attachments)
	// still run, as amavisd-new still scans a message too large for
	// SpamAssassin, so that padding a message past the limit does not carry a
	// virus or a program through; so do those that authenticate its sender
	// (SenderAuthenticator: DKIM, DMARC), for a forgery padded alike. With
	// AcceptTooLarge false (on_too_large = "tempfail") such a message is
	// tempfailed unread instead.
	ScanLimit      int64
	AcceptTooLarge bool
	ReportHeader   string // "never", "spam", "always"
	// SubjectTag, when set, is put in front of the Subject of a message accepted
	// as spam (Verdict.SubjectTag), _SCORE_ and _REQD_ in it filled in.
	SubjectTag string
	// Recipients are recipients' own scores and Subject tag, which replace the
	// three above for their mail. A message's recipients share one entry (the
	// envelope checks see to it), so the first recipient's decides.
	Recipients *recipients.Table
	Version    string // shown in X-Spam-Status
	Replies    ReplyTexts
	// KeepSpam and KeepMalware say what happens to a message the verdict
	// refuses ([quarantine] spam and virus): KeepMalware for a virus or a
	// banned file, KeepSpam for the rest. The milter acts on them
	// (milter.RejectAndKeep, Hold, RejectOnly; "" is RejectAndKeep); they are
	// here so that a SIGHUP changes them with the other verdict settings.
	KeepSpam, KeepMalware string
	// Learner, when set, is given the messages to autolearn: those scoring at least
	// AutolearnSpam or at most AutolearnHam, counting neither the Bayes pseudo-rules
	// nor rules tagged noautolearn (SpamAssassin's rule). postern check sets none.
	Learner       Learner
	AutolearnSpam float64
	AutolearnHam  float64
	// AutolearnVeto: autolearning only what Bayes agrees with. Nothing is learned
	// as ham at a spam probability of AutolearnVeto or more, nor as spam at
	// 1 − AutolearnVeto or less, nor anything without a probability (cold start).
	// 0: no veto.
	AutolearnVeto float64
}

// Learner learns a message as spam or ham. bayes is the spam probability the Bayes
// check gave it (nil: none), so the learner can pass over what it is already sure of
// without tokenizing the message again.
type Learner interface {
	Autolearn(m *Message, spam bool, bayes *float64)
}

// ReplyTexts are the operator's reply texts; {ref} and {virus} are filled in.
type ReplyTexts struct {
	Spam, Virus, TempFail, TooLarge string
}

// Pipeline runs the checks on a message and decides.
type Pipeline struct {
	Checks []Check
	Policy
}

// ErrPanic wraps a panic recovered from a check or from parsing.
var ErrPanic = errors.New("panic")

// Run parses the message once, runs every check concurrently under the deadline and
// returns the verdict. It never returns without one: failures become TempFail (or, with
// on_error = accept, an Accept that names what was skipped).
func (p *Pipeline) Run(ctx context.Context, env *Envelope, raw io.ReaderAt, size int64, ref string) (v Verdict) {
	start := time.Now()
	defer func() {
		if r := recover(); r != nil {
			v = p.TempFail(ref, fmt.Errorf("filter: %w: %v\n%s", ErrPanic, r, debug.Stack()))
		}
		v.Duration = time.Since(start)
	}()
	if env == nil {
		env = &Envelope{}
	}
	tooLarge := "" // why the message is too large to score
	if p.ScanLimit > 0 && size > p.ScanLimit {
		tooLarge = fmt.Sprintf("message size %d exceeds scan_limit %d", size, p.ScanLimit)
		if !p.AcceptTooLarge {
			return p.Unscanned(ref, tooLarge)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, p.Timeout)
	defer cancel()

	msg := &Message{Env: env, Raw: raw, Size: size, Parsed: &scan.Message{}}
	var times []Timing
	checks := start // where the checks' times begin: the parse's end, no gap between
	if len(p.Checks) > 0 {
		parsed, err := scan.Parse(io.NewSectionReader(raw, 0, size))
		if err != nil {
			return p.TempFail(ref, fmt.Errorf("filter: parse: %w", err))
		}
		msg.Parsed = parsed
		checks = time.Now()
		times = append(times, Timing{"parse", checks.Sub(start)})
	}

	results := p.runChecks(ctx, msg, checks, env.SkipScoring, tooLarge != "")
	v = p.decide(ref, env, results, tooLarge)
	for i, r := range results {
		if !skipped(env.SkipScoring, tooLarge != "", p.Checks[i]) {
			times = append(times, Timing{r.Check, r.Duration})
			times = append(times, r.Times...)
		}
	}
	v.Times = times
	if p.Learner != nil && v.Autolearn != "no" && v.Virus == "" && len(v.Errors) == 0 {
		p.Learner.Autolearn(msg, v.Autolearn == "spam", v.Bayes)
	}
	return v
}

// skipped says whether check c does not run for a message that is not scored:
// an allow-listed one is only looked at for malware, one over scan_limit for
// malware and for who sent it.
func skipped(allowListed, tooLarge bool, c Check) bool {
	if _, virus := c.(VirusScanner); virus {
		return false
	}
	if _, auth := c.(SenderAuthenticator); auth {
		return allowListed
	}
	return allowListed || tooLarge
}

// runChecks runs every check in its own goroutine and collects their results until
// all are in or the deadline passes; a check still running then counts as failed.
// Each check's Duration runs from start: the parse's end, so that the parse's time
// and a check's add up to the message's time so far (a check that missed the
// deadline counted up to it, which runs from before the parse).
func (p *Pipeline) runChecks(ctx context.Context, msg *Message, start time.Time, allowListed, tooLarge bool) []Result {
	type indexed struct {
		i int
		r Result
	}
	ch := make(chan indexed, len(p.Checks)) // buffered: a late check never blocks
	for i, c := range p.Checks {
		if skipped(allowListed, tooLarge, c) {
			ch <- indexed{i, Result{Check: c.Name()}} // not scored
			continue
		}
		go func(i int, c Check) {
			var r Result
			defer func() {
				if x := recover(); x != nil {
					r = Result{Err: fmt.Errorf("%w: %v\n%s", ErrPanic, x, debug.Stack())}
				}
				r.Check, r.Duration = c.Name(), time.Since(start)
				ch <- indexed{i, r}
			}()
			r = c.Check(ctx, msg)
			if r.Err == nil && ctx.Err() != nil {
				// A check that returns after the deadline may have stopped short
				// (parts not scanned) without saying so: it did not finish.
				r.Err = fmt.Errorf("%s: %w", c.Name(), ctx.Err())
			}
		}(i, c)
	}
	results := make([]Result, len(p.Checks))
	done := make([]bool, len(p.Checks))
	for n := 0; n < len(p.Checks); n++ {
		select {
		case x := <-ch:
			results[x.i], done[x.i] = x.r, true
		case <-ctx.Done():
			for i, c := range p.Checks {
				if !done[i] {
					results[i] = Result{Check: c.Name(), Err: fmt.Errorf("%s: %w", c.Name(), ctx.Err()), Duration: time.Since(start)}
				}
			}
			return results
		}
	}
	return results
}

// thresholds are the required and reject scores and the Subject tag for env's
// recipients, and the [recipients] entry they come from ("" for the global ones).
func (p *Policy) thresholds(env *Envelope) (required, reject float64, tag, entry string) {
	required, reject, tag = p.RequiredScore, p.RejectScore, p.SubjectTag
	if env == nil || len(env.Rcpts) == 0 {
		return required, reject, tag, ""
	}
	s := p.Recipients.Lookup(env.Rcpts[0])
	if s == nil {
		return required, reject, tag, ""
	}
	required, reject = s.Scores(required, reject)
	if s.SubjectTag != nil {
		tag = *s.SubjectTag
	}
	return required, reject, tag, s.Key
}

// decide turns the checks' results into the verdict. tooLarge, when not "", is
// why the message was too large to score (an allow-listed one is not scored
// either: Envelope.SkipScoring).
func (p *Pipeline) decide(ref string, env *Envelope, results []Result, tooLarge string) Verdict {
	required, reject, tag, entry := p.thresholds(env)
	v := Verdict{Ref: ref, Required: required, Settings: entry, Reason: ReasonClean}
	// The envelope checks' points count for the verdict and for autolearning (as
	// SpamAssassin's network tests do in its score sets 1 and 3).
	v.Tests = append(v.Tests, env.PolicyTests...)
	learnTests := append([]Test(nil), env.PolicyTests...)
	var refuse *Refusal
	marked := ""
	switch {
	case tooLarge != "":
		// Not a failure (no error, no tempfail with on_error), but said in the
		// header as a failed check is: the recipient sees the mail was not scored.
		v.Skipped = append(v.Skipped, "content scoring ("+tooLarge+")")
	case env.SkipScoring:
		v.Notes = append(v.Notes, "allow-listed: content scoring skipped")
	}
	for _, r := range results {
		if r.Err == nil && r.Bayes != nil {
			v.Bayes = r.Bayes
		}
	}
	for _, r := range results {
		if r.Err != nil {
			v.Errors = append(v.Errors, fmt.Errorf("check %s: %w", r.Check, r.Err))
			v.Skipped = append(v.Skipped, fmt.Sprintf("%s (%s)", r.Check, firstLine(r.Err.Error())))
			continue
		}
		if v.Bayes == nil && r.TestsNoBayes != nil {
			v.Tests = append(v.Tests, r.TestsNoBayes...)
		} else {
			v.Tests = append(v.Tests, r.Tests...)
		}
		// Autolearning judges by the scores meant for doing without Bayes, as
		// SpamAssassin does: the classifier must not learn from its own opinion.
		if r.TestsNoBayes != nil {
			learnTests = append(learnTests, r.TestsNoBayes...)
		} else {
			learnTests = append(learnTests, r.Tests...)
		}
		if r.Virus != "" && v.Virus == "" {
			v.Virus, v.VirusPart = r.Virus, r.VirusPart
		}
		if r.Refuse != nil && refuse == nil {
			refuse = r.Refuse
		}
		if r.Marked != "" && marked == "" {
			marked = r.Marked
		}
		v.Headers = append(v.Headers, r.Headers...)
		v.Notes = append(v.Notes, r.Notes...)
	}
	if len(v.Errors) > 0 && !p.OnErrorAccept {
		return p.TempFail(ref, errors.Join(v.Errors...))
	}
	sort.Slice(v.Tests, func(i, j int) bool { return v.Tests[i].Name < v.Tests[j].Name })
	for _, t := range v.Tests {
		v.Score += t.Score
	}
	v.Spam = v.Score >= required
	v.Autolearn = p.autolearn(v, learnTests)
	if env.SkipScoring || tooLarge != "" {
		v.Autolearn = "no" // not scored: nothing to learn from
	}
	switch {
	case env.NoReject:
		v.Action = Accept
		if v.Spam {
			v.Reason = ReasonSpam
		}
		if refuse != nil && v.Virus == "" {
			// (as a refusal's reason outranks spam's when nothing is delivered)
			v.Reason, v.Detail = refuse.Reason, refuse.Detail
		}
		if v.Virus != "" {
			v.Reason = ReasonVirus
			v.Headers = append(v.Headers, Header{Name: "X-Virus-Status", Value: "Infected (" + v.Virus + ")"})
		}
		if v.Virus != "" || v.Score >= reject || refuse != nil {
			v.Notes = append(v.Notes, "a role account is a recipient: tagged, not rejected")
		}
	case v.Virus != "":
		v.Action, v.Reason, v.Detail = Reject, ReasonVirus, v.VirusPart
		v.Reply = Reply{554, "5.7.1", p.text(p.Replies.Virus, ref, v.Virus)}
	case refuse != nil:
		v.Action, v.Reason, v.Detail = Reject, refuse.Reason, refuse.Detail
		v.Reply = Reply{550, "5.7.1", p.text(refuse.Text, ref, "")}
	case v.Score >= reject:
		v.Action, v.Reason = Reject, ReasonSpam
		v.Reply = Reply{550, "5.7.1", p.text(p.Replies.Spam, ref, "")}
	default:
		v.Action = Accept
		if v.Spam {
			v.Reason = ReasonSpam
		}
		if marked != "" {
			v.Reason = marked
		}
	}
	if tooLarge != "" && v.Reason == ReasonClean {
		v.Reason = ReasonUnscanned // not called clean: its content was not scored
	}
	if v.Action == Accept && v.Spam && tag != "" {
		v.SubjectTag = strings.NewReplacer("_SCORE_", fmt.Sprintf("%.1f", v.Score), "_REQD_", fmt.Sprintf("%.1f", v.Required)).Replace(tag)
	}
	v.Headers = append(p.spamHeaders(&v), v.Headers...)
	if len(v.Skipped) > 0 {
		v.Headers = append(v.Headers, Header{Name: "X-Postern-Skipped", Value: strings.Join(v.Skipped, ", ")})
	}
	return v
}

// autolearn decides "spam", "ham" or "no" for a verdict: never with a skipped check
// or a noautolearn hit; otherwise AutolearnClass of the score without Bayes, its
// tests scored as without Bayes (TestsNoBayes, SpamAssassin's score set 0).
func (p *Pipeline) autolearn(v Verdict, tests []Test) string {
	if p.Learner == nil || len(v.Skipped) > 0 {
		return "no"
	}
	var s float64
	for _, t := range tests {
		if t.NoAutolearn {
			return "no" // SpamAssassin: such a hit keeps the message out of autolearning
		}
		if !t.Bayes {
			s += t.Score
		}
	}
	return p.AutolearnClass(s, v.Bayes)
}

// AutolearnClass decides "spam", "ham" or "no" from a score without Bayes (and
// without noautolearn rules), so the classifier does not feed on its own opinion,
// and from the Bayes probability (nil: none, as in cold start) for the veto.
// bayeseval's simulation of autolearning calls it too.
//
// Bayes can still stop it (AutolearnVeto), never start it. SpamAssassin learns as
// ham whatever its rules leave at 0.1 or less, which with its thousands of rules
// and network tests is mostly ham. With Postern's twenty default rules it is most
// mail: 839 of the corpus' 3,034 spam score 0.1 or less, and none reaches 12, so
// only "ham" is ever learned and a fifth of it is spam. In a simulation of serve's
// autolearning on the corpus (bayeseval -autolearn-sim, docs/bayes.md) that took
// false negatives at 0.90 from 399 (only what the operator taught) to 2,298;
// learning only what Bayes puts below 0.2, and nothing in cold start, left 490.
// What Bayes disagrees with is the postmaster's to teach (postern learn,
// quarantine release --learn-ham).
func (p Policy) AutolearnClass(s float64, bayes *float64) string {
	veto := p.AutolearnVeto > 0
	if veto && bayes == nil {
		return "no" // cold start: no opinion to check the rules' label against
	}
	switch {
	case s >= p.AutolearnSpam:
		if veto && *bayes <= 1-p.AutolearnVeto {
			return "no"
		}
		return "spam"
	case s <= p.AutolearnHam:
		if veto && *bayes >= p.AutolearnVeto {
			return "no"
		}
		return "ham"
	}
	return "no"
}

// TempFail is the verdict for any internal failure: the sender keeps the message and
// retries, so nothing is lost.
func (p *Pipeline) TempFail(ref string, err error) Verdict {
	return Verdict{
		Ref: ref, Action: TempFail, Reason: ReasonError, Required: p.RequiredScore,
		Reply:  Reply{451, "4.7.1", p.text(p.Replies.TempFail, ref, "")},
		Errors: []error{err},
	}
}

// Unscanned is the verdict for a message too large to read that the operator
// chose not to take unscored (on_too_large = "tempfail"): 451, and the sender
// keeps it.
func (p *Pipeline) Unscanned(ref, why string) Verdict {
	v := p.TempFail(ref, errors.New(why))
	v.Reason = ReasonUnscanned
	return v
}

// TooLarge is the verdict for a message over the hard size cap.
func (p *Pipeline) TooLarge(ref string) Verdict {
	return Verdict{
		Ref: ref, Action: Reject, Reason: ReasonTooLarge, Required: p.RequiredScore,
		Reply: Reply{552, "5.3.4", p.text(p.Replies.TooLarge, ref, "")},
	}
}

// text fills in a reply template. Reply texts reach the SMTP client verbatim, so only
// printable ASCII survives, and no '%', which some MTAs treat as a format directive.
func (p *Pipeline) text(tmpl, ref, virus string) string {
	s := strings.NewReplacer("{ref}", ref, "{virus}", virus).Replace(tmpl)
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '%' {
			return -1
		}
		return r
	}, s)
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}
