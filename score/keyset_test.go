package score

import "testing"

func TestKeySet(t *testing.T) {
	s := newKeySet(2) // four slots: adding 1,000 keys grows it many times
	for round := 0; round < 2; round++ {
		for k := Key(0); k < 1000; k++ {
			// Keys sharing their low bits (multiples of 1<<20) must not collide.
			key := k << 20
			if got, want := s.add(key), round == 0; got != want {
				t.Fatalf("round %d: add(%#x) = %v, want %v", round, key, got, want)
			}
		}
	}
	if s.n != 999 || !s.zero {
		t.Errorf("n = %d, zero = %v; want 999 in slots and key 0 held apart", s.n, s.zero)
	}
	// A set back from the pool is empty, whatever size it grew to.
	putKeySet(s)
	r := getKeySet(3)
	if r.n != 0 || r.zero || len(r.slots) != 8 || !r.add(0) || !r.add(1<<20) {
		t.Errorf("reused set: %d keys, %d slots", r.n, len(r.slots))
	}
}
