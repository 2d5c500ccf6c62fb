// Command verdicteval measures the verdict — what an operator and a sender see:
// X-Spam-Flag at required_score, the 5xx at reject_score — rather than one of its
// parts. It runs the real postern binary over k folds of the shared corpus: for each
// fold, `postern learn --spam` and `--ham` teach a new store the other folds (as an
// operator trains a new installation), `postern check --json` checks the fold; and,
// untrained, `postern check` over every message with nothing learned. With -sa,
// SpamAssassin runs on the same folds in the same run: rules only (network tests
// off, no Bayes) and rules + Bayes trained by sa-learn on the same training folds.
// docs/accuracy.md has the command behind its tables.
package main

import (
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/postern/postern/internal/corpus"
	"github.com/postern/postern/internal/evalstat"
	"github.com/postern/postern/score"
)

// result is one message's verdict under one setup.
type result struct {
	score    float64
	flagged  bool // X-Spam-Flag: YES (score >= required_score)
	rejected bool // 5xx (score >= reject_score)
	tests    []string
	bayes    float64 // -1: none
}

// run is one setup's verdicts on the messages it checked, and what it cost.
type run struct {
	name    string
	results map[int]result // by sample index
	cpu     time.Duration  // CPU of the checking processes, start-up excluded where measured
	checked int
}

