package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/postern/postern/internal/pgdb"
	"github.com/postern/postern/internal/testutil"
	"github.com/postern/postern/quarantine"
)

// State made on SQLite moves to PostgreSQL with postern migrate, every command then
// works on it with [storage] url set, and it moves back unchanged.
func TestMigrateAndStorageURL(t *testing.T) {
	// A password (the test cluster trusts every connection) that must never be printed.
	url := strings.Replace(testutil.StartPostgres(t).NewDatabase(t), "postgres@", "postgres:s3cret@", 1)
	cfg, data, _ := policySetup(t)
	dir := filepath.Dir(cfg)
	spamDir, hamMbox := writeCorpus(t, dir, 50)
	run := func(args ...string) string {
		t.Helper()
		out, errOut, code := postern(t, "", args...)
		if code != 0 {
			t.Fatalf("%v: exit %d\n%s%s", args, code, out, errOut)
		}
		return out + errOut
	}
	run("learn", "--spam-path", spamDir, "--ham-path", hamMbox, "-c", cfg, "--data-dir", data)
	run("greylist", "add", "192.0.2.7", "news@example.org", "user@example.com", "-c", cfg, "--data-dir", data)
	qs, err := quarantine.OpenSQLite(filepath.Join(data, quarantine.FileName))
	if err != nil {
		t.Fatal(err)
	}
	r := &quarantine.Record{ID: "Q1", Time: time.Now(), Rcpts: []string{"user@example.com"}, Subject: "pills",
		Reason: quarantine.ReasonBanned, Action: quarantine.ActionRejected, Tests: []string{"GTUBE"},
		Detail: `"pills.exe": extension .exe`}
	if err := qs.Put(context.Background(), r, strings.NewReader("Subject: pills\r\n\r\nbuy\r\n")); err != nil {
		t.Fatal(err)
	}
	qs.Close()

	out := run("migrate", "--from", data, "--to", url)
	for _, want := range []string{"bayes:      50 spam and 50 ham learned", "quarantine: 1 records copied", "greylist:   1 records copied"} {
		if !strings.Contains(out, want) {
			t.Errorf("migrate to PostgreSQL: output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "s3cret") {
		t.Errorf("the password is printed: %s", out)
	}

	pgCfg := filepath.Join(dir, "pg.toml")
	b, _ := os.ReadFile(cfg)
	os.WriteFile(pgCfg, append(b, fmt.Sprintf("[storage]\nurl = %q\n", url)...), 0o644)
	// A data_dir with nothing in it: every store must come from the database.
	empty := filepath.Join(dir, "empty")
	var rec quarantine.Record
	lines := strings.Split(strings.TrimSpace(run("quarantine", "list", "--json", "-c", pgCfg, "--data-dir", empty)), "\n")
	if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil || len(lines) != 1 || rec.ID != "Q1" || rec.Detail != r.Detail {
		t.Fatalf("quarantine list on PostgreSQL: %q, %v", lines, err)
	}
	if out := run("quarantine", "show", "Q1", "-c", pgCfg, "--data-dir", empty); !strings.Contains(out, "Subject: pills") {
		t.Errorf("quarantine show: %s", out)
	}
	if out := run("greylist", "list", "-c", pgCfg, "--data-dir", empty); !strings.Contains(out, "192.0.2.0/news@example.org/user@example.com") {
		t.Errorf("greylist list: %s", out)
	}
	if out := run("bayes", "stats", "-c", pgCfg, "--data-dir", empty); !strings.Contains(out, "50 spam, 50 ham") {
		t.Errorf("bayes stats: %s", out)
	}
	// Learning honours the URL too.
	extra := filepath.Join(dir, "extra.eml")
	os.WriteFile(extra, []byte("From: a@b.example\nSubject: one more\nMessage-ID: <extra@b.example>\n\nanother cheap pills offer\n"), 0o644)
	run("learn", "--spam", "--all", "-c", pgCfg, "--data-dir", empty, extra)

	back := filepath.Join(dir, "back")
	out = run("migrate", "--from", url, "--to", back)
	if !strings.Contains(out, "bayes:      51 spam and 50 ham learned") || !strings.Contains(out, "quarantine: 1 records copied") {
		t.Errorf("migrate back: %s", out)
	}
	pgExport := run("bayes", "export", "-", "-c", pgCfg, "--data-dir", empty)
	sqliteExport := run("bayes", "export", "-", "-c", cfg, "--data-dir", back)
	if pgExport != sqliteExport {
		t.Error("the Bayes store differs after the round trip")
	}
	if _, err := os.Stat(filepath.Join(empty, quarantine.FileName)); err == nil {
		t.Error("a command with [storage] url created a SQLite quarantine")
	}
}

// The commands that only read a store create none in an empty database: check
// runs without Bayes, quarantine list says there is no quarantine, as on SQLite,
// and no table appears.
func TestReadersCreateNoTables(t *testing.T) {
	url := testutil.SharedPostgres(t).NewDatabase(t)
	cfg, _, _ := policySetup(t)
	dir := filepath.Dir(cfg)
	pgCfg := filepath.Join(dir, "pg.toml")
	b, _ := os.ReadFile(cfg)
	os.WriteFile(pgCfg, append(b, fmt.Sprintf("[storage]\nurl = %q\n", url)...), 0o644)
	msg := filepath.Join(dir, "m.eml")
	os.WriteFile(msg, []byte("From: a@b.example\nSubject: hello\nMessage-ID: <m@b.example>\n\nhello\n"), 0o644)
	empty := filepath.Join(dir, "empty")
	if out, errOut, code := postern(t, "", "check", msg, "-c", pgCfg, "--data-dir", empty); code != 0 {
		t.Errorf("check: exit %d\n%s%s", code, out, errOut)
	}
	if out, errOut, code := postern(t, "", "quarantine", "list", "-c", pgCfg, "--data-dir", empty); code == 0 || !strings.Contains(errOut, "no quarantine at") {
		t.Errorf("quarantine list on an empty database: exit %d\n%s%s", code, out, errOut)
	}
	for _, store := range []string{"bayes", "quarantine", "greylist"} {
		if ok, err := pgdb.Exists(context.Background(), url, store); err != nil || ok {
			t.Errorf("after check and quarantine list, store %s exists: %v, %v", store, ok, err)
		}
	}
}
