package rules

import (
	"fmt"
	"net"
	"regexp"
	"strings"
	"unicode/utf8"
)

// The relay analysis SpamAssassin makes of a message's Received chain
// (Mail/SpamAssassin/Message/Metadata/Received.pm): each Received line parsed into
// a relay (its IP, reverse DNS, HELO, the receiving host, ...), the relays split
// into trusted and untrusted, and written as the X-Spam-Relays-* pseudo-headers
// that many stock rules read. With no trusted_networks, as here, the relays the
// message passed while on private addresses (or authenticated) are trusted, and
// every relay from the first public one on is not.
//
// When the milter gave the SMTP client (Postfix's client address, its verified
// name and HELO) and the message's top Received line does not already record that
// hop, the client is the first untrusted relay: the hop that matters most, and the
// one a sender cannot forge.

// relay is one parsed Received line.
type relay struct {
	ip, rdns, helo, by, ident, envfrom, id, auth string
	noReverseDNS                                 bool // the MTA looked its name up and found none
	private                                      bool
	internal                                     bool
}

// String is SpamAssassin's make_relay_as_string.
func (r relay) String() string {
	intl := "0"
	if r.internal {
		intl = "1"
	}
	return "[ ip=" + r.ip + " rdns=" + r.rdns + " helo=" + r.helo + " by=" + r.by + " ident=" + r.ident +
		" envfrom=" + r.envfrom + " intl=" + intl + " id=" + r.id + " auth=" + r.auth + " msa=0 ]"
}

// relays is a message's relay analysis.
type relays struct {
	trusted, untrusted       []relay
	unparseable              int
	trustedStr, untrustedStr string
	// trustedLines counts the Received lines read while still trusting, those
	// that gave no relay too (SpamAssassin's last_trusted_relay_index + 1): a
	// fetch marker empties trusted, not this count. ALL-UNTRUSTED starts
	// after them.
	trustedLines int
}

func (t *target) relays() *relays {
	if t.relaysRes != nil {
		return t.relaysRes
	}
	defer t.costs.time("(Received headers parsed)")()
	r := &relays{}
	t.relaysRes = r
	lines := t.header.Values("Received")
	// The originating_ip_headers of SpamAssassin's default prefs: webmail and
	// Exchange name the client there, and SpamAssassin makes it the last relay.
	for _, f := range originatingIPHeaders {
		if m := rxOriginatingIP.FindString(t.header.Get(f)); m != "" {
			lines = append(lines, "from X-Originating-IP: "+m)
		}
	}
	var parsed []relay
	// The top line's parse, when the envelope asked for it first (the chain
	// below starts with it, not parsing it again).
	var top relay
	topState, topParsed := rcvdSkip, false
	if e := t.msg.Env; e != nil && e.ClientAddr != "" {
		// The MTA's own view of the hop it received the message on, unless the
		// top Received line records it already.
		if len(lines) > 0 {
			top, topState = parseReceived(lines[0])
			topParsed = true
		}
		if topState != rcvdParsed || top.ip != e.ClientAddr {
			c := relay{ip: e.ClientAddr, helo: e.Helo, by: "postern", envfrom: strings.Trim(e.MailFrom, "<>")}
			if e.ClientName != "" && e.ClientName != "unknown" {
				c.rdns = strings.TrimSuffix(e.ClientName, ".")
			} else {
				c.noReverseDNS = true
			}
			c.private = isPrivateIP(c.ip)
			parsed = append(parsed, c)
		}
	}
	inTrusted, allowFetchMarker := true, true
	add := func(rl relay) {
		if inTrusted && !rl.private && rl.auth == "" {
			inTrusted = false // do not trust any host from here on
		}
		rl.internal = inTrusted
		if inTrusted {
			r.trusted = append(r.trusted, rl)
		} else {
			r.untrusted = append(r.untrusted, rl)
		}
		allowFetchMarker = inTrusted
	}
	for _, rl := range parsed {
		add(rl)
	}
	for i, line := range lines {
		rl, state := top, topState
		if i > 0 || !topParsed {
			rl, state = parseReceived(line)
		}
		switch state {
		case rcvdUnparseable:
			r.unparseable++
		case rcvdFetcher:
			// A POP or IMAP fetch inside the trusted part: what came before was
			// the local delivery, start again (found_pop_fetcher_sig).
			if allowFetchMarker {
				r.trusted = r.trusted[:0]
			}
		case rcvdParsed:
			add(rl)
		}
		if inTrusted {
			r.trustedLines++
		}
	}
	join := func(rs []relay) string {
		s := make([]string, len(rs))
		for i, x := range rs {
			s[i] = x.String()
		}
		return strings.Join(s, " ")
	}
	r.trustedStr, r.untrustedStr = join(r.trusted), join(r.untrusted)
	return r
}

var originatingIPHeaders = []string{"X-Yahoo-Post-IP", "X-Originating-IP", "X-Apparently-From", "X-SenderIP",
	"X-AOL-IP", "X-MS-Exchange-CrossTenant-OriginalAttributedTenantConnectingIp"}

// pseudoHeader is the value of SpamAssassin's X-Spam-Relays-* headers.
func (t *target) pseudoHeader(field string) (string, bool) {
	// Internal and external are trusted and untrusted, as SpamAssassin infers
	// them when neither network list is configured.
	switch strings.ToLower(field) {
	case "x-spam-relays-trusted", "x-spam-relays-internal":
		return t.relays().trustedStr, true
	case "x-spam-relays-untrusted", "x-spam-relays-external":
		return t.relays().untrustedStr, true
	}
	return "", false
}

func isPrivateIP(s string) bool {
	ip := net.ParseIP(s)
	if ip == nil {
		return false
	}
	return ip.IsPrivate() || ip.IsLoopback() || ip.IsLinkLocalUnicast() || ip.IsUnspecified() ||
		ip.To4() != nil && ip.To4()[0] == 0
}

type rcvdState int

const (
	rcvdParsed      rcvdState = iota
	rcvdSkip                  // SpamAssassin's "return 0": a handover to ignore
	rcvdUnparseable           // "return undef"
	rcvdFetcher               // a POP or IMAP fetch: found_pop_fetcher_sig
)

// ipv4Exact is an IPv4 address as SpamAssassin's IPV4_ADDRESS reads it: four
// octets of 0-255, none with a leading zero.
const ipv4Exact = `(?:1\d\d|2[0-4]\d|25[0-5]|[1-9]\d|\d)(?:\.(?:1\d\d|2[0-4]\d|25[0-5]|[1-9]\d|\d)){3}`

// ip is SpamAssassin's IP_ADDRESS, simplified: a dotted quad, or an IPv6 address.
const ip = `(?:(?:IPv6:)?(?:[0-9a-fA-F]{0,4}:){2,7}(?:[0-9a-fA-F]{1,4}|\d{1,3}(?:\.\d{1,3}){3})?|\d{1,3}(?:\.\d{1,3}){3})`
const localhost = `(?:localhost(?:\.localdomain)?|127\.0\.0\.1|::1)`

