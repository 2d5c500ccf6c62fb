package e2e

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/postern/postern/internal/testutil"
)

// BenchmarkClamdLatency is the floor under the load test's latency: clamd's time
// for each message the load test measures (its first -load.n sent, after
// -load.train learned), one message at a time on an otherwise idle machine.
// `postern check` (one worker: GOMAXPROCS=1) streams them to a private clamd as
// serve does (the whole message, then the encoded parts) and reports each
// message's clamav step; postern's built-in rules, no Bayes. Only the EICAR
// signature is loaded (no internet here): this is clamd's handling of the mail,
// its MIME and HTML parsing, not signature matching. Under load a queue stretches
// these times (about 1/(1-u) at a utilization u), so the slowest of them bound the
// p99 any clamd-based filter can reach at 80 % of the machine's peak
// (docs/benchmarks.md, "Thirty-seventh session").
//
//	go test ./e2e -run '^$' -bench ClamdLatency -benchtime 1x -args -load.n 1500 -load.train 1000
func BenchmarkClamdLatency(b *testing.B) {
	// (The timer runs: a run takes seconds, so the benchmark is not run again
	// with a larger b.N.)
	testutil.Require(b, "clamd")
	_, send := loadSamples(b)
	send = send[:min(*loadN, len(send))]
	tmp := b.TempDir()
	bin := measuredPostern(b, tmp)
	clamd := testutil.StartClamd(b, "")
	cfg := clamdCheckConfig(b, tmp, clamd.TCP, "") // (as the load test's serve)
	args := []string{"check", "--json", "-c", cfg, "--data-dir", filepath.Join(tmp, "data")}
	for _, s := range send {
		args = append(args, s.Path)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		b.Fatalf("postern check: %v\n%s", err, stderr.String())
	}
	type scanned struct {
		file string
		ms   float64
	}
	var scans []scanned
	for _, line := range bytes.Split(out, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var r struct {
			File  string
			Times map[string]float64
		}
		if err := json.Unmarshal(line, &r); err != nil {
			b.Fatalf("postern check's report: %v", err)
		}
		ms, ok := r.Times["clamav"]
		if !ok {
			b.Fatalf("%s: no clamav step in %s", r.File, line)
		}
		scans = append(scans, scanned{r.File, ms})
	}
	if len(scans) != len(send) {
		b.Fatalf("postern check reported %d messages of %d", len(scans), len(send))
	}
	slices.SortFunc(scans, func(x, y scanned) int { return cmp.Compare(x.ms, y.ms) })
	at := func(q float64) float64 { return scans[int(q*float64(len(scans)-1))].ms }
	var report bytes.Buffer
	fmt.Fprintf(&report, "\nclamd's time a message, %d of the load test's measured messages one at a time (-load.n %d -load.train %d): p50 %.1f ms, p90 %.1f, p99 %.1f, max %.1f\n",
		len(scans), *loadN, *loadTrain, at(0.5), at(0.9), at(0.99), at(1))
	fmt.Fprintf(&report, "the slowest:\n")
	for _, s := range slices.Backward(scans[max(0, len(scans)-5):]) {
		fi, err := os.Stat(s.file)
		if err != nil {
			b.Fatal(err)
		}
		fmt.Fprintf(&report, "  %6.1f ms  %7d bytes  %s\n", s.ms, fi.Size(), s.file)
	}
	b.Log(report.String())
	b.ReportMetric(at(0.99), "p99-ms")
	b.ReportMetric(0, "ns/op") // (the scans' times are the measure, not the loop)
}
