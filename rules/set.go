package rules

import (
	"bytes"
	"cmp"
	"embed"
	"fmt"
	"io"
	"iter"
	"math"
	"regexp"
	"regexp/syntax"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
	"unsafe"

	"github.com/dlclark/regexp2"
	"github.com/emersion/go-message"
	"github.com/emersion/go-message/textproto"

	"github.com/postern/postern/filter"
	"github.com/postern/postern/internal/gctune"
	"github.com/postern/postern/scan"
)

// The default rule set, written for this project (never SpamAssassin's files).
//
//go:embed default/*.cf
var defaultRules embed.FS

// DefaultPath names the embedded default rules in rules_paths.
const DefaultPath = "default"

// Set is a compiled rule set, immutable once built: a reload builds a new one.
type Set struct {
	all   []*Rule                 // non-meta rules, then meta rules in dependency order
	rules []*Rule                 // those of all that can change a score: what Eval runs
	index [Meta + 1]*literalIndex // by the kind of rule (body, rawbody, full, uri)
	// decided are the rules of each index that its scan decides (decided), and
	// falseState is every rule's state before a message: those rules false
	// (ruleFalse), until the scans find one of their literals.
	decided    [Meta + 1]decided
	falseState []uint8
	// The header fields (with modifier) that header rules read, each with the
	// literals of its rules: a rule finds its text by number, and one scan of a
	// field says which of its rules' literals it holds.
	fields []fieldRules
	// What Eval and EvalAll run, worked out once rather than for every message.
	runPlan *plan
	allPlan func() *plan // made on first use: only postern rules test runs every rule
	pool    *dfaPool
	scratch sync.Pool // *evalScratch: what each evaluation knows of each rule, reused
	byName  map[string]*Rule
	score   map[string]Scores
	scores  []Scores // score by Rule.seq: what evalWith reads for each hit, without hashing its name
	// metaSpans are, by Rule.seq, where each meta rule's program is in
	// metaProgs (n 0: not a meta, or one that keeps to its tree): evalWith runs
	// a meta from these, and reads its Rule only for a hit. Most of a message's
	// evaluations are metas and most are false; a Rule read is a cache line, and
	// eight rules' spans share one.
	metaSpans []metaSpan
	metaProgs []metaOp
	Stats     Stats
	// Ignored counts directives of SpamAssassin's syntax that Postern does not use.
	Ignored map[string]int
	// IgnoredOwn counts those of them in the operator's own files, not in
	// SpamAssassin's stock rules (read as "stock") or Postern's: a local.cf's
	// settings, which lint points to Postern's configuration.
	IgnoredOwn map[string]int
	// Files are the rule files read, in order.
	Files []string
	// What plugin directives configured (freemail_domains, ...).
	freemail freemail
	lists    lists
	// redirector_pattern lines, in the order read (redirect.go).
	redirectors []redirector
	// uridnsbl_skip_domain: names the URI block lists do not look up.
	uriSkip map[string]bool
	// The bytes of each part body and rawbody rules read.
	scanSizes scanSizes
	// operatorScore are the scores set in the operator's own rule files: not
	// the embedded default set nor the stock rules.
	operatorScore map[string]Scores
}

// SkipsURIDomain says whether the rule files name a host or domain that the
// URI block lists do not look up (uridnsbl_skip_domain): sites too big to be
// listed, whose lookups would only take the place of a message's other
// domains under the block lists' limit. SpamAssassin's stock rules name 289.
func (s *Set) SkipsURIDomain(name string) bool { return s.uriSkip[strings.ToLower(name)] }

// OperatorScore is the score (with Bayes, set 2) an operator's rule file gives a
// name, for the pseudo-rules other checks make (BAYES_99): an operator's score
// line wins over what the check would add.
func (s *Set) OperatorScore(name string) (float64, bool) {
	sc, ok := s.operatorScore[name]
	return sc[1], ok
}

// Load reads rule paths in order (later files override scores and definitions) and
// compiles them. The path DefaultPath is the embedded default set, StockPath
// SpamAssassin's stock rules where the system has them (FindStock). Problems with
// Warning false are errors: a caller reloading keeps its old set.
func Load(paths ...string) (*Set, []Problem) {
	resumeTuning := gctune.Suspend() // (the load sets the collector's share itself)
	defer func(old int, oldLimit int64) {
		// The parses are the load's garbage too, so they go before the
		// collection below: forgotten after it (a deferred call of its own, run
		// last), some 40 MB of them outlived it, its marking read them through,
		// and the first collection under mail had them to collect.
		forgetParses()
		debug.SetGCPercent(old)
		debug.SetMemoryLimit(oldLimit)
		resumeTuning()
		// The garbage of loading is collected here, at start-up (or reload), not
		// by the first collection under mail: left to it, the first messages
		// after start waited on its marking and assists (cold p99 of the load
		// test at 41 msg/s: 290 ms with this collection, 730-820 ms without).
		// (And the tuner then sets the share for the heap the load left.)
		if testHookLoadGC != nil {
			testHookLoadGC()
		}
		runtime.GC()
	}(debug.SetGCPercent(loadGCPercent), debug.SetMemoryLimit(loadMemoryLimit()))
	p := newParser()
	for _, path := range paths {
		switch path {
		case DefaultPath:
			p.loadPath(defaultRules, "default")
			continue
		case StockPath:
			if dir := FindStock(); dir != "" {
				p.stockDir = dir
				p.loadPath(osFS{}, dir)
			}
			continue
		}
		p.loadPath(osFS{}, path)
	}
	return p.compile()
}

// testHookLoadGC, when set, is called just before the load's own collection.
var testHookLoadGC func()

// loadGCPercent is the garbage collector's target while a set loads. Loading is a
// burst of short-lived garbage (each pattern parsed, rewritten, compiled) around a
// set that only grows: at the default 100 the collector ran a dozen cycles over
// that growing set and took a third of the load's CPU.
const loadGCPercent = 400

// loadHeadroom is how much memory a load may take past what the process held
// when it began, before the collector runs whatever loadGCPercent says. At 400
// alone, the start-up's garbage took the process to 230-260 MB of RSS, more
// than the rules' automata ever hold after a day of mail (about 100 MB): the
// set being built is some 35 MB, the heap was let grow to five times that.
// With this soft limit the collector runs a few more cycles at start-up, each
// over a small live heap (docs/benchmarks.md).
const loadHeadroom = 128 << 20

// loadMemoryLimit is the soft memory limit while a set loads: what the runtime
// holds now (at a reload, the set in use too) and loadHeadroom, or the limit
// already set (GOMEMLIMIT) if that is lower.
func loadMemoryLimit() int64 {
	held := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	metrics.Read(held)
	now := int64(held[0].Value.Uint64() - held[1].Value.Uint64())
	return min(debug.SetMemoryLimit(-1), now+loadHeadroom)
}

// Errors returns only the errors among problems.
func Errors(ps []Problem) []Problem {
	var out []Problem
	for _, p := range ps {
		if !p.Warning {
			out = append(out, p)
		}
	}
	return out
}

// gtube is built in: it is in every set, whatever the files say.
func gtube() *Rule {
	re, lits, _ := perlRegex(`/XJS\*C4JDBQADN1\.NSBN3\*2IDNEN\*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL\*C\.34X/`)
	return &Rule{Name: "GTUBE", Kind: Body, File: "builtin", re: re, lits: lits,
		Describe: "Generic Test for Unsolicited Bulk Email", TFlags: map[string]bool{"noautolearn": true}}
}

func (p *parser) compile() (*Set, []Problem) {
	// ReplaceTags: the rules replace_rules names are built with their tags expanded.
	for _, name := range p.replace.rules {
		if src, ok := p.source[name]; ok {
			src.def = p.replace.expand(src.def)
			p.source[name] = src
		}
	}
	p.buildAll()
	p.lists.index()
	s := &Set{score: map[string]Scores{}, Stats: Stats{Loaded: map[Kind]int{}, Skipped: p.skipped, Network: map[string]int{}}, Ignored: p.ignored, IgnoredOwn: p.ignoredOwn,
		Files: p.files, freemail: p.freemail, lists: p.lists, scanSizes: p.scanSizes, redirectors: p.redirectors, uriSkip: p.uriSkip}
	s.freemail.compile()
	s.operatorScore = map[string]Scores{}
	for name, at := range p.scoreAt {
		if p.operatorFile(at.file) {
			s.operatorScore[name] = p.scores[name]
		}
	}
	g := gtube()
	p.defs["GTUBE"] = g
	p.scores["GTUBE"] = Scores{1000, 1000}
	p.order = append(p.order, "GTUBE")
	var metas []*Rule
	seen := map[string]bool{}
	for _, name := range p.order {
		r, ok := p.defs[name]
		if !ok || seen[name] {
			continue
		}
		seen[name] = true
		if d, ok := p.describe[name]; ok {
			r.Describe = d
		}
		if tf, ok := p.tflags[name]; ok {
			r.TFlags = tf
			r.maxHits = maxHits(tf)
			r.noSubject = r.Kind == Body && tf["nosubject"]
			r.prepareCount()
		}
		switch sc, ok := p.scores[name]; {
		case reportedByAuth[name]:
			// The auth check scores it (its operator's score line included):
			// here it only answers meta rules.
			s.score[name] = Scores{}
		case ok:
			s.score[name] = sc
		case strings.HasPrefix(name, "__"):
			s.score[name] = Scores{}
		case strings.HasPrefix(name, "T_"):
			s.score[name] = Scores{0.01, 0.01}
		default:
			def := Scores{1, 1}
			if r.TFlags["nice"] {
				def = Scores{-1, -1} // a rule that marks ham: SpamAssassin's default
			}
			s.score[name] = p.defaultScore(name, def)
			if s.score[name] != def {
				s.Stats.AuthorScored++
			}
		}
		if r.Kind == Meta {
			metas = append(metas, r)
			continue
		}
		s.rules = append(s.rules, r)
		s.Stats.Loaded[r.Kind]++
		if plugin := p.network(name); plugin != "" {
			s.Stats.Network[plugin]++
		}
	}
	ordered, problems := orderMetas(metas, p.defs)
	for _, r := range ordered {
		s.rules = append(s.rules, r)
		s.Stats.Loaded[Meta]++
	}
	s.Stats.Skipped[Meta] += len(metas) - len(ordered)
	s.all = s.rules
	s.rules = s.needed()
	for _, r := range s.rules {
		s.freemail.parses |= s.freemail.parsers[r.Name]
	}
	// A literal index per text: body, rawbody and full rules read different ones.
	var byKind [Meta + 1][]*Rule
	s.scores = make([]Scores, len(s.all))
	for i, r := range s.all {
		r.seq = int32(i)
		s.scores[i] = s.score[r.Name]
		byKind[r.Kind] = append(byKind[r.Kind], r)
	}
	for _, k := range []Kind{Body, Rawbody, Full, URI} {
		s.index[k] = newLiteralIndex(byKind[k])
		for _, r := range byKind[k] {
			r.litIDs = nil
			for _, l := range r.lits {
				r.litIDs = append(r.litIDs, s.index[k].ids[l])
			}
		}
	}
	s.fields = headerFields(byKind[Header])
	s.falseState = make([]uint8, len(s.all))
	for _, k := range []Kind{Body, Rawbody, Full, URI} {
		s.decided[k] = newDecided(s.index[k], byKind[k], decidedByLiterals)
		for _, seq := range s.decided[k].seqs {
			s.falseState[seq] = ruleFalse
		}
	}
	s.byName = make(map[string]*Rule, len(s.all))
	pool := &dfaPool{limit: dfaPoolLimit}
	for _, r := range s.all {
		s.byName[r.Name] = r
	}
	total := 0
	slow, free := map[*Rule]bool{}, map[*Rule]bool{}
	scored := func(r *Rule) bool { return s.score[r.Name] != (Scores{}) }
	for _, r := range s.all {
		r.meta.resolve(s.byName)
		if r.meta != nil {
			slow[r], free[r] = r.meta.orderChains(slow, free, scored)
			r.metaProg = compileMeta(r.meta)
			total += len(r.metaProg)
		}
		for _, d := range []*dfa{r.dfa, r.pre, r.starts} {
			if d != nil {
				d.pool = pool
			}
		}
		if r.exactAll != nil {
			r.native = nativeExact[r.exactAll.String()]
			if r.native == nil && !r.lower { // (a case-free rule is given lower-cased text)
				r.nativeText = nativeExactText[r.exactAll.String()]
			}
		} else if r.dfa != nil {
			r.nativeText = nativeText[r.source(r.lower)]
		}
	}
	// Every meta's program in one slice, in the order they run: the walk over
	// them stays in a few contiguous pages.
	progs := make([]metaOp, 0, total)
	s.metaSpans = make([]metaSpan, len(s.all))
	for _, r := range s.all {
		if len(r.metaProg) > 0 {
			at := len(progs)
			progs = append(progs, r.metaProg...)
			r.metaProg = progs[at:len(progs):len(progs)]
			s.metaSpans[r.seq] = metaSpan{off: uint32(at), n: uint32(len(r.metaProg))}
		}
	}
	s.metaProgs = progs
	s.pool = pool
	s.runPlan = s.withPool(s.lazyPlan())
	s.allPlan = sync.OnceValue(func() *plan { return s.withPool(newPlan(s.all, s.all, len(s.all))) })
	// Named where the score line is, in the files' order: an operator's
	// score for a rule of a list or plugin Postern leaves out is found there.
	var undefined []string
	for name := range p.scores {
		if _, ok := p.defs[name]; !ok {
			undefined = append(undefined, name)
		}
	}
	read := make(map[string]int, len(p.files))
	for i, f := range p.files {
		read[f] = i
	}
	sort.Slice(undefined, func(i, j int) bool {
		a, b := p.scoreAt[undefined[i]], p.scoreAt[undefined[j]]
		if a.file != b.file {
			return read[a.file] < read[b.file]
		}
		return a.line < b.line
	})
	for _, name := range undefined {
		at := p.scoreAt[name]
		p.problem(at.file, at.line, name, true, "score for a rule that is not defined (or was skipped)")
	}
	return s, append(p.problems, problems...)
}

// fieldRules is one header field as header rules read it (name and modifier),
// and the automaton of its rules' literals.
type fieldRules struct {
	key     headerKey
	index   *literalIndex
	decided decided // the rules the scan of the field decides
}

// headerFields numbers the fields header rules read (Rule.field) and gives each
// rule the ids of its literals in its field's index. A map lookup by name and
// modifier for each of some 800 rules, and a search for each of their literals,
// were a tenth of the header rules' time.
func headerFields(rules []*Rule) []fieldRules {
	var fields []fieldRules
	var members [][]*Rule
	at := map[headerKey]int{}
	for _, r := range rules {
		r.field = 0
		if r.evalFn != nil || r.MIME || r.Exists {
			continue
		}
		k := headerKey{r.Field, r.Mod}
		i, ok := at[k]
		if !ok {
			i = len(fields)
			at[k] = i
			fields = append(fields, fieldRules{key: k})
			members = append(members, nil)
		}
		r.field = int32(i + 1)
		members[i] = append(members[i], r)
	}
	for i := range fields {
		fields[i].index = newLiteralIndex(members[i])
		for _, r := range members[i] {
			r.litIDs = nil
			for _, l := range r.lits {
				r.litIDs = append(r.litIDs, fields[i].index.ids[l])
			}
		}
		fields[i].decided = newDecided(fields[i].index, members[i], decidedByLiterals)
	}
	return fields
}

// decidedByLiterals reports whether a rule with literals is false whenever its
// text holds none of them, as Rule.eval decides it: for header rules, those
// that read one field's text and say whether it matches (not !~, not if-unset:
// those are true, or read another text, where the field lacks them).
func decidedByLiterals(r *Rule) bool {
	if r.lits == nil || r.evalFn != nil {
		return false
	}
	switch r.Kind {
	case Body, Rawbody, Full, URI:
		return true
	case Header:
		return r.field > 0 && !r.Negate && r.IfUnset == ""
	}
	return false
}

