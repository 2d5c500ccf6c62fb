package rules

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// A clock that moves by a microsecond each time it is read: every entry's own time
// is then a count of the clock reads in its frame, and the totals must balance
// exactly, whatever the rules nest.
func tickingClock() func() time.Duration {
	var now time.Duration
	return func() time.Duration {
		now += time.Microsecond
		return now
	}
}

func TestEvalCosts(t *testing.T) {
	s := mustLoadRules(t, map[string]string{"r.cf": `
body     __SUSPENDED  /suspended/i
body     __WEIRD1     /[a-z]{2}\d[a-z]{2}\d/
body     __WEIRD2     /\d[a-z]{3}\d[a-z]/
meta     BANK_ALERT   __SUSPENDED && !__WEIRD1 && !__WEIRD2
score    BANK_ALERT   1
header   FROM_BANK    From =~ /bigbank/
score    FROM_BANK    0.5
header   TRUSTED      eval:check_all_trusted()
score    TRUSTED      -0.1
body     HTML         eval:html_test('html')
score    HTML         0.1
`})
	m := msgOf(t, sample)
	want := hitNames(t, s, m)

	c := newCosts(tickingClock())
	const n = 3
	for range n {
		hits, err := s.EvalCosts(m, c)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, h := range hits {
			if h.Rule.Name != "GTUBE" {
				got = append(got, h.Rule.Name)
			}
		}
		slices.Sort(got)
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Fatalf("EvalCosts hits %v, Eval %v", got, want)
		}
	}
	if c.Messages() != n {
		t.Errorf("Messages() = %d, want %d", c.Messages(), n)
	}
	byName := map[string]Cost{}
	var sum time.Duration
	for _, e := range c.List() {
		byName[e.Name] = e
		sum += e.Own
		if e.Own <= 0 {
			t.Errorf("%s: own time %v (each frame reads the clock twice)", e.Name, e.Own)
		}
	}
	// Nested frames are taken out of the frames around them, once: the own times
	// add up to the evaluations' time.
	if sum != c.Total() {
		t.Errorf("own times add up to %v, the evaluations took %v", sum, c.Total())
	}
	for _, tc := range []struct {
		name        string
		calls, hits int
	}{
		{"BANK_ALERT", n, n},
		{"__SUSPENDED", n, n},
		{"__WEIRD1", n, 0},
		{"FROM_BANK", n, n},
		{"HTML", n, n},
		{"(texts prepared, their literals found)", n, 0},
		{"(the evaluation, outside the rules)", n, 0},
		{"(Received headers parsed)", n, 0},
		{"(HTML parts analysed)", n, 0},
		{"(body union 0: __WEIRD1 __WEIRD2)", n, 0},
		{fieldsCost, 2 * n, 0},
	} {
		e, ok := byName[tc.name]
		if !ok {
			t.Errorf("no entry %q among %v", tc.name, c.List())
			continue
		}
		if e.Calls != tc.calls || e.Hits != tc.hits {
			t.Errorf("%s: %d calls, %d hits; want %d, %d", tc.name, e.Calls, e.Hits, tc.calls, tc.hits)
		}
	}
	// The groups sum the entries.
	groups := map[string]Cost{}
	var gsum time.Duration
	for _, g := range c.Groups() {
		groups[g.Name] = g
		gsum += g.Own
	}
	if gsum != c.Total() {
		t.Errorf("groups add up to %v, the evaluations took %v", gsum, c.Total())
	}
	for name, members := range map[string][]string{
		"meta rules":                  {"BANK_ALERT"},
		"body rules with literals":    {"__SUSPENDED"},
		"header rules with literals":  {"FROM_BANK"},
		"header evals":                {"TRUSTED"},
		"body evals":                  {"HTML"},
		"body rules without literals": {"__WEIRD1", "__WEIRD2"},
	} {
		var own time.Duration
		for _, m := range members {
			own += byName[m].Own
		}
		if g := groups[name]; g.Own != own {
			t.Errorf("group %q: %v, its rules %v took %v", name, g.Own, members, own)
		}
	}
	// A message: the preparation, the evaluation outside the rules, the
	// Received parse, the HTML analysis, the union, and FROM_BANK's field read
	// and scanned for its literal (fieldsCost, twice).
	if g := groups["shared analyses"]; g.Calls != 7*n {
		t.Errorf("shared analyses: %d calls, want %d", g.Calls, 7*n)
	}

	c.Reset()
	if len(c.List()) != 0 || c.Total() != 0 || c.Messages() != 0 {
		t.Errorf("after Reset: %v, total %v, %d messages", c.List(), c.Total(), c.Messages())
	}
}

