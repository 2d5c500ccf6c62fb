package rules

import (
	bin "encoding/binary" // (meta.go has a binary)
	"unicode"
	"unicode/utf8"
	"unsafe"
)

// toLower is strings.ToLower (invalid UTF-8 included, which becomes U+FFFD) for
// the large texts a message is prepared in: the body, the raw body and the full
// text are lowered for every message, and they are mostly ASCII. strings.ToLower
// maps every rune of such a text through unicode.ToLower once it holds one rune
// that is not ASCII, and a byte-by-byte loop costs some ten instructions a byte;
// here ASCII is lowered eight bytes at a time, and only other runes are decoded.
func toLower(s string) string {
	i := lowerFrom(s)
	if i == len(s) {
		return s // nothing changes: no copy
	}
	b := make([]byte, i, len(s)+8)
	copy(b, s[:i])
	for i < len(s) {
		for i+8 <= len(s) {
			x := load64(s, i)
			if x&hiBits != 0 {
				break
			}
			b = bin.LittleEndian.AppendUint64(b, lowerASCII8(x))
			i += 8
		}
		if i == len(s) {
			break
		}
		c := s[i]
		if c < utf8.RuneSelf {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			b = append(b, c)
			i++
			continue
		}
		r, w := utf8.DecodeRuneInString(s[i:])
		if l := unicode.ToLower(r); l != r || r == utf8.RuneError && w == 1 {
			b = utf8.AppendRune(b, l)
		} else {
			b = append(b, s[i:i+w]...)
		}
		i += w
	}
	return unsafe.String(unsafe.SliceData(b), len(b)) // b is not written again
}

// lowerFrom is where toLower's result first differs from s: the first upper-case
// ASCII letter or rune that is not ASCII (which toLower decodes), or len(s).
func lowerFrom(s string) int {
	i := 0
	for ; i+8 <= len(s); i += 8 {
		x := load64(s, i)
		if x&hiBits != 0 || upperMask(x) != 0 {
			break
		}
	}
	for ; i < len(s); i++ {
		if c := s[i]; c >= utf8.RuneSelf || 'A' <= c && c <= 'Z' {
			return i
		}
	}
	return i
}

const (
	ones   = 0x0101010101010101
	hiBits = 0x80 * ones
)

// upperMask has 0x80 in each byte of x (all ASCII) that is an upper-case letter:
// a byte plus 0x80-'A' reaches the high bit from 'A' on, plus 0x80-'Z'-1 from past
// 'Z'; no sum carries into the next byte, as every byte is below 0x80.
func upperMask(x uint64) uint64 {
	return (x + (0x80-'A')*ones) &^ (x + (0x80-'Z'-1)*ones) & hiBits
}

// lowerASCII8 lowers eight ASCII bytes: 0x20 added to each upper-case letter.
func lowerASCII8(x uint64) uint64 { return x | upperMask(x)>>2 }

// load64 is the eight bytes of s at i, little-endian (one load).
func load64(s string, i int) uint64 {
	_ = s[i+7]
	return uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
		uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
}
