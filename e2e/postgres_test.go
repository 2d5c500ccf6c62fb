package e2e

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/postern/postern/internal/testutil"
)

// node is one postern serve on the shared database, with its own data_dir.
type node struct {
	name, addr, data string
	cfg, metrics     string
	d                *testutil.Daemon
}

// health is the node's /healthz answer.
func (n *node) health() (int, string) {
	resp, err := http.Get("http://" + n.metrics + "/healthz")
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// milterSend runs one message through a real milter session with serve, as Postfix
// would, from client ip.
func milterSend(addr, ip, from, rcpt, subject, body string) (testutil.MilterResult, error) {
	return testutil.MilterSend(addr, ip, from, rcpt, [][2]string{
		{"From", from}, {"To", rcpt}, {"Subject", subject},
		{"Message-ID", fmt.Sprintf("<%d@%s>", time.Now().UnixNano(), "sender.example")},
	}, body)
}

// TestNodesShareOnePostgres: two serve processes on one PostgreSQL database act as
// one filter. A triplet greylisted on A passes on B after the delay; a message B
// refused is listed and released from a CLI pointed at A; what postern learn taught
// reaches both within bayes.refresh; a message learned on both nodes at once counts
// once. Then the database is killed under load: every message is answered 451 or
// decided as before (a 550 only with its record kept), and both nodes recover by
// themselves when the database returns.
func TestNodesShareOnePostgres(t *testing.T) {
	pg := testutil.StartPostgres(t)
	url := pg.NewDatabase(t)
	tmp := t.TempDir()
	bin := testutil.BuildPostern(t, "..", tmp)
	relay := testutil.StartSink(t)
	conf := fmt.Sprintf(`rules_paths = ["default"]
[milter]
shutdown_timeout = "2s"
[greylist]
enabled = true
delay = "2s"
[bayes]
min_spam = 20
min_ham = 20
refresh = "500ms"
autolearn = false
[quarantine]
release_relay = %q
[storage]
url = %q
`, relay.Addr, url)
	var nodes []*node
	for _, name := range []string{"A", "B"} {
		n := &node{name: name, addr: fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t)), data: filepath.Join(tmp, "data-"+name),
			cfg: filepath.Join(tmp, name+".toml"), metrics: fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))}
		if err := os.WriteFile(n.cfg, []byte(conf+fmt.Sprintf("[metrics]\nlisten = %q\n", n.metrics)), 0o644); err != nil {
			t.Fatal(err)
		}
		n.d = testutil.StartDaemon(t, bin, n.addr, "serve", "-c", n.cfg, "--data-dir", n.data, "--listen", "inet:"+n.addr)
		nodes = append(nodes, n)
	}
	a, b := nodes[0], nodes[1]
	cli := func(n *node, args ...string) (string, int) { return runCLI(t, bin, n.cfg, n.data, args...) }
	send := func(n *node, ip, from, subject, body string) testutil.MilterResult {
		t.Helper()
		r, err := milterSend(n.addr, ip, from, "user@example.com", subject, body)
		if err != nil {
			t.Fatalf("node %s: %v\n%s", n.name, err, n.d.Output())
		}
		return r
	}

	// Greylisting: first seen on A, passed on B after the delay.
	if r := send(a, "192.0.2.7", "news@example.org", "hello", "hello\r\n"); r.Code != 450 {
		t.Fatalf("first attempt on A: %d %s, want 450", r.Code, r.Text)
	}
	time.Sleep(2100 * time.Millisecond)
	if r := send(b, "192.0.2.7", "news@example.org", "hello", "hello\r\n"); r.Code != 0 {
		t.Fatalf("retry on B after the delay: %d %s, want accepted", r.Code, r.Text)
	}

	// The quarantine: refused on B, listed and released from A.
	r := send(b, "192.0.2.8", "news@example.org", "gtube", "spam "+gtube+"\r\n")
	if r.Code == 450 {
		time.Sleep(2100 * time.Millisecond)
		r = send(b, "192.0.2.8", "news@example.org", "gtube", "spam "+gtube+"\r\n")
	}
	ref := refOf(r.Text)
	if r.Code != 550 || ref == "" {
		t.Fatalf("GTUBE on B: %d %s", r.Code, r.Text)
	}
	out, code := cli(a, "quarantine", "list", "--json")
	if code != 0 || !strings.Contains(out, `"id":"`+ref+`"`) {
		t.Fatalf("quarantine list on A (%d): %s", code, out)
	}
	if out, code := cli(a, "quarantine", "release", "--force", ref); code != 0 {
		t.Fatalf("release from A (%d): %s", code, out)
	}
	if msgs := relay.Messages(); len(msgs) != 1 || !strings.Contains(msgs[0].Data, "GTUBE") {
		t.Fatalf("released messages: %d", len(msgs))
	}

	// Bayes: learned once from the CLI, used by both nodes within bayes.refresh.
	spam := writeMessages(t, tmp, "pills", 30, "From: deals%d@promo.example\nSubject: cheap pills offer\n\nbuy cheap pills now, limited offer, click http://promo.example/buy\n")
	ham := writeMessages(t, tmp, "agenda", 30, "From: colleague%d@work.example\nSubject: meeting agenda\n\nthe project meeting agenda for tomorrow, see the quarterly report\n")
	if out, code := cli(a, "learn", "--spam-path", spam, "--ham-path", ham); code != 0 {
		t.Fatalf("learn: %d %s", code, out)
	}
	for _, n := range nodes {
		for i := 0; ; i++ {
			r := send(n, "192.0.2.7", "news@example.org", "hello", "buy cheap pills now, limited offer\r\n")
			if strings.Contains(r.Headers["X-Spam-Status"], "BAYES_99") {
				break
			}
			if i == 50 {
				t.Fatalf("node %s never used what was learned: %+v", n.name, r)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	// The same quarantined message learned on both nodes at once counts once.
	before := bayesSpam(t, cli, a)
	var wg sync.WaitGroup
	for _, n := range nodes {
		wg.Add(1)
		go func(n *node) {
			defer wg.Done()
			if out, code := cli(n, "quarantine", "learn", "--spam", ref); code != 0 {
				t.Errorf("quarantine learn on %s: %d %s", n.name, code, out)
			}
		}(n)
	}
	wg.Wait()
	if after := bayesSpam(t, cli, b); after != before+1 {
		t.Errorf("learned on both nodes at once: spam %d → %d, want +1", before, after)
	}

	// The database dies under load.
	type outcome struct {
		r   testutil.MilterResult
		err error
	}
	var mu sync.Mutex
	var results []outcome
	stop := make(chan struct{})
	var load sync.WaitGroup
	for w := 0; w < 4; w++ {
		load.Add(1)
		go func(w int) {
			defer load.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				body := "hello\r\n"
				if i%3 == 0 {
					body = "spam " + gtube + "\r\n"
				}
				r, err := milterSend(nodes[w%2].addr, "192.0.2.7", "news@example.org", "user@example.com", "load", body)
				mu.Lock()
				results = append(results, outcome{r, err})
				mu.Unlock()
			}
		}(w)
	}
	time.Sleep(300 * time.Millisecond)
	if code, body := a.health(); code != 200 {
		t.Errorf("/healthz before the outage: %d %s", code, body)
	}
	pg.Stop()
	time.Sleep(1500 * time.Millisecond)
	if code, body := a.health(); code != 503 || !strings.Contains(body, "quarantine") {
		t.Errorf("/healthz with the database down: %d %s", code, body)
	}
	pg.Restart(t)
	// Both nodes answer as before by themselves, without a restart.
	for _, n := range nodes {
		for i := 0; ; i++ {
			r, err := milterSend(n.addr, "192.0.2.7", "news@example.org", "user@example.com", "after", "hello\r\n")
			if err == nil && r.Code == 0 {
				break
			}
			if i == 100 {
				t.Fatalf("node %s did not recover: %+v %v\n%s", n.name, r, err, n.d.Output())
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	for i := 0; ; i++ {
		code, body := a.health()
		if code == 200 {
			break
		}
		if i == 50 {
			t.Fatalf("/healthz after the database returned: %d %s", code, body)
		}
		time.Sleep(200 * time.Millisecond)
	}
	close(stop)
	load.Wait()
	counts := map[int]int{}
	for _, o := range results {
		if o.err != nil {
			t.Errorf("a session failed: %v", o.err)
			continue
		}
		counts[o.r.Code]++
		switch o.r.Code {
		case 0, 451:
		case 550:
			if ref := refOf(o.r.Text); ref == "" {
				t.Errorf("a 550 without a reference: %s", o.r.Text)
			} else if out, code := cli(a, "quarantine", "show", ref); code != 0 {
				t.Errorf("550 for %s, but no record: %s", ref, out)
			}
		default:
			t.Errorf("answer %d %s", o.r.Code, o.r.Text)
		}
	}
	t.Logf("under load with the database killed and restarted: %v (0 = accepted)", counts)
	if counts[451] == 0 {
		t.Error("no 451 while the database was down")
	}
}

// bayesSpam is the number of spam messages the store has learned.
func bayesSpam(t *testing.T, cli func(*node, ...string) (string, int), n *node) int {
	t.Helper()
	out, code := cli(n, "bayes", "stats")
	var spam, ham, ids int
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "learned:") {
			fmt.Sscanf(line, "learned:  %d spam, %d ham (%d message ids)", &spam, &ham, &ids)
		}
	}
	if code != 0 || spam == 0 {
		t.Fatalf("bayes stats (%d): %s", code, out)
	}
	return spam
}
