package rules

import (
	"fmt"
	"net/mail"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"
	"golang.org/x/net/publicsuffix"
	"golang.org/x/text/unicode/norm"

	"github.com/postern/postern/scan"
)

// Postern's own evals, for its rule files (rules/default): signs SpamAssassin's
// plugins do not look for.
func init() {
	const p = "Postern"
	fixed(p, "postern_from_no_domain", func(t *target) bool {
		// Most mail's From:addr, which other rules read already, is a plain
		// address on a good domain: then the field is read no further.
		if addr := t.get("From:addr"); strings.Count(addr, "@") == 1 && !strings.ContainsAny(addr, "\"\\") &&
			mailDomain(addr[strings.IndexByte(addr, '@')+1:]) {
			return false
		}
		from, _, _ := strings.Cut(t.get("From"), "\n") // the first From field
		d, ok := fromDomain(from)
		return ok && !mailDomain(d)
	})
	register(p, "postern_mixed_script", anyField(mixedScriptWord))
	// The body's words, at least the count given.
	register(p, "postern_mixed_script_body", func(args []string) (evalFunc, error) {
		n, err := strconv.Atoi(strings.TrimSpace(strings.Join(args, "")))
		if len(args) != 1 || err != nil || n < 1 {
			return nil, fmt.Errorf("want one count of words, 1 or more")
		}
		return func(t *target) bool { return cyrillicOrGreek(t.body) && mixedScriptWords(t.body, n) }, nil
	})
	register(p, "postern_random_token", anyField(randomToken))
	register(p, "postern_subject_tag", anyField(hashTag))
	// The body, whose first line is the Subject, and the header fields named.
	register(p, "postern_split_word", func(fields []string) (evalFunc, error) {
		return func(t *target) bool {
			return splitWord(t.body) || anyFieldHolds(t, fields, splitWord)
		}, nil
	})
	fixed(p, "postern_uri_homograph", func(t *target) bool {
		for _, u := range t.uris {
			// Most links are ASCII without an xn-- label: no host to read.
			if isASCII(u) && !strings.Contains(u, "xn--") {
				continue
			}
			if h := uriHost(u); h != "" && homographHost(h) {
				return true
			}
		}
		return false
	})
	fixed(p, "postern_random_filename", anyPart(func(part *scan.Part) bool {
		return part.Filename != "" && randomToken(part.Filename)
	}))
	fixed(p, "postern_encrypted_attachment", anyPart(func(part *scan.Part) bool { return part.Encrypted }))
	fixed(p, "postern_from_in_comment", firstFromWith('(', addressInComment))
	fixed(p, "postern_from_name_comma", firstFromWith(',', nameComma))
	fixed(p, "postern_from_random_local", localUnlikeName(mixedCaseLocal))
	fixed(p, "postern_from_persona_local", localUnlikeName(personaLocal))
	fixed(p, "postern_html_far_below", func(t *target) bool { return farBelow(t.rawbodyLower) })
}

// localUnlikeName makes an eval of the From address's local part, which hits
// when test holds for it and the display name holds nothing of it (nameHolds):
// a code or a made-up mailbox under a name it has no part in.
func localUnlikeName(test func(string) bool) evalFunc {
	return func(t *target) bool {
		local, _, ok := strings.Cut(t.get("From:addr"), "@")
		return ok && test(local) && !nameHolds(t.get("From:name"), local)
	}
}

// personaLocal says whether an address's local part is a made-up person's:
// two words and a number, joined by underscores ("Hartness_Lacy_95443",
// "ximenes_tabbernor_98874"), the form a kit gives each of its thousands of
// throwaway mailboxes. Two words of two letters or more, ASCII letters only,
// and three to six digits.
func personaLocal(s string) bool {
	first, rest, ok := strings.Cut(s, "_")
	if !ok {
		return false
	}
	second, number, ok := strings.Cut(rest, "_")
	if !ok || len(number) < 3 || len(number) > 6 {
		return false
	}
	return asciiWord(first) && asciiWord(second) && isDigits(number)
}

