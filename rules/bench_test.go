package rules

// go test ./rules -run '^$' -bench EvalStock -cpuprofile cpu.out && go tool pprof -top rules.test cpu.out

import (
	"bytes"
	"math/rand"
	"os"
	"path/filepath"
	"reflect"
	"regexp/syntax"
	"runtime"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/postern/postern/filter"
	"github.com/postern/postern/internal/corpus"
	"github.com/postern/postern/internal/cpuclock"
	"github.com/postern/postern/internal/mbox"
	"github.com/postern/postern/scan"
	"github.com/postern/postern/spool"
)

// BenchmarkEvalStock evaluates Debian's stock SpamAssassin rules on 100 corpus spam
// (../shared/corpus/get-corpus.sh), for CPU profiles of where rule time goes.
func BenchmarkEvalStock(b *testing.B) {
	s := stockRules(b, false)
	msgs := corpusSpam(b, 100)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s.Eval(msgs[i%len(msgs)].Fresh())
	}
}

// BenchmarkEvalStockIdle is BenchmarkEvalStock as a filter under light load runs
// it: each message after an idle gap (30 ms, a filter's at 30 msg/s), against the
// same back to back. cpu-µs/msg is the process's CPU for the evaluations (user and
// system, getrusage), not the clock: the sleeps are not in it. On this project's
// machines a check's data is evicted from the caches while it sleeps, and this is
// what a message then costs (docs/benchmarks.md, "Thirty-fifth session"): a measure
// of the data a message reads, where BenchmarkEvalStock measures its work.
func BenchmarkEvalStockIdle(b *testing.B) {
	s, msgs := warmStock(b)
	for _, gap := range []time.Duration{0, 30 * time.Millisecond} {
		name := "back-to-back"
		if gap > 0 {
			name = "gap=" + gap.String()
		}
		b.Run(name, func(b *testing.B) {
			var cpu time.Duration
			for i := 0; i < b.N; i++ {
				time.Sleep(gap)
				c0 := cpuclock.Self()
				s.Eval(msgs[i%len(msgs)].Fresh())
				cpu += cpuclock.Self() - c0
			}
			b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/msg")
		})
	}
}

// BenchmarkEvalStockFlushed is BenchmarkEvalStockIdle's gap made by hand, for a
// cache simulator: before each message it writes 8 MB, which evicts what the
// check read before (writes only: a simulator counts its read misses apart). It
// is not a timing (the writes are in it); run under cachegrind at two -benchtime
// counts, the difference of the two runs' read misses over that of the counts
// is what a message reads from memory when it starts cold (docs/benchmarks.md,
// "Thirty-fifth session", has the commands).
func BenchmarkEvalStockFlushed(b *testing.B) {
	s, msgs := warmStock(b)
	flush := make([]byte, 8<<20)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j := 0; j < len(flush); j += 64 {
			flush[j] = byte(i)
		}
		s.Eval(msgs[i%len(msgs)].Fresh())
	}
}

// warmStock is the stock rules and stockSample, the rules warmed by two passes
// over it (the DFAs' states, the rules compiled on first
// use), as a filter that has run a while has them.
func warmStock(b *testing.B) (*Set, []*filter.Message) {
	s := stockRules(b, false)
	msgs := stockSample(b)
	for range 2 {
		for _, m := range msgs {
			s.Eval(m.Fresh())
		}
	}
	return s, msgs
}

// stockSample is the messages the stock benchmarks check: the first 150 corpus
// spam and the first 150 ham.
func stockSample(b *testing.B) []*filter.Message {
	return append(corpusMessages(b, "spam", 150), corpusMessages(b, "ham", 150)...)
}

// BenchmarkEvalStockCosts is BenchmarkEvalStock with every rule timed (EvalCosts,
// postern rules cost): against it, what the timing itself costs.
func BenchmarkEvalStockCosts(b *testing.B) {
	s := stockRules(b, false)
	msgs := corpusSpam(b, 100)
	c := NewCosts()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s.EvalCosts(msgs[i%len(msgs)].Fresh(), c)
	}
}

