package banned

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/postern/postern/scan"
)

// The archives here are written by the test, after RARLAB's technical notes,
// with their checksums, and TestRarAsBsdtar has libarchive's reader list them
// too: they are archives another reader opens, not only what rar.go expects.

type rarEntry struct {
	name string
	dir  bool
	data []byte
	// compression is RAR 5's compression information (0: stored); the data
	// is then written as it is, for the fuzzer's seeds.
	compression uint64
}

func uvarint(x uint64) []byte { return binary.AppendUvarint(nil, x) }

// rar5Block is a RAR 5 header block: CRC32, size, then h, then data.
func rar5Block(h, data []byte) []byte {
	size := uvarint(uint64(len(h)))
	var b []byte
	b = binary.LittleEndian.AppendUint32(b, crc32.ChecksumIEEE(append(append([]byte{}, size...), h...)))
	b = append(append(append(b, size...), h...), data...)
	return b
}

// rar5 writes a RAR 5 archive of stored files; encrypted adds an archive
// encryption header after the main one, as rar -hp does (what follows it is
// then unreadable; here, nothing).
func rar5(encrypted bool, entries ...rarEntry) []byte {
	out := append([]byte{}, rar5Sig...)
	out = append(out, rar5Block([]byte{1, 0, 0}, nil)...) // main: type 1, flags 0, archive flags 0
	if encrypted {
		h := []byte{4, 0, 0, 0, 15} // type 4, flags 0, version 0, flags 0, KDF count
		h = append(h, make([]byte, 16)...)
		return append(out, rar5Block(h, nil)...)
	}
	for _, e := range entries {
		var h []byte
		fileFlags, attrs := uint64(0x04), uint64(0x20)
		if e.dir {
			fileFlags, attrs = 0x01, 0x10
		}
		h = append(h, uvarint(2)...)    // a file
		h = append(h, uvarint(0x02)...) // data follows
		h = append(h, uvarint(uint64(len(e.data)))...)
		h = append(h, uvarint(fileFlags)...)
		h = append(h, uvarint(uint64(len(e.data)))...) // unpacked size
		h = append(h, uvarint(attrs)...)
		if fileFlags&0x04 != 0 {
			h = binary.LittleEndian.AppendUint32(h, crc32.ChecksumIEEE(e.data))
		}
		h = append(h, uvarint(e.compression)...)
		h = append(h, uvarint(0)...) // Windows
		h = append(h, uvarint(uint64(len(e.name)))...)
		h = append(h, e.name...)
		out = append(out, rar5Block(h, e.data)...)
	}
	return append(out, rar5Block([]byte{5, 0, 0}, nil)...) // end of archive
}

// rar4Block is a RAR 1.5-4 block: its CRC's low 16 bits over the header from
// its type on.
func rar4Block(typ byte, flags uint16, rest, data []byte) []byte {
	h := []byte{typ}
	h = binary.LittleEndian.AppendUint16(h, flags)
	h = binary.LittleEndian.AppendUint16(h, uint16(7+len(rest)))
	h = append(h, rest...)
	b := binary.LittleEndian.AppendUint16(nil, uint16(crc32.ChecksumIEEE(h)))
	return append(append(b, h...), data...)
}

// rar3Name is a file name as RAR 3 writes one that is not plain ASCII: its
// OEM form, a zero, then its Unicode form, written against the OEM form
// (rar3Unicode's codes 0 and 2 only, and no shared high byte).
func rar3Name(oem, name string) []byte {
	b := append([]byte(oem), 0, 0) // the zero, the high byte
	u := utf16.Encode([]rune(name))
	for i := 0; i < len(u); i += 4 {
		at := len(b)
		b = append(b, 0)
		for j := i; j < min(i+4, len(u)); j++ {
			if u[j] < 0x100 {
				b = append(b, byte(u[j]))
			} else {
				b[at] |= 2 << (6 - 2*(j-i))
				b = append(b, byte(u[j]), byte(u[j]>>8))
			}
		}
	}
	return b
}

// rar4 writes a RAR 4 archive of stored files; an entry's name "OEM|Unicode"
// is written in both forms (rar3Name).
func rar4(entries ...rarEntry) []byte {
	out := append([]byte{}, rar4Sig...)
	out = append(out, rar4Block(0x73, 0, make([]byte, 6), nil)...)
	for _, e := range entries {
		flags := uint16(0x8000)
		attr := uint32(0x20)
		if e.dir {
			flags |= 0x00e0
			attr = 0x10
		}
		name := []byte(e.name)
		if oem, u, ok := strings.Cut(e.name, "|"); ok {
			flags |= 0x0200
			name = rar3Name(oem, u)
		}
		var r []byte
		r = binary.LittleEndian.AppendUint32(r, uint32(len(e.data))) // packed
		r = binary.LittleEndian.AppendUint32(r, uint32(len(e.data))) // unpacked
		r = append(r, 2)                                             // Windows
		r = binary.LittleEndian.AppendUint32(r, crc32.ChecksumIEEE(e.data))
		r = binary.LittleEndian.AppendUint32(r, 0x5a210000) // a DOS time
		r = append(r, 29, 0x30)                             // version 2.9, stored
		r = binary.LittleEndian.AppendUint16(r, uint16(len(name)))
		r = binary.LittleEndian.AppendUint32(r, attr)
		r = append(r, name...)
		out = append(out, rar4Block(0x74, flags, r, e.data)...)
	}
	return append(out, rar4Block(0x7b, 0x4000, nil, nil)...)
}

