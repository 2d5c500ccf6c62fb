package policy

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/postern/postern/internal/sqlitedb"
)

// GreylistFileName is the greylisting database's name inside data_dir.
const GreylistFileName = "greylist.db"

var greyMigrations = []string{`
CREATE TABLE triplets (
	key   TEXT PRIMARY KEY,
	first INTEGER NOT NULL, -- unix seconds
	last  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE clients (
	ip    TEXT PRIMARY KEY,
	count INTEGER NOT NULL,
	last  INTEGER NOT NULL
) WITHOUT ROWID;
`}

// GreySQLite is the SQLite GreyStore. Losing the latest writes in a power failure
// costs a sender one more retry, never a message, so commits are not synced.
type GreySQLite struct {
	db                     *sql.DB
	getT, putT, getC, putC *sql.Stmt
}

// OpenGreySQLite opens (creating) the greylisting database at path.
func OpenGreySQLite(path string) (*GreySQLite, error) {
	db, err := sqlitedb.Open(path, "_journal_mode=WAL&_synchronous=NORMAL&_busy_timeout=10000&_cache_size=-32768", greyMigrations)
	if err != nil {
		return nil, fmt.Errorf("greylist: %w", err)
	}
	s := &GreySQLite{db: db}
	for _, p := range []struct {
		st **sql.Stmt
		q  string
	}{
		{&s.getT, `SELECT first, last FROM triplets WHERE key = ?`},
		{&s.putT, `INSERT INTO triplets (key, first, last) VALUES (?, ?, ?)
			ON CONFLICT (key) DO UPDATE SET first = excluded.first, last = excluded.last`},
		{&s.getC, `SELECT count, last FROM clients WHERE ip = ?`},
		{&s.putC, `INSERT INTO clients (ip, count, last) VALUES (?, ?, ?)
			ON CONFLICT (ip) DO UPDATE SET count = excluded.count, last = excluded.last`},
	} {
		if *p.st, err = db.Prepare(p.q); err != nil {
			db.Close()
			return nil, fmt.Errorf("greylist: %s: prepare: %w", path, err)
		}
	}
	return s, nil
}

// Close closes the database.
func (s *GreySQLite) Close() error { return s.db.Close() }

func (s *GreySQLite) Triplet(ctx context.Context, key string) (Triplet, bool, error) {
	var first, last int64
	err := s.getT.QueryRowContext(ctx, key).Scan(&first, &last)
	if errors.Is(err, sql.ErrNoRows) {
		return Triplet{}, false, nil
	}
	if err != nil {
		return Triplet{}, false, err
	}
	return Triplet{First: time.Unix(first, 0), Last: time.Unix(last, 0)}, true, nil
}

func (s *GreySQLite) PutTriplet(ctx context.Context, key string, t Triplet) error {
	_, err := s.putT.ExecContext(ctx, key, t.First.Unix(), t.Last.Unix())
	return err
}

func (s *GreySQLite) Client(ctx context.Context, ip string) (AutoAllow, bool, error) {
	var count, last int64
	err := s.getC.QueryRowContext(ctx, ip).Scan(&count, &last)
	if errors.Is(err, sql.ErrNoRows) {
		return AutoAllow{}, false, nil
	}
	if err != nil {
		return AutoAllow{}, false, err
	}
	return AutoAllow{Count: int(count), Last: time.Unix(last, 0)}, true, nil
}

func (s *GreySQLite) PutClient(ctx context.Context, ip string, c AutoAllow) error {
	_, err := s.putC.ExecContext(ctx, ip, c.Count, c.Last.Unix())
	return err
}

// Expire deletes triplets and clients not seen since before, and triplets that never
// passed and whose retry window has closed (a retry would start over anyway).
func (s *GreySQLite) Expire(ctx context.Context, before time.Time, c GreylistConfig, now time.Time) (int64, error) {
	var n int64
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`DELETE FROM triplets WHERE last < ?`, []any{before.Unix()}},
		{`DELETE FROM triplets WHERE last - first < ? AND first < ?`, []any{int64(c.Delay.Seconds()), now.Add(-c.RetryWindow).Unix()}},
		{`DELETE FROM clients WHERE last < ?`, []any{before.Unix()}},
	} {
		r, err := s.db.ExecContext(ctx, q.sql, q.args...)
		if err != nil {
			return n, fmt.Errorf("greylist: expire: %w", err)
		}
		k, _ := r.RowsAffected()
		n += k
	}
	return n, nil
}

// GreyEntry is one stored record, for the CLI.
type GreyEntry struct {
	Key         string // network/sender/recipient, or a client address
	Client      bool   // an auto-allowed client record
	First, Last time.Time
	Count       int
}

// List returns the records whose key contains substr (all with ""), newest first.
func (s *GreySQLite) List(ctx context.Context, substr string, limit int) ([]GreyEntry, error) {
	if limit <= 0 {
		limit = -1
	}
	like := "%" + strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(strings.ToLower(substr)) + "%"
	var out []GreyEntry
	rows, err := s.db.QueryContext(ctx, `
		SELECT key, 0, first, last, 0 FROM triplets WHERE key LIKE ? ESCAPE '\'
		UNION ALL
		SELECT ip, 1, last, last, count FROM clients WHERE ip LIKE ? ESCAPE '\'
		ORDER BY 4 DESC LIMIT ?`, like, like, limit)
	if err != nil {
		return nil, fmt.Errorf("greylist: list: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var e GreyEntry
		var first, last int64
		if err := rows.Scan(&e.Key, &e.Client, &first, &last, &e.Count); err != nil {
			return nil, fmt.Errorf("greylist: list: %w", err)
		}
		e.First, e.Last = time.Unix(first, 0), time.Unix(last, 0)
		out = append(out, e)
	}
	return out, rows.Err()
}

// Delete removes a triplet (key as listed) or a client record (its address).
func (s *GreySQLite) Delete(ctx context.Context, key string) (bool, error) {
	n := int64(0)
	for _, q := range []string{`DELETE FROM triplets WHERE key = ?`, `DELETE FROM clients WHERE ip = ?`} {
		r, err := s.db.ExecContext(ctx, q, strings.ToLower(key))
		if err != nil {
			return false, fmt.Errorf("greylist: delete %s: %w", key, err)
		}
		k, _ := r.RowsAffected()
		n += k
	}
	return n > 0, nil
}

// Count returns the numbers of triplets and of clients stored.
func (s *GreySQLite) Count(ctx context.Context) (triplets, clients int64, err error) {
	err = s.db.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM triplets), (SELECT count(*) FROM clients)`).Scan(&triplets, &clients)
	if err != nil {
		err = fmt.Errorf("greylist: count: %w", err)
	}
	return
}
