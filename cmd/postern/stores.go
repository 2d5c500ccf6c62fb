package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/postern/postern/config"
	"github.com/postern/postern/internal/pgdb"
	"github.com/postern/postern/policy"
	"github.com/postern/postern/quarantine"
	"github.com/postern/postern/score"
)

// The stores' backends are chosen here, from [storage] url: every command opens its
// stores through these functions, so serve, learn, check and the CLI always agree.

// bayesStore is what the commands use of a Bayes store.
type bayesStore interface {
	score.Store
	Export(ctx context.Context, w io.Writer) error
	Import(ctx context.Context, r io.Reader) error
	Stats(ctx context.Context) (score.StoreStats, error)
	Ping(ctx context.Context) error
}

// quarantineStore is what the commands use of a quarantine store.
type quarantineStore interface {
	quarantine.Store
	quarantine.Restorer
	Ping(ctx context.Context) error
}

// greyStore is what the commands use of a greylisting store.
type greyStore interface {
	policy.GreyStore
	Expire(ctx context.Context, before time.Time, c policy.GreylistConfig, now time.Time) (int64, error)
	List(ctx context.Context, substr string, limit int) ([]policy.GreyEntry, error)
	Delete(ctx context.Context, key string) (bool, error)
	Count(ctx context.Context) (triplets, clients int64, err error)
	Flush(ctx context.Context) error
	Ping(ctx context.Context) error
	Close() error
}

var (
	_ bayesStore      = (*score.SQLite)(nil)
	_ bayesStore      = (*score.Postgres)(nil)
	_ quarantineStore = (*quarantine.SQLite)(nil)
	_ quarantineStore = (*quarantine.Postgres)(nil)
	_ greyStore       = (*policy.GreySQLite)(nil)
	_ greyStore       = (*policy.GreyPostgres)(nil)
)

// storeAt says where a store is, for messages: its file, or the database.
func storeAt(cfg config.Config, file string) string {
	if cfg.Storage.URL != "" {
		return pgdb.Redact(cfg.Storage.URL)
	}
	return filepath.Join(cfg.DataDir, file)
}

// storeExists reports whether a store was ever created: its file, or on PostgreSQL
// its row in postern_schema (asked without creating anything, pgdb.Exists).
func storeExists(cfg config.Config, file string) bool {
	if cfg.Storage.URL != "" {
		store := map[string]string{score.FileName: score.PgStore, quarantine.FileName: quarantine.PgStore, policy.GreylistFileName: policy.GreylistPgStore}[file]
		ok, err := pgdb.Exists(context.Background(), cfg.Storage.URL, store)
		// Unreachable, it "exists": opening it then reports why it cannot.
		return ok || err != nil
	}
	_, err := os.Stat(filepath.Join(cfg.DataDir, file))
	return err == nil
}

// openBayesStore opens (creating) the Bayes store the configuration names, for the
// commands that write to it (learn, quarantine learn, bayes import) and for serve:
// the first load the model only to choose what to learn (chooseLearner).
func openBayesStore(cfg config.Config) (bayesStore, error) {
	if cfg.Storage.URL != "" {
		return score.OpenPostgres(context.Background(), cfg.Storage.URL)
	}
	if err := ensureDataDir(cfg); err != nil {
		return nil, err
	}
	return score.OpenSQLite(filepath.Join(cfg.DataDir, score.FileName))
}

// openQuarantineStore opens (creating) the quarantine store the configuration names.
func openQuarantineStore(cfg config.Config) (quarantineStore, error) {
	if cfg.Storage.URL != "" {
		return quarantine.OpenPostgres(context.Background(), cfg.Storage.URL)
	}
	if err := ensureDataDir(cfg); err != nil {
		return nil, err
	}
	return quarantine.OpenSQLite(filepath.Join(cfg.DataDir, quarantine.FileName))
}

// openGreyStore opens (creating) the greylisting store the configuration names.
func openGreyStore(cfg config.Config) (greyStore, error) {
	if cfg.Storage.URL != "" {
		return policy.OpenGreyPostgres(context.Background(), cfg.Storage.URL)
	}
	if err := ensureDataDir(cfg); err != nil {
		return nil, err
	}
	return policy.OpenGreySQLite(filepath.Join(cfg.DataDir, policy.GreylistFileName))
}

// dbTimeout bounds one CLI command's database work: a database that stops answering
// (a partition, not a refused connection) must not hang the command.
const dbTimeout = 10 * time.Minute

func dbContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), dbTimeout)
}

// describeStorage says where the configuration keeps its state (serve's start-up
// line, postern migrate), without the database's password.
func describeStorage(cfg config.Config) string {
	if cfg.Storage.URL != "" {
		return fmt.Sprintf("PostgreSQL %s", pgdb.Redact(cfg.Storage.URL))
	}
	return "SQLite in " + cfg.DataDir
}
