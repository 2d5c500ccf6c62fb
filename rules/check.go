// Package rules scores messages with rule files in SpamAssassin's syntax: it parses
// them (reporting every problem with file:line), translates their Perl regexes to RE2,
// compiles them into an immutable Set, and evaluates a Set against a parsed message.
// A reload builds a whole new Set and swaps it in; a message in flight finishes on the
// Set it started with. See docs/rules.md.
package rules

import (
	"context"
	"strings"
	"sync/atomic"

	"github.com/postern/postern/filter"
)

// GTUBEString is the Generic Test for Unsolicited Bulk Email: a message carrying it
// scores 1000 (a built-in rule), so an operator can test the whole path.
const GTUBEString = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"

// Check is the rules check of the filter pipeline.
type Check struct {
	set atomic.Pointer[Set]
	// Signatures and Auth, when sender authentication is on, give what it
	// found in a message, for the SPF, DKIM, ARC and DMARC evals and the DKIM
	// welcome lists: the auth check's one verification of the message, shared.
	// Signatures is the DKIM signatures alone (their key lookups); Auth all of
	// it (DMARC's lookups too), nil when the auth check could not read the
	// message. Set both, or neither, before the first message.
	Signatures func(ctx context.Context, m *filter.Message) []DKIMSignature
	Auth       func(ctx context.Context, m *filter.Message) *Authentication
}

// NewCheck returns a check evaluating s.
func NewCheck(s *Set) *Check {
	c := &Check{}
	c.set.Store(s)
	return c
}

// Default returns a check with the embedded default rules (and GTUBE).
func Default() *Check {
	s, _ := Load(DefaultPath)
	return NewCheck(s)
}

// GTUBEOnly returns a check with no rules but the built-in GTUBE (for tests, and for
// operators who set rules_paths = []).
func GTUBEOnly() *Check {
	s, _ := Load()
	return NewCheck(s)
}

// Swap installs a new set; messages being checked finish on the old one.
func (c *Check) Swap(s *Set) { c.set.Store(s) }

// Set is the set in use.
func (c *Check) Set() *Set { return c.set.Load() }

// Name implements filter.Check.
func (c *Check) Name() string { return "rules" }

// Check implements filter.Check: the hits scored with Bayes (score set 2) in
// Tests, and without (set 0) in TestsNoBayes, for the pipeline to choose. A message
// that could not be read whole is an error (the pipeline tempfails it), not a
// score of part of it.
func (c *Check) Check(ctx context.Context, m *filter.Message) filter.Result {
	var auth *AuthSource
	if c.Signatures != nil && c.Auth != nil {
		auth = &AuthSource{
			Signatures: func() []DKIMSignature { return c.Signatures(ctx, m) },
			All:        func() *Authentication { return c.Auth(ctx, m) },
		}
	}
	hits, err := c.set.Load().EvalAuthenticated(m, auth)
	if err != nil {
		return filter.Result{Err: err}
	}
	r := filter.Result{TestsNoBayes: []filter.Test{}}
	for _, h := range hits {
		if strings.HasPrefix(h.Rule.Name, "__") {
			continue
		}
		t := filter.Test{Name: h.Rule.Name, Description: h.Describe(), NoAutolearn: h.Rule.TFlags["noautolearn"]}
		if t.Score = h.Scores[1]; t.Score != 0 {
			r.Tests = append(r.Tests, t)
		}
		if t.Score = h.Scores[0]; t.Score != 0 {
			r.TestsNoBayes = append(r.TestsNoBayes, t)
		}
	}
	return r
}
