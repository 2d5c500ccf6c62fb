package banned

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"testing"
)

func tarOf(t testing.TB, names ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := tar.NewWriter(&buf)
	for _, n := range names {
		typ, data := byte(tar.TypeReg), []byte("x")
		if n[len(n)-1] == '/' {
			typ, data = tar.TypeDir, nil
		}
		if err := w.WriteHeader(&tar.Header{Name: n, Typeflag: typ, Mode: 0o644, Size: int64(len(data))}); err != nil {
			t.Fatal(err)
		}
		w.Write(data)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gzipped(t testing.TB, name string, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Name = name
	w.Write(data)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestTar(t *testing.T) {
	tests := []struct {
		name, raw, want string
	}{
		{"a program in a tar archive", attached("files.tar", tarOf(t, "docs/", "docs/readme.txt", "docs/run.exe")), `"docs/run.exe": extension .exe (in "files.tar")`},
		{"a tar archive named otherwise", attached("data.bin", tarOf(t, "setup.msi")), `"setup.msi": extension .msi (in "data.bin")`},
		{"a tar of documents", attached("files.tar", tarOf(t, "a.pdf", "b.txt")), ""},
		{"a directory named like a program", attached("files.tar", tarOf(t, "tools.exe/", "tools.exe/readme.txt")), ""},
		{"a program in a .tgz", attached("files.tgz", gzipped(t, "", tarOf(t, "invoice.js"))), `"invoice.js": extension .js (in "files.tgz")`},
		{"a program in a .tar.gz", attached("files.tar.gz", gzipped(t, "", tarOf(t, "a.txt", "invoice.vbs"))), `"invoice.vbs": extension .vbs (in "files.tar.gz")`},
		{"a gzip keeping a .tar name", attached("x.gz", gzipped(t, "backup.tar", tarOf(t, "run.scr"))), `"run.scr": extension .scr (in "x.gz")`},
		{"a gzipped tar of documents", attached("files.tgz", gzipped(t, "", tarOf(t, "a.pdf"))), ""},
		{"a tar cut short", attached("files.tar", tarOf(t, "a.txt", "b.exe")[:600]), ""},
		{"a .tgz that is no gzip stream", attached("files.tgz", []byte("not gzip at all")), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := defaults().Find(context.Background(), message(t, tc.raw))
			got := ""
			if f != nil {
				got = f.String()
			}
			if err != nil || got != tc.want {
				t.Errorf("got %s, %v; want %s", got, err, tc.want)
			}
		})
	}
}

// TestTarInsecurePath: with tarinsecurepath=0, archive/tar gives a name that
// leaves its folder with an error besides; it is judged all the same.
func TestTarInsecurePath(t *testing.T) {
	t.Setenv("GODEBUG", "tarinsecurepath=0")
	f, err := defaults().Find(context.Background(), message(t, attached("x.tar", tarOf(t, "../../run.exe"))))
	if err != nil || f == nil || f.Name != "../../run.exe" {
		t.Errorf("got %v, %v", f, err)
	}
}
