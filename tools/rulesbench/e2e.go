package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	mboxfmt "github.com/postern/postern/internal/mbox"
	"github.com/postern/postern/rules"
)

// endToEnd is issue 16's comparison with SpamAssassin: the whole check, `postern
// check` with its defaults (its parse, the stock and default rules, Bayes), against
// `spamassassin -L --mbox` on the same messages, each on one core. Both are timed by
// their CPU (user + system), not the wall clock, less their start-up: SpamAssassin's
// measured apart, on one tiny message; postern's by the process itself (check
// --cpu), since its messages cost less than the wobble between two processes'
// start-ups. Postern is also timed warm, as a daemon that has run a while (see the
// cases). Twice: with Bayes off on both sides, and with both trained on the
// same 200 spam and 200 ham (saDB is SpamAssassin's database, trained by
// trainSpamAssassin). Side by side (sideBySide), postern runs while SpamAssassin
// runs, on the other core, again and again until it has ended: the two then meet
// the same machine, whose speed drifts by a fifth within minutes on these hosts.
// In turns (inTurnsWith), the same, but the two never run at once (turns).
//
// The automata cache a cached run starts from is what a check of the warm-up
// messages wrote, and with cacheEach > 0 that of as many more spam and ham
// besides them (as a daemon's cache after more mail).
func endToEnd(bin string, msgs [][]byte, dir string, n int, saDB string, how timing, cacheEach int) error {
	tmp, err := os.MkdirTemp("", "rulesbench-e2e-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	msgDir := filepath.Join(tmp, "msgs")
	if err := os.Mkdir(msgDir, 0o755); err != nil {
		return err
	}
	var mbox bytes.Buffer
	for i, m := range msgs {
		if err := os.WriteFile(filepath.Join(msgDir, fmt.Sprintf("%04d.eml", i)), m, 0o644); err != nil {
			return err
		}
		mboxfmt.Append(&mbox, i, m)
	}
	// SpamAssassin's start-up is a run on one tiny message: it stops before it
	// loads its rules when given none.
	tinyMsg := []byte("From: a@example.com\nSubject: start-up\n\nhi\n")
	var tinyMbox bytes.Buffer
	mboxfmt.Append(&tinyMbox, 0, tinyMsg)
	off := filepath.Join(tmp, "bayes-off.toml")
	if err := os.WriteFile(off, []byte("[bayes]\nenabled = false\n"), 0o644); err != nil {
		return err
	}
	onData := filepath.Join(tmp, "data-on")
	warmDir := filepath.Join(tmp, "warm")
	cacheDir := filepath.Join(tmp, "cache")
	for _, d := range []string{warmDir, cacheDir} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return err
		}
	}
	for sub, flag := range map[string]string{"spamassassin/spam": "--spam", "spamassassin/ham": "--ham"} {
		names := shuffled(filepath.Join(dir, sub))
		// Trained on the same 200 as SpamAssassin (trainSpamAssassin's); warmed
		// on the next warmEach, neither sampled nor learned.
		args := append([]string{"learn", "-c", "/dev/null", "--data-dir", onData, flag}, names[n/2:n/2+200]...)
		if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
			return fmt.Errorf("postern learn: %v: %s", err, out)
		}
		if len(names) < n/2+200+warmEach {
			return fmt.Errorf("%s: too few messages to warm up on", sub)
		}
		from := n/2 + 200 + warmEach
		if err := errors.Join(linkAll(warmDir, names[n/2+200:from]), linkAll(cacheDir, names[from:min(from+cacheEach, len(names))])); err != nil {
			return err
		}
	}
	cases := []struct {
		name      string
		cfg, data string
		saBayes   []string
		// postern is a new process's CPU for the messages, coldClock the same
		// messages by the checks' own clock; warm that clock for them after
		// 2×warmEach other messages in the same process, when the rules' DFAs
		// have the states such mail needs and every rule has been compiled, as in
		// a daemon that has run a while.
		postern, coldClock, warm, spam time.Duration
		// cached is a new process's CPU for the messages with the rules'
		// automata cache (automata.cache) that a check of the warm-up messages
		// wrote, as a restarted daemon or a later check finds it.
		cached time.Duration
		runs   int // postern's, side by side with SpamAssassin's
	}{
		{name: "Bayes off", cfg: off, data: filepath.Join(tmp, "data-off"), saBayes: []string{"--cf=use_bayes 0"}},
		{name: "Bayes on, trained", cfg: "/dev/null", data: onData,
			saBayes: []string{"--cf=use_bayes 1", "--cf=bayes_path " + saDB, "--cf=bayes_auto_learn 0"}},
	}
	for i := range cases {
		c := &cases[i]
		var tr turns
		saRuns, posternRuns := plainRun, plainRun
		if how == inTurnsWith {
			saRuns = func(cmd *exec.Cmd) error { return tr.run(0, cmd) }
			posternRuns = func(cmd *exec.Cmd) error { return tr.run(1, cmd) }
		}
		// check is a postern check of paths: the CPU its messages took, and the
		// checks' own clock for the sample's messages.
		check := func(paths ...string) (cpu, ms time.Duration, err error) {
			cmd := exec.Command(bin, append([]string{"check", "--json", "--cpu", "-c", c.cfg, "--data-dir", c.data}, paths...)...)
			cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
			return checkCPU(posternRuns, cmd, msgDir)
		}
		// Postern's runs are a second or two, SpamAssassin's a minute, and the
		// machine's speed drifts within minutes: postern is timed before and after
		// SpamAssassin, the median of three runs each time, and the two averaged.
		//
		// A warm process's cost for the sample cannot be a difference of two
		// processes' CPU (the 600 others' run is twice the sample's, and varies by
		// more than the sample costs); it is the checks' own clock, the sum of the
		// sample's "ms" (with GOMAXPROCS=1 check runs one message at a time, so a
		// message's time is its CPU, the collector's share included). The first
		// pass is given both ways, which shows what that clock leaves out (reading
		// the files, printing the report).
		//
		// timePostern runs the two checks three times, and on while more says
		// so: the medians, and how many runs.
		//
		// Every check but the cached one starts without the automata cache
		// (each check writes it, for the next).
		cache := filepath.Join(c.data, rules.AutomataFile)
		if err := os.MkdirAll(c.data, 0o755); err != nil {
			return err
		}
		if _, _, err := check(warmDir, cacheDir); err != nil {
			return fmt.Errorf("postern check (%s, the automata cache): %w", c.name, err)
		}
		cached, err := os.ReadFile(cache)
		if err != nil {
			return fmt.Errorf("postern check wrote no automata cache (%s): %w", c.name, err)
		}
		dropCache := func() error {
			if err := os.Remove(cache); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
			return nil
		}
		timePostern := func(more func() bool) (cold, coldClock, warm, withCached time.Duration, runs int, err error) {
			var cpus, colds, warms, caches []time.Duration
			for len(cpus) < 3 || more() {
				err0 := dropCache()
				cpu, ms, err1 := check(msgDir)
				var wms time.Duration
				var err2, err3 error
				if how != inTurnsWith { // (in turns the checks' clock counts the time stopped: no warm figure)
					err2 = dropCache()
					_, wms, err3 = check(warmDir, msgDir)
				}
				err4 := os.WriteFile(cache, cached, 0o600)
				ccpu, _, err5 := check(msgDir)
				if err := errors.Join(err0, err1, err2, err3, err4, err5); err != nil {
					return 0, 0, 0, 0, 0, fmt.Errorf("postern check (%s): %w", c.name, err)
				}
				cpus, colds, warms, caches = append(cpus, cpu), append(colds, ms), append(warms, wms), append(caches, ccpu)
			}
			return median(cpus), median(colds), median(warms), median(caches), len(cpus), nil
		}
		sa := func(in []byte) (time.Duration, error) {
			cmd := exec.Command("spamassassin", append([]string{"-L", "--mbox"}, c.saBayes...)...)
			cmd.Stdin = bytes.NewReader(in)
			return cpuOf(saRuns, cmd)
		}
		// saRun is SpamAssassin's run (a minute) less its start-up, the median
		// of three runs on the tiny message.
		saRun := func(run time.Duration, err error) (time.Duration, error) {
			var starts []time.Duration
			for range 3 {
				start, serr := sa(tinyMbox.Bytes())
				err = errors.Join(err, serr)
				starts = append(starts, start)
			}
			if err != nil {
				return 0, fmt.Errorf("spamassassin (%s): %w", c.name, err)
			}
			return run - median(starts), nil
		}
		never := func() bool { return false }
		if how != sequential {
			// SpamAssassin's run, and postern's, over and over, in the same
			// minute: the machine's drift within minutes then touches both
			// alike (the median of postern's runs). Side by side, on the two
			// cores at once; in turns, each stopped while the other runs.
			type result struct {
				cpu time.Duration
				err error
			}
			done := make(chan result, 1)
			saEnded := make(chan struct{})
			if how == inTurnsWith {
				tr.start() // (SpamAssassin's turn first)
				go tr.alternate(turnSlice, saEnded)
				// A failed check returns before SpamAssassin's run ends,
				// which must not then stay stopped.
				defer tr.end()
			}
			go func() {
				cpu, err := sa(mbox.Bytes())
				close(saEnded)
				done <- result{cpu, err}
			}()
			var res *result
			running := func() bool {
				if res == nil {
					select {
					case r := <-done:
						res = &r
					default:
					}
				}
				return res == nil
			}
			var err error // (timePostern returns once running says SpamAssassin's run has ended)
			if c.postern, c.coldClock, c.warm, c.cached, c.runs, err = timePostern(running); err != nil {
				return err
			}
			if c.spam, err = saRun(res.cpu, res.err); err != nil {
				return err
			}
			continue
		}
		cold1, coldClock1, warm1, cached1, _, err := timePostern(never)
		if err != nil {
			return err
		}
		if c.spam, err = saRun(sa(mbox.Bytes())); err != nil {
			return err
		}
		cold2, coldClock2, warm2, cached2, _, err := timePostern(never)
		if err != nil {
			return err
		}
		c.postern, c.coldClock, c.warm, c.cached = (cold1+cold2)/2, (coldClock1+coldClock2)/2, (warm1+warm2)/2, (cached1+cached2)/2
	}
	said := map[timing]string{
		sequential:  "postern timed before and after SpamAssassin",
		sideBySide:  "side by side: postern's runs on the other core while SpamAssassin's ran, their median",
		inTurnsWith: "in turns: postern's runs while SpamAssassin's ran, each stopped while the other ran, their median",
	}[how]
	cacheFrom, _ := os.ReadDir(cacheDir)
	fmt.Printf("end to end, one core, a message (%d messages): CPU less start-up; postern's checks by their own clock, in a new process and after %d others; %s\n", len(msgs), 2*warmEach, said)
	for _, c := range cases {
		n := time.Duration(len(msgs))
		p, pm, w, cc, s := c.postern/n, c.coldClock/n, c.warm/n, c.cached/n, c.spam/n
		runs := ""
		if how != sequential {
			runs = fmt.Sprintf(" (%d runs)", c.runs)
		}
		checks := fmt.Sprintf("checks %5.0f µs new, %5.0f µs warm (%4.1f×)", us(pm), us(w), float64(s)/float64(w))
		if how == inTurnsWith {
			checks = "warm not timed in turns" // (see timePostern)
		}
		fmt.Printf("  %-18s spamassassin -L %6.0f µs; postern check %5.0f µs (%4.1f×), with the automata cache of %d others %5.0f µs (%4.1f×); %s%s\n",
			c.name, us(s), us(p), float64(s)/float64(p), 2*warmEach+len(cacheFrom), us(cc), float64(s)/float64(cc), checks, runs)
	}
	return nil
}

