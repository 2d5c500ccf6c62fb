package rules

import (
	"bytes"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode"

	"github.com/dlclark/regexp2"
	rx2syntax "github.com/dlclark/regexp2/syntax"

	"github.com/postern/postern/filter"
	"github.com/postern/postern/internal/corpus"
	"github.com/postern/postern/scan"
)

// nativeRegexps is each native matcher's pattern, compiled as ruleRegex does.
func nativeRegexps(tb testing.TB) map[string]*regexp2.Regexp { return regexp2Of(nativeExact) }

// regexp2Of compiles the patterns that choose matchers (a map's keys) as
// ruleRegex does.
func regexp2Of[F any](matchers map[string]F) map[string]*regexp2.Regexp {
	res := map[string]*regexp2.Regexp{}
	for src := range matchers {
		re := regexp2.MustCompile(src, regexp2.None)
		re.MatchTimeout = time.Minute
		res[src] = re
	}
	return res
}

// agree fails when a native matcher and its pattern answer differently for text.
func agree(t *testing.T, res map[string]*regexp2.Regexp, text string) {
	t.Helper()
	r := []rune(text)
	for src, fn := range nativeExact {
		want, err := res[src].MatchRunes(r)
		if err != nil { // (Errorf: agree runs in goroutines of its test too)
			t.Errorf("%s: %v", src, err)
			return
		}
		if got := fn(r); got != want {
			t.Errorf("%.40q… on %q: native %v, regexp2 %v", src, text, got, want)
		}
	}
}

var subjectHasTo = fieldPair{"to: ", "subject: ", ',', 200, subjectHolds}.match

func TestNativeMatchers(t *testing.T) {
	res := nativeRegexps(t)
	for _, c := range []struct {
		text     string
		rcvd, to bool // __SUBJ_HAS_TO_2, __SUBJ_HAS_TO_1
	}{
		{"X: 1\nReceived: from a by b for <bob@example.com>; Mon\nSubject: hi bob@example.com!\n", true, false},
		{"X: 1\nReceived: from a by b for bob@example.com; Mon\nX: y\n\nSubject: BOB@Example.COM\n", true, false},
		{"X: 1\nReceived: from a by b for <bob@example.com>;\nSubject: bob@example.com\n", false, false},      // nothing after ';'
		{"X: 1\nReceived: from a by b for <bob@example.com>; Mon\nSubject: bob@example.comx\n", false, false}, // followed by a letter
		{"Received: from a for <bob@example.com>; Mon\nSubject: bob@example.com\n", false, false},             // no \n before Received
		{"X: 1\nSubject: bob@example.com\nReceived: from a for <bob@example.com>; Mon\n", false, false},       // Subject before
		{"X: 1\nReceived: from a for <bob@example.com>;Subject: bob@example.com.\n", true, false},
		{"X: 1\nTo: Bob <bob@example.com>\nSubject: hello bob@example.com\n", false, true},
		{"X: 1\nTo: bob@example.com\nX-Long: " + strings.Repeat("x", 193) + "\nSubject: bob@example.com\n", false, false}, // a line of 201 runes between
		{"X: 1\nTo: bob@example.com\nX-Long: " + strings.Repeat("x", 192) + "\nSubject: bob@example.com\n", false, true},  // of 200
		{"X: 1\nTo: a@b.c, bob@example.com\nSubject: bob@example.com\n", false, false},                                    // ',' ends the address, not the line
		{"X: 1\nTo: bob\nSubject: " + strings.Repeat("y", 101) + "bob.\n", false, false},
		{"X: 1\nTo: bob\nSubject: " + strings.Repeat("y", 100) + "bob.\n", false, true},
	} {
		r := []rune(c.text)
		if got := subjectHasReceivedFor(r); got != c.rcvd {
			t.Errorf("subjectHasReceivedFor(%q) = %v", c.text, got)
		}
		if got := subjectHasTo(r); got != c.to {
			t.Errorf("__SUBJ_HAS_TO_1 on %q = %v", c.text, got)
		}
		agree(t, res, c.text)
	}
	toEqFrom1 := fieldPair{"from: ", "to: ", 0, 100, addressedTo}.match
	for _, c := range []struct {
		text string
		want bool
	}{
		{"X: 1\nFrom: Bob <bob@example.com>\nTo: bob@example.com\n", true},
		{"X: 1\nFrom: bob@example.com\nX: y\nTo: Bob Jones <BOB@example.com>, eve@example.com\n", true},
		{"X: 1\nFrom: bob@example.com\nTo: bob@example.com.au\n", false},
		{"X: 1\nFrom: a,bob@example.com\nTo: a,bob@example.com,\n", true}, // ',' is an address rune here
		{"X: 1\nTo: bob@example.com\nFrom: bob@example.com\n", false},     // To first
		{"X: 1\nFrom: bob@example.com\nX-Long: " + strings.Repeat("x", 93) + "\nTo: bob@example.com\n", false},
		{"X: 1\nFrom: bob@example.com\nTo: " + strings.Repeat("y", 81) + "<bob@example.com>\n", false},
		{"X: 1\nFrom: bob@example.com\nTo: " + strings.Repeat("y", 80) + "<bob@example.com>\n", true},
	} {
		if got := toEqFrom1([]rune(c.text)); got != c.want {
			t.Errorf("__TO_EQ_FROM_1 on %q = %v", c.text, got)
		}
		agree(t, res, c.text)
	}
}

