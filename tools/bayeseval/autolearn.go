package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/postern/postern/config"
	"github.com/postern/postern/filter"
	"github.com/postern/postern/score"
)

// readRuleScores reads `postern check --json` lines, run with Bayes off, or the -out
// file of tools/verdicteval (its untrained run): each file's score from the rules
// alone, which is what autolearning decides by.
func readRuleScores(path string) (map[string]float64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		// tools/verdicteval's -out file: its untrained run's scores are the rules'
		// without Bayes (score set 0), what autolearning judges by.
		if fields := strings.Split(sc.Text(), "\t"); len(fields) == 9 {
			if fields[0] == "Postern, untrained" {
				out[fields[1]], _ = strconv.ParseFloat(fields[4], 64)
			}
			continue
		}
		var r struct {
			File  string
			Score float64
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		out[r.File] = r.Score
	}
	return out, sc.Err()
}

// ruleScoreSpread says how the rules alone score each class against the default
// autolearning thresholds: how much would qualify as ham, as spam, or neither.
func ruleScoreSpread(samples []sample, rules map[string]float64) string {
	cfg := config.Default().Bayes
	var n [2][3]int // [ham, spam][≤ ham threshold, between, ≥ spam threshold]
	for _, s := range samples {
		c, b := 0, 1
		if s.spam {
			c = 1
		}
		switch sc := rules[s.path]; {
		case sc <= cfg.AutolearnHam:
			b = 0
		case sc >= cfg.AutolearnSpam:
			b = 2
		}
		n[c][b]++
	}
	return fmt.Sprintf("rules alone: of the spam %d score <= %g, %d >= %g, %d between; of the ham %d <= %g, %d >= %g, %d between",
		n[1][0], cfg.AutolearnHam, n[1][2], cfg.AutolearnSpam, n[1][1], n[0][0], cfg.AutolearnHam, n[0][2], cfg.AutolearnSpam, n[0][1])
}

// autolearnRun is how the daemon's store grows in a simulation: the first initial
// messages of each training stream are learned with their true class (the
// operator's postern learn); the others arrive as mail and are autolearned as
// serve does, by filter.Policy.AutolearnClass with the default thresholds (12 and
// 0.1) and this veto, and on or near error (score.Autolearner).
// With autolearn false the rest is not learned at all.
type autolearnRun struct {
	name      string
	autolearn bool
	veto      float64
}

// simulateAutolearn cross-validates each run: the fold is scored by the model its
// training stream left behind. It returns each run's results and how many training
// messages were autolearned the wrong way, summed over the folds.
func simulateAutolearn(samples []sample, folds int, p score.Params, rules map[string]float64, initial int, run autolearnRun) (res []scored, wrong, learned int, err error) {
	ps := learning(p)
	cfg := config.Default().Bayes
	res = make([]scored, len(samples))
	for f := 0; f < folds; f++ {
		m := score.NewModel()
		n := 0
		for _, s := range samples {
			if s.fold == f {
				continue
			}
			n++
			prob, ready := m.Classify(s.keys, ps)
			spam := s.spam
			if n > initial {
				if !run.autolearn {
					continue
				}
				sc, ok := rules[s.path]
				if !ok {
					return nil, 0, 0, fmt.Errorf("no rule score for %s", s.path)
				}
				var bayes *float64
				if ready {
					bayes = &prob
				}
				policy := filter.Policy{AutolearnSpam: cfg.AutolearnSpam, AutolearnHam: cfg.AutolearnHam, AutolearnVeto: run.veto}
				switch policy.AutolearnClass(sc, bayes) {
				case "spam":
					spam = true
				case "ham":
					spam = false
				default:
					continue
				}
			}
			if ready && ps.Sure(prob, spam) {
				continue
			}
			m.Add(s.keys, spam, 1)
			if n > initial {
				learned++
				if spam != s.spam {
					wrong++
				}
			}
		}
		for i, s := range samples {
			if s.fold == f {
				prob, _ := m.Classify(s.keys, p)
				res[i] = scored{prob, s.spam}
			}
		}
	}
	return res, wrong, learned, nil
}
