package e2e

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/postern/postern/clamav"
	"github.com/postern/postern/internal/testutil"
)

var (
	clamdStreamsMin    = flag.Int("clamdstreams.min", 0, "clamd streams: only the sampled messages of at least this many bytes (50000: those that make the load test's slowest checks)")
	clamdStreamsConf   = flag.String("clamdstreams.conf", "", "clamd streams: clamd.conf lines (\\n between them) for a second clamd, run in turn with the first: what a setting costs (e.g. 'ScanImageFuzzyHash no')")
	clamdStreamsRounds = flag.Int("clamdstreams.rounds", 2, "clamd streams: rounds of the runs")
)

// BenchmarkClamdStreams is what clamd spends on mail, sent three ways: the whole
// message alone (what clamav-milter and rspamd send), postern's way (the whole
// message, then each part with a transfer encoding, decoded: scan_whole_message,
// the default), and the decoded parts alone (scan_whole_message = false). Each
// run streams the load test's messages (its first -load.n sent, after
// -load.train; -clamdstreams.min keeps the large ones) to a freshly started
// clamd, its cache of clean digests empty, and counts clamd's CPU; postern's
// ways are `postern check` with the built-in rules and no Bayes, one message at
// a time (GOMAXPROCS=1; a message's small parts still go to clamd together). The messages
// that cost clamd most, sent whole, are listed: under load they make the p99
// (docs/benchmarks.md, "Fifty-third session"). Only the EICAR signature is
// loaded (no internet here): this is clamd's handling of the mail (its MIME,
// HTML and file-format parsers, its temporary files), not signature matching.
//
//	scripts/clamdstreams -load.n 1000
//	scripts/clamdstreams -load.n 1000 -clamdstreams.min 50000 -clamdstreams.conf 'ScanImageFuzzyHash no'
func BenchmarkClamdStreams(b *testing.B) {
	b.StopTimer()
	testutil.Require(b, "clamd")
	if *clamdStreamsRounds < 1 {
		b.Fatal("-clamdstreams.rounds: at least 1")
	}
	_, send := loadSamples(b)
	var paths []string
	sizes := map[string]int64{}
	for _, s := range send[:min(*loadN, len(send))] {
		fi, err := os.Stat(s.Path)
		if err != nil {
			b.Fatal(err)
		}
		if fi.Size() >= int64(*clamdStreamsMin) {
			paths = append(paths, s.Path)
			sizes[s.Path] = fi.Size()
		}
	}
	if len(paths) == 0 {
		b.Fatalf("no message of the %d sampled has %d bytes or more", *loadN, *clamdStreamsMin)
	}
	tmp := b.TempDir()
	bin := measuredPostern(b, tmp)
	// One message at a time, as the whole messages are streamed here: two
	// scans at once on this machine's two vCPUs (hyperthreads of a core) each
	// cost clamd a quarter more CPU or so, which would be counted as the way's.
	b.Setenv("GOMAXPROCS", "1")
	confs := []string{""}
	if *clamdStreamsConf != "" {
		confs = append(confs, strings.ReplaceAll(*clamdStreamsConf, `\n`, "\n"))
	}
	type way struct {
		name  string
		whole bool   // streamed by this benchmark, each message as it is
		conf  string // postern's [clamd] lines, besides the address
	}
	ways := []way{
		{name: "the whole message alone (clamav-milter, rspamd)", whole: true},
		{name: "postern: the whole message, then its encoded parts (the default)"},
		{name: "postern: the decoded parts alone (scan_whole_message = false)", conf: "scan_whole_message = false\n"},
	}
	cpu := map[string][]time.Duration{} // by conf and way
	costs := map[string]time.Duration{} // a message's clamd CPU sent whole, summed over the rounds (first conf)
	for range *clamdStreamsRounds {
		for ci, extra := range confs {
			for _, w := range ways {
				clamd := testutil.StartClamdConf(b, "", "", extra)
				before := testutil.ProcCPU(clamd.Pid())
				if w.whole {
					streamWhole(b, clamd, paths, func(path string, used time.Duration) {
						if ci == 0 {
							costs[path] += used
						}
					})
				} else {
					cfg := clamdCheckConfig(b, tmp, clamd.Unix, w.conf)
					checkCPU(b, bin, cfg, filepath.Join(tmp, "data"), paths) // (fails the run when a message is not checked: clamd not reached)
				}
				used := testutil.ProcCPU(clamd.Pid()) - before
				clamd.Kill()
				if used <= 0 {
					b.Fatalf("clamd spent no CPU on %s: it did not scan", w.name)
				}
				k := fmt.Sprint(ci, w.name)
				cpu[k] = append(cpu[k], used)
			}
		}
	}
	var report strings.Builder
	fmt.Fprintf(&report, "\nclamd's CPU a message, %d corpus messages of at least %d bytes, a fresh clamd each run, the ways in turn (scripts/clamdstreams -load.n %d -load.train %d -clamdstreams.min %d -clamdstreams.rounds %d)\n",
		len(paths), *clamdStreamsMin, *loadN, *loadTrain, *clamdStreamsMin, *clamdStreamsRounds)
	for ci, extra := range confs {
		title := "clamd as the tests start it"
		if ci > 0 {
			title = fmt.Sprintf("with %q", extra)
		}
		fmt.Fprintf(&report, "\n%s:\n", title)
		for _, w := range ways {
			var ms []string
			for _, d := range cpu[fmt.Sprint(ci, w.name)] {
				ms = append(ms, fmt.Sprintf("%.2f", float64(d.Microseconds())/1000/float64(len(paths))))
			}
			fmt.Fprintf(&report, "  %s: %s ms\n", w.name, strings.Join(ms, ", "))
		}
	}
	fmt.Fprintf(&report, "\nthe messages that cost clamd most, sent whole (its CPU, counted in clock ticks, the mean of the rounds):\n")
	for _, p := range costliest(costs, 5) {
		fmt.Fprintf(&report, "  %4.0f ms  %7d bytes  %s\n", float64(costs[p].Microseconds())/1000/float64(*clamdStreamsRounds), sizes[p], p)
	}
	b.Log(report.String())
	b.ReportMetric(0, "ns/op") // (the rounds are the measure, not the loop)
}

