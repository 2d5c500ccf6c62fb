package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"

	"github.com/postern/postern/auth"
	"github.com/postern/postern/banned"
	"github.com/postern/postern/clamav"
	"github.com/postern/postern/config"
	"github.com/postern/postern/filter"
	"github.com/postern/postern/milter"
	"github.com/postern/postern/policy"
	"github.com/postern/postern/scan"
	"github.com/postern/postern/score"
	"github.com/postern/postern/spool"
	"github.com/postern/postern/uribl"
)

// quietConfig is the defaults with nothing that opens or asks anything: no
// rules, no clamd, no DNS, no Bayes, and data_dir a new directory.
func quietConfig(t *testing.T) config.Config {
	cfg := config.Default()
	cfg.DataDir, cfg.RulesPaths = t.TempDir(), []string{t.TempDir()}
	cfg.Clamd.Address, cfg.DNS.Resolver, cfg.Bayes.Enabled = "", "", false
	return cfg
}

// buildQuiet is build's components for cfg, its log discarded, closed when
// the test ends.
func buildQuiet(t *testing.T, cfg config.Config) *components {
	t.Helper()
	log := logrus.New()
	log.SetOutput(io.Discard)
	comp, err := build(cfg, false, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(comp.Close)
	return comp
}

// TestReloadChecks: a reload builds every content check anew from its
// settings, in build's order whatever the configuration, around the same
// rules check, clamd client and resolver.
func TestReloadChecks(t *testing.T) {
	cfg := quietConfig(t)
	cfg.Clamd.Address = "unix:" + filepath.Join(t.TempDir(), "clamd.sock") // (not dialled here)
	cfg.DNS.Resolver = "127.0.0.1:1"                                       // (no query is sent here)
	cfg.Auth.Enabled, cfg.URIBL.Zones = true, []string{"dbl.example"}
	comp := buildQuiet(t, cfg)
	names := func(cs []filter.Check) string {
		var out []string
		for _, c := range cs {
			out = append(out, c.Name())
		}
		return strings.Join(out, " ")
	}
	if got := names(comp.Current().Checks); got != "rules clamav banned auth uribl" {
		t.Fatalf("built: %s", got)
	}
	next := cfg
	next.Clamd.OnScanError = "accept"
	next.Auth.DMARCReject = true
	next.URIBL.Zones = []string{"dbl.example", "multi.example"}
	next.URIBL.Scores = map[string]float64{"dbl.example": 2.5}
	next.URIBL.IPZones = []string{"zen.example"}
	next.URIBL.NSZones = []string{"zen.example"}
	next.URIBL.Zone = map[string]config.URIBLZone{"multi.example": {Test: "URIBL_MULTI", Scores: map[string]float64{"2": 1.7, "4": 0.3}}}
	next.URIBL.NSZone = map[string]config.URIBLZone{"zen.example": {Test: "URIBL_SBL", Scores: map[string]float64{"127.0.0.2": 1.6}}}
	next.Attachments.Enabled = false
	p, err := comp.Reload(next)
	if err != nil {
		t.Fatal(err)
	}
	if got := names(p.Checks); got != "rules clamav auth uribl" {
		t.Errorf("after [attachments] enabled = false: %s", got)
	}
	clam := findCheck[*clamav.Check](p.Checks)
	if !clam.AcceptOnError || clam.Clamd != comp.Clamd {
		t.Errorf("clamav check: accept on error %v, the same client %v", clam.AcceptOnError, clam.Clamd == comp.Clamd)
	}
	if a := findCheck[*auth.Check](p.Checks); !a.DMARCReject || comp.authCheck() != a {
		t.Error("the auth check in use is not the new one")
	}
	// zen.example twice: its hosts' addresses (the [uribl.zone] settings,
	// none here) and its name servers' (the [uribl.ns_zone] table's).
	if u := findCheck[*uribl.Check](p.Checks); len(u.Zones) != 4 || u.Zones[0].Score != 2.5 || len(u.Zones[0].Scores) != 0 ||
		u.Zones[1].TestName() != "URIBL_MULTI" || len(u.Zones[1].Scores) != 2 || u.Zones[1].Scores[1].Text != "4" ||
		u.Zones[1].Asks != uribl.LinkDomains || u.Zones[2].Name != "zen.example" || u.Zones[2].Asks != uribl.HostAddresses ||
		u.Zones[2].TestName() != "URIBL_ZEN" || len(u.Zones[2].Scores) != 0 ||
		u.Zones[3].Name != "zen.example" || u.Zones[3].Asks != uribl.NameServerAddresses || u.Zones[3].TestName() != "URIBL_SBL" || len(u.Zones[3].Scores) != 1 {
		t.Errorf("uribl zones %+v", u.Zones)
	}
	if p.Checks[0] != filter.Check(comp.Rules) {
		t.Error("the rules check was not kept")
	}
	next.Attachments.Enabled = true
	if p, err = comp.Reload(next); err != nil {
		t.Fatal(err)
	}
	if got := names(p.Checks); got != "rules clamav banned auth uribl" {
		t.Errorf("after enabled = true again: %s", got)
	}
}

// TestReloadAttachments: a reload's [attachments] and [recipients] are what
// Class tells recipients apart by, and what the new pipeline's banned check
// refuses with.
func TestReloadAttachments(t *testing.T) {
	cfg := quietConfig(t)
	comp := buildQuiet(t, cfg)
	built := comp.Current()
	if got := comp.Class("it@example.com"); got != "" {
		t.Fatalf("before the reload: class %q", got)
	}

	next := cfg
	next.Attachments.ExemptRcpts = []string{"it@example.com"}
	next.Replies.Banned = "No {name} (ref {ref})"
	lenient := 10000.0
	next.Recipients = map[string]config.Recipient{"@lenient.example": {RejectScore: &lenient}}
	p, err := comp.Reload(next)
	if err != nil {
		t.Fatal(err)
	}
	if got := comp.Class("it@example.com"); got != "takes-banned" {
		t.Errorf("after exempt_rcpts: class %q, want takes-banned", got)
	}
	if got := comp.Class("u@lenient.example"); got != "recipients @lenient.example" {
		t.Errorf("after [recipients]: class %q", got)
	}
	if b := findCheck[*banned.Check](p.Checks); b == nil || b.Reply != next.Replies.Banned {
		t.Errorf("the new pipeline's banned check: %+v", b)
	}
	if built.Checks[0] != filter.Check(comp.Rules) || p.Checks[0] != filter.Check(comp.Rules) {
		t.Errorf("the rules check was not kept first: %v, %v", built.Checks, p.Checks)
	}

	off := next
	off.Attachments.Enabled = false
	p, err = comp.Reload(off)
	if err != nil {
		t.Fatal(err)
	}
	if findCheck[*banned.Check](p.Checks) != nil || comp.Class("it@example.com") != "" {
		t.Errorf("after enabled = false: %v, class %q", p.Checks, comp.Class("it@example.com"))
	}

	bad := next
	bad.Attachments.ExemptRcpts = []string{"not an address"}
	if _, err := comp.Reload(bad); err == nil || !strings.Contains(err.Error(), "attachments.exempt_rcpts") {
		t.Errorf("a bad exempt_rcpts: error %v", err)
	}
	if comp.Class("it@example.com") != "" {
		t.Error("a failed reload changed the pipeline in use")
	}
}

// TestReloadEnvelope: a reload's envelope settings and lists make new checks;
// lists with an error keep the old lists under the new settings, settings with
// an error the old checks.
func TestReloadEnvelope(t *testing.T) {
	dir := t.TempDir()
	list := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	cfg := config.Default()
	cfg.Policy.AllowLists = []string{list("allow", "client 192.0.2.7\n")}
	env, err := buildEnvelope(cfg, false, nil, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	first := env.Policy()

	next := cfg
	next.Policy.RoleAccounts = []string{"postmaster", "sales"}
	next.Policy.TrustedNetworks = []string{"10.0.0.0/8"}
	next.OnError = "accept"
	next.Policy.AllowLists = []string{list("allow2", "client 192.0.2.7\nclient 192.0.2.8\n")}
	p, lists, settings := env.reload(next, nil)
	if lists != nil || settings != nil {
		t.Fatalf("errors: %v, %v", lists, settings)
	}
	if p == first || env.Policy() != p {
		t.Fatal("no new checks in use")
	}
	if !p.IsRole("sales@example.com") || len(p.Trusted) != 1 || !p.OnErrorAccept || p.Allow.Load().Len() != 2 {
		t.Errorf("the new checks: roles %v, trusted %v, on_error accept %v, allow entries %d", p.RoleAccounts, p.Trusted, p.OnErrorAccept, p.Allow.Load().Len())
	}
	if first.IsRole("sales@example.com") || first.Allow.Load().Len() != 1 {
		t.Error("the old checks changed: a connection open before the reload would see the new ones")
	}

	broken := next
	broken.Policy.RoleAccounts = []string{"postmaster", "billing"}
	broken.Policy.AllowLists = []string{list("allow3", "client not-an-address-or-name!\n")}
	q, lists, settings := env.reload(broken, nil)
	if lists == nil || settings != nil {
		t.Fatalf("a broken list: errors %v, %v", lists, settings)
	}
	if !q.IsRole("billing@example.com") || q.Allow.Load() != p.Allow.Load() {
		t.Errorf("a broken list: the settings must apply (roles %v) and the old lists stay", q.RoleAccounts)
	}

	bad := next
	bad.Policy.TrustedNetworks = []string{"10.0.0.0/33"}
	r, _, settings := env.reload(bad, nil)
	if settings == nil || !strings.Contains(settings.Error(), "policy.trusted_networks") || r != q || env.Policy() != q {
		t.Errorf("a bad trusted network: error %v; the checks in use must stay", settings)
	}
}

// TestReloadOnScanError: with clamd down, mail tempfails; an operator who sets
// clamd.on_scan_error = "accept" and reloads gets it delivered marked, by the
// same clamd client.
func TestReloadOnScanError(t *testing.T) {
	cfg := quietConfig(t)
	cfg.Clamd.Address = "unix:" + filepath.Join(t.TempDir(), "no-clamd.sock")
	comp := buildQuiet(t, cfg)
	raw := []byte("From: a@example.org\r\nTo: b@example.com\r\nSubject: hi\r\n\r\nhello\r\n")
	run := func(p *filter.Pipeline) filter.Verdict {
		sp := spool.FromBytes(raw)
		return p.Run(context.Background(), &filter.Envelope{}, sp, sp.Size(), "REF")
	}
	if v := run(comp.Current()); v.Action != filter.TempFail {
		t.Fatalf("clamd down: %s, want tempfail", v.Action)
	}
	next := cfg
	next.Clamd.OnScanError = "accept"
	p, err := comp.Reload(next)
	if err != nil {
		t.Fatal(err)
	}
	v := run(p)
	status := ""
	for _, h := range v.Headers {
		if h.Name == "X-Virus-Status" {
			status = h.Value
		}
	}
	if v.Action != filter.Accept || !strings.HasPrefix(status, "Unscanned") {
		t.Errorf("after on_scan_error = accept: %s, X-Virus-Status %q; want accept, Unscanned", v.Action, status)
	}
}

// reloadable is what reload swaps settings in: serve's components, envelope
// checks and milter server for cfg, closed when the test ends.
func reloadable(t *testing.T, cfg config.Config) (*components, *envelope, *milter.Server) {
	t.Helper()
	comp := buildQuiet(t, cfg)
	env, err := buildEnvelope(cfg, false, nil, comp.Class)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(env.Close)
	return comp, env, &milter.Server{Pipelines: comp.Current, Policies: env.Policy, Opts: milterOptions(cfg)}
}

// TestReloadLogsWhatApplied: the line naming the changed keys calls them
// applied only when every part of the reload was; after a part's error it
// says that part kept its old values.
func TestReloadLogsWhatApplied(t *testing.T) {
	cfg := quietConfig(t)
	comp, env, srv := reloadable(t, cfg)
	broken := t.TempDir()
	if err := os.WriteFile(filepath.Join(broken, "bad.cf"), []byte("body BAD /(/\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		rules []string
		whole bool
		line  string
		level logrus.Level
	}{
		{"every part applied", cfg.RulesPaths, true, "SIGHUP: applied the changed keys", logrus.InfoLevel},
		{"the rules kept", []string{broken}, false, "SIGHUP: changed keys, applied but for those of the parts with errors above, which kept their old values", logrus.WarnLevel},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log, hook := logtest.NewNullLogger()
			next := cfg
			next.RejectScore, next.RulesPaths = 12, tc.rules
			_, loaded, whole := reload(log, cfg, cfg, comp, env, srv, func() (config.Config, error) { return next, nil })
			if !loaded || whole != tc.whole {
				t.Fatalf("loaded %v whole %v, want true %v", loaded, whole, tc.whole)
			}
			var found bool
			for _, e := range hook.AllEntries() {
				if strings.HasPrefix(e.Message, "SIGHUP: applied") || strings.HasPrefix(e.Message, "SIGHUP: changed keys") {
					found = e.Message == tc.line && e.Level == tc.level && strings.Contains(e.Data["keys"].(string), "reject_score")
					if !found {
						t.Errorf("%s %q %v", e.Level, e.Message, e.Data)
					}
				}
			}
			if !found {
				t.Errorf("no line %q", tc.line)
			}
		})
	}
}

// TestReloadWhileChecking: twenty SIGHUPs while messages are checked and
// recipients decided. Under the race detector (scripts/test.sh runs it) this
// finds what a reload writes that a message reads; every message is still
// accepted, none tempfailed.
func TestReloadWhileChecking(t *testing.T) {
	cfg := quietConfig(t)
	comp, env, srv := reloadable(t, cfg)
	lenient := 10000.0
	variants := []config.Config{cfg, cfg}
	variants[1].RejectScore = 8
	variants[1].Recipients = map[string]config.Recipient{"@lenient.example": {RejectScore: &lenient}}
	variants[1].Policy.RoleAccounts = []string{"postmaster", "sales"}
	variants[1].Attachments.ExemptRcpts = []string{"it@example.com"}
	log := logrus.New()
	log.SetOutput(io.Discard)

	done := make(chan struct{})
	var reloads atomic.Int64
	go func() {
		defer close(done)
		for n := 0; n < 20; n++ {
			next := variants[n%2]
			reload(log, cfg, cfg, comp, env, srv, func() (config.Config, error) { return next, nil })
			reloads.Add(1)
		}
	}()
	raw := []byte("From: a@example.org\r\nTo: b@example.com\r\nSubject: hi\r\n\r\nhello\r\n")
	var wg sync.WaitGroup
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; reloads.Load() < 20; i++ {
				conn := env.Policy().Connect(policy.Client{})
				m := conn.Mail(context.Background(), "a@example.org", "")
				for _, r := range []string{"b@example.com", "u@lenient.example", "it@example.com", "sales@example.com"} {
					m.Rcpt(context.Background(), r)
					comp.Class(r)
				}
				conn.Close()
				sp := spool.FromBytes(raw)
				if v := comp.current.Load().Run(context.Background(), &filter.Envelope{Rcpts: []string{"b@example.com"}}, sp, sp.Size(), "REF"); v.Action != filter.Accept {
					t.Errorf("message %d: %s %v", i, v.Action, v.Errors)
					return
				}
			}
		}()
	}
	wg.Wait()
	<-done
}

