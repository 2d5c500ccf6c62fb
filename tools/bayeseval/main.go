// Command bayeseval measures the Bayesian classifier's accuracy on the shared corpus
// with k-fold cross-validation, and (with -sa) SpamAssassin's own Bayes on the same
// folds, side by side. It writes a report and an SVG plot of ham lost against spam
// caught. See docs/accuracy.md for the command that produced the published numbers.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/postern/postern/internal/corpus"
	"github.com/postern/postern/internal/evalstat"
	"github.com/postern/postern/internal/mbox"
	"github.com/postern/postern/scan"
	"github.com/postern/postern/score"
)

type sample struct {
	path string
	spam bool
	keys []score.Key
	fold int
}

var showTopHam bool

type scored struct {
	prob float64
	spam bool
}

func main() {
	corpusDir := flag.String("corpus", corpus.Dir(), "corpus directory (../shared/corpus/get-corpus.sh)")
	folds := flag.Int("folds", 10, "number of folds")
	seed := flag.Int64("seed", 1, "shuffle seed")
	seeds := flag.Int("seeds", 0, "instead of one run, cross-validate with seeds 1..N and print each one's numbers and the means (with -sa, SpamAssassin's too; -sa-scores then names a file per seed with %d)")
	threshold := flag.Float64("threshold", 0.9, "spam probability at or above which a message counts as spam (0.5 and 0.99 are reported too)")
	svg := flag.String("svg", "", "write the trade-off plot here")
	sa := flag.Bool("sa", false, "also train and test SpamAssassin's Bayes (sa-learn) on the same folds")
	saFolds := flag.Int("sa-folds", 0, "run SpamAssassin on only this many folds (0: all)")
	params := flag.String("params", "", "classifier parameters to try instead of the defaults: `STRENGTH,MINDEV,MAXCLUES`")
	misses := flag.Bool("misses", false, "list the messages misclassified at -threshold")
	saScores := flag.String("sa-scores", "", "with -sa: read SpamAssassin's probabilities from this file if it exists (same corpus, folds and seed), else write them there; with -seeds, a name with %d for the seed")
	margin := flag.Float64("learn-margin", score.DefaultParams().LearnMargin, "Params.LearnMargin: a message the classifier already puts this close to its class is not learned")
	fewClues := flag.Int("few-clues", score.DefaultParams().FewClues, "Params.FewClues: fewer clues than this pull the probability towards 0.5 (0: never)")
	undecided := flag.Float64("undecided", score.DefaultParams().Undecided, "Params.Undecided: a message within this of 0.5 is ranked inside that band by the mean log-odds of its clues (0: never)")
	learnAll := flag.Bool("learn-all", false, "learn every training message, not only those the classifier is not yet sure of (Params.LearnMargin)")
	flag.BoolVar(&showTopHam, "top-ham", false, "list the ten highest-scoring ham and how much spam scores above each")
	explain := flag.String("explain", "", "print the clues of the messages whose path contains this, scored by the model of their fold")
	autolearnSim := flag.String("autolearn-sim", "", "simulate serve's autolearning, with and without bayes.autolearn_veto, from this file of rule scores (`postern check --json` with Bayes off over the corpus, or tools/verdicteval's -out file)")
	vetoes := flag.String("vetoes", "0.2,0.9,0", "with -autolearn-sim: the bayes.autolearn_veto values to simulate (0: none)")
	withTrigrams := flag.Bool("with-trigrams", false, "also cross-validate with trigrams (bayes.trigrams, the daemon's default) on the same folds and with the same flags (-params after the trigrams), reported and plotted beside words only")
	trigrams := flag.Bool("trigrams", false, "character trigrams among the tokens, and their MinDeviation (bayes.trigrams, the daemon's default; score.Params.WithTrigrams); without it, words only; -params after them")
	initial := flag.Int("initial", 600, "with -autolearn-sim: how many messages of each training stream the operator teaches first (postern learn); the rest are autolearned")
	flag.Parse()

	// The classifier's parameters, for every mode (and -with-trigrams' run): the
	// flags over the defaults, with or without trigrams; scoring a test fold has no
	// cold start.
	paramsFor := func(tri bool) score.Params {
		p := score.DefaultParams()
		if tri {
			p = p.WithTrigrams()
		}
		p.MinSpam, p.MinHam = 0, 0
		p.LearnMargin, p.FewClues, p.Undecided = *margin, *fewClues, *undecided
		if *params != "" {
			if _, err := fmt.Sscanf(*params, "%g,%g,%d", &p.Strength, &p.MinDeviation, &p.MaxClues); err != nil {
				fmt.Fprintln(os.Stderr, "-params:", err)
				os.Exit(2)
			}
		}
		return p
	}
	p := paramsFor(*trigrams)
	samples, err := load(*corpusDir, p.Trigrams)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if *seeds > 0 {
		if err := seedSummary(samples, *folds, *seeds, p, *learnAll, *threshold, *sa, *saScores); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	shuffleFolds(samples, *folds, *seed)
	nspam := 0
	for _, s := range samples {
		if s.spam {
			nspam++
		}
	}
	fmt.Printf("corpus %s: %d messages (%d spam incl. phishing, %d ham), %d folds, seed %d\n",
		*corpusDir, len(samples), nspam, len(samples)-nspam, *folds, *seed)

	start := time.Now()
	if *autolearnSim != "" {
		rules, err := readRuleScores(*autolearnSim)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println(ruleScoreSpread(samples, rules))
		runs := []autolearnRun{{name: "taught only, no autolearn"}}
		for _, v := range strings.Split(*vetoes, ",") {
			veto, err := strconv.ParseFloat(v, 64)
			if err != nil {
				fmt.Fprintln(os.Stderr, "-vetoes:", err)
				os.Exit(2)
			}
			runs = append(runs, autolearnRun{name: fmt.Sprintf("autolearn, veto %g", veto), autolearn: true, veto: veto})
		}
		for _, run := range runs {
			res, wrong, learned, err := simulateAutolearn(samples, *folds, p, rules, *initial, run)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			fmt.Printf("%s: %d messages autolearned over the %d folds, %d of them as the wrong class\n", run.name, learned, *folds, wrong)
			report(run.name, res, *threshold)
		}
		return
	}
	ours := crossValidate(samples, *folds, p, *learnAll)
	fmt.Printf("postern: trained and tested %d folds in %s\n", *folds, time.Since(start).Round(time.Millisecond))
	report("postern", ours, *threshold)
	if *misses {
		for i, r := range ours {
			if r.spam != (r.prob >= *threshold) {
				fmt.Printf("miss %.4f spam=%v %s\n", r.prob, r.spam, samples[i].path)
			}
		}
	}
	if *explain != "" {
		explainMatching(samples, *folds, p, *learnAll, ours, *explain)
	}
	series := map[string][]scored{"postern": ours}
	if *withTrigrams && p.Trigrams == 0 {
		tri, err := load(*corpusDir, score.TrigramRunes)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		shuffleFolds(tri, *folds, *seed)
		res := crossValidate(tri, *folds, paramsFor(true), *learnAll)
		report("postern, trigrams", res, *threshold)
		series["postern, trigrams"] = res
	}

	if *sa {
		n := *folds
		if *saFolds > 0 {
			n = *saFolds
		}
		start := time.Now()
		saRes, err := cachedSpamAssassin(samples, n, *saScores, fmt.Sprintf("folds %d seed %d", *folds, *seed))
		if err != nil {
			fmt.Fprintln(os.Stderr, "spamassassin:", err)
			os.Exit(1)
		}
		fmt.Printf("spamassassin: trained and tested %d folds in %s\n", n, time.Since(start).Round(time.Second))
		report("spamassassin", saRes, *threshold)
		if *misses {
			j := 0
			for _, s := range samples {
				if s.fold >= n {
					continue
				}
				if r := saRes[j]; r.spam != (r.prob >= *threshold) {
					fmt.Printf("miss spamassassin %.4f spam=%v %s\n", r.prob, r.spam, s.path)
				}
				j++
			}
		}
		var oursSame []scored // ours[i] is samples[i]'s result
		for i, s := range samples {
			if s.fold < n {
				oursSame = append(oursSame, ours[i])
			}
		}
		report(fmt.Sprintf("postern on the same %d folds", n), oursSame, *threshold)
		series["spamassassin"] = saRes
	}
	if *svg != "" {
		if err := os.WriteFile(*svg, []byte(plot(series)), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
}

// load reads and tokenizes every message, in parallel.
func load(dir string, trigrams int) ([]sample, error) {
	list, err := corpus.List(dir)
	if err != nil {
		return nil, err
	}
	paths := make([]sample, len(list))
	for i, s := range list {
		paths[i] = sample{path: s.Path, spam: s.Spam}
	}
	var wg sync.WaitGroup
	jobs := make(chan int)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				b, err := os.ReadFile(paths[i].path)
				if err != nil {
					continue
				}
				m, _ := scan.Parse(bytes.NewReader(mbox.StripFrom(b)))
				paths[i].keys = score.TokenKeys(m, trigrams)
			}
		}()
	}
	for i := range paths {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	return paths, nil
}

// shuffleFolds shuffles the samples with the seed and deals them into folds
// (corpus.Deal, as tools/verdicteval does).
func shuffleFolds(samples []sample, folds int, seed int64) {
	for i, f := range corpus.Deal(len(samples), folds, seed, func(i, j int) { samples[i], samples[j] = samples[j], samples[i] }) {
		samples[i].fold = f
	}
}

// learning is p as the daemon learns with it: with its cold start (everything is
// learned until the model has its minimum of each class), which scoring the test
// fold has not.
func learning(p score.Params) score.Params {
	d := score.DefaultParams()
	p.MinSpam, p.MinHam = d.MinSpam, d.MinHam
	return p
}

// train learns every fold but f as one stream, in the shuffled order, choosing what
// to learn as Bayes.Learn does (train on or near error); with learnAll every message
// is learned, as sa-learn does.
func train(samples []sample, f int, p score.Params, learnAll bool) *score.Model {
	m := score.NewModel()
	ps := learning(p)
	// One selector over the whole stream, as over one batch of Bayes.Learn: it
	// counts what it chose, and the model learns those at the end.
	sel := m.NewSelector(ps)
	var chosen []sample
	for _, s := range samples {
		if s.fold != f && (learnAll || sel.Needs(s.keys, s.spam)) {
			chosen = append(chosen, s)
		}
	}
	for _, s := range chosen {
		m.Add(s.keys, s.spam, 1)
	}
	return m
}

// crossValidate trains a model on all folds but one and scores that one, for each fold.
func crossValidate(samples []sample, folds int, p score.Params, learnAll bool) []scored {
	out := make([]scored, len(samples))
	for f := 0; f < folds; f++ {
		m := train(samples, f, p, learnAll)
		for i, s := range samples {
			if s.fold == f {
				prob, _ := m.Classify(s.keys, p)
				out[i] = scored{prob, s.spam}
			}
		}
	}
	return out
}

// explainMatching prints, for each message whose path contains substr, its score and
// its most significant clues with their counts, by the model trained without its fold.
func explainMatching(samples []sample, folds int, p score.Params, learnAll bool, res []scored, substr string) {
	for f := 0; f < folds; f++ {
		var m *score.Model
		for i, s := range samples {
			if s.fold != f || !strings.Contains(s.path, substr) {
				continue
			}
			if m == nil {
				m = train(samples, f, p, learnAll)
			}
			b, err := os.ReadFile(s.path)
			if err != nil {
				continue
			}
			msg, _ := scan.Parse(bytes.NewReader(mbox.StripFrom(b)))
			nspam, nham := m.Totals()
			fmt.Printf("explain %s spam=%v prob=%.4f (model: %d spam, %d ham)\n", s.path, s.spam, res[i].prob, nspam, nham)
			for _, c := range score.NewBayes(nil, m, p).Explain(msg, 0) {
				fmt.Printf("  %.4f %5d spam %5d ham  %q\n", c.Prob, c.Counts.Spam, c.Counts.Ham, c.Token)
			}
		}
	}
}

func report(name string, res []scored, threshold float64) {
	seen := map[float64]bool{}
	for _, th := range []float64{0.5, threshold, 0.99} {
		if !seen[th] {
			seen[th] = true
			reportAt(name, res, th)
		}
	}
	reportStrict(name, res)
}

func reportAt(name string, res []scored, threshold float64) {
	fp, fn, nham, nspam := errorsAt(res, threshold)
	fmt.Printf("%-30s threshold %.2f: false positives %d/%d = %.3f%% of ham; false negatives %d/%d = %.2f%% of spam; 1-AUC = %.5f\n",
		name, threshold, fp, nham, 100*float64(fp)/float64(nham), fn, nspam, 100*float64(fn)/float64(nspam), 1-auc(res))
}

// errorsAt counts the false positives and negatives at a threshold.
func errorsAt(res []scored, threshold float64) (fp, fn, nham, nspam int) {
	for _, r := range res {
		if r.spam {
			nspam++
			if r.prob < threshold {
				fn++
			}
		} else {
			nham++
			if r.prob >= threshold {
				fp++
			}
		}
	}
	return fp, fn, nham, nspam
}

// reportStrict prints the operating point the target names: the most spam
// caught with a ham loss of at most 0.1 %.
func reportStrict(name string, res []scored) {
	pct, maxFP, nham := strictCaught(res)
	if showTopHam {
		probs := append([]scored(nil), res...)
		sort.Slice(probs, func(i, j int) bool { return probs[i].prob > probs[j].prob })
		_, _, _, nspam := errorsAt(res, 0)
		caught, hams := 0, 0
		for i, r := range probs {
			if r.spam {
				caught++
				continue
			}
			hams++
			if hams > 10 {
				break
			}
			fmt.Printf("   ham #%d at %.6f: spam above it %d (%.2f%%) i=%d\n", hams, r.prob, caught, 100*float64(caught)/float64(nspam), i)
		}
	}
	fmt.Printf("%-30s at ham loss <= 0.1%% (%d of %d ham): %.2f%% of spam caught\n", name, maxFP, nham, pct)
}

// strictCaught is evalstat.StrictCaught of the probabilities.
func strictCaught(res []scored) (pct float64, maxFP, nham int) {
	return evalstat.StrictCaught(stat(res))
}

// stat is res for package evalstat.
func stat(res []scored) []evalstat.Scored {
	out := make([]evalstat.Scored, len(res))
	for i, r := range res {
		out[i] = evalstat.Scored{Score: r.prob, Spam: r.spam}
	}
	return out
}

// seedSummary cross-validates with shuffle seeds 1..n and prints each seed's numbers
// and their means: one shuffle's strict point hinges on a handful of ham. With sa,
// SpamAssassin's Bayes runs on the same folds too, its scores kept in saScores (a
// file name with %d for the seed) when given.
func seedSummary(samples []sample, folds, n int, p score.Params, learnAll bool, threshold float64, sa bool, saScores string) error {
	var ours, theirs seedStats
	for seed := 1; seed <= n; seed++ {
		shuffled := append([]sample(nil), samples...)
		shuffleFolds(shuffled, folds, int64(seed))
		fmt.Printf("seed %d: %s\n", seed, ours.add(crossValidate(shuffled, folds, p, learnAll), threshold))
		if sa {
			file := ""
			if saScores != "" {
				file = fmt.Sprintf(saScores, seed)
			}
			res, err := cachedSpamAssassin(shuffled, folds, file, fmt.Sprintf("folds %d seed %d", folds, seed))
			if err != nil {
				return fmt.Errorf("spamassassin, seed %d: %w", seed, err)
			}
			fmt.Printf("seed %d, spamassassin: %s\n", seed, theirs.add(res, threshold))
		}
	}
	fmt.Printf("mean of %d: %s\n", n, ours.mean(threshold))
	if sa {
		fmt.Printf("mean of %d, spamassassin: %s\n", n, theirs.mean(threshold))
	}
	return nil
}

// seedStats sums one classifier's numbers over seeds.
type seedStats struct {
	sum [6]float64
	n   int
}

// add counts one seed's results and returns its line.
func (st *seedStats) add(res []scored, threshold float64) string {
	fp5, fn5, _, _ := errorsAt(res, 0.5)
	fpT, fnT, _, _ := errorsAt(res, threshold)
	strict, _, _ := strictCaught(res)
	v := [6]float64{float64(fp5), float64(fn5), float64(fpT), float64(fnT), 1 - auc(res), strict}
	for i := range v {
		st.sum[i] += v[i]
	}
	st.n++
	return st.line(v, threshold, "%.0f")
}

func (st *seedStats) mean(threshold float64) string {
	var m [6]float64
	for i := range m {
		m[i] = st.sum[i] / float64(st.n)
	}
	return st.line(m, threshold, "%.1f")
}

func (st *seedStats) line(v [6]float64, threshold float64, count string) string {
	return fmt.Sprintf("at 0.50 FP "+count+" FN "+count+"; at %.2f FP "+count+" FN "+count+"; 1-AUC %.5f; caught at <= 0.1%% ham loss %.2f%%",
		v[0], v[1], threshold, v[2], v[3], v[4], v[5])
}

// auc is evalstat.AUC of the probabilities.
func auc(res []scored) float64 { return evalstat.AUC(stat(res)) }

// plot draws ham lost (% of ham, log scale) against spam caught (%) for each series.
func plot(series map[string][]scored) string {
	const w, h, left, bottom = 640, 420, 70, 50
	colors := map[string]string{"postern": "#1f77b4", "postern, trigrams": "#2ca02c", "spamassassin": "#d62728"}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`, w, h)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`, w, h)
	pw, ph := float64(w-left-20), float64(h-bottom-30)
	x := func(hamLoss float64) float64 { // log scale from 0.01% to 100%
		v := max(hamLoss, 0.01)
		return float64(left) + pw*(log10(v)+2)/4
	}
	y := func(caught float64) float64 { // 80% .. 100%
		return 30 + ph*(1-(max(caught, 80)-80)/20)
	}
	for _, t := range []float64{0.01, 0.1, 1, 10, 100} {
		fmt.Fprintf(&b, `<line x1="%.1f" y1="30" x2="%.1f" y2="%.1f" stroke="#ddd"/><text x="%.1f" y="%d" text-anchor="middle">%g%%</text>`, x(t), x(t), 30+ph, x(t), h-bottom+18, t)
	}
	for _, c := range []float64{80, 85, 90, 95, 98, 100} {
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/><text x="%d" y="%.1f" text-anchor="end">%g%%</text>`, left, y(c), float64(left)+pw, y(c), left-6, y(c)+4, c)
	}
	fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">ham lost (false positives, %% of ham, log scale)</text>`, float64(left)+pw/2, h-10)
	fmt.Fprintf(&b, `<text x="16" y="%.1f" text-anchor="middle" transform="rotate(-90 16 %.1f)">spam caught (%% of spam)</text>`, 30+ph/2, 30+ph/2)
	names := make([]string, 0, len(series))
	for n := range series {
		names = append(names, n)
	}
	sort.Strings(names)
	for li, name := range names {
		res := append([]scored(nil), series[name]...)
		sort.Slice(res, func(i, j int) bool { return res[i].prob > res[j].prob })
		var nspam, nham float64
		for _, r := range res {
			if r.spam {
				nspam++
			} else {
				nham++
			}
		}
		var pts []string
		var caught, lost float64
		for i, r := range res {
			if r.spam {
				caught++
			} else {
				lost++
			}
			if i+1 < len(res) && res[i+1].prob == r.prob {
				continue
			}
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(100*lost/nham), y(100*caught/nspam)))
		}
		color := colors[name]
		if color == "" {
			color = "black"
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`, color, strings.Join(pts, " "))
		fmt.Fprintf(&b, `<text x="%d" y="%d" fill="%s">%s</text>`, left+10, 50+li*16, color, name)
	}
	b.WriteString(`</svg>`)
	return b.String()
}

func log10(v float64) float64 { return math.Log10(v) }
