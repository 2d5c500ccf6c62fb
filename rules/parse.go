package rules

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"regexp/syntax"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/dlclark/regexp2"
)

// Kind is a rule type of SpamAssassin's syntax.
type Kind int

const (
	Header Kind = iota
	Body
	Rawbody
	URI
	Full
	Meta
)

var kindNames = map[string]Kind{"header": Header, "body": Body, "rawbody": Rawbody, "uri": URI, "full": Full, "meta": Meta}

func (k Kind) String() string {
	for n, v := range kindNames {
		if v == k {
			return n
		}
	}
	return "?"
}

// Rule is one compiled rule.
//
// The fields evaluating a rule reads come first, together, by the cache line:
// every message evaluates some 1,400 of a set's Rules (of 2,800 with the stock
// rules), from memory when other work ran between messages, and each line read
// is a miss. Rules are 576 bytes with their size class, and the allocator puts
// its 8-byte header before each: a Rule's lines start at bytes 56, 120, 184...
// (TestRuleLayout). The first 56 bytes are all a meta rule reads (most of those
// evaluated); a rule with a regex reads the next line (matches) and the one
// after (its literals).
type Rule struct {
	// line 0
	seq      int32 // index in its set's all
	field    int32 // header rules: 1 + the index in the set's fields
	Kind     Kind
	evalFn   evalFunc // eval: rules
	metaProg []metaOp // meta rules: the expression as a program (compileMeta); nil: the tree
	lower    bool     // re is case-insensitive throughout: lowerSrc matches lower-cased text
	oneLine  bool     // re never matches a newline nor tests \A or \z: a match lies on one line
	Exists   bool     // header rules: exists:Field
	Negate   bool     // header rules: !~
	MIME     bool     // a mimeheader rule: the field of every MIME part's header
	// noSubject: tflags nosubject, a body rule that skips the Subject, the
	// body's first paragraph (SpamAssassin's Check.pm skips the text array's
	// first element). __NONEMPTY_BODY is one: without the flag a subject made
	// every body non-empty, and EMPTY_MESSAGE never hit.
	noSubject bool
	// waitsAuth: an eval rule whose eval waits for the auth check's
	// verification (DKIM, ARC, DMARC: eval_auth.go); meta rules ask it last.
	waitsAuth bool
	// For a backtracking rule whose exact form starts with a word (leadWord):
	// how often its relaxed form matched, and whether it is skipped for that
	// (noteRelaxed).
	leadWord bool

	// line 1: what matches reads
	dfa      *dfa              // answers whether lowerRe (or else re) matches; nil: ask it
	pre      *dfa              // when not nil, asked before dfa: a superset of its matches, smaller
	plain    string            // the regex matches this string and nothing else: strings.Contains answers
	native   func([]rune) bool // answers what exactAll would, for the few rules it knows (nativeExact)
	exactAll *regexp2.Regexp   // the rule as written, when RE2 cannot run it
	// nativeText answers what the rule's Go regex would (nativeText), or its
	// exact form (nativeExactText), for the few it knows, on the text as it is.
	nativeText func(string) bool
	maxHits    int // tflags multiple: matches counted up to this; 0 not multiple

	// line 2
	lits   []string // lower-case literals, one of which every match contains (nil: none)
	litIDs []int32  // ids in the set's literalIndex of lits (header rules: their field's)
	Field  string   // header rules: header name, or ALL, ToCc, MESSAGEID

	Mod       string // header rules: "", "raw", "addr", "name", "name:raw", "name:shown"
	IfUnset   string // header rules
	exactOnly atomic.Bool

	Name     string
	File     string
	Line     int
	Describe string
	TFlags   map[string]bool

	re          *regexp.Regexp // with exact: its relaxed form, a superset of its matches (see regexp)
	reSrc       string         // re's source, when re is compiled on first use
	reOnce      sync.Once
	exactAnch   *regexp2.Regexp // exactAll anchored (\G), compiled on first use (exactAt)
	exactAtOnce sync.Once
	lowerSrc    string         // re for lower-cased text
	lowerRe     *regexp.Regexp // lowerSrc compiled, on first use (see regexpFor)
	lowerOnce   sync.Once
	starts      *dfa              // where matches of re (lowerRe) start (see matchExact, countFixed)
	fixed       int               // tflags multiple: the runes every match has, when one number
	countMax    int               // tflags multiple, not fixed: the most runes a match has; -1 unbounded
	countLines  int               // tflags multiple, not fixed: the most newlines a match holds; -1 unbounded
	countSrc    string            // tflags multiple, else: the source of re (lowerRe), for a match's length (countFrom)
	countFrom   [2]*regexp.Regexp // countSrc anchored where a match starts (countRegexp), compiled on first use
	countOnce   [2]sync.Once
	literal     string      // tflags multiple: the text re matches, when it is one string
	countClass  *classCount // tflags multiple: the characters re matches, when it is one of them
	lineCount   *lineCount  // tflags multiple: counted line by line, when re has its shape (lineCountOf)

	// exactAll and exactAnch again with patientTimeout, for a match that ran out
	// of time (backtrack).
	patient, patientAnch patientForm

	// leadWord's counts: written as rules run, so not on the lines read.
	relaxedTries, relaxedHits atomic.Int32

	meta *node // meta rules
}

