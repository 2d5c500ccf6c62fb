package rules

import (
	"slices"
	"strings"
)

// literalIndex finds, in one pass over a text, which of a rule set's required
// literals occur and in which lines: an Aho-Corasick automaton over all of them. The
// prefilter it replaces called strings.Contains once per literal (about 2,000 for the
// stock rules), which was a quarter of evaluation time; and knowing the lines lets a
// body rule run its regex only on the paragraphs where its literal is.
type literalIndex struct {
	ids    map[string]int32 // literal → id
	class  [256]uint16      // byte → column of delta; 0 for bytes in no literal
	ncls   int
	delta  []int32   // state*ncls + class → next state*ncls (its row), negated if it has output
	out    [][]int32 // literals that end at a state
	dict   []int32   // nearest state on the failure chain with literals; -1 none
	nlits  int
	maxLen int    // the longest literal's bytes
	hasOut []bool // out or dict: a state worth reporting (while building)
	// few holds the literals, by id, when they are at most fewLits: then a text
	// is searched for each with strings.Index, not walked by the automaton.
	few []string
}

// fewLits is how many literals an index may hold and still search a text for
// each in turn: strings.Index skips to each literal's first byte with vector
// instructions, where the automaton takes a dependent load a byte. The stock
// rules' full-text index holds two literals, and the whole message, the largest
// text an index reads, was walked a byte at a time for them.
const fewLits = 4

// newLiteralIndex builds the automaton for the literals of rules (lower-case strings).
func newLiteralIndex(rules []*Rule) *literalIndex {
	var lits []string
	for _, r := range rules {
		lits = append(lits, r.lits...)
	}
	return literalIndexOf(lits)
}

// literalIndexOf builds the automaton for lits (lower-case strings), numbered in
// the order they first come.
func literalIndexOf(lits []string) *literalIndex {
	x := &literalIndex{ids: map[string]int32{}}
	for _, l := range lits {
		if _, ok := x.ids[l]; !ok && l != "" {
			x.ids[l] = int32(len(x.ids))
		}
	}
	x.nlits = len(x.ids)
	if x.nlits <= fewLits {
		x.few = make([]string, x.nlits)
		for l, id := range x.ids {
			x.few[id] = l
		}
		return x // (no automaton)
	}
	x.ncls = 1
	for l := range x.ids {
		x.maxLen = max(x.maxLen, len(l))
		for i := 0; i < len(l); i++ {
			if x.class[l[i]] == 0 {
				x.class[l[i]] = uint16(x.ncls)
				x.ncls++
			}
		}
	}
	// The trie, as sparse edges first.
	type node map[uint16]int32
	trie := []node{{}}
	x.out = [][]int32{nil}
	for l, id := range x.ids {
		s := int32(0)
		for i := 0; i < len(l); i++ {
			c := x.class[l[i]]
			n, ok := trie[s][c]
			if !ok {
				n = int32(len(trie))
				trie = append(trie, node{})
				x.out = append(x.out, nil)
				trie[s][c] = n
			}
			s = n
		}
		x.out[s] = append(x.out[s], id)
	}
	// Breadth first: failure links, then the full transition table.
	n := len(trie)
	fail := make([]int32, n)
	x.dict = make([]int32, n)
	x.hasOut = make([]bool, n)
	x.delta = make([]int32, n*x.ncls)
	x.dict[0] = -1
	queue := []int32{0}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		for c := 0; c < x.ncls; c++ {
			if t, ok := trie[s][uint16(c)]; ok {
				if s != 0 {
					fail[t] = x.delta[int(fail[s])*x.ncls+c]
				}
				f := fail[t]
				if len(x.out[f]) > 0 {
					x.dict[t] = f
				} else {
					x.dict[t] = x.dict[f]
				}
				x.hasOut[t] = len(x.out[t]) > 0 || x.dict[t] >= 0
				x.delta[int(s)*x.ncls+c] = t
				queue = append(queue, t)
			} else if s != 0 {
				x.delta[int(s)*x.ncls+c] = x.delta[int(fail[s])*x.ncls+c]
			}
		}
	}
	for i, t := range x.delta {
		x.delta[i] = t * int32(x.ncls)
		if x.hasOut[t] {
			x.delta[i] = -x.delta[i]
		}
	}
	return x
}

