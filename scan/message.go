// Package scan turns a raw message into the model every check reads: its header, and
// its MIME tree walked once into leaf parts with decoded text. Parsing never fails
// outright: broken MIME, unknown charsets and bad encodings become Problems, and what
// could be read is kept, because spam is often malformed on purpose.
package scan

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset" // decode text in common non-UTF-8 charsets
	"github.com/emersion/go-message/textproto"
)

// Limits bound the work parsing does on one message.
const (
	maxDepth       = 16      // nested multiparts and message/rfc822
	maxParts       = 1000    // leaf parts kept
	maxTextBytes   = 1 << 20 // decoded text kept per part
	maxTotalText   = 4 << 20 // decoded text kept per message
	maxHeaderBytes = 1 << 20 // top-level header block
)

// Message is a parsed message.
type Message struct {
	Header   textproto.Header
	Parts    []Part
	Problems []string // what was malformed; informative, never fatal
}

// Part is one leaf of the MIME tree.
type Part struct {
	ContentType string // lower case, without parameters
	Filename    string
	Depth       int
	Text        string // decoded text for text/* parts (capped), empty otherwise
	Truncated   bool   // Text was cut at the cap
}

// Subject returns the decoded Subject.
func (m *Message) Subject() string {
	h := message.Header{Header: m.Header}
	s, err := h.Text("Subject")
	if err != nil {
		return m.Header.Get("Subject")
	}
	return s
}

// Parse reads a whole message. It only returns an error when r itself fails.
func Parse(r io.Reader) (*Message, error) {
	m := &Message{}
	// textproto.ReadHeader is unbounded: cap the header block as go-message's Read does.
	lr := &io.LimitedReader{R: markReads{r}, N: maxHeaderBytes}
	br := bufio.NewReaderSize(lr, 32*1024)
	h, err := textproto.ReadHeader(br)
	lr.N = math.MaxInt64
	if err != nil {
		// A header block that does not parse: read what follows as a text body so
		// content checks still see it.
		m.Problems = append(m.Problems, fmt.Sprintf("header: %v", err))
	}
	m.Header = h
	p := parser{m: m}
	if err := p.entity(h, br, 0); err != nil {
		return m, err
	}
	return m, nil
}

type parser struct {
	m         *Message
	textTotal int
}

func (p *parser) problem(format string, args ...any) {
	if len(p.m.Problems) < 100 {
		p.m.Problems = append(p.m.Problems, fmt.Sprintf(format, args...))
	}
}

// entity builds the (decoding) entity for a header and raw body, then walks it.
func (p *parser) entity(h textproto.Header, r io.Reader, depth int) error {
	e, err := message.New(message.Header{Header: h}, r)
	return p.walk(e, err, r, depth)
}

// walk walks one decoded entity. newErr is the error message.New gave for it: an
// unknown charset or transfer encoding leaves the body readable, raw.
func (p *parser) walk(e *message.Entity, newErr error, raw io.Reader, depth int) error {
	if e == nil {
		p.problem("entity: %v", newErr)
		return p.leaf("application/octet-stream", "", raw, depth, false)
	}
	if newErr != nil {
		p.problem("entity: %v", newErr)
	}
	ctype, params, cerr := e.Header.ContentType()
	if cerr != nil || ctype == "" {
		if v := e.Header.Get("Content-Type"); v != "" {
			p.problem("content-type %q: %v", v, cerr)
		}
		ctype = "text/plain"
	}
	ctype = strings.ToLower(ctype)
	if depth >= maxDepth {
		p.problem("nesting deeper than %d: rest read as one part", maxDepth)
		return p.leaf(ctype, filename(e.Header), e.Body, depth, false)
	}
	switch {
	case strings.HasPrefix(ctype, "multipart/"):
		if params["boundary"] == "" {
			p.problem("%s without boundary", ctype)
			return p.leaf("text/plain", "", e.Body, depth, true)
		}
		mr := e.MultipartReader()
		for {
			part, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if part == nil {
				if isReadErr(err) {
					return err
				}
				p.problem("multipart: %v", err)
				return nil
			}
			// NextPart already decoded the part's body.
			if err := p.walk(part, err, part.Body, depth+1); err != nil {
				return err
			}
		}
	case ctype == "message/rfc822" || ctype == "message/global":
		br := bufio.NewReader(e.Body)
		inner, err := textproto.ReadHeader(br)
		if err != nil {
			p.problem("message/rfc822: header: %v", err)
		}
		return p.entity(inner, br, depth+1)
	default:
		return p.leaf(ctype, filename(e.Header), e.Body, depth, strings.HasPrefix(ctype, "text/"))
	}
}

func (p *parser) leaf(ctype, name string, body io.Reader, depth int, text bool) error {
	if len(p.m.Parts) >= maxParts {
		p.problem("more than %d parts: rest skipped", maxParts)
		_, err := io.Copy(io.Discard, body)
		return readErr(err)
	}
	part := Part{ContentType: ctype, Filename: name, Depth: depth}
	if text && p.textTotal < maxTotalText {
		limit := min(maxTextBytes, maxTotalText-p.textTotal)
		var sb strings.Builder
		n, err := io.Copy(&sb, io.LimitReader(body, int64(limit)+1))
		if err != nil && isReadErr(err) {
			return err
		}
		if err != nil {
			p.problem("%s: decode: %v", ctype, err)
		}
		s := sb.String()
		if n > int64(limit) {
			s, part.Truncated = s[:limit], true
		}
		part.Text = s
		p.textTotal += len(s)
	}
	p.m.Parts = append(p.m.Parts, part)
	_, err := io.Copy(io.Discard, body)
	if err != nil && !isReadErr(err) {
		p.problem("%s: decode: %v", ctype, err)
		return nil
	}
	return readErr(err)
}

func filename(h message.Header) string {
	if _, params, err := h.ContentDisposition(); err == nil && params["filename"] != "" {
		return params["filename"]
	}
	if _, params, err := h.ContentType(); err == nil && params["name"] != "" {
		return params["name"]
	}
	return ""
}

// ReadError marks a failure of the underlying reader (the spool), as opposed to a
// malformed message: only the former is an error of Parse.
type ReadError struct{ Err error }

func (e *ReadError) Error() string { return "scan: read message: " + e.Err.Error() }
func (e *ReadError) Unwrap() error { return e.Err }

func isReadErr(err error) bool {
	var re *ReadError
	return errors.As(err, &re)
}

func readErr(err error) error {
	if isReadErr(err) {
		return err
	}
	return nil
}

// markReads tags the underlying reader's failures, so they are told apart from the
// decoding errors of a malformed message.
type markReads struct{ r io.Reader }

func (m markReads) Read(p []byte) (int, error) {
	n, err := m.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		err = &ReadError{Err: err}
	}
	return n, err
}
