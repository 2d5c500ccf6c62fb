package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/postern/postern/filter"
	"github.com/postern/postern/internal/cpuclock"
	"github.com/postern/postern/scan"
	"github.com/postern/postern/score"
	"github.com/postern/postern/spool"
)

func runCheck(args []string) int {
	flags, c := newFlags("check", "check [--json] [--clues N] [--uris] [-c FILE] [PATH...]", `
Runs the same checks as 'serve' on message files and prints a report like
'spamassassin -t', or with --json one object per message per line:

  {"file","action","reason","spam","score","required","tests":[{"name","score"}],
   "virus","bayes","ms"}

("uris" too with --uris; null where a check is off). PATH may be a file or a directory, read recursively
(maildirs work); no PATH, or "-", reads standard input. An mbox file is checked
message by message, each reported as PATH#N (N from 1); a file with one message may
start with an mbox "From " line. 'check' never learns or writes anything.
Exit status: 0 when every message was checked, 1 when any could not be.`)
	asJSON := flags.Bool("json", false, "print one JSON object per message per line")
	clues := flags.Int("clues", 0, "also print the `N` strongest Bayes clues of each message: the tokens, their spam probability and how many learned spam and ham held them (report only)")
	uris := flags.Bool("uris", false, "also print the links uri rules read in each message, with the forms of each they match and the targets of redirector_pattern links, and the DKIM signing domains the URI host and block lists read too (as spamassassin -D uri lists them)")
	var extra stringList
	flags.Var(&extra, "rules", "also load this rule `PATH` (file or directory) for this run; repeatable")
	var ev envelopeFlags
	flags.StringVar(&ev.ip, "client-ip", "", "run the envelope checks too, for a client at this `ADDRESS` (block lists, lists, greylisting, read only)")
	flags.StringVar(&ev.name, "client-name", "unknown", "the client's verified host `NAME`")
	flags.StringVar(&ev.helo, "helo", "", "the client's HELO `NAME`")
	flags.StringVar(&ev.from, "from", "", "the envelope `SENDER`")
	flags.Var(&ev.rcpts, "rcpt", "an envelope `RECIPIENT`; repeatable")
	cpuProfile := flags.String("cpuprofile", "", "write a CPU profile of the run to `FILE` (go tool pprof)")
	memProfile := flags.String("memprofile", "", "after the last message, write a profile of the live heap to `FILE` (go tool pprof): what serve holds once warm")
	cpuReport := flags.Bool("cpu", false, "after the report, print on stderr the CPU time the process spent starting up (configuration, rules, stores) and on the messages (reading, checking, reporting them)")
	if code, stop := parse(flags, args); stop {
		return code
	}
	if *cpuProfile != "" {
		stop, err := startCPUProfile(*cpuProfile)
		if err != nil {
			return fail("%v", err)
		}
		defer stop()
	}
	cfg, err := c.load(flags)
	if err != nil {
		return fail("%v", err)
	}
	cfg.RulesPaths = append(cfg.RulesPaths, extra...)
	log := newLogger(cfg)
	if cfg.LogLevel != "debug" {
		log.SetLevel(logrus.WarnLevel) // a report on stdout; no start-up chatter
	}
	comp, err := build(cfg, false, log)
	if err != nil {
		return fail("%v", err)
	}
	defer comp.Close()
	startCPU := cpuclock.Self()
	p := comp.Current()
	var env *filter.Envelope
	if ev.ip != "" || len(ev.rcpts) > 0 || ev.from != "" || ev.helo != "" {
		if env, err = checkEnvelope(cfg, ev, comp, os.Stdout); err != nil {
			return fail("%v", err)
		}
	}
	paths := flags.Args()
	if len(paths) == 0 {
		paths = []string{"-"}
	}

	jobs := make(chan job)
	results := make(chan checked)
	go func() {
		defer close(jobs)
		n := 0
		eachMessage(paths, func(name string, raw []byte, err error) {
			jobs <- job{n, name, raw, err}
			n++
		})
	}()
	var wg sync.WaitGroup
	for i := 0; i < runtime.GOMAXPROCS(0); i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				r, data := checkOne(p, env, j)
				wantClues := *clues > 0 && !*asJSON && comp.Bayes != nil
				if (wantClues || *uris) && r.err == nil {
					// Parsed a second time: the pipeline keeps its parse to itself,
					// and only --clues and --uris need it.
					if m, err := scan.Parse(bytes.NewReader(data)); err == nil {
						if wantClues {
							r.clues = comp.Bayes.Explain(m, *clues)
						}
						if *uris {
							r.uris = comp.Rules.Set().URIs(m) // (with its redirector_pattern targets)
						}
					}
				}
				results <- r
			}
		}()
	}
	go func() { wg.Wait(); close(results) }()

	// Print in input order while checking in parallel.
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	pending := map[int]checked{}
	next, failed := 0, 0
	for r := range results {
		pending[r.n] = r
		for {
			r, ok := pending[next]
			if !ok {
				break
			}
			delete(pending, next)
			next++
			if r.err != nil || len(r.v.Errors) > 0 {
				failed++
			}
			logPanics(log, r)
			if *asJSON {
				writeJSON(out, r)
			} else {
				writeReport(out, r)
			}
		}
	}
	if *cpuReport {
		// Measured within the process, a benchmark's start-up is not the
		// difference of two processes' CPU, each a second or so and varying by a
		// tenth of that: more than a few hundred messages cost.
		out.Flush()
		msgCPU := cpuclock.Self() - startCPU
		fmt.Fprintf(os.Stderr, "postern: CPU: start-up %.1f ms, messages %.1f ms (%d messages, %.1f µs each)\n",
			filter.Millis(startCPU), filter.Millis(msgCPU), next, float64(msgCPU.Nanoseconds())/1000/float64(max(next, 1)))
	}
	if *memProfile != "" {
		if err := writeHeapProfile(*memProfile); err != nil {
			return fail("%v", err)
		}
	}
	// What the DFAs learned on many messages is kept for the next process, as
	// serve keeps it; check creates no data_dir, and one it cannot write to
	// only costs that.
	out.Flush()
	if err := comp.Automata.save(comp.Rules.Set()); err != nil {
		log.WithError(err).Debug("automata cache not written")
	}
	if failed > 0 {
		fmt.Fprintf(os.Stderr, "postern: %d message(s) could not be checked\n", failed)
		return 1
	}
	return 0
}