// litHits is what one scan found: for each literal, the lines it occurs in. The
// occurrences are chained from each literal's last one back, in one slice: a table
// of a slice per literal (some 2,000 of them, most empty) made for each text was a
// 48 KB allocation full of pointers, three or four times a message.
type litHits struct {
	last []int32  // by literal: 1 + the index in occ of its last occurrence; 0: absent
	occ  []litOcc // in the order found
}

type litOcc struct{ line, prev int32 } // prev: as last, for the occurrence before

// scan runs the automaton over text; lines are counted at each '\n'.
//
// A long text is walked as two halves at once, in one loop: each byte's step is a
// load that waits on the step before, so one walk keeps the processor waiting on
// its loads; two independent ones overlap theirs. The second half's walk starts
// maxLen bytes early, where no literal ending in that half can begin sooner, so
// from the half on it is in the state one walk would be in; what it finds there
// is noted, and added after the first half's, in the order one walk finds it.
func (x *literalIndex) scan(text string) litHits {
	h := litHits{last: make([]int32, x.nlits)}
	if x.nlits == 0 {
		return h
	}
	if x.few != nil {
		return x.scanFew(text, h)
	}
	if len(text) < splitScan {
		x.walk(&h, text, 0, len(text), 0, 0)
		return h
	}
	mid := len(text) / 2
	from2 := mid - x.maxLen
	if from2 <= 0 {
		x.walk(&h, text, 0, len(text), 0, 0)
		return h
	}
	line2 := int32(strings.Count(text[:from2], "\n"))
	// The loop follows row offsets: one add and one dependent load per byte, for
	// each walk.
	s1, line1, s2, n := int32(0), int32(0), int32(0), int32(x.ncls)
	var later []litFound // the second walk's finds
	i, j := 0, from2
	for ; i < mid; i, j = i+1, j+1 {
		c1, c2 := text[i], text[j]
		if c1 == '\n' {
			line1++
		}
		if c2 == '\n' {
			line2++
		}
		s1 = x.delta[int(s1)+int(x.class[c1])]
		s2 = x.delta[int(s2)+int(x.class[c2])]
		if s1 < 0 {
			s1 = -s1
			x.note(&h, s1/n, line1)
		}
		if s2 < 0 {
			s2 = -s2
			if j >= mid {
				later = append(later, litFound{line2, s2 / n})
			}
		}
	}
	for _, f := range later {
		x.note(&h, f.state, f.line)
	}
	x.walk(&h, text, j, len(text), s2, line2)
	return h
}

// present is scan for a caller that only asks which literals occur (litHits.any):
// no lines are counted nor occurrences kept, a walk of a short text.
func (x *literalIndex) present(text string) litHits {
	h := litHits{last: make([]int32, x.nlits)}
	if x.few != nil {
		for id, l := range x.few {
			if strings.Contains(text, l) {
				h.last[id] = 1
			}
		}
		return h
	}
	s, n := int32(0), int32(x.ncls)
	for i := 0; i < len(text); i++ {
		if s = x.delta[int(s)+int(x.class[text[i]])]; s < 0 {
			s = -s
			for t := s / n; t >= 0; t = x.dict[t] {
				for _, id := range x.out[t] {
					h.last[id] = 1
				}
			}
		}
	}
	return h
}

// litFound is a state with literals that a walk reached, and in which line.
type litFound struct{ line, state int32 }

// splitScan is the shortest text scan walks as two halves: below it, the
// second walk's head start and the count of the first half's lines are a
// large part of the work.
const splitScan = 512

// walk goes on with the automaton from state s in line line over text[i:end],
// noting what it finds.
func (x *literalIndex) walk(h *litHits, text string, i, end int, s, line int32) {
	n := int32(x.ncls)
	for ; i < end; i++ {
		c := text[i]
		if c == '\n' {
			line++
		}
		s = x.delta[int(s)+int(x.class[c])]
		if s < 0 {
			s = -s
			x.note(h, s/n, line)
		}
	}
}

