package scan

import (
	"bufio"
	"bytes"
	"io"
	"sync"
)

// crlfReader reads a text part's decoded body with each CRLF made LF, as
// SpamAssassin decodes text (Message.pm squashes the raw lines of a message
// that came with CRLF, and Message::Node's decode the CRLFs that quoted-printable
// and base64 text decode to): a part's line ends are LF whether the message
// came through the milter (Postfix hands it over with CRLF) or from a file.
type crlfReader struct{ br *bufio.Reader }

var crlfBufs = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 16<<10) }}

func newCRLFReader(r io.Reader) *crlfReader {
	br := crlfBufs.Get().(*bufio.Reader)
	br.Reset(r)
	return &crlfReader{br: br}
}

// release gives the buffer back once the part has been read.
func (c *crlfReader) release() {
	c.br.Reset(nil)
	crlfBufs.Put(c.br)
	c.br = nil
}

func (c *crlfReader) Read(p []byte) (int, error) {
	n, err := c.br.Read(p)
	if n > 0 && p[n-1] == '\r' {
		// A CRLF cut by the read: its LF is the next byte.
		if b, perr := c.br.Peek(1); perr == nil && b[0] == '\n' {
			c.br.Discard(1)
			p[n-1] = '\n'
		}
	}
	return len(DropCRs(p[:n])), err
}

// DropCRs turns each CRLF of b into LF, in place, and returns what is left
// (strings.ReplaceAll's answer, without the copy).
func DropCRs(b []byte) []byte {
	i := bytes.IndexByte(b, '\r')
	if i < 0 {
		return b
	}
	// From CR to CR, each run between copied whole (memmove): a byte a step
	// was some six instructions a byte of every message with CRLF line ends,
	// which every message through the milter has.
	w := i
	for i < len(b) { // b[i] is a CR
		if i+1 < len(b) && b[i+1] == '\n' {
			i++ // (dropped)
		} else {
			b[w] = '\r' // a CR alone stays
			w, i = w+1, i+1
		}
		j := bytes.IndexByte(b[i:], '\r')
		if j < 0 {
			j = len(b) - i
		}
		w += copy(b[w:], b[i:i+j])
		i += j
	}
	return b[:w]
}
