package milter

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gomilter "github.com/emersion/go-milter"
	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"

	"github.com/postern/postern/config"
	"github.com/postern/postern/filter"
	"github.com/postern/postern/quarantine"
	"github.com/postern/postern/rules"
)

// checkFunc adapts a function to filter.Check.
type checkFunc struct {
	name string
	f    func(ctx context.Context, m *filter.Message) filter.Result
}

func (c checkFunc) Name() string { return c.name }
func (c checkFunc) Check(ctx context.Context, m *filter.Message) filter.Result {
	return c.f(ctx, m)
}

func testPipeline(checks ...filter.Check) *filter.Pipeline {
	cfg := config.Default()
	return &filter.Pipeline{
		Checks: append([]filter.Check{rules.GTUBEOnly()}, checks...),
		Policy: filter.Policy{
			RequiredScore: cfg.RequiredScore, RejectScore: cfg.RejectScore,
			Timeout: 2 * time.Second, ReportHeader: "spam", Version: "postern-test",
			Replies: filter.ReplyTexts{Spam: cfg.Replies.Spam, Virus: cfg.Replies.Virus,
				TempFail: cfg.Replies.TempFail, TooLarge: cfg.Replies.TooLarge},
		},
	}
}

func defaultOpts() Options {
	return Options{MemorySpool: 1 << 20, MaxMessageSize: 50 << 20}
}

// startServer runs a Server on 127.0.0.1:0 and stops it when the test ends.
func startServer(t testing.TB, p *filter.Pipeline, opts Options) (*Server, string) {
	t.Helper()
	return startServerWith(t, fixed(p), opts)
}

// startServerWith is startServer with the Server's Pipelines given: Serve
// reads them as it starts, so they cannot be swapped in after.
func startServerWith(t testing.TB, pipelines func() *filter.Pipeline, opts Options) (*Server, string) {
	t.Helper()
	ln, err := Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	log := logrus.New()
	log.SetOutput(io.Discard)
	s := &Server{Pipelines: pipelines, Opts: opts, Log: log}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return s, ln.Addr().String()
}

