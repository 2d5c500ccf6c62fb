package policy

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
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
// costs a sender one more retry, never a message, so commits are not synced, and
// writes are batched: a decision reads (its own pending writes first) and leaves
// the write to a flusher that commits every flushEvery in one transaction. That
// keeps a decision at a few reads of the B-tree (docs/benchmarks.md), where a commit
// per recipient cost more than the whole 100 µs budget at the 99th percentile.
type GreySQLite struct {
	db               *sql.DB
	getT, putT, putC *sql.Stmt

	mu       sync.Mutex
	triplets map[string]Triplet // written, not yet flushed
	clients  map[string]AutoAllow
	// known holds every client record: a few per sending host that ever passed,
	// small enough to keep, and asked on every decision.
	known    map[string]AutoAllow
	flushErr error // the last flush's error, reported by the next Put
	stop     chan struct{}
	done     chan struct{}
}

// flushEvery is how long a write may wait to be committed; refreshEvery how long
// a client record another process wrote takes to be seen.
const (
	flushEvery   = 50 * time.Millisecond
	refreshEvery = 10 * time.Second
)

// OpenGreySQLite opens (creating) the greylisting database at path.
func OpenGreySQLite(path string) (*GreySQLite, error) {
	db, err := sqlitedb.Open(path, "_journal_mode=WAL&_synchronous=NORMAL&_busy_timeout=10000&_cache_size=-32768", greyMigrations)
	if err != nil {
		return nil, fmt.Errorf("greylist: %w", err)
	}
	s := &GreySQLite{db: db, triplets: map[string]Triplet{}, clients: map[string]AutoAllow{},
		stop: make(chan struct{}), done: make(chan struct{})}
	for _, p := range []struct {
		st **sql.Stmt
		q  string
	}{
		{&s.getT, `SELECT first, last FROM triplets WHERE key = ?`},
		{&s.putT, `INSERT INTO triplets (key, first, last) VALUES (?, ?, ?)
			ON CONFLICT (key) DO UPDATE SET first = excluded.first, last = excluded.last`},
		{&s.putC, `INSERT INTO clients (ip, count, last) VALUES (?, ?, ?)
			ON CONFLICT (ip) DO UPDATE SET count = excluded.count, last = excluded.last`},
	} {
		if *p.st, err = db.Prepare(p.q); err != nil {
			db.Close()
			return nil, fmt.Errorf("greylist: %s: prepare: %w", path, err)
		}
	}
	if err := s.loadClients(); err != nil {
		db.Close()
		return nil, fmt.Errorf("greylist: %s: %w", path, err)
	}
	go s.flushLoop()
	return s, nil
}

// loadClients reads the client records, so that what another process wrote ('postern
// greylist allow', another node) is seen: at open, then every refreshEvery.
func (s *GreySQLite) loadClients() (err error) {
	known := map[string]AutoAllow{}
	defer func() {
		if err != nil {
			return // keep what is known
		}
		s.mu.Lock()
		for ip, c := range s.clients { // pending: newer than what was read
			known[ip] = c
		}
		s.known = known
		s.mu.Unlock()
	}()
	rows, err := s.db.Query(`SELECT ip, count, last FROM clients`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var ip string
		var count, last int64
		if err := rows.Scan(&ip, &count, &last); err != nil {
			return err
		}
		known[ip] = AutoAllow{Count: int(count), Last: time.Unix(last, 0)}
	}
	return rows.Err()
}

func (s *GreySQLite) flushLoop() {
	defer close(s.done)
	t := time.NewTicker(flushEvery)
	defer t.Stop()
	refresh := time.NewTicker(refreshEvery)
	defer refresh.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-refresh.C:
			if err := s.loadClients(); err != nil {
				s.mu.Lock()
				s.flushErr = err
				s.mu.Unlock()
			}
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			err := s.Flush(ctx)
			cancel()
			s.mu.Lock()
			s.flushErr = err
			s.mu.Unlock()
		}
	}
}

