package banned

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/postern/postern/filter"
	"github.com/postern/postern/scan"
)

// FuzzArchives: what the archive readers are given is the sender's; whatever it
// is, they list names or nothing, never panic, and report no error of their
// own (an in-memory stream has none to report).
func FuzzArchives(f *testing.F) {
	f.Add(rar5(false, rarEntry{name: "a.exe", data: []byte("x")}))
	f.Add(rar4(rarEntry{name: "a.pdf|a.pdf.exe", data: []byte("x")}))
	// RAR 5 files that rardecode opens: stored, in a solid archive, and
	// compressed (method 3, the smallest dictionary) with bytes that decode as
	// whatever they decode to.
	inner := zipOf(f, entry{name: "a.exe", data: []byte("MZ")})
	f.Add(rar5(false, rarEntry{name: "a.zip", data: inner}, rarEntry{name: "b.svg", data: []byte("<svg><script>x</script></svg>")}))
	f.Add(solid(rar5(false, rarEntry{name: "pad", data: []byte("0123456789")}, rarEntry{name: "a.zip", data: inner})))
	f.Add(rar5(false, rarEntry{name: "a.zip", data: inner, compression: 3 << 7}))
	f.Add(zipOf(f, entry{name: "a.js", data: []byte("x")}))
	f.Add(gzipOf(f, "a.exe"))
	f.Add(tarOf(f, "a/", "a/b.exe"))
	f.Add(gzipped(f, "x.tar", tarOf(f, "b.js")))
	for _, names := range [][]string{{"a.exe"}, {"a.svg", "b.txt"}} {
		if b, err := sevenZipSeed(nil, names...); err == nil {
			f.Add(b)
		}
	}
	// Folders packed by the other methods whose files are unpacked.
	for _, method := range []string{"-m0=deflate", "-m0=bzip2"} {
		if b, err := sevenZipSeed([]string{method}, "a.svg", "b.txt"); err == nil {
			f.Add(b)
		}
	}
	// Every file that opens is read to its end: a broken archive's content
	// is the sender's, and only the spool's failure is an error.
	readAll := func(_ string, open opener) error {
		if open == nil {
			return nil
		}
		if rc, err := open(); err == nil {
			io.Copy(io.Discard, rc)
			rc.Close()
		}
		return nil
	}
	// rardecode's panics are the fuzzer's to find, not rar5Open's to hide.
	rarRecover = false
	defer func() { rarRecover = true }()
	f.Fuzz(func(t *testing.T, b []byte) {
		budget := int64(maxUnpacked)
		if err := sevenZipEntries(b[:min(len(b), sniffLen)], bytes.NewReader(b), &budget, readAll); err != nil {
			t.Errorf("sevenZipEntries: %v", err)
		}
		if _, err := rarNames(bytes.NewReader(b)); err != nil {
			t.Errorf("rarNames: %v", err)
		}
		budget = maxUnpacked
		if err := rarEntries(b[:min(len(b), sniffLen)], bytes.NewReader(b), &budget, readAll); err != nil {
			t.Errorf("rarEntries: %v", err)
		}
		if _, err := zipNames(bytes.NewReader(b)); err != nil {
			t.Errorf("zipNames: %v", err)
		}
		if _, err := tarNames(bytes.NewReader(b)); err != nil {
			t.Errorf("tarNames: %v", err)
		}
		if _, err := gzipTarNames(bytes.NewReader(b)); err != nil {
			t.Errorf("gzipTarNames: %v", err)
		}
		if len(b) > 0 {
			rar3Unicode(b[:len(b)/2], b[len(b)/2:])
		}
		if isGzip(b) {
			gzipNames(b, "x.gz")
		}
	})
}

// sevenZipSeed is a small 7-Zip archive, written by 7zz when it is installed,
// with its options args.
func sevenZipSeed(args []string, names ...string) ([]byte, error) {
	dir, err := os.MkdirTemp("", "seed7z")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("<svg><script>x</script></svg>"), 0o644); err != nil {
			return nil, err
		}
	}
	cmd := exec.Command("7zz", append(append([]string{"a", "-bd", "s.7z"}, args...), names...)...)
	cmd.Dir = dir
	if err := cmd.Run(); err != nil {
		return nil, err
	}
	return os.ReadFile(filepath.Join(dir, "s.7z"))
}

// FuzzFind: a whole message, however broken, is judged without a panic.
func FuzzFind(f *testing.F) {
	f.Add(attached("a.exe", []byte("x")))
	f.Add(attached("x.rar", rar4(rarEntry{name: "a.js", data: []byte("x")})))
	// A RAR 5 archive whose files rardecode opens: an archive and an SVG image.
	f.Add(attached("y.rar", rar5(false, rarEntry{name: "b.zip", data: zipOf(f, entry{name: "c.txt", data: []byte("x")})}, rarEntry{name: "d.svg", data: []byte("<svg/>")})))
	f.Add(withPart("Content-Type: application/octet-stream; name*=UTF-8''%E2%80%AEa.exe\r\n", pe()))
	if b, err := sevenZipSeed(nil, "a.svg", "b.txt"); err == nil {
		f.Add(attached("x.7z", b)) // a 7-Zip archive whose files are unpacked
	}
	c := defaults()
	f.Fuzz(func(t *testing.T, raw string) {
		parsed, err := scan.Parse(bytes.NewReader([]byte(raw)))
		if err != nil {
			return
		}
		m := &filter.Message{Raw: bytes.NewReader([]byte(raw)), Size: int64(len(raw)), Parsed: parsed}
		if _, err := c.Find(context.Background(), m); err != nil {
			t.Errorf("Find: %v", err)
		}
	})
}

// FuzzSVG: an SVG image is the sender's; whatever it holds, svgActive answers
// without panicking and reports no error of its own (an in-memory stream has
// none). (A "<script" in a comment or a CDATA section is no script: no
// claim on what is found.)
func FuzzSVG(f *testing.F) {
	f.Add([]byte(`<svg xmlns="http://www.w3.org/2000/svg"><rect width="1" height="1"/></svg>`))
	f.Add([]byte(`<?xml version="1.0"?><svg><script>x()</script></svg>`))
	f.Add([]byte(`<svg><a href="&#106;avascript:x()"/><!-- -- --><g onload="x()"/></svg>`))
	f.Add([]byte(`<svg><foreignObject><form xmlns="http://www.w3.org/1999/xhtml"/></foreignObject></svg>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, err := svgActive(bytes.NewReader(b)); err != nil {
			t.Errorf("svgActive: %v", err)
		}
	})
}
