package rules

import (
	"fmt"
	"mime"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/postern/postern/scan"
)

// SpamAssassin's MIMEEval and BodyEval plugins (Mail/SpamAssassin/Plugin/MIMEEval.pm,
// BodyEval.pm), from what the MIME headers of the parts, their decoded text and
// their raw lines (scan.RawStats) say.

// mimeStats is _check_attachments's summary of the parts.
type mimeStats struct {
	htmlParts, textParts   int
	base64, qp, attachment int
	base64Text, badISO     bool
	alternative            bool
	multipartRatio         float64 // text/plain against text/html in an alternative; 1 when none
	htmlCharsets           []string
	qpLongLine             bool // a quoted-printable line longer than 78 characters
	asciiIllegal           bool // us-ascii text/plain with a byte that is not 7-bit text
}

func (t *target) mime() *mimeStats {
	if t.mimeRes != nil {
		return t.mimeRes
	}
	st := &mimeStats{multipartRatio: 1}
	t.mimeRes = st
	var lastText, lastHTML = -1, -1
	qpLines, qpEscapes := 0, 0
	for _, p := range t.msg.Parsed.Parts {
		h := p.Header
		cte := strings.ToLower(strings.TrimSpace(h.Get("Content-Transfer-Encoding")))
		cd := strings.ToLower(strings.TrimSpace(h.Get("Content-Disposition")))
		_, params, _ := mime.ParseMediaType(h.Get("Content-Type"))
		charset := strings.ToLower(params["charset"])
		ctype := p.ContentType
		switch {
		case ctype == "text/html":
			st.htmlParts++
		case strings.HasPrefix(ctype, "text"):
			st.textParts++
		}
		switch {
		case strings.Contains(cte, "base64"):
			st.base64++
		case strings.Contains(cte, "quoted-printable"):
			st.qp++
		}
		if strings.Contains(cd, "attachment") {
			st.attachment++
		}
		if strings.HasPrefix(ctype, "text") && strings.Contains(cte, "base64") &&
			(charset == "" || reASCIICharset.MatchString(charset)) &&
			!strings.HasPrefix(cd, "attachment") && !strings.HasPrefix(cd, "inline") {
			st.base64Text = true
		}
		if reISOCharset.MatchString(charset) && !reGoodISO.MatchString(charset) {
			st.badISO = true
		}
		if charset != "" && strings.ContainsAny(charset, "abcdefghijklmnopqrstuvwxyz") {
			st.htmlCharsets = append(st.htmlCharsets, charset)
		}
		size := len(p.Text)
		if raw := p.Raw; raw != nil {
			size = raw.Bytes // SpamAssassin compares the parts' raw sizes
			if cte == "quoted-printable" {
				qpLines += raw.QPLines
				qpEscapes += raw.QPEscapes
				st.qpLongLine = st.qpLongLine || raw.QPLongLine
			}
			if ctype == "text/plain" && (charset == "" || charset == "us-ascii") && raw.IllegalASCII > 0 {
				st.asciiIllegal = true
			}
		}
		if p.Alternative > 0 {
			st.alternative = true
			if !strings.Contains(cd, "attachment") {
				switch ctype {
				case "text/html":
					lastHTML = size
				case "text/plain":
					lastText = size
				}
			}
		}
	}
	if qpLines > 0 {
		// SpamAssassin's mime_qp_count counts the quoted-printable parts until
		// their lines are read; then it is the count of needless escapes, which
		// __MIME_QP and the rules built on it test.
		st.qp = qpEscapes
	}
	if lastText >= 0 && lastHTML > 0 {
		st.multipartRatio = float64(lastText) / float64(lastHTML)
	}
	return st
}

var (
	reASCIICharset = quick(`us-ascii|ansi_x3\.4-1968|iso-ir-6|ansi_x3\.4-1986|iso_646\.irv:1991|ascii|iso646-us|us|ibm367|cp367|csascii`)
	reISOCharset   = quick(`(?i)iso-\S+-\S+\b`)
	reGoodISO      = quick(`(?i)iso-(?:8859-\d{1,2}|2022-(?:jp|kr))\b`)
	// SpamAssassin's CHARSETS_LIKELY_TO_FP_AS_CAPS.
	reCapsCharsetName = quick(`(?i)^` + capsCharsets + `$`)
)

