package rules

import (
	"bytes"
	bin "encoding/binary"
	"hash/crc32"
	"math/rand"
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
	"sync"
	"testing"
)

// recordOf is d's record as WriteAutomata writes it, less its fingerprint: what
// adopt reads.
func recordOf(t *testing.T, d *dfa) (*automataReader, int) {
	t.Helper()
	rec, n := d.appendRecord(nil, dfaPrint{})
	if n == 0 {
		return nil, 0
	}
	return &automataReader{b: rec[len(dfaPrint{}):]}, n
}

// A DFA given another's states answers as Go's regexp does, on the texts that
// made those states and on others; and it keeps what it learned itself.
func TestAdoptAgreesWithRegexp(t *testing.T) {
	learn := append(slices.Clone(agreementTexts), randomTexts(4, agreementAlphabet, 200, 20)...)
	check := append(slices.Clone(agreementTexts), randomTexts(5, agreementAlphabet, 300, 20)...)
	adopted, kept := 0, 0
	for _, p := range agreementPatterns {
		re, d := regexp.MustCompile(p), newDFA(p)
		for _, text := range learn {
			d.match(text)
		}
		rec, n := recordOf(t, d)
		if rec == nil {
			continue // (nothing past the start states)
		}
		adopted++
		e := newDFA(p)
		if got := e.adopt(rec); got != n {
			t.Fatalf("%q: adopted %d states of %d", p, got, n)
		}
		for _, text := range check {
			got, ok := e.match(text)
			if !ok {
				t.Fatalf("%q on %q: DFA gave up", p, text)
			}
			if want := re.MatchString(text); got != want {
				t.Errorf("%q on %q: adopted DFA %v, regexp %v", p, text, got, want)
			}
		}
		own := newDFA(p)
		own.match(learn[len(learn)-1] + "abc")
		if _, learned := recordOf(t, own); learned > 0 {
			kept++
			if rec, _ = recordOf(t, d); own.adopt(rec) != 0 {
				t.Errorf("%q: a DFA that had learned states took another's", p)
			}
		}
	}
	// (Each part of the test ran: patterns that learn, on both sides.)
	if adopted < len(agreementPatterns)/2 || kept < len(agreementPatterns)/2 {
		t.Errorf("of %d patterns, %d learned states to adopt and %d learned their own", len(agreementPatterns), adopted, kept)
	}
}

// A set DFA's adopted states give the masks a new one computes.
func TestAdoptSetDFA(t *testing.T) {
	var subs []*syntax.Regexp
	for _, p := range agreementPatterns[:12] {
		re, err := parseRE(p)
		if err != nil {
			t.Fatal(err)
		}
		subs = append(subs, re)
	}
	d := newSetDFA(subs)
	for _, text := range randomTexts(6, agreementAlphabet, 300, 20) {
		d.matchSet(text)
	}
	rec, n := recordOf(t, d)
	e, fresh := newSetDFA(subs), newSetDFA(subs)
	if rec == nil || e.adopt(rec) != n {
		t.Fatalf("the set DFA's %d states not adopted", n)
	}
	for _, text := range append(slices.Clone(agreementTexts), randomTexts(7, agreementAlphabet, 300, 20)...) {
		got, ok1 := e.matchSet(text)
		want, ok2 := fresh.matchSet(text)
		if got != want || ok1 != ok2 {
			t.Errorf("on %q: adopted %b (%v), new %b (%v)", text, got, ok1, want, ok2)
		}
	}
}

// A DFA takes states past its own budget only from its set's pool, and gives
// back what it borrowed when the pool cannot hold them all.
func TestAdoptBudget(t *testing.T) {
	p := `(?:a|b)*a(?:a|b){10}c`
	d := newDFA(p) // (no pool: 256 KB of its own)
	rng := rand.New(rand.NewSource(8))
	b := make([]byte, 20000)
	for j := range b {
		b[j] = "ab"[rng.Intn(2)]
	}
	d.match(string(b))
	rec, n := recordOf(t, d)
	inSet := newDFA(p)
	inSet.pool = &dfaPool{}
	if n <= inSet.maxStates()*2 {
		t.Fatalf("%d states: within twice a DFA's own budget in a set, the test needs more", n)
	}
	for _, tc := range []struct {
		limit int64
		want  int
	}{{0, 0}, {dfaPoolStep, 0}, {dfaPoolLimit, n}} {
		e := newDFA(p)
		e.pool = &dfaPool{limit: tc.limit}
		rec.off, rec.err = 0, nil
		if got := e.adopt(rec); got != tc.want {
			t.Errorf("pool of %d bytes: adopted %d states, want %d", tc.limit, got, tc.want)
		}
		if tc.want == 0 && (e.pool.used.Load() != 0 || e.extra != 0) {
			t.Errorf("pool of %d bytes: %d bytes kept after a refusal", tc.limit, e.pool.used.Load())
		}
	}
}

