package milter

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/textproto"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	gomilter "github.com/emersion/go-milter"
	"github.com/sirupsen/logrus"

	"github.com/postern/postern/auth"
	"github.com/postern/postern/filter"
	"github.com/postern/postern/policy"
	"github.com/postern/postern/quarantine"
	"github.com/postern/postern/spool"
)

// session is one milter connection: one SMTP session, any number of messages.
type session struct {
	srv  *Server
	conn *conn
	log  logrus.FieldLogger

	mu     sync.Mutex // one callback at a time; release waits for none (see release)
	closed atomic.Bool

	macros     map[string]string
	clientName string
	clientAddr string
	helo       string
	pconn      *policy.Conn // envelope checks of the connection; nil without a Policy
	msg        *message
	// deferred is a final answer decided while the MTA expects no reply (headers,
	// end of header and body chunks are negotiated without replies); it is given
	// at end of message.
	deferred gomilter.Response
	// early is a final answer decided at connect or HELO, which get no reply
	// either (a panic's tempfail): every MAIL FROM of the session gets it. The
	// connection's state may be half made (no envelope checks), so no message
	// of the session goes on without it.
	early gomilter.Response
}

// message is the state of the message in flight.
type message struct {
	ref      string
	start    time.Time
	from     string
	rcpts    []string
	spool    *spool.Spool
	policy   *policy.Message
	seen     map[string]int // header name (lower case) → occurrences so far
	foreign  []headerRef    // X-Spam-* headers from outside, to remove
	subject  *string        // the first Subject's value as the MTA gave it; nil: none
	tooLarge bool
	// opts are the server's options at MAIL FROM: the message is spooled,
	// cleaned of forged headers and kept by them to its end, whatever a
	// SIGHUP sets meanwhile.
	opts *Options
}

type headerRef struct {
	name  string
	index int // 1-based among headers of that name, as the milter protocol counts
}

// final is an answer that ends the message. go-milter replaces a session's backend after
// any response whose Continue() is false, losing the connection's data (client, HELO)
// for the next message on it; so final answers report Continue() true to go-milter while
// carrying a final action code to the MTA, and the session resets itself.
type final struct{ msg gomilter.Message }

func (f *final) Response() *gomilter.Message { return &f.msg }
func (f *final) Continue() bool              { return true }

func reply(r filter.Reply) *final {
	return &final{gomilter.Message{Code: byte(gomilter.ActReplyCode),
		Data: []byte(fmt.Sprintf("%d %s %s\x00", r.Code, r.Enhanced, r.Text))}}
}

var accept = &final{gomilter.Message{Code: byte(gomilter.ActAccept)}}

// do runs one callback: under the session lock, with the MTA's latest macros merged in,
// and with any panic turned into a tempfail answer instead of a dropped connection.
// For a command the MTA expects no reply to (noReply), a final answer is deferred.
func (s *session) do(m *gomilter.Modifier, stage string, noReply bool, f func() gomilter.Response) (resp gomilter.Response, err error) {
	s.mu.Lock()
	defer func() {
		if x := recover(); x != nil {
			perr := fmt.Errorf("milter: %s: %w: %v", stage, filter.ErrPanic, x)
			s.log.WithError(perr).WithField("stack", string(debug.Stack())).Error("panic in milter callback")
			resp = s.finish(s.srv.pipeline().TempFail(s.ref(), perr))
		}
		if noReply {
			if _, ok := resp.(*final); ok {
				switch {
				case stage == "connect" || stage == "helo":
					if s.early == nil {
						s.early = resp
					}
				case s.deferred == nil:
					s.deferred = resp
				}
			}
			resp = nil
		}
		s.mu.Unlock()
		if s.closed.Load() {
			s.release()
		}
	}()
	if m != nil {
		if s.macros == nil {
			s.macros = map[string]string{}
		}
		for k, v := range m.Macros {
			s.macros[strings.Trim(k, "{}")] = v
		}
	}
	return f(), nil
}