// re is a regexp of the Received parser, with SpamAssassin's IP_ADDRESS and
// LOCALHOST spelled out: each line is tried against dozens of them in turn, most
// of which could not match it (see quickRegexp).
func re(s string) *quickRegexp {
	s = strings.ReplaceAll(s, "IP_ADDRESS", ip)
	s = strings.ReplaceAll(s, "LOCALHOST", localhost)
	return rcvdFamily.add(quick(s))
}

// rcvdFamily is the Received parser's regexps: a line's one scan for all their
// literals answers each one's literal prefilter (quickFamily).
var rcvdFamily quickFamily

// trimTrailingDate removes the date a Received line ends with: what
// SpamAssassin's regexp for it (rxTrailingDate, in the tests) matches, read from
// the end of the line. The regexp, anchored at
// the end only, was tried from every byte (of the line's last 160 bytes, then of
// the whole line when the match reached that far): some sixty thousand instructions
// a line. From the end its parts are fixed, but for the separators before it: the
// last token after a space, the time's two or three runs of digits, the year,
// the month and the day, an optional weekday and its comma, and the run of white
// space and semicolons before, whose whole length the leftmost match takes. The
// tests hold it to the regexp (TestReceivedPrefilterAgrees, FuzzTrimTrailingDate).
func trimTrailingDate(s string) string {
	if start, ok := trailingDate(s); ok {
		return s[:start]
	}
	return s
}

// trailingDate is where the regexp's match in s starts, if it has one.
func trailingDate(s string) (int, bool) {
	isSpace := func(i int) bool { return i >= 0 && isRE2Space(s[i]) }
	is := func(i int, c byte) bool { return i >= 0 && s[i] == c }
	// digits is where a run of digits ending before end starts (end when none).
	digits := func(end int) int {
		for end > 0 && s[end-1] >= '0' && s[end-1] <= '9' {
			end--
		}
		return end
	}
	i := len(s) - 1 // the last token: \S+ after a space, to the end
	for i >= 0 && !isRE2Space(s[i]) {
		i--
	}
	if i == len(s)-1 || !is(i, ' ') {
		return 0, false
	}
	// The time, \d+:\d+(?::\d+)?, then a space.
	a := digits(i)
	if a == i || !is(a-1, ':') {
		return 0, false
	}
	b := digits(a - 1)
	if b == a-1 {
		return 0, false
	}
	if is(b-1, ':') { // hh:mm:ss (hh:mm would need a space there)
		c := digits(b - 1)
		if c == b-1 {
			return 0, false
		}
		b = c
	}
	if !is(b-1, ' ') {
		return 0, false
	}
	y := digits(b - 1) // the year, then a space
	if y == b-1 || !is(y-1, ' ') || y-1 < 4 {
		return 0, false
	}
	switch s[y-4 : y-1] { // the month, then a space
	case "Jan", "Jun", "Jul", "Feb", "Mar", "May", "Apr", "Aug", "Sep", "Oct", "Nov", "Dec":
	default:
		return 0, false
	}
	if !is(y-5, ' ') {
		return 0, false
	}
	d := digits(y - 5) // the day
	if d == y-5 {
		return 0, false
	}
	start := -1
	if d >= 6 && s[d-2:d] == ", " && (isSpace(d-6) || is(d-6, ';')) { // a weekday, if separated
		switch s[d-5 : d-2] {
		case "Mon", "Tue", "Thu", "Wed", "Fri", "Sat", "Sun":
			start = d - 5
		}
	}
	if start < 0 {
		start = d
	}
	// The separators before: at least one, and all of them (the leftmost match).
	if !isSpace(start-1) && !is(start-1, ';') {
		return 0, false
	}
	for start > 0 && (isRE2Space(s[start-1]) || s[start-1] == ';') {
		start--
	}
	return start, true
}

// receivedBy is SpamAssassin's by= of a line, the submatch of
// "[ ]by (\S+)(?:[^-A-Za-z0-9;.]|$)" read by hand: the token after the first
// " by " that has one (a space cannot follow it), whole, since the white space
// that ends a token is outside the class after it. Nearly every line has one,
// and Go's regexp spent a quarter of the parse's regexp time finding it,
// besides the prefilter's and the DFA's runs (docs/benchmarks.md, "Forty-sixth
// session"). TestReceivedByID and FuzzReceivedByID hold it to the regexp.
func receivedBy(s string) (string, bool) {
	return runAfter(s, " by ", 0, isRE2Space, 1)
}

// receivedID is the id= of a line, the submatch of "[ ]id <?([^\s<>;]{3,})"
// read by hand as receivedBy is: after the first " id " that has one, an
// optional "<", then a run of three characters or more that are neither white
// space nor "<", ">" or ";".
func receivedID(s string) (string, bool) {
	return runAfter(s, " id ", '<', func(c byte) bool { return isRE2Space(c) || c == '<' || c == '>' || c == ';' }, 3)
}

// runAfter finds the first lead followed by a run of at least least characters
// (as a regexp counts them: a byte that is not UTF-8 is one) of bytes end does
// not stop at, after an optional byte open, and returns the run. end must stop
// at open, so that a run cannot begin with it: the regexp's optional open has
// no other way to match. end stops at ASCII bytes only, which no character
// past ASCII holds.
func runAfter(s, lead string, open byte, end func(byte) bool, least int) (string, bool) {
	for from := 0; ; {
		i := strings.Index(s[from:], lead)
		if i < 0 {
			return "", false
		}
		start := from + i + len(lead)
		if open != 0 && start < len(s) && s[start] == open {
			start++
		}
		stop := start
		for stop < len(s) && !end(s[stop]) {
			stop++
		}
		if utf8.RuneCountInString(s[start:stop]) >= least {
			return s[start:stop], true
		}
		from += i + 1
	}
}

