// Package corpus locates the cache of public spam, ham and phishing messages that
// ../shared/corpus/get-corpus.sh fills, for the benchmarks, the evaluation tools and
// the tests that use real mail. The corpus is never part of the repository.
package corpus

import (
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
)

// Dir is where get-corpus.sh puts the corpus by default: $POSTERN_CORPUS, else
// ${XDG_CACHE_HOME:-$HOME/.cache}/postern-corpus (the script's own rule).
func Dir() string {
	if d := os.Getenv("POSTERN_CORPUS"); d != "" {
		return d
	}
	base := os.Getenv("XDG_CACHE_HOME")
	if base == "" {
		home, _ := os.UserHomeDir()
		base = filepath.Join(home, ".cache")
	}
	return filepath.Join(base, "postern-corpus")
}

// Sample is one corpus message: its file and its class (phishing counts as spam).
type Sample struct {
	Path string
	Spam bool
	Fold int // set by Deal
}

// Sets are the corpus' directories and their class.
var Sets = []struct {
	Sub  string
	Spam bool
}{{"spamassassin/ham", false}, {"spamassassin/spam", true}, {"phishing", true}}

// List returns every message of the corpus in dir, sorted by path, so that a
// shuffle with a given seed deals the same folds in every tool.
func List(dir string) ([]Sample, error) {
	var out []Sample
	for _, set := range Sets {
		entries, err := os.ReadDir(filepath.Join(dir, set.Sub))
		if err != nil {
			return nil, fmt.Errorf("corpus: %w (run ../shared/corpus/get-corpus.sh)", err)
		}
		for _, e := range entries {
			out = append(out, Sample{Path: filepath.Join(dir, set.Sub, e.Name()), Spam: set.Spam})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// Deal shuffles n items with the seed (swap exchanges items i and j) and returns
// each position's fold, index mod folds: the k-fold split every tool uses, so that
// tools run with the same seed test the same messages on the same folds.
func Deal(n, folds int, seed int64, swap func(i, j int)) []int {
	rng := rand.New(rand.NewSource(seed))
	rng.Shuffle(n, swap)
	fold := make([]int, n)
	for i := range fold {
		fold[i] = i % folds
	}
	return fold
}
