package rules

import (
	"errors"
	"fmt"
	"regexp"
	"regexp/syntax"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/dlclark/regexp2"
)

// perlRegex parses a rule's pattern as SpamAssassin writes it — /re/flags, m{re}flags,
// m!re!flags — and translates Perl's syntax to Go's RE2. What RE2 cannot do
// (backreferences, lookaround, atomic groups, possessive quantifiers, \K) is reported
// as unsupported: the rule is skipped, never half-translated. RE2 keeps every rule
// linear in the input, so a hostile message cannot stall the filter.
func perlRegex(s string) (*regexp.Regexp, []string, error) {
	src, lits, err := perlSource(s)
	if err != nil {
		return nil, nil, err
	}
	return regexp.MustCompile(src), lits, nil // it parsed: it compiles
}

// perlSource is perlRegex without compiling: the Go regex, checked by parsing it,
// and its literals. Rules compile theirs when first asked (Rule.regexp): most never
// are, since their DFAs answer, and compiling them all was a tenth of the start-up.
func perlSource(s string) (string, []string, error) {
	body, flags, err := perlBody(s)
	if err != nil {
		return "", nil, err
	}
	goRe, err := translate(body, flags, modeRE2)
	if err != nil {
		return "", nil, err
	}
	if pruned, ok := pruneByteSequences(goRe); ok {
		goRe = pruned
	}
	if _, err := parseRE(goRe); err != nil {
		var se *syntax.Error
		if errors.As(err, &se) && (se.Code == syntax.ErrInvalidRepeatSize || se.Code == syntax.ErrLarge || se.Code == syntax.ErrNestingDepth) {
			return "", nil, unsupportedRE2("repetition too large for RE2 (" + se.Expr + ")")
		}
		return "", nil, fmt.Errorf("regex %s: %v", s, err)
	}
	return goRe, requiredLiterals(goRe), nil
}

func splitDelims(s string) (body, flags string, err error) {
	if s == "" {
		return "", "", fmt.Errorf("empty pattern")
	}
	open := s[0]
	rest := s[1:]
	if open == 'm' && len(s) > 1 {
		open, rest = s[1], s[2:]
	} else if open != '/' {
		return "", "", fmt.Errorf("pattern %q: want /regex/flags", s)
	}
	close := open
	switch open {
	case '{':
		close = '}'
	case '(':
		close = ')'
	case '[':
		close = ']'
	case '<':
		close = '>'
	}
	// The closing delimiter is the last unescaped one.
	end := -1
	for i := 0; i < len(rest); i++ {
		if rest[i] == '\\' {
			i++
			continue
		}
		if rest[i] == close {
			end = i
		}
	}
	if end < 0 {
		return "", "", fmt.Errorf("pattern %q: no closing %c", s, close)
	}
	body, flags = rest[:end], strings.TrimSpace(rest[end+1:])
	for _, f := range flags {
		if !strings.ContainsRune("imsxgo", f) {
			return "", "", fmt.Errorf("pattern %q: unknown flag %c", s, f)
		}
	}
	if close == '/' {
		body = strings.ReplaceAll(body, `\/`, "/")
	}
	return body, flags, nil
}

// ErrUnsupported marks what Postern cannot run: Perl features RE2 does not have, or
// SpamAssassin features Postern does not have. Such a rule is skipped with a warning.
type ErrUnsupported struct {
	What string
	RE2  bool // a regex feature RE2 lacks
}

func (e ErrUnsupported) Error() string {
	if e.RE2 {
		return "unsupported by RE2: " + e.What
	}
	return e.What + ": not supported"
}

func unsupportedRE2(what string) ErrUnsupported { return ErrUnsupported{What: what, RE2: true} }

// translateMode says what translate does with what RE2 lacks.
type translateMode int

const (
	modeRE2     translateMode = iota // report it as unsupported
	modeRelaxed                      // drop it, for a superset of the matches (relaxed)
	modeExact                        // keep it, for the backtracking engine (exactRegex)
)

