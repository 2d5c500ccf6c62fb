package policy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/postern/postern/internal/pgdb"
)

var greyPgMigrations = []string{`
CREATE TABLE greylist_triplets (
	key   text PRIMARY KEY,
	first bigint NOT NULL, -- unix seconds
	last  bigint NOT NULL
);
CREATE TABLE greylist_clients (
	ip    text PRIMARY KEY,
	count integer NOT NULL,
	last  bigint NOT NULL
);
`}

// GreyPostgres is the GreyStore several nodes share: a triplet first seen on one
// passes on another after the delay. Every decision reads and writes the database
// itself (a few hundred µs on a LAN), so no node decides on stale records; SQLite's
// write batching would hide one node's writes from the others for its flush period.
//
// Its commits are asynchronous (synchronous_commit off), as GreySQLite's are not
// synced: a crash of the database may lose its last fraction of a second of
// writes, which costs a sender one more retry, never a message; a synced commit
// per recipient would make the WAL flush the limit.
//
// Two nodes may decide on the same triplet or client at once. The upserts keep the
// later time, and a client's count the higher: two passes in the same second count
// once, which is what Greylist's "at most once an hour" asks anyway.
type GreyPostgres struct {
	pool *pgxpool.Pool
}

// GreylistPgStore is greylisting's name in a PostgreSQL database's postern_schema.
const GreylistPgStore = "greylist"

// OpenGreyPostgres connects to the database at url and brings greylisting's tables
// up to date.
func OpenGreyPostgres(ctx context.Context, url string) (*GreyPostgres, error) {
	pool, err := pgdb.Open(ctx, url, GreylistPgStore, pgdb.Options{MaxConns: 16, AsyncCommit: true}, greyPgMigrations)
	if err != nil {
		return nil, fmt.Errorf("greylist: %w", err)
	}
	return &GreyPostgres{pool: pool}, nil
}

// Triplet implements GreyStore.
func (s *GreyPostgres) Triplet(ctx context.Context, key string) (Triplet, bool, error) {
	var first, last int64
	err := s.pool.QueryRow(ctx, `SELECT first, last FROM greylist_triplets WHERE key = $1`, key).Scan(&first, &last)
	if errors.Is(err, pgx.ErrNoRows) {
		return Triplet{}, false, nil
	}
	if err != nil {
		return Triplet{}, false, err
	}
	return Triplet{First: time.Unix(first, 0), Last: time.Unix(last, 0)}, true, nil
}

// PutTriplet implements GreyStore.
func (s *GreyPostgres) PutTriplet(ctx context.Context, key string, t Triplet) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO greylist_triplets (key, first, last) VALUES ($1, $2, $3)
		ON CONFLICT (key) DO UPDATE SET first = excluded.first, last = greatest(greylist_triplets.last, excluded.last)`,
		key, t.First.Unix(), t.Last.Unix())
	return err
}

// Client implements GreyStore.
func (s *GreyPostgres) Client(ctx context.Context, ip string) (AutoAllow, bool, error) {
	var count, last int64
	err := s.pool.QueryRow(ctx, `SELECT count, last FROM greylist_clients WHERE ip = $1`, ip).Scan(&count, &last)
	if errors.Is(err, pgx.ErrNoRows) {
		return AutoAllow{}, false, nil
	}
	if err != nil {
		return AutoAllow{}, false, err
	}
	return AutoAllow{Count: int(count), Last: time.Unix(last, 0)}, true, nil
}

// PutClient implements GreyStore.
func (s *GreyPostgres) PutClient(ctx context.Context, ip string, c AutoAllow) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO greylist_clients (ip, count, last) VALUES ($1, $2, $3)
		ON CONFLICT (ip) DO UPDATE SET count = greatest(greylist_clients.count, excluded.count), last = greatest(greylist_clients.last, excluded.last)`,
		ip, c.Count, c.Last.Unix())
	return err
}

