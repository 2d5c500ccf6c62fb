package banned

import (
	"bytes"
	"encoding/xml"
	"io"
	"strings"

	"github.com/postern/postern/scan"
)

// An SVG image is a program when it carries script: opened from mail, it shows
// in the web browser, which runs its script as a web page's, with no warning.
// Phishing mails SVG files that send the reader to a credential page (or draw
// one), because .svg is an image's extension that no list of programs names
// and that mail gateways pass. A drawing exported from a design or charting
// program has no script, no event handler and no embedded page.

// svgMax is how much of an SVG image is read: the drawings mail carries are a
// small fraction of it. clamd still reads all of it.
const svgMax = 8 << 20

// isSVG says whether a part is an SVG image: by its name, its declared type,
// or its first bytes (head), whatever its name.
func isSVG(l scan.Leaf, head []byte) bool {
	if extension(l.Filename) == "svg" || l.ContentType == "image/svg+xml" {
		return true
	}
	h := bytes.TrimLeft(bytes.TrimPrefix(head, []byte("\xef\xbb\xbf")), " \t\r\n")
	if len(h) < 5 {
		return false
	}
	start := strings.ToLower(string(h[:5]))
	return start == "<svg " || start == "<svg>" || start == "<svg\n" ||
		start == "<?xml" && bytes.Contains(bytes.ToLower(h), []byte("<svg"))
}

// svgActive says what in an SVG image runs or embeds a page ("<script>",
// "onload=", "a javascript: link", "<iframe>"), or "": it reads r's elements
// and attributes (their values decoded, as the browser reads them) with an
// XML reader, as the browser opens an .svg file. A file that reader stops in
// is searched for a script element as plain text: a browser may read on where
// Go's reader stops.
func svgActive(r io.Reader) (string, error) {
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(io.LimitReader(r, svgMax)); scan.ReadFailure(err) != nil {
		return "", err // the spool's: a broken encoding is the sender's, and what it gave is read
	}
	d := xml.NewDecoder(bytes.NewReader(buf.Bytes()))
	d.Strict = false
	d.Entity = xml.HTMLEntity
	for {
		tok, err := d.RawToken()
		if err == io.EOF {
			return "", nil
		}
		if err != nil {
			if bytes.Contains(bytes.ToLower(buf.Bytes()), []byte("<script")) {
				return "<script>", nil
			}
			return "", nil // a broken drawing: the browser shows an error, not a page
		}
		el, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		switch name := strings.ToLower(el.Name.Local); name {
		case "script", "iframe", "embed", "object", "form", "input":
			return "<" + name + ">", nil
		}
		for _, a := range el.Attr {
			name := strings.ToLower(a.Name.Local)
			if len(name) > 2 && strings.HasPrefix(name, "on") {
				return name + "=", nil
			}
			v := strings.ToLower(strings.Map(dropBlank, a.Value))
			switch {
			case strings.Contains(v, "javascript:"):
				return "a javascript: link", nil
			case strings.Contains(v, "data:text/html"), strings.Contains(v, "data:application/xhtml"):
				return "a web page in a data: link", nil
			}
		}
	}
}

// dropBlank drops what a browser skips in a link's scheme ("java\tscript:").
func dropBlank(r rune) rune {
	if r <= ' ' {
		return -1
	}
	return r
}