// orderMetas sorts meta rules so each comes after the metas it uses, and drops those
// that use rules that do not exist (SpamAssassin disables them too) or form a cycle.
func orderMetas(metas []*Rule, defs map[string]*Rule) ([]*Rule, []Problem) {
	var out []*Rule
	var problems []Problem
	state := map[string]int{} // 0 new, 1 visiting, 2 done, 3 dropped
	byName := map[string]*Rule{}
	for _, m := range metas {
		byName[m.Name] = m
	}
	var visit func(m *Rule) bool
	visit = func(m *Rule) bool {
		switch state[m.Name] {
		case 1:
			problems = append(problems, Problem{File: m.File, Line: m.Line, Rule: m.Name, Msg: "meta rule depends on itself", Warning: true})
			state[m.Name] = 3
			return false
		case 2:
			return true
		case 3:
			return false
		}
		state[m.Name] = 1
		deps := map[string]bool{}
		m.meta.rules(deps)
		names := make([]string, 0, len(deps))
		for d := range deps {
			names = append(names, d)
		}
		sort.Strings(names)
		for _, d := range names {
			if dm, ok := byName[d]; ok {
				if !visit(dm) {
					problems = append(problems, Problem{File: m.File, Line: m.Line, Rule: m.Name, Msg: "skipped: uses meta rule " + d + ", which is skipped", Warning: true})
					state[m.Name] = 3
					return false
				}
				continue
			}
			if _, ok := defs[d]; !ok {
				problems = append(problems, Problem{File: m.File, Line: m.Line, Rule: m.Name, Msg: "skipped: uses " + d + ", which is not defined (or was skipped)", Warning: true})
				state[m.Name] = 3
				return false
			}
		}
		state[m.Name] = 2
		out = append(out, m)
		return true
	}
	for _, m := range metas {
		visit(m)
	}
	return out, problems
}

// needed keeps the rules that can change a score: those scored other than 0 (in
// either score set), and the
// rules the meta rules among them use, transitively. SpamAssassin's stock files define
// many rules that end up with score 0; evaluating them would only cost time.
func (s *Set) needed() []*Rule {
	byName := map[string]*Rule{}
	for _, r := range s.all {
		byName[r.Name] = r
	}
	need := map[string]bool{}
	var mark func(name string)
	mark = func(name string) {
		r, ok := byName[name]
		if !ok || need[name] {
			return
		}
		need[name] = true
		if r.Kind == Meta {
			deps := map[string]bool{}
			r.meta.rules(deps)
			for d := range deps {
				mark(d)
			}
		}
	}
	for _, r := range s.all {
		if s.score[r.Name] != (Scores{}) {
			mark(r.Name)
		}
	}
	var out []*Rule
	for _, r := range s.all {
		if need[r.Name] {
			out = append(out, r)
		}
	}
	return out
}

// Len is the number of rules in the set.
func (s *Set) Len() int { return len(s.all) }

// Running is the number of rules Eval runs (see needed).
func (s *Set) Running() int { return len(s.rules) }

// Rule returns a rule by name.
func (s *Set) Rule(name string) *Rule {
	for _, r := range s.all {
		if r.Name == name {
			return r
		}
	}
	return nil
}

// Scores are a rule's points without Bayes (index 0: SpamAssassin's score set 0,
// used while Bayes gives no probability) and with it (1: score set 2). A rule file
// line with one score sets both.
type Scores [2]float64

// Hit is one rule that matched, and where.
type Hit struct {
	Rule   *Rule
	Score  float64 // with Bayes (score set 2)
	Scores Scores  // both sets; Score is Scores[1]
	Where  string  // the header field, "body", a URI, …
	Match  string  // the matched text (empty for meta rules and exists:)
}

// Eval runs the rules that can change a score on a message. Rules scored 0 and
// sub-rules (__NAME) take part in meta rules but are not reported.
// What matched is not located (Hit.Match is empty): only the score needs the hits.
// An error says the message could not be read whole (its spool failed): the hits
// are then of part of it, and must not decide.
func (s *Set) Eval(m *filter.Message) ([]Hit, error) {
	return s.evalWith(m, s.runPlan, false, nil, nil)
}

// EvalAuthenticated is Eval with what sender authentication found: auth gives
// it (verifying, or waiting for the verification under way) when a rule first
// asks, and only then: the SPF, DKIM, ARC and DMARC evals and the DKIM welcome
// lists (eval_auth.go). auth nil is Eval.
func (s *Set) EvalAuthenticated(m *filter.Message, auth *AuthSource) ([]Hit, error) {
	return s.evalWith(m, s.runPlan, false, nil, auth)
}

// EvalAll runs every rule, needed or not, and says where each hit matched (for
// postern rules test).
func (s *Set) EvalAll(m *filter.Message) ([]Hit, error) {
	return s.evalWith(m, s.allPlan(), true, nil, nil)
}

// withPool lends the set's DFA pool to a plan's unions.
func (s *Set) withPool(p *plan) *plan {
	for _, u := range p.unions {
		u.d.pool = s.pool
	}
	return p
}

// plan is a list of rules to run and what follows from it: the texts they read,
// and the rules without literals grouped into unions. A lazy plan runs only the
// rules that score (its roots, in seqs); the rules that only feed meta rules run
// when a meta rule asks for them, and a meta rule stops asking as soon as its
// answer is known (A && B: B is not run when A missed). Most of SpamAssassin's
// sub-rules then never run on a given message. A plan names its rules by seq:
// whether one is still to run is known without reading it.
type plan struct {
	seqs     []int32 // the rules' seqs (Rule.seq), in the order they run
	needs    map[Kind]bool
	unions   []union  // of the rules without literals that may run
	unionOf  []int32  // by rule seq: the index of its union, or -1
	unionBit []uint32 // by rule seq: its bit in its union's masks
	lazy     bool
}

// newPlan plans to run rules, and then maybe others of mayRun (asked for by meta
// rules); n is the number of rules in the set.
func newPlan(rules, mayRun []*Rule, n int) *plan {
	p := &plan{needs: map[Kind]bool{}, unionOf: make([]int32, n), unionBit: make([]uint32, n)}
	for _, r := range rules {
		p.seqs = append(p.seqs, r.seq)
	}
	for i := range p.unionOf {
		p.unionOf[i] = -1
	}
	var free [Full + 1][2][]*Rule
	for _, r := range mayRun {
		p.needs[r.Kind] = true
		if r.evalFn != nil {
			p.needs[URI] = true // some evals read the links (uri host lists, mailto: addresses)
		}
		if r.lits == nil && r.dfa != nil && (r.Kind == Body || r.Kind == Rawbody || r.Kind == Full) {
			lower := 0
			if r.lower {
				lower = 1
			}
			free[r.Kind][lower] = append(free[r.Kind][lower], r)
		}
	}
	for k := range free {
		for lower, rules := range free[k] {
			for _, u := range newUnions(rules, lower == 1) {
				u.kind, u.lower = Kind(k), lower == 1
				for b, r := range u.rules {
					p.unionOf[r.seq], p.unionBit[r.seq] = int32(len(p.unions)), 1<<b
				}
				p.unions = append(p.unions, u)
			}
		}
	}
	return p
}

// lazyPlan runs the rules that score, and what they use on demand.
func (s *Set) lazyPlan() *plan {
	var roots []*Rule
	for _, r := range s.rules {
		if s.score[r.Name] != (Scores{}) {
			roots = append(roots, r)
		}
	}
	p := newPlan(roots, s.rules, len(s.all))
	p.lazy = true
	return p
}

// A union is one DFA for several rules without literals (which read every
// paragraph): the set DFA of their regexes, with counts loosened
// (newPrefilter), which says which of them may match. One pass over a paragraph
// answers for all of them; only a rule it says may match runs, on its own
// (the loosened counts, and a rule's exact form, may still say no).
type union struct {
	d     *dfa
	rules []*Rule
	kind  Kind
	lower bool // it reads the lower-cased text
}

// unionSize is how many rules share a union DFA: more rules make fewer passes, but
// a DFA whose states grow with the product of its rules' partial matches.
const unionSize = 12

// A union's rules are a bit each of its set DFA's masks.
const _ = uint(maxSetRegexes - unionSize)

// unionMaxInsts bounds the instructions of a union's programs together. A union's
// states are sets of places in all its rules at once, and large rules (the
// form-filling ones: thousands of instructions, each a wide optional prefix of
// common words) multiply each other's: one union of twelve, six of them those,
// built thousands of states over the corpus and was the costliest walk of all.
// Bounded, the check's simulated cache misses fell by a tenth (docs/benchmarks.md,
// "Eighteenth session"). A rule larger than this reads the text on its own.
const unionMaxInsts = 3000

// unionMinRunes is the shortest match a rule in a union may have.
const unionMinRunes = 4

// newUnions groups the rules that read the lower-cased text (lower) or the text as
// it is into unions.
func newUnions(rules []*Rule, lower bool) []union {
	var out []union
	var mine []*Rule
	for _, r := range rules {
		// A rule whose matches can be a character or three (\S, ^\s*\S, e)
		// matches nearly every paragraph: in a union, it would make the union
		// match there too, and its partners run for nothing.
		if sr, err := parseRE(r.source(lower)); err == nil {
			if lo, _ := runeLengths(sr); lo >= unionMinRunes {
				mine = append(mine, r)
			}
		}
	}
	var build func(rs []*Rule) []union
	build = func(rs []*Rule) []union {
		if len(rs) == 0 {
			return nil
		}
		var subs []*syntax.Regexp
		for _, r := range rs {
			re, err := parseREMutable(r.source(lower))
			if err != nil {
				subs = nil
				break
			}
			loosenCounts(re)
			subs = append(subs, re)
		}
		var d *dfa
		if subs != nil && len(rs) > 1 {
			d = newSetDFA(subs)
		}
		if d == nil && len(rs) > 1 { // too many rune classes together: halves
			return append(build(rs[:len(rs)/2]), build(rs[len(rs)/2:])...)
		}
		if d != nil { // (one rule alone is its own union)
			return []union{{d: d, rules: rs}}
		}
		return nil
	}
	// The unions are built side by side (a load's serial path waits on them),
	// and kept in the order of their rules.
	// Rules in the order of their files (neighbours read alike), a union's
	// programs together at most unionMaxInsts.
	var groups [][]*Rule
	size := 0
	for _, r := range mine {
		n := len(r.first().insts) // (its counts loosened, as in the union)
		if len(groups) == 0 || len(groups[len(groups)-1]) >= unionSize || size+n > unionMaxInsts {
			groups = append(groups, nil)
			size = 0
		}
		groups[len(groups)-1] = append(groups[len(groups)-1], r)
		size += n
	}
	parts := make([][]union, len(groups))
	var wg sync.WaitGroup
	slots := make(chan struct{}, runtime.GOMAXPROCS(0))
	for c := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			slots <- struct{}{}
			defer func() { <-slots }()
			parts[c] = build(groups[c])
		}()
	}
	wg.Wait()
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// evalWith evaluates plan p's rules on m; c, when not nil, is told what each
// cost (EvalCosts).
func (s *Set) evalWith(m *filter.Message, p *plan, locate bool, c *Costs, auth *AuthSource) ([]Hit, error) {
	prepared := c.time("(texts prepared, their literals found)")
	t := s.prepare(m, p, locate)
	prepared()
	t.costs, t.auth = c, auth
	sc, _ := s.scratch.Get().(*evalScratch) // (the set's own pool: sized for its rules)
	if sc == nil {
		sc = &evalScratch{state: make([]uint8, len(s.all)), vals: make([]float64, len(s.all)), headers: map[headerKey]headerText{}}
	} else {
		clear(sc.vals)
		clear(sc.headers)
	}
	// The rules that the texts' scans decide are false but for those whose
	// literals the scans found; a header field's are marked when it is scanned
	// (fieldHas).
	copy(sc.state, s.falseState)
	s.decided[Body].unmark(sc.state, t.bodyHits)
	s.decided[Rawbody].unmark(sc.state, t.rawHits)
	s.decided[Full].unmark(sc.state, t.fullHits)
	s.decided[URI].unmark(sc.state, t.uriHits)
	t.state = sc.state
	defer func() {
		if cap(t.runeSlab) <= maxRuneSlab {
			sc.runes = t.runeSlab[:0]
		}
		s.scratch.Put(sc)
	}()
	t.headers = sc.headers
	t.runeSlab = sc.runes
	in := &metaInput{state: sc.state, vals: sc.vals}
	state, vals := in.state, in.vals
	spans, progs := s.metaSpans, s.metaProgs
	var hits []Hit
	value := func(seq int32) float64 {
		switch state[seq] {
		case ruleKnown, ruleFalse:
			return vals[seq]
		case ruleRunning:
			return 0 // a cycle; orderMetas drops them, so never reached
		}
		state[seq] = ruleRunning
		var r *Rule
		var where, match string
		var ok bool
		var f costFrame
		if sp := spans[seq]; sp.n > 0 && c == nil {
			// A meta's program, as r.eval runs it, without reading r.
			if ok = runMeta(progs[sp.off:sp.off+sp.n:sp.off+sp.n], in) != 0; !ok {
				vals[seq], state[seq] = 0, ruleKnown
				return 0
			}
			r, where = s.all[seq], "meta"
		} else {
			r = s.all[seq]
			if c != nil {
				f = c.begin()
			}
			where, match, ok = r.eval(t, in)
		}
		n := 0.0
		if ok {
			n = 1
			if r.maxHits > 0 && r.evalFn == nil {
				n = float64(max(1, t.count(r)))
			}
		}
		if c != nil {
			c.endRule(r, f, ok) // (its count in its own time, not its caller's)
		}
		if ok {
			sc := s.scores[seq]
			sc[0], sc[1] = sc[0]*n, sc[1]*n
			hits = append(hits, Hit{Rule: r, Score: sc[1], Scores: sc, Where: where, Match: match})
		}
		vals[seq], state[seq] = n, ruleKnown
		return n
	}
	in.value = value
	if !p.lazy {
		// The plan runs every rule before the metas that read it.
		in.value = func(seq int32) float64 { return vals[seq] }
	}
	for _, seq := range p.seqs {
		if state[seq] == ruleUnknown { // (without reading its Rule: see decided)
			value(seq)
		}
	}
	return hits, t.err
}

// evalScratch is the state and value of each rule of a set while a message is
// evaluated: some 20 KB a message, made afresh each time before.
type evalScratch struct {
	state []uint8
	vals  []float64
	// headers is the target's cache of header texts: a map of a few hundred
	// entries, grown afresh for each message, was a twentieth of the check's
	// garbage. Nothing keeps the target's maps after eval.
	headers map[headerKey]headerText
	// runes is the target's rune slab (runesOf): nothing keeps the texts'
	// runes after eval either (regexp2 only reads them during a match).
	runes []rune
}

// maxHits reads tflags multiple (the rule counts its matches: meta rules see the
// count, and each adds the score) and maxhits=N (at most N); 0 when not multiple.
func maxHits(tf map[string]bool) int {
	if !tf["multiple"] {
		return 0
	}
	for f := range tf {
		if v, ok := strings.CutPrefix(f, "maxhits="); ok {
			if n, err := strconv.Atoi(v); err == nil && n > 0 {
				return n
			}
		}
	}
	return 1000
}