// automataMessages are messages for the default rules: their DFAs learn on them.
func automataMessages() []string {
	return []string{
		sample,
		strings.ReplaceAll(sample, "suspended", "SUSPENDED now, click"),
		"From: a@example.com\nTo: b@example.com\nSubject: lunch?\n\nSee you at noon, at the usual place.\n",
		"From: win@lottery.example\nSubject: You have WON $1,000,000 USD\nContent-Type: text/html\n\n<p>Claim your prize at <a href=\"http://198.51.100.7/claim\">our site</a></p>\n",
	}
}

// What a set's DFAs learned, read into another set of the same rules, gives the
// same hits as a new set's; a damaged file, or another build's, gives nothing.
func TestWriteReadAutomata(t *testing.T) {
	msgs := automataMessages()
	learned, _ := Load(DefaultPath)
	var empty bytes.Buffer // (a set that has checked nothing yet)
	if _, _, err := learned.WriteAutomata(&empty); err != nil {
		t.Fatal(err)
	}
	if n, _, err := learned.ReadAutomata(empty.Bytes()); n != 0 || err != nil {
		t.Errorf("a file of no DFAs: %d read, %v", n, err)
	}
	for _, raw := range msgs[:2] {
		mustEval(t, learned, msgOf(t, raw))
	}
	var file bytes.Buffer
	dfas, states, err := learned.WriteAutomata(&file)
	if err != nil || dfas == 0 || states == 0 {
		t.Fatalf("wrote %d DFAs, %d states: %v", dfas, states, err)
	}
	fresh, _ := Load(DefaultPath)
	adopted, _ := Load(DefaultPath)
	gotDFAs, gotStates, err := adopted.ReadAutomata(file.Bytes())
	if err != nil || gotDFAs < dfas || gotStates < states {
		t.Fatalf("read %d DFAs, %d states of %d, %d: %v", gotDFAs, gotStates, dfas, states, err)
	}
	if n, _ := adopted.DFACache(); n < states {
		t.Errorf("the set holds %d states after reading %d", n, states)
	}
	for _, raw := range msgs {
		if got, want := hitNames(t, adopted, msgOf(t, raw)), hitNames(t, fresh, msgOf(t, raw)); !slices.Equal(got, want) {
			t.Errorf("hits with the states read %v, new %v", got, want)
		}
	}

	// fixCRC recomputes the checksum of a file changed on purpose.
	fixCRC := func(b []byte) []byte {
		bin.LittleEndian.PutUint32(b[len(b)-4:], crc32.Checksum(b[:len(b)-4], castagnoli))
		return b
	}
	build, _ := buildKey()
	head := len(automataMagic) + len(build)
	good := file.Bytes()
	none := func(n int) bool { return n == 0 }
	// The first record's DFA (and any of the same program) is passed over.
	passedOver := func(n int) bool { return n < gotDFAs && n >= gotDFAs-2 }
	tests := []struct {
		name    string
		data    []byte
		wantErr bool
		dfas    func(int) bool
	}{
		{"as written", slices.Clone(good), false, func(n int) bool { return n == gotDFAs }},
		{"empty", nil, true, none},
		{"another format", fixCRC(append([]byte("postern automata\x02"), good[len(automataMagic):]...)), true, none},
		{"another build", func() []byte { b := slices.Clone(good); b[head-1] ^= 1; return fixCRC(b) }(), true, none},
		{"a flipped bit", func() []byte { b := slices.Clone(good); b[head+40] ^= 4; return b }(), true, none},
		{"truncated", fixCRC(slices.Clone(good[:len(good)-100])), true, none},
		{"a count past the end", func() []byte {
			// The first record's states: its table would be gigabytes.
			b := slices.Clone(good)
			bin.LittleEndian.PutUint32(b[head+len(dfaPrint{})+4:], 1<<32-2)
			return fixCRC(b)
		}(), true, none},
		{"a row out of range", func() []byte {
			// The first record's first state's first entry.
			b := slices.Clone(good)
			r := automataReader{b: b[head+len(dfaPrint{}):]}
			width, n := int(r.u32()), int(r.u32())
			for k := 0; k < n; k++ {
				r.take(2 * int(r.u16()))
			}
			at := head + len(dfaPrint{}) + r.off + 4*width
			bin.LittleEndian.PutUint32(b[at:], uint32(width*(n+7)))
			return fixCRC(b)
		}(), false, passedOver},
	}
	for _, tc := range tests {
		s, _ := Load(DefaultPath)
		got, _, err := s.ReadAutomata(tc.data)
		if (err != nil) != tc.wantErr || !tc.dfas(got) {
			t.Errorf("%s: %d DFAs read (of %d), error %v", tc.name, got, gotDFAs, err)
		}
		for _, raw := range msgs {
			if got, want := hitNames(t, s, msgOf(t, raw)), hitNames(t, fresh, msgOf(t, raw)); !slices.Equal(got, want) {
				t.Errorf("%s: hits %v, new set's %v", tc.name, got, want)
			}
		}
	}
}

