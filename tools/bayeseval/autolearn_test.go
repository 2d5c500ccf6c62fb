package main

import (
	"fmt"
	"testing"

	"github.com/postern/postern/score"
)

// The simulation behind docs/bayes.md's autolearning table: every spam message here
// scores 0 by the rules, as most spam does with the default rules, so autolearning
// without a veto learns it as ham, and the veto keeps that from happening once Bayes
// knows better.
func TestSimulateAutolearn(t *testing.T) {
	var samples []sample
	rules := map[string]float64{}
	for i := 0; i < 1000; i++ {
		spam := i%2 == 0
		kind := "ham"
		if spam {
			kind = "spam"
		}
		var keys []score.Key
		for j := 0; j < 12; j++ {
			keys = append(keys, score.KeyOf(fmt.Sprintf("%s-word-%d", kind, (i+j)%40)))
		}
		path := fmt.Sprintf("%s/%d", kind, i)
		samples = append(samples, sample{path: path, spam: spam, keys: keys, fold: i % 5})
		rules[path] = 0
	}
	p := score.DefaultParams()
	p.MinSpam, p.MinHam = 0, 0
	for _, tc := range []struct {
		run     autolearnRun
		learned bool // anything autolearned
		wrong   bool // anything learned as the wrong class
	}{
		{autolearnRun{name: "taught only"}, false, false},
		{autolearnRun{name: "no veto", autolearn: true}, true, true},
		// Bayes is sure of the ham (passed over) and sure the spam is spam (vetoed).
		{autolearnRun{name: "veto 0.2", autolearn: true, veto: 0.2}, false, false},
	} {
		res, wrong, learned, err := simulateAutolearn(samples, 5, p, rules, 450, tc.run)
		if err != nil {
			t.Fatal(err)
		}
		if (learned > 0) != tc.learned || (wrong > 0) != tc.wrong {
			t.Errorf("%s: %d learned, %d of them wrong", tc.run.name, learned, wrong)
		}
		if len(res) != len(samples) {
			t.Errorf("%s: %d results for %d messages", tc.run.name, len(res), len(samples))
		}
	}
	if _, _, _, err := simulateAutolearn(samples, 5, p, map[string]float64{}, 450, autolearnRun{name: "x", autolearn: true}); err == nil {
		t.Error("a message without a rule score went unnoticed")
	}
}
