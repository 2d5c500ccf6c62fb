package rules

import (
	"net/netip"
	"regexp"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/publicsuffix"
)

// lists is what SpamAssassin's welcome and block list directives configure, for
// the WLBLEval plugin's evals: address lists (welcomelist_from, blocklist_from,
// welcomelist_to, more_spam_to, all_spam_to, blocklist_to,
// welcomelist_allows_relays, and the named lists of enlist_addrlist), address
// lists that also name the relay mail must come through (welcomelist_from_rcvd,
// def_welcomelist_from_rcvd), and URI host lists (enlist_uri_host, and
// welcomelist_uri_host / blocklist_uri_host as the lists WELCOME and BLOCK). The
// stock rules name the banks, governments and suspicious top-level domains
// their meta rules test this way. The old names (whitelist_from,
// blacklist_from, def_whitelist_from_rcvd, ...) are read as the new. The lists
// of the SPF and DKIM welcome lists (eval_auth.go) and of the Subject
// (eval_subject.go) are read here too.
type lists struct {
	addrs    map[string]map[string]bool      // list → lower-case glob
	rcvd     map[string]map[string]rcvdEntry // list → lower-case glob → its relays (welcomelist_from_dkim: signing domains)
	uriHosts map[string]map[string]bool      // list → host → listed (false: "!host", excluded)
	subjects subjectLists                    // welcomelist_subject, blocklist_subject

	// addrGlobs and rcvdGlobs are addrs' and rcvd's globs indexed (index), once
	// every directive is read.
	addrGlobs, rcvdGlobs map[string]globIndex
}

// globIndex is a list's globs as an address is matched against them. Most are
// "*@domain" (the stock def_welcomelist_from_rcvd holds hundreds) or
// "*@*.domain" (823 of the stock def_welcomelist_auth's 898), and each was tried
// in turn with globMatch, whose * restarts at every byte of the address: a
// hundredth of the check's instructions, and 40 µs an address for
// def_welcomelist_auth. "*@domain" matches exactly the addresses whose last '@'
// starts its tail, so it is looked up by that; "*@*.domain" those with an '@'
// before a '.' that starts its tail, so it is looked up by each such tail; a glob
// without wildcards is looked up whole; only the others are tried.
type globIndex struct {
	exact    map[string]bool   // globs without * or ?
	tails    map[string]string // "@domain" → its glob, "*@domain" (one '@', no wildcard after the *)
	subTails map[string]string // "domain" → its glob, "*@*.domain" (no '@' or wildcard in domain)
	rest     []string
}

func newGlobIndex[V any](globs map[string]V) globIndex {
	x := globIndex{exact: map[string]bool{}, tails: map[string]string{}, subTails: map[string]string{}}
	for g := range globs {
		tail, ok := strings.CutPrefix(g, "*")
		sub, isSub := strings.CutPrefix(g, "*@*.")
		switch {
		case !strings.ContainsAny(g, "*?"):
			x.exact[g] = true
		case ok && strings.HasPrefix(tail, "@") && strings.Count(tail, "@") == 1 && !strings.ContainsAny(tail, "*?"):
			x.tails[tail] = g
		case isSub && !strings.ContainsAny(sub, "@*?"):
			x.subTails[sub] = g
		default:
			x.rest = append(x.rest, g)
		}
	}
	return x
}

// match calls f with each glob that matches addr (lower-case) until f returns
// true, and says whether it did; in no particular order, as the maps gave them.
func (x globIndex) match(addr string, f func(glob string) bool) bool {
	if x.exact[addr] && f(addr) {
		return true
	}
	if at := strings.LastIndexByte(addr, '@'); at >= 0 {
		if g, ok := x.tails[addr[at:]]; ok && f(g) {
			return true
		}
	}
	if len(x.subTails) > 0 {
		if at := strings.IndexByte(addr, '@'); at >= 0 {
			for i := at + 1; i < len(addr); i++ {
				if addr[i] != '.' {
					continue
				}
				if g, ok := x.subTails[addr[i+1:]]; ok && f(g) {
					return true
				}
			}
		}
	}
	for _, g := range x.rest {
		if globMatch(g, addr) && f(g) {
			return true
		}
	}
	return false
}

// index makes the lists' glob indexes: when the rule files are read, before any
// message.
func (l *lists) index() {
	l.addrGlobs, l.rcvdGlobs = map[string]globIndex{}, map[string]globIndex{}
	for list, globs := range l.addrs {
		l.addrGlobs[list] = newGlobIndex(globs)
	}
	for list, globs := range l.rcvd {
		l.rcvdGlobs[list] = newGlobIndex(globs)
	}
	l.subjects.compile()
}