// release frees the message in flight when the connection closes. A callback still
// running (e.g. a force-closed shutdown) frees it on its way out instead.
func (s *session) release() {
	s.closed.Store(true)
	if !s.mu.TryLock() {
		return
	}
	defer s.mu.Unlock()
	s.dropMessage()
	if s.pconn != nil {
		s.pconn.Close()
	}
}

func (s *session) dropMessage() {
	if s.msg != nil && s.msg.spool != nil {
		if err := s.msg.spool.Close(); err != nil {
			s.log.WithError(err).Warn("spool cleanup failed")
		}
	}
	s.msg = nil
}

func (s *session) ref() string {
	if s.msg != nil {
		return s.msg.ref
	}
	return filter.NewRef()
}

// finish logs the verdict, ends the message and turns the verdict into the answer.
func (s *session) finish(v filter.Verdict) gomilter.Response {
	s.logVerdict(v)
	if s.srv.OnVerdict != nil {
		var size int64
		if s.msg != nil {
			size = s.msg.spool.Size()
		}
		s.srv.OnVerdict(v, size)
	}
	s.dropMessage()
	if s.conn != nil {
		s.conn.answered.Store(true)
	}
	if v.Action == filter.Accept {
		return accept
	}
	return reply(v.Reply)
}

func (s *session) Connect(host, family string, port uint16, addr net.IP, m *gomilter.Modifier) (gomilter.Response, error) {
	return s.do(m, "connect", true, func() gomilter.Response {
		s.clientName = host
		if addr != nil {
			s.clientAddr = addr.String()
		} else if family == "unix" {
			s.clientAddr = "local"
		}
		if p := s.srv.policy(); p != nil {
			if s.pconn != nil {
				s.pconn.Close()
			}
			c := policy.Client{Name: host}
			if a, ok := netip.AddrFromSlice(addr); ok && family != "unix" {
				c.Addr = a.Unmap()
			}
			if a, err := netip.ParseAddr(s.macros["client_addr"]); err == nil {
				c.Addr = a.Unmap()
			}
			s.pconn = p.Connect(c)
		}
		return gomilter.RespContinue
	})
}

func (s *session) Helo(name string, m *gomilter.Modifier) (gomilter.Response, error) {
	return s.do(m, "helo", true, func() gomilter.Response {
		s.helo = name
		if s.pconn != nil {
			s.pconn.Helo(name)
		}
		return gomilter.RespContinue
	})
}

func (s *session) MailFrom(from string, m *gomilter.Modifier) (gomilter.Response, error) {
	return s.do(m, "mail", false, func() gomilter.Response {
		s.dropMessage()
		s.deferred = nil
		if s.early != nil {
			return s.early
		}
		o := s.srv.opts()
		s.msg = &message{
			ref: filter.NewRef(), start: time.Now(), from: from,
			spool: spool.New(o.MemorySpool, o.MaxMessageSize, o.SpoolDir),
			seen:  map[string]int{}, opts: o,
		}
		if s.pconn != nil {
			ctx, cancel := context.WithTimeout(context.Background(), rcptTimeout)
			s.msg.policy = s.pconn.Mail(ctx, from, s.macros["auth_authen"])
			cancel()
		}
		if s.conn != nil {
			s.conn.inMessage.Store(true)
		}
		return gomilter.RespContinue
	})
}

func (s *session) RcptTo(rcpt string, m *gomilter.Modifier) (gomilter.Response, error) {
	return s.do(m, "rcpt", false, func() gomilter.Response {
		if s.msg == nil {
			return gomilter.RespContinue // Body answers a message without MAIL FROM
		}
		if s.msg.policy != nil {
			if r := s.checkRcpt(rcpt); r != nil {
				return r
			}
		}
		s.msg.rcpts = append(s.msg.rcpts, rcpt)
		return gomilter.RespContinue
	})
}

// rcptTimeout bounds one recipient's envelope checks (the block-list answers have
// their own, shorter deadline); Postfix waits milter_command_timeout (30 s).
const rcptTimeout = 20 * time.Second

