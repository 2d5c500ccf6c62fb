package banned

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"io"
	"slices"
	"unicode/utf16"

	"github.com/nwaples/rardecode/v2"

	"github.com/postern/postern/scan"
)

// RAR archives keep each file's header, its name in it, in front of the file's
// data, so the names are read in one pass, the data skipped. Both formats are
// read: RAR 5 and the RAR 1.5–4 that WinRAR still writes on request (RARLAB's
// technical notes). Header checksums are not verified: a reader that opens a
// damaged archive anyway (7-Zip does) must not find a name this list missed.

var (
	rar5Sig = []byte("Rar!\x1a\x07\x01\x00")
	rar4Sig = []byte("Rar!\x1a\x07\x00")
)

func isRar(b []byte) bool { return bytes.HasPrefix(b, rar5Sig) || bytes.HasPrefix(b, rar4Sig) }

const (
	maxEntries   = 100000  // names read from one RAR or tar archive, at most
	maxRarHeader = 2 << 20 // a header larger than this is not one
)

// rarEntries gives entry the names rarNames lists of the RAR archive r
// streams, head its first bytes. A RAR 5 archive that lists a file inArchive
// opens (opensInside) is then read again by rardecode, which unpacks RAR's
// compression, from its first zipWhole bytes, which are kept (an archive's
// files up to there), and entry is given those files with what opens them
// (rar5Open): malware nests an archive, or a scripted SVG image, in a RAR for
// checks that read the RAR's names alone.
// Only RAR 5 is unpacked, what WinRAR has written by default since 2013: RAR 3's
// PPMd model takes up to 256 MB that the archive asks for, and its virtual
// machine runs the archive's own code. RAR 1.5–4 archives give their names
// only, as before, read as they stream, with nothing kept.
func rarEntries(head []byte, r io.Reader, budget *int64, entry entryFunc) error {
	if !bytes.HasPrefix(head, rar5Sig) {
		l, err := rarList(r)
		return listed(l.names, err, entry)
	}
	kept := &pieces{}
	defer kept.release()
	whole, err := kept.fill(r, zipWhole)
	if err != nil {
		if err = scan.ReadFailure(err); err != nil {
			return err
		}
		whole = true // the part broke there: what came before is the archive
	}
	src := io.Reader(io.NewSectionReader(kept, 0, kept.size))
	if !whole {
		src = io.MultiReader(src, r)
	}
	l, err := rarList(src)
	if err := listed(l.names, err, entry); err != nil || !l.v5 || !slices.ContainsFunc(l.names, opensInside) {
		return err
	}
	return rar5Open(io.NewSectionReader(kept, 0, kept.size), !l.plain, budget, entry)
}

// listed gives entry the names, none of which can be opened, and then err,
// the listing's own, unless entry stopped it first.
func listed(names []string, err error, entry entryFunc) error {
	for _, n := range names {
		if err := entry(n, nil); err != nil {
			return err
		}
	}
	return err
}

// rarWindow is the largest dictionary rar5Open unpacks with: WinRAR's default,
// 32 MB. A file in an archive that is not solid needs no more than its own
// size of it, so only a solid archive packed with a larger one is left closed.
const rarWindow = 32 << 20

// rar5Open gives entry the files of the RAR 5 archive r whose names
// opensInside, each with what opens its content (rardecode). In a solid
// archive (or one rarList could not show is not) each file is unpacked to its
// end before the next, within *budget: rardecode would otherwise unpack what
// it skips with no bound, and a small archive can unpack to gigabytes. It
// does so only in an archive its first header, the main one, calls solid
// (archive50.go, v2.4.6: it opens no archive whose first header is another),
// and rarList reads that same field of that same header. What
// rardecode cannot read, a panic included, ends the files: their names were
// judged already (rarEntries), and the archive is the sender's.
func rar5Open(r io.Reader, solid bool, budget *int64, entry entryFunc) (err error) {
	if rarRecover {
		defer func() {
			if recover() != nil {
				err = nil
			}
		}()
	}
	rr, err := rardecode.NewReader(r, rardecode.MaxDictionarySize(rarWindow), rardecode.SkipCheck)
	if err != nil {
		return nil
	}
	for *budget > 0 {
		h, err := rr.Next()
		if err != nil {
			return nil // the end, or what it cannot read
		}
		if !h.IsDir && !h.Encrypted && opensInside(h.Name) {
			if err := entry(h.Name, func() (io.ReadCloser, error) { return io.NopCloser(rr), nil }); err != nil {
				return err
			}
		}
		if solid {
			if _, err := io.Copy(io.Discard, &budgeted{r: rr, left: budget}); err != nil {
				return nil
			}
		}
	}
	return nil
}

