package rules

import (
	"strings"
)

// textAddresses are the mail addresses of a text a reader sees, at most limit,
// found as SpamAssassin's text parser finds them: _tbirdurire's mail branch,
// then what _process_text_uri_list makes of each match. spans are where the
// matches lie; no name written without a scheme starts inside one
// (schemelessLinks), as the pattern's scan goes on after each match.
//
// What it takes from SpamAssassin, each a way mail writes addresses:
//   - the local part is everything back to a delimiter, so "Email:jo@x.com"
//     is jo@x.com (the mail-label prefix dropped) and "Contact:jo@x.com" is
//     mailto:Contact:jo@x.com, both naming x.com;
//   - the domain runs on to a delimiter, so an address followed by junk
//     ("jo@x.com/path", "jo@x.com;x") names no valid domain and is none, and a
//     query stays on it (mailto:jo@x.com?subject=remove);
//   - its domain must end in a known top-level domain (is_domain_valid);
//   - "a/b@x.com" is a link, http://a/b@x.com.
//
// A mailto: link is one of these too, read the same way: it ends where an
// address does ("mailto:jo@x.com's"), and needs an @ and a valid domain.
// A match inside a link is the link's: one that starts with a scheme, or www.
// or ftp., as the pattern's scheme branch is tried first (linkCandidates
// lists it), and a name without a scheme whose path runs on through a comma
// to the address ("x.com/a,b@y.com", schemelessLinks lists it).
func textAddresses(text string, limit int) (out []string, spans [][2]int) {
	tok := tokens{text: text, end: -1}
	next := 0   // where the last match ended: the scan goes on from there
	runEnd := 0 // where the last domain read ended: an @ before it has its domain run to it too
	for i := 0; i < len(text) && len(out) < limit; {
		k := strings.IndexByte(text[i:], '@')
		if k < 0 {
			break
		}
		at := i + k
		i = at + 1
		if at < next {
			continue // in the last match's domain, which may hold an @
		}
		// The local part: [^tbirdenddelimplusat]{1,251} before the @, from the
		// first place the pattern may start (a word's start, or after one of
		// tbirdstartdelim).
		s := at
		for s > next && s > at-251 && !mailDelim[text[s-1]] && text[s-1] != '@' {
			s--
		}
		p := s
		for p < at && !mailMayStart(text, p) {
			p++
		}
		if p == at {
			continue
		}
		e := at + 1 // the domain: [^tbirdenddelimemail]{1,251}
		if at < runEnd {
			e = runEnd // (read once: "a@a@a@…" is not read again from each @)
		}
		for e < len(text) && !mailDelim[text[e]] {
			e++
		}
		runEnd = e
		if e == at+1 || e-at-1 > 251 {
			continue
		}
		if tok.read(p); schemeLinkFrom(text, max(tok.start, next), p) || pathLinkFrom(text, max(tok.start, next), s) {
			// The link's, to its end: no name without a scheme starts inside
			// it after its start (a www2. or ftp. link is such a name).
			spans = append(spans, [2]int{p + 1, tok.end})
			next = tok.end
			continue
		}
		next = e
		spans = append(spans, [2]int{p, e})
		if u := textAddress(text[p:e]); u != "" {
			out = append(out, u)
		}
	}
	return out, spans
}

// textAddress is the link SpamAssassin makes of a text address match raw
// (_process_text_uri_list), or "" for none.
func textAddress(raw string) string {
	raw = trimLinkEnd(raw)
	at := strings.IndexByte(raw, '@')
	if at < 0 || hasPrefixFold(raw, "cid:") || hasPrefixFold(raw, "mid:") {
		return "" // trimmed to no address; an Outlook image's id
	}
	u := raw
	slash := strings.IndexByte(raw, '/')
	switch {
	case hasPrefixFold(raw, "mailto:"):
	case hasPrefixFold(raw, "http:") || hasPrefixFold(raw, "https:") || hasPrefixFold(raw, "ftp:"):
		return raw // a link, its slashes left out (canonicalURIs puts them in)
	case slash >= 0 && strings.LastIndexByte(raw, '@') > slash+1:
		// /\/.+\@/: a slash before the @ makes it a path, not an address.
		if !pathHostValid(raw) {
			return ""
		}
		return "http://" + raw
	default:
		// /\@.+?\./: a dot in the domain, not first ("Vi@gra").
		if at+2 > len(raw) || strings.IndexByte(raw[at+2:], '.') < 0 || strings.Contains(raw, "&nbsp;") {
			return ""
		}
		u = "mailto:" + trimMailLabel(raw)
	}
	if strings.IndexByte(u, '%') >= 0 && reEscape.MatchString(u) {
		u = urlEncode(u) // mail readers decode mailto:jo%40x%2Ecom
	}
	host := u[strings.IndexByte(u, '@')+1:]
	if k := strings.IndexAny(host, "?&>"); k >= 0 {
		host = host[:k]
	}
	for strings.HasSuffix(host, "%20") {
		host = host[:len(host)-3]
	}
	if !domainValid(host) {
		return ""
	}
	return u
}

