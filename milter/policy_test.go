package milter

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gomilter "github.com/emersion/go-milter"

	"github.com/postern/postern/filter"
	"github.com/postern/postern/policy"
)

// TestEnvelopeChecksAtRcpt drives the envelope checks through the milter protocol: a
// greylisted recipient is answered 450 while a role account in the same message is
// taken, a message to the role account is tagged and not rejected even when it is
// spam, and the triplet passes once the delay is over.
func TestEnvelopeChecksAtRcpt(t *testing.T) {
	store, err := policy.OpenGreySQLite(filepath.Join(t.TempDir(), policy.GreylistFileName))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	var mu sync.Mutex
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	p := &policy.Policy{RoleAccounts: []string{"postmaster", "abuse"},
		Greylist: &policy.Greylist{Config: policy.DefaultGreylist, Store: store, Now: clock}}
	srv, addr := startServer(t, testPipeline(), defaultOpts())
	srv.Policies = fixed(p)
	var decisions []policy.Decision
	srv.OnEnvelope = func(d policy.Decision) { decisions = append(decisions, d) }

	s := dial(t, addr)
	connect(t, s)
	mustContinue(t, "mail", func() (*gomilter.Action, error) { return s.Mail("<sender@example.org>", nil) })
	act, err := s.Rcpt("<user@example.com>", nil)
	must(t, err)
	wantReply(t, act, 450, "Greylisted, please try again in 300 seconds")
	mustContinue(t, "rcpt postmaster", func() (*gomilter.Action, error) { return s.Rcpt("<postmaster@example.com>", nil) })
	mustContinue(t, "subject", func() (*gomilter.Action, error) { return s.HeaderField("Subject", "test") })
	mustContinue(t, "eoh", s.HeaderEnd)
	mods, act, err := s.BodyReadFrom(strings.NewReader(gtube + "\r\n"))
	must(t, err)
	if act.Code != gomilter.ActAccept {
		t.Fatalf("spam to postmaster: %c %d %q, want accept (tagged)", act.Code, act.SMTPCode, act.SMTPText)
	}
	if flag, _ := added(mods, "X-Spam-Flag"); flag != "YES" {
		t.Fatalf("X-Spam-Flag = %q, want YES", flag)
	}

	mu.Lock()
	now = now.Add(301 * time.Second)
	mu.Unlock()
	mustContinue(t, "mail again", func() (*gomilter.Action, error) { return s.Mail("<sender@example.org>", nil) })
	mustContinue(t, "rcpt after delay", func() (*gomilter.Action, error) { return s.Rcpt("<user@example.com>", nil) })
	mustContinue(t, "eoh", s.HeaderEnd)
	_, act, err = s.BodyReadFrom(strings.NewReader(gtube + "\r\n"))
	must(t, err)
	wantReply(t, act, 550, "spam") // no role account this time: rejected as usual

	var got []string
	for _, d := range decisions {
		got = append(got, d.Action.String()+"/"+d.Reason+"/"+d.Greylist)
	}
	if want := "tempfail/greylist/new continue/role-account/ continue//passed"; strings.Join(got, " ") != want {
		t.Fatalf("decisions %q, want %q", strings.Join(got, " "), want)
	}
}

// An Authentication-Results header that claims our authserv-id is a forgery: it goes,
// and those of other hosts stay (RFC 8601 5).
func TestForgedAuthenticationResultsRemoved(t *testing.T) {
	opts := defaultOpts()
	opts.AuthservID = "mx.test"
	_, addr := startServer(t, testPipeline(), opts)
	s := dial(t, addr)
	connect(t, s)
	m := plain("Hello\r\n")
	m.headers = append(m.headers,
		[2]string{"Authentication-Results", "other.example; dkim=pass header.d=example.org"},
		[2]string{"Authentication-Results", "MX.test; spf=pass smtp.mailfrom=ceo@example.com"},
		[2]string{"authentication-results", "mx.test 1; dmarc=pass"})
	mods, act := send(t, s, m)
	if act.Code != gomilter.ActAccept {
		t.Fatalf("answer %c", act.Code)
	}
	var removed []string
	for _, md := range mods {
		if md.Code == gomilter.ActChangeHeader && md.HeaderValue == "" {
			removed = append(removed, fmt.Sprintf("%s#%d", md.HeaderName, md.HeaderIndex))
		}
	}
	if want := "Authentication-Results#2 authentication-results#3"; strings.Join(removed, " ") != want {
		t.Fatalf("removed %v, want %s", removed, want)
	}
}

// A header a check marks Top is inserted above the others; the rest are appended.
func TestTopHeadersInserted(t *testing.T) {
	ar := checkFunc{"auth", func(context.Context, *filter.Message) filter.Result {
		return filter.Result{Headers: []filter.Header{{Name: "Authentication-Results", Value: "mx.test; none", Top: true}}}
	}}
	_, addr := startServer(t, testPipeline(ar), defaultOpts())
	s := dial(t, addr)
	connect(t, s)
	mods, act := send(t, s, plain("Hello\r\n"))
	if act.Code != gomilter.ActAccept {
		t.Fatalf("answer %c", act.Code)
	}
	var inserted, appended []string
	for _, md := range mods {
		switch md.Code {
		case gomilter.ActInsertHeader:
			inserted = append(inserted, fmt.Sprintf("%s@%d", md.HeaderName, md.HeaderIndex))
		case gomilter.ActAddHeader:
			appended = append(appended, md.HeaderName)
		}
	}
	if strings.Join(inserted, " ") != "Authentication-Results@0" || !slices.Contains(appended, "X-Spam-Status") || slices.Contains(appended, "Authentication-Results") {
		t.Fatalf("inserted %v, appended %v", inserted, appended)
	}
}

// TestPolicies: new envelope checks from Policies (serve's, which a SIGHUP
// rebuilds) answer the connections opened after them; a connection already
// open keeps the ones it started with.
func TestPolicies(t *testing.T) {
	store, err := policy.OpenGreySQLite(filepath.Join(t.TempDir(), policy.GreylistFileName))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	srv, addr := startServer(t, testPipeline(), defaultOpts())
	var current atomic.Pointer[policy.Policy]
	current.Store(&policy.Policy{})
	srv.Policies = current.Load
	rcpt := func(s *gomilter.ClientSession, n int) *gomilter.Action {
		t.Helper()
		mustContinue(t, "mail", func() (*gomilter.Action, error) { return s.Mail(fmt.Sprintf("<sender%d@example.org>", n), nil) })
		act, err := s.Rcpt("<user@example.com>", nil)
		must(t, err)
		return act
	}
	before := dial(t, addr)
	connect(t, before)
	if act := rcpt(before, 1); act.Code != gomilter.ActContinue {
		t.Fatalf("before the new checks: %c %d, want continue", act.Code, act.SMTPCode)
	}
	current.Store(&policy.Policy{Greylist: &policy.Greylist{Config: policy.DefaultGreylist, Store: store}})
	after := dial(t, addr)
	connect(t, after)
	wantReply(t, rcpt(after, 2), 450, "Greylisted")
	if act := rcpt(before, 3); act.Code != gomilter.ActContinue {
		t.Errorf("a connection opened before the new checks: %c %d, want its old checks' continue", act.Code, act.SMTPCode)
	}
}
