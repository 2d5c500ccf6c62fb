package scan

import (
	"bufio"
	"bytes"
	"errors"
	"io"

	"github.com/emersion/go-message/textproto"
)

// multipartReader splits a multipart body at its delimiter lines (RFC 2046): a
// line that is "--" and the boundary, with "--" after it for the last, then
// only white space. A line that merely starts so is content: a nested
// multipart's boundary often extends its parent's ("b" and "b-1"), and
// go-message's reader cut the parent's part at the nested delimiter, so the
// nested parts (an HTML body, an attachment) were never reached. SpamAssassin
// and mail readers match the whole line; so does this reader.
type multipartReader struct {
	br        *bufio.Reader
	dash      []byte // "--" + boundary
	lineStart bool   // the next byte read starts a line
	started   bool   // the first delimiter was found
	last      bool   // the closing delimiter was read, or the input ended
	cut       bool   // the input ended before the closing delimiter
	part      *partBody
	headerErr error // why the last part's header did not parse, if it did not
}

func newMultipartReader(r io.Reader, boundary string) *multipartReader {
	return &multipartReader{br: getReader(r), dash: []byte("--" + boundary), lineStart: true}
}

var (
	errNoBoundary   = errors.New("multipart: no delimiter line for the boundary")
	errUnterminated = errors.New("multipart: the message ends before the closing delimiter")
)

// NextPart returns the next part's header and body, io.EOF after the last.
func (m *multipartReader) NextPart() (textproto.Header, io.Reader, error) {
	if m.part != nil {
		if _, err := io.Copy(io.Discard, m.part); err != nil {
			return textproto.Header{}, nil, err
		}
		m.part = nil
	}
	if !m.started {
		// The preamble: everything up to the first delimiter line.
		for {
			chunk, full, err := m.readChunk()
			if full {
				if d, last := m.delimiter(chunk); d {
					m.started, m.last = true, last
					break
				}
			}
			if err != nil {
				if err == io.EOF {
					return textproto.Header{}, nil, errNoBoundary
				}
				return textproto.Header{}, nil, err
			}
		}
	}
	if m.cut {
		m.cut = false
		return textproto.Header{}, nil, errUnterminated
	}
	if m.last {
		return textproto.Header{}, nil, io.EOF
	}
	m.part = &partBody{m: m}
	br := bufio.NewReader(m.part)
	h, err := textproto.ReadHeader(br)
	if err != nil && isReadErr(err) {
		return textproto.Header{}, nil, err
	}
	// A part whose header does not parse still has a body, what was read: it
	// is scanned, and the header's error is what headerErr reports.
	m.headerErr = err
	return h, br, nil
}

// readChunk reads up to the end of a line, or as much of a long line as the
// buffer holds. full says the chunk is a whole line (from its start, with its
// newline, or the last bytes of the input).
func (m *multipartReader) readChunk() (chunk []byte, full bool, err error) {
	start := m.lineStart
	chunk, err = m.br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		m.lineStart = false
		return chunk, false, nil
	}
	m.lineStart = err == nil
	return chunk, start && (err == nil || err == io.EOF && len(chunk) > 0), err
}

// delimiter says whether a whole line is a delimiter line, and whether it is
// the closing one.
func (m *multipartReader) delimiter(line []byte) (is, last bool) {
	rest, ok := bytes.CutPrefix(line, m.dash)
	if !ok {
		return false, false
	}
	if r, ok := bytes.CutPrefix(rest, []byte("--")); ok {
		rest, last = r, true
	}
	return len(bytes.TrimRight(rest, " \t\r\n")) == 0, last
}

// partBody is one part's bytes, up to the newline before its closing
// delimiter line (which belongs to the delimiter).
type partBody struct {
	m       *multipartReader
	pending []byte // read and known to be content
	held    []byte // the last line's newline, content unless a delimiter follows
	done    bool
	// buf is pending's array, reused line after line: pending, once read
	// through, is an empty slice at that array's end, and appending to it
	// made a new array for every line of every part.
	buf []byte
}

func (p *partBody) Read(b []byte) (int, error) {
	for len(p.pending) == 0 {
		if p.done {
			return 0, io.EOF
		}
		chunk, full, err := p.m.readChunk()
		if full {
			if d, last := p.m.delimiter(chunk); d {
				p.done, p.held = true, nil
				p.m.last = last
				continue
			}
		}
		if len(chunk) > 0 {
			p.buf = append(p.buf[:0], p.held...)
			p.held = p.held[:0]
			body := chunk
			if bytes.HasSuffix(body, []byte("\n")) {
				nl := 1
				if bytes.HasSuffix(body, []byte("\r\n")) {
					nl = 2
				}
				body, p.held = body[:len(body)-nl], append(p.held, body[len(body)-nl:]...)
			}
			p.buf = append(p.buf, body...)
			p.pending = p.buf
		}
		if err != nil {
			if err != io.EOF {
				return 0, err
			}
			// No closing delimiter: the part runs to the end.
			p.pending = append(p.pending, p.held...)
			p.held, p.done = nil, true
			p.m.last, p.m.cut = true, true
		}
	}
	n := copy(b, p.pending)
	p.pending = p.pending[n:]
	return n, nil
}