func init() {
	const p = "MIMEEval"
	register(p, "check_for_mime", func(args []string) (evalFunc, error) {
		if len(args) != 1 {
			return nil, fmt.Errorf("want TEST")
		}
		tests := map[string]func(*mimeStats) bool{
			"mime_base64_count":          func(s *mimeStats) bool { return s.base64 > 0 },
			"mime_base64_encoded_text":   func(s *mimeStats) bool { return s.base64Text },
			"mime_body_html_count":       func(s *mimeStats) bool { return s.htmlParts > 0 },
			"mime_body_text_count":       func(s *mimeStats) bool { return s.textParts > 0 },
			"mime_faraway_charset":       func(*mimeStats) bool { return false }, // ok_locales "all"
			"mime_multipart_alternative": func(s *mimeStats) bool { return s.alternative },
			"mime_qp_count":              func(s *mimeStats) bool { return s.qp > 0 },
			"mime_attachment":            func(s *mimeStats) bool { return s.attachment > 0 },
			"mime_bad_iso_charset":       func(s *mimeStats) bool { return s.badISO },
			"mime_qp_long_line":          func(s *mimeStats) bool { return s.qpLongLine },
		}
		test, ok := tests[args[0]]
		if !ok {
			return nil, fmt.Errorf("check_for_mime(%q) not implemented (it reads the raw encoded lines)", args[0])
		}
		return func(t *target) bool { return test(t.mime()) }, nil
	})
	fixed(p, "check_for_ascii_text_illegal", func(t *target) bool { return t.mime().asciiIllegal })
	fixed(p, "check_for_mime_html", func(t *target) bool {
		return reTextHTML.MatchString(t.get("Content-Type")) || t.mime().htmlParts > 0
	})
	fixed(p, "check_for_mime_html_only", func(t *target) bool {
		st := t.mime()
		return reTextHTML.MatchString(t.get("Content-Type")) || (st.htmlParts > 0 && st.textParts == 0)
	})
	register(p, "check_mime_multipart_ratio", func(args []string) (evalFunc, error) {
		lo, hi, err := bounds(args)
		if err != nil {
			return nil, err
		}
		return func(t *target) bool {
			r := t.mime().multipartRatio
			return r >= lo && r < hi
		}, nil
	})
	register(p, "check_for_uppercase", func(args []string) (evalFunc, error) {
		lo, hi, err := bounds(args)
		if err != nil {
			return nil, err
		}
		return func(t *target) bool {
			u := uppercasePercent(t)
			return u > lo && u <= hi
		}, nil
	})
	fixed(p, "check_ma_non_text", func(t *target) bool {
		for _, part := range t.msg.Parsed.Parts {
			if part.Alternative > 0 && !strings.HasPrefix(part.ContentType, "text/") &&
				part.ContentType != "application/rtf" {
				return true
			}
		}
		return false
	})
	register(p, "check_base64_length", func(args []string) (evalFunc, error) {
		if len(args) < 1 {
			return nil, fmt.Errorf("want MIN[, MAX]")
		}
		lo, err := strconv.ParseFloat(args[0], 64)
		if err != nil {
			return nil, err
		}
		hi := -1.0
		if len(args) > 1 {
			if hi, err = strconv.ParseFloat(args[1], 64); err != nil {
				return nil, err
			}
		}
		return func(t *target) bool {
			n := float64(t.base64LineLength())
			return (hi < 0 || n <= hi) && n >= lo
		}, nil
	})
}

var reTextHTML = regexp.MustCompile(`(?i)^text/html`)

// hasWordGap is /\S\s+\S/ (FuzzWordGap's regexp), by hand: white space between two other
// runes (\s is ASCII, so a byte outside it is part of a rune outside it). The
// regexp was tried from every byte of every paragraph.
func hasWordGap(s string) bool {
	for i := 1; i < len(s); i++ {
		if !isRE2Space(s[i]) || isRE2Space(s[i-1]) {
			continue
		}
		j := i + 1
		for j < len(s) && isRE2Space(s[j]) {
			j++
		}
		if j < len(s) {
			return true
		}
		i = j
	}
	return false
}

// uppercasePercent is check_for_uppercase's measure: the share of capitals among
// the letters and digits of the body lines that hold words, 0 for short bodies
// and for charsets whose text reads as capitals.
func uppercasePercent(t *target) float64 {
	if t.uppercaseDone {
		return t.uppercase
	}
	t.uppercaseDone = true
	_, params, _ := mime.ParseMediaType(t.get("Content-Type"))
	charsets := append([]string{params["charset"]}, t.mime().htmlCharsets...)
	for _, c := range charsets {
		if c != "" && reCapsCharsetName.MatchString(c) {
			return 0
		}
	}
	var n, lower, upper int
	for _, line := range t.bodyLines {
		if !hasWordGap(line) || reBase64Line.MatchString(line) {
			continue
		}
		n += len(line)
		for i := 0; i < len(line); i++ {
			switch c := line[i]; {
			case c >= 'a' && c <= 'z' || c >= '0' && c <= '9':
				lower++
			case c >= 'A' && c <= 'Z':
				upper++
			}
		}
	}
	if n < 200 || upper+lower == 0 {
		return 0
	}
	t.uppercase = float64(upper) / float64(upper+lower) * 100
	return t.uppercase
}