// nativeCase is a text and whether a native matcher matches it.
type nativeCase struct {
	text string
	want bool
}

// checkNative holds fn to each case's answer, and every native matcher to
// regexp2's on each text.
func checkNative(t *testing.T, name string, fn func([]rune) bool, cases []nativeCase) {
	t.Helper()
	res := nativeRegexps(t)
	for _, c := range cases {
		if got := fn([]rune(c.text)); got != c.want {
			t.Errorf("%s(%q) = %v", name, c.text, got)
		}
		agree(t, res, c.text)
	}
}

func TestOutlookRatwareID(t *testing.T) {
	id := func(one, two string) string { return "Message-Id: <ABCD" + one + "$" + two + "$0123abcd@host>\n" }
	// Between '@' and the boundary: "host>\n" and the x's.
	boundary := func(one, two string) string { return `boundary="----=_NextPart_000_0001_` + one + "." + two + `"` }
	checkNative(t, "outlookRatwareID", outlookRatwareID, []nativeCase{
		{id("0123abcd", "89ABCDEF") + strings.Repeat("x", 100) + boundary("0123ABCD", "89abcdef") + "\n", true},
		{"X: 1\n" + id("0123abcd", "89abcdef") + strings.Repeat("x\n", 150) + boundary("0123abcd", "89abcdef"), true}, // (?s): any runes between
		{id("0123abcd", "89abcdef") + strings.Repeat("x", 394) + boundary("0123abcd", "89abcdef"), true},
		{id("0123abcd", "89abcdef") + strings.Repeat("x", 395) + boundary("0123abcd", "89abcdef"), false}, // 401 runes between
		{id("0123abcd", "89abcdef") + strings.Repeat("x", 93) + boundary("0123abcd", "89abcdef"), false},  // 99
		{id("0123abcd", "89abcdef") + strings.Repeat("x", 94) + boundary("0123abcd", "89abcdef"), true},   // 100
		{id("0123abcd", "89abcdef") + strings.Repeat("x", 100) + boundary("0123abce", "89abcdef"), false}, // another id
		{id("0123abcg", "89abcdef") + strings.Repeat("x", 100) + boundary("0123abcg", "89abcdef"), false}, // not hex
		{"X-" + id("0123abcd", "89abcdef") + strings.Repeat("x", 100) + boundary("0123abcd", "89abcdef"), false},
	})
}