func rarCases() map[string]struct {
	archive []byte
	names   []string
} {
	big := bytes.Repeat([]byte("0123456789abcdef"), 3<<16) // 3 MB before the next header
	return map[string]struct {
		archive []byte
		names   []string
	}{
		"rar5":                {rar5(false, rarEntry{name: "docs", dir: true}, rarEntry{name: "docs/readme.txt", data: []byte("hi")}, rarEntry{name: "docs/invoice.js", data: []byte("x")}), []string{"docs/readme.txt", "docs/invoice.js"}},
		"rar5 documents":      {rar5(false, rarEntry{name: "report.pdf", data: []byte("%PDF")}), []string{"report.pdf"}},
		"rar5 large":          {rar5(false, rarEntry{name: "a.bin", data: big}, rarEntry{name: "b.lnk", data: []byte("x")}), []string{"a.bin", "b.lnk"}},
		"rar5 encrypted":      {rar5(true, rarEntry{name: "payload.exe"}), nil},
		"rar4":                {rar4(rarEntry{name: "dir", dir: true}, rarEntry{name: "dir\\setup.exe", data: []byte("MZ")}), []string{"dir\\setup.exe"}},
		"rar4 unicode":        {rar4(rarEntry{name: "r?sum?.js|résumé.js", data: []byte("x")}, rarEntry{name: "Счет.pdf|Счет.pdf.scr", data: []byte("x")}), []string{"r?sum?.js", "résumé.js", "Счет.pdf", "Счет.pdf.scr"}},
		"rar4 unicode longer": {rar4(rarEntry{name: "scan.pdf|scan.pdf.exe", data: []byte("x")}), []string{"scan.pdf", "scan.pdf.exe"}},
		"rar4 large":          {rar4(rarEntry{name: "a.bin", data: big}, rarEntry{name: "b.scr", data: []byte("x")}), []string{"a.bin", "b.scr"}},
	}
}

func TestRarNames(t *testing.T) {
	for name, tc := range rarCases() {
		t.Run(name, func(t *testing.T) {
			got, err := rarNames(bytes.NewReader(tc.archive))
			if err != nil || !slices.Equal(got, tc.names) {
				t.Errorf("got %q, %v; want %q", got, err, tc.names)
			}
			// Cut anywhere, an archive lists what came before the cut, and no error.
			for _, n := range []int{3, 8, 20, len(tc.archive) / 2, len(tc.archive) - 1} {
				part, err := rarNames(bytes.NewReader(tc.archive[:min(n, len(tc.archive))]))
				if err != nil || len(part) > len(tc.names) || !slices.Equal(part, tc.names[:len(part)]) {
					t.Errorf("cut at %d: %q, %v", n, part, err)
				}
			}
		})
	}
}

// TestRarAsBsdtar has libarchive list the test's archives, so that rar.go is
// held to a reader it was not written from: every file name libarchive gives
// (its directories aside) must be one rarNames lists. An encrypted archive's
// names it cannot read either.
func TestRarAsBsdtar(t *testing.T) {
	if _, err := exec.LookPath("bsdtar"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("bsdtar not found: scripts/test.sh must install libarchive-tools (CI=%s)", os.Getenv("CI"))
		}
		t.Skip("bsdtar not found: run scripts/test.sh (it installs libarchive-tools) to run this test")
	}
	dir := t.TempDir()
	for name, tc := range rarCases() {
		if tc.names == nil {
			continue
		}
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".rar")
			if err := os.WriteFile(path, tc.archive, 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command("bsdtar", "-tf", path).CombinedOutput()
			if err != nil {
				t.Fatalf("bsdtar: %v: %s", err, out)
			}
			var listed []string
			for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
				if !strings.HasSuffix(l, "/") && l != "dir" && l != "docs" {
					listed = append(listed, l)
				}
			}
			ours := slices.Clone(tc.names)
			for i := range ours {
				ours[i] = strings.ReplaceAll(ours[i], "\\", "/") // libarchive shows RAR 4's separators as /
			}
			// Every name an unpacker gives a file is one the check judged (it
			// also judges a RAR 3 name's OEM form, which libarchive does not show).
			for _, l := range listed {
				if !slices.Contains(ours, l) {
					t.Errorf("bsdtar lists %q, which rarNames does not (%q)", l, ours)
				}
			}
			if len(listed) == 0 {
				t.Errorf("bsdtar lists nothing: %s", out)
			}
		})
	}
}

// solid marks a test's RAR 5 archive solid in its main header, as rar -s does.
func solid(archive []byte) []byte {
	return bytes.Replace(archive, rar5Block([]byte{1, 0, 0}, nil), rar5Block([]byte{1, 0, 4}, nil), 1)
}

