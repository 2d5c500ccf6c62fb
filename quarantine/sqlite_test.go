package quarantine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func open(t testing.TB) (*SQLite, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), FileName)
	s, err := OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

func rec(id string, at time.Time, reason string, rcpts ...string) *Record {
	return &Record{ID: id, Time: at, QueueID: "Q" + id, ClientAddr: "192.0.2.1", MailFrom: "sender-" + id + "@example.org",
		Rcpts: rcpts, From: "Sender <s@example.org>", Subject: "subject " + id, Size: 10, Score: 20,
		Tests: []string{"GTUBE"}, Reason: reason, Action: ActionRejected}
}

func TestPutGetRaw(t *testing.T) {
	eachBackend(t, testPutGetRaw)
	_, path := open(t)
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("database mode %v, want 0600", fi.Mode().Perm())
	}
}

func testPutGetRaw(t *testing.T, s Store) {
	ctx := context.Background()
	raw := []byte("Subject: x\r\n\r\nbody with \x00 and \xff bytes\r\n")
	r := rec("abc", time.Now(), ReasonVirus, "a@example.com", "B@example.com")
	r.Virus, r.Detail = "Eicar", `"eicar.com" (application/octet-stream)`
	if err := s.Put(ctx, r, bytes.NewReader(raw)); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, "abc")
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != StatusHeld || got.Virus != "Eicar" || got.Detail != r.Detail || strings.Join(got.Rcpts, ",") != "a@example.com,B@example.com" ||
		got.Time.UnixMicro() != r.Time.UnixMicro() || got.Tests[0] != "GTUBE" {
		t.Errorf("record %+v", got)
	}
	back, err := s.Raw(ctx, "abc")
	if err != nil || !bytes.Equal(back, raw) {
		t.Errorf("raw %q, %v", back, err)
	}
	if _, err := s.Get(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown id: %v", err)
	}
}

func TestListFilters(t *testing.T) { eachBackend(t, testListFilters) }

func testListFilters(t *testing.T, s Store) {
	ctx := context.Background()
	now := time.Now()
	for i, r := range []*Record{
		rec("old", now.Add(-48*time.Hour), ReasonSpam, "x@example.com"),
		rec("v1", now.Add(-time.Hour), ReasonVirus, "y@example.com"),
		rec("s1", now.Add(-2*time.Minute), ReasonSpam, "y@example.com", "z@example.com"),
		rec("s2", now.Add(-time.Minute), ReasonSpam, "z@example.com"),
	} {
		if i == 3 {
			r.Subject = "Cheap 100% offer_now"
		}
		if err := s.Put(ctx, r, strings.NewReader("x")); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		f    Filter
		want string
	}{
		{Filter{}, "s2 s1 v1 old"},
		{Filter{Limit: 2}, "s2 s1"},
		{Filter{Since: now.Add(-24 * time.Hour)}, "s2 s1 v1"},
		{Filter{Reason: ReasonVirus}, "v1"},
		{Filter{Rcpt: "Y@EXAMPLE.COM"}, "s1 v1"},
		{Filter{From: "sender-s1"}, "s1"},
		{Filter{Subject: "100%"}, "s2"},
		{Filter{Subject: "r_n"}, "s2"},
		{Filter{Subject: "o_f"}, ""},
	}
	for _, tc := range tests {
		rs, err := s.List(ctx, tc.f)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, r := range rs {
			ids = append(ids, r.ID)
		}
		if strings.Join(ids, " ") != tc.want {
			t.Errorf("List(%+v) = %v, want %s", tc.f, ids, tc.want)
		}
	}
}

func TestStatusDeletePurgeStats(t *testing.T) { eachBackend(t, testStatusDeletePurgeStats) }

func testStatusDeletePurgeStats(t *testing.T, s Store) {
	ctx := context.Background()
	now := time.Now()
	s.Put(ctx, rec("a", now.Add(-40*24*time.Hour), ReasonSpam, "x@example.com"), strings.NewReader("a"))
	s.Put(ctx, rec("b", now, ReasonSpam, "x@example.com"), strings.NewReader("b"))
	s.Put(ctx, rec("c", now, ReasonVirus, "x@example.com"), strings.NewReader("c"))

	if err := s.SetStatus(ctx, "b", StatusReleased, "root"); err != nil {
		t.Fatal(err)
	}
	if r, _ := s.Get(ctx, "b"); r.Status != StatusReleased || r.StatusBy != "root" || r.StatusAt.IsZero() {
		t.Errorf("after release: %+v", r)
	}
	if err := s.Delete(ctx, "c", "root"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Raw(ctx, "c"); err == nil || !strings.Contains(err.Error(), "deleted") {
		t.Errorf("raw of a deleted message: %v", err)
	}
	if err := s.SetStatus(ctx, "zzz", StatusReleased, "root"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown id: %v", err)
	}
	n, err := s.Purge(ctx, now.Add(-30*24*time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("purge = %d, %v", n, err)
	}
	if rs, _ := s.List(ctx, Filter{Rcpt: "x@example.com"}); len(rs) != 2 {
		t.Errorf("recipients of purged records remain: %d", len(rs))
	}
	st, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Total != 2 || st.ByReason[ReasonSpam] != 1 || st.ByStatus[StatusDeleted] != 1 || st.SizeBytes == 0 {
		t.Errorf("stats %+v", st)
	}
}

// Concurrent puts are committed together and every one is there afterwards.
func TestConcurrentPuts(t *testing.T) {
	eachBackend(t, func(t *testing.T, s Store) {
		concurrentPuts(t, s)
		if st, _ := s.Stats(context.Background()); st.Total != 200 {
			t.Errorf("%d records", st.Total)
		}
	})
	s, path := open(t)
	concurrentPuts(t, s)
	s.Close()
	s2, err := OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if st, _ := s2.Stats(context.Background()); st.Total != 200 {
		t.Errorf("%d records after reopening", st.Total)
	}
}

func concurrentPuts(t *testing.T, s Store) {
	var wg sync.WaitGroup
	for i := 0; i < 200; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if err := s.Put(context.Background(), rec(fmt.Sprint(i), time.Now(), ReasonSpam, "r@example.com"), strings.NewReader("m")); err != nil {
				t.Error(err)
			}
		}(i)
	}
	wg.Wait()
}

