package rules

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// node is a meta expression: SpamAssassin's subset of Perl expressions over rule
// names (0 or 1), numbers, ! && || ( ) + - * / and comparisons.
type node struct {
	op          string // "num", "rule", "!", "neg", or a binary operator
	code        opCode // op, for eval
	num         float64
	rule        string
	ref         *Rule // the rule named, once the set is compiled (nil: none such)
	left, right *node
}

// opCode is a node's operator as a number: eval runs for every meta rule of
// every message (a thousand of them in the stock rules).
type opCode uint8

const (
	opNum opCode = iota
	opRule
	opNot
	opNeg
	opAnd
	opOr
	opAdd
	opSub
	opMul
	opDiv
	opGT
	opLT
	opGE
	opLE
	opEQ
	opNE
	// Only in programs (metaProg): the short-circuit jumps of && and ||, and the
	// 0-or-1 of their right side.
	opAndJump
	opOrJump
	opBool
)

var opCodes = map[string]opCode{"num": opNum, "rule": opRule, "!": opNot, "neg": opNeg, "&&": opAnd, "||": opOr,
	"+": opAdd, "-": opSub, "*": opMul, "/": opDiv, ">": opGT, "<": opLT, ">=": opGE, "<=": opLE, "==": opEQ, "!=": opNE}

// newNode makes a node for an operator.
func newNode(op string, left, right *node) *node {
	return &node{op: op, code: opCodes[op], left: left, right: right}
}

func b2f(v bool) float64 {
	if v {
		return 1
	}
	return 0
}

// metaInput is what meta expressions read while one message is evaluated: the
// values of the rules known so far, and how to work out one that is not (a lazy
// plan runs sub-rules on demand). A known value is read here, without a call:
// the stock metas name the same few hundred sub-rules tens of thousands of
// times a message.
type metaInput struct {
	state []uint8   // by rule seq: ruleUnknown, ruleRunning, ruleKnown, ruleFalse
	vals  []float64 // by rule seq: 1, the count of hits, or 0
	value func(seq int32) float64
}

// metaSpan is where a meta rule's program is in its set's (Set.metaSpans).
type metaSpan struct{ off, n uint32 }

const (
	ruleUnknown uint8 = iota
	ruleRunning
	ruleKnown
	// ruleFalse: not run, as none of the literals it needs is in its text
	// (decided); known, with the value 0.
	ruleFalse
)

func (n *node) eval(in *metaInput) float64 {
	switch n.code {
	case opNum:
		return n.num
	case opRule:
		r := n.ref
		if r == nil {
			return 0
		}
		if in.state[r.seq] >= ruleKnown {
			return in.vals[r.seq]
		}
		return in.value(r.seq)
	case opNot:
		return b2f(n.left.eval(in) == 0)
	case opNeg:
		return -n.left.eval(in)
	case opAnd:
		return b2f(n.left.eval(in) != 0 && n.right.eval(in) != 0)
	case opOr:
		return b2f(n.left.eval(in) != 0 || n.right.eval(in) != 0)
	}
	return binary(n.code, n.left.eval(in), n.right.eval(in))
}

// metaOp is one instruction of a meta rule's program: the expression flattened
// into one slice (compileMeta). Walking the tree cost two cache misses a name,
// the node's and the named Rule's (for its seq), and the stock metas name rules
// some seven thousand times a message: the tree walk was most of the metas' time.
//
// An instruction is 4 bytes, its code in the low byte and its argument, signed,
// in the other 24 bits: opRule's the rule's seq (-1: no such rule), a jump's
// where to, opNum's the number. The stock metas' programs (some 12,000
// instructions) are read afresh for every message: at 16 bytes (a float64 for
// each number) reading their codes was two thirds of the metas' cache misses,
// and at 8 the programs were still 1,500 cache lines, most of them read by each
// message (cachegrind). A number is an integer in arg; a meta with another
// number, or one arg cannot hold, keeps to the tree.
type metaOp uint32

// metaArgMax is the largest argument an instruction holds.
const metaArgMax = 1<<23 - 1

func newMetaOp(code opCode, arg int32) metaOp { return metaOp(uint32(arg)<<8 | uint32(code)) }

