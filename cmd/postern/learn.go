package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/postern/postern/config"
	"github.com/postern/postern/internal/mbox"
	"github.com/postern/postern/scan"
	"github.com/postern/postern/score"
)

func runLearn(args []string) int {
	fs, c := newFlags("learn", "learn --spam|--ham [--forget] [--all] PATH... | learn --spam-path PATH --ham-path PATH", `
Teaches the Bayesian classifier. PATH may be a message file, a directory (read
recursively; maildirs work) or an mbox file; "-" reads one message from standard
input. Learning a message twice is a no-op; learning it as the other class moves
its counts; --forget removes what it taught. The store is data_dir/bayes.db;
a running serve picks the changes up within bayes.refresh.

The best way to train a new store is one command with both classes:
  postern learn --spam-path spam/ --ham-path ham/
which mixes the two in a fixed random order and learns them as one stream: every
message until the cold start's minimum of each class (bayes.min_spam, min_ham) is
learned, then only those the classifier is not yet sure of (train on error:
more spam caught at the same ham loss, docs/accuracy.md). --spam-path and
--ham-path may be repeated.

With --spam or --ham, PATH... are all of one class. Into a store still in cold
start every message is learned, so that a first training with one command per
class is balanced. After that, a message the classifier already gives its class
with 1 - bayes.learn_margin certainty is passed over ("already sure" in the
summary): --all learns it anyway.`)
	spam := fs.Bool("spam", false, "learn the messages as spam")
	ham := fs.Bool("ham", false, "learn the messages as ham")
	var spamPaths, hamPaths stringList
	fs.Var(&spamPaths, "spam-path", "learn the messages in `PATH` as spam, mixed with --ham-path's; repeatable")
	fs.Var(&hamPaths, "ham-path", "learn the messages in `PATH` as ham, mixed with --spam-path's; repeatable")
	forget := fs.Bool("forget", false, "forget the messages instead")
	all := fs.Bool("all", false, "learn every message, also those the classifier is already sure of")
	if code, stop := parse(fs, args); stop {
		return code
	}
	mixed := len(spamPaths)+len(hamPaths) > 0
	switch {
	case mixed && (*spam || *ham || *forget || fs.NArg() > 0):
		return fail("learn: --spam-path and --ham-path take the paths themselves: give no --spam, --ham, --forget or other PATH with them")
	case !mixed && *spam == *ham && !*forget:
		return fail("learn: give exactly one of --spam and --ham (or --forget), or --spam-path and --ham-path")
	case !mixed && fs.NArg() == 0:
		return fail("learn: no PATH")
	}
	cfg, err := c.load(fs)
	if err != nil {
		return fail("%v", err)
	}
	store, err := openBayesStore(cfg)
	if err != nil {
		return fail("%v", err)
	}
	defer store.Close()
	params := bayesParams(cfg)
	var files []labelled
	if mixed {
		files = mix(collect(spamPaths), collect(hamPaths))
	} else {
		for _, f := range collect(fs.Args()) {
			files = append(files, labelled{f, *spam})
		}
	}
	learner, err := chooseLearner(store, params, *all || *forget, mixed)
	if err != nil {
		return fail("%v", err)
	}
	if _, whole := learner.(bayesStore); whole && !mixed && !*all && !*forget {
		// One class into a store in cold start learns every message: a new store
		// trained by two such commands is surer than it should be, and has had
		// ham refused (docs/bayes.md).
		fmt.Fprintln(os.Stderr, "postern: warning: the store is in cold start, so every message is learned; to train a new store, give both classes in one command: postern learn --spam-path SPAM --ham-path HAM (docs/bayes.md)")
	}

	var bar *progressbar.ProgressBar
	if fi, err := os.Stderr.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 && len(files) > 1 {
		bar = progressbar.NewOptions(len(files), progressbar.OptionSetWriter(os.Stderr),
			progressbar.OptionSetDescription("learning"), progressbar.OptionShowCount(), progressbar.OptionThrottle(100*time.Millisecond))
	}
	sum, err := learnFiles(learner, params, files, *forget, func() {
		if bar != nil {
			bar.Add(1)
		}
	})
	if bar != nil {
		bar.Finish()
		fmt.Fprintln(os.Stderr)
	}
	fmt.Println(sum)
	if err != nil {
		return fail("%v", err)
	}
	if sum.unparsable > 0 {
		return 1
	}
	return 0
}

// labelled is a file to learn and its class.
type labelled struct {
	path string
	spam bool
}

