package scan

import (
	"strings"
	"testing"
)

func TestRenderHTML(t *testing.T) {
	for src, want := range map[string]string{
		"<p>Hello &amp; welcome</p>": "\n\nHello & welcome\n\n",
		"a<br>b":                     "a\nb",
		"<style>p{}</style><script>x()</script>seen":       "seen",
		"one\n\n  two\tthree\n":                            "one two three ",
		"<html><body>text</body></html>\n\ntracker123\n":   "text tracker123 ",
		"<pre>a\n\n  b</pre> c\n\nd":                       "\n\na b\n\n c d",
		"<table><tr><td>x</td><td>y</td></tr></table>tail": " x  y tail",
		// A form laid out in a table is one paragraph, as SpamAssassin renders it.
		"<tr><td>Name*</td></tr>\n<tr><td>Home Phone</td></tr>": " Name*   Home Phone ",
		"<div>a</div><li>b</li><h2>c</h2><hr>d":                 "\na\n b  c \n\nd",
		// noscript, noframes and noembed hold markup, as HTML::Parser reads them:
		// their tags are not text, and a <style> opened inside hides what follows.
		"<noscript><img src=x> hello <b>bold</b></noscript>": " hello bold",
		"<noframes>a &amp; b</noframes><noembed>c</noembed>": "a & bc",
		"<noframes><style></noframes>hidden</style>seen":     "seen",
		// A title never closed holds markup: the rest of the part is not its text.
		// (SpamAssassin also ends a paragraph between the two words.)
		"<title><title>a <b>b</b>":                   "\n\n\n\na b",
		"<TITLE>t <b>x</b></Title><title>u <b>y</b>": "\n\nt <b>x</b>\n\n\n\nu y",
	} {
		if got := RenderHTML(src); got != want {
			t.Errorf("%q: %q, want %q", src, got, want)
		}
	}
}

// The tags' links, as SpamAssassin's html_uri collects them.
func TestRenderHTMLLinks(t *testing.T) {
	src := `<body background="bg.gif"><a href=" http://a.example/x ">a</a><a x/href="http://m.example/">m</a>` +
		`<img src="cid:1@x"><form action="https://f.example/post"><p title="http://not.a.link/">t</p>` +
		`<meta http-equiv="Refresh" content="0; URL=http://r.example/">`
	text, links := RenderHTMLLinks(src, true)
	var got []string
	for _, l := range links {
		got = append(got, l.Tag+" "+l.URI)
	}
	want := []string{"body bg.gif", "a http://a.example/x", "a http://m.example/", "img cid:1@x", "form https://f.example/post", "meta http://r.example/"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("links %q, want %q", got, want)
	}
	if text != RenderHTML(src) {
		t.Errorf("text %q differs from RenderHTML's", text)
	}
}