// streamWhole streams each file to clamd as it is, one at a time, and gives each
// one's clamd CPU to each.
func streamWhole(b *testing.B, clamd *testutil.Clamd, paths []string, each func(path string, used time.Duration)) {
	b.Helper()
	c, err := clamav.New(clamd.Unix, 1)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			b.Fatal(err)
		}
		before := testutil.ProcCPU(clamd.Pid())
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		_, err = c.Scan(ctx, f)
		cancel()
		f.Close()
		if err != nil {
			b.Fatalf("clamd on %s: %v", p, err)
		}
		each(p, testutil.ProcCPU(clamd.Pid())-before)
	}
}

// costliest returns the n paths of the greatest costs, greatest first.
func costliest(costs map[string]time.Duration, n int) []string {
	paths := make([]string, 0, len(costs))
	for p := range costs {
		paths = append(paths, p)
	}
	slices.SortFunc(paths, func(a, b string) int {
		return cmp.Or(cmp.Compare(costs[b], costs[a]), strings.Compare(a, b))
	})
	return paths[:min(n, len(paths))]
}

// clamdCheckConfig writes, in dir, the configuration the clamd benchmarks run
// postern check with: the built-in rules, no Bayes (clamd's work is the same
// whatever the rules), clamd at address, and extra [clamd] lines; it returns its
// path.
func clamdCheckConfig(b *testing.B, dir, address, extra string) string {
	b.Helper()
	cfg := filepath.Join(dir, "postern.toml")
	conf := fmt.Sprintf("rules_paths = [\"default\"]\n[bayes]\nenabled = false\n[clamd]\naddress = %q\n%s", address, extra)
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		b.Fatal(err)
	}
	return cfg
}
