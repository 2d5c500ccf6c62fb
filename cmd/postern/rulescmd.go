package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/postern/postern/filter"
	"github.com/postern/postern/internal/mbox"
	"github.com/postern/postern/rules"
	"github.com/postern/postern/scan"
	"github.com/postern/postern/spool"
)

func runRules(args []string) int {
	fs, c := newFlags("rules", "rules lint [PATH...] | rules test RULE FILE", `
lint [PATH...]   reads rule files (default: rules_paths of the configuration) and
                 prints every error and warning with file:line and the rule name,
                 then how many rules of each type were loaded and skipped. Exit
                 status 1 when there are errors (warnings, such as rules using Perl
                 features RE2 lacks, are skipped rules, not errors).
test RULE FILE   shows whether RULE hits the message in FILE, where, and what it
                 matched. With --rule 'body NAME /regex/' the rule is given on the
                 command line instead of being looked up in the rule files.
Reload a running serve with SIGHUP (systemctl reload postern).`)
	var extra stringList
	fs.Var(&extra, "rules", "also load this rule `PATH`; repeatable")
	ruleText := fs.String("rule", "", "a rule `DEFINITION` to test, in SpamAssassin syntax")
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
	fmt.Printf("%d rules from %s (%d can change a score and run): %s\n", set.Len(), strings.Join(paths, ", "), set.Running(), strings.Join(parts, "; "))
	if len(set.Ignored) > 0 {
		var ig []string
		for k, n := range set.Ignored {
			ig = append(ig, fmt.Sprintf("%s %d", k, n))
		}
		sort.Strings(ig)
		fmt.Printf("directives ignored (not used by Postern): %s\n", strings.Join(ig, ", "))
	}
	if errs := rules.Errors(problems); len(errs) > 0 {
		fmt.Fprintf(os.Stderr, "postern: %d error(s)\n", len(errs))
		return 1
	}
	return 0
}

func rulesTest(paths []string, name, file string) int {
	set, problems := rules.Load(paths...)
	if errs := rules.Errors(problems); len(errs) > 0 {
		for _, p := range errs {
			fmt.Fprintln(os.Stderr, p)
		}
		return fail("rules have errors")
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
	raw, err := os.ReadFile(file)
	if err != nil {
		return fail("%v", err)
	}
	raw = mbox.StripFrom(raw)
	parsed, err := scan.Parse(bytes.NewReader(raw))
	if err != nil {
		return fail("%v", err)
	}
	sp := spool.FromBytes(raw)
	hits := set.EvalAll(&filter.Message{Raw: sp, Size: sp.Size(), Parsed: parsed, Env: &filter.Envelope{}})
	_ = context.Background
	fmt.Printf("rule %s\n", r)
	for _, h := range hits {
		if h.Rule.Name != name {
			continue
		}
		fmt.Printf("HIT: score %.3f, in %s", h.Score, h.Where)
		if h.Match != "" {
			fmt.Printf(", matched %q", h.Match)
		}
		fmt.Println()
		return 0
	}
	fmt.Println("no hit")
	return 1
}
