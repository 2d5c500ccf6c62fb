package banned

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"strings"

	"github.com/postern/postern/scan"
)

// A tar archive, like a RAR one, puts each file's header before its data, so
// its names are read in one pass. A gzipped tar (.tgz, .tar.gz) is unpacked as
// it is read, up to maxUnpacked bytes: past that, the names of later files are
// not read (a small attachment can unpack to gigabytes).
const maxUnpacked = 64 << 20

// isTar says whether b starts a POSIX or GNU tar archive: "ustar" in its first
// header's magic field.
func isTar(b []byte) bool { return len(b) >= 262 && bytes.Equal(b[257:262], []byte("ustar")) }

// tarEntries gives entry the regular files of the tar archive r streams, each
// openable while entry runs. What does not read as an archive ends the list;
// only the stream's own failure (the spool's) and entry's errors are returned.
func tarEntries(r io.Reader, entry entryFunc) error {
	tr := tar.NewReader(r)
	open := func() (io.ReadCloser, error) { return io.NopCloser(tr), nil }
	for range maxEntries {
		h, err := tr.Next()
		if err != nil && !(errors.Is(err, tar.ErrInsecurePath) && h != nil) {
			// (With GODEBUG=tarinsecurepath=0, a name that leaves its folder
			// comes with ErrInsecurePath and its header: listed all the same.)
			return scan.ReadFailure(err)
		}
		if h.FileInfo().Mode().IsRegular() {
			if err := entry(h.Name, open); err != nil {
				return err
			}
		}
	}
	return nil
}

// gzippedTar says whether a gzip file holds a tar archive, by the names it
// goes by: its own (.tgz) or its content's (gzipNames: .tar).
func gzippedTar(partName string, names []string) bool {
	if strings.HasSuffix(strings.ToLower(partName), ".tgz") {
		return true
	}
	for _, n := range names {
		if strings.HasSuffix(strings.ToLower(n), ".tar") {
			return true
		}
	}
	return false
}

// gzipTarEntries gives entry the files of the gzipped tar archive r streams,
// unpacking at most *budget bytes.
func gzipTarEntries(r io.Reader, budget *int64, entry entryFunc) error {
	gz, err := gzip.NewReader(r)
	if err != nil {
		return scan.ReadFailure(err)
	}
	return tarEntries(&budgeted{r: gz, left: budget}, entry)
}
