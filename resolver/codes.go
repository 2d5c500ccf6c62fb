package resolver

import (
	"encoding/binary"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// CodeRange is a set of a DNS list's return codes: a range, e.g.
// 127.0.0.2-127.0.0.3 or 127.0.0.4/30, or a bitmask that lists such as
// multi.uribl.com and multi.surbl.org answer in (2: any code with that bit).
type CodeRange struct {
	From, To netip.Addr
	Mask     uint32 // not 0: the codes with one of these bits, From and To unset
	Text     string // as configured
}

// CodeScore is points for a set of return codes.
type CodeScore struct {
	CodeRange
	Score float64
}

// Contains reports whether a is in the set. A bitmask reads codes in
// 127.0.0.0/8 only, as SpamAssassin's sub-tests do.
func (r CodeRange) Contains(a netip.Addr) bool {
	if r.Mask != 0 {
		a = a.Unmap()
		if !a.Is4() {
			return false
		}
		v := addrBits(a)
		return v>>24 == 127 && v&r.Mask != 0
	}
	return r.From.Compare(a) <= 0 && a.Compare(r.To) <= 0
}

// HighestScore is the most points any of scores gives the code a, and
// whether one gives it any: a list's answer may fall in several entries (a
// range and a bit), and the one that says most about it counts.
func HighestScore(scores []CodeScore, a netip.Addr) (float64, bool) {
	best, ok := 0.0, false
	for _, s := range scores {
		if s.Contains(a) && (!ok || s.Score > best) {
			best, ok = s.Score, true
		}
	}
	return best, ok
}

// ParseCodeRange reads "127.0.0.2", "127.0.0.2-127.0.0.9", "127.0.0.8/30", or
// a bitmask, "2" or "0x8" (SpamAssassin's urirhssub and check_rbl_sub
// sub-tests: a number alone is a mask).
func ParseCodeRange(s string) (CodeRange, error) {
	if n, ok := codeMask(s); ok {
		if n == 0 {
			return CodeRange{}, fmt.Errorf("return code mask %q: want a number with a bit set", s)
		}
		return CodeRange{Mask: n, Text: s}, nil
	}
	if from, to, ok := strings.Cut(s, "-"); ok {
		a, err1 := netip.ParseAddr(strings.TrimSpace(from))
		b, err2 := netip.ParseAddr(strings.TrimSpace(to))
		if err1 != nil || err2 != nil || !a.Is4() || !b.Is4() || b.Less(a) {
			return CodeRange{}, fmt.Errorf("return code range %q: want A.B.C.D-A.B.C.D, low to high", s)
		}
		return CodeRange{From: a, To: b, Text: s}, nil
	}
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil || !p.Addr().Is4() {
			return CodeRange{}, fmt.Errorf("return code range %q: want an IPv4 network", s)
		}
		p = p.Masked()
		var last [4]byte
		binary.BigEndian.PutUint32(last[:], addrBits(p.Addr())|(uint32(1)<<(32-p.Bits())-1))
		return CodeRange{From: p.Addr(), To: netip.AddrFrom4(last), Text: s}, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		return CodeRange{}, fmt.Errorf("return code %q: want an IPv4 address, a range or a bitmask", s)
	}
	return CodeRange{From: a, To: a, Text: s}, nil
}

// ParseCodeScores reads a table of return codes and their points, in the
// codes' order as written, for one answer to read them the same way each time.
func ParseCodeScores(table map[string]float64) ([]CodeScore, error) {
	codes := slices.Sorted(maps.Keys(table))
	out := make([]CodeScore, 0, len(codes))
	for _, c := range codes {
		r, err := ParseCodeRange(c)
		if err != nil {
			return nil, err
		}
		out = append(out, CodeScore{CodeRange: r, Score: table[c]})
	}
	return out, nil
}

// addrBits is an IPv4 address as the number SpamAssassin's sub-tests compare.
func addrBits(a netip.Addr) uint32 {
	b := a.As4()
	return binary.BigEndian.Uint32(b[:])
}

// codeMask reads a bitmask: up to ten decimal digits, or 0x and up to eight
// hexadecimal ones.
func codeMask(s string) (uint32, bool) {
	if h, ok := strings.CutPrefix(strings.ToLower(s), "0x"); ok {
		if len(h) == 0 || len(h) > 8 {
			return 0, false
		}
		n, err := strconv.ParseUint(h, 16, 32)
		return uint32(n), err == nil
	}
	if len(s) == 0 || len(s) > 10 || strings.Trim(s, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.ParseUint(s, 10, 32)
	return uint32(n), err == nil
}

// AnyListing is what a zone configured with nothing but its name rejects on: any
// return code in 127.0.0.0/8 (RFC 5782), less the error codes Listed leaves out.
var AnyListing = CodeRange{From: netip.MustParseAddr("127.0.0.2"), To: netip.MustParseAddr("127.255.255.254"), Text: "127.0.0.0/8"}
