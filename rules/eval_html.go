package rules

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/postern/postern/scan"
)

// SpamAssassin's HTMLEval plugin and the HTML analysis it reads
// (Mail/SpamAssassin/HTML.pm): for each text/html part, which tags it has and
// whether they balance, how many are not HTML at all, text in colours that hide
// it, images against text, anchors, comments and titles.

// htmlStats are the analyses of a message's HTML parts (SpamAssassin's html_all).
type htmlStats struct{ parts []*htmlPart }

// htmlPart is one part's analysis; its fields are SpamAssassin's result names.
type htmlPart struct {
	attrs  attrs          // the start tag's, read again for each
	inside map[string]int // open minus closed, per tag (present: seen)
	// inScript, inStyle, inA and inTitle are inside's counts of those tags,
	// which every text event reads: four map lookups a text, before.
	inScript, inStyle, inA, inTitle int
	length                          int // characters of HTML source
	tags, elements                  int
	tagsSeen, elementsSeen          int
	hasElements, hasElementsSeen    bool
	closedExtra                     int
	obfuscation                     int
	imageArea                       int
	maxSize                         float64
	nonSpaceLen                     int
	fontLowContrast, fontInvalidCol bool
	fontFaceBad, embeds, formMailto bool
	iframeSrc                       bool
	anchor, comment, title          []string
	titleIndex                      int

	style    []textStyle
	basefont float64
	// The rendered text is read for its length less white space and for the
	// rune its last chunk ends in (display): a chunk is counted into
	// nonSpaceLen and its end noted, not kept.
	lastEnd rune // the rune the last chunk ends in; U+FFFD for none, before the first
	lastWS  bool // the last chunk is white space made by a tag
}

// newHTMLPart is an analysis before the part's first tag or text.
func newHTMLPart() *htmlPart {
	return &htmlPart{inside: map[string]int{}, maxSize: 3, basefont: 3, titleIndex: -1, lastEnd: utf8.RuneError}
}

type textStyle struct {
	tag, fg, bg         string
	size                float64
	display, visibility string
}

func (t *target) html() *htmlStats {
	if t.htmlRes != nil {
		return t.htmlRes
	}
	defer t.costs.time("(HTML parts analysed)")()
	t.htmlRes = &htmlStats{}
	for i := range t.msg.Parsed.Parts {
		if p := &t.msg.Parsed.Parts[i]; p.EffectiveType == "text/html" && p.Text != "" {
			t.htmlRes.parts = append(t.htmlRes.parts, analyzeHTML(p.Text, func(v scan.HTMLVisitor) { p.WalkHTML(p.Text, v) }))
		}
	}
	return t.htmlRes
}

var (
	reFontFaceOK = quick(`(?i)^\s*["'.]?[a-z ][a-z -]*[a-z]\d?["']?(?:,\s*["']?[a-z][a-z -]*[a-z]\d?["']?)*;?$`)
	reSizeRel    = quick(`^\s*([+-]\d+)`)
	reSizeAbs    = regexp.MustCompile(`^\s*(\d+)`) // (a size is digits: the regexp alone)
	reImgDim     = regexp.MustCompile(`^(\d+)(%)?$`)
	reCSSColor   = quick(`(?i)^\s*(background-)?color:\s*(.+?)\s*$`)
	reCSSBack    = quick(`^\s*background:\s*(.+?)\s*$`)
	reCSSProp    = regexp.MustCompile(`(?i)^\s*([a-z_-]+)\s*:\s*(\S.*?)\s*$`) // (nearly every declaration: the regexp alone)
	reImportant  = quick(`\s*!\s*important$`)
	reRGBPct     = quick(`(?i)rgb\((\d+)%,\s*(\d+)%,\s*(\d+)%\s*\)`)
	reRGB        = quick(`(?i)rgb\((\d+),\s*(\d+),\s*(\d+)\s*\)`)
	reColorShape = quick(`(?i)^[#a-f0-9]*$|rgb\([\d%, ]*\)`)
	reNamespace  = regexp.MustCompile(`^(?:o|st\d):[\w-]+/?$`)
)

// cssBackgroundLayers is HTML.pm's parse_css_background: a CSS background
// value's layers (split at commas), each its values (split at spaces), where a
// parenthesis or a quote holds its commas and spaces, so "rgb(81, 29, 72)" is one
// value. Split at every comma and space, it was three, none a colour, and white
// text on that background read as white on white (HTML_FONT_LOW_CONTRAST).
func cssBackgroundLayers(v string) [][]string {
	var layers [][]string
	var vals []string
	var tok strings.Builder
	// in is what holds the character: 0 nothing, or the '(', '"' or '\'' open,
	// innermost last.
	var in []byte
	push := func() {
		vals = append(vals, tok.String())
		tok.Reset()
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if len(in) == 0 {
			switch c {
			case ' ':
				if tok.Len() > 0 {
					push()
				}
			case ',':
				if tok.Len() > 0 {
					push()
				}
				layers, vals = append(layers, vals), nil
			case '(', '"', '\'':
				tok.WriteByte(c)
				in = append(in, c)
			default:
				tok.WriteByte(c)
			}
			continue
		}
		tok.WriteByte(c)
		switch open := in[len(in)-1]; {
		case open == '(' && c == ')':
			push() // (a value ends with its parenthesis)
			in = in[:len(in)-1]
		case open == '(' && (c == '"' || c == '\''):
			in = append(in, c)
		case open != '(' && c == open:
			in = in[:len(in)-1]
		}
	}
	if tok.Len() > 0 {
		push()
	}
	if len(vals) > 0 {
		layers = append(layers, vals)
	}
	return layers
}