// asciiWord says whether s is two ASCII letters or more.
func asciiWord(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isASCIILetter(s[i]) {
			return false
		}
	}
	return len(s) >= 2
}

// mixedCaseLocal says whether an address's local part is letters in random case,
// new in every copy of a campaign ("fdDcYbGtHMjwnIr", "vXSKroA", "exXmY"), so
// that no block list of senders or count of copies sees the same one twice:
// letters only, five to twenty, two capitals and two small letters or more,
// a small letter followed by a capital twice or more, and a capital not
// followed by a small letter. A person's or a business's address is small
// letters, or words that each start with a capital (DoNotUse, JohnSmith).
// (SpamAssassin's HK_RANDOM_FROM reads runs of consonants or vowels, which
// a short code in mixed case need not have.)
func mixedCaseLocal(s string) bool {
	if len(s) < 5 || len(s) > 20 {
		return false
	}
	small := func(i int) bool { return i >= 0 && i < len(s) && isASCIILetter(s[i]) && !isUpper(s[i]) }
	var upper, lower, humps, bare int
	for i := 0; i < len(s); i++ {
		switch {
		case small(i):
			lower++
		case isUpper(s[i]):
			upper++
			if small(i - 1) {
				humps++
			}
			if !small(i + 1) {
				bare++
			}
		default:
			return false
		}
	}
	return upper >= 2 && lower >= 2 && humps >= 2 && bare >= 1
}

// nameHolds says whether a From's display name holds three letters in a row
// of its address's local part, case aside: a person's own initials and names
// ("TomMcD" for "Tom McDonald") are not a random code. Without a name there
// is nothing to compare, and no name to pass the code off with.
func nameHolds(name, local string) bool {
	if strings.TrimSpace(name) == "" {
		return true
	}
	name, local = strings.ToLower(name), strings.ToLower(local)
	for i := 0; i+3 <= len(local); i++ {
		// Letters only: a made-up mailbox's number or underscore
		// (Hartness_Lacy_95443) is no part of a name, whatever digits the
		// name holds ("Studio 954").
		if w := local[i : i+3]; asciiWord(w) && strings.Contains(name, w) {
			return true
		}
	}
	return false
}

// anyPart makes an eval that hits when test holds for one of the message's
// parts.
func anyPart(test func(*scan.Part) bool) evalFunc {
	return func(t *target) bool {
		for i := range t.msg.Parsed.Parts {
			if test(&t.msg.Parsed.Parts[i]) {
				return true
			}
		}
		return false
	}
}

// firstFromWith makes an eval of the first raw From field, read by test only
// when the fields hold c: most mail's From has no comma or parenthesis.
func firstFromWith(c byte, test func(string) bool) func(*target) bool {
	return func(t *target) bool {
		raw := t.rawHeader("From")
		if strings.IndexByte(raw, c) < 0 {
			return false
		}
		from, _, _ := strings.Cut(raw, "\n")
		return test(from)
	}
}

// anyField makes an eval of header fields, its arguments, that hits when
// test holds for one of them.
func anyField(test func(string) bool) func([]string) (evalFunc, error) {
	return func(fields []string) (evalFunc, error) {
		if len(fields) == 0 {
			return nil, fmt.Errorf("want one or more header fields")
		}
		return func(t *target) bool { return anyFieldHolds(t, fields, test) }, nil
	}
}

// anyFieldHolds says whether test holds for one of the header fields.
func anyFieldHolds(t *target, fields []string, test func(string) bool) bool {
	for _, f := range fields {
		if test(t.get(f)) {
			return true
		}
	}
	return false
}

