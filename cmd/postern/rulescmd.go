package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/postern/postern/filter"
	"github.com/postern/postern/rules"
)

func runRules(args []string) int {
	fs, c := newFlags("rules", "rules lint [PATH...] | rules test RULE FILE | rules reload | rules cost PATH...", `
lint [PATH...]   reads rule files (default: rules_paths of the configuration) and
                 prints every error and warning with file:line and the rule name,
                 then how many rules of each type were loaded and skipped. Exit
                 status 1 when there are errors (warnings, such as rules using Perl
                 features RE2 lacks, are skipped rules, not errors).
test RULE FILE   shows whether RULE hits the message in FILE, where, and what it
                 matched; for a meta rule, which of its operands hit. With --rule
                 'body NAME /regex/' the rule is given on the command line instead
                 of being looked up in the rule files.
reload           checks the configuration and its rules as config test and lint
                 do and, when they have no errors, sends SIGHUP to the running
                 postern serve (--pid, or every "postern serve" process of this
                 user), which loads them, the lists and the rest of the
                 configuration (docs/configuration.md names the keys that wait for
                 a restart). With errors nothing is signalled: serve would keep
                 its old rules and settings anyway.
                 (systemctl reload postern sends the SIGHUP without the checks.)
cost PATH...     runs the rules on the messages under PATH (files, or directories
                 read recursively) --passes times, one message at a time, and
                 prints what each kind of work and each rule cost a message, the
                 costliest first (--top): a rule's own time, less the rules it
                 asked for. What several rules share (each union's walk, the
                 header fields' reading, the Received and HTML analyses, the
                 texts' preparation) is listed apart, in parentheses. The first
                 pass is not counted: the rules' automata learn the mail then, as
                 a running serve's have. Last, what each rule's automata
                 learned (their states, and their tables' KB), the largest
                 first: the memory a serve's rules grow by as they read mail.
                 The messages are held in memory: a sample of a few thousand
                 is plenty. The figures move with the machine's load; compare
                 rules within one run.`)
	var extra stringList
	fs.Var(&extra, "rules", "also load this rule `PATH`; repeatable")
	ruleText := fs.String("rule", "", "a rule `DEFINITION` to test, in SpamAssassin syntax")
	pid := fs.Int("pid", 0, "rules reload: signal this `PID` instead of looking for postern serve")
	passes := fs.Int("passes", 3, "rules cost: read the messages `N` times, and count all passes but the first (1: count the one pass, automata cold)")
	top := fs.Int("top", 30, "rules cost: list the `N` costliest rules and analyses, and the N largest automata (0: all)")
	if code, stop := parse(fs, args); stop {
		return code
	}
	cfg, err := c.load(fs)
	if err != nil {
		return fail("%v", err)
	}
	switch fs.Arg(0) {
	case "lint":
		paths := fs.Args()[1:]
		if len(paths) == 0 {
			paths = cfg.RulesPaths
		}
		return rulesLint(append(paths, extra...))
	case "test":
		paths := append(cfg.RulesPaths, extra...)
		args := fs.Args()[1:]
		if *ruleText != "" {
			dir, err := os.MkdirTemp("", "postern-rule-")
			if err != nil {
				return fail("%v", err)
			}
			defer os.RemoveAll(dir)
			f := filepath.Join(dir, "rule.cf")
			os.WriteFile(f, []byte(*ruleText+"\n"), 0o600)
			paths = append(paths, f)
			if fields := strings.Fields(*ruleText); len(fields) > 1 {
				args = append([]string{fields[1]}, args...)
			}
		}
		if len(args) != 2 {
			return fail("rules test: want RULE FILE (or --rule DEFINITION FILE)")
		}
		return rulesTest(paths, args[0], args[1])
	case "reload":
		return rulesReload(append(cfg.RulesPaths, extra...), *pid)
	case "cost":
		if fs.NArg() < 2 {
			return fail("rules cost: want PATH... (message files or directories)")
		}
		return rulesCost(append(cfg.RulesPaths, extra...), fs.Args()[1:], *passes, *top)
	}
	fs.Usage()
	return 2
}