// analyzeHTML is HTML.pm's parse of one part, src, from the tokens walk gives
// (the part's recording, which the renderer and the Bayes tokenizer read too:
// scan.Part.WalkHTML; tokenizing again was a twentieth of the check with the
// stock rules). Text inside <style> and <script> is not given, and HTML.pm's
// html_text reads none.
func analyzeHTML(src string, walk func(scan.HTMLVisitor)) *htmlPart {
	h := newHTMLPart()
	// SpamAssassin's length is of the part's decoded text, whose line ends are
	// LF when the message came with CRLF, as every one through the milter does
	// (scan's crlfReader): counted with the CRs, a short HTML part of 40 lines
	// was 40 longer, past the 1,024 of HTML_SHORT_LINK_IMG_1.
	h.length = utf8.RuneCountInString(src)
	h.style = []textStyle{{tag: "default", fg: "#000000", bg: "#ffffff", size: 3}}
	walk(scan.HTMLVisitor{
		Text: func(text []byte) { h.textEvent(string(text)) },
		Start: func(tag string, attrs []scan.HTMLAttr) {
			tag = strings.ToLower(tag)
			h.attrs = h.attrs.read(attrs, htmlAttrTags[tag])
			h.tag(tag, h.attrs, 1)
		},
		End:     func(tag string) { h.tag(strings.ToLower(tag), nil, -1) },
		Comment: func(raw []byte) { h.comment = append(h.comment, string(raw)) },
		Doctype: func() {
			h.elements++
			h.tags++
			h.hasElements = true
			h.inside["!doctype"] = 0
		},
	})
	for h.inside["style"] > 0 {
		h.tag("style", nil, -1)
	}
	for h.inside["script"] > 0 {
		h.tag("script", nil, -1)
	}
	return h
}

// nonSpaceRunes counts the runes of a text that are not white space: of a chunk
// of the rendered text, collapsed or not (collapsing turns runs of white space
// into a space, and a byte that is not UTF-8 into U+FFFD, which range reads it
// as), and of their concatenation, which is UTF-8.
func nonSpaceRunes(s string) int {
	n := 0
	for _, r := range s {
		if !unicode.IsSpace(r) {
			n++
		}
	}
	return n
}

// attrs are a start tag's attributes, their names lower-cased, in the tag's
// order (the style's attributes are read in it: a map's order was random); of
// two of one name, the first, as a browser reads them. One slice serves every
// tag of a part, where a map a tag was much of the check's garbage.
type attrs []attr

type attr struct{ name, val string }

// read reads the attributes the analysis reads (htmlAttrsRead) of a tag into a,
// reusing its room (read: the tag is one whose attributes are read).
func (a attrs) read(tagAttrs []scan.HTMLAttr, read bool) attrs {
	a = a[:0]
	if !read {
		return a
	}
	for _, x := range tagAttrs {
		if name := strings.ToLower(x.Key); htmlAttrsRead[name] && !a.has(name) {
			a = append(a, attr{name, string(x.Val)})
		}
	}
	return a
}

// get is the value of the attribute named name, and whether the tag has it.
func (a attrs) get(name string) (string, bool) {
	for _, x := range a {
		if x.name == name {
			return x.val, true
		}
	}
	return "", false
}

func (a attrs) has(name string) bool {
	_, ok := a.get(name)
	return ok
}

// value is the value of the attribute named name, "" without it.
func (a attrs) value(name string) string {
	v, _ := a.get(name)
	return v
}

// tag is html_tag: num is +1 for a start tag, -1 for an end tag.
func (h *htmlPart) tag(tag string, attr attrs, num int) {
	namespace := strings.IndexByte(tag, ':') > 0 && reNamespace.MatchString(tag)
	kind := htmlTagKinds[tag]
	isElement := kind&tagElement != 0
	open, seen := h.inside[tag]
	if isElement || namespace {
		h.elements++
		h.hasElements = true
		if !seen {
			h.elementsSeen++
			h.hasElementsSeen = true
		}
	}
	h.tags++
	if !seen {
		h.tagsSeen++
	}
	if open += num; open < 0 {
		open = 0
		h.closedExtra++
	}
	h.inside[tag] = open
	switch tag {
	case "script":
		h.inScript = open
	case "style":
		h.inStyle = open
	case "a":
		h.inA = open
	case "title":
		h.inTitle = open
	}
	if namespace || kind&(tagElement|tagTrick) == 0 {
		return
	}
	if kind&tagTextStyle != 0 {
		h.textStyle(tag, attr, num)
	}
	if kind&tagWhitespace != 0 {
		h.whitespace(tag)
	}
	if num == 1 {
		h.tests(tag, attr)
	}
}

