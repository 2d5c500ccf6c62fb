package rules

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dlclark/regexp2"
)

func TestPossessive(t *testing.T) {
	tests := []struct{ in, want string }{
		{`(?:[^\n]+\n+)*Subject:`, `(?:(?>[^\n]+)\n+)*Subject:`},
		{`(?:[^\n]{1,100}\n+)*To:`, `(?:(?>[^\n]{1,100})\n+)*To:`},
		{`(?:[^\n<]{0,80}<)?x`, `(?:(?>[^\n<]{0,80})<)?x`},
		{`[^\s<>@]+@`, `(?>[^\s<>@]+)@`},
		{`[^>]*>`, `(?>[^>]*)>`},
		// Unchanged: the next token may be absent, is not excluded by the class,
		// the quantifier is lazy, or the bracket is escaped.
		{`[^\n]+\n?x`, `[^\n]+\n?x`},
		{`[^\n]+\n*x`, `[^\n]+\n*x`},
		{`[^\n\s>;]+>?;`, `[^\n\s>;]+>?;`},
		{`[^a-z]+:`, `[^a-z]+:`},
		{`[^\n]{0,80}?<`, `[^\n]{0,80}?<`},
		{`\[^\n]+\n`, `\[^\n]+\n`},
		{`[^\n]+x`, `[^\n]+x`},
		{`[^\n]\n`, `[^\n]\n`},
		{`[^:]+\:`, `(?>[^:]+)\:`},
		{`[^]x]+]`, `[^]x]+]`},
		// A [:posix:] class is not read (its name is no list of characters),
		// and what follows it still is.
		{`[^[:digit:]]+g[^>]*>`, `[^[:digit:]]+g(?>[^>]*)>`},
	}
	for _, tc := range tests {
		if got := possessive(tc.in); got != tc.want {
			t.Errorf("possessive(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// The atomic groups possessive adds must not change what a pattern matches: the
// stock rules that compare header fields, on texts made to make them backtrack.
func TestPossessiveMatchesTheSame(t *testing.T) {
	patterns := []string{
		`(?ism)\nReceived:[^\n]{0,200} for <?([^\n\s>;]+)>?;(?:[^\n]+\n+)*Subject: [^\n]{0,100}\1[^a-z0-9]`,
		`(?ism)\nFrom: (?:[^\n<]{0,80}<)?([^\n\s>]+)>?\n+(?:[^\n]{1,100}\n+)*To: (?:[^\n]{0,80}<)?\1[>,\s\n]`,
		`(?ism)^To:\s+<?[^\@]+\@([^\.]+)\.(?:[^\n]+\n+)*^Subject: \"?\1\b`,
		`(?i)<a\s[^>]{0,2048}\bhref=(?:3D)?.?(https?:[^>"'# ]{8,29}[^>"'# :/?&=])[^>]{0,2048}>(?:[^<]{0,1024}<(?!/a)[^>]{1,1024}>){0,99}\s{0,10}(?!\1)https?[^\w<]{1,3}[^<]{5}`,
	}
	long := strings.Repeat("X-Filler: "+strings.Repeat("abc ", 30)+"\n", 20)
	texts := []string{
		"\nReceived: from a by b for <bob@example.com>; Mon\n" + long + "Subject: hi bob@example.com!\n",
		"\nReceived: from a by b for <bob@example.com>; Mon\n" + long + "Subject: hi bob@example.company\n",
		"\nReceived: from a by b for bob@example.com; Mon\n\n\nSubject: bob@example.com\n",
		"\nFrom: Bob <bob@example.com>\n" + long + "To: bob@example.com\n",
		"\nFrom: Bob <bob@example.com>\n" + long + "To: alice@example.com\n",
		"\nFrom: bob@example.com\nTo: <bob@example.com>\n",
		"To: joe <joe@acme.example>\n" + long + "Subject: acme deal\n",
		"To: joe <joe@acme.example>\n" + long + "Subject: acmes deal\n",
		`<a href="http://example.com/x">text <b>bold</b> http://other.example/path</a>`,
		`<a href="http://example.com/x">http://example.com/x</a>`,
		long,
	}
	for _, p := range patterns {
		orig := regexp2.MustCompile(p, regexp2.None)
		fast := regexp2.MustCompile(possessive(p), regexp2.None)
		if fast.String() == orig.String() {
			t.Errorf("possessive left %q as it was", p)
		}
		for i, text := range texts {
			a, _ := orig.MatchString(text)
			b, _ := fast.MatchString(text)
			if a != b {
				t.Errorf("%q on text %d: %v, possessive %v", p, i, a, b)
			}
		}
	}
}

func TestLeadingLiteral(t *testing.T) {
	for src, want := range map[string]bool{
		`(?ism)\nReceived:[^\n]{0,200}`:  true,
		`(?sm)^From:\s+([^<]\S+)`:        true,
		`(?i)^(?!Accept-Language)x`:      false,
		`<(?!IMG|img)[Ii][Mm][Gg]\s`:     false,
		`abc\d`:                          false,
		`(?ism)\nTo: (?:[^\n<]{0,80}<)?`: true, // newline, name, colon, space
		`(?i)\nCc\s`:                     false,
		`(?x)\nTo x`:                     false, // under x the space is no character
		`colour?`:                        true,
		`colou?r`:                        true, // "colo"
		`abcdef|ghijkl`:                  false,
		`(?:abcdef|ghijkl)x`:             false,
		`abcde[|]x`:                      true,
	} {
		if got := leadingLiteral(src); got != want {
			t.Errorf("leadingLiteral(%q) = %v, want %v", src, got, want)
		}
	}
}

// A backtracking rule whose relaxed form matches most texts goes straight to its
// exact form after relaxedSample texts, with the same answers.
func TestExactOnlySameAnswers(t *testing.T) {
	// __TO_EQ_FROM_1 but for one count: that rule itself is answered natively.
	rule := `header R ALL =~ /\nFrom: (?:[^\n<]{0,80}<)?([^\n\s>]+)>?\n+(?:[^\n]{1,99}\n+)*To: (?:[^\n]{0,80}<)?\1[>,\s\n]/ism` + "\n"
	s, problems := Load(writeRules(t, map[string]string{"r.cf": rule}))
	if errs := Errors(problems); len(errs) > 0 {
		t.Fatal(problems)
	}
	r := s.Rule("R")
	if r.exactAll == nil {
		t.Fatal("R runs on RE2; the test needs a backtracking rule")
	}
	msg := func(i int) (string, bool) {
		to := fmt.Sprintf("user%d@example.com", i)
		if i%3 == 0 {
			to = "someone.else@example.org"
		}
		return fmt.Sprintf("Date: Mon, 1 Dec 2026 10:00:00 +0000\nFrom: User <user%d@example.com>\nX-A: 1\nTo: %s\nSubject: s\n\nbody\n", i, to), i%3 != 0
	}
	for i := range 2 * relaxedSample {
		if i == relaxedSample && !r.exactOnly.Load() {
			t.Fatalf("after %d texts that its relaxed form matches, R still runs it", relaxedSample)
		}
		raw, want := msg(i)
		if got := slices.Contains(hitNames(t, s, msgOf(t, raw)), "R"); got != want {
			t.Errorf("message %d (exact only: %v): hit %v, want %v", i, r.exactOnly.Load(), got, want)
		}
	}
}

// Counting a backtracking rule's matches through its anchored DFA (countExactDFA)
// finds what regexp2's scan from match to match finds.
func TestCountExactDFA(t *testing.T) {
	s := mustLoadRules(t, map[string]string{"r.cf": `
rawbody __AHEAD /\bfo+(?!bar)/
rawbody __BACKREF /(\w)\1x/
rawbody __LINES /(?m)^[^>].*?(?<!x)<a href=/
rawbody __FORM /name(?=:)[:\s]{1,3}(?!\w)/i
`})
	texts := []string{"", "foo fooo foobar xfoo fo", "aax bbx abx aaaax", "q<a href=1\n>z\nx<a href=\nw<a href= <a href=",
		"Name: \nname:  \nname:x NAME:", strings.Repeat("foo aax Name: ", 300)}
	alphabet := []string{"f", "o", "bar", " ", "a", "x", "\n", "<a href=", ">", "name", ":", "é"}
	texts = append(texts, randomTexts(5, alphabet, 60, 30)...)
	tried := 0
	for _, r := range s.all {
		if !strings.HasPrefix(r.Name, "__") {
			continue // (the set's own rules, GTUBE)
		}
		if r.exactAll == nil || r.starts == nil {
			t.Fatalf("%s: not a backtracking rule with an anchored DFA", r.Name)
		}
		for _, text := range texts {
			if r.lower {
				text = strings.ToLower(text)
			}
			for _, limit := range []int{1, 3, 1000} {
				want := 0
				for m, err := r.exactAll.FindStringMatch(text); err == nil && m != nil && want < limit; m, err = r.exactAll.FindNextMatch(m) {
					want++
				}
				got, ok := r.countExactDFA(&target{}, text, limit)
				if !ok {
					continue // (the caller then counts with the regexp)
				}
				tried++
				if got != want {
					t.Errorf("%s on %q, limit %d: counted %d, regexp2 finds %d", r.Name, text, limit, got, want)
				}
			}
		}
	}
	if tried == 0 {
		t.Error("the DFA counted nothing")
	}
}

// A backtracking match that runs out of time is asked once more of the patient
// form of the same expression (the anchored one's for an anchored try); once the
// patient form too has run out of time, the message's later timeouts are not
// retried.
func TestBacktrackRetry(t *testing.T) {
	timeout := errors.New("match timeout")
	tests := []struct {
		name        string
		fail        []bool // whether the quick form's try, then the patient's, times out
		backtracked bool   // the message before the call
		wantTries   int
		wantErr     bool
		wantMarked  bool // backtracked after the call
	}{
		{name: "in time", fail: []bool{false}, wantTries: 1},
		{name: "late once", fail: []bool{true, false}, wantTries: 2},
		{name: "late twice", fail: []bool{true, true}, wantTries: 2, wantErr: true, wantMarked: true},
		{name: "late, message known to backtrack", fail: []bool{true}, backtracked: true, wantTries: 1, wantErr: true, wantMarked: true},
	}
	for _, tc := range tests {
		// One rule for both tries, as a rule's counts and matches use both: each
		// form has its own patient twin.
		r := &Rule{exactAll: regexp2.MustCompile(`(?<!x)ab`, regexp2.None)}
		r.exactAll.MatchTimeout = exactTimeout
		for _, anchored := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s, anchored %v", tc.name, anchored), func(t *testing.T) {
				quick := r.exactAll
				if anchored {
					quick = r.exactAt()
				}
				tg := &target{backtracked: tc.backtracked}
				var timeouts []time.Duration
				got, err := backtrack(tg, r, anchored, func(re *regexp2.Regexp) (string, error) {
					n := len(timeouts)
					timeouts = append(timeouts, re.MatchTimeout)
					if n >= len(tc.fail) {
						return "", timeout // (a try too many: the count below fails)
					}
					if re.String() != quick.String() {
						t.Errorf("try %d on %q, want %q", n, re.String(), quick.String())
					}
					if tc.fail[n] {
						return "", timeout
					}
					return "match", nil
				})
				if len(timeouts) != tc.wantTries || (err != nil) != tc.wantErr || tg.backtracked != tc.wantMarked {
					t.Fatalf("tries %d, err %v, marked %v; want %d, %v, %v", len(timeouts), err, tg.backtracked, tc.wantTries, tc.wantErr, tc.wantMarked)
				}
				if !tc.wantErr && got != "match" {
					t.Errorf("got %q, want the try's answer", got)
				}
				if want := []time.Duration{exactTimeout, patientTimeout}[:tc.wantTries]; !slices.Equal(timeouts, want) {
					t.Errorf("tries under %v, want %v", timeouts, want)
				}
			})
		}
	}
}
