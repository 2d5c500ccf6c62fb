package banned

import (
	"bytes"
	"compress/bzip2"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"unicode/utf16"

	"github.com/ulikunitz/xz/lzma"
)

// A 7-Zip archive keeps its directory (the "header") at its end, and 7-Zip
// compresses it with LZMA unless told not to: the names of its files are read
// by unpacking that header alone. What the format means is 7-Zip's
// DOC/7zFormat.txt. An archive whose header is encrypted (7z -mhe) lists
// nothing, as for every reader without the password.
//
// A file's content is unpacked only where the check reads content (an SVG
// image, an archive inside this one): from an archive kept whole, when its
// folder (7-Zip's solid block) is packed by LZMA2, 7-Zip's default, LZMA,
// Deflate, BZip2 or not at all, and unpacks to sevenZipOpenMax or less. A
// program's folder is filtered before it is packed (BCJ), but its name is
// what is judged.
var sevenZipSig = []byte{'7', 'z', 0xbc, 0xaf, 0x27, 0x1c}

func isSevenZip(b []byte) bool { return len(b) >= 32 && bytes.HasPrefix(b, sevenZipSig) }

// maxHeader bounds a header's size, packed and unpacked: 7-Zip's own for a
// hundred thousand files is a few megabytes.
const maxHeader = 8 << 20

// Property ids of 7zFormat.txt.
const (
	k7End = iota
	k7Header
	k7ArchiveProperties
	k7AdditionalStreamsInfo
	k7MainStreamsInfo
	k7FilesInfo
	k7PackInfo
	k7UnpackInfo
	k7SubStreamsInfo
	k7Size
	k7CRC
	k7Folder
	k7CodersUnpackSize
	k7NumUnpackStream
	k7EmptyStream   = 0x0e
	k7Name          = 0x11
	k7EncodedHeader = 0x17
)

// sevenZipOpenMax bounds a folder whose files are unpacked: LZMA's window is
// as large as the folder, at most, and the files this check reads in an
// archive (an SVG image, a malware archive) are small.
const sevenZipOpenMax = 8 << 20

var errSevenZip = errors.New("banned: not a 7-Zip header this reader knows")

// sevenZipEntries gives entry the names in the 7-Zip archive r streams (head:
// its first bytes, which r still yields), with what opens each file's content
// where it can be unpacked (see above), unpacking at most *budget bytes. A
// broken or encrypted archive gives nothing; only the spool's failure and
// entry's errors are returned.
func sevenZipEntries(head []byte, r io.Reader, budget *int64, entry entryFunc) error {
	if !isSevenZip(head) {
		return nil
	}
	next := binary.LittleEndian.Uint64(head[12:])
	size := binary.LittleEndian.Uint64(head[20:])
	ra, n, whole, release, err := keep(r)
	defer release()
	if err != nil {
		return err
	}
	if size == 0 || size > maxHeader || next > uint64(n) || 32+next+size > uint64(n) {
		return nil
	}
	h := make([]byte, size)
	if _, err := ra.ReadAt(h, int64(32+next)); err != nil {
		return nil // outside what was kept of a large archive
	}
	for range 4 { // an encoded header unpacks to a header, which could be encoded again
		if len(h) == 0 || h[0] != k7EncodedHeader {
			break
		}
		if h, err = unpackHeader(h[1:], ra, n); err != nil {
			return nil
		}
	}
	files, si, err := sevenZipFiles(h)
	if err != nil {
		return nil
	}
	var u *sevenZipUnpacker
	var streams []sevenZipStream
	if whole && si != nil {
		u = &sevenZipUnpacker{ra: ra, n: n, si: si, budget: budget, cur: -1}
		streams = si.streams()
	}
	k := 0 // the next file's stream
	for _, f := range files {
		var open opener
		if f.content {
			if u != nil && k < len(streams) && u.opens(streams[k].folder) {
				s := streams[k]
				open = func() (io.ReadCloser, error) { return u.open(s) }
			}
			k++
		}
		if err := entry(f.name, open); err != nil {
			return err
		}
	}
	return nil
}

