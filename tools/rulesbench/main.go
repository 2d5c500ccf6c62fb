// Command rulesbench measures rule evaluation on corpus messages — Postern's default
// rules and Debian's stock SpamAssassin rules — next to spamassassin itself (network
// tests and Bayes off) on the same messages in the same run, and reports how often
// both agree on which of the rules Postern supports hit. docs/rules.md has the numbers
// and the command.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/postern/postern/filter"
	"github.com/postern/postern/internal/corpus"
	mboxfmt "github.com/postern/postern/internal/mbox"
	"github.com/postern/postern/rules"
	"github.com/postern/postern/scan"
	"github.com/postern/postern/spool"
)

var diffRule *string

func main() {
	corpusDir := flag.String("corpus", corpus.Dir(), "corpus directory")
	n := flag.Int("n", 300, "messages to use (a random sample, half spam)")
	// The SpamAssassin corpus is mail of 2002; the phishing set is today's (HTML,
	// UTF-8, base64 everywhere), where other differences show.
	phishing := flag.Int("phishing", 0, "also use this many messages of the phishing set (a random sample), besides the -n")
	stock := flag.String("stock", "/usr/share/spamassassin", "stock SpamAssassin rules")
	sa := flag.Bool("sa", true, "also run spamassassin on the same messages")
	diffRule = flag.String("diff", "", "list the messages where this rule (all: any rule) hits on one side only")
	e2e := flag.String("e2e", "", "also time this postern binary's whole check against spamassassin's, end to end (needs -sa)")
	cacheEach := flag.Int("cache", 0, "with -e2e: the automata cache of the cached run is also written from this many more spam and ham (those left when fewer), besides the warm-up's 300 and 300")
	side := flag.Bool("side", false, "with -e2e: run postern's checks during spamassassin's run, on the other core, rather than before and after it")
	inTurns := flag.Bool("turns", false, "with -e2e: run postern's checks during spamassassin's run, the two in turns of a second (the other stopped), rather than before and after it (no warm figure: the checks' clock counts the time stopped)")
	flag.Parse()
	runtime.GOMAXPROCS(1) // per core

	msgs, paths := sample(*corpusDir, *n, *phishing)
	fmt.Printf("%d messages from %s (GOMAXPROCS=1)\n", len(msgs), *corpusDir)
	prepared := make([]*filter.Message, len(msgs))
	for i, raw := range msgs {
		m, _ := scan.Parse(bytes.NewReader(raw))
		sp := spool.FromBytes(raw)
		prepared[i] = &filter.Message{Raw: sp, Size: sp.Size(), Parsed: m, Env: &filter.Envelope{}}
	}
	sets := []struct {
		name  string
		paths []string
	}{{"postern default rules", []string{rules.DefaultPath}}, {"stock SpamAssassin rules", []string{*stock}}}
	var stockSet *rules.Set
	var stockHits []map[string]bool
	for _, s := range sets {
		set, problems := rules.Load(s.paths...)
		if errs := rules.Errors(problems); len(errs) > 0 {
			fmt.Fprintln(os.Stderr, errs[0])
			os.Exit(1)
		}
		hits := make([]map[string]bool, len(prepared))
		// Warm up, then time three passes.
		for i, m := range prepared {
			hits[i] = map[string]bool{}
			all, err := set.EvalAll(m)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			for _, h := range all {
				hits[i][h.Rule.Name] = true
			}
		}
		start := time.Now()
		const passes = 3
		for p := 0; p < passes; p++ {
			for _, m := range prepared {
				set.Eval(m.Fresh()) // (read above without an error)
			}
		}
		el := time.Since(start)
		perMsg := el / time.Duration(passes*len(prepared))
		fmt.Printf("%-26s %5d rules (%d run): %8.0f messages/s per core, %6.0f µs/message, %5.0f ns per rule run per message\n",
			s.name, set.Len(), set.Running(), float64(time.Second)/float64(perMsg), float64(perMsg.Microseconds()), float64(perMsg.Nanoseconds())/float64(set.Running()))
		states, cache := set.DFACache()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		fmt.Printf("%-26s memory: %d DFA states in %.1f MB of tables; Go heap %.0f MB with the sets loaded so far\n",
			"", states, float64(cache)/(1<<20), float64(ms.HeapAlloc)/(1<<20))
		if s.paths[0] == *stock {
			stockSet, stockHits = set, hits
		}
	}
	if !*sa {
		return
	}
	saHits, saTime, err := runSpamAssassin(msgs, "")
	if err != nil {
		fmt.Fprintln(os.Stderr, "spamassassin:", err)
		os.Exit(1)
	}
	perMsg := saTime / time.Duration(len(msgs))
	fmt.Printf("%-26s %5s rules: %8.1f messages/s per core, %6.0f µs/message (spamassassin -L --mbox, Bayes off, one process)\n",
		"spamassassin 4 itself", "stock", float64(time.Second)/float64(perMsg), float64(perMsg.Microseconds()))
	// Without Bayes SpamAssassin uses score set 0, where some rules score 0 and do not
	// run (NUMERIC_HTTP_ADDR); Postern runs them for set 2, but reports a hit only
	// where it scores in the set the message is scored with: compared in set 0,
	// those rules are left out. No stock meta rule uses any of them, so no score
	// differs by it.
	agree(stockSet, stockHits, saHits, paths, 0)
	// A Bayes database trained on other corpus messages puts SpamAssassin in set 2,
	// as Postern with Bayes.
	db, err := trainSpamAssassin(*corpusDir, *n)
	if errors.Is(err, errFewToTrain) && *e2e == "" {
		// A sample of nearly the whole corpus (-n 6756: every spam and ham)
		// leaves none to train on; its agreement above is what it is run for.
		fmt.Println("(no comparison with SpamAssassin's Bayes:", err, "outside the sample)")
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "sa-learn:", err)
		os.Exit(1)
	}
	defer os.RemoveAll(filepath.Dir(db))
	if saHits, _, err = runSpamAssassin(msgs, db); err != nil {
		fmt.Fprintln(os.Stderr, "spamassassin:", err)
		os.Exit(1)
	}
	fmt.Println("the same with SpamAssassin's Bayes trained on 200 spam and 200 ham not in the sample (its score set 2, as Postern's):")
	agree(stockSet, stockHits, saHits, paths, 1)
	if *e2e != "" {
		how := sequential
		switch {
		case *side && *inTurns:
			fmt.Fprintln(os.Stderr, "end to end: -side or -turns, not both")
			os.RemoveAll(filepath.Dir(db))
			os.Exit(2)
		case *side:
			how = sideBySide
		case *inTurns:
			how = inTurnsWith
		}
		if err := endToEnd(*e2e, msgs, *corpusDir, *n, db, how, *cacheEach); err != nil {
			fmt.Fprintln(os.Stderr, "end to end:", err)
			os.RemoveAll(filepath.Dir(db))
			os.Exit(1)
		}
	}
}

