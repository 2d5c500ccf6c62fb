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
	return time.Duration(n) * time.Second / 100 // USER_HZ
}

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
