package clamav

import (
	"context"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"
)

// With every slot busy, the scans of messages in progress get the next slots,
// then small messages' first scans, then large ones' (unless one has waited
// largeDefer), each class in the order it came.
func TestSlotsOrder(t *testing.T) {
	type w struct {
		name string
		p    priority
	}
	tests := []struct {
		name    string
		waiters []w
		overdue bool // the first large waiter has waited largeDefer
		want    []string
	}{
		{"later scans first",
			[]w{{"first A", firstSmall}, {"later B", later}, {"first C", firstSmall}, {"later D", later}}, false,
			[]string{"later B", "later D", "first A", "first C"}},
		{"small before large",
			[]w{{"large A", firstLarge}, {"small B", firstSmall}, {"later C", later}, {"large D", firstLarge}, {"small E", firstSmall}}, false,
			[]string{"later C", "small B", "small E", "large A", "large D"}},
		{"a large one overdue goes first",
			[]w{{"large A", firstLarge}, {"small B", firstSmall}, {"later C", later}, {"large D", firstLarge}}, true,
			[]string{"large A", "later C", "small B", "large D"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newSlots(1)
			if _, err := s.acquire(context.Background(), firstSmall); err != nil {
				t.Fatal(err)
			}
			got := make(chan string, len(tc.waiters))
			var wg sync.WaitGroup
			for _, w := range tc.waiters {
				wg.Add(1)
				queued := len(s.queued())
				go func() {
					defer wg.Done()
					if _, err := s.acquire(context.Background(), w.p); err != nil {
						t.Error(err)
					}
					got <- w.name
					s.release()
				}()
				for len(s.queued()) == queued { // (each waits before the next comes)
					time.Sleep(time.Millisecond)
				}
			}
			if tc.overdue {
				s.mu.Lock()
				s.waiting[firstLarge][0].since = time.Now().Add(-largeDefer)
				s.mu.Unlock()
			}
			s.release()
			var order []string
			for range tc.waiters {
				order = append(order, <-got)
			}
			if !slices.Equal(order, tc.want) {
				t.Fatalf("served %v, want %v", order, tc.want)
			}
			wg.Wait()
			if s.free != 1 {
				t.Errorf("%d slots free at the end, want 1", s.free)
			}
		})
	}
}

// queued returns the waiters of every class (for tests, holding mu).
func (s *slots) queued() []waiter {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Concat(s.waiting[:]...)
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
			if _, err := s.acquire(ctx, priority(i%int(priorities))); err == nil {
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
		if _, err := s.acquire(ctx, firstSmall); err != nil {
			t.Fatal("a slot was lost")
		}
	}
	if _, err := s.acquire(ctx, firstSmall); err == nil {
		t.Error("acquired a slot past the pool's size")
	}
}