// checkRcpt runs the envelope checks on one recipient and answers a refused one
// (that recipient only; the others of the message go on). nil: it is accepted.
func (s *session) checkRcpt(rcpt string) gomilter.Response {
	ctx, cancel := context.WithTimeout(context.Background(), rcptTimeout)
	defer cancel()
	d := s.msg.policy.Rcpt(ctx, rcpt)
	if d.Action != policy.Continue && d.Code >= 500 {
		d.Text += " (ref " + s.msg.ref + ")"
	}
	s.logEnvelope(rcpt, d)
	if s.srv.OnEnvelope != nil {
		s.srv.OnEnvelope(d)
	}
	if d.Action == policy.Continue {
		return nil
	}
	return reply(filter.Reply{Code: d.Code, Enhanced: d.Enhanced, Text: d.Text})
}

// logEnvelope logs a recipient's decision like a verdict: one line an operator can
// grep, at info when something was decided, at debug when nothing applied.
func (s *session) logEnvelope(rcpt string, d policy.Decision) {
	env := s.envelope()
	f := logrus.Fields{
		"queue_id": env.QueueID, "ref": s.msg.ref, "client": env.ClientAddr, "helo": env.Helo,
		"from": env.MailFrom, "rcpt": rcpt, "stage": "rcpt", "action": d.Action.String(),
	}
	if d.Reason != "" {
		f["reason"] = d.Reason
	}
	if d.Detail != "" {
		f["detail"] = d.Detail
	}
	if d.Greylist != "" {
		f["greylist"] = d.Greylist
	}
	if len(d.Hits) > 0 {
		hits := make([]string, len(d.Hits))
		for i, h := range d.Hits {
			hits[i] = fmt.Sprintf("%s=%s", h.Zone, h.Code)
		}
		f["dnsbl"] = strings.Join(hits, ",")
	}
	if d.Action != policy.Continue {
		f["reply"] = d.Reply()
	}
	l := s.log.WithFields(f)
	if len(d.Errors) > 0 {
		l = l.WithError(errors.Join(d.Errors...))
	}
	switch {
	case d.Action == policy.TempFail && d.Reason == policy.ReasonError:
		l.Error("recipient tempfailed: envelope check failed")
	case d.Reason == policy.ReasonSplit:
		l.Info("recipient deferred: its settings differ from the message's first recipient's")
	case d.Action != policy.Continue:
		l.Info("recipient refused")
	case len(d.Errors) > 0:
		l.Warn("recipient accepted; some envelope checks did not answer")
	case d.Reason != "" || d.Greylist == policy.GreyPassed || len(d.Hits) > 0:
		l.Info("recipient accepted")
	default:
		l.Debug("recipient accepted")
	}
}

func (s *session) Header(name, value string, m *gomilter.Modifier) (gomilter.Response, error) {
	return s.do(m, "header", true, func() gomilter.Response {
		if s.deferred != nil {
			return nil // the message is answered already: wait for end of header
		}
		if s.msg == nil {
			return s.noMessage("header")
		}
		lname := strings.ToLower(name)
		s.msg.seen[lname]++
		if filter.ForeignHeader(name) || s.forgedAuthResults(name, value) {
			s.msg.foreign = append(s.msg.foreign, headerRef{name, s.msg.seen[lname]})
		}
		if lname == "subject" && s.msg.seen[lname] == 1 {
			subject := value // the MTA's own form, before the spool's CRLF below
			s.msg.subject = &subject
		}
		// Postfix folds with bare LF inside a value; the spool holds the message as
		// it travels on the wire, with CRLF.
		value = strings.ReplaceAll(strings.ReplaceAll(value, "\r\n", "\n"), "\n", "\r\n")
		return s.write(name + ": " + value + "\r\n")
	})
}

func (s *session) Headers(h textproto.MIMEHeader, m *gomilter.Modifier) (gomilter.Response, error) {
	return s.do(m, "eoh", true, func() gomilter.Response {
		if s.deferred != nil {
			return nil
		}
		if s.msg == nil {
			return s.noMessage("end of header")
		}
		return s.write("\r\n")
	})
}

