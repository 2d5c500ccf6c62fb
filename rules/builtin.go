// Package rules scores messages with rules. For now it holds the built-in rules every
// installation has; rule files in SpamAssassin's syntax will be compiled here too.
package rules

import (
	"context"
	"strings"

	"github.com/postern/postern/filter"
)

// GTUBEString is the Generic Test for Unsolicited Bulk Email: a message carrying it
// scores 1000, so an operator can test the whole path, as with SpamAssassin and rspamd.
const GTUBEString = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"

// Builtin is the check for the rules compiled into Postern.
type Builtin struct{}

// Name implements filter.Check.
func (Builtin) Name() string { return "rules" }

// Check implements filter.Check. Like SpamAssassin's body rules it reads the decoded
// text parts with the Subject first, so an encoded GTUBE is found too.
func (Builtin) Check(ctx context.Context, m *filter.Message) filter.Result {
	var r filter.Result
	found := strings.Contains(m.Parsed.Subject(), GTUBEString)
	for _, p := range m.Parsed.Parts {
		if found {
			break
		}
		found = strings.Contains(p.Text, GTUBEString)
	}
	if found {
		// noautolearn, as in SpamAssassin: a test message must not teach the classifier.
		r.Tests = append(r.Tests, filter.Test{Name: "GTUBE", Score: 1000, NoAutolearn: true,
			Description: "BODY: Generic Test for Unsolicited Bulk Email"})
	}
	return r
}