// timing is how postern's checks and SpamAssassin's run share the machine.
type timing int

const (
	sequential  timing = iota // postern before and after SpamAssassin
	sideBySide                // at once, on the two cores
	inTurnsWith               // in the same minutes, never at once (turns)
)

// turnSlice is how long a turn lasts: long beside a process's cache warming,
// short beside SpamAssassin's run (a minute or more).
const turnSlice = time.Second

// runner runs a command to its end.
type runner func(*exec.Cmd) error

func plainRun(cmd *exec.Cmd) error { return cmd.Run() }

// linkAll links each file into dir, named by its folder and its name (the
// corpus' spam and ham folders reuse names).
func linkAll(dir string, files []string) error {
	for _, f := range files {
		if err := os.Symlink(f, filepath.Join(dir, filepath.Base(filepath.Dir(f))+"-"+filepath.Base(f))); err != nil {
			return err
		}
	}
	return nil
}

// warmEach is how many spam and how many ham a warm process checks first.
const warmEach = 300

func us(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1000 }

func median(ds []time.Duration) time.Duration {
	slices.Sort(ds)
	return ds[len(ds)/2]
}

// checkCPU runs a postern check --json --cpu, and returns the CPU time its
// messages took, by its own account (on stderr), and the sum of the "ms" of the
// messages under dir.
func checkCPU(run runner, cmd *exec.Cmd, dir string) (cpu, ms time.Duration, err error) {
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := run(cmd); err != nil {
		return 0, 0, fmt.Errorf("%v: %s", err, stderr.Bytes())
	}
	m := checkCPULine.FindSubmatch(stderr.Bytes())
	if m == nil {
		return 0, 0, fmt.Errorf("postern check --cpu printed no CPU line: %q", stderr.Bytes())
	}
	msgMS, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		return 0, 0, err
	}
	cpu = time.Duration(msgMS * float64(time.Millisecond))
	for _, line := range bytes.Split(out.Bytes(), []byte("\n")) {
		var r struct {
			File string
			MS   float64
		}
		if len(line) == 0 {
			continue
		}
		if err := json.Unmarshal(line, &r); err != nil {
			return 0, 0, fmt.Errorf("postern check's report: %w", err)
		}
		if strings.HasPrefix(r.File, dir+string(filepath.Separator)) {
			ms += time.Duration(r.MS * float64(time.Millisecond))
		}
	}
	return cpu, ms, nil
}

// checkCPULine is check --cpu's account: "postern: CPU: start-up S ms, messages M
// ms (...)".
var checkCPULine = regexp.MustCompile(`(?m)^postern: CPU: start-up [0-9.]+ ms, messages ([0-9.]+) ms `)

// cpuOf runs cmd (its output discarded unless cmd has a Stdout) and returns its user and system time.
func cpuOf(run runner, cmd *exec.Cmd) (time.Duration, error) {
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := run(cmd); err != nil {
		return 0, fmt.Errorf("%v: %s", err, stderr.Bytes())
	}
	return cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(), nil
}
