package banned

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/postern/postern/filter"
	"github.com/postern/postern/internal/corpus"
	"github.com/postern/postern/scan"
)

// BenchmarkCorpus is the check's cost over every corpus message, parsed
// beforehand as serve parses it once for all checks: what it adds to a
// message. Most have no attachment, and are judged by the parse's names alone.
func BenchmarkCorpus(b *testing.B) {
	samples, err := corpus.List(corpus.Dir())
	if err != nil {
		b.Skipf("no corpus: %v", err)
	}
	var msgs []*filter.Message
	for _, s := range samples {
		raw, err := os.ReadFile(s.Path)
		if err != nil {
			b.Fatal(err)
		}
		parsed, err := scan.Parse(strings.NewReader(string(raw)))
		if err != nil {
			b.Fatal(err)
		}
		msgs = append(msgs, &filter.Message{Raw: strings.NewReader(string(raw)), Size: int64(len(raw)), Parsed: parsed})
	}
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
	raw := attached("photos.zip", zipOf(b, entry{name: "a.jpg", data: big}, entry{name: "b.jpg"}))
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
