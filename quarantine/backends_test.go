package quarantine

import (
	"context"
	"testing"

	"github.com/postern/postern/internal/testutil"
)

func TestMain(m *testing.M) { testutil.MainWithPostgres(m) }

// eachBackend runs a store test against every Store: SQLite, and PostgreSQL on the
// shared private cluster, each on a new database.
func eachBackend(t *testing.T, f func(t *testing.T, s Store)) {
	t.Run("sqlite", func(t *testing.T) {
		s, _ := open(t)
		f(t, s)
	})
	t.Run("postgres", func(t *testing.T) {
		f(t, openPostgres(t))
	})
}

func openPostgres(t testing.TB) *Postgres {
	t.Helper()
	url := testutil.SharedPostgres(t).NewDatabase(t)
	s, err := OpenPostgres(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
