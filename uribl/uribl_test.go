package uribl_test

import (
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/postern/postern/filter"
	"github.com/postern/postern/internal/testutil"
	"github.com/postern/postern/resolver"
	"github.com/postern/postern/rules"
	"github.com/postern/postern/scan"
	"github.com/postern/postern/uribl"
)

func TestDomains(t *testing.T) {
	got := uribl.Domains([]string{
		"http://www.shop.example.co.uk/x?y", "https://Evil.Example.com/a", "http://www.example.com",
		"http://192.0.2.1/", "mailto:me@mailer.example.org", "http://localhost/",
		"index.html", "http://index.html", "http://p\u0430ypal.com/signin", "http://bad\xff.com/",
		"https://login-verify.blogspot.com/", "http://www.B\xfcCHER.de/", "domainkeys:mail.sender.example.net",
	}, 0, nil)
	// evil.example.com and www.example.com are one registered domain, example.com;
	// addresses, mail addresses, single-label hosts and names in no known
	// top-level domain (a relative link's made-up host) are left out; a name in
	// another script is looked up in its ASCII form; a site under a suffix of
	// the public suffix list's private part (blogspot.com) is a domain; Latin-1
	// letters are read as Latin-1, as SpamAssassin's idn_to_ascii reads them;
	// a DKIM signing domain is looked up too, as URIDNSBL looks it up.
	if want := "example.co.uk example.com xn--pypal-4ve.com login-verify.blogspot.com xn--bcher-kva.de example.net"; strings.Join(got, " ") != want {
		t.Fatalf("Domains = %q, want %q", got, want)
	}
	if got := uribl.Domains([]string{"http://a.example.com/", "http://b.example.net/", "http://c.example.org/"}, 2, nil); len(got) != 2 {
		t.Fatalf("max 2: %q", got)
	}
	// Names skipped (uridnsbl_skip_domain: a registered domain, whose hosts go
	// with it, or a host) are passed by before the count: they take no other
	// domain's place.
	skip := func(n string) bool { return n == "google.com" || n == "p.tk" || n == "www.example.org" }
	got = uribl.Domains([]string{"https://www.google.com/url?q=x", "http://q.p.tk/", "http://www.example.org/", "http://a.example.com/", "http://mail.example.org/", "http://b.example.net/"}, 2, skip)
	if want := "example.com example.org"; strings.Join(got, " ") != want {
		t.Fatalf("skipping: %q, want %q", got, want)
	}
	// Hosts are the links' host names, read alike: one each, skipped alike.
	got = uribl.Hosts([]string{"http://www.Example.com/a", "http://www.example.com/b", "http://shop.example.com/", "http://192.0.2.1/", "https://www.google.com/url?q=x", "http://b.example.net/", "http://example.com/"}, 0, skip)
	if want := "www.example.com shop.example.com b.example.net example.com"; strings.Join(got, " ") != want {
		t.Fatalf("Hosts = %q, want %q", got, want)
	}
}

