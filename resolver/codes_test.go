package resolver

import (
	"net/netip"
	"testing"
)

// Each form of a return code set, and what it holds: a bitmask reads
// 127.0.0.0/8 answers only, as SpamAssassin's sub-tests do.
func TestParseCodeRange(t *testing.T) {
	for _, tc := range []struct {
		in       string
		err      bool
		hold     []string
		holdNone []string
	}{
		{in: "127.0.0.2", hold: []string{"127.0.0.2"}, holdNone: []string{"127.0.0.3"}},
		{in: "127.0.1.102-127.0.1.199", hold: []string{"127.0.1.102", "127.0.1.199"}, holdNone: []string{"127.0.1.101", "127.0.1.200"}},
		{in: "127.0.0.8/30", hold: []string{"127.0.0.8", "127.0.0.11"}, holdNone: []string{"127.0.0.12"}},
		{in: "2", hold: []string{"127.0.0.2", "127.0.0.6", "127.0.0.14"}, holdNone: []string{"127.0.0.4", "127.0.0.8", "10.0.0.2"}},
		{in: "0x8", hold: []string{"127.0.0.8", "127.0.0.14"}, holdNone: []string{"127.0.0.4"}},
		{in: "0", err: true},
		{in: "4294967296", err: true},
		{in: "0x", err: true},
		{in: "127.0.0.9-127.0.0.2", err: true},
		{in: "black", err: true},
	} {
		r, err := ParseCodeRange(tc.in)
		if (err != nil) != tc.err {
			t.Errorf("%q: error %v, want one %v", tc.in, err, tc.err)
			continue
		}
		for _, a := range tc.hold {
			if !r.Contains(netip.MustParseAddr(a)) {
				t.Errorf("%q does not hold %s", tc.in, a)
			}
		}
		for _, a := range tc.holdNone {
			if r.Contains(netip.MustParseAddr(a)) {
				t.Errorf("%q holds %s", tc.in, a)
			}
		}
	}
}

// A table is read in the codes' order, and a bad code is an error.
func TestParseCodeScores(t *testing.T) {
	s, err := ParseCodeScores(map[string]float64{"4": 0.3, "127.0.0.2": 1.7})
	if err != nil || len(s) != 2 || s[0].Text != "127.0.0.2" || s[1].Score != 0.3 {
		t.Errorf("%+v, %v", s, err)
	}
	if _, err := ParseCodeScores(map[string]float64{"grey": 1}); err == nil {
		t.Error("a word read as a code")
	}
}

// An answer in several entries counts at the highest; in none, not at all.
func TestHighestScore(t *testing.T) {
	s, err := ParseCodeScores(map[string]float64{"2": 1.7, "4": 0.3, "127.0.0.4-127.0.0.7": 0.5})
	if err != nil {
		t.Fatal(err)
	}
	for code, want := range map[string]float64{"127.0.0.6": 1.7, "127.0.0.4": 0.5, "127.0.0.12": 0.3, "127.0.0.8": -1} {
		p, ok := HighestScore(s, netip.MustParseAddr(code))
		if !ok && want >= 0 || ok && p != want {
			t.Errorf("%s: %v %v, want %v", code, p, ok, want)
		}
	}
}
