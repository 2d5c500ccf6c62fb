package scan

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// pdfOf writes a small PDF file of objs (each an object's body, numbered from
// 1), as a PDF writer lays one out, less the cross-reference table, which
// PDFLinks does not read.
func pdfOf(objs ...string) []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
	for i, o := range objs {
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	b.WriteString("trailer\n<< /Root 1 0 R >>\n%%EOF\n")
	return b.Bytes()
}

// objStm is an object stream holding objs, compressed with zlib, its
// dictionary's keys in the order given.
func objStm(keys string, objs ...string) string {
	var plain bytes.Buffer
	for _, o := range objs {
		plain.WriteString(o + "\n")
	}
	var z bytes.Buffer
	w := zlib.NewWriter(&z)
	w.Write(plain.Bytes())
	w.Close()
	return fmt.Sprintf("<< %s /Length %d >>\nstream\r\n%s\nendstream", keys, z.Len(), z.Bytes())
}

func annot(action string) string {
	return "<< /Type /Annot /Subtype /Link /Rect [0 0 612 792] /A " + action + " >>"
}

// TestPDFLinks: the links of a PDF's URI actions, written as literal strings
// (escapes, octal, balanced parentheses, a continued line), hexadecimal ones
// (UTF-16 too), in objects or in compressed object streams (its /Filter
// before or after its /Type); each once, at most 20. An encrypted file, a
// file that is no PDF, strings with no dot or with control characters, and
// other names that start with /URI give none.
func TestPDFLinks(t *testing.T) {
	many := make([]string, 25)
	var manyWant []string
	for i := range many {
		many[i] = annot(fmt.Sprintf("<< /S /URI /URI (https://x%d.example/) >>", i))
		if i < 20 {
			manyWant = append(manyWant, fmt.Sprintf("https://x%d.example/", i))
		}
	}
	tests := []struct {
		name string
		pdf  []byte
		want []string
	}{
		{"a literal string", pdfOf(annot("<< /S /URI /URI (https://login.example.net/a?b=1) >>")), []string{"https://login.example.net/a?b=1"}},
		{"the action's keys run together", pdfOf(annot("<</S/URI/URI(http://x.example/p)>>")), []string{"http://x.example/p"}},
		{"escapes and octal", pdfOf(annot(`<< /S /URI /URI (https\072\057\057pay\056example\057\077cpf\0751 \(x\) a\\b) >>`)), []string{`https://pay.example/?cpf=1 (x) a\b`}},
		{"balanced parentheses", pdfOf(annot("<< /S /URI /URI (https://a.example/f(1)) >>")), []string{"https://a.example/f(1)"}},
		{"a continued line", pdfOf(annot("<< /S /URI /URI (https://a.exa\\\nmple/) >>")), []string{"https://a.example/"}},
		{"hexadecimal", pdfOf(annot("<< /S /URI /URI <68747470733A2F2F682E6578616D706C652F> >>")), []string{"https://h.example/"}},
		{"hexadecimal UTF-16", pdfOf(annot("<< /S /URI /URI <FEFF0068007400740070003A002F002F0075002E00650078002F> >>")), []string{"http://u.ex/"}},
		{"an object stream", pdfOf("<< /Type /Catalog >>", objStm("/Type /ObjStm /N 1 /First 4 /Filter /FlateDecode", annot("<< /S /URI /URI (https://in.objstm.example/) >>"))), []string{"https://in.objstm.example/"}},
		{"an object stream, its filter first", pdfOf(objStm("/Filter /FlateDecode /First 4 /N 1 /Type /ObjStm", annot("<< /S /URI /URI (https://first.example/) >>"))), []string{"https://first.example/"}},
		{"plain and packed, each once", pdfOf(annot("<< /S /URI /URI (https://a.example/) >>"), objStm("/Type /ObjStm /Filter /FlateDecode", annot("<< /S /URI /URI (https://a.example/) >>"), annot("<< /S /URI /URI (https://b.example/) >>"))), []string{"https://a.example/", "https://b.example/"}},
		{"at most 20", pdfOf(many...), manyWant},
		{"a stream not packed with zlib", pdfOf("<< /Type /ObjStm /Filter /LZWDecode /Length 3 >>\nstream\n/URI (https://no.example/)\nendstream"), []string{"https://no.example/"}},
		{"encrypted", append(pdfOf(annot("<< /S /URI /URI (https://enc.example/) >>")), "trailer << /Encrypt 9 0 R >>"...), nil},
		{"no PDF", []byte("<< /S /URI /URI (https://x.example/) >>"), nil},
		{"the magic past 1 KB", append(bytes.Repeat([]byte(" "), 2000), pdfOf(annot("<< /S /URI /URI (https://x.example/) >>"))...), nil},
		{"no dot", pdfOf(annot("<< /S /URI /URI (localhost) >>")), nil},
		{"binary", pdfOf(annot("<< /S /URI /URI (T\xff\xdb.\x0e}) >>")), nil},
		{"a control character", pdfOf(annot("<< /S /URI /URI (https://a.example/\x01) >>")), nil},
		{"another name", pdfOf("<< /URIActions (https://x.example/) /URI /Base >>"), nil},
		{"unterminated", pdfOf(annot("<< /S /URI /URI (https://a.example/")), nil},
		{"unterminated after a backslash", []byte("%PDF-1.4\n<< /S /URI /URI (https://a.example/\\"), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := PDFLinks(tc.pdf); !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			for n := 0; n < len(tc.pdf); n += max(1, len(tc.pdf)/53) {
				PDFLinks(tc.pdf[:n]) // a cut file: no panic
			}
		})
	}
}