// nameComma says whether a raw From field has a comma in its display name
// outside quotes, comments and encoded words, before an angle address:
// "SHEIN, <info@example.com>", "Doe, John <john@example.com>", or in a comment
// after it, "Win,(<info@example.com>)". RFC 5322 reads
// that comma as the end of a first sender that is a name alone, no address. A
// list of real addresses ("a@example.com, b@example.org", "A <a@example.com>,
// B <b@example.org>") is not one: its first comma follows an address.
func nameComma(field string) bool {
	comma := false
	for i := 0; i < len(field); i++ {
		switch c := field[i]; c {
		case '"':
			if i = quotedEnd(field, i); i < 0 {
				return false // (unclosed: no address to find)
			}
		case '(':
			end := commentEnd(field, i)
			// "Name,(<addr>)": the kits' other seam puts the address itself
			// in a comment, after the comma.
			if comma && angleAddress(field[i:end]) {
				return true
			}
			i = end
		case '=':
			// An encoded word is a token of the name, whatever its text holds
			// (mail programs leave commas in Q-encoded names).
			if w := encodedWordLen(field[i:]); w > 0 {
				i += w - 1
			}
		case ',':
			comma = true
		case '@':
			return false
		case '<':
			return comma && angleAddress(field[i:])
		}
	}
	return false
}

// addressInComment says whether a raw From field's only address is in a
// comment: "Dating-Experte,(<noreply@team.mobile.de>)", "Shop (<info@…>)".
// RFC 5322 reads a comment as nothing, so the field has no address at all,
// none a reply could go to; mail programs show the comment, and the reader
// takes the borrowed address in it for the sender's. "user@example.com (Full
// Name <user@…>)" and a quoted name's @ are not: an address stands outside.
func addressInComment(field string) bool {
	found := false
	for i := 0; i < len(field); i++ {
		switch field[i] {
		case '"':
			if i = quotedEnd(field, i); i < 0 {
				return false // (unclosed: no address to find)
			}
		case '(':
			end := commentEnd(field, i)
			found = found || angleAddress(field[i:end])
			i = end
		case '@':
			return false
		}
	}
	return found
}

// angleAddress says whether s holds an address in angle brackets.
func angleAddress(s string) bool {
	_, addr, ok := strings.Cut(s, "<")
	addr, _, closed := strings.Cut(addr, ">")
	return ok && closed && strings.Contains(addr, "@")
}

// commentEnd is the index of the parenthesis that closes the comment (nested
// ones in it) opening at field[open], or len(field) when none does.
func commentEnd(field string, open int) int {
	depth := 0
	for i := open; i < len(field); i++ {
		switch field[i] {
		case '\\':
			i++
		case '(':
			depth++
		case ')':
			if depth--; depth == 0 {
				return i
			}
		}
	}
	return len(field)
}

// quotedEnd is the index of the quote that closes the quoted string opening at
// field[open], or -1.
func quotedEnd(field string, open int) int {
	for i := open + 1; i < len(field); i++ {
		switch field[i] {
		case '\\':
			i++
		case '"':
			return i
		}
	}
	return -1
}

// encodedWordLen is the length of the RFC 2047 encoded word s starts with
// (=?charset?Q?text?=), or 0.
func encodedWordLen(s string) int {
	if !strings.HasPrefix(s, "=?") {
		return 0
	}
	parts := 0
	for i := 2; i < len(s); i++ {
		switch c := s[i]; {
		case c == ' ' || c == '\t':
			return 0
		case c == '?' && parts == 2 && i+1 < len(s) && s[i+1] == '=':
			return i + 2
		case c == '?':
			parts++
		}
	}
	return 0
}

// fromDomain is the domain of the address a From field shows its reader: as
// RFC 5322 reads it (not From:addr, which keeps SpamAssassin's reading of quoted
// local parts and commas), or else as replyDomain reads writtenAddress. ok is
// false for a field with no address.
func fromDomain(field string) (domain string, ok bool) {
	if a, err := mail.ParseAddress(field); err == nil {
		return a.Address[strings.LastIndexByte(a.Address, '@')+1:], true
	}
	return replyDomain(writtenAddress(field))
}