func (h *htmlPart) whitespace(tag string) {
	switch {
	case tag == "br" || tag == "div":
		h.display("\n", true, false)
	case tag == "li" || tag == "th" || tag == "td" || tag == "dt" || tag == "dd" || tag == "embed" ||
		len(tag) == 2 && tag[0] == 'h' && tag[1] >= '0' && tag[1] <= '9':
		h.display(" ", true, false)
	case tag == "p" || tag == "hr" || tag == "blockquote" || tag == "pre" || tag == "listing" ||
		tag == "plaintext" || tag == "xmp" || tag == "title":
		h.display("\n\n", true, false)
	}
}

func (h *htmlPart) textStyle(tag string, attr attrs, num int) {
	if tag == "th" {
		tag = "td"
	}
	if num != 1 {
		if tag != "body" {
			h.closeTag(tag)
		}
		return
	}
	if tag == "basefont" {
		if m := reSizeAbs.FindStringSubmatch(attr.value("size")); m != nil {
			h.basefont, _ = strconv.ParseFloat(m[1], 64)
			return
		}
	}
	if tag == "td" || tag == "tr" {
		h.closeTableTag(tag)
	}
	n := h.style[len(h.style)-1]
	n.tag = tag
	switch tag {
	case "big":
		n.size++
		h.style = append(h.style, n)
		return
	case "small":
		n.size--
		h.style = append(h.style, n)
		return
	}
	for _, a := range attr {
		name, v := a.name, a.val
		if !htmlOKAttr[tag][name] {
			continue
		}
		switch name {
		case "text", "color":
			n.fg = nameToRGB(v)
		case "size":
			if m := reSizeRel.FindStringSubmatch(v); m != nil {
				d, _ := strconv.ParseFloat(m[1], 64)
				n.size = h.basefont + d
			} else if m := reSizeAbs.FindStringSubmatch(v); m != nil {
				n.size, _ = strconv.ParseFloat(m[1], 64)
			}
		case "style":
			for _, part := range strings.Split(v, ";") {
				// Each expression below starts with the property's name: the
				// name read first spares them most declarations. (A name that
				// is not ASCII goes to them: (?i) folds the Kelvin sign to k.)
				prop := strings.TrimLeft(part, cssSpace)
				if !hasPrefixFold(prop, "color:") && !hasPrefixFold(prop, "background") &&
					!hasPrefixFold(prop, "display") && !hasPrefixFold(prop, "visibility") &&
					isASCII(prop[:min(len(prop), len("background-color:"))]) {
					continue
				}
				if m := reCSSColor.FindStringSubmatch(part); m != nil {
					val := reImportant.ReplaceAllString(strings.ToLower(m[2]), "")
					var c string
					switch {
					case strings.Contains(val, "rgb"):
						nums := strings.Split(strings.Map(func(r rune) rune {
							if r >= '0' && r <= '9' || r == ',' {
								return r
							}
							return -1
						}, val), ",")
						var rgb [3]int
						for i := 0; i < 3 && i < len(nums); i++ {
							x, _ := strconv.Atoi(nums[i])
							rgb[i] = min(max(x, 0), 255)
						}
						c = fmt.Sprintf("#%02x%02x%02x", rgb[0], rgb[1], rgb[2])
					case val == "inherit":
						continue
					case val == "transparent":
						c = val
					default:
						c = nameToRGB(val)
					}
					if m[1] != "" {
						n.bg = c
					} else {
						n.fg = c
					}
				} else if m := reCSSBack.FindStringSubmatch(part); m != nil {
					if layers := cssBackgroundLayers(strings.ToLower(m[1])); len(layers) > 0 {
						for _, val := range layers[len(layers)-1] {
							if c := nameToRGB(val); c != "invalid" {
								n.bg = c
								break
							}
						}
					}
				} else if m := reCSSProp.FindStringSubmatch(part); m != nil {
					switch strings.ToLower(m[1]) {
					case "display":
						n.display = m[2]
					case "visibility":
						n.visibility = m[2]
					}
				}
			}
			if n.bg == "transparent" {
				n.bg = h.style[len(h.style)-1].bg
			}
			if n.fg == "transparent" {
				n.fg = n.bg
			}
		}
		if n.size > h.maxSize {
			h.maxSize = n.size
		}
	}
	h.style = append(h.style, n)
}

// styled reports whether a tag is open on the style stack.
func (h *htmlPart) styled(tag string) bool {
	for _, s := range h.style {
		if s.tag == tag {
			return true
		}
	}
	return false
}

func (h *htmlPart) closeTableTag(tag string) {
	if !h.styled(tag) {
		return
	}
	for len(h.style) > 0 {
		top := h.style[len(h.style)-1].tag
		if (tag == "td" && (top == "font" || top == "td")) || (tag == "tr" && (top == "font" || top == "td" || top == "tr")) {
			h.style = h.style[:len(h.style)-1]
			continue
		}
		break
	}
}

func (h *htmlPart) closeTag(tag string) {
	if !h.styled(tag) {
		return
	}
	for len(h.style) > 0 {
		top := h.style[len(h.style)-1]
		h.style = h.style[:len(h.style)-1]
		if top.tag == tag {
			break
		}
	}
}

