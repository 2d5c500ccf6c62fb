package testutil

import (
	"fmt"
	"strings"
	"time"

	gomilter "github.com/emersion/go-milter"
)

// MilterResult is what a milter session answered: the action at RCPT TO or
// before the body if it was not "continue", else the final one, and the
// headers added or changed.
type MilterResult struct {
	Code    int    // SMTP code of a reply; 0 when accepted
	Text    string // its text
	Headers map[string]string
}

// MilterSend runs one message through a real milter session with serve at addr,
// as Postfix would: the connect from ip, HELO, MAIL FROM, RCPT TO, the header
// fields in order, a queue id, the body.
func MilterSend(addr, ip, from, rcpt string, header [][2]string, body string) (MilterResult, error) {
	c := gomilter.NewClientWithOptions("tcp", addr, gomilter.ClientOptions{
		ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second,
		// Within the first six action bits, so the client accepts serve's protocol version 2.
		ActionMask: gomilter.OptAddHeader | gomilter.OptChangeHeader | gomilter.OptQuarantine,
	})
	s, err := c.Session()
	if err != nil {
		return MilterResult{}, err
	}
	defer s.Close()
	res := MilterResult{Headers: map[string]string{}}
	answer := func(act *gomilter.Action) bool {
		switch act.Code {
		case gomilter.ActReplyCode:
			res.Code, res.Text = act.SMTPCode, act.SMTPText
		case gomilter.ActReject:
			res.Code = 550
		case gomilter.ActTempFail:
			res.Code = 451
		default:
			return false
		}
		return true
	}
	if err := s.Macros(gomilter.CodeConn, "j", "mx.test", "{client_addr}", ip); err != nil {
		return res, err
	}
	steps := []func() (*gomilter.Action, error){
		func() (*gomilter.Action, error) { return s.Conn("client.example", gomilter.FamilyInet, 40000, ip) },
		func() (*gomilter.Action, error) { return s.Helo("client.example") },
		func() (*gomilter.Action, error) { return s.Mail("<"+from+">", nil) },
		func() (*gomilter.Action, error) { return s.Rcpt("<"+rcpt+">", nil) },
	}
	for _, h := range header {
		steps = append(steps, func() (*gomilter.Action, error) { return s.HeaderField(h[0], h[1]) })
	}
	steps = append(steps, s.HeaderEnd)
	for _, st := range steps {
		act, err := st()
		if err != nil {
			return res, err
		}
		if answer(act) {
			return res, nil
		}
	}
	if err := s.Macros(gomilter.CodeEOB, "i", "4PG"+fmt.Sprint(time.Now().UnixNano()%1e6)); err != nil {
		return res, err
	}
	mods, act, err := s.BodyReadFrom(strings.NewReader(body))
	if err != nil {
		return res, err
	}
	for _, m := range mods {
		if m.HeaderName != "" {
			res.Headers[m.HeaderName] = m.HeaderValue
		}
	}
	answer(act)
	return res, nil
}
