package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"

	"github.com/postern/postern/banned"
	"github.com/postern/postern/clamav"
	"github.com/postern/postern/config"
	"github.com/postern/postern/filter"
	"github.com/postern/postern/rules"
)

type named string

func (n named) Name() string                                         { return string(n) }
func (n named) Check(context.Context, *filter.Message) filter.Result { return filter.Result{} }

// TestWithBanned: the banned check takes the same place whichever
// configuration built the pipeline: after the rules and the virus scan.
func TestWithBanned(t *testing.T) {
	old, ban := &banned.Check{}, &banned.Check{}
	clam, rc := &clamav.Check{}, &rules.Check{}
	names := func(cs []filter.Check) string {
		var out []string
		for _, c := range cs {
			switch c {
			case filter.Check(old):
				out = append(out, "old-banned")
			case filter.Check(ban):
				out = append(out, "banned")
			case filter.Check(rc):
				out = append(out, "rules")
			default:
				out = append(out, c.Name())
			}
		}
		return strings.Join(out, " ")
	}
	tests := []struct {
		name   string
		checks []filter.Check
		ban    *banned.Check
		want   string
	}{
		{"replaced in place", []filter.Check{rc, clam, old, named("auth")}, ban, "rules clamav banned auth"},
		{"added after the virus scan", []filter.Check{rc, clam, named("auth")}, ban, "rules clamav banned auth"},
		{"added after the rules without a virus scan", []filter.Check{rc, named("auth")}, ban, "rules banned auth"},
		{"added first without either", []filter.Check{named("auth")}, ban, "banned auth"},
		{"removed", []filter.Check{rc, clam, old, named("auth")}, nil, "rules clamav auth"},
		{"none, none", []filter.Check{rc}, nil, "rules"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := names(tc.checks)
			if got := names(withBanned(tc.checks, tc.ban)); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			if names(tc.checks) != before {
				t.Errorf("the checks given were changed: %q", names(tc.checks))
			}
		})
	}
}

// TestReloadAttachments: a reload's [attachments] and [recipients] are what
// Class tells recipients apart by, and what the new pipeline's banned check
// refuses with.
func TestReloadAttachments(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir, cfg.RulesPaths = t.TempDir(), []string{t.TempDir()}
	cfg.Clamd.Address, cfg.DNS.Resolver, cfg.Bayes.Enabled = "", "", false
	log := logrus.New()
	log.SetOutput(io.Discard)
	comp, err := build(cfg, false, log)
	if err != nil {
		t.Fatal(err)
	}
	defer comp.Close()
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
	if b := bannedCheck(p.Checks); b == nil || b.Reply != next.Replies.Banned {
		t.Errorf("the new pipeline's banned check: %+v", b)
	}
	if comp.Pipeline.Checks[0] != filter.Check(comp.Rules) || p.Checks[0] != filter.Check(comp.Rules) {
		t.Errorf("the rules check was not kept first: %v, %v", comp.Pipeline.Checks, p.Checks)
	}

	off := next
	off.Attachments.Enabled = false
	p, err = comp.Reload(off)
	if err != nil {
		t.Fatal(err)
	}
	if bannedCheck(p.Checks) != nil || comp.Class("it@example.com") != "" {
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