func TestLongRepeatedLabel(t *testing.T) {
	checkNative(t, "longRepeatedLabel", longRepeatedLabel, []nativeCase{
		{"http://example.example.com/", true},
		{"http://www.EXAMPLE.example.com/", true},
		{"mailto:bob@longname.longname.org", true},
		{"http://sixsix.sixsix.com/", false},       // labels of 6
		{"http://example.examples.com/", false},    // not a dot after the repeat
		{"http://example.example/", false},         // the repeat needs its dot
		{"http://example.x.example.com/", false},   // not at once
		{"http://a-b.example.example.com/", false}, // '-' is not a word rune: the run stops
		{"http://a_b.example.example.com/", true},  // '_' is
		{"http://exämple.exÄmple.com/", true},      // letters, folded
		{"https://x.com/?u=http://example.example.net", true},
		{"http://example.example.com", true},
		{"example.example.com", false},                  // no "://" or "@"
		{"http://a\u200db.example.example.com/", true},  // a zero-width joiner is a word rune to regexp2
		{"http://a\u00adb.example.example.com/", false}, // a soft hyphen is not
	})
}

func TestRelayIllegalIP(t *testing.T) {
	relay := func(ip string) string {
		return "[ ip=" + ip + " rdns=mx.example.com helo=mx by=mail.example.org ident= ]"
	}
	var cases []nativeCase
	for _, c := range []struct {
		ip   string
		want bool
	}{
		{"192.168.1.20", false},
		{"0.1.2.3", true},
		{"10.0.0.1", false},
		{"224.1.2.3", true},
		{"239.1.2.3", true},
		{"223.1.2.3", false},
		{"192.0.2.7", true},
		{"198.51.100.7", true},
		{"203.0.113.7", true},
		{"203.0.114.7", false},
		{"1.2.3.256", true},
		{"1.2.3.255", false},
		{"1.300.3.4", true},
		{"1.2.3.0255", true}, // four digits
		{"1.2.3.099", false},
		{"1.2.\u0663\u0663\u0663.4", true}, // Arabic-Indic digits are \d, not [01]
		{"1.2.\u0663\u0663.4", false},
		{"1.2.3", false},      // three runs: no address
		{"1.2.3.4.5", false},  // five
		{"1.2.3.999x", false}, // the last run must end at ' '
	} {
		cases = append(cases, nativeCase{relay(c.ip), c.want})
	}
	cases = append(cases, nativeCase{"[ ip=1.2.3.4 by=0.0.0.0 ]", true})
	checkNative(t, "relayIllegalIP", relayIllegalIP, cases)
}

func TestToEqFromName(t *testing.T) {
	fn := fieldPair{"to: ", "from:", 0, 100, nameNotAddress}.match
	checkNative(t, "__PDS_TO_EQ_FROM_NAME_1", fn, []nativeCase{
		{"X: 1\nTo: bob@example.com\nFrom: bob@example.com <eve@evil.org>\n", true},
		{"X: 1\nTo: bob@example.com\nFrom: \"BOB@example.com\" <eve@evil.org>\n", true},
		{"X: 1\nTo: Bob <bob@example.com>\nFrom: bob@example.com (Bob)\n", true},
		{"X: 1\nTo: bob@example.com\nFrom: bob@example.com <bob@example.com>\n", true}, // " <bob…" is not the address
		{"X: 1\nTo: bob@example.com\nX: y\nFrom: bob@example.com <eve@evil.org>\n", true},
		{"X: 1\nTo: bob@example.com\nFrom: bob@example.com\n", false},         // nothing after the address
		{"X: 1\nTo: bob@example.com\nFrom: alice <bob@example.com>\n", false}, // the address must come first
		{"X: 1\nTo: bob@x.com\nFrom:bob@x.com eve\n", false},                  // after a non-word rune
		{"X: 1\nTo: bob@x.com\nFrom: bob@x.com \"eve\"\n", false},             // a '"' ends the name
		{"X: 1\nTo: bob@x.com\nFrom: bob@x.com eve", false},                   // and so must a line end
		{"X: 1\nTo: bob@x.com\nFrom: bob@x.com <eve>>\n", false},
		{"X: 1\nTo: bob@x.com\nX-Long: " + strings.Repeat("x", 93) + "\nFrom: bob@x.com eve\n", false}, // a line of 101 runes between
		{"X: 1\nTo: bob@x.com\nX-Long: " + strings.Repeat("x", 92) + "\nFrom: bob@x.com eve\n", true},
	})
}