// pathHostValid says whether the host of a link found without a scheme
// (a/b@x.com) names a domain, as add_uri_detail_list asks of every link of
// the text: a known top-level domain, or a single label, which canonicalURIs
// reads as www.label.com.
func pathHostValid(raw string) bool {
	host := strings.ToLower(raw[:strings.IndexAny(raw, "/?#")])
	if i := strings.LastIndexByte(host, '@'); i >= 0 {
		host = host[i+1:]
	}
	if i := strings.IndexByte(host, ':'); i >= 0 {
		host = host[:i]
	}
	if !strings.Contains(host, ".") {
		return fqdnValid("www." + host + ".com")
	}
	return fqdnValid(host) && domainValid(host)
}

// trimMailLabel drops what s/^(?:skype|e?-?mail)?:+//i drops: a label written
// before an address with no space ("Email:jo@x.com", "skype:…"), or colons.
func trimMailLabel(s string) string {
	t := s
	for _, label := range []string{"skype", "e-mail", "email", "-mail", "mail"} {
		if hasPrefixFold(t, label) && len(t) > len(label) && t[len(label)] == ':' {
			t = t[len(label):]
			break
		}
	}
	if u := strings.TrimLeft(t, ":"); len(u) < len(t) {
		return u
	}
	return s
}

// domainValid is is_domain_valid: no white space, a dot, and a last label
// that is a known top-level domain, read in its ASCII form.
func domainValid(host string) bool {
	if a, ok := ASCIIHost(host); ok {
		host = a
	}
	dot := strings.LastIndexByte(host, '.')
	return dot >= 0 && !strings.ContainsAny(host, " \t\n\r\f\v") && KnownTLD(host[dot+1:])
}

// schemeLinkFrom says whether a link with a scheme (http://, https://,
// ftp://, www., www2., ftp.) starts at a word's start in text[from:p+1]: the
// pattern's first branch, which takes what follows to the link's end.
func schemeLinkFrom(text string, from, p int) bool {
	for q := from; q <= p; q++ {
		if q > 0 && isWordChar(text[q-1]) {
			continue
		}
		t := text[q:]
		if hasPrefixFold(t, "http://") || hasPrefixFold(t, "https://") || hasPrefixFold(t, "ftp://") || hasPrefixFold(t, "ftp.") {
			return true
		}
		if hasPrefixFold(t, "www") { // www\d{0,2}\. (reKnownHost, which would search all of t for its literal)
			d := 3
			for d < 5 && d < len(t) && '0' <= t[d] && t[d] <= '9' {
				d++
			}
			if d < len(t) && t[d] == '.' {
				return true
			}
		}
	}
	return false
}

// pathLinkFrom says whether a name without a scheme, followed by a path,
// starts in text[from:to] (the pattern's schemeless branch with its
// (?:/[^tbirdenddelim]{1,2048})): it runs on to the link's end.
func pathLinkFrom(text string, from, to int) bool {
	for q := from; q < to; q++ {
		if !isAlnum(text[q]) || q > 0 && !schemelessStart[text[q-1]] {
			continue
		}
		e := q
		for e < len(text) && isHostChar(text[e]) {
			e++
		}
		host := strings.TrimSuffix(text[q:e], ".")
		j := afterPort(text, e)
		if dot := strings.LastIndexByte(host, '.'); dot > 0 && j < len(text) && text[j] == '/' && KnownTLD(host[dot+1:]) {
			return true
		}
		q = e
	}
	return false
}

// mailMayStart says whether the pattern may start at text[p]: at a word
// boundary (\b), or after one of tbirdstartdelim.
func mailMayStart(text string, p int) bool {
	if p == 0 {
		return isWordChar(text[0])
	}
	return mailStartDelim[text[p-1]] || isWordChar(text[p-1]) != isWordChar(text[p])
}

// mailDelim are the bytes that end an address's local part or domain in text
// (tbirdenddelimemail: a link's delimiters, a comma, "(" and "'", and any byte
// beyond ASCII); an '@' ends a local part only. mailStartDelim are those an
// address may start after (tbirdstartdelim).
var mailDelim, mailStartDelim = func() (end, start [256]bool) {
	for c := range 256 {
		end[c] = tbirdEnd[c] || c >= 0x80
	}
	end[','], end['('], end['\''] = true, true, true
	for _, c := range []byte("><\"'`,{[(| \t\n\r\f\v\x1b") {
		start[c] = true
	}
	start[0xa0] = true
	return end, start
}()
