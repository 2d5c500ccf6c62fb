package score

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"math"
	"math/rand"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"

	"github.com/postern/postern/filter"
	"github.com/postern/postern/scan"
	"github.com/postern/postern/spool"
)

func parse(t testing.TB, raw string) *scan.Message {
	t.Helper()
	m, err := scan.Parse(strings.NewReader(strings.ReplaceAll(raw, "\n", "\r\n")))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestTokens(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		want []string
		not  []string
	}{
		{"words and pairs", "Subject: Cheap Pills\n\nBuy CHEAP pills, now!!\n",
			[]string{"subject:cheap", "subject:pills", "buy", "cheap", "pills", "now!!", "buy cheap", "cheap pills", "caps:CHEAP"}, []string{"Buy", "pills,", "caps:Buy", "caps:Pills"}},
		{"short and long words", "\nan ox zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz\n", []string{"skip:z 30"}, []string{"an", "ox"}},
		{"addresses", "From: \"Big Bank\" <alert@mail.bigbank.example>\nReply-To: x@other.example\n\nhi there\n",
			[]string{"from:addr:alert@mail.bigbank.example", "from:mail.bigbank.example", "from:bigbank.example", "from:name:big", "reply-to:other.example"}, nil},
		{"urls", "\nvisit http://login.paypa1.example:8080/verify/account.php?id=1 now\n",
			[]string{"url:<has url>", "url:login.paypa1.example", "url:paypa1.example", "url:<port>", "url:verify", "url:account", "url:php"}, nil},
		{"received chain", "Received: from mx.spam.example (mx.spam.example [203.0.113.9]) by mx.test\n\nbody\n",
			[]string{"received:203.0", "received:203.0.113", "received:mx.spam.example", "received:spam.example", "hdr:received"}, nil},
		{"html rendered, tags counted", "Content-Type: text/html\n\n<html><style>p{}</style><p style=\"display:none\">hidden</p><a href=\"http://evil.example/x\">Click&nbsp;here</a><img src=\"cid:1\"></html>\n",
			[]string{"ctype:text/html", "html:style", "html:hidden text", "html:img", "url:evil.example", "click", "here", "click here", "hidden"}, []string{"p{}", "<p"}},
		{"attachment", "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: application/zip; name=a.zip\n\nPK\n--b--\n",
			[]string{"filename:.zip", "ctype:application/zip"}, nil},
		{"8-bit text without charset", "Subject: x\n\ncaf\xe9 cr\xe8me brul\xe9e\n", []string{"brulée", "crème brulée", "café"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			toks := Tokens(parse(t, tc.raw), 0)
			for _, w := range tc.want {
				if !slices.Contains(toks, w) {
					t.Errorf("missing %q in %q", w, toks)
				}
			}
			for _, w := range tc.not {
				if slices.Contains(toks, w) {
					t.Errorf("unexpected %q", w)
				}
			}
			seen := map[string]bool{}
			for _, tok := range toks {
				if seen[tok] {
					t.Errorf("duplicate %q", tok)
				}
				seen[tok] = true
			}
		})
	}
}

func TestTokensBounded(t *testing.T) {
	var b strings.Builder
	for i := 0; i < 200_000; i++ {
		b.WriteString("w")
		b.WriteString(strings.Repeat("x", i%13))
		b.WriteString(itoa(i))
		b.WriteByte(' ')
	}
	for _, trigrams := range []int{0, TrigramRunes} {
		if toks := Tokens(parse(t, "Subject: big\n\n"+b.String()), trigrams); len(toks) > maxTokens {
			t.Fatalf("trigrams %d: %d tokens", trigrams, len(toks))
		}
	}
}

func TestTrigrams(t *testing.T) {
	tests := []struct {
		name   string
		body   string
		budget int
		want   []string // the trigrams, in order
	}{
		{"lower case, white space runs one space", "  Ab\t\r\n c ", 30, []string{"tri:ab ", "tri:b c", "tri: c "}},
		{"punctuation and digits kept", "v1agra!", 30, []string{"tri:v1a", "tri:1ag", "tri:agr", "tri:gra", "tri:ra!"}},
		{"characters, not bytes", "日本語です", 30, []string{"tri:日本語", "tri:本語で", "tri:語です"}},
		{"four-byte characters", "a\U0010FFFFb\U0001F600", 30, []string{"tri:a\U0010FFFFb", "tri:\U0010FFFFb\U0001F600"}},
		{"budget in characters", "abcdef", 4, []string{"tri:abc", "tri:bcd"}},
		{"repeats once", "aaaaaa", 30, []string{"tri:aaa"}},
		{"too short", "ab", 30, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := parse(t, "Content-Type: text/plain; charset=utf-8\n\n"+tc.body)
			var got []string
			for _, tok := range Tokens(m, tc.budget) {
				if strings.HasPrefix(tok, "tri:") {
					got = append(got, tok)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			if off := Tokens(m, 0); slices.ContainsFunc(off, func(s string) bool { return strings.HasPrefix(s, "tri:") }) {
				t.Errorf("trigrams with a budget of 0: %q", off)
			}
		})
	}
}

// The budget is the message's, not each part's.
func TestTrigramsBudgetPerMessage(t *testing.T) {
	m := parse(t, "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nabcd\n--b\nContent-Type: text/plain\n\nwxyz\n--b--\n")
	var got []string
	for _, tok := range Tokens(m, 4) {
		if strings.HasPrefix(tok, "tri:") {
			got = append(got, tok)
		}
	}
	if want := []string{"tri:abc", "tri:bcd"}; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q: the first part spends the budget", got, want)
	}
}

