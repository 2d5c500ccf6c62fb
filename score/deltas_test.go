package score

import (
	"cmp"
	"math/rand"
	"slices"
	"testing"
)

// TestDeltas: sums against a Go map, through growth, with Key 0 and keys whose sums
// cancel out; changed is in SQLite's order of signed keys and leaves out zero sums.
func TestDeltas(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	d, want := newDeltas(0), map[Key]Counts{}
	for i := 0; i < 20_000; i++ {
		keys := []Key{Key(rng.Intn(5000)) << 52, Key(rng.Uint64()), 0}
		spam, delta := rng.Intn(2) == 0, int64(rng.Intn(3)-1)
		d.add(keys, spam, delta)
		for _, k := range keys {
			c := want[k]
			if spam {
				c.Spam += delta
			} else {
				c.Ham += delta
			}
			want[k] = c
		}
	}
	var got []Key
	for _, e := range d.changed() {
		got = append(got, e.key)
		if w := want[e.key]; w != (Counts{e.spam, e.ham}) {
			t.Fatalf("key %x: %d/%d, want %v", e.key, e.spam, e.ham, w)
		}
	}
	var keys []Key
	for k, c := range want {
		if c != (Counts{}) {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b Key) int { return cmp.Compare(int64(a), int64(b)) })
	if !slices.Equal(got, keys) {
		t.Fatalf("changed: %d keys, want %d, or not in signed order", len(got), len(keys))
	}
}
