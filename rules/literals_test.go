package rules

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// The literal index finds exactly the literals strings.Contains finds, line by line.
func TestLiteralIndex(t *testing.T) {
	lits := []string{"click", "click here", "lick", "here", "ere", "viagra", "free", "e", "über", "\n", "un subscribe", "a b"}
	var rules []*Rule
	for i := 0; i < len(lits); i += 2 {
		rules = append(rules, &Rule{lits: lits[i:min(i+2, len(lits))]})
	}
	words := []string{"click", "here", "lic", "k ", "vi", "agra", "über", "fre", "e", "\n", "un ", "subscribe", "a", " ", "b", "x"}
	texts := append([]string{"", "click here\nfree viagra", "clic\nk here", "ab a b", "\n\n\nee\ne"}, randomTexts(3, words, 500, 30)...)
	// Long ones too, which scan walks as two halves at once (splitScan), with a
	// literal across the middle.
	texts = append(texts, randomTexts(4, words, 200, 600)...)
	for _, l := range lits {
		half := strings.Repeat("x", splitScan/2-len(l)/2)
		texts = append(texts, half+l+half, half+"x"+l+half, strings.Repeat(l, splitScan))
	}
	// The automaton, over all of them; and an index of few literals (searched
	// for one by one) for each rule's and for the newline with one other.
	checkLiteralIndex(t, rules, lits, texts)
	for _, r := range append(rules, &Rule{lits: []string{"\n", "e"}}) {
		if x := newLiteralIndex([]*Rule{r}); x.few == nil {
			t.Fatalf("%q: an index of %d literals searched by the automaton", r.lits, len(r.lits))
		}
		checkLiteralIndex(t, []*Rule{r}, r.lits, texts)
	}
}

func checkLiteralIndex(t *testing.T, rules []*Rule, lits, texts []string) {
	t.Helper()
	x := newLiteralIndex(rules)
	for _, text := range texts {
		hits := x.scan(text)
		lines := strings.Split(text, "\n")
		for _, l := range lits {
			var want []int32
			if l == "\n" {
				for i := 1; i < len(lines); i++ {
					want = append(want, int32(i)) // a literal is counted in the line it ends in
				}
			} else {
				for i, line := range lines {
					if strings.Contains(line, l) {
						want = append(want, int32(i))
					}
				}
			}
			got := hits.lines([]int32{x.ids[l]})
			if !slices.Equal(got, want) {
				t.Errorf("%q in %q: lines %v, want %v", l, text, got, want)
			}
			if (len(got) > 0) != strings.Contains(text, l) {
				t.Errorf("%q in %q: found %v", l, text, len(got) > 0)
			}
		}
		for _, r := range rules {
			var ids []int32
			for _, l := range r.lits {
				ids = append(ids, x.ids[l])
			}
			want := false
			for _, l := range r.lits {
				want = want || strings.Contains(text, l)
			}
			if hits.any(ids) != want {
				t.Errorf("%v in %q: any %v", r.lits, text, !want)
			}
		}
	}
}

func TestToLower(t *testing.T) {
	for _, s := range []string{"", "abc", "ABC def", "Ünïcödé ÀÉ", "a\xffB", "\xc3", "é\xc3(", "İSTANBUL", "ΣΑΣ", "\uFFFD", "KELVIN K", "x\x80\x80y"} {
		if got, want := toLower(s), strings.ToLower(s); got != want {
			t.Errorf("toLower(%q) = %q, want %q", s, got, want)
		}
	}
}

func FuzzToLower(f *testing.F) {
	f.Add("Hello, WORLD")
	f.Add("Ünïcödé\xff")
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := toLower(s), strings.ToLower(s); got != want {
			t.Errorf("toLower(%q) = %q, want %q", s, got, want)
		}
	})
}

// BenchmarkToLower lowers texts of a message's size, as the body, raw body and
// full text are lowered for every message: one all ASCII, one with a few other
// letters on each line.
func BenchmarkToLower(b *testing.B) {
	for _, c := range []struct{ name, line string }{
		{"ascii", "Dear Customer, your ACCOUNT has been Suspended. Cafe UBER alles.\n"},
		{"latin", "Dear Customer, your ACCOUNT has been Suspended. Café ÜBER alles.\n"},
	} {
		s := strings.Repeat(c.line, 200)
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(s)))
			for b.Loop() {
				toLower(s)
			}
		})
	}
}

// products are 13 names of 9 characters or more, too many for two branches'
// sets together.
const products = `bitdefender|kaspersky|malwarebytes|trendmicro|eset nod32|f-secure total|sophos home|webroot secure|norton 360 deluxe|mcafee total|avast premium|avira prime|panda dome`

