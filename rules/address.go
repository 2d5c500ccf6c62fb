package rules

import (
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/dlclark/regexp2"
	"golang.org/x/net/idna"
)

// headerAddress is one address of a header field as SpamAssassin's relaxed
// parser reads it (Util.pm's _parse_header_addresses): either part may be missing.
type headerAddress struct {
	address string // user@host; "" when none was found or it was not valid
	phrase  string // the display name, or the comment; "" when none
	hasAddr bool
	hasName bool
}

// The parser's expressions, as Util.pm writes them; Perl's possessive
// quantifiers are atomic groups here.
const (
	quotedString = `"(?>(?:[^"\\]|\\.)*)"`
	addrMailRe   = `(?:` + quotedString + `|[^@\s<>()\[\],:;]+)@(?:[^"\s<>()\[\],:;]+|\[[\d:.]+\])`
)

var (
	reHeaderAddress = regexp2.MustCompile(`^\s*(?:`+
		// an optional phrase, then <address> (spaces allowed), then duplicates
		`(?:((?:`+quotedString+`|(?>[^",;<]+))+)\s*)?`+
		`<\s*([^>@]*\S+|\s*)\s*>`+
		`(?:\s*<\s*(?:(?:`+quotedString+`)?\S+|\s*)\s*>)*`+
		// or an address alone, or a phrase alone
		`|(?:(`+addrMailRe+`)|((?:`+quotedString+`|(?>[^",;<]+))+))`+
		`)`+
		// a comment, then a comma (or semicolon) or the end
		`(?:\s*\(((?>(?:[^()\\]|\\.)*))\))?`+
		`\s*(?:[,;]|\z)`, regexp2.IgnoreCase|regexp2.Singleline)
	reWholeMail   = regexp2.MustCompile(`^`+addrMailRe+`\n?$`, regexp2.IgnoreCase|regexp2.Singleline)
	reBracketMail = regexp2.MustCompile(`<(`+addrMailRe+`)>`, regexp2.IgnoreCase|regexp2.Singleline)
	reGroupPrefix = regexp.MustCompile(`^[^"()<>]+:\s*`)
	reAddrComment = regexp.MustCompile(`\((?:[^()\\]|\\.)*\)`)
	rePhraseParts = regexp.MustCompile(`(?s)"((?:[^"\\]|\\.)*)"|([^"]+)`)
	reLabel       = quick(`^[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?$`)
	reUnescapeOne = regexp2.MustCompile(`\\(?!\\)`, regexp2.None)
)

