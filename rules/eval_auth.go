package rules

import (
	"strings"

	"github.com/postern/postern/filter"
)

// The welcome lists that hold only for an authenticated sender (SpamAssassin's
// SPF and DKIM plugins): welcomelist_from_spf, welcomelist_from_dkim,
// welcomelist_auth (both), and their def_ forms, which the stock rules fill
// with the banks, shops and newsletters that phishing forges (60_welcomelist_*.cf).
// welcomelist_from is a door for anyone who writes the address in From:; these
// open only when the sender's domain vouches for the message, by SPF for the
// envelope sender or by a valid DKIM signature.
//
// The answers need sender authentication ([auth]): the SPF result the envelope
// checks found at MAIL FROM, and the DKIM signatures the auth check verifies.
// Without them these evals do not hit, as in SpamAssassin with network tests off.
//
// The same results answer the SPF, DKIM, ARC and DMARC plugins' own evals
// (SPF_PASS, DKIM_VALID_AU, ...), for the meta rules that read them: "From a
// bank, and neither SPF_PASS nor DKIM_VALID_AU" (FROM_BANK_NOAUTH), "not
// spoofed: SPF_PASS or DKIM_VALID" (__NOT_SPOOFED, which a dozen fraud rules
// spare). Offline they never hit, so such a meta took every bank's own mail for
// a forgery. The rules of the names the auth check scores itself (reported) are
// not scored by the set: their score is the auth check's, and it is counted once.

// Authentication is what sender authentication found in a message beyond its
// DKIM signatures (AuthSource.Signatures), as the rules read it.
type Authentication struct {
	ARC string // pass, fail, none
	// DMARC is pass, fail, none (no policy), temperror or permerror; "" when
	// not evaluated, or when a trusted ARC sealer vouches for a failure.
	DMARC       string
	DMARCPolicy string // of a failure: none, quarantine, reject
}

// DKIMSignature is one DKIM signature of a message, as sender authentication
// verified it.
type DKIMSignature struct {
	Valid bool // it verified (pass)
	// Domain is the signing domain SpamAssassin compares: the identity's
	// (i=, d= or a subdomain of it), else d=; lower case.
	Domain string
}

// reportedByAuth are the tests the auth check reports with its own scores
// (auth.DefaultScores; TestReportedByAuth keeps the two lists equal). A rule
// of one of these names scores nothing in the set and is no root of its plan:
// it runs only when a meta rule asks for it.
var reportedByAuth = map[string]bool{
	"SPF_PASS": true, "SPF_FAIL": true, "SPF_SOFTFAIL": true, "SPF_NEUTRAL": true, "SPF_NONE": true,
	"SPF_HELO_PASS": true, "SPF_HELO_FAIL": true, "SPF_HELO_SOFTFAIL": true, "SPF_HELO_NEUTRAL": true,
	"SPF_HELO_NONE": true, "T_SPF_TEMPERROR": true, "T_SPF_PERMERROR": true,
	"T_SPF_HELO_TEMPERROR": true, "T_SPF_HELO_PERMERROR": true,
	"DKIM_SIGNED": true, "DKIM_VALID": true, "DKIM_VALID_AU": true, "DKIM_INVALID": true,
	"DMARC_PASS": true, "DMARC_REJECT": true, "DMARC_QUAR": true, "DMARC_NONE": true, "DMARC_MISSING": true,
	"ARC_SIGNED": true, "ARC_VALID": true, "ARC_INVALID": true,
}

// AuthSource is how the rules ask for a message's sender authentication, when
// serve checks it: the DKIM signatures alone (which wait for the key lookups
// only: none for an unsigned message), or all of it (which waits for DMARC's
// lookups too). Each verifies when first called, or waits for the verification
// under way.
type AuthSource struct {
	Signatures func() []DKIMSignature
	All        func() *Authentication
}

// signatures are the message's DKIM signatures as verified, asked for once a
// message; ok is false without sender authentication.
func (t *target) signatures() (sigs []DKIMSignature, ok bool) {
	if t.auth == nil {
		return nil, false
	}
	if !t.sigsDone {
		t.sigsRes, t.sigsDone = t.auth.Signatures(), true
	}
	return t.sigsRes, true
}