// replyDomain is what follows an address's last @ outside quotes
// ("Books@Books"@example.com is example.com's); "" when every @ is quoted
// ("noreply@icloud.nl" in quotes is all local part). ok is false for a text
// without @, which is no address.
func replyDomain(addr string) (domain string, ok bool) {
	at := -1
	for i := 0; i < len(addr); i++ {
		switch addr[i] {
		case '"':
			if i = quotedEnd(addr, i); i < 0 {
				i = len(addr) // unclosed: the rest is quoted
			}
		case '@':
			at = i
		}
	}
	if at < 0 {
		return "", strings.Contains(addr, "@")
	}
	return addr[at+1:], true
}

// writtenAddress is the address a From field RFC 5322 cannot read shows its
// reader: what its last angle brackets hold ("Team <news@site,example,com>"),
// or else the field itself.
func writtenAddress(field string) string {
	field = strings.TrimSpace(field)
	if open := strings.LastIndexByte(field, '<'); open >= 0 {
		field = field[open+1:]
		if end := strings.IndexByte(field, '>'); end >= 0 {
			field = field[:end]
		}
	}
	return strings.TrimSpace(field)
}

// privateTLDs are the names private networks use as top-level domains (RFC
// 6761's localhost, RFC 6762's local, ICANN's internal and home.arpa, and the
// common ad hoc ones): mail between an organisation's own hosts may be sent
// from them, and they are not a forger's.
var privateTLDs = map[string]bool{
	"local": true, "localdomain": true, "localhost": true, "internal": true, "lan": true,
	"intranet": true, "corp": true, "home": true, "private": true, "arpa": true,
}

// mailDomain says whether d, the domain of an address, is a domain name mail can
// be sent back to: a name under a top-level domain the public suffix list's ICANN
// part holds (or a private network's, privateTLDs), not a suffix of that part
// alone. A name written in characters IDNA refuses, or in the styled
// letters (𝗕𝗮𝗵𝗻, ⓐⓟⓟⓛⓔ, ｆｕｌｌ width) that Unicode's compatibility
// normalization turns into plain ones, is none: no registry hands them out, and
// they are written to get a brand's name past filters that read plain letters.
// An address literal ([192.0.2.1]) names no domain either.
func mailDomain(d string) bool {
	d = strings.TrimSuffix(strings.ToLower(d), ".")
	if !isASCII(d) {
		if !norm.NFKC.IsNormalString(d) {
			return false
		}
		a, ok := ASCIIHost(d)
		if !ok {
			return false
		}
		d = a
	}
	for _, label := range strings.Split(d, ".") {
		if label == "" || strings.HasPrefix(label, "-") || strings.HasSuffix(label, "-") {
			return false
		}
		for i := 0; i < len(label); i++ {
			if c := label[i]; !isAlnum(c) && c != '-' && c != '_' {
				return false
			}
		}
	}
	tld := d[strings.LastIndexByte(d, '.')+1:]
	if privateTLDs[tld] {
		return true
	}
	if !KnownTLD(tld) {
		return false
	}
	// A public suffix alone (co.uk) is no one's domain. One of the list's
	// private part is (iki.fi, a mail forwarding service, is also a suffix
	// under which its users have names).
	suffix, icann := publicsuffix.PublicSuffix(d)
	return !icann || suffix != d
}

// randomToken says whether s has a random code of letters and digits, new in
// every copy of a campaign: "segurancaNm9ehEyNWyox3", "fg46qFdZiRVH3jI". It
// is a run of ASCII letters and digits of 10 or more, with at least two
// digits, three capitals and three small letters, at least as many letters as
// twice its digits (a Salesforce case's id is mostly digits), its kind of
// character changing seven times or more, and two capitals or more not
// followed by a small letter. Names change case at their words' starts, so a
// capital in them is followed by a small letter (PowerShell2Go,
// iPhone15ProMax); references of a business are digits and capitals.
func randomToken(s string) bool {
	for i := 0; i < len(s); {
		if !isASCIIAlnum(s[i]) {
			i++
			continue
		}
		j := i
		for j < len(s) && isASCIIAlnum(s[j]) {
			j++
		}
		if j-i >= 10 && randomRun(s[i:j]) {
			return true
		}
		i = j
	}
	return false
}

