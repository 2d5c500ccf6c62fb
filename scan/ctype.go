package scan

import (
	"net/url"
	"strings"

	"github.com/emersion/go-message"
)

// contentType is a header's media type and parameters. A field the standard
// parser refuses (an empty parameter: "text/html;;;", a parameter named twice, a
// missing "=") is read as SpamAssassin's parse_content_type reads it, and as mail
// readers show it: the type before the first ';', and the boundary, charset and
// name found by pattern. err says the field was malformed (for the message's
// Problems). Spam writes such fields so that a strict parser reads its HTML as
// plain text and its multipart as one part; refused outright, they hid the HTML
// from every HTML test.
//
// A type that starts with the word "text" is text/plain, but for text/html,
// text/calendar and text/x-vcard, as parse_content_type makes it (its bugs
// 4298 and 5399): mail readers show such parts as text, and spam declares a
// bare "text" so that a filter that reads only text/plain skips its words.
func contentType(h message.Header) (string, map[string]string, error) {
	t, params, err := h.ContentType()
	if err == nil {
		return textType(t), params, nil
	}
	t, params = lenientContentType(h.Get("Content-Type"))
	return t, params, err
}

// textType is parse_content_type's text/plain for a type t (lower case) that
// starts with the word "text".
func textType(t string) string {
	if isTextWord(t) && t != "text/x-vcard" && t != "text/calendar" && t != "text/html" {
		return "text/plain"
	}
	return t
}

// lenientContentType is parse_content_type (Mail::SpamAssassin::Util) of a field
// value: the parameters boundary, charset and name (or filename) when present.
func lenientContentType(v string) (string, map[string]string) {
	params := map[string]string{}
	if b, ok := boundaryParam(v); ok {
		params["boundary"] = b
	}
	if c, ok := plainParam(v, "charset"); ok {
		params["charset"] = c
	}
	if n, ok := plainParam(v, "name"); ok {
		params["name"] = n
	} else if n, ok := plainParam(v, "filename"); ok {
		params["name"] = n
	}
	t := strings.TrimLeft(v, " \t\r\n")
	if i := strings.IndexByte(t, ';'); i >= 0 {
		t = t[:i]
	}
	// ^([^/]+(?:/[^/\s]*)?): up to the first '/', then to the next '/' or space.
	if i := strings.IndexByte(t, '/'); i >= 0 {
		rest := t[i+1:]
		if j := strings.IndexFunc(rest, func(r rune) bool { return r == '/' || isSpaceByte(r) }); j >= 0 {
			rest = rest[:j]
		}
		t = t[:i+1] + rest
	}
	t = strings.ToLower(t)
	if t == "" {
		t = "text/plain"
	}
	t = textType(t)
	return strings.Map(func(r rune) rune {
		if r <= ' ' || r >= 0x7f || strings.ContainsRune(`"(),:;<=>?@[\]`, r) {
			return -1
		}
		return r
	}, t), params
}

// isTextWord is /^text\b/.
func isTextWord(t string) bool {
	return strings.HasPrefix(t, "text") && (len(t) == 4 || !isWordByte(t[4]))
}

func isWordByte(c byte) bool {
	return c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

// isSpaceByte is Perl's \s in ASCII.
func isSpaceByte(r rune) bool {
	return r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\f' || r == '\v'
}

// paramAt finds name (lower case) at a word boundary (\bNAME\s*=\s*, case
// ignored) in v from byte from on, and returns where the value after the '='
// and its spaces starts.
func paramAt(v, name string, from int) (int, bool) {
	for k := from; k+len(name) <= len(v); k++ {
		if !strings.EqualFold(v[k:k+len(name)], name) || k > 0 && isWordByte(v[k-1]) {
			continue
		}
		j := k + len(name)
		for j < len(v) && isSpaceByte(rune(v[j])) {
			j++
		}
		if j == len(v) || v[j] != '=' {
			continue
		}
		j++
		for j < len(v) && isSpaceByte(rune(v[j])) {
			j++
		}
		return j, true
	}
	return 0, false
}

// boundaryParam is /\bboundary\s*=\s*("[^"]+|[^\s";]+(?=[\s;]|$))/i, the quote
// dropped.
func boundaryParam(v string) (string, bool) {
	for from := 0; ; {
		at, ok := paramAt(v, "boundary", from)
		if !ok {
			return "", false
		}
		rest := v[at:]
		if strings.HasPrefix(rest, `"`) {
			b, _, _ := strings.Cut(rest[1:], `"`)
			if b != "" {
				return b, true
			}
		} else {
			n := strings.IndexFunc(rest, func(r rune) bool { return isSpaceByte(r) || r == '"' || r == ';' })
			if n < 0 {
				n = len(rest)
			}
			if n > 0 && (n == len(rest) || rest[n] != '"') {
				return rest[:n], true
			}
		}
		from = at // the next "boundary=" after this one
	}
}

// plainParam is /\bNAME\s*=\s*["']?(.*?)["']?(?:;|$)/i: to the first ';' (or the
// end), one quote at either end dropped.
func plainParam(v, name string) (string, bool) {
	at, ok := paramAt(v, name, 0)
	if !ok {
		return "", false
	}
	return paramValue(v, at), true
}

// paramValue is the value of a parameter whose value starts at byte at of v, as
// plainParam reads it: quotes dropped, up to the next ';'.
func paramValue(v string, at int) string {
	rest := v[at:]
	if strings.HasPrefix(rest, `"`) || strings.HasPrefix(rest, "'") {
		rest = rest[1:]
	}
	if i := strings.IndexByte(rest, ';'); i >= 0 {
		rest = rest[:i]
	} else {
		rest = strings.TrimRight(rest, "\n") // ($ before a final newline)
	}
	if strings.HasSuffix(rest, `"`) || strings.HasSuffix(rest, "'") {
		rest = rest[:len(rest)-1]
	}
	return rest
}

// looseParams is every value a field that does not parse gives a parameter:
// each occurrence of key=, and of key*= (RFC 2231's charset”value form,
// decoded). A field with the parameter twice is one Go's parser refuses, and
// mail readers differ on which occurrence they take.
func looseParams(v, key string) []string {
	var out []string
	for _, k := range []string{key, key + "*"} {
		for from := 0; ; {
			at, ok := paramAt(v, k, from)
			if !ok {
				break
			}
			val := paramValue(v, at)
			if k != key {
				val = decode2231(val)
			}
			out = append(out, val)
			from = at
		}
	}
	return out
}

// decode2231 decodes RFC 2231's extended value, charset'language'%-encoded
// bytes, for UTF-8 and ISO-8859-1 (any other charset: the bytes as UTF-8).
func decode2231(v string) string {
	parts := strings.SplitN(v, "'", 3)
	if len(parts) != 3 {
		return v
	}
	b, err := url.PathUnescape(parts[2])
	if err != nil {
		return parts[2]
	}
	if cs := strings.ToLower(parts[0]); cs == "iso-8859-1" || cs == "latin1" {
		return Latin1([]byte(b))
	}
	return b
}

// Latin1 is ISO-8859-1 text as UTF-8: each byte the code point of its value.
func Latin1(b []byte) string {
	r := make([]rune, len(b))
	for i, c := range b {
		r[i] = rune(c)
	}
	return string(r)
}
