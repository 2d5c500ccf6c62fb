package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/postern/postern/internal/testutil"
	"github.com/postern/postern/rules"
)

// TestServeKeepsAutomata: what the rules' DFAs learned from mail through Postfix is
// written to data_dir when serve stops, read when it starts again, and kept
// across a SIGHUP reload of unchanged rules.
func TestServeKeepsAutomata(t *testing.T) {
	testutil.Require(t, "spamassassin") // (the stock rules: enough DFAs to learn a few hundred states on a few messages)
	e := newEnv(t)
	d := e.start()
	bodies := []string{
		"Dear friend, CLICK HERE to claim your $1,000,000 USD prize!!! Limited time offer, act now: http://198.51.100.7/claim",
		"V1AGRA and C1ALIS at the lowest prices. No prescription needed. Order today, unsubscribe below.",
		"Hi Bob, the quarterly report is attached. Can we meet for lunch on Thursday to go over it? Regards, Alice",
		"Your account has been SUSPENDED. Verify your password at http://bank.example.com.login.example/verify.php within 24 hours.",
	}
	for i, body := range bodies {
		marker := fmt.Sprintf("automata-%d", i)
		code, text := sendSMTP(t, e.pf.SMTPAddr, "sender@example.org", []string{"rcpt@example.com"}, message("message "+marker, marker, body))
		if code != 250 && code != 550 {
			t.Fatalf("%s: %d %s", marker, code, text)
		}
	}
	if err := d.Stop(10 * time.Second); err != nil {
		t.Fatalf("serve did not stop cleanly: %v\n%s", err, d.Output())
	}
	written := statesIn(t, d.Output(), "rules: automata cache written")
	if _, err := os.Stat(filepath.Join(e.data, rules.AutomataFile)); err != nil || written == 0 {
		t.Fatalf("no automata cache after a stop (%d states logged): %v\n%s", written, err, d.Output())
	}

	d = e.start()
	if !d.WaitOutput("rules: automata cache loaded", 10*time.Second) {
		t.Fatalf("the cache was not read at start:\n%s", d.Output())
	}
	if got := statesIn(t, d.Output(), "rules: automata cache loaded"); got < written {
		t.Errorf("%d states read of the %d written", got, written)
	}
	d.Cmd.Process.Signal(syscall.SIGHUP)
	if !d.WaitOutput("SIGHUP: rules reloaded", 20*time.Second) {
		t.Fatalf("no reload:\n%s", d.Output())
	}
	m := regexp.MustCompile(`SIGHUP: rules reloaded.* states_kept=(\d+)`).FindStringSubmatch(d.Output())
	if m == nil || m[1] == "0" {
		t.Fatalf("the reload kept no states:\n%s", d.Output())
	}
	t.Logf("%d states written at the stop, %s kept by the reload", written, m[1])
}

// statesIn is the states= field of the log line with msg.
func statesIn(t *testing.T, log, msg string) int {
	t.Helper()
	m := regexp.MustCompile(regexp.QuoteMeta(msg) + `".* states=(\d+)`).FindStringSubmatch(log)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}