// Eval runs meta rules from the set's programs without reading their Rules
// (metaSpans); EvalCosts runs each through Rule.eval, to time it. On the stock
// rules and corpus mail both must hit the same rules with the same scores.
func TestEvalAgreesWithEvalCostsOnStockRules(t *testing.T) {
	s := stockRules(t, false)
	msgs := append(corpusMessages(t, "spam", 60), corpusMessages(t, "ham", 60)...)
	c := NewCosts()
	metas := 0
	for i, m := range msgs {
		hits, err := s.EvalCosts(m, c)
		if err != nil {
			t.Fatal(err)
		}
		var want, got []string
		for _, h := range hits {
			want = append(want, fmt.Sprintf("%s %g", h.Rule.Name, h.Score))
		}
		for _, h := range mustEval(t, s, m) {
			got = append(got, fmt.Sprintf("%s %g", h.Rule.Name, h.Score))
			if h.Rule.Kind == Meta {
				metas++
			}
		}
		slices.Sort(want)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Fatalf("message %d: Eval hits %v, EvalCosts %v", i, got, want)
		}
	}
	if metas == 0 {
		t.Fatal("no meta rule hit: the comparison says nothing of them")
	}
}

// Memory lists each rule's automata and each union's, the largest first, and
// they add up to DFACache's totals; a rule's automata grow as it reads mail.
func TestMemory(t *testing.T) {
	s := mustLoadRules(t, map[string]string{"r.cf": `
body     ACCOUNT      /verify\s+your\s+account/i
score    ACCOUNT      1
body     __DIGITS1    /[a-z]\d[a-z]\d/
body     __DIGITS2    /\d[a-z]{3}\d/
meta     DIGITS       __DIGITS1 || __DIGITS2
score    DIGITS       1
header   FROM_BANK    From =~ /bigbank/
score    FROM_BANK    0.5
body     NO_REGEX     eval:html_test('html')
score    NO_REGEX     0.1
`})
	check := func(when string) map[string]Memory {
		mem := s.Memory()
		byName := map[string]Memory{}
		var states, bytes int
		for i, m := range mem {
			byName[m.Name] = m
			states, bytes = states+m.States, bytes+m.Bytes
			if i > 0 && m.Bytes > mem[i-1].Bytes {
				t.Errorf("%s: %s (%d bytes) listed after %s (%d)", when, m.Name, m.Bytes, mem[i-1].Name, mem[i-1].Bytes)
			}
		}
		if ws, wb := s.DFACache(); states != ws || bytes != wb {
			t.Errorf("%s: Memory adds up to %d states, %d bytes; DFACache says %d, %d", when, states, bytes, ws, wb)
		}
		for _, name := range []string{"ACCOUNT", "FROM_BANK", "__DIGITS1", "__DIGITS2"} {
			if _, ok := byName[name]; !ok {
				t.Errorf("%s: %s not listed (%v)", when, name, mem)
			}
		}
		if _, ok := byName["NO_REGEX"]; ok {
			t.Errorf("%s: an eval rule, which has no automaton, listed", when)
		}
		unions := 0
		for name := range byName {
			if strings.HasPrefix(name, "(body union ") && strings.Contains(name, "__DIGITS1 __DIGITS2") {
				unions++
			}
		}
		if unions != 1 {
			t.Errorf("%s: %d unions of the two rules without literals listed, want 1 (%v)", when, unions, mem)
		}
		return byName
	}
	before := check("loaded")
	mustEval(t, s, msgOf(t, sample))
	after := check("after a message")
	if a, b := after["ACCOUNT"], before["ACCOUNT"]; a.States <= b.States || a.Bytes <= b.Bytes {
		t.Errorf("ACCOUNT's automata did not grow reading a message that holds its match: %+v, then %+v", b, a)
	}
}