// unpackHeader unpacks the header an encoded header's streams info describes:
// one pack stream, one folder of one coder, LZMA.
func unpackHeader(b []byte, ra io.ReaderAt, n int64) ([]byte, error) {
	c := &cursor{b: b}
	si, err := c.streamsInfo()
	if err != nil {
		return nil, err
	}
	if len(si.packSizes) != 1 || len(si.folders) != 1 || len(si.folders[0].coders) != 1 {
		return nil, errSevenZip
	}
	f := si.folders[0]
	packed, unpacked := si.packSizes[0], f.unpackSize
	if packed > maxHeader || unpacked > maxHeader || 32+si.packPos+packed > uint64(n) {
		return nil, errSevenZip
	}
	p := make([]byte, packed)
	if _, err := ra.ReadAt(p, int64(32+si.packPos)); err != nil {
		return nil, err
	}
	// LZMA, which 7-Zip and libarchive pack headers with. Other methods
	// (AES: an encrypted header) list nothing.
	dec, err := coderReader(f.coders[0], bytes.NewReader(p), unpacked)
	if err != nil {
		return nil, err
	}
	out := make([]byte, unpacked)
	if _, err := io.ReadFull(dec, out); err != nil {
		return nil, err
	}
	return out, nil
}

// sevenZipMethods are the coders this reader unpacks, by 7-Zip's method id:
// each gives the decoder of what one coder packed, to unpacked bytes. 7-Zip
// writes Deflate and BZip2 when told to (-m0=deflate, -m0=bzip2), as the
// archivers that make zip files choose them, and Go's own readers unpack
// them; PPMd and Deflate64 have none. The one list says both which folders
// open (sevenZipUnpacker.opens) and how.
var sevenZipMethods = map[string]func(co coder, packed io.Reader, unpacked uint64) (io.Reader, error){
	"\x00":         func(_ coder, packed io.Reader, _ uint64) (io.Reader, error) { return packed, nil }, // Copy
	"\x03\x01\x01": lzmaReader,
	"\x04\x01\x08": func(_ coder, packed io.Reader, _ uint64) (io.Reader, error) { return flate.NewReader(packed), nil }, // raw: no zlib header
	"\x04\x02\x02": func(_ coder, packed io.Reader, _ uint64) (io.Reader, error) { return bzip2.NewReader(packed), nil },
	"\x21":         lzma2Reader,
}

// coderReader unpacks what one coder packed, to unpacked bytes, by one of
// sevenZipMethods.
func coderReader(co coder, packed io.Reader, unpacked uint64) (io.Reader, error) {
	method, ok := sevenZipMethods[string(co.id)]
	if !ok || co.in != 1 || co.out != 1 {
		return nil, errSevenZip
	}
	dec, err := method(co, packed, unpacked)
	if err != nil {
		return nil, err
	}
	return io.LimitReader(dec, int64(unpacked)), nil
}

// lzmaReader reads the classic LZMA stream, whose header is the coder's five
// property bytes and the size; the reader's window is no larger than the size.
func lzmaReader(co coder, packed io.Reader, unpacked uint64) (io.Reader, error) {
	if len(co.props) != 5 {
		return nil, errSevenZip
	}
	hdr := make([]byte, 13)
	copy(hdr, co.props)
	binary.LittleEndian.PutUint64(hdr[5:], unpacked)
	return lzma.NewReader(io.MultiReader(bytes.NewReader(hdr), packed))
}

// lzma2Reader reads LZMA2, whose one property byte is its window's size; a
// window no larger than what it unpacks to reads it all the same.
func lzma2Reader(co coder, packed io.Reader, unpacked uint64) (io.Reader, error) {
	if len(co.props) != 1 || co.props[0] > 40 {
		return nil, errSevenZip
	}
	p := uint64(co.props[0])
	window := min(uint64(2|p&1)<<(p/2+11), unpacked)
	return lzma.Reader2Config{DictCap: int(max(window, lzma.MinDictCap))}.NewReader2(packed)
}

// sevenZipFile is a file a header lists; content says whether it has a
// stream of content (a directory or an empty file has none).
type sevenZipFile struct {
	name    string
	content bool
}

