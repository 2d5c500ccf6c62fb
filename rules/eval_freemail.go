package rules

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// SpamAssassin's FreeMail plugin (Mail/SpamAssassin/Plugin/FreeMail.pm): is the
// sender (or the Reply-To, or an address in the body) at a free mail provider,
// and do they disagree? A stranger writing from one free mail account and asking
// for answers at another is the shape of advance-fee fraud.

// freemail is what the freemail_domains and freemail_welcomelist directives set.
type freemail struct {
	domains   map[string]bool
	wildcards []string // domains with ? and *, until compiled
	// re is the wildcards, \@(?:…)$: a quickRegexp, as Go's regexp tried the
	// alternation of 30 wildcards from every byte of every address asked about.
	re      *quickRegexp
	welcome map[string]bool
	// parsers are the header rules, by name, whose eval can run the plugin's
	// _parse_body (bodyParseOf); parses, what those among a set's needed rules
	// can call (Set's compile). See freemailStripsBody.
	parsers map[string]uint8
	parses  uint8
}

// The FreeMail evals that can call _parse_body (bodyParseOf), as bits.
const (
	parsesReplyTo uint8 = 1 << iota // check_freemail_replyto('replyto'), the default
	parsesReply                     // check_freemail_replyto('reply')
	parsesBody                      // check_freemail_body
)

// bodyParseOf says which FreeMail eval that calls _parse_body a rule's
// definition runs, when it is a header rule: SpamAssassin runs the header evals
// of a priority before its body rules, so only those change the text the body
// rules read (freemailStripsBody). 0 for any other rule.
func bodyParseOf(src ruleSource) uint8 {
	call, ok := strings.CutPrefix(src.def, "eval:")
	if src.kind != Header || !ok {
		return 0
	}
	name, argText, err := evalCall(call)
	if err != nil {
		return 0
	}
	switch name {
	case "check_freemail_body":
		return parsesBody
	case "check_freemail_replyto":
		args, err := evalArgs(argText)
		switch {
		case err != nil:
		case len(args) == 0 || args[0] == "replyto":
			return parsesReplyTo
		case args[0] == "reply":
			return parsesReply
		}
	}
	return 0
}

// directive reads freemail_domains and freemail_welcomelist (and its old name).
func (f *freemail) directive(word, rest string) bool {
	switch word {
	case "freemail_domains":
		if f.domains == nil {
			f.domains = map[string]bool{}
		}
		for _, d := range strings.Fields(rest) {
			d = strings.ToLower(d)
			if strings.Trim(d, "abcdefghijklmnopqrstuvwxyz0123456789.*?-") != "" {
				continue // SpamAssassin warns and drops it
			}
			if strings.ContainsAny(d, "*?") {
				f.wildcards = append(f.wildcards, d)
			} else {
				f.domains[d] = true
			}
		}
	case "freemail_welcomelist", "freemail_whitelist":
		if f.welcome == nil {
			f.welcome = map[string]bool{}
		}
		for _, v := range strings.Fields(rest) {
			f.welcome[strings.ToLower(v)] = true
		}
	default:
		return false
	}
	return true
}

// compile builds the wildcard expression once every file is read.
func (f *freemail) compile() {
	if len(f.wildcards) == 0 {
		return
	}
	alts := make([]string, len(f.wildcards))
	for i, w := range f.wildcards {
		w = strings.ReplaceAll(w, ".", `\.`)
		w = strings.ReplaceAll(w, "?", ".")
		alts[i] = strings.ReplaceAll(w, "*", `[^.]*`)
	}
	// (directive keeps only names of letters, digits, '.', '-' and the two
	// wildcards: the expression compiles)
	f.re, _ = quickCompile(`@(?:` + strings.Join(alts, "|") + `)$`)
}

// wildcard reports whether email matches a wildcard domain (re).
func (f *freemail) wildcard(email string) bool {
	return f.re != nil && f.re.MatchString(email)
}

func (f *freemail) available() bool { return len(f.domains) > 0 || f.re != nil }

// anyOf reports whether one of the (lower-case) addresses is free mail, and
// matches rx when rx is given.
func (f *freemail) anyOf(addrs []string, rx *regexp.Regexp) bool {
	if !f.available() {
		return false
	}
	for _, e := range addrs {
		if f.is(e) && (rx == nil || rx.MatchString(e)) {
			return true
		}
	}
	return false
}

