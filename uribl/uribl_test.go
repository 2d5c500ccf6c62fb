package uribl_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/postern/postern/filter"
	"github.com/postern/postern/internal/testutil"
	"github.com/postern/postern/resolver"
	"github.com/postern/postern/scan"
	"github.com/postern/postern/uribl"
)

func TestDomains(t *testing.T) {
	got := uribl.Domains([]uribl.Text{
		{Body: `Visit http://www.shop.example.co.uk/x?y, <a href="https://Evil.Example.com/a">here</a>`, HTML: true},
		{Body: `again www.example.com and http://192.0.2.1/ and mail me@mailer.example.org, http://localhost/`},
	}, 0)
	// evil.example.com and www.example.com are one registered domain, example.com;
	// addresses, mail addresses and single-label hosts are left out.
	if want := "example.co.uk example.com"; strings.Join(got, " ") != want {
		t.Fatalf("Domains = %q, want %q", got, want)
	}
	if got := uribl.Domains([]uribl.Text{{Body: "http://a.example/ http://b.example/ http://c.example/"}}, 2); len(got) != 2 {
		t.Fatalf("max 2: %q", got)
	}
	// A name written without a scheme is a link in text a reader sees, not in
	// HTML source (a script's this.name); a name in another script is looked
	// up in its ASCII form.
	for _, c := range []struct {
		text uribl.Text
		want string
	}{
		{uribl.Text{Body: "type cheap-pills.shop in your browser"}, "cheap-pills.shop"},
		{uribl.Text{Body: `<script>if (x) { w = this.name }</script> cheap-pills.shop`, HTML: true}, ""},
		{uribl.Text{Body: "log in at http://p\u0430ypal.com/signin"}, "xn--pypal-4ve.com"},
		{uribl.Text{Body: "http://bad\xff.com/"}, ""},
	} {
		if got := strings.Join(uribl.Domains([]uribl.Text{c.text}, 0), " "); got != c.want {
			t.Errorf("%q: Domains = %q, want %q", c.text.Body, got, c.want)
		}
	}
}

func TestCheck(t *testing.T) {
	srv := testutil.StartDNS(t)
	srv.Add(t,
		"spammy.example.dbl.test. 60 IN A 127.0.1.2",
		"refused.example.dbl.test. 60 IN A 127.255.255.254",
		"spammy.example.multi.test. 60 IN A 127.0.0.64",
		"example.com.dbl.test. 60 IN A 127.0.1.2",
		"xn--pypal-4ve.com.dbl.test. 60 IN A 127.0.1.2",
	)
	srv.Delay("slow.test", time.Second)
	r, err := resolver.New(srv.Addr, resolver.Options{Timeout: 200 * time.Millisecond, CacheSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	c := &uribl.Check{Resolver: r, MaxDomains: 20, Zones: []uribl.Zone{
		{Name: "dbl.test", Test: "URIBL_DBL_TEST", Score: 2.5}, {Name: "multi.test", Score: 1},
	}}
	slow := &uribl.Check{Resolver: r, MaxDomains: 20, Zones: []uribl.Zone{{Name: "slow.test", Score: 5}}}
	tests := []struct {
		name  string
		check *uribl.Check
		body  string
		tests string
		notes int
	}{
		{"listed in both", c, "Buy at http://www.spammy.example/now", "URIBL_DBL_TEST URIBL_MULTI", 0},
		{"not listed", c, "See https://clean.example/", "", 0},
		{"query refused is no listing", c, "See https://refused.example/", "", 0},
		{"no links", c, "Hello.", "", 0},
		{"timeout adds nothing", slow, "Buy at http://spammy.example/", "", 1},
		{"unlinked name listed", c, "Type spammy.example.com in your browser", "URIBL_DBL_TEST", 0},
		{"name in another script listed", c, "Log in at https://p\u0430ypal.com/", "URIBL_DBL_TEST", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			parsed, err := scan.Parse(strings.NewReader("Subject: x\r\nContent-Type: text/plain\r\n\r\n" + tc.body + "\r\n"))
			if err != nil {
				t.Fatal(err)
			}
			res := tc.check.Check(context.Background(), &filter.Message{Parsed: parsed})
			var names []string
			for _, x := range res.Tests {
				names = append(names, x.Name)
			}
			if strings.Join(names, " ") != tc.tests || len(res.Notes) != tc.notes || res.Err != nil {
				t.Fatalf("tests %q notes %q err %v; want %q, %d notes", names, res.Notes, res.Err, tc.tests, tc.notes)
			}
		})
	}
}