func (h *htmlPart) tests(tag string, attr attrs) {
	if face, ok := attr.get("face"); tag == "font" && ok && !reFontFaceOK.MatchString(face) {
		h.fontFaceBad = true
	}
	if tag == "img" && h.inA > 0 && len(h.anchor) > 0 {
		h.anchor[len(h.anchor)-1] += "<img>\n"
	}
	if tag == "img" {
		w, okW := attr.get("width")
		ht, okH := attr.get("height")
		if okW && okH {
			dim := func(s string, pct int) int {
				m := reImgDim.FindStringSubmatch(s)
				if m == nil {
					return 200
				}
				v, _ := strconv.Atoi(m[1])
				if m[2] == "%" {
					v *= pct
				}
				if v <= 0 {
					return 200
				}
				return v
			}
			h.imageArea += dim(w, 8) * dim(ht, 6)
		}
	}
	if a, ok := attr.get("action"); tag == "form" && ok && strings.Contains(strings.ToLower(a), "mailto:") {
		h.formMailto = true
	}
	if tag == "object" || tag == "embed" {
		h.embeds = true
	}
	if tag == "iframe" && strings.TrimSpace(attr.value("src")) != "" {
		h.iframeSrc = true
	}
	if tag == "a" {
		h.anchor = append(h.anchor, "")
	}
	if tag == "title" {
		h.titleIndex++
		h.title = append(h.title, "")
	}
}

// textEvent is html_text.
func (h *htmlPart) textEvent(text string) {
	if h.inScript > 0 || h.inStyle > 0 {
		return
	}
	if h.inA > 0 && len(h.anchor) > 0 {
		h.anchor[len(h.anchor)-1] += text
	}
	if h.inTitle > 0 && h.titleIndex >= 0 && h.titleIndex < len(h.title) {
		h.title[h.titleIndex] += text
	}
	invisible := false
	if strings.TrimFunc(text, htmlSpace) != "" {
		invisible = h.fontInvisible()
	}
	if first, _ := utf8.DecodeRuneInString(text); wordRune(first) && wordRune(h.lastEnd) {
		h.obfuscation++ // (U+FFFD, the end before the first chunk, is no word rune)
	}
	h.display(text, false, invisible)
}

// wordRune is a character outside SpamAssassin's [\s\x21-\x2f\x3a-\x40\x5b-\x60\x7b-\x7e]:
// a letter, a digit, or anything beyond ASCII.
func wordRune(r rune) bool {
	if r == utf8.RuneError || unicode.IsSpace(r) {
		return false
	}
	return !(r >= 0x21 && r <= 0x2f || r >= 0x3a && r <= 0x40 || r >= 0x5b && r <= 0x60 || r >= 0x7b && r <= 0x7e)
}

// display is display_text: rendered text, white space made by tags kept apart.
// HTML.pm keeps the chunks, and trims a chunk's trailing space when a tag's white
// space follows it, and its leading space when it follows a tag's. Its tests
// read the count of the runes that are not white space, which trimming leaves
// as it is, and the rune the last chunk ends in, which the trailing space's
// trim never changes (the tag's chunk is then the last): that is all kept here
// (FuzzDisplay holds it to the chunks kept and trimmed).
func (h *htmlPart) display(text string, ws, invisible bool) {
	var end rune
	if ws {
		end = rune(text[len(text)-1]) // (a tag's: "\n", " " or "\n\n")
	} else {
		var oneSpace bool
		end, oneSpace = collapsedEnd(text) // (U+FFFD for an empty text, as for none)
		if oneSpace && h.lastWS && !invisible {
			end = utf8.RuneError // (less its leading space, nothing)
		}
		h.nonSpaceLen += nonSpaceRunes(text)
	}
	h.lastEnd, h.lastWS = end, ws
}

// htmlSpace is the white space HTML.pm collapses: [ \t\n\r\f\x0b] and the no-break space.
func htmlSpace(r rune) bool {
	return r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\f' || r == '\v' || r == 0xa0
}

// collapsedEnd reads a text as display_text collapses it (each run of white
// space and no-break spaces one space, a byte that is not UTF-8 U+FFFD) without
// writing it out: the rune it ends in (U+FFFD for none), and whether it is one
// space and nothing else. Its last rune read backwards is the one read forwards:
// a byte that starts a rune is never read as part of an earlier one.
func collapsedEnd(text string) (end rune, oneSpace bool) {
	if r, _ := utf8.DecodeLastRuneInString(text); !htmlSpace(r) {
		return r, false
	}
	return ' ', strings.TrimRightFunc(text, htmlSpace) == ""
}

// fontInvisible is html_font_invisible: text in the colour of its background (or
// nearly), in an invalid colour, tiny, or not displayed.
func (h *htmlPart) fontInvisible() bool {
	s := h.style[len(h.style)-1]
	fg, bg := s.fg, s.bg
	if len(fg) >= 6 && len(bg) >= 6 && fg[len(fg)-6:] == bg[len(bg)-6:] {
		h.fontLowContrast = true
		return true
	}
	if r1, g1, b1, ok := hexRGB(fg); ok {
		if r2, g2, b2, ok := hexRGB(bg); ok {
			r, g, b := float64(r1-r2), float64(g1-g2), float64(b1-b2)
			if math.Sqrt(math.Pow(0.2126*r, 2)+math.Pow(0.7152*g, 2)+math.Pow(0.0722*b, 2)) < 12 {
				h.fontLowContrast = true
				return true
			}
		}
	}
	if fg == "invalid" || bg == "invalid" {
		h.fontInvalidCol = true
		return true
	}
	return s.size <= 1 || strings.EqualFold(s.display, "none") || strings.EqualFold(s.visibility, "hidden")
}

