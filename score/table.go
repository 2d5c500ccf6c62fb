package score

import "math"

// table is the model's token counts: open addressing with linear probing on the keys'
// own bits, which are already a hash. Classifying a message looks up every one of its
// thousands of tokens in a table of hundreds of thousands; a Go map spent about a
// third of the classification's time on those lookups, mostly waiting on memory, and
// took 27 MB for 600,000 tokens. Here an entry is 16 bytes, so a lookup mostly
// touches one cache line, and the same tokens take 16 MB (BenchmarkClassify).
type table struct {
	slots []entry // key 0 marks an empty slot
	shift uint    // 64 − log2(len(slots))
	n     int     // entries in slots
	zero  *entry  // Key 0's counts, which cannot be in a slot
}

// entry holds a token's counts in 32 bits each: a token in more than four billion
// learned messages keeps counting as if in four billion.
type entry struct {
	key       Key
	spam, ham uint32
}

const minTableBits = 10

func newTable(n int) *table {
	bits := uint(minTableBits)
	for 3<<bits/4 < n {
		bits++
	}
	return &table{slots: make([]entry, 1<<bits), shift: 64 - bits}
}

// home is the slot a key's probe starts at. The multiplication (Fibonacci hashing)
// spreads keys whose top bits agree.
func (t *table) home(k Key) int { return int((uint64(k) * 0x9E3779B97F4A7C15) >> t.shift) }

func (t *table) len() int {
	if t.zero != nil {
		return t.n + 1
	}
	return t.n
}

func (t *table) get(k Key) (Counts, bool) {
	if k == 0 {
		if t.zero == nil {
			return Counts{}, false
		}
		return t.zero.counts(), true
	}
	mask := len(t.slots) - 1
	for i := t.home(k); ; i = (i + 1) & mask {
		switch e := &t.slots[i]; e.key {
		case k:
			return e.counts(), true
		case 0:
			return Counts{}, false
		}
	}
}

// set replaces a key's counts; counts of zero (or below) remove it.
func (t *table) set(k Key, c Counts) {
	if c.Spam <= 0 && c.Ham <= 0 {
		t.remove(k)
		return
	}
	e := entry{key: k, spam: clamp32(c.Spam), ham: clamp32(c.Ham)}
	if k == 0 {
		t.zero = &e
		return
	}
	if 4*(t.n+1) > 3*len(t.slots) {
		t.grow()
	}
	mask := len(t.slots) - 1
	for i := t.home(k); ; i = (i + 1) & mask {
		switch t.slots[i].key {
		case k:
			t.slots[i] = e
			return
		case 0:
			t.slots[i] = e
			t.n++
			return
		}
	}
}

// remove deletes k by shifting back the entries probed past it, so that no slot is
// left marked deleted and lookups stay as short as the load allows.
func (t *table) remove(k Key) {
	if k == 0 {
		t.zero = nil
		return
	}
	mask := len(t.slots) - 1
	i := t.home(k)
	for ; t.slots[i].key != k; i = (i + 1) & mask {
		if t.slots[i].key == 0 {
			return
		}
	}
	for j := i; ; {
		j = (j + 1) & mask
		if t.slots[j].key == 0 {
			break
		}
		// The entry at j may fill the hole at i unless its home lies cyclically
		// in (i, j]: then it would be placed before its home.
		h := t.home(t.slots[j].key)
		if i <= j && i < h && h <= j || i > j && (i < h || h <= j) {
			continue
		}
		t.slots[i], i = t.slots[j], j
	}
	t.slots[i] = entry{}
	t.n--
}

func (t *table) grow() {
	old := t.slots
	t.slots, t.shift, t.n = make([]entry, 2*len(old)), t.shift-1, 0
	mask := len(t.slots) - 1
	for _, e := range old {
		if e.key == 0 {
			continue
		}
		i := t.home(e.key)
		for t.slots[i].key != 0 {
			i = (i + 1) & mask
		}
		t.slots[i] = e
		t.n++
	}
}

// each calls fn for every key and its counts, in no order.
func (t *table) each(fn func(Key, Counts)) {
	if t.zero != nil {
		fn(0, t.zero.counts())
	}
	for i := range t.slots {
		if e := &t.slots[i]; e.key != 0 {
			fn(e.key, e.counts())
		}
	}
}

func (e *entry) counts() Counts { return Counts{int64(e.spam), int64(e.ham)} }

func clamp32(n int64) uint32 { return uint32(min(max(n, 0), math.MaxUint32)) }
