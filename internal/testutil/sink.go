// Package testutil starts the real components integration tests need — a private
// Postfix, an SMTP sink, the postern binary — and decides whether a test whose
// component is missing skips (on a developer's machine) or fails (in CI, where
// .ci/run installs everything and nothing may skip).
package testutil

import (
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// Delivered is one message the sink received.
type Delivered struct {
	From  string
	Rcpts []string
	Data  string
}

// Sink is an SMTP server that keeps every message it is given, standing for the next
// hop after Postfix.
type Sink struct {
	Addr string
	mu   sync.Mutex
	msgs []Delivered
}

// StartSink runs a sink on a free loopback port until the test ends.
func StartSink(t testing.TB) *Sink {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Sink{Addr: ln.Addr().String()}
	srv := smtp.NewServer(sinkBackend{s})
	srv.Domain = "sink.test.invalid"
	srv.AllowInsecureAuth = true
	srv.ReadTimeout, srv.WriteTimeout = time.Minute, time.Minute
	srv.MaxMessageBytes = 64 << 20
	// Corpus mail has UTF-8 in its headers, which Postfix then relays only to a
	// server that offers SMTPUTF8, as most do.
	srv.EnableSMTPUTF8 = true
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return s
}

// Messages returns what arrived so far.
func (s *Sink) Messages() []Delivered {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Delivered(nil), s.msgs...)
}

// WaitFor waits until a message containing marker arrived, or the timeout passed.
func (s *Sink) WaitFor(marker string, timeout time.Duration) (Delivered, bool) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		for _, m := range s.Messages() {
			if strings.Contains(m.Data, marker) {
				return m, true
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return Delivered{}, false
}

type sinkBackend struct{ s *Sink }

func (b sinkBackend) NewSession(*smtp.Conn) (smtp.Session, error) {
	return &sinkSession{s: b.s}, nil
}

type sinkSession struct {
	s   *Sink
	cur Delivered
}

func (ss *sinkSession) Reset()        { ss.cur = Delivered{} }
func (ss *sinkSession) Logout() error { return nil }
func (ss *sinkSession) Mail(from string, _ *smtp.MailOptions) error {
	ss.cur = Delivered{From: from}
	return nil
}
func (ss *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.cur.Rcpts = append(ss.cur.Rcpts, to)
	return nil
}
func (ss *sinkSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	ss.cur.Data = string(b)
	ss.s.mu.Lock()
	ss.s.msgs = append(ss.s.msgs, ss.cur)
	ss.s.mu.Unlock()
	return nil
}
