package main

import (
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/sirupsen/logrus"

	"github.com/postern/postern/rules"
)

// variedMessages writes n messages of words the default rules look at, in
// varied spellings: enough for their DFAs to learn a few hundred states.
func variedMessages(t *testing.T, n int) string {
	dir := t.TempDir()
	words := strings.Fields(`free money click here v1agra offer limited time account verify password bank
		winner prize cash USD $1,000,000 unsubscribe http://example.com/x?id=1 www.deal.example <b>bold</b>
		meeting lunch report attached regards dear friend`)
	seps := []string{"", "", "!", ".", " -", "_", "***"}
	rng := rand.New(rand.NewSource(1))
	for i := range n {
		var b strings.Builder
		fmt.Fprintf(&b, "From: a%d@example.com\nTo: b@example.org\nSubject: %s %s\nMessage-ID: <%d@example.com>\n\n", i, words[rng.Intn(len(words))], words[rng.Intn(len(words))], i)
		for range 5 + rng.Intn(30) {
			for range 3 + rng.Intn(10) {
				b.WriteString(words[rng.Intn(len(words))] + seps[rng.Intn(len(seps))] + " ")
			}
			b.WriteString("\n")
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%03d.eml", i)), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// timings are a JSON report's times, which vary from run to run.
var timings = regexp.MustCompile(`"ms":[0-9.e+-]+,"times":\{[^}]*\}`)

// check writes what the rules' DFAs learned to data_dir, the next check starts
// from it, and a damaged cache is only not used: the reports stay the same.
func TestCheckAutomataCache(t *testing.T) {
	msgs := variedMessages(t, 150)
	data := t.TempDir()
	cfg := filepath.Join(t.TempDir(), "postern.toml")
	if err := os.WriteFile(cfg, []byte("rules_paths = [\"default\"]\nlog_level = \"debug\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	check := func(want string) string {
		t.Helper()
		out, errOut, code := postern(t, "", "check", "--json", "-c", cfg, "--data-dir", data, msgs)
		if code != 0 || !strings.Contains(errOut, want) {
			t.Fatalf("exit %d, stderr lacks %q:\n%s", code, want, errOut)
		}
		return timings.ReplaceAllString(out, "")
	}
	first := check("rules: automata cache written")
	cache := filepath.Join(data, rules.AutomataFile)
	if _, err := os.Stat(cache); err != nil {
		t.Fatal(err)
	}
	if got := check("rules: automata cache loaded"); got != first {
		t.Error("the reports differ with the cache")
	}
	b, err := os.ReadFile(cache)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 1
	if err := os.WriteFile(cache, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if got := check("rules: automata cache not used"); got != first {
		t.Error("the reports differ with a damaged cache")
	}
	// A data_dir that does not exist (check creates none) costs only the cache.
	_, errOut, code := postern(t, "", "check", "--json", "-c", cfg, "--data-dir", filepath.Join(data, "none"), msgs)
	if code != 0 || !strings.Contains(errOut, "automata cache not written") {
		t.Errorf("without a data_dir: exit %d:\n%s", code, errOut)
	}
}

// A check run as root in a data_dir another user owns (serve's) leaves a cache
// that user can read and replace.
func TestCheckAutomataCacheOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: it checks the owner root gives the cache")
	}
	msgs := variedMessages(t, 150)
	data := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(data, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(data, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := postern(t, "", "check", "--json", "-c", ownRulesOnly(t), "--data-dir", data, msgs)
	fi, err := os.Stat(filepath.Join(data, rules.AutomataFile))
	if code != 0 || err != nil {
		t.Fatalf("exit %d, %v:\n%s", code, err, errOut)
	}
	if st := fi.Sys().(*syscall.Stat_t); st.Uid != 65534 || st.Gid != 65534 {
		t.Errorf("the cache is owned by %d:%d, not by the data_dir's 65534:65534", st.Uid, st.Gid)
	}
	if fi.Mode().Perm() != 0o640 {
		t.Errorf("the cache's mode is %v, want 0640 (data_dir's group may read it)", fi.Mode().Perm())
	}
}

// A set swapped in by a reload is written at the next save, whatever its count
// of states: compared with the old set's, one that lost states in the reload
// was not written until it had learned them again and more, not even when serve
// stopped. A save that would add nothing to what was written still writes
// nothing.
func TestAutomataSaveAfterReload(t *testing.T) {
	data := t.TempDir()
	a := newAutomata(data, logrus.New())
	old, _, err := loadRules([]string{rules.DefaultPath})
	if err != nil {
		t.Fatal(err)
	}
	a.load(old) // (no file yet)
	cache := filepath.Join(data, rules.AutomataFile)
	if err := a.save(old); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(cache); err == nil {
		t.Fatal("a set that learned nothing was written")
	}
	reloaded, _, err := loadRules([]string{rules.DefaultPath})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := reloaded.AdoptAutomata(old); err != nil {
		t.Fatal(err)
	}
	if err := a.save(reloaded); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(cache); err != nil {
		t.Fatalf("the reloaded set was not written: %v", err)
	}
	if err := os.Remove(cache); err != nil {
		t.Fatal(err)
	}
	if err := a.save(reloaded); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(cache); err == nil {
		t.Error("the same set was written again with nothing learned")
	}
}
