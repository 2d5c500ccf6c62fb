package main

import "testing"

// Scoring a rule anew moves exactly the verdicts whose tests it is in, and keeps
// the other tests' points as the run measured them.
func TestRescoreRules(t *testing.T) {
	r := &run{name: "Postern, untrained", results: map[int]result{
		0: {score: 5.3, flagged: true, tests: []string{"A=4.5", "PST_X=0.8"}},
		1: {score: 5.2, flagged: true, tests: []string{"A=4.5", "B=0.7"}},
		2: {score: 16, flagged: true, rejected: true, tests: []string{"C=15.2", "PST_X=0.8"}},
	}}
	scores, err := parseScores("PST_X=0.1")
	if err != nil {
		t.Fatal(err)
	}
	got := rescoreRules(r, scores, 5, 15)
	want := map[int][2]bool{0: {false, false}, 1: {true, false}, 2: {true, true}}
	for i, w := range want {
		if res := got.results[i]; res.flagged != w[0] || res.rejected != w[1] {
			t.Errorf("result %d: score %.2f, flagged %v rejected %v, want %v %v", i, res.score, res.flagged, res.rejected, w[0], w[1])
		}
	}
	if _, err := parseScores("PST_X"); err == nil {
		t.Error("parseScores took a rule without points")
	}
}
