package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/postern/postern/internal/testutil"
)

// TestRulesReloadOnSIGHUP: a running postern picks up edited rule files on SIGHUP,
// and keeps its old rules when the new files have errors; postern rules reload sends
// that SIGHUP only when the rules have no errors.
func TestRulesReloadOnSIGHUP(t *testing.T) {
	e := newEnv(t)
	rulesDir := filepath.Join(e.tmp, "rules")
	os.Mkdir(rulesDir, 0o755)
	ruleFile := filepath.Join(rulesDir, "local.cf")
	write := func(content string) {
		if err := os.WriteFile(ruleFile, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("body LOCAL_OLD /quarterly widget/i\nscore LOCAL_OLD 0.5\n")
	cfg := fmt.Sprintf("rules_paths = [%q]\n[milter]\nshutdown_timeout = \"5s\"\n", rulesDir)
	os.WriteFile(e.cfg, []byte(cfg), 0o644)
	d := e.start()

	status := func(marker string) string {
		t.Helper()
		code, text := sendSMTP(t, e.pf.SMTPAddr, "sender@example.org", []string{"rcpt@example.com"}, message("widgets", marker, "our quarterly widget report"))
		got := delivered(t, e.sink, marker+"@example.org", code, text)
		status := headerOf(got.Data, "X-Spam-Status")
		if status == "" {
			t.Fatalf("no X-Spam-Status in:\n%s", got.Data)
		}
		return status
	}
	reloads := 0 // outcomes logged so far: "rules reloaded" or "keeping the old rules"
	waitReload := func() {
		t.Helper()
		reloads++
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			out := d.Output()
			if strings.Count(out, "SIGHUP: rules reloaded")+strings.Count(out, "keeping the old rules\"") >= reloads {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("reload %d never logged:\n%s", reloads, out)
			}
		}
	}
	reload := func() {
		d.Cmd.Process.Signal(syscall.SIGHUP)
		waitReload()
	}

	if s := status("reload-1"); !strings.Contains(s, "LOCAL_OLD") {
		t.Fatalf("before reload: %s", s)
	}
	write("body LOCAL_NEW /quarterly widget/i\nscore LOCAL_NEW 0.7\n")
	reload()
	if s := status("reload-2"); !strings.Contains(s, "LOCAL_NEW") || strings.Contains(s, "LOCAL_OLD") {
		t.Fatalf("after reload: %s", s)
	}
	write("body LOCAL_BROKEN /quarterly (widget/i\n")
	reload()
	if s := status("reload-3"); !strings.Contains(s, "LOCAL_NEW") {
		t.Fatalf("after a broken reload the old rules are gone: %s", s)
	}
	if out := d.Output(); !strings.Contains(out, "keeping the old rules") || !strings.Contains(out, "local.cf:1") {
		t.Errorf("the log does not name the error:\n%s", out)
	}

	// postern rules reload: errors stop it before any signal; good rules are sent.
	out, code := e.cli("rules", "reload", "--pid", fmt.Sprint(d.Cmd.Process.Pid))
	if code != 1 || !strings.Contains(out, "local.cf:1") || !strings.Contains(out, "nothing signalled") {
		t.Fatalf("rules reload with a broken file: exit %d:\n%s", code, out)
	}
	write("body LOCAL_CLI /quarterly widget/i\nscore LOCAL_CLI 0.9\n")
	out, code = e.cli("rules", "reload") // finds the running serve itself
	if code != 0 || !strings.Contains(out, fmt.Sprintf("pid %d", d.Cmd.Process.Pid)) {
		t.Fatalf("rules reload: exit %d:\n%s", code, out)
	}
	waitReload()
	if s := status("reload-4"); !strings.Contains(s, "LOCAL_CLI") {
		t.Fatalf("after postern rules reload: %s", s)
	}
}

// TestSettingsReloadOnSIGHUP: SIGHUP applies edited scores and [recipients]
// to the next message through Postfix, keeps the old ones when the file has an
// error, and names the edited keys that wait for a restart.
func TestSettingsReloadOnSIGHUP(t *testing.T) {
	e := newEnv(t)
	rulesDir := filepath.Join(e.tmp, "rules")
	os.Mkdir(rulesDir, 0o755)
	os.WriteFile(filepath.Join(rulesDir, "local.cf"), []byte("body LOCAL_TEN /quarterly widget/i\nscore LOCAL_TEN 10\n"), 0o644)
	base := fmt.Sprintf("rules_paths = [%q]\n", rulesDir)
	metricsAddr := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
	write := func(content string) {
		if err := os.WriteFile(e.cfg, []byte(base+content+"[milter]\nshutdown_timeout = \"5s\"\n[metrics]\nlisten = \""+metricsAddr+"\"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("")
	d := e.start()
	send := func(marker, rcpt string) (int, string) {
		return sendSMTP(t, e.pf.SMTPAddr, "sender@example.org", []string{rcpt}, message("widgets", marker, "our quarterly widget report"))
	}
	reload := func(outcome string) {
		t.Helper()
		before := strings.Count(d.Output(), outcome)
		d.Cmd.Process.Signal(syscall.SIGHUP)
		for deadline := time.Now().Add(10 * time.Second); strings.Count(d.Output(), outcome) == before; time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("no %q in the log after SIGHUP:\n%s", outcome, d.Output())
			}
		}
	}

	sendFile := func(marker, name, rcpt string) (int, string) {
		return sendSMTP(t, e.pf.SMTPAddr, "sender@example.org", []string{rcpt},
			testutil.WithAttachment(marker, name, "application/octet-stream", []byte("x")))
	}

	code, text := send("set-1", "rcpt@example.com")
	got := delivered(t, e.sink, "set-1@example.org", code, text)
	if headerOf(got.Data, "X-Spam-Flag") != "X-Spam-Flag: YES" {
		t.Fatalf("before the reload, 10 points are tagged spam:\n%s", got.Data)
	}
	if code, text := sendFile("file-1", "setup.exe", "it@example.com"); code != 550 || !strings.Contains(text, "attachment setup.exe is of a type") {
		t.Errorf("before the reload, a program: reply %d %s, want the default 550", code, text)
	}
	code, text = sendFile("file-2", "notes.txt", "rcpt@example.com")
	delivered(t, e.sink, "file-2@example.org", code, text)

	write("reject_score = 8\n[recipients.\"@lenient.example\"]\nreject_score = 10000\nsubject_tag = \"[SPAM]\"\n[dns]\ntimeout = \"5s\"\n" +
		"[attachments]\nextensions = [\"exe\", \"txt\"]\nexempt_rcpts = [\"it@example.com\"]\n[replies]\nbanned = \"No {name} here (ref {ref})\"\n" +
		"[policy]\nrole_accounts = [\"postmaster\", \"abuse\", \"sales\"]\n[auth]\nauthserv_id = \"mx.test\"\n[bayes]\nrefresh = \"10s\"\n")
	reload("SIGHUP: settings reloaded")
	if code, text := send("set-2", "rcpt@example.com"); code != 550 {
		t.Errorf("after reject_score = 8: reply %d %s, want 550", code, text)
	}
	notDelivered(t, e.sink, "set-2@example.org")
	code, text = send("set-3", "u@lenient.example")
	got = delivered(t, e.sink, "set-3@example.org", code, text)
	if s := headerOf(got.Data, "Subject"); s != "Subject: [SPAM] widgets" {
		t.Errorf("a new [recipients] entry's mail: Subject %q, want tagged", s)
	}
	// An envelope setting: a new role account's spam is tagged, not refused.
	code, text = send("set-5", "sales@example.com")
	got = delivered(t, e.sink, "set-5@example.org", code, text)
	if headerOf(got.Data, "X-Spam-Flag") != "X-Spam-Flag: YES" {
		t.Errorf("a new role account's spam: not tagged:\n%.600s", got.Data)
	}
	// [attachments] and replies.banned: a new extension refused with the new
	// text, and a new exempt recipient takes the program it was refused.
	if code, text := sendFile("file-3", "notes.txt", "rcpt@example.com"); code != 550 || !strings.Contains(text, "No notes.txt here (ref ") {
		t.Errorf("after extensions gained txt: reply %d %s, want 550 with the new replies.banned", code, text)
	}
	notDelivered(t, e.sink, "file-3@example.org")
	code, text = sendFile("file-4", "setup.exe", "it@example.com")
	got = delivered(t, e.sink, "file-4@example.org", code, text)
	if !strings.Contains(got.Data, `X-Postern-Banned: "setup.exe": extension .exe`) {
		t.Errorf("a new exempt recipient's program is not marked:\n%.800s", got.Data)
	}
	if !d.WaitOutput(`msg="SIGHUP: changed in the configuration, but kept as they were until a restart" keys=dns.timeout`, 5*time.Second) {
		t.Errorf("the log does not name the key that waits for a restart:\n%s", d.Output())
	}
	if !d.WaitOutput(`msg="SIGHUP: applied the changed keys" keys="reject_score recipients policy.role_accounts auth.authserv_id attachments.extensions attachments.exempt_rcpts bayes.refresh replies.banned"`, 5*time.Second) {
		t.Errorf("the log does not name the keys applied:\n%s", d.Output())
	}
	if !d.WaitOutput(`msg="bayes: refresh interval changed" refresh=10s`, 5*time.Second) {
		t.Errorf("the Bayes refresh loop did not take bayes.refresh:\n%s", d.Output())
	}

	write("reject_score = \"eight\"\n")
	reload("configuration has errors: keeping the old rules, lists and settings")
	if code, text := send("set-4", "rcpt@example.com"); code != 550 {
		t.Errorf("after a broken file: reply %d %s, want the old reject_score's 550", code, text)
	}
	wantMetrics(t, metricsAddr, "postern_config_last_reload_successful 0")

	// [quarantine] spam: from refusing to holding, as an operator starts; and
	// the log's level, turned up for a while.
	if strings.Contains(d.Output(), "milter negotiation") {
		t.Fatal("debug lines before log_level = debug")
	}
	write("log_level = \"debug\"\nreject_score = 8\n[quarantine]\nspam = \"hold\"\n[limits]\nmax_message_size = \"64KiB\"\nscan_limit = \"32KiB\"\n")
	reload("SIGHUP: settings reloaded")
	if code, text := send("set-6", "rcpt@example.com"); code != 250 {
		t.Errorf("after spam = hold: reply %d %s, want 250 (into the hold queue)", code, text)
	}
	notDelivered(t, e.sink, "set-6@example.org")
	if out, _ := e.cli("quarantine", "list", "--status", "held", "--json"); !strings.Contains(out, "set-6@example.org") {
		t.Errorf("the held message is not in the quarantine as held:\n%s", out)
	}
	if !strings.Contains(d.Output(), "milter negotiation") {
		t.Error("no debug line after log_level = debug and a reload")
	}
	wantMetrics(t, metricsAddr, "postern_config_last_reload_successful 1")
	// limits.max_message_size, read at the next MAIL FROM.
	big := message("big", "set-7", strings.Repeat(strings.Repeat("z", 78)+"\r\n", 1200))
	if code, text := sendSMTP(t, e.pf.SMTPAddr, "sender@example.org", []string{"rcpt@example.com"}, big); code != 552 {
		t.Errorf("95 KB after max_message_size = 64KiB: reply %d %s, want 552", code, text)
	}
}