// authentication is all the auth check found, asked for once a message; nil
// without sender authentication, or when it could not read the message.
func (t *target) authentication() *Authentication {
	if t.auth == nil {
		return nil
	}
	if !t.authDone {
		t.authRes, t.authDone = t.auth.All(), true
	}
	return t.authRes
}

// The lists the SPF and DKIM evals read. welcomelist_from_dkim's entries name a
// signing domain each, as welcomelist_from_rcvd's name a relay: they live in
// lists.rcvd.
const (
	listAuth    = "welcomelist_auth"
	listDefAuth = "def_welcomelist_auth"
	listSPF     = "welcomelist_from_spf"
	listDefSPF  = "def_welcomelist_from_spf"
	listDKIM    = "welcomelist_from_dkim"
	listDefDKIM = "def_welcomelist_from_dkim"
)

// The bits of target.dkimWL.
const (
	dkimWLUser = 1 << iota // welcomelist_from_dkim or welcomelist_auth
	dkimWLDef              // def_welcomelist_from_dkim or def_welcomelist_auth
	dkimWLDone             // worked out
)

// authDirective reads one of these lists' directives; false when word is not one.
// word has SpamAssassin 4's names (oldListNames applied).
func (l *lists) authDirective(word string, f []string) bool {
	switch word {
	case listAuth, listDefAuth, listSPF, listDefSPF:
		l.add(word, f)
	case "unwelcomelist_auth":
		l.remove(listAuth, f)
		l.remove(listDefAuth, f)
	case "unwelcomelist_from_spf":
		l.remove(listSPF, f)
		l.remove(listDefSPF, f)
	case listDKIM, listDefDKIM:
		// One address a line, then maybe the signing domain; none means the
		// author's own domain (an Author Domain Signature).
		if len(f) == 1 || len(f) == 2 {
			l.addRcvd(word, f[0], fieldAt(f, 1))
		}
	case "unwelcomelist_from_dkim":
		if len(f) == 1 || len(f) == 2 {
			for _, list := range []string{listDKIM, listDefDKIM} {
				l.removeRcvd(list, f[0], fieldAt(f, 1))
			}
		}
	default:
		return false
	}
	return true
}

// fieldAt is f[i], or "" past its end.
func fieldAt(f []string, i int) string {
	if i < len(f) {
		return f[i]
	}
	return ""
}

// removeRcvd is remove_from_addrlist_dkim: the entry for addr loses domain, and
// goes when it has none left.
func (l *lists) removeRcvd(list, addr, domain string) {
	key, domain := strings.ToLower(addr), strings.ToLower(domain)
	e, ok := l.rcvd[list][key]
	if !ok {
		return
	}
	var keep []string
	for _, d := range e.domains {
		if d != domain {
			keep = append(keep, d)
		}
	}
	if len(keep) == 0 {
		delete(l.rcvd[list], key)
		return
	}
	l.rcvd[list][key] = rcvdEntry{domains: keep}
}

// spfWelcome is _check_spf_welcomelist (def: _check_def_spf_welcomelist): the
// envelope sender passed SPF and is on welcomelist_from_spf or welcomelist_auth
// (their def_ forms).
func (t *target) spfWelcome(def bool) bool {
	if !t.spfIs("mailfrom", "pass") {
		return false
	}
	sender, l := t.msg.Env.SPF.Sender, &t.set.lists
	if def {
		return l.listed(listDefSPF, sender) || l.listed(listDefAuth, sender)
	}
	return l.listed(listSPF, sender) || l.listed(listAuth, sender)
}

// dkimWelcome is _check_dkim_welcomelist, for the user's lists or (def) the
// default ones.
func (t *target) dkimWelcome(def bool) bool {
	if t.dkimWL&dkimWLDone == 0 {
		t.dkimWL = dkimWLDone | t.readDKIMWelcome()
	}
	if def {
		return t.dkimWL&dkimWLDef != 0
	}
	return t.dkimWL&dkimWLUser != 0
}

