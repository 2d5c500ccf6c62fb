// Package cpuclock reads the CPU time the process has spent, for the measures
// that count it within the process (postern check --cpu, the rules'
// benchmarks): a message's millisecond is below /proc's clock ticks, and a
// start-up measured as the difference of two processes varies by a tenth of
// itself.
package cpuclock

import (
	"syscall"
	"time"
)

// Self is the process's user and system CPU time so far (getrusage), or 0 when
// the system does not say.
func Self() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
