package rules

import (
	"bytes"
	"hash/maphash"
	"math/rand"
	"os"
	"path/filepath"
	"regexp"
	"regexp/syntax"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
	"unsafe"

	"github.com/postern/postern/filter"
	"github.com/postern/postern/internal/corpus"
	"github.com/postern/postern/scan"
	"github.com/postern/postern/spool"
)

// randomTexts returns n texts of up to max pieces each, drawn from pieces with a
// fixed seed: inputs no one would think to write, the same on every run.
func randomTexts(seed int64, pieces []string, n, max int) []string {
	rng := rand.New(rand.NewSource(seed))
	texts := make([]string, n)
	for i := range texts {
		var b strings.Builder
		for j := rng.Intn(max); j > 0; j-- {
			b.WriteString(pieces[rng.Intn(len(pieces))])
		}
		texts[i] = b.String()
	}
	return texts
}

// agreementPatterns and agreementTexts are what the DFA agreement tests compare
// with Go's regexp: assertions, case folding, empty matches, matches at the end
// of a text and inside one another, invalid UTF-8; and random texts of
// agreementAlphabet.
var (
	agreementPatterns = []string{
		`abc`, `(?i)abc`, `a.c`, `(?s)a.c`, `^abc`, `(?m)^abc$`, `abc$`, `\Aabc\z`,
		`\bfoo\b`, `\Bfoo`, `(?i)\bv[_\W]{0,3}i[_\W]{0,3}a[_\W]{0,3}g[_\W]{0,3}r[_\W]{0,3}a\b`,
		`(?:\b|\s)[_\W]{0,3}x?x[_\W]{0,3}[a4\xE0-\xE6@]`, `colou?r`, `(?i)straße`, `[à-ÿ]+x`,
		`\d{3}-\d{4}`, `(?m)^\s*$`, ``, `x*`, `(?i)k`, `(?i)ſ`, `é`, `[^a]`, `(?m)$`,
		`(?i)(?:in our (?:stock|warehouse)[.,:]\s|our (?:\w+,? )?products?)`,
		`\s\d[\d.,]+US`, `[\x{0}-\x{10FFFF}]z`, `(?m)^> `, `(?U)a+b`, `(?m)\bfri(?:day)?\b$`,
		`ab`, `b`, `bc`, `zz`,
		// A literal every match holds, a bounded part before it (litWindow):
		// bytes, lines, case folded, runes of several bytes, invalid UTF-8.
		`[a-z]{2}fri`, `\wday\b`, `(?s).{0,3}abc`, `(?m)^[^z].*?abc`, `(?i)[a-c]{2}kab`,
		`.{1,3}é`, `[^a]{2}b`, `x\s*\n?fri`, `(?m)^.*\n.*day$`, `[a-z]{2}(?i:span)`,
	}
	agreementTexts = []string{
		"", "abc", "xabcx", "ABC", "a\nc", "foo", "xfoo", " foo bar", "v-i.a_g r a", "V!I!A!G!R!A now",
		"colour color", "STRASSE straße STRAẞE", "àéx", "call 555-1234", "line\n\n  \nmore",
		"xxan", " x_a", "in our warehouse: yes", "our great, products", "pay 1,000US", "Kelvin K ſ s",
		"\xff\xfeabc\xc3", "é\u00e9", "> quoted\n> more", "friday\nmon", "fri", "z", "zz", "a",
		"ab\u212aab", "xx\u017fpan", // the Kelvin sign and the long s, which (?i)k and s match
	}
	agreementAlphabet = []string{"a", "b", "c", "x", "v", "i", " ", "\n", "_", "-", "é", "K", "ſ", "\xff", "1", "fri", "day", "abc", "z", "\xc3", "\xa9"}
)

// The DFA must agree with Go's regexp on every pattern and text: it replaces
// MatchString in rule evaluation.
func TestDFAAgreesWithRegexp(t *testing.T) {
	patterns := agreementPatterns
	texts := append(slices.Clone(agreementTexts), randomTexts(1, agreementAlphabet, 300, 20)...)
	for _, p := range patterns {
		re := regexp.MustCompile(p)
		d := newDFA(p)
		if d == nil {
			t.Fatalf("%q: no DFA", p)
		}
		// Twice over: the second pass skips through the start states (accel).
		for _, text := range append(texts, texts...) {
			got, ok := d.match(text)
			if !ok {
				t.Fatalf("%q on %q: DFA gave up", p, text)
			}
			if want := re.MatchString(text); got != want {
				t.Errorf("%q on %q: DFA %v, regexp %v", p, text, got, want)
			}
		}
	}
}

// A set DFA's mask says, regex by regex, what Go's regexp says: with
// assertions, empty matches, matches that end at the end of the text, and
// regexes that match inside one another; in groups of every size up to the
// most, and when every regex matched before the end.
func TestSetDFAAgreesWithRegexp(t *testing.T) {
	patterns := agreementPatterns
	texts := append(slices.Clone(agreementTexts), randomTexts(2, agreementAlphabet, 300, 20)...)
	res := make([]*regexp.Regexp, len(patterns))
	for i, p := range patterns {
		res[i] = regexp.MustCompile(p)
	}
	rng := rand.New(rand.NewSource(3))
	for _, n := range []int{1, 2, 3, 7, 12, maxSetRegexes} {
		for round := 0; round < 4; round++ {
			pick := rng.Perm(len(patterns))[:min(n, len(patterns))]
			var subs []*syntax.Regexp
			for _, i := range pick {
				re, err := parseRE(patterns[i])
				if err != nil {
					t.Fatal(err)
				}
				subs = append(subs, re)
			}
			d := newSetDFA(subs)
			if d == nil {
				t.Fatalf("%d regexes: no set DFA", n)
			}
			// Twice over: the second pass skips through the start states (accel).
			for _, text := range append(texts, texts...) {
				got, ok := d.matchSet(text)
				if !ok {
					t.Fatalf("set DFA gave up on %q", text)
				}
				var want uint32
				for k, i := range pick {
					if res[i].MatchString(text) {
						want |= 1 << k
					}
				}
				if got != want {
					for k, i := range pick {
						if got&(1<<k) != want&(1<<k) {
							t.Errorf("%q on %q (in a set of %d): set DFA %v, regexp %v", patterns[i], text, len(pick), got&(1<<k) != 0, want&(1<<k) != 0)
						}
					}
				}
				if m, _ := d.match(text); m != (got != 0) {
					t.Errorf("set of %d on %q: match %v, mask %b", len(pick), text, m, got)
				}
			}
		}
	}
	if newSetDFA(make([]*syntax.Regexp, maxSetRegexes+1)) != nil {
		t.Error("a set DFA of more regexes than its mask holds")
	}
}