type rcvdEntry struct {
	domains []string
}

// oldListNames maps the directives' old names to SpamAssassin 4's.
var oldListNames = strings.NewReplacer("whitelist", "welcomelist", "blacklist", "blocklist")

// directive reads one list directive; false when word is not one.
func (l *lists) directive(word, rest string) bool {
	word = oldListNames.Replace(word)
	f := strings.Fields(rest)
	switch word {
	case "welcomelist_from", "blocklist_from", "welcomelist_to", "blocklist_to", "more_spam_to", "all_spam_to", "welcomelist_allows_relays",
		"welcomelist_bounce_relays": // (VBounce's: host globs, matched the same way)
		l.add(word, f)
	case "unwelcomelist_from", "unblocklist_from":
		l.remove(strings.TrimPrefix(word, "un"), f)
	case "enlist_addrlist", "delist_addrlist":
		if len(f) == 0 || !strings.HasPrefix(f[0], "(") || !strings.HasSuffix(f[0], ")") {
			return true // malformed: SpamAssassin ignores it with a warning too
		}
		name := strings.Trim(f[0], "()")
		if word == "enlist_addrlist" {
			l.add(name, f[1:])
		} else {
			l.remove(name, f[1:])
		}
	case "welcomelist_from_rcvd", "def_welcomelist_from_rcvd":
		if len(f) == 2 {
			l.addRcvd(word, f[0], f[1])
		}
	case "unwelcomelist_from_rcvd":
		for _, list := range []string{"welcomelist_from_rcvd", "def_welcomelist_from_rcvd"} {
			for _, a := range f {
				delete(l.rcvd[list], strings.ToLower(a))
			}
		}
	case "enlist_uri_host", "delist_uri_host":
		name := ""
		if len(f) > 0 && strings.HasPrefix(f[0], "(") && strings.HasSuffix(f[0], ")") {
			name, f = strings.Trim(f[0], "()"), f[1:]
		}
		if word == "enlist_uri_host" {
			if name != "" {
				l.addHosts(name, f)
			}
			return true
		}
		for list, hosts := range l.uriHosts { // no name: every list
			if name == "" || name == list {
				for _, h := range f {
					delete(hosts, strings.ToLower(strings.TrimPrefix(h, "!")))
				}
			}
		}
	case "welcomelist_uri_host":
		l.addHosts("WELCOME", f)
	case "blocklist_uri_host":
		l.addHosts("BLOCK", f)
	default:
		return l.authDirective(word, f) || l.subjects.directive(word, rest)
	}
	return true
}

// globMatch is Conf's add_to_addrlist match: glob's * is any string, ? any one
// character, the rest literal, over the whole of s (both lower-case). By hand, not
// as the regexp SpamAssassin makes of it: the stock lists hold about a hundred
// globs, tried against every sender address of every message.
func globMatch(glob, s string) bool {
	// The classic walk: on a mismatch, go back to the last * and let it take one
	// byte more. Linear in practice; quadratic at worst, on addresses of a few
	// hundred bytes at most.
	gi, si := 0, 0
	star, mark := -1, 0
	for si < len(s) {
		switch {
		case gi < len(glob) && glob[gi] == '*':
			star, mark = gi, si
			gi++
		case gi < len(glob) && (glob[gi] == '?' || glob[gi] == s[si]):
			if glob[gi] == '?' {
				// ? is one character, not one byte.
				_, n := utf8.DecodeRuneInString(s[si:])
				si += n
			} else {
				si++
			}
			gi++
		case star >= 0:
			mark++
			gi, si = star+1, mark
		default:
			return false
		}
	}
	for gi < len(glob) && glob[gi] == '*' {
		gi++
	}
	return gi == len(glob)
}

func (l *lists) add(list string, addrs []string) {
	if l.addrs == nil {
		l.addrs = map[string]map[string]bool{}
	}
	if l.addrs[list] == nil {
		l.addrs[list] = map[string]bool{}
	}
	for _, a := range addrs {
		l.addrs[list][strings.ToLower(a)] = true
	}
}

func (l *lists) remove(list string, addrs []string) {
	for _, a := range addrs {
		delete(l.addrs[list], strings.ToLower(a))
	}
}

func (l *lists) addRcvd(list, addr, domain string) {
	if l.rcvd == nil {
		l.rcvd = map[string]map[string]rcvdEntry{}
	}
	if l.rcvd[list] == nil {
		l.rcvd[list] = map[string]rcvdEntry{}
	}
	key := strings.ToLower(addr)
	e := l.rcvd[list][key]
	e.domains = append(e.domains, strings.ToLower(domain))
	l.rcvd[list][key] = e
}

