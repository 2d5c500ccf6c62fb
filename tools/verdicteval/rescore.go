package main

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/postern/postern/internal/corpus"
	"github.com/postern/postern/score"
)

// Rescoring a run already made (-from, the TSV of -out): what another weight of the
// Bayes probability (-points) would have decided, and the weight a logistic fit of
// the two kinds of evidence finds (-fit). The rules' points and the probability
// stay as the run measured them; only the Bayes points change.

// readResults reads a -out file back into runs, by setup.
func readResults(file string, list []corpus.Sample) ([]*run, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	index := map[string]int{}
	for i, s := range list {
		index[s.Path] = i
	}
	byName := map[string]*run{}
	var runs []*run
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		fl := strings.Split(sc.Text(), "\t")
		if len(fl) != 9 || fl[0] == "setup" {
			continue
		}
		i, ok := index[fl[1]]
		if !ok {
			return nil, fmt.Errorf("%s: %s is not in the corpus", file, fl[1])
		}
		r := byName[fl[0]]
		if r == nil {
			r = &run{name: fl[0], results: map[int]result{}}
			byName[fl[0]] = r
			runs = append(runs, r)
		}
		res := result{flagged: fl[5] == "true", rejected: fl[6] == "true"}
		res.score, _ = strconv.ParseFloat(fl[4], 64)
		res.bayes, _ = strconv.ParseFloat(fl[7], 64)
		if fl[8] != "" {
			res.tests = strings.Split(fl[8], ",")
		}
		r.results[i] = res
	}
	return runs, sc.Err()
}

// rulePoints is a verdict's points without the Bayes pseudo-rules.
func rulePoints(res result) float64 {
	var sum float64
	for _, t := range res.tests {
		name, v, _ := strings.Cut(t, "=")
		if strings.HasPrefix(name, "BAYES_") {
			continue
		}
		x, _ := strconv.ParseFloat(v, 64)
		sum += x
	}
	return sum
}

// rescore is r with the Bayes points pt in place of those it had, judged at the
// thresholds.
func rescore(r *run, pt score.Points, required, reject float64) *run {
	out := &run{name: fmt.Sprintf("%s, Bayes %g per log-odds, %g to %g", r.name, pt.PerLogOdds, pt.Min, pt.Max), results: map[int]result{}}
	for i, res := range r.results {
		if res.bayes >= 0 {
			res.score = rulePoints(res) + pt.For(res.bayes)
			res.flagged, res.rejected = res.score >= required, res.score >= reject
		}
		out.results[i] = res
	}
	return out
}

// rescoreRules is r with some rules scored anew (scores, by name), judged at the
// thresholds: a verdict's score is the sum of its tests' points, so what a changed
// score line would have decided needs no new run. A rule with tflags multiple
// counts once at its new score (the run keeps its points, not its count).
func rescoreRules(r *run, scores map[string]float64, required, reject float64) *run {
	names := make([]string, 0, len(scores))
	for n, v := range scores {
		names = append(names, fmt.Sprintf("%s=%g", n, v))
	}
	sort.Strings(names)
	out := &run{name: r.name + ", " + strings.Join(names, " "), results: map[int]result{}}
	for i, res := range r.results {
		sum := 0.0
		for _, t := range res.tests {
			name, v, _ := strings.Cut(t, "=")
			x, ok := scores[name]
			if !ok {
				x, _ = strconv.ParseFloat(v, 64)
			}
			sum += x
		}
		res.score = sum
		res.flagged, res.rejected = sum >= required, sum >= reject
		out.results[i] = res
	}
	return out
}

// parseScores reads -score's RULE=POINTS,... list.
func parseScores(spec string) (map[string]float64, error) {
	out := map[string]float64{}
	for _, kv := range strings.Split(spec, ",") {
		name, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		x, err := strconv.ParseFloat(v, 64)
		if !ok || name == "" || err != nil {
			return nil, fmt.Errorf("-score %q: want RULE=POINTS[,RULE=POINTS]", kv)
		}
		out[name] = x
	}
	return out, nil
}

// fit is a logistic regression of the class on the rules' points and the Bayes
// log-odds (clipped to ±12), lightly regularised: the ratio of their weights is how
// many rule points one unit of log-odds is worth.
func fit(r *run, list []corpus.Sample) (bayesW, rulesW, bias float64) {
	type row struct{ lo, rules, y float64 }
	var rows []row
	for i, res := range r.results {
		if res.bayes < 0 {
			continue
		}
		p := min(max(res.bayes, 1e-12), 1-1e-12)
		y := 0.0
		if list[i].Spam {
			y = 1
		}
		rows = append(rows, row{max(-12, min(12, math.Log(p/(1-p)))), rulePoints(res), y})
	}
	if len(rows) == 0 {
		return 0, 0, 0
	}
	const rate, l2 = 0.05, 0.001
	n := float64(len(rows))
	for it := 0; it < 3000; it++ {
		var ga, gb, gc float64
		for _, x := range rows {
			z := bayesW*x.lo + rulesW*x.rules + bias
			e := 1/(1+math.Exp(-max(-30, min(30, z)))) - x.y
			ga, gb, gc = ga+e*x.lo, gb+e*x.rules, gc+e
		}
		bayesW -= rate * (ga/n + l2*bayesW)
		rulesW -= rate * (gb/n + l2*rulesW)
		bias -= rate * gc / n
	}
	return bayesW, rulesW, bias
}

