package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/postern/postern/scan"
	"github.com/postern/postern/score"
)

// writeCorpus writes n spam and n ham messages (a maildir and an mbox) with words
// typical of each class.
func writeCorpus(t *testing.T, dir string, n int) (spamDir, hamMbox string) {
	t.Helper()
	spamDir = filepath.Join(dir, "spam", "cur")
	os.MkdirAll(spamDir, 0o755)
	var mbox strings.Builder
	for i := 0; i < n; i++ {
		spam := fmt.Sprintf("From: deals%d@promo.example\nSubject: cheap pills offer %d\nMessage-ID: <s%d@promo.example>\n\nbuy cheap pills now, limited offer, click http://promo.example/buy %d\n", i, i, i, i)
		os.WriteFile(filepath.Join(spamDir, fmt.Sprintf("%d.host:2,S", i)), []byte(spam), 0o644)
		fmt.Fprintf(&mbox, "From colleague@work.example Mon Jan  1 00:00:00 2024\nFrom: colleague%d@work.example\nSubject: meeting agenda %d\nMessage-ID: <h%d@work.example>\n\nthe project meeting agenda for tomorrow, see the report %d\n\n", i, i, i, i)
	}
	hamMbox = filepath.Join(dir, "ham.mbox")
	os.WriteFile(hamMbox, []byte(mbox.String()), 0o644)
	return spamDir, hamMbox
}

