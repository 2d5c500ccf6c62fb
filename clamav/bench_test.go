package clamav

// Benchmarks against a real clamd (started privately, as in clamd_test.go):
//
//	go test ./clamav -run '^$' -bench . -benchtime 100x

import (
	"bytes"
	"context"
	"io"
	"math/rand"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/postern/postern/filter"
	"github.com/postern/postern/internal/corpusmsg"
	"github.com/postern/postern/internal/testutil"
	"github.com/postern/postern/spool"
)

// attachment is 1 MB of incompressible bytes: clamd must read all of it.
func attachment() []byte {
	b := make([]byte, 1<<20)
	rand.New(rand.NewSource(1)).Read(b)
	return b
}

// BenchmarkRawInstream is the floor: the decoded attachment streamed to clamd as is.
func BenchmarkRawInstream(b *testing.B) {
	clamd := testutil.StartClamd(b, "")
	c, err := New(clamd.TCP, 4)
	if err != nil {
		b.Fatal(err)
	}
	data := attachment()
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := c.Scan(context.Background(), bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheckMessage is the same attachment inside a message (base64, multipart),
// through the virus check: MIME walk, decoding, streaming each part.
func BenchmarkCheckMessage(b *testing.B) {
	for _, whole := range []bool{false, true} {
		b.Run("whole="+strconv.FormatBool(whole), func(b *testing.B) {
			clamd := testutil.StartClamd(b, "")
			c, err := New(clamd.TCP, 4)
			if err != nil {
				b.Fatal(err)
			}
			data := attachment()
			sp := spool.FromBytes([]byte(testutil.WithAttachment("bench", "data.bin", "application/octet-stream", data)))
			chk := &Check{Clamd: c, WholeMessage: whole, Timeout: time.Minute}
			msg := &filter.Message{Raw: sp, Size: sp.Size()}
			b.SetBytes(int64(len(data)))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if r := chk.Check(context.Background(), msg); r.Err != nil || r.Virus != "" {
					b.Fatalf("%+v", r)
				}
			}
		})
	}
}

// BenchmarkConcurrent100 checks 100 messages with a 1 MB attachment at once, each
// spooled to disk as serve does past memory_spool, and reports the process's peak RSS.
func BenchmarkConcurrent100(b *testing.B) {
	clamd := testutil.StartClamd(b, "")
	c, err := New(clamd.TCP, 4)
	if err != nil {
		b.Fatal(err)
	}
	raw := []byte(testutil.WithAttachment("bench", "data.bin", "application/octet-stream", attachment()))
	chk := &Check{Clamd: c, WholeMessage: true, Timeout: 5 * time.Minute}
	dir := b.TempDir()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var wg sync.WaitGroup
		for j := 0; j < 100; j++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sp := spool.New(1<<20, 0, dir)
				defer sp.Close()
				for off := 0; off < len(raw); off += 64 << 10 {
					sp.Write(raw[off:min(off+64<<10, len(raw))])
				}
				if r := chk.Check(context.Background(), &filter.Message{Raw: sp, Size: sp.Size()}); r.Err != nil {
					b.Error(r.Err)
				}
			}()
		}
		wg.Wait()
	}
	b.StopTimer()
	b.ReportMetric(peakRSSMB(), "peak-RSS-MB")
	b.ReportMetric(float64(b.N*100)/b.Elapsed().Seconds(), "msgs/s")
}

// peakRSSMB reads the process's high-water resident set size.
func peakRSSMB() float64 {
	b, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			kb, _ := strconv.ParseFloat(strings.Fields(line)[1], 64)
			return kb / 1024
		}
	}
	return 0
}

// BenchmarkRawInstreamSmall: what clamd costs for a stream however small (a 21-byte
// text part): the reason small parts are scanned concurrently.
func BenchmarkRawInstreamSmall(b *testing.B) {
	clamd := testutil.StartClamd(b, "")
	c, err := New(clamd.TCP, 4)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := c.Scan(context.Background(), strings.NewReader("See the attachment.\r\n")); err != nil {
			b.Fatal(err)
		}
	}
}

// countingScanner says every stream is clean and counts them.
type countingScanner struct{ n atomic.Int64 }

func (s *countingScanner) Scan(_ context.Context, r io.Reader) (string, error) {
	s.n.Add(1)
	_, err := io.Copy(io.Discard, r)
	return "", err
}

// BenchmarkCorpusStreams counts the streams the check sends clamd for the corpus'
// messages, as serve parses them, with and without the whole message (no clamd:
// what is counted is what would be sent). streams/msg is the measure; the
// messages whose every part is verbatim need no walk of the check's own:
//
//	go test ./clamav -run '^$' -bench CorpusStreams -benchtime 1x
func BenchmarkCorpusStreams(b *testing.B) {
	msgs, verbatim := corpusMessages(b)
	for _, whole := range []bool{false, true} {
		b.Run("whole="+strconv.FormatBool(whole), func(b *testing.B) {
			sc := &countingScanner{}
			chk := &Check{Clamd: sc, WholeMessage: whole}
			for i := 0; i < b.N; i++ {
				for _, m := range msgs {
					if r := chk.Check(context.Background(), m); r.Err != nil {
						b.Fatal(r.Err)
					}
				}
			}
			b.ReportMetric(float64(sc.n.Load())/float64(b.N*len(msgs)), "streams/msg")
			b.ReportMetric(100*float64(verbatim)/float64(len(msgs)), "verbatim-%")
		})
	}
}