// errFewToTrain is trainSpamAssassin's error when the sample leaves fewer than
// 200 messages of a class.
var errFewToTrain = errors.New("too few messages to train on")

// trainSpamAssassin trains a Bayes database with 200 spam and 200 ham from the corpus
// that are not among the n sampled, and returns its path.
func trainSpamAssassin(dir string, n int) (string, error) {
	tmp, err := os.MkdirTemp("", "rulesbench-bayes-")
	if err != nil {
		return "", err
	}
	db := filepath.Join(tmp, "bayes")
	for sub, flag := range map[string]string{"spamassassin/spam": "--spam", "spamassassin/ham": "--ham"} {
		names := shuffled(filepath.Join(dir, sub))
		if len(names) < n/2+200 {
			return "", fmt.Errorf("%s: %w", sub, errFewToTrain)
		}
		args := append([]string{"--dbpath", db, "--no-sync", flag}, names[n/2:n/2+200]...)
		if out, err := exec.Command("sa-learn", args...).CombinedOutput(); err != nil {
			return "", fmt.Errorf("%v: %s", err, out)
		}
	}
	if out, err := exec.Command("sa-learn", "--dbpath", db, "--sync").CombinedOutput(); err != nil {
		return "", fmt.Errorf("%v: %s", err, out)
	}
	return db, nil
}

