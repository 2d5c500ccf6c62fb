// Package pgdb opens Postern's PostgreSQL stores the same way: one connection pool
// per store, and each store's schema brought up to date by numbered migrations kept
// in the postern_schema table, so several nodes starting at once migrate once.
package pgdb

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// IsURL reports whether a [storage] url selects PostgreSQL.
func IsURL(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// Redact returns the URL without its password, for logs and messages.
func Redact(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "postgres://…"
	}
	return u.Redacted()
}

// openTimeout bounds connecting and migrating at start: a database that does not
// answer must fail the start, not hang it.
const openTimeout = 30 * time.Second

// Options tune one store's pool.
type Options struct {
	MaxConns int32 // the URL's pool_max_conns wins
	// AsyncCommit: a commit returns before its WAL is flushed (synchronous_commit
	// off), for state whose last writes a crash may lose at no cost but a retry.
	AsyncCommit bool
}

// Open connects a pool to the database at dsn and applies store's migrations.
func Open(ctx context.Context, dsn, store string, o Options, migrations []string) (*pgxpool.Pool, error) {
	cfg, err := poolConfig(dsn, o)
	if err != nil {
		return nil, err
	}
	// A node that lost the database gets its connections back by itself: a broken
	// one is dropped when it fails, and idle ones are checked before use.
	cfg.HealthCheckPeriod = 5 * time.Second
	ctx, cancel := context.WithTimeout(ctx, openTimeout)
	defer cancel()
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", Redact(dsn), err)
	}
	if err := migrate(ctx, pool, store, migrations); err != nil {
		pool.Close()
		return nil, fmt.Errorf("%s: %w", Redact(dsn), err)
	}
	return pool, nil
}

// poolConfig reads dsn with Postern's defaults: the pool size of o unless the URL
// sets pool_max_conns, and a connect timeout of 5 s unless it sets one.
func poolConfig(dsn string, o Options) (*pgxpool.Config, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", Redact(dsn), err)
	}
	if !strings.Contains(dsn, "pool_max_conns") && o.MaxConns > 0 {
		cfg.MaxConns = o.MaxConns
	}
	if o.AsyncCommit {
		cfg.ConnConfig.RuntimeParams["synchronous_commit"] = "off"
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	}
	return cfg, nil
}

// migrate applies migrations[v:] where v is the store's version, in one transaction
// under an advisory lock. Append migrations; never edit one that has shipped.
func migrate(ctx context.Context, pool *pgxpool.Pool, store string, migrations []string) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		// The lock serializes nodes that start together; the table is created
		// under it, so two first starts do not race to create it either.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(7406111)`); err != nil {
			return fmt.Errorf("%s: migrate: %w", store, err)
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS postern_schema (
			store   text PRIMARY KEY,
			version integer NOT NULL)`); err != nil {
			return fmt.Errorf("%s: migrate: %w", store, err)
		}
		var version int
		err := tx.QueryRow(ctx, `SELECT version FROM postern_schema WHERE store = $1`, store).Scan(&version)
		if err != nil && err != pgx.ErrNoRows {
			return fmt.Errorf("%s: read schema version: %w", store, err)
		}
		if version > len(migrations) {
			return fmt.Errorf("%s: schema version %d is newer than this postern knows (%d)", store, version, len(migrations))
		}
		for v := version; v < len(migrations); v++ {
			if _, err := tx.Exec(ctx, migrations[v]); err != nil {
				return fmt.Errorf("%s: migrate to %d: %w", store, v+1, err)
			}
		}
		if _, err := tx.Exec(ctx, `INSERT INTO postern_schema (store, version) VALUES ($1, $2)
			ON CONFLICT (store) DO UPDATE SET version = excluded.version`, store, len(migrations)); err != nil {
			return fmt.Errorf("%s: migrate: %w", store, err)
		}
		return nil
	})
}

// Exists says whether store's tables were made in the database at dsn (it has a
// row in postern_schema), creating nothing: the commands that only read a store
// (check, stats, quarantine list) must not create one by asking.
func Exists(ctx context.Context, dsn, store string) (bool, error) {
	cfg, err := poolConfig(dsn, Options{})
	if err != nil {
		return false, err
	}
	ctx, cancel := context.WithTimeout(ctx, openTimeout)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, cfg.ConnConfig) // one connection, no pool
	if err != nil {
		return false, fmt.Errorf("%s: %w", Redact(dsn), err)
	}
	defer conn.Close(ctx)
	var ok bool
	err = conn.QueryRow(ctx, `SELECT to_regclass('postern_schema') IS NOT NULL`).Scan(&ok)
	if err != nil || !ok {
		return false, err
	}
	err = conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM postern_schema WHERE store = $1)`, store).Scan(&ok)
	return ok, err
}
