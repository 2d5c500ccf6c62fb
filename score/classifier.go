package score

import (
	"cmp"
	"math"
	"slices"
	"sync"
)

// Counts is how many learned spam and ham messages contained a token.
type Counts struct{ Spam, Ham int64 }

// Key is a token's 64-bit hash: the store keeps hashes, not words (smaller, and no
// message text at rest).
type Key uint64

// KeyOf hashes a token: FNV-1a, 64 bits, but for a character trigram ("tri:" and
// three characters), which has a key of its own kind (trigramKey).
func KeyOf(token string) Key {
	if p, ok := trigramOf(token); ok {
		return trigramKey(p)
	}
	return Key(fnvAdd(offset64, token))
}

const (
	offset64 = 14695981039346656037
	prime64  = 1099511628211
)

// fnvAdd continues an FNV-1a hash over s: fnvAdd(fnvAdd(offset64, a), b) is the hash of
// a+b, so tokens can be hashed in pieces without building them.
func fnvAdd(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= prime64
	}
	return h
}

// Keys hashes tokens.
func Keys(tokens []string) []Key {
	ks := make([]Key, len(tokens))
	for i, t := range tokens {
		ks[i] = KeyOf(t)
	}
	return ks
}

// Params are the classifier's constants (Robinson's method with Fisher's chi-square
// combining, as in SpamBayes and SpamAssassin). The defaults were chosen by 10-fold
// cross-validation on the shared corpus: see docs/bayes.md and docs/accuracy.md.
type Params struct {
	Strength     float64 // s: how strongly the prior x pulls rarely seen tokens
	Prior        float64 // x: the probability assumed for a token never seen
	MinDeviation float64 // tokens with |f(w) - 0.5| below this are ignored
	MaxClues     int     // the most significant tokens combined
	// FewClues: with fewer clues than this, the probability is pulled towards 0.5 in
	// proportion (n/FewClues of its distance kept): Fisher's method is sure of
	// itself on a handful of tokens seen once or twice.
	FewClues int
	// Undecided: a message whose probability is within this of 0.5 is ranked,
	// inside that band, by the mean log-odds of all its clues (0: never; see
	// Classify).
	Undecided float64
	MinSpam   int // cold start: no verdict until this many spam …
	MinHam    int // … and ham messages are learned
	// LearnMargin: out of cold start, a message the model already gives its class
	// within this margin of certainty (spam ≥ 1−margin, ham ≤ margin) is not
	// learned (train on or near error, see Selector). 0 learns every message.
	LearnMargin float64
	// Trigrams: how many characters of a message's body text are also cut into
	// character trigrams (0: none; see WithTrigrams).
	Trigrams int
}

// Sure reports whether a probability already gives a message its class (spam or ham)
// within LearnMargin: learning it would teach nothing (Selector).
func (p Params) Sure(prob float64, spam bool) bool {
	if p.LearnMargin <= 0 {
		return false
	}
	if spam {
		return prob >= 1-p.LearnMargin
	}
	return prob <= p.LearnMargin
}

// DefaultParams are the documented defaults.
func DefaultParams() Params {
	return Params{Strength: 0.1, Prior: 0.5, MinDeviation: 0.2, MaxClues: 150, FewClues: 10, Undecided: 0.2, MinSpam: 200, MinHam: 200, LearnMargin: 0.01}
}

// TrigramRunes is how much of a message's body text WithTrigrams cuts into
// trigrams: all of it in most messages. 2,000 to 20,000 characters kept less
// of the gain (docs/bayes.md).
const TrigramRunes = 30000

// WithTrigrams returns p with character trigrams among the tokens (bayes.trigrams,
// on in the daemon's default configuration; DefaultParams are words only). They take
// the spam caught at ≤ 0.1 % ham loss from 96.75 % to 98.19 % and 1−AUC from 0.00026
// to 0.00012 over five cross-validation shuffles, for about 60 % of the
// classification speed on a 10 KB message (docs/accuracy.md, docs/benchmarks.md).
// Thousands of trigrams per message make many weak clues, so MinDeviation is 0.3,
// the value the same cross-validation chose with them (0.2 without).
func (p Params) WithTrigrams() Params {
	p.Trigrams = TrigramRunes
	p.MinDeviation = 0.3
	return p
}

