package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/postern/postern/internal/testutil"
	"github.com/postern/postern/quarantine"
)

// env is one Postfix + postern + sink setup for the quarantine tests.
type env struct {
	t          *testing.T
	tmp, bin   string
	cfg, data  string
	milterAddr string
	sink       *testutil.Sink
	pf         *testutil.Postfix
}

func newEnv(t *testing.T) *env {
	testutil.Require(t, "postfix")
	e := &env{t: t, tmp: t.TempDir()}
	e.bin = testutil.BuildPostern(t, "..", e.tmp)
	e.sink = testutil.StartSink(t)
	e.milterAddr = fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
	snippet := strings.Replace(testutil.MilterSnippet(t, "../docs/postfix.md"), "inet:127.0.0.1:8895", "inet:"+e.milterAddr, 1)
	release := testutil.Snippet(t, "../docs/postfix.md", "master.cf release snippet")
	e.pf = testutil.StartPostfix(t, snippet, e.sink.Addr, release)
	e.data = filepath.Join(e.tmp, "data")
	e.cfg = filepath.Join(e.tmp, "postern.toml")
	cfg := fmt.Sprintf("[milter]\nshutdown_timeout = \"5s\"\n[quarantine]\nrelease_relay = %q\n", e.pf.ReleaseAddr)
	if err := os.WriteFile(e.cfg, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) start(wrapper ...string) *testutil.Daemon {
	args := append(wrapper, e.bin, "serve", "-c", e.cfg, "--data-dir", e.data, "--listen", "inet:"+e.milterAddr)
	return testutil.StartDaemon(e.t, args[0], e.milterAddr, args[1:]...)
}

// cli runs a postern command with this setup's config and data dir.
func (e *env) cli(args ...string) (string, int) { return runCLI(e.t, e.bin, e.cfg, e.data, args...) }

// runCLI runs a postern command with a configuration file and data dir, and returns
// its output and exit status.
func runCLI(t *testing.T, bin, cfg, data string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(bin, append(args, "-c", cfg, "--data-dir", data)...)
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		// Errorf, not Fatal: callers run it from goroutines too. -1 is no exit code.
		t.Errorf("%s %s: %v", bin, strings.Join(args, " "), err)
		return string(out), -1
	}
	return string(out), code
}

func refOf(text string) string {
	i := strings.Index(text, "(ref ")
	if i < 0 {
		return ""
	}
	ref := text[i+5:]
	return ref[:strings.IndexByte(ref, ')')]
}

