// Package corpus locates the cache of public spam, ham and phishing messages that
// ../shared/corpus/get-corpus.sh fills, for the benchmarks, the evaluation tools and
// the tests that use real mail. The corpus is never part of the repository.
package corpus

import (
	"os"
	"path/filepath"
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