// Model is the token table in memory: the cache every classification reads. Learning
// updates it under a short write lock; classifications take the read lock for their
// lookups only.
type Model struct {
	mu     sync.RWMutex
	tokens *table
	nspam  int64
	nham   int64
}

// NewModel returns an empty model.
func NewModel() *Model { return &Model{tokens: newTable(0)} }

// Totals returns how many spam and ham messages the model has learned.
func (m *Model) Totals() (spam, ham int64) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.nspam, m.nham
}

// Len is the number of tokens.
func (m *Model) Len() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.tokens.len()
}

// Set replaces a token's counts (a zero Counts removes it).
func (m *Model) Set(k Key, c Counts) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.set(k, c)
}

func (m *Model) set(k Key, c Counts) { m.tokens.set(k, c) }

// SetTotals replaces the message totals.
func (m *Model) SetTotals(spam, ham int64) {
	m.mu.Lock()
	m.nspam, m.nham = spam, ham
	m.mu.Unlock()
}

// Add applies a learn (+1) or unlearn (-1) of one message's keys.
func (m *Model) Add(keys []Key, spam bool, delta int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, k := range keys {
		c, _ := m.tokens.get(k)
		if spam {
			c.Spam = max(0, c.Spam+delta)
		} else {
			c.Ham = max(0, c.Ham+delta)
		}
		m.set(k, c)
	}
	if spam {
		m.nspam = max(0, m.nspam+delta)
	} else {
		m.nham = max(0, m.nham+delta)
	}
}

// Clue is one token's contribution.
type Clue struct {
	Key  Key
	Prob float64
	dev  float64 // |Prob - 0.5|
	at   int32   // its index in the keys classified (Explain names its token by it)
}

// Classify returns the spam probability of a message with these keys, and false
// when the model is still in cold start (too few messages learned to say anything).
//
// When the evidence is balanced — strong clues both ways, so that Fisher's method
// rejects both hypotheses and gives about 0.5 — the probability says nothing about
// which way the message leans: spam sent through a mailing list, its headers (the
// list's relays and fields) all seen in ham; a newsletter that reads like an
// advertisement. Such a message (within Params.Undecided of 0.5) is ranked inside
// the band by the mean log-odds of all its clues, not only the MaxClues strongest
// (balance). With trigrams this took the spam caught at ≤ 0.1 % ham loss from
// 97.36 % to 98.08 % over five cross-validation shuffles (a band of 0.1, with the
// fifth session's trigram keys), and 1−AUC from 0.00015 to 0.00012; words alone,
// from 96.53 % to 96.75 %. The band is 0.2 since ties at the MaxClues cut stopped
// depending on keys (combine): 97.96 % with 0.1, 98.19 % with 0.2, and 98.00–98.23 %
// from 0.15 to 0.4, the other numbers the same; words alone 96.75 % either way
// (bayeseval -seeds 5 [-trigrams] [-undecided X]; docs/accuracy.md).
func (m *Model) Classify(keys []Key, p Params) (float64, bool) {
	return m.classify(keys, p, nil)
}

// classify is Classify with the counts of messages not yet in the model added (sel,
// when not nil).
func (m *Model) classify(keys []Key, p Params, sel *Selector) (float64, bool) {
	buf, _ := clueBufs.Get().(*[]Clue)
	if buf == nil {
		buf = new([]Clue)
	}
	defer clueBufs.Put(buf)
	clues, ready := m.clues(keys, p, sel, (*buf)[:0], nil)
	*buf = clues
	if !ready {
		return 0.5, false
	}
	prob := combine(clues, p.MaxClues)
	if p.Undecided > 0 && math.Abs(prob-0.5) < p.Undecided && len(clues) > 0 {
		prob = p.balance(clues)
	}
	return p.fewClues(prob, len(clues)), true
}