// BenchmarkParagraphs is paragraphs over the text parts of 300 corpus spam, an op
// being all of them (docs/benchmarks.md, "Thirtieth session").
func BenchmarkParagraphs(b *testing.B) {
	var texts []string
	for _, m := range corpusSpam(b, 300) {
		for _, p := range m.Parsed.Parts {
			if p.Text != "" {
				texts = append(texts, p.Text)
			}
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, t := range texts {
			paragraphs(t)
		}
	}
}

// BenchmarkFindURIs finds the links of the texts uri rules read (HTML
// rendered) in the stock benchmarks' 300 messages, an op being all of them:
// all of findURIs, and the names written without a scheme (schemelessLinks)
// alone.
func BenchmarkFindURIs(b *testing.B) {
	var texts []string
	for _, m := range stockSample(b) {
		for _, p := range m.Parsed.Parts {
			switch {
			case p.Text == "":
			case p.ContentType == "text/html":
				texts = append(texts, scan.RenderHTML(p.Text))
			default:
				texts = append(texts, p.Text)
			}
		}
	}
	b.Run("all", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			for _, t := range texts {
				findURIs(t)
			}
		}
	})
	b.Run("schemeless", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			for _, t := range texts {
				schemelessLinks(t, 200, nil)
			}
		}
	})
}

// BenchmarkURIs is URIs over the stock benchmarks' 300 messages, an op being
// all of them: what the URI block lists spend on a message before their
// lookups (HTML rendered again from the part's shared recording).
func BenchmarkURIs(b *testing.B) {
	msgs := stockSample(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, m := range msgs {
			URIs(m.Parsed)
		}
	}
}

// BenchmarkRedirected is what the stock rules' redirector_pattern lines add
// to the links of the stock benchmarks' 300 messages, an op being all of them
// (the links found beforehand).
func BenchmarkRedirected(b *testing.B) {
	s := stockRules(b, false)
	var lists [][]string
	for _, m := range stockSample(b) {
		lists = append(lists, URIs(m.Parsed))
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, l := range lists {
			s.redirected(l)
		}
	}
}

// BenchmarkURIBLAfterRules is what the URI block lists' list of a message costs
// once the stock rules have checked it (the rules' evaluation is not timed):
// shared, the list the rules made (MessageURIs); apart, a list of their own (URIs:
// the HTML rendered and the links found again), as before the two shared it
// (docs/benchmarks.md, "Forty-first session").
func BenchmarkURIBLAfterRules(b *testing.B) {
	s, msgs := warmStock(b)
	for _, c := range []struct {
		name string
		uris func(*filter.Message) []string
	}{
		{"shared", MessageURIs},
		{"apart", func(m *filter.Message) []string { return URIs(m.Parsed) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				m := msgs[i%len(msgs)].Fresh()
				s.Eval(m)
				b.StartTimer()
				c.uris(m)
			}
		})
	}
}

// BenchmarkFindURIsHostile finds the links of texts made to cost: a megabyte
// without white space, of names one after another or of addresses in one
// link's query, and one link a megabyte long. Each token is read once, and a
// link is cut at 8 KB (docs/benchmarks.md, "Fortieth session").
func BenchmarkFindURIsHostile(b *testing.B) {
	for _, c := range []struct{ name, text string }{
		{"names-in-one-token", strings.Repeat("(a.com", 1<<20/6)},
		{"addresses-in-a-link", "http://x.com/?" + strings.Repeat("xa@b.cc", 1<<20/7)},
		{"one-long-link", "http://" + strings.Repeat("a", 1<<20)},
		{"addresses-run-together", strings.Repeat("a@", 1<<20/2)},
		{"addresses-run-together-with-commas", strings.Repeat("a@b,", 1<<20/4)},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.text)))
			for i := 0; i < b.N; i++ {
				findURIs(c.text)
			}
		})
	}
}

// corpusSpam is the first n messages of the corpus's SpamAssassin spam, parsed as
// a filter is given them; the benchmark skips without the corpus.
func corpusSpam(b testing.TB, n int) []*filter.Message { return corpusMessages(b, "spam", n) }

// corpusMessages is corpusSpam of the corpus's spamassassin/sub.
func corpusMessages(b testing.TB, sub string, n int) []*filter.Message {
	dir := filepath.Join(corpus.Dir(), "spamassassin", sub)
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) < n {
		b.Skip("no corpus: run ../shared/corpus/get-corpus.sh")
	}
	var msgs []*filter.Message
	for _, e := range entries[:n] {
		raw, err := readCorpus(filepath.Join(dir, e.Name()))
		if err != nil {
			b.Fatal(err)
		}
		m, _ := scan.Parse(bytes.NewReader(raw))
		sp := spool.FromBytes(raw)
		msgs = append(msgs, &filter.Message{Raw: sp, Size: sp.Size(), Parsed: m})
	}
	return msgs
}

// readCorpus reads a corpus message as a filter is given it: without the mbox
// "From " line the SpamAssassin corpus files start with (a header that begins
// with it does not parse).
func readCorpus(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	return mbox.StripFrom(b), err
}

