package rules

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// SpamAssassin's HeaderEval plugin, from Mail/SpamAssassin/Plugin/HeaderEval.pm.
func init() {
	const p = "HeaderEval"
	fixed(p, "check_for_missing_to_header", func(t *target) bool {
		// Present but empty counts as present, as in SpamAssassin.
		return len(t.header.Values("To")) == 0 && len(t.header.Values("Apparently-To")) == 0
	})
	fixed(p, "check_for_unique_subject_id", func(*target) bool { return false }) // retired upstream
	fixed(p, "gated_through_received_hdr_remover", gatedThroughReceivedRemover)
	fixed(p, "check_outlook_message_id", outlookMessageID)
	fixed(p, "check_messageid_not_usable", func(t *target) bool {
		if reListUnsubLeave.MatchString(t.get("List-Unsubscribe")) || gatedThroughReceivedRemover(t) {
			return true
		}
		rcvd := t.get("Received")
		return strings.Contains(rcvd, "/CWT/DCE)") || strings.Contains(rcvd, "iPlanet Messaging Server")
	})
	fixed(p, "subject_is_all_caps", subjectIsAllCaps)
	fixed(p, "check_unresolved_template", func(t *target) bool {
		for _, line := range strings.Split(t.get("ALL"), "\n") {
			if reTemplate.MatchString(line) && !reTemplateExempt.MatchString(line) {
				return true
			}
		}
		return false
	})
	fixed(p, "check_for_matching_env_and_hdr_from", func(t *target) bool {
		return strings.EqualFold(t.envelopeFrom(), t.get("From:addr"))
	})
	fixed(p, "check_equal_from_domains", func(t *target) bool {
		from, env := secondLevel(t.get("From:addr")), secondLevel(t.envelopeFrom())
		return from != "" && env != "" && !strings.EqualFold(from, env)
	})
	fixed(p, "sorted_recipients", func(t *target) bool { return t.recipients().sorted })
	register(p, "similar_recipients", func(args []string) (evalFunc, error) {
		return inRange(args, func(t *target) (float64, bool) { return t.recipients().similar, true })
	})
	register(p, "check_for_shifted_date", func(args []string) (evalFunc, error) {
		// Bounds in hours; the difference is in seconds, and is 0 without dates.
		return inRange(args, func(t *target) (float64, bool) { return t.dates().diff / 3600, true })
	})
	register(p, "check_header_count_range", func(args []string) (evalFunc, error) {
		if len(args) != 3 {
			return nil, fmt.Errorf("want HEADER, MIN, MAX")
		}
		lo, _, err1 := number(args[1])
		hi, _, err2 := number(args[2])
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("bad bounds %q, %q", args[1], args[2])
		}
		field := args[0]
		return func(t *target) bool {
			seen := map[string]bool{}
			for _, v := range t.header.Values(field) {
				seen[v] = true
			}
			n := float64(len(seen))
			return n >= lo && n <= hi
		}, nil
	})
	register(p, "check_illegal_chars", func(args []string) (evalFunc, error) {
		if len(args) != 3 {
			return nil, fmt.Errorf("want HEADER, RATIO, COUNT")
		}
		ratio, _, err1 := number(args[1])
		count, _, err2 := number(args[2])
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("bad ratio or count %q, %q", args[1], args[2])
		}
		field := strings.TrimSuffix(args[0], ":raw")
		return func(t *target) bool { return illegalChars(t.rawHeader(field), field, ratio, count) }, nil
	})
	register(p, "check_for_to_in_subject", func(args []string) (evalFunc, error) {
		if len(args) != 1 || (args[0] != "address" && args[0] != "user") {
			return nil, fmt.Errorf("want 'address' or 'user'")
		}
		test := args[0]
		return func(t *target) bool { return toInSubject(t, test) }, nil
	})
	fixed(p, "check_for_faraway_charset_in_headers", func(*target) bool {
		return false // ok_locales is "all" by default: no charset is far away
	})
	fixed(p, "check_ratware_name_id", func(t *target) bool {
		m := reRatwareMID.FindStringSubmatch(t.get("MESSAGEID"))
		return m != nil && matchDynamic(`"[^"]+"\s*<`+regexp.QuoteMeta(m[1])+`>`, t.get("From"), m[1], false)
	})
	fixed(p, "check_ratware_envelope_from", func(t *target) bool {
		to, from := t.get("To:addr"), t.envelopeFrom()
		if from == "" || to == "" || reSRS.MatchString(from) {
			return false
		}
		user, dom, ok := strings.Cut(to, "@")
		if !ok || user == "" || !strings.Contains(dom, ".") {
			return false
		}
		return matchDynamic(`(?i)\b`+regexp.QuoteMeta(dom)+`.`+regexp.QuoteMeta(user)+`@`, from, user+"@", true)
	})
	fixed(p, "check_for_forged_yahoo_received_headers", forgedYahoo)
	fixed(p, "check_for_forged_gmail_received_headers", func(t *target) bool {
		if !reGmailFrom.MatchString(t.get("From:addr")) {
			return false
		}
		xr := t.get("X-Received")
		if reGmailXR1.MatchString(xr) || reGmailXR2.MatchString(xr) || reGmailRcvd.MatchString(t.get("Received")) {
			return false
		}
		return !(len(t.get("X-Gm-Message-State")) >= 60 && len(t.get("X-Google-Smtp-Source")) >= 60)
	})
	fixed(p, "check_for_forged_hotmail_received_headers", func(t *target) bool { return t.hotmail().forged })
	fixed(p, "check_for_no_hotmail_received_headers", func(t *target) bool { return t.hotmail().missing })
	fixed(p, "check_for_msn_groups_headers", msnGroups)
	fixed(p, "check_for_forged_eudoramail_received_headers", func(t *target) bool {
		if !reEudoraFrom.MatchString(t.get("From:addr")) || gatedThroughReceivedRemover(t) {
			return false
		}
		ip := reIPAddress.MatchString(t.get("X-Sender-Ip"))
		return !(reWhowhere.MatchString(t.receivedOneLine()) && ip)
	})
	fixed(p, "check_for_fake_aol_relay_in_rcvd", func(t *target) bool {
		rcvd := t.receivedOneLine()
		if !reAOLRelay.MatchString(rcvd) {
			return false
		}
		return !reAOLVia.MatchString(rcvd) && !reAOLId.MatchString(rcvd)
	})
	fixed(p, "check_for_forged_gw05_received_headers", func(t *target) bool {
		m := reGW05.FindStringSubmatch(t.get("Received") + "\n")
		return m != nil && !strings.Contains(m[2], ".")
	})
}

