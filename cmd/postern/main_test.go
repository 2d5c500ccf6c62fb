package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"

	"github.com/postern/postern/filter"
	"github.com/postern/postern/internal/testutil"
	"github.com/postern/postern/rules"
)

var bin string

// TestMain builds the binary once: the CLI is tested as operators run it.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "postern-cli-")
	if err != nil {
		panic(err)
	}
	bin = filepath.Join(dir, "postern")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		os.Stderr.Write(out)
		panic(err)
	}
	code := m.Run()
	// migrate's tests start the package's shared PostgreSQL cluster: without this
	// it ran on after the tests, with its directory left in the temp dir.
	testutil.StopSharedPostgres()
	os.RemoveAll(dir)
	os.Exit(code)
}

func postern(t *testing.T, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return o.String(), e.String(), code
}

const gtube = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"

func TestHelp(t *testing.T) {
	tests := []struct {
		args []string
		code int
		want []string
	}{
		{[]string{"--help"}, 0, []string{"serve", "check", "config", "version", "--data-dir"}},
		{[]string{"serve", "--help"}, 0, []string{"smtpd_milters", "-listen", "-config", "-data-dir"}},
		{[]string{"check", "--help"}, 0, []string{"-json", "spamassassin -t", "-data-dir"}},
		{[]string{"config", "--help"}, 0, []string{"config test", "file:line"}},
		{[]string{"version"}, 0, []string{"postern " + Version}},
		{[]string{"nonsense"}, 2, []string{"unknown command"}},
		{nil, 2, []string{"Usage"}},
	}
	for _, tc := range tests {
		out, errOut, code := postern(t, "", tc.args...)
		if code != tc.code {
			t.Errorf("%v: exit %d, want %d", tc.args, code, tc.code)
		}
		for _, w := range tc.want {
			if !strings.Contains(out+errOut, w) {
				t.Errorf("%v: output lacks %q:\n%s%s", tc.args, w, out, errOut)
			}
		}
	}
}

func TestConfigTest(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.toml")
	bad := filepath.Join(dir, "bad.toml")
	os.WriteFile(good, []byte("required_score = 6\n[milter]\nlisten = \"unix:/run/postern.sock\"\n"), 0o644)
	os.WriteFile(bad, []byte("required_score = 6\nreject_scor = 20\n[limits]\nscan_limit = \"big\"\n"), 0o644)

	if out, errOut, code := postern(t, "", "config", "test", "-c", good); code != 0 || !strings.Contains(out, "OK") {
		t.Errorf("good config: exit %d %s%s", code, out, errOut)
	}
	_, errOut, code := postern(t, "", "config", "test", "--config", bad)
	if code == 0 {
		t.Error("bad config: exit 0")
	}
	for _, w := range []string{bad + ":2: reject_scor: unknown key", bad + ":4: limits.scan_limit: bad size"} {
		if !strings.Contains(errOut, w) {
			t.Errorf("bad config: output lacks %q:\n%s", w, errOut)
		}
	}
	if _, _, code := postern(t, "", "config", "test", "-c", filepath.Join(dir, "missing.toml")); code == 0 {
		t.Error("an explicitly named missing file passed")
	}
	if out, _, code := postern(t, "", "config", "doc"); code != 0 || !strings.Contains(out, "`required_score`") {
		t.Errorf("config doc: exit %d", code)
	}
}

type jsonOut struct {
	File     string `json:"file"`
	Action   string `json:"action"`
	Spam     bool   `json:"spam"`
	Score    float64
	Required float64
	Tests    []struct {
		Name  string
		Score float64
	}
	Virus *string
	Bayes *float64
	MS    *float64 `json:"ms"`
	Times map[string]float64
}

