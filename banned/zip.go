package banned

import (
	"archive/zip"
	"errors"
	"io"
	"sync"

	"github.com/postern/postern/scan"
)

// zipTail is how much of an archive's end is kept to read its central
// directory from: about 46 bytes and a name for each file, so a megabyte lists
// thousands of them, whatever the archive's size.
const zipTail = 1 << 20

// zipWhole is the largest archive kept whole, so that an archive inside it can
// be opened (inArchive); a larger one's names are read from its last zipTail
// bytes alone. Malware comes in small archives; documents (a .docx is a ZIP)
// can be large, and hold no archives a reader opens.
const zipWhole = 4 << 20

// zipEntries gives entry the files of the ZIP archive r streams, from its
// central directory, which the archive keeps at its end, so r is read to its
// end. A file can be opened when the archive is kept whole and the file is not
// encrypted. An archive whose directory does not fit in the kept end, or that
// does not read as one, gives nothing: that is the sender's broken file, not a
// failure of the check (the virus scan still reads it). Only the spool's
// failure (scan.ReadFailure) and entry's errors are returned.
func zipEntries(r io.Reader, entry entryFunc) error {
	ra, n, whole, release, err := keep(r)
	defer release()
	if err != nil {
		return err
	}
	zr, err := zip.NewReader(ra, n)
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		return nil
	}
	// (With GODEBUG=zipinsecurepath=0, a name like "../run.exe" comes with
	// ErrInsecurePath and the archive read: it is listed all the same.)
	for _, f := range zr.File {
		var open opener
		if whole && f.Flags&0x1 == 0 { // bit 0: encrypted
			open = func() (io.ReadCloser, error) { return f.Open() }
		}
		if err := entry(f.Name, open); err != nil {
			return err
		}
	}
	return nil
}

// keep reads r to its end, for an archive whose directory is there, and gives
// it at any offset: all of it when it is zipWhole bytes or less (whole), else
// its last zipTail bytes (a read before them fails). release gives the memory
// back once the archive is done with. Only the spool's failure is an error.
func keep(r io.Reader) (ra io.ReaderAt, size int64, whole bool, release func(), err error) {
	kept := &pieces{}
	whole, err = kept.fill(r, zipWhole)
	if err != nil {
		kept.release()
		return nil, 0, false, func() {}, scan.ReadFailure(err)
	}
	if whole {
		return kept, kept.size, true, kept.release, nil
	}
	t := &tail{buf: make([]byte, 0, zipTail)}
	for _, p := range kept.bufs {
		t.Write(p)
	}
	kept.release()
	if _, err := io.Copy(t, r); err != nil {
		return nil, 0, false, func() {}, scan.ReadFailure(err)
	}
	return t, t.size, false, func() {}, nil
}

// pieces keeps the start of a stream in pooled pieces of pieceSize bytes,
// readable at any offset: archives to be opened are kept whole without a
// buffer that doubles as it grows, or a new one for every message.
type pieces struct {
	bufs [][]byte
	size int64
}

const pieceSize = 64 << 10

var piecePool = sync.Pool{New: func() any { return new([pieceSize]byte) }}

// fill reads r into p until its end (whole) or until more than limit bytes
// are kept (not whole: all of them are kept, and r reads on from there).
func (p *pieces) fill(r io.Reader, limit int64) (whole bool, err error) {
	for p.size <= limit {
		b := piecePool.Get().(*[pieceSize]byte)
		n, err := io.ReadFull(r, b[:])
		if n > 0 {
			p.bufs = append(p.bufs, b[:n])
			p.size += int64(n)
		} else {
			piecePool.Put(b)
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return true, nil
		}
		if err != nil {
			return false, err
		}
	}
	return false, nil
}

// ReadAt implements io.ReaderAt over what fill kept.
func (p *pieces) ReadAt(b []byte, off int64) (int, error) {
	n := 0
	for n < len(b) && off < p.size {
		piece := p.bufs[off/pieceSize]
		k := copy(b[n:], piece[off%pieceSize:])
		n += k
		off += int64(k)
	}
	if n < len(b) {
		return n, io.EOF
	}
	return n, nil
}

// release gives the pieces back to the pool.
func (p *pieces) release() {
	for _, b := range p.bufs {
		piecePool.Put((*[pieceSize]byte)(b[:pieceSize]))
	}
	p.bufs, p.size = nil, 0
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