// balance places an undecided message inside the band 0.5 ± Undecided by the mean
// of its clues' log-odds, ln(f/(1−f)): the side most of its evidence is on, weighed
// by how strong. The mean, not the sum, so that a long message is not further from
// 0.5 for its length; over all the clues, because the weak ones beyond the MaxClues
// strongest are where a balanced message differs (the strongest 150 alone: 97.77 %,
// the sum: 97.09 %, with trigrams).
func (p Params) balance(clues []Clue) float64 {
	var sum float64
	for _, c := range clues {
		f := min(max(c.Prob, 1e-9), 1-1e-9)
		sum += math.Log(f / (1 - f))
	}
	mean := sum / float64(len(clues))
	return 0.5 - p.Undecided + 2*p.Undecided/(1+math.Exp(-mean))
}

// clueBufs are classify's buffers of clues, reused: a message's clues, with
// trigrams, are often 100 KB.
var clueBufs sync.Pool

// clues looks the keys up (adding sel's counts, when not nil) and appends to clues the
// tokens far enough from neutral to count, in the order of keys; false in cold start.
// counts, when not nil, is given each clue's counts.
func (m *Model) clues(keys []Key, p Params, sel *Selector, clues []Clue, counts func(Clue, Counts)) ([]Clue, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	nspam, nham := float64(m.nspam), float64(m.nham)
	if sel != nil {
		nspam, nham = nspam+float64(sel.nspam), nham+float64(sel.nham)
	}
	if int(nspam) < p.MinSpam || int(nham) < p.MinHam {
		return nil, false
	}
	var found [findBatch]*counts32
	for i, k := range keys {
		if i%findBatch == 0 {
			m.tokens.findAll(keys[i:], found[:])
		}
		var c Counts
		slot := found[i%findBatch]
		ok := slot != nil
		if ok {
			c = Counts{int64(slot.spam), int64(slot.ham)}
		}
		if sel != nil {
			if d, in := sel.tokens[k]; in {
				c, ok = Counts{c.Spam + d.Spam, c.Ham + d.Ham}, true
			}
		}
		if !ok {
			continue // unknown tokens have f = x = 0.5: no information
		}
		f := tokenProb(c, nspam, nham, p)
		if d := math.Abs(f - 0.5); d >= p.MinDeviation {
			clue := Clue{Key: k, Prob: f, dev: d, at: int32(i)}
			clues = append(clues, clue)
			if counts != nil {
				counts(clue, c)
			}
		}
	}
	return clues, true
}

// Selector picks, from messages about to be learned in order, those the model would
// learn something from: train on or near error. Once the model is out of cold start,
// a message it already puts within Params.LearnMargin of its class is passed over;
// every other one is learned. Learning the messages it is sure of only makes it more
// sure of what it knows, and the easy messages a site receives in bulk (its mailing
// lists' traffic, one campaign's thousand copies) then outweigh the rare, informative
// ones. In 10-fold cross-validation this cut false negatives at 0.90 from 167 to about
// 125 and at 0.50 from 38 to about 22, with the same false positives
// (docs/accuracy.md). A Selector remembers the messages it chose, so that later ones
// in the same batch are judged as if those were learned already.
type Selector struct {
	m           *Model
	p           Params
	tokens      map[Key]Counts
	nspam, nham int64
}

// NewSelector starts a selection against the model as it is now.
func (m *Model) NewSelector(p Params) *Selector {
	return &Selector{m: m, p: p, tokens: map[Key]Counts{}}
}

// Needs reports whether a message with these keys should be learned as spam (or
// ham), and if so counts it as learned for the messages after it.
func (s *Selector) Needs(keys []Key, spam bool) bool {
	if s.p.LearnMargin > 0 {
		if prob, ready := s.m.classify(keys, s.p, s); ready && s.p.Sure(prob, spam) {
			return false
		}
	}
	for _, k := range keys {
		c := s.tokens[k]
		if spam {
			c.Spam++
		} else {
			c.Ham++
		}
		s.tokens[k] = c
	}
	if spam {
		s.nspam++
	} else {
		s.nham++
	}
	return true
}

