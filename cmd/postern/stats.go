package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/postern/postern/config"
	"github.com/postern/postern/filter"
	"github.com/postern/postern/policy"
	"github.com/postern/postern/quarantine"
	"github.com/postern/postern/score"
)

// statsKeep is how far back serve keeps its hourly counts for 'postern stats'.
const statsKeep = 7 * 24 * time.Hour

// statsBook counts what serve decided, by hour, for 'postern stats --since': the
// Prometheus counters run since start and cannot be windowed from one scrape.
type statsBook struct {
	mu      sync.Mutex
	started time.Time
	hours   map[int64]*statsHour // unix hour → counts
	now     func() time.Time
}

// statsHour is one hour's counts; also the merged answer of /stats.
type statsHour struct {
	Messages   map[string]int `json:"messages"`   // "action/reason"
	Rules      map[string]int `json:"rules"`      // rule name → messages it hit
	Viruses    map[string]int `json:"viruses"`    // signature → messages
	Recipients map[string]int `json:"recipients"` // "action/reason" at RCPT TO
	Bytes      int64          `json:"bytes"`
	CheckMS    float64        `json:"check_ms"` // summed check time
	// StepMS is the summed time of the parse ("parse") and of each check: which
	// of them the check time goes to (they run side by side, so they overlap).
	StepMS map[string]float64 `json:"step_ms"`
}

func newStatsHour() *statsHour {
	return &statsHour{Messages: map[string]int{}, Rules: map[string]int{}, Viruses: map[string]int{}, Recipients: map[string]int{}, StepMS: map[string]float64{}}
}

func newStatsBook() *statsBook {
	return &statsBook{started: time.Now(), hours: map[int64]*statsHour{}, now: time.Now}
}

func (b *statsBook) hour() *statsHour {
	h := b.now().Unix() / 3600
	x := b.hours[h]
	if x == nil {
		x = newStatsHour()
		b.hours[h] = x
		for k := range b.hours {
			if k < h-int64(statsKeep/time.Hour) {
				delete(b.hours, k)
			}
		}
	}
	return x
}

func (b *statsBook) verdict(v filter.Verdict, size int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	h := b.hour()
	h.Messages[v.Action.String()+"/"+v.Reason]++
	for _, t := range v.Tests {
		h.Rules[t.Name]++
	}
	if v.Virus != "" {
		h.Viruses[v.Virus]++
	}
	h.Bytes += size
	h.CheckMS += filter.Millis(v.Duration)
	for _, t := range v.Times {
		h.StepMS[t.Step] += filter.Millis(t.Duration)
	}
}

func (b *statsBook) recipient(d policy.Decision) {
	b.mu.Lock()
	defer b.mu.Unlock()
	reason := d.Reason
	if reason == "" {
		reason = "-" // no check applied
	}
	b.hour().Recipients[d.Action.String()+"/"+reason]++
}

// statsReply is what GET /stats answers.
type statsReply struct {
	Since   time.Time  `json:"since"`   // the window's start (no earlier than serve's start)
	Started time.Time  `json:"started"` // serve's start
	Counts  *statsHour `json:"counts"`
}

func (b *statsBook) since(d time.Duration) statsReply {
	b.mu.Lock()
	defer b.mu.Unlock()
	from := b.now().Add(-d)
	if from.Before(b.started) {
		from = b.started
	}
	out := newStatsHour()
	first := from.Unix() / 3600
	for k, h := range b.hours {
		if k < first {
			continue
		}
		for n, c := range h.Messages {
			out.Messages[n] += c
		}
		for n, c := range h.Rules {
			out.Rules[n] += c
		}
		for n, c := range h.Viruses {
			out.Viruses[n] += c
		}
		for n, c := range h.Recipients {
			out.Recipients[n] += c
		}
		out.Bytes += h.Bytes
		out.CheckMS += h.CheckMS
		for n, ms := range h.StepMS {
			out.StepMS[n] += ms
		}
	}
	return statsReply{Since: from, Started: b.started, Counts: out}
}

