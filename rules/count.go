package rules

import (
	"regexp/syntax"
	"strings"
	"unicode/utf8"
)

// lineCount counts the matches of a counted rule in the shape of __HAS_HREF and
// its kin (`(?m)^[^>].*?<a href=`): at a line start, runes of a fixed number, a
// lazy dot-star (the dot not a newline), and then one of a few strings. A match
// starts at a line start where the leading runes are there and one of the
// strings follows in the rest of that line; it ends in that line, so the next
// starts at a line start after it. Where it ends in the line, which string the
// regexp's leftmost-first order picks, makes no difference to the count. So the
// count is a test of the leading runes and a string search a line, where the DFA
// walked every line that holds no string, a byte at a time (2 to 3 ns a byte),
// and then the regexp found each match's end, reading up to two lines of HTML
// and clearing a visited set of that size each time. __HAS_HREF,
// __HAS_HREF_ONECASE and __HAS_IMG_SRC_ONECASE count up to 100 links a message.
type lineCount struct {
	lead []*syntax.Regexp // the leading runes' patterns: classes, dots, characters
	lits []string         // the strings after the star
}

// lineCountOf is re's lineCount, nil when re has another shape.
func lineCountOf(re *syntax.Regexp) *lineCount {
	if re.Op != syntax.OpConcat || len(re.Sub) < 2 || re.Sub[0].Op != syntax.OpBeginLine {
		return nil
	}
	c := &lineCount{}
	subs := re.Sub[1:]
	for ; len(subs) > 0 && oneRuneEach(subs[0]); subs = subs[1:] {
		if s := subs[0]; s.Op == syntax.OpLiteral {
			for _, r := range s.Rune {
				c.lead = append(c.lead, &syntax.Regexp{Op: syntax.OpLiteral, Rune: []rune{r}})
			}
		} else {
			c.lead = append(c.lead, s)
		}
	}
	if len(subs) < 2 || subs[0].Op != syntax.OpStar || subs[0].Flags&syntax.NonGreedy == 0 ||
		subs[0].Sub[0].Op != syntax.OpAnyCharNotNL {
		return nil
	}
	set, ok := spellings(&syntax.Regexp{Op: syntax.OpConcat, Sub: subs[1:]}, lineCountMaxLits, true, nil)
	if !ok {
		return nil
	}
	for _, l := range set {
		if l == "" || strings.IndexByte(l, '\n') >= 0 {
			return nil // (the line would cut a string with a newline)
		}
	}
	c.lits = set
	return c
}

const lineCountMaxLits = 8

// oneRuneEach says whether re matches one rune for each of its parts: a class, a
// dot, or characters as written (not case-folded).
func oneRuneEach(re *syntax.Regexp) bool {
	switch re.Op {
	case syntax.OpCharClass, syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		return true
	case syntax.OpLiteral:
		return re.Flags&syntax.FoldCase == 0
	}
	return false
}

// count counts the matches in text, at most limit.
func (c *lineCount) count(text string, limit int) int {
	n := 0
	for pos := 0; n < limit; {
		from := pos // the next line start is the first after from
		if end, ok := c.matchAt(text, pos); ok {
			n++
			from = end // (the leading runes may have read a newline)
		}
		nl := strings.IndexByte(text[from:], '\n')
		if nl < 0 {
			break
		}
		pos = from + nl + 1
	}
	return n
}

// matchAt says whether a match starts at line start i, and where its leading
// runes end: the match ends in that line.
func (c *lineCount) matchAt(text string, i int) (int, bool) {
	for _, re := range c.lead {
		if i >= len(text) {
			return i, false
		}
		r, size := utf8.DecodeRuneInString(text[i:])
		if !runeMatches(re, r) {
			return i, false
		}
		i += size
	}
	line := text[i:]
	if nl := strings.IndexByte(line, '\n'); nl >= 0 {
		line = line[:nl]
	}
	for _, l := range c.lits {
		if strings.Contains(line, l) {
			return i, true
		}
	}
	return i, false
}

// runeMatches says whether r matches re, one rune's pattern of lineCountOf.
func runeMatches(re *syntax.Regexp, r rune) bool {
	switch re.Op {
	case syntax.OpLiteral:
		return re.Rune[0] == r
	case syntax.OpAnyCharNotNL:
		return r != '\n'
	case syntax.OpAnyChar:
		return true
	}
	for k := 0; k+1 < len(re.Rune); k += 2 {
		if re.Rune[k] <= r && r <= re.Rune[k+1] {
			return true
		}
	}
	return false
}

// classCount counts the characters of a class, for a counted rule that is one
// (__E_LIKE_LETTER: e and its look-alikes, up to 320 a message): a table lookup
// a byte, where the anchored DFA was two calls a match.
type classCount struct {
	ascii [utf8.RuneSelf]bool
	class *syntax.Regexp // for the others (runeMatches)
}

// classCountOf is the count of re's characters when re is a class of them
// (its case folded into it), nil otherwise.
func classCountOf(re *syntax.Regexp) *classCount {
	if re.Op != syntax.OpCharClass {
		return nil
	}
	c := &classCount{class: re}
	for r := range rune(utf8.RuneSelf) {
		c.ascii[r] = runeMatches(re, r)
	}
	return c
}

// count counts the class's characters in text, at most limit. A byte that is no
// valid UTF-8 reads as U+FFFD, as the regexp reads it.
func (c *classCount) count(text string, limit int) int {
	n := 0
	for i := 0; i < len(text) && n < limit; {
		if b := text[i]; b < utf8.RuneSelf {
			if c.ascii[b] {
				n++
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(text[i:])
		if runeMatches(c.class, r) {
			n++
		}
		i += size
	}
	return n
}