func dial(t testing.TB, addr string) *gomilter.ClientSession {
	t.Helper()
	c := gomilter.NewClientWithOptions("tcp", addr, gomilter.ClientOptions{
		ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second,
		// Within the first six action bits, so the client accepts our protocol version 2.
		ActionMask: gomilter.OptAddHeader | gomilter.OptChangeHeader | gomilter.OptQuarantine,
	})
	s, err := c.Session()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// connect sends the connection-level commands as Postfix does.
func connect(t testing.TB, s *gomilter.ClientSession) {
	t.Helper()
	must(t, s.Macros(gomilter.CodeConn, "j", "mx.test", "{client_addr}", "192.0.2.7"))
	mustContinue(t, "conn", func() (*gomilter.Action, error) {
		return s.Conn("client.example", gomilter.FamilyInet, 40000, "192.0.2.7")
	})
	mustContinue(t, "helo", func() (*gomilter.Action, error) { return s.Helo("client.example") })
}

type msg struct {
	from    string
	rcpts   []string
	headers [][2]string
	body    string
	queueID string
}

func plain(body string) msg {
	return msg{
		from: "sender@example.org", rcpts: []string{"rcpt@example.com"},
		headers: [][2]string{{"From", "sender@example.org"}, {"To", "rcpt@example.com"}, {"Subject", "hello"}},
		body:    body, queueID: "4ABC123",
	}
}

// send runs one message through the session and returns the modifications and answer.
// An answer before end of data is returned as the final action with no modifications.
func send(t testing.TB, s *gomilter.ClientSession, m msg) ([]gomilter.ModifyAction, *gomilter.Action) {
	t.Helper()
	mods, act, err := trySend(s, m)
	if err != nil {
		t.Fatal(err)
	}
	return mods, act
}

func trySend(s *gomilter.ClientSession, m msg) ([]gomilter.ModifyAction, *gomilter.Action, error) {
	if err := s.Macros(gomilter.CodeMail, "{auth_authen}", "alice"); err != nil {
		return nil, nil, err
	}
	steps := []func() (*gomilter.Action, error){
		func() (*gomilter.Action, error) { return s.Mail("<"+m.from+">", nil) },
	}
	for _, r := range m.rcpts {
		steps = append(steps, func() (*gomilter.Action, error) { return s.Rcpt("<"+r+">", nil) })
	}
	for _, h := range m.headers {
		steps = append(steps, func() (*gomilter.Action, error) { return s.HeaderField(h[0], h[1]) })
	}
	steps = append(steps, s.HeaderEnd)
	for _, st := range steps {
		act, err := st()
		if err != nil {
			return nil, nil, err
		}
		if act.Code != gomilter.ActContinue {
			return nil, act, nil
		}
	}
	if err := s.Macros(gomilter.CodeEOB, "i", m.queueID); err != nil {
		return nil, nil, err
	}
	return s.BodyReadFrom(strings.NewReader(m.body))
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func mustContinue(t testing.TB, what string, f func() (*gomilter.Action, error)) {
	t.Helper()
	act, err := f()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if act.Code != gomilter.ActContinue {
		t.Fatalf("%s: got %c %d %q, want continue", what, act.Code, act.SMTPCode, act.SMTPText)
	}
}

func added(mods []gomilter.ModifyAction, name string) (string, bool) {
	for _, m := range mods {
		if m.Code == gomilter.ActAddHeader && strings.EqualFold(m.HeaderName, name) {
			return m.HeaderValue, true
		}
	}
	return "", false
}

// unfold undoes header folding at spaces.
func unfold(v string) string { return strings.ReplaceAll(v, "\n\t", " ") }

func wantReply(t testing.TB, act *gomilter.Action, code int, textPart string) {
	t.Helper()
	if act.Code != gomilter.ActReplyCode || act.SMTPCode != code || !strings.Contains(act.SMTPText, textPart) {
		t.Fatalf("answer %c %d %q, want %d …%s…", act.Code, act.SMTPCode, act.SMTPText, code, textPart)
	}
}

const gtube = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"

func TestCleanMessageGetsHeadersAndForgedOnesRemoved(t *testing.T) {
	_, addr := startServer(t, testPipeline(), defaultOpts())
	s := dial(t, addr)
	connect(t, s)
	m := plain("Hello,\r\nthis is a clean message.\r\n")
	m.headers = append(m.headers, [2]string{"X-Spam-Status", "No, forged"}, [2]string{"x-spam-flag", "NO"},
		[2]string{"X-Spam-Status", "No, forged again"})
	mods, act := send(t, s, m)
	if act.Code != gomilter.ActAccept {
		t.Fatalf("answer %c %q, want accept", act.Code, act.SMTPText)
	}
	status, ok := added(mods, "X-Spam-Status")
	if !ok || !strings.HasPrefix(unfold(status), "No, score=0.0 required=5.0 tests=none autolearn=no version=postern-test") {
		t.Errorf("X-Spam-Status = %q", status)
	}
	if lvl, ok := added(mods, "X-Spam-Level"); !ok || lvl != "" {
		t.Errorf("X-Spam-Level = %q %v", lvl, ok)
	}
	if _, ok := added(mods, "X-Spam-Flag"); ok {
		t.Error("X-Spam-Flag on ham")
	}
	var removed []string
	for _, md := range mods {
		if md.Code == gomilter.ActChangeHeader && md.HeaderValue == "" {
			removed = append(removed, fmt.Sprintf("%s#%d", md.HeaderName, md.HeaderIndex))
		}
	}
	want := "X-Spam-Status#1 x-spam-flag#1 X-Spam-Status#2"
	if strings.Join(removed, " ") != want {
		t.Errorf("removed %v, want %s", removed, want)
	}
}

func TestGTUBERejected(t *testing.T) {
	_, addr := startServer(t, testPipeline(), defaultOpts())
	s := dial(t, addr)
	connect(t, s)
	_, act := send(t, s, plain("test\r\n"+gtube+"\r\n"))
	wantReply(t, act, 550, "5.7.1 Message rejected as spam (ref ")
}

func TestSpamBelowRejectIsTagged(t *testing.T) {
	spammy := checkFunc{"spammy", func(context.Context, *filter.Message) filter.Result {
		return filter.Result{Tests: []filter.Test{{Name: "Z_RULE", Score: 4.2, Description: "last"}, {Name: "A_RULE", Score: 3, Description: "first"}}}
	}}
	_, addr := startServer(t, testPipeline(spammy), defaultOpts())
	s := dial(t, addr)
	connect(t, s)
	mods, act := send(t, s, plain("buy now\r\n"))
	if act.Code != gomilter.ActAccept {
		t.Fatalf("answer %c %q", act.Code, act.SMTPText)
	}
	if v, _ := added(mods, "X-Spam-Flag"); v != "YES" {
		t.Errorf("X-Spam-Flag = %q", v)
	}
	if v, _ := added(mods, "X-Spam-Status"); !strings.HasPrefix(unfold(v), "Yes, score=7.2 required=5.0 tests=A_RULE,Z_RULE ") {
		t.Errorf("X-Spam-Status = %q", v)
	}
	if v, _ := added(mods, "X-Spam-Level"); v != "*******" {
		t.Errorf("X-Spam-Level = %q", v)
	}
	if v, _ := added(mods, "X-Spam-Report"); !strings.Contains(v, "3.0 A_RULE first") || !strings.Contains(v, "\n\t*   4.2 Z_RULE last") {
		t.Errorf("X-Spam-Report = %q", v)
	}
}

// TestSubjectTagged: spam delivered gets the tag in front of its first
// Subject, or a Subject that is the tag; a Subject tagged already keeps one tag;
// ham is left alone.
func TestSubjectTagged(t *testing.T) {
	spammy := checkFunc{"spammy", func(_ context.Context, m *filter.Message) filter.Result {
		if strings.Contains(m.Parsed.Subject(), "ham") {
			return filter.Result{}
		}
		return filter.Result{Tests: []filter.Test{{Name: "A_RULE", Score: 7}}}
	}}
	p := testPipeline(spammy)
	p.SubjectTag = "***SPAM***"
	_, addr := startServer(t, p, defaultOpts())
	s := dial(t, addr)
	connect(t, s)
	tests := []struct {
		name     string
		subjects []string
		change   string // the Subject #1 the milter writes, "" for none
		add      string // the Subject it adds, "" for none
	}{
		{"spam", []string{"buy now", "second"}, "***SPAM*** buy now", ""},
		{"spam tagged already", []string{"***SPAM*** buy now"}, "", ""},
		{"spam, folded as the MTA gives it", []string{"buy\n\tnow"}, "***SPAM*** buy\n\tnow", ""},
		{"spam without a Subject", nil, "", "***SPAM***"},
		{"ham", []string{"ham for lunch"}, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := plain("text\r\n")
			m.headers = m.headers[:2]
			for _, sub := range tc.subjects {
				m.headers = append(m.headers, [2]string{"Subject", sub})
			}
			mods, act := send(t, s, m)
			if act.Code != gomilter.ActAccept {
				t.Fatalf("answer %c %q", act.Code, act.SMTPText)
			}
			var change string
			for _, md := range mods {
				if md.Code == gomilter.ActChangeHeader && strings.EqualFold(md.HeaderName, "Subject") {
					if md.HeaderIndex != 1 || change != "" {
						t.Errorf("Subject #%d changed (%q before)", md.HeaderIndex, change)
					}
					change = md.HeaderValue
				}
			}
			add, _ := added(mods, "Subject")
			if change != tc.change || add != tc.add {
				t.Errorf("changed %q, added %q; want %q, %q", change, add, tc.change, tc.add)
			}
		})
	}
}

// recorder is a check that records the envelope and message it was given.
type recorder struct {
	mu   sync.Mutex
	envs []filter.Envelope
	raws []string
}

func (r *recorder) Name() string { return "recorder" }
func (r *recorder) Check(_ context.Context, m *filter.Message) filter.Result {
	raw, err := io.ReadAll(m.RawReader())
	if err != nil {
		return filter.Result{Err: err}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.envs = append(r.envs, *m.Env)
	r.raws = append(r.raws, string(raw))
	return filter.Result{}
}

func TestSeveralMessagesKeepTheConnectionData(t *testing.T) {
	rec := &recorder{}
	_, addr := startServer(t, testPipeline(rec), defaultOpts())
	s := dial(t, addr)
	connect(t, s)
	for i, body := range []string{"one\r\n", "two " + gtube + "\r\n", "three\r\n"} {
		m := plain(body)
		m.queueID = fmt.Sprintf("Q%d", i)
		m.rcpts = []string{fmt.Sprintf("r%d@example.com", i), "other@example.com"}
		_, act := send(t, s, m)
		wantCode := gomilter.ActAccept
		if i == 1 {
			wantCode = gomilter.ActReplyCode
		}
		if act.Code != wantCode {
			t.Fatalf("message %d: answer %c %q", i, act.Code, act.SMTPText)
		}
	}
	if len(rec.envs) != 3 {
		t.Fatalf("checked %d messages", len(rec.envs))
	}
	for i, e := range rec.envs {
		want := filter.Envelope{QueueID: fmt.Sprintf("Q%d", i), ClientAddr: "192.0.2.7", ClientName: "client.example",
			Helo: "client.example", MailFrom: "sender@example.org", AuthUser: "alice",
			Rcpts: []string{fmt.Sprintf("r%d@example.com", i), "other@example.com"}}
		if fmt.Sprint(e) != fmt.Sprint(want) {
			t.Errorf("message %d envelope\n got %+v\nwant %+v", i, e, want)
		}
	}
	wantRaw := "From: sender@example.org\r\nTo: rcpt@example.com\r\nSubject: hello\r\n\r\none\r\n"
	if rec.raws[0] != wantRaw {
		t.Errorf("spooled message %q, want %q", rec.raws[0], wantRaw)
	}
}

func TestManyRecipients(t *testing.T) {
	rec := &recorder{}
	_, addr := startServer(t, testPipeline(rec), defaultOpts())
	s := dial(t, addr)
	connect(t, s)
	m := plain("hi\r\n")
	m.rcpts = nil
	for i := 0; i < 1000; i++ {
		m.rcpts = append(m.rcpts, fmt.Sprintf("user%d@example.com", i))
	}
	if _, act := send(t, s, m); act.Code != gomilter.ActAccept {
		t.Fatalf("answer %c", act.Code)
	}
	if n := len(rec.envs[0].Rcpts); n != 1000 {
		t.Errorf("envelope has %d recipients", n)
	}
}

func TestAbortThenNextMessage(t *testing.T) {
	dir := t.TempDir()
	rec := &recorder{}
	opts := defaultOpts()
	opts.MemorySpool, opts.SpoolDir = 0, dir // every message on disk
	_, addr := startServer(t, testPipeline(rec), opts)
	s := dial(t, addr)
	connect(t, s)
	mustContinue(t, "mail", func() (*gomilter.Action, error) { return s.Mail("<a@example.org>", nil) })
	mustContinue(t, "rcpt", func() (*gomilter.Action, error) { return s.Rcpt("<b@example.com>", nil) })
	mustContinue(t, "header", func() (*gomilter.Action, error) { return s.HeaderField("Subject", "aborted") })
	must(t, s.Abort())
	if _, act := send(t, s, plain("after abort\r\n")); act.Code != gomilter.ActAccept {
		t.Fatalf("answer %c", act.Code)
	}
	if len(rec.raws) != 1 || strings.Contains(rec.raws[0], "aborted") {
		t.Fatalf("checked %q", rec.raws)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("%d spool files left", len(left))
	}
}

func TestHugeHeaders(t *testing.T) {
	_, addr := startServer(t, testPipeline(), defaultOpts())
	s := dial(t, addr)
	connect(t, s)
	m := plain("body\r\n")
	m.headers = append(m.headers, [2]string{"X-Long", strings.Repeat("a", 900_000)})
	for i := 0; i < 5000; i++ {
		m.headers = append(m.headers, [2]string{"Received", fmt.Sprintf("from h%d by h%d", i, i+1)})
	}
	mods, act := send(t, s, m)
	if act.Code != gomilter.ActAccept {
		t.Fatalf("answer %c %q", act.Code, act.SMTPText)
	}
	if _, ok := added(mods, "X-Spam-Status"); !ok {
		t.Error("no X-Spam-Status")
	}
}

func TestSizeLimits(t *testing.T) {
	tests := []struct {
		name     string
		opts     func(*Options, *filter.Policy)
		body     int
		code     gomilter.ActionCode
		smtpCode int
		text     string
		skipped  bool
	}{
		{"over the hard cap", func(o *Options, _ *filter.Policy) { o.MaxMessageSize = 100_000 }, 200_000, gomilter.ActReplyCode, 552, "5.3.4 Message too large (ref ", false},
		{"over the hard cap in the header", func(o *Options, _ *filter.Policy) { o.MaxMessageSize = 500 }, 0, gomilter.ActReplyCode, 552, "5.3.4 Message too large (ref ", false},
		{"over the scan limit, accepted", func(_ *Options, p *filter.Policy) { p.ScanLimit, p.AcceptTooLarge = 50_000, true }, 60_000, gomilter.ActAccept, 0, "", true},
		{"over the scan limit, tempfailed", func(_ *Options, p *filter.Policy) { p.ScanLimit = 50_000 }, 60_000, gomilter.ActReplyCode, 451, "4.7.1 ", false},
		{"spilled to disk, scanned", func(o *Options, _ *filter.Policy) { o.MemorySpool = 1000 }, 60_000, gomilter.ActAccept, 0, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := defaultOpts()
			opts.SpoolDir = t.TempDir()
			p := testPipeline()
			tc.opts(&opts, &p.Policy)
			_, addr := startServer(t, p, opts)
			s := dial(t, addr)
			connect(t, s)
			// (GTUBE: a message the check scores is refused.)
			line := strings.Repeat("x", 98) + "\r\n"
			m := plain(strings.Repeat(line, tc.body/100))
			if tc.skipped {
				m = plain(rules.GTUBEString + "\r\n" + strings.Repeat(line, tc.body/100))
			}
			if tc.body == 0 {
				m.headers = append(m.headers, [2]string{"X-Big", strings.Repeat("y", 600)}, [2]string{"X-After", "z"})
			}
			mods, act := send(t, s, m)
			if act.Code != tc.code || act.SMTPCode != tc.smtpCode || !strings.Contains(act.SMTPText, tc.text) {
				t.Fatalf("answer %c %d %q", act.Code, act.SMTPCode, act.SMTPText)
			}
			v, ok := added(mods, "X-Postern-Skipped")
			if ok != tc.skipped || (ok && !strings.Contains(v, "exceeds scan_limit")) {
				t.Errorf("X-Postern-Skipped = %q %v", v, ok)
			}
			if v, _ := added(mods, "X-Spam-Status"); tc.code == gomilter.ActAccept && !strings.HasPrefix(v, "No, score=0.0 ") {
				t.Errorf("X-Spam-Status %q, want No with no score: over the scan limit, GTUBE is not read", v)
			}
			if left, _ := os.ReadDir(opts.SpoolDir); len(left) != 0 {
				t.Errorf("%d spool files left", len(left))
			}
		})
	}
}

func TestFailuresTempfail(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	tests := []struct {
		name  string
		check filter.Check
	}{
		{"check panics", checkFunc{"boom", func(context.Context, *filter.Message) filter.Result { panic("boom") }}},
		{"check hangs past the deadline", checkFunc{"hang", func(context.Context, *filter.Message) filter.Result {
			<-release // ignores its context, as a buggy check would
			return filter.Result{}
		}}},
		{"check fails", checkFunc{"clamd", func(context.Context, *filter.Message) filter.Result {
			return filter.Result{Err: errors.New("connection refused")}
		}}},
	}
	for _, tc := range tests {
		for _, onErrorAccept := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/accept=%v", tc.name, onErrorAccept), func(t *testing.T) {
				p := testPipeline(tc.check)
				p.Timeout = 200 * time.Millisecond
				p.OnErrorAccept = onErrorAccept
				_, addr := startServer(t, p, defaultOpts())
				s := dial(t, addr)
				connect(t, s)
				mods, act := send(t, s, plain("hello\r\n"))
				if !onErrorAccept {
					wantReply(t, act, 451, "4.7.1 Message could not be checked, try again later (ref ")
					return
				}
				if act.Code != gomilter.ActAccept {
					t.Fatalf("answer %c %q", act.Code, act.SMTPText)
				}
				if v, ok := added(mods, "X-Postern-Skipped"); !ok || !strings.HasPrefix(v, tc.check.Name()+" (") {
					t.Errorf("X-Postern-Skipped = %q", v)
				}
				// The session still works after a failure.
				if _, act := send(t, s, plain(gtube)); act.SMTPCode != 550 {
					t.Errorf("next message: %c %d", act.Code, act.SMTPCode)
				}
			})
		}
	}
}

