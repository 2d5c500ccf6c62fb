package rules

import (
	"regexp"
	"strings"
)

// SpamAssassin's WelcomeListSubject plugin (Debian loads it: v310.pre):
// welcomelist_subject and blocklist_subject name strings, with file-glob * and ?,
// that welcome or refuse a message whose Subject holds one anywhere, case aside.
// The stock rules score them -100 and 100 (SUBJECT_IN_WELCOMELIST,
// SUBJECT_IN_BLOCKLIST): a ticket system's "[Bug *]", a newsletter's tag.

// subjectLists are the two lists: each value as written (lower case), and the
// regexp of all of a list's values, made when the rule files are read.
type subjectLists struct {
	values map[string]map[string]bool // list → value
	res    map[string]*regexp.Regexp  // list → its values' regexps, as one alternation
}

// directive reads welcomelist_subject or blocklist_subject (SpamAssassin
// 4's names): the rest of the line is one string, its inner spaces included.
func (l *subjectLists) directive(word, rest string) bool {
	if word != "welcomelist_subject" && word != "blocklist_subject" {
		return false
	}
	v := strings.ToLower(strings.ReplaceAll(rest, `\#`, "#")) // (a # starts a comment; \# is one)
	if v == "" {
		return true
	}
	if l.values == nil {
		l.values = map[string]map[string]bool{}
	}
	if l.values[word] == nil {
		l.values[word] = map[string]bool{}
	}
	l.values[word][v] = true
	return true
}

// compile makes each list's regexp, as the plugin makes each value's: the
// characters but * and ?, letters, digits and _ escaped, ? one character, a run
// of * any string; unanchored, so a value may stand anywhere in the Subject.
// (Both never cross a line: Perl's . as Go's.)
func (l *subjectLists) compile() {
	l.res = map[string]*regexp.Regexp{}
	for list, values := range l.values {
		var alt []string
		for v := range values {
			var b strings.Builder
			b.WriteString("(?:")
			for i := 0; i < len(v); i++ {
				switch c := v[i]; {
				case c == '?':
					b.WriteByte('.')
				case c == '*':
					b.WriteString(".*")
					for i+1 < len(v) && v[i+1] == '*' {
						i++
					}
				default:
					b.WriteString(regexp.QuoteMeta(v[i : i+1]))
				}
			}
			b.WriteString(")")
			alt = append(alt, b.String())
		}
		if len(alt) > 0 {
			// Each piece is quoted: the alternation always compiles.
			l.res[list] = regexp.MustCompile(strings.Join(alt, "|"))
		}
	}
}

// subjectListed is _check_subject: the Subject (lower case) is a value of the
// list, or holds a match of one.
func (t *target) subjectListed(list string) bool {
	l := &t.set.lists.subjects
	re := l.res[list]
	if re == nil {
		return false
	}
	subject := t.get("Subject")
	if subject == "" {
		return false
	}
	subject = strings.ToLower(subject)
	return l.values[list][subject] || re.MatchString(subject)
}

func init() {
	for _, n := range []string{"check_subject_in_welcomelist", "check_subject_in_whitelist"} {
		fixed("WelcomeListSubject", n, func(t *target) bool { return t.subjectListed("welcomelist_subject") })
	}
	for _, n := range []string{"check_subject_in_blocklist", "check_subject_in_blacklist"} {
		fixed("WelcomeListSubject", n, func(t *target) bool { return t.subjectListed("blocklist_subject") })
	}
}