func main() {
	corpusDir := flag.String("corpus", corpus.Dir(), "corpus directory (../shared/corpus/get-corpus.sh)")
	folds := flag.Int("folds", 10, "number of folds")
	seed := flag.Int64("seed", 1, "shuffle seed (the folds of tools/bayeseval with the same seed)")
	cfgFile := flag.String("config", "", "postern configuration under test (-c); empty: the built-in defaults")
	bin := flag.String("postern", "", "postern binary to run; empty: go build ./cmd/postern")
	cold := flag.Bool("cold", true, "also check every message untrained (nothing learned)")
	trained := flag.Bool("trained", true, "cross-validate trained (learn the other folds, check the fold)")
	nfolds := flag.Int("run-folds", 0, "run only the first N folds (0: all)")
	sa := flag.Bool("sa", false, "also run SpamAssassin on the same folds: rules only, and rules + Bayes")
	saCache := flag.String("sa-cache", "", "with -sa: keep SpamAssassin's verdicts in this file (read when it is for the same corpus, folds and seed)")
	out := flag.String("out", "", "write every message's verdicts (score, tests, Bayes) here, a TSV line per message and setup")
	jobs := flag.Int("j", runtime.NumCPU(), "SpamAssassin processes at once")
	separate := flag.Bool("separate-learn", false, "train with postern learn --spam DIR, then --ham DIR (two commands), instead of one mixed --spam-path/--ham-path run")
	from := flag.String("from", "", "run nothing: read the verdicts of an earlier run (its -out file) and report them, rescored with -points, fitted with -fit")
	points := flag.String("points", "", "with -from: the Bayes points to rescore the trained runs with, `K,MIN,MAX` (bayes.points_per_log_odds, min_points, max_points), several separated by ';'")
	doFit := flag.Bool("fit", false, "with -from: fit the class on the rules' points and the Bayes log-odds (logistic regression) and print how many rule points a unit of log-odds is worth")
	required := flag.Float64("required", 5, "with -from: required_score for rescored verdicts; given, every run read is judged again at it")
	reject := flag.Float64("reject", 15, "with -from: reject_score for rescored verdicts; given, every run read is judged again at it")
	rescores := flag.String("score", "", "with -from: also report Postern's runs with these rules scored anew, `RULE=POINTS,...` (the tests' points summed again: what changing those score lines would have decided)")
	why := flag.Int("why", 0, "with -from: list the `N` tests that most often hit the ham each run flags")
	compare := flag.Int("compare", 0, "with -from: compare Postern's runs with SpamAssassin's of the same kind rule by rule, the `N` rules that differ on most messages, and the N rules SpamAssassin scores spam with that Postern's run lacks")
	flag.Parse()
	var rescored map[string]float64
	if *rescores != "" {
		var err error
		if rescored, err = parseScores(*rescores); err != nil {
			fatal(err)
		}
	}
	rejudge := false
	flag.Visit(func(f *flag.Flag) { rejudge = rejudge || f.Name == "required" || f.Name == "reject" })

	list, err := corpus.List(*corpusDir)
	if err != nil {
		fatal(err)
	}
	for i, f := range corpus.Deal(len(list), *folds, *seed, func(i, j int) { list[i], list[j] = list[j], list[i] }) {
		list[i].Fold = f
	}
	nspam := 0
	for _, s := range list {
		if s.Spam {
			nspam++
		}
	}
	runFolds := *folds
	if *nfolds > 0 && *nfolds < *folds {
		runFolds = *nfolds
	}
	fmt.Printf("corpus %s: %d messages (%d spam incl. phishing, %d ham), %d folds (%d run), seed %d\n",
		*corpusDir, len(list), nspam, len(list)-nspam, *folds, runFolds, *seed)

	if *from != "" {
		runs, err := readResults(*from, list)
		if err != nil {
			fatal(err)
		}
		var all []*run
		for _, r := range runs {
			if rejudge {
				r = judge(r, *required, *reject)
			}
			all = append(all, r)
			report(list, runFolds, r)
			if *why > 0 {
				flaggedHam(list, r, *why)
			}
			if rescored != nil && strings.HasPrefix(r.name, "Postern") {
				rr := rescoreRules(r, rescored, *required, *reject)
				all = append(all, rr)
				report(list, runFolds, rr)
			}
			hasBayes := false
			for _, res := range r.results {
				hasBayes = hasBayes || res.bayes >= 0
			}
			if !hasBayes {
				continue
			}
			if *doFit {
				a, b, c := fit(r, list)
				fmt.Printf("%s: logistic fit: %.3f per unit of Bayes log-odds, %.3f per rule point, bias %.3f: a unit of log-odds is worth %.2f rule points\n", r.name, a, b, c, a/b)
			}
			for _, spec := range strings.Split(*points, ";") {
				if spec == "" {
					continue
				}
				var pt score.Points
				if _, err := fmt.Sscanf(spec, "%g,%g,%g", &pt.PerLogOdds, &pt.Min, &pt.Max); err != nil {
					fatal(fmt.Errorf("-points %q: %w", spec, err))
				}
				rr := rescore(r, pt, *required, *reject)
				all = append(all, rr)
				report(list, runFolds, rr)
			}
		}
		if *compare > 0 {
			compareRuns(list, runs, *compare)
		}
		fmt.Println()
		table(list, runFolds, all)
		return
	}

	work, err := os.MkdirTemp("", "verdicteval-")
	if err != nil {
		fatal(err)
	}
	defer os.RemoveAll(work)
	p := &postern{bin: *bin, config: *cfgFile, work: work}
	if p.bin == "" {
		p.bin = filepath.Join(work, "postern")
		build := exec.Command("go", "build", "-o", p.bin, "./cmd/postern")
		build.Stdout, build.Stderr = os.Stdout, os.Stderr
		if err := build.Run(); err != nil {
			fatal(fmt.Errorf("go build ./cmd/postern: %w", err))
		}
	}

	var runs []*run
	add := func(r *run, err error) {
		if err != nil {
			fatal(err)
		}
		runs = append(runs, r)
		report(list, runFolds, r)
	}
	startup, err := p.startup(filepath.Join(work, "startup"))
	if err != nil {
		fatal(err)
	}
	fmt.Printf("postern check start-up, untrained (one message, CPU): %s; CPU per message below leaves start-up out\n", startup.Round(time.Millisecond))
	if *cold {
		add(p.cold(list, runFolds))
	}
	if *trained {
		add(p.crossValidate(list, runFolds, *separate))
	}
	if *sa {
		s := &spamAssassin{jobs: *jobs, work: work, cache: *saCache,
			setup: fmt.Sprintf("corpus %d messages, folds %d, seed %d", len(list), *folds, *seed)}
		if *cold {
			add(s.rulesOnly(list, runFolds))
		}
		if *trained {
			add(s.withBayes(list, runFolds))
		}
	}
	fmt.Println()
	table(list, runFolds, runs)
	if *out != "" {
		if err := writeResults(*out, list, runs); err != nil {
			fatal(err)
		}
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "verdicteval:", err)
	os.Exit(1)
}

// summary is a setup's numbers on the messages of the folds run.
type summary struct {
	nspam, nham                      int
	spamFlagged, hamFlagged          int
	spamRejected, hamRejected        int
	oneMinusAUC, strict              float64
	foldSpamFlagged                  []float64 // % per fold, for the spread
	foldHamFlagged, foldSpamRejected []float64
}

