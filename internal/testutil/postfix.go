package testutil

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// Require skips the test when a binary is missing, except in CI (CI=true), where
// .ci/run installs everything and a missing binary is a failure.
func Require(t testing.TB, bins ...string) {
	t.Helper()
	for _, b := range bins {
		if _, err := exec.LookPath(b); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s not found: .ci/run must install it (CI=%s)", b, os.Getenv("CI"))
			}
			t.Skipf("%s not found: run scripts/test.sh (it installs Postfix and clamd) to run this test", b)
		}
	}
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("integration tests need root to start a private Postfix")
		}
		t.Skip("starting a private Postfix needs root")
	}
}

// FreePort returns a loopback TCP port that was free a moment ago, and never one it
// returned before in this process: the kernel readily hands out a port again once
// its listener is closed, and a test that took two ports in a row (the milter's and
// the metrics') once got the same one twice.
func FreePort(t testing.TB) int {
	t.Helper()
	port, err := ports.take(loopbackPort)
	if err != nil {
		t.Fatal(err)
	}
	return port
}

var ports = &portBook{given: map[int]bool{}}

// portBook remembers the ports handed out.
type portBook struct {
	mu    sync.Mutex
	given map[int]bool
}

// take asks next for ports until one not handed out before.
func (b *portBook) take(next func() (int, error)) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for range 100 {
		port, err := next()
		if err != nil {
			return 0, err
		}
		if !b.given[port] {
			b.given[port] = true
			return port, nil
		}
	}
	return 0, fmt.Errorf("no loopback port that was not handed out before")
}

// loopbackPort is a loopback TCP port free a moment ago.
func loopbackPort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// WaitListening waits until addr accepts TCP connections.
func WaitListening(t testing.TB, addr string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			return
		}
		time.Sleep(30 * time.Millisecond)
	}
	t.Fatalf("nothing listens on %s after %s", addr, timeout)
}

// Postfix is a private Postfix instance: its own config, queue and log directories.
type Postfix struct {
	Dir         string // config directory, for postfix -c
	SMTPAddr    string // where its smtpd listens, with the milter
	ReleaseAddr string // a second smtpd without milters, for quarantine releases
	Maillog     string
}

// MilterSnippet reads the main.cf lines docs/postfix.md tells operators to add, so the
// end-to-end test runs exactly what the documentation says.
func MilterSnippet(t testing.TB, docPath string) string {
	return Snippet(t, docPath, "main.cf milter snippet")
}

// Snippet reads the code block that follows the marker <!-- name --> in a doc.
func Snippet(t testing.TB, docPath, name string) string {
	t.Helper()
	b, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)<!-- " + regexp.QuoteMeta(name) + " -->\\s*```[a-z]*\\n(.*?)```").FindSubmatch(b)
	if m == nil {
		t.Fatalf("%s has no %q block", docPath, name)
	}
	return string(m[1])
}

// StartPostfix starts a private Postfix on a free loopback port that relays everything
// to relayAddr. milterLines are main.cf lines for the milter (the documented snippet).
// It is stopped when the test ends; its maillog is printed if the test failed.
//
// releaseService is the master.cf entry of the milter-less smtpd that quarantine
// releases go to (docs/postfix.md), its port 10026 replaced by a free one; empty for none.
func StartPostfix(t testing.TB, milterLines, relayAddr string, releaseService ...string) *Postfix {
	t.Helper()
	Require(t, "postfix")
	root, err := os.MkdirTemp("", "postern-postfix-")
	if err != nil {
		t.Fatal(err)
	}
	// Postfix's daemons run as user postfix and must reach the queue below root.
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	p := &Postfix{Dir: filepath.Join(root, "etc"), Maillog: filepath.Join(root, "maillog")}
	for _, d := range []string{"etc", "spool", "data"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := exec.Command("chown", "postfix", filepath.Join(root, "data")).CombinedOutput(); err != nil {
		t.Fatalf("chown: %v %s", err, out)
	}
	port := FreePort(t)
	p.SMTPAddr = fmt.Sprintf("127.0.0.1:%d", port)
	mainCF := fmt.Sprintf(`compatibility_level = 3.6
queue_directory = %[1]s/spool
data_directory = %[1]s/data
maillog_file = %[1]s/maillog
maillog_file_prefixes = /var, /dev/stdout, %[1]s
myhostname = mx.test.invalid
mydestination =
local_recipient_maps =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
relayhost = [%[2]s]:%[3]s
smtp_dns_support_level = disabled
queue_run_delay = 5s
minimal_backoff_time = 5s
maximal_backoff_time = 10s
message_size_limit = 104857600
%[4]s
`, root, hostOf(relayAddr), portOf(relayAddr), milterLines)
	masterCF := fmt.Sprintf("%s inet n - n - - smtpd\n", p.SMTPAddr)
	if len(releaseService) > 0 && releaseService[0] != "" {
		p.ReleaseAddr = fmt.Sprintf("127.0.0.1:%d", FreePort(t))
		masterCF += strings.Replace(releaseService[0], "127.0.0.1:10026", p.ReleaseAddr, 1)
	}
	for _, svc := range []string{
		"pickup unix n - n 60 1 pickup", "cleanup unix n - n - 0 cleanup", "qmgr unix n - n 300 1 qmgr",
		"rewrite unix - - n - - trivial-rewrite", "bounce unix - - n - 0 bounce", "defer unix - - n - 0 bounce",
		"trace unix - - n - 0 bounce", "verify unix - - n - 1 verify", "flush unix n - n 1000? 0 flush",
		"proxymap unix - - n - - proxymap", "proxywrite unix - - n - 1 proxymap", "smtp unix - - n - - smtp",
		"relay unix - - n - - smtp", "showq unix n - n - - showq", "error unix - - n - - error",
		"retry unix - - n - - error", "discard unix - - n - - discard", "local unix - n n - - local",
		"anvil unix - - n - 1 anvil", "scache unix - - n - 1 scache", "postlog unix-dgram n - n - 1 postlogd",
	} {
		masterCF += svc + "\n"
	}
	for name, content := range map[string]string{"main.cf": mainCF, "master.cf": masterCF} {
		if err := os.WriteFile(filepath.Join(p.Dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run := func(args ...string) error {
		out, err := exec.Command("postfix", append([]string{"-c", p.Dir}, args...)...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("postfix %s: %v\n%s\n%s", strings.Join(args, " "), err, out, p.Log())
		}
		return nil
	}
	if err := run("check"); err != nil {
		t.Fatal(err)
	}
	if err := run("start"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = run("stop")
		if t.Failed() {
			t.Logf("postfix maillog:\n%s", p.Log())
		}
		// Give master a moment to exit before its directories go.
		time.Sleep(200 * time.Millisecond)
		os.RemoveAll(root)
	})
	WaitListening(t, p.SMTPAddr, 15*time.Second)
	if p.ReleaseAddr != "" {
		WaitListening(t, p.ReleaseAddr, 15*time.Second)
	}
	return p
}

// Log returns the maillog so far.
func (p *Postfix) Log() string {
	b, _ := os.ReadFile(p.Maillog)
	return string(b)
}

func hostOf(addr string) string { h, _, _ := net.SplitHostPort(addr); return h }
func portOf(addr string) string { _, p, _ := net.SplitHostPort(addr); return p }