// count counts the matches of a rule with tflags multiple, up to its maxhits.
func (t *target) count(r *Rule) int {
	n := 0
	lower := r.lower
	add := func(text string) {
		if r.literal != "" && n < r.maxHits {
			for i := 0; n < r.maxHits; n++ {
				j := strings.Index(text[i:], r.literal)
				if j < 0 {
					break
				}
				i += j + len(r.literal)
			}
			return
		}
		if r.countClass != nil {
			n += r.countClass.count(text, r.maxHits-n)
			return
		}
		if r.lineCount != nil {
			n += r.lineCount.count(text, r.maxHits-n)
			return
		}
		if (r.fixed > 0 || r.countSrc != "") && r.starts != nil && n < r.maxHits {
			if c, ok := r.countFixed(text, r.maxHits-n); ok {
				n += c
				return
			}
		}
		if r.exactAll != nil {
			if !r.matchesRelaxed(text) {
				return // (the relaxed form matches wherever the exact one does)
			}
			if r.starts != nil {
				if c, ok := r.countExactDFA(t, text, r.maxHits-n); ok {
					n += c
					return
				}
			}
			next := func(m *regexp2.Match) (*regexp2.Match, error) {
				return backtrack(t, r, false, func(re *regexp2.Regexp) (*regexp2.Match, error) {
					if m == nil {
						return re.FindStringMatch(text)
					}
					return re.FindNextMatch(m)
				})
			}
			for m, err := next(nil); err == nil && m != nil && n < r.maxHits; m, err = next(m) {
				n++
			}
			return
		}
		if n < r.maxHits {
			n += len(r.regexpFor(lower).FindAllStringIndex(text, r.maxHits-n))
		}
	}
	switch r.Kind {
	case Body:
		// Only the paragraphs where eval would look: those that hold a literal
		// of the rule, or where its union may match.
		lines := t.bodyLines
		if lower {
			lines = t.bodyLowerLines
		}
		for i := range t.paragraphsFor(r) {
			add(lines[i])
		}
	case Rawbody:
		if lower {
			add(t.rawbodyLower)
		} else {
			add(t.rawbody)
		}
	case Full:
		if lower {
			add(t.fullLower)
		} else {
			add(t.full)
		}
	case URI:
		for _, u := range t.uris {
			add(u)
		}
	case Header:
		if r.MIME {
			for _, v := range t.mimeValues(r.Field, r.Mod == "raw") {
				add(v.value)
			}
		} else if !r.Negate && !r.Exists {
			if f := t.field(r.field); f.present {
				add(f.value)
			}
		}
	}
	return n
}

// prepareCount readies counting the matches of a rule with tflags multiple (some
// count characters: __LOWER_E, __E_LIKE_LETTER, up to hundreds of matches a
// message) without the regexp searching the text: an anchored DFA tried at each
// place, the next try after a match's end, finds them as the regexp's
// leftmost-first search would, for a lookup or two per place. The end is known
// when every match has the same length; otherwise the regexp, anchored where a
// match starts, says it.
func (r *Rule) prepareCount() {
	src := r.source(r.lower)
	if r.maxHits == 0 || r.exactAll != nil || src == "" || r.dfa == nil {
		return
	}
	sr, err := syntax.Parse(src, syntax.Perl) // after loading: not cached
	if err != nil {
		return
	}
	if sr.Op == syntax.OpLiteral && sr.Flags&syntax.FoldCase == 0 {
		r.literal = string(sr.Rune) // strings.Count's work
		return
	}
	if r.countClass = classCountOf(sr); r.countClass != nil {
		return
	}
	if r.lineCount = lineCountOf(sr); r.lineCount != nil {
		return
	}
	lo, hi := runeLengths(sr)
	if lo == 0 {
		return // empty matches
	}
	if r.starts == nil {
		r.starts = anchoredOf(r.dfa)
	}
	if r.starts != nil {
		r.fixed, r.countMax, r.countLines = hi, hi, mostNewlines(sr)
		if lo != hi {
			// Where a match is known to start, the regexp anchored there, given
			// the rune before, says how long the leftmost-first one is
			// (countRegexp).
			r.fixed, r.countSrc = 0, src
		}
	}
}

// countRegexp is countSrc anchored where a match starts, compiled the first
// time a count needs it; nil if it does not compile. With after, the text it
// reads starts with the rune before the match, which (?s:.) takes, so that an
// assertion where the match starts (^, \b) sees what the rule's would. The rule's
// own source compiles: a regex without its leading assertions, which reading
// from the match needed, was a tree to turn back into a string, and String() of
// the look-alike classes of ReplaceTags' rules, case-folded rune by rune, took
// 60 ms of the start-up when compiled at load, and about 10 ms of a new
// process's first messages after.
func (r *Rule) countRegexp(after bool) *regexp.Regexp {
	k, prefix := 0, `\A(?:`
	if after {
		k, prefix = 1, `\A(?s:.)(?:`
	}
	r.countOnce[k].Do(func() {
		if from, err := regexp.Compile(prefix + r.countSrc + `)`); err == nil {
			r.countFrom[k] = from
		}
	})
	return r.countFrom[k]
}

// mostNewlines is the most newlines a match of re holds, -1 if there is no bound.
func mostNewlines(re *syntax.Regexp) int {
	return most(re, func(re *syntax.Regexp) int {
		switch re.Op {
		case syntax.OpLiteral:
			return strings.Count(string(re.Rune), "\n")
		case syntax.OpCharClass:
			for i := 0; i+1 < len(re.Rune); i += 2 {
				if re.Rune[i] <= '\n' && '\n' <= re.Rune[i+1] {
					return 1
				}
			}
		case syntax.OpAnyChar:
			return 1
		}
		return 0
	})
}

// most is the most a match of re has of what reading one of its literals,
// classes or any-characters (leaf) has: summed along the match, -1 if there is
// no bound (mostNewlines, mostBytes).
func most(re *syntax.Regexp, leaf func(*syntax.Regexp) int) int {
	switch re.Op {
	case syntax.OpLiteral, syntax.OpCharClass, syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		return leaf(re)
	case syntax.OpCapture, syntax.OpQuest:
		return most(re.Sub[0], leaf)
	case syntax.OpConcat, syntax.OpAlternate:
		n := 0
		for _, sub := range re.Sub {
			m := most(sub, leaf)
			switch {
			case m < 0:
				return -1
			case re.Op == syntax.OpConcat:
				n += m
			default:
				n = max(n, m)
			}
		}
		return n
	case syntax.OpStar, syntax.OpPlus, syntax.OpRepeat:
		m := most(re.Sub[0], leaf)
		switch {
		case m == 0:
			return 0
		case m < 0 || re.Op != syntax.OpRepeat || re.Max < 0:
			return -1
		}
		return m * re.Max
	}
	return 0 // assertions, the empty string, no match
}

// throughNewlines is s up to its n-th newline and that newline; all of s if it
// holds fewer.
func throughNewlines(s string, n int) string {
	end := 0
	for ; n > 0; n-- {
		j := strings.IndexByte(s[end:], '\n')
		if j < 0 {
			return s
		}
		end += j + 1
	}
	return s[:end]
}

// runeLengths are the least and most runes a regex's matches have (hi -1: no bound).
func runeLengths(re *syntax.Regexp) (lo, hi int) {
	switch re.Op {
	case syntax.OpLiteral:
		return len(re.Rune), len(re.Rune)
	case syntax.OpCharClass, syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		return 1, 1
	case syntax.OpCapture:
		return runeLengths(re.Sub[0])
	case syntax.OpConcat:
		for _, sub := range re.Sub {
			l, h := runeLengths(sub)
			lo += l
			if hi >= 0 && h >= 0 {
				hi += h
			} else {
				hi = -1
			}
		}
		return lo, hi
	case syntax.OpAlternate:
		lo, hi = -1, 0
		for _, sub := range re.Sub {
			l, h := runeLengths(sub)
			if lo < 0 || l < lo {
				lo = l
			}
			if hi >= 0 && (h < 0 || h > hi) {
				hi = h
			}
		}
		return max(lo, 0), hi
	case syntax.OpStar:
		return 0, -1
	case syntax.OpPlus:
		l, _ := runeLengths(re.Sub[0])
		return l, -1
	case syntax.OpQuest:
		_, h := runeLengths(re.Sub[0])
		return 0, h
	case syntax.OpRepeat:
		l, h := runeLengths(re.Sub[0])
		if re.Max < 0 || h < 0 {
			return l * re.Min, -1
		}
		return l * re.Min, h * re.Max
	}
	return 0, 0 // empty-width assertions, the empty string
}

// countFixed counts up to limit matches of a rule prepared by prepareCount; ok is
// false when the DFA gave up.
func (r *Rule) countFixed(text string, limit int) (n int, ok bool) {
	st := r.starts.beginRun(len(text))
	prev := rune(-1)
	for i := 0; i < len(text) && n < limit; {
		if i, _, prev = st.skipDead(text, i, 0, prev); i >= len(text) {
			break
		}
		m, ok := st.matchFrom(text, i, prev)
		if !ok {
			return 0, false
		}
		steps := 1
		if m {
			n++
			steps = r.fixed
			if r.fixed == 0 {
				// A match of at most countMax runes, and the rune after it (for
				// \b or $ at its end), lie within 4 bytes a rune: the regexp reads
				// no further. Given the rest of the text, Go's backtracker clears a
				// visited set that grows with it, for every match counted.
				// Nor past the line end after the most newlines a match holds
				// (.*? in a line): a match that reached that cut would hold one
				// newline more.
				rest := text[i:]
				if r.countMax >= 0 && len(rest) > 4*(r.countMax+1) {
					rest = rest[:4*(r.countMax+1)]
				}
				if r.countLines >= 0 {
					rest = throughNewlines(rest, r.countLines+1)
				}
				before := 0 // the rune before the match, which the regexp reads first
				if i > 0 {
					_, before = utf8.DecodeLastRuneInString(text[:i])
				}
				from := r.countRegexp(before > 0)
				if from == nil {
					return 0, false
				}
				if loc := from.FindStringIndex(text[i-before : i+len(rest)]); loc != nil && loc[1] > before {
					end := i - before + loc[1]
					c, _ := utf8.DecodeLastRuneInString(text[:end])
					prev, i = c, end
					continue
				}
			}
		}
		for ; steps > 0 && i < len(text); steps-- {
			c, size := utf8.DecodeRuneInString(text[i:])
			prev, i = c, i+size
		}
	}
	return n, true
}

// prepare makes the target rules read: the texts, and the literals they hold.
func (s *Set) prepare(m *filter.Message, p *plan, locate bool) *target {
	needs := p.needs
	t := newTarget(m, needs, s)
	t.locate = locate
	if t.freemailStripsBody() {
		t.stripBodyAddresses()
	}
	// One pass per text finds every rule's literals (see literalIndex).
	t.bodyHits = s.index[Body].scan(t.bodyLower)
	if needs[Rawbody] {
		t.rawHits = s.index[Rawbody].scan(t.rawbodyLower)
	}
	if needs[Full] {
		t.fullHits = s.index[Full].scan(t.fullLower)
	}
	if needs[URI] {
		// One URI per line (URIs hold no newline, findURIs stops at space).
		t.uriHits = s.index[URI].scan(strings.ToLower(strings.Join(t.uris, "\n")))
	}
	t.plan = p
	t.uhits = make([][]uint32, len(p.unions))
	return t
}

// mayMatch reports whether rule r may match the i-th text its union reads (the
// i-th paragraph for body rules; 0 for rawbody and full rules, of the one text):
// true for a rule in no union.
func (t *target) mayMatch(r *Rule, i int) bool {
	u := t.plan.unionOf[r.seq]
	return u < 0 || t.unionHits(u)[i]&t.plan.unionBit[r.seq] != 0
}

// unionHits says, paragraph by paragraph (for rawbody and full rules, of the one
// text), which rules of union i may match, a bit each (plan.unionBit): worked
// out the first time one of them is asked for.
func (t *target) unionHits(i int32) []uint32 {
	if h := t.uhits[i]; h != nil {
		return h
	}
	pj := -1 // the union walked along, if any
	if t.costs != nil {
		f := t.costs.begin()
		defer func() { t.costs.end(t.plan.unionName(int(i), pj), f, false) }()
	}
	u := &t.plan.unions[i]
	var texts []string
	switch {
	case u.kind == Body && u.lower:
		texts = t.bodyLowerLines
	case u.kind == Body:
		texts = t.bodyLines
	case u.kind == Rawbody && u.lower:
		texts = []string{t.rawbodyLower}
	case u.kind == Rawbody:
		texts = []string{t.rawbody}
	case u.lower:
		texts = []string{t.fullLower}
	default:
		texts = []string{t.full}
	}
	// Another union of the same texts not worked out yet walks them along
	// (matchSetPair): nearly every union is asked for on every message, and two
	// walks together cost little more than one.
	var pair *union
	var ph []uint32
	for j := range t.plan.unions {
		if v := &t.plan.unions[j]; int32(j) != i && t.uhits[j] == nil && v.kind == u.kind && v.lower == u.lower {
			pair, ph, pj = v, make([]uint32, len(texts)), j
			t.uhits[j] = ph
			break
		}
	}
	h := make([]uint32, len(texts))
	for j, s := range texts {
		if pair == nil {
			m, ok := u.d.matchSet(s)
			h[j] = u.d.mayMatch(m, ok)
			continue
		}
		m, ok, pm, pok := matchSetPair(u.d, pair.d, s)
		h[j], ph[j] = u.d.mayMatch(m, ok), pair.d.mayMatch(pm, pok)
	}
	t.uhits[i] = h
	return h
}

// DFACache reports how many DFA states the set's rules have built so far, and the
// bytes of their transition tables: memory that grows with the mail seen, up to a
// budget per rule.
func (s *Set) DFACache() (states, bytes int) {
	s.eachMemory(func(m Memory) { states, bytes = states+m.States, bytes+m.Bytes })
	return states, bytes
}

// Memory is what one rule's automata hold, or one union's (the rules without
// literals walked together): the states they learned, and their transition
// tables' bytes, most of the memory that grows with the mail a set reads.
type Memory struct {
	Name   string // a rule's, or in parentheses a union's
	States int
	Bytes  int
}

// Memory lists what each rule's automata (its DFA, its prefilter and its
// anchored form for counting) and each union hold, the largest first: for an
// operator whose filter's memory grows, the rules that hold it (postern rules
// cost).
func (s *Set) Memory() []Memory {
	var out []Memory
	s.eachMemory(func(m Memory) { out = append(out, m) })
	slices.SortStableFunc(out, func(a, b Memory) int { return cmp.Compare(b.Bytes, a.Bytes) })
	return out
}

// eachMemory calls f with each rule's and each union's Memory, for those that
// have an automaton.
func (s *Set) eachMemory(f func(Memory)) {
	add := func(name string, ds ...*dfa) {
		m, has := Memory{Name: name}, false
		for _, d := range ds {
			if d != nil {
				n, b := d.cache()
				m.States, m.Bytes, has = m.States+n, m.Bytes+b, true
			}
		}
		if has {
			f(m)
		}
	}
	for _, r := range s.all {
		add(r.Name, r.dfa, r.pre, r.starts)
	}
	for i, u := range s.runPlan.unions {
		add(s.runPlan.unionName(i, -1), u.d)
	}
}

// Score is a rule's score in this set, with Bayes (score set 2).
func (s *Set) Score(name string) float64 { return s.score[name][1] }

// Scores is a rule's score without and with Bayes.
func (s *Set) Scores(name string) Scores { return s.score[name] }

func (r *Rule) eval(t *target, in *metaInput) (where, match string, ok bool) {
	if r.evalFn != nil {
		t.evalKind = r.Kind
		return "eval", "", r.evalFn(t)
	}
	switch r.Kind {
	case Meta:
		var v float64
		if r.metaProg != nil {
			v = runMeta(r.metaProg, in)
		} else {
			v = r.meta.eval(in)
		}
		return "meta", "", v != 0
	case Header:
		return r.evalHeader(t)
	case URI:
		if r.lits != nil { // only the URIs that hold one of its literals
			for _, i := range t.uriHits.lines(r.litIDs) {
				if int(i) >= len(t.uris) {
					break // (a link holds no newline: the index counts one a line)
				}
				if u := t.uris[i]; r.matches(t, u) {
					return u, t.find(r, u), true
				}
			}
			return "", "", false
		}
		for _, u := range t.uris {
			if r.matches(t, u) {
				return u, t.find(r, u), true
			}
		}
		return "", "", false
	}
	text, lower, hits := t.body, t.bodyLower, t.bodyHits
	switch r.Kind {
	case Rawbody:
		text, lower, hits = t.rawbody, t.rawbodyLower, t.rawHits
	case Full:
		text, lower, hits = t.full, t.fullLower, t.fullHits
	}
	if r.Kind != Body {
		if !t.mayMatch(r, 0) || r.lits != nil && !hits.any(r.litIDs) {
			return "", "", false // prefilter: no literal a match needs is in the text
		}
		if r.lits != nil && r.oneLine {
			if !t.onLines(r, hits, text, lower) {
				return "", "", false
			}
			if r.answeredByLines() && !t.locate {
				return r.Kind.String(), "", true
			}
		}
		return t.matchText(r, text, lower)
	}
	// Body rules run paragraph by paragraph, as SpamAssassin's do: a match cannot span
	// paragraphs. (Rawbody rules see the whole text: SpamAssassin's match across
	// lines, within the pieces writeChunks cuts.) A rule with literals runs only on
	// the paragraphs where one of them is.
	for i := range t.paragraphsFor(r) {
		if where, match, ok := t.matchText(r, t.bodyLines[i], t.bodyLowerLines[i]); ok {
			return where, match, true
		}
	}
	return "", "", false
}

