package rules

import (
	"regexp"
	"strings"

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
	reWholeMail     = regexp2.MustCompile(`^`+addrMailRe+`\n?$`, regexp2.IgnoreCase|regexp2.Singleline)
	reGroupPrefix   = regexp.MustCompile(`^[^"()<>]+:\s*`)
	reAddrComment   = regexp.MustCompile(`\((?:[^()\\]|\\.)*\)`)
	rePhraseParts   = regexp.MustCompile(`(?s)"((?:[^"\\]|\\.)*)"|([^"]+)`)
	reLabel         = regexp.MustCompile(`^[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?$`)
	reUnescapeOne   = regexp2.MustCompile(`\\(?!\\)`, regexp2.None)
	reTrailingSpace = regexp.MustCompile(`\s+$`)
)

// parseHeaderAddresses reads a header field's raw value into its addresses, as
// SpamAssassin 4 does for :addr and :name: every address of a list, in order,
// however loosely written (spam's From fields often are).
func parseHeaderAddresses(s string) []headerAddress {
	s = reTrailingSpace.ReplaceAllString(s, "")
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
	for s != "" {
		m, err := reHeaderAddress.FindStringMatch(s)
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
		s = s[m.Index+m.Length:]
		if hasAddr && !validParsedAddress(addr) {
			hasAddr = false
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
			// user@host: what follows a second @ is dropped.
			if at := strings.IndexByte(addr, '@'); at >= 0 {
				if at2 := strings.IndexByte(addr[at+1:], '@'); at2 >= 0 {
					addr = addr[:at+1+at2]
				}
			}
		}
		out = append(out, headerAddress{address: addr, phrase: phrase, hasAddr: hasAddr, hasName: hasPhrase})
	}
	return out
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
