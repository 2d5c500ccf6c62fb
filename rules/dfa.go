package rules

import (
	"hash/maphash"
	"math"
	"math/bits"
	"regexp/syntax"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"unicode"
	"unicode/utf8"
	"unsafe"
)

// dfa answers one question fast: does a regex match anywhere in a text? Go's regexp
// simulates the NFA (or backtracks) at every byte; SpamAssassin's rules are long
// alternations and obfuscation patterns ([_\W]{0,3} between letters) for which that
// costs tens of nanoseconds per byte. Built lazily from the same compiled program, a
// DFA costs one table lookup per byte, and RE2's guarantee stays: states are sets of
// program counters, created only as the text needs them and bounded in number.
//
// Runes are grouped into classes that every instruction treats alike (and that agree
// on being a word character or a newline, for \b, ^ and $), so a state's transition
// table is small. Zero-width assertions are resolved when the next rune is known, as
// RE2 does: a state keeps them pending with the kind of rune before it.
//
// A dfa is safe for concurrent use. Its transitions are one flat table of int32
// (a state's row, a column per rune class) whose entries are the offsets of rows: the
// search loop does one add and one dependent load per byte. Entries are written once,
// atomically, under the lock; a table that fills up is copied into a larger one, and
// a cache that grows past its budget starts a new generation, while searches on the
// old ones go on undisturbed.
type dfa struct {
	// What a search reads first comes first: the fields and the class table
	// of ASCII runes are the DFA's first three cache lines (with the
	// allocator's header before it; TestDFALayout). A message starts some
	// hundreds of searches on DFAs whose data other work evicted since the
	// last, and these fields were on six lines.
	gen    atomic.Pointer[dfaGen]
	nclass int // the classes; class nclass is "the end of the text"
	width  int // table columns: the classes, then "matches at the end of text"
	// lit, when set, tells an unanchored search where a match can start next
	// (see litWindow).
	lit *litWindow
	// set: the DFA of several regexes (newSetDFA), which says which of them
	// match, not whether one does. Each regex's InstMatch has its number as arg;
	// a search goes on past matches, and a state records the regexes whose
	// matches end on the way into it (its mask, in the row's last column, and in
	// its key); its entries are negated rows, so that the search stops to read
	// it. all is the mask of every regex: a search that found all ends there.
	set bool
	// anchored DFAs find matches that start where the search does (matchFrom);
	// the others, matches anywhere (a match may start at every rune).
	anchored bool
	// noAssert: the program tests no assertion, so the rune before a state never
	// matters and states are not told apart by it (one start state, not four).
	noAssert bool
	all      uint32
	// ascii is each ASCII rune's class. A byte, not the uint16 of a class:
	// classes are numbered in the order of their first runes, so an ASCII
	// rune's is below 128; and a walk reads it a byte of text each, from two
	// cache lines, not four.
	ascii [utf8.RuneSelf]uint8

	// prog is the compiled program while the classes are worked out (classes);
	// then insts and runes hold it, compacted (compact), and prog is dropped.
	prog   *syntax.Prog
	insts  []dinst
	runes  []rune // every rune instruction's runes, in one slice
	start  uint32 // the program's start
	bounds []rune // interval i holds the runes in [bounds[i], bounds[i+1])
	// ivClass is each interval's class when intervals that every instruction
	// treats alike share one (see classes); nil when each interval is a class.
	ivClass []uint16
	rep     []rune // a rune of each class

	mu     sync.Mutex // held to compute states; searches only read
	seen   *pcSet     // scratch, lent while mu is held (takeSeen)
	stack  []uint32   // scratch, under mu
	key    []uint16   // scratch, under mu: a state's key (state)
	resets int        // generations started afresh (for tests)

	// An unanchored DFA's states all hold the closure of the program's start (a
	// match may begin at any rune); for SpamAssassin's long alternations that is
	// most of every state. So states leave it out (startSet marks its
	// instructions) and what it does is worked out once per kind of rune before
	// and rune class (starts), under mu, not again for every new transition.
	startSet pcBits
	startPCs []uint16
	// startOf is by before-kind, then class (class width-1: the end of text); a
	// kind's row is made when a state of that kind first steps (a DFA without
	// assertions has one kind). The steps' instructions are in startNext.
	startOf   [4][]startStep
	startNext []uint32
	// pool, when set, lends bytes past dfaOwnBytes; extra is what this DFA holds
	// of it (under mu).
	pool  *dfaPool
	extra int64
}

// startStep is what the start closure does on one rune class after one kind of
// rune: whether a match ends there (an empty one: mask, as resolvePCs's), and the
// instructions it leads to (startNext[off:off+n]). Offsets, not a slice: a DFA has
// up to 4×513 of these, and the rule set thousands of DFAs.
type startStep struct {
	off, n uint32
	mask   uint32 // the regexes whose matches end there (a DFA of one regex: 1); 0: none
	done   bool
}

// startStepFor computes (once) the start closure's step; callers hold mu.
func (d *dfa) startStepFor(before uint8, cls int) *startStep {
	if d.startOf[before] == nil {
		d.startOf[before] = make([]startStep, d.width)
	}
	st := &d.startOf[before][cls]
	if st.done {
		return st
	}
	r := rune(-1)
	if cls < d.nclass {
		r = d.rep[cls]
	}
	set, mask := d.resolvePCs(nil, d.startPCs, true, before, r) // (once a kind and class)
	st.done, st.mask = true, mask
	if (mask == 0 || d.set) && r >= 0 {
		seen := d.seen.reset(len(d.insts))
		st.off = uint32(len(d.startNext))
		d.startNext = d.advance(d.startNext, seen, set, r)
		st.n = uint32(len(d.startNext)) - st.off
	}
	return st
}

// startNextOf is the instructions a start step leads to; callers hold mu.
func (d *dfa) startNextOf(st *startStep) []uint32 {
	return d.startNext[st.off : st.off+st.n : st.off+st.n]
}

// dfaPool is the memory the DFAs of one rule set may take past their own budgets.
// Most rules need a few dozen states; a few of SpamAssassin's (the form-filling
// and money rules: wide classes repeated up to a hundred times) need a thousand or
// more, and on 256 KB alone would start afresh every few messages, recomputing
// each transition. The pool lets those grow while bounding the set's total.
type dfaPool struct {
	limit int64
	used  atomic.Int64
}

// grab takes n bytes of the pool, if it has them.
func (p *dfaPool) grab(n int64) bool {
	if p.used.Add(n) > p.limit {
		p.used.Add(-n)
		return false
	}
	return true
}

// dfaGen is one generation of states, each named by its row's offset in the table.
// Row 0 is unused, so that entry 0 can mean "not computed yet"; -1 means "matched".
//
// What a search reads of it comes first, on one cache line (a dfaGen is 128
// bytes, its size class: TestDFALayout): the table's address is a field here,
// not a pointer to a slice header, a line more to read.
type dfaGen struct {
	// tab is the table as searches read it: the address of its first entry,
	// without a length (see tableRef). A table only grows, copied into a
	// larger one.
	tab atomic.Pointer[atomic.Int32]
	// start is the start state's row, or -1 when the empty string matches.
	start int32
	// starts are the start states by the kind of rune before (for \b and ^):
	// an anchored DFA's, where a search begins (its row deadRow is the state
	// with nothing left to match); an unanchored DFA's hold nothing but the
	// start closure, which its states leave out, so they are also where a
	// transition leads that leaves no instruction (next).
	starts [4]int32
	uses   atomic.Int32
	// acc, once uses reaches accelAfter, is how a search skips through an
	// unanchored DFA's start states (see accel).
	acc atomic.Pointer[accel]
	// dead, in an anchored DFA, says by kind of rune before and ASCII byte
	// whether the start state of that kind goes to the dead state on the
	// byte (no match starts there), as far as the transitions computed when
	// it was worked out say (see skipDead).
	dead atomic.Pointer[deadStarts]

	states []dstate // by row (offset / width); states[0] is unused
	// chunks hold the states' instructions, each state's followed by its
	// kind, in slices that are appended to within their capacity only, so
	// never move: the index compares keys with them (see state). With a slice per
	// state (its header in dstate) every state was memory the collector scans
	// at each cycle, tens of thousands of them in a warm filter; in chunks they
	// hold no pointer. 16 bits an instruction (programs have fewer than 65,536:
	// compact): the chunks were a tenth of a warm filter's heap at 32.
	chunks [][]uint16
	index  stateIndex
	// tabLen is the table's length, for its writers (rows): read and written
	// holding mu, or while the generation is built, before it is published.
	tabLen int32
	// fresh is how many rows the generation had when made (row 0 and its
	// start states): one with no more has learned nothing.
	fresh int32
}

