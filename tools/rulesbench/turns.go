package main

import (
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// turns runs two sides' processes one side at a time, each for a slice of the
// clock in turn: SpamAssassin's run and postern's checks then meet the same
// minutes of this machine, whose speed drifts within them, and never share it
// (side by side, on the two cores at once, they share the caches and memory
// the cores share). A process of the side whose turn it is not is stopped
// (SIGSTOP) and continued (SIGCONT) at its turn; the CPU each side is timed by
// does not count the time stopped. A process that starts out of turn runs for
// the moment its signal takes. Before start and after end, every process runs.
type turns struct {
	mu    sync.Mutex
	on    bool         // between start and end
	turn  int          // the side that may run: 0 or 1
	procs [2]signaller // each side's running process, or nil
}

// signaller is a process as turns signals it (*os.Process).
type signaller interface{ Signal(os.Signal) error }

// run runs cmd to its end as a process of side k.
func (t *turns) run(k int, cmd *exec.Cmd) error {
	t.mu.Lock()
	if err := cmd.Start(); err != nil {
		t.mu.Unlock()
		return err
	}
	t.add(k, cmd.Process)
	t.mu.Unlock()
	err := cmd.Wait()
	t.mu.Lock()
	t.procs[k] = nil
	t.mu.Unlock()
	return err
}

// add registers p as side k's process and stops it when it is not k's turn
// (callers hold mu).
func (t *turns) add(k int, p signaller) {
	t.procs[k] = p
	if t.on && t.turn != k {
		p.Signal(syscall.SIGSTOP)
	}
}

// start begins the turns with side 0's: side 1's process, if any, stops.
func (t *turns) start() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.on, t.turn = true, 0
	if p := t.procs[1]; p != nil {
		p.Signal(syscall.SIGSTOP)
	}
}

// flip ends a turn: the side's process stops, the other's goes on.
func (t *turns) flip() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.on {
		return
	}
	if p := t.procs[t.turn]; p != nil {
		p.Signal(syscall.SIGSTOP)
	}
	t.turn ^= 1
	if p := t.procs[t.turn]; p != nil {
		p.Signal(syscall.SIGCONT)
	}
}

// end ends the turns: every process goes on, and those started later run at once.
func (t *turns) end() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.on = false
	for _, p := range t.procs {
		if p != nil {
			p.Signal(syscall.SIGCONT)
		}
	}
}

// alternate flips the turns (after start) every slice until done is closed,
// then ends them.
func (t *turns) alternate(slice time.Duration, done <-chan struct{}) {
	tick := time.NewTicker(slice)
	defer tick.Stop()
	for {
		select {
		case <-done:
			t.end()
			return
		case <-tick.C:
			t.flip()
		}
	}
}
