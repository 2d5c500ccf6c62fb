package rules

import (
	"math/bits"
	"slices"
	"strings"
	"unicode/utf8"
)

// utf8Escapes rewrites the UTF-8 byte sequences a Perl pattern spells escape by
// escape as the characters they encode: \xc3\xa9 as é, \xf0\x9d[\x90-\x9f][\x80-\xbf]
// as [𝐀-𝟿] (U+1D400-U+1D7FF). SpamAssassin 4 matches its rules against the UTF-8 bytes
// of a message's text (normalize_charset, on by default, decodes the charset; the
// rendered text is then encoded as UTF-8), so its rules spell non-ASCII characters as
// their UTF-8 bytes: the Cyrillic look-alikes of __UNICODE_OBFU_ASC, the
// mathematical letters of __4BYTE_UTF8_WORD, the accented words of the fraud
// rules, ReplaceTags' look-alike lists. Postern reads decoded characters, where the
// bytes as written would match nothing, and pruneByteSequences dropped them.
//
// Only runs that decode whole into valid characters are rewritten; anything else
// (a legacy charset's bytes, as KOREAN_UCE_SUBJECT's EUC-KR, or a run a
// quantifier ends, which in Perl repeats the last byte only) stays as written.
// Under /i the characters may also match their other case, where SpamAssassin's
// bytes would not: the rules mean a letter, whatever its case.
func utf8Escapes(body string) string {
	if !strings.Contains(body, `\x`) {
		return body
	}
	var b strings.Builder
	last := 0
	for i := 0; i < len(body); {
		sets, j := readByteItems(body, i, nil)
		if len(sets) >= 1 && strings.HasPrefix(body[j:], "(?:") {
			if class, end, ok := groupChars(body, j, sets); ok {
				b.WriteString(body[last:i])
				b.WriteString(class)
				last, i = end, end
				continue
			}
		}
		if len(sets) >= 2 && !quantified(body, j) {
			if chars, ok := decodeUTF8Sets(sets); ok {
				b.WriteString(body[last:i])
				for _, c := range chars {
					b.WriteString(c)
				}
				last, i = j, j
				continue
			}
		}
		if j > i {
			i = j
			continue
		}
		switch body[i] {
		case '\\':
			i += 2 // an escape: never the start of an item's run
		case '[':
			if end := classEnd(body, i); end > 0 {
				i = end + 1 // a class that is not an item: not read inside
			} else {
				i++
			}
		default:
			i++
		}
	}
	if last == 0 {
		return body
	}
	b.WriteString(body[last:])
	return b.String()
}

// groupChars reads a group of alternatives at i, "(?:ALT|ALT|...)", that the
// items before it (prefix) begin: ReplaceTags' lists of look-alikes spell a
// block's characters so, their lead bytes once (<I>'s
// [\xf0][\x9d](?:[\x90][\x88\xa2\xbc]|[\x91][\x96\xb0]|...), the
// mathematical letters). When each alternative is a run of items that ends the
// prefix's character, the prefix and the group are one class of those
// characters; it returns the class and the index after the group. Left as they
// were, the bytes were read as characters of their own, Latin-1's, in runs
// that pruneByteSequences dropped: "𝐈𝐦𝐩𝐨𝐫𝐭𝐚𝐧𝐭" was not FUZZY_IMPORTANT.
func groupChars(body string, i int, prefix []byteSet) (class string, end int, ok bool) {
	var runes []rune
	j := i + len("(?:")
	for {
		var sets []byteSet
		sets, j = readByteItems(body, j, prefix[:len(prefix):len(prefix)])
		if len(sets) == len(prefix) || j >= len(body) {
			return "", i, false
		}
		if chars, ok := decodeUTF8Sets(sets); !ok || len(chars) != 1 {
			return "", i, false
		}
		runes = append(runes, charsOf(sets)...)
		switch body[j] {
		case '|':
			j++
			continue
		case ')':
			if quantified(body, j+1) {
				return "", i, false
			}
			slices.Sort(runes)
			return runeClass(slices.Compact(runes)), j + 1, true
		}
		return "", i, false
	}
}

// byteSet is the bytes of 0x80-0xff one item of a pattern matches, and whether it
// also matches some below 0x80 (__E_LIKE_LETTER's \xd3[\x07\xa9\xab]: ө, ӫ,
// and a control character that continues no character).
type byteSet struct {
	high [2]uint64
	low  bool
}