// randomRun reads randomToken's run of letters and digits.
func randomRun(w string) bool {
	class := func(c byte) byte {
		switch {
		case 'A' <= c && c <= 'Z':
			return 'A'
		case 'a' <= c && c <= 'z':
			return 'a'
		}
		return '0'
	}
	var digits, upper, lower, changes, bareUpper int
	for k := 0; k < len(w); k++ {
		c := class(w[k])
		switch c {
		case '0':
			digits++
		case 'a':
			lower++
		case 'A':
			upper++
			if k+1 == len(w) || class(w[k+1]) != 'a' {
				bareUpper++
			}
		}
		if k > 0 && class(w[k-1]) != c {
			changes++
		}
	}
	return digits >= 2 && upper >= 3 && lower >= 3 && upper+lower >= 2*digits &&
		changes >= 7 && bareUpper >= 2
}

// hashTag says whether s, a Subject, ends in a code added so that no two
// copies of a campaign read alike to a filter that counts copies of one
// Subject (Razor, DCC, a checksum): "Call me                    34472",
// "Something EVERY Business Needs! [wxv4m]", "Rates Are Down.  teoqknmp". The
// code is the last word, and one of
//
//   - set apart by three spaces or more, so that it falls outside what the
//     mail reader's list shows, and a number or a word of one case (not a
//     capitalized word, as a person may put after spaces): "   XDKOR";
//   - in brackets, four to eight small letters and digits, with both, or
//     with no vowel: "[6ywab]", "[jdnhd]" (a list's tag is a word);
//   - small letters after the end of a sentence, with four consonants in a
//     row or no vowel, which no language's words there have: "DOWN!! ntbri".
//     "menu" after "More..." is a word.
func hashTag(s string) bool {
	for line := range strings.SplitSeq(s, "\n") { // (a Subject field each)
		if hashTagLine(line) {
			return true
		}
	}
	return false
}

func hashTagLine(s string) bool {
	s = strings.TrimRight(s, " \t")
	i := strings.LastIndexAny(s, " \t")
	if i < 0 {
		return false
	}
	tag, before := s[i+1:], strings.TrimRight(s[:i+1], " \t")
	if before == "" {
		return false
	}
	if len(s)-len(before)-len(tag) >= 3 && oneCaseCode(strings.TrimSuffix(strings.TrimPrefix(tag, "["), "]")) {
		return true
	}
	const small, digits = "abcdefghijklmnopqrstuvwxyz", "0123456789"
	if n := len(tag); n >= 6 && n <= 10 && tag[0] == '[' && tag[n-1] == ']' {
		code := tag[1 : n-1]
		return strings.Trim(code, small+digits) == "" && strings.ContainsAny(code, small) &&
			(strings.ContainsAny(code, digits) || !strings.ContainsAny(code, vowels))
	}
	end := before[len(before)-1]
	if end != '!' && end != '?' && (end != '.' || strings.HasSuffix(before, "..")) {
		return false
	}
	if len(tag) < 3 || len(tag) > 12 || strings.Trim(tag, small) != "" {
		return false
	}
	return !strings.ContainsAny(tag, vowels) || consonantRun(tag) >= 4
}

// vowels are hashTag's, y among them: "gym" is a word.
const vowels = "aeiouy"

// oneCaseCode says whether w is 1 to 12 digits and hyphens with a digit, or
// letters and digits of one case.
func oneCaseCode(w string) bool {
	if w == "" || len(w) > 12 {
		return false
	}
	var upper, lower, digit bool
	for k := 0; k < len(w); k++ {
		switch c := w[k]; {
		case 'A' <= c && c <= 'Z':
			upper = true
		case 'a' <= c && c <= 'z':
			lower = true
		case '0' <= c && c <= '9':
			digit = true
		case c != '-':
			return false
		}
	}
	return !(upper && lower) && (upper || lower || digit)
}

