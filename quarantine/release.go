package quarantine

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/smtp"
	"strings"
	"time"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/textproto"
)

// HeaderFields reads From, Subject and Message-ID from a message's header, for the
// record. A header that does not parse gives what could be read.
func HeaderFields(raw io.Reader) (from, subject, messageID string) {
	h, _ := textproto.ReadHeader(bufio.NewReader(io.LimitReader(raw, 1<<20)))
	mh := message.Header{Header: h}
	from = h.Get("From")
	if s, err := mh.Text("From"); err == nil {
		from = s
	}
	subject = h.Get("Subject")
	if s, err := mh.Text("Subject"); err == nil {
		subject = s
	}
	return oneLine(from), oneLine(subject), oneLine(h.Get("Message-Id"))
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// Release re-injects a quarantined message over SMTP to relay (HOST:PORT; a Postfix
// smtpd without milters, see docs/postfix.md) with its original envelope sender and
// the given recipients, adding a header that records the release. It returns nil only
// when the relay accepted the message (250).
func Release(ctx context.Context, relay string, r *Record, raw []byte, rcpts []string, by string) error {
	if relay == "" {
		return fmt.Errorf("quarantine: release %s: no [quarantine] release_relay configured", r.ID)
	}
	if len(rcpts) == 0 {
		return fmt.Errorf("quarantine: release %s: no recipients", r.ID)
	}
	fail := func(stage string, err error) error {
		return fmt.Errorf("quarantine: release %s via %s: %s: %w", r.ID, relay, stage, err)
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", relay)
	if err != nil {
		return fail("connect", err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	host, _, _ := net.SplitHostPort(relay)
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		return fail("greeting", err)
	}
	defer c.Close()
	if err := c.Hello("localhost"); err != nil {
		return fail("EHLO", err)
	}
	if err := c.Mail(r.MailFrom); err != nil {
		return fail("MAIL FROM", err)
	}
	for _, a := range rcpts {
		if err := c.Rcpt(a); err != nil {
			return fail("RCPT TO "+a, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return fail("DATA", err)
	}
	stamp := fmt.Sprintf("X-Postern-Released: by %s at %s; ref %s\r\n", by, time.Now().UTC().Format(time.RFC1123Z), r.ID)
	if _, err := io.WriteString(w, stamp); err != nil {
		return fail("DATA", err)
	}
	if _, err := w.Write(raw); err != nil {
		return fail("DATA", err)
	}
	if err := w.Close(); err != nil {
		return fail("end of DATA", err)
	}
	_ = c.Quit()
	return nil
}
