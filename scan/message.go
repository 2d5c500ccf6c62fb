// Package scan turns a raw message into the model every check reads: its header, and
// its MIME tree walked once into leaf parts with decoded text. Parsing never fails
// outright: broken MIME, unknown charsets and bad encodings become Problems, and what
// could be read is kept, because spam is often malformed on purpose.
package scan

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	_ "image/gif" // image sizes: rules (SpamAssassin's ImageInfo)
	_ "image/jpeg"
	_ "image/png"
	"io"
	"strings"
	"sync"

	"github.com/emersion/go-message/textproto"
)

// Limits bound the work parsing does on one message.
const (
	maxDepth       = 16      // nested multiparts and message/rfc822
	maxParts       = 1000    // leaf parts kept
	maxTextBytes   = 1 << 20 // decoded text kept per part
	maxTotalText   = 4 << 20 // decoded text kept per message
	maxHeaderBytes = 1 << 20 // top-level header block
)

// Message is a parsed message.
type Message struct {
	Header   textproto.Header
	Parts    []Part
	Problems []string // what was malformed; informative, never fatal
}

// Part is one leaf of the MIME tree.
type Part struct {
	ContentType string // lower case, without parameters
	// EffectiveType is the type SpamAssassin reads the part as (Node.pm's
	// effective_type): text/html for a part whose name ends in .htm, .html,
	// .shtm or .shtml, whatever type it declares, so that a web page sent as an
	// attachment (application/octet-stream, "order.html") is read as the HTML it
	// is; ContentType otherwise. What the part's text is, and whether it is
	// rendered as HTML, follow it; the MIME tests read the declared type.
	EffectiveType string
	Filename      string
	Depth         int
	Header        textproto.Header // the part's MIME header (Leaf.Header)
	Alternative   int              // its multipart/alternative, 0 none (Leaf.Alternative)
	Text          string           // decoded text for text/* parts (capped), empty otherwise
	Truncated     bool             // Text was cut at the cap
	// Undecoded is the text before its charset's decoding, for a part in a
	// 7-bit charset that decodes to 8-bit text (Leaf.Undecoded: ISO-2022-JP and
	// its kin), as SpamAssassin's rawbody rules read it; "" for other parts,
	// whose rawbody is Text.
	Undecoded string
	Raw       *RawStats // its raw lines (Leaf.Raw); nil for parts neither text nor quoted-printable
	Verbatim  bool      // in the raw message as it is (Leaf.Verbatim)
	// Width and Height are a GIF, PNG or JPEG image's, read from its header (0
	// when it has none that reads); only its first bytes are decoded.
	Width, Height int
	// Links are a PDF file's (PDFLinks), for a part declared or named one.
	Links []string
	// Encrypted: a PDF file that is, or a ZIP archive whose first file is:
	// no scanner reads it without its password.
	Encrypted bool
	html      *sharedHTML // an HTML part's tokens, for all its readers (WalkHTML)
}

// Subject returns the decoded Subject.
func (m *Message) Subject() string {
	v := m.Header.Get("Subject")
	s, err := DecodeHeader(v)
	if err != nil {
		return v
	}
	return s
}

// Verbatim reports whether every part of the message is verbatim (Leaf.Verbatim),
// all of them kept: the raw message then holds all its content as it is. False
// for a message not parsed (no parts).
func (m *Message) Verbatim() bool {
	if len(m.Parts) == 0 || len(m.Parts) >= maxParts {
		return false
	}
	for _, p := range m.Parts {
		if !p.Verbatim {
			return false
		}
	}
	return true
}

// readText reads r to its end into a string, through buf: a text that fits in
// buf (most parts) is copied once into a string of its size, where a builder
// fed by the decoders' small reads grew by doubling, half of what it allocated
// thrown away (a fourteenth of the check's allocations with the built-in rules).
func readText(r io.Reader, buf []byte) (string, error) {
	n, end, err := readBlock(r, buf)
	switch {
	case err != nil:
		return "", err
	case end:
		return string(buf[:n]), nil
	}
	var sb strings.Builder
	sb.Grow(2 * len(buf))
	sb.Write(buf)
	if _, err := io.CopyBuffer(&sb, r, buf); err != nil {
		return "", err
	}
	return sb.String(), nil
}