// TestParsePDFLinks: Parse gives a part declared or named a PDF its links,
// base64 decoded; a text part that holds one's text does not get them.
func TestParsePDFLinks(t *testing.T) {
	pdf := base64.StdEncoding.EncodeToString(pdfOf(annot("<< /S /URI /URI (https://bit.example/x) >>")))
	msg := func(ctype, disp string) string {
		return "From: a@example.com\r\nSubject: invoice\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n" +
			"--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n" +
			"--b\r\nContent-Type: " + ctype + "\r\nContent-Transfer-Encoding: base64\r\n" + disp + "\r\n" + pdf + "\r\n--b--\r\n"
	}
	for _, tc := range []struct {
		name, ctype, disp string
		want              []string
	}{
		{"declared", "application/pdf", "", []string{"https://bit.example/x"}},
		{"named", "application/octet-stream", "Content-Disposition: attachment; filename=\"Invoice.PDF\"\r\n", []string{"https://bit.example/x"}},
		{"neither", "application/octet-stream", "", nil},
		{"broken base64: a malformed part, not a failure", "application/pdf", "X-Broken: yes\r\n", []string{"https://bit.example/x"}},
		{"a text part", "text/plain", "Content-Disposition: attachment; filename=\"a.pdf\"\r\n", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := msg(tc.ctype, tc.disp)
			if strings.Contains(tc.disp, "X-Broken") {
				raw = strings.Replace(raw, pdf[:8], pdf[:4]+"!!"+pdf[4:8], 1) + "@@@"
			}
			m, err := Parse(strings.NewReader(raw))
			if err != nil || len(m.Parts) != 2 {
				t.Fatalf("%v, %d parts", err, len(m.Parts))
			}
			if got := m.Parts[1].Links; !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			if strings.Contains(tc.disp, "X-Broken") && len(m.Problems) == 0 {
				t.Error("the broken base64 is no Problem")
			}
			if m.Parts[0].Links != nil {
				t.Errorf("the text part: %q", m.Parts[0].Links)
			}
		})
	}
}

func FuzzPDFLinks(f *testing.F) {
	f.Add(pdfOf(annot("<< /S /URI /URI (https://a.example/) >>")))
	f.Add(pdfOf(objStm("/Type /ObjStm /Filter /FlateDecode", annot("<< /S /URI /URI <FEFF0068> >>"))))
	f.Fuzz(func(t *testing.T, b []byte) {
		links := PDFLinks(b)
		if len(links) > maxPDFLinks {
			t.Errorf("%d links", len(links))
		}
		for _, l := range links {
			if !strings.Contains(l, ".") || len(l) > maxPDFLinkBytes {
				t.Errorf("link %q", l)
			}
		}
	})
}

