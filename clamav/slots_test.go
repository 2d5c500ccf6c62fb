package clamav

import (
	"context"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

// With every slot busy, the scans of messages in progress get the next slots,
// each class in the order it came.
func TestSlotsServeLaterScansFirst(t *testing.T) {
	s := newSlots(1)
	if _, err := s.acquire(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	waiters := []struct {
		name  string
		later bool
	}{{"first A", false}, {"later B", true}, {"first C", false}, {"later D", true}}
	got := make(chan string, len(waiters))
	var wg sync.WaitGroup
	for _, w := range waiters {
		wg.Add(1)
		queued := len(s.queued())
		go func() {
			defer wg.Done()
			if _, err := s.acquire(context.Background(), w.later); err != nil {
				t.Error(err)
			}
			got <- w.name
			s.release()
		}()
		for len(s.queued()) == queued { // (each waits before the next comes)
			time.Sleep(time.Millisecond)
		}
	}
	s.release()
	var order []string
	for range waiters {
		order = append(order, <-got)
	}
	want := []string{"later B", "later D", "first A", "first C"}
	for i := range want {
		if order[i] != want[i] {
			t.Fatalf("served %v, want %v", order, want)
		}
	}
	wg.Wait()
	if s.free != 1 {
		t.Errorf("%d slots free at the end, want 1", s.free)
	}
}

// queued returns the waiters of both classes (for tests, holding mu).
func (s *slots) queued() []chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append(append([]chan struct{}(nil), s.waiting[0]...), s.waiting[1]...)
}

// A wait that ends with its context leaves the queue, and a slot handed over just
// as it ended goes to the next waiter: none is lost, whatever the timing (run
// with -race).
func TestSlotsCancelledWaitsLoseNoSlot(t *testing.T) {
	const n = 3
	s := newSlots(n)
	var wg sync.WaitGroup
	for i := range 2000 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), time.Duration(rand.IntN(300))*time.Microsecond)
			defer cancel()
			if _, err := s.acquire(ctx, i%3 == 0); err == nil {
				time.Sleep(time.Duration(rand.IntN(100)) * time.Microsecond)
				s.release()
			}
		}()
	}
	wg.Wait()
	if s.free != n || len(s.queued()) != 0 {
		t.Fatalf("after every scan: %d slots free, %d waiting; want %d and 0", s.free, len(s.queued()), n)
	}
	// A free slot is taken even by a scan whose context has ended; with none
	// free, its wait ends at once.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for range n {
		if _, err := s.acquire(ctx, false); err != nil {
			t.Fatal("a slot was lost")
		}
	}
	if _, err := s.acquire(ctx, false); err == nil {
		t.Error("acquired a slot past the pool's size")
	}
}
