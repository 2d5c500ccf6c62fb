package banned

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/postern/postern/internal/corpusmsg"
)

// BenchmarkCorpus is the check's cost over every corpus message, parsed
// beforehand as serve parses it once for all checks: what it adds to a
// message. Most have no attachment, and are judged by the parse's names alone.
func BenchmarkCorpus(b *testing.B) {
	msgs := corpusmsg.Messages(b)
	c := defaults()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		c.Check(context.Background(), msgs[i%len(msgs)])
	}
}

// BenchmarkZip is a message with a 2 MB ZIP of incompressible bytes: the
// attachment decoded and streamed through to the archive's directory.
func BenchmarkZip(b *testing.B) {
	big := make([]byte, 2<<20)
	for i := range big {
		big[i] = byte(i*2654435761>>13 ^ i)
	}
	benchClean(b, attached("photos.zip", zipOf(b, entry{name: "a.jpg", data: big}, entry{name: "b.jpg"})))
}

// benchClean is Find's cost on raw, a message with nothing banned.
func benchClean(b *testing.B, raw string) {
	m := message(b, raw)
	c := defaults()
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if f, err := c.Find(context.Background(), m); f != nil || err != nil {
			b.Fatal(f, err)
		}
	}
}

// BenchmarkSVG is a message with a 500 KB SVG drawing (paths, groups, styles,
// no script): the image decoded and read as XML to its end.
func BenchmarkSVG(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(`<?xml version="1.0" encoding="UTF-8"?><svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1000 1000"><style>.a{fill:#036}</style>`)
	for i := 0; sb.Len() < 500<<10; i++ {
		fmt.Fprintf(&sb, `<g transform="translate(%d %d)"><path class="a" d="M0 0 L%d %d Q 5 9 %d 3 Z"/><text x="1" y="2">label %d</text></g>`, i%97, i%89, i%13, i%7, i%11, i)
	}
	sb.WriteString(`</svg>`)
	benchClean(b, attached("chart.svg", []byte(sb.String())))
}

// BenchmarkSevenZip is a message with a 7-Zip archive (7-Zip's defaults: one
// solid LZMA2 folder) of a 2 MB log, then a small SVG drawing: the folder
// unpacked through the log to the drawing, which is read.
func BenchmarkSevenZip(b *testing.B) {
	var log strings.Builder
	for i := 0; log.Len() < 2<<20; i++ {
		fmt.Fprintf(&log, "2026-12-07T15:%02d:%02d host%d sshd[%d]: session opened for user u%d\n", i/60%60, i%60, i%17, 1000+i%9973, i%313)
	}
	a := sevenZipOf(b, map[string]string{"a.log": log.String(), "z.svg": `<svg xmlns="http://www.w3.org/2000/svg"><rect width="1" height="1"/></svg>`}, "7zz")
	benchClean(b, attached("logs.7z", a))
}

// BenchmarkRar is a message with a 2 MB RAR 5 archive (stored files: a test
// cannot write RAR's compression) of incompressible bytes, then a small ZIP:
// the attachment decoded, its names read, and, since it lists an archive, its
// first 4 MB kept and read again by rardecode, which skips the 2 MB to the ZIP
// and opens it.
func BenchmarkRar(b *testing.B) {
	big := make([]byte, 2<<20)
	for i := range big {
		big[i] = byte(i*2654435761>>13 ^ i)
	}
	inner := zipOf(b, entry{name: "readme.txt", data: []byte("hello")})
	benchClean(b, attached("photos.rar", rar5(false, rarEntry{name: "a.jpg", data: big}, rarEntry{name: "more.zip", data: inner})))
}