func rulesLint(paths []string) int {
	set, problems := rules.Load(paths...)
	for _, p := range problems {
		fmt.Println(p)
	}
	kinds := []rules.Kind{rules.Header, rules.Body, rules.Rawbody, rules.URI, rules.Full, rules.Meta}
	var parts []string
	for _, k := range kinds {
		parts = append(parts, fmt.Sprintf("%s %d loaded, %d skipped", k, set.Stats.Loaded[k], set.Stats.Skipped[k]))
	}
	fmt.Printf("%d files read from %s:\n", len(set.Files), rules.Describe(paths))
	for _, f := range set.Files {
		fmt.Printf("  %s\n", f)
	}
	fmt.Printf("%d rules (%d can change a score and run): %s\n", set.Len(), set.Running(), strings.Join(parts, "; "))
	if n := set.Stats.AuthorScored; n > 0 {
		fmt.Printf("%d rules without a score line take their author's smaller score from 72_active.cf (docs/rules.md)\n", n)
	}
	if len(set.Ignored) > 0 {
		var ig []string
		for k, n := range set.Ignored {
			ig = append(ig, fmt.Sprintf("%s %d", k, n))
		}
		sort.Strings(ig)
		fmt.Printf("directives ignored (not used by Postern): %s\n", strings.Join(ig, ", "))
		// A SpamAssassin user's local.cf: say where each setting went (not
		// for the stock rules' own default preferences).
		for _, h := range localCfHints {
			for _, d := range h.directives {
				if set.IgnoredOwn[d] > 0 {
					fmt.Println("  " + h.text)
					break
				}
			}
		}
		var lists []string
		for _, d := range uriListDirectives {
			if set.IgnoredOwn[d] > 0 {
				lists = append(lists, d)
			}
		}
		if len(lists) > 0 {
			fmt.Printf("  %s: the URI block lists they name are [uribl] zones in Postern's configuration file (docs/policy.md)\n", strings.Join(lists, ", "))
		}
	}
	printNetworkRules(set.Stats.Network)
	if errs := rules.Errors(problems); len(errs) > 0 {
		fmt.Fprintf(os.Stderr, "postern: %d error(s)\n", len(errs))
		return 1
	}
	return 0
}

// localCfHints say where the settings of a SpamAssassin user's local.cf went
// in Postern, for the directives lint counts as ignored.
var localCfHints = []struct {
	directives []string
	text       string
}{
	{[]string{"rewrite_header"}, "rewrite_header Subject: Postern's is subject_tag in its configuration file (docs/configuration.md)"},
	{[]string{"required_score", "required_hits"}, "required_score: Postern's is required_score in its configuration file, and reject_score refuses at SMTP (docs/configuration.md)"},
	{[]string{"use_bayes"}, "use_bayes: Postern's is [bayes] enabled in its configuration file (docs/configuration.md)"},
	{[]string{"bayes_auto_learn", "bayes_auto_learn_threshold_spam", "bayes_auto_learn_threshold_nonspam"}, "bayes_auto_learn: Postern's is [bayes] autolearn, with autolearn_spam and autolearn_ham (docs/configuration.md)"},
	{[]string{"add_header", "remove_header", "clear_headers"}, "add_header: Postern writes X-Spam-Flag, X-Spam-Status, X-Spam-Level and X-Spam-Report itself; report_header in its configuration file says when the report is added (docs/configuration.md)"},
	{[]string{"report_safe"}, "report_safe: Postern never wraps a message in a report: it adds X-Spam-* headers, and refuses at reject_score (docs/configuration.md)"},
	{[]string{"trusted_networks", "internal_networks", "msa_networks"}, "trusted_networks: relays are trusted as SpamAssassin trusts them without it (private addresses, authenticated hops); the envelope checks' own list is [policy] trusted_networks (docs/policy.md)"},
}

// uriListDirectives are SpamAssassin's URIDNSBL settings: the lists a rule
// file names for check_uridnsbl. Postern reads its URI block lists from its
// configuration file ([uribl]).
var uriListDirectives = []string{"uridnsbl", "uridnssub", "urirhsbl", "urirhssub", "urinsrhsbl", "urinsrhssub", "urifullnsrhsbl", "urifullnsrhssub"}

