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

// RenderHTML turns an HTML part into the text a reader sees, as SpamAssassin's
// HTML renderer (Mail::SpamAssassin::HTML) gives it to body rules: entities
// decoded, tags dropped, <style> and <script> left out, every run of white space
// in the source one space, and the tags that break text adding white space, at
// their start and their end alike: br and div a newline; li, td, th, dt, dd,
// embed and headings a space; p, hr, blockquote, pre, listing, plaintext, xmp and
// title a blank line, which ends a paragraph. Table rows add nothing: a form laid
// out in a table reads as one paragraph, as SpamAssassin's form rules expect.
func RenderHTML(src string) string {
	var b strings.Builder
	tag := func(tag string) {
		switch tag {
		case "br", "div":
			b.WriteByte('\n')
		case "li", "td", "th", "dt", "dd", "embed", "h1", "h2", "h3", "h4", "h5", "h6":
			b.WriteByte(' ')
		case "p", "hr", "blockquote", "pre", "listing", "plaintext", "xmp", "title":
			b.WriteString("\n\n")
		}
	}
	WalkHTML(src, HTMLVisitor{
		Text:  func(text []byte) { collapseSpace(&b, text) },
		Start: func(name string, _ *html.Tokenizer, _ bool) { tag(name) },
		End:   tag,
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
