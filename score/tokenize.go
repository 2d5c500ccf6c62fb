// Package score is Postern's Bayesian classifier: a tokenizer over the parsed message,
// Robinson's per-token probabilities combined with Fisher's chi-square method, a token
// store behind a small interface (SQLite by default) with an in-memory cache, and the
// BAYES_xx pseudo-rules that put the probability into the message's score.
package score

import (
	"crypto/sha256"
	"encoding/hex"
	"mime"
	"net"
	"net/url"
	"path"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/postern/postern/scan"
)

// Bounds on the work per message.
const (
	maxTextBytes = 256 << 10 // body text tokenized
	maxTokens    = 5000      // distinct tokens kept
	minWordLen   = 3
	maxWordLen   = 24
)

// Tokens returns the distinct tokens of a message. Body words are plain; tokens from
// elsewhere carry a prefix ("subject:", "from:", "url:", "received:", "html:", …) so
// the same word in different places counts separately. The first trigrams characters
// of body text are also cut into character trigrams ("tri:"; Params.Trigrams).
func Tokens(m *scan.Message, trigrams int) []string { return tokenize(m, trigrams, true).strs }

// TokenKeys returns the keys of Tokens(m, trigrams), without building the token
// strings: the path every classification takes.
func TokenKeys(m *scan.Message, trigrams int) []Key {
	return tokenize(m, trigrams, false).keys
}

// tokenize runs the tokenizer over a message; keep also keeps the token strings, in
// the order of the keys.
func tokenize(m *scan.Message, trigrams int, keep bool) *tokenizer {
	bits, n := uint(11), 1024
	if trigrams > 0 {
		bits, n = 13, 4096 // a few thousand trigrams, mostly, without growing
	}
	scratch, _ := keyBufs.Get().(*[]Key)
	if scratch == nil || cap(*scratch) < n {
		b := make([]Key, 0, n)
		scratch = &b
	}
	t := &tokenizer{seen: getKeySet(bits), keys: (*scratch)[:0], keep: keep}
	t.run(m, trigrams)
	putKeySet(t.seen)
	// The keys outlive the call (the autolearner keeps them): an exact copy, not
	// the scratch sized for the largest messages.
	*scratch = t.keys[:0]
	t.keys = slices.Clone(t.keys)
	keyBufs.Put(scratch)
	t.seen = nil
	return t
}

// keyBufs are tokenize's scratch slices of keys.
var keyBufs sync.Pool

func (t *tokenizer) run(m *scan.Message, trigrams int) {
	t.headers(m)
	budget := maxTextBytes
	for _, p := range m.Parts {
		switch {
		case p.Filename != "":
			t.add("filename:" + strings.ToLower(path.Ext(p.Filename)))
			t.add("ctype:" + p.ContentType)
		case !strings.HasPrefix(p.ContentType, "text/"):
			t.add("ctype:" + p.ContentType)
		}
		if p.Text == "" || budget <= 0 {
			continue
		}
		text := p.Text
		if len(text) > budget {
			cut := budget
			for cut > 0 && !utf8.RuneStart(text[cut]) {
				cut-- // (at a character: a cut one made the text invalid, and Latin-1)
			}
			text = text[:cut]
		}
		budget -= len(text)
		if !utf8.ValidString(text) {
			// Bytes scan could not decode (a charset it does not know): most
			// often Latin-1. (Undeclared 8-bit text scan reads as Windows-1252.)
			text = latin1(text)
		}
		if p.EffectiveType == "text/html" {
			t.add("ctype:text/html")
			text = t.html(&p, text)
		}
		t.words("", text)
		trigrams = t.trigrams(text, trigrams)
	}
}