func TestQuarantineReleaseThroughPostfix(t *testing.T) {
	e := newEnv(t)
	e.start()
	rcpts := []string{"alice@example.com", "bob@example.com"}
	raw := message("false positive", "fp-1", gtube)
	code, text := sendSMTP(t, e.pf.SMTPAddr, "partner@example.org", rcpts, raw)
	if code != 550 {
		t.Fatalf("reply %d %s", code, text)
	}
	id := refOf(text)

	out, code := e.cli("quarantine", "list", "--json", "--since", "1h")
	if code != 0 {
		t.Fatalf("list: %d %s", code, out)
	}
	var r struct {
		ID, Reason, Status, Subject, From, MailFrom string
		Score                                       float64
		Rcpts                                       []string
		Time                                        time.Time
	}
	if err := json.Unmarshal([]byte(strings.SplitN(out, "\n", 2)[0]), &r); err != nil {
		t.Fatalf("list --json: %v: %s", err, out)
	}
	if r.ID != id || r.Reason != "spam" || r.Status != "held" || r.Subject != "false positive" || r.Score < 990 ||
		strings.Join(r.Rcpts, ",") != strings.Join(rcpts, ",") || r.From != "sender@example.org" || time.Since(r.Time) > time.Hour {
		t.Errorf("record %+v, want id %s", r, id)
	}
	if out, _ := e.cli("quarantine", "list"); !strings.Contains(out, id) || !strings.Contains(out, "SUBJECT") {
		t.Errorf("table:\n%s", out)
	}
	shown, code := e.cli("quarantine", "show", id, "--raw")
	// Postfix adds a Date header before the milter sees the message; the rest is as sent.
	if code != 0 || !strings.HasPrefix(shown, "From: sender@example.org\r\n") || !strings.HasSuffix(shown, "\r\n\r\nfp-1\r\n"+gtube+"\r\n") {
		t.Errorf("show --raw is not the message as received:\n%q", shown)
	}
	if out, code := e.cli("quarantine", "show", id, "--report"); code != 0 || !strings.Contains(out, "GTUBE") {
		t.Errorf("report: %s", out)
	}
	if out, code := e.cli("quarantine", "show", "nosuchid"); code == 0 || !strings.Contains(out, "no such quarantined message") {
		t.Errorf("unknown id: %d %s", code, out)
	}

	if out, code := e.cli("quarantine", "release", id, "--learn-ham"); code != 0 || !strings.Contains(out, "learned as ham") {
		t.Fatalf("release --learn-ham: %d %s", code, out)
	}
	if out, _ := e.cli("bayes", "stats"); !strings.Contains(out, "0 spam, 1 ham") {
		t.Errorf("--learn-ham did not change the Bayes counts:\n%s", out)
	}
	got, ok := e.sink.WaitFor("fp-1@example.org", 30*time.Second)
	if !ok {
		t.Fatal("released message never arrived")
	}
	if got.From != "partner@example.org" || strings.Join(got.Rcpts, ",") != strings.Join(rcpts, ",") {
		t.Errorf("released with envelope %s → %v", got.From, got.Rcpts)
	}
	if !strings.Contains(got.Data, "X-Postern-Released: by ") || !strings.Contains(got.Data, "ref "+id) || !strings.Contains(got.Data, gtube) {
		t.Errorf("released message:\n%s", got.Data)
	}
	if out, _ := e.cli("quarantine", "list", "--status", "released"); !strings.Contains(out, id) {
		t.Errorf("not marked released:\n%s", out)
	}
	if out, code := e.cli("quarantine", "release", id); code == 0 || !strings.Contains(out, "--force") {
		t.Errorf("second release without --force: %d %s", code, out)
	}
	if out, code := e.cli("quarantine", "release", id, "--force", "--to", "postmaster@example.com"); code != 0 {
		t.Errorf("release --force: %d %s", code, out)
	}
	if out, code := e.cli("quarantine", "delete", id); code != 0 {
		t.Errorf("delete: %d %s", code, out)
	}
	if out, code := e.cli("quarantine", "show", id, "--raw"); code == 0 || !strings.Contains(out, "deleted") {
		t.Errorf("raw of a deleted message: %d %s", code, out)
	}
	if out, code := e.cli("quarantine", "stats"); code != 0 || !strings.Contains(out, "records: 1") || !strings.Contains(out, "database size") {
		t.Errorf("stats: %s", out)
	}
}

// With a release relay that refuses, nothing changes.
func TestReleaseFailureChangesNothing(t *testing.T) {
	e := newEnv(t)
	e.start()
	_, text := sendSMTP(t, e.pf.SMTPAddr, "partner@example.org", []string{"a@example.com"}, message("x", "rf-1", gtube))
	id := refOf(text)
	os.WriteFile(e.cfg, []byte("[quarantine]\nrelease_relay = \"127.0.0.1:1\"\n"), 0o644)
	if out, code := e.cli("quarantine", "release", id); code == 0 || !strings.Contains(out, "connect") {
		t.Fatalf("release to a dead relay: %d %s", code, out)
	}
	if out, _ := e.cli("quarantine", "list", "--status", "held"); !strings.Contains(out, id) {
		t.Errorf("status changed after a failed release:\n%s", out)
	}
}