func TestLearnThenCheck(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "new", "data") // learn creates it, as serve does
	spamDir, hamMbox := writeCorpus(t, dir, 200)
	probe := filepath.Join(dir, "probe.eml")
	os.WriteFile(probe, []byte("From: x@promo.example\nSubject: cheap pills\n\nbuy cheap pills now, click http://promo.example/buy\n"), 0o644)

	// Before learning: cold start, said plainly; bayes is null.
	out, _, _ := postern(t, "", "check", "--data-dir", data, probe)
	if !strings.Contains(out, "cold start") {
		t.Errorf("check before learning does not mention cold start:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(data, "bayes.db")); err == nil {
		t.Error("check created the Bayes store")
	}
	if _, errOut, code := postern(t, "", "bayes", "export", filepath.Join(dir, "x.txt"), "--data-dir", data); code == 0 || !strings.Contains(errOut, "nothing to export") {
		t.Errorf("export with no store: %d %s", code, errOut)
	}
	if _, err := os.Stat(data); err == nil {
		t.Error("check or export created data_dir")
	}

	out, errOut, code := postern(t, "", "learn", "--spam", "--data-dir", data, spamDir)
	if code != 0 || !strings.Contains(out, "learned 200,") {
		t.Fatalf("learn --spam: %d %s %s", code, out, errOut)
	}
	out, _, code = postern(t, "", "learn", "--ham", "--data-dir", data, hamMbox)
	if code != 0 || !strings.Contains(out, "learned 200,") {
		t.Fatalf("learn --ham (mbox): %d %s", code, out)
	}
	out, _, _ = postern(t, "", "learn", "--ham", "--data-dir", data, hamMbox)
	if !strings.Contains(out, "already known 200") {
		t.Errorf("learning again is not a no-op: %s", out)
	}
	// Out of cold start, more of the same spam teaches nothing: passed over, unless
	// --all; a ham that reads like spam is learned.
	more := filepath.Join(dir, "more")
	os.Mkdir(more, 0o755)
	for i := 0; i < 10; i++ {
		os.WriteFile(filepath.Join(more, fmt.Sprint(i)), []byte(fmt.Sprintf("From: deals@promo.example\nSubject: cheap pills offer\nMessage-ID: <more%d@promo.example>\n\nbuy cheap pills now, limited offer %d\n", i, i)), 0o644)
	}
	if out, _, _ := postern(t, "", "learn", "--spam", "--data-dir", data, more); !strings.Contains(out, "learned 0,") || !strings.Contains(out, "already sure 10") {
		t.Errorf("learning spam it is sure of: %s", out)
	}
	if out, _, _ := postern(t, "", "learn", "--ham", "--data-dir", data, filepath.Join(more, "0")); !strings.Contains(out, "learned 1,") {
		t.Errorf("learning as ham what it takes for spam: %s", out)
	}
	if out, _, _ := postern(t, "", "learn", "--ham", "--forget", "--data-dir", data, filepath.Join(more, "0")); !strings.Contains(out, "forgotten 1") {
		t.Errorf("forget: %s", out)
	}
	if out, _, _ := postern(t, "", "learn", "--spam", "--all", "--data-dir", data, more); !strings.Contains(out, "learned 10,") {
		t.Errorf("learn --all: %s", out)
	}
	if out, _, _ := postern(t, "", "learn", "--forget", "--data-dir", data, more); !strings.Contains(out, "forgotten 10") {
		t.Errorf("forget: %s", out)
	}

	out, _, _ = postern(t, "", "bayes", "stats", "--data-dir", data)
	if !strings.Contains(out, "200 spam, 200 ham") || !strings.Contains(out, "ready") {
		t.Errorf("stats:\n%s", out)
	}

	out, _, code = postern(t, "", "check", "--json", "--data-dir", data, probe)
	var r struct {
		Bayes *float64
		Tests []struct{ Name string }
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil || code != 0 {
		t.Fatalf("check --json: %v %s", err, out)
	}
	if r.Bayes == nil || *r.Bayes < 0.99 || len(r.Tests) == 0 || !strings.HasPrefix(r.Tests[0].Name, "BAYES_99") {
		t.Errorf("spam probe: %s", out)
	}

	if out, _, _ := postern(t, "", "check", "--clues", "3", "--data-dir", data, probe); !strings.Contains(out, "Bayes clues") || strings.Count(out, "\n  0.") != 3 || !strings.Contains(out, "200/0") {
		t.Errorf("check --clues 3:\n%s", out)
	}

	// Export, import into a fresh data dir, same answer.
	exp := filepath.Join(dir, "bayes.txt")
	if _, errOut, code := postern(t, "", "bayes", "export", exp, "--data-dir", data); code != 0 {
		t.Fatalf("export: %s", errOut)
	}
	data2 := filepath.Join(dir, "data2") // import creates it
	if out, errOut, code := postern(t, "", "bayes", "import", exp, "--data-dir", data2); code != 0 {
		t.Fatalf("import: %s %s", out, errOut)
	}
	out2, _, _ := postern(t, "", "check", "--json", "--data-dir", data2, probe)
	if cut := func(s string) string { return s[:strings.Index(s, `"ms"`)] }; cut(out2) != cut(out) {
		t.Errorf("after import:\n%s\nbefore:\n%s", out2, out)
	}

	// Forget the spam: back in cold start.
	out, _, _ = postern(t, "", "learn", "--forget", "--data-dir", data, spamDir)
	if !strings.Contains(out, "forgotten 200") {
		t.Errorf("forget: %s", out)
	}
	if out, _, _ := postern(t, "", "bayes", "stats", "--data-dir", data); !strings.Contains(out, "0 spam, 200 ham") || !strings.Contains(out, "COLD START") {
		t.Errorf("stats after forget:\n%s", out)
	}
}

// bayes.trigrams (on by default) reaches every command that tokenizes: learn, check
// and forget agree.
func TestLearnTrigrams(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	spamDir, hamMbox := writeCorpus(t, dir, 200)
	probe := filepath.Join(dir, "probe.eml")
	os.WriteFile(probe, []byte("From: x@promo.example\nSubject: cheap pills\n\nbuy cheap pills now, click http://promo.example/buy\n"), 0o644)
	cfg := filepath.Join(dir, "postern.toml") // the default, said explicitly
	os.WriteFile(cfg, []byte("[bayes]\ntrigrams = true\n"), 0o644)
	off := filepath.Join(dir, "words.toml")
	os.WriteFile(off, []byte("[bayes]\ntrigrams = false\n"), 0o644)

	for _, args := range [][]string{{"--spam", spamDir}, {"--ham", hamMbox}} {
		if out, errOut, code := postern(t, "", append([]string{"learn", "-c", cfg, "--data-dir", data}, args...)...); code != 0 || !strings.Contains(out, "learned 200,") {
			t.Fatalf("learn %s: %d %s %s", args[0], code, out, errOut)
		}
	}
	out, _, _ := postern(t, "", "check", "-c", cfg, "--clues", "500", "--data-dir", data, probe)
	if !strings.Contains(out, "BAYES_99") || !strings.Contains(out, "tri:") {
		t.Errorf("check with trigrams: no BAYES_99 or no tri: clue:\n%s", out)
	}
	// bayes stats says what the store learned, and warns when the setting disagrees.
	if out, _, _ := postern(t, "", "bayes", "stats", "-c", cfg, "--data-dir", data); !strings.Contains(out, "trigrams: yes in the store; bayes.trigrams = true") || strings.Contains(out, "warning") {
		t.Errorf("stats with trigrams:\n%s", out)
	}
	if out, _, _ := postern(t, "", "bayes", "stats", "--data-dir", data); !strings.Contains(out, "trigrams: yes in the store; bayes.trigrams = true") {
		t.Errorf("stats with the default configuration:\n%s", out)
	}
	if out, _, _ := postern(t, "", "bayes", "stats", "-c", off, "--data-dir", data); !strings.Contains(out, "warning:  the store learned trigrams but bayes.trigrams is off") {
		t.Errorf("stats with trigrams off:\n%s", out)
	}
	// With the setting off, the same store is read by words only.
	if out, _, _ := postern(t, "", "check", "-c", off, "--clues", "500", "--data-dir", data, probe); !strings.Contains(out, "Bayes clues") || strings.Contains(out, "tri:") {
		t.Errorf("check without trigrams shows tri: clues:\n%s", out)
	}
	// Forgetting under the same setting takes every token back out.
	for _, args := range [][]string{{"--spam", spamDir}, {"--ham", hamMbox}} {
		if out, _, _ := postern(t, "", append([]string{"learn", "-c", cfg, "--forget", "--data-dir", data}, args...)...); !strings.Contains(out, "forgotten 200") {
			t.Errorf("forget %s: %s", args[0], out)
		}
	}
	if out, _, _ := postern(t, "", "bayes", "stats", "--data-dir", data); !strings.Contains(out, "0 spam, 0 ham") || !strings.Contains(out, "tokens:   0 ") {
		t.Errorf("stats after forgetting everything:\n%s", out)
	}
}

type failingStore struct{}

func (failingStore) Learn(context.Context, []score.Item, bool) ([]score.Outcome, error) {
	return nil, errors.New("disk full")
}

// A store that fails stops the reading: learn reports the error without first
// parsing every remaining file.
func TestLearnStopsOnStoreError(t *testing.T) {
	dir := t.TempDir()
	var files []labelled
	for i := 0; i < 2000; i++ {
		f := filepath.Join(dir, fmt.Sprint(i))
		os.WriteFile(f, []byte(fmt.Sprintf("Message-ID: <%d@x.example>\nSubject: s\n\nhello %d\n", i, i)), 0o644)
		files = append(files, labelled{f, true})
	}
	var read atomic.Int64
	_, err := learnFiles(failingStore{}, score.DefaultParams(), files, false, func() { read.Add(1) })
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("err = %v, want the store's", err)
	}
	if n := read.Load(); n > 1200 {
		t.Errorf("read %d of 2,000 files after the store failed on the first 500", n)
	}
}