// hexRGB reads a colour written #rrggbb or rrggbb, in lower-case hex digits only
// (HTML.pm's /^#?([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/).
func hexRGB(c string) (r, g, b int64, ok bool) {
	c = strings.TrimPrefix(c, "#")
	if len(c) != 6 {
		return 0, 0, 0, false
	}
	var v [3]int64
	for i := 0; i < 6; i++ {
		var d byte
		switch x := c[i]; {
		case '0' <= x && x <= '9':
			d = x - '0'
		case 'a' <= x && x <= 'f':
			d = x - 'a' + 10
		default:
			return 0, 0, 0, false
		}
		v[i/2] = v[i/2]<<4 | int64(d)
	}
	return v[0], v[1], v[2], true
}

// cssSpace is what \s matches in Go's regexps.
const cssSpace = "\t\n\f\r "

// hasPrefixFold is strings.HasPrefix ignoring ASCII case; prefix is lower case.
func hasPrefixFold(s, prefix string) bool {
	if len(s) < len(prefix) {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != prefix[i] {
			return false
		}
	}
	return true
}

// nameToRGB is HTML.pm's name_to_rgb: a colour as #rrggbb, or "invalid".
func nameToRGB(c string) string {
	c = strings.TrimSpace(strings.ToLower(c))
	if v, ok := cssColors[c]; ok {
		return fmt.Sprintf("#%06x", v)
	}
	if !reColorShape.MatchString(c) {
		return "invalid"
	}
	dec2hex := func(s string, scale bool) string {
		v, _ := strconv.Atoi(s)
		if scale {
			v = int(float64(v) / 100 * 255)
		}
		if v < 16 {
			return "0" + strconv.FormatInt(int64(v), 16)
		}
		return strconv.FormatInt(int64(v), 16)
	}
	if m := reRGBPct.FindStringSubmatch(c); m != nil {
		c = "#" + dec2hex(m[1], true) + dec2hex(m[2], true) + dec2hex(m[3], true)
	}
	if m := reRGB.FindStringSubmatch(c); m != nil {
		c = "#" + dec2hex(m[1], false) + dec2hex(m[2], false) + dec2hex(m[3], false)
	}
	if !strings.HasPrefix(c, "#") {
		return "invalid"
	}
	c = strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' || r >= 'a' && r <= 'f' {
			return r
		}
		return -1
	}, c)
	if len(c) > 6 {
		c = c[:6]
	}
	if len(c) > 3 && len(c) < 6 {
		c = c[:3]
	}
	if len(c)%3 != 0 {
		c += strings.Repeat("0", 3-len(c)%3)
	}
	if len(c) == 3 {
		c = string([]byte{c[0], c[0], c[1], c[1], c[2], c[2]})
	}
	return "#" + c
}

// tagKind says which of HTML.pm's lists a tag is on.
type tagKind uint8

const (
	tagElement tagKind = 1 << iota
	tagTrick
	tagTextStyle
	tagWhitespace
)

// The element lists of HTML.pm.
var (
	htmlElements = setOf("a abbr acronym address area b base bdo big blockquote body br button caption cite code col colgroup dd del dfn div dl dt em fieldset form h1 h2 h3 h4 h5 h6 head hr html i img input ins kbd label legend li link map meta noscript object ol optgroup option p param pre q samp script select small span strong style sub sup table tbody td textarea tfoot th thead title tr tt ul var " +
		"applet basefont center dir font frame frameset iframe isindex menu noframes s strike u nobr x-sigsep x-tab")
	htmlTricks     = setOf("bgsound embed listing plaintext xmp")
	htmlTextStyle  = setOf("body font table tr th td big small basefont marquee span p div a")
	htmlWhitespace = setOf("br div li th td dt dd p hr blockquote pre embed listing plaintext xmp title h1 h2 h3 h4 h5 h6")
	// htmlTagKinds is the four lists above by tag, one lookup a tag.
	htmlTagKinds = func() map[string]tagKind {
		m := map[string]tagKind{}
		for _, l := range []struct {
			set  map[string]bool
			kind tagKind
		}{{htmlElements, tagElement}, {htmlTricks, tagTrick}, {htmlTextStyle, tagTextStyle}, {htmlWhitespace, tagWhitespace}} {
			for tag := range l.set {
				m[tag] |= l.kind
			}
		}
		return m
	}()
	htmlOKAttr = map[string]map[string]bool{
		"basefont": setOf("color face size"), "body": setOf("text bgcolor link alink vlink background"),
		"font": setOf("color face size"), "marquee": setOf("bgcolor background"),
		"table": setOf("bgcolor style"), "td": setOf("bgcolor style"), "th": setOf("bgcolor style"),
		"tr": setOf("bgcolor style"), "span": setOf("style"), "p": setOf("style"), "div": setOf("style"),
		"a": setOf("style"),
	}
	// htmlTestAttrs are the attributes htmlPart.tests reads, by tag.
	htmlTestAttrs = map[string]map[string]bool{
		"font": setOf("face"), "img": setOf("width height"), "form": setOf("action"), "iframe": setOf("src"),
	}
	// htmlAttrTags are the tags whose attributes the analysis reads, and
	// htmlAttrsRead those attributes: htmlOKAttr's for the text's style,
	// htmlTestAttrs' for tests. A tag's others are not kept (attrs.read), nor
	// other tags' attributes read.
	htmlAttrTags, htmlAttrsRead = attrsRead(htmlOKAttr, htmlTestAttrs)
)