// BenchmarkDFAWalk walks 10 KB of plain lines with three DFAs: one whose start
// state every byte but a newline leaves (no skipping), one for a rare string (its
// start state skips with IndexByte) and an obfuscation pattern's (skips to v or V).
func BenchmarkDFAWalk(b *testing.B) {
	text := strings.Repeat("hello world this is a line of text\n", 300)
	for _, c := range []struct{ name, re string }{
		{"longline", `(?m)^[^\n]{999}`},
		{"rare", `zqxj`},
		{"obfuscated", `(?i)v[_\W]{0,3}i[_\W]{0,3}a[_\W]{0,3}g[_\W]{0,3}r[_\W]{0,3}a`},
	} {
		d := newDFA(c.re)
		for i := 0; i <= accelAfter; i++ {
			d.match(text)
		}
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(text)))
			for i := 0; i < b.N; i++ {
				d.match(text)
			}
		})
	}
}

// BenchmarkDFASkipDead is the counting rules' walk (countFixed): an anchored
// DFA skips the places where no match can start and tries the others.
func BenchmarkDFASkipDead(b *testing.B) {
	text := strings.Repeat("hello world this is a line of text\n", 300)
	for _, c := range []struct{ name, re string }{
		{"word", `\bviagra\b`},
		{"obfuscated", `(?i)v[_\W]{0,3}i[_\W]{0,3}a[_\W]{0,3}g[_\W]{0,3}r[_\W]{0,3}a`},
	} {
		d := anchoredOf(newDFA(c.re))
		walk := func() {
			st := d.beginRun(len(text))
			prev := rune(-1)
			for i := 0; i < len(text); {
				if i, _, prev = st.skipDead(text, i, 0, prev); i >= len(text) {
					break
				}
				st.matchFrom(text, i, prev)
				r, n := utf8.DecodeRuneInString(text[i:])
				prev, i = r, i+n
			}
		}
		walk()
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(text)))
			for i := 0; i < b.N; i++ {
				walk()
			}
		})
	}
}