func (s *session) BodyChunk(chunk []byte, m *gomilter.Modifier) (gomilter.Response, error) {
	return s.do(m, "body", true, func() gomilter.Response {
		if s.deferred != nil {
			return nil
		}
		if s.msg == nil {
			return s.noMessage("body")
		}
		if s.msg.tooLarge {
			return gomilter.RespContinue
		}
		if _, err := s.msg.spool.Write(chunk); err != nil {
			return s.spoolFailed(err)
		}
		return gomilter.RespContinue
	})
}

// forgedAuthResults reports an Authentication-Results header from outside that
// claims our authserv-id: only we may write those (RFC 8601 5).
func (s *session) forgedAuthResults(name, value string) bool {
	id := s.msg.opts.AuthservID
	return id != "" && strings.EqualFold(name, "Authentication-Results") && auth.Ours(value, id)
}

func (s *session) write(str string) gomilter.Response {
	if _, err := s.msg.spool.WriteString(str); err != nil {
		return s.spoolFailed(err)
	}
	return gomilter.RespContinue
}

// spoolFailed answers a message that could not be spooled: too large (552) or an I/O
// error (451).
func (s *session) spoolFailed(err error) gomilter.Response {
	if errors.Is(err, spool.ErrTooLarge) {
		s.msg.tooLarge = true
		return s.finish(s.srv.pipeline().TooLarge(s.msg.ref))
	}
	return s.finish(s.srv.pipeline().TempFail(s.msg.ref, err))
}

// noMessage answers content outside MAIL FROM … end of data: a confused MTA, or a
// client of ours that skipped a step. Never accept what we did not see whole.
func (s *session) noMessage(stage string) gomilter.Response {
	return s.finish(s.srv.pipeline().TempFail(filter.NewRef(), fmt.Errorf("milter: %s before MAIL FROM", stage)))
}

func (s *session) Body(m *gomilter.Modifier) (gomilter.Response, error) {
	return s.do(m, "eom", false, func() gomilter.Response {
		if r := s.deferred; r != nil {
			s.deferred = nil
			return r
		}
		if s.msg == nil {
			return s.noMessage("end of data")
		}
		msg, p := s.msg, s.srv.pipeline()
		// A record kept for a hold stands only if the message is accepted into the
		// hold queue; a tempfail (or a panic) after the copy is kept withdraws it.
		heldRecord := ""
		defer func() {
			if heldRecord != "" {
				s.withdraw(heldRecord)
			}
		}()
		v := p.Run(context.Background(), s.checkEnvelope(), msg.spool, msg.spool.Size(), msg.ref)
		hold := false
		if v.Action == filter.Reject && v.Reason != filter.ReasonTooLarge {
			v, hold = s.keep(p, v)
		}
		if hold {
			heldRecord = v.Ref
		}
		if v.Action == filter.Accept {
			if err := s.applyHeaders(m, v.Headers, v.SubjectTag); err != nil {
				v = p.TempFail(msg.ref, err)
			} else if hold {
				if err := m.Quarantine(fmt.Sprintf("postern %s (ref %s)", v.Reason, v.Ref)); err != nil {
					v = p.TempFail(msg.ref, fmt.Errorf("milter: hold: %w", err))
				}
			}
		}
		if v.Action == filter.Accept {
			heldRecord = ""
		}
		return s.finish(v)
	})
}

