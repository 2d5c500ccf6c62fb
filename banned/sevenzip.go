package banned

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"unicode/utf16"

	"github.com/ulikunitz/xz/lzma"
)

// A 7-Zip archive keeps its directory (the "header") at its end, and 7-Zip
// compresses it with LZMA unless told not to: the names of its files are read
// by unpacking that header alone, never the files. What the format means is
// 7-Zip's DOC/7zFormat.txt. An archive whose header is encrypted (7z -mhe)
// lists nothing, as for every reader without the password.

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
	k7Name          = 0x11
	k7EncodedHeader = 0x17
)

var errSevenZip = errors.New("banned: not a 7-Zip header this reader knows")

// sevenZipEntries gives entry the names in the 7-Zip archive r streams (head:
// its first bytes, which r still yields). None can be opened: the files are
// compressed. A broken or encrypted archive gives nothing; only the spool's
// failure and entry's errors are returned.
func sevenZipEntries(head []byte, r io.Reader, entry entryFunc) error {
	if !isSevenZip(head) {
		return nil
	}
	next := binary.LittleEndian.Uint64(head[12:])
	size := binary.LittleEndian.Uint64(head[20:])
	ra, n, _, release, err := keep(r)
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
	names, err := sevenZipNames(h)
	if err != nil {
		return nil
	}
	for _, name := range names {
		if err := entry(name, nil); err != nil {
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
	// LZMA, which 7-Zip and libarchive pack headers with: the classic
	// stream's header is the coder's five property bytes and the size. Other
	// methods (AES: an encrypted header) list nothing.
	co := f.coders[0]
	if string(co.id) != "\x03\x01\x01" || len(co.props) != 5 {
		return nil, errSevenZip
	}
	hdr := make([]byte, 13)
	copy(hdr, co.props)
	binary.LittleEndian.PutUint64(hdr[5:], unpacked)
	dec, err := lzma.NewReader(io.MultiReader(bytes.NewReader(hdr), bytes.NewReader(p)))
	if err != nil {
		return nil, err
	}
	out := make([]byte, unpacked)
	if _, err := io.ReadFull(dec, out); err != nil {
		return nil, err
	}
	return out, nil
}

// sevenZipNames reads a plain header's file names.
func sevenZipNames(b []byte) ([]string, error) {
	c := &cursor{b: b}
	if c.byte() != k7Header {
		return nil, errSevenZip
	}
	t := c.byte()
	if t == k7ArchiveProperties {
		for c.err == nil && c.byte() != k7End {
			c.skip(c.number())
		}
		t = c.byte()
	}
	for t == k7AdditionalStreamsInfo || t == k7MainStreamsInfo {
		if _, err := c.streamsInfo(); err != nil {
			return nil, err
		}
		t = c.byte()
	}
	if t != k7FilesInfo {
		return nil, errSevenZip // an archive of no files
	}
	files := c.number()
	if files > maxEntries {
		return nil, errSevenZip
	}
	var names []string
	for c.err == nil {
		prop := c.byte()
		if prop == k7End {
			break
		}
		size := c.number()
		if prop != k7Name {
			c.skip(size)
			continue
		}
		data := c.take(size)
		if len(data) < 1 || data[0] != 0 { // names kept elsewhere ("external")
			return nil, errSevenZip
		}
		u := make([]uint16, 0, 64)
		for i := 1; i+1 < len(data) && uint64(len(names)) < files; i += 2 {
			ch := binary.LittleEndian.Uint16(data[i:])
			if ch == 0 {
				names = append(names, string(utf16.Decode(u)))
				u = u[:0]
				continue
			}
			u = append(u, ch)
		}
	}
	return names, c.err
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
	unpackSize uint64 // of its main output stream
	crc        bool   // its unpacked CRC is given
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
	if t == k7SubStreamsInfo {
		streams := make([]uint64, len(si.folders))
		for i := range streams {
			streams[i] = 1
		}
		t = c.byte()
		if t == k7NumUnpackStream {
			for i := range streams {
				streams[i] = c.number()
			}
			t = c.byte()
		}
		if t == k7Size {
			for _, s := range streams {
				for j := uint64(1); j < s && c.err == nil; j++ {
					c.number()
				}
			}
			t = c.byte()
		}
		for ; t != k7End && c.err == nil; t = c.byte() {
			if t != k7CRC {
				return nil, errSevenZip
			}
			n := uint64(0)
			for i, s := range streams {
				if s != 1 || !si.folders[i].crc {
					n += s
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
	for range pairs {
		c.number()
		c.number()
	}
	if packed := ins - pairs; packed > 1 {
		for range packed {
			c.number()
		}
	}
	return c.err
}