// A quarantine that cannot be written means 451, never a 5xx without the copy.
func TestQuarantineWriteFailureTempfails(t *testing.T) {
	testutil.Require(t, "postfix", "setpriv")
	e := newEnv(t)
	// Run postern as nobody against a database file it may only read.
	shared, err := os.MkdirTemp("", "postern-ro-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(shared)
	os.Chmod(shared, 0o755)
	bin := filepath.Join(shared, "postern")
	if out, err := exec.Command("cp", e.bin, bin).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	e.bin = bin
	e.data = filepath.Join(shared, "data")
	os.Mkdir(e.data, 0o755)
	s, err := quarantine.OpenSQLite(filepath.Join(e.data, quarantine.FileName))
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	cfg := filepath.Join(shared, "postern.toml")
	os.WriteFile(cfg, []byte("[milter]\nshutdown_timeout = \"5s\"\n"), 0o644)
	e.cfg = cfg
	for _, cmd := range [][]string{{"chown", "-R", "nobody", e.data}, {"chmod", "0400", filepath.Join(e.data, quarantine.FileName)}} {
		if out, err := exec.Command(cmd[0], cmd[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v %s", cmd, err, out)
		}
	}
	d := e.start("setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups")

	code, text := sendSMTP(t, e.pf.SMTPAddr, "partner@example.org", []string{"a@example.com"}, message("ro", "ro-1", gtube))
	if code != 451 || !strings.HasPrefix(text, "4.7.1") {
		t.Fatalf("reply %d %q, want 451 4.7.1", code, text)
	}
	if !d.WaitOutput("readonly", 5*time.Second) {
		t.Errorf("the log does not say why:\n%s", d.Output())
	}
	notDelivered(t, e.sink, "ro-1@example.org")
	if code, text := sendSMTP(t, e.pf.SMTPAddr, "partner@example.org", []string{"a@example.com"}, message("ok", "ro-2", "clean")); code != 250 {
		t.Errorf("clean mail: %d %s", code, text)
	}
}

// TestCrashSafety kills postern with SIGKILL at random moments under a load of mixed
// messages: every message answered 250 reaches the sink, every 5xx is in the
// quarantine, whole, and everything else got a 4xx. Nothing is lost or half-written.
func TestCrashSafety(t *testing.T) {
	e := newEnv(t)
	seed := time.Now().UnixNano()
	rng := rand.New(rand.NewSource(seed))
	t.Logf("seed %d", seed)
	type result struct {
		marker string
		code   int
		text   string
	}
	for round := 0; round < 3; round++ {
		d := e.start()
		var mu sync.Mutex
		var results []result
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for w := 0; w < 6; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					marker := fmt.Sprintf("crash-%d-%d-%d", round, w, i)
					body := "an ordinary message"
					if i%2 == 1 {
						body = gtube
					}
					code, text := sendSMTPQuiet(e.pf.SMTPAddr, message("load", marker, body))
					mu.Lock()
					results = append(results, result{marker, code, text})
					mu.Unlock()
				}
			}(w)
		}
		// Kill at a random moment once the load is flowing (a slow machine may take
		// a while to answer its first messages).
		for waited := 0; waited < 300; waited++ {
			mu.Lock()
			answered := 0
			for _, r := range results {
				if r.code/100 == 2 || r.code/100 == 5 {
					answered++
				}
			}
			mu.Unlock()
			if answered >= 10 {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		killAfter := time.Duration(rng.Intn(800)) * time.Millisecond
		time.Sleep(killAfter)
		d.Cmd.Process.Kill()
		d.Cmd.Wait()
		time.Sleep(300 * time.Millisecond) // a few more messages meet a dead milter
		close(stop)
		wg.Wait()

		store, err := quarantine.OpenSQLite(filepath.Join(e.data, quarantine.FileName))
		if err != nil {
			t.Fatalf("round %d: quarantine does not open after SIGKILL: %v", round, err)
		}
		counts := map[int]int{}
		for _, r := range results {
			counts[r.code/100*100]++
			switch r.code / 100 {
			case 2:
				if _, ok := e.sink.WaitFor(r.marker+"@example.org", 30*time.Second); !ok {
					t.Errorf("round %d: %s got 250 but never arrived", round, r.marker)
				}
			case 5:
				id := refOf(r.text)
				raw, err := store.Raw(context.Background(), id)
				if err != nil || !bytes.Contains(raw, []byte(r.marker)) || !bytes.Contains(raw, []byte(gtube)) {
					t.Errorf("round %d: %s got %d %s but its copy is missing or broken: %v", round, r.marker, r.code, r.text, err)
				}
			case 4:
			default:
				t.Errorf("round %d: %s got %d %s", round, r.marker, r.code, r.text)
			}
		}
		store.Close()
		t.Logf("round %d: killed %s after the first 10 answers; replies by class: %v", round, killAfter, counts)
		if counts[200] == 0 || counts[500] == 0 || counts[400] == 0 {
			t.Errorf("round %d: the load did not exercise every outcome: %v", round, counts)
		}
	}
}

// sendSMTPQuiet is sendSMTP for load goroutines: failures are results, not t.Fatal.
func sendSMTPQuiet(addr, msg string) (int, string) {
	c, err := dialSMTP(addr)
	if err != nil {
		return 0, err.Error()
	}
	defer c.Close()
	steps := []func() error{
		func() error { return c.Hello("client.test.invalid") },
		func() error { return c.Mail("sender@example.org") },
		func() error { return c.Rcpt("rcpt@example.com") },
	}
	for _, st := range steps {
		if err := st(); err != nil {
			return codeOf(err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return codeOf(err)
	}
	w.Write([]byte(msg))
	if err := w.Close(); err != nil {
		return codeOf(err)
	}
	c.Quit()
	return 250, ""
}
