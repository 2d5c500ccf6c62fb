package score

import (
	"maps"
	"math"
	"math/rand"
	"testing"
)

func (t *table) toMap() map[Key]Counts {
	m := map[Key]Counts{}
	t.all(func(k Key, c Counts) { m[k] = c })
	return m
}

// TestTable: random sets and removals against a Go map, with keys that share their
// home slots (so removal must shift entries back across clusters and the wrap) and
// Key 0, which cannot be in a slot.
func TestTable(t *testing.T) {
	for _, tc := range []struct {
		name string
		key  func(*rand.Rand) Key
	}{
		{"hashes", func(r *rand.Rand) Key { return Key(r.Uint64()) }},
		{"few keys, many collisions", func(r *rand.Rand) Key { return Key(r.Intn(3000)) }},
		{"same top bits", func(r *rand.Rand) Key { return Key(r.Intn(50)) << 50 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewSource(1))
			tab, want := newTable(0), map[Key]Counts{}
			var keys []Key
			for i := 0; i < 40_000; i++ {
				var k Key
				if len(keys) > 0 && rng.Intn(2) == 0 {
					k = keys[rng.Intn(len(keys))]
				} else {
					k = tc.key(rng)
					keys = append(keys, k)
				}
				c := Counts{int64(rng.Intn(4)), int64(rng.Intn(4))}
				tab.set(k, c)
				if c.Spam == 0 && c.Ham == 0 {
					delete(want, k)
				} else {
					want[k] = c
				}
				if i%5000 == 0 {
					tab.set(0, Counts{Ham: int64(i % 2)}) // Key 0 in and out
					if i%2 == 0 {
						delete(want, 0)
					} else {
						want[0] = Counts{Ham: 1}
					}
				}
			}
			if got := tab.toMap(); !maps.Equal(got, want) || tab.len() != len(want) {
				t.Fatalf("table has %d keys (len %d), want %d", len(got), tab.len(), len(want))
			}
			for _, k := range keys {
				c, ok := tab.get(k)
				if w, in := want[k]; ok != in || c != w {
					t.Fatalf("get(%d) = %v %v, want %v %v", k, c, ok, w, in)
				}
			}
			// findAll answers as find does, in batches of every length, for
			// keys present, removed, never added, and Key 0.
			probe := append([]Key{0}, keys...)
			for range 1000 {
				probe = append(probe, tc.key(rng))
			}
			var vals [findBatch]*counts32
			for i := 0; i < len(probe); {
				n := 1 + rng.Intn(findBatch+2) // (findAll takes at most findBatch of them)
				batch := probe[i:min(i+n, len(probe))]
				tab.findAll(batch, vals[:])
				for j, k := range batch[:min(len(batch), findBatch)] {
					if vals[j] != tab.find(k) {
						t.Fatalf("findAll: key %d: %p, find %p", k, vals[j], tab.find(k))
					}
				}
				i += min(len(batch), findBatch)
			}
		})
	}
}

func TestTableClamps(t *testing.T) {
	tab := newTable(0)
	tab.set(7, Counts{Spam: math.MaxInt64, Ham: -3})
	if c, _ := tab.get(7); c != (Counts{Spam: math.MaxUint32}) {
		t.Errorf("got %v", c)
	}
}