// TestReloadBayes: a reload gives the classifier the new bayes.min_spam,
// min_ham and learn_margin, and the auth check and the milter the new
// auth.authserv_id.
func TestReloadBayes(t *testing.T) {
	cfg := quietConfig(t)
	cfg.Bayes.Enabled = true
	cfg.DNS.Resolver, cfg.Auth.Enabled = "127.0.0.1:1", true // (no query is sent here)
	learnt, err := openBayes(cfg, false)
	if err != nil {
		t.Fatal(err)
	}
	items := []score.Item{
		score.ItemOf(parseMessage(t, "Subject: cheap pills\n\nbuy cheap pills now\n"), true, learnt.Params()),
		score.ItemOf(parseMessage(t, "Subject: agenda\n\nthe meeting agenda\n"), false, learnt.Params()),
	}
	if _, err := learnt.LearnAll(context.Background(), items, false); err != nil {
		t.Fatal(err)
	}
	learnt.Store.Close()
	comp := buildQuiet(t, cfg)
	if comp.Bayes.ColdStart() == "" {
		t.Fatal("out of cold start with one spam and one ham learned, min_spam 200")
	}
	next := cfg
	next.Bayes.MinSpam, next.Bayes.MinHam, next.Bayes.LearnMargin = 1, 1, 0.2
	next.Auth.AuthservID = "mx.example.org"
	p, err := comp.Reload(config.Reloaded(cfg, next))
	if err != nil {
		t.Fatal(err)
	}
	if cs := comp.Bayes.ColdStart(); cs != "" {
		t.Errorf("after min_spam = min_ham = 1: %s", cs)
	}
	if got := comp.Bayes.Params().LearnMargin; got != 0.2 {
		t.Errorf("learn_margin %g, want 0.2", got)
	}
	m := &filter.Message{Parsed: parseMessage(t, "Subject: cheap pills\n\ncheap pills\n")}
	if r := findCheck[*score.Check](p.Checks).Check(context.Background(), m); r.Bayes == nil {
		t.Errorf("no Bayes probability after the reload: %v", r.Notes)
	}
	if a := findCheck[*auth.Check](p.Checks); a.AuthservID != "mx.example.org" {
		t.Errorf("auth check's authserv-id %q", a.AuthservID)
	}
	if o := milterOptions(config.Reloaded(cfg, next)); o.AuthservID != "mx.example.org" {
		t.Errorf("milter's authserv-id %q", o.AuthservID)
	}
}

