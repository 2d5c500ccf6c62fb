package rules

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/postern/postern/filter"
	"github.com/postern/postern/internal/corpus"
	"github.com/postern/postern/scan"
	"github.com/postern/postern/spool"
)

// A message gets the same hits with LF line ends, as postern check reads a file,
// and with CRLF, as serve spools it from the milter: the accuracy measured on
// the corpus's files is what the daemon does. (The HTML's length counted the
// CRs: six of these 900 messages differed, HTML_SHORT_LINK_IMG_1 against _2,
// HTML_IMAGE_ONLY_08 against _12.)
func TestLineEndsAgree(t *testing.T) {
	s := stockRules(t, false)
	hits := func(raw []byte) []string {
		m, err := scan.Parse(bytes.NewReader(raw))
		if err != nil {
			t.Error(err) // (not Fatal: hits runs in inParallel's goroutines)
			return nil
		}
		sp := spool.FromBytes(raw)
		hs, _ := s.Eval(&filter.Message{Raw: sp, Size: sp.Size(), Parsed: m, Env: &filter.Envelope{}})
		var names []string
		for _, h := range hs {
			names = append(names, h.Rule.Name)
		}
		slices.Sort(names)
		return names
	}
	var names []string
	var raws [][]byte
	for _, sub := range []string{"spamassassin/ham", "spamassassin/spam", "phishing"} {
		dir := filepath.Join(corpus.Dir(), sub)
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Skipf("no corpus (%v): run ../shared/corpus/get-corpus.sh", err)
		}
		for _, e := range entries[:min(300, len(entries))] {
			raw, err := readCorpus(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			names, raws = append(names, sub+"/"+e.Name()), append(raws, raw)
		}
	}
	// The stock rules on every message twice: a minute under -race, shared
	// among the processors (Eval is safe for concurrent use, as serve uses it).
	inParallel(len(raws), func(i int) {
		lf := bytes.ReplaceAll(raws[i], []byte("\r\n"), []byte("\n"))
		crlf := bytes.ReplaceAll(lf, []byte("\n"), []byte("\r\n"))
		if a, b := hits(lf), hits(crlf); !slices.Equal(a, b) {
			t.Errorf("%s:\nLF   %v\nCRLF %v", names[i], a, b)
		}
	})
	t.Logf("%d messages", len(raws))
}
