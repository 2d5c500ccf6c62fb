package gctune

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

// The share lets the heap grow to the budget, within the floor and maxPercent.
func TestPercent(t *testing.T) {
	tu := &tuner{budget: 100 << 20, floor: 50}
	for _, c := range []struct {
		live uint64
		want int
	}{
		{0, 50},         // nothing known yet
		{10 << 20, 400}, // 900 %: at most maxPercent
		{40 << 20, 150}, // to 100 MB
		{60 << 20, 66},  // to 100 MB
		{80 << 20, 50},  // 25 %: the floor
		{100 << 20, 50}, // at the budget
		{300 << 20, 50}, // past it: as GOGC=50
	} {
		if got := tu.percent(c.live); got != c.want {
			t.Errorf("live %d MB: %d %%, want %d", c.live>>20, got, c.want)
		}
	}
}

// After a collection the tuner sets the share; while suspended it leaves the
// caller's alone, and tunes again after resume.
func TestTuneAfterCollection(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	Start(1<<40, 50) // (a budget no test heap reaches: maxPercent)
	if !waitPercent(maxPercent) {
		t.Fatal("the share was not tuned after a collection")
	}
	resume := Suspend()
	debug.SetGCPercent(123)
	runtime.GC()
	time.Sleep(50 * time.Millisecond) // (the finalizer's goroutine)
	if p := percentNow(); p != 123 {
		t.Errorf("suspended: the share is %d, want the caller's 123", p)
	}
	resume()
	if !waitPercent(maxPercent) {
		t.Error("the share was not tuned again after resume")
	}
}

// waitPercent collects until the share is p, for up to a second.
func waitPercent(p int) bool {
	for range 20 {
		runtime.GC()
		time.Sleep(50 * time.Millisecond)
		if percentNow() == p {
			return true
		}
	}
	return false
}

// percentNow is the collector's share, read without setting it.
func percentNow() int {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return int(s[0].Value.Uint64())
}