var (
	reListUnsubLeave = quick(`(?i)<mailto:(?:leave-\S+|\S+-unsubscribe)@\S+>$`)
	reTemplate       = quick(`%[A-Z][A-Z_-]`)
	reTemplateExempt = quick(`(?i)^(?:X-VMS-To|X-UIDL|X-Face|To|Cc|From|Subject|References|In-Reply-To|(?:X-|Resent-|X-Original-)?Message-Id):`)
	reRatwareMID     = regexp.MustCompile(`<[A-Z]{28}\.([^>]+?)>`)
	reSRS            = regexp.MustCompile(`(?i)^SRS\d[=+-]`)
	reGmailFrom      = regexp.MustCompile(`(?i)\bgmail\.com$`)
	reGmailXR1       = regexp.MustCompile(`by 10\.\S+ with SMTP id \S+`)
	reGmailXR2       = regexp.MustCompile(`by 2002:a\d\d:\w+:\S+ with SMTP id \S+`)
	reGmailRcvd      = regexp.MustCompile(`by smtp\.googlemail\.com with ESMTPSA id \S+`)
	reEudoraFrom     = regexp.MustCompile(`(?i)\beudoramail\.com$`)
	reWhowhere       = regexp.MustCompile(`by \S*whowhere.com;`)
	reAOLRelay       = regexp.MustCompile(`(?i) rly-[a-z][a-z]\d\d\.`)
	reAOLVia         = regexp.MustCompile(`/AOL-\d+\.\d+\.\d+\)`)
	reAOLId          = regexp.MustCompile(`ESMTP id (?:RELAY|MAILRELAY|MAILIN)`)
	reGW05           = regexp.MustCompile(`(?s)\nfrom\s(\S+)\sby\s(\S+)\swith\sESMTP;\s+\S\S\S,\s+\d+\s+\S\S\S\s+\d{4}\s+\d\d:\d\d:\d\d\s+[-+]*\d{4}\n$`)
	// SpamAssassin's IP_ADDRESS, loosely: a dotted quad or an IPv6 address.
	reIPAddress = quick(`\b(?:\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}|[0-9a-fA-F]{0,4}(?::[0-9a-fA-F]{0,4}){2,7})\b`)
)

// gatedThroughReceivedRemover: mail that passed a gateway which drops Received
// headers (ezmlm lists, MSN groups), or that has none at all.
func gatedThroughReceivedRemover(t *target) bool {
	if reEzmlm.MatchString(t.get("Mailing-List")) && reEzmlmDelivered.MatchString(t.get("Delivered-To")) &&
		reEzmlmQmail.MatchString(t.get("Received")) {
		return true
	}
	if len(t.header.Values("Received")) == 0 {
		return true
	}
	return reMSNGroupsRcvd.MatchString(t.get("Received"))
}

var (
	reEzmlm          = quick(`(?m)^contact \S+@\S+; run by ezmlm$`)
	reEzmlmDelivered = quick(`(?m)^mailing list \S+@\S+`)
	reEzmlmQmail     = quick(`qmail \d+ invoked (?:from network|by .{3,20})\); \d+ ... \d+`)
	reMSNGroupsRcvd  = quick(`from groups\.msn\.com \(\S+\.msn\.com `)
)

var reOutlookMID = quick(`^<[0-9a-f]{4}([0-9a-f]{8})\$[0-9a-f]{8}\$[0-9a-f]{8}@`)