// A DFA skips to the bytes that can leave its start states (or, where those
// depend on a newline before, to the newlines) when they are few, and only then;
// to the end at once where none can (toEnd: a rule anchored at the text's start,
// past its first byte).
func TestDFAAccel(t *testing.T) {
	for _, c := range []struct {
		re, stops string
		toEnd     bool
	}{
		{`\Afoo`, "", true},
		{`^(?i)from `, "", true},
		{`zqxj`, "z", false},
		{`colou?r|size`, "cs", false},
		{`(?i)\bfoo\b`, "\nFf", false},
		{`(?m)^abc$`, "a", false},
		{`(?m)^[a-z]{3}`, "\n", false},
		{`é`, "+", false},       // the bytes of runes that are not ASCII
		{`(?i)ſ`, "Ss+", false}, // s, S and ſ
		{`[^a]`, "", false},     // every byte but one leaves
		{`[a-z]x`, "", false},   // too many bytes to stop at (its literal skips: TestLiteralWindow)
	} {
		d := newDFA(c.re)
		for i := 0; i <= accelAfter; i++ {
			d.match("some text")
		}
		a := d.gen.Load().acc.Load()
		if a == nil {
			t.Fatalf("%q: no accel worked out after %d searches", c.re, accelAfter+1)
		}
		var got strings.Builder
		for b, stop := range a.stop[:utf8.RuneSelf] {
			if stop {
				got.WriteByte(byte(b))
			}
		}
		if a.stop[utf8.RuneSelf] {
			got.WriteByte('+')
		}
		if got.String() != c.stops || (a.max > 0) != (c.stops != "" || a.lit || a.toEnd) || a.toEnd != c.toEnd {
			t.Errorf("%q: stops %q (max %d, to the end %v), want %q (to the end %v)", c.re, got.String(), a.max, a.toEnd, c.stops, c.toEnd)
		}
	}
}

// A regex that is a concatenation with a literal in it, and a bounded part before
// the literal, skips to that bound before the literal's next occurrence.
func TestLiteralWindow(t *testing.T) {
	for _, c := range []struct {
		re            string
		lit           string
		fold          bool
		before, lines int
	}{
		{`[a-z]x`, "x", false, 1, 0},
		{`[a-z]{2}<(?i:span)\s`, "pan", true, 7, 0}, // s also matches ſ: the run after it
		{`\w<!--\s*\w+\s*-->\w`, "<!--", false, 1, 0},
		{`(?m)^[^>].*?<a href=`, "<a href=", false, -1, 1},
		{`(?s)a.{0,2}bc`, "bc", false, 9, 2},
		{`(?ims)^message-id:.*?^received:`, "age-id:", true, 16, 0},
		{`a+bc`, "bc", false, -1, 0},
		{`é{1,2}xy`, "xy", false, 4, 0},
		{`abc`, "", false, 0, 0},        // a literal alone: the byte skip's
		{`(?s)a.*bc`, "", false, 0, 0},  // nothing bounded before bc
		{`(?:ab|cd)+`, "", false, 0, 0}, // no literal at the top
	} {
		re, err := parseRE(c.re)
		if err != nil {
			t.Fatal(err)
		}
		w := literalWindow(re)
		if c.lit == "" {
			if w != nil && len(w.lit) > 0 && w.before != 0 {
				t.Errorf("%q: window %+v, want none", c.re, *w)
			}
			continue
		}
		if w == nil || *w != (litWindow{c.lit, c.fold, c.before, c.lines}) {
			t.Errorf("%q: window %+v, want %+v", c.re, w, litWindow{c.lit, c.fold, c.before, c.lines})
		}
	}
	for _, c := range []struct {
		text    string
		i, want int
	}{
		{"aaaaaaaax", 0, 7}, {"ax", 0, 0}, {"xx", 1, 1}, {"aaa", 0, 3}, {"éx", 0, 0}, {"aéx", 0, 1},
	} {
		next, win := -1, 0
		w := &litWindow{lit: "x", before: 1, lines: -1}
		if got := w.start(c.text, c.i, &next, &win); got != c.want {
			t.Errorf("start(%q, %d) = %d, want %d", c.text, c.i, got, c.want)
		}
	}
	// A skip lands on a rune's first byte, as DecodeRuneInString reads the text.
	for _, c := range []struct {
		text    string
		j, want int
	}{
		{"aéb", 2, 1}, {"aéb", 1, 1}, {"aéb", 3, 3}, {"日x", 2, 0}, {"日x", 1, 0}, {"日x", 3, 3},
		{"a\xa9b", 2, 2}, {"\xe6\x97x", 2, 2}, {"\xe6\x97x", 1, 1}, {"\xa9\xa9\xa9\xa9", 3, 3}, {"é", 2, 2},
	} {
		if got := runeStart(c.text, c.j); got != c.want {
			t.Errorf("runeStart(%q, %d) = %d, want %d", c.text, c.j, got, c.want)
		}
	}
	lines := &litWindow{lit: "x", before: -1, lines: 1}
	for _, c := range []struct {
		text string
		want int
	}{
		{"a\nb\nc\nx", 4}, {"a\nbx", 0}, {"ab\n\nx", 3}, {"x", 0}, {"\nx", 0},
	} {
		next, win := -1, 0
		if got := lines.start(c.text, 0, &next, &win); got != c.want {
			t.Errorf("a line before: start(%q) = %d, want %d", c.text, got, c.want)
		}
	}
}

