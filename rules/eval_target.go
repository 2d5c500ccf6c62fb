package rules

import (
	"strings"
	"unicode/utf8"
)

// What eval functions read of a message, as SpamAssassin's $pms->get gives it, and
// what several of them compute once per message (kept in evalCache).

// evalCache holds per-message results that several evals share.
type evalCache struct {
	gets map[string]string

	envFromDone    bool
	envFrom        string
	hotmailDone    bool
	hotmailRes     hotmailResult
	recipientsDone bool
	recipientsRes  recipientStats
	datesDone      bool
	datesRes       dateStats
	relaysRes      *relays
	mimeRes        *mimeStats
	htmlRes        *htmlStats
	uppercaseDone  bool
	uppercase      float64
	base64LenDone  bool
	base64Len      int
	fromAddrs      []string        // allFromAddrs, once computed (nil: not yet)
	toAddrs        []string        // allToAddrs, likewise
	uriListed      map[string]bool // the URI host lists a link is on, once computed
	anchorMailtos  []string        // the mailto: links of <a> tags (FreeMail reads them)
	imageRes       *imageStats
	evalKind       Kind // the kind of the eval rule running (its text: body or rawbody)
	rawTextDone    bool
	rawTextCache   string
	altDiffDone    bool
	altDiffRes     altDiffStats
	dkimWL         uint8 // the DKIM welcome lists' answer (dkimWLDone and the lists that hit)
}

// get is SpamAssassin's $pms->get(field) in scalar context: every instance of the
// field, unfolded and decoded, joined by newlines; "" when absent. FIELD:addr is the
// first address, FIELD:name its display name, FIELD:raw undecoded; the fields ALL,
// ToCc, MESSAGEID and EnvelopeFrom are SpamAssassin's.
func (t *target) get(field string) string {
	if v, ok := t.gets[field]; ok {
		return v
	}
	if t.gets == nil {
		t.gets = map[string]string{}
	}
	name, mod, _ := strings.Cut(field, ":")
	var v string
	switch {
	case name == "EnvelopeFrom":
		v = t.envelopeFrom()
	case mod == "addr":
		if a := t.addresses(name); len(a) > 0 {
			v = a[0]
		}
	case mod == "name":
		// The first, as SpamAssassin's get in scalar context.
		v, _ = t.headerValue(name, mod)
		v, _, _ = strings.Cut(v, "\n")
	default:
		v, _ = t.headerValue(name, mod)
	}
	t.gets[field] = v
	return v
}

// rawHeader is a field's raw value, unfolded: get(field+":raw").
func (t *target) rawHeader(field string) string { return t.get(field + ":raw") }

// addresses are the addresses of every instance of a field (ToCc: To and Cc), as
// SpamAssassin's FIELD:addr gives them in list context: the header rules' value
// of FIELD:addr, one a line, parsed once for both.
func (t *target) addresses(field string) []string {
	v, ok := t.headerValue(field, "addr")
	if !ok {
		return nil
	}
	return strings.Split(v, "\n")
}

// envelopeFrom is the envelope sender: the MTA's MAIL FROM when the milter gave
// it, else as SpamAssassin's get_envelope_from reads it from the message: the
// envelope sender the newest untrusted relay recorded, else X-Envelope-From,
// Envelope-Sender or Return-Path when they stand above every Received line (added
// by the receiving MTA, not by whoever sent the message).
func (t *target) envelopeFrom() string {
	if t.envFromDone {
		return t.envFrom
	}
	t.envFromDone = true
	if e := t.msg.Env; e != nil && e.MailFrom != "" {
		t.envFrom = strings.Trim(e.MailFrom, "<>")
		return t.envFrom
	}
	r := t.relays()
	var last *relay
	if len(r.untrusted) > 0 {
		last = &r.untrusted[0]
	} else if len(r.trusted) > 0 {
		last = &r.trusted[len(r.trusted)-1]
	}
	if last != nil && strings.Index(last.envfrom, "@") > 0 {
		t.envFrom = last.envfrom
		return t.envFrom
	}
	// X-Sender:first:addr, as SpamAssassin's parser reads it: it keeps
	// "info@example.com" of "info@example.com@example.com (Unverified)", and
	// nothing of "@ (Unverified)".
	if strings.Contains(t.firstAddress("X-Sender"), "@") &&
		strings.Contains(t.get("Received"), "(fetchmail") {
		return ""
	}
	// Where the first Received is, and where each field last appears: a field
	// below a Received line (any of its copies: /^Received:.*?^Return-Path:/sm)
	// may be a list's new envelope sender, not the one this message came with.
	lastAt := map[string]int{}
	rcvd, i := -1, 0
	for f := t.header.Fields(); f.Next(); i++ {
		k := strings.ToLower(f.Key())
		lastAt[k] = i
		if k == "received" && rcvd < 0 {
			rcvd = i
		}
	}
	for _, f := range []string{"X-Envelope-From", "Envelope-Sender", "Return-Path"} {
		a := t.firstAddress(f)
		if a == "" {
			continue
		}
		if rcvd >= 0 && rcvd < lastAt[strings.ToLower(f)] {
			if f == "X-Envelope-From" {
				return "" // SpamAssassin gives up here
			}
			continue
		}
		t.envFrom = a
		return t.envFrom
	}
	return ""
}

// firstAddress is SpamAssassin's FIELD:first:addr: the first address of the
// field's first instance, "" when it has none (a "Return-Path: yyyy" gives none,
// though a later Return-Path may).
func (t *target) firstAddress(field string) string {
	vs := t.header.Values(field)
	if len(vs) == 0 {
		return ""
	}
	if a := addressParts(strings.Trim(vs[0], perlSpaces), "addr"); len(a) > 0 {
		return a[0]
	}
	return ""
}

// receivedLines are the Received fields, each unfolded onto one line, newest first.
func (t *target) receivedLines() []string {
	if v := t.get("Received"); v != "" {
		return strings.Split(v, "\n")
	}
	return nil
}

// receivedOneLine is every Received field on one line, white space collapsed
// ($rcvd =~ s/\s+/ /gs in SpamAssassin).
func (t *target) receivedOneLine() string {
	return joinFields(t.get("Received"))
}

func isValidUTF8(s string) bool { return utf8.ValidString(s) }
