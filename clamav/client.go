// Package clamav scans messages for malware with ClamAV's daemon, clamd: a small
// INSTREAM client of our own, and the filter check that streams the raw message and
// every decoded MIME part to it.
//
// The client is ours rather than github.com/baruwa-enterprise/clamd v1.0.1 (the only
// version available) because that one drops the last chunk when a reader returns data
// together with io.EOF (so it misses viruses at the end of a part), does not cancel a
// scan in progress when its context ends, and reports "broken pipe" instead of clamd's
// answer when a stream passes StreamMaxLength. INSTREAM is a short protocol; see
// docs/clamav.md.
package clamav

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/postern/postern/internal/clamdaddr"
)

// ErrSizeLimit means clamd refused the stream: it passed clamd's StreamMaxLength (or
// ours). The part was not scanned.
var ErrSizeLimit = errors.New("clamd: stream exceeds StreamMaxLength")

// Client talks to one clamd.
type Client struct {
	network, address string
	// MaxStream is clamd's StreamMaxLength: a stream is cut there and reported as
	// ErrSizeLimit without waiting for clamd to refuse it. 0: no limit of ours.
	MaxStream int64
	// ChunkSize is the INSTREAM chunk size.
	ChunkSize int
	slots     *slots
	bufs      sync.Pool
	// idle holds sessions (IDSESSION) between scans: a connection a scan, as
	// before, cost a TCP handshake and clamd an accept each time, two or three
	// times a message (the whole message and its parts); dialing was about 3 %
	// of serve's CPU under the load test.
	idle chan *session
}

// session is a connection to clamd in IDSESSION mode: clamd reads command after
// command on it and numbers its answers ("3: stream: OK").
type session struct {
	conn net.Conn
	n    int       // commands sent
	used time.Time // when it went idle
}

// sessionIdle is how long a session may wait unused before it is closed rather
// than used: well under clamd's IdleTimeout (30 s in Debian's clamd.conf), after
// which clamd closes it. A session clamd closed is seen before use (alive); one
// it closes while a scan starts on it costs that scan a second try (Scan), or a
// tempfail when the stream cannot be rewound, so the margin is wide.
const sessionIdle = 5 * time.Second

// New returns a client for address, written "tcp://HOST:PORT" or "unix:PATH" (also
// "unix:///PATH" and a bare absolute path), that runs at most concurrency scans at once.
func New(address string, concurrency int) (*Client, error) {
	network, addr, err := ParseAddress(address)
	if err != nil {
		return nil, err
	}
	if concurrency < 1 {
		concurrency = 1
	}
	c := &Client{network: network, address: addr, ChunkSize: 64 << 10, slots: newSlots(concurrency), idle: make(chan *session, concurrency)}
	c.bufs.New = c.newBuf
	return c, nil
}

// ParseAddress splits "tcp://HOST:PORT" or "unix:PATH" into Go's network and address
// (the configuration validates it with the same parser).
func ParseAddress(s string) (network, address string, err error) { return clamdaddr.Parse(s) }

// String names the clamd for logs.
func (c *Client) String() string { return c.network + ":" + c.address }

// acquire waits for a concurrency slot (released by c.slots.release). A check's
// first scan waits behind the scans of messages already in progress (slots);
// its wait is added to the check's scans (withScans), if ctx has them.
func (c *Client) acquire(ctx context.Context) error {
	sc, _ := ctx.Value(scansKey{}).(*scans)
	p := firstSmall
	switch {
	case sc == nil:
	case sc.started.Swap(true):
		p = later
	case sc.large:
		p = firstLarge
	}
	waited, err := c.slots.acquire(ctx, p)
	if sc != nil {
		sc.waited.Add(int64(waited))
	}
	if err != nil {
		return fmt.Errorf("clamd: waiting for a free connection: %w", err)
	}
	return nil
}

type scansKey struct{}

// scans are what a check's scans share: whether the message is large (its first
// scan then lets small messages' go first, slots), whether one has asked for a
// slot (the others then go before first scans), and how long they waited for
// one: how much of a check's time the pool (max_connections), not clamd, took.
type scans struct {
	large   bool // (set before the first scan)
	started atomic.Bool
	waited  atomic.Int64
}

