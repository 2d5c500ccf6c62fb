package clamav

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"

	"github.com/postern/postern/filter"
	"github.com/postern/postern/internal/testutil"
	"github.com/postern/postern/scan"
	"github.com/postern/postern/spool"
)

func TestParseReply(t *testing.T) {
	tests := []struct {
		line, sig string
		err       error // nil, ErrSizeLimit, or errAny
	}{
		{"stream: OK", "", nil},
		{"stream: OK\x00", "", nil},
		{"stream: Eicar-Test-Signature FOUND", "Eicar-Test-Signature", nil},
		{"stream: Win.Test.EICAR_HDB-1 FOUND\n", "Win.Test.EICAR_HDB-1", nil},
		{"1: stream: Test.EICAR.UNOFFICIAL FOUND", "Test.EICAR.UNOFFICIAL", nil},
		{"INSTREAM size limit exceeded. ERROR", "", ErrSizeLimit},
		{"stream: Can't allocate memory ERROR", "", errAny},
		{"stream:  FOUND", "", errAny},
		{"stream: ", "", errAny},
		{"PONG", "", errAny},
		{"", "", errAny},
		{"UNKNOWN COMMAND", "", errAny},
		{"stream: OK FOUND", "OK", nil},
	}
	for _, tc := range tests {
		sig, err := ParseReply(tc.line)
		switch {
		case sig != tc.sig:
			t.Errorf("ParseReply(%q) = %q, want %q", tc.line, sig, tc.sig)
		case tc.err == nil && err != nil, tc.err != nil && err == nil:
			t.Errorf("ParseReply(%q) error %v, want %v", tc.line, err, tc.err)
		case tc.err == ErrSizeLimit && !errors.Is(err, ErrSizeLimit):
			t.Errorf("ParseReply(%q) error %v, want ErrSizeLimit", tc.line, err)
		}
	}
}

var errAny = errors.New("any error")

// FuzzParseReply: whatever clamd answers, the parser never panics and never reads an
// answer it does not understand as clean.
func FuzzParseReply(f *testing.F) {
	for _, s := range []string{"stream: OK", "stream: X FOUND", "INSTREAM size limit exceeded. ERROR", "stream: x ERROR", "1: stream: OK"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		sig, err := ParseReply(line)
		if err == nil && sig == "" {
			trimmed := strings.TrimRight(line, "\x00\r\n ")
			if !strings.HasSuffix(trimmed, "stream: OK") {
				t.Fatalf("%q read as clean", line)
			}
		}
		if err != nil && sig != "" {
			t.Fatalf("%q: both a signature and an error", line)
		}
	})
}

// fakeClamd records what a client streams and answers with reply.
type fakeClamd struct {
	addr     string
	received chan []byte
	conns    atomic.Int32 // connections accepted
}

