package score

import "sync"

// keySet is a set of keys by open addressing on the keys' own bits, which are already
// a hash. A message's trigrams alone take thousands of lookups, and a Go map spent
// more time on them than the classification itself (BenchmarkClassify). It is
// openTable without values, written out: this is the tokenizer's innermost loop,
// and openTable[struct{}] measured about 4 % slower on BenchmarkClassify/trigrams
// (-benchtime 2s, seven runs of each in turn).
type keySet struct {
	slots []Key // 0 marks an empty slot
	shift uint  // 64 − log2(len(slots))
	n     int
	zero  bool // whether Key 0, which cannot be stored in a slot, is in the set
}

func newKeySet(bits uint) *keySet {
	return &keySet{slots: make([]Key, 1<<bits), shift: 64 - bits}
}

// keySets are reused from message to message: with trigrams a message's sets take
// 96 KB, and allocating them for each one was a tenth of the time, counting the
// collector's.
var keySets sync.Pool

// getKeySet returns an empty set of 1<<bits slots.
func getKeySet(bits uint) *keySet {
	s, _ := keySets.Get().(*keySet)
	if s == nil || cap(s.slots) < 1<<bits {
		return newKeySet(bits)
	}
	s.slots = s.slots[:1<<bits]
	clear(s.slots)
	s.shift, s.n, s.zero = 64-bits, 0, false
	return s
}

func putKeySet(s *keySet) { keySets.Put(s) }

// add adds k and reports whether it was not in the set yet.
func (s *keySet) add(k Key) bool {
	if k == 0 {
		added := !s.zero
		s.zero = true
		return added
	}
	if 2*(s.n+1) > len(s.slots) {
		s.grow()
	}
	mask := len(s.slots) - 1
	// Fibonacci hashing spreads keys whose low bits agree.
	for i := int((uint64(k) * 0x9E3779B97F4A7C15) >> s.shift); ; i = (i + 1) & mask {
		switch s.slots[i] {
		case k:
			return false
		case 0:
			s.slots[i] = k
			s.n++
			return true
		}
	}
}

func (s *keySet) grow() {
	old := s.slots
	s.slots, s.shift, s.n = make([]Key, 2*len(old)), s.shift-1, 0
	for _, k := range old {
		if k != 0 {
			s.add(k)
		}
	}
}