// TestParseEncrypted: a PDF file that is encrypted, and a ZIP archive whose
// first file is (ZipCrypto or AES: the flag's bit 0), declared or named so,
// are Encrypted; the same unencrypted, or in a part neither declared nor
// named one, are not.
func TestParseEncrypted(t *testing.T) {
	encPDF := append(pdfOf("<< /Type /Catalog >>"), "trailer << /Root 1 0 R /Encrypt 2 0 R >>\n"...)
	plainPDF := pdfOf("<< /Type /Catalog >>")
	zipHead := func(flags byte) []byte {
		return append([]byte("PK\x03\x04\x14\x00"), flags, 0, 0, 0, 'a', 'b', 'c')
	}
	msg := func(ctype, disp string, content []byte) string {
		return "From: a@example.com\r\nSubject: doc\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n" +
			"--b\r\nContent-Type: text/plain\r\n\r\npassword: 123\r\n" +
			"--b\r\nContent-Type: " + ctype + "\r\nContent-Transfer-Encoding: base64\r\n" + disp + "\r\n" +
			base64.StdEncoding.EncodeToString(content) + "\r\n--b--\r\n"
	}
	named := func(n string) string { return "Content-Disposition: attachment; filename=\"" + n + "\"\r\n" }
	for _, tc := range []struct {
		name, ctype, disp string
		content           []byte
		want              bool
	}{
		{"an encrypted PDF", "application/pdf", "", encPDF, true},
		{"a PDF", "application/pdf", "", plainPDF, false},
		{"an encrypted PDF by its name", "application/octet-stream", named("Fatura.pdf"), encPDF, true},
		{"an encrypted ZIP", "application/zip", "", zipHead(0x01), true},
		{"an encrypted ZIP, AES, other flags too", "application/x-zip-compressed", "", zipHead(0x09), true},
		{"an encrypted ZIP by its name", "application/octet-stream", named("Invoice.ZIP"), zipHead(0x01), true},
		{"a ZIP", "application/zip", "", zipHead(0x08), false},
		{"no ZIP", "application/zip", "", []byte("PK\x05\x06\x01\x01\x01\x01"), false},
		{"neither declared nor named", "application/octet-stream", "", zipHead(0x01), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Parse(strings.NewReader(msg(tc.ctype, tc.disp, tc.content)))
			if err != nil || len(m.Parts) != 2 {
				t.Fatalf("%v, %d parts", err, len(m.Parts))
			}
			if got := m.Parts[1].Encrypted; got != tc.want {
				t.Errorf("Encrypted = %v, want %v", got, tc.want)
			}
			if m.Parts[0].Encrypted {
				t.Error("the text part is Encrypted")
			}
		})
	}
}

// TestParsePDFInflateBudget: a message's PDFs share one budget for their
// object streams: of two that each inflate to 5 MB before their link, the
// second's link is past what is left. Each alone gives its link.
func TestParsePDFInflateBudget(t *testing.T) {
	padded := func(link string) []byte {
		return pdfOf(objStm("/Type /ObjStm /Filter /FlateDecode", strings.Repeat(" ", 5<<20), annot("<< /S /URI /URI ("+link+") >>")))
	}
	a, b := padded("https://first.example/"), padded("https://second.example/")
	if len(a) > 64<<10 {
		t.Fatalf("the PDF is %d bytes: not a small file that inflates", len(a))
	}
	part := func(p []byte) string {
		return "--b\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n" + base64.StdEncoding.EncodeToString(p) + "\r\n"
	}
	m, err := Parse(strings.NewReader("Subject: docs\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n" + part(a) + part(b) + "--b--\r\n"))
	if err != nil || len(m.Parts) != 3 {
		t.Fatalf("%v, %d parts", err, len(m.Parts))
	}
	if got := m.Parts[1].Links; !slices.Equal(got, []string{"https://first.example/"}) {
		t.Errorf("the first PDF: %q", got)
	}
	if got := m.Parts[2].Links; len(got) != 0 {
		t.Errorf("the second PDF, past the budget: %q", got)
	}
	if got := PDFLinks(b); !slices.Equal(got, []string{"https://second.example/"}) {
		t.Errorf("the second PDF alone: %q", got)
	}
}

// BenchmarkParsePDF parses a message with a 1 MB PDF (a page's content of
// noise, a link, an object stream of 100 KB holding another), as a PDF and,
// for the difference, as a file of no type Parse reads: what reading a PDF's
// links adds to a message that carries one.
func BenchmarkParsePDF(b *testing.B) {
	noise := make([]byte, 1<<20)
	for i := range noise {
		noise[i] = byte(i*2654435761>>13 ^ i)
	}
	var objs []string
	for i := range 1000 {
		objs = append(objs, fmt.Sprintf("<< /Type /Font /Subtype /Type1 /BaseFont /F%d >>", i))
	}
	objs = append(objs, annot("<< /S /URI /URI (https://packed.example/) >>"))
	pdf := pdfOf("<< /Length 1048576 >>\nstream\n"+string(noise)+"\nendstream",
		annot("<< /S /URI /URI (https://plain.example/) >>"),
		objStm("/Type /ObjStm /Filter /FlateDecode", objs...))
	if got := PDFLinks(pdf); len(got) != 2 {
		b.Fatalf("links %q", got)
	}
	for _, ctype := range []string{"application/pdf", "application/x-unknown"} {
		raw := []byte("Subject: doc\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n" +
			"--b\r\nContent-Type: " + ctype + "\r\nContent-Transfer-Encoding: base64\r\n\r\n" + base64.StdEncoding.EncodeToString(pdf) + "\r\n--b--\r\n")
		b.Run(ctype, func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Parse(bytes.NewReader(raw)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
