package rules

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/postern/postern/auth"
	"github.com/postern/postern/filter"
)

// authHits loads the four authenticated welcome list evals under lines and says
// which hit a message from `from`, with the envelope's SPF result spf (nil: not
// checked) and the DKIM signatures sigs (nil: no verification). It also says how
// often the signatures were asked for.
func authHits(t *testing.T, lines, from string, spf *filter.SPF, sigs []DKIMSignature) (hits []string, asked int) {
	t.Helper()
	rules := lines + `
header T_SPF_WL eval:check_for_spf_welcomelist_from()
header T_DEF_SPF_WL eval:check_for_def_spf_whitelist_from()
header T_DKIM_WL eval:check_for_dkim_welcomelist_from()
header T_DEF_DKIM_WL eval:check_for_def_dkim_welcomelist_from()
score T_SPF_WL 1
score T_DEF_SPF_WL 1
score T_DKIM_WL 1
score T_DEF_DKIM_WL 1
`
	dir := writeRules(t, map[string]string{"a.cf": rules})
	s, problems := Load(filepath.Join(dir, "a.cf"))
	if errs := Errors(problems); len(errs) > 0 {
		t.Fatal(errs)
	}
	m := msgOf(t, "From: "+from+"\nTo: b@example.net\nSubject: x\n\nx\n")
	m.Env.SPF = spf
	var src *AuthSource
	if sigs != nil {
		src = &AuthSource{
			Signatures: func() []DKIMSignature { asked++; return sigs },
			All:        func() *Authentication { t.Error("the welcome lists asked for DMARC"); return &Authentication{} },
		}
	}
	found, err := s.EvalAuthenticated(m, src)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range found {
		hits = append(hits, h.Rule.Name)
	}
	slices.Sort(hits)
	return hits, asked
}