// note records the literals that end at state t (by its failure chain), in line.
func (x *literalIndex) note(h *litHits, t, line int32) {
	for ; t >= 0; t = x.dict[t] {
		for _, id := range x.out[t] {
			if l := h.last[id]; l == 0 || h.occ[l-1].line != line {
				h.occ = append(h.occ, litOcc{line, l})
				h.last[id] = int32(len(h.occ))
			}
		}
	}
}

// scanFew is scan for an index of few literals: each literal's occurrences in
// turn, overlapping ones too (a literal may hold a newline), each counted in the
// line it ends in, as the automaton counts them.
func (x *literalIndex) scanFew(text string, h litHits) litHits {
	for id, l := range x.few {
		line, counted := int32(0), 0 // newlines in text[:counted]
		oneLine := strings.IndexByte(l, '\n') < 0
		for from := 0; ; {
			i := strings.Index(text[from:], l)
			if i < 0 {
				break
			}
			end := from + i + len(l)
			line += int32(strings.Count(text[counted:end], "\n"))
			counted = end
			if last := h.last[id]; last == 0 || h.occ[last-1].line != line {
				h.occ = append(h.occ, litOcc{line, last})
				h.last[id] = int32(len(h.occ))
			}
			from += i + 1
			if oneLine {
				// The rest of this line can only repeat it: on to the next.
				nl := strings.IndexByte(text[end:], '\n')
				if nl < 0 {
					break
				}
				from = end + nl + 1
			}
		}
	}
	return h
}

// any reports whether one of a rule's literals occurs.
func (h litHits) any(ids []int32) bool {
	for _, id := range ids {
		if h.last[id] != 0 {
			return true
		}
	}
	return false
}

// lines returns, in order, the lines where one of a rule's literals occurs.
func (h litHits) lines(ids []int32) []int32 {
	var out []int32
	for _, id := range ids {
		for o := h.last[id]; o != 0; o = h.occ[o-1].prev {
			out = append(out, h.occ[o-1].line)
		}
	}
	if len(ids) == 1 {
		slices.Reverse(out)
		return out
	}
	if len(out) < 2 {
		return out
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// decided lists the rules of an index that its scan decides alone: those that
// cannot match a text holding none of their literals, and so are false. A
// message holds few of the literals, and every other rule was still run to
// learn that from the scan: its Rule read, its literals looked up, a few cache
// misses each. Marked false (ruleFalse) when the scan is done, they are never
// touched; a meta rule reads their value as that of any rule already run.
type decided struct {
	seqs []int32   // every such rule, by seq
	by   [][]int32 // by literal id: those of them that hold it
}

func newDecided(x *literalIndex, rules []*Rule, decides func(*Rule) bool) decided {
	d := decided{by: make([][]int32, x.nlits)}
	for _, r := range rules {
		if r.lits == nil || !decides(r) {
			continue
		}
		d.seqs = append(d.seqs, r.seq)
		for _, id := range r.litIDs {
			if !slices.Contains(d.by[id], r.seq) {
				d.by[id] = append(d.by[id], r.seq)
			}
		}
	}
	return d
}

// mark sets the rules that h (the scan of their text) decides as ruleFalse in
// state, by rule seq; rules already run or running are left as they are.
func (d *decided) mark(state []uint8, h litHits) {
	for _, seq := range d.seqs {
		if state[seq] == ruleUnknown {
			state[seq] = ruleFalse
		}
	}
	d.unmark(state, h)
}

// unmark makes unknown again the rules marked false that hold a literal of h.
func (d *decided) unmark(state []uint8, h litHits) {
	if len(d.seqs) == 0 {
		return
	}
	for id, last := range h.last {
		if last == 0 {
			continue
		}
		for _, seq := range d.by[id] {
			if state[seq] == ruleFalse {
				state[seq] = ruleUnknown
			}
		}
	}
}
