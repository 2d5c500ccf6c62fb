// Package spool holds one message while it arrives: in memory up to a limit, then in a
// temporary file, which Close always removes. Checks read it back as often as they need
// through io.ReaderAt, so no check has to copy the whole message again.
package spool

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
)

// ErrTooLarge is returned by Write once the message passes its hard cap.
var ErrTooLarge = errors.New("spool: message exceeds the size cap")

// Spool is one message's bytes. It is not safe for concurrent writes; once writing is
// done, any number of readers may use ReaderAt concurrently.
type Spool struct {
	memLimit int64
	maxSize  int64
	dir      string
	buf      bytes.Buffer
	file     *os.File
	size     int64
}

// New returns an empty spool that keeps up to memLimit bytes in memory, spills to a
// temporary file in dir ("" for the system default) beyond that, and refuses to grow
// beyond maxSize (0: no cap).
func New(memLimit, maxSize int64, dir string) *Spool {
	return &Spool{memLimit: memLimit, maxSize: maxSize, dir: dir}
}

// FromBytes wraps a message already in memory, without a copy: b is the spool's
// from then on, and the caller must not change it.
func FromBytes(b []byte) *Spool {
	return &Spool{memLimit: int64(len(b)), size: int64(len(b)), buf: *bytes.NewBuffer(b)}
}

// Write appends p. Past the cap it writes nothing and returns ErrTooLarge; the size
// still counts, so the caller can report how large the message was.
func (s *Spool) Write(p []byte) (int, error) {
	if s.maxSize > 0 && s.size+int64(len(p)) > s.maxSize {
		s.size += int64(len(p))
		return 0, ErrTooLarge
	}
	if s.file == nil && s.size+int64(len(p)) > s.memLimit {
		f, err := os.CreateTemp(s.dir, "postern-spool-*")
		if err != nil {
			return 0, fmt.Errorf("spool: create temp file: %w", err)
		}
		// Unlinked at once where the OS allows, so even a crash leaves nothing behind.
		_ = os.Remove(f.Name())
		if _, err := f.Write(s.buf.Bytes()); err != nil {
			f.Close()
			return 0, fmt.Errorf("spool: write temp file: %w", err)
		}
		s.file = f
		s.buf = bytes.Buffer{}
	}
	if s.file != nil {
		n, err := s.file.Write(p)
		s.size += int64(n)
		if err != nil {
			return n, fmt.Errorf("spool: write temp file: %w", err)
		}
		return n, nil
	}
	n, _ := s.buf.Write(p)
	s.size += int64(n)
	return n, nil
}

// WriteString appends s.
func (s *Spool) WriteString(str string) (int, error) { return s.Write([]byte(str)) }

// Size is the number of bytes written (or offered, past the cap).
func (s *Spool) Size() int64 { return s.size }

// OnDisk tells whether the message spilled to a temporary file.
func (s *Spool) OnDisk() bool { return s.file != nil }

// ReadAt reads the message's bytes; safe for concurrent use once writing is done.
func (s *Spool) ReadAt(p []byte, off int64) (int, error) {
	if s.file != nil {
		return s.file.ReadAt(p, off)
	}
	return bytes.NewReader(s.buf.Bytes()).ReadAt(p, off)
}

// Reader returns a fresh reader over the whole message.
func (s *Spool) Reader() *io.SectionReader {
	n := s.size
	if s.maxSize > 0 && n > s.maxSize {
		n = 0
	}
	return io.NewSectionReader(s, 0, n)
}

// Close releases memory and removes the temporary file. It is safe to call twice.
func (s *Spool) Close() error {
	s.buf = bytes.Buffer{}
	if s.file == nil {
		return nil
	}
	name := s.file.Name()
	err := s.file.Close()
	s.file = nil
	if rmErr := os.Remove(name); rmErr != nil && !errors.Is(rmErr, os.ErrNotExist) && err == nil {
		err = rmErr
	}
	if err != nil {
		return fmt.Errorf("spool: close %s: %w", name, err)
	}
	return nil
}