func FuzzTokens(f *testing.F) {
	f.Add([]byte("Subject: hi\r\n\r\nhello http://x.example/a"))
	f.Add([]byte("Content-Type: text/html\r\n\r\n<a href='http://[::1]:80/'>x</a><font color=red size=7>"))
	f.Add([]byte("Content-Type: text/plain; charset=utf-8\r\n\r\ntri:abc tri:\x00\x00\x00 abc \U0010FFFF\U0010FFFF\U0010FFFF"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		m, err := scan.Parse(bytes.NewReader(raw))
		if err != nil {
			t.Skip()
		}
		toks := Tokens(m, TrigramRunes)
		if len(toks) > maxTokens {
			t.Fatalf("%d tokens", len(toks))
		}
		// The keys are the tokens' (trigrams have keys of their own kind, and a
		// word may read like one), and each is there once.
		keys := TokenKeys(m, TrigramRunes)
		if !slices.Equal(keys, Keys(toks)) {
			t.Fatalf("TokenKeys differs from Keys(Tokens): %q", toks)
		}
		seen := map[Key]bool{}
		for i, k := range keys {
			if seen[k] {
				t.Fatalf("token %q twice", toks[i])
			}
			seen[k] = true
		}
	})
}

// The classifier's math, against values computed by hand.
func TestTokenProb(t *testing.T) {
	p := Params{Strength: 0.45, Prior: 0.5}
	// Seen in 10 of 100 spam and 1 of 100 ham: p(w) = 0.1/(0.1+0.01) = 0.90909;
	// n = 11: f = (0.45*0.5 + 11*0.90909)/(11.45) = 0.89301.
	if f := tokenProb(Counts{10, 1}, 100, 100, p); math.Abs(f-0.89301) > 1e-4 {
		t.Errorf("f = %.5f, want 0.89301", f)
	}
	// Seen once, in spam only: p(w) = 1, n = 1: f = (0.225 + 1)/1.45 = 0.84483.
	if f := tokenProb(Counts{1, 0}, 100, 100, p); math.Abs(f-0.84483) > 1e-4 {
		t.Errorf("f = %.5f, want 0.84483", f)
	}
}

func TestChi2Q(t *testing.T) {
	// chi2Q(x2, v) for even v is exp(-m) Σ_{i<v/2} m^i/i!, m = x2/2.
	// chi2Q(2, 2) = e^-1 = 0.36788; chi2Q(4, 4) = e^-2 (1 + 2) = 0.40601.
	for _, tc := range []struct {
		x2   float64
		v    int
		want float64
	}{{2, 2, 0.36788}, {4, 4, 0.40601}, {0, 10, 1}} {
		if got := chi2Q(tc.x2, tc.v); math.Abs(got-tc.want) > 1e-4 {
			t.Errorf("chi2Q(%g, %d) = %.5f, want %.5f", tc.x2, tc.v, got, tc.want)
		}
	}
}

func TestCombine(t *testing.T) {
	// One clue of 0.9: S = 1 - chi2Q(-2 ln 0.1, 2) = 1 - 0.1 = 0.9;
	// H = 1 - chi2Q(-2 ln 0.9, 2) = 1 - 0.9 = 0.1; prob = (0.9 - 0.1 + 1)/2 = 0.9.
	if p := combine([]Clue{{Prob: 0.9}}, 150); math.Abs(p-0.9) > 1e-9 {
		t.Errorf("one clue: %.5f", p)
	}
	if p := combine(nil, 150); p != 0.5 {
		t.Errorf("no clues: %g", p)
	}
	if p := combine([]Clue{{Prob: 0.99}, {Prob: 0.01}}, 150); math.Abs(p-0.5) > 1e-9 {
		t.Errorf("opposite clues: %g", p)
	}
	strong := combine([]Clue{{Prob: 0.99}, {Prob: 0.98}, {Prob: 0.97}}, 150)
	if strong < 0.99 {
		t.Errorf("three spam clues: %g", strong)
	}
}

func TestRulesFor(t *testing.T) {
	for prob, want := range map[float64]string{
		0: "BAYES_00", 0.03: "BAYES_05", 0.5: "BAYES_50", 0.97: "BAYES_95", 0.995: "BAYES_99", 0.9995: "BAYES_99,BAYES_999", 1: "BAYES_99,BAYES_999",
	} {
		var names []string
		for _, r := range RulesFor(prob) {
			names = append(names, r.Name)
		}
		if strings.Join(names, ",") != want {
			t.Errorf("RulesFor(%g) = %v, want %s", prob, names, want)
		}
	}
}

func openStore(t testing.TB) (*SQLite, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), FileName)
	s, err := OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

// tinyParams are the defaults for tests whose messages have a handful of tokens: out
// of cold start after minEach of each class, and no pull towards 0.5 for few clues.
func tinyParams(minEach int) Params {
	p := DefaultParams()
	p.MinSpam, p.MinHam, p.FewClues = minEach, minEach, 0
	return p
}

