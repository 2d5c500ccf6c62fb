package milter

import (
	"bufio"
	"encoding/binary"
	"io"
	"net"
	"strings"
	"testing"

	gomilter "github.com/emersion/go-milter"

	"github.com/postern/postern/filter"
	"github.com/postern/postern/rules"
)

// benchMessage is a 10 KB message with the headers a real one has.
func benchMessage() msg {
	m := plain(strings.Repeat(strings.Repeat("lorem ipsum dolor sit amet ", 3)+"\r\n", 120))
	m.headers = append(m.headers,
		[2]string{"Received", "from client.example (client.example [192.0.2.7]) by mx.test (Postfix) with ESMTP id 4ABC123"},
		[2]string{"Message-ID", "<bench@example.org>"}, [2]string{"Date", "Mon, 23 Nov 2026 12:00:00 +0000"},
		[2]string{"MIME-Version", "1.0"}, [2]string{"Content-Type", "text/plain; charset=utf-8"})
	return m
}

func benchRoundTrip(b *testing.B, p *filter.Pipeline, perConnection bool) {
	_, addr := startServer(b, p, defaultOpts())
	m := benchMessage()
	b.SetBytes(int64(len(m.body)))
	b.ReportAllocs()
	// Postfix runs many smtpd processes, each with its own milter connection.
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var s *gomilter.ClientSession
		for pb.Next() {
			if s == nil {
				s = dial(b, addr)
				connect(b, s)
			}
			_, act, err := trySend(s, m)
			if err != nil {
				b.Error(err)
				return
			}
			if act.Code != gomilter.ActAccept {
				b.Errorf("answer %c", act.Code)
				return
			}
			if perConnection {
				s.Close()
				s = nil
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkRoundTrip: client → postern → verdict for a 10 KB message with no checks,
// one milter connection per message (Postfix opens one per SMTP session).
func BenchmarkRoundTrip(b *testing.B) {
	benchRoundTrip(b, &filter.Pipeline{Policy: testPipeline().Policy}, true)
}

// BenchmarkRoundTripReuse: the same over long-lived connections.
func BenchmarkRoundTripReuse(b *testing.B) {
	benchRoundTrip(b, &filter.Pipeline{Policy: testPipeline().Policy}, false)
}

// BenchmarkRoundTripGTUBE: the same with the built-in rules, message parsed.
func BenchmarkRoundTripBuiltinRules(b *testing.B) {
	benchRoundTrip(b, testPipeline(), false)
}

// mtaClient speaks the MTA side of the milter protocol the way Postfix does: commands
// that need no reply are buffered and go out with the next one that does, so a message
// costs a handful of round trips. go-milter's Client flushes every packet on its own,
// which makes a benchmark measure the client's syscalls more than the server.
type mtaClient struct {
	c   net.Conn
	w   *bufio.Writer
	r   *bufio.Reader
	buf []byte
}

func dialMTA(b *testing.B, addr string) *mtaClient {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	m := &mtaClient{c: c, w: bufio.NewWriterSize(c, 64<<10), r: bufio.NewReaderSize(c, 64<<10)}
	opt := make([]byte, 12)
	binary.BigEndian.PutUint32(opt, 6)
	binary.BigEndian.PutUint32(opt[4:], 0x1ff)
	binary.BigEndian.PutUint32(opt[8:], 0x1fffff)
	m.send('O', opt)
	code, data := m.read(b)
	if code != 'O' || len(data) < 12 {
		b.Fatalf("negotiate: %c", code)
	}
	if proto := gomilter.OptProtocol(binary.BigEndian.Uint32(data[8:])); proto&Protocol != Protocol {
		b.Fatalf("server did not negotiate its protocol options: %x", proto)
	}
	m.send('D', cstr("C", "j", "mx.test", "{client_addr}", "192.0.2.7"))
	m.send('C', append(cstr("client.example"), '4', 0x9c, 0x40, '1', '9', '2', '.', '0', '.', '2', '.', '7', 0))
	m.send('H', cstr("client.example")) // (no replies to either)
	return m
}

func cstr(ss ...string) []byte {
	var out []byte
	for _, s := range ss {
		out = append(append(out, s...), 0)
	}
	return out
}

func (m *mtaClient) send(code byte, data []byte) {
	var hdr [5]byte
	binary.BigEndian.PutUint32(hdr[:], uint32(len(data)+1))
	hdr[4] = code
	m.w.Write(hdr[:])
	m.w.Write(data)
}

func (m *mtaClient) read(b *testing.B) (byte, []byte) {
	if err := m.w.Flush(); err != nil {
		b.Fatal(err)
	}
	var hdr [5]byte
	if _, err := io.ReadFull(m.r, hdr[:]); err != nil {
		b.Fatal(err)
	}
	n := int(binary.BigEndian.Uint32(hdr[:])) - 1
	if cap(m.buf) < n {
		m.buf = make([]byte, n)
	}
	m.buf = m.buf[:n]
	if _, err := io.ReadFull(m.r, m.buf); err != nil {
		b.Fatal(err)
	}
	return hdr[4], m.buf
}

func (m *mtaClient) expect(b *testing.B, want byte) {
	if code, _ := m.read(b); code != want {
		b.Fatalf("reply %c, want %c", code, want)
	}
}

// message sends one message and returns the final action code.
func (m *mtaClient) message(b *testing.B, msg msg) byte {
	m.send('D', cstr("M", "i", msg.queueID))
	m.send('M', cstr("<"+msg.from+">"))
	m.expect(b, 'c')
	for _, r := range msg.rcpts {
		m.send('R', cstr("<"+r+">"))
		m.expect(b, 'c')
	}
	for _, h := range msg.headers {
		m.send('L', cstr(h[0], h[1]))
	}
	m.send('N', nil)
	for body := []byte(msg.body); len(body) > 0; {
		n := min(len(body), gomilter.MaxBodyChunk)
		m.send('B', body[:n])
		body = body[n:]
	}
	m.send('E', nil)
	for {
		code, _ := m.read(b)
		switch code {
		case 'h', 'm', 'i', '+', '-', 'q', 'p':
			continue
		}
		return code
	}
}

// BenchmarkRoundTripMTA: a 10 KB message with no checks, sent as Postfix sends it
// (buffered, one connection per smtpd process, several in parallel).
func BenchmarkRoundTripMTA(b *testing.B) {
	benchMTA(b, &filter.Pipeline{Policy: testPipeline().Policy})
}

// BenchmarkRoundTripMTADefaultRules: the same with Postern's default rule set, the
// message parsed: the cost a default installation adds (Bayes in cold start, no clamd).
func BenchmarkRoundTripMTADefaultRules(b *testing.B) {
	p := testPipeline()
	p.Checks = []filter.Check{rules.Default()}
	benchMTA(b, p)
}

func benchMTA(b *testing.B, p *filter.Pipeline) {
	_, addr := startServer(b, p, defaultOpts())
	msg := benchMessage()
	b.SetBytes(int64(len(msg.body)))
	b.ReportAllocs()
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		m := dialMTA(b, addr)
		for pb.Next() {
			if code := m.message(b, msg); code != 'a' {
				b.Errorf("answer %c", code)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}