// Problem is an error or a warning found while loading rule files.
type Problem struct {
	File    string
	Line    int
	Rule    string
	Msg     string
	Warning bool
}

func (p Problem) String() string {
	kind := "error"
	if p.Warning {
		kind = "warning"
	}
	rule := ""
	if p.Rule != "" {
		rule = " " + p.Rule + ":"
	}
	return fmt.Sprintf("%s:%d: %s:%s %s", p.File, p.Line, kind, rule, p.Msg)
}

// Stats counts rules loaded and skipped per kind.
type Stats struct {
	Loaded  map[Kind]int
	Skipped map[Kind]int
	// AuthorScored counts the rules scored by their author's commented score in
	// 72_active.cf (defaultScore).
	AuthorScored int
	// Network counts the loaded rules whose eval needs the network, by
	// plugin ("DNSEval": 12): they never hit in rule files here, as in
	// SpamAssassin with its network tests off ([dnsbl] and [uribl] do that
	// work in Postern).
	Network map[string]int
}

// parser reads rule files into definitions; Compile makes a Set of them.
type parser struct {
	defs   map[string]*Rule // by name; a later definition replaces an earlier one
	order  []string
	scores map[string]Scores
	// scoreAt is where each score was last set; stockDir where the stock rules
	// were read from (operators' files are the others, see OperatorScore).
	scoreAt map[string]position
	// authorScores are the commented score lines of the generated stock file
	// (generatedFile), for rules no active score line scores.
	authorScores map[string]Scores
	stockDir     string
	describe     map[string]string
	tflags       map[string]map[string]bool
	problems     []Problem
	skipped      map[Kind]int
	seen         map[string]bool // files, against include loops
	files        []string        // files read, in order
	ignored      map[string]int  // directives we do not implement
	ignoredOwn   map[string]int  // of those, the ones in the operator's own files (operatorFile)
	source       map[string]ruleSource
	// sourceOrder names the rules in the order first defined.
	sourceOrder []string
	replace     *replaceTags
	freemail    freemail
	lists       lists
	scanSizes   scanSizes
	redirectors []redirector
	uriSkip     map[string]bool // uridnsbl_skip_domain
}

func newParser() *parser {
	return &parser{
		defs: map[string]*Rule{}, scores: map[string]Scores{}, scoreAt: map[string]position{}, authorScores: map[string]Scores{}, describe: map[string]string{},
		tflags: map[string]map[string]bool{}, skipped: map[Kind]int{}, seen: map[string]bool{}, ignored: map[string]int{}, ignoredOwn: map[string]int{},
		source: map[string]ruleSource{}, scanSizes: defaultScanSizes,
		replace: &replaceTags{start: "<", end: ">", tags: map[string]string{}, pre: map[string]string{},
			inter: map[string]string{}, post: map[string]string{}},
	}
}

func (p *parser) problem(file string, line int, rule string, warning bool, format string, args ...any) {
	p.problems = append(p.problems, Problem{File: file, Line: line, Rule: rule, Msg: fmt.Sprintf(format, args...), Warning: warning})
}