func TestGarbageOnTheSocket(t *testing.T) {
	_, addr := startServer(t, testPipeline(), defaultOpts())
	for _, garbage := range [][]byte{
		[]byte("GET / HTTP/1.0\r\n\r\n"),
		{0, 0, 0, 0},             // zero-length packet
		{0xff, 0xff, 0xff, 0xff}, // absurd length
		{0, 0, 0, 2, 'Z', 'x'},   // unknown command
		{0, 0, 0, 1, 'C'},        // truncated connect
	} {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		c.Write(garbage)
		buf := make([]byte, 64)
		n, err := c.Read(buf)
		// Either closed, or (truncated connect) answered and still open: never a hang.
		if err != nil && !errors.Is(err, io.EOF) && !isReset(err) {
			t.Errorf("garbage %q: %v", garbage, err)
		}
		_ = n
		c.Close()
	}
	// The daemon still serves others.
	s := dial(t, addr)
	connect(t, s)
	if _, act := send(t, s, plain("still here\r\n")); act.Code != gomilter.ActAccept {
		t.Fatalf("answer %c", act.Code)
	}
}

func isReset(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "reset by peer") || strings.Contains(err.Error(), "broken pipe"))
}

func TestShutdownLetsMessagesInFlightFinish(t *testing.T) {
	started := make(chan struct{})
	slow := checkFunc{"slow", func(ctx context.Context, _ *filter.Message) filter.Result {
		close(started)
		time.Sleep(300 * time.Millisecond)
		return filter.Result{}
	}}
	ln, err := Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	log := logrus.New()
	log.SetOutput(io.Discard)
	srv := &Server{Pipelines: fixed(testPipeline(slow)), Opts: defaultOpts(), Log: log}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	addr := ln.Addr().String()

	idle := dial(t, addr)
	connect(t, idle)
	busy := dial(t, addr)
	connect(t, busy)

	answer := make(chan *gomilter.Action, 1)
	go func() {
		_, act, err := trySend(busy, plain("in flight\r\n"))
		if err != nil {
			act = &gomilter.Action{Code: 'E', SMTPText: err.Error()}
		}
		answer <- act
	}()
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if act := <-answer; act.Code != gomilter.ActAccept {
		t.Errorf("message in flight answered %c", act.Code)
	}
	if err := <-served; err != nil {
		t.Errorf("serve: %v", err)
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Error("still accepting after shutdown")
	}
	// (A command with a reply: one without, such as HELO, is only written, and a
	// write to a socket the peer has closed can succeed.)
	if _, err := idle.Mail("someone@example.com", nil); err == nil {
		t.Error("idle connection still open after shutdown")
	}
}