// parseHeaderAddresses reads a header field's raw value into its addresses, as
// SpamAssassin 4 does for :addr and :name: every address of a list, in order,
// however loosely written (spam's From fields often are).
func parseHeaderAddresses(s string) []headerAddress {
	s = strings.TrimRight(s, " \t\r\n\f\v")
	if strings.TrimSpace(s) == "" {
		return nil
	}
	if out, ok := plainAddresses(s); ok && !slowAddressesOnly {
		return out
	}
	s = strings.ReplaceAll(s, `\\`, "")
	// A group (undisclosed-recipients:;) reduces to its members.
	if loc := reGroupPrefix.FindStringIndex(s); loc != nil {
		s = s[loc[1]:]
		if strings.HasPrefix(strings.TrimLeft(s, " \t\r\n\f"), ";") {
			s = ""
		}
	}
	if strings.TrimSpace(s) == "" {
		return nil
	}
	var out []headerAddress
	// The value's runes once, each address matched from where the last ended: a
	// string given to regexp2 is converted whole at each call, which made a list
	// quadratic (4,000 addresses: about 0.9 s, BenchmarkParseHeaderAddresses).
	rs := []rune(s)
	for len(rs) > 0 {
		m, err := reHeaderAddress.FindRunesMatch(rs)
		if err != nil || m == nil || m.Length == 0 {
			break
		}
		g := func(i int) (string, bool) {
			grp := m.GroupByNumber(i)
			if grp == nil || len(grp.Captures) == 0 {
				return "", false
			}
			return grp.String(), true
		}
		phrase, hasPhrase := g(1)
		if !hasPhrase {
			phrase, hasPhrase = g(4)
		}
		addr, hasAddr := g(2)
		if hasAddr {
			addr = reAddrComment.ReplaceAllString(addr, "")
			if ok, _ := reWholeMail.MatchString(addr); !ok {
				hasAddr = false
			}
		} else {
			addr, hasAddr = g(3)
		}
		comment, hasComment := g(5)
		// The match starts at 0 (^); its offsets count runes.
		rs = rs[min(m.Index+m.Length, len(rs)):]
		if hasAddr && !validParsedAddress(addr) {
			hasAddr = false
		}
		if !hasAddr {
			addr = ""
		}
		if hasPhrase {
			var b strings.Builder
			for _, p := range rePhraseParts.FindAllStringSubmatchIndex(phrase, -1) {
				if p[2] >= 0 {
					q, _ := reUnescapeOne.Replace(phrase[p[2]:p[3]], "", -1, -1)
					b.WriteString(strings.ReplaceAll(q, `\\`, `\`))
				} else {
					b.WriteString(reAddrComment.ReplaceAllString(phrase[p[4]:p[5]], ""))
				}
			}
			phrase = b.String()
			if whole, _ := reWholeMail.MatchString(phrase); !hasAddr && whole && validParsedAddress(phrase) && fqdnValid(hostOf(phrase)) {
				addr, hasAddr = phrase, true
				phrase, hasPhrase = "", false
			} else if hasAddr && phrase == addr || phrase == "" {
				phrase, hasPhrase = "", false
			}
		}
		if !hasPhrase && hasComment {
			phrase, hasPhrase = comment, true
		}
		if hasAddr {
			addr = userAtHost(addr)
		}
		out = append(out, headerAddress{address: addr, phrase: phrase, hasAddr: hasAddr, hasName: hasPhrase})
	}
	// What the list's expression left holds an @: Util.pm's "last ditch effort"
	// takes every <address> in it. Spam writes lists the expression cannot read
	// ("<jo@example.net>example.com, <al@example.net>example.com"), whose
	// addresses SpamAssassin's tests (SUSPICIOUS_RECIPS) still count.
	if rest := string(rs); strings.IndexByte(rest, '@') >= 0 {
		for m, err := reBracketMail.FindStringMatch(rest); err == nil && m != nil; m, err = reBracketMail.FindNextMatch(m) {
			addr := m.GroupByNumber(1).String()
			if !validParsedAddress(addr) {
				continue
			}
			out = append(out, headerAddress{address: userAtHost(addr), hasAddr: true})
		}
	}
	return out
}

// userAtHost is an address as Util.pm keeps it (s/^(([^\@]*)\@([^\@]*)).*/$1/):
// what follows a second @ is dropped.
func userAtHost(addr string) string {
	if at := strings.IndexByte(addr, '@'); at >= 0 {
		if at2 := strings.IndexByte(addr[at+1:], '@'); at2 >= 0 {
			return addr[:at+1+at2]
		}
	}
	return addr
}

// validParsedAddress is Util.pm's _valid_parsed_address.
func validParsedAddress(a string) bool {
	return !strings.HasPrefix(a, `""@`) && strings.Count(a, `"`) != 1
}

// hostOf is what follows the address's first @, up to a second.
func hostOf(a string) string {
	_, host, _ := strings.Cut(a, "@")
	host, _, _ = strings.Cut(host, "@")
	return host
}

// fqdnValid is Util.pm's is_fqdn_valid: two labels or more, of letters, digits,
// hyphens inside and underscores below the second level.
func fqdnValid(host string) bool {
	if h, err := idna.ToASCII(host); err == nil {
		host = h
	}
	host = strings.TrimRight(strings.ToLower(host), ".")
	if len(host) > 253 {
		return false
	}
	labels := strings.Split(host, ".")
	if len(labels) < 2 {
		return false
	}
	for i, l := range labels {
		if len(l) < 1 || len(l) > 63 || !reLabel.MatchString(l) {
			return false
		}
		if i >= len(labels)-2 && strings.Contains(l, "_") {
			return false
		}
	}
	return true
}

// slowAddressesOnly turns plainAddresses off (for the test that it changes nothing).
var slowAddressesOnly bool

// plainAddresses reads the lists most fields hold (addr@host, Name <addr@host>,
// "Name" <addr@host>, separated by commas) as the expressions above do, in a
// twentieth of their time; ok is false for anything else (comments, groups,
// escapes, odd brackets or quotes), which goes to them.
func plainAddresses(s string) (out []headerAddress, ok bool) {
	if strings.ContainsAny(s, "()\\;:[]") || strings.Count(s, `"`)%2 != 0 || !utf8.ValidString(s) {
		return nil, false
	}
	var items []string
	quoted, start := false, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			quoted = !quoted
		case ',':
			if !quoted {
				items = append(items, s[start:i])
				start = i + 1
			}
		}
	}
	items = append(items, s[start:])
	for _, item := range items {
		item = strings.TrimLeft(item, " \t\r\n\f\v")
		if strings.TrimSpace(item) == "" {
			return nil, false
		}
		var a headerAddress
		lt := strings.IndexByte(item, '<')
		if lt >= 0 {
			gt := strings.IndexByte(item, '>')
			if gt < lt || strings.Count(item, "<") != 1 || strings.Count(item, ">") != 1 ||
				strings.TrimSpace(item[gt+1:]) != "" || strings.Contains(item[lt:], `"`) {
				return nil, false
			}
			phrase := item[:lt]
			addr := strings.TrimSpace(item[lt+1 : gt])
			if at := strings.IndexByte(addr, '@'); at >= 0 && strings.ContainsAny(addr[at:], " \t\r\n\f\v") {
				return nil, false // <a@b c>: the expressions find no address there
			}
			if isMailAddress(addr) && validParsedAddress(addr) {
				a.address, a.hasAddr = addr, true
			}
			if phrase != "" {
				a.phrase, a.hasName = unquotePhrase(phrase), true
				switch {
				case !a.hasAddr && isMailAddress(a.phrase) && validParsedAddress(a.phrase) && fqdnValid(hostOf(a.phrase)):
					a.address, a.hasAddr = a.phrase, true // a name that is an address, and no other
					a.phrase, a.hasName = "", false
				case a.hasAddr && a.phrase == a.address || a.phrase == "":
					a.phrase, a.hasName = "", false
				}
			}
		} else {
			if strings.ContainsAny(item, `>"`) {
				return nil, false // a quoted local part ("jo doe"@x) is the expressions' to read
			}
			if bare := strings.TrimRight(item, " \t\r\n\f\v"); isMailAddress(bare) {
				a.address, a.hasAddr = bare, true
			} else {
				phrase := unquotePhrase(item)
				if isMailAddress(phrase) && validParsedAddress(phrase) && fqdnValid(hostOf(phrase)) {
					a.address, a.hasAddr = phrase, true
				} else if phrase != "" {
					a.phrase, a.hasName = phrase, true
				}
			}
		}
		if a.hasAddr {
			if at := strings.IndexByte(a.address, '@'); at >= 0 {
				if at2 := strings.IndexByte(a.address[at+1:], '@'); at2 >= 0 {
					a.address = a.address[:at+1+at2]
				}
			}
		}
		out = append(out, a)
	}
	return out, true
}

// isMailAddress is Util.pm's header_address_mailre, whole, for text without
// quotes inside: a local part without @, white space or <>()[],:; and a host
// without quotes, white space or <>()[],:;.
func isMailAddress(a string) bool {
	at := strings.IndexByte(a, '@')
	if at <= 0 || at == len(a)-1 {
		return false
	}
	return !strings.ContainsAny(a[:at], " \t\r\n\f\v<>()[],:;") && !strings.ContainsAny(a[at+1:], "\" \t\r\n\f\v<>()[],:;")
}

// unquotePhrase joins a display name's quoted parts (without their quotes) and
// the rest, as _parse_header_addresses does when nothing is escaped.
func unquotePhrase(p string) string {
	if !strings.Contains(p, `"`) {
		return p
	}
	return strings.ReplaceAll(p, `"`, "")
}