// attrsRead is the tags of the maps (tag → attribute names) and their attributes.
func attrsRead(byTag ...map[string]map[string]bool) (tags, names map[string]bool) {
	tags, names = map[string]bool{}, map[string]bool{}
	for _, m := range byTag {
		for tag, attrs := range m {
			tags[tag] = true
			for name := range attrs {
				names[name] = true
			}
		}
	}
	return tags, names
}

func setOf(words string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(words) {
		m[w] = true
	}
	return m
}

// cssColors are the CSS colour keywords.
var cssColors = map[string]int{
	"aliceblue": 0xf0f8ff, "antiquewhite": 0xfaebd7, "aqua": 0x00ffff, "aquamarine": 0x7fffd4, "azure": 0xf0ffff,
	"beige": 0xf5f5dc, "bisque": 0xffe4c4, "black": 0x000000, "blanchedalmond": 0xffebcd, "blue": 0x0000ff,
	"blueviolet": 0x8a2be2, "brown": 0xa52a2a, "burlywood": 0xdeb887, "cadetblue": 0x5f9ea0, "chartreuse": 0x7fff00,
	"chocolate": 0xd2691e, "coral": 0xff7f50, "cornflowerblue": 0x6495ed, "cornsilk": 0xfff8dc, "crimson": 0xdc143c,
	"cyan": 0x00ffff, "darkblue": 0x00008b, "darkcyan": 0x008b8b, "darkgoldenrod": 0xb8860b, "darkgray": 0xa9a9a9,
	"darkgreen": 0x006400, "darkgrey": 0xa9a9a9, "darkkhaki": 0xbdb76b, "darkmagenta": 0x8b008b,
	"darkolivegreen": 0x556b2f, "darkorange": 0xff8c00, "darkorchid": 0x9932cc, "darkred": 0x8b0000,
	"darksalmon": 0xe9967a, "darkseagreen": 0x8fbc8f, "darkslateblue": 0x483d8b, "darkslategray": 0x2f4f4f,
	"darkslategrey": 0x2f4f4f, "darkturquoise": 0x00ced1, "darkviolet": 0x9400d3, "deeppink": 0xff1493,
	"deepskyblue": 0x00bfff, "dimgray": 0x696969, "dimgrey": 0x696969, "dodgerblue": 0x1e90ff, "firebrick": 0xb22222,
	"floralwhite": 0xfffaf0, "forestgreen": 0x228b22, "fuchsia": 0xff00ff, "gainsboro": 0xdcdcdc,
	"ghostwhite": 0xf8f8ff, "gold": 0xffd700, "goldenrod": 0xdaa520, "gray": 0x808080, "green": 0x008000,
	"greenyellow": 0xadff2f, "grey": 0x808080, "honeydew": 0xf0fff0, "hotpink": 0xff69b4, "indianred": 0xcd5c5c,
	"indigo": 0x4b0082, "ivory": 0xfffff0, "khaki": 0xf0e68c, "lavender": 0xe6e6fa, "lavenderblush": 0xfff0f5,
	"lawngreen": 0x7cfc00, "lemonchiffon": 0xfffacd, "lightblue": 0xadd8e6, "lightcoral": 0xf08080,
	"lightcyan": 0xe0ffff, "lightgoldenrodyellow": 0xfafad2, "lightgray": 0xd3d3d3, "lightgreen": 0x90ee90,
	"lightgrey": 0xd3d3d3, "lightpink": 0xffb6c1, "lightsalmon": 0xffa07a, "lightseagreen": 0x20b2aa,
	"lightskyblue": 0x87cefa, "lightslategray": 0x778899, "lightslategrey": 0x778899, "lightsteelblue": 0xb0c4de,
	"lightyellow": 0xffffe0, "lime": 0x00ff00, "limegreen": 0x32cd32, "linen": 0xfaf0e6, "magenta": 0xff00ff,
	"maroon": 0x800000, "mediumaquamarine": 0x66cdaa, "mediumblue": 0x0000cd, "mediumorchid": 0xba55d3,
	"mediumpurple": 0x9370db, "mediumseagreen": 0x3cb371, "mediumslateblue": 0x7b68ee, "mediumspringgreen": 0x00fa9a,
	"mediumturquoise": 0x48d1cc, "mediumvioletred": 0xc71585, "midnightblue": 0x191970, "mintcream": 0xf5fffa,
	"mistyrose": 0xffe4e1, "moccasin": 0xffe4b5, "navajowhite": 0xffdead, "navy": 0x000080, "oldlace": 0xfdf5e6,
	"olive": 0x808000, "olivedrab": 0x6b8e23, "orange": 0xffa500, "orangered": 0xff4500, "orchid": 0xda70d6,
	"palegoldenrod": 0xeee8aa, "palegreen": 0x98fb98, "paleturquoise": 0xafeeee, "palevioletred": 0xdb7093,
	"papayawhip": 0xffefd5, "peachpuff": 0xffdab9, "peru": 0xcd853f, "pink": 0xffc0cb, "plum": 0xdda0dd,
	"powderblue": 0xb0e0e6, "purple": 0x800080, "red": 0xff0000, "rosybrown": 0xbc8f8f, "royalblue": 0x4169e1,
	"saddlebrown": 0x8b4513, "salmon": 0xfa8072, "sandybrown": 0xf4a460, "seagreen": 0x2e8b57, "seashell": 0xfff5ee,
	"sienna": 0xa0522d, "silver": 0xc0c0c0, "skyblue": 0x87ceeb, "slateblue": 0x6a5acd, "slategray": 0x708090,
	"slategrey": 0x708090, "snow": 0xfffafa, "springgreen": 0x00ff7f, "steelblue": 0x4682b4, "tan": 0xd2b48c,
	"teal": 0x008080, "thistle": 0xd8bfd8, "tomato": 0xff6347, "turquoise": 0x40e0d0, "violet": 0xee82ee,
	"wheat": 0xf5deb3, "white": 0xffffff, "whitesmoke": 0xf5f5f5, "yellow": 0xffff00, "yellowgreen": 0x9acd32,
}

