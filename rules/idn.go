package rules

import (
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// ASCIIHost is a host name written with characters beyond ASCII in its ASCII
// form, lower-cased: xn--pypal-4ve.com for a phish's pаypal.com, whose а is
// Cyrillic. It is the form DNS and the block lists hold, and the one SpamAssassin
// lists beside the host as written when it has libidn (Util.pm's idn_to_ascii,
// non-transitional): the host read as UTF-8, or else as Latin-1 when its bytes
// are Latin-1 letters; the ideographic and full-width dots are dots. ok is false
// for a host all ASCII, and for one with no ASCII form (bytes in no charset, a
// label IDNA forbids).
func ASCIIHost(host string) (ascii string, ok bool) {
	if isASCII(host) {
		return "", false
	}
	if !utf8.ValidString(host) {
		if !latin1Host(host) {
			return "", false
		}
		runes := make([]rune, len(host))
		for i := range len(host) {
			runes[i] = rune(host[i]) // Latin-1's code points are Unicode's first 256
		}
		host = string(runes)
	}
	a, err := idna.Lookup.ToASCII(host)
	if err != nil {
		return "", false
	}
	return a, true
}

// latin1Host reports whether host's bytes are letters, digits, dots, hyphens and
// underscores in Latin-1 (idn_to_ascii's test before it reads a host so).
func latin1Host(host string) bool {
	for i := range len(host) {
		c := host[i]
		switch {
		case isAlnum(c), c == '_', c == '.', c == '-':
		case c >= 0xc0 && c <= 0xfe && c != 0xd7 && c != 0xdf && c != 0xf7:
		default:
			return false
		}
	}
	return true
}
