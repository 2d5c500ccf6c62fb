package main

import (
	"bufio"
	"fmt"
	"math"
	"os"
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