func (op metaOp) code() opCode { return opCode(op) }
func (op metaOp) arg() int32   { return int32(op) >> 8 }

// metaStack is the deepest stack a program may need; deeper expressions (none
// in the stock rules) keep to the tree.
const metaStack = 32

// compileMeta flattens an expression whose names are resolved (resolve) into a
// program for run; nil when it needs a deeper stack than metaStack, or holds a
// number (or names a rule, or jumps as far) that an instruction cannot hold.
func compileMeta(n *node) []metaOp {
	var prog []metaOp
	depth, most := 0, 0
	fits := true // every argument held by its instruction
	push := func(op metaOp, change int) {
		prog = append(prog, op)
		depth += change
		most = max(most, depth)
	}
	var emit func(n *node)
	emit = func(n *node) {
		switch n.code {
		case opNum:
			if n.num != math.Trunc(n.num) || n.num < -metaArgMax || n.num > metaArgMax {
				fits = false
			}
			push(newMetaOp(opNum, int32(n.num)), 1)
		case opRule:
			seq := int32(-1)
			if n.ref != nil {
				seq = n.ref.seq
			}
			fits = fits && seq <= metaArgMax
			push(newMetaOp(opRule, seq), 1)
		case opNot, opNeg:
			emit(n.left)
			push(newMetaOp(n.code, 0), 0)
		case opAnd, opOr:
			// The left side's value decides alone (0 for &&, 1 for ||) or is
			// dropped for the right side's, made 0 or 1.
			jump := opAndJump
			if n.code == opOr {
				jump = opOrJump
			}
			emit(n.left)
			at := len(prog)
			push(newMetaOp(jump, 0), -1)
			emit(n.right)
			push(newMetaOp(opBool, 0), 0)
			fits = fits && len(prog) <= metaArgMax
			prog[at] = newMetaOp(jump, int32(len(prog)))
		default:
			emit(n.left)
			emit(n.right)
			push(newMetaOp(n.code, 0), -1)
		}
	}
	emit(n)
	if most > metaStack || !fits {
		return nil
	}
	return prog
}

// run evaluates a program as eval does the tree it came from.
func runMeta(prog []metaOp, in *metaInput) float64 {
	var stack [metaStack]float64
	sp := 0
	for pc := 0; pc < len(prog); pc++ {
		op := prog[pc]
		switch op.code() {
		case opNum:
			stack[sp] = float64(op.arg())
			sp++
		case opRule:
			v := 0.0
			if seq := op.arg(); seq >= 0 {
				if in.state[seq] >= ruleKnown {
					v = in.vals[seq]
				} else {
					v = in.value(seq)
				}
			}
			stack[sp] = v
			sp++
		case opNot:
			stack[sp-1] = b2f(stack[sp-1] == 0)
		case opNeg:
			stack[sp-1] = -stack[sp-1]
		case opAndJump:
			if stack[sp-1] == 0 {
				pc = int(op.arg()) - 1 // the 0 is the answer
			} else {
				sp--
			}
		case opOrJump:
			if stack[sp-1] != 0 {
				stack[sp-1] = 1
				pc = int(op.arg()) - 1
			} else {
				sp--
			}
		case opBool:
			stack[sp-1] = b2f(stack[sp-1] != 0)
		default:
			sp--
			stack[sp-1] = binary(op.code(), stack[sp-1], stack[sp])
		}
	}
	return stack[0]
}

// binary applies an arithmetic or comparison operator.
func binary(code opCode, l, r float64) float64 {
	switch code {
	case opAdd:
		return l + r
	case opSub:
		return l - r
	case opMul:
		return l * r
	case opDiv:
		if r == 0 {
			return 0
		}
		return l / r
	case opGT:
		return b2f(l > r)
	case opLT:
		return b2f(l < r)
	case opGE:
		return b2f(l >= r)
	case opLE:
		return b2f(l <= r)
	case opEQ:
		return b2f(l == r)
	case opNE:
		return b2f(l != r)
	}
	return 0
}