// fakeClient starts a fake clamd answering with reply and a Client of it with
// conns connections, closed when the test ends.
func fakeClient(t *testing.T, reply func(data []byte) string, conns int) (*fakeClamd, *Client) {
	t.Helper()
	f := startFake(t, reply)
	c, err := New(f.addr, conns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return f, c
}

func startFake(t *testing.T, reply func(data []byte) string) *fakeClamd {
	t.Helper()
	f := &fakeClamd{received: make(chan []byte, 16)}
	f.addr = "tcp://" + testutil.Serve(t, func(c net.Conn) {
		f.conns.Add(1)
		// IDSESSION, then INSTREAM commands answered "N: ..." in turn, as clamd.
		session, id := false, 0
		br := bufio.NewReader(c)
		for {
			cmd, err := br.ReadString(0)
			if err != nil {
				return
			}
			if cmd == "zIDSESSION\x00" && !session {
				session = true
				continue
			}
			if cmd != "zINSTREAM\x00" {
				return
			}
			var data []byte
			for {
				var n uint32
				if err := binary.Read(br, binary.BigEndian, &n); err != nil {
					return
				}
				if n == 0 {
					break
				}
				chunk := make([]byte, n)
				if _, err := io.ReadFull(br, chunk); err != nil {
					return
				}
				data = append(data, chunk...)
			}
			f.received <- data
			r := reply(data)
			if r == "" {
				return
			}
			if id++; session {
				r = strconv.Itoa(id) + ": " + r
			}
			c.Write([]byte(r + "\x00"))
			if !session {
				return
			}
		}
	})
	return f
}

const eicar = `X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*`

func detectEICAR(data []byte) string {
	if bytes.Contains(data, []byte(eicar)) {
		return "stream: Eicar FOUND"
	}
	return "stream: OK"
}

// Every byte a reader yields reaches clamd, however the reader hands them over: the
// bug of baruwa-enterprise/clamd v1.0.1 was to drop data returned with io.EOF.
func TestScanStreamsEveryByte(t *testing.T) {
	f, c := fakeClient(t, detectEICAR, 2)
	c.ChunkSize = 7 // many chunks, and a last one cut short
	c.bufs.New = c.newBuf
	payload := "some text before " + eicar
	readers := map[string]func() io.Reader{
		"plain":           func() io.Reader { return strings.NewReader(payload) },
		"data with EOF":   func() io.Reader { return iotest.DataErrReader(strings.NewReader(payload)) },
		"one byte a time": func() io.Reader { return iotest.OneByteReader(strings.NewReader(payload)) },
		"half reads":      func() io.Reader { return iotest.HalfReader(strings.NewReader(payload)) },
	}
	for name, r := range readers {
		t.Run(name, func(t *testing.T) {
			sig, err := c.Scan(context.Background(), r())
			if err != nil || sig != "Eicar" {
				t.Fatalf("Scan = %q, %v", sig, err)
			}
			if got := <-f.received; string(got) != payload {
				t.Errorf("clamd received %q", got)
			}
		})
	}
}

// writesConn records each write a stream makes.
type writesConn struct {
	net.Conn
	writes [][]byte
}

func (c *writesConn) Write(p []byte) (int, error) {
	c.writes = append(c.writes, bytes.Clone(p))
	return len(p), nil
}

// A stream's command goes out with its first chunk and its end with its last:
// a stream that fits in a chunk is one write (each write is a segment clamd
// wakes for), and the bytes are still the INSTREAM command with every byte.
func TestStreamWrites(t *testing.T) {
	const chunk = 8
	tests := []struct {
		name      string
		size      int
		maxStream int64
		writes    int
		sent      int  // bytes clamd is given
		cut       bool // ErrSizeLimit
	}{
		{"empty", 0, 0, 1, 0, false},
		{"small", 5, 0, 1, 5, false},
		{"one chunk exactly", chunk, 0, 2, chunk, false}, // its end is known only after it
		{"a chunk and a bit", chunk + 1, 0, 2, chunk + 1, false},
		{"three chunks", 3*chunk - 2, 0, 3, 3*chunk - 2, false},
		{"cut by MaxStream", 3 * chunk, 10, 2, 10, true},
		{"cut at a chunk's end", 3 * chunk, chunk, 2, chunk, true}, // (the cut is seen at the next read)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New("tcp://127.0.0.1:1", 1)
			if err != nil {
				t.Fatal(err)
			}
			c.ChunkSize, c.MaxStream = chunk, tc.maxStream
			c.bufs.New = c.newBuf
			payload := bytes.Repeat([]byte("x"), tc.size)
			conn := &writesConn{}
			err = c.stream(conn, bytes.NewReader(payload))
			if cut := errors.Is(err, ErrSizeLimit); cut != tc.cut || (err != nil && !cut) {
				t.Fatalf("stream = %v, want cut %v", err, tc.cut)
			}
			if len(conn.writes) != tc.writes {
				t.Errorf("%d writes, want %d", len(conn.writes), tc.writes)
			}
			// The bytes parse as clamd reads them: the command, chunks, an empty one.
			br := bufio.NewReader(bytes.NewReader(bytes.Join(conn.writes, nil)))
			if cmd, err := br.ReadString(0); err != nil || cmd != "zINSTREAM\x00" {
				t.Fatalf("command %q, %v", cmd, err)
			}
			var got []byte
			for {
				var n uint32
				if err := binary.Read(br, binary.BigEndian, &n); err != nil {
					t.Fatalf("chunk length: %v", err)
				}
				if n == 0 {
					break
				}
				b := make([]byte, n)
				if _, err := io.ReadFull(br, b); err != nil {
					t.Fatalf("chunk: %v", err)
				}
				got = append(got, b...)
			}
			if len(got) != tc.sent || br.Buffered() != 0 {
				t.Errorf("clamd given %d bytes and %d more, want %d", len(got), br.Buffered(), tc.sent)
			}
		})
	}
}