// openBayes opens a classifier on a new store, out of cold start after minEach
// messages of each class.
func openBayes(t testing.TB, minEach int) *Bayes {
	t.Helper()
	s, _ := openStore(t)
	b, err := Open(context.Background(), s, tinyParams(minEach))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func dump(t testing.TB, s Store) (map[Key]Counts, int64, int64) {
	t.Helper()
	m := map[Key]Counts{}
	spam, ham, _, err := s.Load(context.Background(), func(k Key, c Counts) { m[k] = c })
	if err != nil {
		t.Fatal(err)
	}
	return m, spam, ham
}

// Learning, relearning and forgetting move counts exactly.
func TestLearnForgetRelearn(t *testing.T) {
	eachStore(t, func(t *testing.T, open storeOpener) {
		s, _ := open(t)
		testLearnForgetRelearn(t, s)
	})
}

func testLearnForgetRelearn(t *testing.T, s Store) {
	ctx := context.Background()
	a, b, c := KeyOf("a"), KeyOf("b"), KeyOf("c")
	msg1 := Item{MsgID: "m1", Spam: true, Keys: []Key{a, b}}
	msg2 := Item{MsgID: "m2", Spam: false, Keys: []Key{b, c}}
	steps := []struct {
		name     string
		items    []Item
		forget   bool
		outcomes []Outcome
		counts   map[Key]Counts
		spam     int64
		ham      int64
	}{
		{"learn", []Item{msg1, msg2}, false, []Outcome{Learned, Learned}, map[Key]Counts{a: {1, 0}, b: {1, 1}, c: {0, 1}}, 1, 1},
		{"again: no-op", []Item{msg1}, false, []Outcome{Known}, map[Key]Counts{a: {1, 0}, b: {1, 1}, c: {0, 1}}, 1, 1},
		{"relearn m1 as ham", []Item{{MsgID: "m1", Spam: false, Keys: msg1.Keys}}, false, []Outcome{Relearned}, map[Key]Counts{a: {0, 1}, b: {0, 2}, c: {0, 1}}, 0, 2},
		{"forget m2", []Item{msg2}, true, []Outcome{Forgotten}, map[Key]Counts{a: {0, 1}, b: {0, 1}}, 0, 1},
		{"forget unknown", []Item{{MsgID: "zz", Keys: []Key{a}}}, true, []Outcome{Unknown}, map[Key]Counts{a: {0, 1}, b: {0, 1}}, 0, 1},
		{"sure, new: passed over", []Item{{MsgID: "m4", Spam: true, Keys: []Key{a}, Sure: true}}, false, []Outcome{Sure}, map[Key]Counts{a: {0, 1}, b: {0, 1}}, 0, 1},
		{"sure, learned the other way: still moved", []Item{{MsgID: "m1", Spam: true, Keys: msg1.Keys, Sure: true}}, false, []Outcome{Relearned}, map[Key]Counts{a: {1, 0}, b: {1, 0}}, 1, 0},
		{"back to ham", []Item{{MsgID: "m1", Spam: false, Keys: msg1.Keys}}, false, []Outcome{Relearned}, map[Key]Counts{a: {0, 1}, b: {0, 1}}, 0, 1},
		{"same message twice in a batch", []Item{{MsgID: "m3", Spam: true, Keys: []Key{c}}, {MsgID: "m3", Spam: true, Keys: []Key{c}}}, false, []Outcome{Learned, Known}, map[Key]Counts{a: {0, 1}, b: {0, 1}, c: {1, 0}}, 1, 1},
	}
	for _, st := range steps {
		out, err := s.Learn(ctx, st.items, st.forget)
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if !slices.Equal(out, st.outcomes) {
			t.Errorf("%s: outcomes %v, want %v", st.name, out, st.outcomes)
		}
		counts, spam, ham := dump(t, s)
		for k, want := range st.counts {
			if counts[k] != want {
				t.Errorf("%s: counts %v, want %v", st.name, counts[k], want)
			}
		}
		for k, c := range counts {
			if _, ok := st.counts[k]; !ok && (c.Spam != 0 || c.Ham != 0) {
				t.Errorf("%s: unexpected token with %v", st.name, c)
			}
		}
		if spam != st.spam || ham != st.ham {
			t.Errorf("%s: totals %d/%d, want %d/%d", st.name, spam, ham, st.spam, st.ham)
		}
	}
}

// A second process's learning reaches a running classifier through Refresh.
func TestRefreshSeesOtherWriters(t *testing.T) {
	eachStore(t, func(t *testing.T, open storeOpener) {
		s, other := open(t)
		testRefreshSeesOtherWriters(t, s, other())
	})
}

func testRefreshSeesOtherWriters(t *testing.T, s, other Store) {
	ctx := context.Background()
	b, err := Open(ctx, s, DefaultParams())
	if err != nil {
		t.Fatal(err)
	}
	k := KeyOf("viagra")
	other.Learn(ctx, []Item{{MsgID: "x", Spam: true, Keys: []Key{k}}}, false)
	if err := b.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if c, _ := b.Model.tokens.get(k); c.Spam != 1 {
		t.Fatalf("after refresh: token %v", c)
	}
	if spam, _ := b.Model.Totals(); spam != 1 {
		t.Fatalf("after refresh: spam %d", spam)
	}
	other.Learn(ctx, []Item{{MsgID: "x", Keys: []Key{k}}}, true)
	b.Refresh(ctx)
	if _, ok := b.Model.tokens.get(k); ok {
		t.Error("forgotten token still in the model")
	}
	// An import rewrites everything: the next refresh reloads.
	var buf bytes.Buffer
	other.Learn(ctx, []Item{{MsgID: "y", Spam: false, Keys: []Key{KeyOf("meeting")}}}, false)
	other.(exporter).Export(ctx, &buf)
	other.(exporter).Import(ctx, &buf)
	if err := b.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ham := b.Model.Totals(); ham != 1 {
		t.Errorf("after import: ham %d", ham)
	}
}

// Export → import → export is the identity, from any store to any store: postern
// migrate moves Bayes this way.
func TestExportImportRoundTrip(t *testing.T) {
	eachStore(t, func(t *testing.T, open storeOpener) {
		pg := func() Store {
			s, _ := open(t)
			return s
		}
		sq := func() Store {
			s, _ := openStore(t)
			return s
		}
		testExportImportRoundTrip(t, pg, sq)
		testExportImportRoundTrip(t, sq, pg)
		testExportImportRoundTrip(t, pg, pg)
	})
}

func testExportImportRoundTrip(t *testing.T, from, to func() Store) {
	s := from().(interface {
		Store
		exporter
	})
	ctx := context.Background()
	var items []Item
	for i := 0; i < 50; i++ {
		items = append(items, Item{MsgID: itoa(i), Spam: i%3 == 0, Keys: []Key{KeyOf(itoa(i)), KeyOf("common"), KeyOf(itoa(i % 7))}})
	}
	s.Learn(ctx, items, false)
	var exp bytes.Buffer
	if err := s.Export(ctx, &exp); err != nil {
		t.Fatal(err)
	}
	s2 := to().(interface {
		Store
		exporter
	})
	if err := s2.Import(ctx, bytes.NewReader(exp.Bytes())); err != nil {
		t.Fatal(err)
	}
	var again bytes.Buffer
	s2.Export(ctx, &again)
	if !bytes.Equal(exp.Bytes(), again.Bytes()) {
		t.Fatal("export → import → export differs")
	}
	a, sa, ha := dump(t, s)
	b, sb, hb := dump(t, s2)
	if len(a) != len(b) || sa != sb || ha != hb {
		t.Fatalf("stores differ: %d/%d/%d vs %d/%d/%d", len(a), sa, ha, len(b), sb, hb)
	}
	// The learned ids came along: learning the same message again is a no-op.
	if out, _ := s2.Learn(ctx, items[:1], false); out[0] != Known {
		t.Errorf("after import, learning a known message: %v", out[0])
	}
	// A broken file changes nothing and names its line.
	bad := strings.Replace(exp.String(), "totals", "totalz", 1)
	err := s2.Import(ctx, strings.NewReader(bad))
	if err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("broken import: %v", err)
	}
	if c, _, _ := dump(t, s2); len(c) != len(a) {
		t.Error("a failed import changed the store")
	}
}