// The answers are those of SpamAssassin 4's SPF and DKIM plugins
// (_check_spf_welcomelist, _check_dkim_welcomelist and _wlcheck_list), read
// from its Perl.
func TestAuthenticatedWelcomelists(t *testing.T) {
	pass := func(sender string) *filter.SPF {
		return &filter.SPF{Result: "pass", Identity: "mailfrom", Domain: sender[strings.IndexByte(sender, '@')+1:], Sender: sender}
	}
	sig := func(d string) []DKIMSignature { return []DKIMSignature{{Valid: true, Domain: d}} }
	tests := []struct {
		name, lines, from string
		spf               *filter.SPF
		sigs              []DKIMSignature
		want              string // the hits, space-separated
		asked             int    // times the signatures were asked for
	}{
		{"welcomelist_auth, SPF pass", "welcomelist_auth *@bank.example", "a@bank.example", pass("bounce@bank.example"), nil, "T_SPF_WL", 0},
		{"SPF reads the envelope sender, not From", "welcomelist_auth *@bank.example", "a@bank.example", pass("bounce@mailer.example"), nil, "", 0},
		{"SPF fail", "welcomelist_auth *@bank.example", "a@bank.example",
			&filter.SPF{Result: "softfail", Identity: "mailfrom", Domain: "bank.example", Sender: "x@bank.example"}, nil, "", 0},
		{"the null sender's HELO pass is no sender", "welcomelist_auth *@bank.example", "a@bank.example",
			&filter.SPF{Result: "pass", Identity: "helo", Domain: "bank.example", Sender: "postmaster@bank.example"}, nil, "", 0},
		{"def_ and old names", "def_whitelist_auth *@bank.example\nwhitelist_from_spf a@shop.example", "a@bank.example",
			pass("a@bank.example"), nil, "T_DEF_SPF_WL", 0},
		{"welcomelist_from_spf, upper case", "welcomelist_from_spf A@Shop.example", "x@y.example", pass("a@shop.example"), nil, "T_SPF_WL", 0},
		{"unwelcomelist_auth removes both", "welcomelist_auth *@bank.example\ndef_welcomelist_auth *@bank.example\nunwelcomelist_auth *@bank.example",
			"a@bank.example", pass("a@bank.example"), sig("bank.example"), "", 0},
		{"welcomelist_auth, author domain signature", "welcomelist_auth *@bank.example", "Bank <a@Bank.example>", nil,
			sig("bank.example"), "T_DKIM_WL", 1},
		{"welcomelist_auth, a third party's signature", "welcomelist_auth *@bank.example", "a@bank.example", nil,
			sig("esp.example"), "", 1},
		{"an invalid signature", "welcomelist_auth *@bank.example", "a@bank.example", nil,
			[]DKIMSignature{{Valid: false, Domain: "bank.example"}}, "", 1},
		// (The signing domain is the identity's, i=: auth's SigningDomain,
		// held to SpamAssassin in TestDKIMWelcomelistsAsSpamAssassin.)
		{"a subdomain signs", "welcomelist_auth *@bank.example", "a@bank.example", nil,
			sig("mail.bank.example"), "", 1},
		{"from_dkim, a named signer", "welcomelist_from_dkim *@imdb.example esp.example", "a@imdb.example", nil,
			sig("esp.example"), "T_DKIM_WL", 1},
		{"from_dkim, a named signer, signed by the author", "welcomelist_from_dkim *@imdb.example esp.example", "a@imdb.example", nil,
			sig("imdb.example"), "", 1},
		{"from_dkim, *.signer takes subdomains", "def_welcomelist_from_dkim *@* *.esp.example", "a@any.example", nil,
			sig("eu.esp.example"), "T_DEF_DKIM_WL", 1},
		{"from_dkim, *.signer is not the signer", "def_welcomelist_from_dkim *@* *.esp.example", "a@any.example", nil,
			sig("esp.example"), "", 1},
		{"from_dkim, .signer as *.signer", "welcomelist_from_dkim *@* .esp.example", "a@any.example", nil,
			sig("eu.esp.example"), "T_DKIM_WL", 1},
		{"from_dkim, an address as the signer", "welcomelist_from_dkim a@x.example bounce@ESP.example", "a@x.example", nil,
			sig("esp.example"), "T_DKIM_WL", 1},
		{"from_dkim without a signer: the author's domain", "def_welcomelist_from_dkim *@*.shop.example", "a@news.shop.example", nil,
			sig("news.shop.example"), "T_DEF_DKIM_WL", 1},
		{"unwelcomelist_from_dkim takes the signer named", "welcomelist_from_dkim *@x.example esp.example\nwelcomelist_from_dkim *@x.example\nunwelcomelist_from_dkim *@x.example esp.example",
			"a@x.example", nil, sig("esp.example"), "", 1},
		{"both, user and default", "welcomelist_auth *@bank.example\ndef_welcomelist_from_spf *@bank.example", "a@bank.example",
			pass("b@bank.example"), sig("bank.example"), "T_DEF_SPF_WL T_DKIM_WL T_SPF_WL", 1},
		// The signatures are asked for only when an entry names the author,
		// and once for both evals.
		{"no entry for the author: no verification", "welcomelist_auth *@bank.example\ndef_welcomelist_from_dkim *@other.example", "a@shop.example", nil,
			sig("shop.example"), "", 0},
		{"without sender authentication", "welcomelist_auth *@bank.example", "a@bank.example", nil, nil, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hits, asked := authHits(t, tt.lines, tt.from, tt.spf, tt.sigs)
			if got := strings.Join(hits, " "); got != tt.want || asked != tt.asked {
				t.Errorf("hits %q, signatures asked for %d times; want %q, %d", got, asked, tt.want, tt.asked)
			}
		})
	}
}

