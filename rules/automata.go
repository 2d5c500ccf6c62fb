package rules

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	bin "encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"hash/maphash"
	"io"
	"os"
	"regexp/syntax"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
)

// A set's DFAs learn their states from the mail they read: a new process (a
// restart, a reload, each `postern check`) starts with none, and computes them
// again on its first thousand messages, a third of the stock rules' cost a
// message there (docs/benchmarks.md, "Thirty-eighth session"). WriteAutomata
// keeps what they learned, and ReadAutomata gives it to the DFAs of another set,
// of this build of postern, whose programs are the same.
//
// A DFA is known by a hash of its program, not by its rule: what it learned
// holds for any regex that compiles to the same program, and a rule file edited
// between two processes costs only the rules it changed. Its states are written
// as their keys (their instructions and kind) in row order, with the transition
// table: rows are offsets, so the table is read back as it was written.
//
// The states mean something only to the code that computed them: a file
// written by another build (the executable's size and checksum) is not read.

// AutomataFile is the name serve and check give the file in data_dir.
const AutomataFile = "automata.cache"

// automataMagic starts the file; its last byte is the format's version.
var automataMagic = []byte("postern automata\x01")

// dfaPrint names a DFA's program (see fingerprint).
type dfaPrint [16]byte

// fingerprint hashes what a DFA's states and transitions are computed from: its
// compacted program, its rune classes and its kind.
func (d *dfa) fingerprint(buf []byte) (dfaPrint, []byte) {
	le := bin.LittleEndian
	b := buf[:0]
	flags := byte(0)
	for i, f := range []bool{d.anchored, d.set, d.noAssert} {
		if f {
			flags |= 1 << i
		}
	}
	b = append(b, flags)
	b = le.AppendUint32(b, d.all)
	b = le.AppendUint32(b, uint32(d.width))
	b = le.AppendUint32(b, uint32(d.nclass))
	b = le.AppendUint32(b, d.start)
	b = append(b, d.ascii[:]...)
	b = le.AppendUint32(b, uint32(len(d.insts)))
	for _, in := range d.insts {
		fold := byte(0)
		if in.fold {
			fold = 1
		}
		b = append(b, byte(in.op), fold)
		b = le.AppendUint16(b, in.nr)
		b = le.AppendUint32(b, in.out)
		b = le.AppendUint32(b, in.arg)
	}
	for _, rs := range [][]rune{d.runes, d.bounds, d.rep} {
		b = le.AppendUint32(b, uint32(len(rs)))
		for _, r := range rs {
			b = le.AppendUint32(b, uint32(r))
		}
	}
	b = le.AppendUint32(b, uint32(len(d.ivClass)))
	for _, c := range d.ivClass {
		b = le.AppendUint16(b, c)
	}
	sum := sha256.Sum256(b)
	return dfaPrint(sum[:16]), b
}

// automata is every DFA of the set (the same DFAs DFACache counts).
func (s *Set) automata() []*dfa {
	var out []*dfa
	for _, r := range s.all {
		for _, d := range []*dfa{r.dfa, r.pre, r.starts} {
			if d != nil {
				out = append(out, d)
			}
		}
	}
	for _, u := range s.runPlan.unions {
		if u.d != nil {
			out = append(out, u.d)
		}
	}
	return out
}

// appendRecord appends d's record to rec: its fingerprint fp, its width, its
// current generation's state keys in row order from row 1, and its table (rows
// times width entries, row 0 empty). It holds d's lock meanwhile (searches go
// on); states is 0, and nothing is appended, when d has learned nothing past
// its start states.
func (d *dfa) appendRecord(rec []byte, fp dfaPrint) (_ []byte, states int) {
	le := bin.LittleEndian
	d.mu.Lock()
	defer d.mu.Unlock()
	g := d.gen.Load()
	if len(g.states) <= int(g.fresh) {
		return rec, 0
	}
	rec = append(rec, fp[:]...)
	rec = le.AppendUint32(rec, uint32(d.width))
	rec = le.AppendUint32(rec, uint32(len(g.states)-1))
	for i := 1; i < len(g.states); i++ {
		k := d.keyOf(g, int32(i*d.width))
		rec = le.AppendUint16(rec, uint16(len(k)))
		for _, v := range k {
			rec = le.AppendUint16(rec, v)
		}
	}
	for _, v := range int32s(g.rows())[:len(g.states)*d.width] {
		rec = le.AppendUint32(rec, uint32(v))
	}
	return rec, len(g.states) - 1
}