// TestBayesLoopRefresh: a SIGHUP's bayes.refresh replaces the interval at
// once, so what another process learned is picked up at the new pace, not
// after the old interval (an hour here).
func TestBayesLoopRefresh(t *testing.T) {
	cfg := quietConfig(t)
	cfg.Bayes.Enabled, cfg.Bayes.Refresh = true, config.Duration(time.Hour)
	other, err := openBayes(cfg, false) // another process (postern learn) on the same store
	if err != nil {
		t.Fatal(err)
	}
	defer other.Store.Close()
	comp := buildQuiet(t, cfg)
	log := logrus.New()
	log.SetOutput(io.Discard)
	var settings atomic.Pointer[config.Bayes]
	settings.Store(&cfg.Bayes)
	stop, changed := bayesLoop(log, comp.Bayes, func() config.Bayes { return *settings.Load() })
	defer stop()
	item := score.ItemOf(parseMessage(t, "Subject: cheap pills\n\nbuy cheap pills now\n"), true, other.Params())
	if _, err := other.LearnAll(context.Background(), []score.Item{item}, false); err != nil {
		t.Fatal(err)
	}
	next := cfg.Bayes
	next.Refresh = config.Duration(10 * time.Millisecond)
	settings.Store(&next)
	changed()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if spam, _ := comp.Bayes.Model.Totals(); spam == 1 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("what another process learned was not picked up after bayes.refresh became 10ms")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func parseMessage(t *testing.T, raw string) *scan.Message {
	t.Helper()
	m, err := scan.Parse(strings.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	return m
}
