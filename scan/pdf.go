package scan

import (
	"bytes"
	"compress/zlib"
	"io"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// A PDF attachment's links are where its reader goes with one click, and a
// phishing PDF is often nothing else: a button over a picture of a document,
// sent with an empty body so that whatever reads the message's text finds no
// link to judge. The links are the URI actions of the file's link
// annotations (/URI (https://…)), written in its objects, or, since PDF 1.5,
// in compressed object streams. SpamAssassin's PDFInfo plugin adds the first
// kind to the message's links, when it is loaded.

// Limits bound the work on one PDF.
const (
	maxPDFBytes     = 16 << 20 // of a part read for its links
	maxPDFLinks     = 20       // kept per file, as PDFInfo keeps
	maxPDFInflated  = 8 << 20  // object streams unpacked, per message
	maxPDFObjStms   = 256      // object streams unpacked, per file
	pdfMagicWithin  = 1024     // "%PDF-" is looked for in the first bytes, as PDFInfo does
	maxPDFLinkBytes = 2048     // a link longer than this is none
)

// isPDFPart says whether a part is read as a PDF file: declared one, or named
// one (a mail program may send it as application/octet-stream), as PDFInfo
// reads parts; its content must start as one too (PDFLinks).
func isPDFPart(ctype, name string) bool {
	if ctype == "application/pdf" {
		return true
	}
	ext := nameExt(name)
	return (ext == "pdf" || ext == "fdf") && !strings.HasPrefix(ctype, "text/")
}

// nameExt is a file name's last extension, lower case, or "".
func nameExt(name string) string {
	i := strings.LastIndexByte(name, '.')
	if i < 0 {
		return ""
	}
	return strings.ToLower(name[i+1:])
}

// PDFLinks returns the links of the PDF file b, in the order written, each
// once, at most maxPDFLinks: the strings of its /URI entries that read as
// text with a dot in them. An encrypted file's strings are encrypted, and
// give none. Anything else is no PDF, and gives none.
func PDFLinks(b []byte) []string {
	budget := maxPDFInflated
	return pdfLinksWithin(b, &budget)
}

// pdfLinksWithin is PDFLinks, unpacking at most *budget bytes of object
// streams: a message's PDFs share one budget, as a thousand small files that
// each inflate to megabytes would otherwise cost gigabytes.
func pdfLinksWithin(b []byte, budget *int) []string {
	if !isPDF(b) || pdfEncrypted(b) {
		return nil
	}
	l := &pdfLinks{seen: map[string]bool{}}
	l.scan(b)
	// Object streams: their objects, link annotations among them, are
	// compressed together.
	var out bytes.Buffer // each object stream's objects, in turn
	for rest, n := b, 0; len(l.links) < maxPDFLinks && n < maxPDFObjStms && *budget > 0; n++ {
		i := bytes.Index(rest, []byte("/ObjStm"))
		if i < 0 {
			break
		}
		data, next := pdfStream(rest, i)
		rest = rest[next:]
		if data == nil {
			continue
		}
		zr, err := zlib.NewReader(bytes.NewReader(data))
		if err != nil {
			continue
		}
		out.Reset()
		k, _ := io.Copy(&out, io.LimitReader(zr, int64(*budget)))
		*budget -= int(k)
		l.scan(out.Bytes())
	}
	return l.links
}

// pdfEncrypted says whether the PDF file b is encrypted: its trailer names
// an /Encrypt dictionary, and every string and stream in it is ciphertext.
func pdfEncrypted(b []byte) bool {
	return isPDF(b) && bytes.Contains(b, []byte("/Encrypt"))
}

// isPDF says whether b starts as a PDF file, its magic in its first bytes.
func isPDF(b []byte) bool {
	return bytes.Contains(b[:min(len(b), pdfMagicWithin+5)], []byte("%PDF-"))
}

// isZipPart says whether a part is read as a ZIP archive: declared one or
// named one.
func isZipPart(ctype, name string) bool {
	switch ctype {
	case "application/zip", "application/x-zip-compressed", "application/x-zip":
		return true
	}
	return nameExt(name) == "zip" && !strings.HasPrefix(ctype, "text/")
}

// zipEncrypted says whether the ZIP archive r streams has its first file
// encrypted (its local header's flag, bit 0, ZipCrypto and WinZip's AES
// alike): an archive sent encrypted is encrypted whole. Only the first 8
// bytes are read.
func zipEncrypted(r io.Reader) bool {
	var h [8]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return false
	}
	return string(h[:4]) == "PK\x03\x04" && h[6]&1 != 0
}

