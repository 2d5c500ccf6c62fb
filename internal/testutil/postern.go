package testutil

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// BuildPostern compiles cmd/postern into dir and returns the binary's path. root is the
// module's root directory.
func BuildPostern(t testing.TB, root, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "postern")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/postern")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// Daemon is a running `postern serve`.
type Daemon struct {
	Cmd *exec.Cmd
	mu  sync.Mutex
	out bytes.Buffer
}

func (d *Daemon) Write(p []byte) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.out.Write(p)
}

// Output is what the daemon logged so far.
func (d *Daemon) Output() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.out.String()
}

// WaitOutput waits up to timeout for the daemon to log s (some lines, such as the
// clamd health probe, come after it starts listening), and reports whether it did.
func (d *Daemon) WaitOutput(s string, timeout time.Duration) bool {
	for deadline := time.Now().Add(timeout); ; time.Sleep(20 * time.Millisecond) {
		if strings.Contains(d.Output(), s) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}

// StartDaemon runs bin with args and waits until waitAddr (a TCP address) accepts
// connections. It is killed when the test ends, if still running; its log is printed
// if the test failed.
func StartDaemon(t testing.TB, bin, waitAddr string, args ...string) *Daemon {
	t.Helper()
	d := &Daemon{Cmd: exec.Command(bin, args...)}
	d.Cmd.Stdout, d.Cmd.Stderr = d, d
	if err := d.Cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if d.Cmd.ProcessState == nil {
			d.Cmd.Process.Kill()
			d.Cmd.Wait()
		}
		if t.Failed() {
			t.Logf("postern log:\n%s", d.Output())
		}
	})
	WaitListening(t, waitAddr, 15*time.Second)
	return d
}

// Stop sends SIGTERM and waits for the exit; it returns the exit error, if any.
func (d *Daemon) Stop(timeout time.Duration) error {
	_ = d.Cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- d.Cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(timeout):
		d.Cmd.Process.Kill()
		return <-done
	}
}
