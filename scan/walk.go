package scan

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"slices"
	"strings"
	"sync"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/textproto"
)

// Leaf describes one leaf part of the MIME tree as Walk reaches it.
type Leaf struct {
	ContentType string // lower case, without parameters
	Filename    string
	Depth       int // 0 for a message that is not multipart
	// Header is the part's own MIME header (the message's header for a message
	// that is not multipart): charset, transfer encoding, disposition.
	Header textproto.Header
	// Alternative numbers the multipart/alternative the part is in (1 for the
	// first in the message); 0 when it is in none.
	Alternative int
	// Raw measures the part's raw lines, for text parts and quoted-printable
	// ones (nil for others): complete once the visitor returns and the walk
	// has read the rest of the part.
	Raw *RawStats
	// Verbatim: no transfer encoding on the part nor on a message/rfc822 around
	// it, so its bytes are in the raw message as they are (before any charset
	// conversion of its text). An unknown encoding counts as one.
	Verbatim bool
	// Undecoded, read as text (Parse) in a 7-bit charset whose decoding
	// makes 8-bit text (sevenBitCharset), keeps the part's bytes before that
	// decoding, as far as the visitor read: complete once it has read the part
	// to its end. nil for any other part.
	Undecoded *Capture
}

// Capture keeps the first max bytes read through it (a longer text keeps its
// start, where prefix, below, keeps a multipart's body whole or not at all).
type Capture struct {
	r   io.Reader
	buf []byte
	max int
}

func (c *Capture) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	if keep := min(n, c.max-len(c.buf)); keep > 0 {
		c.buf = append(c.buf, b[:keep]...)
	}
	return n, err
}

// Bytes are the bytes kept.
func (c *Capture) Bytes() []byte { return c.buf }

// sevenBitCharset reports whether a charset writes its text in 7-bit bytes
// that its decoding turns into 8-bit UTF-8: ISO-2022's escape sequences
// (Japanese mail's usual charset), HZ, UTF-7. SpamAssassin's rawbody rules read
// a part's bytes before its charset is decoded, so for such a part a rule
// looking for 8-bit bytes (__L_BODY_8BITS, and CTE_8BIT_MISMATCH after it)
// finds none; in the decoded text it would on every Japanese message.
func sevenBitCharset(cs string) bool {
	cs = strings.ToLower(strings.TrimSpace(cs))
	return strings.HasPrefix(cs, "iso-2022-") || cs == "hz-gb-2312" || cs == "utf-7" || cs == "csiso2022jp"
}

// Visit is called for every leaf with its decoded body (transfer encoding undone; text
// in a known charset converted to UTF-8). It may read as much of body as it wants; the
// rest is skipped. A decoding error ends body early (and becomes a problem); only a
// failure of the underlying reader reaches the visitor as an error. An error the
// visitor returns stops the walk and is returned by Walk.
type Visit func(l Leaf, body io.Reader) error

// Walk reads a message once, streaming, and calls visit for each leaf part, descending
// into multiparts and attached messages (message/rfc822). It returns the top-level
// header and what was malformed; its error is the reader's or the visitor's.
//
// A text leaf's body is its bytes in its declared charset converted to UTF-8, line
// ends as they came: what a virus scanner is to see. Parse reads text otherwise.
func Walk(r io.Reader, visit Visit) (textproto.Header, []string, error) {
	return walk(r, visit, false)
}

// walk is Walk; asText: a text leaf's body is its text as SpamAssassin reads it
// (Parse): LF line ends (crlfReader), the charset relabel chooses.
func walk(r io.Reader, visit Visit, asText bool) (textproto.Header, []string, error) {
	// textproto.ReadHeader is unbounded: cap the header block as go-message's Read does.
	lr := &io.LimitedReader{R: markReads{r}, N: maxHeaderBytes}
	br := getReader(lr)
	defer readers.Put(br)
	h, err := textproto.ReadHeader(br)
	lr.N = math.MaxInt64
	w := walker{visit: visit, asText: asText}
	if err != nil {
		if isReadErr(err) {
			return h, nil, err
		}
		// A header block that does not parse: what follows is read as the body, so
		// content checks still see it.
		w.problem("header: %v", err)
	}
	err = w.entity(h, br, 0, 0, true)
	return h, w.problems, err
}

