// Package recipients holds the settings recipients have of their own ([recipients]
// in the configuration, keyed by address, @domain or @.domain for its subdomains): the score at which their mail is spam, the score at which
// it is refused, and the tag put in front of its Subject. A multi-domain host's
// customers, or one user who wants spam tagged and never refused (amavisd-new's
// spam_lovers), each get theirs.
//
// One reply at end of data answers for every recipient of a message, so the
// recipients of one message must share their settings: the envelope checks answer
// a recipient whose entry differs from the first accepted one's with 452 4.5.3, and
// the sender sends it again in a message of its own (policy.Policy.Class). The
// pipeline then decides by the first recipient's entry (Lookup).
package recipients

import (
	"errors"
	"fmt"
	"strings"
)

// Settings are one entry's values; a nil field keeps the global setting.
type Settings struct {
	Key           string // as configured: "user@example.org", "@example.org" or "@.example.org"
	RequiredScore *float64
	RejectScore   *float64
	SubjectTag    *string
}

// Scores are the required and reject scores for this entry's mail: its own,
// or the global ones given where it leaves one out.
func (s *Settings) Scores(required, reject float64) (float64, float64) {
	if s.RequiredScore != nil {
		required = *s.RequiredScore
	}
	if s.RejectScore != nil {
		reject = *s.RejectScore
	}
	return required, reject
}

// Table finds a recipient's entry: its address first, then its domain, then
// the nearest of its parent domains with an "@.parent" entry. The nil Table has
// no entries.
type Table struct {
	addrs   map[string]*Settings
	domains map[string]*Settings
	parents map[string]*Settings // "@.example.org": example.org's subdomains
}

// ErrKey is what a key that is none of the three forms is told.
var ErrKey = errors.New("want an address or @domain (or @.domain, for its subdomains)")

// CheckKey says what is wrong with a key, nil when it is an address, "@domain"
// or "@.domain" (its subdomains, as Postfix reads ".domain"): the form of
// [recipients] and [attachments] exempt_rcpts.
func CheckKey(k string) error {
	key := strings.TrimSpace(k)
	local, domain, ok := strings.Cut(key, "@")
	if strings.HasPrefix(domain, ".") && local == "" {
		domain = domain[1:]
	}
	if !ok || domain == "" || strings.ContainsAny(key, " \t<>") || strings.Contains(domain, "@") ||
		strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") || strings.Contains(domain, "..") {
		return fmt.Errorf("recipients: %q: %w", k, ErrKey)
	}
	return nil
}

// New builds a table from entries keyed by an address or "@domain" (case ignored).
func New(entries map[string]Settings) (*Table, error) {
	t := newTable()
	for k, s := range entries {
		if err := CheckKey(k); err != nil {
			return nil, err
		}
		s.Key = k
		if !t.add(k, &s) {
			return nil, fmt.Errorf("recipients: %q: given twice (case is ignored)", k)
		}
	}
	return t, nil
}

// NewSet is a table of keys without settings of their own, for telling who is
// in it (Lookup != nil), such as [attachments] exempt_rcpts. A key given twice
// counts once.
func NewSet(keys []string) (*Table, error) {
	t := newTable()
	for _, k := range keys {
		if err := CheckKey(k); err != nil {
			return nil, err
		}
		t.add(k, &Settings{Key: k})
	}
	return t, nil
}

func newTable() *Table {
	return &Table{addrs: map[string]*Settings{}, domains: map[string]*Settings{}, parents: map[string]*Settings{}}
}

// add files s under key (checked), unless the key is there already.
func (t *Table) add(k string, s *Settings) bool {
	key := strings.ToLower(strings.TrimSpace(k))
	local, domain, _ := strings.Cut(key, "@")
	m := t.addrs
	switch {
	case local == "" && strings.HasPrefix(domain, "."):
		m, key = t.parents, domain[1:]
	case local == "":
		m, key = t.domains, domain
	}
	if _, dup := m[key]; dup {
		return false
	}
	m[key] = s
	return true
}

// Len is the number of entries.
func (t *Table) Len() int {
	if t == nil {
		return 0
	}
	return len(t.addrs) + len(t.domains) + len(t.parents)
}

// NormalizeAddr lower-cases an envelope address and strips its angle brackets;
// the null sender is "". Every envelope check and table compares addresses so.
func NormalizeAddr(addr string) string {
	addr = strings.TrimSpace(addr)
	addr = strings.TrimSuffix(strings.TrimPrefix(addr, "<"), ">")
	return strings.ToLower(addr)
}

// Lookup returns rcpt's entry, nil when none applies. An address with a
// +extension (user+news@example.org) falls under user@example.org's entry when it
// has none of its own. A domain's own entry wins over its parents'; of those,
// the nearest: mail.dept.example.org falls under "@.dept.example.org" before
// "@.example.org".
func (t *Table) Lookup(rcpt string) *Settings {
	if t.Len() == 0 {
		return nil
	}
	addr := NormalizeAddr(rcpt)
	local, domain, ok := strings.Cut(addr, "@")
	if !ok {
		return nil
	}
	if s := t.addrs[addr]; s != nil {
		return s
	}
	if i := strings.IndexByte(local, '+'); i > 0 {
		if s := t.addrs[local[:i]+"@"+domain]; s != nil {
			return s
		}
	}
	if s := t.domains[domain]; s != nil {
		return s
	}
	for d := domain; len(t.parents) > 0; {
		_, parent, ok := strings.Cut(d, ".")
		if !ok {
			return nil
		}
		if s := t.parents[parent]; s != nil {
			return s
		}
		d = parent
	}
	return nil
}
