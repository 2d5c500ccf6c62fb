package main

import (
	"os"
	"os/exec"
	"slices"
	"syscall"
	"testing"
	"time"
)

// fakeProc records the signals turns sends it.
type fakeProc struct{ got *[]string }

func (f fakeProc) Signal(s os.Signal) error {
	*f.got = append(*f.got, s.String())
	return nil
}

// Only the side whose turn it is runs: a process started out of turn is stopped,
// a flip stops one side and continues the other, and the end continues both.
// Before the start, nothing is stopped.
func TestTurns(t *testing.T) {
	var sa, pn []string
	tr := &turns{}
	tr.add(1, fakeProc{&pn}) // (a check before SpamAssassin's run: it runs)
	tr.flip()
	tr.procs[1] = nil
	tr.start()
	tr.add(0, fakeProc{&sa}) // SpamAssassin's turn first
	tr.add(1, fakeProc{&pn})
	tr.flip() // postern's turn
	tr.flip() // SpamAssassin's
	tr.procs[1] = nil
	tr.flip() // postern's, with no process of its own between two checks
	tr.add(1, fakeProc{&pn})
	tr.end()
	tr.flip() // (after the end: nothing)
	tr.add(0, fakeProc{&sa})
	stop, cont := syscall.SIGSTOP.String(), syscall.SIGCONT.String()
	if want := []string{stop, cont, stop, cont}; !slices.Equal(sa, want) {
		t.Errorf("SpamAssassin's process got %v, want %v", sa, want)
	}
	if want := []string{stop, cont, stop, cont}; !slices.Equal(pn, want) {
		t.Errorf("postern's processes got %v, want %v", pn, want)
	}
}

// A real process runs before the turns start; in them, run out of turn, it is
// stopped until its turn comes, and then ends.
func TestTurnsRun(t *testing.T) {
	tr := &turns{}
	if err := tr.run(1, exec.Command("true")); err != nil {
		t.Fatalf("before the turns: %v", err)
	}
	tr.start()
	done := make(chan struct{})
	errc := make(chan error, 1)
	go func() { errc <- tr.run(1, exec.Command("sleep", "0.05")) }()
	select {
	case err := <-errc:
		t.Fatalf("the process ran out of turn (err %v)", err)
	case <-time.After(300 * time.Millisecond):
	}
	go tr.alternate(10*time.Millisecond, done)
	select {
	case err := <-errc:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the process did not end in its turn")
	}
	close(done)
}
