package e2e

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/postern/postern/internal/corpus"
	"github.com/postern/postern/internal/testutil"
)

var clamdTempRounds = flag.Int("clamdtemp.rounds", 3, "clamd temporary files: rounds of the disk and tmpfs runs")

// BenchmarkClamdTemporaryDirectory is what clamd's TemporaryDirectory costs it
// (scripts/clamdtmpfs, docs/clamav.md): clamd writes every INSTREAM stream, and
// every part its mail parser extracts, to a file there before it scans it. Each
// round, `postern check` of 1,000 corpus messages (the first 700 of
// spamassassin/ham and 300 of spamassassin/spam, by name) against a freshly
// started clamd (its cache of clean digests empty) with the directory on this
// machine's disk (the test's temporary directory), then on tmpfs (/dev/shm);
// counted is clamd's CPU. Postern's built-in rules and no Bayes: clamd's work is
// the same whatever the rules. Only the EICAR signature is loaded (no internet
// here), so the figures are clamd's handling of the mail, not its matching.
func BenchmarkClamdTemporaryDirectory(b *testing.B) {
	b.StopTimer()
	samples, err := corpus.List(corpus.Dir())
	if err != nil {
		b.Skipf("the clamd measure reads the corpus: %v", err)
	}
	var ham, spam []string
	for _, s := range samples {
		switch filepath.Base(filepath.Dir(s.Path)) {
		case "ham":
			ham = append(ham, s.Path)
		case "spam":
			spam = append(spam, s.Path)
		}
	}
	paths := slices.Concat(ham[:min(700, len(ham))], spam[:min(300, len(spam))])
	if fi, err := os.Stat("/dev/shm"); err != nil || !fi.IsDir() {
		b.Skip("no /dev/shm (tmpfs) to compare with")
	}
	tmp := b.TempDir()
	bin := measuredPostern(b, tmp)
	type run struct {
		where, dir string
		cpu        []time.Duration
	}
	shm, err := os.MkdirTemp("/dev/shm", "postern-clamd-")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(shm) })
	runs := []*run{{where: "disk", dir: filepath.Join(tmp, "clamd-tmp")}, {where: "tmpfs", dir: shm}}
	if err := os.Mkdir(runs[0].dir, 0o755); err != nil {
		b.Fatal(err)
	}
	for range *clamdTempRounds {
		for _, r := range runs {
			clamd := testutil.StartClamdTemp(b, "", r.dir)
			cfg := clamdCheckConfig(b, tmp, clamd.Unix, "")
			before := testutil.ProcCPU(clamd.Pid())
			checkCPU(b, bin, cfg, filepath.Join(tmp, "data"), paths) // (fails the run when a message is not checked: clamd not reached)
			used := testutil.ProcCPU(clamd.Pid()) - before
			clamd.Kill()
			if used <= 0 {
				b.Fatalf("clamd (%s) spent no CPU: it did not scan", r.where)
			}
			r.cpu = append(r.cpu, used)
		}
	}
	var report strings.Builder
	fmt.Fprintf(&report, "\nclamd's CPU a message, %d corpus messages, a fresh clamd each run, disk and tmpfs in turn (scripts/clamdtmpfs -clamdtemp.rounds %d)\n\n", len(paths), *clamdTempRounds)
	for _, r := range runs {
		var ms []string
		for _, d := range r.cpu {
			ms = append(ms, fmt.Sprintf("%.2f", float64(d.Microseconds())/1000/float64(len(paths))))
		}
		fmt.Fprintf(&report, "TemporaryDirectory on %s: %s ms\n", r.where, strings.Join(ms, ", "))
	}
	b.Log(report.String())
	b.ReportMetric(0, "ns/op") // (the rounds are the measure, not the loop)
}