// loadPath reads a file, or every *.cf file of a directory in name order (as
// SpamAssassin does).
func (p *parser) loadPath(fsys fs.FS, path string) {
	fi, err := fs.Stat(fsys, path)
	if err != nil {
		p.problem(path, 0, "", false, "%v", err)
		return
	}
	if !fi.IsDir() {
		p.loadFile(fsys, path)
		return
	}
	entries, err := fs.ReadDir(fsys, path)
	if err != nil {
		p.problem(path, 0, "", false, "%v", err)
		return
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".cf") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	for _, n := range names {
		p.loadFile(fsys, filepath.Join(path, n))
	}
}

// conditional is one level of ifplugin/if nesting.
type conditional struct {
	active bool // this branch's lines are read
	parent bool // the enclosing level is active
	line   int
}

// knownPlugins are the SpamAssassin plugins whose rules Postern can read: their rules
// are plain regex rules, or their features are built in.
var knownPlugins = map[string]bool{
	"Mail::SpamAssassin::Plugin::Check":       true,
	"Mail::SpamAssassin::Plugin::ReplaceTags": true,
	"Mail::SpamAssassin::Plugin::MIMEHeader":  true,
}

func (p *parser) loadFile(fsys fs.FS, path string) {
	if p.seen[path] {
		p.problem(path, 0, "", false, "included twice (include loop?)")
		return
	}
	p.seen[path] = true
	p.files = append(p.files, path)
	f, err := fsys.Open(path)
	if err != nil {
		p.problem(path, 0, "", false, "%v", err)
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var stack []conditional
	active := func() bool { return len(stack) == 0 || stack[len(stack)-1].active }
	generated := filepath.Base(path) == generatedFile
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if generated && strings.HasPrefix(line, "#") && active() {
			p.authorScore(line)
		}
		if i := commentStart(line); i >= 0 {
			line = strings.TrimSpace(line[:i])
		}
		if line == "" {
			continue
		}
		word, rest := cutField(line)
		word = strings.ToLower(word)
		switch word {
		case "ifplugin", "if":
			cond := false
			if word == "ifplugin" {
				cond = pluginKnown(rest)
			} else {
				cond = evalIf(rest)
			}
			parent := active()
			stack = append(stack, conditional{active: parent && cond, parent: parent, line: n})
			continue
		case "else":
			if len(stack) == 0 {
				p.problem(path, n, "", false, "else without if")
				continue
			}
			top := &stack[len(stack)-1]
			top.active = top.parent && !top.active
			continue
		case "endif":
			if len(stack) == 0 {
				p.problem(path, n, "", false, "endif without if")
				continue
			}
			stack = stack[:len(stack)-1]
			continue
		}
		if !active() {
			continue
		}
		p.directive(fsys, path, n, word, rest)
	}
	if err := sc.Err(); err != nil {
		p.problem(path, 0, "", false, "%v", err)
	}
	for _, c := range stack {
		p.problem(path, c.line, "", false, "if without endif")
	}
}

// cutField splits off the first whitespace-separated field (SpamAssassin's files use
// spaces and tabs alike).
func cutField(s string) (string, string) {
	s = strings.TrimSpace(s)
	i := strings.IndexAny(s, " \t")
	if i < 0 {
		return s, ""
	}
	return s[:i], strings.TrimSpace(s[i+1:])
}

// commentStart finds the # that starts a comment (\# is a literal #).
func commentStart(line string) int {
	for i := 0; i < len(line); i++ {
		if line[i] == '\\' {
			i++
			continue
		}
		if line[i] == '#' { // SpamAssassin: every unescaped # starts a comment
			return i
		}
	}
	return -1
}

// evalIf evaluates SpamAssassin's "if" conditions, a small language of Perl's
// (Conf::Parser's handle_conditional): version, numbers, comparisons, !, &&, ||,
// and/or/not, parentheses, and the tests plugin(NAME), can(NAME) and has(NAME).
// version is saVersion. can() and has() hold for the configuration language's
// features and compatibility flags and perl_min_version (Postern reads the syntax
// they guard), and for the plugins' eval functions Postern has; plugin() holds for
// the plugins Postern knows (pluginKnown). Anything it cannot read is false.
func evalIf(cond string) bool {
	e := &condParser{src: cond}
	v, ok := e.or()
	e.space()
	return ok && e.pos == len(e.src) && v != 0
}