func TestRandomHeader(t *testing.T) {
	checkNative(t, "randomHeader", randomHeader, []nativeCase{
		{"X: 1\nMail-Tracker: 1234567\n", true},
		{"Abc-Defg: 1abc-def.ghi_j\n", true},
		{"Mail-Tracker: 1234567 \n", true},
		{"Mail-Tracker:\n 1234567\n", true}, // \s+ reads line ends too
		{"X: 1\nMail-Tracker: 1234567", true},
		{"Mail-Tracker: 1234567\r\n", true},
		{"Mail-Tracker: \u0661234567\n", true}, // any decimal digit
		{"\u212aail-Tracker: 1234567\n", true}, // the Kelvin sign is a letter k
		{"Mail-Tracker: 123456\n", false},      // 5 runes after the digit
		{"Mail-Tracker: 1abcdefg\n", false},    // 'g' is no hex and no '-' or '.'
		{"Mail-Tracker: 1abc--def\n", false},   // a word after each '-'
		{"Mail-Tracker: 1234567 x\n", false},   // two tokens
		{"Mail-Tracker:1234567\n", false},      // no space
		{"Mail-Tracker: x1234567\n", false},    // no digit first
		{"Content-Trackx: 1234567\n", false},   // a name left out
		{"Abc-Def: 1234567\n", false},          // 3 and 3 letters
		{"Ab1c-Defg: 1234567\n", false},
		{"X-Mail-Tracker: 1234567\n", false}, // three words
	})
}

// Every corpus message's header, as ALL rules read it, its relays as
// X-Spam-Relays-Untrusted and its URIs: the native matchers answer what
// regexp2 answers.
func TestNativeAgrees(t *testing.T) {
	var texts []string
	filepath.WalkDir(corpus.Dir(), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || (testing.Short() && len(texts) >= 500) {
			return nil
		}
		raw, err := readCorpus(p)
		if err != nil {
			return nil
		}
		if m, err := scan.Parse(bytes.NewReader(raw)); err == nil {
			tg := newTarget(&filter.Message{Parsed: m}, map[Kind]bool{URI: true}, nil)
			all, _ := tg.headerValue("ALL", "")
			relays, _ := tg.headerValue("X-Spam-Relays-Untrusted", "")
			texts = append(texts, all, relays)
			texts = append(texts, tg.uris...)
		}
		return nil
	})
	if len(texts) < 100 {
		t.Skip("no corpus: run ../shared/corpus/get-corpus.sh")
	}
	// regexp2, the reference, is most of the test's time (two minutes and more
	// under -race): the texts are shared among the processors.
	res := nativeRegexps(t)
	inParallel(len(texts), func(i int) { agree(t, res, texts[i]) })
}

// inParallel calls f for each i below n, on as many goroutines as there are
// processors: for the tests that compare every corpus message with a slow
// reference (regexp2, Go's regexp on whole messages), minutes under -race. f
// reports with t.Errorf, never t.Fatal (which must be called from the test's
// own goroutine).
func inParallel(n int, f func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				f(i)
			}
		})
	}
	wg.Wait()
}