// largeMessage is the size over which a message is large to slots: about one in
// twenty-five of the load test's corpus messages, those with attachments or
// long HTML, whose scans cost clamd ten times a small one's or more
// (scripts/clamdstreams, docs/benchmarks.md, "Fifty-third session").
const largeMessage = 64 << 10

// withScans returns ctx carrying the scans of a check of a message of size bytes.
func withScans(ctx context.Context, size int64) (context.Context, *scans) {
	sc := &scans{large: size > largeMessage}
	return context.WithValue(ctx, scansKey{}, sc), sc
}

// connect opens a connection to clamd; the caller holds a slot.
func (c *Client) connect(ctx context.Context) (net.Conn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, c.network, c.address)
	if err != nil {
		return nil, fmt.Errorf("clamd: connect %s: %w", c, err)
	}
	return conn, nil
}

// dial waits for a concurrency slot and connects; the connection is closed when ctx
// ends, which cancels a scan in progress, and carries ctx's deadline.
func (c *Client) dial(ctx context.Context) (net.Conn, func(), error) {
	if err := c.acquire(ctx); err != nil {
		return nil, nil, err
	}
	conn, err := c.connect(ctx)
	if err != nil {
		c.slots.release()
		return nil, nil, err
	}
	// When ctx ends (deadline or cancel), blocked reads and writes fail at once; ctx's
	// error is then set, so callers see it rather than a bare I/O timeout.
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	return conn, func() { stop(); conn.Close(); c.slots.release() }, nil
}

// Ping checks that clamd answers.
func (c *Client) Ping(ctx context.Context) error {
	conn, done, err := c.dial(ctx)
	if err != nil {
		return err
	}
	defer done()
	if _, err := conn.Write([]byte("zPING\x00")); err != nil {
		return c.ctxErr(ctx, fmt.Errorf("clamd: ping: %w", err))
	}
	line, err := readReply(conn)
	if err != nil {
		return c.ctxErr(ctx, fmt.Errorf("clamd: ping: %w", err))
	}
	if line != "PONG" {
		return fmt.Errorf("clamd: ping: unexpected answer %q", line)
	}
	return nil
}

// Scan streams r to clamd and returns the signature name of what it found, "" when
// clean. Every byte r yields is scanned, including data returned together with io.EOF.
//
// An idle session clamd closes just as a scan starts on it (its IdleTimeout, or a
// restart) gives no answer. That is not clamd failing on the message: when r can
// be rewound (an io.Seeker: the whole message, and the small parts Check holds in
// memory), the scan runs again, once, on a new connection.
func (c *Client) Scan(ctx context.Context, r io.Reader) (string, error) {
	rewind := rewinder(r)
	fresh := false
	for {
		s, reused, err := c.take(ctx, fresh)
		if err != nil {
			return "", err
		}
		// When ctx ends (deadline or cancel), blocked reads and writes fail at once.
		stop := context.AfterFunc(ctx, func() { s.conn.SetDeadline(time.Unix(1, 0)) })
		s.n++
		sig, reuse, broken, err := c.scan(ctx, s, r)
		// A deadline that fired has spoilt the connection's deadline.
		c.give(s, stop() && reuse)
		if !broken || !reused || fresh || ctx.Err() != nil || rewind == nil || rewind() != nil {
			return sig, err
		}
		fresh = true
	}
}

// rewinder returns what puts r back where it is now, or nil when r cannot seek.
func rewinder(r io.Reader) func() error {
	sk, ok := r.(io.Seeker)
	if !ok {
		return nil
	}
	at, err := sk.Seek(0, io.SeekCurrent)
	if err != nil {
		return nil
	}
	return func() error {
		_, err := sk.Seek(at, io.SeekStart)
		return err
	}
}