// explain returns the clues Classify combines for these keys, most significant first,
// with each token's counts: what made a message score as it did. Nil in cold start.
func (m *Model) explain(keys []Key, p Params) []explained {
	var out []explained
	m.clues(keys, p, nil, nil, func(c Clue, n Counts) { out = append(out, explained{c, n}) })
	slices.SortFunc(out, func(a, b explained) int { return moreSignificant(a.Clue, b.Clue) })
	return out[:min(len(out), p.MaxClues)]
}

// explained is one clue with its token's counts.
type explained struct {
	Clue
	Counts Counts
}

// fewClues pulls a probability combined from n clues towards 0.5 when n is below
// FewClues. Fisher's method on six clues of tokens seen once or twice each says
// 0.9999 as readily as on 150; most such messages are short, or in a script the
// tokenizer gives few words (a Japanese newsletter in the corpus, ham, scored
// 1.0000 on FAX, TEL and its relay's address). In 10-fold cross-validation this
// took false positives at 0.90 from 3.2 to 2.4 on average over five shuffles, false
// negatives from 129.0 to 130.0 (bayeseval -seeds 5 [-few-clues 0]).
func (p Params) fewClues(prob float64, n int) float64 {
	if n >= p.FewClues {
		return prob
	}
	return 0.5 + (prob-0.5)*float64(n)/float64(p.FewClues)
}

// tokenProb is Robinson's f(w): the token's spam ratio, pulled towards the prior x
// with strength s when it was seen in few messages.
func tokenProb(c Counts, nspam, nham float64, p Params) float64 {
	spamRatio := float64(c.Spam) / nspam
	hamRatio := float64(c.Ham) / nham
	if spamRatio+hamRatio == 0 {
		return p.Prior
	}
	pw := spamRatio / (spamRatio + hamRatio)
	n := float64(c.Spam + c.Ham)
	return (p.Strength*p.Prior + n*pw) / (p.Strength + n)
}

// combine is Fisher's method as SpamBayes applies it: the chi-square probability that
// the clues are random under the spam hypothesis and under the ham hypothesis, each
// turned into an indicator, and their difference mapped to [0, 1].
func combine(clues []Clue, maxClues int) float64 {
	if len(clues) == 0 {
		return 0.5
	}
	var lnS, lnH float64 // sums of ln(1-f) and ln(f)
	add := func(f, times float64) {
		f = min(max(f, 1e-9), 1-1e-9)
		lnS += times * math.Log(1-f)
		lnH += times * math.Log(f)
	}
	n := len(clues)
	if n > maxClues {
		// The maxClues most significant, found without sorting them all (a message
		// has thousands of clues; sorting them was a tenth of classifying).
		selectTop(clues, maxClues)
		top := clues[:maxClues]
		// The cut often falls among clues equally far from 0.5: every token seen
		// in n messages of one class only has the same f, spam's and ham's mirrored,
		// and a message with trigrams has hundreds of them. The places left go to
		// the spam-leaning and the ham-leaning ones of that tie in proportion to
		// their numbers, rather than by the order of their keys, so that the answer
		// depends on the tokens and not on their hashes (choosing by key moved the
		// spam caught at ≤ 0.1 % ham loss by ±0.2 points from one hash function to
		// another; docs/accuracy.md).
		low := top[0].dev
		for _, c := range top {
			low = min(low, c.dev)
		}
		var spamTie, hamTie int
		var fSpam, fHam float64 // the tie's f on each side: the same for all of a side
		for _, c := range clues {
			if c.dev != low {
				continue
			}
			if c.Prob > 0.5 {
				spamTie, fSpam = spamTie+1, c.Prob
			} else {
				hamTie, fHam = hamTie+1, c.Prob
			}
		}
		left := maxClues
		for _, c := range top {
			if c.dev != low {
				add(c.Prob, 1)
				left--
			}
		}
		spamPlaces := math.Round(float64(left) * float64(spamTie) / float64(spamTie+hamTie))
		add(fSpam, spamPlaces)
		add(fHam, float64(left)-spamPlaces)
		n = maxClues
	} else {
		for _, c := range clues {
			add(c.Prob, 1)
		}
	}
	S := 1 - chi2Q(-2*lnS, 2*n)
	H := 1 - chi2Q(-2*lnH, 2*n)
	return (S - H + 1) / 2
}