// orderChains reorders the operands of each chain of && (and of ||): first those
// that cost nothing (free: rules that score, which the plan runs whatever a chain
// asks, and constants), then the others as written, and last the slow ones: those
// that run the backtracking engine over a whole text, or an automaton no scan
// spares (costlyWalk). It reports whether n has such a slow operand, and
// whether all of it is free. A lazy plan runs a sub-rule only when a meta asks for
// it, and a chain stops at its first deciding operand: as written,
// FRNAME_IN_MSG_XPRIO_NO_SUB (__FROM_NAME_IN_MSG && __XPRIO && ...) searched every
// message with regexp2 for its From name 2,048 characters on, to find X-Priority
// absent afterwards; an eval that waits for sender authentication's DNS lookups
// (waitsAuth) is slow too; `__TO_EQ_FM_HTML_ONLY __TO_EQ_FROM && MIME_HTML_ONLY` compared
// To and From in every message, HTML or not; FILL_THIS_FORM (__FILL_THIS_FORM &&
// !__THREADED && !__FB_TOUR && !__VIA_ML) walked the form-filling automata, the
// largest of the stock rules, over mailing-list mail whose List-Id decides it. Here
// && and || give 0 or 1 whatever their operands' values, and evaluating a rule
// changes nothing but what is known, so the order changes no meta's value
// (TestOrderChains), only which sub-rules run. Moving free operands first never
// makes more run. slow and free hold the answers for the meta rules done so far (a
// set's metas come after those they use); scored says whether a rule scores.
func (n *node) orderChains(slow, free map[*Rule]bool, scored func(*Rule) bool) (isSlow, isFree bool) {
	switch n.code {
	case opNum:
		return false, true
	case opRule:
		r := n.ref
		if r == nil {
			return false, true
		}
		if scored(r) {
			return false, true
		}
		if r.meta != nil {
			return slow[r], free[r]
		}
		return r.exactAll != nil || r.costlyWalk() || r.waitsAuth, false
	case opNot, opNeg:
		return n.left.orderChains(slow, free, scored)
	case opAnd, opOr:
		var ops, inner []*node
		var flatten func(x *node)
		flatten = func(x *node) {
			if x.code != n.code {
				ops = append(ops, x)
				return
			}
			if x != n {
				inner = append(inner, x)
			}
			flatten(x.left)
			flatten(x.right)
		}
		flatten(n)
		var first, middle, last []*node
		for _, o := range ops {
			switch s, f := o.orderChains(slow, free, scored); {
			case f:
				first = append(first, o)
			case s:
				last = append(last, o)
			default:
				middle = append(middle, o)
			}
		}
		ops = append(append(first, middle...), last...)
		// Rebuilt left to right in the chain's own nodes, n the root.
		acc := ops[0]
		for i, o := range ops[1:] {
			parent := n
			if i < len(inner) {
				parent = inner[i]
			}
			parent.left, parent.right = acc, o
			acc = parent
		}
		return len(last) > 0, len(first) == len(ops)
	}
	ls, lf := n.left.orderChains(slow, free, scored)
	rs, rf := n.right.orderChains(slow, free, scored)
	return ls || rs, lf && rf
}

// costlyWalk reports whether a rule reads a whole text with an automaton that
// neither the literal scans (decided: it has no literal) nor a union's walk spares
// it: a body rule whose program is too large for a union (unionMaxInsts: the
// form-filling and extortion rules of the stock set, thousands of instructions,
// each a wide optional prefix of common words), one that counts its matches
// (tflags multiple: every match, not the first), and a header rule on ALL (the
// whole header, where other header rules read a field).
func (r *Rule) costlyWalk() bool {
	if r.evalFn != nil || r.lits != nil {
		return false
	}
	switch r.Kind {
	case Header:
		return r.Field == "ALL" && !r.Exists
	case Body, Rawbody, Full:
		if r.maxHits > 0 {
			return true
		}
		d := r.first()
		return d != nil && len(d.insts) > unionMaxInsts
	}
	return false
}

// resolve points the expression's rule names at the set's rules.
func (n *node) resolve(byName map[string]*Rule) {
	if n == nil {
		return
	}
	if n.op == "rule" {
		n.ref = byName[n.rule]
	}
	n.left.resolve(byName)
	n.right.resolve(byName)
}

