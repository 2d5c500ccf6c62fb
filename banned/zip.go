package banned

import (
	"archive/zip"
	"errors"
	"io"

	"github.com/postern/postern/scan"
)

// zipTail is how much of an archive's end is kept to read its central
// directory from: about 46 bytes and a name for each file, so a megabyte lists
// thousands of them, whatever the archive's size.
const zipTail = 1 << 20

// zipNames lists the names of the files in the ZIP archive r streams, from its
// central directory, which the archive keeps at its end: r is read to its end
// and only the last zipTail bytes kept. An archive whose directory does not fit
// there, or that does not read as one, lists nothing: that is the sender's
// broken file, not a failure of the check (the virus scan still reads it). Only
// the spool's failure is returned (scan.ReadFailure).
func zipNames(r io.Reader) ([]string, error) {
	t := &tail{buf: make([]byte, 0, zipTail)}
	if _, err := io.Copy(t, r); err != nil {
		return nil, scan.ReadFailure(err)
	}
	zr, err := zip.NewReader(t, t.size)
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		return nil, nil
	}
	// (With GODEBUG=zipinsecurepath=0, a name like "../run.exe" comes with
	// ErrInsecurePath and the archive read: it is listed all the same.)
	names := make([]string, 0, len(zr.File))
	for _, f := range zr.File {
		names = append(names, f.Name)
	}
	return names, nil
}

var errOutsideTail = errors.New("banned: read before the archive's kept end")

// tail keeps the last cap(buf) bytes written to it, and reads them back at
// their offsets in the whole stream.
type tail struct {
	buf  []byte // once full, a ring whose oldest byte is at
	at   int
	size int64 // bytes written in all
}

func (t *tail) Write(p []byte) (int, error) {
	n := len(p)
	t.size += int64(n)
	if room := cap(t.buf) - len(t.buf); room > 0 {
		k := min(room, len(p))
		t.buf = append(t.buf, p[:k]...)
		p = p[k:]
	}
	if len(p) > len(t.buf) {
		p = p[len(p)-len(t.buf):]
	}
	for len(p) > 0 {
		k := copy(t.buf[t.at:], p)
		p = p[k:]
		t.at = (t.at + k) % len(t.buf)
	}
	return n, nil
}

// ReadAt implements io.ReaderAt over the kept end of the stream.
func (t *tail) ReadAt(p []byte, off int64) (int, error) {
	start := t.size - int64(len(t.buf))
	if off < start {
		return 0, errOutsideTail
	}
	n := 0
	for n < len(p) && off < t.size {
		i := (t.at + int(off-start)) % len(t.buf)
		k := copy(p[n:], t.buf[i:min(len(t.buf), i+int(t.size-off))])
		n += k
		off += int64(k)
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}
