package score

// go test ./score -run '^$' -bench . -benchtime 3s

import (
	"bytes"
	"context"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/postern/postern/internal/corpus"
	"github.com/postern/postern/internal/mbox"
	"github.com/postern/postern/scan"
)

// tenKB is a 10 KB message with ordinary words, a few URLs and HTML.
func tenKB(b *testing.B) *scan.Message {
	rng := rand.New(rand.NewSource(2))
	words := strings.Fields("the quick brown fox jumps over lazy dog offer free money click here meeting agenda report invoice account password verify please regards thanks today tomorrow project update release server mail list subscribe unsubscribe price cheap discount")
	var body strings.Builder
	for body.Len() < 9000 {
		body.WriteString(words[rng.Intn(len(words))])
		body.WriteString(fmt.Sprintf("%d ", rng.Intn(500)))
		if rng.Intn(40) == 0 {
			body.WriteString("http://www.example" + fmt.Sprint(rng.Intn(9)) + ".com/path/page.html\r\n")
		}
	}
	raw := "From: Sender <s@example.org>\r\nTo: r@example.com\r\nSubject: quarterly report and offer\r\n" +
		"Received: from mx.example.org (mx.example.org [192.0.2.1]) by mx.test\r\nMessage-ID: <1@example.org>\r\n" +
		"Content-Type: text/plain\r\n\r\n" + body.String()
	m, err := scan.Parse(strings.NewReader(raw))
	if err != nil {
		b.Fatal(err)
	}
	return m
}

// bigModel is a model of 600,000 tokens learned from 20,000 messages, plus the
// message's own tokens (with these trigrams) so lookups hit.
func bigModel(m *scan.Message, trigrams int) *Model {
	rng := rand.New(rand.NewSource(3))
	model := NewModel()
	for i := 0; i < 600_000; i++ {
		model.Set(Key(rng.Uint64()), Counts{int64(rng.Intn(50)), int64(rng.Intn(50))})
	}
	for _, k := range Keys(Tokens(m, trigrams)) {
		model.Set(k, Counts{int64(rng.Intn(300)), int64(rng.Intn(300))})
	}
	model.nspam, model.nham = 10_000, 10_000
	return model
}

// BenchmarkClassify: tokenizing and classifying a 10 KB message against 600,000
// tokens, on one core: words only and with trigrams (bayes.trigrams, the default).
func BenchmarkClassify(b *testing.B) {
	m := tenKB(b)
	for _, bc := range []struct {
		name string
		p    Params
	}{{"words", DefaultParams()}, {"trigrams", DefaultParams().WithTrigrams()}} {
		b.Run(bc.name, func(b *testing.B) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			model := bigModel(m, bc.p.Trigrams)
			runtime.GC()
			runtime.ReadMemStats(&after)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, ok := model.Classify(TokenKeys(m, bc.p.Trigrams), bc.p); !ok {
					b.Fatal("cold start")
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
			b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(1<<20), "model-MB")
			b.ReportMetric(float64(model.Len()), "tokens")
		})
	}
}

// corpusMessages are the corpus' messages, parsed, once per test binary; none without
// the corpus.
var corpusMessages = sync.OnceValue(func() []*scan.Message {
	var msgs []*scan.Message
	for _, sub := range []string{"spamassassin/spam", "spamassassin/ham", "phishing"} {
		files, _ := filepath.Glob(filepath.Join(corpus.Dir(), sub, "*"))
		for _, f := range files {
			raw, err := os.ReadFile(f)
			if err != nil {
				continue
			}
			if m, err := scan.Parse(bytes.NewReader(mbox.StripFrom(raw))); err == nil {
				msgs = append(msgs, m)
			}
		}
	}
	return msgs
})