// Flush commits the pending writes now. On an error they stay pending.
func (s *GreySQLite) Flush(ctx context.Context) error {
	s.mu.Lock()
	ts, cs := s.triplets, s.clients
	if len(ts) == 0 && len(cs) == 0 {
		s.mu.Unlock()
		return nil
	}
	s.triplets, s.clients = map[string]Triplet{}, map[string]AutoAllow{}
	s.mu.Unlock()
	err := s.write(ctx, ts, cs)
	if err != nil {
		// Put back what is not newer in the meantime, for the next flush.
		s.mu.Lock()
		for k, v := range ts {
			if _, ok := s.triplets[k]; !ok {
				s.triplets[k] = v
			}
		}
		for k, v := range cs {
			if _, ok := s.clients[k]; !ok {
				s.clients[k] = v
			}
		}
		s.mu.Unlock()
		return fmt.Errorf("greylist: flush: %w", err)
	}
	return nil
}

func (s *GreySQLite) write(ctx context.Context, ts map[string]Triplet, cs map[string]AutoAllow) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	putT, putC := tx.StmtContext(ctx, s.putT), tx.StmtContext(ctx, s.putC)
	for k, t := range ts {
		if _, err := putT.ExecContext(ctx, k, t.First.Unix(), t.Last.Unix()); err != nil {
			return err
		}
	}
	for k, c := range cs {
		if _, err := putC.ExecContext(ctx, k, c.Count, c.Last.Unix()); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// Close writes what is pending and closes the database.
func (s *GreySQLite) Close() error {
	close(s.stop)
	<-s.done
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := s.Flush(ctx)
	if cerr := s.db.Close(); err == nil {
		err = cerr
	}
	return err
}

func (s *GreySQLite) Triplet(ctx context.Context, key string) (Triplet, bool, error) {
	s.mu.Lock()
	t, ok := s.triplets[key]
	s.mu.Unlock()
	if ok {
		return t, true, nil
	}
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

// PutTriplet records a triplet; it is committed within flushEvery. A failing
// database is reported here, by the next write after a flush failed.
func (s *GreySQLite) PutTriplet(ctx context.Context, key string, t Triplet) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.triplets[key] = t
	return s.flushErr
}

func (s *GreySQLite) Client(ctx context.Context, ip string) (AutoAllow, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.known[ip]
	return c, ok, nil
}

// PutClient records a client, as PutTriplet does.
func (s *GreySQLite) PutClient(ctx context.Context, ip string, c AutoAllow) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clients[ip] = c
	s.known[ip] = c
	return s.flushErr
}

// Expire deletes triplets and clients not seen since before, and triplets that never
// passed and whose retry window has closed (a retry would start over anyway).
func (s *GreySQLite) Expire(ctx context.Context, before time.Time, c GreylistConfig, now time.Time) (int64, error) {
	if err := s.Flush(ctx); err != nil {
		return 0, err
	}
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
	s.mu.Lock()
	for ip, c := range s.known {
		if c.Last.Before(before) {
			delete(s.known, ip)
		}
	}
	s.mu.Unlock()
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
	if err := s.Flush(ctx); err != nil {
		return nil, err
	}
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
	if err := s.Flush(ctx); err != nil {
		return false, err
	}
	n := int64(0)
	for _, q := range []string{`DELETE FROM triplets WHERE key = ?`, `DELETE FROM clients WHERE ip = ?`} {
		r, err := s.db.ExecContext(ctx, q, strings.ToLower(key))
		if err != nil {
			return false, fmt.Errorf("greylist: delete %s: %w", key, err)
		}
		k, _ := r.RowsAffected()
		n += k
	}
	s.mu.Lock()
	delete(s.known, strings.ToLower(key))
	s.mu.Unlock()
	return n > 0, nil
}

// Count returns the numbers of triplets and of clients stored.
func (s *GreySQLite) Count(ctx context.Context) (triplets, clients int64, err error) {
	if err := s.Flush(ctx); err != nil {
		return 0, 0, err
	}
	err = s.db.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM triplets), (SELECT count(*) FROM clients)`).Scan(&triplets, &clients)
	if err != nil {
		err = fmt.Errorf("greylist: count: %w", err)
	}
	return
}

// Ping reports whether the database answers a query, for serve's /healthz.
func (s *GreySQLite) Ping(ctx context.Context) error {
	var one int
	if err := s.db.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("greylist: ping: %w", err)
	}
	return nil
}
