// Package banned is the banned-attachment check: it refuses mail that carries a
// file of a type that delivers malware (a program, a script, a shortcut Windows
// runs when it is opened, an SVG image that runs script in the browser), by the
// file's name, its declared MIME type, its content (a Windows executable
// whatever its name says) and the names inside
// ZIP, RAR, 7-Zip and tar archives and gzip files, and in the archives they hold
// down to eight levels, as amavisd-new's banned_filename_re and the big mail
// providers' attachment rules do. A virus scanner misses new samples and cannot
// read an encrypted archive; the type of file needs no signature.
package banned

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"unicode"

	"github.com/emersion/go-message/textproto"

	"github.com/postern/postern/filter"
	"github.com/postern/postern/recipients"
	"github.com/postern/postern/scan"
)

// DefaultExtensions are the file name extensions Gmail refuses in mail (its
// published list, 2024): programs, scripts, installers, shortcuts and disk
// images Windows opens with a double click. A sender who meets them here has
// met them there.
var DefaultExtensions = []string{
	"ade", "adp", "apk", "appx", "appxbundle", "bat", "cab", "chm", "cmd", "com", "cpl",
	"diagcab", "diagcfg", "diagpack", "dll", "dmg", "ex", "ex_", "exe", "hta", "img",
	"ins", "iso", "isp", "jar", "jnlp", "js", "jse", "lib", "lnk", "mde", "mjs", "msc",
	"msi", "msix", "msixbundle", "msp", "mst", "nsh", "pif", "ps1", "scr", "sct", "shb",
	"sys", "vb", "vbe", "vbs", "vhd", "vxd", "wsc", "wsf", "wsh", "xll",
}

// DefaultTypes are the MIME types of Windows programs and HTML applications
// (amavisd-new's Debian defaults, and the names the types go by elsewhere).
var DefaultTypes = []string{
	"application/x-msdownload", "application/x-msdos-program", "application/x-dosexec",
	"application/vnd.microsoft.portable-executable", "application/hta",
	"application/x-ms-shortcut",
}

// Check refuses a message with a banned attachment. It implements filter.Check.
type Check struct {
	// Extensions are banned file name extensions, without the dot (a leading
	// one is dropped), case ignored.
	Extensions []string
	// Types are banned declared MIME types, lower case, without parameters.
	Types []string
	// Executables bans Windows programs (PE files) by their content, whatever
	// their name and type.
	Executables bool
	// InsideArchives applies Extensions to the names inside ZIP, RAR, 7-Zip and
	// tar archives and gzip files (found by their content), encrypted ones too:
	// their names are readable; and to those of the archives they hold, down
	// to maxDepth levels (inArchive).
	InsideArchives bool
	// ActiveSVG bans an SVG image that runs script or embeds a web page
	// (svgActive), found by its name, its type or its content.
	ActiveSVG bool
	// Reply is the text after 550 5.7.1: {name} is the file's name, {ref} the
	// message's reference (the pipeline fills it in).
	Reply string
	// ExemptRcpts are recipients who take banned files (an IT department's
	// address, a malware analyst's; nil: none). Their mail is delivered marked,
	// as a role account's is; the envelope checks keep them in messages of
	// their own (Exempt), since one reply at end of data answers for every
	// recipient.
	ExemptRcpts *recipients.Table

	once sync.Once // ext is made at the first message: checks run side by side
	ext  map[string]bool
}

// Name implements filter.Check.
func (c *Check) Name() string { return "banned" }

// ScansForViruses keeps the check running for allow-listed mail, as the virus
// scan does: an allow-listed sender's machine can be the one infected.
func (c *Check) ScansForViruses() {}

// Finding is what was banned and why.
type Finding struct {
	Name string // the file name as the message gives it ("" when it has none)
	Why  string // "extension .exe", "type application/x-msdownload", "Windows program", …
	In   string // the archive it is in, or ""
}

func (f Finding) String() string {
	s := fmt.Sprintf("%q: %s", f.Name, f.Why)
	if f.In != "" {
		s += fmt.Sprintf(" (in %q)", f.In)
	}
	return s
}

