package scan

import (
	"bytes"
	"strings"
	"sync"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// HTMLAttr is one attribute of a start tag: its name in lower case, its value
// with entities decoded.
type HTMLAttr struct {
	Key string
	Val []byte
}

// HTMLVisitor receives what a walk of an HTML part finds (WalkHTML, HTMLDoc.Walk).
// Any field may be nil. What it is given may be shared with other readers of the
// part, or be the tokenizer's buffer: it reads it during the call and never
// changes it.
type HTMLVisitor struct {
	// Text is text a reader sees: not inside <style> or <script>. Entities decoded.
	Text func(text []byte)
	// Start is a start or self-closing tag (lower case), with its attributes.
	Start func(tag string, attrs []HTMLAttr)
	// End is an end tag.
	End func(tag string)
	// Comment is a comment as written ("<!--…-->"), Doctype a <!DOCTYPE …>:
	// the rules' HTML analysis counts them.
	Comment func(raw []byte)
	Doctype func()
}

// WalkHTML tokenizes an HTML part for one reader, leaving out the text of <style>
// and <script>. A part that several readers walk (the rules' rendering, the
// Bayes tokenizer) is tokenized once instead: Part.WalkHTML.
func WalkHTML(src string, v HTMLVisitor) {
	src = htmlSource(src)
	z := html.NewTokenizer(strings.NewReader(closeComments(src)))
	raw := newRawText(src)
	// Inside <style> or <script>: counted apart, as HTML.pm counts each tag
	// (an end tag of the one does not close the other).
	style, script := 0, 0
	var attrs []HTMLAttr
	for {
		switch tt := z.Next(); tt {
		case html.ErrorToken:
			return
		case html.TextToken:
			if style == 0 && script == 0 && v.Text != nil {
				v.Text(z.Text())
			}
		case html.CommentToken:
			if v.Comment != nil {
				z.Text() // (as Token does: Raw then has the comment's line ends turned)
				v.Comment(z.Raw())
			}
		case html.DoctypeToken:
			if v.Doctype != nil {
				v.Doctype()
			}
		case html.StartTagToken, html.SelfClosingTagToken:
			name, hasAttr := z.TagName()
			tag := htmlName(name)
			switch tag {
			case "style":
				style++
			case "script":
				script++
			}
			if tt == html.StartTagToken {
				raw.Start(z, tag)
			}
			attrs = attrs[:0]
			for hasAttr {
				var k, val []byte
				k, val, hasAttr = z.TagAttr() // (val is a copy: it outlives the next token)
				attrs = append(attrs, HTMLAttr{htmlName(k), val})
			}
			if v.Start != nil {
				v.Start(tag, attrs)
			}
		case html.EndTagToken:
			name, _ := z.TagName()
			tag := htmlName(name)
			switch {
			case tag == "style" && style > 0:
				style--
			case tag == "script" && script > 0:
				script--
			}
			raw.End(tag)
			if v.End != nil {
				v.End(tag)
			}
		}
	}
}

// HTMLDoc is an HTML part tokenized once, for each of its readers to walk in turn
// (Walk). The rules render every HTML part and the Bayes tokenizer reads its tags
// and text: tokenizing was most of each reader's walk, and a walk of what was
// recorded costs a fiftieth of one (docs/benchmarks.md, "Thirty-second session").
type HTMLDoc struct {
	toks  []htmlTok
	attrs []HTMLAttr
	text  []byte // the text tokens', one after the other
}

type htmlTok struct {
	kind htmlKind
	tag  string
	i, j int32 // text: text[i:j]; a start tag's attributes: attrs[i:j]
}

type htmlKind uint8

const (
	htmlText htmlKind = iota
	htmlStart
	htmlEnd
	htmlComment // text[i:j]: its raw bytes
	htmlDoctype
)

// htmlSource is an HTML part's text as SpamAssassin's HTML.pm gives it to
// HTML::Parser, for the rendered text, the links and the analysis alike:
// "&nbsp;" a space, "<br/>" (any word, white space before the slash or none)
// "<br>" (its bug 4695), and the curly double quotes U+201C and U+201D a
// straight one, so that an attribute written <a href=”http://…”>, as word
// processors write them, is the address, not the address in curly quotes.
// Each is a copy only where the part has one.
func htmlSource(src string) string {
	src = strings.ReplaceAll(src, "&nbsp;", " ")
	src = openSelfClosing(src)
	return strings.ReplaceAll(strings.ReplaceAll(src, "\u201c", `"`), "\u201d", `"`)
}

// openSelfClosing rewrites <br/> and <img   /> as <br> and <img>, as HTML.pm's
// s/<(\w+)\s*\/>/<$1>/gi: by hand, since the regexp took a tenth of the HTML
// analysis, and from each "/>" back, since a walk of every byte of every HTML
// part was a percent of the built-in check once the renderer read this source too.
func openSelfClosing(src string) string {
	var b strings.Builder
	last := 0
	for from := 0; ; {
		i := strings.Index(src[from:], "/>")
		if i < 0 {
			break
		}
		end := from + i // the '/'
		from = end + 2
		k := end
		for k > last && strings.IndexByte("\t\n\f\r ", src[k-1]) >= 0 {
			k--
		}
		j := k // the end of the tag's name
		for j > last && isWordByte(src[j-1]) {
			j--
		}
		if j == k || j == last || src[j-1] != '<' {
			continue
		}
		if b.Len() == 0 {
			b.Grow(len(src))
		}
		b.WriteString(src[last:k])
		b.WriteByte('>')
		last = from
	}
	if last == 0 {
		return src
	}
	b.WriteString(src[last:])
	return b.String()
}

// closeComments ends the comments that HTML::Parser (SpamAssassin's, through
// HTML.pm) ends and x/net/html does not. A comment opened by "<!--" ends at the
// next "-->" in both; with no "-->" anywhere after it, HTML::Parser ends it at its
// first ">", where x/net/html, as HTML5 says, reads the rest of the part as the
// comment. Spam made from templates leaves such openings ("<!--#rotate>"), and
// SpamAssassin's rules then read the text after them, which Postern had not seen
// (TRACKER_ID on a tracker at the end). Each such comment is given its "-->";
// src is returned as it is when it has none (most parts).
func closeComments(src string) string {
	var b []byte
	last, from := 0, 0
	for {
		i := strings.Index(src[from:], "<!--")
		if i < 0 {
			break
		}
		p := from + i
		if j := strings.Index(src[p+2:], "-->"); j >= 0 { // (from p+2: "<!-->" is one)
			from = p + 2 + j + 3
			continue
		}
		gt := strings.IndexByte(src[p+4:], '>')
		if gt < 0 {
			break // to the end in both
		}
		end := p + 4 + gt // its '>'
		if b == nil {
			b = make([]byte, 0, len(src)+16)
		}
		b = append(append(b, src[last:end]...), "--"...)
		last, from = end, end+1
	}
	if b == nil {
		return src
	}
	return string(append(b, src[last:]...))
}

// RecordHTML tokenizes src as WalkHTML does, keeping what it finds.
func RecordHTML(src string) *HTMLDoc {
	// Sized for most parts of the corpus's HTML (a token every 33 bytes, an
	// attribute every 73, text a quarter of the source, on average), so that few
	// grow by copying and few hold much more than they use.
	d := &HTMLDoc{toks: make([]htmlTok, 0, len(src)/24+8), attrs: make([]HTMLAttr, 0, len(src)/48+4), text: make([]byte, 0, len(src)/3+64)}
	WalkHTML(src, HTMLVisitor{
		Text: func(text []byte) {
			i := len(d.text)
			d.text = append(d.text, text...)
			d.toks = append(d.toks, htmlTok{kind: htmlText, i: int32(i), j: int32(len(d.text))})
		},
		Start: func(tag string, attrs []HTMLAttr) {
			i := len(d.attrs)
			d.attrs = append(d.attrs, attrs...)
			d.toks = append(d.toks, htmlTok{kind: htmlStart, tag: tag, i: int32(i), j: int32(len(d.attrs))})
		},
		End: func(tag string) { d.toks = append(d.toks, htmlTok{kind: htmlEnd, tag: tag}) },
		Comment: func(raw []byte) {
			i := len(d.text)
			d.text = append(d.text, raw...)
			d.toks = append(d.toks, htmlTok{kind: htmlComment, i: int32(i), j: int32(len(d.text))})
		},
		Doctype: func() { d.toks = append(d.toks, htmlTok{kind: htmlDoctype}) },
	})
	return d
}

// Walk gives v what WalkHTML of the recorded part would.
func (d *HTMLDoc) Walk(v HTMLVisitor) {
	for _, t := range d.toks {
		switch t.kind {
		case htmlText:
			if v.Text != nil {
				v.Text(d.text[t.i:t.j:t.j])
			}
		case htmlStart:
			if v.Start != nil {
				v.Start(t.tag, d.attrs[t.i:t.j:t.j])
			}
		case htmlEnd:
			if v.End != nil {
				v.End(t.tag)
			}
		case htmlComment:
			if v.Comment != nil {
				v.Comment(d.text[t.i:t.j:t.j])
			}
		case htmlDoctype:
			if v.Doctype != nil {
				v.Doctype()
			}
		}
	}
}

// sharedHTML is an HTML part's HTMLDoc, recorded by its first reader.
type sharedHTML struct {
	once sync.Once
	doc  *HTMLDoc
}

// WalkHTML walks src, the part's text or a text made from it, for v: the part's
// shared recording when src is its text (Parse readies one for each HTML part;
// its first reader records it, the others wait for it), a walk of its own
// otherwise.
func (p *Part) WalkHTML(src string, v HTMLVisitor) {
	if p.html == nil || src != p.Text {
		WalkHTML(src, v)
		return
	}
	p.html.once.Do(func() { p.html.doc = RecordHTML(p.Text) })
	if p.html.doc == nil { // the recording panicked: this reader's own walk will say so too
		WalkHTML(src, v)
		return
	}
	p.html.doc.Walk(v)
}

// rawText tells the tokenizer, just after a start tag, to read the element's
// content as markup where HTML::Parser (SpamAssassin's, through HTML.pm) does:
//
//   - noscript, noframes and noembed hold markup there; x/net/html reads their
//     content as one text token, which put their tags in the rendered text
//     ("<img src=…>" for a body rule to read) and made text of what SpamAssassin
//     hides (a <style> opened inside <noframes> hides the rest of the part);
//   - a title that is never closed holds markup there too (its "literal" text
//     ends only at </title>); x/net/html reads the rest of the part as its text.
//
// Script, style, xmp, iframe, textarea, plaintext and a closed title are literal
// text in both.
type rawText struct {
	src         string
	titleCloses int // "</title" in src, in any case; -1 until a title asks
	titleEnds   int // title end tags read so far
}

// newRawText readies rawText for the part src.
func newRawText(src string) rawText { return rawText{src: src, titleCloses: -1} }

// countTitleCloses counts "</title" in the part: only for a part with a title,
// not another pass over every part.
func (r *rawText) countTitleCloses() int {
	if r.titleCloses < 0 {
		r.titleCloses = 0
		for s := r.src; ; {
			j := strings.Index(s, "</")
			if j < 0 {
				break
			}
			s = s[j+2:]
			if len(s) >= 5 && strings.EqualFold(s[:5], "title") {
				r.titleCloses++
			}
		}
	}
	return r.titleCloses
}

// Start is called after each start tag (not a self-closing one).
func (r *rawText) Start(z *html.Tokenizer, tag string) {
	switch tag {
	case "noscript", "noframes", "noembed":
		z.NextIsNotRawText()
	case "title":
		if r.titleEnds >= r.countTitleCloses() { // (no </title> left to end it)
			z.NextIsNotRawText()
		}
	}
}

// End is called after each end tag.
func (r *rawText) End(tag string) {
	if tag == "title" {
		r.titleEnds++
	}
}

// htmlName is a tag's or attribute's name as a string, without a copy where it
// is one HTML knows (an atom): most are, and a string a tag was garbage.
func htmlName(b []byte) string {
	if a := atom.Lookup(b); a != 0 {
		return a.String()
	}
	return string(b)
}

// RenderHTML turns an HTML part into the text a reader sees, as SpamAssassin's
// HTML renderer (Mail::SpamAssassin::HTML) gives it to body rules: entities
// decoded, tags dropped, <style> and <script> left out, every run of white space
// in the source one space, and the tags that break text adding white space, at
// their start and their end alike: br and div a newline; li, td, th, dt, dd,
// embed and headings a space; p, hr, blockquote, pre, listing, plaintext, xmp and
// title a blank line, which ends a paragraph. Table rows add nothing: a form laid
// out in a table reads as one paragraph, as SpamAssassin's form rules expect.
func RenderHTML(src string) string {
	text, _ := RenderHTMLLinks(src, false)
	return text
}

// Link is a URI an HTML tag's attribute holds, as SpamAssassin's HTML parser
// collects them (html_uri): where a browser would fetch or follow it.
type Link struct {
	Tag, Attr string // the tag and the attribute that held it (href for a mangled x/href)
	URI       string // as written, less white space around it
	// Target is where it leads (ResolveLink): URI read against the part's
	// <base href> before it. "" when that is nothing (an empty path with no
	// base); a data:, mailto:, file:, cid: or tel: link's is its URI.
	Target string
}

// RenderHTMLLinks is RenderHTML, and with links the tags' URIs, read in the
// same walk.
func RenderHTMLLinks(src string, links bool) (string, []Link) {
	return renderHTML(func(v HTMLVisitor) { WalkHTML(src, v) }, links)
}

// RenderHTMLLinks is the package function's for the part's text, from the
// part's shared recording.
func (p *Part) RenderHTMLLinks(links bool) (string, []Link) {
	return renderHTML(func(v HTMLVisitor) { p.WalkHTML(p.Text, v) }, links)
}

func renderHTML(walk func(HTMLVisitor), links bool) (string, []Link) {
	var out []Link
	var base string // the last <base href> a browser would follow
	var r renderer
	walk(HTMLVisitor{
		Text: r.text,
		Start: func(name string, attrs []HTMLAttr) {
			r.tag(name)
			if links && len(attrs) > 0 {
				out = appendLinks(out, name, attrs, &base)
			}
		},
		End: r.tag,
	})
	return string(r.buf), out
}

// renderer writes the text as HTML.pm's display_text does, which keeps the text
// as chunks: a text's, its white space collapsed, or a tag's white space. A tag's
// white space trims one space from the end of the text chunk before it, and a
// text chunk after a tag's loses one space at its start. So "<br><br>\n ID" is a
// paragraph "ID", where the source's line end would otherwise have left " ID"
// (TRACKER_ID reads a paragraph from its start). HTML.pm skips both trims for
// text it finds invisible (a font the colour of its background); this renderer
// does not read fonts, and trims there too (the rules' own HTML walk, which
// counts what those tests need, tells them apart: rules/eval_html.go).
type renderer struct {
	buf []byte
	// last is the kind of the last chunk: none yet, a text's, a tag's white space.
	last      int
	lastStart int // where the last chunk starts in buf
}

const (
	chunkNone = iota
	chunkText
	chunkSpace
)

func (r *renderer) tag(tag string) {
	var ws string
	switch tag {
	case "br", "div":
		ws = "\n"
	case "li", "td", "th", "dt", "dd", "embed", "h1", "h2", "h3", "h4", "h5", "h6":
		ws = " "
	case "p", "hr", "blockquote", "pre", "listing", "plaintext", "xmp", "title":
		ws = "\n\n"
	default:
		return
	}
	if r.last == chunkText && len(r.buf) > r.lastStart && r.buf[len(r.buf)-1] == ' ' {
		r.buf = r.buf[:len(r.buf)-1]
	}
	r.lastStart, r.last = len(r.buf), chunkSpace
	r.buf = append(r.buf, ws...)
}

func (r *renderer) text(text []byte) {
	if r.last == chunkSpace {
		// (its leading run of white space, which collapsing makes the one space
		// display_text takes off)
		text = bytes.TrimLeft(text, " \t\n\r\f\v")
	}
	r.lastStart, r.last = len(r.buf), chunkText
	r.buf = collapseSpace(r.buf, text)
}

// appendLinks adds the URIs of a tag's attributes (HTML.pm's html_uri): a
// background, a link's href (or a mangled x/href) and data-saferedirecturl, an
// embedded object's src, a form's action, a base, a meta refresh's url. Each
// is resolved against *base, which a <base href> sets for the links after it.
func appendLinks(out []Link, tag string, attrs []HTMLAttr, base *string) []Link {
	want, mangled := "", false
	switch tag {
	case "body", "table", "tr", "td":
		want = "background"
	case "a", "area", "link":
		want, mangled = "href", true
	case "base":
		want = "href"
	case "img", "frame", "iframe", "embed", "script", "bgsound":
		want, mangled = "src", true
	case "form":
		want = "action"
	case "meta":
	default:
		return out
	}
	add := func(attr, u string) {
		if u == "" {
			return
		}
		u = CutLink(u)
		l := Link{Tag: tag, Attr: attr, URI: u, Target: u}
		if !noTarget(u) {
			l.Target = ResolveLink(*base, u)
		}
		out = append(out, l)
	}
	var refresh bool
	var content string
	for _, a := range attrs {
		key, v := a.Key, a.Val
		switch {
		case tag == "meta" && key == "http-equiv":
			refresh = strings.Contains(strings.ToLower(string(v)), "refresh")
		case tag == "meta" && key == "content":
			content = string(v)
		case key == want || mangled && mangledAttr(key, want):
			u := strings.Trim(strings.ReplaceAll(string(v), "\ufeff", ""), " \t\n\r\f\v\u00a0")
			add(want, u)
			if tag == "base" && u != "" {
				if b, ok := baseOf(CutLink(u)); ok {
					*base = b
				}
			}
		case key == "data-saferedirecturl" && (tag == "a" || tag == "area" || tag == "link"):
			add(key, strings.Trim(string(v), " \t\n\r\f\v\u00a0"))
		}
	}
	if refresh {
		lower := strings.ToLower(content)
		if i := strings.Index(lower, "url"); i >= 0 {
			rest := strings.TrimLeft(content[i+3:], " \t\n\r\f")
			if strings.HasPrefix(rest, "=") {
				u := strings.TrimLeft(rest[1:], " \t\n\r\f")
				if j := strings.IndexByte(u, ';'); j >= 0 {
					u = u[:j]
				}
				add("content", strings.Trim(strings.TrimSpace(u), `"'`))
			}
		}
	}
	return out
}

// mangledAttr is an attribute name such as x/href that badly written HTML gives
// a link (HTML.pm reads \w{1,8}/href as href).
func mangledAttr(key, want string) bool {
	prefix, ok := strings.CutSuffix(key, "/"+want)
	return ok && len(prefix) >= 1 && len(prefix) <= 8
}

// collapseSpace appends text to b with each run of white space as one space.
func collapseSpace(b []byte, text []byte) []byte {
	space := false
	for _, c := range text {
		switch c {
		case ' ', '\t', '\n', '\r', '\f', '\v':
			space = true
			continue
		}
		if space {
			b = append(b, ' ')
			space = false
		}
		b = append(b, c)
	}
	if space {
		b = append(b, ' ')
	}
	return b
}
