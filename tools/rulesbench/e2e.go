package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"time"

	mboxfmt "github.com/postern/postern/internal/mbox"
)

// endToEnd is issue 16's comparison with SpamAssassin: the whole check, `postern
// check` with its defaults (its parse, the stock and default rules, Bayes), against
// `spamassassin -L --mbox` on the same messages, each on one core. Both are timed by
// their CPU (user + system), not the wall clock, and less their start-up (measured
// apart, on one tiny message), so that the figure is a message's cost to a running daemon.
// Twice: with Bayes off on both sides, and with both trained on the same 200 spam and
// 200 ham (saDB is SpamAssassin's database, trained by trainSpamAssassin).
func endToEnd(bin string, msgs [][]byte, dir string, n int, saDB string) error {
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
	// Start-up is a run on one tiny message: spamassassin stops before it loads its
	// rules when given none.
	tinyMsg := []byte("From: a@example.com\nSubject: start-up\n\nhi\n")
	tiny := filepath.Join(tmp, "tiny.eml")
	if err := os.WriteFile(tiny, tinyMsg, 0o644); err != nil {
		return err
	}
	var tinyMbox bytes.Buffer
	mboxfmt.Append(&tinyMbox, 0, tinyMsg)
	off := filepath.Join(tmp, "bayes-off.toml")
	if err := os.WriteFile(off, []byte("[bayes]\nenabled = false\n"), 0o644); err != nil {
		return err
	}
	onData := filepath.Join(tmp, "data-on")
	for sub, flag := range map[string]string{"spamassassin/spam": "--spam", "spamassassin/ham": "--ham"} {
		names := shuffled(filepath.Join(dir, sub))
		args := append([]string{"learn", "-c", "/dev/null", "--data-dir", onData, flag}, names[n/2:n/2+200]...)
		if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
			return fmt.Errorf("postern learn: %v: %s", err, out)
		}
	}
	cases := []struct {
		name      string
		cfg, data string
		saBayes   []string
		// postern is its first pass over the messages; warm a second pass in the
		// same process, when the rules' DFAs have the states the messages need, as
		// in a daemon that has run a while.
		postern, warm, spam time.Duration
	}{
		{name: "Bayes off", cfg: off, data: filepath.Join(tmp, "data-off"), saBayes: []string{"--cf=use_bayes 0"}},
		{name: "Bayes on, trained", cfg: "/dev/null", data: onData,
			saBayes: []string{"--cf=use_bayes 1", "--cf=bayes_path " + saDB, "--cf=bayes_auto_learn 0"}},
	}
	for i := range cases {
		c := &cases[i]
		check := func(paths ...string) func() *exec.Cmd {
			return func() *exec.Cmd {
				cmd := exec.Command(bin, append([]string{"check", "--json", "-c", c.cfg, "--data-dir", c.data}, paths...)...)
				cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
				return cmd
			}
		}
		// The median of three runs each: a run over 300 messages is about a second,
		// the machine's speed drifts within minutes.
		if c.postern, err = medianLess(3, check(msgDir), check(tiny)); err != nil {
			return fmt.Errorf("postern check (%s): %w", c.name, err)
		}
		if c.warm, err = medianLess(3, check(msgDir, msgDir), check(msgDir)); err != nil {
			return fmt.Errorf("postern check (%s): %w", c.name, err)
		}
		sa := func(in []byte) func() *exec.Cmd {
			return func() *exec.Cmd {
				cmd := exec.Command("spamassassin", append([]string{"-L", "--mbox"}, c.saBayes...)...)
				cmd.Stdin = bytes.NewReader(in)
				return cmd
			}
		}
		// SpamAssassin's run is a minute: once, its start-up three times.
		if c.spam, err = medianLess(1, sa(mbox.Bytes()), sa(tinyMbox.Bytes())); err != nil {
			return fmt.Errorf("spamassassin (%s): %w", c.name, err)
		}
	}
	fmt.Printf("end to end, one core, CPU a message less start-up (%d messages; warm: a second pass in the same process):\n", len(msgs))
	for _, c := range cases {
		n := time.Duration(len(msgs))
		p, w, s := c.postern/n, c.warm/n, c.spam/n
		fmt.Printf("  %-18s spamassassin -L %6.0f µs; postern check %5.0f µs (%4.1f×), warm %5.0f µs (%4.1f×)\n",
			c.name, us(s), us(p), float64(s)/float64(p), us(w), float64(s)/float64(w))
	}
	return nil
}

// medianLess runs run (and start, the same with less work) times times each, in
// turn (start at least three times), and returns the median CPU time of run
// less the median of start.
func medianLess(times int, run, start func() *exec.Cmd) (time.Duration, error) {
	var runs, starts []time.Duration
	for i := 0; i < times || len(starts) < 3; i++ {
		if i < times {
			d, err := cpuOf(run())
			if err != nil {
				return 0, err
			}
			runs = append(runs, d)
		}
		d, err := cpuOf(start())
		if err != nil {
			return 0, err
		}
		starts = append(starts, d)
	}
	return median(runs) - median(starts), nil
}

func us(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1000 }

func median(ds []time.Duration) time.Duration {
	slices.Sort(ds)
	return ds[len(ds)/2]
}

// cpuOf runs cmd, its output discarded, and returns its user and system time.
func cpuOf(cmd *exec.Cmd) (time.Duration, error) {
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return 0, fmt.Errorf("%v: %s", err, stderr.Bytes())
	}
	return cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(), nil
}
