package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/postern/postern/internal/corpus"
)

// postern runs the postern binary as an operator does.
type postern struct {
	bin, config, work string
}

func (p *postern) args(dataDir string, args ...string) []string {
	out := []string{args[0]}
	if p.config != "" {
		out = append(out, "-c", p.config)
	}
	return append(append(out, "--data-dir", dataDir), args[1:]...)
}

// exec runs postern and returns its standard output and the CPU it used.
func (p *postern) exec(dataDir string, args ...string) ([]byte, time.Duration, error) {
	cmd := exec.Command(p.bin, p.args(dataDir, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var cpu time.Duration
	if cmd.ProcessState != nil {
		cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	if err != nil {
		// check exits 1 when some message could not be checked: each one says so in
		// its JSON line, and counts as not flagged.
		if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() == 1 && args[0] == "check" && len(out) > 0 {
			return out, cpu, nil
		}
		return nil, cpu, fmt.Errorf("postern %s: %w: %s", args[0], err, stderr.Bytes())
	}
	return out, cpu, nil
}

// startup is the CPU of a check of one small message with the store in dataDir:
// what every run pays once (the rules compiled, the model loaded).
func (p *postern) startup(dataDir string) (time.Duration, error) {
	msg := filepath.Join(p.work, "startup.eml")
	if err := os.WriteFile(msg, []byte("From: a@example.org\nTo: b@example.org\nSubject: hello\n\nhello\n"), 0o644); err != nil {
		return 0, err
	}
	best := time.Duration(math.MaxInt64)
	for i := 0; i < 3; i++ {
		_, cpu, err := p.exec(dataDir, "check", "--json", msg)
		if err != nil {
			return 0, err
		}
		best = min(best, cpu)
	}
	return best, nil
}

// cold checks every message of the folds run with nothing learned.
func (p *postern) cold(list []corpus.Sample, runFolds int) (*run, error) {
	var files []string
	for _, s := range list {
		if s.Fold < runFolds {
			files = append(files, s.Path)
		}
	}
	r := &run{name: "Postern, untrained", results: map[int]result{}}
	if err := p.check(filepath.Join(p.work, "cold"), files, list, r); err != nil {
		return nil, err
	}
	return r, nil
}

// crossValidate teaches a new store every fold but one, the way docs/bayes.md tells
// an operator to train a new installation (postern learn --spam-path DIR
// --ham-path DIR; with separate, postern learn --spam DIR then --ham DIR), and
// checks that fold.
func (p *postern) crossValidate(list []corpus.Sample, runFolds int, separate bool) (*run, error) {
	r := &run{name: "Postern, trained", results: map[int]result{}}
	for f := 0; f < runFolds; f++ {
		dir := filepath.Join(p.work, fmt.Sprintf("fold%d", f))
		spamDir, hamDir := filepath.Join(dir, "mail", "spam"), filepath.Join(dir, "mail", "ham")
		for _, d := range []string{spamDir, hamDir} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				return nil, err
			}
		}
		var test []string
		for i, s := range list {
			if s.Fold == f {
				test = append(test, s.Path)
				continue
			}
			// The training mail as an operator has it: a folder per class.
			d := hamDir
			if s.Spam {
				d = spamDir
			}
			if err := os.Symlink(s.Path, filepath.Join(d, fmt.Sprintf("%05d", i))); err != nil {
				return nil, err
			}
		}
		var cmds [][]string
		if separate {
			cmds = [][]string{{"learn", "--spam", spamDir}, {"learn", "--ham", hamDir}}
		} else {
			cmds = [][]string{{"learn", "--spam-path", spamDir, "--ham-path", hamDir}}
		}
		for _, c := range cmds {
			if _, _, err := p.exec(dir, c...); err != nil {
				return nil, fmt.Errorf("fold %d: %w", f, err)
			}
		}
		if err := p.check(dir, test, list, r); err != nil {
			return nil, fmt.Errorf("fold %d: %w", f, err)
		}
		os.RemoveAll(dir)
		fmt.Fprintf(os.Stderr, "postern: fold %d done\n", f)
	}
	return r, nil
}

type checkLine struct {
	File   string   `json:"file"`
	Action string   `json:"action"`
	Spam   bool     `json:"spam"`
	Score  float64  `json:"score"`
	Bayes  *float64 `json:"bayes"`
	Tests  []struct {
		Name  string  `json:"name"`
		Score float64 `json:"score"`
	} `json:"tests"`
	Error string `json:"error"`
}

// check runs postern check --json on files and records each verdict in r.
func (p *postern) check(dataDir string, files []string, list []corpus.Sample, r *run) error {
	startup, err := p.startup(dataDir)
	if err != nil {
		return err
	}
	index := map[string]int{}
	for i, s := range list {
		index[s.Path] = i
	}
	out, cpu, err := p.exec(dataDir, append([]string{"check", "--json"}, files...)...)
	if err != nil {
		return err
	}
	r.cpu += cpu - startup
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	n := 0
	for sc.Scan() {
		var l checkLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return fmt.Errorf("check output: %w", err)
		}
		i, ok := index[l.File]
		if !ok {
			return fmt.Errorf("check output: unknown file %s", l.File)
		}
		res := result{score: l.Score, flagged: l.Spam, rejected: l.Action == "reject", bayes: -1}
		if l.Bayes != nil {
			res.bayes = *l.Bayes
		}
		for _, t := range l.Tests {
			res.tests = append(res.tests, fmt.Sprintf("%s=%g", t.Name, t.Score))
		}
		if l.Error != "" {
			fmt.Fprintf(os.Stderr, "postern: %s: %s\n", l.File, l.Error)
		}
		r.results[i] = res
		n++
	}
	if n != len(files) {
		return fmt.Errorf("check: %d verdicts for %d files", n, len(files))
	}
	r.checked += n
	return sc.Err()
}
