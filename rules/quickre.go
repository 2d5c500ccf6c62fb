package rules

import (
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"
)

// quickRegexp is a Go regexp that the parts of the check written in Go (the
// Received parser, the eval tests) run on text after text, asked first whether it
// can match at all: most of the texts it is tried on hold no match, and Go's
// regexp finds that out only by trying the expression from every byte of the
// text (for a literal prefix, it skips to it; most expressions here have none).
//
// Two answers come before the regexp. The literals every match holds (the rules'
// prefilter, literals.go): a text without one cannot match. Then the regex's DFA
// (dfa.go, the rules' own automaton), which says whether it matches anywhere in
// one pass. Only a match it confirms, when a caller needs the match's place or
// submatches, goes on to Go's regexp; a DFA that gives up (too many states)
// leaves the question to it too. Its methods answer as Go's regexp's do
// (TestQuickAgrees holds them to it), so a regexp.MustCompile in such code can be
// quick instead, where most texts miss: MatchString is the DFA's walk in place
// of the regexp's, but the Find and Replace methods run the regexp after it, so
// for an expression most of whose texts match (a CSS declaration's "name:
// value"), they would be work done twice. The Received parser's regexps were
// the first: looking for the literals first divided the parser's cost by
// several.
type quickRegexp struct {
	*regexp.Regexp
	lits []string // lower-case ASCII; nil: no prefilter
	// foldRisk: a literal holds a k or an s the regexp matches in either case,
	// and so also as the Kelvin sign or the long s (U+212A, U+017F), which
	// indexFold does not take for them: a text holding one of those is asked
	// of the DFA even when it holds none of the literals.
	foldRisk bool

	once sync.Once
	d    *dfa // nil: too many rune classes (the regexp answers alone)

	// family, when set, is the family the regexp belongs to (quickFamily.add),
	// and famIDs its literals' ids in the family's index, set with the index
	// (nil: the scan cannot answer for it).
	family *quickFamily
	famIDs []int32
}

// quick compiles a quickRegexp, as regexp.MustCompile, for the package's own
// expressions (package-level variables): each is also kept in quickAll, for the
// test that they answer as Go's regexp does.
func quick(s string) *quickRegexp {
	x, err := quickCompile(s)
	if err != nil {
		panic("rules: quick(" + s + "): " + err.Error())
	}
	quickAll.Lock()
	quickAll.list = append(quickAll.list, x)
	quickAll.Unlock()
	return x
}

// quickCompile compiles a quickRegexp, as regexp.Compile: for expressions made
// as rules load (from their arguments), which a set that is loaded again
// replaces.
func quickCompile(s string) (*quickRegexp, error) {
	r, err := regexp.Compile(s)
	if err != nil {
		return nil, err
	}
	x := &quickRegexp{Regexp: r, lits: requiredLiterals(s)}
	for _, l := range x.lits {
		if strings.ContainsFunc(l, func(c rune) bool { return c >= utf8.RuneSelf }) {
			x.lits = nil // indexFold folds ASCII only
			break
		}
		if strings.ContainsAny(l, "ks") {
			x.foldRisk = true
		}
	}
	if x.foldRisk {
		re, err := syntax.Parse(s, syntax.Perl)
		x.foldRisk = err != nil || foldsCase(re)
	}
	return x, nil
}

// foldsCase reports whether any part of re matches its letters in either case.
func foldsCase(re *syntax.Regexp) bool {
	return re.Flags&syntax.FoldCase != 0 || slices.ContainsFunc(re.Sub, foldsCase)
}

// quickAll is every quickRegexp made, for TestQuickAgrees.
var quickAll struct {
	sync.Mutex
	list []*quickRegexp
}

// quickNoPrefilter turns the answers before the regexp off (for the tests that
// they change nothing).
var quickNoPrefilter bool

// test says whether the regexp matches s when sure is true; otherwise the regexp
// must be asked.
func (x *quickRegexp) test(s string) (matched, sure bool) { return x.testIn(nil, s) }

// testIn is test for a text s that sc scanned, or a part of it (a literal the
// scan did not find is in no part either); sc nil, or the scan of another
// family's, leaves the literals to be looked for in s.
func (x *quickRegexp) testIn(sc *quickScope, s string) (matched, sure bool) {
	if quickNoPrefilter {
		return false, false
	}
	if x.lits != nil && !x.holdsLiteral(sc, s) && !x.foldRiskIn(s) {
		return false, true
	}
	x.once.Do(func() { x.d = newDFA(x.String()) })
	if x.d == nil {
		return false, false
	}
	return x.d.match(s)
}

// holdsLiteral says whether s holds one of the regexp's literals, as sc found
// them when it is a scan of the regexp's family, or looking for each.
func (x *quickRegexp) holdsLiteral(sc *quickScope, s string) bool {
	// (famIDs is read only with a scan of its family, made after its index.)
	if sc != nil && sc.family == x.family && x.famIDs != nil {
		return sc.hits.any(x.famIDs)
	}
	return slices.ContainsFunc(x.lits, func(l string) bool { return indexFold(s, l) >= 0 })
}

