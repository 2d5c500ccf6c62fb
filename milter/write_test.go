package milter

import (
	"bytes"
	"encoding/binary"
	"slices"
	"strings"
	"testing"
)

// recordWriter keeps each write it is given.
type recordWriter struct{ writes [][]byte }

func (r *recordWriter) Write(p []byte) (int, error) {
	r.writes = append(r.writes, bytes.Clone(p))
	return len(p), nil
}

// milterPacket is a milter packet: its length, code and data.
func milterPacket(code byte, data string) []byte {
	p := binary.BigEndian.AppendUint32(nil, uint32(len(data)+1))
	return append(append(p, code), data...)
}

// The header changes wait for the answer that follows them and go out in its
// write; anything else, and everything once the packets' bounds are lost, goes
// out as it comes.
func TestPacketWriterHoldsHeaderChanges(t *testing.T) {
	long := milterPacket('h', "X-Spam-Report\x00"+strings.Repeat("r", 5000)+"\x00")
	for _, tc := range []struct {
		name   string
		writes [][]byte
		want   []int // how many of writes each write to the MTA holds
	}{
		{"an answer alone", [][]byte{milterPacket('c', "")}, []int{1}},
		{"headers, then the answer", [][]byte{milterPacket('h', "X-Spam-Flag\x00YES\x00"), milterPacket('m', "\x00\x00\x00\x01X-Spam-Status\x00\x00"), milterPacket('i', "\x00\x00\x00\x00X-A\x00b\x00"), milterPacket('a', "")}, []int{4}},
		{"a long header in pieces", [][]byte{long[:4096], long[4096:], milterPacket('y', "550 5.7.1 no\x00")}, []int{3}},
		{"a progress report is not held", [][]byte{milterPacket('h', "X-A\x00b\x00"), milterPacket('p', ""), milterPacket('a', "")}, []int{2, 1}},
		{"bounds lost: written through", [][]byte{{0, 0}, milterPacket('h', "X-A\x00b\x00"), milterPacket('a', "")}, []int{1, 1, 1}},
		{"two packets in one write: written through", [][]byte{append(milterPacket('h', "X-A\x00b\x00"), milterPacket('a', "")...), milterPacket('h', "X-B\x00c\x00")}, []int{1, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var w packetWriter
			var dst recordWriter
			var all []byte
			for _, p := range tc.writes {
				if n, err := w.write(&dst, p); n != len(p) || err != nil {
					t.Fatalf("write: %d, %v; want %d", n, err, len(p))
				}
				all = append(all, p...)
			}
			if got := bytes.Join(dst.writes, nil); !bytes.Equal(got, all) {
				t.Fatalf("the MTA got %q, want %q", got, all)
			}
			var got []int
			for i, k := 0, 0; i < len(dst.writes); i++ {
				n := 0
				for rest := len(dst.writes[i]); rest > 0; k++ {
					rest -= len(tc.writes[k])
					n++
				}
				got = append(got, n)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("the MTA got writes of %v of ours, want %v", got, tc.want)
			}
		})
	}
}
