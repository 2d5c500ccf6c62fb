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

// tarNames lists the regular files of the tar archive r streams. What does not
// read as an archive ends the list; only the stream's own failure (the spool's)
// is an error.
func tarNames(r io.Reader) ([]string, error) {
	tr := tar.NewReader(r)
	var names []string
	for range maxEntries {
		h, err := tr.Next()
		if err != nil && !(errors.Is(err, tar.ErrInsecurePath) && h != nil) {
			// (With GODEBUG=tarinsecurepath=0, a name that leaves its folder
			// comes with ErrInsecurePath and its header: listed all the same.)
			return names, scan.ReadFailure(err)
		}
		if h.FileInfo().Mode().IsRegular() {
			names = append(names, h.Name)
		}
	}
	return names, nil
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

// gzipTarNames lists the files of the gzipped tar archive r streams.
func gzipTarNames(r io.Reader) ([]string, error) {
	gz, err := gzip.NewReader(r)
	if err != nil {
		return nil, scan.ReadFailure(err)
	}
	return tarNames(io.LimitReader(gz, maxUnpacked))
}