// printNetworkRules says which loaded rules use SpamAssassin's network tests,
// which never hit in rule files here, and where Postern does that work: a
// SpamAssassin user's RCVD_IN_ and URIBL_ rules load without a problem, and
// would otherwise never say why they stay silent.
func printNetworkRules(byPlugin map[string]int) {
	if len(byPlugin) == 0 {
		return
	}
	var parts []string
	n := 0
	for p, k := range byPlugin {
		parts = append(parts, fmt.Sprintf("%s %d", p, k))
		n += k
	}
	sort.Strings(parts)
	fmt.Printf("%d rules use SpamAssassin's network tests, which never hit in rule files here (as with its network tests off): %s\n", n, strings.Join(parts, ", "))
	if byPlugin["DNSEval"] > 0 {
		fmt.Println("  DNSEval (check_rbl and its kin): DNS block lists are [dnsbl] zones in Postern's configuration file, checked at RCPT TO (docs/policy.md)")
	}
	if byPlugin["URIDNSBL"] > 0 {
		fmt.Println("  URIDNSBL (check_uridnsbl): URI block lists are [uribl] zones in Postern's configuration file (docs/policy.md)")
	}
}

func rulesTest(paths []string, name, file string) int {
	set, problems, err := loadRules(paths)
	if err != nil {
		return fail("%v", err)
	}
	for _, p := range problems {
		if p.Rule == name {
			fmt.Println(p)
		}
	}
	r := set.Rule(name)
	if r == nil {
		return fail("rule %s is not in the loaded rules (see postern rules lint)", name)
	}
	raw, err := readMessage(file)
	if err != nil {
		return fail("%v", err)
	}
	m, err := parsedMessage(raw)
	if err != nil {
		return fail("%v", err)
	}
	hits, err := set.EvalAll(m)
	if err != nil {
		return fail("%v", err)
	}
	fmt.Printf("rule %s\n", r)
	hitOf := func(name string) int {
		return slices.IndexFunc(hits, func(h rules.Hit) bool { return h.Rule.Name == name })
	}
	code := 1
	if i := hitOf(name); i >= 0 {
		h := hits[i]
		fmt.Printf("HIT: score %.3f, in %s", h.Score, h.Where)
		if h.Match != "" {
			fmt.Printf(", matched %q", h.Match)
		}
		fmt.Println()
		code = 0
	} else {
		fmt.Println("no hit")
	}
	// A meta rule's answer is its operands': say which of them hit, so that
	// "why did this meta (not) hit?" takes one command, not one a rule.
	// (A meta rule naming a rule that is not defined is not loaded.)
	for _, op := range r.Operands() {
		state := "no hit"
		if hitOf(op) >= 0 {
			state = "hit"
		}
		fmt.Printf("  %s: %s\n", op, state)
	}
	return code
}

// rulesReload checks the rules a running serve would load, and signals it only when
// they load without errors, so the operator sees the errors here, not in its log.
func rulesReload(paths []string, pid int) int {
	set, _, err := loadRules(paths)
	if err != nil {
		return fail("%v\nnothing signalled: postern serve would keep its old rules anyway", err)
	}
	pids := []int{pid}
	if pid == 0 {
		pids = servePIDs()
		if len(pids) == 0 {
			return fail("rules are fine (%d), but no running postern serve was found: give --pid", set.Len())
		}
	}
	for _, p := range pids {
		if err := syscall.Kill(p, syscall.SIGHUP); err != nil {
			return fail("signal pid %d: %v", p, err)
		}
		fmt.Printf("sent SIGHUP to postern serve (pid %d): it loads %d rules from %s and the configuration, and logs the outcome\n", p, set.Len(), strings.Join(paths, ", "))
	}
	return 0
}

// servePIDs finds this user's "postern serve" processes in /proc (Linux).
func servePIDs() []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil || p == os.Getpid() {
			continue
		}
		if info, err := e.Info(); err != nil || !ownedByMe(info) {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
		if len(args) > 1 && filepath.Base(args[0]) == "postern" && slices.Contains(args[1:], "serve") {
			out = append(out, p)
		}
	}
	return out
}

func ownedByMe(info os.FileInfo) bool {
	st, ok := info.Sys().(*syscall.Stat_t)
	return ok && int(st.Uid) == os.Getuid()
}

