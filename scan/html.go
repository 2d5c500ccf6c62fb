package scan

import (
	"strings"

	"golang.org/x/net/html"
)

// HTMLVisitor receives what WalkHTML finds. Any field may be nil.
type HTMLVisitor struct {
	// Text is text a reader sees: not inside <style> or <script>. Entities decoded.
	Text func(text []byte)
	// Start is a start or self-closing tag (lower case); its attributes, if hasAttr,
	// are read with z.TagAttr.
	Start func(tag string, z *html.Tokenizer, hasAttr bool)
	// End is an end tag.
	End func(tag string)
}

// WalkHTML tokenizes an HTML part for a reader (the rules' rendering below, the
// Bayes tokenizer's tags and links), leaving out the text of <style> and <script>.
// Each reader walks the part itself: one walker, but two walks per message.
func WalkHTML(src string, v HTMLVisitor) {
	z := html.NewTokenizer(strings.NewReader(src))
	skip := 0 // inside <style> or <script>
	for {
		switch z.Next() {
		case html.ErrorToken:
			return
		case html.TextToken:
			if skip == 0 && v.Text != nil {
				v.Text(z.Text())
			}
		case html.StartTagToken, html.SelfClosingTagToken:
			name, hasAttr := z.TagName()
			tag := string(name)
			if tag == "style" || tag == "script" {
				skip++
			}
			if v.Start != nil {
				v.Start(tag, z, hasAttr)
			}
		case html.EndTagToken:
			name, _ := z.TagName()
			tag := string(name)
			if (tag == "style" || tag == "script") && skip > 0 {
				skip--
			}
			if v.End != nil {
				v.End(tag)
			}
		}
	}
}

// RenderHTML turns an HTML part into the text a reader sees: entities decoded, tags
// dropped, <style> and <script> left out, block elements on lines of their own, and
// runs of white space in the source (line breaks and blank lines too) one space, as a
// browser shows them, except in <pre>. Content rules read this, as SpamAssassin's
// body rules do: only markup makes paragraphs, never the source's blank lines.
func RenderHTML(src string) string {
	var b strings.Builder
	pre := 0
	WalkHTML(src, HTMLVisitor{
		Text: func(text []byte) {
			if pre > 0 {
				b.Write(text)
			} else {
				collapseSpace(&b, text)
			}
		},
		Start: func(tag string, _ *html.Tokenizer, _ bool) {
			switch tag {
			case "br", "p", "div", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table", "blockquote", "pre", "hr":
				b.WriteByte('\n')
			case "td", "th":
				b.WriteByte(' ')
			}
			if tag == "pre" {
				pre++
			}
		},
		End: func(tag string) {
			switch tag {
			case "p", "div", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table", "blockquote", "pre":
				b.WriteByte('\n')
			}
			if tag == "pre" && pre > 0 {
				pre--
			}
		},
	})
	return b.String()
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
