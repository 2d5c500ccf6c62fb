package scan

import "testing"

func TestRenderHTML(t *testing.T) {
	for src, want := range map[string]string{
		"<p>Hello &amp; welcome</p>": "\nHello & welcome\n",
		"a<br>b":                     "a\nb",
		"<style>p{}</style><script>x()</script>seen":       "seen",
		"one\n\n  two\tthree\n":                            "one two three ",
		"<html><body>text</body></html>\n\ntracker123\n":   "text tracker123 ",
		"<pre>a\n\n  b</pre> c\n\nd":                       "\na\n\n  b\n c d",
		"<table><tr><td>x</td><td>y</td></tr></table>tail": "\n\n x y\n\ntail",
	} {
		if got := RenderHTML(src); got != want {
			t.Errorf("%q: %q, want %q", src, got, want)
		}
	}
}