// moreSignificant orders clues by significance, ties by key: a total order.
func moreSignificant(a, b Clue) int {
	if c := cmp.Compare(b.dev, a.dev); c != 0 {
		return c
	}
	return cmp.Compare(a.Key, b.Key)
}

// selectTop moves the k most significant clues to the front of clues, in no
// particular order (quickselect, median-of-three pivots).
func selectTop(clues []Clue, k int) {
	lo, hi := 0, len(clues)-1
	for lo < hi {
		mid := lo + (hi-lo)/2
		// Median of three as the pivot, against inputs in order.
		if moreSignificant(clues[mid], clues[lo]) < 0 {
			clues[mid], clues[lo] = clues[lo], clues[mid]
		}
		if moreSignificant(clues[hi], clues[lo]) < 0 {
			clues[hi], clues[lo] = clues[lo], clues[hi]
		}
		if moreSignificant(clues[hi], clues[mid]) < 0 {
			clues[hi], clues[mid] = clues[mid], clues[hi]
		}
		pivot := clues[mid]
		i, j := lo, hi
		for i <= j {
			for moreSignificant(clues[i], pivot) < 0 {
				i++
			}
			for moreSignificant(pivot, clues[j]) < 0 {
				j--
			}
			if i <= j {
				clues[i], clues[j] = clues[j], clues[i]
				i++
				j--
			}
		}
		switch {
		case k-1 <= j:
			hi = j
		case k-1 >= i:
			lo = i
		default:
			return
		}
	}
}

// chi2Q is the probability that a chi-square variable with v (even) degrees of freedom
// exceeds x2.
func chi2Q(x2 float64, v int) float64 {
	m := x2 / 2
	sum := math.Exp(-m)
	term := sum
	for i := 1; i < v/2; i++ {
		term *= m / float64(i)
		sum += term
	}
	return min(sum, 1)
}

// Pseudo-rule is a BAYES_xx rule: the probability range it covers and its default
// score, SpamAssassin's (50_scores.cf, Bayes and network tests on).
type PseudoRule struct {
	Name        string
	Low, High   float64
	Score       float64
	Description string
}

// PseudoRules are SpamAssassin's BAYES_xx rules; BAYES_999 adds to BAYES_99.
var PseudoRules = []PseudoRule{
	{"BAYES_00", 0, 0.01, -1.9, "Bayes spam probability is 0 to 1%"},
	{"BAYES_05", 0.01, 0.05, -0.5, "Bayes spam probability is 1 to 5%"},
	{"BAYES_20", 0.05, 0.20, -0.001, "Bayes spam probability is 5 to 20%"},
	{"BAYES_40", 0.20, 0.40, -0.001, "Bayes spam probability is 20 to 40%"},
	{"BAYES_50", 0.40, 0.60, 0.8, "Bayes spam probability is 40 to 60%"},
	{"BAYES_60", 0.60, 0.80, 1.5, "Bayes spam probability is 60 to 80%"},
	{"BAYES_80", 0.80, 0.95, 2.0, "Bayes spam probability is 80 to 95%"},
	{"BAYES_95", 0.95, 0.99, 3.0, "Bayes spam probability is 95 to 99%"},
	{"BAYES_99", 0.99, 1.0001, 3.5, "Bayes spam probability is 99 to 100%"},
	{"BAYES_999", 0.999, 1.0001, 0.2, "Bayes spam probability is 99.9 to 100%"},
}

// RulesFor returns the pseudo-rules a probability falls in.
func RulesFor(prob float64) []PseudoRule {
	var out []PseudoRule
	for _, r := range PseudoRules {
		if prob >= r.Low && prob < r.High {
			out = append(out, r)
		}
	}
	return out
}