// outlookMessageID: Outlook Express's message ids encode the time they were made;
// one far from the Date (and from the first Received date) is forged.
func outlookMessageID(t *target) bool {
	m := reOutlookMID.FindStringSubmatch(t.get("MESSAGEID"))
	if m == nil {
		return false
	}
	token, _ := strconv.ParseInt(m[1], 16, 64)
	const x, y, fudge = 0.0023283064365387, 27111902.8329849, 250
	off := func(unix float64) bool {
		expected := int64(unix*x + y)
		return math.Abs(float64(token-expected)) >= fudge
	}
	date, _ := parseDate(t.get("Date"))
	if !off(float64(date)) {
		return false
	}
	// SpamAssassin hands the whole Received text to its date parser, which
	// reads the first date in it.
	rcvd, _ := parseDate(t.get("Received"))
	return off(float64(rcvd))
}

var reSubjectPrefix = quick(`(?i)^(?:(?:Re|Fwd|Fw|Aw|Antwort|WG|SV|VB|VS|VL):\s*)+`)

// reCapsCharset is an encoded word in one of SpamAssassin's
// CHARSETS_LIKELY_TO_FP_AS_CAPS (Constants.pm): charsets of scripts without
// case, whose text reads as all capitals once decoded. Its list, not a longer
// one: UTF-8 among them made every encoded subject of today's mail pass
// (SUBJ_ALL_CAPS missed "OFERTA DE EMPRÉSTIMO", =?utf-8?Q?…).
var reCapsCharset = quick(`(?i)=\?` + capsCharsets + `\?`)

// capsCharsets is CHARSETS_LIKELY_TO_FP_AS_CAPS, the charset names of scripts
// without case; check_for_uppercase reads it too (reCapsCharsetName), where a
// UTF-8 message's share of capitals had been 0.
const capsCharsets = `[-_a-z0-9]*(?:koi|jp|jis|euc|gb|big5|isoir|cp1251|windows-1251|georgianps|pt154|tis)[-_a-z0-9]*`

func subjectIsAllCaps(t *target) bool {
	s := strings.TrimSpace(t.get("Subject"))
	s = reSubjectPrefix.ReplaceAllString(s, "")
	if !strings.ContainsAny(s, " \t\n") || len(s) < 10 {
		return false
	}
	letters := strings.Map(func(r rune) rune {
		if 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' {
			return r
		}
		return -1
	}, s)
	if reCapsCharset.MatchString(t.rawHeader("Subject")) {
		return false
	}
	return letters != "" && letters == strings.ToUpper(letters)
}

// illegalChars: a header with control or 8-bit characters (and not valid UTF-8)
// at ratio or more of its length, count or more of them.
func illegalChars(s, field string, ratio, count float64) bool {
	if strings.TrimSpace(s) == "" {
		return false
	}
	high, ctrl := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x80 {
			high = true
		}
		if c <= 0x08 || c == 0x0b || c == 0x0c || (c >= 0x0e && c <= 0x1f) {
			ctrl = true
		}
	}
	if high && isValidUTF8(s) && !ctrl {
		return false
	}
	illegal, exempt := 0, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= 0x08 || c == 0x0b || c == 0x0c || (c >= 0x0e && c <= 0x1f) || c >= 0x7f {
			illegal++
		}
		if c == 0xa2 || c == 0xa3 || c == 0xae {
			exempt++
		}
	}
	if illegal > 0 && strings.EqualFold(field, "subject") && exempt == 1 {
		illegal--
	}
	return float64(illegal)/float64(len(s)) >= ratio && float64(illegal) >= count
}

func toInSubject(t *target, test string) bool {
	to := t.get("To:addr")
	if to == "" {
		return false
	}
	subject := t.get("Subject")
	if test == "address" {
		return matchDynamic(`(?i)\b`+regexp.QuoteMeta(to)+`\b`, subject, to, true)
	}
	user, _, _ := strings.Cut(to, "@")
	if !mayContain(subject, user, true) {
		return false // every branch below needs it
	}
	if m, sure := userInSubject(subject, user); sure {
		return m
	}
	q := regexp.QuoteMeta(user)
	re, err := regexp.Compile(`(?i)^(?:(?:re|fw):\s*(?:\w+\s+)?` + q + `$|(?-i:` + q + `)\s*[,:;!?-](?:$|\s)|` + q + `$|,\s*` + q + `[,:;!?-]$)`)
	return err == nil && re.MatchString(subject)
}

