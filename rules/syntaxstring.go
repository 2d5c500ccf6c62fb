package rules

import (
	"regexp/syntax"
	"strconv"
	"strings"
	"unicode"
)

// reString writes a parsed regular expression back as text that parses to the same
// program. regexp/syntax's own String works out which flags to print by case-folding
// every rune of every character class (calcFlags), which on the stock rules' wide
// classes was three quarters of loading them; this writes each flag where it is
// needed instead, at no such cost.
func reString(re *syntax.Regexp) string {
	var b strings.Builder
	writeRe(&b, re)
	return b.String()
}

func writeRe(b *strings.Builder, re *syntax.Regexp) {
	switch re.Op {
	case syntax.OpNoMatch:
		b.WriteString(`[^\x00-\x{10FFFF}]`)
	case syntax.OpEmptyMatch:
		b.WriteString(`(?:)`)
	case syntax.OpLiteral:
		if re.Flags&syntax.FoldCase != 0 {
			b.WriteString(`(?i:`)
		} else {
			b.WriteString(`(?:`)
		}
		for _, r := range re.Rune {
			writeLiteralRune(b, r)
		}
		b.WriteByte(')')
	case syntax.OpCharClass:
		b.WriteByte('[')
		for i := 0; i+1 < len(re.Rune); i += 2 {
			lo, hi := re.Rune[i], re.Rune[i+1]
			writeClassRune(b, lo)
			if hi != lo {
				b.WriteByte('-')
				writeClassRune(b, hi)
			}
		}
		if len(re.Rune) == 0 {
			b.WriteString(`^\x00-\x{10FFFF}`)
		}
		b.WriteByte(']')
	case syntax.OpAnyCharNotNL:
		b.WriteString(`(?-s:.)`)
	case syntax.OpAnyChar:
		b.WriteString(`(?s:.)`)
	case syntax.OpBeginLine:
		b.WriteString(`(?m:^)`)
	case syntax.OpEndLine:
		b.WriteString(`(?m:$)`)
	case syntax.OpBeginText:
		b.WriteString(`\A`)
	case syntax.OpEndText:
		if re.Flags&syntax.WasDollar != 0 {
			b.WriteString(`(?-m:$)`)
		} else {
			b.WriteString(`\z`)
		}
	case syntax.OpWordBoundary:
		b.WriteString(`\b`)
	case syntax.OpNoWordBoundary:
		b.WriteString(`\B`)
	case syntax.OpCapture:
		if re.Name != "" {
			b.WriteString(`(?P<` + re.Name + `>`)
		} else {
			b.WriteByte('(')
		}
		writeRe(b, re.Sub[0])
		b.WriteByte(')')
	case syntax.OpStar, syntax.OpPlus, syntax.OpQuest, syntax.OpRepeat:
		b.WriteString(`(?:`)
		writeRe(b, re.Sub[0])
		b.WriteByte(')')
		switch re.Op {
		case syntax.OpStar:
			b.WriteByte('*')
		case syntax.OpPlus:
			b.WriteByte('+')
		case syntax.OpQuest:
			b.WriteByte('?')
		default:
			b.WriteByte('{')
			b.WriteString(strconv.Itoa(re.Min))
			if re.Max != re.Min {
				b.WriteByte(',')
				if re.Max >= 0 {
					b.WriteString(strconv.Itoa(re.Max))
				}
			}
			b.WriteByte('}')
		}
		if re.Flags&syntax.NonGreedy != 0 {
			b.WriteByte('?')
		}
	case syntax.OpConcat:
		b.WriteString(`(?:`)
		for _, sub := range re.Sub {
			writeRe(b, sub)
		}
		b.WriteByte(')')
	case syntax.OpAlternate:
		b.WriteString(`(?:`)
		for i, sub := range re.Sub {
			if i > 0 {
				b.WriteByte('|')
			}
			writeRe(b, sub)
		}
		b.WriteByte(')')
	default:
		b.WriteString(re.String()) // not produced by the parser; kept correct
	}
}

func writeLiteralRune(b *strings.Builder, r rune) {
	if r < 0x80 && strings.ContainsRune(`\.+*?()|[]{}^$`, r) {
		b.WriteByte('\\')
		b.WriteRune(r)
		return
	}
	writeEscaped(b, r)
}

func writeClassRune(b *strings.Builder, r rune) {
	if r < 0x80 && strings.ContainsRune(`\-[]^`, r) {
		b.WriteByte('\\')
		b.WriteRune(r)
		return
	}
	writeEscaped(b, r)
}

func writeEscaped(b *strings.Builder, r rune) {
	if unicode.IsPrint(r) && r != utf8RuneError {
		b.WriteRune(r)
		return
	}
	b.WriteString(`\x{`)
	b.WriteString(strconv.FormatInt(int64(r), 16))
	b.WriteByte('}')
}

const utf8RuneError = '\uFFFD'