// translate rewrites a Perl regex body as a Go regex (modeRE2, modeRelaxed) or as
// regexp2's syntax (modeExact).
func translate(body, flags string, mode translateMode) (string, error) {
	var b strings.Builder
	goFlags := ""
	for _, f := range flags {
		if strings.ContainsRune("ims", f) {
			goFlags += string(f)
		}
	}
	if strings.ContainsRune(flags, 'x') {
		body = stripExtended(body)
	}
	if goFlags != "" {
		b.WriteString("(?" + goFlags + ")")
	}
	inClass := false
	for i := 0; i < len(body); i++ {
		c := body[i]
		switch {
		case c == '\\' && i+1 < len(body):
			n := body[i+1]
			i++
			switch {
			case n >= '1' && n <= '9' && !inClass:
				switch mode {
				case modeRelaxed:
					b.WriteString(`(?s:.*)`) // whatever the group matched
				case modeExact:
					b.WriteByte('\\')
					b.WriteByte(n)
				default:
					return "", unsupportedRE2("backreference \\" + string(n))
				}
			case n == 'K':
				if mode == modeRE2 {
					return "", unsupportedRE2(`\K`)
				}
				// \K only moves where the reported match starts: dropped.
			case n == 'Z':
				b.WriteString(`(?:\n?\z)`)
			case n == 'h':
				if inClass {
					b.WriteString(`\t `)
				} else {
					b.WriteString(`[\t ]`)
				}
			case n == 'e':
				b.WriteString(`\x1b`)
			case n == 'G':
				if mode == modeRE2 {
					return "", unsupportedRE2(`\G`)
				}
				if mode == modeExact {
					b.WriteString(`\G`)
				}
			case n == 'R' || n == 'X':
				return "", unsupportedRE2("\\" + string(n))
			case n == 'x' && i+1 < len(body) && body[i+1] != '{':
				// \xHH: RE2 wants exactly two hex digits; Perl allows one.
				j := i + 1
				for j < len(body) && j < i+3 && isHex(body[j]) {
					j++
				}
				hex := body[i+1 : j]
				if len(hex) == 1 {
					hex = "0" + hex
				}
				if hex == "" {
					hex = "00"
				}
				b.WriteString(`\x` + hex)
				i = j - 1
			case n == '0':
				// \0, \0N, \0NN: octal, as Perl reads it (\042 is '"').
				j := i + 1
				for j < len(body) && j < i+3 && '0' <= body[j] && body[j] <= '7' {
					j++
				}
				v, _ := strconv.ParseUint("0"+body[i+1:j], 8, 8)
				fmt.Fprintf(&b, `\x%02x`, v)
				i = j - 1
			case unicode.IsLetter(rune(n)) && !strings.ContainsRune("abfnrtvdDwWsSbBAzpPQEx", rune(n)):
				// Perl ignores unknown escapes of letters; RE2 rejects them.
				b.WriteByte(n)
			case n == '@' || n == '%' || n == '\'' || n == '"' || n == '/' || n == '<' || n == '>' || n == '#' || n == ' ' || n == '!' || n == ',' || n == '=' || n == ':' || n == '&' || n == '~' || n == ';' || n == '`' || n == '_':
				// Escaped punctuation RE2 does not need escaped (and rejects in part).
				b.WriteString(regexp.QuoteMeta(string(n)))
			default:
				b.WriteByte('\\')
				b.WriteByte(n)
			}
		case inClass:
			if c == ']' {
				inClass = false
			}
			if c == '[' && i+1 < len(body) && body[i+1] == ':' {
				// POSIX class [:alpha:]: copy through its closing ":]"
				// (regexp2 has none: spelled out).
				if j := strings.Index(body[i:], ":]"); j > 0 {
					class := body[i : i+j+2]
					if mode == modeExact {
						class = posixClasses[class]
					}
					b.WriteString(class)
					i += j + 1
					continue
				}
			}
			b.WriteByte(c)
		case c == '[':
			inClass = true
			b.WriteByte(c)
			// A leading ] or ^] is literal.
			if i+1 < len(body) && body[i+1] == '^' {
				b.WriteByte('^')
				i++
			}
			if i+1 < len(body) && body[i+1] == ']' {
				b.WriteString(`\]`)
				i++
			}
		case c == '(' && i+2 < len(body) && body[i+1] == '?':
			switch n := body[i+2]; {
			case n == '=' || n == '!' || n == '<' && i+3 < len(body) && (body[i+3] == '=' || body[i+3] == '!'):
				switch mode {
				case modeRelaxed:
					// A look-around only narrows the matches: dropped.
					i = groupEnd(body, i)
				case modeExact:
					b.WriteByte(c)
				default:
					if n == '<' {
						return "", unsupportedRE2("lookbehind")
					}
					return "", unsupportedRE2("lookahead (?" + string(n))
				}
			case n == '>':
				switch mode {
				case modeRelaxed:
					b.WriteString("(?:") // matches whatever the atomic group matches, and more
					i += 2
				case modeExact:
					b.WriteByte(c)
				default:
					return "", unsupportedRE2("atomic group (?>")
				}
			case n == '#':
				// A comment group: drop it.
				if j := strings.IndexByte(body[i:], ')'); j > 0 {
					i += j
					continue
				}
				b.WriteByte(c)
			case n == '<':
				if mode == modeExact {
					b.WriteByte(c)
					continue
				}
				b.WriteString("(?P<") // named group: RE2 spells it (?P<name>
				i += 2
			case n == '\'':
				return "", unsupportedRE2("named group with quotes")
			default:
				b.WriteByte(c)
			}
		case (c == '+') && i > 0 && isQuantifierEnd(body, i-1):
			if mode == modeRE2 {
				return "", unsupportedRE2("possessive quantifier")
			}
			// Possessive: the plain quantifier matches at least as much. Dropped.
		case c == '$' && mode != modeExact && strings.ContainsRune(flags, 'm'):
			// Under /m, RE2's $ is Perl's: at every line's end and the text's.
			// (Without the alternation below, a rule whose match stays on one
			// line is known to: onLines.)
			b.WriteByte('$')
		case c == '$' && mode != modeExact:
			// Perl's $ also matches before a final newline (regexp2's does too),
			// wherever it stands: a header rule's value ends in one
			// (endsInNewline), and __TO_NO_ARROWS_R's /(?:>$|>,)/ reads it.
			b.WriteString(`(?:\n?\z|$)`)
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

func isHex(c byte) bool {
	return ('0' <= c && c <= '9') || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F')
}

// isQuantifierEnd reports whether body[i] ends a quantifier (so a '+' after it is
// possessive: "a++", "a*+", "a?+", "a{2}+").
func isQuantifierEnd(body string, i int) bool {
	if i > 0 && body[i-1] == '\\' {
		return false
	}
	switch body[i] {
	case '*', '?':
		return true
	case '+':
		return i > 0 && body[i-1] != '\\' && !isQuantifierEnd(body, i-1)
	case '}':
		return strings.LastIndexByte(body[:i], '{') >= 0
	}
	return false
}

// stripExtended removes the whitespace and # comments that /x allows.
func stripExtended(s string) string {
	var b strings.Builder
	inClass := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s):
			b.WriteByte(c)
			b.WriteByte(s[i+1])
			i++
		case inClass:
			if c == ']' {
				inClass = false
			}
			b.WriteByte(c)
		case c == '[':
			inClass = true
			b.WriteByte(c)
		case c == '#':
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// wholeCaseInsensitive reports whether a pattern is case-insensitive throughout (/i
// and no group that turns it off), the condition for matching it on lower-cased text.
func wholeCaseInsensitive(pattern string) bool {
	body, flags, err := splitDelims(strings.TrimSpace(pattern))
	if err != nil || !strings.ContainsRune(flags, 'i') {
		return false
	}
	return !regexp.MustCompile(`\(\?[a-z]*-[a-z]*i`).MatchString(body)
}

// caseFree rewrites a case-insensitive regex as a case-sensitive one for lower-cased
// text: literals lower-cased and their fold flag cleared (character classes are already
// closed under case folding). Go's regexp finds a literal prefix with a fast substring
// search only when it is case-sensitive, and skips per-character folding: on the stock
// rules, most of which are /…/i, this is the larger part of the time. It reports false
// when the regex has nothing case-insensitive.
func caseFree(goRe string) (string, bool) {
	re, err := parseREMutable(goRe)
	if err != nil {
		return "", false
	}
	changed := false
	var walk func(r *syntax.Regexp)
	walk = func(r *syntax.Regexp) {
		if r.Op == syntax.OpLiteral && r.Flags&syntax.FoldCase != 0 {
			for i, c := range r.Rune {
				r.Rune[i] = unicode.ToLower(c)
			}
			r.Flags &^= syntax.FoldCase
			changed = true
		}
		for _, sub := range r.Sub {
			walk(sub)
		}
	}
	walk(re)
	if !changed {
		return "", false
	}
	return reString(re), true
}

// pruneByteSequences drops the alternation branches that spell UTF-8 byte sequences
// character by character, such as [\xc3][\xa9] for "é". SpamAssassin matches bytes, so
// its rules (ReplaceTags' above all) list such sequences for non-ASCII look-alikes; here
// text is decoded characters, where those branches can never match, and they make the
// regex much slower. It reports false when it changed nothing.
func pruneByteSequences(goRe string) (string, bool) {
	re, err := parseRE(goRe)
	if err != nil || !hasByteSequence(re) {
		return goRe, false // most rules: the shared tree, not copied
	}
	re = copyRE(re)
	if !prune(re) {
		return goRe, false
	}
	// The pruned tree is the parse of its string (up to the parser's own
	// rewrites): cached under it, it is not parsed again. These are the largest
	// patterns (ReplaceTags' look-alike lists, kilobytes each).
	pruned := reString(re)
	parseCache.LoadOrStore(pruned, re)
	return pruned, true
}

// hasByteSequence says whether prune would drop a branch somewhere in re.
func hasByteSequence(re *syntax.Regexp) bool {
	return anyNode(re, func(n *syntax.Regexp) bool {
		return n.Op == syntax.OpAlternate && slices.ContainsFunc(n.Sub, isByteSequence)
	})
}

// anyNode says whether some node of re (re itself included) satisfies f.
func anyNode(re *syntax.Regexp, f func(*syntax.Regexp) bool) bool {
	return f(re) || slices.ContainsFunc(re.Sub, func(sub *syntax.Regexp) bool { return anyNode(sub, f) })
}

func prune(re *syntax.Regexp) bool {
	changed := false
	for _, sub := range re.Sub {
		if prune(sub) {
			changed = true
		}
	}
	if re.Op != syntax.OpAlternate {
		return changed
	}
	kept := re.Sub[:0]
	for _, sub := range re.Sub {
		if isByteSequence(sub) {
			changed = true
			continue
		}
		kept = append(kept, sub)
	}
	if len(kept) == 0 {
		*re = syntax.Regexp{Op: syntax.OpNoMatch}
		return true
	}
	re.Sub = kept
	return changed
}

// isByteSequence: two or more characters in a row, each from U+0080–U+00FF only.
func isByteSequence(re *syntax.Regexp) bool {
	for re.Op == syntax.OpCapture && len(re.Sub) == 1 {
		re = re.Sub[0]
	}
	var units []*syntax.Regexp
	switch re.Op {
	case syntax.OpConcat:
		units = re.Sub
	case syntax.OpLiteral:
		if len(re.Rune) < 2 {
			return false
		}
		for _, r := range re.Rune {
			if r < 0x80 || r > 0xff {
				return false
			}
		}
		return true
	default:
		return false
	}
	if len(units) < 2 {
		return false
	}
	n := 0
	for _, u := range units {
		switch u.Op {
		case syntax.OpLiteral:
			for _, r := range u.Rune {
				if r < 0x80 || r > 0xff {
					return false
				}
			}
			n += len(u.Rune)
		case syntax.OpCharClass:
			for i := 0; i < len(u.Rune); i += 2 {
				if u.Rune[i] < 0x80 || u.Rune[i+1] > 0xff {
					return false
				}
			}
			n++
		default:
			return false
		}
	}
	return n >= 2
}

// requiredLiterals returns lower-case strings of which every match contains at least
// one (an alternation gives one per branch), or nil when there is no such set. They are
// the prefilter: a rule's regex runs only on texts that contain one of them.
func requiredLiterals(goRe string) []string {
	re, err := parseRE(goRe)
	if err != nil {
		return nil
	}
	set := literals(re.Simplify())
	for i, l := range set {
		set[i] = strings.ToLower(l)
	}
	return set
}

const (
	minLiteral  = 3  // shorter literals filter too little
	maxLiterals = 24 // more alternatives than this: not worth it
)

// literals walks the syntax tree for the best set of literalFront's: the one
// whose shortest literal is longest, then the smaller one.
func literals(re *syntax.Regexp) []string {
	return pick(literalFront(re, spelled{}), better).lits
}

// spelled are the strings spellings gave for the alternations of an
// expression (nil: too many), so that an alternation within another is
// spelled once, not once for each alternation around it.
type spelled map[*syntax.Regexp][]string

// litSet is a set of literals with its rating, shortest(lits).
type litSet struct {
	lits  []string
	short int
}

func newLitSet(lits []string) litSet { return litSet{lits, shortest(lits)} }

// better reports whether a filters better than b (none, when b.lits is nil).
func better(a, b litSet) bool {
	return b.lits == nil || a.short > b.short || (a.short == b.short && len(a.lits) < len(b.lits))
}

// maxFront bounds the sets literalFront keeps for a part of an expression.
const maxFront = 16

// literalFront is the sets of which every match of re holds a member, as
// far as the tree shows them: a concatenation needs every part, so any one
// part's set will do, and a run of adjacent literal characters is one
// literal; an alternation needs one of its branches, so it needs a union of
// sets, one for each branch, if every branch has one. Only the sets no other
// beats on both length and size are kept, for an alternation to choose
// from: its branches' best sets may be too many together where a branch's
// smaller one would not be ("(?:norton|mcafee|avast) expired|expired
// (?:norton|mcafee|avast)" can take "expired" from both).
func literalFront(re *syntax.Regexp, memo spelled) []litSet {
	switch re.Op {
	case syntax.OpLiteral:
		if len(re.Rune) >= minLiteral {
			return []litSet{newLitSet([]string{string(re.Rune)})}
		}
	case syntax.OpCapture, syntax.OpPlus:
		return literalFront(re.Sub[0], memo)
	case syntax.OpRepeat:
		if re.Min >= 1 {
			return literalFront(re.Sub[0], memo)
		}
	case syntax.OpConcat:
		var front []litSet
		run := ""
		for _, sub := range re.Sub {
			if sub.Op == syntax.OpLiteral {
				run += string(sub.Rune)
				if len(run) >= minLiteral {
					front = addToFront(front, newLitSet([]string{run}))
				}
				continue
			}
			// A repeated literal (x+, as Simplify leaves every x{n,}) joins
			// the run before it with its first copy, and what follows with
			// its last: the rules' loose spellings (ad+res+, of+ice, ter+itory)
			// otherwise break every literal into pieces too short to keep.
			if sub.Op == syntax.OpPlus && sub.Sub[0].Op == syntax.OpLiteral {
				x := string(sub.Sub[0].Rune)
				if run += x; len(run) >= minLiteral {
					front = addToFront(front, newLitSet([]string{run}))
				}
				run = x
				continue
			}
			run = ""
			for _, set := range literalFront(sub, memo) {
				front = addToFront(front, set)
			}
		}
		return front
	case syntax.OpAlternate:
		branches := make([][]litSet, len(re.Sub))
		for i, sub := range re.Sub {
			branches[i] = literalFront(sub, memo)
			if branches[i] == nil && sub.Op == syntax.OpConcat {
				// A branch of a word too short to keep and a small class
				// ("hi" and a separator, hi[ ,:]) spells a few strings long
				// enough. (Not a whole expression's: a header rule's
				// \n(?:to|cc): spells "\nto:", in every message.)
				if set := spelledLiterals(sub, memo); set != nil {
					branches[i] = []litSet{newLitSet(set)}
				}
			}
			if branches[i] == nil {
				branches = nil // (no union: the rest need no walk)
				break
			}
		}
		if branches != nil {
			if front := unions(branches); front != nil {
				return front
			}
		}
		// The parser factors the branches' common prefixes out
		// ("deposit|depot|dépôt" is D(?:ÉPÔT|EP(?:OSIT|OT))), which can leave a
		// branch too short to keep ("OT"); the strings the alternation
		// spells, when they are few, are its literals then. (As one more
		// choice beside the branches' union, they made the stock rules' walk
		// about half again as long, BenchmarkRequiredLiterals, for no check
		// measurably faster: docs/benchmarks.md, "Sixty-ninth session".)
		if set := spelledLiterals(re, memo); set != nil {
			return []litSet{newLitSet(set)}
		}
	}
	return nil
}

// unions is the front of an alternation whose branches' fronts are given
// (none empty): the union of each branch's best set, when it is not too large, as the
// walk has always taken it. Otherwise, for each length a branch's set
// reaches, the union of each branch's smallest set at least that long,
// when that one is not too large.
func unions(branches [][]litSet) []litSet {
	bests := make([]litSet, len(branches))
	for i, b := range branches {
		bests[i] = pick(b, better)
	}
	if union := joinSets(bests); len(union.lits) <= maxLiterals {
		return []litSet{union}
	}
	var floors []int
	for _, b := range branches {
		for _, candidate := range b {
			if !slices.Contains(floors, candidate.short) {
				floors = append(floors, candidate.short)
			}
		}
	}
	var front []litSet
	picks := make([]litSet, len(branches))
	for _, floor := range floors {
		for i, b := range branches {
			picks[i] = pick(b, func(a, b litSet) bool {
				return a.short >= floor && (b.lits == nil || len(a.lits) < len(b.lits) || (len(a.lits) == len(b.lits) && a.short > b.short))
			})
		}
		if union := joinSets(picks); union.lits != nil && len(union.lits) <= maxLiterals {
			front = addToFront(front, union)
		}
	}
	return front
}

// pick is the set that beats the others (better(a, b): a beats b, or
// b.lits is nil); none when none beats none.
func pick(sets []litSet, better func(a, b litSet) bool) litSet {
	var p litSet
	for _, set := range sets {
		if better(set, p) {
			p = set
		}
	}
	return p
}

// joinSets joins sets in order, each string once; none when one is none,
// and more than maxLiterals, unfinished, when they are too many.
func joinSets(sets []litSet) litSet {
	u := litSet{short: 1 << 30}
	for _, set := range sets {
		if set.lits == nil {
			return litSet{}
		}
		for _, l := range set.lits {
			if !slices.Contains(u.lits, l) {
				u.lits = append(u.lits, l)
			}
		}
		u.short = min(u.short, set.short)
		if len(u.lits) > maxLiterals {
			return u
		}
	}
	return u
}

// addToFront adds set to front unless one there is as long and no larger,
// and drops those set beats so; the front stays within maxFront, its worst
// dropped first.
func addToFront(front []litSet, set litSet) []litSet {
	for _, f := range front {
		if f.short >= set.short && len(f.lits) <= len(set.lits) {
			return front
		}
	}
	front = slices.DeleteFunc(front, func(f litSet) bool {
		return set.short >= f.short && len(set.lits) <= len(f.lits)
	})
	front = append(front, set)
	if len(front) > maxFront {
		worst := 0
		for i, f := range front {
			if better(front[worst], f) {
				worst = i
			}
		}
		front = slices.Delete(front, worst, worst+1)
	}
	return front
}

// spelledLiterals is what spellings gives for re, when those strings are few
// enough and each long enough to scan for; nil otherwise.
func spelledLiterals(re *syntax.Regexp, memo spelled) []string {
	if set, ok := spellings(re, maxLiterals, false, memo); ok && !slices.ContainsFunc(set, func(l string) bool { return len(l) < minLiteral }) {
		return set
	}
	return nil
}

// spellings is every string re matches, when re matches only a few: at most
// max along the way, re made of literals, classes, alternations and
// concatenations of them. exact keeps the case as written and refuses what
// would make the set larger than the matches (a case-folded literal, an
// optional part, an assertion): lineCount counts the strings as found.
// Otherwise the strings are lower-cased, an optional part adds "", and an
// assertion matches no text: a set every match holds one of, for the literal
// scan. ok is false for anything else. memo, when not nil, keeps the
// alternations' strings for another call with the same max and exact.
func spellings(re *syntax.Regexp, max int, exact bool, memo spelled) (set []string, ok bool) {
	if memo != nil && re.Op == syntax.OpAlternate {
		if set, ok := memo[re]; ok {
			return slices.Clone(set), set != nil
		}
		defer func() { memo[re] = slices.Clone(set) }() // (nil when not ok)
	}
	switch re.Op {
	case syntax.OpLiteral:
		switch {
		case !exact:
			return []string{strings.ToLower(string(re.Rune))}, true
		case re.Flags&syntax.FoldCase != 0:
			return nil, false
		}
		return []string{string(re.Rune)}, true
	case syntax.OpEmptyMatch:
		return []string{""}, true
	case syntax.OpWordBoundary, syntax.OpNoWordBoundary,
		syntax.OpBeginLine, syntax.OpEndLine, syntax.OpBeginText, syntax.OpEndText:
		if exact {
			return nil, false
		}
		return []string{""}, true
	case syntax.OpCapture:
		return spellings(re.Sub[0], max, exact, memo)
	case syntax.OpQuest:
		if exact {
			return nil, false
		}
		set, ok = spellings(re.Sub[0], max, exact, memo)
		return append(set, ""), ok
	case syntax.OpCharClass:
		for k := 0; k+1 < len(re.Rune); k += 2 {
			if len(set)+int(re.Rune[k+1]-re.Rune[k])+1 > max {
				return nil, false
			}
			for r := re.Rune[k]; r <= re.Rune[k+1]; r++ {
				if exact {
					set = append(set, string(r))
				} else {
					set = append(set, strings.ToLower(string(r)))
				}
			}
		}
		if len(set) == 0 {
			return nil, false
		}
	case syntax.OpAlternate:
		for _, sub := range re.Sub {
			s, ok := spellings(sub, max, exact, memo)
			if !ok || len(set)+len(s) > max {
				return nil, false
			}
			set = append(set, s...)
		}
	case syntax.OpConcat:
		set = []string{""}
		for _, sub := range re.Sub {
			s, ok := spellings(sub, max, exact, memo)
			if !ok || len(set)*len(s) > max {
				return nil, false
			}
			var next []string
			for _, a := range set {
				for _, b := range s {
					next = append(next, a+b)
				}
			}
			set = next
		}
	default:
		return nil, false
	}
	if !exact {
		slices.Sort(set)
		set = slices.Compact(set)
	}
	return set, true
}

// shortest rates a literal set by its weakest member: its length, except that words
// found in most mail count as nothing (a filter on "your" passes every message).
func shortest(set []string) int {
	n := 1 << 30
	for _, s := range set {
		l := len(s)
		if commonWords[strings.ToLower(strings.TrimSpace(s))] {
			l = 0
		}
		n = min(n, l)
	}
	return n
}

var commonWords = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`the and you your for with this that are from not have will can all our
		mail email http www com html here more what when which their there been has was were out get
		any one two new now time info body font text to of in on is it be as at by or an`) {
		m[w] = true
	}
	return m
}()

// groupEnd returns the index of the ")" that closes the group opened at body[i].
func groupEnd(body string, i int) int {
	depth, inClass := 0, false
	for j := i; j < len(body); j++ {
		switch c := body[j]; {
		case c == '\\':
			j++
		case inClass:
			if c == ']' {
				inClass = false
			}
		case c == '[':
			inClass = true
			if j+1 < len(body) && body[j+1] == '^' {
				j++
			}
			if j+1 < len(body) && body[j+1] == ']' {
				j++
			}
		case c == '(':
			depth++
		case c == ')':
			if depth--; depth == 0 {
				return j
			}
		}
	}
	return len(body) - 1
}

// posixClasses spells out POSIX classes for regexp2, which has none.
var posixClasses = map[string]string{
	"[:alpha:]": `a-zA-Z`, "[:digit:]": `0-9`, "[:alnum:]": `a-zA-Z0-9`, "[:upper:]": `A-Z`,
	"[:lower:]": `a-z`, "[:space:]": `\s`, "[:punct:]": `!-/:-@\[-` + "`" + `{-~`,
	"[:xdigit:]": `0-9A-Fa-f`, "[:word:]": `\w`, "[:blank:]": ` \t`, "[:cntrl:]": `\x00-\x1f\x7f`,
	"[:print:]": `\x20-\x7e`, "[:graph:]": `\x21-\x7e`,
}

// Backtracking rules. Perl features RE2 lacks (look-around, backreferences, atomic
// groups, possessive quantifiers, huge counted repetitions) are common in the stock
// rules. Such a rule gets two expressions: its relaxed form, with those features
// dropped, which matches a superset of what the rule matches and runs on the
// automata like every rule (literal prefilter, DFA); and the exact form, on
// regexp2's backtracking engine, asked only where the relaxed form matched, under
// a time limit per match (exactTimeout, then patientTimeout: see backtrack): a
// message made to make it backtrack costs at most that, and is then taken as not
// matching.

// exactTimeout bounds one backtracking match; patientTimeout its one retry.
const (
	exactTimeout   = 20 * time.Millisecond
	patientTimeout = time.Second
)

// ruleRegex is perlSource for a rule: when RE2 cannot run the pattern, also the
// exact form (nil when RE2 can), and the relaxed form's source in place of the RE2
// expression's. The exact form anchored (\G) is compiled when first asked for
// (Rule.exactAt): only rules whose relaxed form matches need it.
func ruleRegex(s string) (src string, lits []string, exact *regexp2.Regexp, err error) {
	src, lits, err = perlSource(s)
	var u ErrUnsupported
	if err == nil || !errors.As(err, &u) || !u.RE2 {
		return src, lits, nil, err
	}
	body, flags, derr := perlBody(s)
	if derr != nil {
		return "", nil, nil, err
	}
	exactSrc, xerr := translate(body, flags, modeExact)
	if xerr != nil {
		return "", nil, nil, err
	}
	exactSrc = possessive(exactSrc)
	if exact, xerr = regexp2.Compile(exactSrc, regexp2.None); xerr != nil {
		return "", nil, nil, ErrUnsupported{What: u.What + ", and the backtracking engine rejects it: " + firstLineOf(xerr.Error()), RE2: true}
	}
	exact.MatchTimeout = exactTimeout
	relaxedSrc, rerr := translate(body, flags, modeRelaxed)
	if rerr != nil {
		return "", nil, nil, err
	}
	if pruned, ok := pruneByteSequences(relaxedSrc); ok {
		relaxedSrc = pruned
	}
	// RE2 takes what it parses (regexp.Compile fails only where syntax.Parse
	// does); the parse is kept for the DFA that is built from the same source.
	_, rerr = parseRE(relaxedSrc)
	if rerr != nil {
		// Counted repetitions too large for RE2. X{n,m} as X{min(n,k),} still
		// matches wherever it does, from the same places (matchExact needs that):
		// the largest k RE2 takes, down to X+ and X*. The large counts first,
		// alone: the form-filling rules count five fields ({5}) of which each
		// allows a hundred blanks ({1,100}), and loosening the {5} too would let
		// the relaxed form match wherever one field name is, leaving the
		// backtracking engine to reject most paragraphs at great cost.
		loosen := func(k, above int) string {
			return reBoundedRepeat.ReplaceAllStringFunc(relaxedSrc, func(m string) string {
				bounds := strings.SplitN(strings.Trim(m, "{}"), ",", 2)
				n, _ := strconv.Atoi(bounds[0])
				if hi := n; above > 0 {
					if len(bounds) == 2 {
						hi = 1 << 30 // {n,}
						if bounds[1] != "" {
							hi, _ = strconv.Atoi(bounds[1])
						}
					}
					if hi <= above {
						return m // a small count stays as it is
					}
				}
				switch {
				case n == 0:
					return "*"
				case min(n, k) <= 1:
					return "+"
				}
				return "{" + strconv.Itoa(min(n, k)) + ",}"
			})
		}
		for _, above := range []int{smallCount, 0} {
			for k := 3; k >= 1 && rerr != nil; k-- {
				src := loosen(k, above)
				if _, rerr = parseRE(src); rerr == nil {
					relaxedSrc = src
				}
			}
		}
		if rerr != nil {
			return "", nil, nil, err
		}
	}
	return relaxedSrc, requiredLiterals(relaxedSrc), exact, nil
}

// exactAt is the exact form anchored (\G): a match that starts where the search
// does. Compiled the first time a relaxed match asks for it.
func (r *Rule) exactAt() *regexp2.Regexp {
	r.exactAtOnce.Do(func() {
		re, err := regexp2.Compile(`\G(?:`+r.exactAll.String()+`)`, regexp2.None)
		if err != nil { // cannot happen: the unanchored form compiled
			re = nil
			return
		}
		re.MatchTimeout = exactTimeout
		r.exactAnch = re
	})
	return r.exactAnch
}

// patientForm is a backtracking expression compiled again with patientTimeout,
// the first time a match of it runs out of time (most never do).
type patientForm struct {
	once sync.Once
	re   *regexp2.Regexp
}

func (p *patientForm) of(quick *regexp2.Regexp) *regexp2.Regexp {
	p.once.Do(func() {
		if re, err := regexp2.Compile(quick.String(), regexp2.None); err == nil { // (as exact forms are; it compiled once)
			re.MatchTimeout = patientTimeout
			p.re = re
		}
	})
	return p.re
}

// backtrack runs try on r's exact form (anchored: exactAt's), and when it runs out
// of time, once more on the form's patient twin. regexp2's limit is wall-clock time (it has no
// step budget, and its clock ticks every 100 ms), and a session's goroutine can
// wait that long for a core: the tests' packages run in parallel, serve's
// sessions share the cores with Postfix and clamd. A rule taken as not matching
// then made a message's hits depend on the machine's load (TestEvalConcurrent
// failed so in CI). Only a match that truly backtracks outlasts the retry; once
// one has, the message is known to make rules backtrack and its other timeouts
// are not retried, so such a message costs one patientTimeout more than before.
func backtrack[T any](t *target, r *Rule, anchored bool, try func(*regexp2.Regexp) (T, error)) (T, error) {
	quick, patient := r.exactAll, &r.patient
	if anchored {
		quick, patient = r.exactAt(), &r.patientAnch
	}
	v, err := try(quick)
	if err == nil || t.backtracked {
		return v, err
	}
	re := patient.of(quick)
	if re == nil {
		return v, err
	}
	if v, err = try(re); err != nil {
		t.backtracked = true
	}
	return v, err
}

var reBoundedRepeat = regexp.MustCompile(`\{\d+(?:,\d*)?\}`)

// smallCount is the largest count a relaxed form keeps exactly when RE2 refuses the
// rule for its counts.
const smallCount = 10

func firstLineOf(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// perlBody is a rule's pattern as both engines' translations read it: its
// characters (latin1), between its delimiters, with its flags, high-bit classes
// widened (highBits).
func perlBody(s string) (body, flags string, err error) {
	body, flags, err = splitDelims(latin1(strings.TrimSpace(s)))
	return highBits(highByteRuns(utf8Escapes(body), flags)), flags, err
}

// highByteRuns rewrites the one pattern of the stock rules that counts a
// text's high bytes, __HIGHBITS's (?:[\x80-\xff].?){4}, as the characters
// whose UTF-8 bytes it matches: four high bytes, each but the last followed by
// at most one byte more. In UTF-8 that is one character of four bytes, or one
// of two or three bytes then another beyond at most one ASCII character (not a
// newline, but under /s). Widened as a class of characters (highBits), it
// needed four such characters, where SpamAssassin finds one emoji or two
// Chinese characters (TVD_SPACE_RATIO, which wants no __HIGHBITS, hit three
// phishing messages it does not).
func highByteRuns(body, flags string) string {
	sep := `[\x00-\x09\x0b-\x7f]?`
	if strings.Contains(flags, "s") {
		sep = `[\x00-\x7f]?`
	}
	for _, idiom := range []string{`(?:[\x80-\xff].?){4}`, `(?:[\x80-\xFF].?){4}`} {
		body = strings.ReplaceAll(body, idiom, `(?:[\x{10000}-\x{10FFFF}]|[\x80-\x{FFFF}]`+sep+`[\x80-\x{10FFFF}])`)
	}
	return body
}

// highBits rewrites a class of every high-bit byte, [\x80-\xff], as one of every
// character that is not ASCII. SpamAssassin's rules read bytes: the text's
// UTF-8 bytes (or, with normalize_charset off, its charset's), where such a
// class means "8-bit text" (__HIGHBITS: Korean or Chinese, say); Postern reads
// the characters the bytes stand for, and the class as written would match
// only Latin-1's.
//
// So a class's range that runs to \xff from \x80 or below ([\x80-\xff],
// __FROM_NEEDS_MIME2's [...\x7f-\xff]) runs on to the last character: a name in
// Cyrillic needs MIME encoding as a Latin-1 one does. Ranges that start higher
// ([\xa0-\xff], Latin-1's letters) mean those characters, and stay.
func highBits(body string) string {
	if !strings.Contains(strings.ToLower(body), `-\xff`) {
		return body
	}
	var b strings.Builder
	last := 0
	for i := 0; i < len(body); i++ {
		switch body[i] {
		case '\\':
			i++
		case '[':
			end := classEnd(body, i)
			if end < 0 {
				continue
			}
			class := body[i : end+1]
			if wide := reHighRange.ReplaceAllString(class, `${1}-\x{10FFFF}`); wide != class {
				b.WriteString(body[last:i])
				b.WriteString(wide)
				last = end + 1
			}
			i = end
		}
	}
	if last == 0 {
		return body
	}
	b.WriteString(body[last:])
	return b.String()
}

var reHighRange = regexp.MustCompile(`(?i)(\\x(?:[0-7][0-9a-f]|80))-\\xff`)

// latin1 reads a rule file's bytes as the characters they stand for when they are
// not UTF-8 (rule files are often Latin-1; the text rules read is UTF-8).
func latin1(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	r := make([]rune, len(s))
	for i := 0; i < len(s); i++ {
		r[i] = rune(s[i])
	}
	return string(r)
}

// possessive makes the backtracking form of a rule cheaper without changing what
// it matches: a negated class repeated greedily and followed by a character the
// class excludes ([^\n]+\n, [^\n<]{0,80}<) cannot give back what it took (the
// next token fails on any of it), so it becomes an atomic group, as PCRE's
// auto-possessification does. The header rules of the (?:[^\n]{1,100}\n+)* shape
// otherwise backtrack over every character of every header line before each try
// of their next line.
func possessive(src string) string {
	var b strings.Builder
	for i := 0; i < len(src); i++ {
		c := src[i]
		if c == '\\' && i+1 < len(src) {
			b.WriteString(src[i : i+2])
			i++
			continue
		}
		if c != '[' || !strings.HasPrefix(src[i:], "[^") {
			b.WriteByte(c)
			continue
		}
		end := classEnd(src, i)
		if end < 0 {
			b.WriteString(src[i:])
			break
		}
		if strings.Contains(src[i+2:end], "[") {
			// A [:posix:] class inside: classHas cannot read it.
			b.WriteString(src[i : end+1])
			i = end
			continue
		}
		q := quantifierEnd(src, end+1)
		if q > end+1 && q <= len(src) && (q == len(src) || src[q] != '?' && src[q] != '+') {
			if next, ok := nextChar(src, q); ok && classHas(src[i+2:end], next) {
				b.WriteString("(?>" + src[i:q] + ")")
				i = q - 1
				continue
			}
		}
		b.WriteString(src[i : end+1])
		i = end
	}
	return b.String()
}

// classEnd is the index of the ] closing the class that opens at i (negated or
// not; a [:posix:] class inside it is skipped), or -1.
func classEnd(src string, i int) int {
	j := i + 1
	if j < len(src) && src[j] == '^' {
		j++
	}
	if j < len(src) && src[j] == ']' {
		j++ // a leading ] is literal
	}
	for ; j < len(src); j++ {
		switch src[j] {
		case '\\':
			j++
		case '[':
			if k := strings.Index(src[j:], ":]"); strings.HasPrefix(src[j:], "[:") && k > 0 {
				j += k + 1
			}
		case ']':
			return j
		}
	}
	return -1
}

// quantifierEnd is the index after a greedy quantifier that starts at i (+, *, or
// {n}, {n,}, {n,m}), or i when there is none.
func quantifierEnd(src string, i int) int {
	if i >= len(src) {
		return i
	}
	switch src[i] {
	case '+', '*':
		return i + 1
	case '{':
		if m := reBoundedRepeat.FindStringIndex(src[i:]); m != nil && m[0] == 0 {
			return i + m[1]
		}
	}
	return i
}

// nextChar reads the token at i when it is one character that must be there (no
// quantifier allowing none follows it): \n, \r, \t, or punctuation.
func nextChar(src string, i int) (byte, bool) {
	if i >= len(src) {
		return 0, false
	}
	var c byte
	size := 1
	switch ch := src[i]; {
	case ch == '\\' && i+1 < len(src):
		size = 2
		switch n := src[i+1]; n {
		case 'n':
			c = '\n'
		case 'r':
			c = '\r'
		case 't':
			c = '\t'
		default:
			if !strings.ContainsRune(`@<>;:,"'=/.-#!&%~`+"`", rune(n)) {
				return 0, false
			}
			c = n
		}
	case strings.ContainsRune(`@<>;:,"'=/#!&%~`+"`", rune(ch)):
		c = ch
	default:
		return 0, false
	}
	if j := i + size; j < len(src) && strings.ContainsRune("?*{", rune(src[j])) {
		return 0, false
	}
	return c, true
}

// classHas says whether the items of a negated class (what follows [^) surely
// include c. Items it cannot read (ranges, \w) do not count.
func classHas(items string, c byte) bool {
	for j := 0; j < len(items); j++ {
		x := items[j]
		if x == '\\' && j+1 < len(items) {
			j++
			switch n := items[j]; n {
			case 'n':
				x = '\n'
			case 'r':
				x = '\r'
			case 't':
				x = '\t'
			case 's':
				if c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' {
					return true
				}
				continue
			default:
				if unicode.IsLetter(rune(n)) || unicode.IsDigit(rune(n)) {
					continue
				}
				x = n
			}
		} else if j+2 < len(items) && items[j+1] == '-' {
			j += 2 // a range: not read
			continue
		}
		if x == c {
			return true
		}
	}
	return false
}
