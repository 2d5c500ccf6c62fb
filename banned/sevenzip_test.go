package banned

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/postern/postern/scan"
)

// need7z fails under CI, and skips elsewhere, without the tool that writes the
// archives: 7-Zip's 7zz, or libarchive's bsdtar.
func need7z(t testing.TB, tool string) {
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
func sevenZipOf(t testing.TB, files map[string]string, tool string, args ...string) []byte {
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
	budget := int64(maxUnpacked)
	err := sevenZipEntries(b[:min(len(b), sniffLen)], bytes.NewReader(b), &budget, func(n string, open opener) error {
		names = append(names, n)
		return nil
	})
	return names, err
}

// sevenZipRead opens and reads each file of the archive that opens, in the
// order listed, unless only is given: then only that one. A file that does
// not open is absent; one whose opener fails is "error".
func sevenZipRead(t *testing.T, b []byte, budget int64, only string) map[string]string {
	t.Helper()
	got := map[string]string{}
	err := sevenZipEntries(b[:min(len(b), sniffLen)], bytes.NewReader(b), &budget, func(n string, open opener) error {
		if open == nil || only != "" && n != only {
			return nil
		}
		rc, err := open()
		if err != nil {
			got[n] = "error"
			return nil
		}
		defer rc.Close()
		c, err := io.ReadAll(rc)
		if err != nil {
			got[n] = "error: " + err.Error()
			return nil
		}
		got[n] = string(c)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// TestSevenZipContent: the files of a folder packed by LZMA2 (7-Zip's
// default, one solid folder or one folder a file), LZMA (libarchive's
// default), Deflate, BZip2 or nothing are unpacked to their content, in order, a file deep
// in a solid folder too; other methods, encrypted files, directories and
// empty files open to nothing. Unpacking stops where the budget ends, and
// a folder larger than what is left of it is not started.
func TestSevenZipContent(t *testing.T) {
	files := map[string]string{"docs/": "", "a.txt": strings.Repeat("alpha ", 3000), "docs/b.svg": "<svg><script>1</script></svg>",
		"docs/c.zip": "PK not really", "empty.txt": "", "z.txt": "the last file\n"}
	content := map[string]string{}
	for n, c := range files {
		if c != "" {
			content[n] = c
		}
	}
	tests := []struct {
		name  string
		tool  string
		args  []string
		want  map[string]string
		solid bool // one folder: z.txt is unpacked after a.txt
	}{
		{"7-Zip, solid LZMA2", "7zz", nil, content, true},
		{"7-Zip, a folder a file", "7zz", []string{"-ms=off"}, content, false},
		{"7-Zip, LZMA", "7zz", []string{"-m0=lzma"}, content, true},
		{"7-Zip, stored", "7zz", []string{"-mx0"}, content, false},
		{"7-Zip, LZMA2 with a 1 GB window", "7zz", []string{"-m0=lzma2:d=1g"}, content, true},
		{"libarchive", "bsdtar", nil, content, true},
		{"7-Zip, Deflate", "7zz", []string{"-m0=deflate"}, content, true},
		{"7-Zip, BZip2", "7zz", []string{"-m0=bzip2"}, content, true},
		{"7-Zip, BZip2, a folder a file", "7zz", []string{"-m0=bzip2", "-ms=off"}, content, false},
		{"7-Zip, PPMd", "7zz", []string{"-m0=ppmd"}, map[string]string{}, true},
		{"7-Zip, Deflate64", "7zz", []string{"-m0=deflate64"}, map[string]string{}, true},
		{"7-Zip, files encrypted", "7zz", []string{"-psecret"}, map[string]string{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := sevenZipOf(t, files, tc.tool, tc.args...)
			if got := sevenZipRead(t, b, maxUnpacked, ""); !maps.Equal(got, tc.want) {
				t.Errorf("got %d files, want %d: %s", len(got), len(tc.want), mapDiff(got, tc.want))
			}
			if len(tc.want) == 0 {
				return
			}
			if got := sevenZipRead(t, b, maxUnpacked, "z.txt"); got["z.txt"] != files["z.txt"] {
				t.Errorf("the last file alone: %q", got["z.txt"])
			}
			// Starting a folder takes its size from the budget, as its
			// window can be that large.
			if got := sevenZipRead(t, b, 1000, "a.txt"); !strings.HasPrefix(got["a.txt"], "error") {
				t.Errorf("a.txt, of 18,000 bytes, with a budget of 1000: %.40q", got["a.txt"])
			}
			// With enough budget to start the folder (every file's bytes,
			// in a solid one) and 1000 more, z.txt is out of reach where
			// a.txt comes before it in its folder: what is unpacked on the
			// way is taken from the budget too.
			total := 0
			for _, c := range files {
				total += len(c)
			}
			if got := sevenZipRead(t, b, int64(total+1000), "z.txt"); tc.solid != strings.HasPrefix(got["z.txt"], "error") {
				t.Errorf("the last file with a budget of %d bytes: %q", total+1000, got["z.txt"])
			}
		})
	}
}

func mapDiff(got, want map[string]string) string {
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			return fmt.Sprintf("%q: got %.40q (%v), want %.40q", k, g, ok, v)
		}
	}
	for k, v := range got {
		if _, ok := want[k]; !ok {
			return fmt.Sprintf("%q: got %.40q, want none", k, v)
		}
	}
	return ""
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
// called, also inside a ZIP archive; an SVG image in it by its script, and an
// archive in it by its names, from a folder packed by LZMA2 or BZip2. A drawing in it is no finding.
func TestSevenZipFind(t *testing.T) {
	b := sevenZipOf(t, map[string]string{"scan/": "", "scan/invoice.pdf.js": "x", "a.txt": "y"}, "7zz")
	svg := sevenZipOf(t, map[string]string{"a.txt": "y", "Remittance.svg": `<svg xmlns="http://www.w3.org/2000/svg"><script>location="https://x.example/"</script></svg>`}, "7zz")
	nested := sevenZipOf(t, map[string]string{"readme.txt": "y", "files/inner.zip": string(zipOf(t, entry{name: "run.exe", data: []byte("MZ")}))}, "7zz")
	// Packed by a method 7-Zip writes when told to, as archivers that
	// make zip files choose it.
	nestedBzip2 := sevenZipOf(t, map[string]string{"readme.txt": "y", "files/inner.zip": string(zipOf(t, entry{name: "run.exe", data: []byte("MZ")}))}, "7zz", "-m0=bzip2")
	drawing := sevenZipOf(t, map[string]string{"chart.svg": `<svg xmlns="http://www.w3.org/2000/svg"><rect width="10" height="10"/></svg>`}, "7zz")
	for _, tc := range []struct{ raw, want string }{
		{attached("scan.7z", b), `"scan/invoice.pdf.js": extension .js (in "scan.7z")`},
		{attached("scan.pdf", b), `"scan/invoice.pdf.js": extension .js (in "scan.pdf")`},
		{attached("order.zip", zipOf(t, entry{name: "inner.7z", data: b})), `"scan/invoice.pdf.js": extension .js (in "order.zip/inner.7z")`},
		{attached("payment.7z", svg), `"Remittance.svg": an SVG image with <script> (in "payment.7z")`},
		{attached("order.7z", nested), `"run.exe": extension .exe (in "order.7z/files/inner.zip")`},
		{attached("order.7z", nestedBzip2), `"run.exe": extension .exe (in "order.7z/files/inner.zip")`},
		{attached("report.7z", drawing), `<nil>`},
	} {
		f, err := defaults().Find(context.Background(), message(t, tc.raw))
		if err != nil || fmt.Sprint(f) != tc.want {
			t.Errorf("got %v, %v; want %s", f, err, tc.want)
		}
	}
	// The spool's failure is the check's (scan.ReadFailure), as for the other
	// readers (TestArchiveSpoolFailure); a cut archive is not.
	spoolGone := &scan.ReadError{Err: errors.New("disk gone")}
	none := func(string, opener) error { return nil }
	budget := int64(maxUnpacked)
	if err := sevenZipEntries(b[:32], io.MultiReader(bytes.NewReader(b[:40]), failingReader{spoolGone}), &budget, none); !errors.Is(err, spoolGone) {
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