// paragraphsFor yields the body paragraphs a body rule reads, in order: those
// that hold one of its literals, or where its union may match; after the
// Subject's for a rule with tflags nosubject.
func (t *target) paragraphsFor(r *Rule) iter.Seq[int] {
	from := 0
	if r.noSubject {
		from = min(t.subjectLines, len(t.bodyLines))
	}
	return func(yield func(int) bool) {
		if r.lits != nil {
			for _, i := range t.bodyHits.lines(r.litIDs) {
				if int(i) >= from && !yield(int(i)) {
					return
				}
			}
			return
		}
		for i := from; i < len(t.bodyLines); i++ {
			if t.mayMatch(r, i) && !yield(i) {
				return
			}
		}
	}
}

// onLines reports whether a rule whose matches never span lines (oneLine) can
// match one of the lines of a rawbody or full text where its literals are. A
// rawbody rule reads the whole text (SpamAssassin's match across lines), and the
// common literals of HTML rules (href, <font) make it read all of it; most of
// those regexes cannot match a newline, so the lines that hold a literal are all
// they need. For a backtracking rule, a match there is looked for again in the
// whole text (by matchText: its exact form may look across lines).
func (t *target) onLines(r *Rule, hits litHits, text, lower string) bool {
	s := text
	if r.lower {
		s = lower
	}
	which := 0 // rawbody, rawbody lower-cased, full, full lower-cased
	if r.Kind == Full {
		which = 2
	}
	if r.lower {
		which++
	}
	if t.lines[which] == nil {
		t.lines[which] = lineStarts(s)
	}
	return r.matchesLines(s, t.lines[which], hits.lines(r.litIDs))
}

// answeredByLines reports whether, for a rule that cannot match across lines
// (oneLine), a match of its relaxed regex on a line of its text is the rule's:
// the match lies on the line, and what is around a line changes no assertion
// the regex may make (\b and (?m)^ and $ read a newline as a text's end). Not so
// for an exact (backtracking) form, which may look across lines, nor for native
// code, which answers for the text as a whole.
func (r *Rule) answeredByLines() bool {
	return r.exactAll == nil && r.native == nil && r.nativeText == nil
}

// matchesLines reports whether the relaxed regex matches one of the lines of s
// numbered in lines, starts being where the lines of s begin.
func (r *Rule) matchesLines(s string, starts []int, lines []int32) bool {
	for _, i := range lines {
		if int(i) >= len(starts) {
			return true // (cannot happen: the same lines; the whole text decides)
		}
		end := len(s)
		if int(i)+1 < len(starts) {
			end = starts[i+1] - 1 // before the '\n'
		}
		if r.matchesRelaxed(s[starts[i]:end]) {
			return true
		}
	}
	return false
}

// lineStarts are the offsets where the lines of s begin.
func lineStarts(s string) []int {
	l := []int{0}
	for i := strings.IndexByte(s, '\n'); i >= 0; {
		l = append(l, i+1)
		j := strings.IndexByte(s[i+1:], '\n')
		if j < 0 {
			break
		}
		i += 1 + j
	}
	return l
}

// matchesRelaxed is matches without the exact form: whether the relaxed regex
// (the rule itself when it has no exact form) matches s.
func (r *Rule) matchesRelaxed(s string) bool {
	if r.plain != "" {
		return strings.Contains(s, r.plain)
	}
	if r.pre != nil {
		if m, ok := r.pre.match(s); ok && !m {
			return false
		}
	}
	if r.dfa != nil {
		if m, ok := r.dfa.match(s); ok {
			return m
		}
	}
	return r.regexpFor(r.lower).MatchString(s)
}

// matchText runs a rule's regex on a text, on its lower-cased form when the rule is
// case-insensitive throughout (see caseFree).
func (t *target) matchText(r *Rule, text, lower string) (string, string, bool) {
	s := text
	if r.lower {
		s = lower
	}
	if !r.matches(t, s) {
		return "", "", false
	}
	return r.Kind.String(), t.find(r, text), true // report the original text
}

// find locates a match of r in s, when the caller wants to know where.
func (t *target) find(r *Rule, s string) string {
	if !t.locate {
		return ""
	}
	if r.exactAll != nil {
		m, err := backtrack(t, r, false, func(re *regexp2.Regexp) (*regexp2.Match, error) {
			return re.FindStringMatch(s)
		})
		if err == nil && m != nil {
			return m.String()
		}
		return ""
	}
	if loc := r.regexp().FindStringIndex(s); loc != nil {
		return s[loc[0]:loc[1]]
	}
	return ""
}

// matches reports whether the rule's regex for s (lowerRe when s is lower-cased
// text, re otherwise) matches, asking the DFA first: matching is most of the work and
// a miss the common answer; the regexp runs again only to locate a hit.
func (r *Rule) matches(t *target, s string) bool {
	if r.plain != "" {
		return strings.Contains(s, r.plain)
	}
	if r.native != nil {
		return r.native(t.runesOf(s))
	}
	if r.nativeText != nil {
		return r.nativeText(s)
	}
	if r.exactAll != nil && r.exactOnly.Load() {
		// Before the prefilter too: it matches wherever the relaxed form does,
		// which is most texts for these rules, so its walk would only add to
		// the backtracking engine's, which finds its starts by its first word.
		return r.matchRunes(t, s)
	}
	m, decided := false, false
	if r.pre != nil {
		if m, decided = r.pre.match(s); decided && !m {
			return false
		}
	}
	if r.dfa != nil {
		m, decided = r.dfa.match(s)
	}
	if !decided {
		m = r.regexpFor(r.lower).MatchString(s)
	}
	if r.leadWord {
		r.noteRelaxed(m)
	}
	if m && r.exactAll != nil {
		m = r.matchExact(t, s)
	}
	return m
}

// noteRelaxed counts how often a backtracking rule's relaxed form matches. Where
// it matches most texts, and the exact form starts with a word the backtracking
// engine looks for by itself, the automata only add walks over the text before
// that engine runs anyway: the rule then goes straight to its exact form. Such are
// the header rules that compare two fields (__SUBJ_HAS_TO_2: any Received line
// with "for", then any Subject, satisfies the relaxed form), whose automata are
// also among the largest, a megabyte of transitions that misses the CPU's caches.
// The answers are the same either way; only the work differs.
func (r *Rule) noteRelaxed(matched bool) {
	if r.relaxedTries.Load() >= relaxedSample {
		return // decided: no more writes to counters every core shares
	}
	if matched {
		r.relaxedHits.Add(1)
	}
	if r.relaxedTries.Add(1) == relaxedSample && 2*r.relaxedHits.Load() >= relaxedSample {
		r.exactOnly.Store(true)
	}
}

// leadingLiteral says whether every match of a backtracking pattern starts with
// the same four literal characters or more (after its flags and a ^): a word, or
// a header's name as the rules that compare two fields write it ("\nTo: "). The
// engine then looks for that string, rather than trying the pattern at every
// character.
func leadingLiteral(src string) bool {
	spaces := true // a space is a literal character, but not under (?x)
	if strings.HasPrefix(src, "(?") {
		if i := strings.IndexByte(src, ')'); i > 0 && strings.Trim(src[2:i], "imsx") == "" {
			spaces = !strings.Contains(src[2:i], "x")
			src = src[i+1:]
		}
	}
	if topLevelAlternation(src) {
		return false // each branch starts its own way
	}
	src = strings.TrimPrefix(src, "^")
	n, i := 0, 0
	if strings.HasPrefix(src, `\n`) {
		n, i = 1, 2
	}
	for ; i < len(src); i++ {
		c := src[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == ':' || c == '-' || c == '_' || c == '@' || c == ' ' && spaces) {
			break
		}
		n++
	}
	if i < len(src) && strings.IndexByte("?*{", src[i]) >= 0 {
		n-- // the last one may be absent
	}
	return n >= 4
}

// topLevelAlternation says whether a pattern has a | outside every group and
// class.
func topLevelAlternation(src string) bool {
	depth, class := 0, false
	for i := 0; i < len(src); i++ {
		switch c := src[i]; {
		case c == '\\':
			i++
		case class:
			class = c != ']'
		case c == '[':
			class = true
			if i+1 < len(src) && src[i+1] == ']' {
				i++ // []...] holds a ]
			}
		case c == '(':
			depth++
		case c == ')':
			depth--
		case c == '|' && depth == 0:
			return true
		}
	}
	return false
}

// relaxedSample is how many texts decide whether a rule skips its relaxed form.
const relaxedSample = 64

// maxCandidates bounds the places one text is tried at by the exact form of a
// rule; past it, the whole text is searched once.
const maxCandidates = 256

// matchExact runs a backtracking rule's exact form where its relaxed form says a
// match could start: every match of the exact form starts where one of the
// relaxed form does (it consumes the same text; only the look-arounds,
// backreferences and the like that the relaxed form dropped can fail it). So the
// exact form is tried, anchored, at those places only, rather than at every
// character of the text. A try that runs out of time counts as no match. Without
// the places (no DFA, or it gave up), the exact form searches the whole text.
func (r *Rule) matchExact(t *target, s string) bool {
	if r.starts != nil {
		if n, ok := r.countExactDFA(t, s, 1); ok {
			return n > 0
		}
	}
	return r.matchRunes(t, s)
}

// matchRunes asks the exact form whether it matches anywhere in s.
func (r *Rule) matchRunes(t *target, s string) bool {
	runes := t.runesOf(s)
	m, _ := backtrack(t, r, false, func(re *regexp2.Regexp) (bool, error) {
		return re.MatchRunes(runes)
	})
	return m
}

// countExactDFA counts a backtracking rule's matches as FindNextMatch would, up to
// limit (matchExact asks for one): its exact form is tried, anchored, only where
// the anchored DFA of its relaxed form says a match starts, a lookup or two per
// place for most rules, and the next try is after a match's end. Asking regexp2
// for each next match costs tens of nanoseconds a byte (the obfuscation rules'
// relaxed forms match the plain word their look-ahead excludes), and its scan of a
// whole rawbody to count __FILL_THIS_FORM_PARTIAL_RAW was the costliest count.
// ok is false when the DFA gave up, or the relaxed form starts at too many places
// where the exact one does not: the caller then asks regexp2 alone. A try that
// runs out of time ends the count, as it ends FindNextMatch's.
//
// The text is converted to runes (for the backtracking engine) only at the first
// place: for most texts the relaxed form's match starts nowhere the anchored DFA
// confirms, and the conversion (4 bytes a character) was a twentieth of the
// check's allocation.
func (r *Rule) countExactDFA(t *target, s string, limit int) (n int, ok bool) {
	if r.exactAt() == nil {
		return 0, false
	}
	var runes []rune
	st := r.starts.beginRun(len(s))
	prev, ri, misses := rune(-1), 0, 0
	for i := 0; n < limit; {
		i, ri, prev = st.skipDead(s, i, ri, prev)
		m, ok := st.matchFrom(s, i, prev)
		if !ok {
			return 0, false
		}
		steps := 1 // runes to the next place to try
		if m {
			if runes == nil {
				runes = t.runesOf(s)
			}
			x, err := backtrack(t, r, true, func(re *regexp2.Regexp) (*regexp2.Match, error) {
				return re.FindRunesMatchStartingAt(runes, ri)
			})
			switch {
			case err != nil:
				return n, true
			case x != nil:
				n++
				steps = max(1, x.Length) // (after an empty match, the next rune)
			default:
				if misses++; misses >= maxCandidates {
					return 0, false
				}
			}
		}
		if i >= len(s) {
			break
		}
		for ; steps > 0 && i < len(s); steps-- {
			c, size := utf8.DecodeRuneInString(s[i:])
			prev, i, ri = c, i+size, ri+1
		}
	}
	return n, true
}

// runesOf converts a text for the backtracking engine once per message: several
// rules read the same paragraph. (Keyed by the text itself: a key by its address
// could meet another text of the same length at an address reused after GC.)
func (t *target) runesOf(s string) []rune {
	if r, ok := t.runes[s]; ok {
		return r
	}
	if t.runes == nil {
		t.runes = map[string][]rune{}
	}
	// Room for a rune a byte, the most there can be: counting them first was
	// a second pass over the text.
	n := len(s)
	if cap(t.runeSlab)-len(t.runeSlab) < n {
		// A new slab; the texts already converted keep the old one.
		t.runeSlab = make([]rune, 0, max(n, 2*cap(t.runeSlab), 4096))
	}
	start := len(t.runeSlab)
	room := t.runeSlab[start : start+n]
	// Written in place, ASCII without decoding: an append a rune (a bounds
	// check and a length each) was most of the conversion's instructions.
	k := 0
	for i := 0; i < len(s); k++ {
		if c := s[i]; c < utf8.RuneSelf {
			room[k] = rune(c)
			i++
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:]) // (as []rune(s): an invalid byte is U+FFFD)
		room[k] = c
		i += size
	}
	t.runeSlab = t.runeSlab[:start+k]
	r := room[:k:k]
	t.runes[s] = r
	return r
}

// maxRuneSlab is the largest rune slab an evalScratch keeps for the next
// message (runes): a message with megabytes of text to convert does not leave
// its slab to every later one.
const maxRuneSlab = 1 << 18

// first is the DFA asked first: the prefilter when there is one.
func (r *Rule) first() *dfa {
	if r.pre != nil {
		return r.pre
	}
	return r.dfa
}

// regexpFor is the regex the DFA stands for: lowerRe for lower-cased text.
func (r *Rule) regexpFor(lower bool) *regexp.Regexp {
	if lower {
		// (It parsed when the rule loaded, and a parsed regex always compiles.)
		r.lowerOnce.Do(func() { r.lowerRe = regexp.MustCompile(r.lowerSrc) })
		return r.lowerRe
	}
	return r.regexp()
}

// source is regexpFor's regex as written, without compiling it.
func (r *Rule) source(lower bool) string {
	switch {
	case lower:
		return r.lowerSrc
	case r.re != nil:
		return r.re.String()
	}
	return r.reSrc
}

// regexp is the rule's regex for the text as it is (re), compiled now if it was
// left for later. An empty source is a regex too: `header A Subject =~ //`
// matches every text, as SpamAssassin's compiled qr// does.
func (r *Rule) regexp() *regexp.Regexp {
	r.reOnce.Do(func() {
		if r.re == nil {
			r.re = regexp.MustCompile(r.reSrc)
		}
	})
	return r.re
}

func (r *Rule) evalHeader(t *target) (string, string, bool) {
	if r.MIME {
		for _, v := range t.mimeValues(r.Field, r.Mod == "raw") {
			if (r.lits == nil || containsAny(v.lower, r.lits)) && r.matches(t, v.value) {
				return r.Field, t.find(r, v.value), true
			}
		}
		return "", "", false
	}
	if r.Exists {
		_, present := t.headerValue(r.Field, "raw") // ToCc, MESSAGEID too
		return r.Field, "", present
	}
	f := t.field(r.field)
	value, present, may := f.value, f.present, true
	// The literal prefilter, as for texts: no literal a match needs, no match.
	if !present && r.IfUnset != "" {
		value = r.IfUnset
		may = r.lits == nil || containsAny(strings.ToLower(value), r.lits)
	} else if r.lits != nil {
		may = t.fieldHas(r.field, r.litIDs)
	}
	var m bool
	if may && r.lits != nil && present && r.oneLine {
		// As for a rawbody rule (onLines): the lines holding a literal answer,
		// not the whole value. The rules on ALL whose literals every header
		// holds (from:, to:, date:) read a line or two, not the whole header.
		if f.starts == nil {
			f.starts = lineStarts(value)
		}
		m = r.matchesLines(value, f.starts, f.hits.lines(r.litIDs))
		if m && !r.answeredByLines() {
			m = r.matches(t, value)
		}
	} else {
		m = may && r.matches(t, value)
	}
	if r.Negate {
		return r.Field, "", !m
	}
	if !m {
		return "", "", false
	}
	return r.Field, t.find(r, value), true
}