// rarRecover is turned off by FuzzArchives, so that it sees rardecode's panics.
var rarRecover = true

// rarNames lists the names of the files in the RAR archive r streams
// (rarList).
func rarNames(r io.Reader) ([]string, error) {
	l, err := rarList(r)
	return l.names, err
}

// rarListing is what rarList reads of an archive's headers.
type rarListing struct {
	names []string
	v5    bool // a RAR 5 archive (rar5Open)
	// plain is a RAR 5 archive read to its end whose main header does not
	// say it is solid.
	plain bool
}

// rarList lists the names of the files in the RAR archive r streams. What does
// not read as an archive ends the list: that is the sender's broken file, not a
// failure of the check. Only the spool's failure is returned (scan.ReadFailure). An archive whose headers
// are encrypted (rar -hp) lists nothing: its names cannot be read without the
// password.
func rarList(r io.Reader) (rarListing, error) {
	br := bufio.NewReaderSize(r, 32<<10)
	sig, err := br.Peek(len(rar5Sig))
	if err != nil && !bytes.HasPrefix(sig, rar4Sig) {
		return rarListing{}, scan.ReadFailure(err)
	}
	if bytes.HasPrefix(sig, rar5Sig) {
		br.Discard(len(rar5Sig))
		return rar5Names(br)
	}
	br.Discard(len(rar4Sig))
	names, err := rar4Names(br)
	return rarListing{names: names}, err
}

func rar5Names(br *bufio.Reader) (rarListing, error) {
	l := rarListing{v5: true}
	var hdr []byte
	solid := false
	for range maxEntries {
		if _, err := br.Discard(4); err != nil { // the header's CRC32
			return l, scan.ReadFailure(err)
		}
		size, err := binary.ReadUvarint(br) // RAR 5's vint is a uvarint
		if err != nil {
			return l, scan.ReadFailure(err)
		}
		if size == 0 || size > maxRarHeader {
			return l, nil
		}
		hdr = grow(hdr, int(size))
		if _, err := io.ReadFull(br, hdr); err != nil {
			return l, scan.ReadFailure(err)
		}
		h := vints{b: hdr}
		typ, flags := h.next(), h.next()
		if flags&0x01 != 0 {
			h.next() // the extra area's size
		}
		var data uint64
		if flags&0x02 != 0 {
			data = h.next()
		}
		switch typ {
		case 1: // the archive's main header
			solid = solid || h.next()&0x04 != 0
		case 2: // a file
			fileFlags := h.next()
			h.next() // unpacked size
			h.next() // attributes
			if fileFlags&0x02 != 0 {
				h.skip(4) // modification time
			}
			if fileFlags&0x04 != 0 {
				h.skip(4) // CRC32
			}
			h.next() // compression
			h.next() // host OS
			name := h.bytes(h.next())
			if h.bad {
				return l, nil
			}
			if fileFlags&0x01 == 0 { // not a directory
				l.names = append(l.names, string(name))
			}
		case 4: // headers encrypted from here on
			return l, nil
		case 5: // the archive's end
			l.plain = !solid
			return l, nil
		}
		if h.bad {
			return l, nil
		}
		if _, err := skipN(br, data); err != nil {
			return l, scan.ReadFailure(err)
		}
	}
	return l, nil
}

// vints reads RAR 5's variable-length integers from a header; bad is set when
// the header ends before they do.
type vints struct {
	b   []byte
	bad bool
}

func (v *vints) next() uint64 {
	x, n := binary.Uvarint(v.b)
	if n <= 0 {
		v.bad, v.b = true, nil
		return 0
	}
	v.b = v.b[n:]
	return x
}

func (v *vints) skip(n int) {
	if len(v.b) < n {
		v.bad, v.b = true, nil
		return
	}
	v.b = v.b[n:]
}

func (v *vints) bytes(n uint64) []byte {
	if uint64(len(v.b)) < n {
		v.bad, v.b = true, nil
		return nil
	}
	b := v.b[:n]
	v.b = v.b[n:]
	return b
}