var (
	rxFrom          = re(`(?i)^\(?from `)
	rxWithLocalFor  = re(`\bwith local for\b`)
	rxFromByOnly    = re(`(?i)^from (\S+) by [^\s;]+ ?;`)
	rxBracketQuad   = re(`^\[[\d.]+\]$`)
	rxHeloEq        = re(`\bhelo=([-A-Za-z0-9.^+_&:=?!@%*$\\/]+)(?:[^-A-Za-z0-9.^+_&:=?!@%*$\\/]|$)`)
	rxHeloWord      = re(`\b(?:HELO|EHLO) ([-A-Za-z0-9.^+_&:=?!@%*$\\/]+)(?:[^-A-Za-z0-9.^+_&:=?!@%*$\\/]|$)`)
	rxAuthWith      = re(`(?i) with ((?:ES|L|UTF8S|UTF8L)MTPS?A|ASMTP|HTTP[SU]?)(?: |;|$)`)
	rxAuthGmail     = re(` by mx\.google\.com with ESMTPS id [a-z0-9]{1,4}sm[0-9]{2,9}[a-z]{3}\.[0-9]{1,3}\.[0-9]{4}\.(?:[0-6][0-9]\.){4}[0-6][0-9]`)
	rxAuthGmailTLS  = re(`\(version=([^ ]+) cipher=([^)]+)\)`)
	rxAuthColon     = re(`^from .*?(?:\]\)|\)\]) \(AUTH: (LOGIN|PLAIN|DIGEST-MD5|CRAM-MD5) \S+(?:, .*?)?\) by `)
	rxAuthSendmail  = re(`^from .*?(?:\](?: \([^)]*\))?\)|\)\]) .*?\(.*?authenticated.*?\).*? by`)
	rxAuthGMX       = re(`from \S* \((?:HELO|EHLO) (\S*)\) \[(IP_ADDRESS)\] by (mail\.gmx\.(?:net|com)) \([^)]+\) with ((?:ESMTP|SMTP))`)
	rxAuthCP        = re(`\) by .+ \(\d{1,2}\.\d\.\d{3}(?:\.\d{1,3})?\) \(authenticated as .+\) id `)
	rxAuthPostfix   = re(`\) \(Authenticated sender: \S+\) by \S+ \(([^)]+)\) with `)
	rxAuthCGP       = re(`CommuniGate Pro (HTTP|SMTP|XIMSS|IMAP)`)
	rxAuthVia       = re(`(?i) \(via (HTTP.?)\)(?: |;|$)`)
	rxEnvFrom       = re(`(?i)(?:return-path:? |envelope-(?:sender|from)[ =])(\S+)\b`)
	rxSquirrel      = re(` \((?:SquirrelMail|NaSMail) authenticated user `)
	rxSquirrelIP    = re(`(IP_ADDRESS)\b.{10,80}by (\S+) with HTTP`)
	rxAOLWeb        = re(`(IP_ADDRESS) by (\S+) \(IP_ADDRESS\) with HTTP \(WebMailUI\)`)
	rxSMTPSVC       = re(`^(\S*) \(\[(IP_ADDRESS)\][^)]{0,40}\) by (\S+) with Microsoft SMTPSVC`)
	rxPickup        = re(`^mail pickup service by (\S+) with Microsoft SMTPSVC$`)
	rxExchange      = re(` with (?:Microsoft SMTP Server|mapi id) (?:\([^)]+\) )?\d+\.\d+\.\d+\.\d+(?:$| )`)
	rxExchangeFrom  = re(`^(\S+) \(\[?(IP_ADDRESS)(?:%[A-Z0-9._~-]*)?\]?\) by (\S+) `)
	rxXMail         = re(`^(\S+) \((\[?IP_ADDRESS\]?)(?::\d+)\) by (\S+)(?: \(\S+\))? with \[XMail`)
	rxXMailID       = re(` id <(\S+)>`)
	rxXMailFrom     = re(` from <(\S+)>`)
	rxEcelerity1    = re(`^\(\[(IP_ADDRESS):\d+\] helo=(\S+)\) by (\S+) `)
	rxEcelerity2    = re(`^\S+ \(\[(IP_ADDRESS):\d+\]\) by (\S+) `)
	rxEximLocal     = re(`\bwith local(?:-\S+)? `)
	rxExim1         = re(`^\[(IP_ADDRESS)\] \((.*?)\) by (\S+) `)
	rxExim2         = re(`^(\S+) \(\[(IP_ADDRESS)\](.*?)\) by (\S+) `)
	rxExim3         = re(`^(\S+) \[(IP_ADDRESS)\](:\d+)? by (\S+) `)
	rxEximRDNS      = re(`^(\S+) `)
	rxEximHelo      = re(` \((\S+)\) `)
	rxEximIP        = re(` \[(IP_ADDRESS)(?:\.\d+)?\] `)
	rxEximBy        = re(`by (\S+) `)
	rxSubHelo       = re(`helo=(\S+)`)
	rxSubIdent      = re(`ident=(\S*)`)
	rxPostfix1      = re(`^(\S+) \((\S+) \[(IP_ADDRESS)\]\) by (\S+) `)
	rxPostfix2      = re(`^(\S+) \((\S+)\[(IP_ADDRESS)\]\) by (\S+) `)
	rxScalix        = re(`^(\S+) \( ?(IP_ADDRESS)\) by (\S+)`)
	rxDomino        = re(`^(\S+) \(\[(IP_ADDRESS)\]\) by (\S+) \(Lotus`)
	rxWithHTTP      = re(`\bwith HTTP\b`)
	rxHTTPBoth      = re(`^(IP_ADDRESS) \(\[IP_ADDRESS\]\) by (\S+)`)
	rxQmailBy       = re(` by \S+ \(qmail-\S+\) with `)
	rxGeneric1      = re(`^(\S+) \((\S+) \[(IP_ADDRESS)\].*\) by (\S+) \(`)
	rxIdentPrefix   = re(`^IDENT:([^@]*)@`)
	rxUserPrefix    = re(`^([^@]*)@`)
	rxGeneric2      = re(`^(\S+) \((\S+) \[(IP_ADDRESS)\]\) by (\S+) with \S+ \(`)
	rxGeneric3      = re(`^(\S+) \(\[(IP_ADDRESS)\] helo=(\S+)\) by (\S+) with `)
	rxGeneric4      = re(`^(\S+) \(<unknown\S*>\[(IP_ADDRESS)\]\) by (\S+) `)
	rxGeneric5      = re(`^(\S+) \((\S+\.\S+)\[(IP_ADDRESS)\]\) by (\S+) `)
	rxGeneric6      = re(`^(\S+) \((\S*)@\[(IP_ADDRESS)\].*\) by (\S+) \(`)
	rxHotmailBy     = re(`by (\S+\.hotmail\.msn\.com) `)
	rxLeadingIP     = re(`^(IP_ADDRESS) `)
	rxQpsmtpd       = re(`^(\S+) \((?:HELO|EHLO) (\S*)\) \((IP_ADDRESS)\) by (\S+) \(qpsmtpd/\S+\) with (?:ESMTP|SMTP)`)
	rxLMTP          = re(`^(\S+) \(LHLO (\S*)\) \((IP_ADDRESS)\) by (\S+) with LMTP`)
	rxHeloBracket   = re(`^(\S+) \((?:HELO|EHLO) (\S*)\) \[(IP_ADDRESS)\] by (\S+) \([^)]+\) with (?:ESMTP|SMTP)`)
	rxSmtpdFor      = re(`^(\S+) \(\[(IP_ADDRESS)\]\) by (\S+) via smtpd \(for \S+\) with SMTP\(`)
	rxQmailShape    = re(`^\S+( \((?:HELO|EHLO) \S*\))? \((\S+@)?\[?IP_ADDRESS\]?\)( \(envelope-sender <\S+>\))? by \S+( \(.+\))* with (.* )?(SMTP|QMQP)`)
	rxQmail1        = re(`^(\S+) \((?:HELO|EHLO) ([^ ()]*)\) \((\S*)@\[?(IP_ADDRESS)\]?\)( \(envelope-sender <\S+>\))? by (\S+)`)
	rxQmail2        = re(`^(\S+) \((?:HELO|EHLO) ([^ ()]*)\) \(\[?(IP_ADDRESS)\]?\)( \(envelope-sender <\S+>\))? by (\S+)`)
	rxQmail3        = re(`^(\S+) \((\S*)@\[?(IP_ADDRESS)\]?\)( \(envelope-sender <\S+>\))? by (\S+)`)
	rxQmail4        = re(`^(\S+) \(\[?(IP_ADDRESS)\]?\)( \(envelope-sender <\S+>\))? by (\S+)`)
	rxViaHTTP       = re(`^\[(IP_ADDRESS)\] by (\S+) via HTTP$`)
	rxSpaceBracket  = re(`^(\S+) \( \[(IP_ADDRESS)\]\).*? by (\S+) `)
	rxParenHelo     = re(`^\((\S+) \[(IP_ADDRESS)\]\) by (\S+) `)
	rxBracketBy     = re(`^\[(IP_ADDRESS)\] by (\S+) `)
	rxParenIPBy     = re(`^\(\[?(IP_ADDRESS)\]?\) by (\S+) `)
	rxHeloIPByIP    = re(`^(\S+) \[(IP_ADDRESS)\] by (\S+) \[IP_ADDRESS\] with `)
	rxHeloParenIP   = re(`^(\S+) \[\((IP_ADDRESS)\)\] by (\S+) \(IP_ADDRESS\) `)
	rxSendmail1     = re(`^(\S+) \(\[(IP_ADDRESS)\]\) by (\S+) \(`)
	rxSendmail2     = re(`^(\S+) \((\S+) \[(IP_ADDRESS)\]\).*? by (\S+)\b`)
	rxSendmail3     = re(`^(\S+) \(\[(IP_ADDRESS)(?:[.:]\d+)?\]\).*? by (\S+) `)
	rxSendmail4     = re(`^(\S+) \((\S+) \[(IP_ADDRESS)\]\)(?: \(authenticated bits=\d+\))? by (\S+) \(`)
	rxPOP           = re(`with (?:POP3|IMAP)`)
	rxHeloIdent     = re(`^(\S+) \((?:HELO|EHLO) ([^)]*)\) \((\S*@)?\[?(IP_ADDRESS)\]?\).* by (\S+) `)
	rxRDNSIdent     = re(`^(\S+) \((\S*@)?\[?(IP_ADDRESS)\]?\).* by (\S+) `)
	rxHTTPFor       = re(`^\[(IP_ADDRESS)\] by (\S+) with http for `)
	rxSmap1         = re(`^(\S+)\((IP_ADDRESS)\) by (\S+) via smap `)
	rxSmap2         = re(`^(\S+)\((IP_ADDRESS), (?:HELO|EHLO) (\S*)\) by (\S+) via smap `)
	rxPost          = re(`^\[(IP_ADDRESS)\] by (\S+) \(Post`)
	rxArGoSoft      = re(`^\[(IP_ADDRESS)\] by (\S+) \(ArGoSoft`)
	rxSMTPL         = re(`^(IP_ADDRESS) by (\S+) \((?:SMTPL|InterScan)\b`)
	rxBSMTP         = re(`^\S+ by \S+ with BSMTP`)
	rxRDNSWith      = re(`^(\S+) \((\S+) \[(IP_ADDRESS)\]\) by (\S+) with `)
	rxHeloIdentWith = re(`^(\S+) \((?:HELO|EHLO) (\S*)\) \((?:(\S+)@)?(IP_ADDRESS).*?\) by (\S+) with `)
	rxAccountHelo   = re(`^\[(IP_ADDRESS)\] \((?:account \S+ )?(?:HELO|EHLO) (\S*)\) by (\S+) \(`)
	rxCGPVerified   = re(`^(\S+) \(\[(IP_ADDRESS)\] verified\) by (\S+) \(`)
	rxParenBrWith   = re(`^\(\[(IP_ADDRESS)\]\) by (\S+) with `)
	rxNonDigitHelo  = re(`^([^\d]\S+) \((IP_ADDRESS)\) by (\S+) `)
	rxContentTech   = re(`^\S+ \(\S+\) by \S+ \(Content Technologies `)
	rxTwoBrackets   = re(`^(\S+) \(\[(IP_ADDRESS)\] \[(\S+)\]\) by (\S+) with `)
	rxIPByWith      = re(`^(IP_ADDRESS) by (\S+) with `)
	rxRDNSNoSpace   = re(`^(\S+) \((\S+)\[(IP_ADDRESS)\]\) by (\S+) `)
	rxBrSuffixHelo  = re(`^\[(IP_ADDRESS)\]\S+ \((?:HELO|EHLO) (\S*)\) by (\S+) `)
	rxIPHelo        = re(`^(IP_ADDRESS) \((?:HELO|EHLO) (\S*)\) by (\S+) `)
	rxHeloBrBy      = re(`^(\S+) \[(IP_ADDRESS)\] by (\S+) `)
	rxRDNSParenIP   = re(`^(\S+)\((IP_ADDRESS)\) by (\S+) `)
	rxMailGate      = re(`^\[(IP_ADDRESS)\] by (\S+) \(MailGate `)
	rxUnverified    = re(`^(\S+) \(unverified \[(IP_ADDRESS)\]\) by (\S+) `)
	rxIPParenWith   = re(`^(IP_ADDRESS) \([A-Za-z][^)]+\) by (\S+) with `)
	rxBrParenBy     = re(`^\[(IP_ADDRESS)\] \(([^)]+)\) by (\S+) `)
	rxRDNSUserIP    = re(`^(\S+) \((?:\S+@)?(IP_ADDRESS)\) by (\S+) with `)
	rxClaiming      = re(`^(\S+)\((IP_ADDRESS)\)(?:, claiming to be "(\S+)")? via \S+ by (\S+),`)
	rxYahooLogin    = re(`^(\S+) \((\S+)@(IP_ADDRESS) with login\) by (\S+\.yahoo\.com) with SMTP`)
	rxXOrigIP       = re(`^X-Originating-IP: (IP_ADDRESS)$`)
	rxQmailScanner  = re(`^\S+ by \S+ \(.{0,100}\) with qmail-scanner`)
	rxFallbackHelo  = re(`^(\S+)[^-A-Za-z0-9.]`)
	rxUpperFrom     = re(`^(\S+) \((\S+) \[(IP_ADDRESS)\]\) BY (\S+) (?:\([^)]+\) WITH SMTP )?ID <?(\S+?)>?(?: FOR <[^>]+>)?$`)
	rxNAVGW         = re(`^(\S*) \[(IP_ADDRESS)\]\) by (\S+) \(NAVGW .*?\) with `)
	rxAnyBracketIP  = re(`\[(IP_ADDRESS)\]`)
	rxIPv4Mapped    = re(`(?i)^0*:0*:(?:0*:)*ffff:(\d+\.\d+\.\d+\.\d+)$`)
	rxStripChars    = re("[\\s\\x00#\\[\\]()<>|]")
	rxZoneID        = re(`(?i)%[A-Z0-9._~-]*$`)

	// Handovers SpamAssassin ignores ("return 0"), tried in order after the
	// patterns that parse a relay.
	rxIgnored = []*quickRegexp{
		re(`^\S+ \([^\s@]+@LOCALHOST\) by \S+ \(`),
		re(`^\S+ \S+ by \S+ with local-e?smtp `),
		re(`^127\.0\.0\.1 \(AVG SMTP \S+ \[\S+\]\)`),
		re(`^\S+@\S+ by \S+ by uid \S+ `),
		re(`^\S+@\S+ by \S+ `),
		re(`^Unknown/Local \(`),
		re(`^LOCALHOST \((?:\S+@)?LOCALHOST[)\[]`),
		re(`^\S+ \((?:\S+@)?LOCALHOST\) `),
		re(`^\S+ \(\S+@\S+ \[LOCALHOST\]\) `),
		re(`^\(AUTH: \S+\) by \S+ with `),
		re(`^localhost \(localhost \[\[UNIX: localhost\]\]\) by `),
		re(`^\S+\.amazon\.com by \S+\.amazon\.com with ESMTP \(peer crosscheck: `),
		re(`^[^.]+ by \S+ with Novell_GroupWise`),
		re(`^no\.name\.available by \S+ via smtpd \(for `),
	}
	rxIgnoredLate = []*quickRegexp{
		re(`^\S+ by \S+ with local`),
		re(`^\S+ \(\[unix socket\]\) by \S+ \(Cyrus v[0-9]*?\.[0-9]*?\.[0-9]*?\) with LMTPA`),
		re(`^\S+ by \S+ (?:with|via|for|\()`),
		re(`^\S+ (?:(?:with|via|for) \S+|\(unverified\)) by\b`),
		re(`^\S+ \(unknown\) by \S+ \(SG\) with \b`),
		re(`^\S+ \(\S+ \[local\]\) by \S+ \(OpenSMTPD\) with \b`),
		re(`\(LSMTP for`),
		re(`^\(\[LOCALHOST\]\) with MailEnable `),
		re(`^facebook\.com \([^)]+\) by facebook\.com with Thrift id \S+$`),
		re(`^\S+ named \S+ by gmailapi\.google\.com with HTTPREST$`),
		re(`^\S+ id \S+$`),
		re(`^\[<.*? \(Jetsend`),
	}
)