// pdfStream returns the data of the stream whose dictionary holds b[at:],
// when the dictionary names FlateDecode, and where to look on from.
func pdfStream(b []byte, at int) ([]byte, int) {
	start := bytes.Index(b[at:], []byte("stream"))
	if start < 0 {
		return nil, len(b)
	}
	start += at
	// The dictionary from its object's start: /Filter may come before /Type.
	from := max(0, at-1024)
	if k := bytes.LastIndex(b[from:at], []byte("obj")); k >= 0 {
		from += k
	}
	dict := b[from:start]
	if bytes.Contains(b[at:start], []byte("endobj")) || !bytes.Contains(dict, []byte("/FlateDecode")) {
		return nil, start + 1 // no stream of this dictionary's, or not compressed as zlib
	}
	data := b[start+len("stream"):]
	if len(data) > 0 && data[0] == '\r' {
		data = data[1:]
	}
	if len(data) > 0 && data[0] == '\n' {
		data = data[1:]
	}
	// The data runs to "endstream": a /Length may be an indirect reference,
	// and zlib stops at its own end, so what follows does no harm.
	end := bytes.Index(data, []byte("endstream"))
	if end < 0 {
		end = len(data)
	}
	next := len(b) - len(data) + end
	return data[:end], next
}

type pdfLinks struct {
	links []string
	seen  map[string]bool
}

// scan adds the links of the /URI entries in b.
func (l *pdfLinks) scan(b []byte) {
	for len(l.links) < maxPDFLinks {
		i := bytes.Index(b, []byte("/URI"))
		if i < 0 {
			return
		}
		b = b[i+len("/URI"):]
		j := 0
		for j < len(b) && isPDFSpace(b[j]) {
			j++
		}
		if j == len(b) {
			return
		}
		var s []byte
		switch b[j] {
		case '(':
			s = pdfLiteral(b[j+1:])
		case '<':
			s = pdfHex(b[j+1:])
		default:
			continue // "/S /URI /URI (…)", or a name that starts so (/URIActions)
		}
		if link, ok := pdfText(s); ok && !l.seen[link] {
			l.seen[link] = true
			l.links = append(l.links, link)
		}
	}
}

func isPDFSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == 0
}

// pdfLiteral reads a literal string's bytes, after its "(": balanced
// parentheses are the string's, and a backslash escapes (PDF 32000, 7.3.4.2).
func pdfLiteral(b []byte) []byte {
	var out []byte
	depth := 0
	for i := 0; i < len(b) && len(out) <= maxPDFLinkBytes; i++ {
		c := b[i]
		switch c {
		case '(':
			depth++
		case ')':
			if depth == 0 {
				return out
			}
			depth--
		case '\\':
			i++
			if i == len(b) {
				return nil // unterminated
			}
			switch c = b[i]; c {
			case 'n':
				c = '\n'
			case 'r':
				c = '\r'
			case 't':
				c = '\t'
			case 'b':
				c = '\b'
			case 'f':
				c = '\f'
			case '\r', '\n': // a line continued
				if c == '\r' && i+1 < len(b) && b[i+1] == '\n' {
					i++
				}
				continue
			default:
				if c >= '0' && c <= '7' {
					v := int(c - '0')
					for k := 0; k < 2 && i+1 < len(b) && b[i+1] >= '0' && b[i+1] <= '7'; k++ {
						i++
						v = v*8 + int(b[i]-'0')
					}
					c = byte(v)
				}
			}
		}
		out = append(out, c)
	}
	return nil // unterminated, or too long for a link
}

// pdfHex reads a hexadecimal string's bytes, after its "<", to its ">".
func pdfHex(b []byte) []byte {
	var out []byte
	half, odd := byte(0), false
	for _, c := range b {
		var v byte
		switch {
		case c == '>':
			if odd {
				out = append(out, half<<4)
			}
			return out
		case c >= '0' && c <= '9':
			v = c - '0'
		case c >= 'a' && c <= 'f':
			v = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			v = c - 'A' + 10
		case isPDFSpace(c):
			continue
		default:
			return nil // "<<", a dictionary, or no string
		}
		if odd {
			out = append(out, half<<4|v)
			if len(out) > maxPDFLinkBytes {
				return nil
			}
		} else {
			half = v
		}
		odd = !odd
	}
	return nil
}

// pdfText reads a string as the link it holds: UTF-16 with its byte order
// mark, or bytes (a URI is ASCII; other bytes are read as UTF-8). It is a
// link when it has a dot after its first character and no control
// characters, as PDFInfo asks ("some binary mess" otherwise).
func pdfText(s []byte) (string, bool) {
	var t string
	if len(s) >= 2 && s[0] == 0xfe && s[1] == 0xff {
		u := make([]uint16, 0, len(s)/2)
		for i := 2; i+1 < len(s); i += 2 {
			u = append(u, uint16(s[i])<<8|uint16(s[i+1]))
		}
		t = string(utf16.Decode(u))
	} else {
		t = string(s)
	}
	t = strings.TrimSpace(t)
	if strings.IndexByte(t, '.') <= 0 || !utf8.ValidString(t) || len(t) > maxPDFLinkBytes {
		return "", false
	}
	for _, r := range t {
		if r < 0x20 || r == 0x7f || r == utf8.RuneError {
			return "", false
		}
	}
	return t, true
}
