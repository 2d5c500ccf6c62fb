package score

import "fmt"

// commonTrigrams are trigrams almost every learned message has: those of links
// ("http://") and of the commonest English syllables. A store that learned with
// Params.Trigrams holds some of them; one that learned without holds none. The
// store keeps hashes only, so this is how to tell which the store is.
var commonTrigrams = Keys([]string{
	"tri:htt", "tri:ttp", "tri:tp:", "tri:p:/", "tri:://",
	"tri:the", "tri: th", "tri:he ", "tri:ing", "tri:and", "tri:ion", "tri:ent",
})

// HasTrigrams reports whether the model learned its messages with trigrams.
func (m *Model) HasTrigrams() bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	for _, k := range commonTrigrams {
		if _, ok := m.tokens.get(k); ok {
			return true
		}
	}
	return false
}

// TrigramMismatch says how a store of learned messages, learned with trigrams
// (hasTrigrams) or without, disagrees with bayes.trigrams (p.Trigrams), or "" when
// it does not. Either way the classifier works, but not as measured: trigrams count
// only from the messages learned after they were turned on, and a store's
// trigrams are dead weight once they are off.
func TrigramMismatch(learned int64, hasTrigrams bool, p Params) string {
	switch {
	case learned == 0:
		return ""
	case p.Trigrams > 0 && !hasTrigrams:
		return fmt.Sprintf("bayes: bayes.trigrams is on but the %d messages in the store were learned without them: "+
			"relearn the training mail into a new store, or set bayes.trigrams = false (docs/bayes.md, Character trigrams)", learned)
	case p.Trigrams == 0 && hasTrigrams:
		return "bayes: the store learned trigrams but bayes.trigrams is off: they are not used (docs/bayes.md, Character trigrams)"
	}
	return ""
}

// TrigramMismatch is TrigramMismatch for this classifier's model and parameters.
func (b *Bayes) TrigramMismatch() string {
	spam, ham := b.Model.Totals()
	return TrigramMismatch(spam+ham, b.Model.HasTrigrams(), b.Params())
}
