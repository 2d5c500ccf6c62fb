package rules

import (
	"fmt"
	"math/rand"
	"slices"
	"strings"
	"testing"

	"github.com/dlclark/regexp2"
)

// TestMetaProgramAgreesWithTree: a meta rule's program answers what its tree does,
// and asks for the same rules in the same order (a lazy plan runs a sub-rule only
// when asked, so && and || must stop where the tree stops).
func TestMetaProgramAgreesWithTree(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	names := []string{"A", "B", "C", "D", "E", "NOPE"}
	rules, all := metaRules(names)
	gen := randomMeta(rng, names, []string{"&&", "||", "+", "-", "*", "/", ">", "<", ">=", "<=", "==", "!="}, 5, 4)
	for i := 0; i < 3000; i++ {
		expr := gen(5)
		n, err := parseMeta(expr)
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		n.resolve(rules)
		prog := compileMeta(n)
		if prog == nil {
			continue
		}
		vals := make([]float64, len(all))
		known := make([]uint8, len(all))
		for j := range all {
			vals[j] = float64(rng.Intn(3))
			if rng.Intn(2) == 0 {
				known[j] = ruleKnown
			}
		}
		run := func(f func(*metaInput) float64) (float64, string) {
			var asked []string
			in := &metaInput{state: slices.Clone(known), vals: vals}
			in.value = func(seq int32) float64 {
				asked = append(asked, all[seq].Name)
				return vals[seq]
			}
			return f(in), strings.Join(asked, ",")
		}
		want, wantAsked := run(n.eval)
		got, gotAsked := run(func(in *metaInput) float64 { return runMeta(prog, in) })
		if got != want || gotAsked != wantAsked {
			t.Fatalf("%s: program %v asking %q, tree %v asking %q", expr, got, gotAsked, want, wantAsked)
		}
	}
}

// A program holds its numbers in 24 bits (metaOp): a meta with another number
// keeps to the tree, which reads it as it is; one held answers as the tree does.
func TestMetaProgramNumbers(t *testing.T) {
	rules, _ := metaRules([]string{"A", "NOPE"})
	for _, c := range []struct {
		expr    string
		program bool
	}{
		{"A + 2 > 1", true}, {"A > -3", true}, {"A > 0.5", false}, {"A < 3000000000", false},
		{"A + 8388607 > 8388607", true}, {"A - 8388607 < -8388605", true},
		{"A < 8388608", false}, {"A > -8388608", false},
	} {
		n, err := parseMeta(c.expr)
		if err != nil {
			t.Fatal(err)
		}
		n.resolve(rules)
		prog := compileMeta(n)
		if (prog != nil) != c.program {
			t.Errorf("%s: program %v, want one: %v", c.expr, prog, c.program)
		}
		if prog == nil {
			continue
		}
		for _, a := range []float64{0, 1, 3} {
			in := &metaInput{state: []uint8{ruleKnown}, vals: []float64{a}}
			if got, want := runMeta(prog, in), n.eval(in); got != want {
				t.Errorf("%s with A = %v: program %v, tree %v", c.expr, a, got, want)
			}
		}
	}
}