// The HTMLEval plugin (Mail/SpamAssassin/Plugin/HTMLEval.pm).
func init() {
	const p = "HTMLEval"
	anyPart := func(fn func(h *htmlPart) bool) evalFunc {
		return func(t *target) bool {
			for _, h := range t.html().parts {
				if fn(h) {
					return true
				}
			}
			return false
		}
	}
	register(p, "html_tag_exists", func(args []string) (evalFunc, error) {
		if len(args) != 1 {
			return nil, fmt.Errorf("want TAG")
		}
		tag := strings.ToLower(args[0])
		return anyPart(func(h *htmlPart) bool { _, ok := h.inside[tag]; return ok }), nil
	})
	register(p, "html_tag_balance", func(args []string) (evalFunc, error) {
		if len(args) != 2 {
			return nil, fmt.Errorf("want TAG, EXPR")
		}
		tag := strings.ToLower(args[0])
		cmp, err := comparison(args[1])
		if err != nil {
			return nil, err
		}
		return anyPart(func(h *htmlPart) bool {
			v, ok := h.inside[tag]
			return ok && cmp(float64(v))
		}), nil
	})
	register(p, "html_image_only", func(args []string) (evalFunc, error) {
		lo, hi, err := bounds(args)
		if err != nil {
			return nil, err
		}
		return anyPart(func(h *htmlPart) bool {
			_, img := h.inside["img"]
			return img && float64(h.length) > lo && float64(h.length) <= hi
		}), nil
	})
	register(p, "html_image_ratio", func(args []string) (evalFunc, error) {
		lo, hi, err := bounds(args)
		if err != nil {
			return nil, err
		}
		return anyPart(func(h *htmlPart) bool {
			if h.imageArea <= 0 {
				return false
			}
			r := float64(h.nonSpaceLen) / float64(h.imageArea)
			return r > lo && r <= hi
		}), nil
	})
	fixed(p, "html_charset_faraway", func(*target) bool { return false }) // ok_locales "all"
	register(p, "html_test", func(args []string) (evalFunc, error) {
		if len(args) != 1 {
			return nil, fmt.Errorf("want TEST")
		}
		var get func(h *htmlPart) bool
		switch args[0] {
		case "html":
			get = func(*htmlPart) bool { return true }
		case "font_low_contrast":
			get = func(h *htmlPart) bool { return h.fontLowContrast }
		case "font_invalid_color":
			get = func(h *htmlPart) bool { return h.fontInvalidCol }
		case "font_face_bad":
			get = func(h *htmlPart) bool { return h.fontFaceBad }
		case "embeds":
			get = func(h *htmlPart) bool { return h.embeds }
		case "form_action_mailto":
			get = func(h *htmlPart) bool { return h.formMailto }
		default:
			return nil, fmt.Errorf("html_test %q not implemented", args[0])
		}
		return anyPart(get), nil
	})
	value := func(name string) (func(h *htmlPart) (float64, bool), error) {
		switch name {
		case "length":
			return func(h *htmlPart) (float64, bool) { return float64(h.length), true }, nil
		case "max_size":
			return func(h *htmlPart) (float64, bool) { return h.maxSize, true }, nil
		case "non_space_len":
			return func(h *htmlPart) (float64, bool) { return float64(h.nonSpaceLen), true }, nil
		case "image_area":
			return func(h *htmlPart) (float64, bool) { return float64(h.imageArea), true }, nil
		case "closed_extra_ratio":
			return func(h *htmlPart) (float64, bool) {
				return float64(h.closedExtra) / float64(h.tags), h.tags > 0
			}, nil
		case "bad_tag_ratio":
			return func(h *htmlPart) (float64, bool) {
				return float64(h.tags-h.elements) / float64(h.tags), h.tags > 0 && h.hasElements
			}, nil
		case "non_element_ratio":
			return func(h *htmlPart) (float64, bool) {
				return float64(h.tagsSeen-h.elementsSeen) / float64(h.tagsSeen), h.tagsSeen > 0 && h.hasElementsSeen
			}, nil
		case "obfuscation_ratio":
			return func(h *htmlPart) (float64, bool) {
				return float64(h.obfuscation) / float64(h.tags), h.tags > 0 && h.obfuscation > 0
			}, nil
		}
		return nil, fmt.Errorf("html value %q not implemented", name)
	}
	register(p, "html_range", func(args []string) (evalFunc, error) {
		if len(args) != 3 && len(args) != 2 {
			return nil, fmt.Errorf("want TEST, MIN, MAX")
		}
		get, err := value(args[0])
		if err != nil {
			return nil, err
		}
		lo, err := strconv.ParseFloat(args[1], 64)
		if err != nil {
			return nil, err
		}
		hi := math.Inf(1)
		if len(args) == 3 && args[2] != "inf" {
			if hi, err = strconv.ParseFloat(args[2], 64); err != nil {
				return nil, err
			}
		}
		return anyPart(func(h *htmlPart) bool {
			v, ok := get(h)
			return ok && v > lo && v <= hi
		}), nil
	})
	register(p, "html_eval", func(args []string) (evalFunc, error) {
		if len(args) != 2 {
			return nil, fmt.Errorf("want TEST, EXPR")
		}
		get, err := value(args[0])
		if err != nil {
			return nil, err
		}
		cmp, err := comparison(args[1])
		if err != nil {
			return nil, err
		}
		return anyPart(func(h *htmlPart) bool {
			v, ok := get(h)
			return ok && cmp(v)
		}), nil
	})
	textList := func(name string) (func(h *htmlPart) []string, error) {
		switch name {
		case "anchor":
			return func(h *htmlPart) []string { return h.anchor }, nil
		case "comment":
			return func(h *htmlPart) []string { return h.comment }, nil
		case "title":
			return func(h *htmlPart) []string { return h.title }, nil
		}
		return nil, fmt.Errorf("html text %q not implemented", name)
	}
	matcher := func(want bool) func(args []string) (evalFunc, error) {
		return func(args []string) (evalFunc, error) {
			if len(args) != 2 {
				return nil, fmt.Errorf("want TEXT, REGEX")
			}
			list, err := textList(args[0])
			if err != nil {
				return nil, err
			}
			rx, _, err := perlRegex("/" + args[1] + "/")
			if err != nil {
				return nil, err
			}
			return anyPart(func(h *htmlPart) bool {
				for _, s := range list(h) {
					if rx.MatchString(s) == want {
						return true
					}
				}
				return false
			}), nil
		}
	}
	register(p, "html_text_match", matcher(true))
	register(p, "html_text_not_match", matcher(false))
	register(p, "html_title_subject_ratio", func(args []string) (evalFunc, error) {
		if len(args) != 1 {
			return nil, fmt.Errorf("want RATIO")
		}
		ratio, err := strconv.ParseFloat(args[0], 64)
		if err != nil {
			return nil, err
		}
		return func(t *target) bool {
			// SpamAssassin's get('Subject') is the decoded value in UTF-8 bytes
			// with its line's "\n": one longer than the text, and not empty
			// for a Subject with nothing in it (spam-2.01144: a title over an
			// empty subject is a hit there).
			v, present := t.headerValue("Subject", "")
			if !present {
				return false
			}
			subject := len(v) + 1
			for _, h := range t.html().parts {
				best := 0.0
				for _, s := range h.title {
					best = max(best, float64(utf8.RuneCountInString(s))/float64(subject))
				}
				if best > ratio {
					return true
				}
			}
			return false
		}, nil
	})
	fixed(p, "check_iframe_src", anyPart(func(h *htmlPart) bool { return h.iframeSrc }))
}

// bounds reads (min, max) arguments.
func bounds(args []string) (float64, float64, error) {
	if len(args) != 2 {
		return 0, 0, fmt.Errorf("want MIN, MAX")
	}
	lo, err1 := strconv.ParseFloat(args[0], 64)
	hi, err2 := strconv.ParseFloat(args[1], 64)
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("bad bounds %q, %q", args[0], args[1])
	}
	return lo, hi, nil
}

// comparison reads the expressions HTMLEval evaluates with Perl ("!= 0", "< 384").
func comparison(expr string) (func(float64) bool, error) {
	e := strings.TrimSpace(expr)
	for _, op := range []string{"<=", ">=", "==", "!=", "<", ">"} {
		if rest, ok := strings.CutPrefix(e, op); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			if err != nil {
				return nil, fmt.Errorf("expression %q: %v", expr, err)
			}
			return func(x float64) bool {
				switch op {
				case "<=":
					return x <= v
				case ">=":
					return x >= v
				case "==":
					return x == v
				case "!=":
					return x != v
				case "<":
					return x < v
				}
				return x > v
			}, nil
		}
	}
	return nil, fmt.Errorf("expression %q not understood", expr)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