func TestScanReaderFails(t *testing.T) {
	_, c := fakeClient(t, detectEICAR, 1)
	boom := errors.New("disk gone")
	_, err := c.Scan(context.Background(), iotest.ErrReader(boom))
	if !errors.Is(err, boom) {
		t.Fatalf("Scan = %v, want the reader's error", err)
	}
	// The slot is released: the next scan runs.
	if sig, err := c.Scan(context.Background(), strings.NewReader("clean")); err != nil || sig != "" {
		t.Fatalf("next Scan = %q, %v", sig, err)
	}
}

func TestScanDeadlineCancelsAScanInProgress(t *testing.T) {
	_, c := fakeClient(t, func([]byte) string { time.Sleep(time.Hour); return "" }, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Scan(ctx, strings.NewReader("never answered"))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Scan = %v, want deadline exceeded", err)
	}
	// Generous bound: the point is that it returns at all, not how fast.
	if time.Since(start) > 10*time.Second {
		t.Fatal("scan was not cancelled by its deadline")
	}
}

func TestScanCancel(t *testing.T) {
	f, c := fakeClient(t, func([]byte) string { time.Sleep(time.Hour); return "" }, 1)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-f.received; cancel() }()
	if _, err := c.Scan(ctx, strings.NewReader("x")); !errors.Is(err, context.Canceled) {
		t.Fatalf("Scan = %v, want canceled", err)
	}
}

func TestMaxStream(t *testing.T) {
	f, c := fakeClient(t, detectEICAR, 1)
	c.MaxStream = 100
	_, err := c.Scan(context.Background(), strings.NewReader(strings.Repeat("a", 1000)))
	if !errors.Is(err, ErrSizeLimit) {
		t.Fatalf("Scan = %v, want ErrSizeLimit", err)
	}
	if got := <-f.received; len(got) != 100 {
		t.Errorf("streamed %d bytes, want the first 100", len(got))
	}
	// A virus in the first part is still found.
	sig, err := c.Scan(context.Background(), strings.NewReader(eicar+strings.Repeat("a", 1000)))
	if sig != "Eicar" || err != nil {
		t.Fatalf("Scan = %q, %v", sig, err)
	}
}

func TestConnectionRefused(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	c, _ := New("tcp://"+addr, 1)
	if _, err := c.Scan(context.Background(), strings.NewReader("x")); err == nil {
		t.Fatal("no error from a clamd that is down")
	}
	if err := c.Ping(context.Background()); err == nil {
		t.Fatal("ping succeeded on a clamd that is down")
	}
}

func TestParseAddress(t *testing.T) {
	tests := []struct{ in, network, addr string }{
		{"tcp://127.0.0.1:3310", "tcp", "127.0.0.1:3310"},
		{"unix:/var/run/clamav/clamd.ctl", "unix", "/var/run/clamav/clamd.ctl"},
		{"unix:///var/run/clamav/clamd.ctl", "unix", "/var/run/clamav/clamd.ctl"},
		{"/var/run/clamav/clamd.ctl", "unix", "/var/run/clamav/clamd.ctl"},
		{"tcp://localhost", "", ""},
		{"127.0.0.1:3310", "", ""},
	}
	for _, tc := range tests {
		n, a, err := ParseAddress(tc.in)
		if n != tc.network || a != tc.addr || (err == nil) != (tc.network != "") {
			t.Errorf("ParseAddress(%q) = %q %q %v", tc.in, n, a, err)
		}
	}
}

