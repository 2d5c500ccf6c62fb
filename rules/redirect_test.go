package rules

import (
	"slices"
	"strings"
	"testing"
)

// Redirector patterns of SpamAssassin's stock rules (20_uri_tests.cf,
// 72_active.cf).
const stockRedirectors = `
redirector_pattern m'^http.*?/redirect\.php\?.*(?<=[?&])goto=(.*?)(?:$|[&\#])'i
redirector_pattern m'/(?:index.php)?\?.*(?<=[?&])URL=(.*?)(?:$|[&\#])'i
redirector_pattern m'^https?:/*(?:\w+\.)?google(?:\.\w{2,3}){1,2}/url\?.*?(?<=[?&])q=(.*?)(?:$|[&\#])'i
redirector_pattern m'^https?:/*(?:\w+\.)?google(?:\.\w{2,3}){1,2}/search\?.*?(?<=[?&])q=[^&]*?(?<=%20|..[=+\s])(?:site|inurl):(.*?)(?:$|%20|[\s+&\#])'i
redirector_pattern m'^https?:/*(?:\w+\.)?google(?:\.\w{2,3}){1,2}/translate\?.*?(?<=[?&])u=(.*?)(?:$|[&\#])'i
`

// TestRedirectorPattern: the targets a set's redirector_pattern lines find in
// links are links the uri rules read, with their canonical forms. The hits
// and the list are spamassassin -L -t's (--cf with these rules; -D uri) on the
// message, where the stock rules hold the same patterns.
func TestRedirectorPattern(t *testing.T) {
	s := mustLoadRules(t, map[string]string{"r.cf": stockRedirectors + `
uri T_A m{^http://evil-site\.com\.br/go/login\.php}
uri T_B m{^http://other-site\.org/p}
uri T_C m{^http://third-site\.net/x}
uri T_D /^evil-site\.com\.br/
uri T_E m{^http://fourth-site\.org}
uri T_F m{^http://fifth\.example\.net}
uri T_G m{^http://sixth}
`})
	m := msgOf(t, "From: a@example.com\nTo: b@example.com\nSubject: t\nMessage-ID: <x@example.com>\n\n"+
		"https://translate.google.com/translate?sl=auto&tl=en&u=evil-site.com.br/go/login.php?click=1 and\n"+
		"http://x.example.com/redirect.php?a=1&goto=other-site.org/p and\n"+
		"https://www.google.com/url?q=third-site.net/x&sa=D and\n"+
		"http://www.google.com/search?q=gimli+site:fourth-site.org and http://y.example.com/index.php?URL=fifth.example.net\n")
	if got, want := strings.Join(hitNames(t, s, m), " "), "T_A T_B T_C T_D T_E T_F"; got != want {
		t.Errorf("hits %q, want %q", got, want)
	}
	got := slices.Clone(s.URIs(m.Parsed))
	slices.Sort(got)
	want := []string{
		"evil-site.com.br/go/login.php?click=1", "fifth.example.net", "fourth-site.org",
		"http://evil-site.com.br/go/login.php?click=1", "http://fifth.example.net", "http://fourth-site.org",
		"http://other-site.org/p", "http://third-site.net/x",
		"http://www.google.com/search?q=gimli+site:fourth-site.org",
		"http://x.example.com/redirect.php?a=1&goto=other-site.org/p",
		"http://y.example.com/index.php?URL=fifth.example.net",
		"https://translate.google.com/translate?sl=auto&tl=en&u=evil-site.com.br/go/login.php?click=1",
		"https://www.google.com/url?q=third-site.net/x&sa=D",
		"other-site.org/p", "third-site.net/x",
	}
	if !slices.Equal(got, want) {
		t.Errorf("links\n got %q\nwant %q", got, want)
	}
	if got, want := s.MessageURIs(m), s.URIs(m.Parsed); !slices.Equal(got, want) {
		t.Errorf("MessageURIs %q, URIs %q", got, want)
	}
	// Without the lines, none of the targets without a scheme is a link.
	plain := mustLoadRules(t, map[string]string{"r.cf": "uri T_A m{^http://evil-site\\.com\\.br/}\n"})
	if hits := hitNames(t, plain, msgOf(t, "Subject: t\n\nhttps://translate.google.com/translate?u=evil-site.com.br/x\n")); len(hits) != 0 {
		t.Errorf("no redirectors: hits %q", hits)
	}
}

// TestRedirectorPatternProblems: a redirector_pattern that is no regex is an
// error at its file and line (a reload keeps the old set).
func TestRedirectorPatternProblems(t *testing.T) {
	_, problems := Load(writeRules(t, map[string]string{"r.cf": "# x\nredirector_pattern m'(unclosed'\nredirector_pattern m'/r\\?u=(.*)'\n"}))
	if len(problems) != 1 || problems[0].Line != 2 || problems[0].Warning || !strings.Contains(problems[0].Msg, "redirector_pattern") {
		t.Errorf("problems %v", problems)
	}
}

// TestDefaultRedirectors: the built-in rules follow Google's translation proxy
// and its url?q= redirect, where SpamAssassin's stock rules are not installed.
func TestDefaultRedirectors(t *testing.T) {
	s, problems := Load(DefaultPath)
	if errs := Errors(problems); len(errs) > 0 {
		t.Fatal(errs)
	}
	m := msgOf(t, "Subject: t\n\nhttps://translate.google.com/translate?sl=auto&tl=en&hl=en&u=dropsys.example.com.br/go/login.php?click=mix\n"+
		"https://www.google.co.uk/url?sa=t&q=other.example.net/x%26y&usg=z\nhttps://www.google.com/search?q=site.example.org\n")
	got := s.MessageURIs(m)
	for _, want := range []string{"http://dropsys.example.com.br/go/login.php?click=mix", "http://other.example.net/x"} {
		if !slices.Contains(got, want) {
			t.Errorf("no %s in %q", want, got)
		}
	}
	if slices.ContainsFunc(got, func(u string) bool { return strings.Contains(u, "//site.example.org") }) {
		t.Errorf("a search is no redirect: %q", got)
	}
}

// TestURISkipDomains: uridnsbl_skip_domain names what the URI block lists do
// not look up, in any case; clear_uridnsbl_skip_domain drops the names it
// lists, or all of them (URIDNSBL.pm's two directives).
func TestURISkipDomains(t *testing.T) {
	s := mustLoadRules(t, map[string]string{"r.cf": "uridnsbl_skip_domain Example.COM b.example\n" +
		"uridnsbl_skip_domain c.example d.example\nclear_uridnsbl_skip_domain d.example\n"})
	for name, want := range map[string]bool{"example.com": true, "EXAMPLE.com": true, "b.example": true, "c.example": true, "d.example": false, "www.example.com": false} {
		if got := s.SkipsURIDomain(name); got != want {
			t.Errorf("%s: %v, want %v", name, got, want)
		}
	}
	cleared := mustLoadRules(t, map[string]string{"a.cf": "uridnsbl_skip_domain example.com\n", "b.cf": "clear_uridnsbl_skip_domain\n"})
	if cleared.SkipsURIDomain("example.com") {
		t.Error("cleared: example.com still skipped")
	}
	if s, problems := Load(writeRules(t, map[string]string{"r.cf": "uridnsbl_skip_domain x.example\n"})); len(problems) > 0 || s.Ignored["uridnsbl_skip_domain"] != 0 {
		t.Errorf("problems %v, ignored %v", problems, s.Ignored)
	}
}