func FuzzNative(f *testing.F) {
	f.Add("X: 1\nReceived: from a by b for <bob@example.com>; Mon\nSubject: hi bob@example.com!\n")
	f.Add("X: 1\nTo: Bob <bob@example.com>\nX: y\nSubject: hello BOB@example.com\n")
	f.Add("\nto: <<a>\n\nsubject: <a>\u212a\n")
	f.Add("\nReceived: for <a>>;;\nSubject: a\u00a0\n")
	f.Add("\nFrom: x <a,b>\n\nTo: y<z<A,B\u2028\n")
	f.Add("http://www.EXAMPLE.example.com/?u=a@ämple12.Ämple12.x")
	f.Add("http://a\u200db.example.example.com/")
	f.Add("[ ip=10.2.3.4 rdns= helo= by=224.1.2.3 ident= ] [ ip=1.2.3.256 ]")
	f.Add("X: 1\nTo: bob@example.com\nFrom: bob@example.com <eve@evil.org>\n")
	f.Add("X: 1\nMail-Tracker: 1abc-def.ghi_j \n")
	f.Add("Message-Id: <ABCD0123abcd$89ABCDEF$0123abcd@h>" + strings.Repeat("x", 100) + `boundary="----=_NextPart_000_0001_0123ABCD.89abcdef"`)
	for _, a := range randomAddresses {
		f.Add(a)
	}
	res := nativeRegexps(f)
	f.Fuzz(func(t *testing.T, s string) {
		agree(t, res, s)
	})
}

// randomAddresses try each part of HK_RANDOM_*'s pattern (randomLocalPart).
var randomAddresses = []string{
	"xkcdqw@example.com", "aeiou@example.com", "abababab@example.com", "zzzz@example.com", "zzz@example.com",
	"mail-xkcdq@example.com", "bounce_aeiouy@example.com", "Mail.xkcdqw@example.com", "mailxkcdq@example.com",
	"xkcdq+tag@example.com", "xkcd#q@example.com", "a=xkcdq@example.com", "kpmgxyz@example.com", "MCBRxtv@example.com",
	"abcdefghijklmnopqrstuvwxyz@example.com", "abcdefghijklmnopqrstuvwxy@example.com", "bcdfgaeiouabcdefghijklmnop",
	"xkcdqw@cnn.com", "xkcdqw@news.cnn.com", "xkcdqw@mail.amazon.de", "xkcdqw@amazon.com\n", "xkcdqw@amazon.comx",
	"xkcdqw@notamazon.com", "xkcdqw@" + strings.Repeat("a", 20) + ".cnn.com", "xkcdqw@" + strings.Repeat("a", 21) + ".cnn.com",
	"ok@example.com\nxkcdqw@example.com", "mail-x@example.com\nzzzz@x", "x\nzzzz", "a@b\n@xkcdq", "\nxkcdq",
	"\u212a\u212akkk@example.com", "KkKk@example.com", "\u0130\u0130iii@x", "ab\u212aab\u212a@x", "xKCDQW@EXAMPLE.COM",
	"xkcdqw@\u00e9cnn.com", "xkcdqw@_cnn.com", "xkcdqw@-cnn.com", "xkcdqw@cnn.c", "xkcdqw@cnn.comm", "xkcdqw@CNN.COM",
	"bcdf\u00e9g@x", "yyyyy@x", "hhhhh", "sssss", "bouncexyz-aeiou", "mai\nl-xkcdq",
}

func TestRandomLocalPart(t *testing.T) {
	res := nativeRegexps(t)
	for _, a := range randomAddresses {
		agree(t, res, a)
	}
	// Many lines without an '@': linear, not a walk to the end from each line.
	long := []rune(strings.Repeat("x\n", 1<<20))
	done := make(chan bool)
	go func() { done <- randomLocalPart(long) }()
	select {
	case got := <-done:
		if got {
			t.Error("a million one-letter lines: matched")
		}
	case <-time.After(time.Minute):
		t.Fatal("a million one-letter lines: still matching after a minute (quadratic?)")
	}
}

