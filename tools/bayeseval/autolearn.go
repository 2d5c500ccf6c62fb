package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"

	"github.com/postern/postern/score"
)

// readRuleScores reads `postern check --json` lines, run with Bayes off: each file's
// score from the rules alone, which is what autolearning decides by.
func readRuleScores(path string) (map[string]float64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
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

// autolearnRun is how the daemon's store grows in a simulation: the first initial
// messages of each training stream are learned with their true class (the
// operator's postern learn); the others arrive as mail and are autolearned as
// serve does (filter.Pipeline and score.Autolearner): by their rule score against
// 12 and 0.1; when veto > 0 only what Bayes agrees with (below veto for ham, above
// 1 − veto for spam) and nothing in cold start; on or near error.
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
	d := score.DefaultParams()
	ps := p
	ps.MinSpam, ps.MinHam = d.MinSpam, d.MinHam
	res = make([]scored, len(samples))
	for f := 0; f < folds; f++ {
		m := score.NewModel()
		n := 0
		for _, s := range samples {
			if s.fold == f {
				continue
			}
			n++
			prob, ready := m.Classify(s.keys, s.header, ps)
			spam := s.spam
			if n > initial {
				if !run.autolearn {
					continue
				}
				sc, ok := rules[s.path]
				if !ok {
					return nil, 0, 0, fmt.Errorf("no rule score for %s", s.path)
				}
				switch {
				case sc >= 12:
					spam = true
				case sc <= 0.1:
					spam = false
				default:
					continue
				}
				if run.veto > 0 && (!ready || spam && prob <= 1-run.veto || !spam && prob >= run.veto) {
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
				prob, _ := m.Classify(s.keys, s.header, p)
				res[i] = scored{prob, s.spam}
			}
		}
	}
	return res, wrong, learned, nil
}
