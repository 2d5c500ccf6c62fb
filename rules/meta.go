package rules

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// node is a meta expression: SpamAssassin's subset of Perl expressions over rule
// names (0 or 1), numbers, ! && || ( ) + - * / and comparisons.
type node struct {
	op          string // "num", "rule", "!", "neg", or a binary operator
	num         float64
	rule        string
	ref         *Rule // the rule named, once the set is compiled (nil: none such)
	left, right *node
}

func (n *node) eval(hit func(*Rule) float64) float64 {
	b := func(v bool) float64 {
		if v {
			return 1
		}
		return 0
	}
	switch n.op {
	case "num":
		return n.num
	case "rule":
		if n.ref == nil {
			return 0
		}
		return hit(n.ref)
	case "!":
		return b(n.left.eval(hit) == 0)
	case "neg":
		return -n.left.eval(hit)
	case "&&":
		return b(n.left.eval(hit) != 0 && n.right.eval(hit) != 0)
	case "||":
		return b(n.left.eval(hit) != 0 || n.right.eval(hit) != 0)
	}
	l, r := n.left.eval(hit), n.right.eval(hit)
	switch n.op {
	case "+":
		return l + r
	case "-":
		return l - r
	case "*":
		return l * r
	case "/":
		if r == 0 {
			return 0
		}
		return l / r
	case ">":
		return b(l > r)
	case "<":
		return b(l < r)
	case ">=":
		return b(l >= r)
	case "<=":
		return b(l <= r)
	case "==":
		return b(l == r)
	case "!=":
		return b(l != r)
	}
	return 0
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

// rules lists the rule names an expression uses.
func (n *node) rules(out map[string]bool) {
	if n == nil {
		return
	}
	if n.op == "rule" {
		out[n.rule] = true
	}
	n.left.rules(out)
	n.right.rules(out)
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
		left = &node{op: op, left: left, right: right}
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
		return &node{op: "!", left: n}, err
	case t == "-":
		n, err := p.unary()
		return &node{op: "neg", left: n}, err
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
		return &node{op: "num", num: v}, nil
	case nameRE.MatchString(t):
		return &node{op: "rule", rule: t}, nil
	}
	return nil, fmt.Errorf("unexpected %q", t)
}
