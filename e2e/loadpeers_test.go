package e2e

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/postern/postern/internal/corpus"
	"github.com/postern/postern/internal/testutil"
)

// The peers an operator would pick instead of postern, run by the load test with
// -load.peers on the same messages in the same run (the CI smoke run leaves them out).
// Debian's packages, offline on loopback (../shared/notes/peers.md).
var loadPeers = flag.Bool("load.peers", false, "load test: also run rspamd, spamass-milter + spamd, and clamav-milter")

// procTreeCPU is the CPU time of pid and its live descendants (spamd's children are
// never reaped while it runs, so the parent's own counters miss them).
func procTreeCPU(pid int) time.Duration {
	var total time.Duration
	for _, p := range procTree(pid) {
		total += procOwnCPU(p)
	}
	return total
}

// procOwnCPU is a process's CPU time with that of the children it has reaped:
// spamd replaces its children every 200 messages, and their time would go with
// them.
func procOwnCPU(pid int) time.Duration { return testutil.ProcCPU(pid) + procReapedCPU(pid) }

// procReapedCPU is the user and system CPU time of a process's children that it
// has waited for (cutime and cstime, Linux).
func procReapedCPU(pid int) time.Duration { return testutil.StatTicks(pid, 13, 14) }

// procTree is pid and its live descendants (Linux), from one read of /proc.
func procTree(pid int) []int {
	kids := map[int][]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if f := testutil.StatFields(p); len(f) >= 2 {
			ppid, _ := strconv.Atoi(f[1])
			kids[ppid] = append(kids[ppid], p)
		}
	}
	tree := []int{pid}
	for i := 0; i < len(tree); i++ {
		tree = append(tree, kids[tree[i]]...)
	}
	return tree
}

// procTreePSS sums the proportional set size of pid and its live descendants now:
// their shared pages (rspamd's compiled rules, spamd's preforked children) counted
// once, as their peaks cannot be without double counting.
func procTreePSS(pid int) int64 {
	var total int64
	for _, p := range procTree(pid) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", p))
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "Pss:") {
				kb, _ := strconv.ParseInt(strings.Fields(l)[1], 10, 64)
				total += kb << 10
			}
		}
	}
	return total
}

// startBackground runs a daemon until the test ends and returns its command.
func startBackground(t testing.TB, name string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(name, args...)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	// Its own process group, killed whole: rspamd's workers and spamd's children
	// would outlive their parent and hold the output pipe, and Wait with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
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
	r := runLoad(t, "Postfix + spamass-milter + spamd (rules, Bayes)",
		fmt.Sprintf("smtpd_milters = inet:127.0.0.1:%d\nmilter_default_action = tempfail\n", milterPort), nil, send,
		meters{filter: func() time.Duration { return procTreeCPU(spamd.Process.Pid) }})
	r.peakRSS = procTreePSS(spamd.Process.Pid)
	return r
}

// runClamavMilter: the virus-only peer, against its own private clamd.
func runClamavMilter(t *testing.T, send []corpus.Sample) loadResult {
	testutil.Require(t, "clamav-milter")
	clamd := loadClamd(t)
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
	r := runLoad(t, "Postfix + clamav-milter (viruses only)",
		fmt.Sprintf("smtpd_milters = inet:127.0.0.1:%d\nmilter_default_action = tempfail\n", port), nil, send,
		meters{func() time.Duration { return testutil.ProcCPU(m.Process.Pid) }, func() time.Duration { return testutil.ProcCPU(clamd.Pid()) }})
	r.peakRSS = procHWM(m.Process.Pid)
	return r
}

// runRspamd: rspamd 3.4 in milter mode (its proxy worker, two scanning workers),
// its Bayes in a private Redis trained with rspamc on the same messages, its
// antivirus module sending the whole message to a private clamd, the modules that
// need DNS or the network off; it rejects at 15 like postern. It binds its default
// ports (11332 proxy, 11333 normal, 11334 controller). Its Redis counts with it:
// rspamd's Bayes lives there (its lookups run as Redis scripts), where postern's
// and spamd's are in process.
func runRspamd(t *testing.T, train, send []corpus.Sample) loadResult {
	clamd := loadClamd(t)
	rspamd, redis := startRspamd(t, train, strings.TrimPrefix(clamd.TCP, "tcp://"))
	r := runLoad(t, "Postfix + rspamd milter (rules, Bayes in its Redis, clamd)", "smtpd_milters = inet:127.0.0.1:11332\nmilter_default_action = tempfail\n", nil, send,
		meters{func() time.Duration { return procTreeCPU(rspamd) + testutil.ProcCPU(redis) }, func() time.Duration { return testutil.ProcCPU(clamd.Pid()) }})
	r.peakRSS = procTreePSS(rspamd) + procTreePSS(redis)
	return r
}