// A regex whose DFA would blow up ((a|b)*a(a|b){n}) starts afresh and finally hands
// over to the regexp; its states stay bounded, answers right throughout.
func TestDFABounded(t *testing.T) {
	p := `(?:a|b)*a(?:a|b){14}c`
	re, d := regexp.MustCompile(p), newDFA(p)
	rng := rand.New(rand.NewSource(2))
	for i := 0; i < 200; i++ {
		b := make([]byte, 2000)
		for j := range b {
			b[j] = "ab"[rng.Intn(2)]
		}
		if i%2 == 0 {
			b[len(b)-1] = 'c'
		}
		got, ok := d.match(string(b))
		if !ok {
			continue
		}
		if want := re.MatchString(string(b)); got != want {
			t.Fatalf("DFA %v, regexp %v", got, want)
		}
	}
	if d.resets == 0 {
		t.Error("the state cache never started afresh on an exponential pattern")
	}
	if n := len(d.gen.Load().states) * (d.width*4 + 64); n > dfaMaxBytes+d.width*4+64 {
		t.Errorf("states hold %d bytes, more than the %d allowed", n, dfaMaxBytes)
	}
}

func FuzzDFA(f *testing.F) {
	f.Add(`(?i)\bfoo\b`, "a FOO b")
	f.Add(`(?m)^a.c$`, "x\nabc\n")
	f.Fuzz(func(t *testing.T, p, text string) {
		re, err := regexp.Compile(p)
		if err != nil {
			return
		}
		d := newDFA(p)
		if d == nil {
			return
		}
		if got, ok := d.match(text); ok && got != re.MatchString(text) {
			t.Errorf("%q on %q: DFA %v, regexp %v", p, text, got, re.MatchString(text))
		}
	})
}

// Every stock SpamAssassin rule's DFA agrees with its regexp on spam-like text and,
// when the corpus is at hand, on real messages (each paragraph, as body rules see them).
func TestDFAAgreesOnStockRules(t *testing.T) {
	s := stockRules(t, false)
	texts := []string{
		sample, "V-I-A-G-R-A and C.I.A.L.I.S at 50% off!", "Click here to unsubscribe: remove@list.example",
		"We are not spam. Claim your $1,000,000.00 prize now, fill the form", "in our warehouse: ready to ship",
		"<a href=\"http://1.2.3.4/x\">here</a> <font size=-3>tiny</font>", "Xanax, Valium, phentermine ONLINE PHARMACY",
		"Dear Friend,\n\nI am a barrister; the fiduciary reimbursement of USD 10,500,000.00 awaits you.",
		"résumé ¡oferta! Ñandú straße ΜΕΓΑΛΗ ΠΡΟΣΦΟΡΑ 特价 \xff\xfe", strings.Repeat("abcdefghij ", 30),
	}
	texts = append(texts, corpusParagraphs(10)...)
	checked := 0
	for _, r := range s.all {
		if r.dfa == nil {
			continue
		}
		re := r.regexpFor(r.lower)
		for _, text := range texts {
			if r.lower {
				text = strings.ToLower(text)
			}
			got, ok := r.dfa.match(text)
			if want := re.MatchString(text); ok && got != want {
				t.Errorf("%s on %.60q: DFA %v, regexp %v", r.Name, text, got, want)
			}
		}
		checked++
	}
	if checked < 500 {
		t.Errorf("only %d stock rules have a DFA", checked)
	}
}

// corpusParagraphs returns the body paragraphs of up to n corpus messages, if the
// corpus (../shared/corpus/get-corpus.sh) is in its cache; none otherwise.
func corpusParagraphs(n int) []string {
	var out []string
	for _, sub := range []string{"spam", "ham"} {
		dir := filepath.Join(corpus.Dir(), "spamassassin", sub)
		entries, _ := os.ReadDir(dir)
		for _, e := range entries[:min(n/2, len(entries))] {
			raw, err := readCorpus(filepath.Join(dir, e.Name()))
			if err != nil {
				continue
			}
			m, err := scan.Parse(bytes.NewReader(raw))
			if err != nil {
				continue
			}
			sp := spool.FromBytes(raw)
			tg := newTarget(&filter.Message{Raw: sp, Size: sp.Size(), Parsed: m}, map[Kind]bool{Full: true}, nil)
			out = append(out, tg.bodyLines...)
			out = append(out, tg.rawbody)
		}
	}
	return out
}

// Searches share one DFA while it grows its table and starts new generations: run
// with -race, every answer still agrees with the regexp.
func TestDFAConcurrent(t *testing.T) {
	for p, alphabet := range map[string]string{
		`(?:a|b)*a(?:a|b){14}c`:           strings.Repeat("ab", 40) + "c",
		`(?i)\bv[_\W]{0,3}i[_\W]{0,3}a\b`: "abcvVi-a ",
	} {
		re, d := regexp.MustCompile(p), newDFA(p)
		var wg sync.WaitGroup
		for w := 0; w < 8; w++ {
			wg.Add(1)
			go func(seed int64) {
				defer wg.Done()
				rng := rand.New(rand.NewSource(seed))
				for i := 0; i < 100; i++ {
					b := make([]byte, 300)
					for j := range b {
						b[j] = alphabet[rng.Intn(len(alphabet))]
					}
					if got, ok := d.match(string(b)); ok && got != re.MatchString(string(b)) {
						t.Errorf("%q on %q: DFA %v", p, b, got)
					}
				}
			}(int64(w))
		}
		wg.Wait()
		if p[0] == '(' && p[1] == '?' && p[2] == ':' && d.resets == 0 {
			t.Errorf("%q: no new generation was started", p)
		}
	}
}