// TestRarContent: a RAR 5 archive's files that inArchive opens (an archive, an
// SVG image) are unpacked and judged as a ZIP's are, up to zipWhole bytes into
// the archive; a RAR 4 archive's give their names only. A solid archive is read
// through within the budget, so an inner archive past it is not reached; one
// that is not solid skips what it does not open.
func TestRarContent(t *testing.T) {
	inner := zipOf(t, entry{name: "run.exe", data: []byte("MZ")})
	script := []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>location="https://x.example/"</script></svg>`)
	drawing := []byte(`<svg xmlns="http://www.w3.org/2000/svg"><rect width="10" height="10"/></svg>`)
	pad := bytes.Repeat([]byte("0123456789abcdef"), 1<<12) // 64 KB
	big := bytes.Repeat([]byte("0123456789abcdef"), 5<<16) // 5 MB: more than zipWhole
	nested := rar5(false, rarEntry{name: "readme.txt", data: []byte("y")}, rarEntry{name: "files", dir: true}, rarEntry{name: "files/inner.zip", data: inner})
	padded := rar5(false, rarEntry{name: "pad.bin", data: pad}, rarEntry{name: "inner.zip", data: inner})
	unended := padded[:len(padded)-len(rar5Block([]byte{5, 0, 0}, nil))]
	const found = `"run.exe": extension .exe (in "order.rar/files/inner.zip")`
	const foundPadded = `"run.exe": extension .exe (in "order.rar/inner.zip")`
	for _, tc := range []struct {
		name    string
		archive []byte
		budget  int64
		want    string
	}{
		{"an archive in it", nested, maxUnpacked, found},
		{"a scripted SVG image", rar5(false, rarEntry{name: "Remittance.svg", data: script}), maxUnpacked, `"Remittance.svg": an SVG image with <script> (in "order.rar")`},
		{"a drawing", rar5(false, rarEntry{name: "chart.svg", data: drawing}), maxUnpacked, ""},
		{"no file it opens", rar5(false, rarEntry{name: "inner.zip.txt", data: inner}), maxUnpacked, ""},
		{"RAR 4: names only", rar4(rarEntry{name: "inner.zip", data: inner}), maxUnpacked, ""},
		{"past what is kept", rar5(false, rarEntry{name: "a.bin", data: big}, rarEntry{name: "inner.zip", data: inner}), maxUnpacked, ""},
		{"before a large file", rar5(false, rarEntry{name: "inner.zip", data: inner}, rarEntry{name: "a.bin", data: big}), maxUnpacked, foundPadded},
		{"not solid: skipped past the budget", padded, 1000, foundPadded},
		{"solid: read through within it", solid(padded), 1 << 20, foundPadded},
		{"solid: not past it", solid(padded), 60000, ""},
		{"no end: read as solid", unended, 60000, ""},
		{"no end, within the budget", unended, 1 << 20, foundPadded},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := defaults()
			c.once.Do(func() {})
			c.ext = map[string]bool{"exe": true}
			budget := tc.budget
			f, err := c.inArchive(tc.archive, bytes.NewReader(tc.archive), "order.rar", 1, &budget)
			got := ""
			if f != nil {
				got = f.String()
			}
			if err != nil || got != tc.want {
				t.Errorf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
	// Through the whole check, as an attachment.
	f, err := defaults().Find(context.Background(), message(t, attached("order.rar", nested)))
	if err != nil || fmt.Sprint(f) != found {
		t.Errorf("attached: %v, %v; want %s", f, err, found)
	}
}

// TestRarPartBroken: a part whose decoding breaks partway through a RAR
// archive (the sender's broken part) still has the names before the break
// judged, and no error; the spool's failure there is the check's error.
func TestRarPartBroken(t *testing.T) {
	pad := bytes.Repeat([]byte("x"), 1000)
	spoolGone := &scan.ReadError{Err: errors.New("disk gone")}
	for name, archive := range map[string][]byte{
		"rar5": rar5(false, rarEntry{name: "a.exe", data: []byte("x")}, rarEntry{name: "pad.bin", data: pad}, rarEntry{name: "b.zip"}),
		"rar4": rar4(rarEntry{name: "a.exe", data: []byte("x")}, rarEntry{name: "pad.bin", data: pad}, rarEntry{name: "b.zip"}),
	} {
		cut := archive[:bytes.Index(archive, []byte("pad.bin"))+100]
		for _, tc := range []struct {
			why  error
			want error
		}{{errors.New("broken base64"), nil}, {spoolGone, spoolGone}} {
			var names []string
			budget := int64(maxUnpacked)
			err := rarEntries(cut, io.MultiReader(bytes.NewReader(cut), failingReader{tc.why}), &budget, func(n string, _ opener) error {
				names = append(names, n)
				return nil
			})
			if !errors.Is(err, tc.want) || tc.want == nil && err != nil {
				t.Errorf("%s, %v: error %v, want %v", name, tc.why, err, tc.want)
			}
			if tc.want == nil && !slices.Contains(names, "a.exe") {
				t.Errorf("%s, %v: listed %q, want a.exe among them", name, tc.why, names)
			}
		}
	}
}