// corpusMessages are the corpus' messages as serve parses them, and how many of
// them have every part verbatim.
func corpusMessages(b *testing.B) (msgs []*filter.Message, verbatim int) {
	msgs = corpusmsg.Messages(b)
	for _, m := range msgs {
		if m.Parsed.Verbatim() {
			verbatim++
		}
	}
	return msgs, verbatim
}

// BenchmarkClamdCorpusCPU is what clamd spends over the corpus, each case on a
// clamd started afresh (its cache of clean files empty, as for mail it has not
// seen; a clamd that has scanned the corpus before answers much of it from that
// cache): the check as serve runs it (the whole message, then the decoded parts
// it must still stream), and the whole message alone, the floor of what
// scan_whole_message costs. clamd-ms/msg is clamd's user and system CPU:
//
//	go test ./clamav -run '^$' -bench ClamdCorpusCPU -benchtime 1x
func BenchmarkClamdCorpusCPU(b *testing.B) {
	msgs, _ := corpusMessages(b)
	cases := []struct {
		name string
		scan func(c *Client, m *filter.Message) error
	}{
		{"check", func(c *Client, m *filter.Message) error {
			return (&Check{Clamd: c, WholeMessage: true, MaxStream: c.MaxStream}).Check(context.Background(), m).Err
		}},
		{"whole-message-alone", func(c *Client, m *filter.Message) error {
			_, err := c.Scan(context.Background(), m.RawReader())
			return err
		}},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			var cpu time.Duration
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				clamd := testutil.StartClamd(b, "")
				c, err := New(clamd.TCP, 4)
				if err != nil {
					b.Fatal(err)
				}
				cpu0 := testutil.ProcCPU(clamd.Pid())
				b.StartTimer()
				for _, m := range msgs {
					if err := tc.scan(c, m); err != nil {
						b.Fatal(err)
					}
				}
				cpu += testutil.ProcCPU(clamd.Pid()) - cpu0
			}
			b.ReportMetric(filter.Millis(cpu)/float64(b.N*len(msgs)), "clamd-ms/msg")
		})
	}
}

// BenchmarkClamdCachedStream is what clamd spends on a stream it has already
// found clean (a 27 KB text, streamed before): its temporary file, digest and
// cache lookup, which a decoded part streamed after the whole message costs
// although clamd's mail parser scanned the same bytes inside it:
//
//	go test ./clamav -run '^$' -bench ClamdCachedStream -benchtime 500x
func BenchmarkClamdCachedStream(b *testing.B) {
	clamd, c, text := cachedStream(b, 4)
	cpu0 := testutil.ProcCPU(clamd.Pid())
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := c.Scan(context.Background(), bytes.NewReader(text)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(filter.Millis(testutil.ProcCPU(clamd.Pid())-cpu0)/float64(b.N), "clamd-ms/stream")
}

// BenchmarkClamdCachedStreams is BenchmarkClamdCachedStream with four streams at
// once, as serve sends them under load (max_connections is 2 a core), and what
// this process spent too: with little for clamd to scan, what the two sides
// cost is mostly the stream's writes and reads and the wake-ups they cause:
//
//	go test ./clamav -run '^$' -bench ClamdCachedStreams -benchtime 4000x -count 5
func BenchmarkClamdCachedStreams(b *testing.B) {
	const atOnce = 4
	clamd, c, text := cachedStream(b, atOnce)
	cpu0, self0 := testutil.ProcCPU(clamd.Pid()), testutil.ProcCPU(os.Getpid())
	b.ResetTimer()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, atOnce)
	for range atOnce {
		wg.Go(func() {
			for next.Add(1) <= int64(b.N) {
				if _, err := c.Scan(context.Background(), bytes.NewReader(text)); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(filter.Millis(testutil.ProcCPU(clamd.Pid())-cpu0)/float64(b.N), "clamd-ms/stream")
	b.ReportMetric(filter.Millis(testutil.ProcCPU(os.Getpid())-self0)/float64(b.N), "self-ms/stream")
}

// cachedStream starts a private clamd and a client of it with conns connections,
// and streams it a 27 KB text once, which it then holds clean in its cache.
func cachedStream(b *testing.B, conns int) (*testutil.Clamd, *Client, []byte) {
	clamd := testutil.StartClamd(b, "")
	c, err := New(clamd.TCP, conns)
	if err != nil {
		b.Fatal(err)
	}
	text := bytes.Repeat([]byte("A line of text that clamd has seen before, word for word.\r\n"), 450)
	if _, err := c.Scan(context.Background(), bytes.NewReader(text)); err != nil {
		b.Fatal(err)
	}
	return clamd, c, text
}