// Evaluation with every shortcut (literal index, DFAs, unions, anchored DFAs,
// lower-cased matching) hits exactly the rules plain regexp evaluation hits, on the
// stock rules.
func TestEvalAgreesWithPlainRegexp(t *testing.T) {
	fast, plain := stockRules(t, false), stockRules(t, true)
	// The backtracking rules' time limit is for hostile mail; here (under -race, on a
	// busy machine) it would make the answers depend on the load, not the logic.
	for _, s := range []*Set{fast, plain} {
		for _, r := range s.all {
			if r.exactAll != nil {
				r.exactAt().MatchTimeout, r.exactAll.MatchTimeout = time.Minute, time.Minute
			}
		}
	}
	msgs := []*filter.Message{msgOf(t, sample), msgOf(t, "Subject: V-I-A-G-R-A\n\nXanax, Valium, phentermine ONLINE PHARMACY\n\nClaim your $1,000,000.00 prize now\n")}
	for _, sub := range []string{"spam", "ham"} {
		dir := filepath.Join(corpus.Dir(), "spamassassin", sub)
		entries, _ := os.ReadDir(dir)
		for _, e := range entries[:min(15, len(entries))] {
			raw, err := readCorpus(filepath.Join(dir, e.Name()))
			if m, perr := scan.Parse(bytes.NewReader(raw)); err == nil && perr == nil {
				sp := spool.FromBytes(raw)
				msgs = append(msgs, &filter.Message{Raw: sp, Size: sp.Size(), Parsed: m})
			}
		}
	}
	for i, m := range msgs {
		if got, want := hitNames(t, fast, m), hitNames(t, plain, m); !slices.Equal(got, want) {
			t.Errorf("message %d: hits %v, plain regexp %v", i, got, want)
		}
	}
}

// Sessions share a Set, and with it every rule's DFA while it grows: messages
// evaluated concurrently (run with -race) hit what they hit alone.
func TestEvalConcurrent(t *testing.T) {
	s, plain := stockRules(t, false), stockRules(t, true)
	msgs := []*filter.Message{
		msgOf(t, sample),
		msgOf(t, "Subject: V-I-A-G-R-A\n\nXanax, Valium, phentermine ONLINE PHARMACY\n\nClaim your $1,000,000.00 prize now\n"),
		msgOf(t, "Subject: meeting\nContent-Type: text/html\n\n<p>Dear Friend,</p><p>We are NOT spam. <a href=\"http://1.2.3.4/x\">Click here</a> to remove yourself.</p>\n"),
	}
	want := make([][]string, len(msgs))
	for i, m := range msgs {
		want[i] = hitNames(t, plain, m)
	}
	var wg sync.WaitGroup
	for w := 0; w < 6; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for k := 0; k < 6; k++ {
				i := (w + k) % len(msgs)
				if got := hitNames(t, s, msgs[i]); !slices.Equal(got, want[i]) {
					t.Errorf("message %d: %v, want %v", i, got, want[i])
				}
			}
		}(w)
	}
	wg.Wait()
}