// TestOrderChains: moving the operands that score to the front of their chains and
// the slow ones (that backtrack, or walk a large automaton over every paragraph)
// to the end changes no expression's value (values 0, 1, 2 and unknown names
// alike), and asks for a slow rule only after the others of its chain.
func TestOrderChains(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	names := []string{"A", "B", "C", "D", "SLOW", "WALK", "SMALL", "COUNT", "ALL", "FIELD", "NOPE"}
	rules, all := metaRules(names)
	rules["SLOW"].exactAll = regexp2.MustCompile(`(a)\1`, regexp2.None)
	rules["WALK"].Kind, rules["WALK"].dfa = Body, &dfa{insts: make([]dinst, unionMaxInsts+1)}
	rules["SMALL"].Kind, rules["SMALL"].dfa = Body, &dfa{insts: make([]dinst, 100)} // (it can share a union's walk)
	rules["COUNT"].Kind, rules["COUNT"].dfa, rules["COUNT"].maxHits = Body, &dfa{insts: make([]dinst, 100)}, 5
	rules["ALL"].Kind, rules["ALL"].Field = Header, "ALL"
	rules["FIELD"].Kind, rules["FIELD"].Field = Header, "Subject"
	gen := randomMeta(rng, names, []string{"&&", "&&", "||", "||", "+", "*", ">", "=="}, 6, 3)
	for i := 0; i < 3000; i++ {
		expr := gen(5)
		before, err := parseMeta(expr)
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		after, _ := parseMeta(expr)
		before.resolve(rules)
		after.resolve(rules)
		after.orderChains(map[*Rule]bool{}, map[*Rule]bool{}, func(r *Rule) bool { return r.Name == "D" })
		for k := 0; k < 8; k++ {
			vals := make([]float64, len(all))
			for j := range vals {
				vals[j] = float64(rng.Intn(3))
			}
			in := func(asked *[]string) *metaInput {
				m := &metaInput{state: make([]uint8, len(all)), vals: vals}
				m.value = func(seq int32) float64 {
					r := all[seq]
					*asked = append(*asked, r.Name)
					return vals[r.seq]
				}
				return m
			}
			var a1, a2 []string
			want, got := before.eval(in(&a1)), after.eval(in(&a2))
			if got != want {
				t.Fatalf("%s with %v: %v after reordering, %v before", expr, vals, got, want)
			}
			for _, slow := range []string{"SLOW", "WALK"} {
				if slices.Contains(a2, slow) && !slices.Contains(a1, slow) && !strings.Contains(expr, slow) {
					t.Fatalf("%s: asks for %s", expr, slow)
				}
			}
		}
	}
	// The chain's free operands come first, its slow ones last.
	n, _ := parseMeta("SLOW && A && D")
	n.resolve(rules)
	n.orderChains(map[*Rule]bool{}, map[*Rule]bool{}, func(r *Rule) bool { return r.Name == "D" })
	var asked []string
	m := &metaInput{state: make([]uint8, len(all)), vals: make([]float64, len(all))}
	m.value = func(seq int32) float64 { asked = append(asked, all[seq].Name); return 0 }
	n.eval(m)
	if !slices.Equal(asked, []string{"D"}) {
		t.Errorf("SLOW && A && D (D scores) with D false asked for %v, want [D]", asked)
	}
	// A rule that walks an automaton no scan spares over a whole text (a large
	// one, one that counts, one on the whole header) goes after those that are
	// cheap to ask; one with a literal is decided by the scans.
	for _, c := range []struct {
		expr string
		lits []string
		want []string
	}{
		{"WALK && A", nil, []string{"A"}},
		{"WALK || B", nil, []string{"B", "WALK"}},
		{"WALK && A", []string{"lit"}, []string{"WALK"}},
		{"SMALL && A", nil, []string{"SMALL"}},
		{"COUNT > 2 && A", nil, []string{"A"}},
		{"ALL && FIELD", nil, []string{"FIELD"}},
		{"FIELD && ALL", nil, []string{"FIELD"}},
	} {
		rules["WALK"].lits = c.lits
		n, _ := parseMeta(c.expr)
		n.resolve(rules)
		n.orderChains(map[*Rule]bool{}, map[*Rule]bool{}, func(*Rule) bool { return false })
		asked = nil
		n.eval(m)
		if !slices.Equal(asked, c.want) {
			t.Errorf("%s (literals %q), every rule false, asked for %v, want %v", c.expr, c.lits, asked, c.want)
		}
	}
}

// metaRules makes a rule for each of names but the last (a name no rule has), with
// seq their index.
func metaRules(names []string) (map[string]*Rule, []*Rule) {
	rules := map[string]*Rule{}
	var all []*Rule
	for i, n := range names[:len(names)-1] {
		r := &Rule{Name: n, seq: int32(i)}
		rules[n] = r
		all = append(all, r)
	}
	return rules, all
}

// randomMeta returns a maker of random meta expressions over names, numbers below
// maxNum (one leaf in numEvery) and ops, depth operators deep at most.
func randomMeta(rng *rand.Rand, names, ops []string, numEvery, maxNum int) func(depth int) string {
	var gen func(depth int) string
	gen = func(depth int) string {
		if depth == 0 || rng.Intn(4) == 0 {
			if rng.Intn(numEvery) == 0 {
				return fmt.Sprint(rng.Intn(maxNum))
			}
			return names[rng.Intn(len(names))]
		}
		switch rng.Intn(4) {
		case 0:
			return "!" + gen(depth-1)
		case 1:
			return "(" + gen(depth-1) + ")"
		}
		return gen(depth-1) + " " + ops[rng.Intn(len(ops))] + " " + gen(depth-1)
	}
	return gen
}
