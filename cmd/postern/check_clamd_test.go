package main

// postern check with a real clamd: the virus field of --json.

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/postern/postern/internal/testutil"
)

func TestCheckJSONVirus(t *testing.T) {
	clamd := testutil.StartClamd(t, "")
	dir := t.TempDir()
	cfg := filepath.Join(dir, "postern.toml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("[clamd]\naddress = %q\n", clamd.Unix)), 0o644)
	msgs := filepath.Join(dir, "msgs")
	os.Mkdir(msgs, 0o755)
	os.WriteFile(filepath.Join(msgs, "a-infected.eml"), []byte(testutil.WithAttachment("v", "eicar.com", "application/octet-stream", []byte(testutil.EICAR))), 0o644)
	os.WriteFile(filepath.Join(msgs, "b-clean.eml"), []byte(testutil.CleanMultipart("c")), 0o644)

	out, errOut, code := postern(t, "", "check", "--json", "-c", cfg, msgs)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	want := []struct {
		action string
		virus  *string
	}{{"reject", ptr(testutil.EICARSignature)}, {"accept", nil}}
	if len(lines) != len(want) {
		t.Fatalf("output:\n%s", out)
	}
	for i, line := range lines {
		var r struct {
			Action string
			Virus  *string
		}
		json.Unmarshal([]byte(line), &r)
		if r.Action != want[i].action || fmt.Sprint(deref(r.Virus)) != fmt.Sprint(deref(want[i].virus)) {
			t.Errorf("line %d: %s", i, line)
		}
	}
}

func ptr(s string) *string { return &s }

func deref(s *string) any {
	if s == nil {
		return nil
	}
	return *s
}