// cleanScanner says every stream is clean; it counts the streams.
type cleanScanner struct{ n atomic.Int32 }

func (s *cleanScanner) Scan(context.Context, io.Reader) (string, error) {
	s.n.Add(1)
	return "", nil
}

// seekScanner says every stream is clean; it counts those the client could not
// rewind to scan again (see TestScanRetriesASessionClamdClosed).
type seekScanner struct{ unseekable atomic.Int32 }

func (s *seekScanner) Scan(_ context.Context, r io.Reader) (string, error) {
	if _, ok := r.(io.Seeker); !ok {
		s.unseekable.Add(1)
	}
	return "", nil
}

// The whole message and the parts held in memory reach the client as readers it
// can rewind, so a session clamd closed at the start of their scan costs a rescan,
// not a tempfail.
func TestCheckStreamsCanBeRescanned(t *testing.T) {
	sc := &seekScanner{}
	sp := spool.FromBytes([]byte("Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nhel=\r\nlo\r\n--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\neHl6\r\n--b--\r\n"))
	r := (&Check{Clamd: sc, WholeMessage: true}).Check(context.Background(), &filter.Message{Raw: sp, Size: sp.Size()})
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	if n := sc.unseekable.Load(); n != 0 {
		t.Errorf("%d of 3 streams cannot be rewound", n)
	}
}

// recordingScanner says every stream is clean and keeps what each held.
type recordingScanner struct {
	mu      sync.Mutex
	streams []string
}

func (s *recordingScanner) Scan(_ context.Context, r io.Reader) (string, error) {
	b, err := io.ReadAll(r)
	s.mu.Lock()
	s.streams = append(s.streams, string(b))
	s.mu.Unlock()
	return "", err
}

// Each part reaches clamd once: a part without a transfer encoding is in the
// whole message as it is, so with the whole message scanned it is not streamed
// again; unless the message is too large to be scanned whole.
func TestCheckStreamsEachPartOnce(t *testing.T) {
	raw := "Content-Type: multipart/mixed; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: text/plain\r\n\r\nplain text\r\n" +
		"--b\r\nContent-Type: text/html\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n<p>q=\r\np</p>\r\n" +
		"--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\neHl6\r\n--b--\r\n"
	tests := []struct {
		name      string
		whole     bool
		maxStream int64
		want      []string
	}{
		{"parts only", false, 0, []string{"<p>qp</p>", "plain text", "xyz"}},
		{"whole message", true, 0, []string{"<p>qp</p>", raw, "xyz"}},
		{"whole message within MaxStream", true, int64(len(raw)), []string{"<p>qp</p>", raw, "xyz"}},
		// (the client cuts the whole message at MaxStream and reports it too large)
		{"whole message over MaxStream", true, int64(len(raw)) - 1, []string{"<p>qp</p>", raw, "plain text", "xyz"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sc := &recordingScanner{}
			r := (&Check{Clamd: sc, WholeMessage: tc.whole, MaxStream: tc.maxStream}).Check(context.Background(), parsedMessage(t, raw))
			if r.Err != nil {
				t.Fatal(r.Err)
			}
			sort.Strings(sc.streams)
			if !slices.Equal(sc.streams, tc.want) {
				t.Errorf("streamed %q, want %q", sc.streams, tc.want)
			}
		})
	}
}

// wholeFailsScanner is a clamd that answers err on the whole message (whole) and
// keeps what each other stream held: ErrSizeLimit from one whose StreamMaxLength
// is below the message, an I/O timeout from one that times out.
type wholeFailsScanner struct {
	recordingScanner
	whole string
	err   error
}

func (s *wholeFailsScanner) Scan(ctx context.Context, r io.Reader) (string, error) {
	b, err := io.ReadAll(r)
	if err == nil && string(b) == s.whole {
		return "", s.err
	}
	return s.recordingScanner.Scan(ctx, bytes.NewReader(b))
}

