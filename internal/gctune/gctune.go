// Package gctune lets the garbage collector use a memory budget. Go's collector
// runs each time the heap has grown by a fixed share (GOGC) of what was live after
// the last cycle. Postern's live heap is mostly its rules' automata, which grow
// with the mail seen; a share small enough to keep a large heap within the
// budget makes the collector run far more often than the budget needs while the
// heap is small (a fresh process, a check over a directory). After each cycle
// the tuner sets the share that lets the heap reach the budget, and never less
// than a floor: with a large live heap it behaves as GOGC=floor did.
package gctune

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync/atomic"
)

// maxPercent bounds the share: past it, a cycle's work is negligible anyway, and
// a heap nearly empty would otherwise be let grow to the budget at once.
const maxPercent = 400

// Start sets the collector's share now (floor) and after every collection: the
// percent by which the heap may grow past what is live so that it reaches budget
// bytes, within [floor, maxPercent].
func Start(budget int64, floor int) {
	t := &tuner{budget: budget, floor: floor}
	debug.SetGCPercent(floor)
	t.arm()
}

// suspended counts the callers that set the collector's share themselves for a
// while (Suspend).
var suspended atomic.Int32

// Suspend stops the tuning until resume is called: for a caller that sets the
// share for a burst of work of its own (a rule set loading) and puts the old one
// back after. The tuning goes on from the next collection after resume.
func Suspend() (resume func()) {
	suspended.Add(1)
	return func() { suspended.Add(-1) }
}

type tuner struct {
	budget int64
	floor  int
}

// sentinel is unreachable from its birth: its finalizer runs after the next
// collection, tunes, and arms a new one. (It holds a pointer, so that the
// allocator does not pack it with other small objects, whose finalizers would
// then wait for theirs.)
type sentinel struct{ t *tuner }

func (t *tuner) arm() {
	runtime.SetFinalizer(&sentinel{t}, func(s *sentinel) {
		s.t.tune(liveHeap())
		s.t.arm()
	})
}

// percent is the share for a live heap of live bytes.
func (t *tuner) percent(live uint64) int {
	if live == 0 || int64(live) >= t.budget {
		return t.floor
	}
	return min(max(t.floor, int(100*(uint64(t.budget)-live)/live)), maxPercent)
}

func (t *tuner) tune(live uint64) {
	if suspended.Load() == 0 {
		debug.SetGCPercent(t.percent(live))
	}
}

// liveHeap is the heap the last collection found live.
func liveHeap() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}