// The stock rules' patterns are the ones the matchers know: a change in how
// ruleRegex writes them would quietly send them back to regexp2.
func TestNativeStockRules(t *testing.T) {
	s := stockRules(t, false)
	for _, name := range []string{"__SUBJ_HAS_TO_1", "__SUBJ_HAS_TO_2", "__TO_EQ_FROM_1", "__TO_EQ_FROM_2", "KB_RATWARE_OUTLOOK_MID", "__URI_LONG_REPEAT", "RCVD_ILLEGAL_IP",
		"HK_RANDOM_FROM", "HK_RANDOM_ENVFROM", "HK_RANDOM_REPLYTO", "__PDS_TO_EQ_FROM_NAME_1", "__RAND_HEADER"} {
		if r := s.byName[name]; r == nil || r.native == nil {
			t.Errorf("%s: no native matcher", name)
		}
	}
	for _, name := range []string{"__LONGLINE", "__MIXED_IMG_CASE_JH", "__MIXED_FONT_CASE", "__MIXED_AREA_CASE", "__MIXED_CENTER_CASE"} {
		if r := s.byName[name]; r == nil || r.nativeText == nil {
			t.Errorf("%s: no native text matcher", name)
		}
	}
}

// nativeTextRegexps is each text matcher's Go regex.
var nativeTextRegexps = sync.OnceValue(func() map[string]*regexp.Regexp {
	res := map[string]*regexp.Regexp{}
	for src := range nativeText {
		res[src] = regexp.MustCompile(src)
	}
	return res
})

// nativeExactTextRegexps is each exact text matcher's pattern, compiled as
// ruleRegex does.
var nativeExactTextRegexps = sync.OnceValue(func() map[string]*regexp2.Regexp { return regexp2Of(nativeExactText) })

// agreeText fails when a text matcher and its Go regex answer differently.
func agreeText(t *testing.T, text string) {
	t.Helper()
	for src, fn := range nativeText {
		if want, got := nativeTextRegexps()[src].MatchString(text), fn(text); got != want {
			t.Errorf("%.40q… on %.80q (%d bytes): native %v, regexp %v", src, text, len(text), got, want)
		}
	}
}

// agreeExactText fails when an exact text matcher and regexp2 answer differently.
func agreeExactText(t *testing.T, text string) {
	t.Helper()
	var runes []rune
	for src, fn := range nativeExactText {
		if runes == nil {
			runes = []rune(text)
		}
		want, err := nativeExactTextRegexps()[src].MatchRunes(runes)
		if err != nil {
			t.Errorf("%s: %v", src, err)
			continue
		}
		if got := fn(text); got != want {
			t.Errorf("%.40q… on %.80q (%d bytes): native %v, regexp2 %v", src, text, len(text), got, want)
		}
	}
}

func TestMixedCaseTag(t *testing.T) {
	img, center := mixedCaseTag("img", false), mixedCaseTag("center", true)
	for _, c := range []struct {
		text        string
		img, center bool
	}{
		{`<p><Img src="x"></p>`, true, false},
		{`<iMG` + "\t" + `src=x>`, true, false},
		{`<img src="x"><IMG src="y">`, false, false}, // one case each
		{`<Img>`, false, false},                      // no space after the name
		{`<Img` + "\u00a0", true, false},             // a no-break space is white space
		{`<Img` + "\u200b", false, false},            // a zero-width space is not
		{`<Img`, false, false},
		{`<<Img x`, true, false},
		{`< Img x`, false, false},
		{"<Im\xffg x", false, false},
		{`<Center>hi</Center>`, false, true},
		{`<CENTER><center>`, false, false},
		{`<Center x>`, false, false},
		{`<cEnTeR>`, false, true},
		{``, false, false},
	} {
		if got := img(c.text); got != c.img {
			t.Errorf("__MIXED_IMG_CASE_JH on %q = %v", c.text, got)
		}
		if got := center(c.text); got != c.center {
			t.Errorf("__MIXED_CENTER_CASE on %q = %v", c.text, got)
		}
		agreeExactText(t, c.text)
	}
}

