package policy_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/netip"
	"path/filepath"
	"sort"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"

	"github.com/postern/postern/policy"
)

// BenchmarkGreylistDecision measures one decision (read the triplet, write the
// attempt) against a store of 1,000,000 triplets, and reports the 99th percentile:
// the bound is 100 µs. The store is filled once, in one transaction, and
// reused across runs of the benchmark (b.N rounds).
//
//	go test -run '^$' -bench GreylistDecision -benchtime 20000x ./policy
func BenchmarkGreylistDecision(b *testing.B) {
	const stored = 1_000_000
	path := filepath.Join(b.TempDir(), policy.GreylistFileName)
	s, err := policy.OpenGreySQLite(path)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	fill(b, path, stored)
	now := time.Now()
	g := &policy.Greylist{Config: policy.DefaultGreylist, Store: s, Now: func() time.Time { return now }}
	ctx := context.Background()
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// Half known triplets (a retry), half new ones (a first attempt).
		n := (i * 7919) % stored
		ip := netip.AddrFrom4([4]byte{10, byte(n >> 16), byte(n >> 8), 1})
		from := fmt.Sprintf("sender%d@example.org", n)
		if i%2 == 1 {
			from = fmt.Sprintf("new%d@example.net", i)
		}
		t0 := time.Now()
		if _, err := g.Check(ctx, ip, from, "rcpt@example.com"); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

// fill writes n triplets the way Greylist keys them: sender%d from 10.x.y.0/24.
func fill(b *testing.B, path string, n int) {
	db, err := sql.Open("sqlite3", "file:"+path+"?_journal_mode=WAL&_synchronous=OFF")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	tx, _ := db.Begin()
	st, err := tx.Prepare(`INSERT OR REPLACE INTO triplets (key, first, last) VALUES (?, ?, ?)`)
	if err != nil {
		b.Fatal(err)
	}
	t := time.Now().Add(-time.Hour).Unix()
	for i := 0; i < n; i++ {
		ip := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), 1})
		key := policy.TripletKey(ip, fmt.Sprintf("sender%d@example.org", i), "rcpt@example.com", 24, 64)
		if _, err := st.Exec(key, t, t); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
}
