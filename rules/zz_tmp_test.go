package rules

import (
	"bytes"
	"io/fs"
	"path/filepath"
	"testing"

	"github.com/postern/postern/filter"
	"github.com/postern/postern/internal/corpus"
	"github.com/postern/postern/scan"
)

func BenchmarkZZNativeSubj(b *testing.B) {
	var texts [][]rune
	n := 0
	filepath.WalkDir(corpus.Dir(), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || len(texts) >= 2000 {
			return nil
		}
		raw, err := readCorpus(p)
		if err != nil {
			return nil
		}
		if m, err := scan.Parse(bytes.NewReader(raw)); err == nil {
			tg := newTarget(&filter.Message{Parsed: m}, map[Kind]bool{URI: true}, scanSizes{})
			all, _ := tg.headerValue("ALL", "")
			texts = append(texts, []rune(all))
			n += len(texts[len(texts)-1])
		}
		return nil
	})
	b.Logf("mean runes %d", n/len(texts))
	b.Run("rcvdfor", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			subjectHasReceivedFor(texts[i%len(texts)])
		}
	})
	f := fieldPair{"to: ", "subject: ", ',', 200, subjectHolds}.match
	b.Run("to", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			f(texts[i%len(texts)])
		}
	})
}

func TestZZAllRunes(t *testing.T) {
	s := stockRules(t, false)
	for _, r := range s.rules {
		if r.exactAll != nil {
			t.Logf("%s kind=%v field=%q native=%v", r.Name, r.Kind, r.Field, r.native != nil)
		}
	}
}