func TestLongLine998(t *testing.T) {
	x := func(n int) string { return strings.Repeat("x", n) }
	for _, c := range []struct {
		text string
		want bool
	}{
		{x(998), true},
		{x(997), false},
		{"a\n" + x(998) + "\nb", true},
		{"a\n" + x(997) + "\r" + x(10) + "\n", false}, // '\r' ends the run
		{"a\r" + x(998), false},                       // ^ is after '\n' only
		{"a\r\n" + x(998), true},
		{strings.Repeat("é", 997), false}, // runes, not bytes
		{strings.Repeat("é", 998), true},
		{strings.Repeat("\xff", 998), true}, // an invalid byte is a rune
		{x(500) + "\n" + x(500), false},
		{"", false},
	} {
		if got := longLine998(c.text); got != c.want {
			t.Errorf("longLine998(%.20q… %d bytes) = %v", c.text, len(c.text), got)
		}
		agreeText(t, c.text)
	}
}

// Every corpus message's full text, as full rules read it: the text matchers
// answer what Go's regexp answers, and the exact ones what regexp2 answers.
func TestNativeTextAgrees(t *testing.T) {
	var raws []string
	filepath.WalkDir(corpus.Dir(), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || (testing.Short() && len(raws) >= 500) {
			return nil
		}
		if raw, err := readCorpus(p); err == nil {
			raws = append(raws, string(raw))
		}
		return nil
	})
	if len(raws) < 100 {
		t.Skip("no corpus: run ../shared/corpus/get-corpus.sh")
	}
	var long atomic.Int64
	inParallel(len(raws), func(i int) {
		lf := strings.ReplaceAll(raws[i], "\r\n", "\n")
		agreeText(t, lf)
		agreeText(t, raws[i])
		agreeExactText(t, lf) // (regexp2 on every message is most of the test's time: once)
		if longLine998(raws[i]) {
			long.Add(1)
		}
	})
	t.Logf("%d messages, %d with a long line", len(raws), long.Load())
}

func FuzzNativeText(f *testing.F) {
	f.Add(strings.Repeat("x", 998))
	f.Add("<p><Img src=x><FONT size=2><Center><aReA \u00a0")
	f.Add("a\r\n" + strings.Repeat("é", 998) + "\r")
	f.Fuzz(func(t *testing.T, s string) {
		agreeText(t, s)
		agreeExactText(t, s)
		// Long lines from short inputs: the fuzzer seldom writes 998 bytes.
		agreeText(t, strings.Repeat(s, 998/max(1, len(s))+1))
	})
}

// TestWordChar2: the in-line answer for ASCII is regexp2's own, and so are the
// others (which it asks), lower-cased ones included; lowerRune's is
// unicode.ToLower's.
func TestWordChar2(t *testing.T) {
	for c := rune(0); c < 0x3000; c++ {
		if got, want := wordChar2(c), rx2syntax.IsWordChar(c); got != want {
			t.Errorf("wordChar2(%q) = %v, regexp2 says %v", c, got, want)
		}
		if got, want := isWordRegexp2(c), rx2syntax.IsWordChar(unicode.ToLower(c)); got != want {
			t.Errorf("isWordRegexp2(%q) = %v, regexp2 says %v", c, got, want)
		}
		if got, want := lowerRune(c), unicode.ToLower(c); got != want {
			t.Errorf("lowerRune(%q) = %q, unicode.ToLower says %q", c, got, want)
		}
	}
}

// TestRunesOf: each text's runes are []rune(text)'s (an invalid byte U+FFFD), and
// converting one text leaves those of the texts before as they were.
func TestRunesOf(t *testing.T) {
	texts := []string{"plain ascii", "caf\u00e9 \u201cq\u201d", "bad \xff\xfe bytes \xe2\x82", "", "\U0001F600 x", strings.Repeat("é", 3000)}
	tg := &target{}
	got := make([][]rune, len(texts))
	for i, s := range texts {
		got[i] = tg.runesOf(s)
	}
	for i, s := range texts {
		if !slices.Equal(got[i], []rune(s)) {
			t.Errorf("runesOf(%q) = %q, want %q", s, string(got[i]), string([]rune(s)))
		}
		if again := tg.runesOf(s); len(again) != len(got[i]) {
			t.Errorf("runesOf(%q) again: %d runes, want %d", s, len(again), len(got[i]))
		}
	}
}

