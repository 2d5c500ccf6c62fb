package clamav

import (
	"context"
	"slices"
	"sync"
	"time"
)

// slots bounds the scans in flight (max_connections) and says who goes next when
// one ends: a scan of a message that has already had one before a message's
// first. A message is scanned whole and then, once that scan has ended, its
// encoded parts (check.go); with every slot busy, its part scans waited behind
// every message that arrived while its whole-message scan ran, so under a burst
// a message with attachments waited for a slot twice, and its wait was most of
// the slowest messages' latency (clamav_wait, docs/benchmarks.md). Serving a
// message in progress first finishes it sooner and delays the others by no more
// than the scans they would have waited behind anyway: the slots are busy the
// same, and clamd does the same work.
//
// Within each class the order is first come, first served.
type slots struct {
	mu   sync.Mutex
	free int
	// waiting are the waiters of each class (0: first scans, 1: later ones), in
	// the order they came.
	waiting [2][]chan struct{}
}

func newSlots(n int) *slots { return &slots{free: n} }

// testHookWaiting, when set, is called when a scan starts to wait for a slot.
var testHookWaiting func()

// acquire takes a slot, waiting for one until ctx ends when none is free; later
// says whether the scan is a message's second or later. It returns how long it
// waited.
func (s *slots) acquire(ctx context.Context, later bool) (time.Duration, error) {
	s.mu.Lock()
	if s.free > 0 { // (then nobody waits: release hands slots to waiters first)
		s.free--
		s.mu.Unlock()
		return 0, nil
	}
	class := 0
	if later {
		class = 1
	}
	ready := make(chan struct{}, 1) // (release sends holding mu, never blocking)
	s.waiting[class] = append(s.waiting[class], ready)
	s.mu.Unlock()
	start := time.Now()
	if testHookWaiting != nil {
		testHookWaiting()
	}
	select {
	case <-ready:
		return time.Since(start), nil
	case <-ctx.Done():
		s.mu.Lock()
		defer s.mu.Unlock()
		if i := slices.Index(s.waiting[class], ready); i >= 0 {
			s.waiting[class] = slices.Delete(s.waiting[class], i, i+1)
		} else {
			s.releaseLocked() // a slot was handed over as ctx ended: pass it on
		}
		return time.Since(start), ctx.Err()
	}
}

// release frees a slot taken by acquire.
func (s *slots) release() {
	s.mu.Lock()
	s.releaseLocked()
	s.mu.Unlock()
}

func (s *slots) releaseLocked() {
	for class := len(s.waiting) - 1; class >= 0; class-- {
		if w := s.waiting[class]; len(w) > 0 {
			s.waiting[class] = w[1:]
			w[0] <- struct{}{}
			return
		}
	}
	s.free++
}