// BenchmarkLiteralScan is the stock rules' body literal scan (literalIndex.scan)
// over the lower-cased body text of 200 corpus spam, as the check prepares it;
// table-MB is the automaton's transition table.
func BenchmarkLiteralScan(b *testing.B) {
	s := stockRules(b, false)
	var texts []string
	n := 0
	for _, m := range corpusSpam(b, 200) {
		t := newTarget(m, map[Kind]bool{Body: true}, s)
		texts = append(texts, t.bodyLower)
		n += len(t.bodyLower)
	}
	b.SetBytes(int64(n / len(texts)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s.index[Body].scan(texts[i%len(texts)])
	}
	b.ReportMetric(float64(4*len(s.index[Body].delta))/(1<<20), "table-MB")
}

// BenchmarkHeaderFields is what reading the header fields the stock rules ask
// for costs a message (docs/benchmarks.md, "Forty-ninth session"): every
// field, in a new target for each of 400 corpus messages ("fields"), against
// the new target alone ("target"); the difference is the fields' reading,
// Received parsing and the relays' pseudo-headers included.
func BenchmarkHeaderFields(b *testing.B) {
	s := stockRules(b, false)
	msgs := append(corpusMessages(b, "spam", 200), corpusMessages(b, "ham", 200)...)
	for _, read := range []bool{false, true} {
		b.Run(map[bool]string{false: "target", true: "fields"}[read], func(b *testing.B) {
			for range b.N {
				for _, m := range msgs {
					t := newTarget(m.Fresh(), map[Kind]bool{URI: true}, nil)
					t.set = s
					for i := 1; read && i <= len(s.fields); i++ {
						t.field(int32(i))
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(msgs)), "ns/msg")
		})
	}
}

// BenchmarkFormRules is what three of the form-filling rules (__FILL_THIS_FORM_*:
// too large for a union, each walks every text it reads, and together their
// automata hold more than a quarter of the stock rules' tables) cost a message,
// warm, over the paragraphs (or raw body) of 400 corpus messages, and how many
// of those texts each one's prefilter passes on (pass-%) (docs/benchmarks.md,
// "Fiftieth session").
func BenchmarkFormRules(b *testing.B) {
	s := stockRules(b, false)
	msgs := append(corpusMessages(b, "spam", 200), corpusMessages(b, "ham", 200)...)
	var targets []*target
	for _, m := range msgs {
		targets = append(targets, s.prepare(m.Fresh(), s.runPlan, false))
	}
	for _, name := range []string{"__FILL_THIS_FORM_LONG2", "__FILL_THIS_FORM_SHORT2", "__FILL_THIS_FORM_PARTIAL_RAW"} {
		r := s.byName[name]
		if r == nil || r.pre == nil || !r.lower {
			b.Fatalf("%s: not a lower-cased rule with a prefilter", name)
		}
		var texts [][]string // by message
		passed, n := 0, 0
		for _, t := range targets {
			mine := t.bodyLowerLines
			if r.Kind == Rawbody {
				mine = []string{t.rawbodyLower}
			}
			for _, text := range mine {
				if m, ok := r.pre.match(text); m || !ok {
					passed++
				}
				n++
			}
			texts = append(texts, mine)
		}
		b.Run(name, func(b *testing.B) {
			for range b.N {
				for i, t := range targets {
					for _, text := range texts[i] {
						r.matches(t, text)
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(targets)), "ns/msg")
			b.ReportMetric(100*float64(passed)/float64(n), "pass-%")
			b.ReportMetric(float64(n), "texts")
		})
	}
}

// BenchmarkLoadStock loads the stock rules; heap-MB is what the loaded set holds
// (docs/rules.md, "Memory").
func BenchmarkLoadStock(b *testing.B) {
	for i := 0; i < b.N; i++ {
		runtime.GC()
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		s := stockRules(b, false)
		runtime.GC()
		runtime.ReadMemStats(&m1)
		b.ReportMetric(float64(m1.HeapAlloc-m0.HeapAlloc)/(1<<20), "heap-MB")
		runtime.KeepAlive(s)
	}
}

// BenchmarkRequiredLiterals walks the stock and default rules' expressions for
// their literal prefilters (literals), as a load does once for each: parsed
// beforehand, so that only the walk is timed (docs/benchmarks.md).
func BenchmarkRequiredLiterals(b *testing.B) {
	stockRules(b, false) // (skips without the stock rules)
	s, _ := Load(StockPath, DefaultPath)
	var trees []*syntax.Regexp
	for _, r := range s.rules {
		if r.reSrc == "" {
			continue
		}
		if re, err := syntax.Parse(r.reSrc, syntax.Perl); err == nil {
			trees = append(trees, re.Simplify())
		}
	}
	b.ReportMetric(float64(len(trees)), "expressions")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, re := range trees {
			literals(re)
		}
	}
}

// BenchmarkEvalStockHostile evaluates the stock rules on a message made to defeat
// caches: 256 KB of random letters, digits, punctuation and non-ASCII runes, new to
// every DFA. Its time per message is the worst case to expect, and must stay linear;
// "regexp" is the same without DFAs, for comparison.
func BenchmarkEvalStockHostile(b *testing.B) {
	rng := rand.New(rand.NewSource(1))
	alphabet := []rune("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 _-.,!@$%&<>=/\\|'\"\n\t éñü€ſ")
	body := make([]rune, 256<<10)
	for i := range body {
		body[i] = alphabet[rng.Intn(len(alphabet))]
	}
	raw := []byte("From: a@example.com\r\nSubject: x\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + string(body))
	m, _ := scan.Parse(bytes.NewReader(raw))
	sp := spool.FromBytes(raw)
	msg := &filter.Message{Raw: sp, Size: sp.Size(), Parsed: m}
	for _, withDFA := range []bool{true, false} {
		name := map[bool]string{true: "dfa", false: "regexp"}[withDFA]
		b.Run(name, func(b *testing.B) {
			s := stockRules(b, false)
			if !withDFA {
				for _, r := range s.all {
					r.dfa, r.pre, r.starts = nil, nil, nil
				}
			}
			b.SetBytes(int64(len(raw)))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				s.Eval(msg.Fresh())
			}
		})
	}
}

// stockRules loads Debian's stock SpamAssassin rules, or skips (CI installs them).
// plain strips every shortcut (literal index, DFAs, lower-cased matching): the rules
// then run as plain regexp evaluation, what the shortcuts must agree with.
func stockRules(tb testing.TB, plain bool) *Set {
	tb.Helper()
	s, problems := Load("/usr/share/spamassassin")
	if len(Errors(problems)) > 0 || s.Len() < 100 {
		tb.Skip("no stock SpamAssassin rules (apt-get install spamassassin)")
	}
	if plain {
		plainRules(s)
	}
	return s
}

// plainRules strips s of every shortcut (see stockRules).
func plainRules(s *Set) {
	for _, r := range s.all {
		r.lits, r.litIDs, r.lower, r.dfa, r.pre, r.starts, r.plain = nil, nil, false, nil, nil, nil, ""
		r.fixed, r.countSrc, r.literal, r.native, r.nativeText = 0, "", "", nil, nil
		r.countClass, r.lineCount = nil, nil
	}
	undecided(s)
}

// ruleFieldsPlainKeeps are the fields of a Rule that plainRules leaves: the rule
// as written and what running it needs. Every other field is a shortcut, which
// plainRules must clear (TestPlainRulesClearsShortcuts).
var ruleFieldsPlainKeeps = []string{
	"seq", "Kind", "evalFn", "metaProg", "field", "oneLine", "Exists", "Negate", "MIME", "maxHits",
	"noSubject", "Field", "Mod", "exactAll", "Name", "File", "Line", "Describe", "TFlags", "IfUnset",
	"re", "reSrc", "reOnce", "exactAnch", "exactAtOnce", "lowerSrc", "lowerRe", "lowerOnce",
	"countMax", "countLines", "countFrom", "countOnce", "patient", "patientAnch",
	"leadWord", "relaxedTries", "relaxedHits", "exactOnly", "meta", "waitsAuth",
}

// TestPlainRulesClearsShortcuts: plainRules clears every field of a Rule but those
// it keeps, so that TestEvalAgreesWithPlainRegexp compares the shortcuts with the
// rules as written. A field added to Rule fails this until it is either cleared
// there (a shortcut) or listed in ruleFieldsPlainKeeps; a shortcut plainRules
// missed went unnoticed until a test failed for another reason (a569dfe).
func TestPlainRulesClearsShortcuts(t *testing.T) {
	s := stockRules(t, true)
	keeps := map[string]bool{}
	for _, f := range ruleFieldsPlainKeeps {
		keeps[f] = true
	}
	typ := reflect.TypeOf(Rule{})
	for i := range typ.NumField() {
		name := typ.Field(i).Name
		if keeps[name] {
			continue
		}
		for _, r := range s.all {
			if !reflect.ValueOf(r).Elem().Field(i).IsZero() {
				t.Errorf("Rule.%s is set in %s after plainRules: clear it there if it is a shortcut, or list it in ruleFieldsPlainKeeps", name, r.Name)
				break
			}
		}
	}
}

// undecided makes every rule of s run, as when none had literals: the scans of
// the texts decide none (see decided).
func undecided(s *Set) {
	s.decided = [Meta + 1]decided{}
	clear(s.falseState)
	for i := range s.fields {
		s.fields[i].decided = decided{}
	}
}

// BenchmarkUnionWalk walks the paragraphs of 100 corpus spam with the unions of
// the stock rules' body rules that read the lower-cased text: one union at a
// time (single), or two at once where neither skips (paired, matchSetPair).
func BenchmarkUnionWalk(b *testing.B) {
	s := stockRules(b, false)
	msgs := corpusSpam(b, 100)
	var ds []*dfa
	for _, u := range s.runPlan.unions {
		if u.kind == Body && u.lower {
			ds = append(ds, u.d)
		}
	}
	var paras []string
	for _, m := range msgs {
		t := s.prepare(m, s.runPlan, false)
		paras = append(paras, t.bodyLowerLines...)
	}
	for _, p := range paras { // warm: states built, accels worked out
		for _, d := range ds {
			for range accelAfter {
				d.matchSet(p)
			}
		}
	}
	b.Run("single", func(b *testing.B) {
		for b.Loop() {
			for _, p := range paras {
				for _, d := range ds {
					d.matchSet(p)
				}
			}
		}
	})
	b.Run("paired", func(b *testing.B) {
		for b.Loop() {
			for _, p := range paras {
				for k := 0; k+1 < len(ds); k += 2 {
					matchSetPair(ds[k], ds[k+1], p)
				}
				if len(ds)%2 == 1 {
					ds[len(ds)-1].matchSet(p)
				}
			}
		}
	})
}

// BenchmarkEvalStockFirst is the stock rules' first pass over stockSample (the
// idle benchmarks' messages), in a rule set just loaded (not timed): what a new
// process (postern check, a daemon's first minutes) pays that a warm one does
// not, most of it the DFAs' states built on first use. states/op is how many the
// pass built.
func BenchmarkEvalStockFirst(b *testing.B) {
	msgs := stockSample(b)
	var states int
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		s := stockRules(b, false)
		runtime.GC()
		n0, _ := s.DFACache()
		b.StartTimer()
		for _, m := range msgs {
			s.Eval(m.Fresh())
		}
		n, _ := s.DFACache()
		states += n - n0
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*len(msgs)), "µs/msg")
	b.ReportMetric(float64(states)/float64(b.N), "states/op")
}
