package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/postern/postern/internal/corpus"
)

// TestVerdictFloor holds the verdict's accuracy on the corpus: the postern binary,
// trained with postern learn on the other folds and untrained, checks two of the
// ten folds of docs/accuracy.md (seed 1), and the numbers must stay near the
// documented ones. Floors, not the targets: two folds are 1,280 messages,
// where one ham is 0.3 %.
func TestVerdictFloor(t *testing.T) {
	if testing.Short() {
		t.Skip("checking the corpus through the binary is not short")
	}
	dir := corpus.Dir()
	if _, err := os.Stat(filepath.Join(dir, "spamassassin", "ham")); err != nil {
		t.Skipf("no corpus in %s: run ../shared/corpus/get-corpus.sh (.ci/run does)", dir)
	}
	list, err := corpus.List(dir)
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range corpus.Deal(len(list), 10, 1, func(i, j int) { list[i], list[j] = list[j], list[i] }) {
		list[i].Fold = f
	}
	work := t.TempDir()
	p := &postern{bin: filepath.Join(work, "postern"), work: work}
	build := exec.Command("go", "build", "-o", p.bin, "../../cmd/postern")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v: %s", err, out)
	}
	const folds = 2
	trained, err := p.crossValidate(list, folds, false)
	if err != nil {
		t.Fatal(err)
	}
	cold, err := p.cold(list, folds)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		run                    *run
		minSpam, minRejected   float64 // % of spam
		maxHam, maxHamRejected int
		stockOnly              bool // the floor needs the stock rules (Debian's spamassassin)
	}{
		// documented (10 folds, seventy-seventh session): 98.45 % flagged, 4
		// ham of 3,378; 92.19 % rejected, 1 ham. These two folds: 98.77 %
		// flagged, no ham; 91.55 % rejected (the same in the seventy-sixth
		// session, 91.37 % in the seventy-fifth, 90.85 % in the seventy-fourth).
		{run: trained, minSpam: 97.5, minRejected: 85, maxHam: 2, maxHamRejected: 0},
		// documented (seventy-seventh session): 78.58 % flagged, 16 ham of
		// 3,378. These two folds: 77.29 %, 2 ham of 716 (the same in the
		// seventy-sixth session, 76.76 % in the seventy-fifth, 75.35 % in the
		// seventy-fourth, 71.65 % in the seventy-third, 71.30 % in the
		// seventy-second, 70.07 % in the seventy-first, 68.66 % in the
		// seventieth). (The floors were 40 % and 10 ham until the seventieth
		// session, 63 % until the seventy-fourth, 68 % until the
		// seventy-fifth, 75 % rejected trained.)
		{run: cold, minSpam: 70, maxHam: 5, maxHamRejected: 0, stockOnly: true},
	} {
		s := summarize(list, folds, c.run)
		t.Logf("%s: spam flagged %.2f %%, ham flagged %d of %d, spam rejected %.2f %%, ham rejected %d",
			c.run.name, pct(s.spamFlagged, s.nspam), s.hamFlagged, s.nham, pct(s.spamRejected, s.nspam), s.hamRejected)
		if c.stockOnly {
			if _, err := os.Stat("/usr/share/spamassassin"); err != nil {
				continue
			}
		}
		if pct(s.spamFlagged, s.nspam) < c.minSpam || s.hamFlagged > c.maxHam ||
			pct(s.spamRejected, s.nspam) < c.minRejected || s.hamRejected > c.maxHamRejected {
			t.Errorf("%s below the floor: want spam flagged >= %.1f %%, ham flagged <= %d, spam rejected >= %.0f %%, ham rejected <= %d",
				c.run.name, c.minSpam, c.maxHam, c.minRejected, c.maxHamRejected)
		}
	}
}