func TestDuplicateIDFailsAlone(t *testing.T) { eachBackend(t, testDuplicateIDFailsAlone) }

func testDuplicateIDFailsAlone(t *testing.T, s Store) {
	ctx := context.Background()
	if err := s.Put(ctx, rec("dup", time.Now(), ReasonSpam), strings.NewReader("1")); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, rec("dup", time.Now(), ReasonSpam), strings.NewReader("2")); err == nil {
		t.Fatal("a second record with the same id was stored")
	}
}

func TestSchemaNewerThanKnown(t *testing.T) {
	s, path := open(t)
	s.db.Exec("PRAGMA user_version = 99")
	s.Close()
	if _, err := OpenSQLite(path); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("open = %v", err)
	}
}

func TestHeaderFields(t *testing.T) {
	from, subj, mid := HeaderFields(strings.NewReader("From: =?utf-8?q?J=C3=BCrgen?= <j@example.org>\r\nSubject: =?utf-8?b?SGVsbG8gd29ybGQ=?=\r\n\tfolded\r\nMessage-ID: <1@x>\r\n\r\nbody"))
	if from != "Jürgen <j@example.org>" || subj != "Hello world folded" || mid != "<1@x>" {
		t.Errorf("%q %q %q", from, subj, mid)
	}
}

// A Put that fails leaves no record, and one that succeeds leaves one: the milter
// answers 451 for the first and 5xx for the second, so a record of a message that was
// tempfailed (and will come again) would deliver it twice if released. Contexts that
// end while puts are queued or being committed exercise both sides of the race.
func TestPutErrorMeansNoRecord(t *testing.T) { eachBackend(t, testPutErrorMeansNoRecord) }

func testPutErrorMeansNoRecord(t *testing.T, s Store) {
	var wg sync.WaitGroup
	errs := make([]error, 200)
	for i := range errs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), time.Duration(i%7)*100*time.Microsecond)
			defer cancel()
			errs[i] = s.Put(ctx, rec(fmt.Sprintf("r%03d", i), time.Now(), ReasonSpam, "a@example.com"), strings.NewReader("Subject: x\r\n\r\nbody\r\n"))
		}(i)
	}
	wg.Wait()
	failed := 0
	for i, perr := range errs {
		_, gerr := s.Get(context.Background(), fmt.Sprintf("r%03d", i))
		switch {
		case perr == nil && gerr != nil:
			t.Errorf("r%03d: Put succeeded, Get: %v", i, gerr)
		case perr != nil && !errors.Is(gerr, ErrNotFound):
			t.Errorf("r%03d: Put failed (%v), but the record exists", i, perr)
		}
		if perr != nil {
			failed++
		}
	}
	if failed == 0 || failed == len(errs) {
		t.Logf("%d of %d puts failed: the race was not exercised both ways", failed, len(errs))
	}
}

// Copy carries every record, status and message, from one store to the other and
// back (postern migrate), and a second run copies nothing.
func TestCopyBothWays(t *testing.T) {
	ctx := context.Background()
	src, _ := open(t)
	now := time.Now().Truncate(time.Microsecond)
	for i, id := range []string{"a", "b", "c"} {
		if err := src.Put(ctx, rec(id, now.Add(time.Duration(i)*time.Minute), ReasonSpam, "x@example.com"), strings.NewReader("Subject: "+id+"\r\n\r\nbody\r\n")); err != nil {
			t.Fatal(err)
		}
	}
	src.SetStatus(ctx, "b", StatusReleased, "root")
	src.Delete(ctx, "c", "root")
	pg := openPostgres(t)
	back, _ := open(t)
	for _, step := range []struct {
		dst interface {
			Store
			Restorer
		}
		from Store
	}{{pg, src}, {back, pg}} {
		n, err := Copy(ctx, step.dst, step.from)
		if err != nil || n != 3 {
			t.Fatalf("copy: %d, %v", n, err)
		}
		if n, err := Copy(ctx, step.dst, step.from); err != nil || n != 0 {
			t.Fatalf("second copy: %d, %v", n, err)
		}
	}
	for _, id := range []string{"a", "b", "c"} {
		want, _ := src.Get(ctx, id)
		got, err := back.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(want) != fmt.Sprint(got) {
			t.Errorf("%s after the round trip:\n got %+v\nwant %+v", id, got, want)
		}
		raw, err := back.Raw(ctx, id)
		if (id == "c") != (err != nil) || (err == nil && !strings.Contains(string(raw), "Subject: "+id)) {
			t.Errorf("%s: raw %q, %v", id, raw, err)
		}
	}
}
