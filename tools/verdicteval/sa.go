package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/postern/postern/internal/corpus"
	"github.com/postern/postern/internal/mbox"
)

// saRejectScore is where the SpamAssassin columns count a message as rejected:
// Postern's default reject_score, so both sides are read at the same cut.
const saRejectScore = 15

// saLocal is what the SpamAssassin runs add to Debian's site configuration: no
// network tests (as Postern's verdict has none), no autolearning, and the score,
// the tests with their points and the message's id written into headers to read.
const saLocal = `skip_rbl_checks 1
dns_available no
use_razor2 0
use_pyzor 0
use_dcc 0
bayes_auto_learn 0
add_header all Evalid _HEADER(X-Eval-Id)_
add_header all Tests _TESTSSCORES(,)_
add_header all Points _SCORE_
`

// saLearnConfig is the configuration sa-learn trains with: the Bayes plugin, its
// rules and stop words (what tokenizing needs), without loading every rule file.
const saLearnPre = "loadplugin Mail::SpamAssassin::Plugin::Check\nloadplugin Mail::SpamAssassin::Plugin::Bayes\n"
const saLearnCF = `use_bayes 1
bayes_auto_learn 0
include /usr/share/spamassassin/23_bayes.cf
include /usr/share/spamassassin/60_bayes_stopwords.cf
`

// spamAssassin runs the peer: Debian's spamassassin with its stock rules and
// plugins, network tests off.
type spamAssassin struct {
	jobs  int
	work  string
	cache string
	setup string
}

