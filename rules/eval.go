package rules

import (
	"fmt"
	"strconv"
	"strings"
)

// Eval rules (`header NAME eval:check_for_shifted_date('-6', '-3')`) call functions of
// SpamAssassin's plugins by name. Postern has its own implementation of those that
// carry weight in the stock rules (docs/rules.md lists which), written from what the
// Perl does; an eval it lacks skips the rule with a warning, as before.

// evalFunc answers whether an eval rule hits a message.
type evalFunc func(t *target) bool

// evalDef is one eval function: the SpamAssassin plugin that defines it (so that
// `ifplugin` blocks of that plugin are read) and how to bind its arguments, which
// happens once, when the rule is loaded.
type evalDef struct {
	plugin string
	// network: the eval needs the network and never hits here (offline).
	network bool
	bind    func(args []string) (evalFunc, error)
	// waitsAuth: the eval waits for sender authentication's verification of
	// the message (registered by waitingForAuth).
	waitsAuth bool
}

// evals are the eval functions by name.
var evals = map[string]evalDef{}

// register adds an eval function of a plugin (short name: "HeaderEval").
func register(plugin, name string, bind func(args []string) (evalFunc, error)) {
	if _, dup := evals[name]; dup {
		panic("rules: eval " + name + " registered twice")
	}
	evals[name] = evalDef{plugin: "Mail::SpamAssassin::Plugin::" + plugin, bind: bind}
}

// fixed registers an eval that takes no arguments (SpamAssassin ignores extra ones).
func fixed(plugin, name string, fn evalFunc) {
	register(plugin, name, func([]string) (evalFunc, error) { return fn, nil })
}

// offline registers evals whose answer needs the network (DNS, Razor, Pyzor, DCC):
// they never hit in Postern's content checks, as in SpamAssassin with network tests
// off. Registering them keeps the meta rules that test them (often negated: "and
// not SPF_PASS") working as SpamAssassin runs them offline.
func offline(plugin string, names ...string) {
	for _, n := range names {
		fixed(plugin, n, func(*target) bool { return false })
		d := evals[n]
		d.network = true
		evals[n] = d
	}
}

// network is the plugin (its short name, "DNSEval") of rule name's eval when
// that eval needs the network and never hits here; "" for any other rule. It
// reads the rule's source, so that no field of Rule, whose layout the hot path
// depends on, holds what only lint reports.
func (p *parser) network(name string) string {
	call, ok := strings.CutPrefix(p.source[name].def, "eval:")
	if !ok {
		return ""
	}
	fn, _, err := evalCall(call)
	if d := evals[fn]; err == nil && d.network {
		return strings.TrimPrefix(d.plugin, "Mail::SpamAssassin::Plugin::")
	}
	return ""
}

// pluginKnown says whether rules in an `ifplugin` block of p are read: the plugins
// whose rules are plain regex rules or built in, and those of the evals above.
func pluginKnown(p string) bool {
	if knownPlugins[p] {
		return true
	}
	for _, d := range evals {
		if d.plugin == p {
			return true
		}
	}
	return false
}

// parseEval binds an eval call, "name(arg, 'arg', ...)" after "eval:", and
// says what the function is (its evalDef).
func parseEval(call string) (evalFunc, evalDef, error) {
	name, argText, err := evalCall(call)
	if err != nil {
		return nil, evalDef{}, err
	}
	d, known := evals[name]
	if !known {
		return nil, d, ErrUnsupported{What: "eval function " + name + " (not implemented)"}
	}
	args, err := evalArgs(argText)
	if err != nil {
		return nil, d, ErrUnsupported{What: fmt.Sprintf("eval %s: %v", name, err)}
	}
	fn, err := d.bind(args)
	if err != nil {
		// Arguments this implementation does not understand skip the rule rather
		// than fail the whole set: the stock files must always load.
		return nil, d, ErrUnsupported{What: fmt.Sprintf("eval %s: %v", name, err)}
	}
	return fn, d, nil
}

// evalCall splits an eval's call, NAME(ARGS), into the name and the text of
// its arguments (evalArgs reads them).
func evalCall(call string) (name, args string, err error) {
	name, rest, ok := strings.Cut(strings.TrimSpace(call), "(")
	rest = strings.TrimSpace(rest)
	if !ok || !strings.HasSuffix(rest, ")") {
		return "", "", fmt.Errorf("eval: want eval:NAME(ARGS), got %q", call)
	}
	return strings.TrimSpace(name), strings.TrimSuffix(rest, ")"), nil
}

// evalArgs splits an eval's arguments: numbers, barewords and quoted strings,
// separated by commas, as Perl reads them.
func evalArgs(s string) ([]string, error) {
	var out []string
	s = strings.TrimSpace(s)
	for s != "" {
		var arg string
		switch q := s[0]; q {
		case '\'', '"':
			end := strings.IndexByte(s[1:], q)
			if end < 0 {
				return nil, fmt.Errorf("unterminated quote in %q", s)
			}
			arg, s = s[1:1+end], s[2+end:]
		default:
			end := strings.IndexByte(s, ',')
			if end < 0 {
				end = len(s)
			}
			arg, s = strings.TrimSpace(s[:end]), s[end:]
		}
		out = append(out, arg)
		s = strings.TrimSpace(s)
		if s != "" {
			if s[0] != ',' {
				return nil, fmt.Errorf("want , between arguments, got %q", s)
			}
			s = strings.TrimSpace(s[1:])
		}
	}
	return out, nil
}

// number reads a numeric eval argument; "undef" is an open bound (ok false).
func number(arg string) (v float64, ok bool, err error) {
	if arg == "undef" || arg == "" {
		return 0, false, nil
	}
	v, err = strconv.ParseFloat(arg, 64)
	if err != nil {
		return 0, false, fmt.Errorf("%q is not a number", arg)
	}
	return v, true, nil
}

// inRange binds evals of the form fn(min, max) over a measure of the message:
// min <= measure < max, either bound "undef" for none.
func inRange(args []string, measure func(t *target) (float64, bool)) (evalFunc, error) {
	if len(args) < 1 {
		return nil, fmt.Errorf("want MIN, MAX")
	}
	lo, hasLo, err := number(args[0])
	if err != nil {
		return nil, err
	}
	var hi float64
	hasHi := false
	if len(args) > 1 {
		if hi, hasHi, err = number(args[1]); err != nil {
			return nil, err
		}
	}
	return func(t *target) bool {
		v, ok := measure(t)
		return ok && (!hasLo || v >= lo) && (!hasHi || v < hi)
	}, nil
}
