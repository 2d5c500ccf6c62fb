package scan

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/postern/postern/internal/corpus"
	"github.com/postern/postern/internal/mbox"
)

func TestRenderHTML(t *testing.T) {
	for src, want := range map[string]string{
		"<p>Hello &amp; welcome</p>": "\n\nHello & welcome\n\n",
		"a<br>b":                     "a\nb",
		"<style>p{}</style><script>x()</script>seen":       "seen",
		"one\n\n  two\tthree\n":                            "one two three ",
		"<html><body>text</body></html>\n\ntracker123\n":   "text tracker123 ",
		"<pre>a\n\n  b</pre> c\n\nd":                       "\n\na b\n\nc d",
		"<table><tr><td>x</td><td>y</td></tr></table>tail": " x  y tail",
		// A form laid out in a table is one paragraph, as SpamAssassin renders it.
		"<tr><td>Name*</td></tr>\n<tr><td>Home Phone</td></tr>": " Name*  Home Phone ",
		"<div>a</div><li>b</li><h2>c</h2><hr>d":                 "\na\n b  c \n\nd",
		// A tag's white space trims a space from the text before it, and a text
		// after it loses its leading one (HTML.pm's display_text): the tracker
		// after the breaks starts its paragraph, as TRACKER_ID reads it.
		"<br><br></font>\n5180qgsf6-x": "\n\n5180qgsf6-x",
		"word <br> next":               "word\nnext",
		"one <td> two":                 "one two",
		// A comment with no "-->" after it ends at its first '>' (HTML::Parser's
		// reading, closeComments), not at the end of the part.
		"a <!--#rotate>b <b>c</b>": "a b c",
		"a <!--x>b<!--y>c":         "a bc",
		"a <!--x>b --> c":          "a  c",
		"a <!-- b":                 "a ",
		"a <!-->b":                 "a b",
		"<!--x>a --!> b":           "a --!> b",
		// noscript, noframes and noembed hold markup, as HTML::Parser reads them:
		// their tags are not text, and a <style> opened inside hides what follows.
		"<noscript><img src=x> hello <b>bold</b></noscript>": " hello bold",
		"<noframes>a &amp; b</noframes><noembed>c</noembed>": "a & bc",
		"<noframes><style></noframes>hidden</style>seen":     "seen",
		// A title never closed holds markup: the rest of the part is not its text.
		// (SpamAssassin also ends a paragraph between the two words.)
		"<title><title>a <b>b</b>":                   "\n\n\n\na b",
		"<TITLE>t <b>x</b></Title><title>u <b>y</b>": "\n\nt <b>x</b>\n\n\n\nu y",
		// HTML.pm's source: "&nbsp;" a space, "<br/>" "<br>", curly quotes straight.
		"a&nbsp;b":           "a b",
		"say \u201chi\u201d": `say "hi"`,
		"<title/>a <b>b</b>": "\n\na b", // an open title, as "<title>"
		"a<br/>b<br />c":     "a\nb\nc",
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
		`<meta http-equiv="Refresh" content="0; URL=http://r.example/">` +
		// An attribute quoted with curly quotes, as word processors write them,
		// is the address (HTML.pm straightens them before it parses).
		"<a href=\u201dhttps://c.example/p\u201d>c</a>"
	text, links := RenderHTMLLinks(src, true)
	var got []string
	for _, l := range links {
		got = append(got, l.Tag+" "+l.URI)
	}
	want := []string{"body bg.gif", "a http://a.example/x", "a http://m.example/", "img cid:1@x", "form https://f.example/post", "meta http://r.example/", "a https://c.example/p"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("links %q, want %q", got, want)
	}
	if text != RenderHTML(src) {
		t.Errorf("text %q differs from RenderHTML's", text)
	}
}

// visits is what a walk gives a visitor, written out.
func visits(walk func(HTMLVisitor)) string {
	var b strings.Builder
	walk(HTMLVisitor{
		Text: func(text []byte) { b.WriteString("T" + string(text) + "|") },
		Start: func(tag string, attrs []HTMLAttr) {
			b.WriteString("S" + tag)
			for _, a := range attrs {
				b.WriteString(" " + a.Key + "=" + string(a.Val))
			}
			b.WriteString("|")
		},
		End: func(tag string) { b.WriteString("E" + tag + "|") },
	})
	return b.String()
}

// A part's shared recording gives every reader what its own walk would, in any
// number of walks, by readers at once; a text made from the part's (cut short,
// read as Latin-1) is walked on its own.
func TestPartWalkHTML(t *testing.T) {
	docs := []string{
		`<html><body bgcolor=white><p class="a" title='x &amp; y'>Hello &amp; <b>bye</b></p><br/><img src="cid:1"></body></html>`,
		`<noframes><style></noframes>hidden</style>seen<script>x()</script>`,
		`<title><title>a <b>b</b>`,
		`<a href="http://a.example/?q=1&amp;r=2" HREF=dup>link</a>` + strings.Repeat("<td>cell</td>", 200),
		`plain text, no markup`,
		`<<<>>><a <b c=">`,
	}
	for _, src := range docs {
		m, err := Parse(strings.NewReader("Content-Type: text/html\n\n" + src))
		if err != nil || len(m.Parts) != 1 {
			t.Fatalf("Parse: %v, %d parts", err, len(m.Parts))
		}
		p := m.Parts[0]
		text := p.Text
		want := visits(func(v HTMLVisitor) { WalkHTML(text, v) })
		got := make([]string, 4)
		done := make(chan struct{})
		for i := range got {
			go func() {
				defer func() { done <- struct{}{} }()
				q := p // a copy of the part, as a range over m.Parts gives: it shares the recording
				got[i] = visits(func(v HTMLVisitor) { q.WalkHTML(text, v) })
			}()
		}
		for range got {
			<-done
		}
		for i, g := range got {
			if g != want {
				t.Errorf("%q: reader %d got\n%s\nwant\n%s", src, i, g, want)
			}
		}
		if p.html == nil || p.html.doc == nil {
			t.Errorf("%q: no shared recording", src)
		}
		if short := text[:len(text)/2]; visits(func(v HTMLVisitor) { p.WalkHTML(short, v) }) != visits(func(v HTMLVisitor) { WalkHTML(short, v) }) {
			t.Errorf("%q: a text cut short was not walked on its own", src)
		}
		r1, l1 := RenderHTMLLinks(text, true)
		r2, l2 := p.RenderHTMLLinks(true)
		if r1 != r2 || len(l1) != len(l2) {
			t.Errorf("%q: Part.RenderHTMLLinks %q %v, RenderHTMLLinks %q %v", src, r2, l2, r1, l1)
		}
	}
}

// BenchmarkHTMLWalk: the corpus's HTML parts (../shared/corpus/get-corpus.sh),
// an op being all of them: tokenized for one reader (walk), tokenized and
// recorded (record: what a part's first reader pays, Part.WalkHTML), and the
// recording walked (replay: what every other reader pays).
func BenchmarkHTMLWalk(b *testing.B) {
	var parts []string
	for _, sub := range []string{"spamassassin/spam", "spamassassin/ham", "phishing"} {
		dir := filepath.Join(corpus.Dir(), sub)
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			raw, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				continue
			}
			if m, err := Parse(bytes.NewReader(mbox.StripFrom(raw))); err == nil {
				for _, p := range m.Parts {
					if p.ContentType == "text/html" && p.Text != "" {
						parts = append(parts, p.Text)
					}
				}
			}
		}
	}
	if len(parts) == 0 {
		b.Skip("no corpus: run ../shared/corpus/get-corpus.sh")
	}
	attrs := func(string, []HTMLAttr) {}
	b.Run("walk", func(b *testing.B) {
		for b.Loop() {
			for _, p := range parts {
				WalkHTML(p, HTMLVisitor{Start: attrs})
			}
		}
	})
	b.Run("record", func(b *testing.B) {
		for b.Loop() {
			for _, p := range parts {
				RecordHTML(p)
			}
		}
	})
	docs := make([]*HTMLDoc, len(parts))
	for i, p := range parts {
		docs[i] = RecordHTML(p)
	}
	b.Run("replay", func(b *testing.B) {
		for b.Loop() {
			for _, d := range docs {
				d.Walk(HTMLVisitor{Start: attrs})
			}
		}
	})
}

