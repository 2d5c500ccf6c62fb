package policy_test

import (
	"context"
	"fmt"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/postern/postern/internal/testutil"
	"github.com/postern/postern/policy"
)

// clock is a fake clock the tests move by hand.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }
func newClock() *clock                   { return &clock{time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)} }

func openGrey(t testing.TB) *policy.GreySQLite {
	t.Helper()
	s, err := policy.OpenGreySQLite(filepath.Join(t.TempDir(), policy.GreylistFileName))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// greyBackend is what the CLI and serve use of a greylisting store.
type greyBackend interface {
	policy.GreyStore
	Expire(ctx context.Context, before time.Time, c policy.GreylistConfig, now time.Time) (int64, error)
	List(ctx context.Context, substr string, limit int) ([]policy.GreyEntry, error)
	Delete(ctx context.Context, key string) (bool, error)
	Count(ctx context.Context) (triplets, clients int64, err error)
	Flush(ctx context.Context) error
}

func openGreyPostgres(t testing.TB, url string) *policy.GreyPostgres {
	t.Helper()
	s, err := policy.OpenGreyPostgres(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// eachGrey runs a test against every store: SQLite, and PostgreSQL on a new database
// of the shared private cluster. open gives a new, empty store each call.
func eachGrey(t *testing.T, f func(t *testing.T, open func(testing.TB) greyBackend)) {
	t.Run("sqlite", func(t *testing.T) {
		f(t, func(t testing.TB) greyBackend { return openGrey(t) })
	})
	t.Run("postgres", func(t *testing.T) {
		f(t, func(t testing.TB) greyBackend {
			return openGreyPostgres(t, testutil.SharedPostgres(t).NewDatabase(t))
		})
	})
}

func TestGreylistStateMachine(t *testing.T) {
	type step struct {
		advance  time.Duration
		ip, from string
		rcpt     string
		want     string
		wantWait time.Duration
	}
	const a, f, r = "192.0.2.10", "<news@example.com>", "<user@example.org>"
	tests := []struct {
		name  string
		steps []step
	}{
		{"first try, too early, after delay, then known", []step{
			{0, a, f, r, policy.GreyNew, 300 * time.Second},
			{100 * time.Second, a, f, r, policy.GreyEarly, 200 * time.Second},
			{200 * time.Second, a, f, r, policy.GreyPassed, 0},
			{24 * time.Hour, a, f, r, policy.GreyKnown, 0},
		}},
		{"retry after the window starts over", []step{
			{0, a, f, r, policy.GreyNew, 300 * time.Second},
			{49 * time.Hour, a, f, r, policy.GreyNew, 300 * time.Second},
			{301 * time.Second, a, f, r, policy.GreyPassed, 0},
		}},
		{"a passed triplet expires after 35 days unseen", []step{
			{0, a, f, r, policy.GreyNew, 300 * time.Second},
			{300 * time.Second, a, f, r, policy.GreyPassed, 0},
			{36 * 24 * time.Hour, a, f, r, policy.GreyNew, 300 * time.Second},
		}},
		{"same /24 is the same client; another /24 is not", []step{
			{0, "192.0.2.10", f, r, policy.GreyNew, 300 * time.Second},
			{300 * time.Second, "192.0.2.200", f, r, policy.GreyPassed, 0},
			{0, "192.0.3.10", f, r, policy.GreyNew, 300 * time.Second},
		}},
		{"IPv6 grouped by /64", []step{
			{0, "2001:db8:1:2::10", f, r, policy.GreyNew, 300 * time.Second},
			{300 * time.Second, "2001:db8:1:2:ffff::1", f, r, policy.GreyPassed, 0},
			{0, "2001:db8:1:3::10", f, r, policy.GreyNew, 300 * time.Second},
		}},
		{"VERP and extensions are one sender", []step{
			{0, a, "<bounce-12345-678@lists.example.com>", r, policy.GreyNew, 300 * time.Second},
			{300 * time.Second, a, "<bounce-999-1@lists.example.com>", r, policy.GreyPassed, 0},
			{0, a, "<list+abc@lists.example.com>", r, policy.GreyNew, 300 * time.Second},
			{300 * time.Second, a, "<list+xyz@lists.example.com>", r, policy.GreyPassed, 0},
		}},
		{"another recipient is another triplet", []step{
			{0, a, f, r, policy.GreyNew, 300 * time.Second},
			{300 * time.Second, a, f, "<other@example.org>", policy.GreyNew, 300 * time.Second},
		}},
	}
	eachGrey(t, func(t *testing.T, open func(testing.TB) greyBackend) {
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				clk := newClock()
				g := &policy.Greylist{Config: policy.DefaultGreylist, Store: open(t), Now: clk.now}
				for i, s := range tc.steps {
					clk.advance(s.advance)
					got, err := g.Check(context.Background(), netip.MustParseAddr(s.ip), s.from, s.rcpt)
					if err != nil {
						t.Fatal(err)
					}
					if got.Outcome != s.want || got.Wait != s.wantWait {
						t.Fatalf("step %d: got %s wait %v, want %s wait %v", i, got.Outcome, got.Wait, s.want, s.wantWait)
					}
					if got.Defer() != (s.want == policy.GreyNew || s.want == policy.GreyEarly) {
						t.Fatalf("step %d: Defer() = %v for %s", i, got.Defer(), got.Outcome)
					}
				}
			})
		}
	})
}

