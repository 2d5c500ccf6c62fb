// Package milter is the daemon's face to the MTA: a go-milter server whose sessions
// collect the envelope and spool the message, run the filter pipeline at end of data and
// apply its verdict as milter actions (headers, reject, tempfail). It never returns a Go
// error to go-milter, which would drop the connection instead of answering.
package milter

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	gomilter "github.com/emersion/go-milter"
	"github.com/sirupsen/logrus"

	"github.com/postern/postern/filter"
	"github.com/postern/postern/policy"
	"github.com/postern/postern/quarantine"
)

// Keeper stores a copy of a message before it is rejected or held: the quarantine.
type Keeper interface {
	Put(ctx context.Context, r *quarantine.Record, raw io.Reader) error
	// Delete withdraws a record kept for a hold that did not happen (the message was
	// tempfailed after all), so releasing it later cannot deliver a second copy.
	Delete(ctx context.Context, id, by string) error
}

// What to do with a message the verdict rejects, per reason (config [quarantine]).
const (
	RejectAndKeep = "reject-and-keep" // keep a copy, then answer 5xx naming it
	Hold          = "hold"            // keep a copy, accept into Postfix's hold queue
	RejectOnly    = "reject"          // answer 5xx, keep nothing
)

// Options configure sessions.
type Options struct {
	// KeepTimeout bounds one write to the quarantine.
	KeepTimeout time.Duration

	MemorySpool    int64  // bytes held in memory before spilling to a file
	SpoolDir       string // "" for the system temp dir
	MaxMessageSize int64  // hard cap: 552 5.3.4
	// AuthservID, when set, is the id of our Authentication-Results header:
	// one that arrives claiming it is removed.
	AuthservID string
}

// Server accepts milter connections and tracks them for a graceful shutdown.
type Server struct {
	// Pipelines gives the pipeline that decides a message, asked at its end
	// of data (serve's: the pipeline a SIGHUP rebuilds, kept where its
	// recipient split reads it too). Required.
	Pipelines func() *filter.Pipeline
	// Opts configure each message, until SetOptions gives others.
	Opts       Options
	Log        logrus.FieldLogger
	Quarantine Keeper // nil: nothing is kept, rejects are plain rejects
	// Policies gives the envelope checks run at RCPT TO, asked at each
	// connection (serve's: the checks a SIGHUP rebuilds), so that one SMTP
	// session is judged by one set of them. Nil, or a nil answer: every
	// recipient is taken.
	Policies func() *policy.Policy
	// OnVerdict, when set, is told every answer given to a message (for metrics).
	OnVerdict func(v filter.Verdict, size int64)
	// OnEnvelope, when set, is told every decision on a recipient (for metrics).
	OnEnvelope func(d policy.Decision)

	swappedOpts atomic.Pointer[Options] // SetOptions', over Opts
	mu          sync.Mutex
	conns       map[*conn]struct{}
	ln          net.Listener
	pending     *conn // accepted, waiting for go-milter's NewMilter call
	closing     atomic.Bool
	srv         *gomilter.Server
}

// pipeline is the pipeline deciding messages now; a message already at end of
// data keeps the one it started with.
func (s *Server) pipeline() *filter.Pipeline { return s.Pipelines() }

// SetOptions has every message from now on spooled and answered by o
// (serve's SIGHUP: limits reloaded); a message already under way keeps the
// limits it started with.
func (s *Server) SetOptions(o Options) { s.swappedOpts.Store(&o) }

// opts are the options a new message gets.
func (s *Server) opts() *Options {
	if o := s.swappedOpts.Load(); o != nil {
		return o
	}
	return &s.Opts
}

// policy is the envelope checks a new connection gets.
func (s *Server) policy() *policy.Policy {
	if s.Policies == nil {
		return nil
	}
	return s.Policies()
}

// Listen opens a listener from Go's network and address. A stale unix socket left by a
// crashed daemon is removed first.
func Listen(network, address string) (net.Listener, error) {
	if network == "unix" {
		if fi, err := os.Stat(address); err == nil && fi.Mode()&os.ModeSocket != 0 {
			if c, err := net.Dial("unix", address); err == nil {
				c.Close()
				return nil, fmt.Errorf("milter: listen %s: another process is serving it", address)
			}
			_ = os.Remove(address)
		}
	}
	ln, err := net.Listen(network, address)
	if err != nil {
		return nil, fmt.Errorf("milter: listen %s %s: %w", network, address, err)
	}
	if network == "unix" {
		// Postfix's smtpd runs as user postfix and must be able to connect.
		_ = os.Chmod(address, 0o666)
	}
	return ln, nil
}

