package spool

import (
	"bytes"
	"errors"
	"io"
	"os"
	"testing"
)

func TestSpool(t *testing.T) {
	tests := []struct {
		name     string
		memLimit int64
		maxSize  int64
		chunks   []string
		onDisk   bool
		tooLarge bool
	}{
		{"memory", 100, 0, []string{"Subject: x\r\n", "\r\n", "body\r\n"}, false, false},
		{"spills to disk", 10, 0, []string{"Subject: x\r\n", "\r\n", "body\r\n"}, true, false},
		{"exactly at the memory limit", 5, 0, []string{"abc", "de"}, false, false},
		{"over the cap", 100, 8, []string{"abcd", "efgh", "i"}, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s := New(tc.memLimit, tc.maxSize, dir)
			var want bytes.Buffer
			var gotErr error
			for _, c := range tc.chunks {
				if _, err := s.WriteString(c); err != nil {
					gotErr = err
					continue
				}
				want.WriteString(c)
			}
			if tc.tooLarge != errors.Is(gotErr, ErrTooLarge) {
				t.Fatalf("err = %v, tooLarge %v", gotErr, tc.tooLarge)
			}
			if s.OnDisk() != tc.onDisk {
				t.Errorf("OnDisk = %v", s.OnDisk())
			}
			if !tc.tooLarge {
				got, _ := io.ReadAll(s.Reader())
				if !bytes.Equal(got, want.Bytes()) {
					t.Errorf("read back %q, want %q", got, want.Bytes())
				}
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatal("second close:", err)
			}
			left, _ := os.ReadDir(dir)
			if len(left) != 0 {
				t.Errorf("spool left %d files behind", len(left))
			}
		})
	}
}

func TestSpoolDirMissing(t *testing.T) {
	s := New(1, 0, "/nonexistent/postern")
	if _, err := s.WriteString("too long for memory"); err == nil {
		t.Fatal("no error for an unwritable spool dir")
	}
}
