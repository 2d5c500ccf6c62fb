package rules

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unsafe"

	"github.com/postern/postern/internal/corpus"

	"github.com/postern/postern/filter"
	"github.com/postern/postern/scan"
)

// Received lines as common MTAs write them (made up for the test), and the relay
// SpamAssassin's parser makes of each (Received.pm's as_string).
func TestParseReceived(t *testing.T) {
	tests := []struct {
		line  string
		state rcvdState
		want  string
	}{
		{"from mail.example.org (mail.example.org [192.0.2.10]) by mx.example.net (Postfix) with ESMTP id 4AB12C0D3 for <a@example.net>; Mon, 1 Jun 2026 10:00:00 +0000 (UTC)",
			rcvdParsed, "[ ip=192.0.2.10 rdns=mail.example.org helo=mail.example.org by=mx.example.net ident= envfrom= intl=0 id=4AB12C0D3 auth= msa=0 ]"},
		{"from unknown (HELO spammer.example) (198.51.100.7) by mx.example.net with SMTP; 1 Jun 2026 10:00:00 -0000",
			rcvdParsed, "[ ip=198.51.100.7 rdns= helo=spammer.example by=mx.example.net ident= envfrom= intl=0 id= auth= msa=0 ]"},
		{"from pc1 ([203.0.113.5]) by relay.example.com (8.12.5/8.12.5) with ESMTP id g6MNnRhY075986; Mon, 22 Jul 2002 18:49:28 -0500",
			rcvdParsed, "[ ip=203.0.113.5 rdns= helo=pc1 by=relay.example.com ident= envfrom= intl=0 id=g6MNnRhY075986 auth= msa=0 ]"},
		{"from client.example.com ([198.51.100.20] helo=laptop) by smtp.example.com with esmtpa (Exim 4.96) (envelope-from <a@example.com>) id 1q2w3e-000abc-Zz; Mon, 01 Jun 2026 10:00:00 +0000",
			rcvdParsed, "[ ip=198.51.100.20 rdns=client.example.com helo=laptop by=smtp.example.com ident= envfrom=a@example.com intl=0 id=1q2w3e-000abc-Zz auth=esmtpa msa=0 ]"},
		{"from localhost (localhost [127.0.0.1]) by mx.example.net (Postfix) with ESMTP id 1234567; Mon, 1 Jun 2026 10:00:00 +0000",
			rcvdParsed, "[ ip=127.0.0.1 rdns=localhost helo=localhost by=mx.example.net ident= envfrom= intl=0 id=1234567 auth= msa=0 ]"},
		{"(qmail 8371 invoked by uid 1111); 26 Jul 2002 06:04:46 -0000", rcvdSkip, ""},
		{"from phobos [127.0.0.1] by localhost with IMAP (fetchmail-5.9.0) for jm@localhost (single-drop)", rcvdFetcher, ""},
		{"by mx.example.net with LMTP; Mon, 1 Jun 2026 10:00:00 +0000", rcvdSkip, ""},
		{"from garbled beyond recognition", rcvdUnparseable, ""},
	}
	for _, tt := range tests {
		r, state := parseReceived(tt.line)
		if state != tt.state {
			t.Errorf("%s:\nstate %d, want %d", tt.line, state, tt.state)
			continue
		}
		if state == rcvdParsed && r.String() != tt.want {
			t.Errorf("%s:\n got %s\nwant %s", tt.line, r, tt.want)
		}
	}
}

