package rules

import "strings"

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

// DKIMSignature is one DKIM signature of a message, as sender authentication
// verified it.
type DKIMSignature struct {
	Valid bool // it verified (pass)
	// Domain is the signing domain SpamAssassin compares: the identity's
	// (i=, d= or a subdomain of it), else d=; lower case.
	Domain string
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
			l.addRcvd(word, f[0], at(f, 1))
		}
	case "unwelcomelist_from_dkim":
		if len(f) == 1 || len(f) == 2 {
			for _, list := range []string{listDKIM, listDefDKIM} {
				l.removeRcvd(list, f[0], at(f, 1))
			}
		}
	default:
		return false
	}
	return true
}

func at(f []string, i int) string {
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
	e := t.msg.Env
	if e == nil || e.SPF == nil || e.SPF.Identity != "mailfrom" || e.SPF.Result != "pass" || e.SPF.Sender == "" {
		return false
	}
	l := &t.set.lists
	if def {
		return l.listed(listDefSPF, e.SPF.Sender) || l.listed(listDefAuth, e.SPF.Sender)
	}
	return l.listed(listSPF, e.SPF.Sender) || l.listed(listAuth, e.SPF.Sender)
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
	if t.sigs == nil {
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
		a := strings.ToLower(author)
		domain := ""
		if i := strings.LastIndexByte(a, '@'); i >= 0 {
			domain = a[i+1:]
		}
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
	var found uint8
	for _, s := range t.sigs() {
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

func init() {
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