// userInSubject is toInSubject's expression read by hand (sure) when the subject
// and the user are ASCII and the user has no white space: its every branch is
// anchored at both ends or at the start, so where the user stands is fixed. The
// expression, built from the recipient, was compiled for each message whose
// subject held the user somewhere: a hundredth of the stock rules' time.
func userInSubject(subject, user string) (matched, sure bool) {
	const space = " \t\n\f\r" // \s
	if user == "" || !isASCII(subject) || !isASCII(user) || strings.ContainsAny(user, space) {
		return false, false
	}
	skipSpace := func(s string) string { return strings.TrimLeft(s, space) }
	punct := func(c byte) bool { return strings.IndexByte(",:;!?-", c) >= 0 }
	// (?-i:user)\s*[,:;!?-](?:$|\s)
	if rest, ok := strings.CutPrefix(subject, user); ok {
		if rest = skipSpace(rest); rest != "" && punct(rest[0]) && (len(rest) == 1 || isRE2Space(rest[1])) {
			return true, true
		}
	}
	// user$
	if strings.EqualFold(subject, user) {
		return true, true
	}
	// (?:re|fw):\s*(?:\w+\s+)?user$: the user ends the subject, and before it
	// the prefix, then white space and at most one word and white space after it.
	if len(subject) >= 3+len(user) && (strings.EqualFold(subject[:3], "re:") || strings.EqualFold(subject[:3], "fw:")) &&
		strings.EqualFold(subject[len(subject)-len(user):], user) {
		mid := skipSpace(subject[3 : len(subject)-len(user)])
		word := strings.TrimLeftFunc(mid, func(r rune) bool { return r < utf8.RuneSelf && isWordChar(byte(r)) })
		if mid == "" || word != "" && skipSpace(word) == "" { // (mid starts with no space: a word, if any)
			return true, true
		}
	}
	// ,\s*user[,:;!?-]$
	if len(subject) >= 2+len(user) && subject[0] == ',' && punct(subject[len(subject)-1]) {
		if mid := skipSpace(subject[1 : len(subject)-1]); strings.EqualFold(mid, user) {
			return true, true
		}
	}
	return false, true
}

var (
	reYahooFrom       = quick(`(?i)\byahoo\.com$`)
	reYahooRelay      = quick(` rdns=\S+\.yahoo\.com `)
	reYahooUntrusted  = quick(`^[^\]]+ rdns=\S+\.yahoo\.com `)
	reYahooWeb        = quick(`by web\S+\.mail\S*\.yahoo\.com via HTTP`)
	reYahooSonic      = quick(`by sonic\S+\.consmr\.mail\S*\.yahoo\.com with HTTP`)
	reYahooSMTP       = quick(`by smtp\S+\.yahoo\.com with SMTP`)
	reYahooGroups     = quick(`from \[` + reIPAddress.String() + `\] by \S+\.(?:groups|scd|dcn)\.yahoo\.com with NNFMP`)
	reYahooBulk       = quick(`\bmailer\d+\.bulk\.scd\.yahoo\.com\b`)
	reYahooReplyFrom  = quick(`(?i)@reply\.yahoo\.com$`)
	reYahooIDFormat   = quick(`by \w+\.\w+\.yahoo\.com \(\d+\.\d+\.\d+/\d+\.\d+\.\d+\)(?: with ESMTP)? id \w+`)
	reHotmailPickup   = quick(`from mail pickup service by hotmail\.com with Microsoft SMTPSVC;`)
	reHotmailFrom     = quick(`(?i)\bhotmail\.com$`)
	reHotmailOrig     = quick(`hotmail\.com|msonline\-outlook`)
	reHotmailRcvd1    = quick(`from (?:\S*\.)?hotmail.com \(\S+\.hotmail(?:\.msn)?\.com[ \)]`)
	reHotmailRcvd2    = quick(`from \S*\.outbound\.protection\.outlook\.com \(\S+\.outbound\.protection\.outlook\.com[ \)]`)
	reHotmailRcvd3    = quick(`from \S*\.(?:eur|nam)prd\d+\.prod\.outlook\.com \(` + reIPAddress.String() + `\)`)
	reHotmailRcvd4    = quick(`from \S*\.hotmail.com \(\[` + reIPAddress.String() + `\][ \):]`)
	reHotmailRcvd5    = quick(`from \S+ by \S+\.hotmail(?:\.msn)?\.com with HTTP;`)
	reHotmailRcvd6    = quick(`from \[66\.218.\S+\] by \S+\.yahoo\.com`)
	reHotmailClaimed  = quick(`(?:from |HELO |helo=)\S*hotmail\.com\b`)
	reMSNGroupsTo     = regexp.MustCompile(`(?i)<(\S+)@groups\.msn\.com>`)
	reMSNGroupsPickup = regexp.MustCompile(`from mail pickup service by ((?:p\d\d\.)groups\.msn\.com)\b`)
)

func forgedYahoo(t *target) bool {
	from := t.get("From:addr")
	if !reYahooFrom.MatchString(from) {
		return false
	}
	rcvd := t.get("Received")
	if t.get("Resent-From") != "" && t.get("Resent-To") != "" {
		if x := t.get("X-Received"); x != "" {
			rcvd = x
		}
	}
	rcvd = joinFields(rcvd)
	if gatedThroughReceivedRemover(t) {
		return false
	}
	r := t.relays()
	if reYahooRelay.MatchString(r.trustedStr) || reYahooUntrusted.MatchString(r.untrustedStr) {
		return false
	}
	switch {
	case reYahooWeb.MatchString(rcvd), reYahooSonic.MatchString(rcvd), reYahooSMTP.MatchString(rcvd),
		reYahooGroups.MatchString(rcvd), reYahooIDFormat.MatchString(rcvd):
		return false
	case reYahooBulk.MatchString(rcvd) && reYahooReplyFrom.MatchString(from):
		return false
	}
	return true
}

