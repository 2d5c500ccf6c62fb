package rules

import (
	"bytes"
	"strings"
	"unicode"
	"unicode/utf8"
	"unsafe"

	rx2syntax "github.com/dlclark/regexp2/syntax"
)

// Native matchers for SpamAssassin rules whose patterns only a backtracking engine
// runs, and that cost the most there. __SUBJ_HAS_TO_1 and __SUBJ_HAS_TO_2 ask
// whether the Subject holds an address named earlier in the header (the To field's,
// a Received line's "for"), __TO_EQ_FROM_1 and _2 whether From and To name the same:
// a backreference, and between the two fields a loop over lines that regexp2 tries
// again from every place in the first field: most of the backtracking engine's
// time (docs/benchmarks.md). Read as what they ask, they are a few scans of the
// header.
//
// Each is chosen by the exact text of the rule's regexp2 pattern (as ruleRegex
// writes it), so that a rule changed by an update falls back to regexp2, and each
// is held to regexp2's answers (TestNativeAgrees on the corpus, FuzzNative). As
// regexp2 reads (?i): a text's rune is lower-cased (unicode.ToLower) before it is
// compared with the pattern's, and \s is unicode.IsSpace.
var nativeExact = map[string]func([]rune) bool{
	`(?ism)\nReceived:[^\n]{0,200} for <?([^\n\s>;]+)>?;(?:(?>[^\n]+)\n+)*Subject: [^\n]{0,100}\1[^a-z0-9]`:                 subjectHasReceivedFor,
	`(?ism)\nTo: (?:(?>[^\n<]{0,80})<)?([^\n\s>,]+)>?\n+(?:(?>[^\n]{1,200})\n+)*Subject: [^\n]{0,100}\1[^a-z0-9]`:           fieldPair{"to: ", "subject: ", ',', 200, subjectHolds}.match,
	`(?ism)\nFrom: (?:(?>[^\n<]{0,80})<)?([^\n\s>]+)>?\n+(?:(?>[^\n]{1,100})\n+)*To: (?:[^\n]{0,80}<)?\1[>,\s\n]`:           fieldPair{"from: ", "to: ", 0, 100, addressedTo}.match,
	`(?ism)\nTo: (?:(?>[^\n<]{0,80})<)?([^\n\s>]+)>?\n+(?:(?>[^\n]{1,100})\n+)*From: (?:[^\n]{0,80}<)?\1[>,\s\n]`:           fieldPair{"to: ", "from: ", 0, 100, addressedTo}.match,
	`(?msi)^Message-Id: <....([0-9a-f]{8})\$([0-9a-f]{8})\$[0-9a-f]{8}@.{100,400}boundary="----=_NextPart_000_...._\1\.\2"`: outlookRatwareID,
	`(?i)(?:://|@)(?:\w+\.)*(\w{7,}\.)\1`: longRepeatedLabel,
	` (?:by|ip)=(?=\d+\.\d+\.\d+\.\d+ )(?:(?:0|2(?:2[4-9]|[3-5]\d)|192\.0\.2|198\.51\.100|203\.0\.113)\.|(?:\d+\.){0,3}(?!(?:2(?:[0-4]\d|5[0-5])|[01]?\d\d?)\b))`:                                                                                       relayIllegalIP,
	`(?ism)\nTo: (?:(?>[^\n<]{0,80})<)?([^\n\s>]+)>?\n+(?:(?>[^\n]{1,100})\n+)*From:\W+(\1)((?>[^\n\w<]+)<)?((?!\1)[^\n">]+)>?\n`:                                                                                                                       fieldPair{"to: ", "from:", 0, 100, nameNotAddress}.match,
	`(?ism)^(?!Accept-Language|Authentication-Results|Content-|DomainKey-Signature|DKIM-|List-|MIME-|Received-SPF|Return-Path|Thread-|User-Agent|Tracking-Code)(?:[a-z]{4,}-[a-z]{3,}|[a-z]{3,}-[a-z]{4,}):\s+\d(?=\S{6,}\s*$)[\da-f]*(?:[-.]\w+)*\s*$`: randomHeader,
	`(?mi)^(?!(?:mail|bounce)[_.-]|[^@]*(?:[+=^~#-]|mc(?:b|g)r|kpmg|nlpbr|ndqv|lcgc|cplpr)|[^@]{26}|.*?@.{0,20}\b(?:cmp-info|cmpgnr|cnn|tori|jysk|amadeus|amazon)\.[a-z]{2,3}$)[^@]*(?:[bcdfgjklmnpqrtvwxz]{5}|[aeiouy]{5}|([a-z]{1,2})(?:\1){3})`:      randomLocalPart,
}