// saVersion is the SpamAssassin version whose rules Postern reads, as its
// conditions spell it (4.0.1: Debian's package, and the stock rules' own
// "if (version >= 4.000000)" blocks are written for it, the "< 4" ones for older
// SpamAssassins without its UTF-8 support).
const saVersion = 4.000001

type condParser struct {
	src string
	pos int
}

func (e *condParser) space() {
	for e.pos < len(e.src) && (e.src[e.pos] == ' ' || e.src[e.pos] == '\t') {
		e.pos++
	}
}

// eat consumes tok (a word must end there) and reports whether it was next.
func (e *condParser) eat(tok string) bool {
	e.space()
	if !strings.HasPrefix(e.src[e.pos:], tok) {
		return false
	}
	if end := e.pos + len(tok); isWordChar(tok[len(tok)-1]) && end < len(e.src) && isWordChar(e.src[end]) {
		return false
	}
	e.pos += len(tok)
	return true
}

func truth(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func (e *condParser) or() (float64, bool) {
	v, ok := e.and()
	for ok && (e.eat("||") || e.eat("or")) {
		var w float64
		w, ok = e.and()
		v = truth(v != 0 || w != 0)
	}
	return v, ok
}

func (e *condParser) and() (float64, bool) {
	v, ok := e.unary()
	for ok && (e.eat("&&") || e.eat("and")) {
		var w float64
		w, ok = e.unary()
		v = truth(v != 0 && w != 0)
	}
	return v, ok
}

func (e *condParser) unary() (float64, bool) {
	if e.eat("!") || e.eat("not") {
		v, ok := e.unary()
		return truth(v == 0), ok
	}
	v, ok := e.primary()
	if !ok {
		return 0, false
	}
	for _, op := range []string{"<=", ">=", "==", "!=", "<", ">"} {
		if e.eat(op) {
			w, ok := e.primary()
			switch op {
			case "<=":
				return truth(v <= w), ok
			case ">=":
				return truth(v >= w), ok
			case "==":
				return truth(v == w), ok
			case "!=":
				return truth(v != w), ok
			case "<":
				return truth(v < w), ok
			default:
				return truth(v > w), ok
			}
		}
	}
	return v, true
}

func (e *condParser) primary() (float64, bool) {
	e.space()
	switch {
	case e.eat("("):
		v, ok := e.or()
		return v, ok && e.eat(")")
	case e.eat("version"):
		return saVersion, true
	}
	for _, fn := range []string{"plugin", "can", "has"} {
		if e.eat(fn + "(") {
			end := strings.IndexByte(e.src[e.pos:], ')')
			if end < 0 {
				return 0, false
			}
			arg := strings.TrimSpace(e.src[e.pos : e.pos+end])
			e.pos += end + 1
			return truth(condTest(fn, arg)), true
		}
	}
	start := e.pos
	for e.pos < len(e.src) && (e.src[e.pos] == '.' || e.src[e.pos] >= '0' && e.src[e.pos] <= '9') {
		e.pos++
	}
	v, err := strconv.ParseFloat(e.src[start:e.pos], 64)
	return v, err == nil
}

// condTest is plugin(arg), can(arg) or has(arg).
func condTest(fn, arg string) bool {
	if fn == "plugin" {
		return pluginKnown(arg)
	}
	switch {
	case arg == "Mail::SpamAssassin::Conf::feature_capture_rules":
		// Capture templates (%{NAME} in a pattern, filled by another rule's
		// named group) are not supported: the stock rules that need them are
		// skipped, as by a SpamAssassin without the feature, rather than run
		// looking for the text "%{GB_TO_ADDR}". Their one published stock rule,
		// GB_CUSTOM_HTM_URI (the recipient's address in a link), hits ham as
		// often as spam: newsletters' links carry it too (docs/rules.md).
		return false
	case strings.HasPrefix(arg, "Mail::SpamAssassin::Conf::feature_"),
		strings.HasPrefix(arg, "Mail::SpamAssassin::Conf::compat_"),
		strings.HasPrefix(arg, "Mail::SpamAssassin::Conf::perl_min_version_"):
		return true
	case strings.HasPrefix(arg, "Mail::SpamAssassin::Plugin::"):
		// A plugin's feature flag, has_EVAL: holds when Postern has that eval.
		_, flag, _ := strings.Cut(arg, "::has_")
		_, ok := evals[flag]
		return ok
	}
	return false
}

// pseudoHeaders are headers SpamAssassin synthesizes from analysis Postern does not
// do, so rules on them are skipped rather than run against a header that is absent.
// (The X-Spam-Relays-* headers of its relay analysis are made: relays.go.)
var pseudoHeaders = []string{"X-Spam-Rcvd", "X-Spam-Untrusted"}

func (p *parser) directive(fsys fs.FS, file string, line int, word, rest string) {
	switch word {
	case "include":
		p.loadFile(fsys, filepath.Join(filepath.Dir(file), rest))
	case "score":
		f := strings.Fields(rest)
		if len(f) < 2 {
			p.problem(file, line, "", false, "score: want NAME SCORE")
			return
		}
		sc, err := parseScores(f)
		if err != nil {
			p.problem(file, line, f[0], false, "%v", err)
			return
		}
		p.scores[f[0]] = sc
		p.scoreAt[f[0]] = position{file, line}
	case "describe":
		name, text := cutField(rest)
		p.describe[name] = text
	case "tflags":
		f := strings.Fields(rest)
		if len(f) == 0 {
			return
		}
		m := map[string]bool{}
		for _, fl := range f[1:] {
			m[fl] = true
		}
		p.tflags[f[0]] = m
	case "header", "body", "rawbody", "uri", "full", "meta":
		p.rule(file, line, kindNames[word], rest, false)
	case "mimeheader":
		p.rule(file, line, Header, rest, true)
	case "replace_start", "replace_end", "replace_tag", "replace_pre", "replace_inter", "replace_post", "replace_rules":
		p.replace.directive(word, rest)
	case "freemail_domains", "freemail_welcomelist", "freemail_whitelist":
		p.freemail.directive(word, rest)
	case "redirector_pattern":
		r, err := parseRedirector(rest)
		if err != nil {
			// One neither engine runs is skipped, as such a rule is; one that is
			// no regex at all is an error.
			var u ErrUnsupported
			p.problem(file, line, "", errors.As(err, &u), "redirector_pattern: %v", err)
			return
		}
		p.redirectors = append(p.redirectors, r)
	case "uridnsbl_skip_domain":
		if p.uriSkip == nil {
			p.uriSkip = map[string]bool{}
		}
		for _, d := range strings.Fields(rest) {
			p.uriSkip[strings.ToLower(d)] = true
		}
	case "clear_uridnsbl_skip_domain": // all of them, or those named
		if f := strings.Fields(rest); len(f) > 0 {
			for _, d := range f {
				delete(p.uriSkip, strings.ToLower(d))
			}
		} else {
			p.uriSkip = nil
		}
	case "body_part_scan_size", "rawbody_part_scan_size":
		n, err := strconv.Atoi(strings.TrimSpace(rest))
		if err != nil || n < 0 {
			p.problem(file, line, "", false, "%s: want a number of bytes (0: no limit), not %q", word, rest)
			return
		}
		if word == "body_part_scan_size" {
			p.scanSizes.body = n
		} else {
			p.scanSizes.rawbody = n
		}
	default: // lang, priority, report, util_rb_tld, …: not used by Postern
		if !p.lists.directive(word, rest) {
			p.ignored[word]++
			if p.operatorFile(file) {
				p.ignoredOwn[word]++
			}
		}
	}
}

// operatorFile says whether file is the operator's own: neither SpamAssassin's
// stock rules (read as "stock") nor Postern's built-in ones.
func (p *parser) operatorFile(file string) bool {
	return file != "builtin" && !strings.HasPrefix(file, "default/") &&
		(p.stockDir == "" || !strings.HasPrefix(file, p.stockDir+"/"))
}

var nameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func (p *parser) rule(file string, line int, kind Kind, rest string, mime bool) {
	name, def := cutField(rest)
	if !nameRE.MatchString(name) {
		p.problem(file, line, name, false, "bad rule name")
		return
	}
	// A rule may name ReplaceTags tags (<A><B>), which replace_rules, often later in
	// the files, asks to expand: keep its text, and build it once all is read
	// (buildAll). A later definition replaces an earlier one.
	if _, ok := p.source[name]; !ok {
		p.sourceOrder = append(p.sourceOrder, name)
	}
	p.source[name] = ruleSource{position{file, line}, kind, def, mime}
}

// buildAll builds every rule from its last definition, on every core (compiling the
// stock rules' regexes is most of loading them), and records each in definition
// order (or why it was skipped).
func (p *parser) buildAll() {
	type built struct {
		r   *Rule
		err error
	}
	out := make([]built, len(p.sourceOrder))
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				name := p.sourceOrder[i]
				r, err := build(name, p.source[name])
				out[i] = built{r, err}
			}
		}()
	}
	for i := range p.sourceOrder {
		next <- i
	}
	close(next)
	wg.Wait()
	for i, name := range p.sourceOrder {
		p.define(name, p.source[name], out[i].r, out[i].err)
	}
}

