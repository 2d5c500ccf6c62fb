package score

// openTable maps Keys to values by open addressing with linear probing. Keys are
// already hashes (FNV-1a, or SplitMix64 for trigrams), so the table uses their own
// bits, multiplied (Fibonacci hashing) so that keys whose top bits agree still
// spread. The classifier looks up thousands of keys per message, in sets of a few
// thousand and in a model of hundreds of thousands; against a Go map a lookup here
// mostly touches one cache line, and an entry takes only its key and value
// (BenchmarkClassify, docs/benchmarks.md). It holds the model (table) and a learned
// batch's sums (deltas); the tokenizer's sets (keySet) are the same idea without
// values.
type openTable[V any] struct {
	slots   []slot[V] // key 0 marks an empty slot
	shift   uint      // 64 − log2(len(slots))
	n       int       // keys in slots
	maxLoad int       // percent of the slots in use beyond which it grows
	limit   int       // that many slots
	zero    V         // Key 0's value, which cannot be in a slot
	hasZero bool
}

type slot[V any] struct {
	val V // first, so that a zero-size V adds no padding
	key Key
}

func newOpenTable[V any](bits uint, maxLoad int) openTable[V] {
	t := openTable[V]{maxLoad: maxLoad}
	t.reset(bits)
	return t
}

// bitsFor is the table size, as a power of two, that holds n keys within maxLoad.
func bitsFor(n, maxLoad int) uint {
	bits := uint(10)
	for maxLoad<<bits/100 < n {
		bits++
	}
	return bits
}

func (t *openTable[V]) home(k Key) int { return int((uint64(k) * 0x9E3779B97F4A7C15) >> t.shift) }

func (t *openTable[V]) len() int {
	if t.hasZero {
		return t.n + 1
	}
	return t.n
}

// find returns k's value, or nil.
func (t *openTable[V]) find(k Key) *V {
	if k == 0 {
		if !t.hasZero {
			return nil
		}
		return &t.zero
	}
	mask := len(t.slots) - 1
	for i := t.home(k); ; i = (i + 1) & mask {
		switch s := &t.slots[i]; s.key {
		case k:
			return &s.val
		case 0:
			return nil
		}
	}
}

// findBatch is how many keys findAll reads the home slots of before it compares
// any: about as many cache misses as a core keeps in flight.
const findBatch = 16

// findAll sets vals[i] to find(keys[i]), for up to findBatch keys. The model is
// megabytes, and each key's slot is most likely a cache miss: find, a key at a
// time, waits for each miss in turn, as its next read depends on what it found.
// The home slots' keys are read first, all of them, in reads that do not wait on
// one another and so overlap; the comparisons then find them in the cache.
func (t *openTable[V]) findAll(keys []Key, vals []*V) {
	var first [findBatch]Key
	keys, vals = keys[:min(len(keys), findBatch)], vals[:min(len(keys), findBatch)]
	for i, k := range keys {
		first[i] = t.slots[t.home(k)].key
	}
	for i, k := range keys {
		switch {
		case k == 0 || first[i] != k && first[i] != 0:
			vals[i] = t.find(k) // (key 0, or probed past its home)
		case first[i] == 0:
			vals[i] = nil
		default:
			vals[i] = &t.slots[t.home(k)].val
		}
	}
}

// insert returns k's value, adding k with a zero value when it is missing, and
// whether it was added. The pointer is good until the next insert.
func (t *openTable[V]) insert(k Key) (*V, bool) {
	if k == 0 {
		added := !t.hasZero
		t.hasZero = true
		return &t.zero, added
	}
	if t.n >= t.limit {
		t.grow()
	}
	mask := len(t.slots) - 1
	for i := t.home(k); ; i = (i + 1) & mask {
		switch s := &t.slots[i]; s.key {
		case k:
			return &s.val, false
		case 0:
			s.key = k
			t.n++
			return &s.val, true
		}
	}
}

// remove deletes k by shifting back the entries probed past it, so that no slot is
// left marked deleted and lookups stay as short as the load allows.
func (t *openTable[V]) remove(k Key) {
	var zero V
	if k == 0 {
		t.zero, t.hasZero = zero, false
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
	t.slots[i] = slot[V]{}
	t.n--
}

func (t *openTable[V]) grow() {
	old := t.slots
	t.slots, t.shift, t.n = make([]slot[V], 2*len(old)), t.shift-1, 0
	t.limit = t.maxLoad * len(t.slots) / 100
	mask := len(t.slots) - 1
	for _, s := range old {
		if s.key == 0 {
			continue
		}
		i := t.home(s.key)
		for t.slots[i].key != 0 {
			i = (i + 1) & mask
		}
		t.slots[i] = s
		t.n++
	}
}

// reset empties the table to 1<<bits slots, reusing its memory when it has enough.
func (t *openTable[V]) reset(bits uint) {
	var zero V
	if cap(t.slots) < 1<<bits {
		t.slots = make([]slot[V], 1<<bits)
	} else {
		t.slots = t.slots[:1<<bits]
		clear(t.slots)
	}
	t.shift, t.n, t.zero, t.hasZero = 64-bits, 0, zero, false
	t.limit = t.maxLoad * len(t.slots) / 100
}

// each calls fn for every key and its value, in no order.
func (t *openTable[V]) each(fn func(Key, *V)) {
	if t.hasZero {
		fn(0, &t.zero)
	}
	for i := range t.slots {
		if s := &t.slots[i]; s.key != 0 {
			fn(s.key, &s.val)
		}
	}
}
