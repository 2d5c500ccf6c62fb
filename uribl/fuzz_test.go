package uribl

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzLinkNames: whatever a message's links hold, the names looked up are
// lower-case ASCII, distinct and at most n of each kind, and a host read
// again as a link is itself, under its registered domain.
func FuzzLinkNames(f *testing.F) {
	for _, s := range []string{
		"http://www.shop.example.co.uk/x?y", "https://Evil.Example.com/a", "http://p\u0430ypal.com/signin",
		"http://bad\xff.com/", "https://login-verify.blogspot.com/", "http://www.B\xfcCHER.de/",
		"domainkeys:mail.sender.example.net", "http://[::1]/", "http://192.0.2.1/", "http://a..b.com/",
		"http://xn--pypal-4ve.com/", "http://%41.example.com/", "http://ex ample.com/",
	} {
		f.Add(s, "http://b.example.org/", 2)
	}
	f.Fuzz(func(t *testing.T, a, b string, n int) {
		n %= 30
		domains, hosts := linkNames([]string{a, b, a}, n, nil)
		for _, list := range [][]string{domains, hosts} {
			if n > 0 && len(list) > n {
				t.Fatalf("%d names, at most %d: %q", len(list), n, list)
			}
			seen := map[string]bool{}
			for _, name := range list {
				if seen[name] || name == "" || !utf8.ValidString(name) || strings.ToLower(name) != name ||
					strings.IndexFunc(name, func(r rune) bool { return r >= utf8.RuneSelf }) >= 0 {
					t.Fatalf("name %q of %q", name, list)
				}
				seen[name] = true
			}
		}
		for _, h := range hosts {
			host, d := registered("http://" + h + "/")
			if host != h || d == "" || !strings.HasSuffix(h, d) {
				t.Fatalf("host %q reads again as %q under %q", h, host, d)
			}
		}
	})
}
