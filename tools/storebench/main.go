// Command storebench measures the stores several Postern processes share: greylist
// decisions, quarantine puts and Bayes classifications per second with 1, 2, 4 …
// processes on one store, SQLite files in a directory or one PostgreSQL database.
// scripts/storebench runs it on both, with a private PostgreSQL cluster.
//
//	go run ./tools/storebench -store DIR|postgres://… [-procs 1,2,4] [-dur 5s] [-c 8]
//
// Each process runs c goroutines doing one operation for dur; the driver sums what
// they did. It re-runs itself as the worker (-worker OP).
package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/postern/postern/internal/pgdb"
	"github.com/postern/postern/policy"
	"github.com/postern/postern/quarantine"
	"github.com/postern/postern/scan"
	"github.com/postern/postern/score"
)

func main() {
	store := flag.String("store", "", "a data `directory` (SQLite) or a postgres:// URL")
	procs := flag.String("procs", "1,2,4", "numbers of processes, comma-separated")
	dur := flag.Duration("dur", 5*time.Second, "how long each measurement runs")
	conc := flag.Int("c", 8, "goroutines per process (sessions in flight)")
	worker := flag.String("worker", "", "internal: run one operation and print its count")
	flag.Parse()
	if *store == "" {
		fmt.Fprintln(os.Stderr, "storebench: -store is required")
		os.Exit(2)
	}
	if *worker != "" {
		n, err := work(*worker, *store, *dur, *conc)
		if err != nil {
			fmt.Fprintln(os.Stderr, "storebench:", err)
			os.Exit(1)
		}
		fmt.Println(n)
		return
	}
	if err := train(*store); err != nil {
		fmt.Fprintln(os.Stderr, "storebench: train:", err)
		os.Exit(1)
	}
	self, _ := os.Executable()
	name := *store
	if pgdb.IsURL(name) {
		name = "PostgreSQL " + pgdb.Redact(name)
	} else {
		name = "SQLite in " + name
	}
	fmt.Printf("store: %s; %s per measurement, %d goroutines per process\n", name, *dur, *conc)
	fmt.Printf("%-10s %6s %12s\n", "operation", "procs", "ops/s")
	for _, op := range []string{"greylist", "put", "classify"} {
		for _, ps := range strings.Split(*procs, ",") {
			p, _ := strconv.Atoi(ps)
			total, err := runProcs(self, op, *store, p, *dur, *conc)
			if err != nil {
				fmt.Fprintln(os.Stderr, "storebench:", err)
				os.Exit(1)
			}
			fmt.Printf("%-10s %6d %12.0f\n", op, p, float64(total)/dur.Seconds())
		}
	}
}

func runProcs(self, op, store string, n int, dur time.Duration, conc int) (int64, error) {
	var wg sync.WaitGroup
	var total atomic.Int64
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := exec.Command(self, "-worker", op, "-store", store, "-dur", dur.String(), "-c", strconv.Itoa(conc)).Output()
			if err != nil {
				if ee, ok := err.(*exec.ExitError); ok {
					err = fmt.Errorf("%s worker: %v: %s", op, err, ee.Stderr)
				}
				errs <- err
				return
			}
			k, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
			if err != nil {
				errs <- err
				return
			}
			total.Add(k)
		}()
	}
	wg.Wait()
	close(errs)
	return total.Load(), <-errs
}

// The stores as the daemon opens them.
func openGrey(store string) (interface {
	policy.GreyStore
	Close() error
}, error) {
	if pgdb.IsURL(store) {
		return policy.OpenGreyPostgres(context.Background(), store)
	}
	return policy.OpenGreySQLite(filepath.Join(store, policy.GreylistFileName))
}

func openQuarantine(store string) (quarantine.Store, error) {
	if pgdb.IsURL(store) {
		return quarantine.OpenPostgres(context.Background(), store)
	}
	return quarantine.OpenSQLite(filepath.Join(store, quarantine.FileName))
}

func openBayes(store string) (score.Store, error) {
	if pgdb.IsURL(store) {
		return score.OpenPostgres(context.Background(), store)
	}
	return score.OpenSQLite(filepath.Join(store, score.FileName))
}

// words make the synthetic messages: enough distinct tokens for a realistic model.
var words = strings.Fields(`account action address agenda approve attached bank best bonus
	business buy call cash cheap click client company confirm contact credit deal delivery
	discount dollars email free friend gift guarantee hello help invoice item limited loan
	meeting million money month offer order payment people pills price project quarterly
	report request review save schedule secure service shipping special team thanks today
	tomorrow update urgent verify viagra week winner work`)

