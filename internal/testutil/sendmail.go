package testutil

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// SendmailRoot is where scripts/test.sh unpacks Debian's sendmail-bin and sendmail-cf
// (the packages conflict with postfix, so they are unpacked, not installed);
// POSTERN_SENDMAIL_ROOT overrides it.
func SendmailRoot() string {
	if r := os.Getenv("POSTERN_SENDMAIL_ROOT"); r != "" {
		return r
	}
	return "/opt/postern-test/sendmail"
}

// Sendmail is a private Sendmail daemon started by a test.
type Sendmail struct {
	SMTPAddr string
	Dir      string
	cmd      *exec.Cmd
	traffic  string
}

// RequireSendmail skips (or, under CI=true, fails) when the unpacked Sendmail is
// missing or the test is not root.
func RequireSendmail(t testing.TB) (bin, cfDir string) {
	t.Helper()
	bin = filepath.Join(SendmailRoot(), "usr/libexec/sendmail/sendmail")
	cfDir = filepath.Join(SendmailRoot(), "usr/share/sendmail/cf")
	for _, p := range []string{bin, cfDir} {
		if _, err := os.Stat(p); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s not found: scripts/test.sh must unpack sendmail-bin and sendmail-cf (CI=%s)", p, os.Getenv("CI"))
			}
			t.Skipf("%s not found: run scripts/test.sh (it unpacks Debian's Sendmail) to run this test", p)
		}
	}
	Require(t, "m4", "unshare")
	return bin, cfDir
}

// SendmailMC is the test's .mc: a relay for everything to relayAddr, on a loopback
// port, with milterLines (the documented INPUT_MAIL_FILTER lines).
func SendmailMC(port int, relayAddr, milterLines string) string {
	return fmt.Sprintf(`divert(-1)
divert(0)dnl
VERSIONID(`+"`postern test'"+`)dnl
OSTYPE(`+"`linux'"+`)dnl
define(`+"`confDOMAIN_NAME', `mx.sendmail.test'"+`)dnl
define(`+"`confDONT_PROBE_INTERFACES', `True'"+`)dnl
define(`+"`confDONT_BLAME_SENDMAIL', `GroupWritableDirPathSafe'"+`)dnl
define(`+"`ALIAS_FILE', `'"+`)dnl
define(`+"`STATUS_FILE', `'"+`)dnl
define(`+"`confHOST_STATUS_DIRECTORY', `'"+`)dnl
define(`+"`confTO_QUEUERETURN', `1h'"+`)dnl
define(`+"`confMIN_QUEUE_AGE', `0'"+`)dnl
define(`+"`SMART_HOST', `[%s]'"+`)dnl
define(`+"`RELAY_MAILER_ARGS', `TCP $h %s'"+`)dnl
define(`+"`ESMTP_MAILER_ARGS', `TCP $h %s'"+`)dnl
define(`+"`confDELIVERY_MODE', `background'"+`)dnl
FEATURE(`+"`nocanonify'"+`)dnl
FEATURE(`+"`promiscuous_relay'"+`)dnl
FEATURE(`+"`accept_unresolvable_domains'"+`)dnl
FEATURE(`+"`accept_unqualified_senders'"+`)dnl
DAEMON_OPTIONS(`+"`Port=%d, Addr=127.0.0.1, Name=MTA'"+`)dnl
%s
MAILER(`+"`smtp'"+`)dnl
`, hostOf(relayAddr), portOf(relayAddr), portOf(relayAddr), port, milterLines)
}

// StartSendmail builds a sendmail.cf from the test's .mc with m4 and runs Sendmail in
// the foreground as root, stopped when the test ends; the SMTP traffic it logged is
// printed if the test failed (Sendmail itself logs to syslog only).
func StartSendmail(t testing.TB, milterLines, relayAddr string) *Sendmail {
	t.Helper()
	bin, cfDir := RequireSendmail(t)
	root, err := os.MkdirTemp("", "postern-sendmail-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(root, 0o755)
	queue := filepath.Join(root, "mqueue")
	if err := os.Mkdir(queue, 0o700); err != nil {
		t.Fatal(err)
	}
	port := FreePort(t)
	s := &Sendmail{SMTPAddr: fmt.Sprintf("127.0.0.1:%d", port), Dir: root, traffic: filepath.Join(root, "traffic")}
	mc := filepath.Join(root, "test.mc")
	if err := os.WriteFile(mc, []byte(SendmailMC(port, relayAddr, milterLines)), 0o644); err != nil {
		t.Fatal(err)
	}
	m4 := exec.Command("m4", "-D_CF_DIR_="+cfDir+"/", filepath.Join(cfDir, "m4/cf.m4"), mc)
	cf, err := m4.Output()
	if err != nil {
		t.Fatalf("m4: %v", err)
	}
	cfPath := filepath.Join(root, "sendmail.cf")
	if err := os.WriteFile(cfPath, cf, 0o644); err != nil {
		t.Fatal(err)
	}
	// Sendmail wants a qualified host name at start and asks DNS to qualify a short
	// one, which here has no server to answer: it would wait minutes. In a UTS
	// namespace of its own it gets a qualified name and asks nothing.
	s.cmd = exec.Command("unshare", "--uts", "sh", "-c", `hostname mx.sendmail.test && exec "$@"`, "sendmail",
		bin, "-C", cfPath, "-bD", "-q5s", "-X", s.traffic,
		"-OQueueDirectory="+queue, "-OPidFile="+filepath.Join(root, "sendmail.pid"))
	s.cmd.Env = append(os.Environ(), "RES_OPTIONS=timeout:1 attempts:1")
	var out strings.Builder
	s.cmd.Stdout, s.cmd.Stderr = &out, &out
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { s.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			s.cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("sendmail output:\n%s\nsendmail SMTP traffic:\n%s", out.String(), s.Traffic())
		}
		os.RemoveAll(root)
	})
	WaitListening(t, s.SMTPAddr, 15*time.Second)
	return s
}

// Traffic is the SMTP traffic Sendmail logged so far (-X).
func (s *Sendmail) Traffic() string {
	b, _ := os.ReadFile(s.traffic)
	return string(b)
}