// With SpamAssassin's stock rules, the lists it ships and the scores and meta
// rules it gives them: a message From: paypal.com that paypal.com signed, sent
// from an envelope sender whose SPF passed, is in both default lists; an
// operator's welcomelist_auth entry scores -100 for each.
func TestStockAuthenticatedWelcomelists(t *testing.T) {
	s := stockRules(t, false)
	raw := "From: PayPal <service@paypal.com>\nTo: b@example.net\nSubject: Your receipt\nMessage-ID: <1@paypal.com>\nDate: Mon, 1 Jun 2026 10:00:00 +0000\n\nThanks.\n"
	score := func(s *Set, spf *filter.SPF, sigs []DKIMSignature) (map[string]float64, float64) {
		m := msgOf(t, raw)
		m.Env.SPF, m.Env.MailFrom = spf, spf.Sender
		hits, err := s.EvalAuthenticated(m, sourceOf(sigs, &Authentication{}))
		if err != nil {
			t.Fatal(err)
		}
		got, sum := map[string]float64{}, 0.0
		for _, h := range hits {
			got[h.Rule.Name] = h.Scores[1]
			sum += h.Scores[1]
		}
		return got, sum
	}
	passed := &filter.SPF{Result: "pass", Identity: "mailfrom", Domain: "paypal.com", Sender: "service@paypal.com"}
	signed := []DKIMSignature{{Valid: true, Domain: "paypal.com"}}
	got, _ := score(s, passed, signed)
	for name, want := range map[string]float64{"USER_IN_DEF_SPF_WL": -7.5, "USER_IN_DEF_DKIM_WL": -7.5, "ENV_AND_HDR_SPF_MATCH": -0.5} {
		if got[name] != want {
			t.Errorf("%s scores %v, want %v (hits: %v)", name, got[name], want, got)
		}
	}
	failed := &filter.SPF{Result: "fail", Identity: "mailfrom", Domain: "paypal.com", Sender: "service@paypal.com"}
	if got, _ := score(s, failed, []DKIMSignature{{Valid: false, Domain: "paypal.com"}}); got["USER_IN_DEF_SPF_WL"] != 0 || got["USER_IN_DEF_DKIM_WL"] != 0 {
		t.Errorf("a forgery is welcome: %v", got)
	}

	dir := writeRules(t, map[string]string{"local.cf": "welcomelist_auth *@shop.example\n"})
	s2, problems := Load("/usr/share/spamassassin", filepath.Join(dir, "local.cf"))
	if errs := Errors(problems); len(errs) > 0 {
		t.Fatal(errs)
	}
	raw = strings.ReplaceAll(raw, "paypal.com", "shop.example")
	shop := &filter.SPF{Result: "pass", Identity: "mailfrom", Domain: "shop.example", Sender: "service@shop.example"}
	got, sum := score(s2, shop, []DKIMSignature{{Valid: true, Domain: "shop.example"}})
	// (The names are SpamAssassin 4's: Debian's init.pre says enable_compat
	// welcomelist_blocklist, so the stock files define no USER_IN_*_WHITELIST
	// meta rules.)
	if got["USER_IN_SPF_WELCOMELIST"] != -100 || got["USER_IN_DKIM_WELCOMELIST"] != -100 || sum > -190 {
		t.Errorf("welcomelist_auth: %v, sum %v; want USER_IN_SPF_WELCOMELIST and USER_IN_DKIM_WELCOMELIST at -100", got, sum)
	}
}

// BenchmarkDefaultAuthList: an address against the stock def_welcomelist_auth
// (898 globs, 823 of them *@*.domain), as the SPF and DKIM welcome list evals
// ask for every message with sender authentication on.
func BenchmarkDefaultAuthList(b *testing.B) {
	s := stockRules(b, false)
	addrs := []string{"someone@example.com", "newsletter@mail.shop.example.co.uk", "service@paypal.com", "x@email.1800flowers.com"}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, a := range addrs {
			s.lists.listed(listDefAuth, a)
		}
	}
}

// TestReportedByAuth: the set leaves unscored exactly the tests the auth check
// scores itself, so that each is counted once.
func TestReportedByAuth(t *testing.T) {
	var want, got []string
	for n := range auth.DefaultScores {
		want = append(want, n)
	}
	for n := range reportedByAuth {
		got = append(got, n)
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("reportedByAuth %v, auth.DefaultScores %v", got, want)
	}
}

