package scan

import (
	"strings"
	"testing"
)

// Each row's want is what SpamAssassin's own HTML.pm target_uri gives for the
// same base and reference (perl -MMail::SpamAssassin::HTML), quirks and all:
// http:g under an http base is relative, //h gets http: only for www. hosts,
// and a path of "0" is false to Perl.
func TestResolveLink(t *testing.T) {
	for _, c := range []struct{ base, ref, want string }{
		{"", "rel/a.html", "rel/a.html"},
		{"", "../x/./y", "/x/y"},
		{"", "//www.h.example/p", "http://www.h.example/p"},
		{"", "//ftp3.h.example/p", "ftp://ftp3.h.example/p"},
		{"", "//h.example/p", "//h.example/p"},
		{"", "0", ""},
		{"", "a/b/../../../c", "/c"},
		{"", "/./a/.", "/a/"},
		{"", "javascript:void(0)", "javascript:void(0)"},
		{"http://b.example/d/e.html", "g", "http://b.example/d/g"},
		{"http://b.example/d/e.html", "./g", "http://b.example/d/g"},
		{"http://b.example/d/e.html", "g/", "http://b.example/d/g/"},
		{"http://b.example/d/e.html", "/g", "http://b.example/g"},
		{"http://b.example/d/e.html", "//g", "http://g"},
		{"http://b.example/d/e.html", "?y", "http://b.example/d/e.html?y"},
		{"http://b.example/d/e.html", "#s", "http://b.example/d/e.html#s"},
		{"http://b.example/d/e.html", "", "http://b.example/d/e.html"},
		{"http://b.example/d/e.html?q", "#s", "http://b.example/d/e.html?q#s"},
		{"http://b.example/d/", "../../../g", "http://b.example/g"},
		{"http://b.example/d/", "http:g", "http://b.example/d/g"},
		{"http://b.example/d/", "https:g", "https:g"},
		{"http://b.example", "g", "http://b.example/g"},
		{"http://b.example/d/", "g;x=1/../y", "http://b.example/d/y"},
		{"http://b.example/d/", ".", "http://b.example/d/"},
		{"http://b.example/d/", "..", "http://b.example/"},
		{"http://b.example/d/", "HTTP:g", "HTTP:g"},
		{"ftp://f.example/", "www.x.example/p", "ftp://f.example/www.x.example/p"},
	} {
		if got := ResolveLink(c.base, c.ref); got != c.want {
			t.Errorf("ResolveLink(%q, %q) = %q, want %q", c.base, c.ref, got, c.want)
		}
	}
}

// A <base href> resolves the links after it, not those before; its file name
// is dropped; a base that is not absolute http, https or ftp is ignored, as
// browsers ignore it; data:, mailto: and the like are never resolved.
func TestRenderHTMLLinksBase(t *testing.T) {
	src := `<a href="before.html">b</a>` +
		`<base href="http://spam.example/dir/index.html">` +
		`<a href="go.php?id=1">g</a><img src="../i/x.gif"><a href="mailto:jo@x.example">m</a>` +
		`<base href="relative/">` +
		`<form action="post.cgi"></form>` +
		`<base href="HTTPS://other.example/x">` +
		`<area href="/top">`
	_, links := RenderHTMLLinks(src, true)
	var got []string
	for _, l := range links {
		got = append(got, l.Tag+" "+l.Attr+" "+l.URI+" -> "+l.Target)
	}
	want := []string{
		"a href before.html -> before.html",
		"base href http://spam.example/dir/index.html -> http://spam.example/dir/index.html",
		"a href go.php?id=1 -> http://spam.example/dir/go.php?id=1",
		"img src ../i/x.gif -> http://spam.example/i/x.gif",
		"a href mailto:jo@x.example -> mailto:jo@x.example",
		"base href relative/ -> http://spam.example/dir/relative/",
		"form action post.cgi -> http://spam.example/dir/post.cgi",
		"base href HTTPS://other.example/x -> HTTPS://other.example/x",
		"area href /top -> HTTPS://other.example/top",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("links\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// Any base and reference resolve without a panic, and a path's dot segments
// leave no "/../" behind.
func FuzzResolveLink(f *testing.F) {
	f.Add("http://b.example/d/e.html?q", "../../g/./h?x#y")
	f.Add("", "0")
	f.Add("ftp:", "//")
	f.Add("http://b.example", "/./../.\n")
	f.Fuzz(func(t *testing.T, base, ref string) {
		got := ResolveLink(base, ref)
		r := parseURIParts(ref)
		if r.hasScheme || r.hasAuthority || r.path == "" || strings.ContainsAny(base+ref, "\n") {
			return // a path not resolved here, or Perl's $ before a newline
		}
		if p := parseURIParts(got).path; strings.Contains(p+"/", "/../") {
			t.Errorf("ResolveLink(%q, %q) = %q keeps a dot segment", base, ref, got)
		}
	})
}