// shuffled lists a directory's files in the order sample draws them.
func shuffled(dir string) []string {
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, filepath.Join(dir, e.Name()))
	}
	sort.Strings(names)
	rng := rand.New(rand.NewSource(7))
	rng.Shuffle(len(names), func(i, j int) { names[i], names[j] = names[j], names[i] })
	return names
}

func sample(dir string, n, phishing int) ([][]byte, []string) {
	var files []string
	for _, sub := range []string{"spamassassin/spam", "spamassassin/ham"} {
		names := shuffled(filepath.Join(dir, sub))
		files = append(files, names[:min(n/2, len(names))]...)
	}
	names := shuffled(filepath.Join(dir, "phishing"))
	files = append(files, names[:min(phishing, len(names))]...)
	var msgs [][]byte
	var paths []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		msgs = append(msgs, mboxfmt.StripFrom(b))
		paths = append(paths, f)
	}
	return msgs, paths
}

// runSpamAssassin checks every message in one spamassassin process and reads back
// which rules hit each one; with Bayes off, or on with the database bayesDB.
func runSpamAssassin(msgs [][]byte, bayesDB string) ([]map[string]bool, time.Duration, error) {
	var mbox bytes.Buffer
	for i, m := range msgs {
		mboxfmt.Append(&mbox, i, m)
	}
	bayes := []string{"--cf=use_bayes 0"}
	if bayesDB != "" {
		bayes = []string{"--cf=use_bayes 1", "--cf=bayes_path " + bayesDB, "--cf=bayes_auto_learn 0"}
	}
	args := append([]string{"-L", "--mbox",
		"--cf=add_header all Tests _TESTS(,)_", "--cf=add_header all Evalid _HEADER(X-Eval-Id)_"}, bayes...)
	cmd := exec.Command("spamassassin", args...)
	cmd.Stdin = &mbox
	start := time.Now()
	out, err := cmd.Output()
	el := time.Since(start)
	if err != nil {
		return nil, 0, err
	}
	hits := make([]map[string]bool, len(msgs))
	for id, fields := range mboxfmt.SpamHeaders(out) {
		if id < 0 || id >= len(hits) {
			continue
		}
		hits[id] = map[string]bool{}
		for _, t := range strings.Split(fields["Tests"], ",") {
			if t = strings.TrimSpace(t); t != "" && t != "none" {
				hits[id][t] = true
			}
		}
	}
	return hits, el, nil
}

// agree compares, per message, the hits of the rules both sides evaluated and
// report in score set scoreSet (rules.Scores' index: 0 without Bayes, 1 with).
func agree(set *rules.Set, ours, theirs []map[string]bool, paths []string, scoreSet int) {
	same, compared := 0, 0
	diff := map[string][2]int{} // rule → [only ours, only theirs]
	for i := range ours {
		if theirs[i] == nil {
			continue
		}
		compared++
		ok := true
		names := map[string]bool{}
		for n := range ours[i] {
			names[n] = true
		}
		for n := range theirs[i] {
			names[n] = true
		}
		for n := range names {
			if set.Rule(n) == nil || strings.HasPrefix(n, "__") || set.Scores(n)[scoreSet] == 0 {
				continue // a rule we do not run, or one not reported in this set
			}
			if ours[i][n] != theirs[i][n] {
				if *diffRule == n || *diffRule == "all" {
					fmt.Println("  differs:", n, "postern", ours[i][n], paths[i])
				}
				ok = false
				d := diff[n]
				if ours[i][n] {
					d[0]++
				} else {
					d[1]++
				}
				diff[n] = d
			}
		}
		if ok {
			same++
		}
	}
	fmt.Printf("agreement with spamassassin -t on the supported rules: %d of %d messages (%.1f%%) hit exactly the same rules\n",
		same, compared, 100*float64(same)/float64(max(compared, 1)))
	type row struct {
		name      string
		ours, sas int
	}
	var rows []row
	for n, d := range diff {
		rows = append(rows, row{n, d[0], d[1]})
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].ours+rows[i].sas > rows[j].ours+rows[j].sas })
	fmt.Println("rules that differ most (messages where only postern / only spamassassin hit):")
	for i, r := range rows {
		if i == 15 {
			break
		}
		fmt.Printf("  %-28s %4d %4d\n", r.name, r.ours, r.sas)
	}
	_ = paths
}