// rulesCost times each rule over the messages under msgPaths (rules.Costs).
func rulesCost(rulePaths, msgPaths []string, passes, top int) int {
	if passes < 1 {
		return fail("rules cost: --passes must be 1 or more")
	}
	set, _, err := loadRules(rulePaths)
	if err != nil {
		return fail("%v", err)
	}
	var msgs []*filter.Message
	eachMessage(msgPaths, func(f string, raw []byte, err error) {
		var m *filter.Message
		if err == nil {
			m, err = parsedMessage(raw)
		}
		if err != nil {
			// One unreadable file in a maildir need not stop the run.
			fmt.Fprintf(os.Stderr, "postern: rules cost: %s skipped: %v\n", f, err)
			return
		}
		msgs = append(msgs, m)
	})
	if len(msgs) == 0 {
		return fail("rules cost: no message under %s", strings.Join(msgPaths, ", "))
	}
	costs := rules.NewCosts()
	for pass := range passes {
		if pass == 1 {
			costs.Reset() // the first pass warmed the automata up
		}
		for _, m := range msgs {
			// Fresh: each pass pays what a check in serve pays, the HTML rendered
			// and the links found again.
			if _, err := set.EvalCosts(m.Fresh(), costs); err != nil {
				return fail("rules cost: %v", err)
			}
		}
	}
	printCosts(os.Stdout, costs, passes, top)
	printMemory(os.Stdout, set.Memory(), top)
	return 0
}

// printMemory lists what the rules' automata learned over the run, the largest
// first (top: how many): the memory a serve's set grows by as it reads mail.
func printMemory(w io.Writer, mem []rules.Memory, top int) {
	var states, bytes int
	for _, m := range mem {
		states, bytes = states+m.States, bytes+m.Bytes
	}
	fmt.Fprintf(w, "\n%9s %9s  %s\n", "states", "KB", "what the automata learned: their states, and their transition tables' KB, the largest first")
	fmt.Fprintf(w, "%9d %9d  (all: %d rules and unions)\n", states, bytes>>10, len(mem))
	if top > 0 && len(mem) > top {
		mem = mem[:top]
	}
	for _, m := range mem {
		fmt.Fprintf(w, "%9d %9d  %s\n", m.States, m.Bytes>>10, m.Name)
	}
}

func printCosts(w io.Writer, c *rules.Costs, passes, top int) {
	n := float64(c.Messages())
	perMsg := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) / n }
	counted := "all but the first counted"
	if passes == 1 {
		counted = "counted cold: the automata learned the mail as they went"
	}
	fmt.Fprintf(w, "%d evaluations (%d passes, %s): %.0f µs a message in all\n",
		c.Messages(), passes, counted, perMsg(c.Total()))
	share := func(d time.Duration) float64 { return 100 * float64(d) / float64(c.Total()) }
	fmt.Fprintf(w, "\n%9s %6s %9s  %s\n", "µs/msg", "share", "runs/msg", "what kind of work")
	for _, g := range c.Groups() {
		fmt.Fprintf(w, "%9.1f %5.1f%% %9.1f  %s\n", perMsg(g.Own), share(g.Own), float64(g.Calls)/n, g.Name)
	}
	fmt.Fprintf(w, "\n%9s %6s %9s %6s  %s\n", "µs/msg", "share", "runs/msg", "hit", "rule (own time, less the rules it asked for)")
	list := c.List()
	if top > 0 && len(list) > top {
		list = list[:top]
	}
	for _, e := range list {
		hit, how := "", "" // (an analysis is not true or false, and its name says what it is)
		if !e.Shared() {
			hit = fmt.Sprintf("%.0f%%", 100*float64(e.Hits)/float64(e.Calls))
			// Its kind of work, as the table above sums it: what to rewrite
			// in a slow rule of one's own ("RE2 cannot run": the
			// backtracking engine runs it; "without literals": every text is
			// walked for it).
			how = "  [" + e.Group + "]"
		}
		fmt.Fprintf(w, "%9.1f %5.1f%% %9.2f %6s  %s%s\n", perMsg(e.Own), share(e.Own),
			float64(e.Calls)/n, hit, e.Name, how)
	}
}
