package rules

import (
	"slices"
	"strings"
	"testing"
)

// TestTextAddresses holds the links findURIs lists for addresses written in
// text to SpamAssassin's: each want is what `spamassassin -D uri` listed
// (the cleaned links that named a domain) for a message of that one line.
func TestTextAddresses(t *testing.T) {
	for text, want := range map[string]string{
		// The domain runs on to a delimiter; with junk after it, it is none.
		"one aa@bb-one.com/path two":                                 "",
		"cc@dd-two.com_x and yy@zz-13.com;foo and me@host-32.com:25": "",
		// Punctuation a reader leaves out is trimmed off its end.
		"ee@ff-three.com! and kk@ll-six.com* and mm@nn-eight.com) and jo@x-25.com.": "mailto:ee@ff-three.com mailto:jo@x-25.com mailto:kk@ll-six.com mailto:mm@nn-eight.com",
		// The local part runs back to a delimiter; a mail label is dropped.
		"see:foo@bar-seven.com and Contact:jo@x-7.com":                              "mailto:Contact:jo@x-7.com mailto:see:foo@bar-seven.com",
		"Email:ef@gh-15.com E-MAIL:jo@x-19.com skype:ij@kl-16.com mail:jo@x-38.com": "mailto:ef@gh-15.com mailto:ij@kl-16.com mailto:jo@x-19.com mailto:jo@x-38.com",
		// A known top-level domain is wanted.
		"qq@rr-ten.test or me@host-26.c or me@1.2.3.4": "",
		"qr@st%2Eu-18.com":                       "mailto:qr@st.u-18.com",
		"a/b@cd-20.com":                          "http://a/b@cd-20.com http://www.a.com/b@cd-20.com",
		"x@y-21.com?subject=remove":              "mailto:x@y-21.com mailto:x@y-21.com?subject=remove",
		"me@host-33.com%20 and me@host-34.com&x": "mailto:me@host-33.com mailto:me@host-33.com%20 mailto:me@host-34.com mailto:me@host-34.com&x",
		"[cid:image001.png@01D4986E.E3459640]":   "",
		// Inside a link, an address is the link's.
		"x4.com/a,b@y-4.com": "http://x4.com/a,b@y-4.com",
		// A port is one to five digits: with none, or six, there is no path
		// before the address, and the address stands.
		"x5.com:8080/a,b@y-5.com":   "http://x5.com:8080/a,b@y-5.com",
		"x4.com:/a,b@y-4.com":       "mailto:b@y-4.com",
		"x6.com:123456/a,b@y-6.com": "mailto:b@y-6.com",
		"www.x-15.com/a@b-15.com www2.x-16.com/a@b-16.com ftp.x-17.com/a@b-17.com": "ftp://ftp.x-17.com/a@b-17.com http://www.x-15.com/a@b-15.com http://www2.x-16.com/a@b-16.com",
		"http:jo@x-40.com": "http://jo@x-40.com http:jo@x-40.com",
		// And a mailto: inside an address is the address's.
		"<a href=mailto:e-removes@x-41.com>cancel</a>": "mailto:href=mailto:e-removes@x-41.com",
		"mailto:Me@x-2.com then me@x-2.com":            "mailto:Me@x-2.com mailto:me@x-2.com",
		// A mailto: link ends where an address does, and wants an @ and a
		// domain as one does.
		"mailto:0.00 mailto:jo@x.test mailto:jo%40x-1.com mailto:a@b-2.com,c@d-2.com": "mailto:a@b-2.com mailto:c@d-2.com",
		"mailto:jo@x-3.com?subject=hi MAILTO:jo@x-4.com(x) mailto:jo@x-5.com's":       "MAILTO:jo@x-4.com mailto:jo@x-3.com mailto:jo@x-3.com?subject=hi mailto:jo@x-5.com",
		// No address: a name after the @ is one of its own.
		"ä@host-35.com and @handle-3.com":                   "http://handle-3.com http://host-35.com",
		"C0V-#=D/ET@6SQC and <Q.65A/ET@6SQC,":               "",
		"a@b-one.com@c-two.com or phishing@pot@hotmail.com": "",
	} {
		got := findURIs(text)
		slices.Sort(got)
		if g := strings.Join(got, " "); g != want {
			t.Errorf("%q:\n got %q\nwant %q", text, g, want)
		}
	}
}

// FuzzFindURIs: any text gives links without a panic, each a mailto: with an
// @ or a link with a scheme, and no more than findURIs' bounds.
func FuzzFindURIs(f *testing.F) {
	for _, s := range []string{
		"Email:jo@x.com a/b@c.com x4.com/a,b@y.com <a href=mailto:e@x.com>",
		"@@@ a@ @b .@. %40@%2E :@: www.@ ftp.@x.com/ http:@",
		"ä@host.com x@y.com?s=%41&b=%20 me@host.com%20%20",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		links := findURIs(text)
		if len(links) > 400 {
			t.Fatalf("%d links", len(links))
		}
		for _, u := range links {
			if hasPrefixFold(u, "mailto:") && !strings.Contains(u, "@") {
				t.Fatalf("%q: an address without @", u)
			}
			if !reHasScheme.MatchString(u) {
				t.Fatalf("%q: no scheme", u)
			}
		}
	})
}

// TestTextLinksScanSize: links written in a part's text (its rendering, for
// HTML) are found in its first body_part_scan_size bytes, as SpamAssassin's
// text parser reads the rendered text its body rules read; an HTML tag's link
// counts wherever it is. The hits are spamassassin -L -t's (--cf with these
// rules, then with body_part_scan_size 0) on the message.
func TestTextLinksScanSize(t *testing.T) {
	body := "See http://first-site.com/ now.\n" + strings.Repeat("lorem ipsum dolor sit amet, consectetur adipiscing elit\n", 1100) +
		"Then http://late-site.com/x and late@mail-site.com\n"
	html := "<html><body><p>" + strings.Repeat("filler text here ", 3500) +
		"</p><p>visit www.html-late.com or <a href=\"http://href-late.com/\">here</a></p></body></html>\n"
	m := msgOf(t, "From: a@example.com\nTo: b@example.com\nSubject: t\nMessage-ID: <x@example.com>\nMIME-Version: 1.0\n"+
		"Content-Type: multipart/alternative; boundary=b\n\n--b\nContent-Type: text/plain\n\n"+body+
		"--b\nContent-Type: text/html\n\n"+html+"--b--\n")
	const rules = "uri R_FIRST /first-site/\nuri R_LATE /late-site/\nuri R_MAIL /mail-site/\nuri R_HLATE /html-late/\nuri R_HREF /href-late/\n"
	for _, c := range []struct{ extra, want string }{
		{"", "R_FIRST R_HREF"},
		{"body_part_scan_size 0\n", "R_FIRST R_HLATE R_HREF R_LATE R_MAIL"},
	} {
		s := mustLoadRules(t, map[string]string{"r.cf": rules + c.extra})
		if got := strings.Join(hitNames(t, s, m.Fresh()), " "); got != c.want {
			t.Errorf("%q: hits %q, want %q", c.extra, got, c.want)
		}
	}
}