// tableRef is a generation's table as a search holds it: the address of its
// first entry, without a length. A search needs none: every row an entry of a
// table leads to is in that table (state grows the table before any entry
// leads to a new row, and entries are stored in the current table only), and
// so are the generation's start rows. An address and a length cannot be
// published together: a search that paired a new table with the old one's
// length held a prefix of the new table, whose entries, stored since, led past
// that prefix ("index out of range [868] with length 858", under concurrency,
// on the first messages, while the tables grow).
type tableRef = *atomic.Int32

// table is the generation's table as a search finds it.
func (g *dfaGen) table() tableRef { return g.tab.Load() }

// rows is the table as its writers see it, with its length (callers hold the DFA's mu).
func (g *dfaGen) rows() []atomic.Int32 { return unsafe.Slice(g.tab.Load(), g.tabLen) }

// setTable publishes a table (callers hold the DFA's mu).
func (g *dfaGen) setTable(tab []atomic.Int32) {
	g.tabLen = int32(len(tab))
	g.tab.Store(unsafe.SliceData(tab))
}

// deadStarts is dfaGen.dead's table.
type deadStarts [4][utf8.RuneSelf]bool

// accel is what lets a search skip ahead while it is in a start state (nothing
// matched so far but the start closure): most rules look for a string of rare
// letters, and most of a text is bytes on which the DFA stays in its start states.
// A loop over a byte table (or strings.IndexByte, for one byte) finds the next byte
// that matters several times faster than a table lookup per byte.
//
// Which bytes leave depends on the kind of rune before (the start state's kind):
// after a newline, ^ lets a rule start on any letter, after other runes on none. A
// skip stops at the bytes that leave some kind's start state (that kind's escapes)
// or, where those are more, at the bytes of that kind, so that the DFA steps from
// it itself (from no start state of such a kind does a skip begin). For
// (?m)^[a-z]… a skip is then a search for the next newline. Bytes of runes that
// are not ASCII are all stops when one of those runes is an escape (a skip lands
// on a rune's first byte). Where the stops would be too many, a literal that
// every match holds may tell where a match can start instead (lit, litWindow).
type accel struct {
	stop  [256]bool
	one   int      // the one stop byte, or -1
	from  [4]bool  // by kind: a skip may begin in the start state of that kind
	max   int32    // rows up to max are start states
	width int32    // row = width * (kind+1)
	rows  [4]int32 // the start state after a rune of each kind (beforeKind)
	lit   bool     // skip by the DFA's literal (dfa.lit); not a pointer: accels hold none, for the collector
	// toEnd: no byte stops a skip, which goes to the text's end at once. So
	// for a rule anchored at the text's start (\A, or ^ without m) once past
	// its first bytes: the byte loop read on through every header line and
	// link given to such a rule, some 20 KB a message.
	toEnd bool
}

// accelAfter is how many searches a generation serves before its accel is worked
// out: most DFAs of a rule set run on few messages, and the work (every rune class
// from every start state) is not worth it for them.
const accelAfter = 4

// accelMaxStops is the most ASCII bytes a skip stops at: with more, it stops so
// often that the DFA might as well read the bytes.
const accelMaxStops = 16

// Before-rune kinds: what a pending assertion needs to know of the rune before.
const (
	beforeText = iota
	beforeNewline
	beforeWord
	beforeOther
)

var beforeRune = [...]rune{beforeText: -1, beforeNewline: '\n', beforeWord: 'a', beforeOther: ' '}

// dstate is a state: its instructions (rune, match and pending empty-width
// ones) are chunks[chunk][off:off+n] of its generation.
type dstate struct {
	chunk, off, n uint32
	before        uint8
	// pending: it holds an empty-width instruction, which each step resolves
	// (resolvePCs); a state without one steps from its instructions as they are.
	pending bool
}

// pcsOf is a state of g's instructions, as its key holds them.
func (d *dfa) pcsOf(g *dfaGen, s *dstate) []uint16 {
	return g.chunks[s.chunk][s.off : s.off+s.n : s.off+s.n]
}

// dfaChunkMax is the most instructions a chunk is made for (more when one
// state needs it): chunks start small, as most DFAs have a few states.
const dfaChunkMax = 16 << 10

// keep copies a state's key into the generation's chunks and returns where it is.
func (g *dfaGen) keep(pcs []uint16) (chunk, off uint32) {
	last := len(g.chunks) - 1
	if last < 0 || cap(g.chunks[last])-len(g.chunks[last]) < len(pcs) {
		size := 64
		if last >= 0 {
			size = min(2*cap(g.chunks[last]), dfaChunkMax)
		}
		g.chunks = append(g.chunks, make([]uint16, 0, max(size, len(pcs))))
		last++
	}
	c := g.chunks[last]
	g.chunks[last] = append(c, pcs...)
	return uint32(last), uint32(len(c))
}

const (
	dfaMaxClasses = 512
	// dfaMaxIntervals bounds the intervals the runes are cut into before the
	// alike ones are merged into classes (mergeIntervals): dfaMaxClasses at most.
	dfaMaxIntervals = 16384
	dfaMaxBytes     = 256 << 10 // of states per regex before the cache starts afresh, on its own
	// In a rule set, a DFA's own budget is smaller and the set's pool lends
	// the rest (borrow): tables are sized by what their regexes need, not
	// rounded up to 256 KB, and the set's DFAs together are bounded by 64 KB
	// each (most need far less) and the pool, not 256 KB each. Over the corpus
	// the check does the same work in less heap (docs/benchmarks.md).
	dfaOwnBytes  = 64 << 10
	dfaPoolStep  = 64 << 10 // what a DFA over its own budget asks the set's pool for at a time
	dfaPoolLimit = 32 << 20 // a set's pool
	dfaSlowSteps = 2000     // new transitions one search may compute, at least
)

// newDFA builds the automaton for a Go regex, or returns nil when its rune classes
// are too many for small transition tables (the regexp is used then).
func newDFA(goRe string) *dfa {
	re, err := parseRE(goRe)
	if err != nil {
		return nil
	}
	return dfaOf(re)
}

func dfaOf(re *syntax.Regexp) *dfa {
	prog, err := syntax.Compile(re.Simplify())
	if err != nil {
		return nil
	}
	return progDFA(&dfa{prog: prog, lit: literalWindow(re)})
}

// progDFA finishes a DFA whose program is d.prog; nil when its rune classes are
// too many.
func progDFA(d *dfa) *dfa {
	if !d.classes() || !d.compact() {
		return nil
	}
	d.width = d.nclass + 1
	if d.set {
		d.width++ // the mask
	}
	d.takeSeen()
	d.gen.Store(d.newGen())
	d.putSeen()
	return d
}

// maxSetRegexes is the most regexes a set DFA holds: a bit each in a mask that
// is also an int32 entry of the table (the end of text's, plus one).
const maxSetRegexes = 30

