package scan

import (
	"strings"

	"golang.org/x/net/html"
)

// RenderHTML turns an HTML part into the text a reader sees: entities decoded, tags
// dropped, <style> and <script> left out, block elements on lines of their own, and
// runs of white space in the source (line breaks and blank lines too) one space, as a
// browser shows them, except in <pre>. Content rules read this, as SpamAssassin's
// body rules do: only markup makes paragraphs, never the source's blank lines.
func RenderHTML(src string) string {
	z := html.NewTokenizer(strings.NewReader(src))
	var b strings.Builder
	skip, pre := 0, 0
	for {
		switch z.Next() {
		case html.ErrorToken:
			return b.String()
		case html.TextToken:
			if skip == 0 {
				if pre > 0 {
					b.Write(z.Text())
				} else {
					collapseSpace(&b, z.Text())
				}
			}
		case html.StartTagToken, html.SelfClosingTagToken:
			name, _ := z.TagName()
			if string(name) == "pre" {
				pre++
			}
			switch string(name) {
			case "style", "script":
				skip++
			case "br", "p", "div", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table", "blockquote", "pre", "hr":
				b.WriteByte('\n')
			case "td", "th":
				b.WriteByte(' ')
			}
		case html.EndTagToken:
			name, _ := z.TagName()
			if string(name) == "pre" && pre > 0 {
				pre--
			}
			switch string(name) {
			case "style", "script":
				if skip > 0 {
					skip--
				}
			case "p", "div", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table", "blockquote", "pre":
				b.WriteByte('\n')
			}
		}
	}
}

// collapseSpace writes text with each run of white space as one space.
func collapseSpace(b *strings.Builder, text []byte) {
	space := false
	for _, c := range text {
		switch c {
		case ' ', '\t', '\n', '\r', '\f', '\v':
			space = true
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteByte(c)
	}
	if space {
		b.WriteByte(' ')
	}
}