func (s *byteSet) add(c byte) {
	if c < 0x80 {
		s.low = true
		return
	}
	s.high[(c-0x80)/64] |= 1 << ((c - 0x80) % 64)
}
func (s byteSet) has(c byte) bool { return c >= 0x80 && s.high[(c-0x80)/64]&(1<<((c-0x80)%64)) != 0 }
func (s byteSet) count() int      { return bits.OnesCount64(s.high[0]) + bits.OnesCount64(s.high[1]) }
func (s byteSet) within(lo, hi byte) bool {
	for c := 0x80; c <= 0xff; c++ {
		if s.has(byte(c)) && (byte(c) < lo || byte(c) > hi) {
			return false
		}
	}
	return true
}

// readByteItems reads the run of items (readByteItem) at i onto sets, and
// returns them and the index after the run.
func readByteItems(s string, i int, sets []byteSet) ([]byteSet, int) {
	for {
		set, end, ok := readByteItem(s, i)
		if !ok {
			return sets, i
		}
		sets = append(sets, set)
		i = end
	}
}

// readByteItem reads a high byte at i: \xHH, or a class of such escapes and
// ranges of them ([\xa8\xa9], [\x90-\x9f]), where low bytes may be among
// the high ones.
func readByteItem(s string, i int) (set byteSet, end int, ok bool) {
	if c, ok := hexEscape(s, i); ok && c >= 0x80 {
		set.add(c)
		return set, i + 4, true
	}
	if i >= len(s) || s[i] != '[' {
		return set, i, false
	}
	j := i + 1
	for j < len(s) && s[j] != ']' {
		lo, ok := hexEscape(s, j)
		if !ok {
			return set, i, false
		}
		hi := lo
		j += 4
		if j < len(s) && s[j] == '-' {
			if hi, ok = hexEscape(s, j+1); !ok || hi < lo {
				return set, i, false
			}
			j += 5
		}
		for c := int(lo); c <= int(hi); c++ {
			set.add(byte(c))
		}
	}
	if j >= len(s) || set.count() == 0 {
		return set, i, false
	}
	return set, j + 1, true
}