// The SPF, DKIM, ARC and DMARC plugins' evals, answered from what [auth] found
// as SpamAssassin's plugins answer them (SPF.pm, DKIM.pm's _check_dkim_signed_by,
// DMARC.pm).
func TestAuthenticationEvals(t *testing.T) {
	spf := func(identity, result string) *filter.SPF {
		return &filter.SPF{Result: result, Identity: identity, Domain: "bank.example", Sender: "a@bank.example"}
	}
	type authn struct {
		Signatures  []DKIMSignature
		ARC, DMARC  string
		DMARCPolicy string
	}
	valid := func(d ...string) *authn {
		a := &authn{}
		for _, x := range d {
			a.Signatures = append(a.Signatures, DKIMSignature{Valid: true, Domain: x})
		}
		return a
	}
	tests := []struct {
		call string
		spf  *filter.SPF
		auth *authn
		want bool
	}{
		{"check_for_spf_pass()", spf("mailfrom", "pass"), nil, true},
		{"check_for_spf_pass()", spf("helo", "pass"), nil, false},
		{"check_for_spf_helo_pass()", spf("helo", "pass"), nil, true},
		{"check_for_spf_softfail()", spf("mailfrom", "softfail"), nil, true},
		{"check_for_spf_fail()", spf("mailfrom", "softfail"), nil, false},
		{"check_for_spf_temperror()", spf("mailfrom", "temperror"), nil, true},
		{"check_for_spf_pass()", nil, nil, false},
		// The HELO name's own result (Envelope.SPFHelo: softfail here), beside the sender's.
		{"check_for_spf_helo_softfail()", spf("mailfrom", "pass"), nil, true},
		{"check_for_spf_helo_pass()", spf("mailfrom", "pass"), nil, false},
		{"check_dkim_signed()", nil, &authn{Signatures: []DKIMSignature{{Valid: false}}}, true},
		{"check_dkim_signed()", nil, &authn{}, false},
		{"check_dkim_signed('other.example')", nil, &authn{Signatures: []DKIMSignature{{Valid: false, Domain: "bank.example"}}}, false},
		{"check_dkim_valid()", nil, &authn{Signatures: []DKIMSignature{{Valid: false, Domain: "bank.example"}}}, false},
		{"check_dkim_valid()", nil, valid("esp.example"), true},
		{"check_dkim_valid('.esp.example')", nil, valid("esp.example"), true},
		{"check_dkim_valid('*.esp.example')", nil, valid("eu.esp.example"), true},
		{"check_dkim_valid('esp.example')", nil, valid("eu.esp.example"), false},
		{"check_dkim_valid_author_sig()", nil, valid("esp.example"), false},
		{"check_dkim_valid_author_sig()", nil, valid("esp.example", "bank.example"), true},
		{"check_dkim_valid_author_sig()", nil, valid("example"), false},
		{"check_dkim_valid_author_sig('bank.example')", nil, valid("bank.example"), true},
		{"check_dkim_valid_envelopefrom()", nil, valid("mail.bank.example"), true},
		{"check_dkim_valid_envelopefrom()", nil, valid("bank.example"), false},
		{"check_dkim_dependable()", nil, &authn{}, true},
		{"check_dkim_dependable()", nil, nil, false},
		{"check_arc_signed()", nil, &authn{ARC: "fail"}, true},
		{"check_arc_valid()", nil, &authn{ARC: "fail"}, false},
		{"check_arc_valid()", nil, &authn{ARC: "pass"}, true},
		{"check_dmarc_pass()", nil, &authn{DMARC: "pass"}, true},
		{"check_dmarc_reject()", nil, &authn{DMARC: "fail", DMARCPolicy: "reject"}, true},
		{"check_dmarc_reject()", nil, &authn{DMARC: "fail", DMARCPolicy: "quarantine"}, false},
		{"check_dmarc_quarantine()", nil, &authn{DMARC: "fail", DMARCPolicy: "quarantine"}, true},
		{"check_dmarc_none()", nil, &authn{DMARC: "fail", DMARCPolicy: "none"}, true},
		{"check_dmarc_missing()", nil, &authn{DMARC: "none"}, true},
		{"check_dmarc_missing()", nil, &authn{}, false},
	}
	for _, tt := range tests {
		dir := writeRules(t, map[string]string{"e.cf": "header T_EVAL eval:" + tt.call + "\nscore T_EVAL 1\n"})
		s, problems := Load(filepath.Join(dir, "e.cf"))
		if errs := Errors(problems); len(errs) > 0 {
			t.Fatal(errs)
		}
		m := msgOf(t, "From: Bank <a@bank.example>\nTo: b@example.net\nSubject: x\n\nx\n")
		m.Env.SPF, m.Env.MailFrom = tt.spf, "bounce@Mail.Bank.example"
		if strings.HasPrefix(tt.call, "check_for_spf_helo") && tt.spf != nil && tt.spf.Identity == "mailfrom" {
			m.Env.SPFHelo = spf("helo", "softfail") // the HELO name's own result, beside the sender's
		}
		var src *AuthSource
		if a := tt.auth; a != nil {
			src = sourceOf(a.Signatures, &Authentication{ARC: a.ARC, DMARC: a.DMARC, DMARCPolicy: a.DMARCPolicy})
		}
		hits, err := s.EvalAuthenticated(m, src)
		if err != nil {
			t.Fatal(err)
		}
		if got := len(hits) == 1; got != tt.want {
			t.Errorf("%s, SPF %+v, %+v: %v, want %v", tt.call, tt.spf, tt.auth, got, tt.want)
		}
	}
}