func TestCheckJSON(t *testing.T) {
	dir := t.TempDir()
	md := filepath.Join(dir, "Maildir")
	for _, d := range []string{"cur", "new", "tmp"} {
		os.MkdirAll(filepath.Join(md, d), 0o755)
	}
	files := map[string]string{
		"Maildir/cur/1.host:2,S": "Subject: hi\r\nMessage-ID: <1@x>\r\n\r\nclean\r\n",
		"Maildir/new/2.host":     "Subject: test\r\nMessage-ID: <2@x>\r\n\r\n" + gtube + "\r\n",
		"mbox-style.eml":         "From someone@example.org Mon Jan  1 00:00:00 2024\nSubject: From line\nMessage-ID: <3@x>\n\nhello\n",
		"Maildir/.hidden":        "not a message",
		// An mbox file, checked message by message; a body line left unescaped
		// does not start a message.
		"Junk": "From a@example.org Mon Jan  1 00:00:00 2024\nSubject: one\nMessage-ID: <4@x>\n\nFrom thrilling slots\n>From here on\n\n" +
			"From b@example.org Mon Jan  1 00:00:01 2024\nSubject: two\nMessage-ID: <5@x>\n\n" + gtube + "\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, errOut, code := postern(t, "", "check", "-c", ownRulesOnly(t), "--json", "--data-dir", dir, md, filepath.Join(dir, "mbox-style.eml"), filepath.Join(dir, "Junk"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 5 {
		t.Fatalf("%d lines:\n%s", len(lines), out)
	}
	want := []struct {
		suffix string
		action string
		spam   bool
		score  float64
	}{
		{"cur/1.host:2,S", "accept", false, 0},
		{"new/2.host", "reject", true, 1000},
		{"mbox-style.eml", "accept", false, 0},
		{"Junk#1", "accept", false, 0},
		{"Junk#2", "reject", true, 1000},
	}
	for i, line := range lines {
		var r jsonOut
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("line %d: %v: %s", i, err, line)
		}
		w := want[i]
		if !strings.HasSuffix(r.File, w.suffix) || r.Action != w.action || r.Spam != w.spam || r.Score != w.score || r.Required != 5 {
			t.Errorf("line %d: %s", i, line)
		}
		if r.Virus != nil || r.Bayes != nil || r.MS == nil || r.Tests == nil {
			t.Errorf("line %d: virus/bayes must be null while off, ms and tests present: %s", i, line)
		}
		if _, ok := r.Times["parse"]; !ok || len(r.Times) != 4 { // parse, rules, banned, bayes
			t.Errorf("line %d: times %v, want the parse's and each check's", i, r.Times)
		}
		for _, key := range []string{`"virus":null`, `"bayes":null`, `"tests":[`} {
			if !strings.Contains(line, key) {
				t.Errorf("line %d lacks %s", i, key)
			}
		}
	}
	if !strings.Contains(lines[1], `"tests":[{"name":"GTUBE","score":1000}]`) {
		t.Errorf("GTUBE line: %s", lines[1])
	}
	// check writes no store: the data dir holds only what the test put there,
	// and perhaps the rules' DFA cache, a cache the next process may use
	// (TestCheckAutomataCache). (The config file is in a directory of its own.)
	entries, _ := os.ReadDir(dir)
	entries = slices.DeleteFunc(entries, func(e os.DirEntry) bool { return e.Name() == rules.AutomataFile })
	if len(entries) != 3 {
		t.Errorf("check wrote into the data dir: %v", entries)
	}
}

// --uris lists the links uri rules read, in the report and in the JSON: an
// HTML link read against its <base href>, a name written without a scheme.
func TestCheckURIs(t *testing.T) {
	dir := t.TempDir()
	msg := filepath.Join(dir, "m.eml")
	raw := "Subject: hi\r\nContent-Type: text/html\r\n\r\n" +
		`<base href="http://spam.example.com/dir/"><a href="go.php">go</a> or type pills.example.net` + "\r\n"
	if err := os.WriteFile(msg, []byte(raw), 0o644); err != nil {
		t.Fatal(err)
	}
	want := []string{"http://spam.example.com/dir/go.php", "http://pills.example.net"}
	out, errOut, code := postern(t, "", "check", "-c", ownRulesOnly(t), "--uris", "--data-dir", dir, msg)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, u := range want {
		if !strings.Contains(out, "Links uri rules read:") || !strings.Contains(out, "\n  "+u+"\n") {
			t.Errorf("report lacks %s:\n%s", u, out)
		}
	}
	out, errOut, code = postern(t, "", "check", "-c", ownRulesOnly(t), "--json", "--uris", "--data-dir", dir, msg)
	var r struct{ URIs []string }
	if err := json.Unmarshal([]byte(out), &r); code != 0 || err != nil {
		t.Fatalf("exit %d, %v: %s %s", code, err, out, errOut)
	}
	for _, u := range want {
		if !slices.Contains(r.URIs, u) {
			t.Errorf("JSON uris %q lack %s", r.URIs, u)
		}
	}
	if out, _, _ := postern(t, "", "check", "-c", ownRulesOnly(t), "--json", "--data-dir", dir, msg); strings.Contains(out, `"uris"`) {
		t.Errorf("uris without --uris: %s", out)
	}
}