// parsedMessage is raw as the pipeline hands it to the check: spooled and parsed.
func parsedMessage(t *testing.T, raw string) *filter.Message {
	t.Helper()
	sp := spool.FromBytes([]byte(raw))
	parsed, err := scan.Parse(strings.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	return &filter.Message{Raw: sp, Size: sp.Size(), Parsed: parsed}
}

// When clamd refuses the whole message as too large (its StreamMaxLength set
// below Postern's stream_max_length), the parts that were left to the whole
// message's scan are streamed on their own, and the message is still marked as
// not scanned whole.
func TestCheckStreamsPartsClamdRefusedWhole(t *testing.T) {
	mixed := "Content-Type: multipart/mixed; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: text/plain\r\n\r\nplain text\r\n" +
		"--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\neHl6\r\n--b--\r\n"
	plain := "Content-Type: text/plain\r\n\r\nplain text\r\n"
	tests := []struct {
		name, raw string
		want      []string
	}{
		{"a part encoded, a part verbatim", mixed, []string{"plain text", "xyz"}},
		{"every part verbatim (no walk of the virus check's own otherwise)", plain, []string{"plain text\r\n"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sc := &wholeFailsScanner{whole: tc.raw, err: ErrSizeLimit}
			r := (&Check{Clamd: sc, WholeMessage: true, AcceptTooLarge: true}).Check(context.Background(), parsedMessage(t, tc.raw))
			if r.Err != nil {
				t.Fatal(r.Err)
			}
			sort.Strings(sc.streams)
			if !slices.Equal(sc.streams, tc.want) {
				t.Errorf("streamed %q, want %q", sc.streams, tc.want)
			}
			if len(r.Headers) != 2 || !strings.HasPrefix(r.Headers[1].Value, "Unscanned (exceeds StreamMaxLength: whole message") {
				t.Errorf("headers %+v, want X-Virus-Status: Unscanned, the whole message too large", r.Headers)
			}
		})
	}
}

// When clamd fails the whole message, the answer is 451 whatever the parts
// hold, so none is streamed to a clamd that would likely fail each in turn; with
// on_scan_error = accept they are, so that a virus in one is still found, unless
// clamd ran out of time.
func TestCheckWholeMessageFailure(t *testing.T) {
	raw := "Content-Type: multipart/mixed; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: text/plain\r\n\r\nplain text\r\n" +
		"--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\neHl6\r\n--b--\r\n"
	for _, accept := range []bool{false, true} {
		t.Run(fmt.Sprintf("accept=%v", accept), func(t *testing.T) {
			sc := &wholeFailsScanner{whole: raw, err: errors.New("clamd: ERROR: can't scan this one")}
			r := (&Check{Clamd: sc, WholeMessage: true, AcceptOnError: accept}).Check(context.Background(), parsedMessage(t, raw))
			if !accept {
				if r.Err == nil || len(sc.streams) != 0 {
					t.Errorf("error %v, streamed %q: want the failure and no part streamed", r.Err, sc.streams)
				}
				return
			}
			if r.Err != nil || !slices.Equal(sc.streams, []string{"xyz"}) {
				t.Errorf("error %v, streamed %q: want no error and the encoded part streamed", r.Err, sc.streams)
			}
			if len(r.Headers) != 2 || !strings.HasPrefix(r.Headers[1].Value, "Unscanned (whole message: ") {
				t.Errorf("headers %+v, want X-Virus-Status: Unscanned, the whole message's failure", r.Headers)
			}
		})
	}
	t.Run("accept=true,timed out", func(t *testing.T) {
		sc := &wholeFailsScanner{whole: raw, err: fmt.Errorf("clamd: %w", context.DeadlineExceeded)}
		r := (&Check{Clamd: sc, WholeMessage: true, AcceptOnError: true}).Check(context.Background(), parsedMessage(t, raw))
		if r.Err != nil || len(sc.streams) != 0 || len(r.Headers) != 2 || !strings.HasPrefix(r.Headers[1].Value, "Unscanned (whole message: ") {
			t.Errorf("error %v, streamed %q, headers %+v: want Unscanned and no part streamed", r.Err, sc.streams, r.Headers)
		}
	})
}

// partFailsScanner fails the streams that start with fail (with err), and finds a
// virus in those that start with virus.
type partFailsScanner struct {
	fail, virus string
	err         error
}

func (s partFailsScanner) Scan(_ context.Context, r io.Reader) (string, error) {
	b, err := io.ReadAll(r)
	switch {
	case err != nil:
		return "", err
	case strings.HasPrefix(string(b), s.fail):
		return "", s.err
	case strings.HasPrefix(string(b), s.virus):
		return "Test.EICAR.UNOFFICIAL", nil
	}
	return "", nil
}

// When clamd fails one part, the message is not clean: with on_scan_error =
// accept the other parts are still scanned, so that a virus in one is still
// refused, as after a failure of the whole message's scan; but not after clamd
// ran out of time, which it would likely do for each. The failing part is large
// (streamed as it is decoded, before the walk goes on), so the virus's part
// comes after its failure.
func TestCheckPartFailure(t *testing.T) {
	big := strings.Repeat("A", smallPart+1024)
	raw := "Content-Type: multipart/mixed; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		base64.StdEncoding.EncodeToString([]byte(big)) + "\r\n" +
		"--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		base64.StdEncoding.EncodeToString([]byte("virus here")) + "\r\n--b--\r\n"
	answered := errors.New("clamd: ERROR: can't scan this one")
	timedOut := fmt.Errorf("clamd tcp://127.0.0.1:3310: %w", context.DeadlineExceeded)
	for _, whole := range []bool{false, true} {
		for _, accept := range []bool{false, true} {
			for _, failure := range []error{answered, timedOut} {
				t.Run(fmt.Sprintf("whole=%v,accept=%v,%v", whole, accept, failure), func(t *testing.T) {
					sc := partFailsScanner{fail: "AAAA", virus: "virus", err: failure}
					r := (&Check{Clamd: sc, WholeMessage: whole, AcceptOnError: accept}).Check(context.Background(), parsedMessage(t, raw))
					switch {
					case accept && failure == answered && r.Virus == "":
						t.Errorf("result %+v: want the virus in the part after the failing one", r)
					case accept && failure == timedOut && (r.Virus != "" || r.Err != nil || len(r.Headers) != 2 || !strings.HasPrefix(r.Headers[1].Value, "Unscanned")):
						t.Errorf("result %+v: want the message Unscanned, no part scanned after the timeout", r)
					case !accept && r.Err == nil && r.Virus == "":
						t.Errorf("result %+v: want a failure (or the virus)", r)
					}
				})
			}
		}
	}
}

// orderScanner notes when each stream starts and ends; the whole message (whole)
// takes a while.
type orderScanner struct {
	whole  string
	mu     sync.Mutex
	events []string
}

func (s *orderScanner) note(e string) {
	s.mu.Lock()
	s.events = append(s.events, e)
	s.mu.Unlock()
}

func (s *orderScanner) Scan(_ context.Context, r io.Reader) (string, error) {
	b, err := io.ReadAll(r)
	name := "part"
	if string(b) == s.whole {
		name = "whole"
		s.note("whole starts")
		time.Sleep(20 * time.Millisecond)
	}
	s.note(name + " ends")
	return "", err
}

// The decoded parts are streamed after the whole message's scan has ended, not
// beside it: clamd has then scanned them inside the message and remembers them
// clean, so the same bytes again cost it a lookup, not a second parse of (say) a
// PDF.
func TestCheckScansPartsAfterTheWholeMessage(t *testing.T) {
	raw := "Content-Type: multipart/mixed; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: text/html\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n<p>q=\r\np</p>\r\n" +
		"--b\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\neHl6\r\n--b--\r\n"
	sc := &orderScanner{whole: raw}
	sp := spool.FromBytes([]byte(raw))
	r := (&Check{Clamd: sc, WholeMessage: true}).Check(context.Background(), &filter.Message{Raw: sp, Size: sp.Size()})
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	want := []string{"whole starts", "whole ends", "part ends", "part ends"}
	if !slices.Equal(sc.events, want) {
		t.Errorf("clamd saw %q, want %q", sc.events, want)
	}
}

// The check says how long its scans waited for a free connection to clamd
// ("clamav_wait"): nothing when one was free; when none was, at least the time
// the test held the only one after the scan had started to wait.
func TestCheckReportsItsWaitForAConnection(t *testing.T) {
	f, c := fakeClient(t, detectEICAR, 1)
	sp := spool.FromBytes([]byte("Subject: hi\r\n\r\nclean\r\n"))
	msg := &filter.Message{Raw: sp, Size: sp.Size()}
	chk := &Check{Clamd: c, WholeMessage: true}
	waited := func(r filter.Result) time.Duration {
		t.Helper()
		if r.Err != nil || len(r.Times) != 1 || r.Times[0].Step != "clamav_wait" {
			t.Fatalf("result %+v, want no error and clamav_wait", r)
		}
		return r.Times[0].Duration
	}
	if w := waited(chk.Check(context.Background(), msg)); w != 0 {
		t.Errorf("waited %s with a connection free", w)
	}
	<-f.received

	waiting := holdOnlySlot(t, c)
	done := make(chan filter.Result)
	go func() { done <- chk.Check(context.Background(), msg) }()
	<-waiting
	const held = 5 * time.Millisecond
	time.Sleep(held)
	c.slots.release()
	if w := waited(<-done); w < held {
		t.Errorf("waited %s, want at least the %s the slot was held", w, held)
	}
	<-f.received
}

// With every connection busy, a small message's scan goes before a large one's
// that has waited longer (slots): the large message's size is what the check
// tells the queue.
func TestCheckSmallMessageFirst(t *testing.T) {
	f, c := fakeClient(t, detectEICAR, 1)
	message := func(body string) *filter.Message {
		sp := spool.FromBytes([]byte("Subject: hi\r\n\r\n" + body))
		return &filter.Message{Raw: sp, Size: sp.Size()}
	}
	large, small := message(strings.Repeat("large\r\n", largeMessage/7+1)), message("small\r\n")
	chk := &Check{Clamd: c, WholeMessage: true}

	waiting := holdOnlySlot(t, c)
	done := make(chan filter.Result, 2)
	for _, m := range []*filter.Message{large, small} { // the large one waits first
		go func() { done <- chk.Check(context.Background(), m) }()
		<-waiting
	}
	c.slots.release()
	for range 2 {
		if r := <-done; r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	if first := <-f.received; !bytes.HasSuffix(first, []byte("small\r\n")) {
		t.Errorf("clamd was sent %d bytes first, want the small message", len(first))
	}
	<-f.received
}

// holdOnlySlot takes c's only slot, as another scan would, until the test
// releases it; the channel gets a value each time a scan starts to wait.
func holdOnlySlot(t *testing.T, c *Client) <-chan struct{} {
	waiting := make(chan struct{}, 2)
	testHookWaiting = func() { waiting <- struct{}{} }
	t.Cleanup(func() { testHookWaiting = nil })
	if _, err := c.slots.acquire(context.Background(), firstSmall); err != nil {
		t.Fatal(err)
	}
	return waiting
}

// A check stopped by the deadline before it scanned every part must not call the
// message clean.
func TestCheckPastDeadlineIsNotClean(t *testing.T) {
	sc := &cleanScanner{}
	sp := spool.FromBytes([]byte("Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b\r\nContent-Type: application/octet-stream\r\n\r\nxyz\r\n--b--\r\n"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := (&Check{Clamd: sc}).Check(ctx, &filter.Message{Raw: sp, Size: sp.Size()})
	if r.Err == nil {
		t.Fatalf("clean result after %d of 2 parts scanned: %+v", sc.n.Load(), r)
	}
}

// Scans one after another share one connection (IDSESSION), each answer read as
// its command's; a session that waited too long is closed, not used.
func TestScanReusesASession(t *testing.T) {
	f, c := fakeClient(t, detectEICAR, 2)
	ctx := context.Background()
	for i, body := range []string{"clean", eicar, "clean again", "x" + eicar} {
		sig, err := c.Scan(ctx, strings.NewReader(body))
		if want := map[bool]string{true: "Eicar"}[strings.Contains(body, eicar)]; err != nil || sig != want {
			t.Fatalf("scan %d: %q, %v; want %q", i, sig, err, want)
		}
		<-f.received
	}
	if n := f.conns.Load(); n != 1 {
		t.Fatalf("%d connections for four scans, want 1", n)
	}
	s := <-c.idle
	s.used = time.Now().Add(-sessionIdle)
	c.idle <- s
	if _, err := c.Scan(ctx, strings.NewReader("late")); err != nil {
		t.Fatal(err)
	}
	<-f.received
	if n := f.conns.Load(); n != 2 {
		t.Fatalf("%d connections after a session went stale, want 2", n)
	}
}

// A session clamd closes as a scan starts on it (its IdleTimeout, a restart) gives
// no answer: the scan runs again on a new connection when the reader can be
// rewound, and only then, and only for a session that had been idle.
func TestScanRetriesASessionClamdClosed(t *testing.T) {
	payload := "before " + eicar
	cases := []struct {
		name      string
		warm      bool // a first scan leaves the session idle
		reader    func() io.Reader
		wantSig   string
		wantConns int32
	}{
		{"idle session, seekable reader", true, func() io.Reader { return strings.NewReader(payload) }, "Eicar", 2},
		{"idle session, section reader", true, func() io.Reader { return io.NewSectionReader(strings.NewReader("xx"+payload), 2, int64(len(payload))) }, "Eicar", 2},
		{"idle session, reader that cannot rewind", true, func() io.Reader { return iotest.OneByteReader(strings.NewReader(payload)) }, "", 1},
		{"new session", false, func() io.Reader { return strings.NewReader(payload) }, "", 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var scans atomic.Int32
			closeAt := int32(1) // the scan clamd drops the session on
			if tc.warm {
				closeAt = 2
			}
			f, c := fakeClient(t, func(data []byte) string {
				if scans.Add(1) == closeAt {
					return "" // closed without an answer
				}
				return detectEICAR(data)
			}, 2)
			ctx := context.Background()
			if tc.warm {
				if _, err := c.Scan(ctx, strings.NewReader("clean")); err != nil {
					t.Fatal(err)
				}
				<-f.received
			}
			sig, err := c.Scan(ctx, tc.reader())
			if sig != tc.wantSig || (tc.wantSig == "") != (err != nil) {
				t.Fatalf("Scan = %q, %v; want %q", sig, err, tc.wantSig)
			}
			if got := <-f.received; string(got) != payload {
				t.Errorf("clamd received %q", got)
			}
			if tc.wantSig != "" {
				if got := <-f.received; string(got) != payload {
					t.Errorf("the scan again: clamd received %q", got)
				}
			}
			if n := f.conns.Load(); n != tc.wantConns {
				t.Errorf("%d connections, want %d", n, tc.wantConns)
			}
		})
	}
}

// When the parse found every part verbatim, the check streams the whole message
// and walks no MIME tree of its own: here a parse that says so (of another
// message) keeps the encoded attachment of this one from being streamed.
func TestCheckTakesTheParsesWord(t *testing.T) {
	raw := testutil.WithAttachment("x", "a.bin", "application/octet-stream", []byte("xyz"))
	sp := spool.FromBytes([]byte(raw))
	for _, tc := range []struct {
		parsed *scan.Message
		want   int
	}{
		{nil, 2},
		{&scan.Message{}, 2}, // not parsed
		{&scan.Message{Parts: []scan.Part{{Verbatim: true}, {Verbatim: false}}}, 2},
		{&scan.Message{Parts: []scan.Part{{Verbatim: true}}}, 1},
	} {
		sc := &recordingScanner{}
		r := (&Check{Clamd: sc, WholeMessage: true}).Check(context.Background(), &filter.Message{Raw: sp, Size: sp.Size(), Parsed: tc.parsed})
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		if len(sc.streams) != tc.want {
			t.Errorf("parsed %+v: %d streams, want %d", tc.parsed, len(sc.streams), tc.want)
		}
	}
}
