package quarantine

// go test ./quarantine -run '^$' -bench . -benchtime 5s

import (
	"bytes"
	"context"
	"fmt"
	"math/rand"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/postern/postern/internal/corpus"
)

// BenchmarkPut: puts of 10 KB messages from 32 concurrent sessions, each durable
// (synchronous=FULL) before it returns.
func BenchmarkPut(b *testing.B) {
	s, _ := open(b)
	msg := bytes.Repeat([]byte("Lorem ipsum dolor sit amet, consectetur adipiscing elit.\r\n"), 175)
	var n atomic.Int64
	b.SetBytes(int64(len(msg)))
	b.SetParallelism(16) // × 2 cores = 32 sessions
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := fmt.Sprintf("b%d", n.Add(1))
			if err := s.Put(context.Background(), rec(id, time.Now(), ReasonSpam, "r@example.com"), bytes.NewReader(msg)); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "puts/s")
}

// BenchmarkCompress: what a quarantined message costs before its record is
// written, over the corpus' spam and phishing (what the quarantine keeps), and
// the compressed size against the message's.
func BenchmarkCompress(b *testing.B) {
	samples, err := corpus.List(corpus.Dir())
	if err != nil {
		b.Skip(err)
	}
	var msgs [][]byte
	size := 0
	for i, s := range samples {
		if s.Spam && i%4 == 0 { // (a quarter: the benchmark's setup in a second)
			m, err := os.ReadFile(s.Path)
			if err != nil {
				b.Fatal(err)
			}
			msgs, size = append(msgs, m), size+len(m)
		}
	}
	b.SetBytes(int64(size))
	out := 0
	for b.Loop() {
		out = 0
		for _, m := range msgs {
			gz, err := compress(bytes.NewReader(m))
			if err != nil {
				b.Fatal(err)
			}
			out += len(gz)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*len(msgs)), "µs/msg")
	b.ReportMetric(float64(out)/float64(size), "ratio")
}

// BenchmarkList1M: the default listing (newest 100) and filtered listings over a
// million records.
func BenchmarkList1M(b *testing.B) {
	s, _ := open(b)
	fill(b, s, 1_000_000)
	for _, tc := range []struct {
		name string
		f    Filter
	}{
		{"newest100", Filter{Limit: 100}},
		{"since24h", Filter{Since: time.Now().Add(-24 * time.Hour), Limit: 100}},
		{"reason", Filter{Reason: ReasonVirus, Limit: 100}},
		{"rcpt", Filter{Rcpt: "user77@example.com", Limit: 100}},
		{"subject", Filter{Subject: "invoice 4242", Limit: 100}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if _, err := s.List(context.Background(), tc.f); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/list")
		})
	}
}

// fill inserts n records over the last 60 days directly, in large transactions.
func fill(b *testing.B, s *SQLite, n int) {
	b.Helper()
	rng := rand.New(rand.NewSource(1))
	now := time.Now()
	tx, _ := s.db.Begin()
	for i := 0; i < n; i++ {
		if i%50_000 == 0 && i > 0 {
			if err := tx.Commit(); err != nil {
				b.Fatal(err)
			}
			tx, _ = s.db.Begin()
		}
		id := fmt.Sprintf("r%07d", i)
		reason := ReasonSpam
		if i%10 == 0 {
			reason = ReasonVirus
		}
		at := now.Add(-time.Duration(rng.Int63n(int64(60 * 24 * time.Hour))))
		rcpt := fmt.Sprintf("user%d@example.com", rng.Intn(1000))
		if _, err := tx.Exec(`INSERT INTO messages (id, time, mail_from, rcpts, subject, reason, action, status) VALUES (?,?,?,?,?,?,?,?)`,
			id, at.UnixMicro(), "s@example.org", `["`+rcpt+`"]`, "invoice "+strings.Repeat("x", i%7)+fmt.Sprint(i), reason, ActionRejected, StatusHeld); err != nil {
			b.Fatal(err)
		}
		tx.Exec(`INSERT INTO recipients (id, addr) VALUES (?, ?)`, id, rcpt)
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
}