func TestExpire(t *testing.T) {
	eachStore(t, func(t *testing.T, open storeOpener) {
		s, _ := open(t)
		testExpire(t, s)
	})
}

func testExpire(t *testing.T, s Store) {
	ctx := context.Background()
	var items []Item
	for i := 0; i < 2000; i++ {
		keys := []Key{KeyOf("rare" + itoa(i))}
		if i < 100 {
			keys = append(keys, KeyOf("common"))
		}
		items = append(items, Item{MsgID: itoa(i), Spam: true, Keys: keys})
	}
	s.Learn(ctx, items, false)
	n, err := s.Expire(ctx, 1000)
	if err != nil {
		t.Fatal(err)
	}
	counts, _, _ := dump(t, s)
	if len(counts) > 800 || n != 2001-len(counts) {
		t.Errorf("expired %d, %d left", n, len(counts))
	}
	if counts[KeyOf("common")].Spam != 100 {
		t.Error("a frequent token was expired")
	}
}

// Cold start: no verdict until enough of both classes are learned.
func TestColdStart(t *testing.T) {
	m := NewModel()
	p := tinyParams(2)
	k := KeyOf("x")
	m.Add([]Key{k}, true, 1)
	m.Add([]Key{k}, true, 1)
	m.Add([]Key{KeyOf("y")}, false, 1)
	if _, ok := m.Classify([]Key{k}, p); ok {
		t.Fatal("verdict with 1 ham learned")
	}
	m.Add([]Key{KeyOf("y")}, false, 1)
	if prob, ok := m.Classify([]Key{k}, p); !ok || prob < 0.9 {
		t.Fatalf("after 2/2: %v %v", prob, ok)
	}
	b := NewBayes(nil, NewModel(), p)
	fm := &filter.Message{Parsed: parse(t, "Subject: x\n\nhello\n")}
	r := (&Check{Bayes: b}).Check(context.Background(), fm)
	if r.Bayes != nil || len(r.Tests) != 0 || len(r.Notes) != 1 || !strings.Contains(r.Notes[0], "cold start: 0 spam and 0 ham learned, needs 2 and 2") {
		t.Errorf("cold start result %+v", r)
	}
	// Not tokenized in cold start: the autolearner tokenizes what it takes.
	if keys, ok := fm.Recall(tokensKey{}); ok {
		t.Errorf("cold start: the check kept %d tokens", len(keys.([]Key)))
	}
	// Out of it, the check's tokens are kept for the autolearner.
	b.Model = m
	fm = &filter.Message{Parsed: parse(t, "Subject: x\n\nhello\n")}
	if r := (&Check{Bayes: b}).Check(context.Background(), fm); r.Bayes == nil {
		t.Errorf("after 2/2: result %+v", r)
	}
	if keys, ok := fm.Recall(tokensKey{}); !ok || len(keys.([]Key)) == 0 {
		t.Error("after 2/2: the check's tokens were not kept for the autolearner")
	}
}

// Classifying while learning: no race, no torn counts (run with -race).
func TestConcurrentClassifyWhileLearning(t *testing.T) {
	b := openBayes(t, 1)
	ctx := context.Background()
	p := b.Params()
	b.Learn(ctx, []Item{{MsgID: "s", Spam: true, Keys: Keys([]string{"cheap", "pills"})}, {MsgID: "h", Keys: Keys([]string{"meeting", "agenda"})}}, false)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if prob, ok := b.Model.Classify(Keys([]string{"cheap", "pills"}), p); !ok || prob < 0.5 {
					t.Errorf("spam words scored %v %v", prob, ok)
					return
				}
			}
		}()
	}
	for i := 0; i < 100; i++ {
		if _, err := b.Learn(ctx, []Item{{MsgID: "m" + itoa(i), Spam: i%2 == 0, Keys: Keys([]string{"w" + itoa(i)})}}, false); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
}

// Autolearning goes through the pipeline's decision and ends in the store; what the
// Bayes check was already sure of is not learned.
func TestAutolearner(t *testing.T) {
	b := openBayes(t, 200)
	al := NewAutolearner(b, nil)
	sp := spool.FromBytes([]byte("x"))
	msg := func(s string) *filter.Message { return &filter.Message{Raw: sp, Parsed: parse(t, s)} }
	sure, unsure := 0.001, 0.3
	al.Autolearn(msg("Subject: hi\n\nlunch tomorrow?\n"), false, nil)        // cold start: no probability
	al.Autolearn(msg("Subject: hi 2\n\nlunch on Friday?\n"), false, &unsure) // unsure
	al.Autolearn(msg("Subject: hi 3\n\ndinner on Friday?\n"), false, &sure)  // sure: passed over
	al.Autolearn(msg("Subject: win\n\ncheap pills\n"), true, &sure)          // taken for ham: learned as spam
	al.Close()
	if spam, ham := b.Model.Totals(); spam != 1 || ham != 2 {
		t.Fatalf("autolearned %d spam, %d ham; want 1 and 2", spam, ham)
	}
}

// countingStore counts its Learn calls: the autolearner's commits.
type countingStore struct {
	Store
	calls, items atomic.Int32
}

func (s *countingStore) Learn(ctx context.Context, items []Item, forget bool) ([]Outcome, error) {
	s.calls.Add(1)
	s.items.Add(int32(len(items)))
	return s.Store.Learn(ctx, items, forget)
}