func TestGreylistAutoAllow(t *testing.T) { eachGrey(t, testGreylistAutoAllow) }

func testGreylistAutoAllow(t *testing.T, open func(testing.TB) greyBackend) {
	clk := newClock()
	g := &policy.Greylist{Config: policy.DefaultGreylist, Store: open(t), Now: clk.now}
	ip := netip.MustParseAddr("198.51.100.7")
	check := func(rcpt string) string {
		t.Helper()
		r, err := g.Check(context.Background(), ip, "a@example.com", rcpt)
		if err != nil {
			t.Fatal(err)
		}
		return r.Outcome
	}
	// Five triplets pass, an hour apart each (postgrey counts a client at most hourly).
	for i := 0; i < 5; i++ {
		rcpt := string(rune('a'+i)) + "@example.org"
		if got := check(rcpt); got != policy.GreyNew {
			t.Fatalf("triplet %d: %s", i, got)
		}
		clk.advance(10 * time.Minute)
		if got := check(rcpt); got != policy.GreyPassed {
			t.Fatalf("triplet %d retry: %s", i, got)
		}
		clk.advance(time.Hour)
	}
	if got := check("new@example.org"); got != policy.GreyAutoAllowed {
		t.Fatalf("after 5 passes: %s, want auto-allowed", got)
	}
	// Another client in the same /24 is not auto-allowed: the count is per address.
	r, _ := g.Check(context.Background(), netip.MustParseAddr("198.51.100.8"), "b@example.com", "new@example.org")
	if r.Outcome != policy.GreyNew {
		t.Fatalf("neighbour: %s", r.Outcome)
	}
}

func TestGreylistPassesCountedHourly(t *testing.T) { eachGrey(t, testGreylistPassesCountedHourly) }

func testGreylistPassesCountedHourly(t *testing.T, open func(testing.TB) greyBackend) {
	clk := newClock()
	g := &policy.Greylist{Config: policy.DefaultGreylist, Store: open(t), Now: clk.now}
	ip := netip.MustParseAddr("198.51.100.7")
	for i := 0; i < 10; i++ {
		rcpt := string(rune('a'+i)) + "@example.org"
		g.Check(context.Background(), ip, "a@example.com", rcpt)
		clk.advance(5 * time.Minute)
		g.Check(context.Background(), ip, "a@example.com", rcpt)
	}
	r, _ := g.Check(context.Background(), ip, "a@example.com", "z@example.org")
	if r.Outcome == policy.GreyAutoAllowed {
		t.Fatal("ten passes within an hour count once, as in postgrey")
	}
}

func TestTripletKey(t *testing.T) {
	for _, tc := range []struct{ ip, from, rcpt, want string }{
		{"192.0.2.77", "<A.User@Example.COM>", "<Me@Example.org>", "192.0.2.0/a.user@example.com/me@example.org"},
		{"::ffff:192.0.2.77", "", "me@example.org", "192.0.2.0//me@example.org"},
		{"2001:db8:1:2:3:4:5:6", "x@y.z", "me@example.org", "2001:db8:1:2::/x@y.z/me@example.org"},
		{"192.0.2.77", "prvs=0123456789=alice@example.com", "r@x", "192.0.2.0/alice@example.com/r@x"},
		{"192.0.2.77", "bounces+123-45@lists.example.com", "r@x", "192.0.2.0/bounces@lists.example.com/r@x"},
		{"192.0.2.77", "msg-2024-7@example.com", "r@x", "192.0.2.0/msg-#-#@example.com/r@x"},
	} {
		if got := policy.TripletKey(netip.MustParseAddr(tc.ip), tc.from, tc.rcpt, 24, 64); got != tc.want {
			t.Errorf("TripletKey(%s, %s) = %s, want %s", tc.ip, tc.from, got, tc.want)
		}
	}
}