// startRspamd starts rspamd (two normal workers, the proxy for milters on
// 127.0.0.1:11332, everything that asks DNS or the network off) with its Bayes
// in a private Redis, and its antivirus module on the clamd at clamdAddr
// (host:port; "": no antivirus); learns train, and returns the process ids of
// rspamd's main process and of Redis.
func startRspamd(t testing.TB, train []corpus.Sample, clamdAddr string) (rspamd, redis int) {
	testutil.Require(t, "rspamd", "rspamc", "redis-server")
	dir, err := os.MkdirTemp("", "postern-rspamd-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	redisPort := testutil.FreePort(t)
	redisCmd := startBackground(t, "redis-server", "--port", strconv.Itoa(redisPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	testutil.WaitListening(t, fmt.Sprintf("127.0.0.1:%d", redisPort), 30*time.Second)
	local := filepath.Join(dir, "local", "local.d")
	for _, d := range []string{local, filepath.Join(dir, "db"), filepath.Join(dir, "run"), filepath.Join(dir, "log")} {
		os.MkdirAll(d, 0o755)
	}
	files := map[string]string{
		"options.inc":           "dns { nameserver = [\"127.0.0.1:53\"]; timeout = 0.1s; retransmits = 1; }\n",
		"logging.inc":           "type = \"file\";\nfilename = \"$LOGDIR/rspamd.log\";\nlevel = \"error\";\n",
		"redis.conf":            fmt.Sprintf("servers = \"127.0.0.1:%d\";\n", redisPort),
		"classifier-bayes.conf": "backend = \"redis\";\nautolearn = false;\n",
		"actions.conf":          "reject = 15;\nadd_header = 5;\ngreylist = null;\nrewrite_subject = null;\n",
		"worker-normal.inc":     "count = 2;\n",
	}
	// Everything that asks DNS or the network, or keeps state in Redis besides Bayes.
	for _, m := range []string{"rbl", "surbl", "dmarc", "spf", "dkim", "arc", "asn", "emails", "fuzzy_check",
		"mx_check", "dcc", "neural", "replies", "reputation", "ratelimit", "greylist", "url_redirector", "hfilter",
		"phishing", "rspamd_update", "history_redis", "external_services", "antivirus", "p0f", "bimi", "spamtrap"} {
		files[m+".conf"] = "enabled = false;\n"
	}
	if clamdAddr != "" {
		// On (its entry above says off), with the whole message, as postern's
		// scan_whole_message streams it (rspamd's default scans the attachments
		// only; postern streams every decoded part besides, which rspamd does not).
		files["antivirus.conf"] = fmt.Sprintf("clamav {\n  type = \"clamav\";\n  servers = %q;\n  symbol = \"CLAM_VIRUS\";\n  scan_mime_parts = false;\n}\n", clamdAddr)
	}
	for name, content := range files {
		os.WriteFile(filepath.Join(local, name), []byte(content), 0o644)
	}
	exec.Command("chown", "-R", "_rspamd:_rspamd", dir).Run()
	main := startBackground(t, "rspamd", "-f", "-u", "_rspamd", "-g", "_rspamd", "-c", "/etc/rspamd/rspamd.conf",
		"--var=LOCAL_CONFDIR="+filepath.Join(dir, "local"), "--var=DBDIR="+filepath.Join(dir, "db"),
		"--var=RUNDIR="+filepath.Join(dir, "run"), "--var=LOGDIR="+filepath.Join(dir, "log"))
	for _, port := range []int{11332, 11333, 11334} {
		testutil.WaitListening(t, fmt.Sprintf("127.0.0.1:%d", port), 60*time.Second)
	}
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "log", "rspamd.log"))
			t.Logf("rspamd log:\n%s", b)
		}
	})
	for _, spam := range []bool{true, false} {
		var paths []string
		for _, s := range train {
			if s.Spam == spam {
				paths = append(paths, s.Path)
			}
		}
		for len(paths) > 0 {
			n := min(len(paths), 200)
			cmd := map[bool]string{true: "learn_spam", false: "learn_ham"}[spam]
			if out, err := exec.Command("rspamc", append([]string{"-h", "127.0.0.1:11334", "-P", "q1", cmd}, paths[:n]...)...).CombinedOutput(); err != nil {
				t.Fatalf("rspamc %s: %v\n%s", cmd, err, out)
			}
			paths = paths[n:]
		}
	}
	return main.Process.Pid, redisCmd.Process.Pid
}