// target is a message prepared once for every rule: its texts in the forms the rule
// kinds read (docs/rules.md).
type target struct {
	evalCache
	err   error             // the message could not be read whole (readFull)
	runes map[string][]rune // texts converted for backtracking rules
	// runeSlab holds the runes of runes' texts, reused from message to message
	// (evalScratch): a tenth of the check's garbage was these conversions.
	runeSlab     []rune
	renderedHTML map[int]string // text/html parts rendered, by index in Parts
	set          *Set
	msg          *filter.Message
	header       message.Header
	body         string // Subject, then decoded text parts, HTML rendered
	bodyLower    string
	rawbody      string // decoded text parts, HTML as is, in SpamAssassin's chunks (writeChunks)
	rawbodyLower string
	// rawbodyAdded is the newlines rawbody holds that SpamAssassin's pieces do
	// not: writeChunks' at its cuts, and the one after each part (SpamAssassin
	// puts nothing between parts; here a line ends with its part).
	rawbodyAdded int
	full         string // the raw message
	fullLower    string
	uris         []string // the links uri rules read
	hostURIs     []string // those and the DKIM signing domains: what the URI host lists read (setURIs)
	locate       bool     // say what matched (Hit.Match)
	// auth gives what sender authentication found; nil without it. signatures
	// and authentication ask it once.
	auth        *AuthSource
	sigsRes     []DKIMSignature
	sigsDone    bool
	authRes     *Authentication
	authDone    bool
	backtracked bool // a backtracking match outlasted its retry (backtrack)

	// Which rule literals each text holds, and in which lines.
	bodyHits, rawHits, fullHits litHits

	// The body paragraph by paragraph, and its lower-cased form likewise.
	bodyLines, bodyLowerLines []string
	// unstrippedBody is body as rendered, when FreeMail's _parse_body stripped
	// body (freemailStripsBody); "" otherwise.
	unstrippedBody string
	replyFM        *replyFreemails // (computed once: replyFreemails)
	subjectLines   int             // the paragraphs the Subject takes, first

	// The plan running, and where its unions may match (unionHits), by union.
	plan  *plan
	uhits [][]uint32

	state   []uint8                    // of each rule, by seq, while a set's eval runs
	headers map[headerKey]headerText   // as read so far
	fields  []fieldText                // by Rule.field-1, as read so far
	mimeHdr map[headerKey][]headerText // mimeheader rules' values, as read so far
	lines   [4][]int                   // line starts of the rawbody and full texts (onLines)
	uriHits litHits                    // literals of uri rules, by URI (line)
	costs   *Costs                     // told what the shared analyses cost (EvalCosts); nil: not timed
}

const maxFull = 1 << 20 // bytes of the raw message that full rules read

// scanSizes are SpamAssassin's body_part_scan_size and rawbody_part_scan_size: the
// bytes of each text part that body and rawbody rules read (0: all of it).
type scanSizes struct{ body, rawbody int }

// defaultScanSizes are SpamAssassin's defaults. A spammer gains nothing by hiding
// his words past the first 50 KB of a part's text, which a reader never scrolls
// to; what the limit buys is a bound on the rules' work for the largest messages,
// the ones that made the check's slowest times.
var defaultScanSizes = scanSizes{body: 50000, rawbody: 500000}

// truncateScan is Message.pm's truncation of a part's text to size bytes: at the
// first of the cuts (a newline, then each of more) that lies within 1 KB past
// size, else at size; never inside a UTF-8 character.
func truncateScan(text string, size int, more ...byte) string {
	if size <= 0 || len(text) <= size {
		return text
	}
	near := text[size:min(len(text), size+1025)] // where a cut may fall
	if i := strings.IndexByte(near, '\n'); i >= 0 {
		return text[:size+i+1]
	}
	for _, c := range more {
		if i := strings.IndexByte(near, c); i >= 0 {
			return text[:size+i+1]
		}
	}
	for size > 0 && !utf8.RuneStart(text[size]) {
		size--
	}
	return text[:size]
}

// newTarget prepares the texts the rules of s about to run read; the raw message
// (up to 1 MiB, lower-cased) and the URI list (s.MessageURIs) only when full and
// uri rules are among them. A nil s (tests of the texts alone) cuts no part and
// names no redirector.
func newTarget(m *filter.Message, needs map[Kind]bool, s *Set) *target {
	t := &target{msg: m, set: s, header: message.Header{Header: cutLongFields(m.Parsed.Header)}}
	var sizes scanSizes
	if s != nil {
		sizes = s.scanSizes
	}
	var body, raw strings.Builder
	subject := m.Parsed.Subject()
	body.WriteString(subject)
	body.WriteByte('\n')
	t.subjectLines = strings.Count(subject, "\n") + 1
	var r *reading
	if needs[URI] {
		r = readingOf(m, sizes.body)
		if s != nil && len(s.redirectors) > 0 {
			t.setURIs(s.MessageURIs(m)) // (its redirectors' targets added to r's)
		} else {
			t.setURIs(r.uris)
		}
	}
	for i, p := range m.Parsed.Parts {
		if p.Text == "" {
			continue
		}
		// (Its line ends are LF where the message's were CRLF: scan's crlfReader.)
		if p.ContentType != "text/calendar" { // (SpamAssassin's bug 4843: an attachment, not shown)
			rawText := p.Text
			if p.Undecoded != "" {
				rawText = p.Undecoded // (its bytes as sent: 7-bit escapes, not 8-bit text)
			}
			t.rawbodyAdded += writeChunks(&raw, truncateScan(rawText, sizes.rawbody, '>', ' '))
			raw.WriteByte('\n')
			t.rawbodyAdded++
		}
		if !rendered(p) {
			continue
		}
		text := p.Text
		var links []scan.Link
		if p.EffectiveType == "text/html" {
			if r != nil {
				text, links = r.html[i].text, r.html[i].links
			} else {
				text, _ = p.RenderHTMLLinks(false)
			}
			if t.renderedHTML == nil {
				t.renderedHTML = map[int]string{}
			}
			t.renderedHTML[i] = text // for the evals that compare parts' words
		}
		body.WriteString(paragraphs(truncateScan(text, sizes.body, ' ')))
		body.WriteByte('\n')
		if needs[URI] {
			for _, l := range links {
				if l.Tag == "a" && len(l.URI) > 7 && strings.EqualFold(l.URI[:7], "mailto:") {
					t.anchorMailtos = append(t.anchorMailtos, l.URI)
				}
			}
		}
	}
	t.setBody(body.String())
	t.rawbody = raw.String()
	t.rawbodyLower = toLower(t.rawbody)
	if m.Raw != nil && needs[Full] {
		t.full, t.err = readFull(m)
		t.fullLower = toLower(t.full)
	}
	return t
}

// setBody makes body the text body rules read, with its lower-cased form and
// both by line: each line with its newline, as SpamAssassin's body rules see
// them (lower-casing keeps every newline, so the lines of both stay aligned).
func (t *target) setBody(body string) {
	t.body, t.bodyLower = body, toLower(body)
	t.bodyLines, t.bodyLowerLines = strings.SplitAfter(t.body, "\n"), strings.SplitAfter(t.bodyLower, "\n")
}

// rendered reports whether body rules read a part: SpamAssassin renders only the
// parts it reads as text/plain or text/html (Node.pm's rendered), not a
// text/calendar invitation or text/x-vcard card, which its rawbody rules read.
func rendered(p scan.Part) bool {
	return p.EffectiveType == "text/plain" || p.EffectiveType == "text/html"
}

// readFull is the raw message (up to maxFull) as full rules and the raw evals read
// it: with \n line ends as SpamAssassin presents them, so $ works at ends of lines.
// The line ends are turned in place, and the bytes (never written again) are the
// string: one copy of the message, not three. A read that fails is an error: rules
// run on part of a message could pass what the rest would have refused.
func readFull(m *filter.Message) (string, error) {
	n := min(m.Size, maxFull)
	buf := make([]byte, n)
	if _, err := io.ReadFull(io.NewSectionReader(m.Raw, 0, n), buf); err != nil {
		return "", fmt.Errorf("rules: read the message (%d bytes): %w", n, err)
	}
	buf = scan.DropCRs(buf)
	return unsafe.String(unsafe.SliceData(buf), len(buf)), nil
}

// paragraphs is text as SpamAssassin's body rules see it: a blank line (a run of
// white space with two newlines or more) ends a paragraph, and every other run of
// white space is one space, at a paragraph's ends too (its whitespace handling in
// get_body_text_array_common: a rule may need the space after a paragraph's last
// word). Paragraphs are one a line; one longer than maxBodyLine is cut after its
// last space before that (split_into_array_of_short_lines).
func paragraphs(text string) string {
	// One buffer, the paragraph being written at its end from start on: each
	// paragraph written into a builder of its own first, then copied, was half
	// of this function's time.
	buf := make([]byte, 0, len(text)+len(text)/maxBodyLine+1)
	start := 0
	flush := func() {
		p := buf[start:]
		if len(bytes.TrimSpace(p)) == 0 {
			buf = buf[:start]
			return
		}
		if len(p) > maxBodyLine { // (rare: cut, with a copy)
			rest := string(p)
			buf = buf[:start]
			for len(rest) > maxBodyLine {
				n := strings.LastIndexByte(rest[:maxBodyLine+1], ' ') + 1
				if n == 0 {
					n = maxBodyLine
				}
				buf = append(append(buf, rest[:n]...), '\n')
				rest = rest[n:]
			}
			buf = append(buf, rest...)
		}
		buf = append(buf, '\n')
		start = len(buf)
	}
	for i := 0; i < len(text); {
		// A run of text, written whole.
		j := i
		for j < len(text) {
			space, size := spaceAt(text, j)
			if space {
				break
			}
			j += size
		}
		buf = append(buf, text[i:j]...)
		if i = j; i == len(text) {
			break
		}
		// A run of white space: where its first and last newlines are.
		first, last, newlines := -1, -1, 0
		for j < len(text) {
			space, size := spaceAt(text, j)
			if !space {
				break
			}
			if text[j] == '\n' {
				if first < 0 {
					first = j
				}
				last, newlines = j, newlines+1
			}
			j += size
		}
		if newlines < 2 {
			buf = append(buf, ' ')
		} else {
			if first > i {
				buf = append(buf, ' ') // white space before the blank line
			}
			flush()
			if j > last+1 {
				buf = append(buf, ' ') // and after it
			}
		}
		i = j
	}
	flush()
	// The bytes are not written again: the string is them.
	return strings.TrimSuffix(unsafe.String(unsafe.SliceData(buf), len(buf)), "\n")
}

// spaceAt is unicode.IsSpace of the rune at text[j], and its size: ASCII, most of
// a body, without decoding (paragraphs' loops were a fifth of a message's
// preparation, docs/benchmarks.md).
func spaceAt(text string, j int) (space bool, size int) {
	if c := text[j]; c < utf8.RuneSelf {
		return isSpaceByte(c), 1
	}
	r, size := utf8.DecodeRuneInString(text[j:])
	return unicode.IsSpace(r), size
}

// maxBodyLine is SpamAssassin's MAX_BODY_LINE_LENGTH.
const maxBodyLine = 2048

// writeChunks writes a text part as rawbody rules read it. SpamAssassin does not
// match them on the part but on each piece split_into_array_of_short_paragraphs
// cuts it into: pieces of 2,048 to 4,096 bytes, each ended by the first newline
// after its 2,048th byte, else the first '>', else the first space, else cut
// there. A match cannot span two pieces, and a piece's first byte is the start
// of a line to ^ (every rule here is (?m), as its text is one string): HTML
// written on one long line is cut after a '>', so a rule such as
// __HAS_HREF_ONECASE, /^[^>].*?<(?:a href|A HREF)=/m, counts a link the cut put
// first. Where the cut is not after a newline, one is written there, which makes
// both so here. It returns how many it wrote (see rawbodyAdded).
func writeChunks(b *strings.Builder, text string) (cuts int) {
	ofs := 0
	for len(text)-ofs > 2*maxBodyLine {
		// Where a cut may fall: a piece is at most 2*maxBodyLine bytes. (Looked
		// for in the whole rest, as perl does, a 500 KB line without a newline
		// was read again for each of its pieces.)
		near := text[ofs+maxBodyLine : ofs+2*maxBodyLine]
		j := -1
		for _, c := range "\n> " {
			if i := strings.IndexByte(near, byte(c)); i >= 0 {
				j = ofs + maxBodyLine + i
				break
			}
		}
		if j < 0 { // (a byte cut; here not inside a character, for the lower-cased copy)
			j = ofs + maxBodyLine
			for j > ofs && !utf8.RuneStart(text[j+1]) {
				j--
			}
		}
		b.WriteString(text[ofs : j+1])
		if text[j] != '\n' {
			b.WriteByte('\n')
			cuts++
		}
		ofs = j + 1
	}
	b.WriteString(text[ofs:])
	return cuts
}

// headerValue is what a header rule matches: every instance of the field, joined by
// newlines; decoded (RFC 2047) unless :raw; :addr and :name take the address or the
// display name. ALL is the whole header; ToCc is To and Cc; MESSAGEID the message ids.
func (t *target) headerValue(field, mod string) (string, bool) {
	key := headerKey{field, mod}
	if v, ok := t.headers[key]; ok {
		return v.value, v.present
	}
	v, present := t.readHeader(field, mod)
	if t.headers == nil {
		t.headers = map[headerKey]headerText{}
	}
	t.headers[key] = headerText{value: v, present: present}
	return v, present
}

// mimeValues is a field in every MIME header of the message, as SpamAssassin's
// MIMEHeader plugin reads it: the message's own header, then each part's (the
// headers of multipart containers inside are not kept by scan, and their
// multipart/* types are not what these rules look for). Raw values are as the
// message has them (rawValue); the others are unfolded and decoded, as header
// rules read them, and each ends in a newline, as theirs do (endsInNewline).
func (t *target) mimeValues(field string, raw bool) []headerText {
	key := headerKey{field, "mime"}
	if raw {
		key.mod = "mime:raw"
	}
	if v, ok := t.mimeHdr[key]; ok {
		return v
	}
	var out []headerText
	add := func(h textproto.Header, part bool) {
		var v string
		if raw {
			f := h.FieldsByKey(field)
			for f.Next() {
				if b, err := f.Raw(); err == nil {
					// As the message has it (rawValue), folds and all, but
					// that a part's value starts after the colon's white
					// space, as SpamAssassin splits a part's fields on /:\s*/
					// (CTYPE_8SPACE_GIF's /^image\/gif;\n {8}name=/).
					v = rawFieldValue(b)
					if part {
						v = strings.TrimLeft(v, perlSpaces)
					}
				}
			}
			if strings.TrimLeft(v, perlSpaces) == "" {
				return
			}
		} else {
			if !h.Has(field) {
				return
			}
			// The last instance, as SpamAssassin's get_header in scalar context.
			vs := h.Values(field)
			v = decodeField(field, strings.Trim(vs[len(vs)-1], perlSpaces))
		}
		if !strings.HasSuffix(v, "\n") {
			v += "\n" // (endsInNewline: get_header's, and raw_header's)
		}
		out = append(out, headerText{value: v, lower: strings.ToLower(v), present: true})
	}
	add(t.header.Header, false) // (its fields cut as the other rules read them: cutLongFields)
	for _, p := range t.msg.Parsed.Parts {
		if p.Depth > 0 { // depth 0: the message itself, not multipart
			add(p.Header, true)
		}
	}
	if t.mimeHdr == nil {
		t.mimeHdr = map[headerKey][]headerText{}
	}
	t.mimeHdr[key] = out
	return out
}

// decodeField is a field's value as SpamAssassin's header rules read it decoded
// (Node.pm's _decode_header, which ALL and the ALL-* headers are made of too):
// raw 8-bit bytes that are not UTF-8 read as Windows-1252, and its encoded words
// decoded, but in the fields SpamAssassin leaves them in (its bugs 6945 and
// 7249): Received, Message-ID, Date, MIME-Version, References, In-Reply-To and
// List-*, where an "=?" is the field's own text, not an encoded word's start.
// ALL had kept every field's encoded words: a subject or a sender's name
// written in them was hidden from the rules that read them there
// (__SUBJ_HAS_FROM_1, __PDS_FROM_NAME_TO_DOMAIN).
func decodeField(name, v string) string {
	if undecodedField(name) {
		return scan.HeaderUTF8(v)
	}
	if d, err := scan.DecodeHeader(v); err == nil {
		return d
	}
	return scan.HeaderUTF8(v)
}