// Messages that come while the autolearner lingers after a first one are learned
// in the same commit, and Close does not wait out the linger.
func TestAutolearnerLingers(t *testing.T) {
	b := openBayes(t, 200)
	store := &countingStore{Store: b.Store}
	b.Store = store
	a := newAutolearner(b, nil)
	a.linger = time.Hour
	go a.run()
	sp := spool.FromBytes([]byte("x"))
	msg := func(s string) *filter.Message { return &filter.Message{Raw: sp, Parsed: parse(t, s)} }
	a.Autolearn(msg("Subject: one\n\nlunch tomorrow?\n"), false, nil)
	time.Sleep(50 * time.Millisecond) // the learner has taken the first, and waits
	a.Autolearn(msg("Subject: two\n\ndinner on Friday?\n"), false, nil)
	a.Autolearn(msg("Subject: three\n\nbreakfast on Sunday?\n"), false, nil)
	a.Close()
	if calls, items := store.calls.Load(), store.items.Load(); calls != 1 || items != 3 {
		t.Errorf("%d commits of %d messages; want 1 of 3", calls, items)
	}
}

// The autolearner learns the tokens the Bayes check read, not a second
// tokenizing of the message: the same keys, taken from the message.
func TestAutolearnerReusesCheckTokens(t *testing.T) {
	b := openBayes(t, 0)        // out of cold start: in it, the check does not tokenize (TestColdStart)
	a := newAutolearner(b, nil) // not running: the queue is read here
	sp := spool.FromBytes([]byte("x"))
	m := &filter.Message{Raw: sp, Parsed: parse(t, "Subject: win\n\ncheap pills today\n")}
	(&Check{Bayes: b}).Check(context.Background(), m)
	a.Autolearn(m, true, nil)
	p := <-a.queue
	want := ItemOf(m.Parsed, true, b.Params())
	if p.keys == nil || !slices.Equal(p.keys, want.Keys) {
		t.Fatalf("queued keys %d (nil: none remembered), want the check's %d", len(p.keys), len(want.Keys))
	}
	if got := a.item(p); got.MsgID != want.MsgID || !slices.Equal(got.Keys, want.Keys) {
		t.Errorf("item %v, want %v", got.MsgID, want.MsgID)
	}
}

// The queue holds at most maxQueued bytes of text: what does not fit is not
// learned, and what was tokenized no longer counts.
func TestAutolearnerQueueBytes(t *testing.T) {
	b := openBayes(t, 200)
	a := newAutolearner(b, nil) // not running yet: the queue fills
	a.maxQueued = 100
	sp := spool.FromBytes([]byte("x"))
	text := "\n" + strings.Repeat("lunch ", 10) + "\n" // a body of 61 bytes (its CRLF read as LF)
	for i := 0; i < 2; i++ {
		a.Autolearn(&filter.Message{Raw: sp, Parsed: parse(t, "Subject: hi "+itoa(i)+"\n"+text)}, false, nil)
	}
	if len(a.queue) != 1 || a.queued.Load() != 61 {
		t.Fatalf("queued %d messages, %d bytes; want 1 and 61", len(a.queue), a.queued.Load())
	}
	go a.run()
	a.Close()
	if _, ham := b.Model.Totals(); ham != 1 || a.queued.Load() != 0 {
		t.Errorf("learned %d ham, %d bytes still counted; want 1 and 0", ham, a.queued.Load())
	}
}

// TokenKeys is Keys(Tokens(m)) without the strings, with trigrams or without, also
// for a word that reads as a trigram token.
func TestTokenKeysMatchTokens(t *testing.T) {
	m := parse(t, "From: A <a@b.example>\nSubject: Hello World\n\nClick HERE http://x.example/p now tri:abc, caf\xe9\n")
	for _, trigrams := range []int{0, TrigramRunes} {
		toks := Tokens(m, trigrams)
		if got, want := TokenKeys(m, trigrams), Keys(toks); !slices.Equal(got, want) {
			t.Fatalf("trigrams %d: keys differ: %d vs %d", trigrams, len(got), len(want))
		}
		if hasTri := slices.Contains(toks, "tri:caf"); hasTri != (trigrams > 0) {
			t.Errorf("trigrams %d: tri:caf among the tokens: %v", trigrams, hasTri)
		}
	}
	// The tokens hashed in pieces (domains, the Received chain's, field names).
	m = parse(t, "Received: from MX1.Mail.Example.COM (mx1.mail.example.com [192.0.2.17])\n"+
		"\tby a..b.example (Postfix) with ESMTP id X; Mon, 1 Jan 2024 00:00:00 +0000\n"+
		"Received: from [2001:db8::1] by 10.0.0.1\n"+
		"X-Mailer-ID: 1\nx-lower: 2\n"+
		"From: B <b@Sub.Deep.Mail.Example.ORG>\nTo: c@[192.0.2.1]\nMessage-Id: <1@host.one.example>\n\nhi\n")
	toks := Tokens(m, 0)
	if got, want := TokenKeys(m, 0), Keys(toks); !slices.Equal(got, want) {
		t.Fatalf("keys differ: %d vs %d (%q)", len(got), len(want), toks)
	}
	for _, tok := range []string{"received:mx1.mail.example.com", "received:mail.example.com", "received:example.com",
		"received:192.0", "received:192.0.2", "received:a..b.example", "received:.b.example", "hdr:x-mailer-id", "hdr:x-lower",
		"from:sub.deep.mail.example.org", "from:example.org", "message-id:host.one.example"} {
		if !slices.Contains(toks, tok) {
			t.Errorf("no token %q in %q", tok, toks)
		}
	}
	for _, tok := range toks {
		if strings.HasPrefix(tok, "to:192") || strings.HasPrefix(tok, "received:2001") {
			t.Errorf("an address's domain token of an IP address: %q", tok)
		}
	}
}