// consonantRun is the length of w's longest run of consonants (y a vowel).
func consonantRun(w string) int {
	longest, run := 0, 0
	for k := 0; k < len(w); k++ {
		if strings.IndexByte(vowels, w[k]) >= 0 {
			run = 0
			continue
		}
		run++
		longest = max(longest, run)
	}
	return longest
}

func isASCIIAlnum(c byte) bool { return isASCIILetter(c) || '0' <= c && c <= '9' }

// mixedScriptWord says whether s has a word that mixes Latin letters with
// Cyrillic or Greek ones: "MetaМask" with a Cyrillic М, "Yоur" with a Cyrillic о.
// No language writes a word in two alphabets; the look-alike letters are put
// there so that a brand's name or a word passes filters that read letters, and
// a reader sees nothing. Words of Cyrillic or Greek text beside Latin ones
// (a Russian subject naming "iPhone") are each in one alphabet. Of Greek, only
// the letters that look Latin count: "10kΩ" and "λ-calculus" are a unit and a
// name, written so.
//
// Characters that show nothing (a zero-width space, a soft hyphen) and
// combining marks do not end a word, since the reader sees one; a mark of
// another alphabet set on a Latin letter counts as that alphabet (Syriac's
// on "Aܿmܿaܿzܿoܿn", which shows as a dot).
func mixedScriptWord(s string) bool { return mixedScriptAt(s) >= 0 }

// mixedScriptWords says whether s has n words or more that mix alphabets
// (mixedScriptWord).
func mixedScriptWords(s string, n int) bool {
	for found := 0; ; {
		i := mixedScriptAt(s)
		if i < 0 {
			return false
		}
		if found++; found >= n {
			return true
		}
		s = s[i:]
	}
}

// mixedScriptAt is where in s the first word that mixes alphabets ends (the
// character after it, or len(s)), or -1 when none does.
func mixedScriptAt(s string) int {
	if isASCII(s) {
		return -1
	}
	latin, other := false, false
	onLatin := false // the last letter, marks aside, is Latin
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		i += n
		switch {
		case r < utf8.RuneSelf && ('a' <= r|0x20 && r|0x20 <= 'z'):
			latin, onLatin = true, true
		case r >= utf8.RuneSelf && unicode.IsLetter(r):
			onLatin = unicode.Is(unicode.Latin, r)
			switch {
			case onLatin:
				latin = true
			case unicode.Is(unicode.Cyrillic, r), greekLookalike(r):
				other = true
			}
		case invisible(r):
			continue
		case unicode.Is(unicode.Mn, r):
			// Latin's accents are in no alphabet (Inherited): "e" and a
			// combining acute are a Latin é.
			if onLatin && !unicode.Is(unicode.Inherited, r) {
				other = true
			}
		default: // a word ends
			if latin && other {
				return i - n
			}
			latin, other, onLatin = false, false, false
			continue
		}
	}
	if latin && other {
		return len(s)
	}
	return -1
}

// cyrillicOrGreek says whether s may hold a Cyrillic or Greek letter: a
// UTF-8 lead byte of U+0380–U+052F. Most text has none, and is not read rune
// by rune; a word mixed only by another alphabet's marks is the split-word
// rule's (PST_SPLIT_WORD).
func cyrillicOrGreek(s string) bool {
	for c := byte(0xce); c <= 0xd4; c++ {
		if strings.IndexByte(s, c) >= 0 {
			return true
		}
	}
	return false
}

// greekLookalike says whether r is a Greek letter that shows as a Latin one.
func greekLookalike(r rune) bool {
	return strings.ContainsRune("ΑΒΕΖΗΙΚΜΝΟΡΤΥΧαεικνορτυχϲϳ", r)
}