// TestRelaysTrust: relays on private addresses are trusted until the first public
// one; the milter's client, when given and not already recorded, is the first
// untrusted relay.
func TestRelaysTrust(t *testing.T) {
	raw := "Received: from web (web.internal [10.0.0.5]) by mx.example.net (Postfix) with ESMTP id A1; Mon, 1 Jun 2026 10:00:00 +0000\r\n" +
		"Received: from sender.example.org (sender.example.org [192.0.2.10]) by web.internal (Postfix) with ESMTP id B2; Mon, 1 Jun 2026 09:59:00 +0000\r\n" +
		"Subject: x\r\n\r\nbody\r\n"
	relaysOf := func(env *filter.Envelope) *relays {
		m, _ := scan.Parse(bytes.NewReader([]byte(raw)))
		return newTarget(&filter.Message{Parsed: m, Env: env}, map[Kind]bool{}, nil).relays()
	}
	r := relaysOf(&filter.Envelope{})
	if len(r.trusted) != 1 || r.trusted[0].ip != "10.0.0.5" || len(r.untrusted) != 1 || r.untrusted[0].ip != "192.0.2.10" {
		t.Errorf("trusted %v, untrusted %v", r.trusted, r.untrusted)
	}
	r = relaysOf(&filter.Envelope{ClientAddr: "198.51.100.9", ClientName: "unknown", Helo: "friend", MailFrom: "<s@example.org>"})
	if len(r.untrusted) != 3 || r.untrusted[0].ip != "198.51.100.9" || !r.untrusted[0].noReverseDNS || r.untrusted[0].helo != "friend" ||
		r.untrusted[1].ip != "10.0.0.5" || r.untrusted[2].ip != "192.0.2.10" {
		t.Errorf("with the milter's client: untrusted %v", r.untrusted)
	}
	// The top line records the client: no relay is added for it, and the top
	// line's parse (made to compare) is the chain's first.
	r = relaysOf(&filter.Envelope{ClientAddr: "10.0.0.5", ClientName: "web.internal", Helo: "web"})
	if len(r.trusted) != 1 || r.trusted[0].ip != "10.0.0.5" || len(r.untrusted) != 1 || r.untrusted[0].ip != "192.0.2.10" {
		t.Errorf("the client on the top line: trusted %v, untrusted %v", r.trusted, r.untrusted)
	}
}

// An originating_ip_headers field makes the last relay only when it holds an
// address as IP_ADDRESS reads one (SpamAssassin's Received.pm).
func TestOriginatingIP(t *testing.T) {
	for v, want := range map[string]string{
		"27.25.80.98":           "27.25.80.98",
		"[203.0.113.7]":         "203.0.113.7",
		"27.025.80.798":         "",
		"300.1.1.1":             "",
		"2001:db8::1":           "2001:db8::1",
		"unknown, 192.0.2.44 x": "192.0.2.44",
	} {
		raw := "Received: from sender.example.org (sender.example.org [192.0.2.10]) by mx.example.net (Postfix) with ESMTP id B2; Mon, 1 Jun 2026 09:59:00 +0000\r\n" +
			"X-Originating-IP: " + v + "\r\nSubject: x\r\n\r\nbody\r\n"
		m, _ := scan.Parse(bytes.NewReader([]byte(raw)))
		r := newTarget(&filter.Message{Parsed: m, Env: &filter.Envelope{}}, map[Kind]bool{}, nil).relays()
		got := ""
		if all := append(r.trusted, r.untrusted...); len(all) == 2 {
			got = all[1].ip
		}
		if got != want {
			t.Errorf("X-Originating-IP: %s: relay %q, want %q (trusted %v, untrusted %v)", v, got, want, r.trusted, r.untrusted)
		}
	}
}

// corpusReceived returns the Received lines of the corpus's first 200 messages of
// each kind.
func corpusReceived(tb testing.TB) []string {
	var lines []string
	eachFirstMessage(200, func(raw []byte) {
		if m, err := scan.Parse(bytes.NewReader(raw)); err == nil {
			lines = append(lines, m.Header.Values("Received")...)
		}
	})
	if len(lines) == 0 {
		tb.Skip("no corpus: run ../shared/corpus/get-corpus.sh")
	}
	return lines
}

// eachFirstMessage gives visit the first n corpus messages of each kind (ham,
// spam, phishing), as a filter is given them (readCorpus).
func eachFirstMessage(n int, visit func(raw []byte)) {
	for _, sub := range []string{"spamassassin/ham", "spamassassin/spam", "phishing"} {
		dir := filepath.Join(corpus.Dir(), sub)
		entries, _ := os.ReadDir(dir)
		for _, e := range entries[:min(n, len(entries))] {
			if raw, err := readCorpus(filepath.Join(dir, e.Name())); err == nil {
				visit(raw)
			}
		}
	}
}

// BenchmarkParseReceived parses the corpus's Received lines in turn (docs/rules.md,
// "Speed"; off: the same without the literal prefilter).
func BenchmarkParseReceived(b *testing.B) {
	lines := corpusReceived(b)
	for _, off := range []bool{false, true} {
		b.Run(map[bool]string{false: "prefilter", true: "off"}[off], func(b *testing.B) {
			quickNoPrefilter = off
			defer func() { quickNoPrefilter = false }()
			for i := 0; i < b.N; i++ {
				parseReceived(lines[i%len(lines)])
			}
		})
	}
}