// Spam through a mailing list: strong ham clues (the list's) and strong spam clues
// (its body). Fisher's method rejects both hypotheses and says 0.5 either way; the
// mean log-odds of the clues places each message inside the undecided band by the
// side most of its evidence is on.
func TestUndecidedBalance(t *testing.T) {
	m := NewModel()
	var list, pills []Key
	for i := 0; i < 40; i++ {
		list = append(list, KeyOf("list:"+itoa(i)))
		pills = append(pills, KeyOf("pills"+itoa(i)))
	}
	for i := 0; i < 200; i++ {
		m.Add(append([]Key{KeyOf("ham" + itoa(i))}, list...), false, 1)
		m.Add(append([]Key{KeyOf("spam" + itoa(i))}, pills...), true, 1)
	}
	p, off := DefaultParams(), DefaultParams()
	off.Undecided = 0
	for _, tc := range []struct {
		name                 string
		nlist, npills        int
		spamSide, decidedOff bool
	}{
		{"more spam evidence", 10, 30, true, false},
		{"more ham evidence", 30, 10, false, false},
		{"evidence one way only", 0, 30, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			keys := append(append([]Key{}, list[:tc.nlist]...), pills[:tc.npills]...)
			without, _ := m.Classify(keys, off)
			if decided := math.Abs(without-0.5) >= p.Undecided; decided != tc.decidedOff {
				t.Fatalf("Fisher's method alone: %.4f", without)
			}
			got, _ := m.Classify(keys, p)
			switch {
			case tc.decidedOff && got != without:
				t.Errorf("a decided message moved: %.4f, was %.4f", got, without)
			case !tc.decidedOff && (math.Abs(got-0.5) >= p.Undecided || (got > 0.5) != tc.spamSide):
				t.Errorf("%.4f, want inside 0.5 ± %.1f on the %v side of 0.5", got, p.Undecided, map[bool]string{true: "spam", false: "ham"}[tc.spamSide])
			}
		})
	}
}

// selectTop picks the same clues a full sort would, for any input order and ties.
func TestSelectTop(t *testing.T) {
	rng := rand.New(rand.NewSource(4))
	for round := 0; round < 200; round++ {
		n := 1 + rng.Intn(400)
		clues := make([]Clue, n)
		for i := range clues {
			dev := float64(rng.Intn(20)) / 40 // many ties
			clues[i] = Clue{Key: Key(rng.Intn(1000)), dev: dev, Prob: 0.5 + dev}
		}
		k := 1 + rng.Intn(n)
		want := slices.Clone(clues)
		slices.SortFunc(want, moreSignificant)
		got := slices.Clone(clues)
		selectTop(got, k)
		got = got[:k]
		slices.SortFunc(got, moreSignificant)
		if !slices.Equal(got, want[:k]) {
			t.Fatalf("n=%d k=%d: top differs", n, k)
		}
	}
}

// Train on or near error: in cold start everything is learned; after it, what the
// model is already sure of is passed over, the rest learned, and each message chosen
// counts for the ones after it in the same batch.
func TestSelector(t *testing.T) {
	p := tinyParams(2)
	spamKeys := Keys([]string{"cheap", "pills", "offer"})
	hamKeys := Keys([]string{"meeting", "agenda", "report"})
	m := NewModel()
	sel := m.NewSelector(p)
	for i := 0; i < 2; i++ {
		if !sel.Needs(spamKeys, true) || !sel.Needs(hamKeys, false) {
			t.Fatalf("cold start: message %d passed over", i)
		}
	}
	// The two of each just chosen end the cold start for the rest of the batch.
	tests := []struct {
		name string
		keys []Key
		spam bool
		want bool
	}{
		{"spam it is sure of", spamKeys, true, false},
		{"ham it is sure of", hamKeys, false, false},
		{"spam it takes for ham", hamKeys, true, true},
		{"unknown words", Keys([]string{"zebra", "quartz"}), false, true},
		{"mixed evidence", append(Keys([]string{"cheap"}), Keys([]string{"agenda"})...), true, true},
	}
	for _, tc := range tests {
		if got := m.NewSelector(p).Needs(tc.keys, tc.spam); got != true {
			t.Errorf("%s: the empty model passed it over", tc.name)
		}
		if got := sel.Needs(tc.keys, tc.spam); got != tc.want {
			t.Errorf("%s: Needs = %v, want %v", tc.name, got, tc.want)
		}
	}
	q := p
	q.LearnMargin = 0
	if all := m.NewSelector(q); !all.Needs(spamKeys, true) {
		t.Error("LearnMargin 0 passed a message over")
	}
}

// Bayes.Learn passes over what the classifier is sure of, and the store records
// nothing for it; LearnAll learns it.
func TestBayesLearnPassesOverSure(t *testing.T) {
	b := openBayes(t, 5)
	ctx := context.Background()
	item := func(id string, spam bool, words ...string) Item {
		return Item{MsgID: id, Spam: spam, Keys: Keys(words)}
	}
	var first []Item
	for i := 0; i < 5; i++ {
		first = append(first, item(fmt.Sprint("s", i), true, "cheap", "pills", fmt.Sprint("w", i)))
		first = append(first, item(fmt.Sprint("h", i), false, "meeting", "agenda", fmt.Sprint("w", i)))
	}
	out, err := b.Learn(ctx, first, false)
	if err != nil {
		t.Fatal(err)
	}
	if n := slices.Index(out, Sure); n >= 0 {
		t.Fatalf("cold start: item %d passed over: %v", n, out)
	}
	out, err = b.Learn(ctx, []Item{item("s9", true, "cheap", "pills"), item("x1", false, "cheap", "pills")}, false)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(out, []Outcome{Sure, Learned}) {
		t.Errorf("outcomes %v, want [Sure Learned]", out)
	}
	if spam, ham := b.Model.Totals(); spam != 5 || ham != 6 {
		t.Errorf("totals %d/%d, want 5/6", spam, ham)
	}
	out, err = b.LearnAll(ctx, []Item{item("s9", true, "cheap", "pills"), item("h0", true, "meeting", "agenda", "w0")}, false)
	if err != nil || !slices.Equal(out, []Outcome{Learned, Relearned}) {
		t.Errorf("LearnAll: %v %v", out, err)
	}
	// The model was brought up to date without reading the store back: it must
	// hold exactly what the store holds.
	if _, err := b.LearnAll(ctx, []Item{item("h0", false, "meeting", "agenda", "w0")}, true); err != nil {
		t.Fatal(err)
	}
	want, wspam, wham := dump(t, b.Store)
	if gspam, gham := b.Model.Totals(); gspam != wspam || gham != wham || !maps.Equal(b.Model.tokens.toMap(), want) {
		t.Errorf("model %d/%d %v, store %d/%d %v", gspam, gham, b.Model.tokens.toMap(), wspam, wham, want)
	}
}

