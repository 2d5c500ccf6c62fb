package rules

import (
	"regexp"
	"strings"
)

// SpamAssassin's VBounce plugin: its rules (20_vbounce.cf) tell bounces, and the
// virus and spam backscatter among them, from other mail, and other rules exempt
// bounces (ADVANCE_FEE_5_NEW_MONEY, FORM_FRAUD_5 and MIME_NO_TEXT test
// __BOUNCE_CTYPE). Its evals rescue the bounces of mail the site really sent: the
// ones that quote a Received line of one of the relays listed with
// welcomelist_bounce_relays (host globs; whitelist_bounce_relays is the old name).
func init() {
	const p = "VBounce"
	fixed(p, "have_any_bounce_relays", func(t *target) bool {
		return len(t.set.lists.addrs["welcomelist_bounce_relays"]) > 0
	})
	fixed(p, "check_welcomelist_bounce_relays", bounceRelayQuoted)
	fixed(p, "check_whitelist_bounce_relays", bounceRelayQuoted)
}

// bounceRelayQuoted is check_welcomelist_bounce_relays: whether a Received line
// quoted in the body text, or in the raw body (a bounced message's header, folded
// lines joined), names a listed relay: a word with a dot, between white space.
func bounceRelayQuoted(t *target) bool {
	l := &t.set.lists
	if len(l.addrs["welcomelist_bounce_relays"]) == 0 {
		return false
	}
	names := func(line string) bool {
		for _, m := range reRelayWord.FindAllStringSubmatch(line+" ", -1) {
			if l.listed("welcomelist_bounce_relays", m[1]) {
				return true
			}
		}
		return false
	}
	for _, line := range t.bodyLines {
		if reQuotedReceived.MatchString(line) && names(line) {
			return true
		}
	}
	if !strings.Contains(t.rawbodyLower, "received:") {
		return false
	}
	found, header := false, ""
	// (The newlines writeChunks adds fall only in lines over 2 KB, which a
	// quoted Received line is not.)
	for _, line := range strings.Split(t.rawbody, "\n") {
		if !found {
			if !reQuotedReceived.MatchString(line) {
				continue
			}
			found = true
		}
		if strings.HasPrefix(line, " ") || strings.HasPrefix(line, "\t") {
			header += line // a folded line goes on the one before (bug 5912)
		} else {
			header = line
		}
		if reQuotedReceived.MatchString(header) && names(header) {
			return true
		}
	}
	return false
}

var (
	reQuotedReceived = regexp.MustCompile(`(?i)^[> ]*Received:`)
	// A host-like word; the trailing space the caller adds lets the last one
	// count. (Perl's /\s(\S+\.\S+)\s/g does not reuse the space between two.)
	reRelayWord = regexp.MustCompile(`\s(\S+\.\S+)\s`)
)
