package cpuclock

import "testing"

// Work done shows in the clock: it never goes back, and a busy loop moves it.
func TestSelfAdvances(t *testing.T) {
	before := Self()
	if before <= 0 {
		t.Fatalf("Self() = %v at start: getrusage said nothing", before)
	}
	x := 0
	for i := 0; Self() == before && i < 1e9; i++ {
		x += i
	}
	if after := Self(); after <= before {
		t.Fatalf("Self() went from %v to %v over a busy loop (%d)", before, after, x)
	}
}
