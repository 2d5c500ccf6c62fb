package rules

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Every quickRegexp of the package answers, before Go's regexp, as the regexp
// does: on the lines of corpus messages (header fields and Received lines, body
// and HTML lines), and on their words that look like addresses, hosts or links,
// and their CSS declarations, the texts the eval tests and the Received parser
// give them.
func TestQuickAgrees(t *testing.T) {
	texts := quickTexts(t)
	quickAll.Lock()
	all := append([]*quickRegexp(nil), quickAll.list...)
	quickAll.Unlock()
	if len(all) < 100 {
		t.Fatalf("%d quick regexps: the Received parser's alone are more", len(all))
	}
	answered := 0
	for _, x := range all {
		for _, s := range texts {
			got, sure := x.test(s)
			if !sure {
				continue
			}
			answered++
			if want := x.Regexp.MatchString(s); got != want {
				t.Errorf("%s on %q: %v before the regexp, which says %v", x, s, got, want)
			}
		}
	}
	if answered < len(all)*len(texts)/2 {
		t.Errorf("only %d of %d answered before the regexp", answered, len(all)*len(texts))
	}
}

// The Received parser's regexps answer the same from their family's scan of a
// text as from their own search of it, on the text and on a part of it (what
// the parser tries after "from ").
func TestQuickFamilyAgrees(t *testing.T) {
	if len(rcvdFamily.members) < 100 {
		t.Fatalf("%d regexps in the Received parser's family", len(rcvdFamily.members))
	}
	answered := 0
	for _, s := range quickTexts(t) {
		sc := rcvdFamily.scan(s)
		part := s[strings.IndexByte(s, ' ')+1:]
		for _, x := range rcvdFamily.members {
			for _, text := range []string{s, part} {
				got, sure := x.testIn(sc, text)
				if !sure {
					continue
				}
				answered++
				if want := x.Regexp.MatchString(text); got != want {
					t.Errorf("%s on %q (of a scan of %q): %v before the regexp, which says %v", x, text, s, got, want)
				}
			}
		}
	}
	if answered == 0 {
		t.Error("nothing answered from the scans")
	}
	// A regexp of no family asks its own literals.
	if m, sure := rxIPv4Only.testIn(rcvdFamily.scan("1.2.3.4"), "1.2.3.4"); !m || !sure {
		t.Errorf("rxIPv4Only.testIn: %v, %v", m, sure)
	}
}

// A rule set loaded again makes no more quickRegexps for the tests to hold: a
// daemon reloads its rules, and quickAll keeps what it is given (quick is for
// package-level expressions, quickCompile for those of a load: the free mail
// wildcards', an eval test's arguments').
func TestQuickNotPerLoad(t *testing.T) {
	dir := t.TempDir()
	cf := "freemail_domains mail.example *.free.example\n" +
		"header FROM_IN_RCVD eval:check_for_from_domain_in_received_headers('example.com', 'true')\n"
	if err := os.WriteFile(filepath.Join(dir, "local.cf"), []byte(cf), 0o644); err != nil {
		t.Fatal(err)
	}
	count := func() int {
		s, problems := Load(dir)
		if len(Errors(problems)) > 0 || s.Len() == 0 {
			t.Fatalf("the rules did not load: %v", problems)
		}
		if s.freemail.re == nil {
			t.Fatal("the free mail wildcard was not compiled")
		}
		quickAll.Lock()
		defer quickAll.Unlock()
		return len(quickAll.list)
	}
	if before, after := count(), count(); after != before {
		t.Errorf("loading the rules again made %d more quick regexps", after-before)
	}
}

// quickTexts is TestQuickAgrees's texts: from the first 10 messages of each of
// the corpus's kinds (under -race, Go's regexp takes some 15 µs a text, the
// test 24 s; with 30 of each, 83 s).
func quickTexts(t *testing.T) []string {
	seen := map[string]bool{}
	var texts []string
	add := func(s string) {
		if !seen[s] {
			seen[s] = true
			texts = append(texts, s)
		}
	}
	// (?i)k and (?i)s also match the Kelvin sign and the long s: some lines
	// are given again with those in place of every k and s.
	folded := strings.NewReplacer("k", "\u212a", "K", "\u212a", "s", "\u017f", "S", "\u017f")
	eachFirstMessage(10, func(raw []byte) {
		for i, line := range strings.Split(string(raw), "\n") {
			line = strings.TrimSuffix(line, "\r")
			add(line)
			if i%8 == 0 {
				add(folded.Replace(line))
			}
			for _, w := range strings.Fields(line) {
				if strings.ContainsAny(w, "@.:") {
					add(strings.Trim(w, `<>"'(),;`))
				}
			}
			for _, d := range strings.Split(line, ";") {
				add(strings.TrimSpace(d))
			}
		}
	})
	if len(texts) == 0 {
		t.Skip("no corpus: run ../shared/corpus/get-corpus.sh")
	}
	return texts
}

// The literals are looked for in ASCII's two cases; where the regexp folds case,
// a k or an s among them may be the Kelvin sign or the long s in the text, and
// the DFA is asked then. Where it does not fold, those are other letters.
func TestQuickFoldedLetters(t *testing.T) {
	for _, c := range []struct {
		re, s string
		want  bool
	}{
		{`(?i)kelvin`, "\u212aelvin", true},
		{`(?i)pass`, "pa\u017f\u017f", true},
		{`(?i)\bsmtp\b`, "with E\u017fMTP id", true},
		{`(?i)kelvin`, "celvin \u212a", false},
		{`pass`, "pa\u017f\u017f", false},
		{`(?i)pass`, "pa55", false},
	} {
		x, err := quickCompile(c.re)
		if err != nil || x.lits == nil {
			t.Fatalf("%s: %v, literals %q", c.re, err, x.lits)
		}
		if got := x.MatchString(c.s); got != c.want || c.want != x.Regexp.MatchString(c.s) {
			t.Errorf("%s on %q: %v, want %v", c.re, c.s, got, c.want)
		}
	}
}