// The anchored DFA says where matches start, as the regexp made to start there
// (after exactly as many runes as come before) says; a prefilter only ever adds
// matches; counting by the anchored DFA counts what the regexp finds.
func TestAnchoredAndPrefilter(t *testing.T) {
	patterns := []string{
		`abc`, `(?i)abc`, `(?m)^abc$`, `\bfoo\b`, `\Bfoo`, `colou?r`, `[à-ÿ]+x`, `e`, `[eé]`,
		`(?i)\bv[_\W]{0,3}i[_\W]{0,3}a[_\W]{0,3}g[_\W]{0,3}r[_\W]{0,3}a\b`,
		`(?m)^(?:\s{0,5})(?:name|fax)(?:[-=_.,:;*\s]){2,40}`, `\d{3}-\d{4}`, `(?:ab|c){3}`,
		`(?m)^[^>].*?<a href=`, `\bfo\w*`, `(?:a|bc)+`, `x\b`,
		// Bounded but not fixed lengths, an assertion at the end: counted with
		// the regexp reading a window of the text (countFixed).
		`colou?r\b`, `(?:ab|c){1,3}$`, `[eé]{1,2}\b`, `(?m)(?:ab|c){1,3}$`,
		// Assertions where a match starts, not all leading: the regexp reads
		// the rune before the match too (countRegexp).
		`(?:\b|x)fo+`, `a*\bx+`, `(?m)(?:^|x)ab*`, `\Bo+\b`, `(?:\bé|\Bx)\w*`,
		// Unbounded, but within so many lines: the regexp reads only those.
		`(?m)^[^>]\n?.*?x$`, `(?s)a.{0,3}b\b`, `(?:a\n){1,2}b.*`, `a[^x]*?b`, `(?m)\bi.*$`,
		// At a line start, runes, a lazy star and then strings: counted line by
		// line (lineCount).
		`(?m)^[^>].*?<(?:a href|A HREF)=`, `(?m)^[^x].*?(?:ab|a|b)`, `(?m)^[^x]x.*?(?:bx|b)`,
		`(?m)^ab.*?(?:b|c)`, `(?m)^.*?(?:e|é)`, `(?m)^[^\n].*?(?:ab|ba)`, `(?m)^(?s:.)é.*?(?:a|b)`,
		`(?s)x.*?(?:bc|b|c)`, `\bfo.*?(?:o|fo)\b`, `(?i)[eé]`, `[^a]`, `(?:e|é|[à-ä]|\x{FFFD})`, `[^\n]x.*?(?:ab|ba)`, `(?s)x.*?(?:bx|b)`,
	}
	counted, lines, classes := 0, 0, 0
	texts := []string{"", "abc xabc", "x<a href=y\n>z\nq<a href= <a href=", "\n<A HREF=<a href=\n>x<A HREF=\n\n<a href=", "xbxb\nxb", "\n\nxb", "\na\n\nab", "foo xfoo afoo", "colour color", "àéx", "v-i.a_g r a V!I!A!G!R!A",
		"x\nname____ fax  \n", "555-1234", "abcab ccc", "é e ee", "\xffe", "Éé\ufffdà\xc3"}
	alphabet := []string{"a", "b", "c", "x", "v", "i", " ", "\n", "_", "-", "é", "fo", "o", "name", "1", "e"}
	texts = append(texts, randomTexts(3, alphabet, 150, 20)...)
	for _, p := range patterns {
		re := regexp.MustCompile(p)
		a, pre := newAnchoredDFA(p), newPrefilter(p)
		if a == nil {
			t.Fatalf("%q: no anchored DFA", p)
		}
		for _, text := range texts {
			st := a.beginRun(len(text))
			prev, runes := rune(-1), 0
			for i := 0; ; {
				got, ok := st.matchFrom(text, i, prev)
				if !ok {
					t.Fatalf("%q on %q: gave up", p, text)
				}
				there := regexp.MustCompile(`\A(?s:.){` + strconv.Itoa(runes) + `}(?:` + p + `)`)
				if want := there.MatchString(text); got != want {
					t.Fatalf("%q on %q at %d: anchored DFA %v, regexp %v", p, text, i, got, want)
				}
				if i >= len(text) {
					break
				}
				c, size := utf8.DecodeRuneInString(text[i:])
				prev, i, runes = c, i+size, runes+1
			}
			if pre != nil {
				if m, _ := pre.match(text); !m && re.MatchString(text) {
					t.Errorf("%q on %q: the prefilter misses a match", p, text)
				}
			}
			r := &Rule{re: re, dfa: newDFA(p), maxHits: 1000}
			r.prepareCount()
			if r.countClass != nil {
				classes++
				if n := r.countClass.count(text, 1000); n != len(re.FindAllStringIndex(text, -1)) {
					t.Errorf("%q on %q: counted %d characters, regexp finds %d", p, text, n, len(re.FindAllStringIndex(text, -1)))
				}
			}
			if r.lineCount != nil {
				lines++
				if n := r.lineCount.count(text, 1000); n != len(re.FindAllStringIndex(text, -1)) {
					t.Errorf("%q on %q: counted %d by lines, regexp finds %d", p, text, n, len(re.FindAllStringIndex(text, -1)))
				}
			}
			if r.fixed > 0 || r.countSrc != "" {
				counted++
				if n, ok := r.countFixed(text, 1000); !ok || n != len(re.FindAllStringIndex(text, -1)) {
					t.Errorf("%q on %q: counted %d, regexp finds %d", p, text, n, len(re.FindAllStringIndex(text, -1)))
				}
			}
		}
	}
	if counted == 0 || lines == 0 || classes == 0 {
		t.Errorf("patterns counted on a text by the DFA: %d, line by line: %d, by a class: %d", counted, lines, classes)
	}
}

func TestCountPrepared(t *testing.T) {
	for _, c := range []struct{ re, how string }{
		{`[eé]`, "class"}, {`(?m)^[^>].*?<a href=`, "lines"}, {`[^>].*?<a href=`, "from"},
		{`\bfo\w*`, "from"}, {`(?:\b|x)fo+`, "from"}, {`a*\bx+`, "from"}, {`x+\b`, "from"}, {`a*`, ""},
		{`[eé]\b`, "fixed 1"}, {`(?m)ee`, "string ee"},
	} {
		r := &Rule{re: regexp.MustCompile(c.re), dfa: newDFA(c.re), maxHits: 5}
		r.prepareCount()
		how := ""
		switch {
		case r.literal != "":
			how = "string " + r.literal
		case r.countClass != nil:
			how = "class"
		case r.lineCount != nil:
			how = "lines"
		case r.fixed > 0:
			how = "fixed " + strconv.Itoa(r.fixed)
		case r.countSrc != "":
			how = "from"
		}
		if how != c.how {
			t.Errorf("%q: counted as %q, want %q", c.re, how, c.how)
		}
	}
}

func TestMostNewlines(t *testing.T) {
	for _, c := range []struct {
		re string
		n  int
	}{
		{`abc`, 0}, {`a.*b`, 0}, {`(?s)a.*b`, -1}, {`(?s)a.?b`, 1}, {`[^>].*?<a`, 1},
		{`a\nb\n`, 2}, {`(?:a|\n\n|b)`, 2}, {`(?:a\n){1,3}`, 3}, {`(?:a\n)+`, -1},
		{`\s*x`, -1}, {`\s{0,2}x(?:y|\s)`, 3}, {`(?m)^x$`, 0},
	} {
		re, err := syntax.Parse(c.re, syntax.Perl)
		if err != nil {
			t.Fatal(err)
		}
		if n := mostNewlines(re); n != c.n {
			t.Errorf("%q: %d newlines at most, want %d", c.re, n, c.n)
		}
	}
	for _, c := range []struct {
		s    string
		n    int
		want string
	}{
		{"a\nb\nc", 1, "a\n"}, {"a\nb\nc", 2, "a\nb\n"}, {"a\nb\nc", 3, "a\nb\nc"}, {"\n\n", 1, "\n"}, {"", 1, ""},
	} {
		if got := throughNewlines(c.s, c.n); got != c.want {
			t.Errorf("throughNewlines(%q, %d) = %q, want %q", c.s, c.n, got, c.want)
		}
	}
}