func TestShutdownDeadlineClosesBusyConnections(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	started := make(chan struct{}, 1)
	stuck := checkFunc{"stuck", func(ctx context.Context, _ *filter.Message) filter.Result {
		started <- struct{}{}
		<-release
		return filter.Result{}
	}}
	p := testPipeline(stuck)
	p.Timeout = 10 * time.Second
	ln, err := Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	log := logrus.New()
	log.SetOutput(io.Discard)
	srv := &Server{Pipelines: fixed(p), Opts: defaultOpts(), Log: log}
	go srv.Serve(ln)
	s := dial(t, ln.Addr().String())
	connect(t, s)
	go trySend(s, plain("stuck\r\n"))
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := srv.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("shutdown = %v, want deadline exceeded", err)
	}
}

func TestUnixSocket(t *testing.T) {
	path := t.TempDir() + "/m.sock"
	ln, err := Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	// A crashed daemon leaves its socket file behind: the next one replaces it.
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
	ln, err = Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if _, err := Listen("unix", path); err == nil {
		t.Error("a second daemon on a live socket was allowed")
	}
}

// keeper is a fake quarantine for the session's side of the contract.
type keeper struct {
	mu      sync.Mutex
	recs    []*quarantine.Record
	raws    []string
	err     error
	deleted []string
	delay   time.Duration // how long a Put takes, as a commit's fsync does
}

