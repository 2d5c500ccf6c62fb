package rules

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

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
	var get func() []DKIMSignature
	if sigs != nil {
		get = func() []DKIMSignature { asked++; return sigs }
	}
	found, err := s.EvalSigned(m, get)
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
		hits, err := s.EvalSigned(m, func() []DKIMSignature { return sigs })
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
// (898 globs, 824 of them *@*.domain), as the SPF and DKIM welcome list evals
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