var (
	reBase64Line = quick(`^(?:[A-Za-z0-9+/=]{60,76} ){2}`)
)

// base64LineLength is _check_base64_length: the longest line of a base64 part's
// encoding (calendar attachments aside).
func (t *target) base64LineLength() int {
	if t.base64LenDone {
		return t.base64Len
	}
	t.base64LenDone = true
	for _, p := range t.msg.Parsed.Parts {
		if p.ContentType == "application/ics" || !strings.EqualFold(strings.TrimSpace(p.Header.Get("Content-Transfer-Encoding")), "base64") {
			continue
		}
		t.base64Len = max(t.base64Len, t.rawLongestLine(p))
	}
	return t.base64Len
}

// rawLongestLine finds a part's encoded body in the raw message by its header's
// place and returns the longest line of it, its line end counted as one byte:
// SpamAssassin's raw lines keep their "\n" (a CRLF read as LF), so a 76-column
// base64 line is 77 long to BASE64_LENGTH_79_INF and its kin. The part is located
// by the boundaries; it is approximate for parts whose header repeats another's.
func (t *target) rawLongestLine(p scan.Part) int {
	if t.msg.Raw == nil {
		return 0
	}
	raw := t.rawText()
	cte := p.Header.Get("Content-Transfer-Encoding")
	// The field as the message has it: a value folded over two lines
	// ("application/octet-stream;\n\tname=…", as most attachments' are) is
	// not in the raw message unfolded.
	ct := p.Header.Get("Content-Type")
	if field, err := p.Header.Raw("Content-Type"); err == nil && len(field) > 0 {
		ct = strings.ReplaceAll(string(field), "\r\n", "\n")
	}
	i := strings.Index(raw, ct)
	if i < 0 || cte == "" {
		return 0
	}
	j := strings.Index(raw[i:], "\n\n")
	if j < 0 {
		return 0
	}
	body := raw[i+j+2:]
	longest := 0
	for line := range strings.Lines(body) {
		text := strings.TrimRight(line, "\r\n")
		if text == "" || strings.HasPrefix(text, "--") {
			break
		}
		n := len(text)
		if strings.HasSuffix(line, "\n") {
			n++
		}
		longest = max(longest, n)
	}
	return longest
}

// rawText is the raw message (up to maxFull) with \n line ends.
func (t *target) rawText() string {
	if t.full != "" {
		return t.full
	}
	if !t.rawTextDone && t.msg.Raw != nil {
		t.rawTextDone = true
		var err error
		if t.rawTextCache, err = readFull(t.msg); err != nil && t.err == nil {
			t.err = err
		}
	}
	return t.rawTextCache
}

// The BodyEval plugin.
func init() {
	const p = "BodyEval"
	register(p, "multipart_alternative_difference", func(args []string) (evalFunc, error) {
		if len(args) != 2 {
			return nil, fmt.Errorf("want MIN, MAX")
		}
		lo, _, err1 := number(args[0])
		hi, hasHi, err2 := number(args[1])
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("bad bounds %q, %q", args[0], args[1])
		}
		return func(t *target) bool {
			d := t.altDiff().diff
			return (lo == 0 || d > lo) && (!hasHi || d <= hi)
		}, nil
	})
	register(p, "multipart_alternative_difference_count", func(args []string) (evalFunc, error) {
		ratio, minHTML, err := bounds(args)
		if err != nil {
			return nil, err
		}
		return func(t *target) bool {
			d := t.altDiff()
			return float64(d.html) > minHTML && float64(d.text)/float64(d.html) > ratio
		}, nil
	})
	register(p, "check_body_length", func(args []string) (evalFunc, error) {
		if len(args) != 1 {
			return nil, fmt.Errorf("want MAX")
		}
		limit, err := strconv.Atoi(args[0])
		if err != nil {
			return nil, err
		}
		return func(t *target) bool { return t.bodyLength() <= limit }, nil
	})
	register(p, "tvd_vertical_words", func(args []string) (evalFunc, error) {
		lo, hi, err := bounds(args)
		if err != nil {
			return nil, err
		}
		if hi >= 100 {
			hi = 101
		}
		return func(t *target) bool {
			v := -1
			for _, line := range t.bodyLines {
				if len(line) <= 5 {
					continue
				}
				spaces := strings.Count(line, " ")
				non := len(line) - spaces
				pct := 100
				if spaces <= non && non != 0 {
					pct = 100 * spaces / non
				}
				v = max(v, pct)
			}
			return float64(v) >= lo && float64(v) < hi
		}, nil
	})
	register(p, "check_blank_line_ratio", func(args []string) (evalFunc, error) {
		if len(args) < 2 {
			return nil, fmt.Errorf("want MIN, MAX[, MINLINES]")
		}
		lo, hi, err := bounds(args[:2])
		if err != nil {
			return nil, err
		}
		minLines := 1
		if len(args) > 2 {
			if minLines, err = strconv.Atoi(args[2]); err != nil || minLines < 1 {
				minLines = 1
			}
		}
		return func(t *target) bool {
			var lines, blank int
			for _, part := range t.msg.Parsed.Parts {
				if part.Text == "" {
					continue
				}
				for line := range strings.Lines(part.Text) {
					lines++
					if strings.TrimSpace(line) == "" {
						blank++
					}
				}
			}
			r := -1.0
			if lines >= minLines {
				r = 100 * float64(blank) / float64(lines)
			}
			return (lo == 0 && r <= hi) || (r > lo && r <= hi)
		}, nil
	})
}