func TestRuneLengths(t *testing.T) {
	for _, c := range []struct {
		re     string
		lo, hi int
	}{
		{`e`, 1, 1}, {`[eé]`, 1, 1}, {`(?:e|é|ab)`, 1, 2}, {`\be\b`, 1, 1}, {`a*`, 0, -1},
		{`a+b`, 2, -1}, {`a{2,4}`, 2, 4}, {`(ab)?c`, 1, 3}, {`^$`, 0, 0},
	} {
		sr, err := syntax.Parse(c.re, syntax.Perl)
		if err != nil {
			t.Fatal(err)
		}
		if lo, hi := runeLengths(sr); lo != c.lo || hi != c.hi {
			t.Errorf("%q: %d..%d, want %d..%d", c.re, lo, hi, c.lo, c.hi)
		}
	}
}

// A DFA with a pool grows past its own budget while the pool lasts, gives back
// what it took when it starts afresh, and the pool never lends more than its limit.
func TestDFAPool(t *testing.T) {
	p := `(?:a|b)*a(?:a|b){14}c`
	d := newDFA(p)
	d.pool = &dfaPool{limit: 1 << 20}
	rng := rand.New(rand.NewSource(2))
	grew := false
	for i := 0; i < 200; i++ {
		b := make([]byte, 2000)
		for j := range b {
			b[j] = "ab"[rng.Intn(2)]
		}
		d.match(string(b))
		if used := d.pool.used.Load(); used > d.pool.limit || used != d.extra {
			t.Fatalf("pool lends %d of %d; the DFA holds %d", used, d.pool.limit, d.extra)
		}
		if _, bytes := d.cache(); bytes > dfaMaxBytes {
			grew = true
		}
	}
	if !grew || d.resets == 0 {
		t.Errorf("grew past its own budget: %v; started afresh: %d times", grew, d.resets)
	}
}

// newAnchoredDFA is newDFA for matches that start where the search does (what
// parse makes with anchoredOf from a rule's DFA).
func newAnchoredDFA(goRe string) *dfa {
	if d := newDFA(goRe); d != nil {
		return anchoredOf(d)
	}
	return nil
}

func TestSpansLines(t *testing.T) {
	for _, c := range []struct {
		re   string
		want bool
	}{
		{`<a href=`, false}, {`(?i)<font[^>\n]+>`, false}, {`<font[^>]+>`, true}, {`(?m)^<br>$`, false}, {`a.b`, false},
		{`(?s)a.b`, true}, {`a\sb`, true}, {`a[^x]b`, true}, {`\Aabc`, true}, {`abc\z`, true}, {"a\nb", true},
	} {
		re, err := syntax.Parse(c.re, syntax.Perl)
		if err != nil {
			t.Fatal(err)
		}
		if got := spansLines(re); got != c.want {
			t.Errorf("%q: spans lines %v, want %v", c.re, got, c.want)
		}
	}
}