// Expire deletes what GreySQLite.Expire does. Every node runs it; the deletes are
// idempotent.
func (s *GreyPostgres) Expire(ctx context.Context, before time.Time, c GreylistConfig, now time.Time) (int64, error) {
	var n int64
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`DELETE FROM greylist_triplets WHERE last < $1`, []any{before.Unix()}},
		{`DELETE FROM greylist_triplets WHERE last - first < $1 AND first < $2`, []any{int64(c.Delay.Seconds()), now.Add(-c.RetryWindow).Unix()}},
		{`DELETE FROM greylist_clients WHERE last < $1`, []any{before.Unix()}},
	} {
		tag, err := s.pool.Exec(ctx, q.sql, q.args...)
		if err != nil {
			return n, fmt.Errorf("greylist: expire: %w", err)
		}
		n += tag.RowsAffected()
	}
	return n, nil
}

// List returns the records whose key contains substr (all with ""), newest first.
func (s *GreyPostgres) List(ctx context.Context, substr string, limit int) ([]GreyEntry, error) {
	like := "%" + strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(strings.ToLower(substr)) + "%"
	q := `SELECT key, false, first, last, 0 FROM greylist_triplets WHERE key LIKE $1
		UNION ALL
		SELECT ip, true, last, last, count FROM greylist_clients WHERE ip LIKE $1
		ORDER BY 4 DESC`
	if limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", limit)
	}
	rows, err := s.pool.Query(ctx, q, like)
	if err != nil {
		return nil, fmt.Errorf("greylist: list: %w", err)
	}
	defer rows.Close()
	var out []GreyEntry
	for rows.Next() {
		var e GreyEntry
		var first, last int64
		var count int32
		if err := rows.Scan(&e.Key, &e.Client, &first, &last, &count); err != nil {
			return nil, fmt.Errorf("greylist: list: %w", err)
		}
		e.First, e.Last, e.Count = time.Unix(first, 0), time.Unix(last, 0), int(count)
		out = append(out, e)
	}
	return out, rows.Err()
}

// Delete removes a triplet (key as listed) or a client record (its address).
func (s *GreyPostgres) Delete(ctx context.Context, key string) (bool, error) {
	var n int64
	for _, q := range []string{`DELETE FROM greylist_triplets WHERE key = $1`, `DELETE FROM greylist_clients WHERE ip = $1`} {
		tag, err := s.pool.Exec(ctx, q, strings.ToLower(key))
		if err != nil {
			return false, fmt.Errorf("greylist: delete %s: %w", key, err)
		}
		n += tag.RowsAffected()
	}
	return n > 0, nil
}

// Count returns the numbers of triplets and of clients stored.
func (s *GreyPostgres) Count(ctx context.Context) (triplets, clients int64, err error) {
	err = s.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM greylist_triplets), (SELECT count(*) FROM greylist_clients)`).Scan(&triplets, &clients)
	if err != nil {
		err = fmt.Errorf("greylist: count: %w", err)
	}
	return
}

// Flush is a no-op: every write is committed when it returns.
func (s *GreyPostgres) Flush(context.Context) error { return nil }

// Ping reports whether the database answers, for serve's /healthz.
func (s *GreyPostgres) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("greylist: ping: %w", err)
	}
	return nil
}

// Close closes the pool.
func (s *GreyPostgres) Close() error {
	s.pool.Close()
	return nil
}

// CopyGrey copies every record of src into dst (postern migrate): triplets and
// clients as they are; what dst already has of a key is overwritten.
func CopyGrey(ctx context.Context, dst interface {
	GreyStore
	Flush(context.Context) error
}, src interface {
	List(ctx context.Context, substr string, limit int) ([]GreyEntry, error)
}) (int, error) {
	entries, err := src.List(ctx, "", 0)
	if err != nil {
		return 0, err
	}
	for _, e := range entries {
		if e.Client {
			err = dst.PutClient(ctx, e.Key, AutoAllow{Count: e.Count, Last: e.Last})
		} else {
			err = dst.PutTriplet(ctx, e.Key, Triplet{First: e.First, Last: e.Last})
		}
		if err != nil {
			return 0, fmt.Errorf("greylist: copy %s: %w", e.Key, err)
		}
	}
	if err := dst.Flush(ctx); err != nil {
		return 0, err
	}
	return len(entries), nil
}
