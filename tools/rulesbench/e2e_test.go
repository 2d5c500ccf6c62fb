package main

import (
	"os/exec"
	"testing"
	"time"
)

// TestCheckCPU holds the warm figure's clock to the sampled messages: the "ms" of
// the files under the sample's directory, not of the warm-up's (nor of a directory
// whose name only starts the same).
func TestCheckCPU(t *testing.T) {
	tests := []struct {
		name, report string
		want         time.Duration
		wantErr      bool
	}{
		{"sample only", `{"file":"/s/a","ms":1.5}` + "\n" + `{"file":"/s/b","ms":2.25}` + "\n", 3750 * time.Microsecond, false},
		{"warm-up left out", `{"file":"/w/a","ms":7}` + "\n" + `{"file":"/s/b","ms":2}` + "\n" + `{"file":"/sx/c","ms":5}` + "\n", 2 * time.Millisecond, false},
		{"no message", "", 0, false},
		{"not a report", "oops\n", 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command("printf", "%s", tc.report)
			_, ms, err := checkCPU(cmd, "/s")
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want an error: %v", err, tc.wantErr)
			}
			if ms != tc.want {
				t.Errorf("ms = %v, want %v", ms, tc.want)
			}
		})
	}
}