// closeComments only ends comments: what it adds is "--" before a '>', and a
// second pass finds nothing left to end.
func FuzzCloseComments(f *testing.F) {
	for _, s := range []string{"a <!--#rotate>b <b>c</b>", "a <!--x>b<!--y>c", "<!-- a --> <!--b>", "<!--", "<!-->", "x<!--->y<!--z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		out := closeComments(src)
		i, j := 0, 0
		for i < len(src) && j < len(out) {
			switch {
			case src[i] == out[j]:
				i, j = i+1, j+1
			case src[i] == '>' && strings.HasPrefix(out[j:], "--"):
				j += 2
			default:
				t.Fatalf("closeComments(%q) = %q: changed more than it added", src, out)
			}
		}
		if i != len(src) || j != len(out) {
			t.Fatalf("closeComments(%q) = %q: not src with \"--\" added", src, out)
		}
		if again := closeComments(out); again != out {
			t.Fatalf("closeComments(%q) = %q, and again %q", src, out, again)
		}
	})
}

// openSelfClosing does what HTML.pm's s/<(\w+)\s*\/>/<$1>/gi does.
func TestOpenSelfClosing(t *testing.T) {
	perl := regexp.MustCompile(`(?i)<(\w+)\s*/>`)
	for _, s := range []string{
		"", "plain", "<br/>", "<BR />", "a<br\t\n/>b<img/><p>", "<a<b/>", "< br/>", "<br/ >",
		"<x_1   />tail", "/>", "<", "<abc", "<abc/", "<a href='/'/>", "<br/><br/>",
		"<br/>/>", "<<br/>", "x<b/><i />y</b>", "<a/<b/>", "< a/>", "<a\v/>", "a/>b<c/>",
	} {
		if got, want := openSelfClosing(s), perl.ReplaceAllString(s, "<$1>"); got != want {
			t.Errorf("openSelfClosing(%q) = %q, want %q", s, got, want)
		}
	}
}

// openSelfClosing is HTML.pm's s/<(\w+)\s*\/>/<$1>/gi on any text.
func FuzzOpenSelfClosing(f *testing.F) {
	f.Add("a<br/>b<img />c</x/>")
	f.Add("<<a/>/> <b\t\n/>")
	perl := regexp.MustCompile(`(?i)<(\w+)[\t\n\f\r ]*/>`)
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := openSelfClosing(s), perl.ReplaceAllString(s, "<$1>"); got != want {
			t.Errorf("openSelfClosing(%q) = %q, want %q", s, got, want)
		}
	})
}
