package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/postern/postern/internal/testutil"
)

// TestHealthzFollowsClamd: /healthz is 200 while serve can work, 503 naming clamd
// while clamd is down, and 200 again once it is back.
func TestHealthzFollowsClamd(t *testing.T) {
	clamd := testutil.StartClamd(t, "")
	dir := t.TempDir()
	milterAddr := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
	metricsAddr := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
	cfg := filepath.Join(dir, "postern.toml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("rules_paths = [\"default\"]\n[metrics]\nlisten = %q\n[clamd]\naddress = %q\n", metricsAddr, clamd.TCP)), 0o644)
	testutil.StartDaemon(t, bin, milterAddr, "serve", "-c", cfg, "--data-dir", filepath.Join(dir, "data"), "--listen", "inet:"+milterAddr)
	testutil.WaitListening(t, metricsAddr, 10*time.Second)

	get := func() (int, string) {
		t.Helper()
		resp, err := http.Get("http://" + metricsAddr + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get(); code != 200 || !strings.Contains(body, "clamd") || !strings.Contains(body, "quarantine") {
		t.Fatalf("healthy: %d %q", code, body)
	}
	clamd.Kill()
	if code, body := get(); code != 503 || !strings.Contains(body, "clamd: ") {
		t.Fatalf("clamd down: %d %q, want 503 naming clamd", code, body)
	}
	clamd.Restart(t)
	if code, body := get(); code != 200 {
		t.Fatalf("clamd back: %d %q", code, body)
	}
}