// foldRiskIn says whether s holds a rune that the regexp's literals may match
// which the literal prefilter does not look for (see foldRisk).
func (x *quickRegexp) foldRiskIn(s string) bool {
	return x.foldRisk && (strings.Contains(s, "\u212a") || strings.Contains(s, "\u017f"))
}

// mayIn is false when the regexp surely does not match s (see testIn).
func (x *quickRegexp) mayIn(sc *quickScope, s string) bool {
	m, sure := x.testIn(sc, s)
	return m || !sure
}

// The methods below answer as Go's regexp's of the same names; those ending in
// In are for a text s that sc scanned, or a part of it (testIn).

func (x *quickRegexp) MatchString(s string) bool { return x.MatchStringIn(nil, s) }

func (x *quickRegexp) MatchStringIn(sc *quickScope, s string) bool {
	if m, sure := x.testIn(sc, s); sure {
		return m
	}
	return x.Regexp.MatchString(s)
}

func (x *quickRegexp) FindString(s string) string {
	if !x.mayIn(nil, s) {
		return ""
	}
	return x.Regexp.FindString(s)
}

func (x *quickRegexp) FindStringSubmatch(s string) []string { return x.FindStringSubmatchIn(nil, s) }

func (x *quickRegexp) FindStringSubmatchIn(sc *quickScope, s string) []string {
	if !x.mayIn(sc, s) {
		return nil
	}
	return x.Regexp.FindStringSubmatch(s)
}

func (x *quickRegexp) FindStringIndex(s string) []int { return x.FindStringIndexIn(nil, s) }

func (x *quickRegexp) FindStringIndexIn(sc *quickScope, s string) []int {
	if !x.mayIn(sc, s) {
		return nil
	}
	return x.Regexp.FindStringIndex(s)
}

func (x *quickRegexp) ReplaceAllString(s, repl string) string {
	if !x.mayIn(nil, s) {
		return s
	}
	return x.Regexp.ReplaceAllString(s, repl)
}

// quickFamily is regexps tried on the same text one after another, dozens of
// them (the Received parser's, on each Received line): their literal
// prefilters, each a search of the text for each of its literals, were a
// quarter of the parser's time. One scan of the text by an automaton of all
// their literals (literalIndex) answers every member's.
type quickFamily struct {
	members []*quickRegexp
	once    sync.Once
	index   *literalIndex
}

// add makes x a member; all are added before the first scan (as package
// variables are made).
func (f *quickFamily) add(x *quickRegexp) *quickRegexp {
	f.members = append(f.members, x)
	x.family = f
	return x
}

// quickScope is what a scan of a text found, for its family's members.
type quickScope struct {
	family *quickFamily
	hits   litHits
}

// scan finds the family's literals in s (lower-cased: the members' literals are
// lower-case ASCII, which indexFold finds in either case; toLower lowers more
// than ASCII, so it finds them where indexFold does, and perhaps more, which
// only sends a text on to the DFA).
func (f *quickFamily) scan(s string) *quickScope {
	f.once.Do(func() {
		var lits []string
		for _, x := range f.members {
			lits = append(lits, x.lits...)
		}
		f.index = literalIndexOf(lits)
		for _, x := range f.members {
			ids := make([]int32, 0, len(x.lits))
			for _, l := range x.lits {
				id, ok := f.index.ids[l]
				if !ok { // ("": found everywhere, as indexFold says)
					ids = nil
					break
				}
				ids = append(ids, id)
			}
			x.famIDs = ids
		}
	})
	return &quickScope{family: f, hits: f.index.present(toLower(s))}
}

// indexFold is strings.Index of a lower-case ASCII needle in s, ignoring the
// case of s's ASCII letters, without lower-casing s.
func indexFold(s, lower string) int {
	if lower == "" {
		return 0
	}
	c0, u0 := lower[0], lower[0]
	if 'a' <= c0 && c0 <= 'z' {
		u0 = c0 - 'a' + 'A'
	}
	// The next place of the first byte in each case, looked for again only once
	// passed: looking for both from every candidate read the rest of s again
	// for the case that was not there.
	nextC, nextU := -1, -1
	if u0 == c0 {
		nextU = len(s)
	}
	for i := 0; i+len(lower) <= len(s); i++ {
		if nextC < i {
			nextC = nextIndex(s, i, c0)
		}
		if nextU < i {
			nextU = nextIndex(s, i, u0)
		}
		if i = min(nextC, nextU); i+len(lower) > len(s) {
			return -1
		}
		k := 1
		for ; k < len(lower); k++ {
			c := s[i+k]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != lower[k] {
				break
			}
		}
		if k == len(lower) {
			return i
		}
	}
	return -1
}

// nextIndex is the place of the first c in s from i on, len(s) if there is none.
func nextIndex(s string, i int, c byte) int {
	if k := strings.IndexByte(s[i:], c); k >= 0 {
		return i + k
	}
	return len(s)
}

func (x *quickRegexp) FindAllStringIndex(s string, n int) [][]int {
	if !x.mayIn(nil, s) {
		return nil
	}
	return x.Regexp.FindAllStringIndex(s, n)
}