// undecodedField reports whether name is a field whose encoded words
// SpamAssassin does not decode (decodeField).
func undecodedField(name string) bool {
	switch {
	case strings.EqualFold(name, "Received"), strings.EqualFold(name, "MIME-Version"),
		strings.EqualFold(name, "References"), strings.EqualFold(name, "In-Reply-To"):
		return true
	case len(name) >= 5 && strings.EqualFold(name[:5], "List-"):
		return true
	}
	if len(name) > 7 && strings.EqualFold(name[:7], "Resent-") {
		name = name[7:]
	}
	return strings.EqualFold(name, "Message-ID") || strings.EqualFold(name, "Date")
}

// writeField writes a header field as ALL shows it: "Key: value" and a newline.
func writeField(b *strings.Builder, key, value string) {
	b.WriteString(key)
	b.WriteString(": ")
	b.WriteString(value)
	b.WriteByte('\n')
}

// writeLF writes raw with its CRLF line ends as LF.
func writeLF(b *strings.Builder, raw []byte) {
	for len(raw) > 0 {
		i := bytes.Index(raw, []byte("\r\n"))
		if i < 0 {
			b.Write(raw)
			return
		}
		b.Write(raw[:i])
		b.WriteByte('\n')
		raw = raw[i+2:]
	}
}

// headerLen is the length of the header as ALL writes it (field names as
// canonical), for builders to grow once: built by doubling, these texts were the
// largest part of the check's garbage.
func (t *target) headerLen() int {
	n := 0
	for f := t.header.Fields(); f.Next(); {
		n += len(f.Key()) + len(f.Value()) + 3
	}
	return n
}

// headersByTrust is SpamAssassin's ALL-TRUSTED, ALL-INTERNAL, ALL-UNTRUSTED and
// ALL-EXTERNAL: the header fields (as ALL writes them) above the Received line of the
// first untrusted relay, and it (trusted, internal), or from that Received line on
// (untrusted, external). Internal is trusted here, as SpamAssassin infers it when
// neither network list is set; with no trusted relay, that line is the first
// Received.
func (t *target) headersByTrust(field string) string {
	n := t.relays().trustedLines // the index of the first untrusted relay's line
	upper := field == "ALL-TRUSTED" || field == "ALL-INTERNAL"
	var b strings.Builder
	b.Grow(t.headerLen())
	rcvd := -1
	for f := t.header.Fields(); f.Next(); {
		received := strings.EqualFold(f.Key(), "Received")
		if received {
			rcvd++
		}
		if !upper && rcvd < n {
			continue
		}
		writeField(&b, f.Key(), decodeField(f.Key(), f.Value()))
		if upper && received && rcvd == n {
			break
		}
	}
	return b.String()
}

// headerKey names a header value as rules read it: the field and its modifier.
type headerKey struct{ field, mod string }

// headerText is a header value as rules read it, kept for the next rule on it.
type headerText struct {
	value, lower string // lower: made when a rule's literals are looked for
	present      bool
}

// fieldText is a header field as header rules read it, and which of their
// literals it holds (fieldHas).
type fieldText struct {
	value         string
	present, read bool
	scanned       bool
	hits          litHits // the field's literals, by id in its index
	starts        []int   // where its lines begin, once a rule asks (lineStarts)
}

// field is the text of a header rule's field (Rule.field), read on first use.
func (t *target) field(i int32) *fieldText {
	if t.fields == nil {
		t.fields = make([]fieldText, len(t.set.fields))
	}
	f := &t.fields[i-1]
	if !f.read {
		if t.costs != nil { // (not a deferred no-op for each field a message reads)
			defer t.costs.time(fieldsCost)()
		}
		k := t.set.fields[i-1].key
		if k.mod == "raw" && !pseudoField(k.field) {
			f.value, f.present = t.rawValue(k.field)
		} else {
			f.value, f.present = t.headerValue(k.field, k.mod)
			if f.present && endsInNewline(k.field, k.mod) {
				f.value += "\n"
			}
		}
		f.read = true
	}
	return f
}

// maxFieldValue is SpamAssassin's MAX_HEADER_VALUE_LENGTH: it keeps the first
// 8,192 bytes of a field's value (what follows the colon, line ends LF), and
// its rules read nothing beyond them. A To field listing hundreds of
// recipients is phishing's (phishing/04820: 24 KB), and __SENDER_BOT on ALL
// found an address 20 KB in that SpamAssassin never reads.
const maxFieldValue = 8192

// cutLongFields is h with each field's value cut at maxFieldValue, as the
// rules read it; h itself when no field is that long, as nearly always.
// ALL:raw reads the header as the message has it, SpamAssassin's pristine one.
// (SpamAssassin cuts only the message's own header, not a part's; ALL's limit
// of 64 KB over the whole header, which it counts field name by field name, is
// not kept here.)
func cutLongFields(h textproto.Header) textproto.Header {
	long := false
	for f := h.Fields(); f.Next() && !long; {
		raw, err := f.Raw()
		long = err == nil && len(raw) > maxFieldValue
	}
	if !long {
		return h
	}
	var raws [][]byte
	for f := h.Fields(); f.Next(); {
		raw, err := f.Raw()
		colon := bytes.IndexByte(raw, ':')
		if err != nil || colon < 0 {
			continue // (never for a parsed field: it is its raw bytes)
		}
		if value := bytes.ReplaceAll(raw[colon+1:], []byte("\r\n"), []byte("\n")); len(value) > maxFieldValue {
			// Not inside a character, whose half would make the whole value
			// one that is not UTF-8 (read as Windows-1252: decodeField).
			end := maxFieldValue
			for end > 0 && !utf8.RuneStart(value[end]) {
				end--
			}
			raw = append(bytes.Clone(raw[:colon+1]), bytes.ReplaceAll(value[:end], []byte("\n"), []byte("\r\n"))...)
			if !bytes.HasSuffix(raw, []byte("\n")) {
				raw = append(raw, "\r\n"...)
			}
		}
		raws = append(raws, raw)
	}
	var cut textproto.Header
	for i := len(raws) - 1; i >= 0; i-- { // (AddRaw puts a field above the others)
		cut.AddRaw(raws[i])
	}
	return cut
}

// endsInNewline reports whether SpamAssassin's header rules read the field with
// a newline at its end: get_header gives each instance of a field one, raw or
// decoded ("a\nb\n" for two), and header rules read them joined as they are
// (Check.pm), so a class or \s at the end matches it (XM_RANDOM's q[^u] on an
// X-Mailer ending in Q) and \z comes after it. headerValue leaves it out, for
// the evals that read the value; ALL and its kin already end in one (their last
// field's line). The addresses and names of :addr and :name, EnvelopeFrom and
// the relay pseudo-headers have none.
func endsInNewline(field, mod string) bool {
	return !isAddressMod(mod) && !pseudoField(field)
}

// pseudoField reports whether a header rule's field is not one of the message's
// fields (or two of them, ToCc, or its kin, MESSAGEID) but made by SpamAssassin:
// the whole header, the envelope sender, the relay analysis.
func pseudoField(field string) bool {
	switch field {
	case "ALL", "ALL-TRUSTED", "ALL-INTERNAL", "ALL-UNTRUSTED", "ALL-EXTERNAL", "EnvelopeFrom",
		"X-Spam-Relays-Trusted", "X-Spam-Relays-Untrusted", "X-Spam-Relays-Internal", "X-Spam-Relays-External":
		return true
	}
	return false
}

// rawValue is FIELD:raw as SpamAssassin's header rules read it (raw_header): for
// each instance, what follows the field's colon as the message has it, its
// leading white space and its folds kept, line ends LF, ending in a newline.
// __KB_DATE_CONTAINS_TAB is a tab after "Date:", which a trimmed value never
// starts with. ToCc and MESSAGEID are get_header's raw form, each fold one space.
// (headerValue's raw form, trimmed and unfolded, is what the evals read.)
func (t *target) rawValue(field string) (string, bool) {
	names, unfold := []string{field}, false
	switch field {
	case "ToCc":
		names, unfold = []string{"To", "Cc"}, true
	case "MESSAGEID":
		names, unfold = messageIDFields, true
	}
	var b strings.Builder
	present := false
	for _, name := range names {
		for f := t.header.FieldsByKey(name); f.Next(); {
			raw, err := f.Raw()
			if err != nil {
				continue
			}
			present = true
			if v := rawFieldValue(raw); unfold { // (each instance apart: the next one's white space is no fold)
				b.WriteString(unfoldRaw(v))
			} else {
				b.WriteString(v)
			}
		}
	}
	return b.String(), present
}

// rawFieldValue is what follows a raw field's colon, its line ends LF, ending in
// a newline: SpamAssassin's raw_header value.
func rawFieldValue(raw []byte) string {
	_, after, _ := bytes.Cut(raw, []byte(":"))
	var b strings.Builder
	writeLF(&b, after)
	if b.Len() == 0 || !strings.HasSuffix(b.String(), "\n") {
		b.WriteByte('\n')
	}
	return b.String()
}

// unfoldRaw is get_header's s/\015?\012\s+/ /gs on a raw value: each newline
// followed by white space, and that white space, become one space.
func unfoldRaw(v string) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(v, '\n')
		if i < 0 || i == len(v)-1 {
			b.WriteString(v)
			return b.String()
		}
		j := i + 1
		for j < len(v) && strings.IndexByte(perlSpaces, v[j]) >= 0 {
			j++
		}
		if j == i+1 {
			b.WriteString(v[:j])
		} else {
			b.WriteString(v[:i])
			b.WriteByte(' ')
		}
		v = v[j:]
	}
}

// fieldHas reports whether field i holds one of the literals ids.
func (t *target) fieldHas(i int32, ids []int32) bool {
	f := t.field(i)
	if !f.scanned {
		if t.costs != nil {
			defer t.costs.time(fieldsCost)()
		}
		f.scanned = true
		f.hits = t.set.fields[i-1].index.scan(toLower(f.value))
		if t.state != nil {
			t.set.fields[i-1].decided.mark(t.state, f.hits)
		}
	}
	return f.hits.any(ids)
}

func (t *target) readHeader(field, mod string) (string, bool) {
	if mod == "name:shown" {
		// The names the :name rules read (read once for both), each as shown.
		v, present := t.headerValue(field, "name")
		if isASCII(v) {
			return v, present
		}
		lines := strings.Split(v, "\n")
		for i, l := range lines {
			lines[i] = shownName(l)
		}
		return strings.Join(lines, "\n"), present
	}
	var values []string
	switch field {
	case "ALL-TRUSTED", "ALL-INTERNAL", "ALL-UNTRUSTED", "ALL-EXTERNAL":
		return t.headersByTrust(field), true
	case "EnvelopeFrom":
		// SpamAssassin's: the MAIL FROM when the MTA gave it, else where the
		// headers say (envelopeFrom). A header of that name means nothing.
		v := t.envelopeFrom()
		return v, v != ""
	case "ALL":
		var b strings.Builder
		b.Grow(t.headerLen())
		h := t.header.Header
		if mod == "raw" {
			h = t.msg.Parsed.Header // (the pristine header: no field cut, cutLongFields)
		}
		for f := h.Fields(); f.Next(); {
			if mod == "raw" {
				// As the message has it (SpamAssassin's ALL:raw): the space
				// after the colon or none (__HDRS_MISSP's "From:\S"), encoded
				// words, folds; line ends LF.
				if raw, err := f.Raw(); err == nil {
					writeLF(&b, raw)
					continue
				}
			}
			// The field name as the message spells it: rules test its case
			// (SpamAssassin's __MSOE_MID_WRONG_CASE looks for "Message-Id").
			key := f.Key()
			if raw, err := f.Raw(); err == nil {
				if i := bytes.IndexByte(raw, ':'); i > 0 && strings.EqualFold(string(bytes.TrimSpace(raw[:i])), key) {
					key = string(bytes.TrimSpace(raw[:i]))
				}
			}
			writeField(&b, key, decodeField(key, f.Value()))
		}
		return b.String(), true
	case "ToCc":
		values = append(t.header.Values("To"), t.header.Values("Cc")...)
	case "MESSAGEID":
		for _, f := range messageIDFields {
			values = append(values, t.header.Values(f)...)
		}
	case "X-Spam-Relays-Trusted", "X-Spam-Relays-Untrusted", "X-Spam-Relays-Internal", "X-Spam-Relays-External":
		// SpamAssassin's relay analysis (relays.go): present, possibly empty.
		return t.pseudoHeader(field)
	default:
		values = t.header.Values(field)
	}
	if len(values) == 0 {
		return "", false
	}
	for i, v := range values {
		// Unfolded (textproto joins a fold's lines with one space), and otherwise
		// as written: SpamAssassin keeps a header's runs of spaces and its tabs, and
		// rules test them (RCVD_FAKE_HELO_DOTCOM wants "from aol.com", with one
		// space, which a Received line's "from  aol.com" is not).
		v = strings.Trim(v, perlSpaces)
		if isAddressMod(mod) {
			// Every address of the field, each on its line, as header rules
			// read them in SpamAssassin 4 (a From with two is FROM_ADDR_WS).
			values[i] = strings.Join(addressParts(v, mod), "\n")
			continue
		}
		if mod != "raw" {
			name := field
			if field == "MESSAGEID" { // (its fields are the Message-ID's kin)
				name = "Message-ID"
			}
			v = decodeField(name, v)
		}
		values[i] = v
	}
	if isAddressMod(mod) {
		values = slices.DeleteFunc(values, func(v string) bool { return v == "" })
		if len(values) == 0 {
			return "", false
		}
	}
	return strings.Join(values, "\n"), true
}

// messageIDFields are the fields of MESSAGEID, in SpamAssassin's order (_get):
// without /m, a rule's ^ reads the first of them (MSGID_SHORT's
// /^.{1,15}$|<.{0,4}\@/ a Resent-Message-Id before the Message-Id).
var messageIDFields = []string{"X-Message-Id", "Resent-Message-Id", "X-Original-Message-ID", "Message-Id"}

func isAddressMod(mod string) bool { return mod == "addr" || mod == "name" || mod == "name:raw" }

// perlSpaces are Perl's \s on the bytes SpamAssassin's header values are:
// ASCII's white space. A no-break space (U+00A0) and its kin are not among
// them: SpamAssassin keeps one at a display name's or a subject's end, and
// its rules read it (FROM_EXCESS_BASE64 is not for a From whose encoded
// name ends in one, __FROM_NEEDS_MIME2 seeing its bytes).
const perlSpaces = " \t\n\r\f\v"

// collapsePerlSpace is SpamAssassin's s/\s+/ /g with the ends trimmed, on
// its bytes (perlSpaces); joinFields is strings.Fields' reading.
func collapsePerlSpace(s string) string {
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool {
		return r < utf8.RuneSelf && isSpaceByte(byte(r))
	}), " ")
}

// addressParts are a field value's addresses (mod addr), its display names as
// written (name:raw), or decoded, with runs of white space as one space and
// outer single quotes dropped (name; PerMsgStatus.pm's _get).
func addressParts(v, mod string) []string {
	var out []string
	for _, a := range parseHeaderAddresses(v) {
		switch {
		case mod == "addr" && a.hasAddr:
			out = append(out, a.address)
		case mod == "name:raw" && a.hasName:
			out = append(out, a.phrase)
		case mod == "name" && a.hasName:
			name := a.phrase
			name = decodeField("", name) // (SpamAssassin's _decode_header of the phrase)
			if strings.Trim(name, perlSpaces) != "" {
				name = collapsePerlSpace(name)
				if len(name) >= 2 && name[0] == '\'' && name[len(name)-1] == '\'' {
					name = name[1 : len(name)-1]
				}
			}
			out = append(out, name)
		}
	}
	return out
}