// trigrams adds the text's character trigrams — "tri:" and three characters, in lower
// case, each run of white space one space — from up to budget characters, and returns
// what is left of the budget. Trigrams see what words miss: words broken or glued to
// defeat a word filter ("v1agra", "C L I C K"), the stem a word's forms share,
// punctuation and symbols, and text with no spaces between words (Chinese, Japanese).
//
// A 10 KB message has about 9,000 trigrams, mostly repeats, and this loop is where
// classifying it with trigrams spent most of its time. So a trigram is kept as its
// three characters packed into one integer (21 bits each, exact), and its key is
// that integer mixed by a bijection (trigramKey): a repeat is found in the
// message's one set of keys, with no set of trigrams beside it (which cost 6 % of
// tokenizing, BenchmarkTokenizeCorpus/trigrams).
func (t *tokenizer) trigrams(text string, budget int) int {
	var packed uint64
	n := 0
	for i := 0; i < len(text) && budget > 0; {
		var r rune
		if c := text[i]; c < utf8.RuneSelf {
			r = rune(asciiFold[c])
			i++
		} else {
			var size int
			r, size = utf8.DecodeRuneInString(text[i:])
			i += size
			if unicode.IsSpace(r) {
				r = ' '
			} else {
				r = unicode.ToLower(r)
			}
		}
		if r == ' ' && (n == 0 || packed&runeMask == ' ') {
			continue
		}
		budget--
		packed = (packed<<runeBits | uint64(r)) & trigramMask
		if n++; n < 3 {
			continue
		}
		if len(t.keys) >= maxTokens {
			break
		}
		p := packed
		t.addKey(trigramKey(p), func() string { return "tri:" + string(unpack(p)) })
	}
	return budget
}

const (
	runeBits    = 21 // enough for any Unicode code point
	runeMask    = 1<<runeBits - 1
	trigramMask = 1<<(3*runeBits) - 1
)

// asciiFold is what trigrams read for each ASCII byte: lower case, white space as a
// space.
var asciiFold = func() (t [utf8.RuneSelf]byte) {
	for c := range t {
		switch {
		case asciiSpace[c]:
			t[c] = ' '
		case 'A' <= c && c <= 'Z':
			t[c] = byte(c) + 'a' - 'A'
		default:
			t[c] = byte(c)
		}
	}
	return t
}()

// trigramKey is the key of a trigram packed by trigrams: the packed characters
// mixed by SplitMix64's finalizer, which is a bijection, so that distinct trigrams
// never share a key and the keys spread like any hash's.
func trigramKey(packed uint64) Key {
	h := packed ^ 0x7472693a // "tri:", so that a trigram of NULs is not key 0
	h = (h ^ h>>30) * 0xbf58476d1ce4e5b9
	h = (h ^ h>>27) * 0x94d049bb133111eb
	return Key(h ^ h>>31)
}

func unpack(p uint64) []rune {
	return []rune{rune(p >> (2 * runeBits)), rune(p >> runeBits & runeMask), rune(p & runeMask)}
}

// trigramOf returns the packed characters of a "tri:" token of three characters,
// and false for any other token.
func trigramOf(token string) (uint64, bool) {
	rest, ok := strings.CutPrefix(token, "tri:")
	if !ok || utf8.RuneCountInString(rest) != 3 {
		return 0, false
	}
	var p uint64
	for _, r := range rest {
		p = p<<runeBits | uint64(r)
	}
	return p, true
}

type tokenizer struct {
	seen *keySet
	keys []Key
	keep bool     // also keep the token strings (Tokens)
	strs []string // with keep
}

func (t *tokenizer) add(tok string) { t.addKey(KeyOf(tok), func() string { return tok }) }

// addKey adds a token by its key; str builds the token's text, only when kept.
func (t *tokenizer) addKey(k Key, str func() string) {
	if len(t.keys) >= maxTokens {
		return
	}
	if !t.seen.add(k) {
		return
	}
	t.keys = append(t.keys, k)
	if t.keep {
		t.strs = append(t.strs, str())
	}
}

