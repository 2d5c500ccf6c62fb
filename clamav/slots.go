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
// Among first scans, a small message's goes before a large one's (over
// largeMessage): a large message's scan is tens of milliseconds or more of
// clamd's time, a small one's a few, so a small message waiting behind a large
// one waited many times its own scan, and such waits were most of the slowest
// hundredth at 80 % of the peak (docs/benchmarks.md, "Fifty-fifth session"; this
// order is measured in "Fifty-sixth session").
// A large one that has waited largeDefer goes first, so that none waits for
// ever behind a stream of small ones.
//
// Within each class the order is first come, first served.
type slots struct {
	mu   sync.Mutex
	free int
	// waiting are the waiters of each class (priority), in the order they came.
	waiting [priorities][]waiter
}

// priority is a scan's class in the queue for a slot: the highest is served first.
type priority int

const (
	firstLarge priority = iota // a large message's first scan
	firstSmall                 // a small message's first scan
	later                      // a message's second scan or later
	priorities
)

// largeDefer is the longest a large message's first scan lets small ones go
// first.
const largeDefer = time.Second

// waiter is a scan waiting for a slot: ready receives it; since is when the
// wait began (largeDefer).
type waiter struct {
	ready chan struct{}
	since time.Time
}

func newSlots(n int) *slots { return &slots{free: n} }

// testHookWaiting, when set, is called when a scan starts to wait for a slot.
var testHookWaiting func()

// acquire takes a slot, waiting for one until ctx ends when none is free; p is
// the scan's class. It returns how long it waited.
func (s *slots) acquire(ctx context.Context, p priority) (time.Duration, error) {
	s.mu.Lock()
	if s.free > 0 { // (then nobody waits: release hands slots to waiters first)
		s.free--
		s.mu.Unlock()
		return 0, nil
	}
	start := time.Now()
	ready := make(chan struct{}, 1) // (release sends holding mu, never blocking)
	s.waiting[p] = append(s.waiting[p], waiter{ready, start})
	s.mu.Unlock()
	if testHookWaiting != nil {
		testHookWaiting()
	}
	select {
	case <-ready:
		return time.Since(start), nil
	case <-ctx.Done():
		s.mu.Lock()
		defer s.mu.Unlock()
		if i := slices.IndexFunc(s.waiting[p], func(w waiter) bool { return w.ready == ready }); i >= 0 {
			s.waiting[p] = slices.Delete(s.waiting[p], i, i+1)
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
	if w := s.waiting[firstLarge]; len(w) > 0 && time.Since(w[0].since) >= largeDefer {
		s.handOver(firstLarge)
		return
	}
	for p := priorities - 1; p >= 0; p-- {
		if len(s.waiting[p]) > 0 {
			s.handOver(p)
			return
		}
	}
	s.free++
}

// handOver gives the slot being released to the first waiter of class p.
func (s *slots) handOver(p priority) {
	w := s.waiting[p]
	s.waiting[p] = w[1:]
	w[0].ready <- struct{}{}
}