// A reload keeps the states of the rules it did not change.
func TestAdoptAutomataOnReload(t *testing.T) {
	dir := writeRules(t, map[string]string{"r.cf": "body A /verify\\s+your\\s+account/i\nbody B /click\\W+here/i\n"})
	old, _ := Load(dir)
	mustEval(t, old, msgOf(t, sample))
	dir2 := writeRules(t, map[string]string{"r.cf": "body A /verify\\s+your\\s+account/i\nbody C /suspend(?:ed)?/i\n"})
	next, _ := Load(dir2)
	dfas, _, err := next.AdoptAutomata(old)
	if err != nil || dfas == 0 {
		t.Fatalf("kept %d DFAs: %v", dfas, err)
	}
	if n, _ := next.Rule("C").dfa.cache(); n > 5 {
		t.Errorf("the new rule's DFA holds %d states before reading anything", n)
	}
	if got := hitNames(t, next, msgOf(t, sample)); !slices.Equal(got, []string{"A", "C"}) {
		t.Errorf("hits after the reload: %v", got)
	}
}

// Whatever a file holds, reading it never panics, nor does checking mail after.
func FuzzReadAutomata(f *testing.F) {
	s, _ := Load(DefaultPath)
	for _, raw := range automataMessages() {
		s.Eval(msgOf(f, raw))
	}
	var file bytes.Buffer
	if _, _, err := s.WriteAutomata(&file); err != nil {
		f.Fatal(err)
	}
	f.Add(file.Bytes(), 100, byte(1))
	f.Fuzz(func(t *testing.T, data []byte, at int, x byte) {
		b := slices.Clone(data)
		if len(b) > 4 {
			b[max(at, 0)%(len(b)-4)] ^= x
			bin.LittleEndian.PutUint32(b[len(b)-4:], crc32.Checksum(b[:len(b)-4], castagnoli))
		}
		set, _ := Load(DefaultPath)
		set.ReadAutomata(b)
		for _, raw := range automataMessages() {
			set.Eval(msgOf(t, raw))
		}
	})
}

// Writing the states while sessions check mail (serve's periodic write) disturbs
// neither: each DFA is read under its lock (run under -race in CI).
func TestWriteAutomataWhileChecking(t *testing.T) {
	s, _ := Load(DefaultPath)
	fresh, _ := Load(DefaultPath)
	msgs := automataMessages()
	want := make([][]string, len(msgs))
	for i, raw := range msgs {
		want[i] = hitNames(t, fresh, msgOf(t, raw))
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range 8 {
				i := (w + k) % len(msgs)
				if got := hitNames(t, s, msgOf(t, msgs[i])); !slices.Equal(got, want[i]) {
					t.Errorf("message %d: %v, want %v", i, got, want[i])
				}
			}
		}()
	}
	for range 5 {
		var b bytes.Buffer
		if _, _, err := s.WriteAutomata(&b); err != nil {
			t.Error(err)
		}
		next, _ := Load(DefaultPath)
		if _, _, err := next.ReadAutomata(b.Bytes()); err != nil {
			t.Error(err)
		}
	}
	wg.Wait()
}
