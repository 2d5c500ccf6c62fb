package scan

import (
	"strings"
	"testing"
)

// lenientContentType reads a field as SpamAssassin's parse_content_type does.
// The wanted values are its answers for each field (perl -MMail::SpamAssassin::Util,
// SpamAssassin 4.0.1), "-" where it found no such parameter.
func TestLenientContentType(t *testing.T) {
	tests := []struct{ field, ctype, boundary, charset, name string }{
		{"text/html;;;;;;;; ;;;;;;", "text/html", "-", "-", "-"},
		{`TEXT/HTML; charset="iso-8859-1"; charset=utf-8`, "text/html", "-", "iso-8859-1", "-"},
		{`multipart/alternative; boundary="abc def"; boundary=x`, "multipart/alternative", "abc def", "-", "-"},
		{`multipart/mixed; boundary=abc"def; name=a.txt`, "multipart/mixed", "-", "-", "a.txt"},
		{"multipart/mixed; xboundary=no; boundary = yes ;", "multipart/mixed", "yes", "-", "-"},
		{"text/enriched; x", "text/plain", "-", "-", "-"},
		{"text/plain charset=us-ascii", "text/plain", "-", "us-ascii", "-"},
		{`application/octet-stream; filename="a b.exe"`, "application/octet-stream", "-", "-", "a b.exe"},
		{"image/gif/extra; name=x.gif", "image/gif", "-", "-", "x.gif"},
		{"text", "text/plain", "-", "-", "-"},
		{" /weird", "/weird", "-", "-", "-"},
		{"text/html (comment); charset", "text/html", "-", "-", "-"},
		{`multipart/related;boundary=""; boundary=ok`, "multipart/related", "ok", "-", "-"},
		{"Text/HTML;charset=windows-1251;;", "text/html", "-", "windows-1251", "-"},
		// (Not SpamAssassin's answers: bytes that are not UTF-8 before a
		// parameter leave its offset where it is.)
		{"text/html; x=\xff\xfe; BOUNDARY=b;;", "text/html", "b", "-", "-"},
	}
	for _, tc := range tests {
		ctype, params := lenientContentType(tc.field)
		got := []string{ctype}
		for _, p := range []string{"boundary", "charset", "name"} {
			v, ok := params[p]
			if !ok {
				v = "-"
			}
			got = append(got, v)
		}
		if want := []string{tc.ctype, tc.boundary, tc.charset, tc.name}; strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("%q: got %q, want %q", tc.field, got, want)
		}
	}
}

// A part whose Content-Type the standard parser refuses is still read as the type
// it names: its HTML is rendered, its multipart split.
func TestMalformedContentTypeParts(t *testing.T) {
	tests := []struct {
		name, raw string
		want      []string // the leaves' content types
	}{
		{"html with empty parameters", "Content-Type: text/html;;;; ;;;\r\n\r\n<html><b>hi</b></html>\r\n", []string{"text/html"}},
		{"multipart with a parameter twice", "Content-Type: multipart/alternative; boundary=b; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b\r\nContent-Type: text/html;;\r\n\r\n<b>hi</b>\r\n--b--\r\n", []string{"text/plain", "text/html"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Parse(strings.NewReader("From: a@example.org\r\nSubject: x\r\n" + tc.raw))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range m.Parts {
				got = append(got, p.ContentType)
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("parts %v, want %v", got, tc.want)
			}
			if len(m.Problems) == 0 {
				t.Error("no problem reported for the malformed field")
			}
		})
	}
}

// A well-formed type that starts with the word "text" is text/plain, as
// parse_content_type makes it, but for text/html, text/calendar and
// text/x-vcard: a bare "text" part's words are read (phishing/00990's body).
func TestTextTypes(t *testing.T) {
	for field, want := range map[string]string{
		"text":                        "text/plain",
		"text; charset=utf-8":         "text/plain",
		"Text/Enriched":               "text/plain",
		"text/rfc822-headers":         "text/plain",
		"text/x-pgp":                  "text/plain",
		"text/html; charset=utf-8":    "text/html",
		"text/calendar; method=REPLY": "text/calendar",
		"text/x-vcard":                "text/x-vcard",
		"textual/thing":               "textual/thing",
		"application/pdf":             "application/pdf",
	} {
		m, err := Parse(strings.NewReader("From: a@example.org\r\nContent-Type: " + field + "\r\n\r\nwords\r\n"))
		if err != nil {
			t.Fatal(err)
		}
		if len(m.Parts) != 1 || m.Parts[0].ContentType != want {
			t.Errorf("%q: parts %+v, want one %s", field, m.Parts, want)
			continue
		}
		if text := strings.TrimSpace(m.Parts[0].Text); want == "text/plain" && text != "words" {
			t.Errorf("%q: text %q", field, text)
		}
	}
}

// A text part whose Content-Type the standard parser refuses is still read in
// a charset: the one the field names, or the guess for 8-bit text that names
// none (Windows-1252 where it is not UTF-8), as SpamAssassin reads it.
func TestMalformedContentTypeCharset(t *testing.T) {
	for field, want := range map[string]string{
		"text/html;;;;":                         "café",
		"text/plain;; charset=iso-8859-1":       "café",
		"text/plain; charset=utf-8; charset=x;": "caf\u00e9",
	} {
		body := "caf\xe9"
		if strings.Contains(field, "utf-8") {
			body = "caf\u00e9"
		}
		m, err := Parse(strings.NewReader("From: a@example.org\r\nContent-Type: " + field + "\r\n\r\n" + body + "\r\n"))
		if err != nil {
			t.Fatal(err)
		}
		if len(m.Parts) != 1 || !strings.Contains(m.Parts[0].Text, want) {
			t.Errorf("%q: parts %+v, want text %q", field, m.Parts, want)
		}
		if len(m.Problems) == 0 {
			t.Errorf("%q: no problem reported for the malformed field", field)
		}
	}
	// Its name stays the part's filename (7-bit text, which no relabelling
	// writes a field for): a page named .html is read as HTML.
	m, err := Parse(strings.NewReader("From: a@example.org\r\nContent-Type: text/plain;; name=order.html\r\n\r\n<b>plain ASCII</b>\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Parts) != 1 || m.Parts[0].Filename != "order.html" || m.Parts[0].EffectiveType != "text/html" {
		t.Errorf("named part: %+v", m.Parts)
	}
}