// readers are the walk's 32 KB buffers, reused: one for the message and one for
// each multipart in it were most of a check's garbage besides the rules'. Nothing
// a walk hands out is read after Walk returns.
var readers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 32*1024) }}

func getReader(r io.Reader) *bufio.Reader {
	br := readers.Get().(*bufio.Reader)
	br.Reset(r)
	return br
}

type walker struct {
	visit        Visit
	asText       bool // (walk's)
	problems     []string
	leaves       int
	alternatives int // multipart/alternative entities seen
}

func (w *walker) problem(format string, args ...any) {
	if len(w.problems) < 100 {
		w.problems = append(w.problems, fmt.Sprintf(format, args...))
	}
}

// lastOnly is h with only the last of each named field, when a field is there
// more than once: a header with two Content-Types is read by the last, as
// SpamAssassin reads it (go-message takes the first). Spam writes two so that
// a filter and a mail reader see different parts; clamd also scans the raw
// message with its own MIME parser (scan_whole_message), so both readings are
// scanned for viruses.
func lastOnly(h textproto.Header, fields ...string) textproto.Header {
	copied := false
	for _, f := range fields {
		vs := h.Values(f)
		if len(vs) < 2 {
			continue
		}
		if !copied {
			h, copied = h.Copy(), true
		}
		h.Del(f)
		h.Add(f, vs[len(vs)-1])
	}
	return h
}

// entity builds the decoding entity for a header and raw body, then walks it;
// verbatim says whether raw is the message's bytes as they are.
func (w *walker) entity(h textproto.Header, raw io.Reader, depth, alt int, verbatim bool) error {
	orig := h
	h = lastOnly(h, "Content-Type", "Content-Transfer-Encoding")
	mh := message.Header{Header: h}
	ctype, params, cterr := contentType(mh)
	lc := strings.ToLower(ctype)
	multipart := strings.HasPrefix(lc, "multipart/")
	cte := strings.ToLower(strings.TrimSpace(h.Get("Content-Transfer-Encoding")))
	// go-message decodes every body but a multipart's (whose parts are decoded each
	// by their own header), as the walk does.
	verbatim = verbatim && (multipart || identity(cte))
	var stats *RawStats
	qp := strings.Contains(cte, "quoted-printable")
	if (ctype == "" || strings.HasPrefix(lc, "text/") || qp) && !multipart && !strings.HasPrefix(lc, "message/") {
		stats = &RawStats{}
		raw = newRawStatsReader(raw, stats, qp)
	}
	if !multipart && cte == "base64" {
		// Attachments are mostly base64: decode it in bulk ourselves, several times
		// faster than go-message's byte-filtering decoder (charsets still go-message's).
		h = h.Copy()
		h.Del("Content-Transfer-Encoding")
		mh = message.Header{Header: h}
		b := newBase64Reader(raw)
		defer b.release() // (the walk reads the part through before it returns)
		raw = b
	}
	if !multipart && cte == "quoted-printable" {
		// Decoded here too: go-message's decoder (the standard library's) stops
		// at a long line or a control character (qpReader).
		h = h.Copy()
		h.Del("Content-Transfer-Encoding")
		mh = message.Header{Header: h}
		q := newQPReader(raw)
		defer q.release()
		raw = q
	}
	var undecoded *Capture
	if cterr != nil && w.asText && !multipart && strings.HasPrefix(lc, "text/") {
		// A text part whose Content-Type the standard parser refuses is read
		// in the charset the lenient reading found, or by the guess for none,
		// as SpamAssassin reads it: go-message decodes no charset from such a
		// field, and the part's 8-bit text had reached the rules as raw bytes
		// (a Big5 spam's HTML, which SpamAssassin reads as Windows-1252). The
		// name stays, for the part's filename (an "order.html" is HTML).
		clean := map[string]string{}
		for _, k := range []string{"charset", "name"} {
			if v := params[k]; v != "" {
				clean[k] = v
			}
		}
		if v := mime.FormatMediaType(lc, clean); v != "" {
			w.problem("content-type %q: %v (read as %s)", h.Get("Content-Type"), cterr, lc)
			h = h.Copy()
			h.Set("Content-Type", v)
			mh = message.Header{Header: h}
			cterr = nil
		}
	}
	if w.asText && !multipart && strings.HasPrefix(lc, "text/") {
		c := newCRLFReader(raw) // line ends as SpamAssassin decodes them
		defer c.release()
		raw = c
		if cterr == nil && sevenBitCharset(params["charset"]) {
			undecoded = &Capture{r: raw, max: maxTextBytes}
			raw = undecoded
		}
		if cterr == nil {
			var release func()
			h, raw, release = relabel(h, ctype, params, raw)
			defer release()
			mh = message.Header{Header: h}
		}
	}
	e, err := message.New(mh, raw)
	if e == nil {
		w.problem("entity: %v", err)
		return w.leaf(Leaf{ContentType: "application/octet-stream", Depth: depth, Header: orig, Alternative: alt, Raw: stats, Verbatim: verbatim}, raw)
	}
	if err != nil {
		// Unknown charset or transfer encoding: the body is still readable, raw.
		w.problem("entity: %v", err)
	}
	return w.walk(e, orig, depth, alt, stats, verbatim, undecoded)
}

