package main

import (
	"os/exec"
	"testing"
	"time"
)

// TestCheckCPU holds the figures to postern check's output: the messages' CPU
// from --cpu's line on stderr, and the warm figure's clock to the sampled
// messages (the "ms" of the files under the sample's directory, not of the
// warm-up's, nor of a directory whose name only starts the same).
func TestCheckCPU(t *testing.T) {
	const cpuLine = "postern: CPU: start-up 812.5 ms, messages 503.25 ms (300 messages, 1677.5 µs each)\n"
	tests := []struct {
		name, report, stderr string
		wantCPU, wantClock   time.Duration
		wantErr              bool
	}{
		{"sample only", `{"file":"/s/a","ms":1.5}` + "\n" + `{"file":"/s/b","ms":2.25}` + "\n", cpuLine, 503250 * time.Microsecond, 3750 * time.Microsecond, false},
		{"warm-up left out", `{"file":"/w/a","ms":7}` + "\n" + `{"file":"/s/b","ms":2}` + "\n" + `{"file":"/sx/c","ms":5}` + "\n", "a warning\n" + cpuLine, 503250 * time.Microsecond, 2 * time.Millisecond, false},
		{"no message", "", cpuLine, 503250 * time.Microsecond, 0, false},
		{"not a report", "oops\n", cpuLine, 0, 0, true},
		{"no CPU line", `{"file":"/s/a","ms":1.5}` + "\n", "", 0, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command("sh", "-c", `printf '%s' "$1"; printf '%s' "$2" >&2`, "sh", tc.report, tc.stderr)
			cpu, ms, err := checkCPU(plainRun, cmd, "/s")
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want an error: %v", err, tc.wantErr)
			}
			if cpu != tc.wantCPU || ms != tc.wantClock {
				t.Errorf("cpu, ms = %v, %v, want %v, %v", cpu, ms, tc.wantCPU, tc.wantClock)
			}
		})
	}
}