// sevenZipFiles reads a plain header's files, in the order of their streams,
// and where their content is (nil when the archive gives none).
func sevenZipFiles(b []byte) ([]sevenZipFile, *streamsInfo, error) {
	c := &cursor{b: b}
	if c.byte() != k7Header {
		return nil, nil, errSevenZip
	}
	t := c.byte()
	if t == k7ArchiveProperties {
		for c.err == nil && c.byte() != k7End {
			c.skip(c.number())
		}
		t = c.byte()
	}
	var main *streamsInfo
	for t == k7AdditionalStreamsInfo || t == k7MainStreamsInfo {
		si, err := c.streamsInfo()
		if err != nil {
			return nil, nil, err
		}
		if t == k7MainStreamsInfo {
			main = si
		}
		t = c.byte()
	}
	if t != k7FilesInfo {
		return nil, nil, errSevenZip // an archive of no files
	}
	n := c.number()
	if n > maxEntries {
		return nil, nil, errSevenZip
	}
	files := make([]sevenZipFile, 0, min(n, uint64(len(c.b))))
	var empty []byte // kEmptyStream's bits, the first file's the highest
	for c.err == nil {
		prop := c.byte()
		if prop == k7End {
			break
		}
		size := c.number()
		switch prop {
		case k7EmptyStream:
			empty = c.take(size)
		case k7Name:
			data := c.take(size)
			if len(data) < 1 || data[0] != 0 { // names kept elsewhere ("external")
				return nil, nil, errSevenZip
			}
			u := make([]uint16, 0, 64)
			for i := 1; i+1 < len(data) && uint64(len(files)) < n; i += 2 {
				ch := binary.LittleEndian.Uint16(data[i:])
				if ch == 0 {
					files = append(files, sevenZipFile{name: string(utf16.Decode(u))})
					u = u[:0]
					continue
				}
				u = append(u, ch)
			}
		default:
			c.skip(size)
		}
	}
	for i := range files {
		files[i].content = i/8 >= len(empty) || empty[i/8]&(0x80>>(i%8)) == 0
	}
	return files, main, c.err
}

// sevenZipStream is where one file's content lies: in which folder, from
// which of its unpacked bytes, how many. A folder of -1 cannot be read.
type sevenZipStream struct {
	folder    int
	off, size uint64
}

// streams lists the archive's streams of content in order, as its files
// with content take them.
func (si *streamsInfo) streams() []sevenZipStream {
	var out []sevenZipStream
	for i, f := range si.folders {
		if f.streams == 1 && len(f.sizes) == 0 {
			out = append(out, sevenZipStream{folder: i, size: f.unpackSize})
			continue
		}
		// The sizes given are all but the last, which is what is left of
		// the folder. Sizes that do not add up make the folder unreadable.
		var off uint64
		for j := uint64(0); j < f.streams; j++ {
			s := sevenZipStream{folder: i, off: off}
			switch {
			case j < uint64(len(f.sizes)):
				s.size = f.sizes[j]
			case off <= f.unpackSize:
				s.size = f.unpackSize - off
			}
			off += s.size
			if off > f.unpackSize || off < s.size {
				s.folder = -1
			}
			out = append(out, s)
		}
	}
	return out
}

// sevenZipUnpacker unpacks the files of one archive's folders, reading each
// folder from its start once while its files are opened in order, as an
// archive lists them: a solid folder is one packed stream.
type sevenZipUnpacker struct {
	ra     io.ReaderAt
	n      int64
	si     *streamsInfo
	budget *int64
	cur    int       // the folder r unpacks, or -1
	r      io.Reader // cur's unpacked bytes, pos of them read
	pos    uint64
}

// opens says whether the folder's files can be opened.
func (u *sevenZipUnpacker) opens(folder int) bool {
	if folder < 0 || folder >= len(u.si.folders) {
		return false
	}
	f := u.si.folders[folder]
	if len(f.coders) != 1 || f.packed != 1 || f.unpackSize > sevenZipOpenMax {
		return false
	}
	_, ok := sevenZipMethods[string(f.coders[0].id)]
	return ok
}

// open gives s's content, unpacking what lies before it in its folder within
// the budget.
func (u *sevenZipUnpacker) open(s sevenZipStream) (io.ReadCloser, error) {
	if s.folder != u.cur || s.off < u.pos {
		r, err := u.folder(s.folder)
		if err != nil {
			return nil, err
		}
		u.cur, u.r, u.pos = s.folder, r, 0
	}
	skip := int64(s.off - u.pos)
	k, err := io.CopyN(io.Discard, &budgeted{r: u.r, left: u.budget}, skip)
	u.pos += uint64(k)
	if k < skip {
		return nil, fmt.Errorf("banned: 7-Zip file at %d of folder %d: %w", s.off, s.folder, err)
	}
	return io.NopCloser(&sevenZipFileReader{u: u, left: s.size}), nil
}

