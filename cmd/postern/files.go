package main

import (
	"os"
	"path/filepath"
)

// replaceFile writes path anew through write, into a temporary file of the same
// directory that is then renamed over it: a reader (serve reloading its lists, a
// process reading its cache) sees the old file or the new one, never part of
// one. perm is the new file's mode.
func replaceFile(path string, perm os.FileMode, write func(f *os.File) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // (gone after the rename)
	err = write(tmp)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), perm)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	return err
}

// writeFileAtomic replaces a file with data, keeping its mode (0644 for a new one).
func writeFileAtomic(path string, data []byte) error {
	mode := os.FileMode(0o644)
	if fi, err := os.Stat(path); err == nil {
		mode = fi.Mode().Perm()
	}
	return replaceFile(path, mode, func(f *os.File) error {
		_, err := f.Write(data)
		return err
	})
}
