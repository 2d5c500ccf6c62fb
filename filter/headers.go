package filter

import (
	"fmt"
	"strings"
)

// ForeignHeader reports whether a header arriving from outside must be removed before
// ours are added: a sender must not be able to forge our verdict ("X-Spam-Status: No",
// "X-Virus-Status: Clean").
func ForeignHeader(name string) bool {
	n := strings.ToLower(name)
	return strings.HasPrefix(n, "x-spam-") || strings.HasPrefix(n, "x-postern-") ||
		n == "x-virus-status" || n == "x-virus-scanned"
}

// spamHeaders renders the SpamAssassin-compatible headers, so existing MUA filters keep
// working: X-Spam-Flag (spam only), X-Spam-Status, X-Spam-Level, X-Spam-Report.
func (p *Pipeline) spamHeaders(v *Verdict) []Header {
	var hs []Header
	yes := "No"
	if v.Spam {
		yes = "Yes"
		hs = append(hs, Header{Name: "X-Spam-Flag", Value: "YES"})
	}
	names := make([]string, len(v.Tests))
	for i, t := range v.Tests {
		names[i] = t.Name
	}
	tests := "none"
	if len(names) > 0 {
		tests = strings.Join(names, ",")
	}
	autolearn := v.Autolearn
	if autolearn == "" {
		autolearn = "no"
	}
	status := fmt.Sprintf("%s, score=%.1f required=%.1f tests=%s autolearn=%s version=%s",
		yes, v.Score, v.Required, tests, autolearn, p.Version)
	hs = append(hs, Header{Name: "X-Spam-Status", Value: fold(status)})
	stars := 0
	if v.Score >= 1 {
		stars = min(int(v.Score), 50)
	}
	hs = append(hs, Header{Name: "X-Spam-Level", Value: strings.Repeat("*", stars)})
	if len(v.Tests) > 0 && (p.ReportHeader == "always" || (p.ReportHeader == "spam" && v.Spam)) {
		lines := make([]string, len(v.Tests))
		for i, t := range v.Tests {
			lines[i] = fmt.Sprintf("* %5.1f %s %s", t.Score, t.Name, t.Description)
		}
		hs = append(hs, Header{Name: "X-Spam-Report", Value: strings.Join(lines, "\n\t")})
	}
	return hs
}

// fold breaks a long header value at spaces and commas so no line passes 78 columns,
// as SpamAssassin does with its tests= list.
func fold(s string) string {
	const width = 78 - len("X-Spam-Status: ")
	if len(s) <= width {
		return s
	}
	var b strings.Builder
	col := 0
	for len(s) > 0 {
		cut := strings.IndexAny(s, " ,")
		var word string
		if cut < 0 {
			word, s = s, ""
		} else {
			word, s = s[:cut+1], s[cut+1:]
		}
		if col > 0 && col+len(word) > width {
			trimmed := strings.TrimRight(b.String(), " ")
			b.Reset()
			b.WriteString(trimmed)
			b.WriteString("\n\t")
			col = 8
		}
		b.WriteString(word)
		col += len(word)
	}
	return strings.TrimRight(b.String(), " ")
}