// position is a line of a rule file.
type position struct {
	file string
	line int
}

// ruleSource is a rule definition as written, and where.
type ruleSource struct {
	position
	kind Kind
	def  string
	mime bool // mimeheader
}

// define records a rule built from its source (or why it was skipped).
func (p *parser) define(name string, src ruleSource, r *Rule, err error) {
	if err != nil {
		var u ErrUnsupported
		if errors.As(err, &u) {
			p.skipped[src.kind]++
			p.problem(src.file, src.line, name, true, "skipped: %v", err)
			delete(p.defs, name) // a later, unsupported definition replaces an earlier one
			delete(p.freemail.parsers, name)
			return
		}
		p.problem(src.file, src.line, name, false, "%v", err)
		return
	}
	if _, ok := p.defs[name]; !ok {
		p.order = append(p.order, name)
	}
	p.defs[name] = r
	if b := bodyParseOf(src); b != 0 {
		if p.freemail.parsers == nil {
			p.freemail.parsers = map[string]uint8{}
		}
		p.freemail.parsers[name] = b
	} else {
		delete(p.freemail.parsers, name)
	}
}

func build(name string, src ruleSource) (*Rule, error) {
	r := &Rule{Name: name, Kind: src.kind, File: src.file, Line: src.line}
	def := src.def
	var err error
	if call, ok := strings.CutPrefix(def, "eval:"); ok {
		if src.kind == Meta {
			return nil, fmt.Errorf("meta: eval: is for header, body, rawbody, uri and full rules")
		}
		var d evalDef
		if r.evalFn, d, err = parseEval(call); err != nil {
			return nil, err
		}
		r.waitsAuth = d.waitsAuth
		return r, nil
	}
	if src.kind != Meta && reCaptureTemplate.MatchString(def) {
		return nil, ErrUnsupported{What: "capture template %{NAME} (SpamAssassin 4's capture rules)"}
	}
	switch src.kind {
	case Meta:
		if r.meta, err = parseMeta(def); err != nil {
			return nil, fmt.Errorf("meta: %w", err)
		}
	case Header:
		for _, ph := range pseudoHeaders {
			if f, _ := cutField(def); strings.HasPrefix(f, ph) {
				return nil, ErrUnsupported{What: "header " + f + " (made by SpamAssassin's relay analysis)"}
			}
		}
		if err := parseHeaderRule(r, def); err != nil {
			return nil, err
		}
		if src.mime {
			// SpamAssassin's MIMEHeader plugin: the field of every MIME header.
			switch {
			case r.Exists || r.Negate || r.Field == "ALL" || (r.Mod != "" && r.Mod != "raw"):
				return nil, ErrUnsupported{What: "mimeheader with exists:, !~, ALL or a modifier other than :raw"}
			}
			r.MIME = true
		}
	default:
		var reSrc string
		if reSrc, r.lits, r.exactAll, err = ruleRegex(def); err != nil {
			return nil, err
		}
		// Compiled when first asked for (Rule.regexp): the DFAs answer most rules.
		r.reSrc = reSrc
		if src.kind == Body || src.kind == Rawbody || src.kind == Full {
			// Text is matched as a whole, with ^ and $ at each line (docs/rules.md).
			src := "(?m)" + reSrc
			if wholeCaseInsensitive(def) {
				if cf, ok := caseFree(src); ok {
					if _, err := parseRE(cf); err == nil {
						r.lower, r.lowerSrc = true, cf
					}
				}
			}
			// The DFAs answer; the regexps are compiled only when asked for
			// (postern rules test saying what matched, a DFA that gave up): the
			// memory of ~1,500 regexps each way is saved.
			r.reSrc = src
		}
	}
	r.leadWord = r.exactAll != nil && leadingLiteral(r.exactAll.String())
	if src := r.source(r.lower); src != "" {
		if r.dfa = newDFA(src); r.dfa != nil {
			r.pre = newPrefilter(src)
		}
		if re, err := parseRE(src); err == nil {
			r.oneLine = !spansLines(re)
			if re.Op == syntax.OpLiteral && re.Flags&syntax.FoldCase == 0 && r.exactAll == nil {
				// NULL_IN_BODY's /\x00/ walked every byte of every message.
				r.plain = string(re.Rune)
			}
		}
		if r.exactAll != nil && r.dfa != nil {
			r.starts = anchoredOf(r.dfa)
		}
	}
	return r, nil
}