func TestGreyExpireListDelete(t *testing.T) {
	eachGrey(t, func(t *testing.T, open func(testing.TB) greyBackend) { testGreyExpireListDelete(t, open(t)) })
}

func testGreyExpireListDelete(t *testing.T, s greyBackend) {
	ctx := context.Background()
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	s.PutTriplet(ctx, "192.0.2.0/old@x/r@y", policy.Triplet{First: now.Add(-40 * 24 * time.Hour), Last: now.Add(-36 * 24 * time.Hour)})
	s.PutTriplet(ctx, "192.0.2.0/stale@x/r@y", policy.Triplet{First: now.Add(-3 * 24 * time.Hour), Last: now.Add(-3 * 24 * time.Hour)})
	s.PutTriplet(ctx, "192.0.2.0/live@x/r@y", policy.Triplet{First: now.Add(-time.Hour), Last: now})
	s.PutClient(ctx, "192.0.2.9", policy.AutoAllow{Count: 7, Last: now})
	n, err := s.Expire(ctx, now.Add(-35*24*time.Hour), policy.DefaultGreylist, now)
	if err != nil || n != 2 {
		t.Fatalf("expired %d, %v; want 2", n, err)
	}
	list, err := s.List(ctx, "", 0)
	if err != nil || len(list) != 2 {
		t.Fatalf("list %+v, %v", list, err)
	}
	if ok, err := s.Delete(ctx, "192.0.2.0/LIVE@x/r@y"); !ok || err != nil {
		t.Fatalf("delete: %v %v", ok, err)
	}
	tr, cl, _ := s.Count(ctx)
	if tr != 0 || cl != 1 {
		t.Fatalf("count %d %d", tr, cl)
	}
}

// Two nodes on one database greylist as one: a triplet first seen on A passes on B
// after the delay, and a client auto-allowed through A is auto-allowed on B.
func TestGreylistAcrossNodes(t *testing.T) {
	url := testutil.SharedPostgres(t).NewDatabase(t)
	clk := newClock()
	a := &policy.Greylist{Config: policy.DefaultGreylist, Store: openGreyPostgres(t, url), Now: clk.now}
	b := &policy.Greylist{Config: policy.DefaultGreylist, Store: openGreyPostgres(t, url), Now: clk.now}
	ip := netip.MustParseAddr("198.51.100.7")
	check := func(g *policy.Greylist, rcpt, want string) {
		t.Helper()
		r, err := g.Check(context.Background(), ip, "a@example.com", rcpt)
		if err != nil || r.Outcome != want {
			t.Fatalf("%s: %s, %v; want %s", rcpt, r.Outcome, err, want)
		}
	}
	for i := 0; i < 5; i++ {
		rcpt := string(rune('a'+i)) + "@example.org"
		check(a, rcpt, policy.GreyNew)
		clk.advance(10 * time.Minute)
		check(b, rcpt, policy.GreyPassed)
		clk.advance(time.Hour)
	}
	check(a, "new@example.org", policy.GreyAutoAllowed)
}

// Copying a store to the other kind and back keeps every record.
func TestCopyGreyBothWays(t *testing.T) {
	ctx := context.Background()
	src := openGrey(t)
	now := time.Unix(time.Now().Unix(), 0)
	src.PutTriplet(ctx, "192.0.2.0/a@x/r@y", policy.Triplet{First: now.Add(-time.Hour), Last: now})
	src.PutClient(ctx, "192.0.2.9", policy.AutoAllow{Count: 7, Last: now})
	pg := openGreyPostgres(t, testutil.SharedPostgres(t).NewDatabase(t))
	back := openGrey(t)
	for _, step := range []struct {
		dst  greyBackend
		from greyBackend
	}{{pg, src}, {back, pg}} {
		if n, err := policy.CopyGrey(ctx, step.dst, step.from); err != nil || n != 2 {
			t.Fatalf("copy: %d, %v", n, err)
		}
	}
	want, _ := src.List(ctx, "", 0)
	got, _ := back.List(ctx, "", 0)
	if fmt.Sprint(want) != fmt.Sprint(got) {
		t.Errorf("after the round trip:\n got %+v\nwant %+v", got, want)
	}
}
