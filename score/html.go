package score

import (
	"strings"

	"golang.org/x/net/html"
)

// html renders an HTML part to text for the word tokens, and adds tokens for what
// spam's HTML is made of: the tags used, images, hidden or tiny text, forms, links'
// hosts (through the URL tokens, since href values are kept in the text).
func (t *tokenizer) html(src string) string {
	z := html.NewTokenizer(strings.NewReader(src))
	var b strings.Builder
	skip := 0 // inside <style> or <script>
	for {
		switch z.Next() {
		case html.ErrorToken:
			return b.String()
		case html.TextToken:
			if skip == 0 {
				b.Write(z.Text())
				b.WriteByte(' ')
			}
		case html.StartTagToken, html.SelfClosingTagToken:
			name, hasAttr := z.TagName()
			tag := string(name)
			switch tag {
			case "style", "script":
				skip++
				t.add("html:" + tag)
			case "img", "form", "input", "iframe", "object", "embed", "table", "font", "center", "map", "area", "base":
				t.add("html:" + tag)
			case "br", "p", "div", "tr", "td", "li":
				b.WriteByte(' ')
			}
			for hasAttr {
				var k, v []byte
				k, v, hasAttr = z.TagAttr()
				key, val := string(k), strings.ToLower(string(v))
				switch key {
				case "href", "src", "action":
					// Keep the link in the text so urls() tokenizes its host and path.
					b.WriteString(" " + string(v) + " ")
				case "style":
					if strings.Contains(val, "display:none") || strings.Contains(val, "visibility:hidden") {
						t.add("html:hidden text")
					}
					if strings.Contains(val, "font-size:0") || strings.Contains(val, "font-size: 0") || strings.Contains(val, "font-size:1px") {
						t.add("html:tiny text")
					}
				case "color":
					if tag == "font" {
						t.add("html:font color " + val)
					}
				case "size":
					if tag == "font" {
						t.add("html:font size " + val)
					}
				}
			}
		case html.EndTagToken:
			name, _ := z.TagName()
			if s := string(name); (s == "style" || s == "script") && skip > 0 {
				skip--
			}
		}
	}
}