func rar4Names(br *bufio.Reader) ([]string, error) {
	var names []string
	var hdr []byte
	head := make([]byte, 7)
	for range maxEntries {
		if _, err := io.ReadFull(br, head); err != nil {
			return names, scan.ReadFailure(err)
		}
		typ, flags, size := head[2], binary.LittleEndian.Uint16(head[3:]), int(binary.LittleEndian.Uint16(head[5:]))
		if size < 7 {
			return names, nil
		}
		hdr = grow(hdr, size-7)
		if _, err := io.ReadFull(br, hdr); err != nil {
			return names, scan.ReadFailure(err)
		}
		var data uint64
		if flags&0x8000 != 0 && len(hdr) >= 4 {
			data = uint64(binary.LittleEndian.Uint32(hdr))
		}
		switch typ {
		case 0x73: // the archive's header
			if flags&0x0080 != 0 { // the block headers are encrypted
				return names, nil
			}
		case 0x74: // a file
			nameAt := 25
			if flags&0x0100 != 0 { // 64-bit sizes
				nameAt = 33
			}
			if len(hdr) < nameAt {
				return names, nil
			}
			if flags&0x0100 != 0 {
				data |= uint64(binary.LittleEndian.Uint32(hdr[25:])) << 32
			}
			n := int(binary.LittleEndian.Uint16(hdr[19:]))
			if len(hdr) < nameAt+n {
				return names, nil
			}
			name := hdr[nameAt : nameAt+n]
			if flags&0x00e0 == 0x00e0 { // a directory
				break
			}
			if i := bytes.IndexByte(name, 0); flags&0x0200 != 0 && i >= 0 {
				// The name in the OEM code page, a zero, then its Unicode
				// form, which is the one WinRAR and libarchive unpack to:
				// both are judged, for they can differ.
				names = append(names, string(name[:i]))
				if u := rar3Unicode(name[:i], name[i+1:]); u != "" && u != string(name[:i]) {
					names = append(names, u)
				}
				break
			}
			names = append(names, string(name))
		case 0x7b: // the archive's end
			return names, nil
		}
		if _, err := skipN(br, data); err != nil {
			return names, scan.ReadFailure(err)
		}
	}
	return names, nil
}

// rar3Unicode decodes the Unicode form of a RAR 3 file name, which is written
// against its OEM form: a high byte shared by the characters that use it, then
// for every four characters a byte of four 2-bit codes (from the top): 0 a
// character below U+0100 in one byte, 1 one in one byte with the shared high
// byte, 2 one in two bytes (little-endian), 3 a run of the OEM form's
// characters, in one byte (its length less 2, and with its top bit a second
// byte added to each character, and the high byte). It may run past the OEM
// form's length: unrar decodes to the codes' end (libarchive stops at that
// length), so the longer name is the one judged. What does not decode ends it.
func rar3Unicode(oem, enc []byte) string {
	const max = 1024
	if len(enc) == 0 {
		return ""
	}
	high := uint16(enc[0]) << 8
	enc = enc[1:]
	var out []uint16
	var codes byte
	bits := 0
	for len(out) < max && len(enc) > 0 {
		if bits == 0 {
			codes, enc, bits = enc[0], enc[1:], 8
			if len(enc) == 0 {
				break
			}
		}
		bits -= 2
		switch codes >> bits & 3 {
		case 0:
			out, enc = append(out, uint16(enc[0])), enc[1:]
		case 1:
			out, enc = append(out, high|uint16(enc[0])), enc[1:]
		case 2:
			if len(enc) < 2 {
				return string(utf16.Decode(out))
			}
			out, enc = append(out, uint16(enc[0])|uint16(enc[1])<<8), enc[2:]
		case 3:
			n, add, hi := int(enc[0]&0x7f)+2, byte(0), uint16(0)
			if enc[0]&0x80 != 0 {
				if len(enc) < 2 {
					return string(utf16.Decode(out))
				}
				add, hi = enc[1], high
				enc = enc[1:]
			}
			enc = enc[1:]
			for ; n > 0 && len(out) < max; n-- {
				c := byte(0) // past the OEM form, as unrar's zeroed buffer reads
				if len(out) < len(oem) {
					c = oem[len(out)]
				}
				out = append(out, hi|uint16(c+add))
			}
		}
	}
	return string(utf16.Decode(out))
}

// grow is b resized to n, reusing its array when it can.
func grow(b []byte, n int) []byte {
	if cap(b) < n {
		return make([]byte, n)
	}
	return b[:n]
}

// skipN reads past n bytes of br.
func skipN(br *bufio.Reader, n uint64) (int64, error) {
	return io.CopyN(io.Discard, br, int64(min(n, 1<<62)))
}