// words splits text into words: lower case, trimmed of punctuation. Long runs (base64
// blobs, hashes) become one "skip:" token of their first letter and rough length, as
// SpamBayes does: their presence says something, their value nothing.
func (t *tokenizer) words(prefix, text string) {
	prev := ""
	var prevHash uint64 // of prefix + prev
	for len(text) > 0 {
		// The next field: strings.FieldsFunc without building the slice of fields.
		start := separators(text, true)
		if start == len(text) {
			break
		}
		text = text[start:]
		end := separators(text, false)
		w := text[:end]
		text = text[end:]
		if prefix == "" && looksLikeURL(w) {
			t.url(w)
			prev = ""
			continue
		}
		w = trimPunct(w)
		n := utf8.RuneCountInString(w)
		switch {
		case n < minWordLen:
			continue
		case n > maxWordLen:
			r, _ := utf8.DecodeRuneInString(w)
			t.add(prefix + "skip:" + string(unicode.ToLower(r)) + " " + itoa(n/10*10))
			prev = ""
			continue
		}
		// The word in lower case: an ASCII word with capitals is lowered as it
		// is hashed, and built lowered only when the tokens are kept
		// (strings.ToLower's copy of each such word was a tenth of the
		// tokenizer's allocations).
		fold := false
		switch caseOf(w) {
		case asciiLower:
		case asciiCapitals:
			if n >= 3 && isUpperASCII(w) {
				// A word in capitals is a shout, more often spam's than the same
				// word in lower case: keep it as a token of its own too.
				t.addKey(Key(fnvAdd(fnvAdd(fnvAdd(offset64, prefix), "caps:"), w)), func() string { return prefix + "caps:" + w })
			}
			if t.keep {
				w = strings.ToLower(w)
			} else {
				fold = true // (w, and prev after it, stay as written: only the keys are kept)
			}
		case notASCII:
			if lw := strings.ToLower(w); lw != w {
				if n >= 3 && isUpper(w) {
					t.add(prefix + "caps:" + w)
				}
				w = lw
			}
		}
		hash := fnvAdd
		if fold {
			hash = fnvAddLower
		}
		h := hash(fnvAdd(offset64, prefix), w)
		k := Key(h)
		if prefix == "" && hasPrefixFold(w, "tri:") {
			k = KeyOf(strings.ToLower(w)) // as Keys(Tokens(m)) would hash it: the same token, the same key
		}
		t.addKey(k, func() string { return prefix + w })
		// Word pairs catch phrases ("click here", "dear friend") that single words
		// spread over ham and spam alike.
		if prev != "" {
			p := prev
			t.addKey(Key(hash(fnvAdd(prevHash, " "), w)), func() string { return prefix + p + " " + w })
		}
		prev, prevHash = w, h
	}
}

// What a word is made of, for lowering it (caseOf).
const (
	asciiLower    = iota // ASCII, no capital letter
	asciiCapitals        // ASCII, a capital letter or more
	notASCII
)

func caseOf(w string) int {
	c := asciiLower
	for i := 0; i < len(w); i++ {
		switch b := w[i]; {
		case b >= utf8.RuneSelf:
			return notASCII
		case 'A' <= b && b <= 'Z':
			c = asciiCapitals
		}
	}
	return c
}

// isUpperASCII is isUpper for an ASCII word.
func isUpperASCII(w string) bool {
	for i := 0; i < len(w); i++ {
		if 'a' <= w[i] && w[i] <= 'z' {
			return false
		}
	}
	return true
}

// trimPunct is strings.TrimFunc(w, isTrim), without a call through a function
// value for each ASCII byte at the ends.
func trimPunct(w string) string {
	i, j := 0, len(w)
	for i < j && w[i] < utf8.RuneSelf && asciiTrim[w[i]] {
		i++
	}
	for j > i && w[j-1] < utf8.RuneSelf && asciiTrim[w[j-1]] {
		j--
	}
	w = w[i:j]
	if w != "" && (w[0] >= utf8.RuneSelf || w[len(w)-1] >= utf8.RuneSelf) {
		return strings.TrimFunc(w, isTrim) // (a rune that is not ASCII at an end)
	}
	return w
}

// asciiTrim is isTrim of each ASCII byte.
var asciiTrim = func() (t [utf8.RuneSelf]bool) {
	for c := range t {
		t[c] = isTrim(rune(c))
	}
	return t
}()

// isUpper reports whether w has no lower-case letter (it has an upper-case one).
func isUpper(w string) bool {
	for _, r := range w {
		if unicode.IsLower(r) {
			return false
		}
	}
	return true
}

var asciiSeparator = func() (t [128]bool) {
	for _, c := range " \t\r\n\v\f<>\"()[]{}|=,;" {
		t[c] = true
	}
	return t
}()

var asciiSpace = func() (t [128]bool) {
	for _, c := range " \t\r\n\v\f" {
		t[c] = true
	}
	return t
}()