// The Received parser's literal prefilter never changes what a line parses to,
// on every Received line of the corpus's first messages.
func TestReceivedPrefilterAgrees(t *testing.T) {
	lines := corpusReceived(t)
	for _, l := range append(lines, "from x by y; "+strings.Repeat("z", 300)+" Mon, 1 Jun 2026 10:00:00 +0000",
		"from x by y;"+strings.Repeat(" ", 200)+"1 Jun 2026 10:00:00 +0000") {
		if got, want := trimTrailingDate(l), rxTrailingDate.ReplaceAllString(l, ""); got != want {
			t.Errorf("%q: date trimmed to %q, the regexp makes %q", l, got, want)
		}
		r, st := parseReceived(l)
		quickNoPrefilter = true
		want, wantSt := parseReceived(l)
		quickNoPrefilter = false
		if r != want || st != wantSt {
			t.Errorf("%q:\nwith prefilter %v %d\nwithout       %v %d", l, r, st, want, wantSt)
		}
	}
	t.Logf("%d Received lines", len(lines))
}

func TestIndexFold(t *testing.T) {
	for _, c := range []struct {
		s, lower string
		want     int
	}{
		{"from X BY y", "by", 7}, {"abc", "abcd", -1}, {"@x", "`x", -1}, {"", "", 0}, {"xWITH HTTP", "with http", 1},
	} {
		if got := indexFold(c.s, c.lower); got != c.want {
			t.Errorf("indexFold(%q, %q) = %d, want %d", c.s, c.lower, got, c.want)
		}
	}
	// Against strings.Index of the lower-cased text (ASCII texts: lower-casing
	// keeps their length), on random texts and needles.
	texts := randomTexts(4, []string{"a", "A", "b", "B", "ab", "Ab", "x", " ", "@", "`"}, 400, 30)
	needles := randomTexts(5, []string{"a", "b", "x", "@", "`", " "}, 40, 4)
	for _, s := range texts {
		for _, n := range needles {
			if got, want := indexFold(s, n), strings.Index(strings.ToLower(s), n); got != want {
				t.Fatalf("indexFold(%q, %q) = %d, want %d", s, n, got, want)
			}
		}
	}
}

// ALL-TRUSTED, ALL-INTERNAL, ALL-UNTRUSTED and ALL-EXTERNAL split the header at the
// first untrusted relay's Received line, which both sides hold, as SpamAssassin's do.
func TestHeadersByTrust(t *testing.T) {
	r1 := "Received: from a.example ([10.0.0.5]) by mx.example; Fri, 19 Apr 2002 01:23:08 +0100\n"
	r2 := "Received: from b.example (b.example [192.0.2.7]) by a.example; Fri, 19 Apr 2002 01:23:07 +0100\n"
	r3 := "Received: from c.example (c.example [198.51.100.9]) by b.example; Fri, 19 Apr 2002 01:23:06 +0100\n"
	tg := newTarget(msgOf(t, r1+"X-Between: 1\n"+r2+"X-After: 2\n"+r3+"Subject: s\n\nbody\n"), nil, nil)
	if n := len(tg.relays().trusted); n != 1 {
		t.Fatalf("%d trusted relays, want 1 (the private address)", n)
	}
	untrusted := r2 + "X-After: 2\n" + r3 + "Subject: s\n"
	trusted := r1 + "X-Between: 1\n" + r2
	for field, want := range map[string]string{"ALL-EXTERNAL": untrusted, "ALL-UNTRUSTED": untrusted,
		"ALL-TRUSTED": trusted, "ALL-INTERNAL": trusted} {
		if got := tg.headersByTrust(field); got != want {
			t.Errorf("%s:\n got %q\nwant %q", field, got, want)
		}
	}
}

// A fetch marker empties the trusted relays, not the count of Received lines read
// while trusting: the local delivery and the fetch stay out of ALL-EXTERNAL, as in
// SpamAssassin (DOS_OE_TO_MX tests that it holds one Received line).
func TestHeadersByTrustAfterFetch(t *testing.T) {
	r1 := "Received: from localhost (localhost [127.0.0.1]) by h.example (Postfix) with ESMTP id 23E0D44119 for <jm@localhost>; Tue,  6 Aug 2002 05:53:51 -0400\n"
	r2 := "Received: from mail.example.net [193.120.211.219] by localhost with POP3 (fetchmail-5.9.0) for jm@localhost (single-drop); Tue, 06 Aug 2002 10:53:51 +0100\n"
	r3 := "Received: from sender.example (sender.example [148.235.178.242]) by example.net (8.9.3/8.9.3) with SMTP id HAA07338; Sat, 3 Aug 2002 07:56:15 +0100\n"
	tg := newTarget(msgOf(t, r1+r2+r3+"Subject: s\n\nbody\n"), nil, nil)
	if got, want := tg.headersByTrust("ALL-EXTERNAL"), r3+"Subject: s\n"; got != want {
		t.Errorf("ALL-EXTERNAL:\n got %q\nwant %q", got, want)
	}
}

