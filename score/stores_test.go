package score

import (
	"context"
	"io"
	"sync"
	"testing"

	"github.com/postern/postern/internal/testutil"
)

func TestMain(m *testing.M) { testutil.MainWithPostgres(m) }

// storeOpener opens a new, empty store, and returns a function that opens another
// handle on the same data (another process, another node).
type storeOpener func(t testing.TB) (s Store, other func() Store)

func openPgStore(t testing.TB, url string) *Postgres {
	t.Helper()
	s, err := OpenPostgres(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// eachStore runs a test against SQLite and PostgreSQL (a new database of the shared
// private cluster).
func eachStore(t *testing.T, f func(t *testing.T, open storeOpener)) {
	t.Run("sqlite", func(t *testing.T) {
		f(t, func(t testing.TB) (Store, func() Store) {
			s, path := openStore(t)
			return s, func() Store {
				o, err := OpenSQLite(path)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { o.Close() })
				return o
			}
		})
	})
	t.Run("postgres", func(t *testing.T) {
		f(t, func(t testing.TB) (Store, func() Store) {
			url := testutil.SharedPostgres(t).NewDatabase(t)
			return openPgStore(t, url), func() Store { return openPgStore(t, url) }
		})
	})
}

type exporter interface {
	Export(ctx context.Context, w io.Writer) error
	Import(ctx context.Context, r io.Reader) error
}

// Learning the same messages on two nodes at once counts each once.
func TestConcurrentLearnCountsOnce(t *testing.T) {
	eachStore(t, func(t *testing.T, open storeOpener) {
		s, other := open(t)
		nodes := []Store{s, other()}
		ctx := context.Background()
		k := KeyOf("shared")
		var items []Item
		for i := 0; i < 50; i++ {
			items = append(items, Item{MsgID: itoa(i), Spam: true, Keys: []Key{k, KeyOf(itoa(i))}})
		}
		var wg sync.WaitGroup
		for _, n := range nodes {
			for i := 0; i < 4; i++ {
				wg.Add(1)
				go func(n Store, i int) {
					defer wg.Done()
					// Each learns every message, in batches that overlap the others'.
					for j := 0; j < len(items); j += 10 {
						lo := (j + 10*i) % len(items)
						if _, err := n.Learn(ctx, items[lo:lo+10], false); err != nil {
							t.Error(err)
						}
					}
				}(n, i)
			}
		}
		wg.Wait()
		counts, spam, _ := dump(t, s)
		if spam != 50 || counts[k].Spam != 50 {
			t.Fatalf("spam %d, shared token %v: want 50 each", spam, counts[k])
		}
	})
}