func (k *keeper) Put(_ context.Context, r *quarantine.Record, raw io.Reader) error {
	time.Sleep(k.delay)
	if k.err != nil {
		return k.err
	}
	b, _ := io.ReadAll(raw)
	k.mu.Lock()
	defer k.mu.Unlock()
	k.recs, k.raws = append(k.recs, r), append(k.raws, string(b))
	return nil
}

func (k *keeper) Delete(_ context.Context, id, _ string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	for i, r := range k.recs {
		if r.ID == id {
			k.recs, k.raws = slices.Delete(k.recs, i, i+1), slices.Delete(k.raws, i, i+1)
			k.deleted = append(k.deleted, id)
		}
	}
	return nil
}

// sendSpam gives a session a whole message with the GTUBE string, straight
// through its callbacks (no MTA, and a modifier with no connection behind it),
// and returns its answer at end of data.
func sendSpam(s *session) gomilter.Response {
	s.MailFrom("<a@example.org>", nil)
	s.RcptTo("<b@example.com>", nil)
	s.Header("Subject", "hello", nil)
	s.Headers(nil, nil)
	s.BodyChunk([]byte("spam "+gtube+"\r\n"), nil)
	resp, _ := s.Body(&gomilter.Modifier{})
	return resp
}

// A hold whose copy is kept but whose accept into the hold queue fails (here the
// modifier cannot write: a panic, recovered as a tempfail) withdraws the copy: the
// sender retries, and a release later must not deliver the message twice.
func TestFailedHoldWithdrawsItsRecord(t *testing.T) {
	k := &keeper{}
	p := testPipeline()
	p.KeepSpam = Hold
	log := logrus.New()
	log.SetOutput(io.Discard)
	s := &session{srv: &Server{Pipelines: fixed(p), Opts: defaultOpts(), Log: log, Quarantine: k}, log: log}
	resp := sendSpam(s) // no connection behind the modifier: adding a header panics
	f, ok := resp.(*final)
	if !ok || !strings.HasPrefix(string(f.msg.Data), "451 ") {
		t.Fatalf("answer %+v, want 451", resp)
	}
	if len(k.deleted) != 1 || len(k.recs) != 0 {
		t.Errorf("records %d kept, %v withdrawn; want the held copy withdrawn", len(k.recs), k.deleted)
	}
}