// With the stock rules, the meta rules that spare authenticated mail see the
// authentication: FROM_BANK_NOAUTH (a bank's From:, neither SPF_PASS nor
// DKIM_VALID_AU) and __NOT_SPOOFED. SPF_PASS itself is the auth check's to
// score: the set does not.
func TestStockMetasSeeAuthentication(t *testing.T) {
	s := stockRules(t, false)
	raw := "Received: from mail.abbey.com (mail.abbey.com [203.0.113.9]) by mx.example.net (Postfix) with ESMTP id A1; Mon, 1 Jun 2026 10:00:00 +0000\n" +
		"From: Abbey <alerts@abbey.com>\nTo: b@example.net\nSubject: Your statement\nMessage-ID: <1@abbey.com>\nDate: Mon, 1 Jun 2026 10:00:00 +0000\n\nYour statement is ready.\n"
	for _, tt := range []struct {
		name string
		spf  string
		auth *AuthSource
		want map[string]bool
	}{
		{"no [auth]", "", nil, map[string]bool{"FROM_BANK_NOAUTH": true, "__NOT_SPOOFED": false}},
		{"SPF pass", "pass", sourceOf(nil, &Authentication{}), map[string]bool{"FROM_BANK_NOAUTH": false, "__NOT_SPOOFED": true}},
		{"SPF fail, the bank signed", "fail", sourceOf([]DKIMSignature{{Valid: true, Domain: "abbey.com"}}, &Authentication{}),
			map[string]bool{"FROM_BANK_NOAUTH": false, "__NOT_SPOOFED": true}},
		{"SPF fail, a third party signed", "fail", sourceOf([]DKIMSignature{{Valid: true, Domain: "esp.example"}}, &Authentication{}),
			map[string]bool{"FROM_BANK_NOAUTH": true, "__NOT_SPOOFED": true}},
		{"SPF softfail, unsigned", "softfail", sourceOf(nil, &Authentication{}), map[string]bool{"FROM_BANK_NOAUTH": true, "__NOT_SPOOFED": false}},
	} {
		m := msgOf(t, raw)
		if tt.spf != "" {
			m.Env.SPF = &filter.SPF{Result: tt.spf, Identity: "mailfrom", Domain: "abbey.com", Sender: "bounce@abbey.com"}
		}
		// Every rule, sub-rules included (a lazy plan runs __NOT_SPOOFED only
		// for a meta that gets as far as asking).
		hits, err := s.evalWith(m, s.allPlan(), false, nil, tt.auth)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]Scores{}
		for _, h := range hits {
			got[h.Rule.Name] = h.Scores
		}
		for name, want := range tt.want {
			if _, hit := got[name]; hit != want {
				t.Errorf("%s: %s hit %v, want %v", tt.name, name, hit, want)
			}
		}
		if sc, hit := got["SPF_PASS"]; hit && sc != (Scores{}) {
			t.Errorf("%s: the set scores SPF_PASS %v: the auth check does", tt.name, sc)
		}
	}
}

// sourceOf is an AuthSource that gives sigs and a.
func sourceOf(sigs []DKIMSignature, a *Authentication) *AuthSource {
	return &AuthSource{Signatures: func() []DKIMSignature { return sigs }, All: func() *Authentication { return a }}
}

// A meta rule asks an operand that waits for sender authentication's lookups
// after its others (orderChains): here only a message the other operand holds
// for waits. With the stock rules, no corpus message waits for DMARC's.
func TestMetasAskAuthenticationLast(t *testing.T) {
	s := mustLoadRules(t, map[string]string{"w.cf": `header __FROM_GOV From =~ /\.gov\.example>?$/
header __W eval:check_dkim_valid_author_sig()
meta GOV_AU __W && __FROM_GOV
score GOV_AU -1
`})
	for from, wantAsked := range map[string]bool{"a@shop.example": false, "a@tax.gov.example": true} {
		asked := false
		src := &AuthSource{
			Signatures: func() []DKIMSignature { asked = true; return nil },
			All:        func() *Authentication { asked = true; return &Authentication{} },
		}
		if _, err := s.EvalAuthenticated(msgOf(t, "From: "+from+"\nSubject: x\n\nx\n"), src); err != nil {
			t.Fatal(err)
		}
		if asked != wantAsked {
			t.Errorf("From %s: authentication asked for: %v, want %v", from, asked, wantAsked)
		}
	}

	stock := stockRules(t, false)
	msgs := append(corpusMessages(t, "spam", 200), corpusMessages(t, "ham", 200)...)
	for i, m := range msgs {
		src := &AuthSource{
			Signatures: func() []DKIMSignature { return nil },
			All: func() *Authentication {
				t.Errorf("message %d: the stock rules asked for DMARC", i)
				return &Authentication{}
			},
		}
		if _, err := stock.EvalAuthenticated(m, src); err != nil {
			t.Fatal(err)
		}
	}
}