func (l *lists) addHosts(list string, hosts []string) {
	if l.uriHosts == nil {
		l.uriHosts = map[string]map[string]bool{}
	}
	if l.uriHosts[list] == nil {
		l.uriHosts[list] = map[string]bool{}
	}
	for _, h := range hosts {
		neg := strings.HasPrefix(h, "!")
		l.uriHosts[list][strings.ToLower(strings.TrimPrefix(h, "!"))] = !neg
	}
}

// listed is _check_welcomelist: whether an address is on a list.
func (l *lists) listed(list, addr string) bool {
	return l.addrGlobs[list].match(strings.ToLower(addr), func(string) bool { return true })
}

// anyListed says whether one of the addresses is on list. They are asked for
// only when the list has entries: most sites list none, and gathering a
// message's recipients (all_to_addrs) is a walk of its Received lines and
// address headers.
func (l *lists) anyListed(list string, addrs func() []string) bool {
	if len(l.addrs[list]) == 0 {
		return false
	}
	for _, a := range addrs() {
		if l.listed(list, a) {
			return true
		}
	}
	return false
}

// allToAddrs is all_to_addrs: the first Resent-To and Resent-Cc of a resent
// message, else the recipients the first three Received lines name ("for
// <x@y>;") and those of the recipient headers.
func (t *target) allToAddrs() []string {
	if t.toAddrs == nil {
		t.toAddrs = computed(t.readToAddrs())
	}
	return t.toAddrs
}

func (t *target) readToAddrs() []string {
	var resent []string
	for _, f := range []string{"Resent-To", "Resent-Cc"} {
		if a := t.addresses(f); len(a) > 0 {
			resent = append(resent, a[0])
		}
	}
	if len(resent) > 0 {
		return dedupAddrs(resent)
	}
	var out []string
	rcvd := t.header.Values("Received")
	for _, line := range rcvd[:min(3, len(rcvd))] {
		if m := reRcvdFor.FindStringSubmatch(line); m != nil && strings.Contains(m[2], ".") {
			out = append(out, m[1])
		}
	}
	for _, f := range []string{"To", "Apparently-To", "Delivered-To", "Envelope-Recipients", "Apparently-Resent-To",
		"X-Envelope-To", "Envelope-To", "X-Delivered-To", "X-Original-To", "X-Rcpt-To", "X-Real-To", "Cc"} {
		out = append(out, t.addresses(f)...)
	}
	return dedupAddrs(out)
}

var reRcvdFor = regexp.MustCompile(` for <?(\S+@(\S+?))>?;`)