// hexEscape reads \xHH at i.
func hexEscape(s string, i int) (byte, bool) {
	if i+4 > len(s) || s[i] != '\\' || s[i+1] != 'x' || !isHex(s[i+2]) || !isHex(s[i+3]) {
		return 0, false
	}
	return unhex(s[i+2])<<4 | unhex(s[i+3]), true
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// quantified says whether a quantifier starts at i.
func quantified(s string, i int) bool {
	return i < len(s) && strings.IndexByte("*+?{", s[i]) >= 0
}

// decodeUTF8Sets reads items as UTF-8 characters: each a lead byte's set (all
// of one length) and the continuation bytes' sets after it. It returns each
// character as a pattern, or false when the items are not whole characters.
// Low bytes among a continuation's are left out: after a lead byte they make no
// character, and decoded text never holds them there.
func decodeUTF8Sets(sets []byteSet) ([]string, bool) {
	var out []string
	for len(sets) > 0 {
		n := 0
		switch lead := sets[0]; {
		case lead.low:
			return nil, false
		case lead.within(0xc2, 0xdf):
			n = 2
		case lead.within(0xe0, 0xef):
			n = 3
		case lead.within(0xf0, 0xf4):
			n = 4
		default:
			return nil, false
		}
		if len(sets) < n {
			return nil, false
		}
		for _, c := range sets[1:n] {
			if !c.within(0x80, 0xbf) {
				return nil, false
			}
		}
		combos := 1
		for _, c := range sets[:n] {
			combos *= c.count()
		}
		if combos > 1<<16 {
			return nil, false // not a character but a range of bytes ([\xf0-\xf4][\x80-\xbf]...)
		}
		runes := charsOf(sets[:n])
		if len(runes) == 0 {
			return nil, false
		}
		out = append(out, runeClass(runes))
		sets = sets[n:]
	}
	return out, true
}

// charsOf lists the valid characters whose UTF-8 bytes the sets spell.
func charsOf(sets []byteSet) []rune {
	var runes []rune
	var walk func(k int, prefix []byte)
	walk = func(k int, prefix []byte) {
		if k == len(sets) {
			if r, size := utf8.DecodeRune(prefix); r != utf8.RuneError && size == len(prefix) {
				runes = append(runes, r)
			}
			return
		}
		for c := 0x80; c <= 0xff; c++ {
			if sets[k].has(byte(c)) {
				walk(k+1, append(prefix, byte(c)))
			}
		}
	}
	walk(0, make([]byte, 0, 4))
	slices.Sort(runes)
	return runes
}

// runeClass writes characters as one (é) or a class of their ranges, as the
// characters themselves: both engines read them so, and the passes over the
// pattern's text (counted repetitions, possessive classes) need not know an
// \x{...} from a {n} count.
func runeClass(runes []rune) string {
	if len(runes) == 1 {
		return string(runes[0])
	}
	var b strings.Builder
	b.WriteByte('[')
	for i := 0; i < len(runes); {
		j := i
		for j+1 < len(runes) && runes[j+1] == runes[j]+1 {
			j++
		}
		b.WriteRune(runes[i])
		if j > i {
			b.WriteByte('-')
			b.WriteRune(runes[j])
		}
		i = j + 1
	}
	b.WriteByte(']')
	return b.String()
}

// tagValue is a replace_tag's value as the rules read it. A value that spells
// characters as their UTF-8 bytes (ReplaceTags' look-alike lists: <N>'s
// [\xc3][\x91\xb1] for Ñ and ñ) is written for SpamAssassin 4, which matches
// its rules against UTF-8 text. Its single high bytes besides, left from the
// single-byte charsets of SpamAssassin 3's days (<N>'s \xcd\xd0\xd1\xde\xe7\xf0\xf1:
// Greek's Ν, Π, η, π, and Latin-1's Ñ, ñ), can there only match a byte inside
// some character; here, where rules read characters, they were Latin-1's
// letters, many of which the tag never meant. <N>'s \xe7 is ç, <T>'s \xc3 Ã:
// FUZZY_IMPORTANT hit the Portuguese "importação" on six phishing messages,
// where SpamAssassin does not, and would on a Portuguese ham. They are
// dropped: the characters the tag means are among its sequences. A value
// without sequences keeps its Latin-1 reading (FF_A2's endere[\xe7]o, which
// SpamAssassin 4 matches on no UTF-8 text, but which means "endereço").
func tagValue(v string) string {
	conv := utf8Escapes(v)
	if conv == v {
		return v
	}
	return dropHighBytes(conv)
}

// noMatch is a class that matches nothing, in both engines' syntax.
const noMatch = `[^\s\S]`

// dropHighBytes drops the \xHH escapes of bytes 0x80-0xff from a pattern: from
// its classes (a range of them too, one that starts below 0x80 stays), a class
// left empty and an escape outside a class becoming noMatch. Negated classes
// stay as they are.
func dropHighBytes(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); {
		switch {
		case p[i] == '\\':
			if c, ok := hexEscape(p, i); ok && c >= 0x80 {
				b.WriteString(noMatch)
				i += 4
				continue
			}
			end := min(i+2, len(p))
			b.WriteString(p[i:end])
			i = end
		case p[i] == '[':
			end := classEnd(p, i)
			if end < 0 || strings.HasPrefix(p[i:], "[^") {
				if end < 0 {
					end = len(p) - 1
				}
				b.WriteString(p[i : end+1])
				i = end + 1
				continue
			}
			var kept strings.Builder
			for j := i + 1; j < end; {
				high, k := classItem(p, j, end)
				if k+1 < end && p[k] == '-' { // a range: it goes with its start
					_, k = classItem(p, k+1, end)
				}
				if !high {
					kept.WriteString(p[j:k])
				}
				j = k
			}
			if kept.Len() == 0 {
				b.WriteString(noMatch)
			} else {
				b.WriteByte('[')
				b.WriteString(kept.String())
				b.WriteByte(']')
			}
			i = end + 1
		default:
			b.WriteByte(p[i])
			i++
		}
	}
	return b.String()
}

// classItem reads one member of a class at j (a character, an escape, a
// POSIX class), before end: whether it is a \xHH escape of 0x80-0xff, and
// the index after it.
func classItem(p string, j, end int) (high bool, next int) {
	switch {
	case p[j] == '\\':
		if c, ok := hexEscape(p, j); ok {
			return c >= 0x80, j + 4
		}
		return false, min(j+2, end)
	case strings.HasPrefix(p[j:], "[:"):
		if k := strings.Index(p[j:end], ":]"); k > 0 {
			return false, j + k + 2
		}
	}
	_, size := utf8.DecodeRuneInString(p[j:])
	return false, j + size
}