// requiredLiterals reads an alternation whose common prefixes the parser
// factored out (deposit|depot|dépôt is D(?:ÉPÔT|EP(?:OSIT|OT))) by the
// strings it spells, and every match holds one of its literals.
func TestRequiredLiteralsFactored(t *testing.T) {
	for _, tc := range []struct {
		re      string
		filter  bool // a prefilter is found
		matches []string
	}{
		{`(?i)\b(?:casino|jackpot|bonus|deposit|einzahlung|dépôt|depot|depósito|storting)`, true, // __PST_CASINO_TERMS
			[]string{"DEPOT", "Dépôt", "the casino", "depósito", "deposit", "Storting"}},
		{`(?i)\b(?:ab|depot|dépôt)`, false, nil}, // "ab" is too short to filter on
		{`\b(?:ab|abc)`, false, nil},
		{`(?:on|off|of)`, false, nil},
		// __PST_GREET_ADDR_EN: "hi" is too short alone, "hi " and "hi," are not.
		{`(?i)\b(?:hi[\s,:]|(?:hello|dear)[\s,:])[\s,:]{0,3}[\w.+-]+@`, true, []string{"Hi user@example.com", "hello, a@b", "DEAR:x@y"}},
		{`(?i)\b(?:hello|hi|dear)[\s,:]{1,4}[\w.+-]+@`, false, nil}, // "hi" alone, the class after the alternation
		{`(?i)\b(?:hi[\s,]|bye[\s,])`, true, []string{"hi there", "Hi,", "BYE "}},
		{`(?i)\b(?:hi[a-z]|bye)`, false, nil}, // 26 strings: more than the scan takes
		{`\n(?:to|cc):`, false, nil},          // a whole expression is not spelt: "\nto:" is in every header
		// Each branch's best set is its 13 long names, 26 together; each
		// branch's word set, shorter, is the same 3 strings.
		{`(?i)\b(?:` + products + `)\s+(?:expired|abgelaufen|expirado)|(?:expired|abgelaufen|expirado)\s+(?:` + products + `)`, true,
			[]string{"Kaspersky expired", "ABGELAUFEN  Norton 360 Deluxe", "expirado  panda dome"}},
	} {
		got := requiredLiterals(tc.re)
		if (got != nil) != tc.filter || slices.ContainsFunc(got, func(l string) bool { return len(l) < minLiteral }) {
			t.Errorf("%s: literals %q, want a prefilter %v", tc.re, got, tc.filter)
		}
		re := regexp.MustCompile(tc.re)
		for _, m := range tc.matches {
			if !re.MatchString(m) {
				t.Fatalf("%s: %q is no match", tc.re, m)
			}
			if !slices.ContainsFunc(got, func(l string) bool { return strings.Contains(strings.ToLower(m), l) }) {
				t.Errorf("%s: match %q holds none of %q", tc.re, m, got)
			}
		}
	}
}

// FuzzRequiredLiterals holds the prefilter to its promise: whatever text an
// expression matches holds one of its literals, lower-cased as the scan reads
// the text. A set that broke it would make a rule miss what it matches.
func FuzzRequiredLiterals(f *testing.F) {
	for _, seed := range []struct{ re, text string }{
		{`(?i)\b(?:norton|mcafee|avast)\s+(?:expired|abgelaufen)|(?:expired|abgelaufen)\s+(?:norton|mcafee|avast)`, "Your NORTON  expired"},
		{`(?i)\b(?:casino|jackpot|bonus|deposit|einzahlung|dépôt|depot|depósito|storting)`, "DÉPÔT"},
		{`(?:a[bc]d|xyz)e+fgh|q(?:rst|uvw)`, "xyzeefgh"},
		{`(?i)\b(?:hi[\s,:]|(?:hello|dear)[\s,:])[\s,:]{0,3}[\w.+-]+@`, "Hi user@example.com"},
		{`(?:urgent|immediate)(?:ly)? (?:reply|response)|(?:reply|respond) (?:urgent|immediate)ly`, "reply urgently"},
		{`ad+res+|of+ice`, "adddress"},
		{`(?:a[bc]d|xyz)e+fgh|q(?:rst|uvw)`, "quvw"},
		{`(?:110|000)`, "000"},
	} {
		f.Add(seed.re, seed.text)
	}
	f.Fuzz(func(t *testing.T, src, text string) {
		if len(src) > 200 || len(text) > 200 || !utf8.ValidString(text) {
			return
		}
		re, err := regexp.Compile(src)
		if err != nil {
			return
		}
		lits := requiredLiterals(src)
		if lits == nil || !re.MatchString(text) {
			return
		}
		lower := toLower(text)
		if !slices.ContainsFunc(lits, func(l string) bool { return strings.Contains(lower, l) }) {
			t.Errorf("%s matches %q, which holds none of %q", src, text, lits)
		}
	})
}