// readBlock fills buf from r, however r hands its bytes over (the decoders read
// whole blocks: what they cannot decide yet waits for the next one, and would
// be looked at again after each small read). end says r has no more; err is
// its error other than its end.
func readBlock(r io.Reader, buf []byte) (n int, end bool, err error) {
	n, err = io.ReadFull(r, buf)
	if err == nil {
		return n, false, nil
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return n, true, nil
	}
	return n, true, err
}

// copyBufs are Parse's buffers for copying text parts: io.Copy made a 32 KB one
// for each part, most of the parse's garbage.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 32*1024); return &b }}

// effectiveType is Node.pm's effective_type: text/html for a name matching
// /\.s?html?$/i, the declared type otherwise.
func effectiveType(ctype, name string) string {
	lower := strings.ToLower(name)
	for _, ext := range []string{".htm", ".html", ".shtm", ".shtml"} {
		if strings.HasSuffix(lower, ext) {
			return "text/html"
		}
	}
	return ctype
}

// pdfBufs keeps the buffers PDF parts are read into, up to maxPooledPDF: the
// links are copied out of them, and a buffer grown for one PDF serves the
// next message's.
var pdfBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

const maxPooledPDF = 4 << 20

// Parse reads a whole message into the model. It only returns an error when r itself
// fails; a malformed message gives Problems.
func Parse(r io.Reader) (*Message, error) {
	m := &Message{}
	textTotal, pdfTotal, inflateBudget := 0, 0, maxPDFInflated
	h, problems, err := walk(r, func(l Leaf, body io.Reader) error {
		if len(m.Parts) >= maxParts {
			return nil
		}
		part := Part{ContentType: l.ContentType, EffectiveType: effectiveType(l.ContentType, l.Filename), Filename: l.Filename, Depth: l.Depth, Header: l.Header, Alternative: l.Alternative, Raw: l.Raw, Verbatim: l.Verbatim}
		if strings.HasPrefix(part.EffectiveType, "text/") && textTotal < maxTotalText {
			limit := min(maxTextBytes, maxTotalText-textTotal)
			buf := copyBufs.Get().(*[]byte)
			text, err := readText(io.LimitReader(body, int64(limit)+1), *buf)
			copyBufs.Put(buf)
			if err != nil {
				return err
			}
			if len(text) > limit {
				text, part.Truncated = text[:limit], true
			}
			part.Text = text
			textTotal += len(text)
			if l.Undecoded != nil {
				part.Undecoded = string(l.Undecoded.Bytes())
				textTotal += len(part.Undecoded)
			}
			if part.EffectiveType == "text/html" && text != "" {
				part.html = &sharedHTML{}
			}
		}
		switch l.ContentType {
		case "image/gif", "image/png", "image/jpeg", "image/jpg":
			if c, _, err := image.DecodeConfig(body); err == nil {
				part.Width, part.Height = c.Width, c.Height
			}
		}
		if isPDFPart(l.ContentType, l.Filename) && pdfTotal < maxPDFBytes {
			buf := pdfBufs.Get().(*bytes.Buffer)
			buf.Reset()
			_, err := buf.ReadFrom(io.LimitReader(body, int64(maxPDFBytes-pdfTotal)))
			b := buf.Bytes()
			if err == nil {
				pdfTotal += len(b)
				part.Links = pdfLinksWithin(b, &inflateBudget)
				part.Encrypted = pdfEncrypted(b)
			}
			if buf.Cap() <= maxPooledPDF {
				pdfBufs.Put(buf)
			}
			if err != nil {
				return err
			}
		} else if isZipPart(l.ContentType, l.Filename) {
			part.Encrypted = zipEncrypted(body)
		}
		m.Parts = append(m.Parts, part)
		return nil
	}, true)
	m.Header, m.Problems = h, problems
	if len(m.Parts) >= maxParts {
		m.Problems = append(m.Problems, fmt.Sprintf("more than %d parts: the rest not kept", maxParts))
	}
	return m, err
}