// splitWord says whether s has four Latin letters in a row each split from
// the next by characters that show nothing (invisible) or by marks of Hebrew,
// Arabic or Syriac set on them: "P<ZWNJ>a<ZWNJ>y<ZWNJ>Pal", "Aܿmܿaܿzܿon". Most
// mail's text is ASCII: the loop looks only at what follows a letter and is
// not ASCII.
func splitWord(s string) bool {
	for i := 1; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf && isASCIILetter(s[i-1]) && splitFrom(s[i:]) {
			return true
		}
	}
	return false
}

// splitFrom says whether s, which follows a letter, opens splitWord's
// pattern: splitters and a letter, three times.
func splitFrom(s string) bool {
	for k := 0; k < 3; k++ {
		n := 0
		for n < len(s) {
			r, w := utf8.DecodeRuneInString(s[n:])
			if !invisible(r) && !splitMark(r) {
				break
			}
			n += w
		}
		if n == 0 || n == len(s) || !isASCIILetter(s[n]) {
			return false
		}
		s = s[n+1:]
	}
	return true
}

// splitMark says whether r is a mark of Hebrew, Arabic or Syriac that
// splitWord reads as a splitter, set on a Latin letter it shows as a dot or a
// stroke.
func splitMark(r rune) bool {
	return 0x591 <= r && r <= 0x5c7 || 0x64b <= r && r <= 0x65f || 0x730 <= r && r <= 0x74a
}

// invisible says whether r shows nothing in a word: a soft hyphen, a
// combining grapheme joiner, the zero-width space and joiners, the word
// joiner, or a byte order mark inside text.
func invisible(r rune) bool {
	return r == 0xad || r == 0x34f || 0x200b <= r && r <= 0x200d || r == 0x2060 || r == 0xfeff
}

// homographHost says whether a link's host has a label written to look like a
// Latin name it is not: one that mixes Latin letters with Cyrillic or Greek
// ones (pаypal.com, whose а is Cyrillic) or sets another alphabet's mark on a
// Latin letter (mixedScriptWord), or, under a top-level domain written
// in Latin letters, one written wholly in the Cyrillic letters that look Latin
// (аррӏе.com). Browsers show such names in their xn-- form for that reason
// (Chromium's IDN spoof checks); mail programs show the link's text. The ASCII
// form is read back (the links list holds both forms of a name).
func homographHost(host string) bool {
	if isASCII(host) {
		if !strings.Contains(host, "xn--") {
			return false
		}
		u, err := idna.Punycode.ToUnicode(host)
		if err != nil {
			return false
		}
		host = u
	}
	labels := strings.Split(host, ".")
	latinTLD := isASCII(labels[len(labels)-1])
	for _, label := range labels[:len(labels)-1] {
		if mixedScriptWord(label) || latinTLD && latinLookalike(label) {
			return true
		}
	}
	return false
}

// latinLookalike says whether label is written wholly in the Cyrillic letters
// that look like Latin ones (digits and hyphens aside), as Chromium's
// whole-script confusable check reads a name under a Latin top-level domain.
func latinLookalike(label string) bool {
	cyrillic := false
	for _, r := range label {
		switch {
		case r == '-' || '0' <= r && r <= '9':
		case lookalikes[r] != 0 && unicode.Is(unicode.Cyrillic, r):
			cyrillic = true
		default:
			return false
		}
	}
	return cyrillic
}

// lookalikes are the Cyrillic and Greek letters that show as Latin ones, and
// those: the letters a name or a host borrows to spell a brand that a filter
// reading letters does not see.
var lookalikes = func() map[rune]rune {
	m := map[rune]rune{}
	for _, pair := range []string{
		"аa", "еe", "рp", "сc", "уy", "хx", "оo", "іi", "јj", "ѕs", "һh", "ԁd", "ԛq", "ԝw", "ӏl",
		"АA", "ВB", "ЕE", "КK", "МM", "НH", "ОO", "РP", "СC", "ТT", "ХX", "ІI", "ЈJ", "ЅS", "ҮY",
		"οo", "νv", "αa", "ΑA", "ΒB", "ΕE", "ΖZ", "ΗH", "ΙI", "ΚK", "ΜM", "ΝN", "ΟO", "ΡP", "ΤT", "ΥY", "ΧX",
	} {
		r := []rune(pair)
		m[r[0]] = r[1]
	}
	return m
}()