// hotmailResult is _check_for_forged_hotmail_received_headers's two answers.
type hotmailResult struct{ forged, missing bool }

func (t *target) hotmail() hotmailResult {
	if t.hotmailDone {
		return t.hotmailRes
	}
	t.hotmailDone = true
	rcvd := t.receivedOneLine()
	// Either answer needs hotmail.com in the Received headers (forged) or in
	// From (missing); the exemptions below only ever clear them. Most mail
	// has neither, and is spared the dozen patterns over every Received line.
	if !strings.Contains(rcvd, "hotmail.com") && !strings.Contains(strings.ToLower(t.get("From:addr")), "hotmail.com") {
		return t.hotmailRes
	}
	if reHotmailPickup.MatchString(rcvd) || msnGroups(t) || gatedThroughReceivedRemover(t) {
		return t.hotmailRes
	}
	ip := reIPAddress.MatchString(t.get("X-Originating-Ip"))
	orig := reHotmailOrig.MatchString(t.get("X-OriginatorOrg"))
	switch {
	case reHotmailRcvd1.MatchString(rcvd) && ip, reHotmailRcvd2.MatchString(rcvd) && orig,
		reHotmailRcvd3.MatchString(rcvd) && orig, reHotmailRcvd4.MatchString(rcvd) && ip,
		reHotmailRcvd5.MatchString(rcvd) && ip, reHotmailRcvd6.MatchString(rcvd) && ip:
		return t.hotmailRes
	}
	if reHotmailClaimed.MatchString(rcvd) {
		t.hotmailRes.forged = true
	} else if reHotmailFrom.MatchString(t.get("From:addr")) {
		t.hotmailRes.missing = true
	}
	return t.hotmailRes
}

func msnGroups(t *target) bool {
	m := reMSNGroupsTo.FindStringSubmatch(t.get("To"))
	if m == nil {
		return false
	}
	list := m[1]
	s := reMSNGroupsPickup.FindStringSubmatch(t.get("Received"))
	if s == nil {
		return false
	}
	mid := t.get("Message-Id")
	if list == "notifications" {
		return matchDynamic(`^<\S+@`+regexp.QuoteMeta(s[1])+`>`, mid, s[1], false)
	}
	return matchDynamic(`^<`+regexp.QuoteMeta(list)+`-\S+@groups\.msn\.com>`, mid, list, false) &&
		strings.Contains(t.envelopeFrom(), list+"-bounce@groups.msn.com")
}

// recipientStats is _check_recipients: whether To and Cc are sorted, and how alike.
type recipientStats struct {
	sorted  bool
	similar float64
}

func (t *target) recipients() recipientStats {
	if t.recipientsDone {
		return t.recipientsRes
	}
	t.recipientsDone = true
	inputs := append(t.addresses("ToCc"), t.addresses("Bcc")...)
	var addrs []string
	prev := ""
	for _, a := range inputs {
		if a == "" {
			break
		}
		if !strings.EqualFold(a, prev) {
			addrs = append(addrs, a)
			prev = a
		}
		if len(addrs) == 256 {
			break
		}
	}
	res := recipientStats{}
	if len(addrs) >= 7 {
		s := append([]string(nil), addrs...)
		sort.Strings(s)
		res.sorted = strings.Join(s, ",") == strings.Join(addrs, ",")
	}
	if len(addrs) >= 5 {
		prefix := func(s string) string {
			if len(s) > 2 {
				return s[:2]
			}
			return s
		}
		var hits, combos float64
		for i := range addrs {
			for j := i + 1; j < len(addrs); j++ {
				_, hi, _ := strings.Cut(addrs[i], "@")
				_, hj, _ := strings.Cut(addrs[j], "@")
				if prefix(addrs[i]) == prefix(addrs[j]) {
					hits++
				}
				if prefix(hi) == prefix(hj) && hi != hj {
					hits++
				}
				combos++
			}
		}
		res.similar = hits / combos
	}
	t.recipientsRes = res
	return res
}

// dateStats are the Date header's time and its difference to the Received dates.
type dateStats struct {
	header int64   // Unix time of Resent-Date or Date; 0 none
	diff   float64 // seconds: Date minus the nearest Received date; 0 when unknown
}

// rcvdDate is the date of a Received line as _check_date_diff finds it: the
// leftmost match in s of /(\s.?\d+ \S\S\S \d+ \d+:\d+:\d+ \S+)/ (reRcvdDate in the
// tests, which hold the two to the same answers). Go's backtracker tried the
// expression from every byte of every Received line: most of the date rules' time.
// A match starts at a space; from there the parts are fixed but for .?, which takes
// a character when it can (the end is the same either way: the digits run on to
// the same space).
func rcvdDate(s string) (string, bool) {
	for i := 0; i < len(s); i++ {
		if !isRE2Space(s[i]) {
			continue
		}
		j := i + 1
		if j < len(s) && s[j] != '\n' {
			_, w := utf8.DecodeRuneInString(s[j:])
			if end := rcvdDateRest(s, j+w); end >= 0 {
				return s[i:end], true
			}
		}
		if end := rcvdDateRest(s, j); end >= 0 {
			return s[i:end], true
		}
	}
	return "", false
}