// WriteAutomata writes the states the set's DFAs have learned (those past their
// start states) for ReadAutomata; it returns how many DFAs and states it wrote.
// It may run while the set checks mail.
func (s *Set) WriteAutomata(w io.Writer) (dfas, states int, err error) {
	build, err := buildKey()
	if err != nil {
		return 0, 0, err
	}
	sum := crc32.New(castagnoli)
	bw := bufio.NewWriterSize(io.MultiWriter(w, sum), 1<<16)
	bw.Write(automataMagic)
	bw.Write(build)
	seen := map[dfaPrint]bool{}
	var buf, rec []byte
	for _, d := range s.automata() {
		var fp dfaPrint
		fp, buf = d.fingerprint(buf)
		if seen[fp] {
			continue // (the same program in another rule: either one's states will do)
		}
		var n int
		if rec, n = d.appendRecord(rec[:0], fp); n == 0 {
			continue
		}
		seen[fp] = true
		bw.Write(rec)
		dfas++
		states += n
	}
	if err := bw.Flush(); err != nil {
		return 0, 0, fmt.Errorf("rules: write automata: %w", err)
	}
	if _, err := w.Write(bin.LittleEndian.AppendUint32(nil, sum.Sum32())); err != nil {
		return 0, 0, fmt.Errorf("rules: write automata: %w", err)
	}
	return dfas, states, nil
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrOtherBuild is ReadAutomata's error for a file another build of postern
// wrote (or another version of the format): its states are not used.
var ErrOtherBuild = errors.New("rules: automata written by another build")

// ReadAutomata gives the set's DFAs the states that WriteAutomata wrote for DFAs
// of the same programs, and returns how many DFAs and states it gave. Call it
// before the set checks mail: a DFA that has learned states of its own keeps them.
// A file that is damaged, or from another build, gives nothing (an error); a
// record that does not fit its DFA (or the set's budget) is passed over.
func (s *Set) ReadAutomata(data []byte) (dfas, states int, err error) {
	build, err := buildKey()
	if err != nil {
		return 0, 0, err
	}
	head := len(automataMagic) + len(build)
	le := bin.LittleEndian
	switch {
	case !bytes.HasPrefix(data, automataMagic):
		return 0, 0, ErrOtherBuild // (or no automata file at all)
	case len(data) < head+4:
		return 0, 0, errors.New("rules: automata: a damaged file (too short)")
	case !bytes.Equal(data[len(automataMagic):head], build):
		return 0, 0, ErrOtherBuild
	}
	body := data[:len(data)-4]
	if crc32.Checksum(body, castagnoli) != le.Uint32(data[len(data)-4:]) {
		return 0, 0, errors.New("rules: automata: checksum mismatch (a damaged file)")
	}
	// Where each DFA's record is; decoded only for the DFAs of this set.
	at := map[dfaPrint]automataReader{}
	r := automataReader{b: body[head:]}
	for r.off < len(r.b) && r.err == nil {
		var fp dfaPrint
		copy(fp[:], r.take(len(fp)))
		start := r.off
		width, nstates := int(r.u32()), int(r.u32())
		for k := 0; k < nstates && r.err == nil; k++ {
			r.take(2 * int(r.u16()))
		}
		r.take(4 * width * (nstates + 1))
		at[fp] = automataReader{b: r.b[start:r.off]}
	}
	if r.err != nil {
		return 0, 0, r.err
	}
	// The DFAs are independent (each adopts under its own lock, the pool is
	// atomic), so they adopt on every core: 88–93 ms of a start-up for a stock
	// cache of 65,000 states, against 101–109 on one (docs/benchmarks.md).
	all := s.automata()
	var next, nDFAs, nStates atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), 8) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf []byte
			for i := next.Add(1) - 1; i < int64(len(all)); i = next.Add(1) - 1 {
				var fp dfaPrint
				fp, buf = all[i].fingerprint(buf)
				rec, ok := at[fp] // (a copy: each DFA of a program reads it from its start)
				if !ok {
					continue
				}
				if n := all[i].adopt(&rec); n > 0 {
					nDFAs.Add(1)
					nStates.Add(int64(n))
				}
			}
		}()
	}
	wg.Wait()
	return int(nDFAs.Load()), int(nStates.Load()), nil
}

// automataReader reads a record's integers; past its end it reads zeros and
// records the error.
type automataReader struct {
	b   []byte
	off int
	err error
}

func (r *automataReader) take(n int) []byte {
	if r.err != nil || n < 0 || n > len(r.b)-r.off {
		// Zeros for the integers; a longer field is read only without an
		// error (and a damaged length may say anything).
		r.err = errors.New("rules: automata: truncated record")
		var zeros [16]byte
		return zeros[:min(max(n, 0), len(zeros))]
	}
	p := r.b[r.off : r.off+n]
	r.off += n
	return p
}

func (r *automataReader) u32() uint32 { return bin.LittleEndian.Uint32(r.take(4)) }
func (r *automataReader) u16() uint16 { return bin.LittleEndian.Uint16(r.take(2)) }