// newSetDFA builds the DFA that says which of res match somewhere in a text
// (matchSet): one pass over the text answers for all of them, where the DFA
// of their alternation says only whether one does, and each must then search
// again on its own wherever one of them (often a common one) matches. nil
// when their rune classes together are too many, or they are too many.
func newSetDFA(res []*syntax.Regexp) *dfa {
	if len(res) == 0 || len(res) > maxSetRegexes {
		return nil
	}
	// The programs one after the other, each InstMatch numbered, and a chain
	// of alternations to start them all.
	prog := &syntax.Prog{Inst: []syntax.Inst{{Op: syntax.InstFail}}}
	starts := make([]uint32, len(res))
	for k, re := range res {
		p, err := syntax.Compile(re.Simplify())
		if err != nil {
			return nil
		}
		base := uint32(len(prog.Inst))
		for _, in := range p.Inst {
			switch in.Op {
			case syntax.InstMatch:
				in.Arg = uint32(k)
			case syntax.InstFail:
			default:
				in.Out += base
				if in.Op == syntax.InstAlt || in.Op == syntax.InstAltMatch {
					in.Arg += base
				}
			}
			prog.Inst = append(prog.Inst, in)
		}
		starts[k] = base + uint32(p.Start)
	}
	start := starts[len(starts)-1]
	for k := len(starts) - 2; k >= 0; k-- {
		prog.Inst = append(prog.Inst, syntax.Inst{Op: syntax.InstAlt, Out: starts[k], Arg: start})
		start = uint32(len(prog.Inst) - 1)
	}
	prog.Start = int(start)
	return progDFA(&dfa{prog: prog, set: true, all: 1<<len(res) - 1})
}

// newPrefilter builds, for a regex with counted repetitions (X{m,n}), the DFA of
// the same regex with each count loosened to X* or X+: it matches wherever the regex
// does, and more. Counting is what makes DFAs large: SpamAssassin's form-filling and
// money rules repeat wide classes up to a hundred times, so their exact DFAs need
// thousands of states, overflow their budget and start afresh again and again,
// computing each transition anew; loosened, they need a few hundred at most. Text the
// loosened form does not match is text the rule misses; the rest (rare) goes on to the
// exact DFA. nil when the regex has no count to loosen.
func newPrefilter(goRe string) *dfa {
	re, err := parseREMutable(goRe)
	if err != nil || !loosenCounts(re) {
		return nil
	}
	return dfaOf(re)
}

// loosenCounts rewrites X{m,n} (n > 1) as X* (m = 0) or X+ in place; it reports
// whether it changed anything.
func loosenCounts(re *syntax.Regexp) bool {
	changed := false
	for _, sub := range re.Sub {
		changed = loosenCounts(sub) || changed
	}
	if re.Op == syntax.OpRepeat && re.Max > re.Min {
		switch {
		case re.Min == 0:
			re.Op, re.Min, re.Max = syntax.OpStar, 0, 0
		case re.Min == 1:
			re.Op, re.Min, re.Max = syntax.OpPlus, 0, 0
		default:
			re.Max = -1
		}
		changed = true
	}
	return changed
}

// newGen starts a generation with the start state alone.
func (d *dfa) newGen() *dfaGen {
	g := &dfaGen{states: []dstate{{}}}
	tab := make([]atomic.Int32, 4*d.width) // most rules never need more than a few states
	g.setTable(tab)
	if d.anchored {
		d.state(g, nil, beforeText, 0) // the dead state: row d.width (deadRow)
		for k := range g.starts {
			g.starts[k] = d.state(g, d.closure(nil, d.seen.reset(len(d.insts)), d.start, nil), uint8(k), 0)
		}
		g.start = g.starts[beforeText]
		g.fresh = int32(len(g.states))
		return g
	}
	if d.startSet == nil { // the first generation: the start closure, once
		start := d.closure(nil, d.seen.reset(len(d.insts)), d.start, nil)
		d.startSet = make(pcBits, (len(d.insts)+63)/64)
		for _, pc := range start {
			d.startSet.add(pc)
			d.startPCs = append(d.startPCs, uint16(pc)) // (programs are compacted to fewer than 65,536)
		}
		d.noAssert = !slices.ContainsFunc(d.insts, func(in dinst) bool { return in.op == syntax.InstEmptyWidth })
	}
	// Nothing but the start closure, after each kind of rune: rows width to 4*width
	// (accel.max). Without assertions the kinds are one state.
	for k := range g.starts {
		g.starts[k] = d.state(g, nil, uint8(k), 0)
	}
	g.start = g.starts[beforeText]
	if d.noAssert {
		g.starts = [4]int32{g.start, g.start, g.start, g.start}
	}
	g.fresh = int32(len(g.states))
	return g
}

// accelFor works out g's accel; callers hold mu.
func (d *dfa) accelFor(g *dfaGen) *accel {
	none := &accel{}
	if d.anchored || g != d.gen.Load() {
		return none
	}
	kinds := 4
	if d.noAssert {
		kinds = 1 // (one start state)
	}
	var esc [4][256]bool
	for iv := range d.bounds {
		hi := rune(utf8.MaxRune + 1)
		if iv+1 < len(d.bounds) {
			hi = d.bounds[iv+1]
		}
		cls := d.class(d.bounds[iv])
		for k := 0; k < kinds; k++ {
			st := d.startStepFor(uint8(k), cls)
			if st.mask == 0 && !slices.ContainsFunc(d.startNextOf(st), func(pc uint32) bool { return !d.startSet.has(pc) }) {
				continue
			}
			for r := d.bounds[iv]; r < min(hi, utf8.RuneSelf); r++ {
				esc[k][r] = true
			}
			if hi > utf8.RuneSelf {
				for b := utf8.RuneSelf; b < 256; b++ {
					esc[k][b] = true
				}
			}
		}
	}
	a := &accel{one: -1, max: 4 * int32(d.width), width: int32(d.width), rows: g.starts}
	for k := 0; k < kinds; k++ {
		stops := esc[k]
		if !d.noAssert {
			if k == beforeText {
				continue // (only before the first byte: no skip begins there)
			}
			var own [256]bool // the bytes of kind k
			for b := range own {
				own[b] = b >= utf8.RuneSelf && k == beforeOther || b < utf8.RuneSelf && int(asciiKind[b]) == k
			}
			if count(own) < count(stops) {
				stops = own
			} else {
				a.from[k] = true
			}
		} else {
			a.from[k] = true
		}
		for b, stop := range stops {
			a.stop[b] = a.stop[b] || stop
		}
	}
	if a.from == [4]bool{} || count(a.stop) > accelMaxStops {
		if d.lit == nil {
			return none
		}
		// The literal's skip instead: it looks for a string where the byte
		// skip, when it has few stops, is the faster.
		a.from, a.stop, a.lit = [4]bool{}, [256]bool{}, true
	}
	// Stopping at every newline ((?m)^[^>].*?<a href=) a search steps through
	// most lines: a literal of a few bytes, looked for by strings.Index, goes
	// further. Elsewhere the byte skip is faster than looking for the literal
	// in each short text (a header field, a link) it is given.
	if d.lit != nil && a.stop['\n'] && !d.lit.fold && len(d.lit.lit) >= 3 {
		a.lit = true
	}
	n := 0
	for b, stop := range a.stop {
		if stop {
			a.one, n = b, n+1
		}
	}
	if n != 1 {
		a.one = -1
	}
	a.toEnd = n == 0 && !a.lit
	return a
}

// count is how many ASCII bytes are in a set (the bytes of runes that are not
// ASCII count as one).
func count(set [256]bool) int {
	n := 0
	for _, in := range set[:utf8.RuneSelf] {
		if in {
			n++
		}
	}
	if set[utf8.RuneSelf] || set[255] {
		n++
	}
	return n
}