// Explain names the tokens behind a probability, strongest first, and says nothing in
// cold start.
func TestExplain(t *testing.T) {
	b := openBayes(t, 2)
	ctx := context.Background()
	var items []Item
	for i := 0; i < 2; i++ {
		items = append(items,
			ItemOf(parse(t, fmt.Sprintf("Subject: cheap pills %d\n\nbuy cheap pills now\n", i)), true, b.Params()),
			ItemOf(parse(t, fmt.Sprintf("Subject: agenda %d\n\nthe meeting agenda\n", i)), false, b.Params()))
	}
	msg := parse(t, "Subject: cheap\n\nbuy cheap pills, the agenda\n")
	if got := b.Explain(msg, 0); got != nil {
		t.Fatalf("cold start: %v", got)
	}
	if _, err := b.LearnAll(ctx, items, false); err != nil {
		t.Fatal(err)
	}
	got := b.Explain(msg, 0)
	toks := map[string]TokenClue{}
	for i, c := range got {
		toks[c.Token] = c
		if i > 0 && math.Abs(c.Prob-0.5) > math.Abs(got[i-1].Prob-0.5) {
			t.Errorf("not strongest first: %v", got)
		}
	}
	if c, ok := toks["pills"]; !ok || c.Prob < 0.9 || c.Counts != (Counts{Spam: 2}) {
		t.Errorf("pills: %+v in %v", c, got)
	}
	if c, ok := toks["agenda"]; !ok || c.Prob > 0.1 || c.Counts != (Counts{Ham: 2}) {
		t.Errorf("agenda: %+v in %v", c, got)
	}
	if n := len(b.Explain(msg, 3)); n != 3 {
		t.Errorf("Explain(msg, 3) gave %d clues", n)
	}
}

// A probability from fewer than FewClues clues is pulled towards 0.5 in proportion,
// on the same side; from more, it is Fisher's alone.
func TestFewClues(t *testing.T) {
	m := NewModel()
	p := tinyParams(1)
	p.FewClues = 10
	var spam []Key
	for i := 0; i < 20; i++ {
		spam = append(spam, KeyOf("spam"+itoa(i)))
	}
	for i := 0; i < 3; i++ {
		m.Add(spam, true, 1)
		m.Add([]Key{KeyOf("ham")}, false, 1)
	}
	tests := []struct {
		clues int
		want  func(full float64) float64
	}{
		{1, func(f float64) float64 { return 0.5 + (f-0.5)*0.1 }},
		{5, func(f float64) float64 { return 0.5 + (f-0.5)*0.5 }},
		{10, func(f float64) float64 { return f }},
		{20, func(f float64) float64 { return f }},
	}
	for _, tc := range tests {
		q := p
		q.FewClues = 0
		full, _ := m.Classify(spam[:tc.clues], q)
		got, _ := m.Classify(spam[:tc.clues], p)
		if want := tc.want(full); math.Abs(got-want) > 1e-12 || got < 0.5 {
			t.Errorf("%d clues: %.6f, want %.6f (Fisher's alone %.6f)", tc.clues, got, want, full)
		}
	}
}

// panickyStore panics in its first Learn: a bug in a store, say.
type panickyStore struct {
	Store
	panicked bool
}

func (s *panickyStore) Learn(ctx context.Context, items []Item, forget bool) ([]Outcome, error) {
	if !s.panicked {
		s.panicked = true
		panic("store bug")
	}
	return s.Store.Learn(ctx, items, forget)
}

// A panic while autolearning loses that batch, logged, and not the daemon: the
// learner goes on with the next message.
func TestAutolearnerSurvivesPanic(t *testing.T) {
	b := openBayes(t, 200)
	b.Store = &panickyStore{Store: b.Store}
	log, hook := logtest.NewNullLogger()
	a := newAutolearner(b, log)
	a.linger = 0 // (learnBatch is called here, the queue left open)
	sp := spool.FromBytes([]byte("x"))
	msg := func(s string) *filter.Message { return &filter.Message{Raw: sp, Parsed: parse(t, s)} }

	a.Autolearn(msg("Subject: one\n\nlunch tomorrow?\n"), false, nil)
	a.learnBatch(<-a.queue) // panics inside, must not here
	if e := hook.LastEntry(); e == nil || e.Level != logrus.ErrorLevel || e.Data["panic"] != "store bug" {
		t.Fatalf("panic not logged: %v", e)
	}
	if a.queued.Load() != 0 {
		t.Errorf("%d bytes still counted against the queue", a.queued.Load())
	}

	go a.run()
	a.Autolearn(msg("Subject: two\n\ndinner on Friday?\n"), false, nil)
	a.Close()
	if _, ham := b.Model.Totals(); ham != 1 {
		t.Errorf("learned %d ham after the panic, want 1", ham)
	}
}

