package scan

import (
	"bytes"
	"io"
)

// RawStats is what a leaf's raw lines (its body as the message carries it, still
// transfer-encoded) say about how it was written: what SpamAssassin's MIMEEval
// reads from them (_check_attachments). Lines are counted with CRLF as LF, as
// SpamAssassin squashes them.
type RawStats struct {
	Bytes int // of all lines, each with its newline
	// QPLines are the bytes of the lines that do not start with "SPAM: " (what
	// SpamAssassin counts of a quoted-printable part); QPEscapes the escapes of
	// printable characters among them that needed none (=41 for A, =20), less
	// the =20 and =09 that end a line, which do need it; QPLongLine a line
	// longer than 78 characters.
	// They are counted for quoted-printable parts only.
	QPLines, QPEscapes int
	QPLongLine         bool
	// IllegalASCII counts the lines with a NUL, a lone CR or a byte above 127:
	// none belong in us-ascii text.
	IllegalASCII int
}

// maxStatLine is how much of one line is kept to read escapes in;
// past it a line is only measured.
const maxStatLine = 64 << 10

// rawStatsReader measures the lines read through it.
type rawStatsReader struct {
	r    io.Reader
	st   *RawStats
	qp   bool   // a quoted-printable part: the QP counts are wanted
	keep int    // how much of a line to keep: maxStatLine for qp (its escapes are read), else none
	line []byte // the current line so far, CR and LF excluded, up to keep
	n    int    // its length, past the cap too
	cr   bool   // the last byte read was a CR not yet known to end a CRLF
	bad  bool   // the current line holds a NUL, a lone CR or a high byte
}

func newRawStatsReader(r io.Reader, st *RawStats, qp bool) *rawStatsReader {
	keep := 0
	if qp {
		keep = maxStatLine
	}
	return &rawStatsReader{r: r, st: st, qp: qp, keep: keep}
}

func (s *rawStatsReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	s.scan(p[:n])
	if err == io.EOF && (s.n > 0 || s.cr) {
		s.endLine(false) // a last line without its newline
	}
	return n, err
}

func (s *rawStatsReader) scan(b []byte) {
	for len(b) > 0 {
		if s.cr {
			s.cr = false
			if b[0] != '\n' {
				s.bad = true // a lone CR: part of the line
				s.add([]byte{'\r'})
			}
		}
		i := bytes.IndexByte(b, '\n')
		chunk := b
		if i >= 0 {
			chunk = b[:i]
		}
		if len(chunk) > 0 && chunk[len(chunk)-1] == '\r' {
			// Before the newline, a CRLF, counted as LF; at the end of what was
			// read, undecided until the next byte.
			chunk = chunk[:len(chunk)-1]
			s.cr = i < 0
		}
		s.add(chunk)
		if i < 0 {
			return
		}
		s.endLine(true)
		b = b[i+1:]
	}
}

// add appends bytes of the current line.
func (s *rawStatsReader) add(b []byte) {
	for _, c := range b {
		if c == 0 || c >= 0x80 || c == '\r' {
			s.bad = true
			break
		}
	}
	s.n += len(b)
	if room := s.keep - len(s.line); room > 0 {
		s.line = append(s.line, b[:min(len(b), room)]...)
	}
}

func (s *rawStatsReader) endLine(newline bool) {
	if s.cr {
		s.cr = false
		s.bad = true
		s.add([]byte{'\r'})
	}
	n := s.n
	if newline {
		n++
	}
	st := s.st
	st.Bytes += n
	if s.qp && !bytes.HasPrefix(s.line, []byte("SPAM: ")) {
		st.QPLines += n
		if n > 78+1 {
			st.QPLongLine = true
		}
		st.QPEscapes += needlessEscapes(s.line)
	}
	if s.bad {
		st.IllegalASCII++
	}
	s.line, s.n, s.bad = s.line[:0], 0, false
}

// needlessEscapes counts a quoted-printable line's escapes of characters that
// needed none (MIMEEval's =(?:09|3[0-9ABCEF]|[2456][0-9A-F]|7[0-9A-E]), found left
// to right), less the run of =20 and =09 that ends the line, when it had any.
func needlessEscapes(line []byte) int {
	if bytes.IndexByte(line, '=') < 0 {
		return 0
	}
	n := 0
	for i := 0; i+2 < len(line); i++ {
		if line[i] == '=' && needless(line[i+1], line[i+2]) {
			n++
			i += 2
		}
	}
	if n == 0 {
		return 0
	}
	end := len(bytes.TrimRight(line, " \t\f\v\r\n"))
	for end >= 3 && line[end-3] == '=' && (line[end-2] == '0' && line[end-1] == '9' || line[end-2] == '2' && line[end-1] == '0') {
		n--
		end -= 3
	}
	return n
}

func needless(a, b byte) bool {
	upperHex := '0' <= b && b <= '9' || 'A' <= b && b <= 'F'
	switch a {
	case '0':
		return b == '9'
	case '3':
		return '0' <= b && b <= '9' || b == 'A' || b == 'B' || b == 'C' || b == 'E' || b == 'F'
	case '2', '4', '5', '6':
		return upperHex
	case '7':
		return upperHex && b != 'F'
	}
	return false
}