var (
	// Role and machine addresses that are never a person's free mail account.
	reFreemailWelcome = quick(`(?i)^(?:abuse|support|sales|info|helpdesk|contact|kontakt|(?:post|host|domain)master|undisclosed.*|request-[a-f0-9]{16}|bounced?-|[a-f0-9]{8}(?:\.[a-f0-9]{8}|-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12})|.+=.+=.+)@`)
	reSkipReplyToEnv  = quick(`(?i)(?:^(?:post|host|domain)master|^double-bounce|^(?:sentto|owner|return|(?:gr)?bounced?)-.+|-(?:request|bounces?|admin|owner)|\b(?:do[._-t]?)?no[._-t]?repl(?:y|ies)|.+=.+)@`)
	// An e-mail address, as FreeMail's email_regex finds them (its look-around
	// boundaries are checked in bodyFreemails).
	reEmail  = quick(`(?i)[a-z0-9!#$%&'*+/=?^_` + "`" + `{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_` + "`" + `{|}~-]+)*@(?:[a-z0-9](?:[a-z0-9-]{0,59}[a-z0-9])?\.){1,4}[a-z]{2,}`)
	reHTTPAt = quick(`(?i)<?https?://\S{0,255}(?:@|%40)\S{0,255}`)
)

func (f *freemail) is(email string) bool {
	if email == "" || f.welcome[email] {
		return false
	}
	domain := email[strings.LastIndexByte(email, '@')+1:]
	if f.welcome[domain] || reFreemailWelcome.MatchString(email) {
		return false
	}
	return f.domains[domain] || f.wildcard(email)
}

// bodyFreemails is _parse_body: the free mail addresses in the body, and false
// when the body has too many addresses to say (a newsletter, a list digest).
func (t *target) bodyFreemails() (map[string]bool, bool) {
	f := &t.set.freemail
	var emails []string
	seen := map[string]bool{}
	// The mailto: links of <a> tags that the text does not show as they are
	// (what the text shows, the stripped body read next finds).
	for _, u := range t.anchorMailtos {
		if !textMailto(t, u) {
			if m := reEmail.FindString(u[7:]); m != "" && strings.HasPrefix(strings.ToLower(u[7:]), strings.ToLower(m)) {
				e := strings.ToLower(m)
				if !seen[e] {
					emails = append(emails, e)
					seen[e] = true
				}
			}
		}
	}
	for _, line := range t.bodyLines {
		if strings.IndexByte(line, '@') < 0 {
			continue // no address; what reHTTPAt removes only takes @s away
		}
		line = stripBodyLine(line)
		for _, loc := range reEmail.FindAllStringIndex(line, -1) {
			if loc[0] > 0 && strings.ContainsRune("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+/=?^_`{|}~-", rune(line[loc[0]-1])) {
				continue
			}
			if strings.IndexByte(line[loc[0]:loc[1]], '@') > 64 {
				continue
			}
			e := strings.ToLower(line[loc[0]:loc[1]])
			if !seen[e] {
				emails = append(emails, e)
				seen[e] = true
			}
			if len(emails) >= 40 {
				break
			}
		}
	}
	out := map[string]bool{}
	all, fm := 0, 0
	for _, e := range emails {
		if all++; all == 5 { // freemail_max_body_emails, skip when over
			return nil, false
		}
		if !f.is(e) {
			continue
		}
		if fm++; fm == 3 { // freemail_max_body_freemails
			return nil, false
		}
		out[e] = true
	}
	return out, true
}

// textMailto says whether the text shows a mailto: link's target as it is
// (SpamAssassin's parsed type: its text parser found the same URI).
// _parse_body asks the URI list, which was read before it stripped the text: the
// body as rendered, not as stripped.
func textMailto(t *target, u string) bool {
	body := t.body
	if t.unstrippedBody != "" {
		body = t.unstrippedBody
	}
	return strings.Contains(body, u[7:])
}

// stripBodyLine is what FreeMail's _parse_body does to each line of the body
// text: links with an address in them (reHTTPAt), then quoted addresses
// (stripQuotedAddresses), each replaced by one space.
func stripBodyLine(line string) string {
	return stripQuotedAddresses(reHTTPAt.ReplaceAllString(line, " "))
}