// rcvdDateRest matches `\d+ \S\S\S \d+ \d+:\d+:\d+ \S+` at i, returning its end or -1.
func rcvdDateRest(s string, i int) int {
	digits := func(i int) int {
		j := i
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if j == i {
			return -1
		}
		return j
	}
	lit := func(i int, c byte) int {
		if i >= 0 && i < len(s) && s[i] == c {
			return i + 1
		}
		return -1
	}
	nonSpace := func(i int) int { // one \S: a rune that is not RE2's \s
		if i < 0 || i >= len(s) || isRE2Space(s[i]) {
			return -1
		}
		_, w := utf8.DecodeRuneInString(s[i:])
		return i + w
	}
	if i = lit(digits(i), ' '); i < 0 {
		return -1
	}
	for k := 0; k < 3; k++ {
		if i = nonSpace(i); i < 0 {
			return -1
		}
	}
	if i = lit(i, ' '); i < 0 {
		return -1
	}
	for _, sep := range []byte{' ', ':', ':'} {
		if i = digits(i); i < 0 {
			return -1
		}
		if i = lit(i, sep); i < 0 {
			return -1
		}
	}
	if i = digits(i); i < 0 {
		return -1
	}
	if i = lit(i, ' '); i < 0 {
		return -1
	}
	if i = nonSpace(i); i < 0 {
		return -1
	}
	for i < len(s) && !isRE2Space(s[i]) {
		_, w := utf8.DecodeRuneInString(s[i:])
		i += w
	}
	return i
}

// isRE2Space is \s as Go's regexp reads it: [\t\n\f\r ].
func isRE2Space(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r'
}

// dates is _check_date_diff.
func (t *target) dates() dateStats {
	if t.datesDone {
		return t.datesRes
	}
	t.datesDone = true
	var d dateStats
	for _, f := range []string{"Resent-Date", "Date"} {
		for _, v := range t.header.Values(f) {
			if u, ok := parseDate(v); ok {
				d.header = u
				break
			}
		}
		if d.header != 0 {
			break
		}
	}
	if d.header == 0 {
		t.datesRes = d
		return d
	}
	var received []string
	for _, r := range t.receivedLines() {
		if strings.TrimSpace(r) != "" {
			received = append(received, r)
		}
	}
	// Received lines added on the local host (fetchmail, qmail) say when the
	// message was fetched, not sent: set aside as SpamAssassin does.
	if len(received) > 0 && (reLocalRcvd.MatchString(received[0]) || reQmailLocal.MatchString(received[0])) {
		local := received[0]
		received = received[1:]
		if !(len(received) > 0 && reFetchmail.MatchString(received[0])) {
			received = append([]string{local}, received...)
		} else {
			received = received[1:]
		}
	}
	var diffs []float64
	for _, r := range received {
		if m, ok := rcvdDate(r); ok {
			if u, ok := parseDate(m); ok {
				diffs = append(diffs, float64(d.header-u))
			}
		}
	}
	if len(diffs) > 1 && diffs[len(diffs)-1] == 0 {
		diffs = diffs[:len(diffs)-1]
	}
	if len(diffs) > 0 {
		sort.SliceStable(diffs, func(i, j int) bool { return math.Abs(diffs[i]) < math.Abs(diffs[j]) })
		d.diff = diffs[0]
	}
	t.datesRes = d
	return d
}

var (
	// Through the Received parser's prefilter (quickRegexp): its leading \b leaves
	// Go's regexp no literal prefix, so it read every message's first Received
	// line whole, where most lines hold neither localhost nor 127.0.0.1.
	reLocalRcvd  = re(`\bfrom (?:localhost\s|(?:\S+ ){1,2}\S*\b127\.0\.0\.1\b)`)
	reQmailLocal = quick(`qmail \d+ invoked by uid \d+`)
	reFetchmail  = quick(`\bby localhost with \w+ \(fetchmail-[\d.]+`)
)