// readDKIMWelcome finds which lists welcome the message's author for a valid
// signature (dkimWLUser, dkimWLDef). An entry that matches an author names the signing
// domains it accepts (the author's own domain for welcomelist_auth, and for a
// welcomelist_from_dkim entry without one); only then are the signatures asked
// for, so a message whose author no list names never waits for their
// verification.
func (t *target) readDKIMWelcome() uint8 {
	if t.auth == nil {
		return 0
	}
	type acceptable struct {
		authorDomain string
		sdid         string // "" for the author's domain
		bit          uint8
	}
	var want []acceptable
	l := &t.set.lists
	for _, author := range t.addresses("From") {
		a, domain := strings.ToLower(author), addrDomain(author)
		for _, x := range []struct {
			list, auth string
			bit        uint8
		}{{listDefDKIM, listDefAuth, dkimWLDef}, {listDKIM, listAuth, dkimWLUser}} {
			entries := l.rcvd[x.list]
			l.rcvdGlobs[x.list].match(a, func(glob string) bool {
				for _, d := range entries[glob].domains {
					want = append(want, acceptable{domain, d, x.bit})
				}
				return false // every entry that matches
			})
			if l.listed(x.auth, a) {
				want = append(want, acceptable{domain, "", x.bit})
			}
		}
	}
	if len(want) == 0 {
		return 0
	}
	sigs, _ := t.signatures()
	var found uint8
	for _, s := range sigs {
		if !s.Valid || s.Domain == "" {
			continue
		}
		for _, w := range want {
			if sdidAccepted(s.Domain, w.sdid, w.authorDomain) {
				found |= w.bit
			}
		}
	}
	return found
}

// sdidAccepted is _wlcheck_list's match of a valid signature's signing domain
// against an entry's: "" is the author's domain, "*.d" and ".d" any subdomain
// of d (not d), and an address its domain.
func sdidAccepted(sdid, accepted, authorDomain string) bool {
	if accepted == "" {
		return sdid == authorDomain
	}
	if i := strings.LastIndexByte(accepted, '@'); i >= 0 {
		accepted = accepted[i+1:]
	}
	if rest, ok := strings.CutPrefix(strings.TrimPrefix(accepted, "*"), "."); ok {
		return strings.HasSuffix(sdid, "."+rest)
	}
	return sdid == accepted
}

// addrDomain is an address's domain as _get_authors takes it: after the last
// '@', trailing blanks dropped, lower case; "" without an '@'.
func addrDomain(addr string) string {
	i := strings.LastIndexByte(addr, '@')
	if i < 0 {
		return ""
	}
	return strings.ToLower(strings.TrimRight(addr[i+1:], " \t"))
}

// spfIs says whether the SPF result found at MAIL FROM is result, for the
// identity: "mailfrom", or "helo" (the HELO name's own result, or for the null
// sender the one result there is, which is the HELO name's).
func (t *target) spfIs(identity, result string) bool {
	e := t.msg.Env
	if e == nil {
		return false
	}
	for _, s := range []*filter.SPF{e.SPF, e.SPFHelo} {
		if s != nil && s.Identity == identity && s.Result == result {
			return true
		}
	}
	return false
}

// dkimSignedBy is _check_dkim_signed_by: a signature (valid, when mustBeValid;
// by an author's domain, when author) whose signing domain is one of domains
// ("*.d" and ".d": d or a subdomain of it), or any when there are none.
func (t *target) dkimSignedBy(mustBeValid, author bool, domains []string) bool {
	sigs, ok := t.signatures()
	if !ok {
		return false
	}
	var authors map[string]bool
	if author {
		authors = map[string]bool{}
		for _, addr := range t.addresses("From") {
			if d := addrDomain(addr); d != "" {
				authors[d] = true
			}
		}
	}
	for _, s := range sigs {
		if mustBeValid && !s.Valid {
			continue
		}
		if len(domains) == 0 && !author {
			return true // (a signature too broken to name its domain is one too)
		}
		if s.Domain == "" || (author && !authors[s.Domain]) {
			continue
		}
		if len(domains) == 0 {
			return true
		}
		for _, d := range domains {
			d = strings.ToLower(d)
			// (Here "*.d" takes d too; a welcome list's "*.d" does not:
			// sdidAccepted. SpamAssassin's two matches differ so.)
			if rest, ok := strings.CutPrefix(strings.TrimPrefix(d, "*"), "."); ok {
				if s.Domain == rest || strings.HasSuffix(s.Domain, "."+rest) {
					return true
				}
			} else if s.Domain == d {
				return true
			}
		}
	}
	return false
}

// dkimArgs binds a DKIM eval that takes signing domains.
func dkimArgs(mustBeValid, author bool) func(args []string) (evalFunc, error) {
	return func(args []string) (evalFunc, error) {
		return func(t *target) bool { return t.dkimSignedBy(mustBeValid, author, args) }, nil
	}
}