// randomLocalPart is HK_RANDOM_FROM, HK_RANDOM_ENVFROM and HK_RANDOM_REPLYTO, on an
// address:
//
//	(?mi)^(?!EXCEPTIONS)[^@]*(?:[bcdfgjklmnpqrtvwxz]{5}|[aeiouy]{5}|([a-z]{1,2})(?:\1){3})
//
// A line whose local part (what comes before its first '@', lines after it
// included, as [^@] reads them) holds five consonants or five vowels in a row, or
// a letter or two said four times, unless the line is one of the exceptions
// (randomExcepted). RE2 has no backreference, so its relaxed form matched nearly
// every address, and regexp2 ran on each, a tenth of the header rules' time.
func randomLocalPart(r []rune) bool {
	for p := 0; p < len(r); p++ {
		if p > 0 && r[p-1] != '\n' {
			continue // (?m)^
		}
		// [^@]{26}, one of the exceptions, is looked for first: at most 26
		// runes from each line start, so that a long value of many lines and
		// no '@' costs its length, not its length times its lines.
		at := p
		for at < len(r) && r[at] != '@' && at-p < 26 {
			at++
		}
		if at-p >= 26 || randomExcepted(r, p, at) {
			continue
		}
		for q := p; q < at; q++ {
			if runOf(r, q, "bcdfgjklmnpqrtvwxz") || runOf(r, q, "aeiouy") || saidFourTimes(r, q, 1) || saidFourTimes(r, q, 2) {
				return true
			}
		}
	}
	return false
}

// runOf reports whether the five runes at q are of set, as (?i) reads them.
func runOf(r []rune, q int, set string) bool {
	if len(r)-q < 5 {
		return false
	}
	for _, c := range r[q : q+5] {
		if c = lowerRune(c); c >= utf8.RuneSelf || strings.IndexByte(set, byte(c)) < 0 {
			return false
		}
	}
	return true
}

// saidFourTimes is ([a-z]{k})(?:\1){3} at q under (?i): k letters, then the same
// three times more, compared as regexp2's backreference does.
func saidFourTimes(r []rune, q, k int) bool {
	if len(r)-q < 4*k {
		return false
	}
	if letterRun(r, q) < k {
		return false
	}
	for m := 1; m < 4; m++ {
		if !equalFold(r[q:q+k], r[q+m*k:q+(m+1)*k]) {
			return false
		}
	}
	return true
}

// randomExcepted is the look-ahead of randomLocalPart at the line start p (at:
// where the first '@' from p is, or the end, fewer than 26 runes on: a longer
// local part is an exception the caller has found): a bounce or mail- sender; a
// local part with a sign, or one of some names' consonant runs; or an address at
// one of some domains, which ends its line:
//
//	(?:mail|bounce)[_.-]|[^@]*(?:[+=^~#-]|mc(?:b|g)r|kpmg|nlpbr|ndqv|lcgc|cplpr)|[^@]{26}|
//	.*?@.{0,20}\b(?:cmp-info|cmpgnr|cnn|tori|jysk|amadeus|amazon)\.[a-z]{2,3}$
func randomExcepted(r []rune, p, at int) bool {
	for _, pre := range [...]string{"mail", "bounce"} {
		if runesHavePrefix(r, p, pre) && p+len(pre) < len(r) && strings.ContainsRune("_.-", lowerRune(r[p+len(pre)])) {
			return true
		}
	}
	for q := p; q < at; q++ {
		if c := lowerRune(r[q]); c < utf8.RuneSelf && strings.IndexByte("+=^~#-", byte(c)) >= 0 {
			return true
		}
		for _, name := range [...]string{"mcbr", "mcgr", "kpmg", "nlpbr", "ndqv", "lcgc", "cplpr"} {
			if runesHavePrefix(r, q, name) {
				return true
			}
		}
	}
	// .*? and .{0,20} stay in the line.
	for a := p; a < len(r) && r[a] != '\n'; a++ {
		if r[a] != '@' {
			continue
		}
		for b := a + 1; b <= a+21 && b <= len(r); b++ {
			if b > a+1 && r[b-1] == '\n' {
				break
			}
			if !regexp2Boundary(r, b) {
				continue
			}
			for _, name := range [...]string{"cmp-info", "cmpgnr", "cnn", "tori", "jysk", "amadeus", "amazon"} {
				if d := b + len(name); runesHavePrefix(r, b, name) && d < len(r) && r[d] == '.' && tldAtLineEnd(r, d+1) {
					return true
				}
			}
		}
	}
	return false
}

