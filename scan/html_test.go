package scan

import "testing"

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
	} {
		if got := RenderHTML(src); got != want {
			t.Errorf("%q: %q, want %q", src, got, want)
		}
	}
}
