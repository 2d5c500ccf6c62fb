package scan

import (
	"io"
	"sync"
)

// qpReader decodes a quoted-printable body as SpamAssassin's qp_decode does: white
// space at the end of a line dropped, "=" at the end of a line (white space
// after it allowed) joining it to the next, "=" and two hex digits (either case)
// the byte they spell, and every other byte as it is. It never fails.
//
// It replaces the standard library's decoder, which go-message uses, for two
// reasons. That decoder stops with an error at a line longer than its 4 KB
// buffer, and at a control character other than tab, CR and LF: the part's text
// then ended there, and whatever followed (spam behind a long first line, or a
// stray NUL) reached no rule and no Bayes token, where SpamAssassin reads it all.
// And it decodes a byte at a time, about a twentieth of the parse; this copies
// the runs between the bytes that need a look.
//
// Unlike qp_decode's three passes, it reads the text once: an escape cut by a
// soft line break ("=4=\n1") is not joined, and a run of white space longer
// than its buffer (a quarter of a megabyte, with no line end) is kept.
type qpReader struct {
	r      io.Reader
	in     []byte // input not yet decoded at in[:n], then room to read into
	n      int
	out    []byte // decoded, not yet returned
	outBuf []byte
	err    error // sticky: the input's error, or io.EOF once all is decoded
}

// qpReaders keeps readers whose part has been read, for their buffers.
var qpReaders sync.Pool

const qpBlock = 32 << 10

func newQPReader(r io.Reader) *qpReader {
	q, _ := qpReaders.Get().(*qpReader)
	if q == nil {
		q = &qpReader{in: make([]byte, qpBlock), outBuf: make([]byte, 0, qpBlock)}
	}
	q.r, q.n, q.out, q.err = r, 0, nil, nil
	return q
}

// release gives q back for another part once its part has been read.
func (q *qpReader) release() {
	q.r, q.out = nil, nil
	if cap(q.in) > 8*qpBlock { // (grown for a long run of white space: not kept)
		q.in = make([]byte, qpBlock)
	}
	qpReaders.Put(q)
}

func (q *qpReader) Read(p []byte) (int, error) {
	for len(q.out) == 0 {
		if q.err != nil {
			return 0, q.err
		}
		q.fill()
	}
	n := copy(p, q.out)
	q.out = q.out[n:]
	return n, nil
}

// fill reads a block and decodes what it can decide of it; the rest waits for
// the next block.
func (q *qpReader) fill() {
	if q.n == len(q.in) { // undecided all through: a long run of white space
		if len(q.in) < 8*qpBlock {
			q.in = append(q.in, make([]byte, len(q.in))...)
		} else {
			q.out = append(q.outBuf[:0], q.in[:q.n]...) // decided: kept as it is
			q.n = 0
			return
		}
	}
	m, end, err := readBlock(q.r, q.in[q.n:])
	q.n += m
	q.err = err
	var used int
	q.out, used = qpDecode(q.outBuf[:0], q.in[:q.n], end)
	q.outBuf = q.out[:0]
	q.n = copy(q.in, q.in[used:q.n])
	if end && q.err == nil {
		q.err = io.EOF
	}
}

// qpSpecial marks the bytes qpDecode looks at; every other byte is copied. White
// space is looked at only where white space or a line end follows it.
var (
	qpSpecial   = [256]bool{'=': true, ' ': true, '\t': true}
	qpLineSpace = [256]bool{' ': true, '\t': true, '\r': true, '\n': true}
)

// qpDecode appends to out the decoding of in as far as in decides it (all of it
// when final), and returns how many bytes of in that took. What in leaves
// undecided is at its end: an "=" without the two bytes after it, or white space
// that a line end may follow.
func qpDecode(out, in []byte, final bool) ([]byte, int) {
	// lineEnd is the length of the line end at j (\n or \r\n), 0 for none, -1
	// when in ends before it can tell.
	lineEnd := func(j int) int {
		switch {
		case j == len(in):
			return -1
		case in[j] == '\n':
			return 1
		case in[j] == '\r' && j+1 == len(in):
			return -1
		case in[j] == '\r' && in[j+1] == '\n':
			return 2
		}
		return 0
	}
	i := 0
	for i < len(in) {
		j := i
		for j < len(in) {
			if c := in[j]; qpSpecial[c] && (c == '=' || j+1 == len(in) || qpLineSpace[in[j+1]]) {
				break // (white space followed by a word is copied with it)
			}
			j++
		}
		out = append(out, in[i:j]...)
		if i = j; i == len(in) {
			break
		}
		// White space after the "=" of a soft line break, or before a line end.
		k := i + 1
		for k < len(in) && (in[k] == ' ' || in[k] == '\t') {
			k++
		}
		end := lineEnd(k)
		if end < 0 && !final {
			return out, i
		}
		if in[i] != '=' { // white space: dropped before a line end
			if end <= 0 {
				out = append(out, in[i:k]...)
			}
			i = k
			continue
		}
		switch {
		case end > 0: // a soft line break
			i = k + end
		case k == i+1 && i+2 < len(in) && isHex(in[i+1]) && isHex(in[i+2]):
			out = append(out, unhex(in[i+1])<<4|unhex(in[i+2]))
			i += 3
		case k == i+1 && i+2 == len(in) && isHex(in[i+1]) && !final:
			return out, i
		default:
			out = append(out, '=')
			i++
		}
	}
	return out, len(in)
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}