// stripQuotedAddresses is FreeMail's _parse_body's second substitution: an
// address in <...> (a header quoted in a reply), or one followed by a word and a
// colon ("jo@example.com wrote:") unless that word is fax, tel, phone or e-mail,
// is replaced, with the < > or the word and colon, by one space. Not one after
// "mailto:".
func stripQuotedAddresses(line string) string {
	locs := reEmail.FindAllStringIndex(line, -1)
	if locs == nil {
		return line
	}
	var b strings.Builder
	last := 0 // line[:last] is written (or replaced)
	for _, loc := range locs {
		start, end := loc[0], loc[1]
		if start < last {
			continue // (inside what the last replacement took)
		}
		if start >= 7 && strings.EqualFold(line[start-7:start], "mailto:") {
			continue
		}
		strip := end < len(line) && line[end] == '>'
		if strip {
			end++
		} else {
			j := end
			for j < len(line) && j-end < 10 && isSpaceByte(line[j]) {
				j++
			}
			if j > end {
				k := j
				for k < len(line) && k-j < 11 && isASCIILetter(line[k]) {
					k++
				}
				word := strings.ToLower(line[j:k])
				if strip = k-j >= 2 && k < len(line) && line[k] == ':' && !reContactWord.MatchString(word); strip {
					end = k + 1
				}
			}
		}
		if strip {
			if start > last && line[start-1] == '<' {
				start--
			}
			b.WriteString(line[last:start])
			b.WriteByte(' ')
			last = end
		}
	}
	if last == 0 {
		return line
	}
	b.WriteString(line[last:])
	return b.String()
}

var reContactWord = quick(`^(?:fa(?:x|csi)|tel|phone|e?-?mail)`)

// isSpaceByte is unicode.IsSpace (and \s as regexp2 reads it) on an ASCII byte.
// A table: paragraphs asks it of nearly every byte of a body, where the six
// compares were an eighth slower (BenchmarkParagraphs).
func isSpaceByte(c byte) bool { return spaceBytes[c] }

var spaceBytes = [256]bool{' ': true, '\t': true, '\n': true, '\r': true, '\f': true, '\v': true}

func isASCIILetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

// allFromAddrs is SpamAssassin's all_from_addrs: every address that says who sent it.
// Several evals ask (free mail, the welcome and address lists): computed once.
func (t *target) allFromAddrs() []string {
	if t.fromAddrs != nil {
		return t.fromAddrs
	}
	var out []string
	if len(t.header.Values("Resent-From")) > 0 {
		out = t.addresses("Resent-From")
	} else {
		for _, f := range []string{"From", "Envelope-Sender", "Resent-Sender", "X-Envelope-From"} {
			out = append(out, t.addresses(f)...)
		}
		if e := t.envelopeFrom(); e != "" {
			out = append(out, e)
		}
	}
	t.fromAddrs = computed(lowerAll(out))
	return t.fromAddrs
}