// mix deals spam and ham files into one stream in a fixed pseudo-random order, so
// that learning on error sees both classes from the start, as mail arrives. The
// order depends only on the lists, so the same command learns the same way
// (learnFiles keeps it).
func mix(spam, ham []string) []labelled {
	out := make([]labelled, 0, len(spam)+len(ham))
	for _, f := range spam {
		out = append(out, labelled{f, true})
	}
	for _, f := range ham {
		out = append(out, labelled{f, false})
	}
	rng := rand.New(rand.NewSource(1))
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// learner is what learnFiles teaches: the store alone, or the classifier (store and
// model) when it chooses what to learn.
type learner interface {
	Learn(ctx context.Context, items []score.Item, forget bool) ([]score.Outcome, error)
}

// chooseLearner returns the store itself when every message is to be learned (all,
// a margin of 0, or a store in cold start), and otherwise the classifier loaded
// from it, which passes over what it is already sure of. A store in cold start
// learns everything so that "learn --spam DIR" then "learn --ham DIR" into a new
// store learns both whole: choosing on the second run against a model of nothing
// but spam would keep little ham and skew it.
//
// A mixed stream (--spam-path with --ham-path) is chosen from even in cold start:
// the classifier learns everything until it has its minimum of each class
// (Selector), then only what it is not sure of.
func chooseLearner(store bayesStore, p score.Params, all, mixed bool) (learner, error) {
	if all || p.LearnMargin <= 0 {
		return store, nil
	}
	// The model is needed out of cold start, and small in it: load it and ask it,
	// rather than count the store's tokens and messages first (Stats).
	b, err := score.Open(context.Background(), store, p)
	if err != nil {
		return nil, err
	}
	if b.ColdStart() != "" && !mixed {
		return store, nil
	}
	return b, nil
}

type learnSummary struct {
	learned, relearned, known, sure, forgotten, unknown, unparsable int
	elapsed                                                         time.Duration
}

func (s learnSummary) String() string {
	total := s.learned + s.relearned + s.known + s.sure + s.forgotten + s.unknown
	rate := float64(total) / max(s.elapsed.Seconds(), 1e-9)
	return fmt.Sprintf("learned %d, relearned %d, already known %d, already sure %d, forgotten %d, never learned %d, unparsable %d (%.0f messages/s)",
		s.learned, s.relearned, s.known, s.sure, s.forgotten, s.unknown, s.unparsable, rate)
}

// collect expands paths into files, skipping dot files (maildir's, the corpus').
func collect(paths []string) []string {
	var out []string
	walkMessages(paths, func(f string) { out = append(out, f) }) // (unreadable ones count as unparsable)
	return out
}

// learnFiles tokenizes files in parallel (as p says: its Trigrams) and learns them in
// batches, in the order of files: learning on error depends on what was learned
// before, so the same command must learn in the same order however the workers
// run (they once handed their results on as each finished, and two runs of one
// command trained different classifiers).
func learnFiles(store learner, p score.Params, files []labelled, forget bool, tick func()) (learnSummary, error) {
	start := time.Now()
	var sum learnSummary
	type result struct {
		i     int
		batch []score.Item
	}
	results := make(chan result, 64)
	var mu sync.Mutex
	type job struct {
		i int
		labelled
	}
	jobs := make(chan job)
	failed := make(chan struct{}) // closed when the store fails: read no more files
	// At most reorderWindow files are read ahead of the first one not yet passed
	// on, so the results waiting for it stay bounded.
	const reorderWindow = 256
	window := make(chan struct{}, reorderWindow)
	var wg sync.WaitGroup
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for f := range jobs {
				msgs, err := readMessages(f.path)
				var batch []score.Item
				for _, raw := range msgs {
					m, perr := scan.Parse(bytes.NewReader(raw))
					if perr != nil || (len(m.Parts) == 0 && m.Header.Len() == 0) {
						mu.Lock()
						sum.unparsable++
						mu.Unlock()
						continue
					}
					batch = append(batch, score.ItemOf(m, f.spam, p))
				}
				if err != nil {
					mu.Lock()
					sum.unparsable++
					mu.Unlock()
					fmt.Fprintf(os.Stderr, "postern: %v\n", err)
				}
				results <- result{f.i, batch}
				tick()
			}
		}()
	}
	go func() {
	feed:
		for i, f := range files {
			select {
			case window <- struct{}{}:
			case <-failed:
				break feed
			}
			select {
			case jobs <- job{i, f}:
			case <-failed:
				break feed
			}
		}
		close(jobs)
		wg.Wait()
		close(results)
	}()
	// Results in the order of files.
	items := make(chan []score.Item, 64)
	go func() {
		waiting := map[int][]score.Item{}
		next := 0
		for r := range results {
			waiting[r.i] = r.batch
			for b, ok := waiting[next]; ok; b, ok = waiting[next] {
				delete(waiting, next)
				next++
				<-window
				items <- b
			}
		}
		close(items)
	}()
	// The store learns a batch while the workers parse and tokenize the next: with
	// one goroutine doing both in turn, the workers stood idle through each write.
	batches := make(chan []score.Item, 1)
	var learnErr error
	learned := make(chan struct{})
	go func() {
		defer close(learned)
		for batch := range batches {
			if learnErr == nil {
				if learnErr = learnBatch(store, batch, forget, &sum, &mu); learnErr != nil {
					close(failed)
				}
			}
		}
	}()
	var pending []score.Item
	for batch := range items {
		pending = append(pending, batch...)
		if len(pending) >= 500 {
			batches <- pending
			pending = nil
		}
	}
	if len(pending) > 0 {
		batches <- pending
	}
	close(batches)
	<-learned
	sum.elapsed = time.Since(start)
	return sum, learnErr
}

