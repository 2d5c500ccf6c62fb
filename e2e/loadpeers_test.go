package e2e

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/postern/postern/internal/corpus"
	"github.com/postern/postern/internal/testutil"
)

// The peers an operator would pick instead of postern, run by the load test with
// -load.peers on the same messages in the same run (the CI smoke run leaves them out).
// Debian's packages, offline on loopback (../shared/notes/peers.md).
var loadPeers = flag.Bool("load.peers", false, "load test: also run spamass-milter + spamd and clamav-milter")

// procTreeCPU is the CPU time of pid and its live descendants (spamd's children are
// never reaped while it runs, so the parent's own counters miss them).
func procTreeCPU(pid int) time.Duration {
	total := procCPU(pid)
	for _, c := range children(pid) {
		total += procTreeCPU(c)
	}
	return total
}

// children lists the live processes whose parent is pid (Linux).
func children(pid int) []int {
	var out []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil || child == pid {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", child))
		if err != nil {
			continue
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
		if ppid, _ := strconv.Atoi(f[1]); ppid == pid {
			out = append(out, child)
		}
	}
	return out
}

// procTreeHWM sums the peak resident memory of pid and its live descendants.
func procTreeHWM(pid int) int64 {
	total := procHWM(pid)
	for _, c := range children(pid) {
		total += procTreeHWM(c)
	}
	return total
}

// startBackground runs a daemon until the test ends and returns its process id.
func startBackground(t *testing.T, name string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(name, args...)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() || os.Getenv("LOAD_DEBUG") != "" {
			t.Logf("%s output:\n%s", name, out.String())
		}
	})
	return cmd
}

// runSpamassMilter: spamd (rules + Bayes trained on train, network tests off) behind
// spamass-milter, rejecting at 15 points like postern's reject_score.
func runSpamassMilter(t *testing.T, train, send []corpus.Sample) loadResult {
	testutil.Require(t, "spamd", "spamass-milter", "sa-learn")
	// Not t.TempDir(): its parent is private to root, and spamd runs as its own user.
	dir, err := os.MkdirTemp("", "postern-spamd-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	site := filepath.Join(dir, "site")
	os.MkdirAll(filepath.Join(dir, "home"), 0o755)
	os.MkdirAll(filepath.Join(dir, "bayes"), 0o755)
	os.Mkdir(site, 0o755)
	pres, _ := filepath.Glob("/etc/spamassassin/*.pre")
	for _, p := range pres {
		b, _ := os.ReadFile(p)
		os.WriteFile(filepath.Join(site, filepath.Base(p)), b, 0o644)
	}
	local := fmt.Sprintf("skip_rbl_checks 1\ndns_available no\nuse_razor2 0\nuse_pyzor 0\nuse_dcc 0\n"+
		"bayes_path %s/bayes/bayes\nbayes_file_mode 0666\nbayes_auto_learn 0\nrequired_score 5.0\n", dir)
	os.WriteFile(filepath.Join(site, "local.cf"), []byte(local), 0o644)
	exec.Command("chown", "-R", "debian-spamd", dir).Run()
	if len(train) > 0 {
		for _, spam := range []bool{true, false} {
			var files []string
			for _, s := range train {
				if s.Spam == spam {
					files = append(files, s.Path)
				}
			}
			class := map[bool]string{true: "--spam", false: "--ham"}[spam]
			// As root, which can read the corpus cache; the files go to spamd's user after.
			args := append([]string{"--siteconfigpath", site, "--dbpath", filepath.Join(dir, "bayes"), "--no-sync", class}, files...)
			if out, err := exec.Command("sa-learn", args...).CombinedOutput(); err != nil {
				t.Fatalf("sa-learn: %v\n%s", err, out)
			}
		}
		exec.Command("sa-learn", "--siteconfigpath", site, "--dbpath", filepath.Join(dir, "bayes"), "--sync").Run()
		exec.Command("chown", "-R", "debian-spamd", dir).Run()
	}
	spamdPort := testutil.FreePort(t)
	spamd := startBackground(t, "spamd", "-L", "-u", "debian-spamd", fmt.Sprintf("--listen=127.0.0.1:%d", spamdPort),
		"--allowed-ips=127.0.0.1", "--siteconfigpath="+site, "--helper-home-dir="+filepath.Join(dir, "home"),
		"--pidfile="+filepath.Join(dir, "spamd.pid"), "--max-children=2", "--min-children=2")
	testutil.WaitListening(t, fmt.Sprintf("127.0.0.1:%d", spamdPort), 60*time.Second)
	milterPort := testutil.FreePort(t)
	startBackground(t, "spamass-milter", "-p", fmt.Sprintf("inet:%d@127.0.0.1", milterPort), "-r", "15", "-m",
		"--", "-d", "127.0.0.1", "-p", strconv.Itoa(spamdPort))
	testutil.WaitListening(t, fmt.Sprintf("127.0.0.1:%d", milterPort), 30*time.Second)
	cpu0 := procTreeCPU(spamd.Process.Pid)
	r := runLoad(t, "Postfix + spamass-milter + spamd (rules, Bayes)",
		fmt.Sprintf("smtpd_milters = inet:127.0.0.1:%d\nmilter_default_action = tempfail\n", milterPort), nil, send)
	r.cpuPerMsg = (procTreeCPU(spamd.Process.Pid) - cpu0) / time.Duration(max(r.sent, 1))
	r.peakRSS = procTreeHWM(spamd.Process.Pid)
	return r
}

// runClamavMilter: the virus-only peer, against its own private clamd.
func runClamavMilter(t *testing.T, send []corpus.Sample) loadResult {
	testutil.Require(t, "clamav-milter")
	clamd := testutil.StartClamd(t, "")
	dir := t.TempDir()
	port := testutil.FreePort(t)
	conf := fmt.Sprintf("MilterSocket inet:%d@127.0.0.1\nFixStaleSocket true\nUser root\nForeground true\n"+
		"ClamdSocket tcp:%s\nOnClean Accept\nOnInfected Reject\nOnFail Defer\nAddHeader Replace\n"+
		"LogFile %s/clamav-milter.log\nMaxFileSize 25M\nTemporaryDirectory %s\n",
		port, strings.TrimPrefix(clamd.TCP, "tcp://"), dir, dir)
	confPath := filepath.Join(dir, "clamav-milter.conf")
	os.WriteFile(confPath, []byte(conf), 0o644)
	m := startBackground(t, "clamav-milter", "-c", confPath)
	testutil.WaitListening(t, fmt.Sprintf("127.0.0.1:%d", port), 30*time.Second)
	cpu0 := procCPU(m.Process.Pid)
	r := runLoad(t, "Postfix + clamav-milter (viruses only)",
		fmt.Sprintf("smtpd_milters = inet:127.0.0.1:%d\nmilter_default_action = tempfail\n", port), nil, send)
	r.cpuPerMsg = (procCPU(m.Process.Pid) - cpu0) / time.Duration(max(r.sent, 1))
	r.peakRSS = procHWM(m.Process.Pid)
	return r
}