// reading is a message as a reader sees it, what both the rules and the URI block
// lists read: each HTML part rendered, with its tags' links, and the URI list
// made of them. Read-only once made.
type reading struct {
	html map[int]renderedPart // by index in Parts
	uris []string
}

type renderedPart struct {
	text  string
	links []scan.Link
}

// readingKey is where a message's reading is kept (readingOf), for the
// body_part_scan_size it was read with.
type readingKey struct{ body int }

// readingOf is the message's reading with text links found in the first body
// bytes of each part (read), made once a message: the rules and the URI block
// lists, checks that run side by side, each wait for the first one's rather
// than render the HTML and find its links again.
func readingOf(m *filter.Message, body int) *reading {
	return m.Once(readingKey{body}, func() any { return read(m.Parsed, body) }).(*reading)
}

// MessageURIs is URIs of the message, worked out once a message (readingOf).
// Callers must not change it.
func MessageURIs(m *filter.Message) []string {
	if m.Parsed == nil {
		return nil
	}
	return readingOf(m, defaultScanSizes.body).uris
}

// URIs are the links uri rules read in m, with the forms of each they match
// (SpamAssassin's get_uri_list), in the order found: those of the subject and
// of the text a reader sees, and those of the HTML's tags. What `postern check
// --uris` shows a rule's author, and the URI block lists look up.
func URIs(m *scan.Message) []string { return read(m, defaultScanSizes.body).uris }

// read reads m as a reader sees it. The links of a part's text (its rendering,
// for HTML) are found in its first body bytes (body_part_scan_size, cut as the
// body rules' text is), as SpamAssassin's text parser reads the same rendered
// text its body rules do; a tag's link anywhere in the HTML counts.
func read(m *scan.Message, body int) *reading {
	r := &reading{}
	if subject := m.Subject(); subject != "" {
		r.uris = findURIs(subject) // as SpamAssassin's: the subject is the body's first line
	}
	for i, p := range m.Parts {
		if p.Text == "" || !rendered(p) {
			continue
		}
		text := p.Text
		var links []scan.Link
		if p.EffectiveType == "text/html" {
			text, links = p.RenderHTMLLinks(true)
			if r.html == nil {
				r.html = map[int]renderedPart{}
			}
			r.html[i] = renderedPart{text, links}
		}
		r.uris = appendPartURIs(r.uris, truncateScan(text, body, ' '), links)
	}
	// A PDF attachment's links (scan.PDFLinks), as SpamAssassin's PDFInfo
	// plugin adds them (add_uri_detail_list) when it is loaded; Debian's
	// v341.pre leaves it out. A phishing PDF is often a button to its page
	// under an empty body, and the page's domain is what the block lists know.
	for _, p := range m.Parts {
		if len(p.Links) > 0 {
			r.uris = append(r.uris, canonicalURIs(p.Links)...)
		}
	}
	// SpamAssassin's parse_dkim_uris, on by default: each signing domain of a
	// DKIM or DomainKeys signature is a link, "domainkeys:DOMAIN", for the uri
	// rules and the URI host lists (a phish signed by electrumteamnews.online is
	// PDS_OTHER_BAD_TLD for its .online). Read per signature, where SpamAssassin's
	// pattern runs over them joined; they differ only for a d= a signature ends
	// with, no ';' after it.
	for _, f := range []string{"DomainKey-Signature", "DKIM-Signature"} {
		for _, v := range m.Header.Values(f) {
			for _, d := range reSigningDomain.FindAllStringSubmatch(v, -1) {
				r.uris = append(r.uris, SigningDomainPrefix+strings.Join(strings.Fields(d[1]), ""))
			}
		}
	}
	if len(r.uris) > 1 {
		r.uris = dedupe(r.uris)
	}
	return r
}

// setURIs sets the message's links: all of them for the URI host lists, and
// for the uri rules those but the DKIM signing domains, which SpamAssassin
// adds "noclean" (_process_dkim_uri_list): for the host lists and the block
// lists only (a uri rule on "weird-signer" does not hit a message signed
// d=weird-signer.top; spamassassin -L -t).
func (t *target) setURIs(all []string) {
	t.hostURIs, t.uris = all, all
	isSigning := func(u string) bool { return strings.HasPrefix(u, SigningDomainPrefix) }
	if i := slices.IndexFunc(all, isSigning); i >= 0 {
		t.uris = slices.DeleteFunc(slices.Clone(all), isSigning)
	}
}

// SigningDomainPrefix starts the link URIs gives a DKIM signing domain
// (SpamAssassin's "domainkeys:DOMAIN"): the URI host lists and the URI block
// lists read the domain after it.
const SigningDomainPrefix = "domainkeys:"

// reSigningDomain is _process_dkim_uris' /\bd\s*=\s*([^;]+)/.
var reSigningDomain = regexp.MustCompile(`\bd\s*=\s*([^;]+)`)

// appendPartURIs adds a part's links as SpamAssassin lists them: those of the
// text a reader sees (an HTML part's rendering), and those of the HTML's tags,
// not every address-like string in their attributes.
func appendPartURIs(uris []string, text string, links []scan.Link) []string {
	return append(append(uris, findURIs(text)...), linkURIs(links)...)
}

// findURIs extracts the links of a text a reader sees: http(s), ftp, www. and
// mailto, bare e-mail addresses as mailto: URIs, as SpamAssassin does (uri rules
// about unsubscribing by mail rely on it), and names written without a scheme
// (schemelessLinks); then the forms SpamAssassin adds of each (canonicalURIs).
func findURIs(text string) []string {
	out := linkCandidates(text)
	addrs, spans := textAddresses(text, 200-len(out))
	out = append(out, addrs...)
	out = append(out, schemelessLinks(text, 200-len(out), spans)...)
	// As SpamAssassin (add_uri_detail_list with valid_domain): a link of the
	// text none of whose forms names a domain is not a link. "point your
	// browser at http://yourserver:2301/" is how a howto writes a host of the
	// reader's own; WEIRD_PORT hit it in ham. Text run together around a
	// "www." (www.a.comwww.b.com______Today) is no host either; MANY_SUBDOM
	// hit it in spam where SpamAssassin does not.
	out = slices.DeleteFunc(out, func(u string) bool {
		return !hostMayBeDomain(u) && !slices.ContainsFunc(canonicalURIs([]string{u})[1:], hostMayBeDomain)
	})
	return canonicalURIs(out)
}

// hostMayBeDomain says whether a link's host (uriHost; a mail address's domain)
// may name a domain, as SpamAssassin's uri_to_domain asks: an IPv6 address, or
// a name (an IPv4 address is one) that is_fqdn_valid accepts. A mail address
// with two @ names none. SpamAssassin also wants a known top-level domain
// (is_domain_valid); Postern asks that only of a name written without a scheme
// (schemelessLinks), so that a link to a test domain (.example, .test) or an
// intranet name is still read as the link it is.
func hostMayBeDomain(u string) bool {
	host := uriHost(u)
	if len(u) > 7 && strings.EqualFold(u[:7], "mailto:") {
		addr, _, _ := strings.Cut(u[7:], "?")
		if strings.Count(addr, "@") > 1 {
			return false
		}
		host = addr[strings.LastIndexByte(addr, '@')+1:]
	}
	return strings.HasPrefix(host, "[") || fqdnValid(host)
}

// schemelessLinks are the host names text writes without a scheme ("visit
// Benefits.Click today"), each as http://name, as SpamAssassin's text parser
// finds them (_tbirdurire's schemeless branch), at most max. Spam writes its
// site unlinked so that what reads links passes it by; SpamAssassin's uri rules
// and block lists read it. A name counts where a word starts (after white space
// or punctuation), ends in a known top-level domain, may be followed by a :port
// and a /path, and ends where a link ends. A name inside a link or a mail
// address is the other finders'; one starting wwwN. (not www., which
// linkCandidates takes) or ftp. is a link of its own, as SpamAssassin reads it.
func schemelessLinks(text string, max int, mail [][2]int) []string {
	var out []string
	n := len(text)
	tok := tokens{text: text, end: -1}
	for i := 0; i < n && len(out) < max; {
		d := strings.IndexByte(text[i:], '.')
		if d < 0 {
			break
		}
		d += i
		s, e := d, d+1 // the run of host characters around the dot
		for s > 0 && isHostChar(text[s-1]) {
			s--
		}
		for e < n && isHostChar(text[e]) {
			e++
		}
		i = e
		if !isAlnum(text[s]) || s > 0 && !schemelessStart[text[s-1]] && !(s > 1 && text[s-2] == 0xc2 && text[s-1] == 0xa0) {
			continue
		}
		for len(mail) > 0 && mail[0][1] <= s {
			mail = mail[1:]
		}
		if len(mail) > 0 && mail[0][0] <= s {
			continue // in an address (textAddresses)
		}
		tok.read(s)
		if tok.scheme >= 0 && tok.scheme < s {
			continue
		}
		if m := reKnownHost.FindString(text[s:e]); m != "" {
			if !strings.EqualFold(m, "www.") && tok.end-s-len(m) <= maxTextLinkRest {
				scheme := "http://"
				if m[0] == 'f' || m[0] == 'F' {
					scheme = "ftp://"
				}
				if u := trimLinkEnd(text[s:tok.end]); len(u) > len(m) && strings.Contains(u[len(m):], ".") {
					out = append(out, scheme+u)
				}
			}
			continue
		}
		hostEnd := e
		if text[e-1] == '.' {
			hostEnd-- // the name's trailing dot
		}
		j := afterPort(text, e)
		if j < n && text[j] == '/' && tok.end > j+1 && tok.end-j-1 <= maxTextLinkRest {
			j = tok.end // the path: the rest of the token
		}
		if !linkEnds(text, j) {
			continue
		}
		host := text[s:hostEnd]
		dot := strings.LastIndexByte(host, '.')
		if dot < 1 || dot > 252 || !KnownTLD(host[dot+1:]) || !fqdnValid(host) {
			continue
		}
		out = append(out, "http://"+trimLinkEnd(text[s:j]))
		i = j
	}
	return out
}

// afterPort is where a name's optional :port (_tbirdurire's (?::\d{1,5})?)
// that may start at text[j] ends: j when there is none.
func afterPort(text string, j int) int {
	if j >= len(text) || text[j] != ':' {
		return j
	}
	k := j + 1
	for k < len(text) && k < j+6 && '0' <= text[k] && text[k] <= '9' {
		k++
	}
	if k == j+1 {
		return j
	}
	return k
}

// tokens reads a text's tokens, the runs between the delimiters that end a
// link (linkEnds), for positions asked in increasing order, each token once:
// a name or an address in one is judged by the whole of it, and a text of one
// long token (no white space) is not read again for each name in it.
type tokens struct {
	text       string
	start, end int // the token last read, text[start:end]; end is -1 before the first
	scheme     int // where its first "://" is, -1 if it holds none
}

// read makes the token that holds text[k] the last read.
func (t *tokens) read(k int) {
	if k < t.end {
		return
	}
	s := k
	for s > 0 && s > t.end && !linkEndsBefore(t.text, s) {
		s--
	}
	e := k
	for !linkEnds(t.text, e) {
		e++
	}
	t.start, t.end = s, e
	t.scheme = strings.Index(t.text[s:e], "://")
	if t.scheme >= 0 {
		t.scheme += s
	}
}

// linkEnds says whether a link in text ends at k: at the end, or at a
// delimiter (tbirdEnd, or U+00A0).
func linkEnds(text string, k int) bool {
	return k == len(text) || tbirdEnd[text[k]] || text[k] == 0xc2 && k+1 < len(text) && text[k+1] == 0xa0
}

// linkEndsBefore says whether the byte before k is, or ends, a delimiter.
func linkEndsBefore(text string, k int) bool {
	return tbirdEnd[text[k-1]] || text[k-1] == 0xa0 && k >= 2 && text[k-2] == 0xc2
}

// trimLinkEnd is what SpamAssassin's text parser cuts off the end of a link
// found in text (linkCandidates, schemelessLinks): from a ")" with no "("
// before it, and punctuation that mail readers leave out.
func trimLinkEnd(u string) string {
	if p := strings.IndexByte(u, ')'); p >= 0 && strings.IndexByte(u[:p], '(') < 0 {
		u = u[:p]
	}
	return strings.TrimRight(u, "-~!@#^&*()_+=:;'?,.")
}

// maxTextLinkRest is the most _tbirdurire's patterns read of a text link after
// its www./ftp. or its host's path slash ({1,2048}).
const maxTextLinkRest = 2048

var reKnownHost = quick(`^(?i:www\d{0,2}\.|ftp\.)`)

func isHostChar(c byte) bool { return isAlnum(c) || c == '.' || c == '_' || c == '-' }

// tbirdEnd and schemelessStart are the ASCII bytes that end a link in text and
// that may come before a name written without a scheme (_tbirdurire's
// tbirdenddelim and scstartdelim; both also hold U+00A0). A quote, a
// parenthesis or a backslash does not end a link (http://x.example/a'b);
// trimLinkEnd takes one off its end.
var tbirdEnd, schemelessStart = func() (end, start [256]bool) {
	for _, c := range []byte("><\"`}]{[| \t\n\r\f\v\x1b") {
		end[c] = true
	}
	for _, c := range []byte("!\"#$&'()*+,/:;<=>?@[\\]^`{|}~ \t\n\r\f\v\x1b") {
		start[c] = true
	}
	return end, start
}()

// uriSchemes are what starts a link in text, in the order findURIs lists them;
// a mailto: link is an address's (textAddresses).
var uriSchemes = [...]string{"http://", "https://", "ftp://", "www."}

// linkCandidates are the links of text that start with a scheme (uriSchemes),
// the first 200: each scheme's in the order they occur, scheme after scheme. It
// reads the text once for all of http, https and ftp (where "://" is) and once
// each for www. and mailto:, without a lower-cased copy: the five searches of a
// lower-cased copy were 3 % of the check with the built-in rules.
// TestLinkCandidates holds it to those searches (linkCandidatesLowered).
func linkCandidates(text string) []string {
	var found [len(uriSchemes)][]string
	var next [len(uriSchemes)]int // where each scheme's search goes on
	// take considers a scheme's match at start, and notes where its search goes on.
	take := func(s, start int) {
		scheme := uriSchemes[s]
		if start < next[s] || len(found[s]) == 200 {
			return
		}
		// A link starts where a word does (SpamAssassin's \b): not inside
		// another's escaped query (?u=http%3A%2F%2Fwww.example.com).
		if start > 0 && (isWordChar(text[start-1]) || scheme == "www." && (text[start-1] == '/' || text[start-1] == '.')) {
			next[s] = start + len(scheme)
			return
		}
		end := start
		for !linkEnds(text, end) {
			end++
		}
		u := trimLinkEnd(scan.CutLink(text[start:end]))
		if len(u) <= len(scheme) {
			next[s] = end // the scheme alone ("<mailto: a@b.example>"): no link
			return
		}
		if scheme == "www." {
			u = "http://" + u
		}
		found[s] = append(found[s], u)
		next[s] = end
	}
	for i := 0; ; {
		k := strings.Index(text[i:], "://")
		if k < 0 {
			break
		}
		k += i
		for s, scheme := range uriSchemes[:3] {
			name := scheme[:len(scheme)-3]
			if start := k - len(name); start >= 0 && strings.EqualFold(text[start:k], name) {
				take(s, start)
			}
		}
		i = k + 1
	}
	for s := 3; s < len(uriSchemes); s++ {
		for i := 0; i < len(text); {
			k := indexFold(text[i:], uriSchemes[s])
			if k < 0 {
				break
			}
			take(s, i+k)
			i += k + 1
		}
	}
	var out []string
	for _, f := range found {
		out = append(out, f[:min(len(f), 200-len(out))]...)
	}
	return out
}

func isWordChar(c byte) bool { return isAlnum(c) || c == '_' }

// linkURIs are the URIs of HTML tags as uri rules read them (HTML.pm's
// push_uri and an anchor's href, then uri_list_canonicalize): where each leads
// (its Target, read against the part's <base href>) and an <a>'s href as
// written too, then the canonical forms.
func linkURIs(links []scan.Link) []string {
	var out []string
	add := func(u string) {
		if strings.ContainsAny(u, "\r\n") {
			u = strings.NewReplacer("\r", "", "\n", "").Replace(u) // a link wrapped in the source
		}
		if u != "" {
			out = append(out, u)
		}
	}
	for _, l := range links {
		if l.Tag == "a" && l.Attr == "href" && l.Target != l.URI {
			add(l.URI)
		}
		add(l.Target)
	}
	return canonicalURIs(out)
}