// reCaptureTemplate is a capture template in a pattern, %{NAME}, not escaped
// (\%{NAME} is the text).
var reCaptureTemplate = regexp.MustCompile(`(?:^|[^\\])%\{[A-Za-z_][A-Za-z0-9_]*\}`)

// replaceTags implements SpamAssassin's ReplaceTags plugin: in the rules named by
// replace_rules, <pre P>, <inter I> and <post Q> choose strings to put before, between
// and after tags, and each <TAG> becomes its replace_tag value.
type replaceTags struct {
	start, end       string
	tags             map[string]string
	pre, inter, post map[string]string
	rules            []string
}

func (rt *replaceTags) directive(word, rest string) bool {
	name, value := cutField(rest)
	switch word {
	case "replace_start":
		rt.start = rest
	case "replace_end":
		rt.end = rest
	case "replace_tag":
		rt.tags[name] = tagValue(value)
	case "replace_pre":
		rt.pre[name] = value
	case "replace_inter":
		rt.inter[name] = value
	case "replace_post":
		rt.post[name] = value
	case "replace_rules":
		rt.rules = append(rt.rules, strings.Fields(rest)...)
	default:
		return false
	}
	return true
}

// expand rewrites one rule's definition.
func (rt *replaceTags) expand(def string) string {
	var pre, inter, post string
	for _, kind := range []struct {
		word string
		from map[string]string
		to   *string
	}{{"pre", rt.pre, &pre}, {"inter", rt.inter, &inter}, {"post", rt.post, &post}} {
		re := regexp.MustCompile(regexp.QuoteMeta(rt.start+kind.word+" ") + `(\S+?)` + regexp.QuoteMeta(rt.end))
		if m := re.FindStringSubmatch(def); m != nil {
			*kind.to = kind.from[m[1]]
			def = re.ReplaceAllLiteralString(def, "")
		}
	}
	tagRE := regexp.MustCompile(regexp.QuoteMeta(rt.start) + `([A-Za-z0-9_]+)` + regexp.QuoteMeta(rt.end))
	if inter != "" {
		adj := regexp.MustCompile(`(` + tagRE.String() + `)(` + regexp.QuoteMeta(rt.start) + `)`)
		for i := 0; i < 50 && adj.MatchString(def); i++ {
			def = adj.ReplaceAllString(def, "${1}"+strings.ReplaceAll(inter, "$", "$$")+"${3}")
		}
	}
	// Tag values may use other tags: expand a few levels deep.
	for depth := 0; depth < 5 && tagRE.MatchString(def); depth++ {
		def = tagRE.ReplaceAllStringFunc(def, func(m string) string {
			v, ok := rt.tags[tagRE.FindStringSubmatch(m)[1]]
			if !ok {
				return m
			}
			if depth == 0 {
				return pre + v + post
			}
			return v
		})
	}
	return def
}