// tldAtLineEnd is [a-z]{2,3}$ at i, under (?im).
func tldAtLineEnd(r []rune, i int) bool {
	n := letterRun(r, i)
	for k := 3; k >= 2; k-- {
		if n >= k && (i+k == len(r) || r[i+k] == '\n') {
			return true
		}
	}
	return false
}

// regexp2Boundary is \b at i, as regexp2 reads word characters.
func regexp2Boundary(r []rune, i int) bool {
	return (i > 0 && wordChar2(r[i-1])) != (i < len(r) && wordChar2(r[i]))
}

// wordChar2 is regexp2's IsWordChar, ASCII answered in line: IsWordChar looks up
// four Unicode categories by name, four map lookups a rune (TestWordChar2).
func wordChar2(c rune) bool {
	if c < utf8.RuneSelf {
		return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_'
	}
	return rx2syntax.IsWordChar(c)
}

// relayIllegalIP is RCVD_ILLEGAL_IP, on X-Spam-Relays-Untrusted:
//
//	(?:by|ip)=(?=\d+\.\d+\.\d+\.\d+ )(?:(?:0|2(?:2[4-9]|[3-5]\d)|192\.0\.2|198\.51\.100|203\.0\.113)\.|(?:\d+\.){0,3}(?!OCTET\b))
//
// A relay's address of four runs of digits (\d: any decimal digit, as regexp2
// reads it) that starts in 0, 224-259 or a documentation network, or has a run
// that is no octet. The runs are whole (each is followed by '.' or ' '), so the
// look-ahead's octet, which must end at a word boundary, is the whole run.
func relayIllegalIP(r []rune) bool {
	for i := 0; i+4 < len(r); i++ {
		if r[i] != ' ' || !(r[i+1] == 'b' && r[i+2] == 'y' || r[i+1] == 'i' && r[i+2] == 'p') || r[i+3] != '=' {
			continue
		}
		s := i + 4
		runs, ok := addressRuns(r, s)
		if !ok {
			continue // not an address: the look-ahead fails
		}
		a := runs[0]
		if len(a) == 1 && a[0] == '0' || len(a) == 3 && a[0] == '2' && (a[1] == '2' && '4' <= a[2] && a[2] <= '9' || '3' <= a[1] && a[1] <= '5') ||
			runesHavePrefix(r, s, "192.0.2.") || runesHavePrefix(r, s, "198.51.100.") || runesHavePrefix(r, s, "203.0.113.") {
			return true
		}
		for _, run := range runs {
			if !octetRunes(run) {
				return true
			}
		}
	}
	return false
}

// addressRuns is the look-ahead \d+\.\d+\.\d+\.\d+  at x: the four runs of
// digits, whole (each ends at its '.', the last at a space).
func addressRuns(r []rune, x int) (runs [4][]rune, ok bool) {
	for k := range runs {
		y := x
		for y < len(r) && unicode.Is(unicode.Nd, r[y]) {
			y++
		}
		end := '.'
		if k == 3 {
			end = ' '
		}
		if y == x || y >= len(r) || r[y] != end {
			return runs, false
		}
		runs[k], x = r[x:y], y+1
	}
	return runs, true
}

// octetRunes is (?:2(?:[0-4]\d|5[0-5])|[01]?\d\d?) matching all of a run of
// digits: one or two digits, or three that start with 0 or 1, 20-24 or 25[0-5].
func octetRunes(d []rune) bool {
	switch len(d) {
	case 1, 2:
		return true
	case 3:
		return d[0] == '0' || d[0] == '1' || d[0] == '2' && ('0' <= d[1] && d[1] <= '4' || d[1] == '5' && '0' <= d[2] && d[2] <= '5')
	}
	return false
}

