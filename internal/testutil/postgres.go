package testutil

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Postgres is a private PostgreSQL cluster in a temporary directory, listening on a
// loopback port, with trust authentication: the tests' shared database.
type Postgres struct {
	Dir  string
	Port int
	bin  string
	cred *syscall.Credential // the user the server runs as, when the test runs as root
	cmd  *exec.Cmd
	log  string
}

// PostgresBin returns the directory of Debian's newest PostgreSQL server binaries,
// or "" when none is installed.
func PostgresBin() string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) < version(dirs[j]) })
	for i := len(dirs) - 1; i >= 0; i-- {
		if _, err := os.Stat(filepath.Join(dirs[i], "initdb")); err == nil {
			return dirs[i]
		}
	}
	return ""
}

func version(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

// StartPostgres creates and starts a cluster; it is stopped and removed when the test
// ends. PostgreSQL refuses to run as root, so under root it runs as the postgres user
// Debian's package creates.
func StartPostgres(t testing.TB) *Postgres {
	t.Helper()
	requirePostgres(t)
	dir, err := os.MkdirTemp("", "postern-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return startIn(t, dir)
}

func requirePostgres(t testing.TB) {
	t.Helper()
	if PostgresBin() == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("PostgreSQL not found: .ci/run must install postgresql")
		}
		t.Skip("PostgreSQL not found: run scripts/test.sh (it installs postgresql) to run this test")
	}
}

var shared struct {
	sync.Mutex
	pg  *Postgres
	dir string
}

// SharedPostgres is one cluster for every test of a package that only needs a
// database of its own (NewDatabase): starting one takes seconds. The package's
// TestMain calls StopSharedPostgres.
func SharedPostgres(t testing.TB) *Postgres {
	t.Helper()
	requirePostgres(t)
	shared.Lock()
	defer shared.Unlock()
	if shared.pg != nil {
		return shared.pg
	}
	dir, err := os.MkdirTemp("", "postern-pg-")
	if err != nil {
		t.Fatal(err)
	}
	shared.dir = dir
	// The first test's TB, without its cleanups: the cluster outlives the test,
	// and StopSharedPostgres stops it.
	st := &sharedTB{TB: t}
	shared.pg = startIn(st, dir)
	return shared.pg
}

// MainWithPostgres is the TestMain of a package whose tests use SharedPostgres: it
// runs them, then stops the cluster.
func MainWithPostgres(m *testing.M) {
	code := m.Run()
	StopSharedPostgres()
	os.Exit(code)
}

// StopSharedPostgres stops and removes the shared cluster, if one was started.
func StopSharedPostgres() {
	shared.Lock()
	defer shared.Unlock()
	if shared.pg != nil {
		shared.pg.Stop()
		os.RemoveAll(shared.dir)
		shared.pg = nil
	}
}

type sharedTB struct{ testing.TB }

func (s *sharedTB) Cleanup(func()) {}

func startIn(t testing.TB, dir string) *Postgres {
	t.Helper()
	p := &Postgres{Dir: filepath.Join(dir, "data"), bin: PostgresBin(), log: filepath.Join(dir, "postgres.log")}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("running as root, PostgreSQL needs the postgres user (Debian's postgresql package creates it): %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		p.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	initdb := p.command("initdb", "-D", p.Dir, "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync")
	if out, err := initdb.CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	p.Port = FreePort(t)
	p.start(t)
	t.Cleanup(func() {
		p.Stop()
		if t.Failed() {
			b, _ := os.ReadFile(p.log)
			t.Logf("postgres log:\n%s", b)
		}
	})
	return p
}

func (p *Postgres) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(p.bin, name), args...)
	if p.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred}
	}
	cmd.Dir = filepath.Dir(p.Dir)
	return cmd
}

func (p *Postgres) start(t testing.TB) {
	t.Helper()
	logf, err := os.OpenFile(p.log, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o666)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	// Durability is PostgreSQL's business, not the tests': fsync off keeps them fast.
	p.cmd = p.command("postgres", "-D", p.Dir, "-p", strconv.Itoa(p.Port), "-k", filepath.Dir(p.Dir),
		"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "max_connections=200")
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("postgres: %v", err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn, err := pgx.Connect(ctx, p.URL("postgres"))
		cancel()
		if err == nil {
			conn.Close(context.Background())
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	b, _ := os.ReadFile(p.log)
	t.Fatalf("postgres did not accept connections on port %d:\n%s", p.Port, b)
}

// URL is the connection URL of database db.
func (p *Postgres) URL(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", p.Port, db)
}

var dbSeq atomic.Int64

// NewDatabase creates an empty database and returns its URL.
func (p *Postgres) NewDatabase(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("t%d", dbSeq.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, p.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	return p.URL(name)
}

// Stop stops the server at once (SIGKILL), as a crash or a pulled cable would. The
// cluster stays, for Restart.
func (p *Postgres) Stop() {
	if p.cmd == nil || p.cmd.ProcessState != nil {
		return
	}
	// SIGQUIT is PostgreSQL's immediate shutdown: its children go too, where a SIGKILL
	// of the postmaster would leave them holding the port.
	p.cmd.Process.Signal(syscall.SIGQUIT)
	p.cmd.Wait()
}

// Restart starts the server again after Stop, on the same port.
func (p *Postgres) Restart(t testing.TB) {
	t.Helper()
	p.start(t)
}