// computed is a list worked out once for a message, non-nil when empty, so that
// nil can mean "not yet" (append(nil, nothing...) would stay nil).
func computed(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func lowerAll(s []string) []string {
	out := s[:0]
	for _, x := range s {
		if x != "" {
			out = append(out, strings.ToLower(x))
		}
	}
	return out
}

func init() {
	const p = "FreeMail"
	optRegex := func(args []string, i int) (*regexp.Regexp, error) {
		if len(args) <= i {
			return nil, nil
		}
		rx, _, err := perlRegex("/" + args[i] + "/")
		return rx, err
	}
	register(p, "check_freemail_from", func(args []string) (evalFunc, error) {
		rx, err := optRegex(args, 0)
		if err != nil {
			return nil, err
		}
		return func(t *target) bool { return t.set.freemail.anyOf(t.allFromAddrs(), rx) }, nil
	})
	register(p, "check_freemail_header", func(args []string) (evalFunc, error) {
		if len(args) < 1 {
			return nil, fmt.Errorf("want HEADER")
		}
		field := strings.TrimSuffix(args[0], ":addr")
		rx, err := optRegex(args, 1)
		if err != nil {
			return nil, err
		}
		return func(t *target) bool {
			addrs := []string{t.envelopeFrom()}
			if field != "EnvelopeFrom" {
				addrs = t.addresses(field)
			}
			return t.set.freemail.anyOf(lowerAll(addrs), rx)
		}, nil
	})
	register(p, "check_freemail_body", func(args []string) (evalFunc, error) {
		rx, err := optRegex(args, 0)
		if err != nil {
			return nil, err
		}
		return func(t *target) bool {
			if !t.set.freemail.available() {
				return false
			}
			body, ok := t.bodyFreemails()
			if !ok {
				return false
			}
			for e := range body {
				if rx == nil || rx.MatchString(e) {
					return true
				}
			}
			return false
		}, nil
	})
	register(p, "check_freemail_replyto", func(args []string) (evalFunc, error) {
		what := "replyto"
		if len(args) > 0 {
			what = args[0]
		}
		if what != "replyto" && what != "reply" {
			return nil, fmt.Errorf("option %q: want 'replyto' or 'reply'", what)
		}
		return func(t *target) bool { return freemailReplyTo(t, what) }, nil
	})
}

// replyFreemails is what check_freemail_replyto reads of the header before it
// looks at the body: whether the envelope sender looks like a list's or a
// bounce's (bulk: no check), the From and Reply-To addresses, whether each has
// a free mail one, and whether no From address is among the Reply-To ones.
type replyFreemails struct {
	bulk                        bool
	from, replyTo               []string
	fromFM, replyFM, notInReply bool
}

// replyFreemails is read once a message: freemailStripsBody asks before the
// rules run, and each check_freemail_replyto rule after.
func (t *target) replyFreemails() replyFreemails {
	if t.replyFM != nil {
		return *t.replyFM
	}
	f := &t.set.freemail
	r := replyFreemails{bulk: reSkipReplyToEnv.MatchString(t.envelopeFrom()),
		from: lowerAll(t.addresses("From")), replyTo: lowerAll(t.addresses("Reply-To")), notInReply: true}
	any := func(list []string) bool {
		for _, e := range list {
			if f.is(e) {
				return true
			}
		}
		return false
	}
	r.fromFM, r.replyFM = any(r.from), any(r.replyTo)
	for _, a := range r.from {
		for _, b := range r.replyTo {
			if a == b {
				r.notInReply = false
			}
		}
	}
	t.replyFM = &r
	return r
}

// replyToHeader is check_freemail_replyto(what) as far as the header takes
// it: hit when the header alone answers yes, parse when it goes on to the body
// (_parse_body); neither when it answers no.
func (t *target) replyToHeader(what string) (hit, parse bool) {
	if !t.set.freemail.available() {
		return false, false
	}
	r := t.replyFreemails()
	switch {
	case r.bulk:
		return false, false
	case r.fromFM && r.replyFM && r.notInReply:
		return true, false
	case what == "replyto" && !r.replyFM:
		return false, false
	case what == "reply" && len(r.replyTo) > 0 && !r.replyFM:
		return false, false
	case what == "reply" && len(r.replyTo) == 0 && !r.fromFM:
		return false, false
	}
	return false, true
}

// freemailStripsBody says whether SpamAssassin, running the set's rules on this
// message, calls FreeMail's _parse_body before its body rules. That function
// blanks, in place, the links with an address in them and the quoted addresses
// (stripQuotedAddresses) of the body text array every rule reads after it: the
// body rules and the body evals then read the stripped text. Its callers are the
// header evals of 20_freemail.cf (FREEMAIL_REPLYTO's and FREEMAIL_REPLY's), which
// reach it when the sender's or the Reply-To address is a free mail one
// (spam-2.00880: "Spamassassin-Sightings@lists.sourceforge.net https:" went from
// the text of a hinet.net sender, and MIXED_ES with it). Rules of a lower
// priority than those evals (__NONEMPTY_BODY's -2000) read the text before.
func (t *target) freemailStripsBody() bool {
	f := &t.set.freemail
	if f.parses == 0 || !f.available() {
		return false
	}
	parses := func(bit uint8, what string) bool {
		if f.parses&bit == 0 {
			return false
		}
		_, parse := t.replyToHeader(what)
		return parse
	}
	return f.parses&parsesBody != 0 || parses(parsesReplyTo, "replyto") || parses(parsesReply, "reply")
}

// stripBodyAddresses does to the body text what _parse_body does to
// SpamAssassin's (freemailStripsBody), line by line; the lines keep their
// newlines. The text as rendered stays in unstrippedBody.
func (t *target) stripBodyAddresses() {
	var lines []string
	for i, line := range t.bodyLines {
		if strings.IndexByte(line, '@') < 0 && !strings.Contains(line, "%40") {
			continue
		}
		if s := stripBodyLine(line); s != line {
			if lines == nil {
				lines = slices.Clone(t.bodyLines)
			}
			lines[i] = s
		}
	}
	if lines == nil {
		return
	}
	t.unstrippedBody = t.body
	t.setBody(strings.Join(lines, ""))
}

func freemailReplyTo(t *target, what string) bool {
	if hit, parse := t.replyToHeader(what); !parse {
		return hit
	}
	r := t.replyFreemails()
	from, replyTo, replyFM := r.from, r.replyTo, r.replyFM
	body, ok := t.bodyFreemails()
	if !ok || len(body) == 0 {
		return false
	}
	reply := from
	if what == "replyto" || replyFM {
		reply = replyTo
	}
	for b := range body {
		for _, r := range reply {
			if b != r {
				return true
			}
		}
	}
	return false
}