// BenchmarkTokenizeCorpus: tokenizing real mail (the corpus' 6,412 messages in turn,
// parsed beforehand), where headers are long and HTML common, unlike tenKB's; words,
// and with trigrams.
func BenchmarkTokenizeCorpus(b *testing.B) {
	msgs := corpusMessages()
	if len(msgs) == 0 {
		b.Skip("no corpus: run ../shared/corpus/get-corpus.sh")
	}
	for _, bc := range []struct {
		name     string
		trigrams int
	}{{"words", 0}, {"trigrams", TrigramRunes}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				TokenKeys(msgs[i%len(msgs)], bc.trigrams)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

// BenchmarkLearnStore: the SQLite store learning batches of 500 messages of 600
// tokens each, drawn from a vocabulary of 1,000,000 with a Zipf distribution (as
// words are): messages learned per second, durable at each batch's commit.
func BenchmarkLearnStore(b *testing.B) {
	s, _ := openStore(b)
	benchLearn(b, s.Learn)
}

// BenchmarkLearnSelect: the same through Bayes.Learn, which first asks the model of
// each message whether it needs learning (Selector), against a model out of cold
// start. Random messages are never "sure", so every one is still written: the worst
// case of choosing.
func BenchmarkLearnSelect(b *testing.B) {
	bayes := openBayes(b, 200)
	warm := make([]Item, 0, 1000)
	for i := 0; i < cap(warm); i++ {
		warm = append(warm, zipfItem(fmt.Sprint("warm", i), i%2 == 0))
	}
	if _, err := bayes.LearnAll(context.Background(), warm, false); err != nil {
		b.Fatal(err)
	}
	benchLearn(b, bayes.Learn)
}

var zipfKeys = rand.NewZipf(rand.New(rand.NewSource(4)), 1.1, 10, 1_000_000)

// zipfItem is a message of 600 tokens drawn from a vocabulary of 1,000,000 with a
// Zipf distribution, as words are.
func zipfItem(id string, spam bool) Item {
	keys := make([]Key, 600)
	for j := range keys {
		keys[j] = Key(zipfKeys.Uint64() * 2654435761)
	}
	return Item{MsgID: id, Spam: spam, Keys: keys}
}

// benchLearn learns b.N random messages in batches of 500 (as postern learn does).
func benchLearn(b *testing.B, learn func(context.Context, []Item, bool) ([]Outcome, error)) {
	b.ResetTimer()
	for i := 0; i < b.N; i += 500 {
		b.StopTimer()
		batch := make([]Item, 0, 500)
		for j := i; j < i+500 && j < b.N; j++ {
			batch = append(batch, zipfItem(fmt.Sprint(j), j%2 == 0))
		}
		b.StartTimer()
		if _, err := learn(context.Background(), batch, false); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkLearnSmallBatches: the autolearner's commits, on a store that has
// learned 2,000 messages: a batch of one message against batches of a few. Each
// commit writes every page its tokens touch, and one message's hundreds of tokens
// are spread over most of the token table's pages.
func BenchmarkLearnSmallBatches(b *testing.B) {
	for _, size := range []int{1, 4, 16} {
		b.Run(fmt.Sprint("batch-", size), func(b *testing.B) {
			s, _ := openStore(b)
			warm := make([]Item, 0, 2000)
			for i := 0; i < cap(warm); i++ {
				warm = append(warm, zipfItem(fmt.Sprint("warm", i), i%2 == 0))
			}
			if _, err := s.Learn(context.Background(), warm, false); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i += size {
				b.StopTimer()
				batch := make([]Item, 0, size)
				for j := i; j < i+size && j < b.N; j++ {
					batch = append(batch, zipfItem(fmt.Sprint(j), j%2 == 0))
				}
				b.StartTimer()
				if _, err := s.Learn(context.Background(), batch, false); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkClassifyCorpusKeys: classifying corpus messages in turn (their keys
// made beforehand) against a model that learned them all: the lookups into a
// table of hundreds of thousands of tokens, most of them cache misses, as in a
// check over many messages, where BenchmarkClassify's one message stays cached.
func BenchmarkClassifyCorpusKeys(b *testing.B) {
	msgs := corpusMessages()
	if len(msgs) == 0 {
		b.Skip("no corpus: run ../shared/corpus/get-corpus.sh")
	}
	p := DefaultParams().WithTrigrams()
	keys := make([][]Key, len(msgs))
	model := NewModel()
	rng := rand.New(rand.NewSource(3))
	for i, m := range msgs {
		keys[i] = TokenKeys(m, p.Trigrams)
		for _, k := range keys[i] {
			model.Set(k, Counts{int64(rng.Intn(50)), int64(rng.Intn(50))})
		}
	}
	model.nspam, model.nham = 10_000, 10_000
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		model.Classify(keys[i%len(keys)], p)
	}
	b.ReportMetric(float64(model.Len()), "tokens")
}
