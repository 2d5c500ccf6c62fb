package testutil

import (
	"testing"
	"time"
)

func TestMachineCPU(t *testing.T) {
	for _, c := range []struct {
		stat      string
		busy, all time.Duration
		bad       bool
	}{
		// user nice system idle iowait irq softirq steal guest guest_nice
		{stat: "cpu  100 5 40 800 30 2 3 70 0 0\ncpu0 50 2 20 400 15 1 1 35 0 0\n", busy: 1500 * time.Millisecond, all: 9800 * time.Millisecond},
		{stat: "cpu0 50 2 20 400 15 1 1 35 0 0\n", bad: true},
		{stat: "cpu  100 5 40\n", bad: true},
		{stat: "cpu  100 x 40 800 30 2 3 70\n", bad: true},
	} {
		busy, all, err := machineCPU(c.stat)
		if (err != nil) != c.bad || busy != c.busy || all != c.all {
			t.Errorf("machineCPU(%q) = %v, %v, %v; want %v, %v, error %v", c.stat, busy, all, err, c.busy, c.all, c.bad)
		}
	}
	if busy, all, err := MachineCPU(); err != nil || busy <= 0 || all < busy {
		t.Errorf("MachineCPU() = %v, %v, %v", busy, all, err)
	}
}
