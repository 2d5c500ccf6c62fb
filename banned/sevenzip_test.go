package banned

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"testing"

	"github.com/postern/postern/scan"
)

// need7z fails under CI, and skips elsewhere, without the tool that writes the
// archives: 7-Zip's 7zz, or libarchive's bsdtar.
func need7z(t *testing.T, tool string) {
	t.Helper()
	if _, err := exec.LookPath(tool); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s not found: scripts/test.sh must install it (CI=%s)", tool, os.Getenv("CI"))
		}
		t.Skipf("%s not found: run scripts/test.sh (it installs 7zip and libarchive-tools) to run this test", tool)
	}
}

// sevenZipOf has a real archiver write a 7-Zip archive of files (name →
// content; a name ending in / is a directory).
func sevenZipOf(t *testing.T, files map[string]string, tool string, args ...string) []byte {
	t.Helper()
	need7z(t, tool)
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	var names []string
	for name, content := range files {
		p := filepath.Join(src, name)
		if name[len(name)-1] == '/' {
			os.MkdirAll(p, 0o755)
		} else {
			os.MkdirAll(filepath.Dir(p), 0o755)
			if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		names = append(names, name)
	}
	sort.Strings(names)
	out := filepath.Join(dir, "a.7z")
	var cmd *exec.Cmd
	if tool == "bsdtar" {
		cmd = exec.Command("bsdtar", append(append([]string{"--format", "7zip", "-n", "-cf", out}, args...), names...)...)
	} else {
		cmd = exec.Command("7zz", append(append([]string{"a", "-bd", "-y", out}, args...), names...)...)
	}
	cmd.Dir = src
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v: %s", tool, err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sevenZipList(t *testing.T, b []byte) ([]string, error) {
	t.Helper()
	var names []string
	err := sevenZipEntries(b[:min(len(b), sniffLen)], bytes.NewReader(b), func(n string, open opener) error {
		if open != nil {
			t.Errorf("%s can be opened", n)
		}
		names = append(names, n)
		return nil
	})
	return names, err
}

// TestSevenZip: the names in archives 7-Zip and libarchive write, with the
// header packed by LZMA (both tools' default), unpacked (-mhc=off), with many
// files, and with the files encrypted (the names stay readable); an archive
// whose header is encrypted lists nothing. Every cut of an archive lists
// nothing or some of its names, never an error.
func TestSevenZip(t *testing.T) {
	files := map[string]string{"docs/": "", "docs/invoice.js": "WScript.Echo(1)", "readme.txt": "hello\n", "Rechnung_ü.pdf.exe": "MZ", "empty.txt": ""}
	want := []string{"Rechnung_ü.pdf.exe", "docs", "docs/invoice.js", "empty.txt", "readme.txt"}
	many := map[string]string{}
	var manyWant []string
	for i := range 2000 {
		n := fmt.Sprintf("d%02d/file-%04d.txt", i%50, i)
		many[n] = n
		manyWant = append(manyWant, n)
	}
	tests := []struct {
		name  string
		files map[string]string
		tool  string
		args  []string
		want  []string
		plain bool // the header is not packed (kHeader, not kEncodedHeader)
	}{
		{"7-Zip", files, "7zz", nil, want, false},
		{"7-Zip, header not packed", files, "7zz", []string{"-mhc=off"}, want, true},
		{"7-Zip, LZMA", files, "7zz", []string{"-m0=lzma"}, want, false},
		{"7-Zip, stored", files, "7zz", []string{"-mx0"}, want, false}, // (its header packed all the same)
		{"7-Zip, files encrypted", files, "7zz", []string{"-psecret"}, want, false},
		{"7-Zip, header encrypted", files, "7zz", []string{"-psecret", "-mhe=on"}, nil, false},
		{"7-Zip, many files", many, "7zz", nil, manyWant, false},
		{"7-Zip, solid blocks of 100 files", many, "7zz", []string{"-ms=100f"}, manyWant, false},
		{"libarchive", files, "bsdtar", nil, want, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := sevenZipOf(t, tc.files, tc.tool, tc.args...)
			next := 32 + binary.LittleEndian.Uint64(b[12:])
			if kind := b[next]; (kind == k7Header) != tc.plain {
				t.Fatalf("the archive's header starts with %#x: not the case meant", kind)
			}
			got, err := sevenZipList(t, b)
			if err != nil {
				t.Fatal(err)
			}
			sort.Strings(got)
			sort.Strings(tc.want)
			if !slices.Equal(got, tc.want) {
				t.Errorf("%d names, want %d: %s", len(got), len(tc.want), firstDiff(got, tc.want))
			}
			for n := 0; n < len(b); n += max(1, len(b)/97) {
				part, err := sevenZipList(t, b[:n])
				if err != nil || len(part) > len(tc.want) {
					t.Errorf("cut at %d: %d names, %v", n, len(part), err)
				}
			}
		})
	}
}

// TestSevenZipFind: a 7-Zip archive is judged by its names whatever it is
// called, also inside a ZIP archive.
func TestSevenZipFind(t *testing.T) {
	b := sevenZipOf(t, map[string]string{"scan/": "", "scan/invoice.pdf.js": "x", "a.txt": "y"}, "7zz")
	for _, tc := range []struct{ raw, want string }{
		{attached("scan.7z", b), `"scan/invoice.pdf.js": extension .js (in "scan.7z")`},
		{attached("scan.pdf", b), `"scan/invoice.pdf.js": extension .js (in "scan.pdf")`},
		{attached("order.zip", zipOf(t, entry{name: "inner.7z", data: b})), `"scan/invoice.pdf.js": extension .js (in "order.zip/inner.7z")`},
	} {
		f, err := defaults().Find(context.Background(), message(t, tc.raw))
		if err != nil || f == nil || f.String() != tc.want {
			t.Errorf("got %v, %v; want %s", f, err, tc.want)
		}
	}
	// The spool's failure is the check's (scan.ReadFailure), as for the other
	// readers (TestArchiveSpoolFailure); a cut archive is not.
	spoolGone := &scan.ReadError{Err: errors.New("disk gone")}
	none := func(string, opener) error { return nil }
	if err := sevenZipEntries(b[:32], io.MultiReader(bytes.NewReader(b[:40]), failingReader{spoolGone}), none); !errors.Is(err, spoolGone) {
		t.Errorf("the spool failing: %v", err)
	}
}

func firstDiff(got, want []string) string {
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			return fmt.Sprintf("[%d] %q, want %q", i, got[i], want[i])
		}
	}
	return fmt.Sprintf("one list ends first: %q / %q", got[min(len(got), len(want)):], want[min(len(got), len(want)):])
}
