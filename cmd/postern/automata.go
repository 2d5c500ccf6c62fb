package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/postern/postern/rules"
)

// automataSaveEvery is how often serve writes the cache while it runs (it also
// writes it when it stops), so that a crash loses little of it.
const automataSaveEvery = 15 * time.Minute

// automata reads and writes data_dir's rules.AutomataFile for one process: serve
// and check start from what the DFAs learned in earlier processes instead of
// computing those states again on their first thousand messages. It is a cache:
// deleting it loses nothing but that, and a file another build wrote is ignored.
type automata struct {
	path string
	log  logrus.FieldLogger
	mu   sync.Mutex
	// states is how many DFA states set had when the cache was last read or
	// written: a write that would add few is not worth its time. A set swapped
	// in since (a reload) is written at the next save whatever its count: the
	// file holds the old set's states, and the new set has adopted those of its
	// rules that did not change; compared with the old set's count, a set that
	// lost states in the reload was not written until it had learned them again
	// and a twentieth more, not even when serve stopped.
	set    *rules.Set
	states int
}

func newAutomata(dataDir string, log logrus.FieldLogger) *automata {
	return &automata{path: filepath.Join(dataDir, rules.AutomataFile), log: log}
}

// load gives set the cached states. A missing file is the normal first start;
// any other failure is logged, and the DFAs learn as if there were none.
func (a *automata) load(set *rules.Set) {
	a.mu.Lock()
	a.set = set
	a.mu.Unlock()
	// What the set holds once loaded, a cache read or not, is what save
	// measures learning against: a set's DFAs start with states of their own,
	// and a set that learned nothing is not written.
	defer func() {
		a.mu.Lock()
		a.states, _ = set.DFACache()
		a.mu.Unlock()
	}()
	start := time.Now()
	data, err := os.ReadFile(a.path)
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	if err != nil {
		// A user who may not read serve's data_dir still checks mail (check): a
		// note, not a warning on every run.
		level := logrus.WarnLevel
		if errors.Is(err, fs.ErrPermission) {
			level = logrus.InfoLevel
		}
		a.log.WithError(err).Log(level, "rules: automata cache unreadable: the DFAs start empty")
		return
	}
	dfas, states, err := set.ReadAutomata(data)
	switch {
	case errors.Is(err, rules.ErrOtherBuild):
		a.log.WithField("file", a.path).Info("rules: automata cache written by another build of postern: not used (it is rewritten)")
	case err != nil:
		a.log.WithError(err).WithField("file", a.path).Warn("rules: automata cache not used: the DFAs start empty")
	default:
		a.log.WithFields(logrus.Fields{"file": a.path, "dfas": dfas, "states": states,
			"duration_ms": time.Since(start).Milliseconds()}).Info("rules: automata cache loaded")
	}
}

// save writes set's states over the cache (a new file renamed into place: a
// reader sees the old one or the new one), when they are more than when it was
// last read or written by at least a hundred states and a twentieth.
func (a *automata) save(set *rules.Set) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	now, _ := set.DFACache()
	if set == a.set && now-a.states < max(100, a.states/20) {
		return nil
	}
	start := time.Now()
	var dfas, states int
	// 0640, as data_dir is 0750: serve's group may read it.
	err := replaceFile(a.path, 0o640, func(f *os.File) (err error) {
		ownLikeDir(f, filepath.Dir(a.path))
		dfas, states, err = set.WriteAutomata(f)
		return err
	})
	if err != nil {
		return fmt.Errorf("rules: automata cache %s: %w", a.path, err)
	}
	a.set, a.states = set, now
	a.log.WithFields(logrus.Fields{"file": a.path, "dfas": dfas, "states": states,
		"duration_ms": time.Since(start).Milliseconds()}).Info("rules: automata cache written")
	return nil
}

// saveLoop writes the cache every automataSaveEvery while serve runs, and once
// more when stopped.
func (a *automata) saveLoop(check *rules.Check) (stop func()) {
	first := true
	stopLoop := periodic(automataSaveEvery, func(context.Context) {
		if first { // (periodic runs at once: nothing learned yet)
			first = false
			return
		}
		if err := a.save(check.Set()); err != nil {
			a.log.WithError(err).Warn("rules: automata cache not written")
		}
	})
	return func() {
		stopLoop()
		if err := a.save(check.Set()); err != nil {
			a.log.WithError(err).Warn("rules: automata cache not written")
		}
	}
}

// ownLikeDir gives f to the owner of dir when root writes it: a check run as root
// in serve's data_dir must leave a cache that serve, running as its own user, can
// read. Failing that, serve only starts without it.
func ownLikeDir(f *os.File, dir string) {
	fi, err := os.Stat(dir)
	if err != nil || os.Geteuid() != 0 {
		return
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Uid != 0 {
		f.Chown(int(st.Uid), int(st.Gid))
	}
}