// Protocol is what the server asks of the MTA. No replies to headers, end of
// header and body chunks: well over half the round trips of a typical message.
// Postfix honours what the milter asks for; an answer decided there (552, a spool
// error) waits for end of data. Nor to connect and HELO, where nothing is decided
// (the envelope checks answer at RCPT TO; a failure there answers MAIL FROM),
// and no DATA or unknown commands at all: three fewer round trips an SMTP
// session, each a context switch on both sides of the socket.
const Protocol = gomilter.OptNoHeaderReply | gomilter.OptNoEOHReply | gomilter.OptNoBodyReply |
	gomilter.OptNoConnReply | gomilter.OptNoHeloReply | gomilter.OptNoData | gomilter.OptNoUnknown

// Serve answers milter connections on ln until Shutdown. It returns nil after Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	if s.Pipelines == nil {
		// Every answer, a panic's tempfail too, asks it for the pipeline:
		// refused here, not found by the first message.
		return errors.New("milter: serve: no Pipelines to decide messages")
	}
	s.mu.Lock()
	s.conns = map[*conn]struct{}{}
	s.ln = &listener{Listener: ln, s: s}
	s.srv = &gomilter.Server{
		NewMilter: s.newSession,
		// Add our headers, remove forged X-Spam-* ones, and hold messages later.
		Actions:  gomilter.OptAddHeader | gomilter.OptChangeHeader | gomilter.OptQuarantine,
		Protocol: Protocol,
	}
	s.mu.Unlock()
	err := s.srv.Serve(s.ln)
	if s.closing.Load() {
		return nil
	}
	return fmt.Errorf("milter: serve: %w", err)
}

// Addr is the listener's address (useful with port 0).
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// Shutdown stops accepting, closes idle connections at once and the others as soon as
// their message is answered; when ctx ends first, it closes them all (Postfix then
// applies milter_default_action, tempfail, to those messages).
func (s *Server) Shutdown(ctx context.Context) error {
	s.closing.Store(true)
	s.mu.Lock()
	srv := s.srv
	s.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		idle, all := s.snapshot()
		for _, c := range idle {
			c.Close()
		}
		if len(all) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			for _, c := range all {
				c.Close()
			}
			return fmt.Errorf("milter: shutdown: %d connections still busy: %w", len(all), ctx.Err())
		case <-tick.C:
		}
	}
}

// snapshot lists the idle connections and all of them; closing happens outside s.mu.
func (s *Server) snapshot() (idle, all []*conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		all = append(all, c)
		if !c.busy() {
			idle = append(idle, c)
		}
	}
	return idle, all
}

// newSession is go-milter's NewMilter. It runs on the Serve goroutine right after
// Accept, which is the only place it is called: sessions never give go-milter a response
// that would make it replace the backend (see final), so one session lives as long as
// its connection and keeps the connection's data across messages.
func (s *Server) newSession() gomilter.Milter {
	sess := &session{srv: s, log: s.Log}
	s.mu.Lock()
	defer s.mu.Unlock()
	sess.conn, s.pending = s.pending, nil
	if sess.conn != nil {
		sess.conn.onClose = sess.release
	}
	return sess
}

// listener hands each accepted connection to newSession and tracks it.
type listener struct {
	net.Listener
	s *Server
}

func (l *listener) Accept() (net.Conn, error) {
	nc, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	// go-milter reads each packet's 4-byte length and its data with separate reads
	// on the bare connection; a buffer turns that into one syscall (or fewer).
	c := &conn{Conn: nc, s: l.s, br: bufio.NewReaderSize(nc, 32<<10)}
	l.s.mu.Lock()
	l.s.conns[c] = struct{}{}
	l.s.pending = c
	l.s.mu.Unlock()
	if l.s.closing.Load() {
		c.Close()
	}
	return c, nil
}

