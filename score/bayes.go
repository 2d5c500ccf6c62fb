package score

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/postern/postern/filter"
	"github.com/postern/postern/scan"
)

// Bayes is the classifier: a Store and its in-memory Model, kept in step.
type Bayes struct {
	Store Store
	Model *Model

	// params are swapped whole (SetParams) while messages are classified: a
	// SIGHUP applies bayes.min_spam, min_ham and learn_margin.
	params  atomic.Pointer[Params]
	mu      sync.Mutex // serializes refreshes
	version int64
}

// Params are the parameters in use.
func (b *Bayes) Params() Params { return *b.params.Load() }

// SetParams replaces the parameters, for the messages classified and learned
// from now on. Trigrams must stay as the model learned them (TrigramMismatch).
func (b *Bayes) SetParams(p Params) { b.params.Store(&p) }

// NewBayes is a classifier of model with parameters p, kept in step with store
// (which Open reads into it; nil for a model only read).
func NewBayes(store Store, model *Model, p Params) *Bayes {
	b := &Bayes{Store: store, Model: model}
	b.SetParams(p)
	return b
}

// Open loads the whole store into memory.
func Open(ctx context.Context, store Store, p Params) (*Bayes, error) {
	b := NewBayes(store, NewModel(), p)
	nspam, nham, version, err := store.Load(ctx, func(k Key, c Counts) {
		b.Model.tokens.set(k, c)
	})
	if err != nil {
		return nil, err
	}
	b.Model.SetTotals(nspam, nham)
	b.version = version
	return b, nil
}

// Refresh applies what other processes (postern learn, another node) learned since
// the last refresh.
func (b *Bayes) Refresh(ctx context.Context) error {
	b.mu.Lock()
	nspam, nham, v, err := b.Store.Changes(ctx, b.version, b.Model.Set)
	if err == nil {
		b.Model.SetTotals(nspam, nham)
		b.version = v
	}
	b.mu.Unlock()
	if errors.Is(err, ErrReload) {
		return b.Reload(ctx)
	}
	return err
}

// Reload replaces the model with the store's contents (after Expire).
func (b *Bayes) Reload(ctx context.Context) error {
	fresh, err := Open(ctx, b.Store, b.Params())
	if err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	fresh.Model.mu.Lock()
	b.Model.mu.Lock()
	b.Model.tokens, b.Model.nspam, b.Model.nham = fresh.Model.tokens, fresh.Model.nspam, fresh.Model.nham
	b.Model.mu.Unlock()
	fresh.Model.mu.Unlock()
	b.version = fresh.version
	return nil
}

// Learn learns (or forgets) messages and brings the model up to date. Messages the
// classifier is already sure of are passed over (Selector; Params.LearnMargin): Learn
// sets each item's Sure.
func (b *Bayes) Learn(ctx context.Context, items []Item, forget bool) ([]Outcome, error) {
	if p := b.Params(); !forget && p.LearnMargin > 0 {
		sel := b.Model.NewSelector(p)
		for i := range items {
			items[i].Sure = !sel.Needs(items[i].Keys, items[i].Spam)
		}
	}
	return b.LearnAll(ctx, items, forget)
}

// LearnAll learns (or forgets) every message, sure or not, and brings the model up
// to date.
func (b *Bayes) LearnAll(ctx context.Context, items []Item, forget bool) ([]Outcome, error) {
	if forget {
		// Which class a forgotten message had is the store's to know: read back.
		out, err := b.Store.Learn(ctx, items, forget)
		if err != nil {
			return nil, err
		}
		return out, b.Refresh(ctx)
	}
	// What was learned is added to the model directly: reading every changed token
	// back from the store cost more than the learning itself. The lock keeps a
	// refresh from reading the store between the write and the additions; the next
	// refresh still reads these tokens' absolute counts, so the model cannot drift.
	b.mu.Lock()
	defer b.mu.Unlock()
	out, err := b.Store.Learn(ctx, items, false)
	if err != nil {
		return nil, err
	}
	for i, o := range out {
		switch o {
		case Relearned:
			b.Model.Add(items[i].Keys, !items[i].Spam, -1)
			fallthrough
		case Learned:
			b.Model.Add(items[i].Keys, items[i].Spam, 1)
		}
	}
	return out, nil
}

// ItemOf tokenizes a parsed message for learning with these parameters (their
// Trigrams).
func ItemOf(m *scan.Message, spam bool, p Params) Item {
	return Item{MsgID: MessageID(m), Spam: spam, Keys: TokenKeys(m, p.Trigrams)}
}

// Classify returns the spam probability of a parsed message, and false in cold start.
func (b *Bayes) Classify(m *scan.Message) (float64, bool) {
	p := b.Params()
	return b.Model.Classify(TokenKeys(m, p.Trigrams), p)
}