// longRepeatedLabel is __URI_LONG_REPEAT:
//
//	(?:://|@)(?:\w+\.)*(\w{7,}\.)\1
//
// After a "://" or an "@", a run of labels (word runes, each ended by a '.'), one
// of at least 7 runes repeated at once (example.example.com). Each label of the
// run ends at its '.', so the group is a whole label and its dot, and \1 the same
// runes and a dot right after it. regexp2 ran it on every URI of a message.
func longRepeatedLabel(r []rune) bool {
	for p := 0; p < len(r); p++ {
		x := p + 1 // after '@'
		if r[p] != '@' {
			if !runesHavePrefix(r, p, "://") {
				continue
			}
			x = p + 3
		}
		for x < len(r) {
			y := x
			for y < len(r) && isWordRegexp2(r[y]) {
				y++
			}
			if y == x || y >= len(r) || r[y] != '.' {
				break
			}
			n := y - x // the label r[x:y], then '.'
			if n >= 7 && y+1+n < len(r) && equalFold(r[y+1:y+1+n], r[x:y]) && r[y+1+n] == '.' {
				return true
			}
			x = y + 1
		}
	}
	return false
}

// isWordRegexp2 is \w as regexp2 reads it under (?i): its own word test (a
// letter, a non-spacing mark, a decimal digit, a connector or a zero-width
// joiner) of the rune lower-cased.
func isWordRegexp2(c rune) bool { return wordChar2(lowerRune(c)) }

// lowerRune is unicode.ToLower, ASCII lowered in line: the natives lower-case
// each rune they compare, as regexp2 does under (?i), and a call a rune was much
// of their time (TestWordChar2 holds it to unicode.ToLower).
func lowerRune(c rune) rune {
	if c < utf8.RuneSelf {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		return c
	}
	return unicode.ToLower(c)
}

// outlookRatwareID is KB_RATWARE_OUTLOOK_MID:
//
//	^Message-Id: <....([0-9a-f]{8})\$([0-9a-f]{8})\$[0-9a-f]{8}@.{100,400}boundary="----=_NextPart_000_...._\1\.\2"
//
// A Message-Id of Outlook's shape whose two hex fields come back, 100 to 400
// runes later (any runes: (?s)), in the MIME boundary. Every part but the
// distance is of fixed length, so it is a check at each line start that names
// the field and at each of the 301 places the boundary may start: regexp2
// backtracked through the distances from every place it found the field.
func outlookRatwareID(r []rune) bool {
	const field, boundary = "message-id: <", `boundary="----=_nextpart_000_`
	for i := 0; i < len(r); i = nextNewline(r, i) + 1 { // each line's start
		if !runesHavePrefix(r, i, field) {
			continue
		}
		p := i + len(field) + 4 // after "...."
		if len(r)-p < 27 || !hexRunes(r[p:p+8]) || r[p+8] != '$' || !hexRunes(r[p+9:p+17]) ||
			r[p+17] != '$' || !hexRunes(r[p+18:p+26]) || r[p+26] != '@' {
			continue
		}
		one, two, from := r[p:p+8], r[p+9:p+17], p+27
		for b := from + 100; b <= from+400; b++ {
			x := b + len(boundary) // then "...._", one, '.', two, '"'
			if x+23 > len(r) {
				break
			}
			if runesHavePrefix(r, b, boundary) && r[x+4] == '_' && equalFold(r[x+5:x+13], one) &&
				r[x+13] == '.' && equalFold(r[x+14:x+22], two) && r[x+22] == '"' {
				return true
			}
		}
	}
	return false
}