func parseHeaderRule(r *Rule, def string) error {
	if strings.HasPrefix(def, "exists:") {
		r.Exists, r.Field = true, strings.TrimSpace(strings.TrimPrefix(def, "exists:"))
		return nil
	}
	field, rest := cutField(def)
	if rest == "" {
		return fmt.Errorf("header: want FIELD =~ /regex/")
	}
	if f, mod, ok := strings.Cut(field, ":"); ok {
		switch mod {
		case "raw", "addr", "name":
		case "name:raw", "raw:name":
			mod = "name:raw" // the display names as written, not decoded
		case "name:shown":
			// Postern's: the display names as a reader sees them (shownName).
		case "addr:raw", "raw:addr":
			mod = "addr" // addresses are read undecoded anyway
		default:
			return ErrUnsupported{What: "header modifier :" + mod}
		}
		field, r.Mod = f, mod
	}
	r.Field = field
	rest = strings.TrimSpace(rest)
	switch {
	case strings.HasPrefix(rest, "=~"):
	case strings.HasPrefix(rest, "!~"):
		r.Negate = true
	default:
		return fmt.Errorf("header: want =~ or !~ after %s", field)
	}
	pat := strings.TrimSpace(rest[2:])
	if i := strings.Index(pat, "[if-unset:"); i >= 0 {
		r.IfUnset = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(pat[i+len("[if-unset:"):]), "]"))
		pat = strings.TrimSpace(pat[:i])
	}
	var err error
	r.reSrc, r.lits, r.exactAll, err = ruleRegex(pat)
	return err
}

