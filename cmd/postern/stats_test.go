package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/postern/postern/internal/testutil"
)

// TestStatsOnAKnownHistory sends three clean messages and two GTUBE through a running
// serve's milter, then asks postern stats.
func TestStatsOnAKnownHistory(t *testing.T) {
	dir := t.TempDir()
	milterAddr := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
	metricsAddr := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
	cfg := filepath.Join(dir, "postern.toml")
	data := filepath.Join(dir, "data")
	os.WriteFile(cfg, []byte(fmt.Sprintf("rules_paths = [\"default\"]\n[metrics]\nlisten = %q\n", metricsAddr)), 0o644)

	// Before serve runs: the databases only, said so.
	out, _, code := postern(t, "", "stats", "-c", cfg, "--data-dir", data)
	if code != 0 || !strings.Contains(out, "serve not reachable") {
		t.Fatalf("without serve (%d):\n%s", code, out)
	}

	testutil.StartDaemon(t, bin, milterAddr, "serve", "-c", cfg, "--data-dir", data, "--listen", "inet:"+milterAddr)
	testutil.WaitListening(t, metricsAddr, 10*time.Second)
	for i, body := range []string{"hello", "hello again", gtube, "third", gtube} {
		header := [][2]string{{"Subject", fmt.Sprintf("message %d", i)}}
		if _, err := testutil.MilterSend(milterAddr, "192.0.2.7", "a@example.org", "b@example.com", header, body+"\r\n"); err != nil {
			t.Fatal(err)
		}
	}

	out, errOut, code := postern(t, "", "stats", "-c", cfg, "--data-dir", data, "--since", "1h")
	if code != 0 {
		t.Fatalf("stats: %d %s", code, errOut)
	}
	if !regexp.MustCompile(`check time on average \(parse [0-9.]+(, (rules|banned|bayes) [0-9.]+){3} ms; the checks run side by side\)`).MatchString(out) {
		t.Errorf("stats lacks the parse's and each check's average time:\n%s", out)
	}
	for _, want := range []string{"5 messages", "accept/clean", "reject/spam", "GTUBE", "kept in the window: spam 2", "Quarantine in all: 2 records", "Bayes: 0 spam, 0 ham learned", "cold start", "continue/-"} {
		if !strings.Contains(out, want) {
			t.Errorf("stats lacks %q:\n%s", want, out)
		}
	}
	out, _, _ = postern(t, "", "stats", "-c", cfg, "--data-dir", data, "--json")
	var j struct {
		Serve struct {
			Counts struct {
				Messages map[string]int `json:"messages"`
				Rules    map[string]int `json:"rules"`
			} `json:"counts"`
		} `json:"serve"`
	}
	if err := json.Unmarshal([]byte(out), &j); err != nil {
		t.Fatalf("json: %v\n%s", err, out)
	}
	if m := j.Serve.Counts.Messages; m["accept/clean"] != 3 || m["reject/spam"] != 2 || j.Serve.Counts.Rules["GTUBE"] != 2 {
		t.Fatalf("counts %+v", j.Serve.Counts)
	}
}