// keep stores a copy of a rejected message in the quarantine, as configured for its
// reason, before the 5xx is answered: a message is never rejected without its copy,
// so a failed write is a tempfail. With "hold", the message is accepted into Postfix's
// hold queue instead (hold reports true).
func (s *session) keep(p *filter.Pipeline, v filter.Verdict) (filter.Verdict, bool) {
	action := p.KeepSpam
	if v.Reason == filter.ReasonVirus || v.Reason == filter.ReasonBanned {
		action = p.KeepMalware // malware, found by signature or by file type
	}
	if action == "" {
		action = RejectAndKeep
	}
	if action == RejectOnly || s.srv.Quarantine == nil {
		return v, false
	}
	msg, env := s.msg, s.envelope()
	from, subject, messageID := quarantine.HeaderFields(msg.spool.Reader())
	r := &quarantine.Record{
		ID: v.Ref, Time: time.Now(), QueueID: env.QueueID, ClientAddr: env.ClientAddr,
		ClientName: env.ClientName, Helo: env.Helo, MailFrom: env.MailFrom, Rcpts: env.Rcpts,
		From: from, Subject: subject, MessageID: messageID, Size: msg.spool.Size(),
		Score: v.Score, Virus: v.Virus, Detail: v.Detail, Reason: v.Reason, Action: quarantine.ActionRejected,
	}
	for _, t := range v.Tests {
		r.Tests = append(r.Tests, t.Name)
	}
	if action == Hold {
		r.Action = quarantine.ActionHeld
	}
	timeout := s.msg.opts.KeepTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	start := time.Now()
	err := s.srv.Quarantine.Put(ctx, r, msg.spool.Reader())
	v.Keep = time.Since(start)
	if err != nil {
		tv := p.TempFail(v.Ref, err)
		tv.Score, tv.Tests, tv.Virus, tv.Keep = v.Score, v.Tests, v.Virus, v.Keep
		return tv, false
	}
	if action == Hold {
		v.Action = filter.Accept
		v.Held = true
		return v, true
	}
	v.Kept = true
	return v, false
}

// withdraw deletes a record kept for a hold that did not happen. Failing that, the
// record stays, marked held, for a message the sender will send again: the log says
// so, since releasing it would deliver it twice.
func (s *session) withdraw(id string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.srv.Quarantine.Delete(ctx, id, "postern (hold failed, message tempfailed)"); err != nil {
		s.log.WithError(err).WithField("ref", id).Error("quarantine: could not withdraw the record of a hold that failed: do not release it")
	}
}

// applyHeaders removes the X-Spam-* headers that came from outside and adds ours.
func (s *session) applyHeaders(m *gomilter.Modifier, hs []filter.Header, tag string) error {
	for _, f := range s.msg.foreign {
		if err := m.ChangeHeader(f.index, f.name, ""); err != nil {
			return fmt.Errorf("milter: remove header %s: %w", f.name, err)
		}
	}
	if err := s.tagSubject(m, tag); err != nil {
		return err
	}
	for _, h := range hs {
		var err error
		if h.Top {
			err = m.InsertHeader(0, h.Name, h.Value)
		} else {
			err = m.AddHeader(h.Name, h.Value)
		}
		if err != nil {
			return fmt.Errorf("milter: add header %s: %w", h.Name, err)
		}
	}
	return nil
}

// tagSubject puts tag in front of the message's first Subject (subject_tag),
// or gives it one that is the tag; a Subject that starts with the tag already,
// from a filter before or an earlier pass, keeps one.
func (s *session) tagSubject(m *gomilter.Modifier, tag string) error {
	if tag == "" {
		return nil
	}
	if s.msg.subject == nil {
		if err := m.AddHeader("Subject", tag); err != nil {
			return fmt.Errorf("milter: add header Subject: %w", err)
		}
		return nil
	}
	old := *s.msg.subject
	if strings.HasPrefix(strings.TrimLeft(old, " \t"), tag) {
		return nil
	}
	if err := m.ChangeHeader(1, "Subject", tag+" "+strings.TrimLeft(old, " \t")); err != nil {
		return fmt.Errorf("milter: change header Subject: %w", err)
	}
	return nil
}

func (s *session) Abort(m *gomilter.Modifier) error {
	_, err := s.do(m, "abort", false, func() gomilter.Response {
		s.dropMessage()
		s.deferred = nil
		if s.conn != nil {
			s.conn.inMessage.Store(false)
		}
		return nil
	})
	return err
}

func (s *session) envelope() *filter.Envelope {
	e := &filter.Envelope{
		QueueID:    s.macros["i"],
		ClientAddr: s.clientAddr,
		ClientName: s.clientName,
		Helo:       s.helo,
		AuthUser:   s.macros["auth_authen"],
	}
	if a := s.macros["client_addr"]; a != "" {
		e.ClientAddr = a
	}
	if s.msg != nil {
		e.MailFrom, e.Rcpts = s.msg.from, s.msg.rcpts
	}
	return e
}