// adopt makes rec (a record of WriteAutomata: width, states, table) d's current
// generation and returns its states, or 0 when d keeps its own: d has learned
// states already, rec does not start as a new generation does, a key or an entry
// is out of range, or the set's pool cannot hold it.
func (d *dfa) adopt(rec *automataReader) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	if cur := d.gen.Load(); len(cur.states) != int(cur.fresh) {
		return 0 // it learned on its own (a set already in use)
	}
	d.takeSeen()
	defer d.putSeen()
	g := d.newGen()
	if int(rec.u32()) != d.width {
		return 0
	}
	n := int(rec.u32()) + 1 // rows, with row 0
	if n <= len(g.states) || rec.err != nil {
		return 0
	}
	extra := d.extra
	giveBack := func() int { // what the pool lent for rec
		if d.pool != nil {
			d.pool.used.Add(-(d.extra - extra))
		}
		d.extra = extra
		return 0
	}
	for n > d.maxStates() {
		if !d.borrow() {
			return giveBack()
		}
	}
	tail := 1
	if d.set {
		tail = 3 // the kind, and the mask's two halves
	}
	key := make([]uint16, 0, 64)
	for row := 1; row < n; row++ {
		k := int(rec.u16())
		raw := rec.take(2 * k)
		if rec.err != nil || k < tail {
			return giveBack()
		}
		key = key[:0]
		pending := false
		for i := 0; i < k; i++ {
			v := bin.LittleEndian.Uint16(raw[2*i:])
			if i < k-tail {
				if int(v) >= len(d.insts) || d.insts[v].op == syntax.InstMatch {
					return giveBack()
				}
				pending = pending || d.insts[v].op == syntax.InstEmptyWidth
			}
			key = append(key, v)
		}
		before := key[k-tail]
		if before > beforeOther {
			return giveBack()
		}
		if row < len(g.states) { // a start state: newGen made it, the same
			if !slices.Equal(d.keyOf(g, int32(row*d.width)), key) {
				return giveBack()
			}
			continue
		}
		chunk, off := g.keep(key)
		g.states = append(g.states, dstate{chunk: chunk, off: off, n: uint32(k - tail), before: uint8(before), pending: pending})
		d.insert(g, int32(row*d.width), maphash.String(stateSeed, pcsKey(key)))
	}
	raw := rec.take(4 * d.width * n)
	if rec.err != nil {
		return giveBack()
	}
	tab := make([]atomic.Int32, max(n*d.width, len(g.rows())))
	vals := int32s(tab)
	limit := int32(n * d.width)
	for i := d.width; i < n*d.width; i++ {
		v := int32(bin.LittleEndian.Uint32(raw[4*i:]))
		switch cls := i % d.width; {
		case cls < d.nclass: // a row, a match (-1), or a set DFA's row negated
			if v == 0 || v == -1 && !d.set {
				break
			}
			row := v
			if row < 0 && d.set {
				row = -row
			}
			if row <= 0 || row >= limit || row%int32(d.width) != 0 {
				return giveBack()
			}
		case cls == d.nclass: // the end of text: 1 + a set DFA's mask, or -1
			if v < -1 || v == -1 && d.set {
				return giveBack()
			}
		default: // a set DFA's mask: from the key, below
			v = 0
		}
		vals[i] = v
	}
	if d.set {
		for row := 1; row < n; row++ {
			k := d.keyOf(g, int32(row*d.width))
			vals[row*d.width+d.nclass+1] = int32(k[len(k)-2]) | int32(k[len(k)-1])<<16
		}
	}
	g.setTable(tab)
	d.gen.Store(g)
	return n - 1
}

// buildKey names this build of postern: the executable's size and checksum, read
// once. States written by another build may mean something else to this one.
var buildKey = sync.OnceValues(func() ([]byte, error) {
	path, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("rules: automata: %w", err)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("rules: automata: %w", err)
	}
	defer f.Close()
	h := crc32.New(castagnoli)
	size, err := io.Copy(h, f)
	if err != nil {
		return nil, fmt.Errorf("rules: automata: read %s: %w", path, err)
	}
	return bin.LittleEndian.AppendUint32(bin.LittleEndian.AppendUint64(nil, uint64(size)), h.Sum32()), nil
})

// AdoptAutomata gives s what from's DFAs have learned, as WriteAutomata and
// ReadAutomata would through a file: a reload of the rules keeps the states of
// every rule it did not change.
func (s *Set) AdoptAutomata(from *Set) (dfas, states int, err error) {
	var b bytes.Buffer
	if _, _, err := from.WriteAutomata(&b); err != nil {
		return 0, 0, err
	}
	return s.ReadAutomata(b.Bytes())
}