// TokenClue is one of the clues behind a probability, with its token's text.
type TokenClue struct {
	Token  string
	Prob   float64 // the token's f(w)
	Counts Counts  // learned spam and ham messages that contained it
}

// Explain returns the n most significant clues Classify combines for a message (all
// of them when n <= 0), strongest first: why it scored as it did. Nil in cold start.
func (b *Bayes) Explain(m *scan.Message, n int) []TokenClue {
	p := b.Params()
	t := tokenize(m, p.Trigrams, true)
	var out []TokenClue
	for _, c := range b.Model.explain(t.keys, p) {
		if n > 0 && len(out) == n {
			break
		}
		out = append(out, TokenClue{Token: t.strs[c.at], Prob: c.Prob, Counts: c.Counts})
	}
	return out
}

// ColdStart says why Bayes gives no verdict yet, or "" when it does.
func (b *Bayes) ColdStart() string { return b.coldStart(b.Params()) }

func (b *Bayes) coldStart(p Params) string {
	spam, ham := b.Model.Totals()
	if int(spam) >= p.MinSpam && int(ham) >= p.MinHam {
		return ""
	}
	return fmt.Sprintf("bayes: cold start: %d spam and %d ham learned, needs %d and %d: no Bayes score yet",
		spam, ham, p.MinSpam, p.MinHam)
}

// Check is the Bayes check of the filter pipeline.
type Check struct {
	Bayes *Bayes
	// Points weighs the probability in the score; zero: SpamAssassin's fixed
	// BAYES_xx scores.
	Points Points
	// Score, when set, gives the score an operator's rule file sets for a
	// BAYES_xx name (score BAYES_99 4.0): it wins over Points.
	Score func(name string) (float64, bool)
}

// Name implements filter.Check.
func (c *Check) Name() string { return "bayes" }

// Check implements filter.Check: the probability, and the BAYES_xx rules it falls in.
func (c *Check) Check(ctx context.Context, m *filter.Message) filter.Result {
	// In cold start there is no verdict to give, and the tokens would serve only
	// the autolearner, which takes nothing then (the veto) unless
	// bayes.autolearn_veto is 0, and tokenizes what it is handed without them,
	// after the reply (pending.keys). Tokenizing every message of a new install
	// was 6 % of its check's instructions (docs/benchmarks.md, "Forty-eighth
	// session").
	p := c.Bayes.Params() // one set for the message, whatever a SIGHUP swaps in
	if note := c.Bayes.coldStart(p); note != "" {
		return filter.Result{Notes: []string{note}}
	}
	keys := TokenKeys(m.Parsed, p.Trigrams)
	m.Remember(tokensKey{}, keys) // for the autolearner
	prob, ok := c.Bayes.Model.Classify(keys, p)
	if !ok {
		return filter.Result{Notes: []string{c.Bayes.coldStart(p)}}
	}
	r := filter.Result{Bayes: &prob}
	for i, pr := range RulesFor(prob) {
		points := pr.Score
		if c.Points.PerLogOdds > 0 {
			// The points follow the probability; the bin names it for filters and
			// reports. BAYES_999 comes with BAYES_99, as in SpamAssassin, which
			// carries the points.
			points = 0
			if i == 0 {
				points = c.Points.For(prob)
			}
		}
		if c.Score != nil {
			if s, ok := c.Score(pr.Name); ok {
				points = s
			}
		}
		r.Tests = append(r.Tests, filter.Test{Name: pr.Name, Score: points, Description: "BODY: " + pr.Description, Bayes: true})
	}
	return r
}

// Points map a spam probability to points of the score: PerLogOdds points for each
// unit of its log-odds, ln(p/(1-p)), within Min and Max. The rules' points are
// evidence added up the same way, so Bayes joins them on the scale they share
// (docs/accuracy.md measures the weight: a logistic fit of rules and Bayes on
// learned mail).
type Points struct {
	PerLogOdds float64
	Min, Max   float64
}

// For returns the points of a probability.
func (pt Points) For(p float64) float64 {
	const eps = 1e-12
	p = min(max(p, eps), 1-eps)
	return min(max(pt.PerLogOdds*math.Log(p/(1-p)), pt.Min), pt.Max)
}

// pending is a message waiting to be autolearned: parsed messages are immutable, so
// tokenizing can wait for the background goroutine.
type pending struct {
	msg  *scan.Message
	spam bool
	size int64 // its decoded text, counted against maxQueued until tokenized
	keys []Key // its tokens as the Bayes check read them; nil: tokenize it
}

// tokensKey is what the Bayes check remembers its tokens under (filter.Message.Remember).
type tokensKey struct{}

// autolearnQueueBytes bounds the decoded text waiting in the autolearn queue. A
// message keeps up to 4 MB of text, so a burst of large ones would otherwise let
// 1,000 queued messages take gigabytes of serve's memory.
const autolearnQueueBytes = 64 << 20