// handler serves GET /stats?since=24h.
func (b *statsBook) handler(w http.ResponseWriter, r *http.Request) {
	d := 24 * time.Hour
	if s := r.URL.Query().Get("since"); s != "" {
		var err error
		if d, err = config.ParseDuration(s); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(b.since(d))
}

func runStats(args []string) int {
	fs, c := newFlags("stats", "stats [--since 24h] [--json]", `
Summarizes what Postern did: messages by action and reason, the rules that hit most,
viruses, recipients refused before DATA (counted by the running serve, asked at
[metrics] listen; by the hour, for the last 7 days), and the quarantine and Bayes
databases. Without a running serve (or without [metrics] listen), only the
databases are shown, and it says so.`)
	since := fs.String("since", "24h", "the window: a duration (\"24h\", \"7d\")")
	asJSON := fs.Bool("json", false, "print one JSON object")
	top := fs.Int("top", 10, "show the `N` rules that hit most")
	if code, stop := parse(fs, args); stop {
		return code
	}
	cfg, err := c.load(fs)
	if err != nil {
		return fail("%v", err)
	}
	window, err := config.ParseDuration(*since)
	if err != nil {
		return fail("--since: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out := struct {
		Serve      *statsReply       `json:"serve"`
		ServeError string            `json:"serve_error,omitempty"`
		Quarantine *quarantine.Stats `json:"quarantine"`
		Kept       map[string]int    `json:"kept_in_window"`
		Bayes      map[string]int    `json:"bayes"`
	}{Kept: map[string]int{}}
	if cfg.Metrics.Listen == "" {
		out.ServeError = "no [metrics] listen configured: serve's counts are not reachable"
	} else if r, err := fetchStats(ctx, cfg.Metrics.Listen, *since); err != nil {
		out.ServeError = fmt.Sprintf("serve not reachable at %s: %v", cfg.Metrics.Listen, err)
	} else {
		out.Serve = r
	}
	if storeExists(cfg, quarantine.FileName) {
		if qs, err := openQuarantineStore(cfg); err == nil {
			if st, err := qs.Stats(ctx); err == nil {
				out.Quarantine = &st
			}
			if recs, err := qs.List(ctx, quarantine.Filter{Since: time.Now().Add(-window)}); err == nil {
				for _, r := range recs {
					out.Kept[r.Reason]++
				}
			}
			qs.Close()
		}
	}
	if storeExists(cfg, score.FileName) {
		// The store's counts, not the model loaded from it: every token would be
		// read (over the network, with [storage] url) to count them.
		if bs, err := openBayesStore(cfg); err == nil {
			if st, err := bs.Stats(ctx); err == nil {
				out.Bayes = map[string]int{"spam": int(st.Spam), "ham": int(st.Ham), "tokens": st.Tokens}
			}
			bs.Close()
		}
	}
	if *asJSON {
		b, _ := json.MarshalIndent(out, "", "  ")
		fmt.Println(string(b))
		return 0
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	defer w.Flush()
	if out.Serve == nil {
		fmt.Fprintf(w, "%s; showing what the databases know.\n\n", out.ServeError)
	} else {
		s := out.Serve
		total := 0
		for _, n := range s.Counts.Messages {
			total += n
		}
		fmt.Fprintf(w, "Since %s (serve started %s): %d messages", s.Since.Local().Format(time.DateTime), s.Started.Local().Format(time.DateTime), total)
		if total > 0 {
			fmt.Fprintf(w, ", %.1f MB, %.1f ms check time on average", float64(s.Counts.Bytes)/1e6, s.Counts.CheckMS/float64(total))
			if steps := stepAverages(s.Counts.StepMS, total); steps != "" {
				fmt.Fprintf(w, " (%s; the checks run side by side)", steps)
			}
		}
		fmt.Fprintln(w)
		printCounts(w, "Messages", s.Counts.Messages, 0, total)
		printCounts(w, "Recipients at RCPT TO", s.Counts.Recipients, 0, 0)
		printCounts(w, "Rules that hit most (messages)", s.Counts.Rules, *top, total)
		printCounts(w, "Viruses", s.Counts.Viruses, 0, 0)
	}
	fmt.Fprintf(w, "\nQuarantine, kept in the window:")
	if len(out.Kept) == 0 {
		fmt.Fprintf(w, " none")
	}
	for _, k := range sortedKeys(out.Kept) {
		fmt.Fprintf(w, " %s %d", k, out.Kept[k])
	}
	fmt.Fprintln(w)
	if q := out.Quarantine; q != nil {
		fmt.Fprintf(w, "Quarantine in all: %d records, %.1f MB on disk\n", q.Total, float64(q.SizeBytes)/1e6)
	}
	if b := out.Bayes; b != nil {
		state := "ready"
		if b["spam"] < cfg.Bayes.MinSpam || b["ham"] < cfg.Bayes.MinHam {
			state = fmt.Sprintf("cold start (needs %d spam and %d ham)", cfg.Bayes.MinSpam, cfg.Bayes.MinHam)
		}
		fmt.Fprintf(w, "Bayes: %d spam, %d ham learned, %d tokens: %s\n", b["spam"], b["ham"], b["tokens"], state)
	} else {
		fmt.Fprintln(w, "Bayes: nothing learned yet")
	}
	return 0
}

func fetchStats(ctx context.Context, listen, since string) (*statsReply, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+listen+"/stats?since="+since, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	var r statsReply
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return nil, err
	}
	return &r, nil
}

// printCounts prints a table of counts, largest first (at most top, 0 for all), with
// a share of total when total > 0.
func printCounts(w io.Writer, title string, m map[string]int, top, total int) {
	fmt.Fprintf(w, "\n%s:\n", title)
	if len(m) == 0 {
		fmt.Fprintln(w, "  none")
		return
	}
	keys := sortedKeys(m)
	sort.SliceStable(keys, func(i, j int) bool { return m[keys[i]] > m[keys[j]] })
	if top > 0 && len(keys) > top {
		keys = keys[:top]
	}
	for _, k := range keys {
		if total > 0 {
			fmt.Fprintf(w, "  %s\t%d\t%.1f %%\n", k, m[k], 100*float64(m[k])/float64(total))
		} else {
			fmt.Fprintf(w, "  %s\t%d\n", k, m[k])
		}
	}
}

// stepAverages is each step's average time a message, the parse first, then the
// costliest check first: "parse 0.2, clamav 4.1, rules 3.0, bayes 0.3 ms".
func stepAverages(steps map[string]float64, messages int) string {
	names := make([]string, 0, len(steps))
	for n := range steps {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		if (names[i] == "parse") != (names[j] == "parse") {
			return names[i] == "parse"
		}
		if steps[names[i]] != steps[names[j]] {
			return steps[names[i]] > steps[names[j]]
		}
		return names[i] < names[j]
	})
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s %.1f", n, steps[n]/float64(messages))
	}
	if len(parts) == 0 {
		return ""
	}
	return strings.Join(parts, ", ") + " ms"
}

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
