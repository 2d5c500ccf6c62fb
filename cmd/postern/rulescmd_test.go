package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRulesLintSaysWhereThingsWent: a SpamAssassin user's own rule files load
// here, but their network tests never hit in a rule file and their local.cf
// settings are Postern's configuration keys; lint says which, and where that
// work is done. A file with neither gets no such line.
func TestRulesLintSaysWhereThingsWent(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "postern.toml")
	if err := os.WriteFile(cfg, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, file string
		want       []string // lines, or their start after the two spaces of a pointer
		wantNone   []string
	}{
		{
			name: "network tests",
			file: `urirhssub URIBL_BLACK multi.uribl.com. A 2
body     URIBL_BLACK eval:check_uridnsbl('URIBL_BLACK')
score    URIBL_BLACK 3.0
header   RCVD_IN_EXAMPLE eval:check_rbl('example', 'bl.example.net.')
score    RCVD_IN_EXAMPLE 2.0
header   LOCAL_SUBJ Subject =~ /cheap/i
`,
			want: []string{
				"\n  urirhssub: the URI block lists they name are [uribl] zones",
				"\n2 rules use SpamAssassin's network tests, which never hit in rule files here (as with its network tests off): DNSEval 1, URIDNSBL 1",
				"\n  DNSEval (check_rbl and its kin): DNS block lists are [dnsbl] zones",
				"\n  URIDNSBL (check_uridnsbl): URI block lists are [uribl] zones",
			},
		},
		{
			name: "local.cf settings",
			file: "rewrite_header Subject *****SPAM*****\nreport_safe 1\ntrusted_networks 192.0.2.\nrequired_score 6.0\nuse_bayes 1\nbayes_auto_learn 1\nadd_header all Report _REPORT_\n",
			want: []string{
				"\n  rewrite_header Subject: Postern's is subject_tag",
				"\n  report_safe: Postern never wraps",
				"\n  trusted_networks: relays are trusted as SpamAssassin trusts them without it",
				"\n  required_score: Postern's is required_score",
				"\n  use_bayes: Postern's is [bayes] enabled",
				"\n  bayes_auto_learn: Postern's is [bayes] autolearn",
				"\n  add_header: Postern writes X-Spam-Flag, X-Spam-Status, X-Spam-Level and X-Spam-Report itself",
			},
		},
		{
			name:     "neither",
			file:     "header LOCAL_SUBJ Subject =~ /cheap/i\n",
			wantNone: []string{"network tests", "[uribl]", "[dnsbl]", "Postern's is"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".cf")
			if err := os.WriteFile(f, []byte(tc.file), 0o644); err != nil {
				t.Fatal(err)
			}
			out, errOut, code := postern(t, "", "rules", "lint", "-c", cfg, f)
			if code != 0 {
				t.Fatalf("lint exit %d: %s%s", code, out, errOut)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("lint output lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tc.wantNone {
				if strings.Contains(out, w) {
					t.Errorf("lint output has %q:\n%s", w, out)
				}
			}
		})
	}
}