// rxTrailingDate is the date a Received line ends with, as SpamAssassin's
// Received parser removes it; trimTrailingDate reads it by hand.
var rxTrailingDate = regexp.MustCompile(`[\s;]+(?:(?:Mon|T(?:ue|hu)|Wed|Fri|S(?:at|un)), )?\d+ (?:J(?:an|u[nl])|Feb|Ma[ry]|A(?:pr|ug)|Sep|Oct|Nov|Dec) \d+ \d+:\d+(?::\d+)? \S+$`)

// FuzzTrimTrailingDate holds the Received line's date, read from the end, to the
// regexp it stands for (go test ./rules -fuzz TrimTrailingDate).
func FuzzTrimTrailingDate(f *testing.F) {
	for _, s := range []string{
		"from x by y; Mon, 1 Jun 2026 10:00:00 +0000",
		"from x by y;\t 1 Jun 2026 10:00 GMT",
		"by y; xMon, 1 Jun 2026 10:00:00 +0000",
		"by y; Mon, 1 Jun 2026 10:00:00 +0000 (UTC)",
		"by y;Tue, 12 Dec 99 1:2:3 z",
		"by y 1:2:3 1 Jun 2026 1:2 z",
		"; , 1 Jan 1 1:1 x",
		" 1 Jan 1 1:1:1:1 x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := trimTrailingDate(s), rxTrailingDate.ReplaceAllString(s, ""); got != want {
			t.Errorf("%q: date trimmed to %q, the regexp makes %q", s, got, want)
		}
	})
}

// TestJoinFields holds joinFields to strings.Join(strings.Fields(s), " ") on every
// string of up to four pieces, white space of every kind among them.
func TestJoinFields(t *testing.T) {
	pieces := []string{"", " ", "  ", "\t", "\r\n ", "\v", "a", "bc", "é", "\u00a0", "\u0085", "\u2003", "\xff", "\u00a0x"}
	var walk func(s string, depth int)
	walk = func(s string, depth int) {
		if want := strings.Join(strings.Fields(s), " "); joinFields(s) != want {
			t.Errorf("joinFields(%q) = %q, want %q", s, joinFields(s), want)
		}
		if depth < 4 {
			for _, p := range pieces {
				walk(s+p, depth+1)
			}
		}
	}
	walk("", 0)
	if s := "from a by b"; unsafe.StringData(joinFields(s)) != unsafe.StringData(s) {
		t.Error("a collapsed string was copied")
	}
}

// The regexps receivedBy and receivedID read by hand (SpamAssassin's, in
// Received.pm's parse).
var (
	rxBy = regexp.MustCompile(` by (\S+)(?:[^-A-Za-z0-9;.]|$)`)
	rxID = regexp.MustCompile(` id <?([^\s<>;]{3,})`)
)

// checkByID holds receivedBy and receivedID to their regexps on s.
func checkByID(t *testing.T, s string) {
	t.Helper()
	for _, c := range []struct {
		name string
		rx   *regexp.Regexp
		read func(string) (string, bool)
	}{{"by", rxBy, receivedBy}, {"id", rxID, receivedID}} {
		got, ok := c.read(s)
		m := c.rx.FindStringSubmatch(s)
		if ok != (m != nil) || ok && got != m[1] {
			t.Errorf("%q: %s %q %v, the regexp %q", s, c.name, got, ok, m)
		}
	}
}

func TestReceivedByID(t *testing.T) {
	for _, s := range []string{
		"from a by mx.example.com with ESMTP id 1A2B3C; Mon, 1 Jun 2026",
		"from a by  by x", " by ", " by", "x by y", " by y", " by\ty", " by y;z", " by y.z- w",
		" id <abc@d> x", " id <ab> id abcd", " id <<abc", " id ab", " id abc", " id a;bcd", " id é\xffx",
		" id  id  id xyz", " id éé", " id <é\xff", " id <", " id >abc", "id abc", " ID abc", " id\tabc", " id abc\fdef",
	} {
		checkByID(t, s)
	}
	lines := corpusReceived(t)
	for _, l := range lines {
		checkByID(t, l)
		checkByID(t, joinFields(l))
	}
	t.Logf("%d Received lines", len(lines))
}

func FuzzReceivedByID(f *testing.F) {
	for _, s := range []string{" by x", " id <abc>", "from a by b id cd; x", " by  by\fz", " id é\xffx"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { checkByID(t, s) })
}