// conn tracks whether a message is in flight on a connection, so Shutdown can close it
// only between messages.
type conn struct {
	net.Conn
	s         *Server
	br        *bufio.Reader
	inMessage atomic.Bool // from MAIL FROM until the final answer was written
	answered  atomic.Bool // the final answer is being written
	sniffed   bool        // the MTA's negotiation was logged (Read runs on one goroutine)
	w         packetWriter
	closeOnce sync.Once
	onClose   func() // guarded by s.mu
}

// Read is called by go-milter for the next command only after the previous answer was
// written: a message answered before is then truly done.
func (c *conn) Read(p []byte) (int, error) {
	if c.answered.CompareAndSwap(true, false) {
		c.inMessage.Store(false)
	}
	if !c.sniffed {
		c.sniffed = true
		c.logNegotiation()
	}
	return c.br.Read(p)
}

// Write holds the header changes go-milter writes at the end of a message and
// sends them with the answer that follows, in one write (packetWriter).
func (c *conn) Write(p []byte) (int, error) { return c.w.write(c.Conn, p) }

// packetWriter sends the packets go-milter writes, but holds header changes
// (SMFIR_ADDHEADER, INSHEADER, CHGHEADER) until the next packet of another kind,
// the answer to the message, and writes them together: a message's X-Spam
// headers and its answer were a write (a wake-up of the MTA's reader) each.
// go-milter writes a packet in one call, or a long one in pieces of 4 KB; a
// write that does not start a packet where the last ended ends the holding for
// the connection, and everything is written as it comes.
type packetWriter struct {
	held []byte
	rest int  // bytes of the current packet still to come
	hold bool // the current packet is held
	lost bool // the packets' bounds are not known: write through
}

// heldCodes are the replies a packetWriter holds: the header changes.
const heldCodes = "him"

func (w *packetWriter) write(dst io.Writer, p []byte) (int, error) {
	if !w.lost {
		switch {
		case w.rest >= len(p): // (more of the current packet)
			w.rest -= len(p)
		case w.rest == 0 && len(p) >= 5 && int(binary.BigEndian.Uint32(p))+4 >= len(p):
			w.rest = int(binary.BigEndian.Uint32(p)) + 4 - len(p)
			w.hold = strings.IndexByte(heldCodes, p[4]) >= 0
		default:
			w.lost, w.hold = true, false
		}
		if w.hold {
			w.held = append(w.held, p...)
			return len(p), nil
		}
	}
	if len(w.held) == 0 {
		return dst.Write(p)
	}
	held := len(w.held)
	w.held = append(w.held, p...)
	n, err := dst.Write(w.held)
	w.held = w.held[:0]
	return min(len(p), max(0, n-held)), err
}

// logNegotiation logs, at debug level, what the MTA offers in its first packet
// (SMFIC_OPTNEG: protocol version, actions, protocol steps). go-milter answers version
// 2 whatever is offered; this shows what each MTA would give a newer one
// (docs/ARCHITECTURE.md, "Milter protocol version").
func (c *conn) logNegotiation() {
	// Only what one read brings in: a client that sends less must not be waited for.
	if _, err := c.br.Peek(1); err != nil || c.br.Buffered() < 17 || c.s.Log == nil {
		return
	}
	b, _ := c.br.Peek(17)
	if b[4] != 'O' {
		return
	}
	be := func(i int) uint32 { return uint32(b[i])<<24 | uint32(b[i+1])<<16 | uint32(b[i+2])<<8 | uint32(b[i+3]) }
	c.s.Log.WithFields(logrus.Fields{
		"offered_version": be(5), "offered_actions": fmt.Sprintf("%#x", be(9)),
		"offered_protocol": fmt.Sprintf("%#x", be(13)), "answered_version": 2,
	}).Debug("milter negotiation")
}

func (c *conn) busy() bool { return c.inMessage.Load() }

func (c *conn) Close() error {
	var err error
	c.closeOnce.Do(func() {
		err = c.Conn.Close()
		c.s.mu.Lock()
		delete(c.s.conns, c)
		onClose := c.onClose
		c.s.mu.Unlock()
		if onClose != nil {
			onClose()
		}
	})
	if err != nil && !errors.Is(err, net.ErrClosed) {
		return err
	}
	return nil
}