// shownName is a display name as a mail reader shows it, for rules that look
// for a brand's name in it: letters' compatibility forms made plain (full-width
// and mathematical letters, NFKC), every space a space, characters that show
// nothing dropped (format characters, variation selectors, combining marks left
// over), and the Cyrillic and Greek letters that look like Latin ones read as
// those. "Lеԁgеr" with three Cyrillic letters and "Co<VS>in<VS>base" are Ledger
// and Coinbase to the reader, and to these rules; PST_MIXED_SCRIPT_HDR and
// PST_SPLIT_WORD read the name as written. A name in ASCII is as written.
func shownName(name string) string {
	if isASCII(name) {
		return name
	}
	var b strings.Builder
	for _, r := range name {
		l, lookalike := lookalikes[r]
		switch {
		case unicode.In(r, unicode.Cf, unicode.Mn, unicode.Me):
		case lookalike:
			b.WriteRune(l)
		case unicode.Is(unicode.Zs, r):
			b.WriteByte(' ') // (an em space, a no-break space)
		case r >= utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r)):
			// (Letters only: a ™ stays one, where NFKC writes "TM".)
			b.WriteString(norm.NFKC.String(string(r)))
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// farBelow says whether lower-cased HTML or CSS sets a margin or padding (or
// its top or bottom) of ten thousand pixels or more, or a height (or a minimum
// height) of that many pixels or of a thousand screen heights (vh): a length
// that puts what follows where the reader never scrolls. A bound (max-height)
// and a negative offset are not one. It looks for each unit in turn and reads
// back from it, since nearly every length in mail has a few digits, and a
// search for the properties' names would stop at every one of them.
func farBelow(s string) bool {
	for _, unit := range [...]struct {
		name       string
		digits     int
		heightOnly bool // only a height is measured in screens
	}{{"px", 5, false}, {"vh", 4, true}} {
		for end := 0; ; end += len(unit.name) {
			i := strings.Index(s[end:], unit.name)
			if i < 0 {
				break
			}
			end += i
			if farLength(s[:end], unit.digits, unit.heightOnly) {
				return true
			}
		}
	}
	return false
}

// farLength says whether s ends in "PROPERTY: N", N of digits or more (and a
// decimal fraction), the property one farBelow reads, after a separator.
func farLength(s string, digits int, heightOnly bool) bool {
	j := digitsStart(s)
	if j > 0 && j < len(s) && s[j-1] == '.' { // a fraction: "12000.5px"
		s = s[:j-1]
		j = digitsStart(s)
	}
	if len(s)-j < digits {
		return false
	}
	s = strings.TrimRight(s[:j], " \t\r\n")
	if !strings.HasSuffix(s, ":") {
		return false
	}
	s = strings.TrimRight(s[:len(s)-1], " \t\r\n")
	// (min-height before height: a name that ends another is read after it.)
	for _, name := range [...]string{"min-height", "height", "margin", "margin-top", "margin-bottom", "padding", "padding-top", "padding-bottom"} {
		if heightOnly && !strings.HasSuffix(name, "height") {
			continue
		}
		if strings.HasSuffix(s, name) {
			k := len(s) - len(name)
			// "max-height" and "line-height" are other properties.
			return k == 0 || strings.IndexByte(" \t\r\n;{\"'", s[k-1]) >= 0
		}
	}
	return false
}

// digitsStart is where the digits that end s start (len(s) when none do).
func digitsStart(s string) int {
	i := len(s)
	for i > 0 && s[i-1] >= '0' && s[i-1] <= '9' {
		i--
	}
	return i
}
