package scan

import (
	"bytes"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Where an HTML link leads: its reference resolved against the part's
// <base href>, as SpamAssassin's HTML.pm does it (target_uri, after RFC 2396's
// section 5.2 and its 2002 revision). Spam writes <base href="http://spam.example/">
// and then only relative links, so that a uri rule or a block list reading the
// links as written sees no host. SpamAssassin's quirks are kept, for its rules
// were fitted with them: a reference with the base's own scheme is read as
// relative (http:x under an http base is a path), and a reference with a host
// but no scheme gets http: only when the host starts www. (ftp: for ftp.).

// uriParts is a URI split as HTML.pm's _parse_uri splits it. A part the
// reference does not have is unset (has* false), which differs from empty:
// "//" gives an empty authority, and "x?" an empty query.
type uriParts struct {
	scheme, authority, path, query, fragment       string
	hasScheme, hasAuthority, hasQuery, hasFragment bool
}

// parseURIParts reads u as ^(?:([^:/?#]+):)?(?://([^/?#]*))?([^?#]*)(?:\?([^#]*))?(?:#(.*))?.
func parseURIParts(u string) uriParts {
	var p uriParts
	if i := strings.IndexAny(u, ":/?#"); i > 0 && u[i] == ':' {
		p.scheme, p.hasScheme = u[:i], true
		u = u[i+1:]
	}
	if strings.HasPrefix(u, "//") {
		u = u[2:]
		i := strings.IndexAny(u, "/?#")
		if i < 0 {
			i = len(u)
		}
		p.authority, p.hasAuthority = u[:i], true
		u = u[i:]
	}
	i := strings.IndexAny(u, "?#")
	if i < 0 {
		i = len(u)
	}
	p.path, u = u[:i], u[i:]
	if strings.HasPrefix(u, "?") {
		i := strings.IndexByte(u, '#')
		if i < 0 {
			i = len(u)
		}
		p.query, p.hasQuery = u[1:i], true
		u = u[i:]
	}
	if strings.HasPrefix(u, "#") {
		f := u[1:]
		if i := strings.IndexByte(f, '\n'); i >= 0 {
			f = f[:i] // (.*) stops at a line end
		}
		p.fragment, p.hasFragment = f, true
	}
	return p
}

// perlTrue is a string's truth in Perl, which HTML.pm's tests of a part use:
// "0" is false as well as "".
func perlTrue(s string) bool { return s != "" && s != "0" }

// removeDotSegments is HTML.pm's _remove_dot_segments: ./ and ../ taken out of
// a path, each ../ taking the segment before it.
func removeDotSegments(in string) string {
	if strings.HasPrefix(in, "./") {
		in = "/" + in[2:]
	} else if strings.HasPrefix(in, "../") {
		in = "/" + in[3:]
	}
	// dots is in with "/." or "/.." (d) and the slash after it replaced by
	// "/", when d ends the path or a slash follows ($ is also before a last
	// newline).
	dots := func(d string) (string, bool) {
		if !strings.HasPrefix(in, d) {
			return "", false
		}
		switch rest := in[len(d):]; {
		case rest == "" || rest == "\n":
			return "/" + rest, true
		case rest[0] == '/':
			return rest, true
		}
		return "", false
	}
	var out []byte
	for perlTrue(in) {
		if next, ok := dots("/."); ok {
			in = next
		} else if next, ok := dots("/.."); ok {
			in = next
			out = out[:max(bytes.LastIndexByte(out, '/'), 0)] // the segment before goes
		} else {
			n := 0
			if in[0] == '/' {
				n = 1
			}
			if i := strings.IndexByte(in[n:], '/'); i >= 0 {
				n += i
			} else {
				n = len(in)
			}
			out = append(out, in[:n]...)
			in = in[n:]
		}
	}
	return string(out)
}

// mergePaths is HTML.pm's _merge_uri: a relative path put after the base's
// directory.
func mergePaths(base uriParts, rel string) string {
	if base.hasAuthority && !perlTrue(base.path) {
		return "/" + rel
	}
	dir := ""
	if i := strings.LastIndexByte(base.path, '/'); i >= 0 {
		dir = base.path[:i+1]
	}
	return dir + rel
}

var (
	reWWWHost = regexp.MustCompile(`(?i)^www\d*\.`)
	reFTPHost = regexp.MustCompile(`(?i)^ftp\d*\.`)
)

// ResolveLink is HTML.pm's target_uri: ref, a link as written, read against
// base, the part's <base href> ("" when it has none). With no base a link is
// still tidied: its dot segments removed, and //www.host given http:.
func ResolveLink(base, ref string) string {
	r, b := parseURIParts(ref), parseURIParts(base)
	if r.hasScheme && b.hasScheme && r.scheme == b.scheme {
		r.hasScheme = false // not strict: http:x under an http: base is relative
	}
	var t uriParts
	switch {
	case r.hasScheme:
		t = r
		t.path = removeDotSegments(r.path)
	case r.hasAuthority:
		t = r
		t.path = removeDotSegments(r.path)
		t.scheme, t.hasScheme = b.scheme, b.hasScheme
	default:
		switch {
		case r.path == "":
			t.path = b.path
			t.query, t.hasQuery = b.query, b.hasQuery
			if r.hasQuery {
				t.query, t.hasQuery = r.query, true
			}
		case r.path[0] == '/':
			t.path = removeDotSegments(r.path)
			t.query, t.hasQuery = r.query, r.hasQuery
		default:
			t.path = removeDotSegments(mergePaths(b, r.path))
			t.query, t.hasQuery = r.query, r.hasQuery
		}
		t.authority, t.hasAuthority = b.authority, b.hasAuthority
		t.scheme, t.hasScheme = b.scheme, b.hasScheme
	}
	t.fragment, t.hasFragment = r.fragment, r.hasFragment

	var out strings.Builder
	switch {
	case t.hasScheme && perlTrue(t.scheme):
		out.WriteString(t.scheme)
		out.WriteByte(':')
	case t.hasAuthority && reWWWHost.MatchString(t.authority):
		out.WriteString("http:") // not the RFC's: what a mail reader makes of it
	case t.hasAuthority && reFTPHost.MatchString(t.authority):
		out.WriteString("ftp:")
	}
	if t.hasAuthority {
		out.WriteString("//")
		out.WriteString(t.authority)
	}
	out.WriteString(t.path)
	if t.hasQuery {
		out.WriteByte('?')
		out.WriteString(t.query)
	}
	if t.hasFragment {
		out.WriteByte('#')
		out.WriteString(t.fragment)
	}
	return out.String()
}

// reBaseFile is a base's file name, which HTML.pm drops: a base may be written
// http://host/dir/index.html.
var reBaseFile = regexp.MustCompile(`(?i)^([a-z]+:/{0,2}[^/]+/.*?)[^/.]+\.[^/.]{2,4}$`)

var reBaseScheme = regexp.MustCompile(`(?i)^(?:https?|ftp):/{0,2}`)

// baseOf is the base a <base href> sets, and false when a browser would
// ignore it: only an absolute http, https or ftp URI counts.
func baseOf(href string) (string, bool) {
	if !reBaseScheme.MatchString(href) {
		return "", false
	}
	if m := reBaseFile.FindStringSubmatch(href); m != nil {
		href = m[1]
	}
	if !strings.HasSuffix(href, "/") {
		href += "/"
	}
	return href, true
}

// maxLinkLength is SpamAssassin's MAX_URI_LENGTH: a link is cut there
// (canon_uri), which bounds what is made of a hostile one.
const maxLinkLength = 8192

// CutLink is u cut at SpamAssassin's MAX_URI_LENGTH (8,192 bytes), at a
// character: what is read of a link, in HTML or in text.
func CutLink(u string) string {
	if len(u) <= maxLinkLength {
		return u
	}
	n := maxLinkLength
	for n > 0 && !utf8.RuneStart(u[n]) {
		n--
	}
	return u[:n]
}

// noTarget says whether a link is kept as written, never resolved against a
// base (push_uri's data, mailto, file, cid and tel).
func noTarget(u string) bool {
	i := strings.IndexByte(u, ':')
	if i < 0 {
		return false
	}
	switch strings.ToLower(u[:i]) {
	case "data", "mailto", "file", "cid", "tel":
		return true
	}
	return false
}
