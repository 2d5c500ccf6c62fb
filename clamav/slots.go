package clamav

import (
	"context"
	"sync"
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

// tryAcquire takes a slot if one is free, without waiting.
func (s *slots) tryAcquire() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.free > 0 {
		s.free--
		return true
	}
	return false
}

// acquire waits for a slot, later saying whether the scan is a message's second
// or later, until ctx ends.
func (s *slots) acquire(ctx context.Context, later bool) error {
	s.mu.Lock()
	if s.free > 0 { // (then nobody waits: release hands slots to waiters first)
		s.free--
		s.mu.Unlock()
		return nil
	}
	class := 0
	if later {
		class = 1
	}
	ready := make(chan struct{}, 1) // (release sends holding mu, never blocking)
	s.waiting[class] = append(s.waiting[class], ready)
	s.mu.Unlock()
	select {
	case <-ready:
		return nil
	case <-ctx.Done():
		s.mu.Lock()
		defer s.mu.Unlock()
		if i := indexOf(s.waiting[class], ready); i >= 0 {
			s.waiting[class] = append(s.waiting[class][:i], s.waiting[class][i+1:]...)
			return ctx.Err()
		}
		// A slot was handed over as ctx ended: pass it on.
		s.releaseLocked()
		return ctx.Err()
	}
}

// release frees a slot taken by acquire or tryAcquire.
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

func indexOf(w []chan struct{}, c chan struct{}) int {
	for i, x := range w {
		if x == c {
			return i
		}
	}
	return -1
}