func TestQuarantineActions(t *testing.T) {
	tests := []struct {
		name     string
		spam     string
		putErr   error
		code     gomilter.ActionCode
		smtpCode int
		kept     bool
		held     bool
	}{
		{"reject and keep", "", nil, gomilter.ActReplyCode, 550, true, false},
		{"hold", Hold, nil, gomilter.ActAccept, 0, true, true},
		{"reject only", RejectOnly, nil, gomilter.ActReplyCode, 550, false, false},
		{"write fails: 451, never a 5xx without the copy", RejectAndKeep, errors.New("disk full"), gomilter.ActReplyCode, 451, false, false},
		{"hold, write fails", Hold, errors.New("disk full"), gomilter.ActReplyCode, 451, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k := &keeper{err: tc.putErr}
			p := testPipeline()
			p.KeepSpam = tc.spam
			ln, err := Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			log := logrus.New()
			log.SetOutput(io.Discard)
			srv := &Server{Pipelines: fixed(p), Opts: defaultOpts(), Log: log, Quarantine: k}
			go srv.Serve(ln)
			defer srv.Shutdown(context.Background())
			s := dial(t, ln.Addr().String())
			connect(t, s)
			m := plain("spam " + gtube + "\r\n")
			mods, act := send(t, s, m)
			if act.Code != tc.code || act.SMTPCode != tc.smtpCode {
				t.Fatalf("answer %c %d %q", act.Code, act.SMTPCode, act.SMTPText)
			}
			if tc.kept != (len(k.recs) == 1) {
				t.Fatalf("kept %d records", len(k.recs))
			}
			if tc.kept {
				r := k.recs[0]
				if r.Reason != quarantine.ReasonSpam || r.MailFrom != m.from || r.Rcpts[0] != m.rcpts[0] ||
					r.Subject != "hello" || r.QueueID != m.queueID || r.Score != 1000 || !strings.Contains(k.raws[0], gtube) {
					t.Errorf("record %+v", r)
				}
				if !tc.held && !strings.Contains(act.SMTPText, "(ref "+r.ID+")") {
					t.Errorf("reply %q does not name the record %s", act.SMTPText, r.ID)
				}
			}
			var held bool
			for _, md := range mods {
				held = held || md.Code == gomilter.ActQuarantine
			}
			if held != tc.held {
				t.Errorf("quarantine action sent = %v", held)
			}
		})
	}
}