// learnBatch learns one batch and adds its outcomes to sum.
func learnBatch(store learner, batch []score.Item, forget bool, sum *learnSummary, mu *sync.Mutex) error {
	ctx, cancel := dbContext()
	out, err := store.Learn(ctx, batch, forget)
	cancel()
	if err != nil {
		return err
	}
	mu.Lock()
	defer mu.Unlock()
	for _, o := range out {
		switch o {
		case score.Learned:
			sum.learned++
		case score.Relearned:
			sum.relearned++
		case score.Known:
			sum.known++
		case score.Sure:
			sum.sure++
		case score.Forgotten:
			sum.forgotten++
		case score.Unknown:
			sum.unknown++
		}
	}
	return nil
}

// readMessages reads a file as one message, or as several when it is an mbox. A
// leading mbox "From " line is not part of a message.
func readMessages(path string) ([][]byte, error) {
	data, err := readInput(path)
	if err != nil {
		return nil, fmt.Errorf("learn: %w", err)
	}
	return mbox.Split(data), nil
}

func runBayes(args []string) int {
	fs, c := newFlags("bayes", "bayes stats | export FILE | import FILE", `
stats          what the classifier has learned, and whether it is still in cold start
export FILE    write the whole store in a text format (docs/bayes.md), "-" for stdout
import FILE    replace the store's contents with an export (for backups and moving
               between stores); on any error the store is unchanged`)
	if code, stop := parse(fs, args); stop {
		return code
	}
	cfg, err := c.load(fs)
	if err != nil {
		return fail("%v", err)
	}
	path := storeAt(cfg, score.FileName)
	ctx := context.Background()
	noStore := func() bool { return !storeExists(cfg, score.FileName) }
	switch fs.Arg(0) {
	case "stats":
		if noStore() {
			return fail("no Bayes store at %s: nothing learned yet (postern learn)", path)
		}
		return bayesStats(ctx, cfg, path)
	case "export":
		if fs.NArg() != 2 {
			return fail("bayes export: want FILE")
		}
		if noStore() {
			return fail("no Bayes store at %s: nothing to export", path)
		}
		store, err := openBayesStore(cfg)
		if err != nil {
			return fail("%v", err)
		}
		defer store.Close()
		w := os.Stdout
		if f := fs.Arg(1); f != "-" {
			out, err := os.OpenFile(f, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
			if err != nil {
				return fail("bayes export: %v", err)
			}
			defer out.Close()
			w = out
		}
		if err := store.Export(ctx, w); err != nil {
			return fail("%v", err)
		}
		return 0
	case "import":
		if fs.NArg() != 2 {
			return fail("bayes import: want FILE")
		}
		in, err := os.Open(fs.Arg(1))
		if err != nil {
			return fail("bayes import: %v", err)
		}
		defer in.Close()
		store, err := openBayesStore(cfg)
		if err != nil {
			return fail("%v", err)
		}
		defer store.Close()
		if err := store.Import(ctx, in); err != nil {
			return fail("%v", err)
		}
		fmt.Printf("imported %s into %s\n", fs.Arg(1), path)
		return 0
	}
	fs.Usage()
	return 2
}

func bayesStats(ctx context.Context, cfg config.Config, path string) int {
	store, err := openBayesStore(cfg)
	if err != nil {
		return fail("%v", err)
	}
	defer store.Close()
	st, err := store.Stats(ctx)
	if err != nil {
		return fail("%v", err)
	}
	fmt.Printf("store:    %s (%.1f MiB)\n", path, float64(st.SizeBytes)/(1<<20))
	fmt.Printf("learned:  %d spam, %d ham (%d message ids)\n", st.Spam, st.Ham, st.Learned)
	fmt.Printf("tokens:   %d (expiry above %d)\n", st.Tokens, cfg.Bayes.MaxTokens)
	fmt.Printf("trigrams: %s in the store; bayes.trigrams = %v\n", map[bool]string{true: "yes", false: "none"}[st.Trigrams], cfg.Bayes.Trigrams)
	if w := score.TrigramMismatch(st.Spam+st.Ham, st.Trigrams, bayesParams(cfg)); w != "" {
		fmt.Printf("warning:  %s\n", strings.TrimPrefix(w, "bayes: "))
	}
	if st.Spam < int64(cfg.Bayes.MinSpam) || st.Ham < int64(cfg.Bayes.MinHam) {
		fmt.Printf("status:   COLD START: Bayes adds no score until %d spam and %d ham are learned\n", cfg.Bayes.MinSpam, cfg.Bayes.MinHam)
	} else {
		fmt.Println("status:   ready: BAYES_xx rules are scored")
	}
	return 0
}