// nextNewline finds what a loop over the runes finds, where the newline's bytes
// also occur across two runes (U+0A41 then U+0100 hold them in either byte
// order).
func TestNextNewline(t *testing.T) {
	naive := func(r []rune, i int) int {
		for ; i < len(r); i++ {
			if r[i] == '\n' {
				return i
			}
		}
		return len(r)
	}
	texts := [][]rune{nil, {}, {'\n'}, []rune("ab"), []rune("a\nb\n\nc"), {0x0A41, 0x100, 'x', '\n', 'y'},
		{0x0A00, 0x0A, 0x0A0000, '\n'}, {0x100, 0x0A41, 0x100, 0x0A41}}
	rnd := rand.New(rand.NewPCG(1, 2))
	alphabet := []rune{'\n', 'a', 0x0A, 0x0A41, 0x100, 0x0A00, 0x10000A, 0}
	for range 200 {
		r := make([]rune, rnd.IntN(40))
		for k := range r {
			r[k] = alphabet[rnd.IntN(len(alphabet))]
		}
		texts = append(texts, r)
	}
	for _, r := range texts {
		for i := 0; i <= len(r)+1; i++ {
			if got, want := nextNewline(r, i), naive(r, i); got != want {
				t.Errorf("%U from %d: %d, want %d", r, i, got, want)
			}
		}
	}
}

// BenchmarkNativeRules is what the rules answered natively cost a message, by
// their native matchers and, with the matchers taken away, by the path they had
// before (the relaxed form's automata, then regexp2): the stock rules on the
// texts they read (the whole header, ALL, or the raw body) of 400 corpus
// messages, a target each, as the check makes them. A new target per pass
// would count the texts' conversion to runes, which every backtracking rule on
// a text shares, to the first rule alone.
func BenchmarkNativeRules(b *testing.B) {
	s := stockRules(b, false)
	msgs := append(corpusMessages(b, "spam", 200), corpusMessages(b, "ham", 200)...)
	var targets []*target
	for _, m := range msgs {
		targets = append(targets, newTarget(m.Fresh(), map[Kind]bool{URI: true, Rawbody: true}, nil))
	}
	all := func(t *target) string { v, _ := t.headerValue("ALL", ""); return v }
	raw := func(t *target) string { return t.rawbody }
	for _, c := range []struct {
		name string
		text func(*target) string
	}{
		{"__PDS_TO_EQ_FROM_NAME_1", all}, {"__RAND_HEADER", all}, {"__SUBJ_HAS_TO_1", all}, {"__SUBJ_HAS_TO_2", all},
		{"__TO_EQ_FROM_1", all}, {"__TO_EQ_FROM_2", all},
		{"__MIXED_IMG_CASE_JH", raw}, {"__MIXED_FONT_CASE", raw}, {"__MIXED_CENTER_CASE", raw}, {"__MIXED_AREA_CASE", raw},
	} {
		r := s.byName[c.name]
		if r == nil || r.native == nil && r.nativeText == nil {
			b.Fatalf("%s: no native matcher", c.name)
		}
		texts := make([]string, len(targets))
		for i, t := range targets {
			texts[i] = c.text(t)
		}
		for _, native := range []bool{true, false} {
			b.Run(fmt.Sprintf("%s/native=%v", c.name, native), func(b *testing.B) {
				fn, fnText := r.native, r.nativeText
				if !native {
					r.native, r.nativeText = nil, nil
					defer func() { r.native, r.nativeText = fn, fnText }()
				}
				for i, t := range targets { // (the automata learn the texts first)
					r.matches(t, texts[i])
				}
				b.ResetTimer()
				for range b.N {
					for i, t := range targets {
						r.matches(t, texts[i])
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(targets)), "ns/msg")
			})
		}
	}
}