// identity reports whether a Content-Transfer-Encoding (lower case, trimmed)
// leaves the bytes as they are: none, 7bit, 8bit or binary.
func identity(cte string) bool {
	switch cte {
	case "", "7bit", "8bit", "binary":
		return true
	}
	return false
}

// walk walks one decoding entity; h is its header as the message has it, stats
// what measures its raw lines (entity's).
func (w *walker) walk(e *message.Entity, h textproto.Header, depth, alt int, stats *RawStats, verbatim bool, undecoded *Capture) error {
	ctype, params, cerr := contentType(e.Header)
	if cerr != nil {
		w.problem("content-type %q: %v (read as %s)", e.Header.Get("Content-Type"), cerr, ctype)
	}
	if ctype == "" {
		ctype = "text/plain"
	}
	ctype = strings.ToLower(ctype)
	leaf := Leaf{ContentType: ctype, Filename: filename(e.Header), Depth: depth, Header: h, Alternative: alt, Raw: stats, Verbatim: verbatim, Undecoded: undecoded}
	if depth >= maxDepth {
		w.problem("nesting deeper than %d: the rest read as one part", maxDepth)
		return w.leaf(leaf, e.Body)
	}
	switch {
	case strings.HasPrefix(ctype, "multipart/"):
		if params["boundary"] == "" {
			w.problem("%s without boundary: read as text", ctype)
			leaf.ContentType = "text/plain"
			return w.leaf(leaf, e.Body)
		}
		// go-message leaves a multipart body undecoded; its parts are raw here and
		// each is decoded by entity. Until the first part is found the body is kept
		// (up to maxUnsplit): a multipart whose boundary never occurs (spam often
		// misspells it) is then read as one text part, so content checks see it.
		inner := alt
		if ctype == "multipart/alternative" {
			w.alternatives++
			inner = w.alternatives
		}
		pre := &prefix{r: e.Body, max: maxUnsplit}
		mr := newMultipartReader(pre, params["boundary"])
		defer readers.Put(mr.br)
		for first := true; ; first = false {
			partHeader, part, err := mr.NextPart()
			if first && err != nil && !isReadErr(err) && pre.buf != nil {
				w.problem("%s: boundary %q not found: read as text", ctype, params["boundary"])
				leaf.ContentType = "text/plain"
				return w.leaf(leaf, bytes.NewReader(pre.buf))
			}
			pre.buf, pre.max = nil, 0
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				if isReadErr(err) {
					return err
				}
				w.problem("multipart: %v", err)
				return nil
			}
			if mr.headerErr != nil {
				w.problem("%s: part header: %v", ctype, mr.headerErr)
			}
			if err := w.entity(partHeader, part, depth+1, inner, verbatim); err != nil {
				return err
			}
		}
	case ctype == "message/rfc822" || ctype == "message/global":
		br := bufio.NewReader(e.Body)
		inner, err := textproto.ReadHeader(br)
		if err != nil {
			if isReadErr(err) {
				return err
			}
			w.problem("message/rfc822: header: %v", err)
		}
		return w.entity(inner, br, depth+1, 0, verbatim)
	default:
		return w.leaf(leaf, e.Body)
	}
}