// skip is how far from i a search in start state s can go on without leaving the
// start states, and the start state it is in there (s if it does not move).
func (a *accel) skip(text string, i int, s int32) (int, int32) {
	// The kind of s, whose row is width*(kind+1): compares, where a division was
	// a fifth of the skips' instructions (a skip is a few bytes on average).
	k := 0
	if s > a.width {
		k++
		if s > 2*a.width {
			k++
			if s > 3*a.width {
				k++
			}
		}
	}
	if !a.from[k] {
		return i, s
	}
	j := i
	if a.toEnd {
		j = len(text)
	} else if a.one >= 0 {
		if x := strings.IndexByte(text[i:], byte(a.one)); x < 0 {
			j = len(text)
		} else {
			j += x
		}
	} else {
		// Eight bytes a round, their entries ORed (a bool is a byte of 0 or
		// 1): one bounds check and one branch for eight, where the loop below
		// spends some eight instructions a byte.
		stop := (*[256]uint8)(unsafe.Pointer(&a.stop))
		for j+8 <= len(text) {
			t := text[j : j+8]
			if stop[t[0]]|stop[t[1]]|stop[t[2]]|stop[t[3]]|stop[t[4]]|stop[t[5]]|stop[t[6]]|stop[t[7]] != 0 {
				break
			}
			j += 8
		}
		for j < len(text) && stop[text[j]] == 0 {
			j++
		}
	}
	if j == i {
		return i, s
	}
	return j, a.rows[kindBefore(text, j)]
}

// classes splits the runes at every boundary an instruction draws, then makes one
// class of the intervals alike (mergeIntervals).
func (d *dfa) classes() bool {
	cuts := map[rune]bool{0: true, utf8.MaxRune + 1: true}
	add := func(lo, hi rune) { cuts[lo], cuts[hi+1] = true, true }
	// \b, ^ and $ tell word characters and newlines from the rest.
	add('0', '9')
	add('A', 'Z')
	add('_', '_')
	add('a', 'z')
	add('\n', '\n')
	for i := range d.prog.Inst {
		in := &d.prog.Inst[i]
		switch in.Op {
		case syntax.InstRune1:
			add(in.Rune[0], in.Rune[0])
		case syntax.InstRuneAnyNotNL:
			add('\n', '\n')
		case syntax.InstRune:
			if len(in.Rune) == 1 {
				r := in.Rune[0]
				add(r, r)
				if syntax.Flags(in.Arg)&syntax.FoldCase != 0 {
					for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
						add(f, f)
					}
				}
				continue
			}
			for j := 0; j+1 < len(in.Rune); j += 2 {
				add(in.Rune[j], in.Rune[j+1])
			}
		}
		if len(cuts) > dfaMaxIntervals+1 {
			return false
		}
	}
	for r := range cuts {
		d.bounds = append(d.bounds, r)
	}
	slices.Sort(d.bounds)
	d.bounds = d.bounds[:len(d.bounds)-1] // MaxRune+1 only ends the last interval
	if !d.mergeIntervals() {
		return false
	}
	for c := rune(0); c < utf8.RuneSelf; c++ {
		cls := d.class(c)
		if cls > math.MaxUint8 {
			return false // (not so: see ascii)
		}
		d.ascii[c] = uint8(cls)
	}
	return true
}

// mergeIntervals makes one class of the intervals that every instruction
// treats alike (all match them or none, and they are the same kind of rune
// for \b and ^). A table row has a column per class, and a walk reads one
// column of a row per byte: rows as wide as the intervals were more than twice
// what the regexes tell apart (/(?i)viagra/ cuts 30 intervals: each letter,
// its upper case, the letters between them; it tells apart 8 classes), and
// each row read from memory more cache lines (docs/benchmarks.md,
// "Thirty-fifth session"). Rules that list many look-alike letters
// (ReplaceTags' lists: Cyrillic and accented forms of each letter) cut the
// runes into more intervals than a row may have columns, but each letter's
// look-alikes behave as one.
func (d *dfa) mergeIntervals() bool {
	n := len(d.bounds)
	interval := func(r rune) int {
		return sort.Search(n, func(i int) bool { return d.bounds[i] > r }) - 1
	}
	var consuming []int
	for i := range d.prog.Inst {
		switch d.prog.Inst[i].Op {
		case syntax.InstRune1, syntax.InstRune, syntax.InstRuneAny, syntax.InstRuneAnyNotNL:
			consuming = append(consuming, i)
		}
	}
	words := (len(consuming) + 2 + 63) / 64 // two bits more: the kind of rune
	sig := make([]uint64, n*words)
	set := func(iv, bit int) { sig[iv*words+bit/64] |= 1 << (bit % 64) }
	for iv := 0; iv < n; iv++ {
		switch r := d.bounds[iv]; {
		case r == '\n':
			set(iv, 0)
		case r < utf8.RuneSelf && syntax.IsWordChar(r):
			set(iv, 1)
		}
	}
	for k, pc := range consuming {
		in := &d.prog.Inst[pc]
		bit := k + 2
		switch in.Op {
		case syntax.InstRuneAny:
			for iv := 0; iv < n; iv++ {
				set(iv, bit)
			}
		case syntax.InstRuneAnyNotNL:
			nl := interval('\n')
			for iv := 0; iv < n; iv++ {
				if iv != nl {
					set(iv, bit)
				}
			}
		case syntax.InstRune1:
			set(interval(in.Rune[0]), bit)
		case syntax.InstRune:
			if len(in.Rune) == 1 {
				r := in.Rune[0]
				set(interval(r), bit)
				if syntax.Flags(in.Arg)&syntax.FoldCase != 0 {
					for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
						set(interval(f), bit)
					}
				}
				continue
			}
			for j := 0; j+1 < len(in.Rune); j += 2 {
				for iv := interval(in.Rune[j]); iv < n && d.bounds[iv] <= in.Rune[j+1]; iv++ {
					set(iv, bit)
				}
			}
		}
	}
	classOf := map[string]uint16{}
	d.ivClass = make([]uint16, n)
	var rep []rune
	for iv := 0; iv < n; iv++ {
		key := unsafe.String((*byte)(unsafe.Pointer(&sig[iv*words])), words*8)
		c, ok := classOf[key]
		if !ok {
			if len(rep) >= dfaMaxClasses {
				d.ivClass = nil
				return false
			}
			c = uint16(len(rep))
			classOf[strings.Clone(key)] = c
			rep = append(rep, d.bounds[iv])
		}
		d.ivClass[iv] = c
	}
	if len(rep) == n {
		d.ivClass = nil // (each interval its own class: class need not look it up)
	}
	d.rep, d.nclass = rep, len(rep)
	return true
}

func (d *dfa) class(r rune) int {
	iv := sort.Search(len(d.bounds), func(i int) bool { return d.bounds[i] > r }) - 1
	if d.ivClass != nil {
		return int(d.ivClass[iv])
	}
	return iv
}

// dinst is an instruction of a DFA's program, compacted: syntax.Inst's rune slice
// (24 bytes, and most instructions have none) becomes a place in the DFA's runes.
// The rule set's programs were a fifth of a warm serve's heap. 12 bytes: a rune
// instruction's arg (syntax's fold flag, read once here) is where its runes
// start, runes[arg : arg+nr].
type dinst struct {
	op       syntax.InstOp
	fold     bool   // InstRune of one rune: its other cases match too
	nr       uint16 // a rune instruction's runes
	out, arg uint32
}

// compact moves the program into insts and runes, and drops it.
func (d *dfa) compact() bool {
	if len(d.prog.Inst) > math.MaxUint16 {
		return false // (a state keeps its instructions in 16 bits: dfaGen.chunks)
	}
	n := 0
	for i := range d.prog.Inst {
		if len(d.prog.Inst[i].Rune) > math.MaxUint16 {
			return false // (a class of more ranges than Unicode has)
		}
		n += len(d.prog.Inst[i].Rune)
	}
	d.insts, d.runes = make([]dinst, len(d.prog.Inst)), make([]rune, 0, n)
	for i := range d.prog.Inst {
		in := &d.prog.Inst[i]
		di := dinst{op: in.Op, out: in.Out, arg: in.Arg}
		if in.Op == syntax.InstRune || in.Op == syntax.InstRune1 {
			di.fold = in.Op == syntax.InstRune && len(in.Rune) == 1 && syntax.Flags(in.Arg)&syntax.FoldCase != 0
			di.arg, di.nr = uint32(len(d.runes)), uint16(len(in.Rune))
			d.runes = append(d.runes, in.Rune...)
		}
		d.insts[i] = di
	}
	d.start, d.prog = uint32(d.prog.Start), nil
	return true
}

