package banned

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"io"
	"regexp"
	"strings"

	"golang.org/x/text/encoding/unicode"

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
// XML reader, as the browser opens an .svg file, streaming, up to svgMax. A
// file that reader stops in is searched on for a script element as plain
// text: a browser may read on where Go's reader stops. Only the spool's
// failure is an error.
func svgActive(r io.Reader) (string, error) {
	br := bufio.NewReader(io.LimitReader(r, svgMax))
	var src io.Reader = br
	bom, _ := br.Peek(2)
	utf16 := len(bom) == 2 && (bom[0] == 0xfe && bom[1] == 0xff || bom[0] == 0xff && bom[1] == 0xfe)
	if utf16 {
		// The browser reads a UTF-16 file by its byte order mark, and the
		// XML reader only UTF-8: a script in UTF-16 would pass unread.
		src = unicode.UTF16(unicode.BigEndian, unicode.ExpectBOM).NewDecoder().Reader(br)
	}
	in := &scriptSeen{r: src}
	d := xml.NewDecoder(in)
	d.Strict = false
	d.Entity = xml.HTMLEntity
	// An encoding the declaration names (<?xml encoding="windows-1252"?>) is
	// the browser's reading too; without it the XML reader stops there.
	d.CharsetReader = func(label string, in io.Reader) (io.Reader, error) {
		label = strings.ToLower(label)
		if utf16 && strings.HasPrefix(label, "utf-16") {
			return in, nil // decoded by its byte order mark already
		}
		enc, err := scan.CharsetEncoding(label)
		if err != nil {
			return nil, err
		}
		return enc.NewDecoder().Reader(in), nil
	}
	for {
		tok, err := d.RawToken()
		if err == io.EOF {
			return "", nil
		}
		if err != nil {
			if in.err == nil {
				_, in.err = io.Copy(io.Discard, in)
			}
			if scan.ReadFailure(in.err) != nil {
				return "", in.err
			}
			if in.seen {
				return "<script>", nil
			}
			return "", nil // a broken drawing: the browser shows an error, not a page
		}
		if dir, ok := tok.(xml.Directive); ok {
			if what := entityActive(dir); what != "" {
				return what, nil
			}
			continue
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
			case name == "attributename" && strings.HasPrefix(v, "on"):
				return "an on… attribute set by an animation", nil
			case name == "http-equiv" && v == "refresh":
				return "a refresh to another page", nil
			case strings.Contains(v, "javascript:"):
				return "a javascript: link", nil
			case strings.Contains(v, "data:text/html"), strings.Contains(v, "data:application/xhtml"):
				return "a web page in a data: link", nil
			}
		}
	}
}

// scriptSeen passes r through, and notes whether "<script" (any case) went by
// and the first error r gave (the XML reader keeps its own to itself).
type scriptSeen struct {
	r       io.Reader
	matched int // bytes of "<script" matched at the end of what went by
	seen    bool
	err     error
}

func (s *scriptSeen) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF && s.err == nil {
		s.err = err
	}
	const want = "<script"
	for _, c := range p[:n] {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		switch {
		case c == want[s.matched]:
			s.matched++
			if s.matched == len(want) {
				s.seen, s.matched = true, 0
			}
		case c == '<':
			s.matched = 1
		default:
			s.matched = 0
		}
	}
	return n, err
}

// svgEntry is svgActive of an archive's .svg file, unpacked within the
// part's budget: the image is mailed zipped to get past checks that read a
// part's own content only.
func svgEntry(open opener, budget *int64) (string, error) {
	rc, err := open()
	if err != nil {
		return "", nil // a method the unpacker does not know: the sender's
	}
	defer rc.Close()
	return svgActive(&budgeted{r: rc, left: budget})
}

// reEventAttr is an on… attribute written in an entity's value.
var reEventAttr = regexp.MustCompile(`\bon[a-z]+\s*=`)

// entityActive says what script a DOCTYPE's entities hold, or "": the browser
// expands an entity declared there (<!ENTITY x "&#60;script…">) into the
// elements it spells, which the XML reader leaves as the text "&x;".
// Illustrator declares its namespaces so, with no script in them.
func entityActive(dir xml.Directive) string {
	lower := bytes.ToLower(dir)
	switch {
	case !bytes.Contains(lower, []byte("entity")):
		return ""
	case bytes.Contains(lower, []byte("script")):
		return "script in an entity"
	case reEventAttr.Match(lower):
		return "an on… attribute in an entity"
	}
	return ""
}

// dropBlank drops what a browser skips in a link's scheme ("java\tscript:").
func dropBlank(r rune) rune {
	if r <= ' ' {
		return -1
	}
	return r
}