// Autolearner learns what the pipeline decided to autolearn, in the background so the
// SMTP answer never waits for it (tokenizing included). When its queue is full, in
// messages or in bytes, a message is not learned.
type Autolearner struct {
	bayes     *Bayes
	queue     chan pending
	queued    atomic.Int64 // bytes of text in the queue
	maxQueued int64
	log       logrus.FieldLogger
	done      chan struct{}
	linger    time.Duration // autolearnLinger; tests set 0
}

// NewAutolearner starts the background learner.
func NewAutolearner(b *Bayes, log logrus.FieldLogger) *Autolearner {
	a := newAutolearner(b, log)
	go a.run()
	return a
}

func newAutolearner(b *Bayes, log logrus.FieldLogger) *Autolearner {
	if log == nil {
		l := logrus.New()
		l.SetOutput(io.Discard)
		log = l
	}
	return &Autolearner{bayes: b, queue: make(chan pending, 1000), maxQueued: autolearnQueueBytes, log: log, done: make(chan struct{}), linger: autolearnLinger}
}

// Autolearn implements filter.Learner. A message the Bayes check was already sure of
// is not queued: Bayes.Learn would pass it over (Selector), after tokenizing it again.
func (a *Autolearner) Autolearn(m *filter.Message, spam bool, bayes *float64) {
	if bayes != nil && a.bayes.Params().Sure(*bayes, spam) {
		return
	}
	var size int64
	for _, part := range m.Parsed.Parts {
		size += int64(len(part.Text))
	}
	if a.queued.Add(size) > a.maxQueued {
		a.queued.Add(-size)
		a.log.WithField("bytes", size).Warn("bayes: autolearn queue full (bytes): message not learned")
		return
	}
	keys, _ := m.Recall(tokensKey{})
	ks, _ := keys.([]Key)
	select {
	case a.queue <- pending{m.Parsed, spam, size, ks}:
	default:
		a.queued.Add(-size)
		a.log.Warn("bayes: autolearn queue full: message not learned")
	}
}

// item tokenizes a queued message, which then no longer counts against the queue
// (also when tokenizing it panics).
func (a *Autolearner) item(p pending) Item {
	defer a.queued.Add(-p.size)
	if p.keys != nil {
		return Item{MsgID: MessageID(p.msg), Spam: p.spam, Keys: p.keys}
	}
	return ItemOf(p.msg, p.spam, a.bayes.Params())
}

func (a *Autolearner) run() {
	defer close(a.done)
	for p := range a.queue {
		a.learnBatch(p)
	}
}

// autolearnLinger is how long the autolearner waits for more messages after the
// first before it commits them together. A commit writes every page of the token
// table the batch's tokens touch, and one message's hundreds of tokens touch most
// of them: `go test ./score -bench LearnSmallBatches` gives 7 ms a message learned
// alone, 4.4 ms in fours, 2.3 ms in sixteens. Under load most autolearned messages
// came one to a commit. As SpamAssassin's bayes_learn_to_journal, learning is a
// little late; nothing waits for it, and Close learns what is queued at once.
const autolearnLinger = 5 * time.Second

// autolearnBatch is the most messages one commit learns.
const autolearnBatch = 100

// learnBatch learns first and what else comes within the linger, up to
// autolearnBatch messages. A panic in it (the tokenizer, the store) loses that
// batch, logged, not the daemon: every message was already answered, and without
// this goroutine nothing would be autolearned again.
func (a *Autolearner) learnBatch(first pending) {
	defer func() {
		if r := recover(); r != nil {
			a.log.WithField("panic", fmt.Sprint(r)).WithField("stack", string(debug.Stack())).
				Error("bayes: autolearn batch not learned: panic")
		}
	}()
	batch := []Item{a.item(first)}
	var linger <-chan time.Time // nil: take only what is queued already
	if a.linger > 0 {
		t := time.NewTimer(a.linger)
		defer t.Stop()
		linger = t.C
	}
more:
	for len(batch) < autolearnBatch {
		var p pending
		var ok bool
		if linger == nil {
			select {
			case p, ok = <-a.queue:
			default:
				break more
			}
		} else {
			select {
			case p, ok = <-a.queue:
			case <-linger:
				break more
			}
		}
		if !ok { // closed: Close waits for what was taken
			break more
		}
		batch = append(batch, a.item(p))
	}
	// Bounded: a database that stopped answering must not stall autolearning for
	// ever (what is queued meanwhile is dropped when the queue is full).
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := a.bayes.Learn(ctx, batch, false); err != nil {
		a.log.WithError(err).Error("bayes: autolearn failed")
	}
}

// Close learns what is queued and stops.
func (a *Autolearner) Close() {
	close(a.queue)
	<-a.done
}
