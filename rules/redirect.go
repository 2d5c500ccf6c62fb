package rules

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/dlclark/regexp2"

	"github.com/postern/postern/filter"
	"github.com/postern/postern/scan"
)

// A redirector is a redirector_pattern: a link through a service that sends
// the reader on (Google's translate?u=, url?q=, a site's redirect.php?goto=)
// carries its target in its own text, and the pattern's first group is that
// target, which the uri rules and the URI block lists then read too.
// SpamAssassin's stock rules (20_uri_tests.cf, 72_active.cf) name the common
// ones. Phishing hides its site behind them (translate?u=site/login.php): the
// target has no scheme, so the generic check for an http link in a query
// (canonicalURIs) does not find it.
type redirector struct {
	re    *regexp.Regexp  // the pattern, or where RE2 cannot run it a looser form that only filters
	exact *regexp2.Regexp // the pattern itself when RE2 cannot run it (lookbehind), else nil
	// lits are lower-case strings of which a match holds one (requiredLiterals):
	// a link with none is passed by without running the pattern, which, not
	// anchored, RE2 tried at each of its characters.
	lits []string
}

// parseRedirector compiles a redirector_pattern's Perl regex.
func parseRedirector(s string) (redirector, error) {
	src, lits, exact, err := ruleRegex(s)
	if err != nil {
		return redirector{}, err
	}
	re, err := regexp.Compile(src)
	if err != nil {
		return redirector{}, fmt.Errorf("regex %s: %w", s, err)
	}
	return redirector{re: re, exact: exact, lits: lits}, nil
}

// target is the pattern's first group in link, if it matched and the group
// holds a dot (uri_list_canonicalize's "next unless defined $1 && index($1,
// '.') != -1"): "" otherwise.
func (r redirector) target(link string) string {
	if r.lits != nil && !slices.ContainsFunc(r.lits, func(l string) bool { return indexFold(link, l) >= 0 }) {
		return ""
	}
	var t string
	if r.exact == nil {
		m := r.re.FindStringSubmatch(link)
		if len(m) < 2 {
			return ""
		}
		t = m[1]
	} else {
		if !r.re.MatchString(link) {
			return ""
		}
		m, err := r.exact.FindStringMatch(link)
		if err != nil || m == nil || len(m.Groups()) < 2 {
			return "" // (a timeout: a hostile link is no target)
		}
		t = m.Groups()[1].String()
	}
	if strings.IndexByte(t, '.') < 0 {
		return ""
	}
	return t
}

// redirectKey is where a message's links with their redirectors' targets are
// kept, for one set (Set.MessageURIs).
type redirectKey struct{ s *Set }

// MessageURIs is the links of the message the uri rules read (MessageURIs),
// with the targets of the links the set's redirector_pattern lines match,
// worked out once a message for the set: its rules and the URI block lists
// each read the first one's. Callers must not change it.
func (s *Set) MessageURIs(m *filter.Message) []string {
	if m.Parsed == nil {
		return nil
	}
	if len(s.redirectors) == 0 {
		return readingOf(m, s.scanSizes.body).uris
	}
	return m.Once(redirectKey{s}, func() any { return s.redirected(readingOf(m, s.scanSizes.body).uris) }).([]string)
}

// URIs is the package's URIs, read with the set's body_part_scan_size, with
// the set's redirectors' targets: what `postern check --uris` shows.
func (s *Set) URIs(m *scan.Message) []string { return s.redirected(read(m, s.scanSizes.body).uris) }

// redirected adds to links the targets the set's redirectors find in them,
// and their canonical forms (canonicalURIs, which finds a target's own
// generic redirect), then the targets of those, as uri_list_canonicalize
// takes a target back into its list; the first pattern that matches a link
// wins. The link a pattern reads is the canonical one (escapes decoded),
// which links holds beside the link as written.
func (s *Set) redirected(links []string) []string {
	if len(s.redirectors) == 0 {
		return links
	}
	out := links
	var seen map[string]bool // made when the first target is found: most messages have none
	for i := 0; i < len(out) && len(out) < 400; i++ {
		// What a pattern reads is the link's canonical form, escapes decoded
		// (translate?u=site/a.php?x=1%26y=2 ends its target at the &), its
		// user part left out ("$proto$host$rest").
		n := canonicalForm(out[i])
		proto, auth, host, rest, _, ok := uriParts(n)
		if !ok {
			continue
		}
		if auth != "" {
			n = proto + host + rest
		}
		for _, r := range s.redirectors {
			t := r.target(n)
			if t == "" {
				continue
			}
			if seen == nil {
				seen = make(map[string]bool, len(links)+4)
				for _, u := range links {
					seen[u] = true
				}
				out = slices.Clone(links) // links is the reading's: shared
			}
			if !seen[t] {
				for _, f := range canonicalURIs([]string{t}) {
					if !seen[f] {
						seen[f] = true
						out = append(out, f)
					}
				}
			}
			break
		}
	}
	return out
}