func summarize(list []corpus.Sample, runFolds int, r *run) summary {
	var s summary
	type fold struct{ nspam, nham, sf, hf, sr int }
	per := make([]fold, runFolds)
	var scores []evalstat.Scored
	for i, smp := range list {
		res, ok := r.results[i]
		if !ok || smp.Fold >= runFolds {
			continue
		}
		f := &per[smp.Fold]
		scores = append(scores, evalstat.Scored{Score: res.score, Spam: smp.Spam})
		if smp.Spam {
			s.nspam++
			f.nspam++
			if res.flagged {
				s.spamFlagged++
				f.sf++
			}
			if res.rejected {
				s.spamRejected++
				f.sr++
			}
		} else {
			s.nham++
			f.nham++
			if res.flagged {
				s.hamFlagged++
				f.hf++
			}
			if res.rejected {
				s.hamRejected++
			}
		}
	}
	for _, f := range per {
		if f.nspam+f.nham == 0 {
			continue
		}
		s.foldSpamFlagged = append(s.foldSpamFlagged, pct(f.sf, f.nspam))
		s.foldHamFlagged = append(s.foldHamFlagged, pct(f.hf, f.nham))
		s.foldSpamRejected = append(s.foldSpamRejected, pct(f.sr, f.nspam))
	}
	s.oneMinusAUC = 1 - evalstat.AUC(scores)
	s.strict, _, _ = evalstat.StrictCaught(scores)
	return s
}

func report(list []corpus.Sample, runFolds int, r *run) {
	s := summarize(list, runFolds, r)
	fmt.Printf("%s: spam flagged %d/%d = %.2f%% (folds %s), ham flagged %d/%d = %.3f%% (folds %s); rejected: spam %.2f%% (folds %s), ham %d; 1-AUC %.5f; spam caught at <= 0.1%% ham %.2f%%; CPU %s/message\n",
		r.name, s.spamFlagged, s.nspam, pct(s.spamFlagged, s.nspam), spread(s.foldSpamFlagged),
		s.hamFlagged, s.nham, pct(s.hamFlagged, s.nham), spread(s.foldHamFlagged),
		pct(s.spamRejected, s.nspam), spread(s.foldSpamRejected), s.hamRejected,
		s.oneMinusAUC, s.strict, perMessage(r))
}

// table prints the setups as the Markdown table docs/accuracy.md leads with.
func table(list []corpus.Sample, runFolds int, runs []*run) {
	fmt.Println("| setup | spam flagged | ham flagged | spam rejected | ham rejected | 1 − AUC | spam at ≤ 0.1 % ham | CPU per message |")
	fmt.Println("|---|---|---|---|---|---|---|---|")
	for _, r := range runs {
		s := summarize(list, runFolds, r)
		fmt.Printf("| %s | %.2f %% (%s) | %d = %.3f %% | %.2f %% | %d | %.5f | %.2f %% | %s |\n",
			r.name, pct(s.spamFlagged, s.nspam), spread(s.foldSpamFlagged), s.hamFlagged, pct(s.hamFlagged, s.nham),
			pct(s.spamRejected, s.nspam), s.hamRejected, s.oneMinusAUC, s.strict, perMessage(r))
	}
}

func perMessage(r *run) string {
	if r.checked == 0 || r.cpu <= 0 {
		return "n/a"
	}
	d := r.cpu / time.Duration(r.checked)
	if d < 10*time.Millisecond {
		return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
	}
	return d.Round(time.Millisecond).String()
}

func pct(n, of int) float64 {
	if of == 0 {
		return 0
	}
	return 100 * float64(n) / float64(of)
}

// spread is the range of per-fold percentages and their standard deviation.
func spread(v []float64) string {
	if len(v) == 0 {
		return "-"
	}
	lo, hi, sum := v[0], v[0], 0.0
	for _, x := range v {
		lo, hi, sum = math.Min(lo, x), math.Max(hi, x), sum+x
	}
	mean := sum / float64(len(v))
	var ss float64
	for _, x := range v {
		ss += (x - mean) * (x - mean)
	}
	sd := 0.0
	if len(v) > 1 {
		sd = math.Sqrt(ss / float64(len(v)-1))
	}
	return fmt.Sprintf("%.1f–%.1f, sd %.2f", lo, hi, sd)
}

// writeResults writes one line per message and setup: setup, path, class, fold,
// score, flagged, rejected, Bayes probability (-1: none), tests.
func writeResults(file string, list []corpus.Sample, runs []*run) error {
	var b strings.Builder
	b.WriteString("setup\tpath\tspam\tfold\tscore\tflagged\trejected\tbayes\ttests\n")
	for _, r := range runs {
		for i, s := range list {
			res, ok := r.results[i]
			if !ok {
				continue
			}
			fmt.Fprintf(&b, "%s\t%s\t%v\t%d\t%g\t%v\t%v\t%g\t%s\n", r.name, s.Path, s.Spam, s.Fold,
				res.score, res.flagged, res.rejected, res.bayes, strings.Join(res.tests, ","))
		}
	}
	return os.WriteFile(file, []byte(b.String()), 0o644)
}
