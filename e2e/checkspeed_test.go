package e2e

import (
	"bytes"
	"cmp"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/postern/postern/internal/corpus"
	"github.com/postern/postern/internal/testutil"
	"github.com/postern/postern/rules"
)

var checkSpeedRounds = flag.Int("checkspeed.rounds", 3, "check speed: rounds of postern check and rspamd over the corpus")

// BenchmarkCheckSpeed is the check's CPU a message against rspamd's, on the whole
// corpus, in one run (scripts/checkspeed; one invocation does every round). This
// machine's speed drifts by up to a fifth within hours, so a figure measured on
// another day does not compare; rounds that alternate the two do. Both learn the
// whole corpus first; then each round postern checks every message (`postern
// check` on embedded defaults, as the README runs it: one worker a core, from a
// cold start, its start-up measured apart and taken off) and rspamd scans every
// message through its normal workers (rspamc, several requests at a time).
// Counted: postern check's own CPU; rspamd's processes' and its Redis's (where its
// Bayes lives, as postern's is in process). Postern is measured twice a round:
// with the stock rules and its own (the default configuration where
// SpamAssassin's rules are installed, as here), and with its built-in rules alone
// (the default configuration elsewhere; issue 16's "whole default check", whose
// 0.5 ms target is "a quarter of rspamd's").
func BenchmarkCheckSpeed(b *testing.B) {
	b.StopTimer()
	samples, err := corpus.List(corpus.Dir())
	if err != nil {
		b.Skipf("the check-speed comparison reads the corpus: %v", err)
	}
	paths := make([]string, len(samples))
	for i, s := range samples {
		paths[i] = s.Path
	}
	tmp := b.TempDir()
	bin := measuredPostern(b, tmp)
	data := filepath.Join(tmp, "data")
	learnPostern(b, bin, "/dev/null", data, tmp, samples)
	rspamd, redis := startRspamd(b, samples, "") // (postern check runs no clamd either)
	// rspamd's first scans load what it builds on first use; postern check starts
	// cold in every round, and is measured so.
	scanRspamd(b, paths[:min(500, len(paths))])

	builtin := filepath.Join(tmp, "builtin.toml")
	if err := os.WriteFile(builtin, []byte("rules_paths = [\"default\"]\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	type round struct{ postern, builtin, rspamd, redis time.Duration }
	var rounds []round
	byRole := map[string]time.Duration{} // rspamd's CPU in the scans, by process
	for i := 0; i < *checkSpeedRounds; i++ {
		var r round
		check := func() {
			r.postern = checkCPU(b, bin, "/dev/null", data, paths) - checkCPU(b, bin, "/dev/null", data, nil)
			r.builtin = checkCPU(b, bin, builtin, data, paths) - checkCPU(b, bin, builtin, data, nil)
		}
		scan := func() {
			before, redis0 := procTreeCPUByTitle(rspamd), testutil.ProcCPU(redis)
			scanRspamd(b, paths)
			after, redis1 := procTreeCPUByTitle(rspamd), testutil.ProcCPU(redis)
			r.rspamd, r.redis = sum(after)-sum(before), redis1-redis0
			for k, v := range after {
				byRole[k] += v - before[k]
			}
		}
		if i%2 == 0 {
			check()
			scan()
		} else {
			scan()
			check()
		}
		rounds = append(rounds, r)
	}

	perMsg := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / float64(len(paths)) }
	var report strings.Builder
	fmt.Fprintf(&report, "\nCheck speed: %d corpus messages, both trained on all of them, CPU a message (scripts/checkspeed -checkspeed.rounds %d)\n\n",
		len(paths), *checkSpeedRounds)
	fmt.Fprintf(&report, "| round | postern check | its built-in rules alone | rspamd | rspamd + its Redis | postern / rspamd | postern / (rspamd + Redis) | built-in / (rspamd + Redis) |\n|---|---|---|---|---|---|---|---|\n")
	var ratios, builtinRatios []float64
	for i, r := range rounds {
		ratio := float64(r.postern) / float64(max(r.rspamd+r.redis, 1))
		ratios = append(ratios, ratio)
		builtinRatios = append(builtinRatios, float64(r.builtin)/float64(max(r.rspamd+r.redis, 1)))
		fmt.Fprintf(&report, "| %d | %.2f ms | %.2f ms | %.2f ms | %.2f ms | %.2f | %.2f | %.2f |\n", i+1, perMsg(r.postern), perMsg(r.builtin), perMsg(r.rspamd), perMsg(r.rspamd+r.redis),
			float64(r.postern)/float64(max(r.rspamd, 1)), ratio, builtinRatios[i])
	}
	slices.Sort(ratios)
	slices.Sort(builtinRatios)
	fmt.Fprintf(&report, "\nPostern / rspamd (with Redis), CPU a message: %.2f to %.2f over the rounds; with the built-in rules alone %.2f to %.2f.\n",
		ratios[0], ratios[len(ratios)-1], builtinRatios[0], builtinRatios[len(builtinRatios)-1])
	var roles []string
	for k, v := range byRole {
		roles = append(roles, fmt.Sprintf("%s %.1f s", k, v.Seconds()))
	}
	slices.Sort(roles)
	fmt.Fprintf(&report, "rspamd's CPU in the scans, by process: %s.\n", strings.Join(roles, "; "))
	b.Log(report.String())
	b.ReportMetric(perMsg(median(rounds, func(r round) time.Duration { return r.postern })), "postern-ms/msg")
	b.ReportMetric(perMsg(median(rounds, func(r round) time.Duration { return r.builtin })), "builtin-ms/msg")
	b.ReportMetric(perMsg(median(rounds, func(r round) time.Duration { return r.rspamd + r.redis })), "rspamd+redis-ms/msg")
	b.ReportMetric(pct(ratios, 50), "ratio")
	b.ReportMetric(0, "ns/op") // (the rounds are the measure, not the loop)
	if *loadOut != "" {
		if f, err := os.OpenFile(*loadOut, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
			f.WriteString(report.String())
			f.Close()
		}
	}
}

// median is the median of f over the rounds (of an even count, the upper of
// the two middle values).
func median[R any, T cmp.Ordered](rounds []R, f func(R) T) T {
	v := make([]T, len(rounds))
	for i, r := range rounds {
		v[i] = f(r)
	}
	slices.Sort(v)
	return pct(v, 50)
}

// pct is the p-th percentile of v, which is sorted: the value at index
// len(v)*p/100 (the p50 of an even count the upper of the two middle values).
func pct[T cmp.Ordered](v []T, p int) T { return v[len(v)*p/100] }

// checkCPU runs postern check (configuration cfg) over paths and returns its user
// and system CPU; with no paths, over an empty message: its start-up.
func checkCPU(t testing.TB, bin, cfg, data string, paths []string) time.Duration {
	t.Helper()
	args := []string{"check", "--json", "-c", cfg, "--data-dir", data}
	// Each check starts as a first one does, without the DFA cache the one
	// before wrote over the same messages (a warm process's figure).
	if err := os.Remove(filepath.Join(data, rules.AutomataFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		args = append(args, "/dev/null")
	}
	cmd := exec.Command(bin, append(args, paths...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("postern check: %v\n%s", err, stderr.String())
	}
	if n := bytes.Count(out, []byte("\n")); len(paths) > 0 && n != len(paths) {
		t.Fatalf("postern check reported %d messages of %d", n, len(paths))
	}
	return cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
}

// scanRspamd has rspamd's normal workers scan every file, and fails unless each
// got a verdict.
func scanRspamd(t testing.TB, paths []string) {
	t.Helper()
	for len(paths) > 0 {
		n := min(len(paths), 1000)
		cmd := exec.Command("rspamc", append([]string{"-h", "127.0.0.1:11333", "-n", "8", "symbols"}, paths[:n]...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("rspamc symbols: %v\n%s", err, out)
		}
		if got := bytes.Count(out, []byte("\nAction: ")); got != n {
			t.Fatalf("rspamd gave %d verdicts for %d messages:\n%s", got, n, out[:min(len(out), 2000)])
		}
		paths = paths[n:]
	}
}

// procTreeCPUByTitle is the CPU time of pid and its live descendants by process
// title (rspamd titles its processes by role: "rspamd: normal process", …).
func procTreeCPUByTitle(pid int) map[string]time.Duration {
	out := map[string]time.Duration{}
	for _, p := range procTree(pid) {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p))
		title := strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " "))
		if i := strings.IndexAny(title, "(;"); i > 0 {
			title = strings.TrimSpace(title[:i]) // (its address, its counters)
		}
		out[title] += procOwnCPU(p)
	}
	return out
}

// sum is the total of a map's values.
func sum(m map[string]time.Duration) time.Duration {
	var total time.Duration
	for _, v := range m {
		total += v
	}
	return total
}