// --cpu adds one line on stderr: the start-up's CPU and the messages', counted.
func TestCheckCPU(t *testing.T) {
	dir := t.TempDir()
	var paths []string
	for i := range 2 {
		f := filepath.Join(dir, fmt.Sprintf("%d.eml", i))
		if err := os.WriteFile(f, []byte("Subject: hi\r\n\r\nclean\r\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, f)
	}
	args := append([]string{"check", "-c", ownRulesOnly(t), "--json", "--cpu", "--data-dir", dir}, paths...)
	out, errOut, code := postern(t, "", args...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if n := strings.Count(out, "\n"); n != 2 {
		t.Errorf("%d report lines on stdout, want 2:\n%s", n, out)
	}
	if !regexp.MustCompile(`(?m)^postern: CPU: start-up [0-9.]+ ms, messages [0-9.]+ ms \(2 messages, [0-9.]+ µs each\)$`).MatchString(errOut) {
		t.Errorf("stderr: %q", errOut)
	}
}

// ownRulesOnly writes a configuration with Postern's own rules only, so a test of
// the command's output does not depend on the stock rules the machine has.
func ownRulesOnly(t *testing.T) string {
	f := filepath.Join(t.TempDir(), "postern.toml")
	if err := os.WriteFile(f, []byte("rules_paths = [\"default\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestCheckReportAndErrors(t *testing.T) {
	out, _, code := postern(t, "Subject: x\nMessage-ID: <1@x>\n\n"+gtube+"\n", "check", "-c", ownRulesOnly(t))
	if code != 0 {
		t.Errorf("stdin: exit %d", code)
	}
	for _, w := range []string{"Content analysis details:   (1000.0 points, 5.0 required)", "GTUBE", "Action: reject (550 5.7.1"} {
		if !strings.Contains(out, w) {
			t.Errorf("report lacks %q:\n%s", w, out)
		}
	}
	out, errOut, code := postern(t, "", "check", "--json", "/nonexistent/message")
	if code == 0 || !strings.Contains(out, `"action":"error"`) || !strings.Contains(errOut, "could not be checked") {
		t.Errorf("missing file: exit %d\n%s%s", code, out, errOut)
	}
}

func TestRulesCost(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"1.eml": "From: a@example.com\nSubject: hello\nReceived: from x (x [192.0.2.1]) by mx.example.com with ESMTP id 1; Mon, 1 Jun 2026 10:00:00 +0000\n\nhello there\n",
		"2.eml": "From " + "a@example.com Mon Jun  1 10:00:00 2026\nFrom: a@example.com\nSubject: x\n\n" + gtube + "\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, errOut, code := postern(t, "", "rules", "cost", "-c", ownRulesOnly(t), "--passes", "2", "--top", "0", dir, "/nonexistent/message")
	if code != 0 || !strings.Contains(errOut, "/nonexistent/message skipped") {
		t.Fatalf("exit %d (an unreadable file is skipped with a word): %s%s", code, out, errOut)
	}
	for _, w := range []string{"2 evaluations (2 passes, all but the first counted)", "(texts prepared, their literals found)\n", "GTUBE  [body rules with literals]\n", "shared analyses", "body rules with literals",
		"what the automata learned: their states, and their transition tables' KB, the largest first\n", " rules and unions)\n"} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"rules", "cost", "-c", ownRulesOnly(t)}, "want PATH"},
		{[]string{"rules", "cost", "-c", ownRulesOnly(t), "/nonexistent/messages"}, "/nonexistent/messages"},
		{[]string{"rules", "cost", "-c", ownRulesOnly(t), "--passes", "0", dir}, "--passes"},
	} {
		if _, errOut, code := postern(t, "", tc.args...); code == 0 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, stderr %q (want it to name %q)", tc.args, code, errOut, tc.want)
		}
	}
}

// TestRulesTestMeta: rules test of a meta rule says which of its operands hit.
func TestRulesTestMeta(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"r.cf":         "body __A /alpha/\nbody __B /beta/\nmeta M __A && !__B\nscore M 1\n",
		"postern.toml": "rules_paths = [\"" + filepath.Join(dir, "r.cf") + "\"]\n",
		"message.eml":  "From: a@example.com\nSubject: x\n\nalpha\n",
		"message2.eml": "From: a@example.com\nSubject: x\n\nalpha beta\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		msg  string
		code int
		want string
	}{
		{"message.eml", 0, "HIT: score 1.000, in meta\n  __A: hit\n  __B: no hit\n"},
		{"message2.eml", 1, "no hit\n  __A: hit\n  __B: hit\n"},
	} {
		out, errOut, code := postern(t, "", "rules", "test", "-c", filepath.Join(dir, "postern.toml"), "--data-dir", dir, "M", filepath.Join(dir, c.msg))
		if code != c.code || !strings.Contains(out, c.want) {
			t.Errorf("%s: exit %d, want %d; output lacks %q:\n%s%s", c.msg, code, c.code, c.want, out, errOut)
		}
	}
}

