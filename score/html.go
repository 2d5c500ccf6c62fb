package score

import (
	"strings"

	"github.com/postern/postern/scan"
)

// html renders an HTML part to text for the word tokens, and adds tokens for what
// spam's HTML is made of: the tags used, images, hidden or tiny text, forms, links'
// hosts (through the URL tokens, since href values are kept in the text). src is
// the part's text, or a text made from it (cut short, read as Latin-1).
func (t *tokenizer) html(p *scan.Part, src string) string {
	var b strings.Builder
	// Room for the text at once: grown as it was written, the builder's copies
	// were a tenth of the tokenizer's time. The text is shorter than the source
	// but for the few bytes added between runs of it.
	b.Grow(len(src) + len(src)/8)
	p.WalkHTML(src, scan.HTMLVisitor{
		Text: func(text []byte) {
			b.Write(text)
			b.WriteByte(' ')
		},
		Start: func(tag string, attrs []scan.HTMLAttr) {
			switch tag {
			case "style", "script", "img", "form", "input", "iframe", "object", "embed", "table", "font", "center", "map", "area", "base":
				t.add("html:" + tag)
			case "br", "p", "div", "tr", "td", "li":
				b.WriteByte(' ')
			}
			for _, a := range attrs {
				v := a.Val
				switch a.Key {
				case "href", "src", "action":
					// Keep the link in the text so urls() tokenizes its host and path.
					b.WriteByte(' ')
					b.Write(v)
					b.WriteByte(' ')
				case "style":
					val := strings.ToLower(string(v))
					if strings.Contains(val, "display:none") || strings.Contains(val, "visibility:hidden") {
						t.add("html:hidden text")
					}
					if strings.Contains(val, "font-size:0") || strings.Contains(val, "font-size: 0") || strings.Contains(val, "font-size:1px") {
						t.add("html:tiny text")
					}
				case "color":
					if tag == "font" {
						t.add("html:font color " + strings.ToLower(string(v)))
					}
				case "size":
					if tag == "font" {
						t.add("html:font size " + strings.ToLower(string(v)))
					}
				}
			}
		},
	})
	return b.String()
}