// Check implements filter.Check. Names and types come from the parse; only a
// message with an attachment is read again, for the content of its parts.
func (c *Check) Check(ctx context.Context, m *filter.Message) filter.Result {
	res := filter.Result{Check: c.Name()}
	f, err := c.Find(ctx, m)
	if err != nil {
		res.Err = fmt.Errorf("banned: %w", err)
		return res
	}
	if f == nil {
		return res
	}
	name := f.Name
	if f.In != "" {
		name = f.In
	}
	res.Headers = []filter.Header{{Name: "X-Postern-Banned", Value: headerSafe(f.String())}}
	res.Notes = []string{"banned attachment " + f.String()}
	if r := c.exempt(m.Env); r != "" {
		res.Notes = append(res.Notes, "delivered: "+r+" takes banned attachments ([attachments] exempt_rcpts)")
		res.Marked = filter.ReasonBanned
		return res
	}
	res.Refuse = &filter.Refusal{Reason: filter.ReasonBanned, Text: strings.ReplaceAll(c.Reply, "{name}", shortName(name)), Detail: f.String()}
	return res
}

// exempt returns the first of env's recipients in ExemptRcpts, or "". The
// envelope checks keep recipients who take banned files apart from those who do
// not (Exempt), so the first one found speaks for all.
func (c *Check) exempt(env *filter.Envelope) string {
	if env == nil {
		return ""
	}
	for _, r := range env.Rcpts {
		if c.Exempt(r) {
			return r
		}
	}
	return ""
}

// Exempt reports whether rcpt is in ExemptRcpts.
func (c *Check) Exempt(rcpt string) bool { return c.ExemptRcpts.Lookup(rcpt) != nil }

// Find returns the first banned attachment of m, or nil.
func (c *Check) Find(ctx context.Context, m *filter.Message) (*Finding, error) {
	c.once.Do(func() {
		c.ext = make(map[string]bool, len(c.Extensions))
		for _, e := range c.Extensions {
			c.ext[strings.ToLower(strings.TrimPrefix(e, "."))] = true
		}
	})
	attached := false
	if m.Parsed != nil {
		for _, p := range m.Parsed.Parts {
			if f := c.byHeader(p.Header, p.ContentType); f != nil {
				return f, nil
			}
			attached = attached || isAttachment(p.ContentType, p.Filename)
		}
	}
	if !attached || !(c.Executables || c.InsideArchives || c.ActiveSVG) {
		return nil, nil
	}
	return c.byContent(ctx, m)
}

// isAttachment says whether a part can be a file a reader opens: anything but
// text without a name. Text parts are the message itself.
func isAttachment(ctype, filename string) bool {
	return filename != "" || !strings.HasPrefix(ctype, "text/") && !strings.HasPrefix(ctype, "multipart/") && ctype != "message/rfc822"
}

// byHeader judges a part by what its header says: its names and its declared
// type.
func (c *Check) byHeader(h textproto.Header, ctype string) *Finding {
	names := scan.FileNames(h)
	for _, n := range names {
		if why := c.badName(n); why != "" {
			return &Finding{Name: n, Why: why}
		}
	}
	for _, t := range c.Types {
		if ctype == t {
			name := ""
			if len(names) > 0 {
				name = names[0]
			}
			return &Finding{Name: name, Why: "type " + ctype}
		}
	}
	return nil
}

// badName says why a file name is banned, or "".
func (c *Check) badName(name string) string {
	for _, r := range name {
		if bidiControl(r) {
			// It shows the name's end reversed ("invoice<RLO>fdp.exe" reads
			// "invoiceexe.pdf"): no file name needs it, and it is written to
			// hide an extension.
			return fmt.Sprintf("a name written to read backwards (U+%04X)", r)
		}
	}
	if e := extension(name); e != "" && c.ext[e] {
		return "extension ." + e
	}
	return ""
}

func bidiControl(r rune) bool {
	return r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069 || r == 0x200e || r == 0x200f || r == 0x061c
}