func TestCheck(t *testing.T) {
	srv := testutil.StartDNS(t)
	srv.Add(t,
		"example.net.dbl.test. 60 IN A 127.0.1.2",
		"example.org.dbl.test. 60 IN A 127.255.255.254",
		"example.net.multi.test. 60 IN A 127.0.0.64",
		"example.info.dbl.test. 60 IN A 127.0.1.2",
		"xn--pypal-4ve.com.dbl.test. 60 IN A 127.0.1.2",
		"hacked-site.com.dbl.test. 60 IN A 127.0.1.102",
		"error-site.net.dbl.test. 60 IN A 127.0.1.255",
		"grey-site.org.multi.test. 60 IN A 127.0.0.4",
		"black-site.com.multi.test. 60 IN A 127.0.0.6",
		// Host names and their addresses, and an address list that lists one.
		"www.sbl-hosted.com. 60 IN A 192.0.2.10",
		"www.sbl-hosted.com. 60 IN A 198.51.100.7",
		"sbl-apex.com. 60 IN A 192.0.2.10",
		"clean-hosted.com. 60 IN A 198.51.100.7",
		"lan-hosted.com. 60 IN A 10.0.0.10",
		"10.2.0.192.sbl.test. 60 IN A 127.0.0.2",
		"10.0.0.10.sbl.test. 60 IN A 127.0.0.2",
		// Name servers: two of one domain on one listed address, one
		// elsewhere, one on a private address, and a domain with six, its
		// listed one last in order.
		"ns-spam.com. 60 IN NS NS2.bulkdns.net.",
		"ns-spam.com. 60 IN NS ns1.bulkdns.net.",
		"ns1.bulkdns.net. 60 IN A 192.0.2.53",
		"ns2.bulkdns.net. 60 IN A 192.0.2.53",
		"53.2.0.192.sbl.test. 60 IN A 127.0.0.2",
		"sbl-hosted.com. 60 IN NS ns1.bulkdns.net.",
		"ns-clean.com. 60 IN NS ns.cleandns.org.",
		"ns.cleandns.org. 60 IN A 198.51.100.53",
		"ns-lan.com. 60 IN NS ns.lan-dns.org.",
		"ns-root.com. 60 IN NS .",
		". 60 IN A 192.0.2.53",
		"ns.lan-dns.org. 60 IN A 10.0.0.10",
		"ns-many.com. 60 IN NS a.manydns.net.",
		"ns-many.com. 60 IN NS b.manydns.net.",
		"ns-many.com. 60 IN NS c.manydns.net.",
		"ns-many.com. 60 IN NS d.manydns.net.",
		"ns-many.com. 60 IN NS e.manydns.net.",
		"ns-many.com. 60 IN NS f.manydns.net.",
		"e.manydns.net. 60 IN A 192.0.2.53",
		"d.manydns.net. 60 IN A 198.51.100.53",
	)
	srv.Delay("slow.test", time.Second)
	r, err := resolver.New(srv.Addr, resolver.Options{Timeout: 200 * time.Millisecond, CacheSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	c := &uribl.Check{Resolver: r, MaxDomains: 20, Zones: []uribl.Zone{
		{Name: "dbl.test", Test: "URIBL_DBL_TEST", Score: 2.5}, {Name: "multi.test", Score: 1},
	}}
	// Points by return code: dbl.spamhaus.org's own listings and its
	// compromised sites, multi.uribl.com's bits (2 black, 4 grey).
	byCode := &uribl.Check{Resolver: r, MaxDomains: 20, Zones: []uribl.Zone{
		{Name: "dbl.test", Test: "URIBL_DBL_TEST", Scores: scores(t, map[string]float64{"127.0.1.2-127.0.1.99": 2.5, "127.0.1.102-127.0.1.199": 0.5})},
		{Name: "multi.test", Scores: scores(t, map[string]float64{"2": 1.7, "4": 0.3})},
	}}
	// An address list beside a domain list: the links' hosts resolved.
	byIP := &uribl.Check{Resolver: r, MaxDomains: 20, Zones: []uribl.Zone{
		{Name: "dbl.test", Test: "URIBL_DBL_TEST", Score: 2.5},
		{Name: "sbl.test", Test: "URIBL_SBL_A", Asks: uribl.HostAddresses, Scores: scores(t, map[string]float64{"127.0.0.2": 1.5})},
	}}
	// The same address list asked about the links' domains' name servers
	// too, as another test.
	byNS := &uribl.Check{Resolver: r, MaxDomains: 20, Zones: []uribl.Zone{
		{Name: "sbl.test", Test: "URIBL_SBL_A", Asks: uribl.HostAddresses, Scores: scores(t, map[string]float64{"127.0.0.2": 1.5})},
		{Name: "sbl.test", Asks: uribl.NameServerAddresses, Scores: scores(t, map[string]float64{"127.0.0.2": 1.6})},
	}}
	// A zone of no kind the check knows is asked nothing.
	unknown := &uribl.Check{Resolver: r, MaxDomains: 20, Zones: []uribl.Zone{{Name: "dbl.test", Score: 2.5, Asks: 7}}}
	slow := &uribl.Check{Resolver: r, MaxDomains: 20, Zones: []uribl.Zone{{Name: "slow.test", Score: 5}}}
	// The links of a rule set that names Google Translate as a redirector (as
	// SpamAssassin's stock 72_active.cf does): its target is looked up too.
	cf := filepath.Join(t.TempDir(), "r.cf")
	if err := os.WriteFile(cf, []byte(`redirector_pattern m'^https?:/*(?:\w+\.)?google(?:\.\w{2,3}){1,2}/translate\?.*?(?<=[?&])u=(.*?)(?:$|[&\#])'i`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	set, problems := rules.Load(cf)
	if len(rules.Errors(problems)) > 0 {
		t.Fatal(problems)
	}
	redir := &uribl.Check{Resolver: r, MaxDomains: 20, Zones: c.Zones, URIs: set.MessageURIs}
	tests := []struct {
		name  string
		check *uribl.Check
		body  string
		tests string
		notes int
		score float64 // of all tests together, when not 0
	}{
		{"listed in both", c, "Buy at http://www.example.net/now", "URIBL_DBL_TEST URIBL_MULTI", 0, 0},
		{"not listed", c, "See https://clean.example.com/", "", 0, 0},
		{"query refused is no listing, and is noted", c, "See https://refused.example.org/", "", 1, 0},
		{"no links", c, "Hello.", "", 0, 0},
		{"a zone of no known kind", unknown, "Buy at http://www.example.net/now", "", 0, 0},
		{"timeout adds nothing", slow, "Buy at http://www.example.net/", "", 1, 0},
		{"unlinked name listed", c, "Type spammy.example.info in your browser", "URIBL_DBL_TEST", 0, 0},
		{"name in another script listed", c, "Log in at https://p\u0430ypal.com/", "URIBL_DBL_TEST", 0, 0},
		{"HTML link read against its base", c, html(`<base href="http://www.example.net/"><a href="go.php">here</a>`), "URIBL_DBL_TEST URIBL_MULTI", 0, 0},
		{"a script's string is no link", c, html(`<script>u = "http://www.example.net/"</script>hello`), "", 0, 0},
		{"behind a redirector", redir, "Log in: https://translate.google.com/translate?sl=auto&u=example.info/login.php", "URIBL_DBL_TEST", 0, 0},
		{"behind a redirector the set does not name", c, "Log in: https://translate.google.com/translate?sl=auto&u=example.info/login.php", "", 0, 0},
		{"by code: a spammer's own", byCode, "Buy at http://www.example.net/now", "URIBL_DBL_TEST", 0, 2.5}, // multi's 127.0.0.64: no bit named
		{"by code: a compromised site", byCode, "See http://hacked-site.com/x", "URIBL_DBL_TEST", 0, 0.5},
		{"by code: the highest counts, once", byCode, "http://hacked-site.com/x http://www.example.net/ http://example.info/", "URIBL_DBL_TEST", 0, 2.5},
		{"by code: a code no entry names", byCode, "See http://error-site.net/x", "", 0, 0},
		{"by bit: grey", byCode, "See http://grey-site.org/x", "URIBL_MULTI", 0, 0.3},
		{"by bit: black and grey", byCode, "See http://grey-site.org/ and http://black-site.com/", "URIBL_MULTI", 0, 1.7},
		{"an address list: a host on a listed address", byIP, "See http://www.sbl-hosted.com/offer", "URIBL_SBL_A", 0, 1.5},
		{"an address list: a host that is its registered domain", byIP, "See http://sbl-apex.com/offer", "URIBL_SBL_A", 0, 1.5},
		{"an address list: a host elsewhere", byIP, "See http://clean-hosted.com/", "", 0, 0},
		{"an address list: a private address is not asked", byIP, "See http://lan-hosted.com/", "", 0, 0},
		{"an address list and a domain list", byIP, "http://www.example.net/ and http://www.sbl-hosted.com/", "URIBL_DBL_TEST URIBL_SBL_A", 0, 4},
		{"name servers: on a listed address", byNS, "See http://www.ns-spam.com/offer", "URIBL_SBL_NS", 0, 1.6},
		{"name servers: elsewhere", byNS, "See http://www.ns-clean.com/", "", 0, 0},
		{"name servers: a private address is not asked", byNS, "See http://ns-lan.com/", "", 0, 0},
		{"name servers: four of a domain's, in order", byNS, "See http://ns-many.com/", "", 0, 0},
		{"name servers: the root is none", byNS, "See http://ns-root.com/", "", 0, 0},
		{"name servers: a domain without", byNS, "See http://www.example.net/", "", 0, 0},
		{"name servers and host both listed", byNS, "See http://www.sbl-hosted.com/offer", "URIBL_SBL_A URIBL_SBL_NS", 0, 3.1},
		{"any code: the zone's points", c, "See http://hacked-site.com/x http://grey-site.org/", "URIBL_DBL_TEST URIBL_MULTI", 0, 3.5},
		{"an attached PDF's link", c, pdfMark + "https://www.example.net/login", "URIBL_DBL_TEST URIBL_MULTI", 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ct, body := "text/plain", tc.body
			if h, ok := strings.CutPrefix(body, htmlMark); ok {
				ct, body = "text/html", h
			}
			if link, ok := strings.CutPrefix(body, pdfMark); ok {
				// A document that is one link, under a body with none.
				pdf := base64.StdEncoding.EncodeToString([]byte("%PDF-1.7\n1 0 obj\n<</Type/Annot/Subtype/Link/A<</S/URI/URI(" + link + ")>>>>\nendobj\n"))
				ct, body = "multipart/mixed; boundary=b", "--b\r\nContent-Type: text/plain\r\n\r\nSee the attached.\r\n--b\r\n"+
					"Content-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n"+pdf+"\r\n--b--"
			}
			parsed, err := scan.Parse(strings.NewReader("Subject: x\r\nContent-Type: " + ct + "\r\n\r\n" + body + "\r\n"))
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
			if total := sum(res.Tests); tc.score != 0 && total != tc.score {
				t.Errorf("%v: %v points, want %v", res.Tests, total, tc.score)
			}
			for _, x := range res.Tests {
				// The host named is the body's link, and the listed address.
				host, rest, _ := strings.Cut(strings.TrimPrefix(x.Description, "Contains a link to "), " ")
				if x.Name == "URIBL_SBL_A" && (!strings.Contains(tc.body, "//"+host+"/") || !strings.HasPrefix(rest, "(192.0.2.10), listed in sbl.test")) {
					t.Errorf("description %q names no host and address", x.Description)
				}
				// The link's domain, and the first of its name servers in order.
				if x.Name == "URIBL_SBL_NS" && (!strings.Contains(tc.body, strings.TrimSuffix(host, ",")+"/") ||
					rest != "whose name server ns1.bulkdns.net (192.0.2.53) is listed in sbl.test (127.0.0.2)") {
					t.Errorf("description %q names no domain, name server and address", x.Description)
				}
			}
		})
	}
}

func scores(t *testing.T, table map[string]float64) []resolver.CodeScore {
	t.Helper()
	s, err := resolver.ParseCodeScores(table)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func sum(tests []filter.Test) float64 {
	var s float64
	for _, x := range tests {
		s += x.Score
	}
	return s
}

// html marks a test body as an HTML part's.
func html(body string) string { return htmlMark + body }

const htmlMark = "\x00html:"

// pdfMark marks a test body as a link in an attached PDF.
const pdfMark = "\x00pdf:"

// TestCheckAsksEachAddressOnce: hosts that share an address (a site's
// www.name and its bare name) make one query of the address list, not one a
// host, named with the first of them. The list's most points are not reached,
// so no query is left out for a listing already found.
func TestCheckAsksEachAddressOnce(t *testing.T) {
	srv := testutil.StartDNS(t)
	srv.Add(t,
		"www.sbl-hosted.com. 60 IN A 192.0.2.10",
		"www.sbl-hosted.com. 60 IN A 198.51.100.7",
		"sbl-hosted.com. 60 IN A 192.0.2.10",
		"10.2.0.192.sbl.test. 60 IN A 127.0.0.2",
	)
	r, err := resolver.New(srv.Addr, resolver.Options{Timeout: time.Second}) // no cache: every lookup is a query
	if err != nil {
		t.Fatal(err)
	}
	c := &uribl.Check{Resolver: r, MaxDomains: 20, Zones: []uribl.Zone{
		{Name: "sbl.test", Test: "URIBL_SBL_A", Asks: uribl.HostAddresses, Scores: scores(t, map[string]float64{"127.0.0.2": 1.5, "127.0.0.3": 3})},
	}}
	parsed, err := scan.Parse(strings.NewReader("Subject: x\r\n\r\nSee http://www.sbl-hosted.com/ and http://sbl-hosted.com/x\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	before := srv.Queries()
	res := c.Check(context.Background(), &filter.Message{Parsed: parsed})
	// Two hosts' A records, and each of their two addresses once.
	if n := srv.Queries() - before; n != 4 {
		t.Errorf("%d queries, want 4", n)
	}
	if len(res.Tests) != 1 || res.Tests[0].Description != "Contains a link to www.sbl-hosted.com (192.0.2.10), listed in sbl.test (127.0.0.2)" {
		t.Errorf("tests %+v", res.Tests)
	}
}