// Connect and HELO get no reply (Protocol): a failure there (a panic, recovered as
// a tempfail) answers MAIL FROM instead; an RSET before it (Abort, no message
// started) does not lose it, and it holds for every later MAIL FROM of the
// session: the connection's state (its envelope checks) may be half made.
func TestEarlyFailureAnsweredAtMail(t *testing.T) {
	log := logrus.New()
	log.SetOutput(io.Discard)
	for _, tc := range []struct {
		name, stage string
		rset        bool
	}{{"connect", "connect", false}, {"helo", "helo", false}, {"helo, then RSET", "helo", true}} {
		t.Run(tc.name, func(t *testing.T) {
			s := &session{srv: &Server{Pipelines: fixed(testPipeline()), Opts: defaultOpts(), Log: log}, log: log}
			if resp, _ := s.Connect("client.example", "tcp4", 40000, net.ParseIP("192.0.2.7"), nil); resp != nil {
				t.Fatalf("connect answered %+v, want no reply", resp)
			}
			if resp, _ := s.Helo("client.example", nil); resp != nil {
				t.Fatalf("helo answered %+v, want no reply", resp)
			}
			if resp, err := s.do(nil, tc.stage, true, func() gomilter.Response { panic("boom") }); resp != nil || err != nil {
				t.Fatalf("%s answered %+v, %v; want no reply", tc.stage, resp, err)
			}
			if tc.rset {
				s.Abort(nil)
			}
			resp, _ := s.MailFrom("<a@example.org>", nil)
			if f, ok := resp.(*final); !ok || !strings.HasPrefix(string(f.msg.Data), "451 ") {
				t.Fatalf("MAIL FROM answered %+v, want 451", resp)
			}
			s.Abort(nil)
			resp, _ = s.MailFrom("<b@example.org>", nil)
			if f, ok := resp.(*final); !ok || !strings.HasPrefix(string(f.msg.Data), "451 ") {
				t.Errorf("the next MAIL FROM answered %+v, want 451 again", resp)
			}
		})
	}
}

