package rules

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/postern/postern/filter"
)

// Costs is what each rule of a set cost over the messages given to EvalCosts: the
// answer to "which of my rules are slow" (postern rules cost), which a CPU profile
// cannot give, since it names the automata and regexp engines every rule shares.
//
// A rule's own time leaves out the rules it asked for (a meta's operands) and the
// analyses several rules share, which are entries of their own, in parentheses:
// the texts' preparation, each union's walk (rules without literals, which read
// every paragraph together), the header fields' reading, the Received headers'
// parse and the HTML analysis, and what the evaluation does outside any rule.
// The smaller analyses (dates, MIME structure, addresses) count in the own time of
// the first rule that asks for them, as SpamAssassin's rule timing counts them.
// Timing every rule adds about a clock read a rule, under a tenth of the total
// (BenchmarkEvalStockCosts), most of it in the metas' and the loop's own times.
//
// A Costs is not safe for concurrent use: one message at a time.
type Costs struct {
	clock func() time.Duration
	// Rules' entries by Rule.seq (a map lookup by name was as dear as a clock
	// read, for each of the thousands of rules a message runs), the shared
	// analyses' by name.
	bySeq  []*Cost
	byName map[string]*Cost
	child  time.Duration // the time of the frames nested in the one running
	total  time.Duration
	msgs   int
}

// Cost is one rule's, or one shared analysis's, part of the messages' evaluation.
type Cost struct {
	Name string // a rule's name, or a shared analysis in parentheses
	// Group is what kind of work it is: the rule's kind and how it is run
	// (ruleGroup), or "shared analyses".
	Group string
	Calls int           // its evaluations (a rule is evaluated once a message at most)
	Hits  int           // of which it was true
	Own   time.Duration // its time, less the rules and analyses it asked for
}

// NewCosts starts an empty account, timed by the monotonic clock.
func NewCosts() *Costs {
	start := time.Now()
	return newCosts(func() time.Duration { return time.Since(start) })
}

func newCosts(clock func() time.Duration) *Costs {
	return &Costs{clock: clock, byName: map[string]*Cost{}}
}

// costFrame is a timed evaluation in progress: when it began, and the nested time
// of the frame it is nested in, so far.
type costFrame struct{ at, outer time.Duration }

// time starts a frame for the shared analysis name and returns what ends it; on
// a nil Costs (Eval's), nothing.
func (c *Costs) time(name string) (end func()) {
	if c == nil {
		return func() {}
	}
	f := c.begin()
	return func() { c.end(name, f, false) }
}

func (c *Costs) begin() costFrame {
	f := costFrame{at: c.clock(), outer: c.child}
	c.child = 0
	return f
}

// end accounts the frame's time, less its nested frames', to the shared analysis
// name; the frame it is nested in then counts all of it as nested. It returns the
// frame's time.
func (c *Costs) end(name string, f costFrame, hit bool) time.Duration {
	e := c.byName[name]
	if e == nil {
		e = &Cost{Name: name, Group: sharedGroup}
		c.byName[name] = e
	}
	return c.account(e, f, hit)
}

// endRule is end for rule r's evaluation.
func (c *Costs) endRule(r *Rule, f costFrame, hit bool) {
	if int(r.seq) >= len(c.bySeq) {
		c.bySeq = append(c.bySeq, make([]*Cost, int(r.seq)+1-len(c.bySeq))...)
	}
	e := c.bySeq[r.seq]
	if e == nil || e.Name != r.Name { // (another set's rule of that number)
		if e = c.byName[r.Name]; e == nil {
			e = &Cost{Name: r.Name, Group: ruleGroup(r)}
			c.byName[r.Name] = e
		}
		c.bySeq[r.seq] = e
	}
	c.account(e, f, hit)
}

func (c *Costs) account(e *Cost, f costFrame, hit bool) time.Duration {
	elapsed := c.clock() - f.at
	e.Calls++
	if hit {
		e.Hits++
	}
	e.Own += elapsed - c.child
	c.child = f.outer + elapsed
	return elapsed
}

// Reset forgets what was counted: after a pass that warms the automata up, as a
// running serve's are.
func (c *Costs) Reset() {
	clear(c.byName)
	clear(c.bySeq)
	c.child, c.total, c.msgs = 0, 0, 0
}

// Messages is how many evaluations were counted.
func (c *Costs) Messages() int { return c.msgs }

// Total is the time of the counted evaluations, the sum of every entry's own time.
func (c *Costs) Total() time.Duration { return c.total }

const sharedGroup = "shared analyses"

// Shared reports whether the entry is a shared analysis, not a rule (it has no
// hits to count).
func (e Cost) Shared() bool { return e.Group == sharedGroup }

// fieldsCost is the Costs entry of the header fields the header rules read: each
// read (and decoded) once a message, and its literals found, by the first rule
// that asks.
const fieldsCost = "(header fields read, their literals found)"

// ruleGroup says how a rule runs, as Costs groups rules: meta rules, eval tests,
// the rules RE2 cannot run (regexp2 asked where their relaxed form matches), those
// with literals (skipped where their text holds none) and those without (most in
// unions), by kind.
func ruleGroup(r *Rule) string {
	switch {
	case r.meta != nil || r.Kind == Meta:
		return "meta rules"
	case r.evalFn != nil:
		return r.Kind.String() + " evals"
	case r.exactAll != nil:
		return r.Kind.String() + " rules RE2 cannot run"
	case r.lits != nil:
		return r.Kind.String() + " rules with literals"
	}
	return r.Kind.String() + " rules without literals"
}

// Groups is the entries summed by Group, the costliest first.
func (c *Costs) Groups() []Cost {
	sum := map[string]*Cost{}
	for _, e := range c.List() {
		g := sum[e.Group]
		if g == nil {
			g = &Cost{Name: e.Group, Group: e.Group}
			sum[e.Group] = g
		}
		g.Calls += e.Calls
		g.Hits += e.Hits
		g.Own += e.Own
	}
	return sortCosts(sum)
}

// List is every entry, the costliest first.
func (c *Costs) List() []Cost { return sortCosts(c.byName) }

func sortCosts(m map[string]*Cost) []Cost {
	out := make([]Cost, 0, len(m))
	for _, e := range m {
		out = append(out, *e)
	}
	slices.SortFunc(out, func(a, b Cost) int {
		return cmp.Or(cmp.Compare(b.Own, a.Own), strings.Compare(a.Name, b.Name))
	})
	return out
}

// EvalCosts is Eval, each rule's evaluation and each shared analysis timed into c.
func (s *Set) EvalCosts(m *filter.Message, c *Costs) ([]Hit, error) {
	f := c.begin()
	hits, err := s.evalWith(m, s.runPlan, false, c, nil)
	c.total += c.end("(the evaluation, outside the rules)", f, false)
	c.msgs++
	return hits, err
}

// unionName names union i (and j, walked along with it; -1 when none) for Costs.
func (p *plan) unionName(i, j int) string {
	u := &p.unions[i]
	var b strings.Builder
	fmt.Fprintf(&b, "(%s union %d", u.kind, i)
	if j >= 0 {
		fmt.Fprintf(&b, " and %d, walked together", j)
	}
	b.WriteString(": ")
	for k, r := range u.rules {
		if k == 3 {
			fmt.Fprintf(&b, " and %d more", len(u.rules)-k)
			break
		}
		if k > 0 {
			b.WriteString(" ")
		}
		b.WriteString(r.Name)
	}
	b.WriteString(")")
	return b.String()
}