// TestLogPanics: a recovered panic reaches the log whole, stack and all, while the
// report keeps its first line; other errors stay out of the log.
func TestLogPanics(t *testing.T) {
	panicked := fmt.Errorf("check rules: %w: index out of range\ngoroutine 7 [running]:\nrules.(*dfa).step", filter.ErrPanic)
	cases := []struct {
		name string
		errs []error
		want string // "" for nothing logged
	}{
		{"panic", []error{panicked}, "rules.(*dfa).step"},
		{"plain error", []error{errors.New("clamd: connection refused")}, ""},
		{"none", nil, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var buf bytes.Buffer
			log := logrus.New()
			log.SetOutput(&buf)
			logPanics(log, checked{path: "m.eml", v: filter.Verdict{Errors: c.errs}})
			got := buf.String()
			if c.want == "" && got != "" || !strings.Contains(got, c.want) {
				t.Fatalf("log = %q, want it to hold %q", got, c.want)
			}
			if c.want != "" && !strings.Contains(got, "m.eml") {
				t.Fatalf("log = %q, want the file named", got)
			}
		})
	}
	if got := errorsText([]error{panicked}); strings.Contains(got, "goroutine") {
		t.Fatalf("report = %q, want the first line only", got)
	}
}

// TestCheckJSONDetail: a message refused for what a check found says what in
// check's JSON, as the quarantine's record does.
func TestCheckJSONDetail(t *testing.T) {
	dir := t.TempDir()
	msg := filepath.Join(dir, "invoice.eml")
	raw := testutil.WithAttachment("invoice", "Rechnung.pdf.exe", "application/octet-stream", []byte("hello"))
	if err := os.WriteFile(msg, []byte(raw), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := postern(t, "", "check", "-c", ownRulesOnly(t), "--json", "--data-dir", dir, msg)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var r struct{ Action, Reason, Detail string }
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if r.Action != "reject" || r.Reason != "banned" || r.Detail != `"Rechnung.pdf.exe": extension .exe` {
		t.Errorf("got %+v", r)
	}
}

// postern check reads a message over scan_limit as serve does: not scored
// (GTUBE passes), still looked at for banned files, and says so.
func TestCheckOverScanLimit(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "postern.toml")
	if err := os.WriteFile(cfg, []byte("rules_paths = [\"default\"]\n[limits]\nscan_limit = \"1KiB\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	pad := strings.Repeat("padding padding\r\n", 100)
	for _, tc := range []struct {
		name, raw string
		json      bool
		want      []string
	}{
		{"GTUBE, text", "Subject: big\r\n\r\n" + gtube + "\r\n" + pad, false, []string{
			"Action: accept; reason: unscanned",
			"Not checked: content scoring (message size 1786 exceeds scan_limit 1024)",
		}},
		{"GTUBE, json", "Subject: big\r\n\r\n" + gtube + "\r\n" + pad, true, []string{
			`"action":"accept","reason":"unscanned"`,
			`"skipped":["content scoring (message size 1786 exceeds scan_limit 1024)"]`,
		}},
		{"a program", testutil.WithAttachment("big", "setup.exe", "application/octet-stream", []byte(pad)), true, []string{
			`"action":"reject","reason":"banned"`,
		}},
		{"under the limit, scored", "Subject: small\r\n\r\n" + gtube + "\r\n", true, []string{
			`"action":"reject","reason":"spam"`,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"check", "-c", cfg, "--data-dir", filepath.Join(dir, "data")}
			if tc.json {
				args = append(args, "--json")
			}
			out, errOut, code := postern(t, tc.raw, args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}
