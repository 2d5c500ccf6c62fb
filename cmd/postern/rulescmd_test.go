package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRulesLintNetworkTests: a SpamAssassin user's local.cf with a URI block
// list and a DNS block list loads without a problem, but its rules can never
// hit in a rule file here; lint says so, and where Postern does that work.
// Rules with no network test get no such lines.
func TestRulesLintNetworkTests(t *testing.T) {
	dir := t.TempDir()
	local := filepath.Join(dir, "local.cf")
	os.WriteFile(local, []byte(`urirhssub URIBL_BLACK multi.uribl.com. A 2
body     URIBL_BLACK eval:check_uridnsbl('URIBL_BLACK')
score    URIBL_BLACK 3.0
header   RCVD_IN_EXAMPLE eval:check_rbl('example', 'bl.example.net.')
score    RCVD_IN_EXAMPLE 2.0
header   LOCAL_SUBJ Subject =~ /cheap/i
`), 0o644)
	cfg := filepath.Join(dir, "postern.toml")
	os.WriteFile(cfg, nil, 0o644)
	plain := filepath.Join(dir, "plain.cf")
	os.WriteFile(plain, []byte("header LOCAL_SUBJ Subject =~ /cheap/i\n"), 0o644)

	out, errOut, code := postern(t, "", "rules", "lint", "-c", cfg, local)
	if code != 0 {
		t.Fatalf("lint exit %d: %s%s", code, out, errOut)
	}
	for _, want := range []string{
		"urirhssub: the URI block lists they name are [uribl] zones",
		"2 rules use SpamAssassin's network tests, which never hit in rule files here (as with its network tests off): DNSEval 1, URIDNSBL 1",
		"DNSEval (check_rbl and its kin): DNS block lists are [dnsbl] zones",
		"URIDNSBL (check_uridnsbl): URI block lists are [uribl] zones",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("lint output lacks %q:\n%s", want, out)
		}
	}
	out, _, code = postern(t, "", "rules", "lint", "-c", cfg, plain)
	if code != 0 || strings.Contains(out, "network tests") || strings.Contains(out, "[uribl]") || strings.Contains(out, "[dnsbl]") {
		t.Errorf("lint of a file without network tests (%d):\n%s", code, out)
	}
}

// TestRulesLintLocalCf: the settings of a SpamAssassin user's local.cf are
// ignored in rule files; lint says where each went in Postern's configuration.
func TestRulesLintLocalCf(t *testing.T) {
	dir := t.TempDir()
	local := filepath.Join(dir, "local.cf")
	os.WriteFile(local, []byte("rewrite_header Subject *****SPAM*****\nreport_safe 1\ntrusted_networks 192.0.2.\nrequired_score 6.0\nuse_bayes 1\nbayes_auto_learn 1\nadd_header all Report _REPORT_\n"), 0o644)
	cfg := filepath.Join(dir, "postern.toml")
	os.WriteFile(cfg, nil, 0o644)
	out, errOut, code := postern(t, "", "rules", "lint", "-c", cfg, local)
	if code != 0 {
		t.Fatalf("lint exit %d: %s%s", code, out, errOut)
	}
	for _, want := range []string{
		"rewrite_header Subject: Postern's is subject_tag",
		"report_safe: Postern never wraps",
		"trusted_networks: relays are trusted as SpamAssassin trusts them without it",
		"required_score: Postern's is required_score",
		"use_bayes: Postern's is [bayes] enabled",
		"bayes_auto_learn: Postern's is [bayes] autolearn",
		"add_header: Postern writes X-Spam-Flag, X-Spam-Status, X-Spam-Level and X-Spam-Report itself",
	} {
		if !strings.Contains(out, "\n  "+want) {
			t.Errorf("lint output lacks %q:\n%s", want, out)
		}
	}
}