// maxUnsplit is how much of a multipart body is kept until its first part is found.
const maxUnsplit = 1 << 20

// prefix keeps what is read through it, up to max bytes; past that it keeps nothing
// (buf is nil).
type prefix struct {
	r   io.Reader
	buf []byte
	max int
}

func (p *prefix) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if p.max > 0 {
		if len(p.buf)+n > p.max {
			p.buf, p.max = nil, 0
		} else {
			p.buf = append(p.buf, b[:n]...)
			if p.buf == nil {
				p.buf = []byte{}
			}
		}
	}
	return n, err
}

func (w *walker) leaf(l Leaf, body io.Reader) error {
	w.leaves++
	if w.leaves > maxParts {
		// Still read through: the reader's own failure must not go unnoticed.
		_, err := io.Copy(io.Discard, body)
		return ReadFailure(err)
	}
	g := &guard{r: body, w: w, ctype: l.ContentType}
	if err := w.visit(l, g); err != nil {
		return err
	}
	_, err := io.Copy(io.Discard, g)
	return err
}

// guard ends a part's body at its first decoding error, recording it as a problem,
// and lets only the underlying reader's failures through.
type guard struct {
	r     io.Reader
	w     *walker
	ctype string
	done  bool
}

func (g *guard) Read(p []byte) (int, error) {
	if g.done {
		return 0, io.EOF
	}
	n, err := g.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) && !isReadErr(err) {
		g.w.problem("%s: decode: %v", g.ctype, err)
		g.done = true
		return n, io.EOF
	}
	return n, err
}

// FileNames are the distinct names a part's header gives its file: the
// disposition's filename, then the type's name (mail readers take either, so a
// sender can put a harmless one where a scanner looks first), RFC 2231 and RFC
// 2047 decoded. A field that does not parse gives every value it has for them
// (looseParams): one that names its file twice is one Go's parser refuses, and
// readers differ on which they take.
func FileNames(h textproto.Header) []string {
	mh := message.Header{Header: h}
	var names []string
	add := func(n string) {
		if n == "" {
			return
		}
		if strings.Contains(n, "=?") {
			if d, err := DecodeHeader(n); err == nil {
				n = d
			}
		}
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	if _, params, err := mh.ContentDisposition(); err == nil {
		add(params["filename"])
	} else if v := h.Get("Content-Disposition"); v != "" {
		for _, n := range looseParams(v, "filename") {
			add(n)
		}
	}
	// Some mailers write the name as filename= in Content-Type, and readers take it.
	if _, params, err := mh.ContentType(); err == nil {
		add(params["name"])
		add(params["filename"])
	} else if v := h.Get("Content-Type"); v != "" {
		for _, key := range []string{"name", "filename"} {
			for _, n := range looseParams(v, key) {
				add(n)
			}
		}
	}
	return names
}

func filename(h message.Header) string {
	if _, params, err := h.ContentDisposition(); err == nil && params["filename"] != "" {
		return params["filename"]
	}
	if _, params, _ := contentType(h); params["name"] != "" {
		return params["name"]
	}
	return ""
}

// ReadError marks a failure of the underlying reader (the spool), as opposed to a
// malformed message: only the former is an error of Parse and Walk.
type ReadError struct{ Err error }

func (e *ReadError) Error() string { return "scan: read message: " + e.Err.Error() }
func (e *ReadError) Unwrap() error { return e.Err }

func isReadErr(err error) bool {
	var re *ReadError
	return errors.As(err, &re)
}

// ReadFailure is err when it is the underlying reader's failure (a ReadError),
// nil otherwise: a malformed message, or its end. A reader of a part's body
// (Visit's) that gives up on what the sender wrote returns this of its error.
func ReadFailure(err error) error {
	if isReadErr(err) {
		return err
	}
	return nil
}

// markReads tags the underlying reader's failures, so they are told apart from the
// decoding errors of a malformed message.
type markReads struct{ r io.Reader }

func (m markReads) Read(p []byte) (int, error) {
	n, err := m.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		err = &ReadError{Err: err}
	}
	return n, err
}