// scan runs one INSTREAM command on s; reuse is whether the session may take
// another: only after a whole command and its answer, numbered as this command
// (after anything else, what clamd would send next is not known). broken is
// whether the session failed before clamd answered (not our reader).
func (c *Client) scan(ctx context.Context, s *session, r io.Reader) (sig string, reuse, broken bool, err error) {
	werr := c.stream(s.conn, r)
	if werr != nil && !errors.Is(werr, errWrite) && !errors.Is(werr, ErrSizeLimit) {
		return "", false, false, werr // our reader failed: nothing meaningful to ask clamd
	}
	// clamd answers (e.g. "INSTREAM size limit exceeded") before closing, even when our
	// writes failed because it stopped reading: its answer says why.
	line, rerr := readReply(s.conn)
	if rerr != nil {
		if werr != nil {
			return "", false, true, c.ctxErr(ctx, werr)
		}
		return "", false, true, c.ctxErr(ctx, fmt.Errorf("clamd: read answer: %w", rerr))
	}
	sig, perr := ParseReply(line)
	if perr != nil {
		return "", false, false, perr
	}
	reuse = werr == nil && strings.HasPrefix(line, strconv.Itoa(s.n)+": ")
	if errors.Is(werr, ErrSizeLimit) && sig == "" {
		return "", reuse, false, ErrSizeLimit // clamd saw only the first MaxStream bytes
	}
	return sig, reuse, false, nil
}

// take waits for a concurrency slot and returns an idle session (reused), or a
// new one; fresh asks for a new one.
func (c *Client) take(ctx context.Context, fresh bool) (s *session, reused bool, err error) {
	if err := c.acquire(ctx); err != nil {
		return nil, false, err
	}
	if !fresh {
		if s := c.idleSession(); s != nil {
			return s, true, nil
		}
	}
	conn, err := c.connect(ctx)
	if err == nil {
		if dl, ok := ctx.Deadline(); ok {
			conn.SetDeadline(dl)
		}
		if _, err = conn.Write([]byte("zIDSESSION\x00")); err != nil {
			conn.Close()
			err = c.ctxErr(ctx, fmt.Errorf("clamd: start a session: %w", err))
		}
	}
	if err != nil {
		c.slots.release()
		return nil, false, err
	}
	conn.SetDeadline(time.Time{})
	return &session{conn: conn}, false, nil
}

// idleSession is an idle session clamd still has open, or nil; those that waited
// too long, or that clamd closed, are closed.
func (c *Client) idleSession() *session {
	for {
		select {
		case s := <-c.idle:
			if time.Since(s.used) < sessionIdle && alive(s.conn) {
				return s
			}
			s.conn.Close()
		default:
			return nil
		}
	}
}

// give returns a session to the idle ones when keep, else closes it, and frees
// the concurrency slot.
func (c *Client) give(s *session, keep bool) {
	if keep {
		s.used = time.Now()
		select {
		case c.idle <- s:
			s = nil
		default:
		}
	}
	if s != nil {
		s.conn.Close()
	}
	c.slots.release()
}

// alive reports whether clamd still has an idle session open: a closed one reads
// end of file at once (clamd restarted, or timed it out), which a peek shows
// without blocking. Connections that cannot be peeked at count as alive.
func alive(conn net.Conn) bool {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return true
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	ok = true
	var buf [1]byte
	if err := raw.Read(func(fd uintptr) bool {
		n, _, err := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		// Nothing to read (EAGAIN) is an open, quiet session; end of file (0, no
		// error), an error or unasked-for bytes are not a session to use.
		ok = n < 0 && (err == syscall.EAGAIN || err == syscall.EWOULDBLOCK)
		return true
	}); err != nil {
		return false
	}
	return ok
}

// Close closes the idle sessions; scans may still run (their sessions close when
// they end).
func (c *Client) Close() {
	for {
		select {
		case s := <-c.idle:
			s.conn.Close()
		default:
			return
		}
	}
}

var errWrite = errors.New("clamd: write")

// instream starts a stream; end is the chunk of no bytes that ends it.
var instream, end = []byte("zINSTREAM\x00"), []byte{0, 0, 0, 0}