// The line a message is logged with says how long its checks took (check_ms) apart
// from the whole transaction since MAIL FROM (duration_ms), so an operator can
// tell a slow filter from a slow client or MTA, and how long each step took
// (check_times), to tell which check it is; a rejected message's line also says
// how long its quarantine copy took to commit (keep_ms), which the sender waits
// for too.
func TestVerdictLogTimes(t *testing.T) {
	for _, tc := range []struct {
		name  string
		spam  string
		delay time.Duration // the quarantine's write
	}{
		{"reject only: no copy", RejectOnly, 0},
		{"reject and keep", RejectAndKeep, 5 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log, hook := logtest.NewNullLogger()
			p := testPipeline()
			p.KeepSpam = tc.spam
			k := &keeper{delay: tc.delay}
			s := &session{srv: &Server{Pipelines: fixed(p), Opts: defaultOpts(), Log: log, Quarantine: k}, log: log}
			if resp := sendSpam(s); resp == nil {
				t.Fatal("no answer")
			}
			for _, e := range hook.AllEntries() {
				if e.Message != "message checked" {
					continue
				}
				check, ok1 := e.Data["check_ms"].(int64)
				total, ok2 := e.Data["duration_ms"].(int64)
				if !ok1 || !ok2 || check < 0 || check > total {
					t.Errorf("check_ms %v, duration_ms %v: want both, the first within the second", e.Data["check_ms"], e.Data["duration_ms"])
				}
				times, _ := e.Data["check_times"].(string)
				if !regexp.MustCompile(`^parse=[0-9]+\.[0-9] rules=[0-9]+\.[0-9]$`).MatchString(times) {
					t.Errorf("check_times %q, want the parse's and the rules' times in ms", times)
				}
				keep, ok := e.Data["keep_ms"].(string)
				if tc.delay == 0 {
					if ok {
						t.Errorf("keep_ms %q without a copy", keep)
					}
					return
				}
				ms, err := strconv.ParseFloat(keep, 64)
				if err != nil || ms < float64(tc.delay.Milliseconds()) || ms > float64(total+1) {
					t.Errorf("keep_ms %q, want at least the write's %v and within duration_ms %d (whole ms)", keep, tc.delay, total)
				}
				return
			}
			t.Fatal("no \"message checked\" line")
		})
	}
}

// The pipeline Pipelines gives (serve's, which a SIGHUP rebuilds) decides
// the next message.
func TestPipelines(t *testing.T) {
	var current atomic.Pointer[filter.Pipeline]
	current.Store(testPipeline())
	_, addr := startServerWith(t, current.Load, defaultOpts())
	answer := func() gomilter.ActionCode {
		s := dial(t, addr)
		connect(t, s)
		_, act := send(t, s, plain(rules.GTUBEString+"\r\n"))
		return act.Code
	}
	if got := answer(); got != gomilter.ActReplyCode {
		t.Fatalf("GTUBE before: %c, want a reply (550)", got)
	}
	lenient := testPipeline()
	lenient.RejectScore = 10000
	current.Store(lenient)
	if got := answer(); got != gomilter.ActAccept {
		t.Errorf("GTUBE after a new pipeline with reject_score 10000: %c, want accept", got)
	}
}

// TestSetOptions: new limits (serve's SIGHUP) apply to the messages begun
// after them.
func TestSetOptions(t *testing.T) {
	srv, addr := startServer(t, testPipeline(), defaultOpts())
	answer := func() (gomilter.ActionCode, int) {
		s := dial(t, addr)
		connect(t, s)
		_, act := send(t, s, plain(strings.Repeat(strings.Repeat("x", 98)+"\r\n", 50)))
		return act.Code, act.SMTPCode
	}
	if code, smtp := answer(); code != gomilter.ActAccept {
		t.Fatalf("5 KB before: %c %d, want accept", code, smtp)
	}
	o := defaultOpts()
	o.MaxMessageSize = 1000
	srv.SetOptions(o)
	if code, smtp := answer(); code != gomilter.ActReplyCode || smtp != 552 {
		t.Errorf("5 KB after max_message_size = 1000: %c %d, want 552", code, smtp)
	}
}

// fixed gives always v: a Server's Pipelines or Policies that never change.
func fixed[T any](v T) func() T { return func() T { return v } }

// TestServeWithoutPipelines: a Server given no pipeline refuses to serve, where
// its first message, and the tempfail of a panic, would have had none to ask.
func TestServeWithoutPipelines(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	srv := &Server{Opts: defaultOpts(), Log: logrus.New()}
	if err := srv.Serve(ln); err == nil || !strings.Contains(err.Error(), "Pipelines") {
		t.Fatalf("Serve without Pipelines: %v, want an error naming them", err)
	}
}