// joinFields is strings.Join(strings.Fields(s), " ") (SpamAssassin's
// s/\s+/ /g with the ends trimmed) in one pass and one allocation, none when s
// is collapsed already; the Fields slice was a tenth of the Received parser's time.
func joinFields(s string) string {
	// Already collapsed: no space at either end, and single ' ' between words.
	collapsed := true
	for i, prevSpace := 0, true; i < len(s); {
		sp, n := spaceAt(s, i)
		if sp && (prevSpace || s[i] != ' ' || i+n == len(s)) {
			collapsed = false
			break
		}
		prevSpace = sp
		i += n
	}
	if collapsed {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	word := false // a word has been written: the next one needs a space
	for i := 0; i < len(s); {
		sp, n := spaceAt(s, i)
		if sp {
			i += n
			continue
		}
		j := i + n
		for j < len(s) {
			sp, m := spaceAt(s, j)
			if sp {
				break
			}
			j += m
		}
		if word {
			b.WriteByte(' ')
		}
		b.WriteString(s[i:j])
		word = true
		i = j
	}
	return b.String()
}

// parseReceived is SpamAssassin's parse_received_line, for one unfolded line.
func parseReceived(line string) (relay, rcvdState) {
	s := joinFields(line)
	for strings.HasSuffix(s, ";") { // SpamAssassin's s/\s?;$//g, repeated; s has single spaces
		s = strings.TrimSuffix(s[:len(s)-1], " ")
	}
	var r relay
	lookedUp := false
	if !rxFrom.MatchString(s) || rxWithLocalFor.MatchString(s) {
		return r, rcvdSkip
	}
	if m := rxFromByOnly.FindStringSubmatch(s); m != nil && !rxBracketQuad.MatchString(m[1]) {
		return r, rcvdSkip
	}
	s = trimTrailingDate(s)
	s = strings.Replace(s, ")by ", ") by ", 1)
	// One scan of the line for every literal of the regexps below (rcvdFamily);
	// they read it, or what is left of it after "from ".
	sc := rcvdFamily.scan(s)
	if id, ok := receivedID(s); ok {
		r.id = id
	}
	if m := rxHeloEq.FindStringSubmatchIn(sc, s); m != nil {
		r.helo = m[1]
	} else if m := rxHeloWord.FindStringSubmatchIn(sc, s); m != nil {
		r.helo = m[1]
	}
	if by, ok := receivedBy(s); ok {
		r.by = by
	}
	hasBy := strings.Contains(s, " by ")
	switch {
	case hasBy && rxAuthWith.MatchStringIn(sc, s):
		r.auth = rxAuthWith.FindStringSubmatchIn(sc, s)[1]
	case rxAuthGmail.MatchStringIn(sc, s) && rxAuthGmailTLS.MatchStringIn(sc, s):
		m := rxAuthGmailTLS.FindStringSubmatchIn(sc, s)
		r.auth = "GMail - transport=" + m[1] + " cipher=" + m[2]
	case rxAuthColon.MatchStringIn(sc, s):
		r.auth = rxAuthColon.FindStringSubmatchIn(sc, s)[1]
	case strings.Contains(s, "authenticated") && rxAuthSendmail.MatchStringIn(sc, s):
		r.auth = "Sendmail"
	case rxAuthGMX.MatchStringIn(sc, s):
		m := rxAuthGMX.FindStringSubmatchIn(sc, s)
		r.auth = "GMX (" + m[4] + " / " + m[3] + ")"
	case strings.Contains(s, " (authenticated as ") && rxAuthCP.MatchStringIn(sc, s):
		r.auth = "CriticalPath"
	case rxAuthPostfix.MatchStringIn(sc, s):
		if a := rxAuthPostfix.FindStringSubmatchIn(sc, s)[1]; a == "Postfix" {
			r.auth = a
		} else {
			r.auth = "Postfix (" + a + ")"
		}
	case rxAuthCGP.MatchStringIn(sc, s) && strings.Contains(s, " (account "):
		r.auth = "Communigate"
	case strings.Contains(s, " with Microsoft Exchange Server HTTP-DAV"):
		r.auth = "HTTP-DAV"
	case hasBy && rxAuthVia.MatchStringIn(sc, s):
		r.auth = rxAuthVia.FindStringSubmatchIn(sc, s)[1]
	}

	// set assigns submatches to fields by name, in order.
	set := func(m []string, fields ...*string) {
		for i, f := range fields {
			if f != nil && i+1 < len(m) {
				*f = m[i+1]
			}
		}
	}
	var m []string
	match := func(rx *quickRegexp) bool {
		m = rx.FindStringSubmatchIn(sc, s)
		return m != nil
	}
	parsed := func() (relay, rcvdState) { return finishRelay(r, lookedUp), rcvdParsed }

	if rest, ok := strings.CutPrefix(s, "from "); ok {
		s = rest
		if match(rxEnvFrom) {
			r.envfrom = m[1]
		}
		if rxSquirrel.MatchStringIn(sc, s) && match(rxSquirrelIP) {
			set(m, &r.ip, &r.by)
			return parsed()
		}
		if strings.Contains(s, "aol.com") && strings.Contains(s, "with HTTP (WebMailUI)") && match(rxAOLWeb) {
			set(m, &r.ip, &r.by)
			return parsed()
		}
		switch {
		case strings.Contains(s, " SMTPSVC"):
			if match(rxSMTPSVC) {
				set(m, &r.helo, &r.ip, &r.by)
				return parsed()
			}
			if rxPickup.MatchStringIn(sc, s) {
				return r, rcvdSkip
			}
		case rxExchange.MatchStringIn(sc, s):
			if match(rxExchangeFrom) {
				set(m, &r.helo, &r.ip, &r.by)
				r.id = ""
				return parsed()
			}
		case strings.Contains(s, "[XMail "):
			if match(rxXMail) {
				set(m, &r.helo, &r.ip, &r.by)
				if x := rxXMailID.FindStringSubmatchIn(sc, s); x != nil {
					r.id = x[1]
				}
				if x := rxXMailFrom.FindStringSubmatchIn(sc, s); x != nil {
					r.envfrom = x[1]
				}
				return parsed()
			}
		case strings.Contains(s, "(ecelerity"):
			if match(rxEcelerity1) {
				set(m, &r.ip, &r.helo, &r.by)
				return parsed()
			}
			if match(rxEcelerity2) {
				set(m, &r.ip, &r.by)
				return parsed()
			}
		case strings.Contains(s, "Exim"):
			if rxEximLocal.MatchStringIn(sc, s) {
				return r, rcvdSkip
			}
			sub := func(x string) {
				if h := rxSubHelo.FindStringSubmatch(x); h != nil {
					r.helo = h[1]
				}
				if i := rxSubIdent.FindStringSubmatch(x); i != nil {
					r.ident = i[1]
				}
			}
			if match(rxExim1) {
				r.ip, r.by = m[1], m[3]
				sub(m[2])
				return parsed()
			}
			if match(rxExim2) {
				r.rdns, r.ip, r.by = m[1], m[2], m[4]
				r.helo = r.rdns
				sub(m[3])
				return parsed()
			}
			if match(rxExim3) {
				r.rdns, r.ip, r.helo, r.by = m[1], m[2], m[1], m[4]
				return parsed()
			}
			if match(rxEximRDNS) {
				r.rdns = m[1]
			}
			if match(rxEximHelo) {
				r.helo = m[1]
			}
			if match(rxEximIP) {
				r.ip = m[1]
			}
			if match(rxEximBy) {
				r.by = m[1]
				if r.ip != "" {
					return parsed()
				}
			}
		case strings.Contains(s, " (Postfix) with"):
			if match(rxPostfix1) || match(rxPostfix2) {
				lookedUp = true
				set(m, &r.helo, &r.rdns, &r.ip, &r.by)
				if r.rdns == "unknown" {
					r.rdns = ""
				}
				return parsed()
			}
		case strings.Contains(s, "(Scalix SMTP Relay"):
			if match(rxScalix) {
				set(m, &r.helo, &r.ip, &r.by)
				return parsed()
			}
		case strings.Contains(s, " (Lotus Domino "):
			if match(rxDomino) {
				set(m, &r.helo, &r.ip, &r.by)
				return parsed()
			}
		}
		if rxWithHTTP.MatchStringIn(sc, s) && match(rxHTTPBoth) {
			set(m, &r.ip, &r.by)
			return parsed()
		}
		if !rxQmailBy.MatchStringIn(sc, s) && match(rxGeneric1) {
			lookedUp = true
			set(m, &r.helo, &r.rdns, &r.ip, &r.by)
			if x := rxIdentPrefix.FindStringSubmatch(r.rdns); x != nil {
				r.ident, r.rdns = x[1], rxIdentPrefix.ReplaceAllString(r.rdns, "")
			}
			if x := rxUserPrefix.FindStringSubmatch(r.rdns); x != nil {
				r.ident, r.rdns = x[1], rxUserPrefix.ReplaceAllString(r.rdns, "")
			}
			return parsed()
		}
		if match(rxGeneric2) {
			lookedUp = true
			set(m, &r.helo, &r.rdns, &r.ip, &r.by)
			return parsed()
		}
		if match(rxGeneric3) {
			set(m, &r.rdns, &r.ip, &r.helo, &r.by)
			return parsed()
		}
		if match(rxGeneric4) {
			set(m, &r.helo, &r.ip, &r.by)
			return parsed()
		}
		if match(rxGeneric5) {
			lookedUp = true
			set(m, &r.helo, &r.rdns, &r.ip, &r.by)
			return parsed()
		}
		if match(rxGeneric6) {
			lookedUp = true
			set(m, &r.helo, &r.ident, &r.ip, &r.by)
			return parsed()
		}
		if match(rxHotmailBy) {
			r.by = m[1]
			if x := rxLeadingIP.FindStringSubmatchIn(sc, s); x != nil {
				r.ip = x[1]
			}
			return parsed()
		}
		if match(rxQpsmtpd) || match(rxLMTP) || match(rxHeloBracket) {
			set(m, &r.rdns, &r.helo, &r.ip, &r.by)
			return parsed()
		}
		if match(rxSmtpdFor) {
			set(m, &r.helo, &r.ip, &r.by)
			return parsed()
		}
		// qmail: "... with (.* )?(SMTP|QMQP)(?! id )", the lookahead checked by hand.
		if loc := rxQmailShape.FindStringIndexIn(sc, s); loc != nil && !strings.HasPrefix(s[loc[1]:], " id ") {
			switch {
			case match(rxQmail1):
				r.rdns, r.helo, r.ident, r.ip, r.by = m[1], m[2], m[3], m[4], m[6]
			case match(rxQmail2):
				r.rdns, r.helo, r.ip, r.by = m[1], m[2], m[3], m[5]
			case match(rxQmail3):
				r.rdns, r.helo, r.ident, r.ip, r.by = m[1], m[1], m[2], m[3], m[5]
			case match(rxQmail4):
				r.rdns, r.helo, r.ip, r.by = m[1], m[1], m[2], m[4]
			}
			if r.rdns != "unknown" {
				lookedUp = true
			} else {
				r.rdns = ""
			}
			return parsed()
		}
		if strings.HasSuffix(s, " via HTTP") && match(rxViaHTTP) {
			set(m, &r.ip, &r.by)
			return parsed()
		}
		if match(rxSpaceBracket) {
			r.ip, r.by = m[2], m[3]
			return parsed()
		}
		if match(rxParenHelo) {
			set(m, &r.helo, &r.ip, &r.by)
			return parsed()
		}
		if match(rxBracketBy) || match(rxParenIPBy) {
			set(m, &r.ip, &r.by)
			return parsed()
		}
		if match(rxHeloIPByIP) {
			lookedUp = true
			set(m, &r.helo, &r.ip, &r.by)
			return parsed()
		}
		if match(rxHeloParenIP) {
			set(m, &r.helo, &r.ip, &r.by)
			return parsed()
		}
		if match(rxSendmail1) {
			lookedUp = true
			set(m, &r.helo, &r.ip, &r.by)
			return parsed()
		}
		if match(rxSendmail2) {
			if m[2] != "softdnserr" {
				lookedUp = true
				r.rdns = m[2]
			}
			r.helo, r.ip, r.by = m[1], m[3], m[4]
			return parsed()
		}
		if match(rxSendmail3) {
			lookedUp = true
			set(m, &r.helo, &r.ip, &r.by)
			return parsed()
		}
		if match(rxSendmail4) {
			lookedUp = true
			set(m, &r.helo, &r.rdns, &r.ip, &r.by)
			return parsed()
		}
		if rxPOP.MatchStringIn(sc, s) {
			return r, rcvdFetcher
		}
		if match(rxHeloIdent) {
			lookedUp = true
			r.rdns, r.helo, r.ident, r.ip, r.by = m[1], m[2], strings.TrimSuffix(m[3], "@"), m[4], m[5]
			return parsed()
		}
		if match(rxRDNSIdent) {
			lookedUp = true
			r.rdns, r.ident, r.ip, r.by = m[1], strings.TrimSuffix(m[2], "@"), m[3], m[4]
			r.helo = r.rdns
			return parsed()
		}
		if strings.Contains(s, " with http for ") && match(rxHTTPFor) {
			set(m, &r.ip, &r.by)
			return parsed()
		}
		if strings.Contains(s, " via smap ") && match(rxSmap1) {
			lookedUp = true
			set(m, &r.rdns, &r.ip, &r.by)
			return parsed()
		}
		if match(rxSmap2) {
			lookedUp = true
			set(m, &r.rdns, &r.ip, &r.helo, &r.by)
			return parsed()
		}
		if (strings.Contains(s, " (Post") && match(rxPost)) || (strings.Contains(s, " (ArGoSoft") && match(rxArGoSoft)) || match(rxSMTPL) {
			set(m, &r.ip, &r.by)
			return parsed()
		}
		if strings.Contains(s, " with BSMTP") && rxBSMTP.MatchStringIn(sc, s) {
			return r, rcvdSkip
		}
		if match(rxRDNSWith) {
			lookedUp = true
			set(m, &r.helo, &r.rdns, &r.ip, &r.by)
			return parsed()
		}
		if match(rxHeloIdentWith) {
			lookedUp = true
			r.rdns, r.helo, r.ident, r.ip, r.by = m[1], m[2], m[3], m[4], m[5]
			return parsed()
		}
		if match(rxAccountHelo) {
			set(m, &r.ip, &r.helo, &r.by)
			return parsed()
		}
		if strings.Contains(s, " (CommuniGate Pro") && match(rxCGPVerified) {
			lookedUp = true
			r.rdns, r.helo, r.ip, r.by = m[1], m[1], m[2], m[3]
			return parsed()
		}
		if match(rxParenBrWith) {
			set(m, &r.ip, &r.by)
			return parsed()
		}
		if match(rxNonDigitHelo) {
			set(m, &r.helo, &r.ip, &r.by)
			return parsed()
		}
		if rxContentTech.MatchStringIn(sc, s) {
			return r, rcvdSkip
		}
		if match(rxTwoBrackets) {
			r.helo, r.ip, r.by = m[1], m[2], m[4]
			return parsed()
		}
		if match(rxIPByWith) {
			set(m, &r.ip, &r.by)
			return parsed()
		}
		if match(rxRDNSNoSpace) {
			lookedUp = true
			set(m, &r.helo, &r.rdns, &r.ip, &r.by)
			return parsed()
		}
		if match(rxBrSuffixHelo) || match(rxIPHelo) {
			set(m, &r.ip, &r.helo, &r.by)
			return parsed()
		}
		if match(rxHeloBrBy) {
			set(m, &r.helo, &r.ip, &r.by)
			return parsed()
		}
		if match(rxRDNSParenIP) {
			set(m, &r.rdns, &r.ip, &r.by)
			return parsed()
		}
		if match(rxMailGate) {
			set(m, &r.ip, &r.by)
			return parsed()
		}
		if match(rxUnverified) {
			set(m, &r.helo, &r.ip, &r.by)
			return parsed()
		}
		if match(rxIPParenWith) {
			set(m, &r.ip, &r.by)
			return parsed()
		}
		if match(rxBrParenBy) {
			r.ip, r.by = m[1], m[3]
			if h := rxSubHelo.FindStringSubmatch(m[2]); h != nil {
				r.helo = h[1]
			}
			if i := rxSubIdent.FindStringSubmatch(m[2]); i != nil {
				r.ident = i[1]
			}
			return parsed()
		}
		if match(rxRDNSUserIP) {
			set(m, &r.rdns, &r.ip, &r.by)
			return parsed()
		}
		if match(rxClaiming) {
			r.rdns, r.ip, r.helo, r.by = m[1], m[2], m[3], m[4]
			if m[1] != "UNKNOWN" {
				lookedUp = true
			}
			return parsed()
		}
		if match(rxYahooLogin) {
			r.helo, r.ip, r.by = m[1], m[3], m[4]
			return parsed()
		}
		if match(rxXOrigIP) {
			r.ip, r.by = m[1], ""
			return parsed()
		}
		for _, x := range rxIgnored {
			if x.MatchStringIn(sc, s) {
				return r, rcvdSkip
			}
		}
		if rxQmailScanner.MatchStringIn(sc, s) {
			return r, rcvdSkip
		}
		for _, x := range rxIgnoredLate {
			if x.MatchStringIn(sc, s) {
				return r, rcvdSkip
			}
		}
		if r.helo == "" {
			if x := rxFallbackHelo.FindStringSubmatchIn(sc, s); x != nil {
				r.helo = x[1]
			}
		}
	} else if rest, ok := strings.CutPrefix(s, "FROM "); ok {
		s = rest
		if match(rxUpperFrom) {
			lookedUp = true
			r.helo, r.rdns, r.ip, r.by, r.id = m[1], m[2], m[3], m[4], m[5]
			if r.rdns == "unverified" {
				r.rdns = ""
			}
			return parsed()
		}
	} else if rest, ok := strings.CutPrefix(s, "(from "); ok {
		s = rest
		if match(rxNAVGW) {
			set(m, &r.helo, &r.ip, &r.by)
			return parsed()
		}
		if strings.Contains(s, "@localhost) by ") {
			return r, rcvdSkip
		}
	}
	if r.ip == "" {
		if x := rxAnyBracketIP.FindStringSubmatchIn(sc, s); x != nil {
			r.ip = x[1]
		}
	}
	if r.ip != "" && r.by != "" {
		return parsed()
	}
	return r, rcvdUnparseable
}

// finishRelay is the tail of parse_received_line ("enough:"): normalize the fields.
func finishRelay(r relay, lookedUp bool) relay {
	r.rdns = strings.TrimRight(r.rdns, ".")
	if strings.EqualFold(r.rdns, "unknown") || strings.HasPrefix(r.rdns, "[") {
		r.rdns = ""
	}
	if len(r.ip) > 5 && strings.EqualFold(r.ip[:5], "ipv6:") {
		r.ip = r.ip[5:]
	}
	r.ip = strings.TrimSuffix(strings.TrimPrefix(r.ip, "["), "]")
	r.ip = rxZoneID.ReplaceAllString(r.ip, "")
	if m := rxIPv4Mapped.FindStringSubmatch(r.ip); m != nil {
		r.ip = m[1]
	}
	r.by = strings.TrimSuffix(r.by, ";")
	strip := func(s string) string { return rxStripChars.ReplaceAllString(s, "!") }
	r.ip, r.rdns, r.helo, r.by, r.ident = strip(r.ip), strip(r.rdns), strip(r.helo), strip(r.by), strip(r.ident)
	if r.envfrom != "" {
		r.envfrom = strip(strings.TrimRight(strings.TrimLeft(strings.TrimSpace(r.envfrom), "<"), ">"))
	}
	if r.rdns == "" && lookedUp {
		r.noReverseDNS = true
	}
	r.private = isPrivateIP(r.ip)
	return r
}

// SpamAssassin's RelayEval plugin (Mail/SpamAssassin/Plugin/RelayEval.pm).
func init() {
	const p = "RelayEval"
	fixed(p, "check_for_numeric_helo", func(t *target) bool {
		for _, m := range rxNumericHelo.FindAllStringSubmatch(t.relays().untrustedStr, -1) {
			if !isPrivateIP(m[1]) {
				return true
			}
		}
		return false
	})
	fixed(p, "check_for_illegal_ip", func(*target) bool { return false }) // retired upstream
	fixed(p, "helo_ip_mismatch", func(t *target) bool {
		for _, r := range t.relays().untrusted {
			if !rxIPv4Exact.MatchString(r.helo) || isPrivateIP(r.helo) {
				continue
			}
			if rxIPv4Exact.MatchString(r.ip) && !isPrivateIP(r.ip) && r.helo != r.ip {
				if m := rxClassC.FindStringSubmatch(r.helo); m != nil && !strings.HasPrefix(r.ip, m[1]) {
					return true
				}
			}
		}
		return false
	})
	fixed(p, "check_all_trusted", func(t *target) bool {
		r := t.relays()
		return len(r.trusted) > 0 && len(r.untrusted) == 0 && r.unparseable == 0
	})
	fixed(p, "check_no_relays", func(t *target) bool {
		r := t.relays()
		return len(r.trusted) == 0 && len(r.untrusted) == 0 && r.unparseable == 0
	})
	fixed(p, "check_relays_unparseable", func(t *target) bool { return t.relays().unparseable > 0 })
	fixed(p, "check_for_sender_no_reverse", func(t *target) bool {
		u := t.relays().untrusted
		if len(u) == 0 {
			return false
		}
		last := u[len(u)-1]
		return strings.Contains(last.rdns, ".") && !last.private
	})
	register(p, "check_for_from_domain_in_received_headers", func(args []string) (evalFunc, error) {
		if len(args) != 2 {
			return nil, fmt.Errorf("want DOMAIN, 'true'|'false'")
		}
		domain, want := args[0], args[1] == "true"
		rx, err := quickCompile(` rdns=\S*\b` + domain + ` [^\]]*by=\S*\b` + domain + ` `)
		if err != nil {
			return nil, err
		}
		fromRx, err := quickCompile(`(?i)\b` + regexp.QuoteMeta(domain))
		if err != nil {
			return nil, err
		}
		return func(t *target) bool {
			if !fromRx.MatchString(t.get("From:addr")) {
				return false
			}
			r := t.relays()
			return rx.MatchString(r.trustedStr+"\n"+r.untrustedStr) == want
		}, nil
	})
	fixed(p, "check_for_no_rdns_dotcom_helo", func(t *target) bool {
		// SpamAssassin sets the answer afresh at every public relay: the last
		// one decides.
		hit := false
		for _, r := range t.relays().untrusted {
			if !r.private {
				hit = rxDotcomHelo.MatchString(r.helo) && r.noReverseDNS
			}
		}
		return hit
	})
	fixed(p, "check_for_forged_received_trail", func(t *target) bool { return forgedReceived(t).from > 1 })
	fixed(p, "check_for_forged_received_ip_helo", func(t *target) bool { return forgedReceived(t).ipHelo > 0 })
}

var (
	rxNumericHelo = regexp.MustCompile(`(?i)\bhelo=(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})(?:[\x00-\x20,;\[()<>]|$)`)
	rxIPv4Only    = quick(`^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$`)
	// rxIPv4Exact is Constants.pm's IS_IPV4_ADDRESS: octets of 0-255 without a
	// leading zero, so a HELO of "64.51.39.08" is no address.
	rxIPv4Exact = quick(`^` + ipv4Exact + `$`)
	// rxOriginatingIP is IP_ADDRESS as Received.pm looks for it in the
	// originating_ip_headers, where no simplification stands in for it: an
	// "X-Originating-IP: 27.025.80.798" holds no address, and made a relay
	// whose address RCVD_ILLEGAL_IP then found illegal.
	rxOriginatingIP = quick(`\b` + ipv4Exact + `\b|(?:IPv6:)?(?:[0-9a-fA-F]{0,4}:){2,7}(?:[0-9a-fA-F]{1,4}|` + ipv4Exact + `)?`)
	rxClassC        = regexp.MustCompile(`^(\d+\.\d+\.\d+\.)`)
	rxClassB        = regexp.MustCompile(`^(\d+\.\d+)\.\d+\.\d+$`)
	rxDotcomHelo    = quick(`(?i)(?:\.|^)(lycos\.com|lycos\.co\.uk|hotmail\.com|localhost\.com|excite\.com|caramail\.com|cs\.com|aol\.com|msn\.com|yahoo\.com|drizzle\.com)$`)
	rxHostname      = regexp.MustCompile(`^\w+(?:[\w.-]+\.)+\w+$`)
	rxLocalhostNm   = regexp.MustCompile(`^localhost(?:\.localdomain)?$`)
)

// hostToDomain is RelayEval's hostname_to_domain: the registered part of a host
// name, roughly.
func hostToDomain(h string) string {
	if !strings.ContainsFunc(h, func(r rune) bool { return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' }) {
		return h
	}
	parts := strings.Split(h, ".")
	last := parts[len(parts)-1]
	switch {
	case len(parts) > 1 && (len(last) >= 3 || last == "ie" || last == "fr" || last == "de"):
		return strings.Join(parts[len(parts)-2:], ".")
	case len(parts) > 2:
		return strings.Join(parts[len(parts)-3:], ".")
	}
	return h
}

type forgedCounts struct{ from, ipHelo int }

// forgedReceived is _check_for_forged_received: Received lines whose hosts do not
// follow on from each other, and HELOs naming another network's address.
func forgedReceived(t *target) forgedCounts {
	var c forgedCounts
	u := t.relays().untrusted
	from := make([]string, len(u))
	for i, r := range u {
		from[i] = hostToDomain(strings.ToLower(r.rdns))
		if rxLocalhostNm.MatchString(from[i]) && r.ip == "127.0.0.1" {
			from[i] = ""
		}
	}
	for i, r := range u {
		by := hostToDomain(strings.ToLower(r.by))
		if !rxHostname.MatchString(by) {
			continue
		}
		hlo := hostToDomain(strings.ToLower(r.helo))
		if rxIPv4Only.MatchString(hlo) && rxIPv4Only.MatchString(r.ip) && r.ip != hlo {
			hb, fb := rxClassB.FindStringSubmatch(hlo), rxClassB.FindStringSubmatch(r.ip)
			if hb != nil && fb != nil && hb[1] != fb[1] && !isPrivateIP(hlo) {
				c.ipHelo++
			}
		}
		if i > 0 {
			prev := from[i-1]
			if prev != "" && rxHostname.MatchString(prev) && by != prev && !(by == "msn.com" && prev == "hotmail.com") {
				c.from++
			}
		}
	}
	return c
}
