package main

import (
	"bytes"
	"fmt"
	mboxfmt "github.com/postern/postern/internal/mbox"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// saConfig runs SpamAssassin with its Bayes classifier and nothing else: the stock
// Bayes rules and stop words, no network, no autolearn, and the probability written
// into a header so it can be read back exactly.
const saPre = "loadplugin Mail::SpamAssassin::Plugin::Check\nloadplugin Mail::SpamAssassin::Plugin::Bayes\n"

const saCF = `use_bayes 1
use_bayes_rules 1
bayes_auto_learn 0
include /usr/share/spamassassin/20_aux_tlds.cf
include /usr/share/spamassassin/23_bayes.cf
include /usr/share/spamassassin/60_bayes_stopwords.cf
add_header all Bayes _BAYES_
add_header all Evalid _HEADER(X-Eval-Id)_
`

// cachedSpamAssassin is spamAssassin, with its results kept in file (when given) so
// that experiments with Postern's side do not wait nine minutes each for the same
// SpamAssassin numbers. The file's first line names the folds and seed it is for.
func cachedSpamAssassin(samples []sample, n int, file, setup string) ([]scored, error) {
	head := fmt.Sprintf("# bayeseval spamassassin scores: %s, %d folds run, %d messages", setup, n, len(samples))
	if file != "" {
		if b, err := os.ReadFile(file); err == nil {
			lines := strings.Split(strings.TrimSpace(string(b)), "\n")
			if lines[0] != head {
				return nil, fmt.Errorf("%s is for %q, not %q", file, strings.TrimPrefix(lines[0], "# "), strings.TrimPrefix(head, "# "))
			}
			probs := map[string]float64{}
			for _, l := range lines[1:] {
				path, v, _ := strings.Cut(l, "\t")
				probs[path], _ = strconv.ParseFloat(v, 64)
			}
			var out []scored
			for _, s := range samples {
				if s.fold >= n {
					continue
				}
				p, ok := probs[s.path]
				if !ok {
					return nil, fmt.Errorf("%s: no score for %s", file, s.path)
				}
				out = append(out, scored{p, s.spam})
			}
			return out, nil
		}
	}
	out, err := spamAssassin(samples, n)
	if err != nil || file == "" {
		return out, err
	}
	var b strings.Builder
	b.WriteString(head + "\n")
	j := 0
	for _, s := range samples {
		if s.fold < n {
			fmt.Fprintf(&b, "%s\t%g\n", s.path, out[j].prob)
			j++
		}
	}
	return out, os.WriteFile(file, []byte(b.String()), 0o644)
}

// spamAssassin trains SpamAssassin's Bayes with sa-learn on every fold but one and
// scores that fold with spamassassin, for the first n folds, two folds at a time.
func spamAssassin(samples []sample, n int) ([]scored, error) {
	if _, err := exec.LookPath("sa-learn"); err != nil {
		return nil, fmt.Errorf("sa-learn not found: apt-get install spamassassin")
	}
	results := map[int]float64{}
	var mu sync.Mutex
	errs := make(chan error, n)
	sem := make(chan struct{}, 2)
	var wg sync.WaitGroup
	for f := 0; f < n; f++ {
		wg.Add(1)
		go func(f int) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			got, err := saFold(samples, f)
			if err != nil {
				errs <- fmt.Errorf("fold %d: %w", f, err)
				return
			}
			mu.Lock()
			for k, v := range got {
				results[k] = v
			}
			mu.Unlock()
		}(f)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		return nil, err
	}
	var out []scored
	for i, s := range samples {
		if s.fold >= n {
			continue
		}
		p, ok := results[i]
		if !ok {
			return nil, fmt.Errorf("no SpamAssassin result for %s", s.path)
		}
		out = append(out, scored{p, s.spam})
	}
	return out, nil
}

func saFold(samples []sample, fold int) (map[int]float64, error) {
	dir, err := os.MkdirTemp("", "bayeseval-sa-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	cf := filepath.Join(dir, "cf")
	os.Mkdir(cf, 0o755)
	os.WriteFile(filepath.Join(cf, "local.pre"), []byte(saPre), 0o644)
	db := filepath.Join(dir, "db", "bayes")
	os.Mkdir(filepath.Dir(db), 0o755)
	os.WriteFile(filepath.Join(cf, "local.cf"), []byte(saCF+"bayes_path "+db+"\n"), 0o644)

	var spamList, hamList bytes.Buffer
	var mbox bytes.Buffer
	for i, s := range samples {
		if s.fold != fold {
			if s.spam {
				fmt.Fprintln(&spamList, s.path)
			} else {
				fmt.Fprintln(&hamList, s.path)
			}
			continue
		}
		b, err := os.ReadFile(s.path)
		if err != nil {
			return nil, err
		}
		mboxfmt.Append(&mbox, i, mboxfmt.StripFrom(b))
	}
	for _, set := range []struct {
		flag string
		list *bytes.Buffer
	}{{"--spam", &spamList}, {"--ham", &hamList}} {
		lst := filepath.Join(dir, strings.TrimPrefix(set.flag, "--")+".lst")
		os.WriteFile(lst, set.list.Bytes(), 0o644)
		cmd := exec.Command("sa-learn", "--siteconfigpath", cf, "-C", cf, "--dbpath", db, set.flag, "-f", lst)
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("sa-learn %s: %v: %s", set.flag, err, out)
		}
	}
	cmd := exec.Command("spamassassin", "--siteconfigpath", cf, "-C", cf, "-L", "--mbox")
	cmd.Stdin = &mbox
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("spamassassin: %w", err)
	}
	got := map[int]float64{}
	for id, fields := range mboxfmt.SpamHeaders(out) {
		got[id], _ = strconv.ParseFloat(fields["Bayes"], 64)
	}
	return got, nil
}