// The store tells whether it learned with trigrams, and a setting that disagrees is
// said plainly.
func TestTrigramMismatch(t *testing.T) {
	msg := parse(t, "Subject: hello\n\nsee the meeting notes at http://intranet.example/notes\n")
	words, tri := DefaultParams(), DefaultParams().WithTrigrams()
	for _, tc := range []struct {
		name         string
		learnWith    Params
		classifyWith Params
		want         string // a part of the warning, "" for none
	}{
		{"words, words", words, words, ""},
		{"trigrams, trigrams", tri, tri, ""},
		{"words, then trigrams on", words, tri, "learned without them"},
		{"trigrams, then off", tri, words, "not used"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := openBayes(t, 1)
			if got := TrigramMismatch(0, false, tc.classifyWith); got != "" {
				t.Errorf("empty store: %q", got)
			}
			if _, err := b.LearnAll(context.Background(), []Item{ItemOf(msg, false, tc.learnWith)}, false); err != nil {
				t.Fatal(err)
			}
			st, err := b.Store.(*SQLite).Stats(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if has := tc.learnWith.Trigrams > 0; st.Trigrams != has || b.Model.HasTrigrams() != has {
				t.Errorf("store says trigrams %v, model %v; learned with %v", st.Trigrams, b.Model.HasTrigrams(), has)
			}
			b.SetParams(tc.classifyWith)
			got := b.TrigramMismatch()
			if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// Forgetting a message under other tokens than it was learned with (bayes.trigrams
// turned on or off in between) never leaves a count below 0 or an empty token.
func TestForgetOtherTokens(t *testing.T) {
	s, _ := openStore(t)
	ctx := context.Background()
	a, b := Keys([]string{"shared", "only-learned"}), Keys([]string{"shared", "only-forgotten"})
	if _, err := s.Learn(ctx, []Item{{MsgID: "m", Spam: true, Keys: a}}, false); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Learn(ctx, []Item{{MsgID: "m", Spam: true, Keys: b}}, true); err != nil {
		t.Fatal(err)
	}
	got, spam, ham := dump(t, s)
	want := map[Key]Counts{KeyOf("only-learned"): {1, 0}}
	if !maps.Equal(got, want) || spam != 0 || ham != 0 {
		t.Errorf("tokens %v, totals %d/%d; want %v and 0/0", got, spam, ham, want)
	}
	// Relearned the other way under the other tokenizer: a token new to the store
	// is inserted with -1 spam and +1 ham, and must keep only the ham.
	if _, err := s.Learn(ctx, []Item{{MsgID: "n", Spam: true, Keys: a}}, false); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Learn(ctx, []Item{{MsgID: "n", Spam: false, Keys: b}}, false); err != nil {
		t.Fatal(err)
	}
	got, spam, ham = dump(t, s)
	want = map[Key]Counts{KeyOf("only-learned"): {2, 0}, KeyOf("shared"): {0, 1}, KeyOf("only-forgotten"): {0, 1}}
	if !maps.Equal(got, want) || spam != 0 || ham != 1 {
		t.Errorf("after relearning: tokens %v, totals %d/%d; want %v and 0/1", got, spam, ham, want)
	}
}

// At the cut of MaxClues, a tie of equally strong clues is shared between its
// spam-leaning and ham-leaning sides in proportion, whatever the keys: the same
// clues under other keys, in another order, give the same probability.
func TestCombineTieAtTheCut(t *testing.T) {
	clue := func(k Key, f float64) Clue { return Clue{Key: k, Prob: f, dev: math.Abs(f - 0.5)} }
	var clues []Clue
	for i, f := range []float64{0.95, 0.95, 0.95, 0.05, 0.05, 0.05} { // above the tie: all in
		clues = append(clues, clue(Key(i+1), f))
	}
	for i := 0; i < 9; i++ { // the tie (0.75 and 0.25 are both 0.25 from 0.5): 9 and 3, 4 places
		clues = append(clues, clue(Key(100+i), 0.75))
	}
	for i := 0; i < 3; i++ {
		clues = append(clues, clue(Key(200+i), 0.25))
	}
	// By hand: the 6, round(4 × 9/12) = 3 × 0.75, 1 × 0.25.
	want := append(slices.Clone(clues[:9]), clues[15])
	expected := combine(want, 10)
	// The tie matters: all 4 places to the spam side would give another answer.
	if spamSide := combine(slices.Clone(clues[:10]), 10); math.Abs(spamSide-expected) < 0.01 {
		t.Fatalf("the tie makes no difference (%v, %v): the test shows nothing", spamSide, expected)
	}
	rng := rand.New(rand.NewSource(1))
	for round := 0; round < 20; round++ {
		shuffled := slices.Clone(clues)
		salt := Key(rng.Uint64())
		for i := range shuffled {
			shuffled[i].Key ^= salt
		}
		rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		if got := combine(shuffled, 10); math.Abs(got-expected) > 1e-12 {
			t.Fatalf("round %d: %v, want %v", round, got, expected)
		}
	}
}

// trimPunct is strings.TrimFunc(w, isTrim) on every word of up to four pieces
// (punctuation kept and trimmed, letters, runes that are not ASCII at the ends).
func TestTrimPunct(t *testing.T) {
	pieces := []string{"", "a", "Z9", ".", ",", "'", "$", "%", "!", "@", "-", "«", "»", "é", "\u2014", "\xff", "_"}
	var walk func(w string, depth int)
	walk = func(w string, depth int) {
		if got, want := trimPunct(w), strings.TrimFunc(w, isTrim); got != want {
			t.Errorf("trimPunct(%q) = %q, want %q", w, got, want)
		}
		if depth < 4 {
			for _, p := range pieces {
				walk(w+p, depth+1)
			}
		}
	}
	walk("", 0)
}

// Text longer than the tokenizer's budget is cut at a character, not inside one:
// a cut UTF-8 character made the whole text invalid, and it was read as Latin-1
// ("cafÃ©").
func TestTokensBudgetCutsAtCharacter(t *testing.T) {
	body := strings.Repeat("café ", maxTextBytes/len("café ")+1) // (the budget ends inside an é)
	m := parse(t, "Subject: x\nContent-Type: text/plain; charset=utf-8\n\n"+body+"\n")
	toks := Tokens(m, 0)
	if !slices.Contains(toks, "café") || slices.Contains(toks, "cafÃ©") {
		t.Errorf("tokens hold café: %v, cafÃ©: %v", slices.Contains(toks, "café"), slices.Contains(toks, "cafÃ©"))
	}
}
