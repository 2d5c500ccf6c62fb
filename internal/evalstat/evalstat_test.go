package evalstat

import "testing"

func TestAUCAndStrict(t *testing.T) {
	s := func(score float64, spam bool) Scored { return Scored{score, spam} }
	tests := []struct {
		name   string
		res    []Scored
		auc    float64
		strict float64
	}{
		{"separated", []Scored{s(0.1, false), s(0.2, false), s(0.8, true), s(0.9, true)}, 1, 100},
		{"all tied", []Scored{s(0.5, false), s(0.5, true)}, 0.5, 0},
		{"reversed", []Scored{s(0.9, false), s(0.1, true)}, 0, 0},
		{"one ham above half the spam", []Scored{s(0.9, true), s(0.7, false), s(0.6, true), s(0.1, false)}, 0.75, 50},
	}
	for _, tt := range tests {
		if got := AUC(tt.res); got != tt.auc {
			t.Errorf("%s: AUC %g, want %g", tt.name, got, tt.auc)
		}
		if got, _, _ := StrictCaught(tt.res); got != tt.strict {
			t.Errorf("%s: StrictCaught %g, want %g", tt.name, got, tt.strict)
		}
	}
}
