package filter

import (
	"sync"
	"sync/atomic"
	"testing"
)

// Once works a thing out once a message, for every check that asks at once;
// a first run that panics leaves the others to work it out themselves, not to
// read a value nobody made.
func TestMessageOnce(t *testing.T) {
	type key struct{}
	var m Message
	var runs atomic.Int32
	got := make([]any, 8)
	var wg sync.WaitGroup
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i] = m.Once(key{}, func() any { runs.Add(1); return "links" })
		}()
	}
	wg.Wait()
	if n := runs.Load(); n != 1 {
		t.Errorf("worked out %d times, want once", n)
	}
	for i, g := range got {
		if g != "links" {
			t.Errorf("caller %d got %v", i, g)
		}
	}
	if v := m.Once(struct{ other int }{}, func() any { return 2 }); v != 2 {
		t.Errorf("another key gave %v", v)
	}

	var p Message
	func() {
		defer func() {
			if recover() == nil {
				t.Error("the first caller's panic was not passed on")
			}
		}()
		p.Once(key{}, func() any { panic("bug") })
	}()
	if v := p.Once(key{}, func() any { return "own" }); v != "own" {
		t.Errorf("after a panic: %v, want the caller's own run", v)
	}
}
