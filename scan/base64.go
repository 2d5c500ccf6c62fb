package scan

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"sync"
)

// base64Reader decodes a base64 body in blocks: it drops line breaks and other white
// space, decodes whole quads with the standard library and keeps the remainder for the
// next block. An unpadded final quad is accepted, as mail clients do; any other
// malformation is a decoding error, returned after the bytes decoded before it.
type base64Reader struct {
	r      io.Reader
	in     []byte // raw input block
	quad   []byte // filtered input not yet decoded (< 4 bytes between fills)
	out    []byte // decoded, not yet returned
	outBuf []byte
	err    error // sticky: the input's or a decoding error
}

// base64Readers keeps readers whose part has been read, for their buffers: 88 KB
// a part, allocated afresh, was a sixth of the check's garbage.
var base64Readers sync.Pool

func newBase64Reader(r io.Reader) *base64Reader {
	b, _ := base64Readers.Get().(*base64Reader)
	if b == nil {
		b = &base64Reader{in: make([]byte, 32<<10), quad: make([]byte, 0, 32<<10+4), outBuf: make([]byte, 0, 24<<10+3)}
	}
	b.r, b.quad, b.out, b.err = r, b.quad[:0], nil, nil
	return b
}

// release gives b back for another part once its part has been read; nothing
// reads b after.
func (b *base64Reader) release() {
	b.r, b.out = nil, nil
	base64Readers.Put(b)
}

func (b *base64Reader) Read(p []byte) (int, error) {
	for len(b.out) == 0 {
		if b.err != nil {
			return 0, b.err
		}
		b.fill()
	}
	n := copy(p, b.out)
	b.out = b.out[n:]
	return n, nil
}

// fill reads one block and decodes what it can of it.
func (b *base64Reader) fill() {
	n, err := b.r.Read(b.in)
	b.quad = appendFiltered(b.quad, b.in[:n])
	end := errors.Is(err, io.EOF)
	if err != nil && !end {
		b.err = err
	}
	whole := len(b.quad) / 4 * 4
	tail := b.quad[whole:]
	if end && len(tail) > 0 {
		whole = len(b.quad) // the last quad may lack its padding
	}
	b.outBuf = b.outBuf[:cap(b.outBuf)]
	if need := base64.StdEncoding.DecodedLen(whole) + 3; len(b.outBuf) < need {
		b.outBuf = make([]byte, need)
	}
	var m int
	var derr error
	if end && len(tail) > 0 {
		m, derr = decodeLenient(b.outBuf, b.quad[:whole])
	} else {
		m, derr = base64.StdEncoding.Decode(b.outBuf, b.quad[:whole])
	}
	b.out = b.outBuf[:m]
	if derr != nil {
		b.err = fmt.Errorf("base64: %w", derr)
		return
	}
	b.quad = append(b.quad[:0], b.quad[whole:]...)
	if end && b.err == nil {
		b.err = io.EOF
	}
}

// decodeLenient decodes src whose last quad may be unpadded.
func decodeLenient(dst, src []byte) (int, error) {
	whole := len(src) / 4 * 4
	n, err := base64.StdEncoding.Decode(dst, src[:whole])
	if err != nil {
		return n, err
	}
	m, err := base64.RawStdEncoding.Decode(dst[n:], src[whole:])
	return n + m, err
}

// appendFiltered appends src without white space. Mail wraps base64 in lines of 76:
// copying whole lines found with IndexByte is several times faster than a byte loop.
func appendFiltered(dst, src []byte) []byte {
	for len(src) > 0 {
		i := bytes.IndexByte(src, '\n')
		line := src
		if i >= 0 {
			line, src = src[:i], src[i+1:]
		} else {
			src = nil
		}
		line = bytes.TrimSuffix(line, []byte{'\r'})
		if bytes.IndexByte(line, ' ') < 0 && bytes.IndexByte(line, '\t') < 0 && bytes.IndexByte(line, '\r') < 0 {
			dst = append(dst, line...)
			continue
		}
		for _, c := range line {
			if c != ' ' && c != '\t' && c != '\r' {
				dst = append(dst, c)
			}
		}
	}
	return dst
}