// judge is r judged again at other thresholds, from the scores it has.
func judge(r *run, required, reject float64) *run {
	out := &run{name: fmt.Sprintf("%s, judged at %g and %g", r.name, required, reject), results: map[int]result{}, cpu: r.cpu, checked: r.checked}
	for i, res := range r.results {
		res.flagged, res.rejected = res.score >= required, res.score >= reject
		out.results[i] = res
	}
	return out
}

// testName splits "NAME=points".
func testName(t string) (string, float64) {
	name, v, _ := strings.Cut(t, "=")
	x, _ := strconv.ParseFloat(v, 64)
	return name, x
}

// flaggedHam prints the tests that hit most of the ham a run flags: where its
// false positives come from.
func flaggedHam(list []corpus.Sample, r *run, n int) {
	count, points := map[string]int{}, map[string]float64{}
	flagged := 0
	for i, res := range r.results {
		if list[i].Spam || !res.flagged {
			continue
		}
		flagged++
		for _, t := range res.tests {
			name, x := testName(t)
			count[name]++
			points[name] += x
		}
	}
	fmt.Printf("%s: the tests of the %d ham it flags, most frequent first:\n", r.name, flagged)
	for _, name := range topKeys(count, n) {
		fmt.Printf("  %-32s %4d of them, %7.1f points in all\n", name, count[name], points[name])
	}
}

// compareRuns sets each Postern run beside SpamAssassin's of the same kind
// (untrained with rules only, trained with rules + Bayes), rule by rule.
func compareRuns(list []corpus.Sample, runs []*run, n int) {
	byName := map[string]*run{}
	for _, r := range runs {
		byName[r.name] = r
	}
	for _, pair := range [][2]string{{"Postern, untrained", "SpamAssassin, rules only"}, {"Postern, trained", "SpamAssassin, rules + Bayes"}} {
		p, s := byName[pair[0]], byName[pair[1]]
		if p == nil || s == nil {
			continue
		}
		ours := map[string]bool{} // the rules Postern's run reported at all
		for _, res := range p.results {
			for _, t := range res.tests {
				name, _ := testName(t)
				ours[name] = true
			}
		}
		differ := map[string]int{}
		var onlyP, onlyS map[string]int = map[string]int{}, map[string]int{}
		missing := map[string]float64{} // SpamAssassin's points on spam, rules Postern's run never reports
		for i, sres := range s.results {
			pres, ok := p.results[i]
			if !ok {
				continue
			}
			hitP := map[string]bool{}
			for _, t := range pres.tests {
				name, _ := testName(t)
				hitP[name] = true
			}
			hitS := map[string]bool{}
			for _, t := range sres.tests {
				name, x := testName(t)
				hitS[name] = true
				if !ours[name] && list[i].Spam {
					missing[name] += x
				}
			}
			for name := range hitS {
				if ours[name] && !hitP[name] && !strings.HasPrefix(name, "BAYES_") {
					differ[name]++
					onlyS[name]++
				}
			}
			for name := range hitP {
				if !hitS[name] && !strings.HasPrefix(name, "PST_") && !strings.HasPrefix(name, "BAYES_") {
					differ[name]++
					onlyP[name]++
				}
			}
		}
		fmt.Printf("%s against %s: rules both report that hit different messages (messages where only Postern, only SpamAssassin hit):\n", pair[0], pair[1])
		for _, name := range topKeys(differ, n) {
			fmt.Printf("  %-32s %4d %4d\n", name, onlyP[name], onlyS[name])
		}
		fmt.Printf("rules SpamAssassin scores spam with that %s never reports, by SpamAssassin's points on spam:\n", pair[0])
		for _, name := range topKeysF(missing, n) {
			fmt.Printf("  %-32s %8.1f\n", name, missing[name])
		}
	}
}

func topKeys(m map[string]int, n int) []string {
	f := map[string]float64{}
	for k, v := range m {
		f[k] = float64(v)
	}
	return topKeysF(f, n)
}

func topKeysF(m map[string]float64, n int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	return keys[:min(n, len(keys))]
}