// BenchmarkDFAMatch is the inner loop every rule without a literal runs: a warm DFA
// (every transition built) over a paragraph it does not match.
func BenchmarkDFAMatch(b *testing.B) {
	re, err := syntax.Parse(`(?i)\b(?:cheap|discount)\s+(?:pills|meds)\b`, syntax.Perl)
	if err != nil {
		b.Fatal(err)
	}
	d := dfaOf(re)
	text := strings.Repeat("The quarterly report is attached; see the figures for the project meeting tomorrow. ", 20)
	d.match(text)
	b.SetBytes(int64(len(text)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		d.match(text)
	}
}

// A rule listing more look-alike letters than a table row has columns still gets
// a DFA: the runes every instruction treats alike share a class.
func TestDFAMergesAlikeIntervals(t *testing.T) {
	var alts []string
	for r := rune(0x400); r < 0x400+600; r += 2 { // 300 single letters: 600 intervals
		alts = append(alts, string(r))
	}
	re := `(?:x(?:` + strings.Join(alts, "|") + `)y|\bq[` + string(rune(0x500)) + `-` + string(rune(0x520)) + `]z)`
	d := newDFA(re)
	if d == nil {
		t.Fatal("no DFA")
	}
	if d.nclass > dfaMaxClasses || d.ivClass == nil {
		t.Fatalf("%d classes, merged %v", d.nclass, d.ivClass != nil)
	}
	rx := regexp.MustCompile(re)
	for _, text := range []string{"x" + string(rune(0x402)) + "y", "x" + string(rune(0x403)) + "y", "a q" + string(rune(0x510)) + "z", "aq" + string(rune(0x510)) + "z", "xy", "x\u0402\u0402y"} {
		if got, ok := d.match(text); !ok || got != rx.MatchString(text) {
			t.Errorf("%q: DFA %v (ok %v), regexp %v", text, got, ok, rx.MatchString(text))
		}
	}
}

// TestDinstSize: the programs are held for the life of the set, over half a
// million instructions with the stock rules; a field added to dinst costs MBs.
// Every DFA's rows are as wide as the classes its regex tells apart, not as the
// intervals its runes are cut into: a row's columns are read from memory a
// byte of text each.
func TestDFAClassesAreWhatTheRegexTellsApart(t *testing.T) {
	for _, c := range []struct {
		re      string
		classes int
		why     string
	}{
		{`(?i)viagra`, 8, "v, i, a, g, r (each with its upper case), other word runes, other runes, newline"},
		{`(?i)kiss`, 8, "k and K, i, s and S, the Kelvin sign and the long s (k and s, but not word runes for \\b), other word runes, other runes, newline"},
		{`abc`, 6, "a, b, c, other word runes, other runes, newline"},
		{`\bfoo\b`, 5, "f, o, other word runes, other runes, newline"},
		{`[0-9]{3}-x`, 6, "digits, -, x, other word runes, other runes, newline"},
	} {
		d := newDFA(c.re)
		if d == nil {
			t.Fatalf("%s: no DFA", c.re)
		}
		if d.nclass != c.classes {
			t.Errorf("%s: %d classes, want %d: %s", c.re, d.nclass, c.classes, c.why)
		}
		rx := regexp.MustCompile(c.re)
		for _, text := range []string{"VIAGRA", "ViAgRa!", "vi agra", "kiss", "\u212aiss", "ki\u017fs", "KISS", "abc", "xabcx", "foo", "food", "a foo.", "123-x", "12-x", "0123-x"} {
			if got, ok := d.match(text); !ok || got != rx.MatchString(text) {
				t.Errorf("%s on %q: DFA %v (ok %v), regexp %v", c.re, text, got, ok, rx.MatchString(text))
			}
		}
	}
}

// hotField is a field of a struct laid out by cache lines, and the line it
// must be on, counted from the struct's first field's.
type hotField struct {
	name      string
	off, size uintptr
	line      uintptr
}

// checkLines says whether fields are on their lines in the object at base, as
// allocated (the allocator may put a header before it).
func checkLines(t *testing.T, what string, base uintptr, fields []hotField) {
	t.Helper()
	for _, f := range fields {
		first, last := (base+f.off)/64-base/64, (base+f.off+f.size-1)/64-base/64
		if first != f.line || last != f.line {
			t.Fatalf("%s at %#x: its %s is on lines %d-%d, not on line %d", what, base, f.name, first, last, f.line)
		}
	}
}

// Rule's fields are laid out by the cache lines an evaluation reads (see Rule):
// a field added or moved, or an allocator that places Rules otherwise, must
// not push these off their lines. The lines are read from Rules as allocated.
func TestRuleLayout(t *testing.T) {
	var rules []*Rule
	for range 64 {
		rules = append(rules, &Rule{})
	}
	for _, r := range rules {
		checkLines(t, "a Rule", uintptr(unsafe.Pointer(r)), []hotField{
			{"seq", unsafe.Offsetof(r.seq), unsafe.Sizeof(r.seq), 0},
			{"metaProg", unsafe.Offsetof(r.metaProg), unsafe.Sizeof(r.metaProg), 0},
			{"leadWord", unsafe.Offsetof(r.leadWord), unsafe.Sizeof(r.leadWord), 0},
			{"dfa", unsafe.Offsetof(r.dfa), unsafe.Sizeof(r.dfa), 1},
			{"maxHits", unsafe.Offsetof(r.maxHits), unsafe.Sizeof(r.maxHits), 1},
			{"lits", unsafe.Offsetof(r.lits), unsafe.Sizeof(r.lits), 2},
			{"Field", unsafe.Offsetof(r.Field), unsafe.Sizeof(r.Field), 2},
		})
	}
	runtime.KeepAlive(rules)
}

// What a search reads of its DFA is on three cache lines (see dfa), and of its
// generation on one (see dfaGen), as DFAs are allocated.
func TestDFALayout(t *testing.T) {
	var ds []*dfa
	for i := range 64 {
		ds = append(ds, newDFA("a"+strings.Repeat("b", i)+"c"))
	}
	for _, d := range ds {
		base := uintptr(unsafe.Pointer(d))
		lo, hi := ^uintptr(0), uintptr(0)
		for _, f := range [][2]uintptr{
			{unsafe.Offsetof(d.gen), unsafe.Sizeof(d.gen)},
			{unsafe.Offsetof(d.nclass), unsafe.Sizeof(d.nclass)},
			{unsafe.Offsetof(d.width), unsafe.Sizeof(d.width)},
			{unsafe.Offsetof(d.lit), unsafe.Sizeof(d.lit)},
			{unsafe.Offsetof(d.set), unsafe.Sizeof(d.set)},
			{unsafe.Offsetof(d.anchored), unsafe.Sizeof(d.anchored)},
			{unsafe.Offsetof(d.noAssert), unsafe.Sizeof(d.noAssert)},
			{unsafe.Offsetof(d.all), unsafe.Sizeof(d.all)},
			{unsafe.Offsetof(d.ascii), unsafe.Sizeof(d.ascii)},
		} {
			lo, hi = min(lo, (base+f[0])/64), max(hi, (base+f[0]+f[1]-1)/64)
		}
		if hi-lo > 2 {
			t.Fatalf("a dfa at %#x: what a search reads is on %d cache lines, not three", base, hi-lo+1)
		}
		g := d.gen.Load()
		gbase := uintptr(unsafe.Pointer(g))
		first := (gbase + unsafe.Offsetof(g.tab)) / 64
		if last := (gbase + unsafe.Offsetof(g.dead) + unsafe.Sizeof(g.dead) - 1) / 64; last != first {
			t.Fatalf("a dfaGen at %#x: what a search reads is on lines %d-%d, not one", gbase, first, last)
		}
	}
	runtime.KeepAlive(ds)
	if n := unsafe.Sizeof(dfaGen{}); n > 128 {
		t.Errorf("a dfaGen is %d bytes, over its size class of 128", n)
	}
}

func TestDinstSize(t *testing.T) {
	if n := unsafe.Sizeof(dinst{}); n != 12 {
		t.Errorf("dinst is %d bytes, want 12", n)
	}
}

// The stock rules' unions hold at most unionSize rules whose programs together are
// at most unionMaxInsts: the form-filling rules are not all in one.
func TestUnionsBounded(t *testing.T) {
	s := stockRules(t, false)
	if len(s.runPlan.unions) == 0 {
		t.Fatal("no unions")
	}
	for i, u := range s.runPlan.unions {
		n := 0
		for _, r := range u.rules {
			n += len(r.first().insts)
		}
		if len(u.rules) > unionSize || n > unionMaxInsts {
			t.Errorf("union %d: %d rules, %d instructions", i, len(u.rules), n)
		}
	}
}

// A generation's index finds every state by its key, and no two states share one.
func TestStateIndex(t *testing.T) {
	d := newDFA(`(?i)(?:viagra|v[_\W]{0,3}i[_\W]{0,3}a|cheap\s+\w+|\bfo+\b)`)
	for _, text := range randomTexts(7, []string{"v", "i", "a", "gra", " ", "_", "cheap", "fo", "o", "x", "\n", "é"}, 200, 40) {
		d.match(text)
	}
	g := d.gen.Load()
	if len(g.states) < 20 {
		t.Fatalf("only %d states", len(g.states))
	}
	seen := map[string]bool{}
	for i := 1; i < len(g.states); i++ {
		row := int32(i * d.width)
		key := d.keyOf(g, row)
		if seen[pcsKey(key)] {
			t.Fatalf("state %d: a key another state has", i)
		}
		seen[pcsKey(key)] = true
		if got := d.lookup(g, key, maphash.String(stateSeed, pcsKey(key))); got != row {
			t.Fatalf("state %d: found at row %d, not %d", i, got, row)
		}
	}
	held := 0
	for _, row := range g.index.slots {
		if row != 0 {
			held++
		}
	}
	if held != len(g.states)-1 {
		t.Errorf("index holds %d states of %d", held, len(g.states)-1)
	}
}

// lineCountOf takes the shape of __HAS_HREF and its kin, and only it.
func TestLineCountOf(t *testing.T) {
	for _, c := range []struct {
		re    string
		runes int
		lits  string // joined by |; "" for not taken
	}{
		{`(?m)^[^>].*?<a href=`, 1, "<a href="},
		{`(?m)^[^>].*?<(?:a href|A HREF)=`, 1, "<a href=|<A HREF="},
		{`(?m)^ab.*?(?:x|yz)`, 2, "x|yz"},
		{`(?m)^a.*?(?:b|c)d`, 1, "bd|cd"},
		{`(?m)^.*?(?:b|c)d`, 0, "bd|cd"},
		{`^a.*?b`, 0, ""},              // the text's start, not a line's
		{`(?m)a.*?b`, 0, ""},           // anywhere
		{`(?m)^a.*b`, 0, ""},           // greedy
		{`(?m)^a[^x]*?b`, 0, ""},       // not a dot
		{`(?sm)^a.*?b`, 0, ""},         // the dot a newline too: no line bounds the search
		{`(?m)^a.*?b+`, 0, ""},         // not strings
		{`(?m)^a.*?(?i:b)`, 0, ""},     // either case
		{`(?m)^a+.*?b`, 0, ""},         // not fixed before the star
		{`(?m)^a.*?\n`, 0, ""},         // (a string with a newline would be cut)
		{`(?m)^a.*?[a-z][a-z]`, 0, ""}, // too many strings
		{`(?m)^a.*?(?:b|c|d|e|f|g|h|i|j)`, 0, ""},
	} {
		re, err := syntax.Parse(c.re, syntax.Perl)
		if err != nil {
			t.Fatal(err)
		}
		e := lineCountOf(re)
		switch {
		case c.lits == "" && e != nil:
			t.Errorf("%q: taken (%+v)", c.re, e)
		case c.lits != "" && e == nil:
			t.Errorf("%q: not taken", c.re)
		case e != nil && (len(e.lead) != c.runes || strings.Join(e.lits, "|") != c.lits):
			t.Errorf("%q: %d runes, %q; want %d, %q", c.re, len(e.lead), e.lits, c.runes, c.lits)
		}
	}
}

// TestDFATablesGrowConcurrently: searches on fresh DFAs, several at once, while
// their tables grow with every few states. A search once paired a new table with
// the old one's length and read past it ("index out of range", on a corpus run's
// first messages); it must neither fail nor answer other than the regexp.
func TestDFATablesGrowConcurrently(t *testing.T) {
	const p = `(?:a|b)*a(?:a|b){7}c`
	re, at := regexp.MustCompile(p), regexp.MustCompile(`\A(?:`+p+`)`)
	texts := randomTexts(1, []string{"a", "b", "c"}, 64, 300)
	workers := max(4, runtime.GOMAXPROCS(0))
	for round := 0; round < 40; round++ {
		u := newDFA(p)
		a := anchoredOf(u)
		var wg sync.WaitGroup
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for k := range texts {
					text := texts[(k+w*len(texts)/workers)%len(texts)]
					if got, ok := u.match(text); ok && got != re.MatchString(text) {
						t.Errorf("%q on %q: DFA %v", p, text, got)
					}
					st := a.beginRun(len(text))
					if got, ok := st.matchFrom(text, 0, -1); ok && got != at.MatchString(text) {
						t.Errorf("%q on %q: anchored DFA %v", p, text, got)
					}
				}
			}(w)
		}
		wg.Wait()
	}
}