type job struct {
	n    int
	path string // the file, PATH#N for an mbox file's Nth message
	raw  []byte
	err  error // reading the file
}

type checked struct {
	n     int
	path  string
	v     filter.Verdict
	err   error
	clues []score.TokenClue // --clues
	uris  []string          // --uris
}

// checkOne runs the pipeline on one message; it also returns the message as checked
// (for --clues and --uris), which the result does not keep: results wait to be printed in order.
func checkOne(p *filter.Pipeline, env *filter.Envelope, j job) (checked, []byte) {
	r := checked{n: j.n, path: j.path}
	if r.err = j.err; j.err != nil {
		return r, nil
	}
	data := j.raw
	sp := spool.FromBytes(data)
	var e *filter.Envelope
	if env != nil {
		c := *env // Run must not share an envelope between goroutines
		e = &c
	}
	r.v = p.Run(context.Background(), e, sp, sp.Size(), filter.NewRef())
	return r, data
}

type jsonTest struct {
	Name  string  `json:"name"`
	Score float64 `json:"score"`
}

type jsonResult struct {
	File     string     `json:"file"`
	Action   string     `json:"action"`
	Reason   string     `json:"reason"`
	Spam     bool       `json:"spam"`
	Score    float64    `json:"score"`
	Required float64    `json:"required"`
	Settings string     `json:"settings,omitempty"` // the [recipients] entry that decided
	Tests    []jsonTest `json:"tests"`
	Virus    *string    `json:"virus"`
	Detail   string     `json:"detail,omitempty"`  // what a refusing check found (the quarantine's "Found")
	Skipped  []string   `json:"skipped,omitempty"` // what was not checked (X-Postern-Skipped)
	Bayes    *float64   `json:"bayes"`
	MS       float64    `json:"ms"`
	// Times are the parse's and each check's milliseconds (the checks overlap).
	Times map[string]float64 `json:"times,omitempty"`
	URIs  []string           `json:"uris,omitempty"`
	Error string             `json:"error,omitempty"`
}

