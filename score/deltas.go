package score

import (
	"cmp"
	"slices"
)

// deltas sums the changes a batch of learned and forgotten messages makes to each
// token's counts, so that a token common to many messages is written once (see
// openTable for why not a Go map: summing into one was a third of `postern learn`'s
// time in the store, where a batch of 500 messages with trigrams adds up 1.5 million
// keys).
type deltas struct{ openTable[Counts] }

// newDeltas is sized for n keys of which, in mail, many repeat.
func newDeltas(n int) *deltas {
	return &deltas{newOpenTable[Counts](min(bitsFor(n/4, 50), 21), 50)}
}

// add adds d to each key's spam (or ham) count.
func (s *deltas) add(keys []Key, spam bool, d int64) {
	for _, k := range keys {
		c, _ := s.insert(k)
		if spam {
			c.Spam += d
		} else {
			c.Ham += d
		}
	}
}

type tokenDelta struct {
	key       Key
	spam, ham int64
}

// changed returns the tokens whose counts change, in the order of their keys as
// SQLite's signed integers: each upsert then lands next to the last one in the
// tokens table's B-tree, on pages already in the cache, rather than on a random page.
func (s *deltas) changed() []tokenDelta {
	out := make([]tokenDelta, 0, s.len())
	s.each(func(k Key, c *Counts) {
		if c.Spam != 0 || c.Ham != 0 {
			out = append(out, tokenDelta{k, c.Spam, c.Ham})
		}
	})
	slices.SortFunc(out, func(a, b tokenDelta) int { return cmp.Compare(int64(a.key), int64(b.key)) })
	return out
}