// TestASCIIFoldPair holds the building's ASCII shortcut to the fold orbit it
// stands for, for every pair of ASCII runes.
func TestASCIIFoldPair(t *testing.T) {
	for r0 := rune(0); r0 < utf8.RuneSelf; r0++ {
		for r := rune(0); r < utf8.RuneSelf; r++ {
			if r == r0 {
				continue
			}
			want := false
			for f := unicode.SimpleFold(r0); f != r0; f = unicode.SimpleFold(f) {
				want = want || f == r
			}
			if got := asciiFoldPair(r0, r); got != want {
				t.Errorf("asciiFoldPair(%q, %q) = %v, want %v", r0, r, got, want)
			}
		}
	}
}

// sortPCs sorts as slices.Sort does, few or many, and leaves its bits clear.
func TestSortPCs(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	var p pcSet
	for _, n := range []int{1, 5, 12, 13, 64, 65, 200, 3000} {
		for round := 0; round < 20; round++ {
			k := min(n, 1+rng.Intn(60))
			pcs := make([]uint32, 0, k)
			for _, pc := range rng.Perm(n)[:k] {
				pcs = append(pcs, uint32(pc))
			}
			want := slices.Sorted(slices.Values(pcs))
			if got := p.sortPCs(slices.Clone(pcs), n); !slices.Equal(got, want) {
				t.Fatalf("%d of %d instructions: %v, want %v", k, n, got, want)
			}
			for w, x := range p.bits {
				if x != 0 {
					t.Fatalf("%d of %d instructions: word %d of the bits left set", k, n, w)
				}
			}
		}
	}
}