// matchRune is syntax.Inst's MatchRune for an InstRune: one rune (and, folded,
// its other cases) or sorted ranges.
func (d *dfa) matchRune(in *dinst, r rune) bool {
	rs := d.runes[in.arg : in.arg+uint32(in.nr)]
	if len(rs) == 1 {
		r0 := rs[0]
		if r == r0 {
			return true
		}
		if in.fold {
			if r < utf8.RuneSelf && r0 < utf8.RuneSelf {
				return asciiFoldPair(r0, r)
			}
			for r1 := unicode.SimpleFold(r0); r1 != r0; r1 = unicode.SimpleFold(r1) {
				if r == r1 {
					return true
				}
			}
		}
		return false
	}
	lo, hi := 0, len(rs)/2
	for lo < hi {
		m := lo + (hi-lo)/2
		if rs[2*m] <= r {
			if r <= rs[2*m+1] {
				return true
			}
			lo = m + 1
		} else {
			hi = m
		}
	}
	return false
}

// asciiFoldPair reports whether two different ASCII runes are cases of one
// letter: the only other ASCII rune in an ASCII rune's fold orbit (k's and s's
// third members, U+212A and U+017F, are not ASCII). Building a state asks it of
// a rune for every case-folded literal the state's instructions read, where a
// walk of the orbit by SimpleFold costs two table searches a step.
func asciiFoldPair(r0, r rune) bool {
	l := r0 | 0x20
	return r|0x20 == l && 'a' <= l && l <= 'z'
}

// seenSets lends the DFAs their scratch pcSets: a DFA needs one only while it
// computes states, and the rule set's two thousand DFAs each kept one of 4 bytes
// an instruction (2.5 MB with the stock rules). A set is safe to pass from one
// DFA to another: its stamp only grows, so marks left by one are never current
// for the next.
var seenSets = sync.Pool{New: func() any { return new(pcSet) }}

// takeSeen lends d a scratch set until putSeen; callers hold mu (or have the
// DFA to themselves, while it is built).
func (d *dfa) takeSeen() { d.seen = seenSets.Get().(*pcSet) }

func (d *dfa) putSeen() { seenSets.Put(d.seen); d.seen = nil }

// pcSet marks the instructions a closure has visited; reset is O(1) (a new stamp).
type pcSet struct {
	stamp []uint32
	cur   uint32
	// Buffers for a step's instructions (next): those a state's assertions
	// resolve to, and those after the rune. Lent with the set for their
	// capacity: grown anew at each step, they were most of the closures' cost.
	resolved, after []uint32
	// bits is sortPCs's scratch set, a bit an instruction; all zero between uses.
	bits pcBits
}

// sortPCs sorts a state's instructions (distinct, each below n), as its key
// needs them. Beyond a few, as bits: marked, then read back in order, a pass
// over the words between the least and the greatest; pdqsort's compares and
// swaps were an eighth of the work of building states, which a new process
// does in its first messages.
func (p *pcSet) sortPCs(pcs []uint32, n int) []uint32 {
	if len(pcs) <= 12 {
		slices.Sort(pcs) // (an insertion sort)
		return pcs
	}
	if len(p.bits) < (n+63)/64 {
		p.bits = make(pcBits, (n+63)/64)
	}
	lo, hi := pcs[0], pcs[0]
	for _, pc := range pcs {
		p.bits.add(pc)
		lo, hi = min(lo, pc), max(hi, pc)
	}
	k := 0
	for w := lo / 64; w <= hi/64; w++ {
		for x := p.bits[w]; x != 0; x &= x - 1 {
			pcs[k] = w*64 + uint32(bits.TrailingZeros64(x))
			k++
		}
		p.bits[w] = 0
	}
	return pcs[:k]
}

func (p *pcSet) reset(n int) *pcSet {
	if len(p.stamp) < n || p.cur == math.MaxUint32 {
		p.stamp, p.cur = make([]uint32, n), 0
	}
	p.cur++
	return p
}

// visit marks pc, reporting whether it was new.
func (p *pcSet) visit(pc uint32) bool {
	if p.stamp[pc] == p.cur {
		return false
	}
	p.stamp[pc] = p.cur
	return true
}

// pcBits is a set of instructions, a bit each.
type pcBits []uint64

func (b pcBits) add(pc uint32)      { b[pc/64] |= 1 << (pc % 64) }
func (b pcBits) has(pc uint32) bool { return b[pc/64]&(1<<(pc%64)) != 0 }

// closure adds pc and what it reaches without consuming a rune to set. Empty-width
// instructions are followed only when ctx (the assertions true here) is known, that
// is when ctx is not nil; otherwise they stay in the set, pending. Callers hold mu
// (seen is the DFA's scratch set).
func (d *dfa) closure(set []uint32, seen *pcSet, pc uint32, ctx *syntax.EmptyOp) []uint32 {
	stack := append(d.stack[:0], pc)
	for len(stack) > 0 {
		pc := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if !seen.visit(pc) {
			continue
		}
		in := &d.insts[pc]
		switch in.op {
		case syntax.InstAlt, syntax.InstAltMatch:
			stack = append(stack, in.arg, in.out)
		case syntax.InstNop, syntax.InstCapture:
			stack = append(stack, in.out)
		case syntax.InstEmptyWidth:
			if ctx == nil {
				set = append(set, pc)
			} else if syntax.EmptyOp(in.arg)&^*ctx == 0 {
				stack = append(stack, in.out)
			}
		case syntax.InstFail:
		default: // runes, match
			set = append(set, pc)
		}
	}
	d.stack = stack
	return set
}

// state returns the row offset of the state for a set of instructions in g, creating
// it if new; -1 when the set holds a match. mask is a set DFA's (see dfa.set).
func (d *dfa) state(g *dfaGen, pcs []uint32, before uint8, mask uint32) int32 {
	if d.anchored && len(pcs) == 0 && len(g.states) > 1 {
		return d.deadRow() // whatever came before: nothing can match from here
	}
	pcs = d.seen.sortPCs(pcs, len(d.insts))
	pending := false
	for _, pc := range pcs {
		switch d.insts[pc].op {
		case syntax.InstMatch:
			return -1
		case syntax.InstEmptyWidth:
			pending = true
		}
	}
	// The key is the instructions with the kind after them: for the lookup in
	// a scratch slice, for a new state copied into the chunks, which nothing
	// writes to again and the index compares with. One copy, where a key of
	// its own and the closure's spare capacity came to a tenth of the rule
	// set's heap.
	key := d.key[:0]
	for _, pc := range pcs {
		key = append(key, uint16(pc))
	}
	key = append(key, uint16(before))
	if d.set {
		key = append(key, uint16(mask), uint16(mask>>16))
	}
	d.key = key
	h := maphash.String(stateSeed, pcsKey(key))
	if row := d.lookup(g, key, h); row > 0 {
		return row
	}
	chunk, off := g.keep(key)
	row := int32(len(g.states) * d.width)
	g.states = append(g.states, dstate{chunk: chunk, off: off, n: uint32(len(pcs)), before: before, pending: pending})
	d.insert(g, row, h)
	if tab := g.rows(); len(tab) < int(row)+d.width {
		// Readers keep the table they loaded; they find the new one in step.
		// Growing by a quarter (the spare rows of a table that stops growing are
		// heap nobody uses, a tenth of the tables on average, against a sixth
		// by half; each row is copied four times at most, and only while the
		// DFA learns), never past the budget's rows (next starts afresh there).
		grown := make([]atomic.Int32, min(len(tab)+max(len(tab)/4, d.width), (d.maxStates()+1)*d.width))
		// One copy, not an atomic load and store an entry (the loop was a
		// fifth of the states' building in the corpus run's profile): every
		// write to the entries is made holding mu, as this copy is, and
		// nothing reads grown before the Store publishes it.
		copy(int32s(grown), int32s(tab))
		g.setTable(grown)
	}
	if d.set { // before any entry leads to the row
		g.rows()[int(row)+d.nclass+1].Store(int32(mask))
	}
	return row
}

