package score

import "math"

// table is the model's token counts (see openTable for why not a Go map). An entry
// is 16 bytes and the table at most three quarters full: 600,000 tokens take 16 MB,
// where the Go map took 27 MB.
type table struct{ openTable[counts32] }

// counts32 are a token's counts in 32 bits each: a token in more than four billion
// learned messages counts as if in four billion.
type counts32 struct{ spam, ham uint32 }

func newTable(n int) *table { return &table{newOpenTable[counts32](bitsFor(n, 75), 75)} }

func (t *table) get(k Key) (Counts, bool) {
	c := t.find(k)
	if c == nil {
		return Counts{}, false
	}
	return Counts{int64(c.spam), int64(c.ham)}, true
}

// set replaces a key's counts; counts of zero (or below) remove it.
func (t *table) set(k Key, c Counts) {
	if c.Spam <= 0 && c.Ham <= 0 {
		t.remove(k)
		return
	}
	v, _ := t.insert(k)
	*v = counts32{clamp32(c.Spam), clamp32(c.Ham)}
}

// all calls fn for every key and its counts, in no order.
func (t *table) all(fn func(Key, Counts)) {
	t.each(func(k Key, c *counts32) { fn(k, Counts{int64(c.spam), int64(c.ham)}) })
}

func clamp32(n int64) uint32 { return uint32(min(max(n, 0), math.MaxUint32)) }