// reBareAddress is a mail address without mailto:, which uri_list_canonicalize
// treats as mail, not as a host.
var reBareAddress = quick(`^[^:]*@`)

var reHasScheme = quick(`(?i)^[-_a-z0-9]+:`)

// dedupe keeps the first of each string, in order.
func dedupe(list []string) []string {
	seen := make(map[string]bool, len(list))
	out := list[:0]
	for _, s := range list {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// canonicalURIs adds to a list of links the forms SpamAssassin's
// uri_list_canonicalize adds, which uri rules and the block lists read too: each
// link with its %-escapes decoded (a scheme or host may be escaped), and the link
// a redirector carries in its query (…?url=http://target.example/), itself
// treated the same way.
func canonicalURIs(uris []string) []string {
	seen := make(map[string]bool, len(uris))
	for _, u := range uris {
		seen[u] = true
	}
	// The forms made of a link are not themselves canonicalized again, as
	// SpamAssassin's @nuris are not: only a redirector's target is (its @uris).
	// Canonicalized again, http://x/?f=%2523 was decoded twice, to #.
	forms := map[string]bool{}
	out := uris
	for i := 0; i < len(out) && len(out) < 400; i++ {
		u := out[i]
		if forms[u] {
			continue
		}
		addLink := func(v string) {
			if !seen[v] {
				seen[v] = true
				out = append(out, v)
			}
		}
		add := func(v string) {
			if !seen[v] {
				forms[v] = true
			}
			addLink(v)
		}
		if len(u) <= 1 || strings.IndexByte("#?&", u[0]) >= 0 || u[0] == '/' && u[1] != '/' {
			continue // relative (#x, ?x, /x): no host to find
		}
		if len(u) > 7 && strings.EqualFold(u[:7], "mailto:") || reBareAddress.MatchString(u) {
			mailForms(u, add)
			continue
		}
		n := canonicalForm(u)
		if n != u {
			add(n)
		}
		proto, auth, host, rest, port, ok := uriParts(n)
		if !ok {
			continue
		}
		if indexFold(rest, "http") >= 0 { // a redirector's target
			if r := reRedirect.FindString(rest); r != "" && strings.Contains(r, ".") {
				addLink(r)
			}
		}
		restNoPort := rest
		if port != "" { // the scheme's own port is no port
			own := ":443"
			if proto == "http://" {
				own = ":80"
			}
			if strings.HasPrefix(rest, own) && (len(rest) == len(own) || !isWordChar(rest[len(own)])) {
				restNoPort = rest[len(own):]
				add(proto + host + restNoPort)
			}
		}
		if a, ok := ASCIIHost(host); ok { // (ok only for a host beyond ASCII)
			// The host's ASCII form too, as SpamAssassin with libidn lists it: a
			// rule written for xn--pypal-4ve.com, the name the block lists report,
			// sees http://pаypal.com/. The steps below read that form.
			add(proto + a + rest)
			if port != "" {
				add(proto + a + restNoPort)
			}
			host = a
		}
		// The host as SpamAssassin's $nhost: its ASCII form, lower-cased, before
		// the changes below. What http://foobar's www.foobar.com is made of.
		nhost := strings.ToLower(host)
		if strings.IndexFunc(host, func(r rune) bool { return r <= ' ' }) >= 0 {
			// Browsers drop control characters and spaces from a host (bug 4146).
			host = strings.Map(func(r rune) rune {
				if r <= ' ' {
					return -1
				}
				return r
			}, host)
			add(proto + host + rest)
		}
		if i := strings.LastIndexByte(host, '@'); i >= 0 {
			host = host[i+1:]
			add(proto + host + rest)
		}
		if trimmed := strings.TrimRightFunc(host, func(r rune) bool { return !isAlnum(byte(r)) || r >= 0x80 }); trimmed != host {
			host = trimmed
			add(proto + host + rest)
		}
		// A host written as a number (hex, octal, one 32-bit integer) is the
		// address it stands for: a phish's http://name.com@0xb2a2f51a/ goes
		// to 178.162.245.26, which NORMAL_HTTP_TO_IP looks for.
		switch {
		case reDottedNumbers.MatchString(host):
			octets := strings.Split(host, ".")
			for j, o := range octets {
				octets[j] = octetValue(o)
			}
			add(proto + strings.Join(octets, ".") + rest)
		case reHexHost.MatchString(host):
			h := host[2:]
			if len(h) > 8 {
				h = h[len(h)-8:]
			}
			v, _ := strconv.ParseUint(h, 16, 64)
			add(proto + ulongIP(v) + rest)
		case reDigitsHost.MatchString(host):
			v, _ := strconv.ParseUint(host, 10, 64)
			add(proto + decimalHostIP(v) + rest)
		case proto == "http://" && auth == "" && (port == "" || port == "80") && nhost != "localhost" &&
			reSingleLabel.MatchString(nhost) && !domainValid(nhost):
			// http://foobar is http://www.foobar.com, as browsers make it.
			add(proto + "www." + reSingleLabel.FindStringSubmatch(nhost)[1] + ".com" + rest)
		}
	}
	return out
}

// canonicalForm is the form uri_list_canonicalize makes of a link that is not
// mail: backslashes as slashes (some mail readers take them so), http:x as
// http://x, the %-escapes of printable characters decoded and the bytes a link
// cannot hold escaped (urlEncode), http:// put before a link without a scheme
// (ftp:// before ftp.), a slash after a bare host before its ? or #, and the
// &#NN; entities of printable characters and dots decoded.
func canonicalForm(u string) string {
	n := u
	if strings.IndexByte(n, '\\') >= 0 {
		n = strings.ReplaceAll(n, `\`, "/")
	}
	if len(n) >= 5 && strings.EqualFold(n[:5], "http:") || len(n) >= 6 && strings.EqualFold(n[:6], "https:") {
		// s{^(https?:)/{0,2}}{$1//}
		colon := strings.IndexByte(n, ':') + 1
		k := 0
		for k < 2 && colon+k < len(n) && n[colon+k] == '/' {
			k++
		}
		if k < 2 {
			n = n[:colon] + "//" + n[colon+k:]
		}
	}
	if strings.IndexByte(n, '%') >= 0 && reEscape.MatchString(n) {
		n = urlEncode(n)
	}
	if !reHasScheme.MatchString(n) {
		if strings.HasPrefix(n, "ftp.") {
			n = "ftp://" + n
		} else {
			n = "http://" + n // "//host/x" too: http:////host/x names no host, as in SpamAssassin
		}
	}
	// s{^(https?://[^/?#]+)([?#])}{$1/$2}i
	p := 0
	if len(n) > 7 && strings.EqualFold(n[:7], "http://") {
		p = 7
	} else if len(n) > 8 && strings.EqualFold(n[:8], "https://") {
		p = 8
	}
	if i := strings.IndexAny(n[p:], "/?#"); p > 0 && i > 0 && n[p+i] != '/' {
		n = n[:p+i] + "/" + n[p+i:]
	}
	if strings.Contains(n, "&#") {
		n = reDecEntity.ReplaceAllStringFunc(n, func(e string) string {
			v, _ := strconv.Atoi(strings.TrimLeft(e[2:len(e)-1], "0"))
			return string(rune(v))
		})
		n = reHexEntity.ReplaceAllStringFunc(n, func(e string) string {
			v, _ := strconv.ParseUint(strings.TrimLeft(e[3:len(e)-1], "0"), 16, 8)
			return string(rune(v))
		})
		n = reDotEntity.ReplaceAllString(n, ".")
	}
	return n
}

var (
	reDecEntity = regexp.MustCompile(`&#0*(?:3[3-9]|[4-9]\d|1[01]\d|12[0-6]);`)
	reHexEntity = regexp.MustCompile(`&#x0*(?:2[1-9]|[3-6][a-fA-F0-9]|7[0-9a-eA-E]);`)
	reDotEntity = regexp.MustCompile(`(?i)&#(?:x2e|12290|x3002|65294|xff0e|65377|xff61);`)
)

// urlEncode is SpamAssassin's Util::url_encode, which despite its name mostly
// decodes: a %-escape of a printable character (%21 to %7E) is decoded, other
// escapes are kept, and the bytes between them that a link cannot hold as
// they are (controls, space, 8-bit bytes, ", %, < and >) are escaped.
func urlEncode(n string) string {
	var b strings.Builder
	b.Grow(len(n) + 8)
	for i := 0; i < len(n); i++ {
		c := n[i]
		if c == '%' && i+2 < len(n) && isHex(n[i+1]) && isHex(n[i+2]) {
			if hi := n[i+1]; hi >= '2' && hi <= '7' && n[i+1:i+3] != "20" && !strings.EqualFold(n[i+1:i+3], "7f") {
				v, _ := strconv.ParseUint(n[i+1:i+3], 16, 8)
				b.WriteByte(byte(v))
			} else {
				b.WriteString(n[i : i+3])
			}
			i += 2
			continue
		}
		if c <= ' ' || c >= 0x7f || c == '"' || c == '%' || c == '<' || c == '>' {
			b.WriteByte('%')
			b.WriteByte("0123456789abcdef"[c>>4])
			b.WriteByte("0123456789abcdef"[c&15])
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// mailForms adds the addresses a mail link holds, as uri_list_canonicalize
// finds them: mailto:a@b.example?subject=x and mailto:a@b.example&cc=c without
// what follows, mailto:%20a@b.example without its escaped spaces (Outlook
// drops them), and the address in mailto:"Name"%20<a@b.example>.
func mailForms(u string, add func(string)) {
	if strings.IndexByte(u, '?') >= 0 {
		if m := reMailQuery.FindStringSubmatch(u); m != nil {
			add(m[1])
		}
	}
	if strings.IndexByte(u, '&') >= 0 {
		if m := reMailAmp.FindStringSubmatch(u); m != nil {
			add(m[1])
		}
	}
	if strings.Contains(u, "%20") {
		if m := reMailSpaces.FindStringSubmatch(u); m != nil {
			add("mailto:" + m[1])
		}
	}
	if strings.IndexByte(u, '<') >= 0 {
		if m := reMailAngle.FindStringSubmatch(u); m != nil {
			add("mailto:" + m[1])
		}
	}
}

var (
	reMailQuery  = regexp.MustCompile(`^([^@]+@[^?]+)\?`)
	reMailAmp    = regexp.MustCompile(`^([^@]+@[^?&]+)&`)
	reMailSpaces = regexp.MustCompile(`^(?:mailto:)?(?:%20)*([^@]+@[^?&%]+)`)
	reMailAngle  = regexp.MustCompile(`^[^?&]*<([^@>]+@[^>]+)>`)
)

// uriParts splits an http(s) URI as reURIParts does, `(?i)^(https?://)([^@/?#]*@)?
// ([^/?#:]+)((?::(\d*))?.*)$`, reading it once: the backtracker tried each split
// of every URI of a message (FuzzURIParts holds the two to the same answers).
func uriParts(n string) (proto, auth, host, rest, port string, ok bool) {
	switch {
	case len(n) >= 7 && strings.EqualFold(n[:7], "http://"):
		proto = n[:7]
	case len(n) >= 8 && strings.EqualFold(n[:8], "https://"):
		proto = n[:8]
	default:
		return
	}
	p := len(proto)
	hostEnd := func(from int) int { // [^/?#:]+, as far as it goes
		if i := strings.IndexAny(n[from:], "/?#:"); i >= 0 {
			return from + i
		}
		return len(n)
	}
	h := p
	if i := strings.IndexAny(n[p:], "@/?#"); i >= 0 && n[p+i] == '@' {
		if e := hostEnd(p + i + 1); e > p+i+1 { // (with no host after it, no auth)
			auth, h = n[p:p+i+1], p+i+1
		}
	}
	e := hostEnd(h)
	// .* does not cross a newline, and $ is the end: a newline after the host
	// means no match (a shorter host leaves it in the rest as well).
	if e == h || strings.IndexByte(n[e:], '\n') >= 0 {
		return "", "", "", "", "", false
	}
	host, rest = n[h:e], n[e:]
	if strings.HasPrefix(rest, ":") {
		j := 1
		for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
			j++
		}
		port = rest[1:j]
	}
	return proto, auth, host, rest, port, true
}

// octetValue is one part of a dotted address as SpamAssassin reads it: hex
// (0x7f), octal (0177), or decimal, without leading zeros.
func octetValue(o string) string {
	if len(o) > 2 && (o[1] == 'x' || o[1] == 'X') {
		v, _ := strconv.ParseUint(o[2:], 16, 64)
		return strconv.FormatUint(v, 10)
	}
	if m := reOctalOctet.FindStringSubmatch(o); m != nil {
		v, _ := strconv.ParseUint(m[1], 8, 64)
		return strconv.FormatUint(v, 10)
	}
	return strings.TrimLeft(o, "0")
}

// decimalHostIP is the address SpamAssassin's decode_ulong_to_ip makes of a
// host written as one decimal number: the first eight of its hex digits
// (sprintf "%08lx", then the first four bytes pack H* makes of them). Below
// 2^32 that is the number's address; a phish's http://026250572540/ (past 32
// bits) reads as 97.202.127.47, the form SpamAssassin's uri rules read, where
// the number modulo 2^32 gave 28.167.242.252.
func decimalHostIP(v uint64) string {
	h := fmt.Sprintf("%08x", v)
	x, _ := strconv.ParseUint(h[:8], 16, 32)
	return ulongIP(x)
}

// ulongIP is the dotted address of a 32-bit number (v's low 32 bits).
func ulongIP(v uint64) string {
	v &= 0xffffffff
	return fmt.Sprintf("%d.%d.%d.%d", v>>24, v>>16&0xff, v>>8&0xff, v&0xff)
}

var (
	reEscape        = quick(`%[0-9a-fA-F]{2}`)
	reDottedNumbers = quick(`(?i)^(?:(?:0x[0-9a-f]+|\d+)\.){3}(?:0x[0-9a-f]+|\d+)$`)
	reHexHost       = quick(`(?i)^0x[0-9a-f]+$`)
	reDigitsHost    = quick(`^[0-9]+$`)
	reOctalOctet    = regexp.MustCompile(`^0+([1-3][0-7]{0,2}|[4-7][0-7]?)$`)
	reSingleLabel   = quick(`(?i)^(?:www\.)?([^.]+)$`)
	reRedirect      = quick(`(?i)https?:/{0,2}[^&#]+`)
)

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// Describe returns a hit's description for X-Spam-Report.
func (h Hit) Describe() string {
	prefix := map[Kind]string{Header: "", Body: "BODY: ", Rawbody: "RAW: ", URI: "URI: ", Full: "FULL: ", Meta: ""}[h.Rule.Kind]
	if h.Rule.Describe == "" {
		return prefix + h.Rule.Name
	}
	return prefix + h.Rule.Describe
}

// String names a rule and where it is defined.
func (r *Rule) String() string { return fmt.Sprintf("%s (%s %s:%d)", r.Name, r.Kind, r.File, r.Line) }

// containsAny reports whether s holds one of lits.
func containsAny(s string, lits []string) bool {
	for _, l := range lits {
		if strings.Contains(s, l) {
			return true
		}
	}
	return false
}

// asciiLower lower-cases A-Z only, keeping every byte where it is.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// defaultScore is the score of a rule no score line scores: SpamAssassin's default
// def (1, or -1 for a nice rule), or its author's score (authorScore) where that is
// smaller. Without sa-update's mass-checked scores SpamAssassin gives every such rule
// the default; an author who scored a rule 0.25, or 0.001 (information, not
// evidence), did not mean it to count as much as a rule worth a full point. An
// author's score above the default is not taken: without the mass-check, nothing
// has weighed it against the other rules' evidence.
func (p *parser) defaultScore(name string, def Scores) Scores {
	author, ok := p.authorScores[name]
	if !ok {
		return def
	}
	out := def
	for i, a := range author {
		if (a >= 0) == (def[i] >= 0) && math.Abs(a) < math.Abs(def[i]) {
			out[i] = a
		}
	}
	return out
}