// parseDate is SpamAssassin's parse_rfc822_date (Mail/SpamAssassin/Util.pm), whose
// leniencies the date rules are tuned to: two-digit years before 50 are 20xx,
// other short years 19xx, years outside 1970-2037 are clamped to them, an
// impossible day is the first of the next month, zone names are read from its
// table and unknown ones are UTC.
//
// SpamAssassin reads the date with regexps over its words, each set between
// single spaces (commas made spaces); every one of them but the zone's reads
// whole words. So the date's words are read here one by one, in the regexps'
// order, and the first that fit are the regexps' leftmost matches: a sixth of
// the time, six or so dates a message (the Date field and each Received
// line). TestParseDateAsRegexps holds it to the regexps.
func parseDate(date string) (int64, bool) {
	var buf [16]string
	w := dateWords(date, buf[:0])
	var day, year, mon int
	gone := -1 // the first of the words the date's regexp took
	n := 0
	for k := 0; k+2 < len(w) && gone < 0; k++ { // (\d+) (Mon) (\d{4})
		if isDigits(w[k]) && isMonth(w[k+1]) && len(w[k+2]) == 4 && isDigits(w[k+2]) {
			day, _ = strconv.Atoi(w[k])
			mon = monthIndex(w[k+1])
			year, _ = strconv.Atoi(w[k+2])
			gone, n = k, 3
		}
	}
	for k := 0; k+3 < len(w) && gone < 0; k++ { // (Mon) +(\d+) \d+:\d+:\d+ (\d{4})
		if isMonth(w[k]) && isDigits(w[k+1]) && isClock(w[k+2]) && len(w[k+3]) == 4 && isDigits(w[k+3]) {
			mon = monthIndex(w[k])
			day, _ = strconv.Atoi(w[k+1])
			year, _ = strconv.Atoi(w[k+3])
			gone, n = k, 4
		}
	}
	for k := 0; k+2 < len(w) && gone < 0; k++ { // (\d+) (Mon) (\d{2,3})
		if isDigits(w[k]) && isMonth(w[k+1]) && (len(w[k+2]) == 2 || len(w[k+2]) == 3) && isDigits(w[k+2]) {
			day, _ = strconv.Atoi(w[k])
			mon = monthIndex(w[k+1])
			year, _ = strconv.Atoi(w[k+2])
			if len(w[k+2]) == 2 && year < 50 {
				year += 2000
			} else {
				year += 1900
			}
			gone, n = k, 3
		}
	}
	if gone < 0 {
		return 0, false
	}
	w = append(w[:gone], w[gone+n:]...)
	var hh, mm, ss int
	for k, f := range w { // (\d?\d):(\d\d)(:(\d\d))?, the whole word
		if h, m, sec, ok := clockOf(f); ok {
			hh, mm, ss = h, m, sec
			w = append(w[:k], w[k+1:]...)
			break
		}
	}
	offset := 0
	if k := slices.IndexFunc(w, isOffset); k >= 0 { // ([-+]\d{4})
		offset = zoneOffset(w[k])
	} else if z, ok := zoneName(w); ok {
		if o, ok := dateZones[z]; ok {
			offset = zoneOffset(o)
		}
	}
	return dateSeconds(year, mon, day, hh, mm, ss, offset)
}

// dateSeconds is parse_rfc822_date's end: the date's fields made a time, with its
// leniencies (parseDate); false without a month.
func dateSeconds(year, mon, day, hh, mm, ss, offset int) (int64, bool) {
	ss, mm, hh = min(ss, 59), min(mm, 59), min(hh, 23)
	maxDay := 31
	switch mon {
	case 4, 6, 9, 11:
		maxDay = 30
	case 2:
		maxDay = 28
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			maxDay = 29
		}
	}
	if day > maxDay {
		day, mon = 1, mon+1
		if mon > 12 {
			mon, year = 1, year+1
		}
	}
	year = max(1970, min(year, 2037))
	if mon == 0 {
		return 0, false
	}
	u := time.Date(year, time.Month(mon), max(day, 1), hh, mm, ss, 0, time.UTC).Unix()
	if offset > 0 && u < int64(offset) {
		return 0, true
	}
	return u - int64(offset), true
}

// dateWords appends to w the words of date: strings.Fields with commas for
// spaces, without its copies.
func dateWords(date string, w []string) []string {
	start := -1
	for i := 0; i < len(date); {
		r, size := rune(date[i]), 1
		if r >= utf8.RuneSelf {
			r, size = utf8.DecodeRuneInString(date[i:])
		}
		if r == ',' || unicode.IsSpace(r) {
			if start >= 0 {
				w = append(w, date[start:i])
				start = -1
			}
		} else if start < 0 {
			start = i
		}
		i += size
	}
	if start >= 0 {
		w = append(w, date[start:])
	}
	return w
}

// isDigits says whether s is ASCII digits, at least one.
func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// isMonth says whether s is a month's three letters, in either case as (?i)
// reads them (ſ for s too).
func isMonth(s string) bool {
	if len(s) < 3 || len(s) > 9 { // (three runes of up to three bytes)
		return false
	}
	for _, m := range [...]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"} {
		if strings.EqualFold(s, m) {
			return true
		}
	}
	return false
}

// isClock is \d+:\d+:\d+, the whole word.
func isClock(s string) bool {
	a, rest, ok1 := strings.Cut(s, ":")
	b, c, ok2 := strings.Cut(rest, ":")
	return ok1 && ok2 && isDigits(a) && isDigits(b) && isDigits(c)
}

// clockOf reads (\d?\d):(\d\d)(:(\d\d))?, the whole word.
func clockOf(s string) (h, m, sec int, ok bool) {
	hs, rest, found := strings.Cut(s, ":")
	if !found || len(hs) < 1 || len(hs) > 2 || !isDigits(hs) || len(rest) < 2 || !isDigits(rest[:2]) {
		return 0, 0, 0, false
	}
	switch {
	case len(rest) == 2:
	case len(rest) == 5 && rest[2] == ':' && isDigits(rest[3:]):
		sec, _ = strconv.Atoi(rest[3:])
	default:
		return 0, 0, 0, false
	}
	h, _ = strconv.Atoi(hs)
	m, _ = strconv.Atoi(rest[:2])
	return h, m, sec, true
}