// osFS reads the OS file system by the paths operators write (absolute or relative),
// which os.DirFS would refuse.
type osFS struct{}

func (osFS) Open(name string) (fs.File, error)          { return os.Open(name) }
func (osFS) Stat(name string) (fs.FileInfo, error)      { return os.Stat(name) }
func (osFS) ReadDir(name string) ([]fs.DirEntry, error) { return os.ReadDir(name) }

// spansLines reports whether a regex can match a newline, or tests the start or end
// of the whole text (\A, \z): whether a match could need more than the one line
// it is on.
func spansLines(re *syntax.Regexp) bool {
	switch re.Op {
	case syntax.OpBeginText, syntax.OpEndText, syntax.OpAnyChar:
		return true
	case syntax.OpLiteral:
		for _, c := range re.Rune {
			if c == '\n' {
				return true
			}
		}
	case syntax.OpCharClass:
		for i := 0; i+1 < len(re.Rune); i += 2 {
			if re.Rune[i] <= '\n' && '\n' <= re.Rune[i+1] {
				return true
			}
		}
	}
	for _, sub := range re.Sub {
		if spansLines(sub) {
			return true
		}
	}
	return false
}

// parseScores reads a score line's fields: NAME SCORE, or NAME and one score per
// SpamAssassin score set. Postern uses set 0 (no Bayes, no network tests) while
// Bayes gives no probability, and set 2 (Bayes on, network tests off) when it does,
// as SpamAssassin chooses them.
func parseScores(f []string) (Scores, error) {
	var sc Scores
	for i, set := range []int{1, 3} {
		v := f[1]
		if len(f) >= 5 {
			v = f[set]
		}
		v = strings.Trim(v, "()")
		x, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return sc, fmt.Errorf("score %q is not a number", v)
		}
		sc[i] = x
	}
	return sc, nil
}

// generatedFile is the stock rule file SpamAssassin's build writes from its rule
// sources, with each published rule's score line commented out: those scores come
// from the mass-checked 72_scores.cf that sa-update installs, which Debian's package
// does not ship.
const generatedFile = "72_active.cf"

// authorScore keeps the score a commented "# score NAME …" line of the generated file
// gives: the score the rule's author wrote in its source.
func (p *parser) authorScore(line string) {
	f := strings.Fields(strings.TrimLeft(line, "# \t"))
	if len(f) < 3 || f[0] != "score" {
		return
	}
	f = f[1:]
	for i, x := range f { // a trailing comment
		if strings.HasPrefix(x, "#") {
			f = f[:i]
			break
		}
	}
	if sc, err := parseScores(f); err == nil {
		p.authorScores[f[0]] = sc
	}
}