// newBuf is a stream's buffer: room for the command, a chunk (its length and
// data) and the end, so that they can go out in one write.
func (c *Client) newBuf() any {
	b := make([]byte, len(instream)+4+c.ChunkSize+len(end))
	return &b
}

// stream sends r as one INSTREAM command. The command goes out with the first
// chunk and the end with the last, so a stream that fits in one chunk (most
// mail) is one write, not three: a write is a system call here and a segment
// clamd's listening thread wakes for. This process's CPU a stream went down by
// a tenth; clamd's did not move beyond the runs' spread
// (BenchmarkClamdCachedStreams, docs/benchmarks.md, "Fifty-sixth session").
func (c *Client) stream(conn net.Conn, r io.Reader) error {
	bp := c.bufs.Get().(*[]byte)
	defer c.bufs.Put(bp)
	buf := *bp
	cmd := copy(buf, instream)
	chunk := buf[cmd:] // a chunk's length, its data, and room for the end
	from := 0          // where the write starts: the command, the first time only
	var sent int64
	for {
		n, rerr := io.ReadFull(r, chunk[4:len(chunk)-len(end)])
		var limitErr error
		if c.MaxStream > 0 && sent+int64(n) > c.MaxStream {
			n = int(c.MaxStream - sent)
			limitErr = ErrSizeLimit
		}
		last := limitErr != nil || errors.Is(rerr, io.EOF) || errors.Is(rerr, io.ErrUnexpectedEOF)
		if rerr != nil && !last {
			return fmt.Errorf("clamd: read data to scan: %w", rerr)
		}
		k := 0 // bytes of chunk to send
		if n > 0 {
			binary.BigEndian.PutUint32(chunk, uint32(n))
			k = 4 + n
		}
		if last {
			k += copy(chunk[k:], end)
		}
		if _, err := conn.Write(buf[from : cmd+k]); err != nil {
			return fmt.Errorf("%w: %v", errWrite, err)
		}
		if last {
			return limitErr
		}
		sent += int64(n)
		from = cmd
	}
}

// ctxErr prefers the context's error (deadline, cancel) over the I/O error it caused.
func (c *Client) ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("clamd %s: %w", c, ctx.Err())
	}
	return err
}

// readReply reads clamd's one answer, terminated by NUL (z-commands) or newline.
func readReply(conn net.Conn) (string, error) {
	br := bufio.NewReaderSize(conn, 512)
	var b strings.Builder
	for b.Len() < 4096 {
		ch, err := br.ReadByte()
		if err != nil {
			if errors.Is(err, io.EOF) && b.Len() > 0 {
				break
			}
			return "", err
		}
		if ch == 0 || ch == '\n' {
			break
		}
		b.WriteByte(ch)
	}
	return b.String(), nil
}

// ParseReply reads an INSTREAM answer: "stream: OK" → "", "stream: NAME FOUND" → NAME;
// a size-limit answer → ErrSizeLimit; anything else is an error, never "clean".
func ParseReply(line string) (string, error) {
	line = strings.TrimRight(line, "\x00\r\n ")
	if strings.Contains(line, "size limit exceeded") {
		return "", ErrSizeLimit
	}
	rest, ok := strings.CutPrefix(line, "stream: ")
	if !ok {
		// Some clamd versions number their answers ("1: stream: OK") with IDSESSION.
		if i := strings.Index(line, ": stream: "); i >= 0 {
			rest, ok = line[i+len(": stream: "):], true
		}
	}
	switch {
	case !ok:
		return "", fmt.Errorf("clamd: unexpected answer %q", line)
	case rest == "OK":
		return "", nil
	case strings.HasSuffix(rest, " FOUND"):
		sig := strings.TrimSpace(strings.TrimSuffix(rest, " FOUND"))
		if sig == "" {
			return "", fmt.Errorf("clamd: answer without a signature name %q", line)
		}
		return sig, nil
	case strings.HasSuffix(rest, " ERROR"):
		return "", fmt.Errorf("clamd: %s", strings.TrimSuffix(rest, " ERROR"))
	}
	return "", fmt.Errorf("clamd: unexpected answer %q", line)
}