// folder starts unpacking folder i from its packed stream.
func (u *sevenZipUnpacker) folder(i int) (io.Reader, error) {
	if !u.opens(i) {
		return nil, errSevenZip
	}
	off, k := int64(32+u.si.packPos), 0
	for _, f := range u.si.folders[:i] {
		k += f.packed
	}
	if k >= len(u.si.packSizes) {
		return nil, errSevenZip
	}
	for _, s := range u.si.packSizes[:k] {
		off += int64(min(s, uint64(u.n)))
	}
	size := u.si.packSizes[k]
	if off < 0 || off > u.n || size > uint64(u.n-off) {
		return nil, errSevenZip
	}
	// The unpacker's window can be as large as the folder: it is taken
	// from the budget, so that an archive of many folders that each claim
	// megabytes cannot make the check allocate them again and again.
	f := u.si.folders[i]
	if int64(f.unpackSize) > *u.budget {
		return nil, errSevenZip
	}
	*u.budget -= int64(f.unpackSize)
	return coderReader(f.coders[0], io.NewSectionReader(u.ra, off, int64(size)), f.unpackSize)
}

// sevenZipFileReader reads one file's bytes of its folder's.
type sevenZipFileReader struct {
	u    *sevenZipUnpacker
	left uint64
}

func (f *sevenZipFileReader) Read(p []byte) (int, error) {
	if f.left == 0 {
		return 0, io.EOF
	}
	if uint64(len(p)) > f.left {
		p = p[:f.left]
	}
	n, err := f.u.r.Read(p)
	f.left -= uint64(n)
	f.u.pos += uint64(n)
	if err == io.EOF && f.left > 0 {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

// cursor reads 7zFormat.txt's items from a header; past its end, every read
// gives zero and err is set.
type cursor struct {
	b   []byte
	err error
}

func (c *cursor) byte() byte {
	if len(c.b) == 0 {
		c.err = errSevenZip
		return 0
	}
	v := c.b[0]
	c.b = c.b[1:]
	return v
}

func (c *cursor) take(n uint64) []byte {
	if n > uint64(len(c.b)) {
		c.err, c.b = errSevenZip, nil
		return nil
	}
	v := c.b[:n]
	c.b = c.b[n:]
	return v
}

func (c *cursor) skip(n uint64) { c.take(n) }

// number is 7-Zip's NUMBER: the first byte's leading one bits say how many
// bytes follow (little-endian); its remaining bits are the value's high part.
func (c *cursor) number() uint64 {
	first := c.byte()
	var v uint64
	mask := byte(0x80)
	for i := range 8 {
		if first&mask == 0 {
			return v | uint64(first&(mask-1))<<(8*i)
		}
		v |= uint64(c.byte()) << (8 * i)
		mask >>= 1
	}
	return v
}

// count is a number that counts items in the header: at most one per byte
// left, so a forged count cannot make a huge slice.
func (c *cursor) count() int {
	n := c.number()
	if n > uint64(len(c.b))+1 {
		c.err = errSevenZip
		return 0
	}
	return int(n)
}

// digests skips n CRCs, some of them possibly absent.
func (c *cursor) digests(n int) []bool {
	defined := make([]bool, n)
	if all := c.byte(); all != 0 {
		for i := range defined {
			defined[i] = true
		}
	} else {
		bits := c.take(uint64(n+7) / 8)
		for i := range defined {
			if i/8 < len(bits) {
				defined[i] = bits[i/8]&(0x80>>(i%8)) != 0
			}
		}
	}
	for _, d := range defined {
		if d {
			c.skip(4)
		}
	}
	return defined
}

type coder struct {
	id, props []byte
	in, out   int
}

type folder struct {
	coders     []coder
	packed     int    // its packed streams
	unpackSize uint64 // of its main output stream, when it has one coder
	crc        bool   // its unpacked CRC is given
	streams    uint64 // the files' streams it unpacks to
	sizes      []uint64
	// sizes are the streams' sizes but the last's, when SubStreamsInfo
	// gives them.
}

type streamsInfo struct {
	packPos   uint64
	packSizes []uint64
	folders   []folder
}

// streamsInfo reads a StreamsInfo: PackInfo, CodersInfo and SubStreamsInfo,
// each optional, to its kEnd.
func (c *cursor) streamsInfo() (*streamsInfo, error) {
	si := &streamsInfo{}
	t := c.byte()
	if t == k7PackInfo {
		si.packPos = c.number()
		si.packSizes = make([]uint64, c.count())
		for t = c.byte(); t != k7End && c.err == nil; t = c.byte() {
			switch t {
			case k7Size:
				for i := range si.packSizes {
					si.packSizes[i] = c.number()
				}
			case k7CRC:
				c.digests(len(si.packSizes))
			default:
				return nil, errSevenZip
			}
		}
		t = c.byte()
	}
	if t == k7UnpackInfo {
		if c.byte() != k7Folder {
			return nil, errSevenZip
		}
		si.folders = make([]folder, c.count())
		if c.byte() != 0 { // folders kept elsewhere ("external")
			return nil, errSevenZip
		}
		outs := make([]int, len(si.folders))
		for i := range si.folders {
			if err := c.folder(&si.folders[i], &outs[i]); err != nil {
				return nil, err
			}
		}
		if c.byte() != k7CodersUnpackSize {
			return nil, errSevenZip
		}
		for i := range si.folders {
			// Each output stream's size. Only a folder of one coder's is
			// used (unpackHeader), whose one stream is the folder's output.
			for range outs[i] {
				si.folders[i].unpackSize = c.number()
			}
		}
		for t = c.byte(); t != k7End && c.err == nil; t = c.byte() {
			if t != k7CRC {
				return nil, errSevenZip
			}
			for i, d := range c.digests(len(si.folders)) {
				si.folders[i].crc = d
			}
		}
		t = c.byte()
	}
	for i := range si.folders {
		si.folders[i].streams = 1
	}
	if t == k7SubStreamsInfo {
		t = c.byte()
		if t == k7NumUnpackStream {
			total := uint64(0)
			for i := range si.folders {
				si.folders[i].streams = c.number()
				total += si.folders[i].streams
				if total > maxEntries || c.err != nil {
					return nil, errSevenZip
				}
			}
			t = c.byte()
		}
		if t == k7Size {
			for i, f := range si.folders {
				for j := uint64(1); j < f.streams && c.err == nil; j++ {
					si.folders[i].sizes = append(si.folders[i].sizes, c.number())
				}
			}
			t = c.byte()
		}
		for ; t != k7End && c.err == nil; t = c.byte() {
			if t != k7CRC {
				return nil, errSevenZip
			}
			n := uint64(0)
			for _, f := range si.folders {
				if f.streams != 1 || !f.crc {
					n += f.streams
				}
			}
			if n > uint64(len(c.b))*8 {
				return nil, errSevenZip
			}
			c.digests(int(n))
		}
		t = c.byte()
	}
	if t != k7End || c.err != nil {
		return nil, errSevenZip
	}
	return si, nil
}

// folder reads one Folder; outs is the number of its output streams.
func (c *cursor) folder(f *folder, outs *int) error {
	n := c.count()
	if n < 1 || n > 64 {
		return errSevenZip
	}
	ins := 0
	for range n {
		flags := c.byte()
		if flags&0x80 != 0 { // alternative methods: never written
			return errSevenZip
		}
		co := coder{id: c.take(uint64(flags & 0x0f)), in: 1, out: 1}
		if flags&0x10 != 0 {
			co.in, co.out = c.count(), c.count()
		}
		if flags&0x20 != 0 {
			co.props = c.take(c.number())
		}
		f.coders = append(f.coders, co)
		ins += co.in
		*outs += co.out
	}
	if *outs < 1 || *outs > 64 || ins > 64 {
		return errSevenZip
	}
	pairs := *outs - 1
	if ins <= pairs {
		return errSevenZip // no packed stream
	}
	for range pairs {
		c.number()
		c.number()
	}
	f.packed = ins - pairs
	if f.packed > 1 {
		for range f.packed {
			c.number()
		}
	}
	return c.err
}