// rulesOnly checks every message of the folds run with Bayes off: SpamAssassin
// untrained (score set 0).
func (s *spamAssassin) rulesOnly(list []corpus.Sample, runFolds int) (*run, error) {
	const name = "SpamAssassin, rules only"
	if r := s.cached(name, list); r != nil {
		return r, nil
	}
	dir, err := s.siteConfig("cold", "use_bayes 0\n")
	if err != nil {
		return nil, err
	}
	var idx []int
	for i, smp := range list {
		if smp.Fold < runFolds {
			idx = append(idx, i)
		}
	}
	r := &run{name: name, results: map[int]result{}}
	chunks := make([][]int, s.jobs)
	for k, i := range idx {
		chunks[k%s.jobs] = append(chunks[k%s.jobs], i)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make(chan error, s.jobs)
	for _, c := range chunks {
		wg.Add(1)
		go func(c []int) {
			defer wg.Done()
			got, cpu, err := s.check(dir, list, c)
			if err != nil {
				errs <- err
				return
			}
			mu.Lock()
			merge(r, got, cpu)
			mu.Unlock()
		}(c)
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, err
	}
	return r, s.store(r, list)
}

// withBayes trains SpamAssassin's Bayes with sa-learn on every fold but one and
// checks that fold with the stock rules and Bayes (score set 2), jobs folds at once.
func (s *spamAssassin) withBayes(list []corpus.Sample, runFolds int) (*run, error) {
	const name = "SpamAssassin, rules + Bayes"
	if r := s.cached(name, list); r != nil {
		return r, nil
	}
	r := &run{name: name, results: map[int]result{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make(chan error, runFolds)
	sem := make(chan struct{}, s.jobs)
	for f := 0; f < runFolds; f++ {
		wg.Add(1)
		go func(f int) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			got, cpu, err := s.fold(list, f)
			if err != nil {
				errs <- fmt.Errorf("spamassassin fold %d: %w", f, err)
				return
			}
			mu.Lock()
			merge(r, got, cpu)
			mu.Unlock()
			fmt.Fprintf(os.Stderr, "spamassassin: fold %d done\n", f)
		}(f)
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, err
	}
	return r, s.store(r, list)
}

func merge(r *run, got map[int]result, cpu time.Duration) {
	for i, res := range got {
		r.results[i] = res
	}
	r.cpu += cpu
	r.checked += len(got)
}

func (s *spamAssassin) fold(list []corpus.Sample, f int) (map[int]result, time.Duration, error) {
	base := filepath.Join(s.work, fmt.Sprintf("sa-fold%d", f))
	db := filepath.Join(base, "db", "bayes")
	if err := os.MkdirAll(filepath.Dir(db), 0o755); err != nil {
		return nil, 0, err
	}
	learnCF := filepath.Join(base, "learn")
	os.MkdirAll(learnCF, 0o755)
	os.WriteFile(filepath.Join(learnCF, "local.pre"), []byte(saLearnPre), 0o644)
	os.WriteFile(filepath.Join(learnCF, "local.cf"), []byte(saLearnCF+"bayes_path "+db+"\n"), 0o644)
	var spam, ham bytes.Buffer
	var test []int
	for i, smp := range list {
		switch {
		case smp.Fold == f:
			test = append(test, i)
		case smp.Spam:
			fmt.Fprintln(&spam, smp.Path)
		default:
			fmt.Fprintln(&ham, smp.Path)
		}
	}
	for _, set := range []struct {
		flag string
		list *bytes.Buffer
	}{{"--spam", &spam}, {"--ham", &ham}} {
		lst := filepath.Join(base, strings.TrimPrefix(set.flag, "--")+".lst")
		if err := os.WriteFile(lst, set.list.Bytes(), 0o644); err != nil {
			return nil, 0, err
		}
		cmd := exec.Command("sa-learn", "--siteconfigpath", learnCF, "-C", learnCF, "--dbpath", db, set.flag, "-f", lst)
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, 0, fmt.Errorf("sa-learn %s: %v: %s", set.flag, err, out)
		}
	}
	dir, err := s.siteConfig(fmt.Sprintf("fold%d", f), "use_bayes 1\nbayes_path "+db+"\n")
	if err != nil {
		return nil, 0, err
	}
	defer os.RemoveAll(base)
	return s.check(dir, list, test)
}

// siteConfig writes a site configuration: Debian's (its plugins, local.cf) and
// saLocal with extra.
func (s *spamAssassin) siteConfig(name, extra string) (string, error) {
	dir := filepath.Join(s.work, "sa-site-"+name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	entries, err := os.ReadDir("/etc/spamassassin")
	if err != nil {
		return "", fmt.Errorf("spamassassin not installed (apt-get install spamassassin): %w", err)
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/etc/spamassassin", e.Name()))
		if err != nil {
			return "", err
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644); err != nil {
			return "", err
		}
	}
	return dir, os.WriteFile(filepath.Join(dir, "zz_verdicteval.cf"), []byte(saLocal+extra), 0o644)
}

// check runs spamassassin over the messages idx as one mbox and reads its verdicts.
func (s *spamAssassin) check(site string, list []corpus.Sample, idx []int) (map[int]result, time.Duration, error) {
	var in bytes.Buffer
	for _, i := range idx {
		b, err := os.ReadFile(list[i].Path)
		if err != nil {
			return nil, 0, err
		}
		mbox.Append(&in, i, mbox.StripFrom(b))
	}
	cmd := exec.Command("spamassassin", "--siteconfigpath", site, "-L", "--mbox")
	cmd.Stdin = &in
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, 0, fmt.Errorf("spamassassin: %w: %s", err, stderr.Bytes())
	}
	cpu := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	got := map[int]result{}
	for id, h := range mbox.SpamHeaders(out) {
		score, err := strconv.ParseFloat(h["Points"], 64)
		if err != nil {
			return nil, 0, fmt.Errorf("spamassassin: message %d: score %q", id, h["Points"])
		}
		res := result{score: score, flagged: strings.HasPrefix(h["Flag"], "YES"), rejected: score >= saRejectScore, bayes: -1}
		if t := strings.ReplaceAll(h["Tests"], " ", ""); t != "" && t != "none" {
			res.tests = strings.Split(t, ",")
		}
		got[id] = res
	}
	if len(got) != len(idx) {
		return nil, 0, fmt.Errorf("spamassassin: %d verdicts for %d messages", len(got), len(idx))
	}
	return got, cpu, nil
}

// The cache: a header line naming the setup, a "# cpu" line per run, then a line
// per message and run.
func (s *spamAssassin) cacheHead() string { return "# verdicteval spamassassin: " + s.setup }

func (s *spamAssassin) cached(name string, list []corpus.Sample) *run {
	if s.cache == "" {
		return nil
	}
	b, err := os.ReadFile(s.cache)
	if err != nil {
		return nil
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if lines[0] != s.cacheHead() {
		fmt.Fprintf(os.Stderr, "verdicteval: %s is for another setup (%s): not used\n", s.cache, lines[0])
		return nil
	}
	index := map[string]int{}
	for i, smp := range list {
		index[smp.Path] = i
	}
	r := &run{name: name, results: map[int]result{}}
	for _, l := range lines[1:] {
		f := strings.Split(l, "\t")
		switch {
		case f[0] == "# cpu" && len(f) == 4 && f[1] == name:
			ns, _ := strconv.ParseInt(f[2], 10, 64)
			r.cpu = time.Duration(ns)
			r.checked, _ = strconv.Atoi(f[3])
		case f[0] == name && len(f) == 5:
			i, ok := index[f[1]]
			if !ok {
				continue
			}
			score, _ := strconv.ParseFloat(f[2], 64)
			res := result{score: score, flagged: f[3] == "true", rejected: score >= saRejectScore, bayes: -1}
			if f[4] != "" {
				res.tests = strings.Split(f[4], ",")
			}
			r.results[i] = res
		}
	}
	if len(r.results) == 0 {
		return nil
	}
	fmt.Fprintf(os.Stderr, "verdicteval: %s read from %s\n", name, s.cache)
	return r
}

// store appends a run to the cache file (starting it when it is absent or for
// another setup).
func (s *spamAssassin) store(r *run, list []corpus.Sample) error {
	if s.cache == "" {
		return nil
	}
	var b strings.Builder
	old, err := os.ReadFile(s.cache)
	if err == nil && strings.HasPrefix(string(old), s.cacheHead()+"\n") {
		b.Write(old)
	} else {
		b.WriteString(s.cacheHead() + "\n")
	}
	fmt.Fprintf(&b, "# cpu\t%s\t%d\t%d\n", r.name, int64(r.cpu), r.checked)
	for i, smp := range list {
		if res, ok := r.results[i]; ok {
			fmt.Fprintf(&b, "%s\t%s\t%g\t%v\t%s\n", r.name, smp.Path, res.score, res.flagged, strings.Join(res.tests, ","))
		}
	}
	return os.WriteFile(s.cache, []byte(b.String()), 0o644)
}
