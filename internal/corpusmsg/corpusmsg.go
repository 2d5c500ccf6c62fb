// Package corpusmsg gives benchmarks the shared corpus's messages as serve hands
// them to the content checks: each spooled and parsed once. It stands apart from
// internal/corpus, which only finds the files, because scan's own tests use that
// one and this one imports scan.
package corpusmsg

import (
	"bytes"
	"os"
	"testing"

	"github.com/postern/postern/filter"
	"github.com/postern/postern/internal/corpus"
	"github.com/postern/postern/scan"
	"github.com/postern/postern/spool"
)

// Messages are the corpus's messages in its order (corpus.List), each with its
// bytes (Raw, Size) and its parse; the benchmark skips, and says why, when
// there is no corpus.
func Messages(tb testing.TB) []*filter.Message {
	tb.Helper()
	samples, err := corpus.List(corpus.Dir())
	if err != nil || len(samples) == 0 {
		tb.Skipf("no corpus (run ../shared/corpus/get-corpus.sh): %v", err)
	}
	msgs := make([]*filter.Message, 0, len(samples))
	for _, s := range samples {
		raw, err := os.ReadFile(s.Path)
		if err != nil {
			tb.Fatal(err)
		}
		parsed, err := scan.Parse(bytes.NewReader(raw))
		if err != nil {
			tb.Fatalf("%s: %v", s.Path, err)
		}
		sp := spool.FromBytes(raw)
		msgs = append(msgs, &filter.Message{Raw: sp, Size: sp.Size(), Parsed: parsed})
	}
	return msgs
}
