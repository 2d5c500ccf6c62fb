package testutil

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// EICAR is the standard antivirus test file. It is harmless; every scanner detects it.
const EICAR = `X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*`

// EICARSignature is the name our private clamd reports for EICAR: the .ndb signature
// below, with ClamAV's suffix for unofficial databases.
const EICARSignature = "Test.EICAR.UNOFFICIAL"

// Clamd is a private clamd with a signature database the test wrote: there is no
// network for freshclam here.
type Clamd struct {
	TCP  string // "tcp://127.0.0.1:PORT"
	Unix string // "unix:PATH"
	Dir  string
	cmd  *exec.Cmd
	conf string
}

// StartClamd starts clamd with the EICAR signature on a free loopback port and a unix
// socket; streamMax is clamd.conf's StreamMaxLength ("25M" when empty). It is stopped
// when the test ends.
func StartClamd(t testing.TB, streamMax string) *Clamd {
	t.Helper()
	return StartClamdTemp(t, streamMax, "")
}

// StartClamdTemp is StartClamd with clamd's TemporaryDirectory in tmp, a
// directory the caller made and removes, to measure where clamd's files go; ""
// puts it in clamd's own directory, as StartClamd does.
func StartClamdTemp(t testing.TB, streamMax, tmp string) *Clamd {
	t.Helper()
	return StartClamdConf(t, streamMax, tmp, "")
}

// StartClamdConf is StartClamdTemp with more clamd.conf lines (extra), to
// measure what a setting does; clamd refuses a line it does not know.
func StartClamdConf(t testing.TB, streamMax, tmp, extra string) *Clamd {
	t.Helper()
	Require(t, "clamd")
	if streamMax == "" {
		streamMax = "25M"
	}
	dir, err := os.MkdirTemp("", "postern-clamd-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	db := filepath.Join(dir, "db")
	if err := os.Mkdir(db, 0o755); err != nil {
		t.Fatal(err)
	}
	hex := fmt.Sprintf("%x", EICAR)
	if err := os.WriteFile(filepath.Join(db, "test.ndb"), []byte("Test.EICAR:0:*:"+hex+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// clamd writes each stream to a temporary file and leaves it when killed
	// mid-scan (tests that stop clamd do so): in the test's directory, not /tmp.
	if tmp == "" {
		tmp = filepath.Join(dir, "tmp")
		if err := os.Mkdir(tmp, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	port := FreePort(t)
	sock := filepath.Join(dir, "clamd.sock")
	conf := fmt.Sprintf(`Foreground yes
DatabaseDirectory %s
LocalSocket %s
TCPSocket %d
TCPAddr 127.0.0.1
LogFile %s/clamd.log
TemporaryDirectory %s
StreamMaxLength %s
MaxThreads 4
SelfCheck 0
%s
`, db, sock, port, dir, tmp, streamMax, extra)
	confPath := filepath.Join(dir, "clamd.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	c := &Clamd{TCP: fmt.Sprintf("tcp://127.0.0.1:%d", port), Unix: "unix:" + sock, Dir: dir, conf: confPath}
	c.cmd = exec.Command("clamd", "-c", confPath)
	// clamd logs to its LogFile; its console output is the same, so it is dropped.
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Kill()
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "clamd.log"))
			t.Logf("clamd log:\n%s", b)
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if c.ping() {
			return c
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("clamd did not answer PING on %s", c.TCP)
	return nil
}

func (c *Clamd) ping() bool {
	conn, err := net.DialTimeout("tcp", strings.TrimPrefix(c.TCP, "tcp://"), time.Second)
	if err != nil {
		return false
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(time.Second))
	conn.Write([]byte("zPING\x00"))
	buf := make([]byte, 8)
	n, _ := conn.Read(buf)
	return strings.HasPrefix(string(buf[:n]), "PONG")
}

// Restart starts clamd again after Kill, on the same addresses, and waits until it
// answers.
func (c *Clamd) Restart(t testing.TB) {
	t.Helper()
	c.cmd = exec.Command("clamd", "-c", c.conf)
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if c.ping() {
			return
		}
	}
	t.Fatalf("clamd did not answer PING on %s after a restart", c.TCP)
}

// Pid is the process id of the clamd now running (a Restart starts another).
func (c *Clamd) Pid() int { return c.cmd.Process.Pid }

// Kill stops clamd at once (SIGKILL), as a crash would.
func (c *Clamd) Kill() {
	if c.cmd.ProcessState != nil {
		return
	}
	c.cmd.Process.Signal(syscall.SIGKILL)
	c.cmd.Wait()
}

// SilentServer accepts connections and reads from them but never answers: a clamd that
// hangs. It stops when the test ends.
func SilentServer(t testing.TB) string {
	t.Helper()
	return "tcp://" + Serve(t, func(c net.Conn) {
		buf := make([]byte, 64<<10)
		for {
			if _, err := c.Read(buf); err != nil {
				return
			}
		}
	})
}

// Serve listens on a free loopback port until the test ends and runs handle on each
// connection in its own goroutine, closing it after. It returns the address.
func Serve(t testing.TB, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				handle(c)
			}()
		}
	}()
	return ln.Addr().String()
}
