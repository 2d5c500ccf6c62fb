package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// policySetup writes a configuration with allow, deny and greylisting lists.
func policySetup(t *testing.T) (cfg, data, allow string) {
	dir := t.TempDir()
	allow = filepath.Join(dir, "allow.list")
	deny := filepath.Join(dir, "deny.list")
	os.WriteFile(deny, []byte("from spammer@evil.example\n"), 0o644)
	os.WriteFile(allow, nil, 0o644)
	cfg = filepath.Join(dir, "postern.toml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`rules_paths = ["default"]
[policy]
allow_lists = [%q]
deny_lists = [%q]
trusted_networks = []
[greylist]
enabled = true
`, allow, deny)), 0o644)
	return cfg, filepath.Join(dir, "data"), allow
}

func TestListsCommand(t *testing.T) {
	cfg, data, allow := policySetup(t)
	run := func(args ...string) (string, int) {
		out, errOut, code := postern(t, "", append(args, "-c", cfg, "--data-dir", data)...)
		return out + errOut, code
	}
	if out, code := run("lists", "add", "allow", "client", "192.0.2.0/24"); code != 0 || !strings.Contains(out, "added to "+allow) {
		t.Fatalf("add (%d): %s", code, out)
	}
	if out, code := run("lists", "add", "allow", "client", "300.0.0.1/8"); code == 0 || !strings.Contains(out, "ENTRY:1") {
		t.Fatalf("a bad entry was added (%d): %s", code, out)
	}
	if out, code := run("lists", "show"); code != 0 || !strings.Contains(out, allow+":1: client 192.0.2.0/24") ||
		!strings.Contains(out, "deny (policy.deny_lists): 1 entries") {
		t.Fatalf("show (%d): %s", code, out)
	}
	if out, code := run("lists", "delete", "allow", "client  192.0.2.0/24"); code != 0 {
		t.Fatalf("delete (%d): %s", code, out)
	}
	if b, _ := os.ReadFile(allow); strings.TrimSpace(string(b)) != "" {
		t.Fatalf("after delete: %q", b)
	}
	os.WriteFile(allow, []byte("client nonsense!\n"), 0o644)
	if out, code := run("lists", "lint"); code != 1 || !strings.Contains(out, allow+":1:") {
		t.Fatalf("lint of a bad list (%d): %s", code, out)
	}
}

func TestGreylistCommand(t *testing.T) {
	cfg, data, _ := policySetup(t)
	run := func(args ...string) (string, int) {
		out, errOut, code := postern(t, "", append(args, "-c", cfg, "--data-dir", data)...)
		return out + errOut, code
	}
	if out, code := run("greylist", "add", "192.0.2.7", "<News@Example.org>", "user@example.com"); code != 0 {
		t.Fatalf("add (%d): %s", code, out)
	}
	if out, code := run("greylist", "allow", "198.51.100.9"); code != 0 || !strings.Contains(out, "auto-allowed") {
		t.Fatalf("allow (%d): %s", code, out)
	}
	out, code := run("greylist", "list")
	if code != 0 || !strings.Contains(out, "192.0.2.0/news@example.org/user@example.com  passed") ||
		!strings.Contains(out, "198.51.100.9") || !strings.Contains(out, "1 triplets, 1 clients") {
		t.Fatalf("list (%d): %s", code, out)
	}
	if out, code := run("greylist", "delete", "192.0.2.0/news@example.org/user@example.com"); code != 0 {
		t.Fatalf("delete (%d): %s", code, out)
	}
	if out, code := run("greylist", "delete", "nothing"); code == 0 {
		t.Fatalf("deleting nothing succeeded: %s", out)
	}
}

func TestCheckWithEnvelope(t *testing.T) {
	cfg, data, _ := policySetup(t)
	msg := "Subject: test\r\n\r\n" + gtube + "\r\n"
	out, errOut, code := postern(t, msg, "check", "-c", cfg, "--data-dir", data, "--client-ip", "192.0.2.7",
		"--from", "spammer@evil.example", "--rcpt", "user@example.com", "--rcpt", "postmaster@example.com")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		"rcpt <user@example.com>: reject (554 5.7.1 Access denied) reason=deny-list",
		"rcpt <postmaster@example.com>: continue reason=role-account",
		"no [dns] resolver",
		"Action: accept; reason: spam", // a role account is a recipient: tagged
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// Greylisting is read only in check: nothing is recorded.
	out, _, _ = postern(t, "", "check", "-c", cfg, "--data-dir", data, "--client-ip", "192.0.2.7",
		"--from", "a@example.org", "--rcpt", "user@example.com")
	if !strings.Contains(out, "tempfail (450 4.7.1 Greylisted") {
		t.Errorf("greylisting not shown:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(data, "greylist.db")); err == nil {
		t.Error("check created the greylisting database")
	}
}

// TestCheckRecipientSettings: check shows the 452 that keeps recipients with
// other settings out of the message, and decides by the first one's entry.
func TestCheckRecipientSettings(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "postern.toml")
	os.WriteFile(cfg, []byte(`rules_paths = ["default"]
[recipients."@lenient.example"]
reject_score = 10000
subject_tag = "[SPAM]"
[attachments]
exempt_rcpts = ["it@example.com"]
`), 0o644)
	msg := "Subject: test\r\n\r\n" + gtube + "\r\n"
	for _, tc := range []struct {
		rcpts []string
		want  []string
	}{
		{[]string{"x@lenient.example", "u@example.com", "postmaster@example.com", "it@example.com", "y@lenient.example"}, []string{
			"rcpt <x@lenient.example>: continue\n",
			"rcpt <u@example.com>: tempfail (452 4.5.3 Too many recipients: send to this one in a message of its own) reason=split detail=settings defaults, the message's recipients @lenient.example",
			"rcpt <postmaster@example.com>: tempfail (452 4.5.3 Too many recipients: send to this one in a message of its own) reason=split detail=settings role-account, the message's recipients @lenient.example",
			"rcpt <it@example.com>: tempfail (452 4.5.3 Too many recipients: send to this one in a message of its own) reason=split detail=settings takes-banned, the message's recipients @lenient.example",
			"rcpt <y@lenient.example>: continue\n",
			"Action: accept; reason: spam",
			`Settings: [recipients."@lenient.example"]`,
		}},
		{[]string{"u@example.com", "x@lenient.example"}, []string{
			"rcpt <x@lenient.example>: tempfail (452 4.5.3",
			"Action: reject (550 5.7.1",
		}},
	} {
		args := []string{"check", "-c", cfg, "--data-dir", filepath.Join(dir, "data")}
		for _, r := range tc.rcpts {
			args = append(args, "--rcpt", r)
		}
		out, errOut, code := postern(t, msg, args...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		for _, want := range tc.want {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
	}
}