func isOffset(s string) bool {
	return len(s) == 5 && (s[0] == '+' || s[0] == '-') && isDigits(s[1:])
}

// zoneName is \b([A-Z]{2,4}(?:-DST)?)\b's leftmost match among the words (none
// spans a space).
func zoneName(w []string) (string, bool) {
	for _, f := range w {
		for p := 0; p+1 < len(f); p++ {
			if !isUpper(f[p]) || p > 0 && isWordChar(f[p-1]) {
				continue
			}
			n := 0
			for n < 4 && p+n < len(f) && isUpper(f[p+n]) {
				n++
			}
			for ; n >= 2; n-- { // (greedy, then shorter)
				end := p + n
				if strings.HasPrefix(f[end:], "-DST") && (end+4 == len(f) || !isWordChar(f[end+4])) {
					return f[p : end+4], true
				}
				if end == len(f) || !isWordChar(f[end]) {
					return f[p:end], true
				}
			}
		}
	}
	return "", false
}

func isUpper(c byte) bool { return 'A' <= c && c <= 'Z' }

var (
	// SpamAssassin's %TZ.
	dateZones = map[string]string{"UT": "+0000", "UTC": "+0000", "NDT": "-0230", "AST": "-0400", "ADT": "-0300",
		"NST": "-0330", "EST": "-0500", "EDT": "-0400", "CST": "-0600", "CDT": "-0500", "MST": "-0700",
		"MDT": "-0600", "PST": "-0800", "PDT": "-0700", "HST": "-1000", "AKST": "-0900", "AKDT": "-0800",
		"HADT": "-0900", "HAST": "-1000", "GMT": "+0000", "BST": "+0100", "IST": "+0100", "WET": "+0000",
		"WEST": "+0100", "CET": "+0100", "CEST": "+0200", "EET": "+0200", "EEST": "+0300", "MSK": "+0300",
		"MSD": "+0400", "MET": "+0100", "MEZ": "+0100", "MEST": "+0200", "MESZ": "+0200", "BRST": "-0200",
		"BRT": "-0300", "AEST": "+1000", "AEDT": "+1100", "ACST": "+0930", "ACDT": "+1030", "AWST": "+0800",
		"NZST": "+1200", "NZDT": "+1300", "JST": "+0900", "KST": "+0900", "HKT": "+0800", "SGT": "+0800",
		"PHT": "+0800", "IDT": "+0300"}
)

func monthIndex(s string) int {
	const months = "janfebmaraprmayjunjulaugsepoctnovdec"
	if i := strings.Index(months, strings.ToLower(s)); i >= 0 && i%3 == 0 {
		return i/3 + 1
	}
	return 0
}

// zoneOffset is a +hhmm offset in seconds.
func zoneOffset(z string) int {
	if len(z) != 5 || (z[0] != '+' && z[0] != '-') {
		return 0
	}
	h, err1 := strconv.Atoi(z[1:3])
	m, err2 := strconv.Atoi(z[3:5])
	if err1 != nil || err2 != nil {
		return 0
	}
	o := h*3600 + m*60
	if z[0] == '-' {
		o = -o
	}
	return o
}

// secondLevel is the last two labels of an address's domain, as
// check_equal_from_domains compares them.
func secondLevel(addr string) string {
	i := strings.LastIndexByte(addr, '@')
	if i < 0 {
		return ""
	}
	dom := addr[i+1:]
	labels := strings.Split(dom, ".")
	if len(labels) > 2 {
		dom = strings.Join(labels[len(labels)-2:], ".")
	}
	return dom
}

// matchDynamic matches an expression built from the message's own text (an
// address quoted into it): text that is not valid UTF-8 cannot be compiled, and
// then does not match. Compiling costs far more than matching, so a text that
// lacks needle, which every match holds (ignoring case when fold), is turned
// away first.
func matchDynamic(expr, s, needle string, fold bool) bool {
	if !mayContain(s, needle, fold) {
		return false
	}
	re, err := regexp.Compile(expr)
	return err == nil && re.MatchString(s)
}

// mayContain is false only when s surely does not hold needle: with fold, as
// (?i) folds case. A needle that is not ASCII is let through. A text that is
// not ASCII is read with each rune that (?i) folds to an ASCII letter (the
// Kelvin sign to k, the long s to s) written as that letter: then an ASCII
// needle is in it, case aside, exactly where (?i) would find it. Most
// subjects with an emoji or an accent were let through before, and each
// cost the caller a regexp compiled for one message.
func mayContain(s, needle string, fold bool) bool {
	if !fold {
		return strings.Contains(s, needle)
	}
	if !isASCII(needle) {
		return true
	}
	if !isASCII(s) {
		s = asciiFolded(s)
	}
	return indexFold(s, strings.ToLower(needle)) >= 0
}

// asciiFolded returns s with each rune outside ASCII whose case-folding orbit
// holds an ASCII letter replaced by that letter; other runes are kept.
func asciiFolded(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		if r >= utf8.RuneSelf {
			for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
				if f < utf8.RuneSelf {
					r = f
					break
				}
			}
		}
		b.WriteRune(r)
	}
	return b.String()
}
