package testutil

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// ProcCPU is a process's user and system CPU time so far (Linux): what the load
// test and the benchmarks charge a daemon (postern serve, clamd, a peer).
func ProcCPU(pid int) time.Duration { return StatTicks(pid, 11, 12) }

// StatTicks sums fields of /proc/PID/stat counted in clock ticks, numbered from the
// field after the command name (utime 11, stime 12, cutime 13, cstime 14).
func StatTicks(pid int, fields ...int) time.Duration {
	f := StatFields(pid)
	var n int64
	for _, i := range fields {
		if i < len(f) {
			v, _ := strconv.ParseInt(f[i], 10, 64)
			n += v
		}
	}
	return ticks(n)
}

// ticks is n of the clock ticks /proc counts in (USER_HZ).
func ticks(n int64) time.Duration { return time.Duration(n) * time.Second / 100 }

// StatFields are the fields of /proc/PID/stat after the command name in
// parentheses (state first, then ppid, ...); nil when the process is gone.
func StatFields(pid int) []string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil
	}
	s := string(b)
	return strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
}

// MachineCPU is the time all the machine's processors spent busy, and in all,
// since boot (Linux, /proc/stat): busy over all between two readings says how
// full the machine was, which no one process's time shows. Stolen time (a
// virtual machine's host running others) is in neither.
func MachineCPU() (busy, all time.Duration, err error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, err
	}
	return machineCPU(string(b))
}

// machineCPU reads /proc/stat's "cpu" line: user nice system idle iowait irq
// softirq, then steal, left out (guest time is in user already).
func machineCPU(stat string) (busy, all time.Duration, err error) {
	line, _, _ := strings.Cut(stat, "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0, 0, fmt.Errorf("/proc/stat: no cpu line: %q", line)
	}
	var t [7]int64
	for i := range t {
		if t[i], err = strconv.ParseInt(f[1+i], 10, 64); err != nil {
			return 0, 0, fmt.Errorf("/proc/stat: %q: %w", line, err)
		}
	}
	user, nice, system, idle, iowait, irq, softirq := t[0], t[1], t[2], t[3], t[4], t[5], t[6]
	b := user + nice + system + irq + softirq
	return ticks(b), ticks(b + idle + iowait), nil
}