// extension is a file name's last extension, lower case, as Windows reads it:
// trailing dots and spaces do not count ("x.exe. " is a program).
func extension(name string) string {
	name = strings.TrimRightFunc(name, func(r rune) bool { return r == '.' || unicode.IsSpace(r) })
	i := strings.LastIndexByte(name, '.')
	if i < 0 || strings.ContainsAny(name[i:], `/\`) {
		return ""
	}
	return strings.ToLower(name[i+1:])
}

// sniffLen is how much of a part is read to tell a program: its DOS header
// points to the PE header, which linkers put within the first few hundred bytes.
const sniffLen = 4096

// byContent reads the message's attachments for what their names do not say.
func (c *Check) byContent(ctx context.Context, m *filter.Message) (*Finding, error) {
	var found *Finding
	head := make([]byte, sniffLen)
	visit := func(l scan.Leaf, body io.Reader) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !isAttachment(l.ContentType, l.Filename) {
			return nil
		}
		n, err := io.ReadFull(body, head)
		if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
			return err
		}
		b := head[:n]
		if c.Executables && isPE(b) {
			found = &Finding{Name: l.Filename, Why: "a Windows program"}
			return errFound
		}
		if c.ActiveSVG && isSVG(l, b) {
			what, err := svgActive(io.MultiReader(bytes.NewReader(b), body))
			if what != "" {
				found = &Finding{Name: l.Filename, Why: "an SVG image with " + what}
				return errFound
			}
			return err
		}
		if !c.InsideArchives {
			return nil
		}
		budget := int64(maxUnpacked)
		f, err := c.inArchive(b, io.MultiReader(bytes.NewReader(b), body), l.Filename, 1, &budget)
		if f != nil {
			found = f
			return errFound
		}
		return err
	}
	_, _, err := scan.Walk(m.RawReader(), visit)
	if found != nil {
		return found, nil
	}
	return nil, err
}

var errFound = errors.New("found")

// maxDepth is how deep archives are opened: an archive a part is (1), one
// inside it (2), and so on, as malware is mailed to get past checks that open
// only the first, or the first two. Each level's bytes come out of the part's
// one budget (maxUnpacked); the depth bounds what a small archive that holds
// itself, a zip quine, could otherwise nest. amavisd-new opens 14 levels,
// clamd 17 (MaxRecursion); what lies deeper is clamd's to unpack.
const maxDepth = 8

// inArchive returns the first file in the archive r streams whose name is
// banned; nil when none is, or when r is no archive this check reads. head is
// r's first bytes, which r still yields; name is the archive's own name. An
// archive inside it, told by a name an unpacker opens (nestedExt), is opened in
// turn down to maxDepth, its files named by their path ("inner.zip/run.exe"),
// unpacking at most *budget bytes over all of them. Only the spool's failure is
// an error (scan.ReadFailure): a broken archive is the sender's.
func (c *Check) inArchive(head []byte, r io.Reader, name string, depth int, budget *int64) (*Finding, error) {
	var found *Finding
	entry := func(n string, open opener) error {
		if why := c.badName(n); why != "" {
			found = &Finding{Name: n, Why: why, In: name}
			return errFound
		}
		if c.ActiveSVG && open != nil && extension(n) == "svg" && *budget > 0 {
			what, err := svgEntry(open, budget)
			if what != "" {
				found = &Finding{Name: n, Why: "an SVG image with " + what, In: name}
				return errFound
			}
			return err
		}
		if open == nil || depth >= maxDepth || !nestedExt[extension(n)] || *budget <= 0 {
			return nil
		}
		rc, err := open()
		if err != nil {
			return nil // a method the unpacker does not know: the sender's
		}
		defer rc.Close()
		content := &budgeted{r: rc, left: budget}
		h := make([]byte, sniffLen)
		k, err := io.ReadFull(content, h)
		if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
			return scan.ReadFailure(err)
		}
		f, err := c.inArchive(h[:k], io.MultiReader(bytes.NewReader(h[:k]), content), n, depth+1, budget)
		if f != nil {
			f.In = name + "/" + f.In
			found = f
			return errFound
		}
		return err
	}
	var err error
	switch {
	case isGzip(head):
		names := gzipNames(head, name)
		tarred := gzippedTar(name, names)
		var open opener
		if !tarred {
			// The one file it holds, unpacked within the part's budget: an
			// SVG image (invoice.svg.gz) or an archive (a.zip.gz) gzipped
			// to get past checks that read only the part itself.
			open = gunzipOnce(r)
		}
		for _, n := range names {
			if err := entry(n, open); err != nil {
				return found, nil
			}
		}
		if tarred {
			err = gzipTarEntries(r, budget, entry)
		}
	case isTar(head):
		err = tarEntries(r, entry)
	case isZip(head):
		err = zipEntries(r, entry)
	case isRar(head):
		err = rarEntries(head, r, budget, entry)
	case isSevenZip(head):
		err = sevenZipEntries(head, r, budget, entry)
	}
	if found != nil {
		return found, nil
	}
	return nil, err
}

// gunzipOnce opens the file the gzip stream r holds, once: r is read as it
// arrives, so a second name of the same file (gzipNames) finds it read.
func gunzipOnce(r io.Reader) opener {
	opened := false
	return func() (io.ReadCloser, error) {
		if opened {
			return nil, errors.New("banned: the gzip file was read already")
		}
		opened = true
		return gzip.NewReader(r)
	}
}

// entryFunc is given each file an archive lists, with what opens its content
// (nil when it cannot be: an encrypted file, RAR 1.5–4's compression, a ZIP too
// large to keep whole). An error stops the listing and is returned from it.
type entryFunc func(name string, open opener) error

type opener func() (io.ReadCloser, error)

// nestedExt are the extensions of the archives opened inside another: those
// Windows or a common unpacker opens with a double click, which is what the
// sender counts on.
var nestedExt = map[string]bool{"zip": true, "rar": true, "7z": true, "tar": true, "tgz": true, "gz": true}

// opensInside says whether inArchive may open a file of this name: an archive
// (nestedExt) or an SVG image.
func opensInside(name string) bool {
	e := extension(name)
	return e == "svg" || nestedExt[e]
}

// budgeted reads r while *left, shared by every archive of one part, lasts:
// a small attachment can unpack to gigabytes.
type budgeted struct {
	r    io.Reader
	left *int64
}

func (b *budgeted) Read(p []byte) (int, error) {
	if *b.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > *b.left {
		p = p[:*b.left]
	}
	n, err := b.r.Read(p)
	*b.left -= int64(n)
	return n, err
}

// isPE says whether b starts a Windows program: a DOS header ("MZ") whose
// e_lfanew points to a PE signature.
func isPE(b []byte) bool {
	if len(b) < 0x40 || b[0] != 'M' || b[1] != 'Z' {
		return false
	}
	off := binary.LittleEndian.Uint32(b[0x3c:])
	return off >= 0x40 && uint64(off)+4 <= uint64(len(b)) && string(b[off:off+4]) == "PE\x00\x00"
}

func isZip(b []byte) bool {
	return bytes.HasPrefix(b, []byte("PK\x03\x04")) || bytes.HasPrefix(b, []byte("PK\x05\x06"))
}

func isGzip(b []byte) bool { return len(b) >= 10 && b[0] == 0x1f && b[1] == 0x8b && b[2] == 8 }

// gzipNames are the names of the one file a gzip stream b starts holds: the
// original name its header may keep (RFC 1952's FNAME, in ISO-8859-1), and the
// part's name without its .gz, which is what gunzip and the archive tools a
// reader opens it with name it ("invoice.exe.gz" unpacks to "invoice.exe"); a
// compressed SVG image (.svgz, SVG's own name for one) is an .svg, which
// viewers show unpacked.
func gzipNames(b []byte, partName string) []string {
	var names []string
	switch lower := strings.ToLower(partName); {
	case strings.HasSuffix(lower, ".gz") || strings.HasSuffix(lower, ".z"):
		names = append(names, partName[:strings.LastIndexByte(partName, '.')])
	case strings.HasSuffix(lower, ".svgz"):
		names = append(names, partName[:len(partName)-1])
	}
	flags, pos := b[3], 10
	if flags&0x04 != 0 { // FEXTRA
		if pos+2 > len(b) {
			return names
		}
		pos += 2 + int(binary.LittleEndian.Uint16(b[pos:]))
	}
	if flags&0x08 != 0 && pos < len(b) { // FNAME
		if end := bytes.IndexByte(b[pos:], 0); end > 0 {
			names = append(names, scan.Latin1(b[pos:pos+end]))
		}
	}
	return names
}

func shortName(s string) string {
	const max = 60
	if r := []rune(s); len(r) > max {
		return string(r[:max]) + "..."
	}
	return s
}

// headerSafe keeps a header value on one line.
func headerSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}