// hexRunes reports whether every rune is [0-9a-f] as regexp2 reads it under (?i).
func hexRunes(r []rune) bool {
	for _, c := range r {
		c = lowerRune(c)
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// subjectHasReceivedFor is __SUBJ_HAS_TO_2:
//
//	\nReceived:[^\n]{0,200} for <?([^\n\s>;]+)>?;(?:[^\n]+\n+)*Subject: [^\n]{0,100}\1[^a-z0-9]
//
// The address runs to the first rune it cannot hold, and must end at ">;" or ";"
// (it holds no '>' nor ';', so a shorter one would be followed by neither). After
// the ';' either "Subject: " follows at once, or the rest of the line is not empty
// and "Subject: " starts a later line.
func subjectHasReceivedFor(r []rune) bool {
	// The lines that start "Subject: ", found once: each Received line's
	// address was looked for by reading the rest of the header again.
	var subjects []int
	found := false
	for i := nextNewline(r, 0); i < len(r); i = nextNewline(r, i+1) {
		if !runesHavePrefix(r, i+1, "received:") {
			continue
		}
		a := i + 1 + len("received:")
		for q := a; q-a <= 200; q++ {
			if runesHavePrefix(r, q, " for ") {
				c0 := q + len(" for ")
				starts := []int{c0}
				if c0 < len(r) && r[c0] == '<' {
					starts = []int{c0 + 1, c0} // <? is greedy; '<' is an address rune too
				}
				for _, cs := range starts {
					ce := addressEnd(r, cs, ';')
					semi := -1
					switch {
					case ce == cs:
					case ce < len(r) && r[ce] == ';':
						semi = ce
					case ce+1 < len(r) && r[ce] == '>' && r[ce+1] == ';':
						semi = ce + 1
					}
					if semi < 0 {
						continue
					}
					addr, j := r[cs:ce], semi+1
					if runesHavePrefix(r, j, "subject: ") && subjectHolds(r, j+len("subject: "), addr) {
						return true
					}
					if j < len(r) && r[j] != '\n' {
						if !found {
							for s := nextNewline(r, 0) + 1; s < len(r); s = nextNewline(r, s) + 1 {
								if runesHavePrefix(r, s, "subject: ") {
									subjects = append(subjects, s)
								}
							}
							found = true
						}
						for _, s := range subjects {
							if s > j && subjectHolds(r, s+len("subject: "), addr) {
								return true
							}
						}
					}
				}
			}
			if q >= len(r) || r[q] == '\n' {
				break
			}
		}
	}
	return false
}

// fieldPair is the shape of __SUBJ_HAS_TO_1 and __TO_EQ_FROM_1 and _2: an address
// in one field, named again in a later one.
//
//	\nFirst: (?:(?>[^\n<]{0,80})<)?([^\n\s>,]+)>?\n+(?:(?>[^\n]{1,200})\n+)*Second: …\1…
//
// (',' is stop here, 200 is skip.)
// The address starts after the first '<' within 80 runes, or right after the field
// name, and runs to the first rune it cannot hold (stop, or '>', a space, a line
// end), which must be the line's end (after a '>' or not): a shorter one would be
// followed by a rune it can hold. The second field then starts one of the next
// lines, and every line before it holds at most skip runes (the atomic group
// cannot give any back to \n+). What the second field must hold is at: the address
// at a place of its value.
type fieldPair struct {
	first, second string // lower case, with ": "
	stop          rune   // a rune the address cannot hold besides '>', spaces and '\n'; 0: none
	skip          int
	at            func(r []rune, v int, addr []rune) bool
}

// match reports whether the header r (as ALL writes it) names an address in the
// first field and again in a later second one.
func (p fieldPair) match(r []rune) bool {
	for i := nextNewline(r, 0); i < len(r); i = nextNewline(r, i+1) {
		if !runesHavePrefix(r, i+1, p.first) {
			continue
		}
		b := i + 1 + len(p.first)
		k := b
		for k < len(r) && k-b < 80 && r[k] != '\n' && lowerRune(r[k]) != '<' {
			k++
		}
		starts := []int{b}
		if k < len(r) && r[k] == '<' {
			starts = []int{k + 1, b}
		}
		for _, cs := range starts {
			ce := addressEnd(r, cs, p.stop)
			nl := ce
			if nl < len(r) && r[nl] == '>' {
				nl++
			}
			if ce == cs || nl >= len(r) || r[nl] != '\n' {
				continue
			}
			addr := r[cs:ce]
			for s := nl; ; {
				for s < len(r) && r[s] == '\n' {
					s++
				}
				if runesHavePrefix(r, s, p.second) && p.at(r, s+len(p.second), addr) {
					return true
				}
				e := nextNewline(r, s)
				if e == s || e-s > p.skip || e >= len(r) {
					break
				}
				s = e
			}
		}
	}
	return false
}

// addressEnd is where the run of address runes from i ends: the patterns'
// [^\n\s>X]+ (X is stop; 0: none) as regexp2 reads it under (?i).
func addressEnd(r []rune, i int, stop rune) int {
	for ; i < len(r); i++ {
		c := lowerRune(r[i])
		if c == '\n' || c == '>' || (stop != 0 && c == stop) || unicode.IsSpace(c) {
			break
		}
	}
	return i
}

// subjectHolds is "[^\n]{0,100}\1[^a-z0-9]" at v, with \1 addr.
func subjectHolds(r []rune, v int, addr []rune) bool {
	for x := v; x-v <= 100 && x < len(r); x++ {
		if end := x + len(addr); end < len(r) && equalFold(r[x:end], addr) {
			if c := lowerRune(r[end]); !('a' <= c && c <= 'z' || '0' <= c && c <= '9') {
				return true
			}
		}
		if r[x] == '\n' {
			break
		}
	}
	return false
}

// addressedTo is "(?:[^\n]{0,80}<)?\1[>,\s\n]" at v, with \1 addr: the address
// first in the value or after a '<' within 80 runes, and then a '>', a ',' or a
// space.
func addressedTo(r []rune, v int, addr []rune) bool {
	at := func(x int) bool {
		end := x + len(addr)
		if end >= len(r) || !equalFold(r[x:end], addr) {
			return false
		}
		c := lowerRune(r[end])
		return c == '>' || c == ',' || unicode.IsSpace(c)
	}
	if at(v) {
		return true
	}
	for k := v; k-v <= 80 && k < len(r) && r[k] != '\n'; k++ {
		if r[k] == '<' && at(k+1) {
			return true
		}
	}
	return false
}

// runesHavePrefix reports whether r[i:] starts with lit (lower-case ASCII), as
// regexp2 compares under (?i).
func runesHavePrefix(r []rune, i int, lit string) bool {
	if i < 0 || len(r)-i < len(lit) {
		return false
	}
	for k := 0; k < len(lit); k++ {
		if lowerRune(r[i+k]) != rune(lit[k]) {
			return false
		}
	}
	return true
}

// nextNewline is the index of the first '\n' in r from i on, or len(r). The
// matchers above find the lines of a message's whole header (ALL, thousands of
// runes) by their newlines: a loop reads a rune at a time, where bytes.Index
// finds the newline rune's four bytes with vector instructions (a find that
// does not start a rune is passed over).
func nextNewline(r []rune, i int) int {
	if i >= len(r) {
		return len(r)
	}
	b := unsafe.Slice((*byte)(unsafe.Pointer(&r[i])), 4*(len(r)-i))
	for off := 0; ; {
		k := bytes.Index(b[off:], newlineRune[:])
		if k < 0 {
			return len(r)
		}
		if off += k; off%4 == 0 {
			return i + off/4
		}
		off++
	}
}

// newlineRune is '\n' as a rune's bytes in memory (in this machine's order).
var newlineRune = func() (b [4]byte) {
	nl := rune('\n')
	copy(b[:], unsafe.Slice((*byte)(unsafe.Pointer(&nl)), 4))
	return b
}()

// equalFold compares as regexp2's backreference under (?i) does.
func equalFold(a, b []rune) bool {
	for k := range a {
		if a[k] != b[k] && lowerRune(a[k]) != lowerRune(b[k]) {
			return false
		}
	}
	return true
}

// nativeText are matchers for rules the DFAs run but pay for at every byte: a
// counted class that every rune of a line enters, so the search never skips.
// Each is chosen by the exact text of the rule's Go regex (Rule.source), and held
// to Go's regexp by TestNativeTextAgrees and FuzzNativeText.
var nativeText = map[string]func(string) bool{
	`(?m)(?m)^[^\r\n]{998}`: longLine998,
}

// nativeExactText are matchers for rules only a backtracking engine runs, on their
// text as it is (not converted to runes): chosen, as nativeExact's, by the exact
// text of the rule's regexp2 pattern, and held to regexp2 by TestMixedCaseTag,
// TestNativeTextAgrees and FuzzNativeText.
var nativeExactText = map[string]func(string) bool{
	`<(?!IMG|img)[Ii][Mm][Gg]\s`:                  mixedCaseTag("img", false),
	`<(?!FONT|font)[Ff][Oo][Nn][Tt]\s`:            mixedCaseTag("font", false),
	`<(?!AREA|area)[Aa][Rr][Ee][Aa]\s`:            mixedCaseTag("area", false),
	`<(?!CENTER|center)[Cc][Ee][Nn][Tt][Ee][Rr]>`: mixedCaseTag("center", true),
}

// mixedCaseTag is the matcher of the __MIXED_*_CASE rules, an HTML tag whose name
// mixes upper and lower case (ratware's):
//
//	<(?!TAG|tag)[Tt][Aa][Gg]\s   (or > after the name: closed)
//
// Their relaxed form, <[Tt][Aa][Gg]\s, matched at every such tag of every HTML
// message, and regexp2 then tried the pattern at each, on the raw body converted
// to runes. The pattern is ASCII but for \s (a white space rune, as regexp2 has
// it), so the raw body's bytes are read as they are: no rune of more than one
// byte is any of its letters.
func mixedCaseTag(name string, closed bool) func(string) bool {
	upper := strings.ToUpper(name)
	return func(s string) bool {
		for i := strings.IndexByte(s, '<'); i >= 0; {
			t := s[i+1:]
			if len(t) > len(name) && t[:len(name)] != name && t[:len(name)] != upper && hasPrefixFold(t, name) {
				if closed && t[len(name)] == '>' {
					return true
				}
				if r, _ := utf8.DecodeRuneInString(t[len(name):]); !closed && unicode.IsSpace(r) {
					return true
				}
			}
			k := strings.IndexByte(t, '<')
			if k < 0 {
				break
			}
			i += 1 + k
		}
		return false
	}
}

// longLine998 is __LONGLINE, (?m)^[^\r\n]{998}: a line (from the text's start or
// a '\n') of 998 runes or more before its first '\r' or '\n', as Go's regexp
// counts runes (an invalid byte is one). The DFA read every byte of the full
// text; this reads the lines long enough in bytes.
func longLine998(s string) bool {
	// Lines are found by their '\n' (strings.IndexByte, many bytes a step);
	// only one of 998 bytes or more can hold 998 runes before a '\r', so only
	// there is a '\r' looked for. (strings.IndexAny for both read a byte a step.)
	for start := 0; ; {
		line := s[start:]
		nl := strings.IndexByte(line, '\n')
		if nl >= 0 {
			line = line[:nl]
		}
		if len(line) >= 998 {
			if cr := strings.IndexByte(line, '\r'); cr >= 0 {
				line = line[:cr]
			}
			if len(line) >= 998 && utf8.RuneCountInString(line) >= 998 {
				return true
			}
		}
		if nl < 0 {
			return false
		}
		start += nl + 1
	}
}

// nameNotAddress is what __PDS_TO_EQ_FROM_NAME_1 asks of the From after its
// "From:" at v, with \1 the To's address addr:
//
//	\W+(\1)((?>[^\n\w<]+)<)?((?!\1)[^\n">]+)>?\n
//
// the address first, after runes that are not word runes, and then, after
// more such runes and a '<' or at once, something else that ends the line (before
// a '>' or not): "From: bob@example.com <eve@example.org>". Every place in the
// run of non-word runes may start the address; where it is followed by a '<'
// after non-word runes, the name may start after the '<' or at once.
func nameNotAddress(r []rune, v int, addr []rune) bool {
	w := v
	for w < len(r) && !isWordRegexp2(r[w]) {
		w++
	}
	for p := v + 1; p <= w; p++ {
		x := p + len(addr)
		if x > len(r) || !equalFold(r[p:x], addr) {
			continue
		}
		k := x // (?>[^\n\w<]+)<
		for k < len(r) && r[k] != '\n' && r[k] != '<' && !isWordRegexp2(r[k]) {
			k++
		}
		if k > x && k < len(r) && r[k] == '<' && otherName(r, k+1, addr) {
			return true
		}
		if otherName(r, x, addr) {
			return true
		}
	}
	return false
}

// otherName is ((?!\1)[^\n">]+)>?\n at y, with \1 addr: not the address again,
// and a run of runes to the line's end (a '>' before it or not). The run must
// be all of them: the rune after a shorter one is neither '>' nor a line end.
func otherName(r []rune, y int, addr []rune) bool {
	if y+len(addr) <= len(r) && equalFold(r[y:y+len(addr)], addr) {
		return false
	}
	z := y
	for z < len(r) && r[z] != '\n' && r[z] != '"' && r[z] != '>' {
		z++
	}
	return z > y && z < len(r) && (r[z] == '\n' || r[z] == '>' && z+1 < len(r) && r[z+1] == '\n')
}

// randomHeaderExempt are the names __RAND_HEADER's look-ahead leaves out, lower case.
var randomHeaderExempt = [...]string{"accept-language", "authentication-results", "content-", "domainkey-signature",
	"dkim-", "list-", "mime-", "received-spf", "return-path", "thread-", "user-agent", "tracking-code"}

// randomHeader is __RAND_HEADER, a field of a made-up name whose value is one
// token of a tracking id's shape:
//
//	^(?!EXEMPT)(?:[a-z]{4,}-[a-z]{3,}|[a-z]{3,}-[a-z]{4,}):\s+\d(?=\S{6,}\s*$)[\da-f]*(?:[-.]\w+)*\s*$
//
// At each line start: two runs of letters joined by a '-' (each run whole, as
// the '-' and the ':' after them are no letters), white space (all of it: a digit
// follows), a digit (\d: any decimal digit, as regexp2 reads it), and then a
// token of 6 runes or more, followed by white space that holds a line end or
// reaches the text's end. The token is hex runes, then ".word" or "-word" parts:
// the hex runs as far as it can, since a '-' or '.' must follow it.
func randomHeader(r []rune) bool {
	for p := 0; p < len(r); p = nextNewline(r, p) + 1 {
		if randomHeaderAt(r, p) {
			return true
		}
	}
	return false
}

func randomHeaderAt(r []rune, p int) bool {
	a := letterRun(r, p)
	h := p + a
	if h >= len(r) || r[h] != '-' {
		return false
	}
	b := letterRun(r, h+1)
	c := h + 1 + b
	if c >= len(r) || r[c] != ':' || !(a >= 4 && b >= 3 || a >= 3 && b >= 4) {
		return false
	}
	// (Only now: most names fail the shape at once, and the list is 12 names.)
	for _, x := range randomHeaderExempt {
		if runesHavePrefix(r, p, x) {
			return false
		}
	}
	w := c + 1
	for w < len(r) && unicode.IsSpace(r[w]) {
		w++
	}
	if w == c+1 || w >= len(r) || !unicode.Is(unicode.Nd, r[w]) {
		return false
	}
	s := w + 1
	e := s
	for e < len(r) && !unicode.IsSpace(r[e]) {
		e++
	}
	if e-s < 6 {
		return false
	}
	// \s*$ (multi-line: before a '\n', or at the end)
	for t := e; ; t++ {
		if t == len(r) || r[t] == '\n' {
			break
		}
		if !unicode.IsSpace(r[t]) {
			return false
		}
	}
	k := s
	for k < e && isHexRegexp2(r[k]) {
		k++
	}
	for k < e {
		if r[k] != '-' && r[k] != '.' {
			return false
		}
		k++
		j := k
		for k < e && isWordRegexp2(r[k]) {
			k++
		}
		if k == j {
			return false
		}
	}
	return true
}

// letterRun is how many runes from i are [a-z] as regexp2 reads it under (?i).
func letterRun(r []rune, i int) int {
	n := 0
	for i+n < len(r) {
		if c := lowerRune(r[i+n]); c < 'a' || c > 'z' {
			break
		}
		n++
	}
	return n
}

// isHexRegexp2 is [\da-f] as regexp2 reads it under (?i): \d is any decimal
// digit (hexRunes' [0-9a-f] is ASCII digits only).
func isHexRegexp2(c rune) bool {
	c = lowerRune(c)
	return 'a' <= c && c <= 'f' || unicode.Is(unicode.Nd, c)
}