func message(r *rand.Rand, spam bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "From: someone%d@example.org\r\nSubject: %s %s\r\nMessage-ID: <%d@example.org>\r\n\r\n", r.IntN(1000), words[r.IntN(len(words))], words[r.IntN(len(words))], r.Int64())
	lo := 0
	if spam {
		lo = len(words) / 2
	}
	for i := 0; i < 200; i++ {
		b.WriteString(words[lo+r.IntN(len(words)/2)])
		b.WriteByte(' ')
		if i%12 == 11 {
			b.WriteString("\r\n")
		}
	}
	return b.String()
}

// train teaches the Bayes store 300 messages of each class once, so classifying is
// out of cold start.
func train(store string) error {
	if !pgdb.IsURL(store) {
		if err := os.MkdirAll(store, 0o750); err != nil {
			return err
		}
	}
	s, err := openBayes(store)
	if err != nil {
		return err
	}
	defer s.Close()
	r := rand.New(rand.NewPCG(1, 2))
	var items []score.Item
	for i := 0; i < 600; i++ {
		m, err := scan.Parse(strings.NewReader(message(r, i%2 == 0)))
		if err != nil {
			return err
		}
		items = append(items, score.ItemOf(m, i%2 == 0, score.DefaultParams()))
	}
	_, err = s.Learn(context.Background(), items, false)
	return err
}

func work(op, store string, dur time.Duration, conc int) (int64, error) {
	var do func(r *rand.Rand) error
	var closeFn func() error
	switch op {
	case "greylist":
		s, err := openGrey(store)
		if err != nil {
			return 0, err
		}
		closeFn = s.Close
		g := &policy.Greylist{Config: policy.DefaultGreylist, Store: s}
		do = func(r *rand.Rand) error {
			// 100,000 triplets from 1,000 /24 networks: most decisions are first
			// sightings, as under a spam run; some are retries.
			ip := netip.AddrFrom4([4]byte{198, 18, byte(r.IntN(250)), byte(r.IntN(250))})
			_, err := g.Check(context.Background(), ip, fmt.Sprintf("s%d@example.org", r.IntN(100)), "user@example.com")
			return err
		}
	case "put":
		s, err := openQuarantine(store)
		if err != nil {
			return 0, err
		}
		closeFn = s.Close
		body := message(rand.New(rand.NewPCG(3, 4)), true)
		var seq atomic.Int64
		pid := os.Getpid()
		do = func(r *rand.Rand) error {
			id := fmt.Sprintf("b%d-%d-%d", pid, time.Now().UnixNano(), seq.Add(1))
			rec := &quarantine.Record{ID: id, Time: time.Now(), Rcpts: []string{"user@example.com"}, Reason: quarantine.ReasonSpam,
				Action: quarantine.ActionRejected, Subject: "bench", Size: int64(len(body))}
			return s.Put(context.Background(), rec, strings.NewReader(body))
		}
	case "classify":
		s, err := openBayes(store)
		if err != nil {
			return 0, err
		}
		closeFn = s.Close
		b, err := score.Open(context.Background(), s, score.DefaultParams())
		if err != nil {
			return 0, err
		}
		r := rand.New(rand.NewPCG(5, 6))
		var msgs []*scan.Message
		for i := 0; i < 100; i++ {
			m, err := scan.Parse(strings.NewReader(message(r, i%2 == 0)))
			if err != nil {
				return 0, err
			}
			msgs = append(msgs, m)
		}
		do = func(r *rand.Rand) error {
			if _, ok := b.Classify(msgs[r.IntN(len(msgs))]); !ok {
				return fmt.Errorf("bayes in cold start")
			}
			return nil
		}
	default:
		return 0, fmt.Errorf("unknown operation %q", op)
	}
	defer closeFn()
	var n atomic.Int64
	var firstErr atomic.Value
	deadline := time.Now().Add(dur)
	var wg sync.WaitGroup
	for i := 0; i < conc; i++ {
		wg.Add(1)
		go func(seed uint64) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(seed, uint64(os.Getpid())))
			for time.Now().Before(deadline) {
				if err := do(r); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				n.Add(1)
			}
		}(uint64(i))
	}
	wg.Wait()
	if err, ok := firstErr.Load().(error); ok {
		return n.Load(), err
	}
	return n.Load(), nil
}