// waitingForAuth marks evals that wait for the auth check's verification (its
// DKIM key and DMARC lookups, where SPF's result is at hand from MAIL FROM): meta
// rules ask them after their other operands (orderChains), so that a rule
// such as FROM_GOV_DKIM_AU (DKIM_VALID_AU && __FROM_ADDRLIST_GOV) waits only
// for a government's mail, not for every message.
func waitingForAuth(names ...string) {
	for _, n := range names {
		d := evals[n]
		d.waitsAuth = true
		evals[n] = d
	}
}

func init() {
	for _, r := range []string{"pass", "neutral", "none", "fail", "softfail", "permerror", "temperror"} {
		fixed("SPF", "check_for_spf_"+r, func(t *target) bool { return t.spfIs("mailfrom", r) })
		fixed("SPF", "check_for_spf_helo_"+r, func(t *target) bool { return t.spfIs("helo", r) })
	}
	// check_dkim_signed: any signature, valid or not (with domains, by one of
	// them); check_dkim_valid: a valid one; check_dkim_valid_author_sig: a
	// valid one by an author's domain.
	register("DKIM", "check_dkim_signed", dkimArgs(false, false))
	register("DKIM", "check_dkim_valid", dkimArgs(true, false))
	register("DKIM", "check_dkim_valid_author_sig", dkimArgs(true, true))
	// A valid signature by the envelope sender's domain (DKIM_VALID_EF).
	fixed("DKIM", "check_dkim_valid_envelopefrom", func(t *target) bool {
		_, domain, ok := strings.Cut(t.get("EnvelopeFrom:addr"), "@")
		if domain, _, _ = strings.Cut(domain, " "); !ok || domain == "" {
			return false
		}
		return t.dkimSignedBy(true, false, []string{strings.ToLower(domain)})
	})
	// Dependable: the signatures were verified (and, in SpamAssassin, the
	// message not truncated, which Postern never does).
	fixed("DKIM", "check_dkim_dependable", func(t *target) bool { return t.auth != nil })
	fixed("DKIM", "check_arc_signed", func(t *target) bool {
		a := t.authentication()
		return a != nil && (a.ARC == "pass" || a.ARC == "fail")
	})
	fixed("DKIM", "check_arc_valid", func(t *target) bool {
		a := t.authentication()
		return a != nil && a.ARC == "pass"
	})
	dmarc := func(result, policy string) evalFunc {
		return func(t *target) bool {
			a := t.authentication()
			return a != nil && a.DMARC == result && (policy == "" || a.DMARCPolicy == policy)
		}
	}
	fixed("DMARC", "check_dmarc_pass", dmarc("pass", ""))
	fixed("DMARC", "check_dmarc_reject", dmarc("fail", "reject"))
	fixed("DMARC", "check_dmarc_quarantine", dmarc("fail", "quarantine"))
	fixed("DMARC", "check_dmarc_none", dmarc("fail", "none"))
	fixed("DMARC", "check_dmarc_missing", dmarc("none", ""))
	waitingForAuth("check_dkim_signed", "check_dkim_valid", "check_dkim_valid_author_sig", "check_dkim_valid_envelopefrom",
		"check_arc_signed", "check_arc_valid", "check_dmarc_pass", "check_dmarc_reject", "check_dmarc_quarantine",
		"check_dmarc_none", "check_dmarc_missing")

	for _, n := range []string{"check_for_spf_welcomelist_from", "check_for_spf_whitelist_from"} {
		fixed("SPF", n, func(t *target) bool { return t.spfWelcome(false) })
	}
	for _, n := range []string{"check_for_def_spf_welcomelist_from", "check_for_def_spf_whitelist_from"} {
		fixed("SPF", n, func(t *target) bool { return t.spfWelcome(true) })
	}
	for _, n := range []string{"check_for_dkim_welcomelist_from", "check_for_dkim_whitelist_from"} {
		fixed("DKIM", n, func(t *target) bool { return t.dkimWelcome(false) })
	}
	for _, n := range []string{"check_for_def_dkim_welcomelist_from", "check_for_def_dkim_whitelist_from"} {
		fixed("DKIM", n, func(t *target) bool { return t.dkimWelcome(true) })
	}
}
