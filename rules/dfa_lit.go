package rules

import (
	"regexp/syntax"
	"strings"
	"unicode/utf8"
)

// A litWindow lets a search skip to where a match can start from a literal every
// match holds. The byte skip (accel) cannot help a regex whose first rune is one of
// many (__SPAN_BEG_TEXT's [a-z]{2}<span, __HTML_SHRT_CMNT_OBFU's \w<!--): its start
// state leaves on most bytes, and the DFA reads every one of them. When such a
// regex is a concatenation with a literal in it, and what comes before the literal
// is bounded in bytes or in newlines, a match starts no earlier than that bound
// before the literal's next occurrence: the search skips to there, in the start
// state for the rune before (as the byte skip does). Threads it drops on the way
// could only have led to matches that hold the literal earlier, and there is none.
type litWindow struct {
	lit    string // found with strings.Index, or indexFold when fold
	fold   bool   // lit is lower-case ASCII, to be found in either case
	before int    // the most bytes a match holds before lit; -1 no bound
	lines  int    // the most newlines a match holds before lit; -1 no bound
}

// literalWindow finds a window for re: of the literals re is a concatenation of, the
// longest whose part before is bounded; nil when there is none.
func literalWindow(re *syntax.Regexp) *litWindow {
	for re.Op == syntax.OpCapture {
		re = re.Sub[0]
	}
	if re.Op != syntax.OpConcat {
		return nil
	}
	var best *litWindow
	for k, sub := range re.Sub {
		if sub.Op != syntax.OpLiteral {
			continue
		}
		pre := &syntax.Regexp{Op: syntax.OpConcat, Sub: re.Sub[:k]}
		w := &litWindow{before: mostBytes(pre), lines: mostNewlines(pre)}
		w.lit, w.fold = string(sub.Rune), sub.Flags&syntax.FoldCase != 0
		if w.fold {
			// Under (?i) a literal's k and s also match the Kelvin sign and the
			// long s: only a run without them (nor other runes that are not
			// ASCII) can be looked for in ASCII's two cases. The runes before
			// it in the literal add to the part before.
			from, to := foldSafeRun(sub.Rune)
			head := sub.Rune[:from]
			w.lit = strings.ToLower(string(sub.Rune[from:to]))
			if w.before >= 0 {
				w.before += utf8.UTFMax * len(head)
			}
			if w.lines >= 0 {
				w.lines += strings.Count(string(head), "\n")
			}
		}
		if w.lit == "" || w.before < 0 && w.lines < 0 {
			continue
		}
		if best == nil || len(w.lit) > len(best.lit) {
			best = w
		}
	}
	return best
}

// foldSafeRun is the longest run of runes[from:to] that are ASCII and match no
// rune outside ASCII when case is folded.
func foldSafeRun(runes []rune) (from, to int) {
	start := 0
	for i := 0; i <= len(runes); i++ {
		if i < len(runes) && runes[i] < utf8.RuneSelf && !strings.ContainsRune("kKsS", runes[i]) {
			continue
		}
		if i-start > to-from {
			from, to = start, i
		}
		start = i + 1
	}
	return from, to
}

// mostBytes is the most bytes a match of re has, -1 if there is no bound.
func mostBytes(re *syntax.Regexp) int {
	return most(re, func(re *syntax.Regexp) int {
		switch {
		case re.Op == syntax.OpLiteral && re.Flags&syntax.FoldCase != 0:
			return utf8.UTFMax * len(re.Rune) // (k matches the Kelvin sign's three bytes)
		case re.Op == syntax.OpLiteral:
			return len(string(re.Rune))
		case re.Op == syntax.OpCharClass && len(re.Rune) > 0:
			return utf8.RuneLen(min(re.Rune[len(re.Rune)-1], utf8.MaxRune))
		case re.Op == syntax.OpAnyChar, re.Op == syntax.OpAnyCharNotNL:
			return utf8.UTFMax
		}
		return 0 // (a class of nothing)
	})
}

// start is the first place at or after i where a match can start: the bound
// before the literal's next occurrence at or after i, on a rune's first byte;
// len(text) when it does not occur. next and win remember the occurrence and its
// place across a search's calls (next < 0: none looked for yet), so that each
// occurrence is looked for once.
func (w *litWindow) start(text string, i int, next, win *int) int {
	if *next < i {
		var k int
		if w.fold {
			k = indexFold(text[i:], w.lit)
		} else {
			k = strings.Index(text[i:], w.lit)
		}
		if k < 0 {
			*next, *win = len(text), len(text)
			return len(text)
		}
		p := i + k
		j := i
		if w.before >= 0 {
			j = max(j, p-w.before)
		}
		if w.lines >= 0 {
			// The start of the line w.lines lines before the literal's.
			nl := p
			for n := 0; n <= w.lines && nl >= j; n++ {
				nl = j + strings.LastIndexByte(text[j:nl], '\n')
			}
			j = max(j, nl+1)
		}
		*next, *win = p, runeStart(text, j)
	}
	return max(i, *win)
}

// runeStart is j, or the first byte of the rune j is inside of (as
// utf8.DecodeRuneInString reads text: a byte of an invalid sequence is a rune of
// its own).
func runeStart(text string, j int) int {
	for k := 1; k < utf8.UTFMax && j-k >= 0 && j < len(text); k++ {
		if c := text[j-k]; c >= 0xc0 {
			if _, n := utf8.DecodeRuneInString(text[j-k:]); n > k {
				return j - k
			}
			return j
		} else if c < 0x80 {
			return j
		}
	}
	return j
}

// kindBefore is the kind of the rune before place j > 0 of text (beforeNewline,
// beforeWord, beforeOther), for the start state a skip lands in.
func kindBefore(text string, j int) int {
	if c := text[j-1]; c < utf8.RuneSelf {
		return int(asciiKind[c])
	}
	return beforeOther
}