// dedupAddrs drops empty and repeated addresses and squeezes runs of dots (tr/././s).
func dedupAddrs(addrs []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, a := range addrs {
		for strings.Contains(a, "..") {
			a = strings.ReplaceAll(a, "..", ".")
		}
		if a != "" && !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	return out
}

// checkRelays are the relays _check_welcomelist_rcvd and _check_addr_matches_rcvd
// compare with: the first untrusted one, or else every trusted one.
func (t *target) checkRelays() []relay {
	r := t.relays()
	if len(r.untrusted) > 0 {
		return r.untrusted[:1]
	}
	return r.trusted
}

// welcomeRcvd is _check_welcomelist_rcvd: 1 when addr is on the list and the
// message came through a relay the entry names (a domain its reverse name ends
// in, or [an address or network]); -1 when it is on the list but did not (a
// forgery, unless welcomelist_allows_relays exempts it); 0 when it is not on it.
func (t *target) welcomeRcvd(list, addr string) int {
	relays := t.checkRelays()
	if len(relays) == 0 {
		return 0
	}
	addr = strings.ToLower(addr)
	forged := 0
	entries := t.set.lists.rcvd[list]
	if t.set.lists.rcvdGlobs[list].match(addr, func(glob string) bool {
		for _, d := range entries[glob].domains {
			for _, r := range relays {
				if relayMatches(r, d) {
					return true
				}
			}
			forged = -1
		}
		return false
	}) {
		return 1
	}
	if forged < 0 && t.set.lists.listed("welcomelist_allows_relays", addr) {
		return 0
	}
	return forged
}

// relayMatches says whether a relay is the one an _rcvd entry names.
func relayMatches(r relay, domain string) bool {
	if inner, ok := strings.CutPrefix(domain, "["); ok {
		spec, bits, _ := strings.Cut(inner, "]")
		if bits != "" {
			spec += bits // [10.0.0.0]/8
		}
		ip, err := netip.ParseAddr(r.ip)
		if err != nil {
			return false
		}
		if a, err := netip.ParseAddr(spec); err == nil && a.Is4() {
			return a == ip
		}
		if strings.Trim(spec, "0123456789.") == "" { // a classful IPv4 prefix: 10.1
			return strings.HasPrefix(r.ip, strings.TrimRight(spec, ".")+".")
		}
		if p, err := netip.ParsePrefix(spec); err == nil {
			return p.Contains(ip)
		}
		if a, err := netip.ParseAddr(spec); err == nil {
			return a == ip
		}
		return false
	}
	rdns := strings.ToLower(r.rdns)
	return rdns == domain || strings.HasSuffix(rdns, "."+domain)
}

// fromInWelcomelist is _check_from_in_welcomelist: 1 when a sender address is
// welcome (welcomelist_from, or welcomelist_from_rcvd through its relay), -1 when
// one is on welcomelist_from_rcvd but came through another relay (forged), else 0.
func (t *target) fromInWelcomelist() int {
	return t.fromInLists("welcomelist_from", "welcomelist_from_rcvd")
}

// fromInDefaultWelcomelist is _check_from_in_default_welcomelist, the same with
// def_welcomelist_from_rcvd only.
func (t *target) fromInDefaultWelcomelist() int {
	return t.fromInLists("", "def_welcomelist_from_rcvd")
}

func (t *target) fromInLists(plain, rcvd string) int {
	l := &t.set.lists
	if len(l.addrs[plain]) == 0 && len(l.rcvd[rcvd]) == 0 {
		return 0
	}
	found := 0
	for _, a := range t.allFromAddrs() {
		if plain != "" && l.listed(plain, a) {
			return 1
		}
		switch t.welcomeRcvd(rcvd, a) {
		case 1:
			return 1
		case -1:
			found = -1
		}
	}
	return found
}

// registrableDomain is RegistryBoundaries' split_domain's domain: the name under
// its public suffix.
func registrableDomain(host string) string {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if d, err := publicsuffix.EffectiveTLDPlusOne(host); err == nil {
		return d
	}
	return host
}

// hasDomain says whether a host name has a domain under its public suffix, as
// SpamAssassin's uri_to_domain requires before a link's host counts: not a
// top-level name alone (href="top" read as http://top is no link to .top).
func hasDomain(host string) bool {
	_, err := publicsuffix.EffectiveTLDPlusOne(host)
	return err == nil
}

// KnownTLD says whether a label is a top-level domain: one the public suffix
// list's ICANN part holds, as SpamAssassin's util_rb_tld lists the root zone's.
// (A suffix of the list's private part, blogspot.com, is no TLD: a name under
// it is a site.)
func KnownTLD(label string) bool {
	if label == "" {
		return false
	}
	_, icann := publicsuffix.PublicSuffix("x." + strings.ToLower(label))
	return icann
}

// mailfromMatchesRcvd is check_mailfrom_matches_rcvd: the envelope sender's
// domain is the domain of the relay that handed the message in (or of a trusted
// relay, when all are). Many of the stock meta rules take it as a sign of
// legitimate mail (!__RP_MATCHES_RCVD).
func (t *target) mailfromMatchesRcvd() bool {
	sender := t.get("EnvelopeFrom:addr")
	at := strings.LastIndexByte(sender, '@')
	if at < 0 || !strings.Contains(sender[at+1:], ".") || strings.HasSuffix(sender, ".") || strings.HasPrefix(sender[at+1:], ".") {
		return false
	}
	want := registrableDomain(sender[at+1:])
	for _, r := range t.checkRelays() {
		if r.rdns != "" && registrableDomain(r.rdns) == want {
			return true
		}
	}
	return false
}

// uriHostListed is check_uri_host_listed: whether a host of the message's links
// (not mailto:), or a domain above it, is on the list, the most specific entry
// deciding ("!host" excludes). As _check_uri_host_listed, one pass over the links
// answers for every list.
func (t *target) uriHostListed(list string) bool {
	if len(t.set.lists.uriHosts) == 0 {
		return false // (most sites list none: no pass over the links)
	}
	if t.uriListed == nil {
		t.uriListed = t.readURIListed()
	}
	return t.uriListed[list]
}

func (t *target) readURIListed() map[string]bool {
	out := map[string]bool{}
	for _, u := range t.hostURIs {
		h := uriHost(u)
		if h == "" {
			continue
		}
		keys := []string{strings.Trim(h, "[]")}
		if !strings.HasPrefix(h, "[") && !rxIPv4Only.MatchString(h) {
			if !hasDomain(h) {
				continue // a relative link read as a host (href="top")
			}
			keys = keys[:0]
			for d := h; ; {
				keys = append(keys, d)
				_, rest, ok := strings.Cut(d, ".")
				if !ok {
					break
				}
				d = rest
			}
		}
		for list, hosts := range t.set.lists.uriHosts {
			for _, k := range keys {
				if v, ok := hosts[k]; ok {
					out[list] = out[list] || v
					break
				}
			}
		}
	}
	return out
}

// uriHost is the lower-case host of a link, "" for mailto: and what has none.
func uriHost(u string) string {
	if len(u) >= 7 && strings.EqualFold(u[:7], "mailto:") {
		return ""
	}
	if d, ok := strings.CutPrefix(u, SigningDomainPrefix); ok {
		return strings.TrimSuffix(strings.ToLower(d), ".")
	}
	if i := strings.Index(u, "://"); i >= 0 {
		u = u[i+3:]
	}
	if i := strings.IndexAny(u, "/?#"); i >= 0 {
		u = u[:i]
	}
	if i := strings.LastIndexByte(u, '@'); i >= 0 {
		u = u[i+1:]
	}
	if !strings.HasPrefix(u, "[") {
		if i := strings.IndexByte(u, ':'); i >= 0 {
			u = u[:i]
		}
	} else if i := strings.IndexByte(u, ']'); i >= 0 {
		u = u[:i+1]
	}
	return strings.TrimSuffix(strings.ToLower(u), ".")
}

func init() {
	const p = "WLBLEval"
	listEval := func(addrs func(t *target, list string) bool) func(args []string) (evalFunc, error) {
		return func(args []string) (evalFunc, error) {
			if len(args) == 0 {
				return func(*target) bool { return false }, nil
			}
			list := args[0]
			return func(t *target) bool { return addrs(t, list) }, nil
		}
	}
	register(p, "check_from_in_list", listEval(func(t *target, list string) bool {
		return t.set.lists.anyListed(list, t.allFromAddrs)
	}))
	register(p, "check_to_in_list", listEval(func(t *target, list string) bool {
		return t.set.lists.anyListed(list, t.allToAddrs)
	}))
	register(p, "check_replyto_in_list", listEval(func(t *target, list string) bool {
		r := t.get("Reply-To:addr")
		return r != "" && t.set.lists.listed(list, r)
	}))
	for _, names := range [][2]string{
		{"check_from_in_blocklist", "check_from_in_blacklist"},
	} {
		for _, n := range names {
			fixed(p, n, func(t *target) bool { return t.set.lists.anyListed("blocklist_from", t.allFromAddrs) })
		}
	}
	for list, names := range map[string][]string{
		"blocklist_to":   {"check_to_in_blocklist", "check_to_in_blacklist"},
		"welcomelist_to": {"check_to_in_welcomelist", "check_to_in_whitelist"},
		"more_spam_to":   {"check_to_in_more_spam"},
		"all_spam_to":    {"check_to_in_all_spam"},
	} {
		for _, n := range names {
			fixed(p, n, func(t *target) bool { return t.set.lists.anyListed(list, t.allToAddrs) })
		}
	}
	for _, n := range []string{"check_from_in_welcomelist", "check_from_in_whitelist"} {
		fixed(p, n, func(t *target) bool { return t.fromInWelcomelist() > 0 })
	}
	for _, n := range []string{"check_from_in_default_welcomelist", "check_from_in_default_whitelist"} {
		fixed(p, n, func(t *target) bool { return t.fromInDefaultWelcomelist() > 0 })
	}
	for _, n := range []string{"check_forged_in_welcomelist", "check_forged_in_whitelist"} {
		fixed(p, n, func(t *target) bool { return t.fromInWelcomelist() < 0 && t.fromInDefaultWelcomelist() == 0 })
	}
	for _, n := range []string{"check_forged_in_default_welcomelist", "check_forged_in_default_whitelist"} {
		fixed(p, n, func(t *target) bool { return t.fromInDefaultWelcomelist() < 0 && t.fromInWelcomelist() == 0 })
	}
	fixed(p, "check_mailfrom_matches_rcvd", (*target).mailfromMatchesRcvd)
	register(p, "check_uri_host_listed", listEval((*target).uriHostListed))
	for list, names := range map[string][]string{
		"BLOCK":   {"check_uri_host_in_blocklist", "check_uri_host_in_blacklist"},
		"WELCOME": {"check_uri_host_in_welcomelist", "check_uri_host_in_whitelist"},
	} {
		for _, n := range names {
			fixed(p, n, func(t *target) bool { return t.uriHostListed(list) })
		}
	}
}