// checkEnvelope is the envelope with what the envelope checks decided for the
// content (block-list points, role accounts, allow lists, SPF): built once, for
// the pipeline at end of data, not for every log line.
func (s *session) checkEnvelope() *filter.Envelope {
	e := s.envelope()
	if s.msg != nil && s.msg.policy != nil {
		ApplyContent(e, s.msg.policy.Content())
	}
	return e
}

// logVerdict writes the one line per message that operators grep for.
func (s *session) logVerdict(v filter.Verdict) {
	env := s.envelope()
	f := logrus.Fields{
		"queue_id": env.QueueID,
		"ref":      v.Ref,
		"client":   env.ClientAddr,
		"helo":     env.Helo,
		"from":     env.MailFrom,
		"rcpts":    len(env.Rcpts),
		"action":   v.Action.String(),
		"reason":   v.Reason,
		"score":    fmt.Sprintf("%.1f", v.Score),
	}
	if v.Settings != "" {
		f["settings"] = v.Settings // the [recipients] entry whose scores decided
	}
	if s.msg != nil {
		f["size"] = s.msg.spool.Size()
		f["duration_ms"] = time.Since(s.msg.start).Milliseconds()
	}
	if v.Duration > 0 {
		// The checks' share of duration_ms, which runs from MAIL FROM and so also
		// holds the client's sending and the MTA's own pauses.
		f["check_ms"] = v.Duration.Milliseconds()
	}
	if v.Keep > 0 {
		// The quarantine's commit (its fsync) on a busy disk can be a slow
		// rejection's time, apart from the checks'.
		f["keep_ms"] = fmt.Sprintf("%.1f", filter.Millis(v.Keep))
	}
	if len(v.Times) > 0 {
		// Which check a slow message waited for (they run side by side, so
		// the times overlap).
		f["check_times"] = v.TimesText()
	}
	if len(v.Tests) > 0 {
		names := make([]string, len(v.Tests))
		for i, t := range v.Tests {
			names[i] = t.Name
		}
		f["tests"] = strings.Join(names, ",")
	}
	if v.Virus != "" {
		f["virus"] = v.Virus
		f["virus_part"] = v.VirusPart
	}
	if v.Bayes != nil {
		f["bayes"] = fmt.Sprintf("%.4f", *v.Bayes)
	}
	if v.Autolearn != "" && v.Autolearn != "no" {
		f["autolearn"] = v.Autolearn
	}
	if len(v.Notes) > 0 {
		f["notes"] = strings.Join(v.Notes, "; ")
	}
	if v.Action != filter.Accept {
		f["reply"] = v.Reply.String()
	}
	if v.Kept || v.Held {
		f["quarantine"] = map[bool]string{true: "held", false: "kept"}[v.Held]
	}
	l := s.log.WithFields(f)
	if len(v.Errors) > 0 {
		l = l.WithError(errors.Join(v.Errors...))
		if v.Action == filter.TempFail {
			l.Error("message tempfailed")
			return
		}
		l.Warn("message accepted with checks skipped")
		return
	}
	l.Info("message checked")
}

// ApplyContent hands what the envelope checks decided to the content checks: the
// block lists' points, "a role account is a recipient", "allow-listed", the SPF
// result. postern check uses it too, so both see the same envelope.
func ApplyContent(e *filter.Envelope, c policy.Content) {
	e.NoReject, e.SkipScoring = c.NoReject, c.SkipScoring
	e.SPF, e.SPFHelo = filterSPF(c.SPF), filterSPF(c.SPFHelo)
	for _, h := range c.Scores {
		e.PolicyTests = append(e.PolicyTests, filter.Test{Name: h.Test, Score: h.Score,
			Description: fmt.Sprintf("Client listed in %s (%s)", h.Zone, h.Code)})
	}
}

// filterSPF is an envelope check's SPF result as the content checks read it.
func filterSPF(r *policy.SPFResult) *filter.SPF {
	if r == nil {
		return nil
	}
	return &filter.SPF{Result: r.Result, Identity: r.Identity, Domain: r.Domain, Sender: r.Sender}
}