// int32s is a table's entries as plain int32s, for a copy made holding mu.
func int32s(tab []atomic.Int32) []int32 {
	return unsafe.Slice((*int32)(unsafe.Pointer(unsafe.SliceData(tab))), len(tab))
}

// stateIndex finds a generation's states by their keys: an open-addressing table
// of rows (0: an empty slot), the keys themselves in the chunks. A Go map of
// string views of them took 30 bytes or so a state, this 5 to 11.
type stateIndex struct {
	slots []int32 // (it holds every state of the generation but states[0])
}

// stateSeed hashes state keys; any seed will do, but one for the process.
var stateSeed = maphash.MakeSeed()

// keyOf is the key of the state at row in g: its instructions and its kind (and
// a set DFA's mask, two more).
func (d *dfa) keyOf(g *dfaGen, row int32) []uint16 {
	s := &g.states[int(row)/d.width]
	n := s.n + 1
	if d.set {
		n += 2
	}
	return g.chunks[s.chunk][s.off : s.off+n]
}

// lookup returns the row of the state of g with key (of hash h), or 0.
func (d *dfa) lookup(g *dfaGen, key []uint16, h uint64) int32 {
	x := &g.index
	if len(x.slots) == 0 {
		return 0
	}
	mask := uint64(len(x.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		row := x.slots[i]
		if row == 0 || slices.Equal(d.keyOf(g, row), key) {
			return row
		}
	}
}

// insert adds the state at row, the generation's last, whose key has hash h,
// growing the table to keep it at most three quarters full.
func (d *dfa) insert(g *dfaGen, row int32, h uint64) {
	x := &g.index
	if 4*(len(g.states)-1) > 3*len(x.slots) {
		old := x.slots
		x.slots = make([]int32, max(8, 2*len(old)))
		for _, r := range old {
			if r != 0 {
				x.put(r, maphash.String(stateSeed, pcsKey(d.keyOf(g, r))))
			}
		}
	}
	x.put(row, h)
}

func (x *stateIndex) put(row int32, h uint64) {
	mask := uint64(len(x.slots) - 1)
	i := h & mask
	for x.slots[i] != 0 {
		i = (i + 1) & mask
	}
	x.slots[i] = row
}

// pcsKey is a string of a key's bytes, without copying them.
func pcsKey(key []uint16) string {
	return unsafe.String((*byte)(unsafe.Pointer(unsafe.SliceData(key))), 2*len(key))
}

// resolvePCs follows a state's pending assertions with the context between its rune
// before and r (-1: end of text); it returns the mask of the regexes whose matches
// that reaches (a DFA of one regex: 1, and then no instructions), and the
// instructions but the matches, appended to set.
func (d *dfa) resolvePCs(set []uint32, pcs []uint16, pending bool, before uint8, r rune) ([]uint32, uint32) {
	if pending {
		ctx := syntax.EmptyOpContext(beforeRune[before], r)
		seen := d.seen.reset(len(d.insts))
		for _, pc := range pcs {
			set = d.closure(set, seen, uint32(pc), &ctx)
		}
	} else { // (each instruction's closure is itself)
		for _, pc := range pcs {
			set = append(set, uint32(pc))
		}
	}
	set, mask := d.takeMatches(set)
	if mask != 0 && !d.set {
		return nil, 1
	}
	return set, mask
}

// takeMatches removes the InstMatch instructions from pcs (in place) and returns
// the rest, and the mask of the regexes they end (a DFA of one regex: 1).
func (d *dfa) takeMatches(pcs []uint32) ([]uint32, uint32) {
	var mask uint32
	k := 0
	for _, pc := range pcs {
		if in := &d.insts[pc]; in.op == syntax.InstMatch {
			mask |= 1 << in.arg
			continue
		}
		pcs[k] = pc
		k++
	}
	return pcs[:k], mask
}

// advance adds to next the closures of the instructions of set that take r.
func (d *dfa) advance(next []uint32, seen *pcSet, set []uint32, r rune) []uint32 {
	for _, pc := range set {
		in := &d.insts[pc]
		var ok bool
		switch in.op {
		case syntax.InstRune1:
			ok = r == d.runes[in.arg]
		case syntax.InstRuneAny:
			ok = true
		case syntax.InstRuneAnyNotNL:
			ok = r != '\n'
		case syntax.InstRune:
			ok = d.matchRune(in, r)
		}
		if ok {
			next = d.closure(next, seen, in.out, nil)
		}
	}
	return next
}

// step computes (and records) the entry for the state at row of generation g and
// class cls (cls == d.nclass: the end of text). It returns the entry — a row, -1
// for a match; at the end 1 for no match — with the generation and table to go on in.
func (d *dfa) step(g *dfaGen, row int32, cls int) (int32, *dfaGen, tableRef) {
	d.mu.Lock()
	defer d.mu.Unlock()
	cur := d.gen.Load()
	tab := cur.rows()
	if g == cur {
		if v := tab[int(row)+cls].Load(); v != 0 {
			return v, cur, cur.table() // (another search computed it while this one waited)
		}
	}
	d.takeSeen()
	defer d.putSeen()
	s := &g.states[int(row)/d.width]
	if cls == d.nclass { // end of text: -1 (a set DFA's: 1 + the mask) for a match
		_, mask := d.resolvePCs(d.seen.resolved[:0], d.pcsOf(g, s), s.pending, s.before, -1)
		if !d.anchored && (mask == 0 || d.set) {
			mask |= d.startStepFor(s.before, cls).mask
		}
		v := int32(1)
		if d.set {
			v += int32(mask)
		} else if mask != 0 {
			v = -1
		}
		if g == cur {
			tab[int(row)+cls].Store(v)
		}
		return v, cur, cur.table()
	}
	r := d.rep[cls]
	v := d.next(cur, d.pcsOf(g, s), s.pending, s.before, r, cls) // (s may be of an older generation than cur)
	if cur != d.gen.Load() {                                     // started afresh: the old rows mean nothing now
		cur = d.gen.Load()
		return v, cur, cur.table()
	}
	tab = cur.rows() // it may have grown
	if g == cur {
		tab[int(row)+cls].Store(v)
	}
	return v, cur, cur.table()
}

// next is the state after the state of pcs and kind (its rune before) reads r,
// created in g (or in a new generation if g is over budget); -1 when a match
// ends before r. A set DFA's is the row negated when a match ends before or
// after r (its mask says whose).
func (d *dfa) next(g *dfaGen, pcs []uint16, pending bool, kind uint8, r rune, cls int) int32 {
	set, mask := d.resolvePCs(d.seen.resolved[:0], pcs, pending, kind, r)
	d.seen.resolved = set
	if mask != 0 && !d.set {
		return -1
	}
	var st *startStep
	if !d.anchored {
		if st = d.startStepFor(kind, cls); st.mask != 0 && !d.set {
			return -1
		}
		mask |= st.mask
	}
	seen := d.seen.reset(len(d.insts))
	next := d.advance(seen.after[:0], seen, set, r)
	if st != nil {
		for _, pc := range d.startNextOf(st) {
			if seen.visit(pc) {
				next = append(next, pc)
			}
		}
		// The start closure is in every state already: leave it out.
		k := 0
		for _, pc := range next {
			if !d.startSet.has(pc) {
				next[k] = pc
				k++
			}
		}
		next = next[:k]
	}
	if d.set { // the matches after r: in the mask, not the state
		var after uint32
		next, after = d.takeMatches(next)
		mask |= after
	}
	before := uint8(beforeOther)
	switch {
	case d.noAssert:
		before = beforeText
	case r == '\n':
		before = beforeNewline
	case syntax.IsWordChar(r):
		before = beforeWord
	}
	if len(g.states) > d.maxStates() && !d.borrow() {
		// Memory stays bounded; a search that keeps landing here runs out of its
		// budget of new transitions (search.slow) and asks the regexp instead.
		d.resets++
		if d.pool != nil {
			d.pool.used.Add(-d.extra)
			d.extra = 0
		}
		g = d.newGen()
		d.gen.Store(g)
	}
	seen.after = next // (for its capacity: state copies what it keeps)
	if len(next) == 0 && mask == 0 && !d.anchored {
		// Nothing left but the start closure: the start state of the kind,
		// which newGen made. Two in five of the transitions a DFA learns
		// lead there, found without the key's hash and the index.
		return g.starts[before]
	}
	row := d.state(g, next, before, mask)
	if mask != 0 {
		return -row
	}
	return row
}

// match reports whether the regex matches somewhere in text; ok is false when the
// DFA gave up and the caller must ask the regexp.
func (d *dfa) match(text string) (matched, ok bool) {
	x := d.begin(len(text))
	if x.running {
		d.run(&x, text)
	}
	return x.finish()
}

// matchSet says which of a set DFA's regexes match somewhere in text: bit k of
// the mask for the k-th; ok is false when the DFA gave up (any may match).
func (d *dfa) matchSet(text string) (mask uint32, ok bool) {
	x := d.begin(len(text))
	if x.running {
		d.run(&x, text)
	}
	x.finish()
	return x.mask, x.ok
}

// run goes on with search x over text, up to its end or a match (a set DFA's:
// until every regex matched); the caller then finishes it (search.finish).
func (d *dfa) run(x *search, text string) {
	// The state, table and class map in locals: the loop is the rules' hottest, and
	// through x (whose address miss takes) each would be a load and a store per byte.
	tab, ascii, s := x.tab, x.ascii, x.s
	acc := x.acc()
	amax := acc.max
	next, win := -1, 0 // (litWindow.start's)
	for i := 0; i < len(text); {
		if s <= amax { // in a start state: on to where a match can start
			if acc.lit {
				if j := d.lit.start(text, i, &next, &win); j > i {
					if i, s = j, acc.rows[kindBefore(text, j)]; i == len(text) {
						break
					}
				}
			}
			if i, s = acc.skip(text, i, s); i == len(text) {
				break
			}
		}
		// The inner loop is the hot one, kept free of calls so that its
		// variables stay in registers: it leaves for a start state (amax) or an
		// entry that is not a plain next state.
		var v int32
		var cls int
		left := false
		for i < len(text) {
			if c := text[i]; c < utf8.RuneSelf {
				cls = int(ascii[c])
				i++
			} else {
				r, n := utf8.DecodeRuneInString(text[i:])
				cls = d.class(r)
				i += n
			}
			v = entry(tab, s, cls)
			if v <= amax {
				left = true
				break
			}
			s = v
		}
		if !left {
			break // the end of the text
		}
		if v > 0 { // a start state
			s = v
			continue
		}
		x.s = s
		g := x.g
		x.miss(v, cls)
		if !x.running {
			return
		}
		tab, s = x.tab, x.s
		if x.g != g {
			acc = x.acc()
			amax = acc.max
		}
	}
	x.s = s
}

// entry is the table's entry for state s on rune class cls. Every row a search
// holds is in its table (tableRef) and every class below its width, so the entry
// is too: read without a bounds check, a compare and branch per byte on a walk's
// dependent chain.
func entry(tab tableRef, s int32, cls int) int32 {
	return (*atomic.Int32)(unsafe.Add(unsafe.Pointer(tab), (int(s)+cls)*4)).Load()
}

// mayMatch is the mask of a set DFA's regexes that may match a text, given what
// matchSet said: all of them when it gave up.
func (d *dfa) mayMatch(mask uint32, ok bool) uint32 {
	if !ok {
		return d.all
	}
	return mask
}

// matchSetPair is matchSet of two set DFAs over one text. Where neither skips
// through its start states (accel), the two walk it together, a byte each a
// round (runPair); otherwise, and after one has ended, each walks on its own.
func matchSetPair(d, e *dfa, text string) (dmask uint32, dok bool, emask uint32, eok bool) {
	x, y := d.begin(len(text)), e.begin(len(text))
	rest := text
	if x.running && y.running && x.acc().max == 0 && y.acc().max == 0 {
		rest = text[runPair(&x, &y, text):]
	}
	if x.running {
		d.run(&x, rest)
	}
	if y.running {
		e.run(&y, rest)
	}
	x.finish()
	y.finish()
	return x.mask, x.ok, y.mask, y.ok
}

// runPair goes on with two searches over text at once, a rune each a round:
// each walk is a chain of dependent table loads, and the two chains' loads
// overlap, so two walks take little more than one. Neither may skip through
// start states (their accel's max is 0): they step through them. It returns
// where it stopped: the text's end, or just after the rune where one of the
// searches ended (a match, or it gave up), the other still running.
func runPair(x, y *search, text string) int {
	dx, dy := x.d, y.d
	tx, ty, ax, ay, sx, sy := x.tab, y.tab, x.ascii, y.ascii, x.s, y.s
	i := 0
	for i < len(text) {
		var vx, vy int32
		var cx, cy int
		left := false
		for i < len(text) {
			if c := text[i]; c < utf8.RuneSelf {
				cx, cy = int(ax[c]), int(ay[c])
				i++
			} else {
				r, n := utf8.DecodeRuneInString(text[i:])
				cx, cy = dx.class(r), dy.class(r)
				i += n
			}
			vx, vy = entry(tx, sx, cx), entry(ty, sy, cy)
			if vx <= 0 || vy <= 0 {
				left = true
				break
			}
			sx, sy = vx, vy
		}
		if !left {
			break // the end of the text
		}
		tx, sx = x.take(tx, sx, vx, cx)
		ty, sy = y.take(ty, sy, vy, cy)
		if !x.running || !y.running {
			break
		}
	}
	x.s, y.s = sx, sy
	return i
}

// take goes on from the entry v that state s read on class cls, in table tab:
// the next state, or what miss makes of an entry that is not one (and the table
// to go on in, which a new state may have grown).
func (x *search) take(tab tableRef, s, v int32, cls int) (tableRef, int32) {
	if v > 0 {
		return tab, v
	}
	x.s = s
	x.miss(v, cls)
	return x.tab, x.s
}

var noAccel = &accel{}

// acc is the search's generation's accel, once it has one.
func (x *search) acc() *accel {
	g := x.g
	if a := g.acc.Load(); a != nil {
		return a
	}
	if x.d.anchored || g.uses.Add(1) < accelAfter {
		return noAccel
	}
	x.d.mu.Lock()
	x.d.takeSeen()
	a := x.d.accelFor(g)
	x.d.putSeen()
	x.d.mu.Unlock()
	g.acc.CompareAndSwap(nil, a)
	return a
}

// search is one search in progress: the state, and the generation and table it
// reads.
type search struct {
	d       *dfa
	ascii   *[utf8.RuneSelf]uint8
	g       *dfaGen
	tab     tableRef
	s       int32
	running bool
	matched bool
	ok      bool
	mask    uint32 // a set DFA's: the regexes matched so far
	// A text that keeps making new states (hostile, or just unlike any before) would
	// cost a closure per byte: past a budget the search is the regexp's, so the work
	// stays linear with a small constant whatever the text.
	slow, budget int
}

func (d *dfa) begin(textLen int) search {
	x := search{d: d, ascii: &d.ascii, running: true, ok: true, budget: max(dfaSlowSteps, textLen/8)}
	x.g = d.gen.Load()
	x.s = x.g.start
	if x.s < 0 {
		x.running, x.matched = false, true
		return x
	}
	x.tab = x.g.table()
	return x
}

// miss handles an entry that is not a plain next state: a match, or a transition not
// computed yet.
func (x *search) miss(v int32, cls int) {
	if v == 0 {
		if x.slow++; x.slow > x.budget {
			x.running, x.ok = false, false
			return
		}
		v, x.g, x.tab = x.d.step(x.g, x.s, cls)
	}
	if v < 0 {
		if x.d.set { // a state some matches end on the way into
			x.s = -v
			if x.mask |= uint32(entry(x.tab, x.s, x.d.nclass+1)); x.mask == x.d.all {
				x.running, x.matched = false, true
			}
			return
		}
		x.running, x.matched = false, true
		return
	}
	x.s = v
}

// finish ends a search at the end of its text (if it still runs).
func (x *search) finish() (matched, ok bool) {
	if !x.running {
		return x.matched, x.ok
	}
	end := x.d.nclass
	v := entry(x.tab, x.s, end)
	if v == 0 {
		v, _, _ = x.d.step(x.g, x.s, end)
	}
	if x.d.set {
		x.mask |= uint32(v - 1)
		x.running, x.matched = false, x.mask != 0
		return x.matched, true
	}
	return v < 0, true
}

// cache reports the states of the current generation and the bytes of its table.
func (d *dfa) cache() (states, bytes int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	g := d.gen.Load()
	return len(g.states) - 1, 4 * len(g.rows())
}

// maxStates is the budget in states: a state costs its table row and about 64 bytes
// more (its instruction set, its key in the index).
func (d *dfa) maxStates() int {
	own := int64(dfaMaxBytes)
	if d.pool != nil {
		own = dfaOwnBytes
	}
	return int((own + d.extra) / int64(d.width*4+64))
}

// borrow takes another step of the pool, if there is one and it has it: half
// what the DFA holds, at least dfaPoolStep, so that its table grows by half (in
// steps of a constant size, each a copy of the table, a large DFA's growth would
// cost the square of its size). Callers hold mu.
func (d *dfa) borrow() bool {
	if d.pool == nil {
		return false
	}
	n := max(dfaPoolStep, (dfaOwnBytes+d.extra)/2)
	if !d.pool.grab(n) {
		if n = dfaPoolStep; !d.pool.grab(n) { // what is left of the pool
			return false
		}
	}
	d.extra += n
	return true
}

// deadRow is the row of an anchored DFA's state with nothing left to match.
func (d *dfa) deadRow() int32 { return int32(d.width) }

// anchoredOf is the anchored DFA of the regex an unanchored one stands for,
// sharing its program and rune classes (both read only).
func anchoredOf(u *dfa) *dfa {
	d := &dfa{insts: u.insts, runes: u.runes, start: u.start, anchored: true, bounds: u.bounds, ivClass: u.ivClass, nclass: u.nclass, rep: u.rep, ascii: u.ascii, width: u.width}
	d.takeSeen()
	d.gen.Store(d.newGen())
	d.putSeen()
	return d
}

// anchoredRun is a run of anchored searches over one text, one from each place asked
// (matchFrom), sharing one budget of new transitions: a text that keeps making new
// states costs at most that before the caller must search another way.
type anchoredRun struct {
	x search
}

func (d *dfa) beginRun(textLen int) anchoredRun {
	return anchoredRun{x: search{d: d, ascii: &d.ascii, budget: max(dfaSlowSteps, textLen/8), ok: true}}
}

// matchFrom reports whether a match starts at text[i:], where prev is the rune
// before it (-1 at the start of the text); ok is false once the budget is spent.
func (st *anchoredRun) matchFrom(text string, i int, prev rune) (matched, ok bool) {
	x := &st.x
	if !x.ok {
		return false, false
	}
	d := x.d
	if x.g == nil { // (later tries go on in the generation and table the last one left)
		x.g = d.gen.Load()
		x.tab = x.g.table()
	}
	x.s = x.g.starts[beforeKind(prev)]
	x.running, x.matched = true, false
	if x.s < 0 {
		return true, true
	}
	dead := d.deadRow()
	tab, ascii, s := x.tab, x.ascii, x.s // in locals, as in match
	for i < len(text) {
		var cls int
		if c := text[i]; c < utf8.RuneSelf {
			cls = int(ascii[c])
			i++
		} else {
			r, n := utf8.DecodeRuneInString(text[i:])
			cls = d.class(r)
			i += n
		}
		v := entry(tab, s, cls)
		if v > 0 {
			if s = v; s == dead {
				x.s = s
				return false, true
			}
			continue
		}
		x.s = s
		x.miss(v, cls)
		if !x.running {
			break
		}
		if s, tab = x.s, x.tab; s == dead {
			return false, true
		}
	}
	if x.running {
		x.s = s
	}
	if !x.ok {
		return false, false
	}
	m, _ := x.finish()
	return m, true
}

// skipDead moves past the ASCII places of text from i where no match can start,
// as far as the transitions computed so far say: a lookup each, where matchFrom
// would set up a search (most places fail on their first byte). ri counts runes, prev
// is the rune before i; it returns them at the first place that may start a match.
func (st *anchoredRun) skipDead(text string, i, ri int, prev rune) (int, int, rune) {
	x := &st.x
	if x.g == nil {
		return i, ri, prev
	}
	starts, tab, ascii, dead := &x.g.starts, x.tab, x.ascii, x.d.deadRow()
	known := x.g.dead.Load()
	if known == nil {
		known = x.learnDead()
	}
	kind := beforeKind(prev)
	// Only ASCII is skipped, a byte a rune: the rune count and the rune before
	// are worked out once at the end, not carried through the loop. The table
	// answers most bytes with one load, where the transitions took three
	// dependent ones (the start row, the byte's class, the entry); a byte it
	// does not know as dead is looked up in the transitions, which may have
	// learnt it since.
	j, learnt := i, 0
	for j < len(text) {
		c := text[j]
		if c >= utf8.RuneSelf {
			break
		}
		if !known[kind][c] {
			row := starts[kind]
			if row <= 0 || entry(tab, row, int(ascii[c])) != dead {
				break
			}
			learnt++
		}
		kind = int(asciiKind[c])
		j++
	}
	if learnt >= deadRelearn {
		x.learnDead()
	}
	if j == i {
		return i, ri, prev
	}
	return j, ri + j - i, rune(text[j-1])
}

// deadRelearn is how many bytes one skip finds dead in the transitions but
// not in the table before the table is worked out again.
const deadRelearn = 8

// learnDead works out the search's generation's table of bytes on which its
// start states die, from the transitions of the search's table, and keeps it
// for the searches to come.
func (x *search) learnDead() *deadStarts {
	t := new(deadStarts)
	dead := x.d.deadRow()
	for k, row := range x.g.starts {
		if row <= 0 {
			continue
		}
		for c := range t[k] {
			t[k][c] = entry(x.tab, row, int(x.ascii[c])) == dead
		}
	}
	x.g.dead.Store(t)
	return t
}

// asciiKind is beforeKind of each ASCII rune.
var asciiKind = func() (k [utf8.RuneSelf]uint8) {
	for c := range k {
		k[c] = uint8(beforeKind(rune(c)))
	}
	return
}()

// beforeKind is what a pending assertion needs to know of the rune r before.
func beforeKind(r rune) int {
	switch {
	case r < 0:
		return beforeText
	case r == '\n':
		return beforeNewline
	case syntax.IsWordChar(r):
		return beforeWord
	}
	return beforeOther
}