// Operands are the rules a meta rule's expression names, each once, in the
// order the set evaluates them (orderChains puts the cheap first); none for a
// rule of another kind.
func (r *Rule) Operands() []string {
	var names []string
	r.meta.eachRule(func(name string) {
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
	})
	return names
}

// rules lists the rule names an expression uses.
func (n *node) rules(out map[string]bool) { n.eachRule(func(name string) { out[name] = true }) }

// eachRule calls f with each rule name the expression uses, left to right, as
// often as it uses it.
func (n *node) eachRule(f func(name string)) {
	if n == nil {
		return
	}
	if n.op == "rule" {
		f(n.rule)
	}
	n.left.eachRule(f)
	n.right.eachRule(f)
}

type metaParser struct {
	toks []string
	pos  int
}

func parseMeta(expr string) (*node, error) {
	toks, err := lexMeta(expr)
	if err != nil {
		return nil, err
	}
	if len(toks) == 0 {
		return nil, fmt.Errorf("empty expression")
	}
	p := &metaParser{toks: toks}
	n, err := p.binary(0)
	if err != nil {
		return nil, err
	}
	if p.pos != len(toks) {
		return nil, fmt.Errorf("unexpected %q", toks[p.pos])
	}
	return n, nil
}

func lexMeta(s string) ([]string, error) {
	var toks []string
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			i++
		case unicode.IsLetter(rune(c)) || c == '_':
			j := i
			for j < len(s) && (unicode.IsLetter(rune(s[j])) || unicode.IsDigit(rune(s[j])) || s[j] == '_') {
				j++
			}
			toks = append(toks, s[i:j])
			i = j
		case unicode.IsDigit(rune(c)) || c == '.':
			j := i
			for j < len(s) && (unicode.IsDigit(rune(s[j])) || s[j] == '.') {
				j++
			}
			toks = append(toks, s[i:j])
			i = j
		default:
			two := ""
			if i+1 < len(s) {
				two = s[i : i+2]
			}
			switch two {
			case "&&", "||", ">=", "<=", "==", "!=":
				toks = append(toks, two)
				i += 2
				continue
			}
			if strings.ContainsRune("()!+-*/<>", rune(c)) {
				toks = append(toks, string(c))
				i++
				continue
			}
			return nil, fmt.Errorf("unexpected character %q", c)
		}
	}
	return toks, nil
}

// precedence of binary operators, loosest first.
var precedence = map[string]int{"||": 1, "&&": 2, "==": 3, "!=": 3, "<": 4, ">": 4, "<=": 4, ">=": 4, "+": 5, "-": 5, "*": 6, "/": 6}

func (p *metaParser) binary(min int) (*node, error) {
	left, err := p.unary()
	if err != nil {
		return nil, err
	}
	for p.pos < len(p.toks) {
		op := p.toks[p.pos]
		prec, ok := precedence[op]
		if !ok || prec <= min {
			break
		}
		p.pos++
		right, err := p.binary(prec)
		if err != nil {
			return nil, err
		}
		left = newNode(op, left, right)
	}
	return left, nil
}

func (p *metaParser) unary() (*node, error) {
	if p.pos >= len(p.toks) {
		return nil, fmt.Errorf("expression ends early")
	}
	t := p.toks[p.pos]
	p.pos++
	switch {
	case t == "!":
		n, err := p.unary()
		return newNode("!", n, nil), err
	case t == "-":
		n, err := p.unary()
		return newNode("neg", n, nil), err
	case t == "(":
		n, err := p.binary(0)
		if err != nil {
			return nil, err
		}
		if p.pos >= len(p.toks) || p.toks[p.pos] != ")" {
			return nil, fmt.Errorf("missing )")
		}
		p.pos++
		return n, nil
	case unicode.IsDigit(rune(t[0])) || t[0] == '.':
		v, err := strconv.ParseFloat(t, 64)
		if err != nil {
			return nil, fmt.Errorf("bad number %q", t)
		}
		n := newNode("num", nil, nil)
		n.num = v
		return n, nil
	case nameRE.MatchString(t):
		n := newNode("rule", nil, nil)
		n.rule = t
		return n, nil
	}
	return nil, fmt.Errorf("unexpected %q", t)
}