func isSeparator(r rune) bool {
	if r < 128 {
		return asciiSeparator[r]
	}
	return unicode.IsSpace(r) || r == '<' || r == '>' || r == '"' || r == '(' || r == ')' || r == '[' || r == ']' || r == '{' || r == '}' || r == '|' || r == '=' || r == ',' || r == ';'
}

// separators returns the length of text's leading run of separators (sep) or of
// other characters (!sep): strings.IndexFunc without a call per ASCII character,
// which is most of a word tokenizer's input.
func separators(text string, sep bool) int {
	for i := 0; i < len(text); {
		if c := text[i]; c < utf8.RuneSelf {
			if asciiSeparator[c] != sep {
				return i
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(text[i:])
		if isSeparator(r) != sep {
			return i
		}
		i += size
	}
	return len(text)
}

func isTrim(r rune) bool {
	return unicode.IsPunct(r) && r != '$' && r != '%' && r != '!' && r != '@' && r != '-'
}

// latin1 reads bytes as ISO-8859-1, so text in an unknown charset keeps distinct words.
func latin1(s string) string {
	r := make([]rune, len(s))
	for i := 0; i < len(s); i++ {
		r[i] = rune(s[i])
	}
	return string(r)
}

func itoa(n int) string {
	const digits = "0123456789"
	if n < 10 {
		return digits[n : n+1]
	}
	return itoa(n/10) + digits[n%10:n%10+1]
}

// Header fields tokenized with their name as a prefix: addresses, and whole values.
var addrHeaders = []string{"From", "Reply-To", "To", "Cc", "Return-Path", "Sender"}
var wholeHeaders = []string{"X-Mailer", "User-Agent", "Content-Type", "X-Priority", "Importance", "Precedence", "Content-Transfer-Encoding"}

func (t *tokenizer) headers(m *scan.Message) {
	subj := m.Subject()
	t.words("subject:", subj)
	if subj != "" && strings.ToUpper(subj) == subj && strings.ToLower(subj) != subj {
		t.add("subject:<all caps>")
	}
	for _, name := range addrHeaders {
		for _, v := range m.Header.Values(name) {
			key := strings.ToLower(name) + ":"
			addr := v
			if i, j := strings.LastIndexByte(v, '<'), strings.LastIndexByte(v, '>'); i >= 0 && j > i {
				addr = v[i+1 : j]
				t.words(key+"name:", v[:i])
			}
			addr = strings.ToLower(strings.TrimSpace(addr))
			if at := strings.LastIndexByte(addr, '@'); at >= 0 {
				t.add(key + "addr:" + addr)
				t.domain(key, addr[at+1:])
			} else if addr != "" {
				t.add(key + "noaddr")
			}
		}
	}
	for _, name := range wholeHeaders {
		if v := m.Header.Get(name); v != "" {
			v = strings.ToLower(v)
			if i := strings.IndexByte(v, ';'); i >= 0 && name == "Content-Type" {
				v = v[:i]
			}
			t.add(strings.ToLower(name) + ":" + strings.Join(strings.Fields(v), " "))
		}
	}
	// The Received chain: relays' IP address prefixes and host names, which carry
	// much of a sender's reputation.
	received := m.Header.Values("Received")
	if len(received) > 8 {
		received = received[:8]
	}
	for _, r := range received {
		dottedQuads(r, 4, func(q [4]string) {
			h := fnvAdd(fnvAdd(fnvAdd(hashReceived, q[0]), "."), q[1])
			t.addKey(Key(h), func() string { return "received:" + q[0] + "." + q[1] })
			t.addKey(Key(fnvAdd(fnvAdd(h, "."), q[2])), func() string { return "received:" + q[0] + "." + q[1] + "." + q[2] })
		})
		relayHosts(r, 4, func(h string) { t.domain("received:", strings.ToLower(h)) })
	}
	if len(m.Header.Values("Message-Id")) == 0 {
		t.add("header:no message-id")
	} else if id := m.Header.Get("Message-Id"); strings.Contains(id, "@") {
		t.domain("message-id:", strings.ToLower(strings.Trim(id[strings.LastIndexByte(id, '@')+1:], "<> ")))
	}
	// Which header fields a message has says much about the software that sent it
	// (mailing list managers, bulk mailers) whatever their values.
	for f := m.Header.Fields(); f.Next(); {
		if k := f.Key(); caseOf(k) != notASCII {
			t.addKey(Key(fnvAddLower(hashHdr, k)), func() string { return "hdr:" + strings.ToLower(k) })
		} else {
			t.add("hdr:" + strings.ToLower(k))
		}
	}
	if v := m.Header.Get("List-Id"); v != "" {
		t.add("list-id:" + strings.ToLower(strings.Join(strings.Fields(v), " ")))
	}
	if d := m.Header.Get("Date"); d != "" {
		f := strings.Fields(d)
		t.add("date:zone " + f[len(f)-1])
	}
	if _, params, err := mime.ParseMediaType(m.Header.Get("Content-Type")); err == nil && params["charset"] != "" {
		t.add("charset:" + strings.ToLower(params["charset"]))
	}
}

// domain adds a host name and its parent domains down to two labels (at most
// four of them): each a suffix of host, hashed after the prefix without building
// the token (the names of every Received line, the addresses' domains: a sixth of
// the tokenizer's time when they were joined from their labels).
func (t *tokenizer) domain(prefix, host string) {
	host = strings.Trim(host, ".[]")
	if host == "" || maybeIP(host) && net.ParseIP(host) != nil {
		return
	}
	h := fnvAdd(offset64, prefix)
	for range 4 {
		dot := strings.IndexByte(host, '.')
		if dot < 0 {
			return // one label left
		}
		rest := host
		t.addKey(Key(fnvAdd(h, rest)), func() string { return prefix + rest })
		host = host[dot+1:]
	}
}

// maybeIP is false for a host that holds a byte no IP address does (net.ParseIP
// then says nil), which names mostly do: the parse is skipped for them.
func maybeIP(host string) bool {
	for i := 0; i < len(host); i++ {
		if c := host[i]; !isDigit(c) && c != '.' && c != ':' && !('a' <= c && c <= 'f') && !('A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// The hashes of the prefixes of tokens built in pieces (fnvAdd).
var (
	hashReceived = fnvAdd(offset64, "received:")
	hashHdr      = fnvAdd(offset64, "hdr:")
)

// fnvAddLower is fnvAdd of strings.ToLower(s) for an ASCII s.
func fnvAddLower(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		h ^= uint64(c)
		h *= prime64
	}
	return h
}

// looksLikeURL spots the words that are links: a scan per word is much cheaper than
// a regular expression over the whole text.
func looksLikeURL(w string) bool {
	if len(w) < 8 {
		return false
	}
	switch w[0] {
	case 'h', 'H':
		return hasPrefixFold(w, "http://") || hasPrefixFold(w, "https://")
	case 'w', 'W':
		return hasPrefixFold(w, "www.")
	case 'f', 'F':
		return hasPrefixFold(w, "ftp://")
	}
	return false
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// url adds the host, parent domains and path pieces of a link.
func (t *tokenizer) url(raw string) {
	t.add("url:<has url>")
	raw = strings.TrimRight(raw, ".,;:!?'")
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		t.add("url:<unparsable>")
		return
	}
	host := strings.ToLower(u.Hostname())
	if net.ParseIP(host) != nil {
		t.add("url:<ip host>")
	} else {
		t.domain("url:", host)
	}
	if u.Port() != "" {
		t.add("url:<port>")
	}
	for _, piece := range strings.FieldsFunc(strings.ToLower(u.Path), func(r rune) bool { return r == '/' || r == '.' || r == '-' || r == '_' }) {
		if len(piece) >= minWordLen && len(piece) <= maxWordLen {
			t.add("url:" + piece)
		}
	}
}

// MessageID identifies a message for learning, so that learning it twice is a no-op
// and learning it the other way moves its counts. It is derived from the parsed
// message (Message-ID, Date, From, Subject and the start of its text) rather than its
// bytes, so headers added on the way (Received, X-Spam-*) do not change it.
func MessageID(m *scan.Message) string {
	h := sha256.New()
	for _, name := range []string{"Message-Id", "Date", "From", "Subject"} {
		h.Write([]byte(m.Header.Get(name)))
		h.Write([]byte{0})
	}
	budget := 4096
	for _, p := range m.Parts {
		if budget <= 0 {
			break
		}
		text := p.Text
		if len(text) > budget {
			text = text[:budget]
		}
		h.Write([]byte(text))
		budget -= len(text)
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}