func writeJSON(w io.Writer, r checked) {
	j := jsonResult{File: r.path, Tests: []jsonTest{}}
	if r.err != nil {
		j.Action, j.Reason, j.Error = "error", filter.ReasonError, r.err.Error()
	} else {
		v := r.v
		j.Action, j.Reason, j.Spam, j.Score, j.Required, j.Bayes = v.Action.String(), v.Reason, v.Spam, round1(v.Score), v.Required, v.Bayes
		j.Detail, j.Settings, j.Skipped = v.Detail, v.Settings, v.Skipped
		j.MS = filter.Millis(v.Duration)
		if len(v.Times) > 0 {
			j.Times = map[string]float64{}
			for _, t := range v.Times {
				j.Times[t.Step] = filter.Millis(t.Duration)
			}
		}
		for _, t := range v.Tests {
			j.Tests = append(j.Tests, jsonTest{t.Name, t.Score})
		}
		j.URIs = r.uris
		if v.Virus != "" {
			j.Virus = &v.Virus
		}
		if len(v.Errors) > 0 {
			j.Error = errorsText(v.Errors)
		}
	}
	b, _ := json.Marshal(j)
	w.Write(append(b, '\n'))
}

func writeReport(w io.Writer, r checked) {
	fmt.Fprintf(w, "%s\n", r.path)
	if r.err != nil {
		fmt.Fprintf(w, "  error: %v\n\n", r.err)
		return
	}
	v := r.v
	fmt.Fprintf(w, "Content analysis details:   (%.1f points, %.1f required)\n\n", v.Score, v.Required)
	fmt.Fprintf(w, " pts rule name              description\n")
	fmt.Fprintf(w, "---- ---------------------- --------------------------------------------------\n")
	for _, t := range v.Tests {
		fmt.Fprintf(w, "%4.1f %-22s %s\n", t.Score, t.Name, t.Description)
	}
	action := v.Action.String()
	if v.Action != filter.Accept {
		action += " (" + v.Reply.String() + ")"
	}
	fmt.Fprintf(w, "\nAction: %s; reason: %s; %s\n", action, v.Reason, v.Duration.Round(time.Microsecond))
	if v.Settings != "" {
		fmt.Fprintf(w, "Settings: [recipients.%q]\n", v.Settings)
	}
	if len(v.Times) > 0 {
		fmt.Fprintf(w, "Times (ms, the checks side by side): %s\n", v.TimesText())
	}
	if v.Bayes != nil {
		fmt.Fprintf(w, "Bayes: spam probability %.4f\n", *v.Bayes)
	}
	if len(r.clues) > 0 {
		fmt.Fprintf(w, "Bayes clues, strongest first (probability, learned spam/ham with it, token):\n")
		for _, c := range r.clues {
			fmt.Fprintf(w, "  %.4f %6d/%-6d %s\n", c.Prob, c.Counts.Spam, c.Counts.Ham, c.Token)
		}
	}
	if len(r.uris) > 0 {
		fmt.Fprintf(w, "Links uri rules read:\n")
		for _, u := range r.uris {
			fmt.Fprintf(w, "  %s\n", u)
		}
	}
	for _, n := range v.Notes {
		fmt.Fprintf(w, "Note: %s\n", n)
	}
	if len(v.Skipped) > 0 {
		fmt.Fprintf(w, "Not checked: %s\n", strings.Join(v.Skipped, ", "))
	}
	if len(v.Errors) > 0 {
		fmt.Fprintf(w, "Errors: %s\n", errorsText(v.Errors))
	}
	fmt.Fprintln(w)
}

// logPanics writes a recovered panic's whole text, its stack included, to the log:
// the report keeps each error's first line, and a panic is a bug whose stack is
// what its fix needs (serve logs it whole too).
func logPanics(log *logrus.Logger, r checked) {
	for _, e := range r.v.Errors {
		if errors.Is(e, filter.ErrPanic) {
			log.WithField("file", r.path).WithError(e).Error("check: recovered a panic")
		}
	}
}

func errorsText(errs []error) string {
	s := make([]string, len(errs))
	for i, e := range errs {
		s[i], _, _ = strings.Cut(e.Error(), "\n")
	}
	return strings.Join(s, "; ")
}

func round1(f float64) float64 {
	return float64(int64(f*10+0.5*sign(f))) / 10
}

func sign(f float64) float64 {
	if f < 0 {
		return -1
	}
	return 1
}

// writeHeapProfile writes what is live after a collection: the rules' lazily built
// DFA states, caches and databases that a warm serve holds too, without the garbage
// of the last messages.
func writeHeapProfile(file string) error {
	f, err := os.Create(file)
	if err != nil {
		return fmt.Errorf("heap profile: %w", err)
	}
	runtime.GC()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		f.Close()
		return fmt.Errorf("heap profile %s: %w", file, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("heap profile %s: %w", file, err)
	}
	return nil
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// startCPUProfile profiles the process into file until stop is called.
func startCPUProfile(file string) (stop func(), err error) {
	f, err := os.Create(file)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpu profile %s: %w", file, err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}
