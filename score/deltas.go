package score

import (
	"cmp"
	"slices"
)

// deltas sums the changes a batch of learned and forgotten messages makes to each
// token's counts, so that a token common to many messages is written once. It is
// open addressing on the keys' bits, like table: summing into a Go map was a third
// of `postern learn`'s time in the store (a batch of 500 messages with trigrams adds
// up 1.5 million keys).
type deltas struct {
	slots []tokenDelta // key 0 marks an empty slot
	shift uint
	n     int
	zero  tokenDelta // Key 0's, which cannot be in a slot
}

type tokenDelta struct {
	key       Key
	spam, ham int64
}

// newDeltas is sized for n keys of which, in mail, many repeat.
func newDeltas(n int) *deltas {
	bits := uint(minTableBits)
	for 1<<bits < n/2 && bits < 21 {
		bits++
	}
	return &deltas{slots: make([]tokenDelta, 1<<bits), shift: 64 - bits}
}

// add adds d to each key's spam (or ham) count.
func (s *deltas) add(keys []Key, spam bool, d int64) {
	for _, k := range keys {
		e := s.slot(k)
		if spam {
			e.spam += d
		} else {
			e.ham += d
		}
	}
}

// slot returns k's entry, adding it when missing.
func (s *deltas) slot(k Key) *tokenDelta {
	if k == 0 {
		return &s.zero
	}
	if 2*(s.n+1) > len(s.slots) {
		s.grow()
	}
	mask := len(s.slots) - 1
	for i := int((uint64(k) * 0x9E3779B97F4A7C15) >> s.shift); ; i = (i + 1) & mask {
		switch e := &s.slots[i]; e.key {
		case k:
			return e
		case 0:
			e.key = k
			s.n++
			return e
		}
	}
}

func (s *deltas) grow() {
	old := s.slots
	s.slots, s.shift, s.n = make([]tokenDelta, 2*len(old)), s.shift-1, 0
	for _, e := range old {
		if e.key != 0 {
			*s.slot(e.key) = e
		}
	}
}

// changed returns the tokens whose counts change, in the order of their keys as
// SQLite's signed integers: each upsert then lands next to the last one in the
// tokens table's B-tree, on pages already in the cache, rather than on a random page.
func (s *deltas) changed() []tokenDelta {
	out := make([]tokenDelta, 0, s.n+1)
	if s.zero.spam != 0 || s.zero.ham != 0 {
		out = append(out, s.zero)
	}
	for _, e := range s.slots {
		if e.key != 0 && (e.spam != 0 || e.ham != 0) {
			out = append(out, e)
		}
	}
	slices.SortFunc(out, func(a, b tokenDelta) int { return cmp.Compare(int64(a.key), int64(b.key)) })
	return out
}