// altDiffStats is _multipart_alternative_difference: how much of an alternative's
// HTML text the plain text leaves out, in percent of the HTML's distinct words.
type altDiffStats struct {
	diff       float64
	html, text int
}

func (t *target) altDiff() altDiffStats {
	if t.altDiffDone {
		return t.altDiffRes
	}
	t.altDiffDone = true
	parts := t.msg.Parsed.Parts
	// A calendar invitation's HTML and its ics are not alternatives of each other.
	if len(parts) == 2 && parts[0].ContentType == "text/html" && parts[1].ContentType == "text/calendar" {
		return t.altDiffRes
	}
	groups := map[int][]int{} // indexes into parts, by alternative
	var order []int
	for i, p := range parts {
		if p.Alternative > 0 && strings.HasPrefix(p.ContentType, "text") {
			if _, ok := groups[p.Alternative]; !ok {
				order = append(order, p.Alternative)
			}
			groups[p.Alternative] = append(groups[p.Alternative], i)
		}
	}
	var res altDiffStats
	for _, id := range order {
		html, text := map[string]int{}, map[string]int{}
		for _, i := range groups[id] {
			switch p := parts[i]; p.ContentType {
			case "text/html":
				for _, w := range strings.Fields(t.rendered(i)) {
					if hasWordChar(w) {
						html[w]++
					}
				}
				if len(html) == 0 && strings.Contains(strings.ToLower(p.Text), "<img") {
					html["\n"] = 1
				}
			case "text/plain":
				for _, w := range strings.Fields(p.Text) {
					if hasWordChar(w) {
						text[w]++
					}
				}
			}
		}
		orig := len(html)
		if orig == 0 {
			continue
		}
		res.html, res.text = orig, len(text)
		for w, n := range text {
			if m, ok := html[w]; ok && m-n < 1 {
				delete(html, w)
			}
		}
		res.diff = max(res.diff, float64(len(html))/float64(orig)*100)
	}
	t.altDiffRes = res
	return res
}

// hasWordChar is Perl's /\w/ on SpamAssassin's rendered text, which is
// characters, decoded from the part's charset: a word character of any script
// (a letter, a mark, a decimal digit, connector punctuation), not only ASCII's.
// The words of a Chinese HTML part were none, so an alternative whose plain
// text leaves them all out was skipped (MPART_ALT_DIFF on spam-2.01288). Not
// wordChar2 (regexp2's \w, .NET's): that one leaves out the spacing and
// enclosing marks and the letter numbers (Ⅻ), which Perl's \p{Word} holds.
func hasWordChar(s string) bool {
	for _, r := range s {
		if r < utf8.RuneSelf {
			if isWordChar(byte(r)) {
				return true
			}
			continue
		}
		if unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.In(r, unicode.M, unicode.Nl, unicode.Pc) || r == 0x200c || r == 0x200d {
			return true
		}
	}
	return false
}

// rendered is part i of the message as text: HTML rendered once per message
// (newTarget does it for the body rules).
func (t *target) rendered(i int) string {
	if s, ok := t.renderedHTML[i]; ok {
		return s
	}
	return scan.RenderHTML(t.msg.Parsed.Parts[i].Text)
}

// bodyLength is the raw body's length in bytes (SpamAssassin's pristine_body_length).
func (t *target) bodyLength() int {
	raw := t.rawText()
	if i := strings.Index(raw, "\n\n"); i >= 0 {
		return len(raw) - i - 2
	}
	return 0
}