type recordingStore struct{ ids []string }

func (s *recordingStore) Learn(_ context.Context, items []score.Item, _ bool) ([]score.Outcome, error) {
	out := make([]score.Outcome, len(items))
	for i, it := range items {
		s.ids = append(s.ids, it.MsgID)
		out[i] = score.Learned
	}
	return out, nil
}

// Files are learned in the order given, however the parallel readers finish:
// learning on error depends on the order, and the same command must train the
// same classifier every time.
func TestLearnKeepsOrder(t *testing.T) {
	dir := t.TempDir()
	p := score.DefaultParams()
	var files []labelled
	var want []string
	for k := 0; k < 1500; k++ {
		i := (k * 7) % 1500 // an order other than the names'
		f := filepath.Join(dir, fmt.Sprint(i))
		body := strings.Repeat(fmt.Sprintf("word%d ", i), 1+(i*7919)%400) // uneven sizes: readers finish out of turn
		raw := fmt.Sprintf("Message-ID: <%d@x.example>\nSubject: s\n\n%s\n", i, body)
		os.WriteFile(f, []byte(raw), 0o644)
		files = append(files, labelled{f, i%3 == 0})
		m, err := scan.Parse(strings.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, score.ItemOf(m, i%3 == 0, p).MsgID)
	}
	s := &recordingStore{}
	if _, err := learnFiles(s, p, files, false, func() {}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(s.ids, want) {
		for i := range want {
			if i >= len(s.ids) || s.ids[i] != want[i] {
				t.Fatalf("learned %d messages; the %dth is not the %dth file", len(s.ids), i, i)
			}
		}
		t.Fatalf("learned %d messages, want %d", len(s.ids), len(want))
	}
}
