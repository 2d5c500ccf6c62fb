package quarantine

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/postern/postern/internal/sqlitedb"
)

// FileName is the quarantine database's name inside data_dir.
const FileName = "quarantine.db"

// migrations bring the schema from version i to i+1; PRAGMA user_version holds the
// version a database is at. Append, never edit.
var migrations = []string{
	`CREATE TABLE messages (
		id          TEXT PRIMARY KEY,
		time        INTEGER NOT NULL, -- unix microseconds
		queue_id    TEXT NOT NULL DEFAULT '',
		client_addr TEXT NOT NULL DEFAULT '',
		client_name TEXT NOT NULL DEFAULT '',
		helo        TEXT NOT NULL DEFAULT '',
		mail_from   TEXT NOT NULL DEFAULT '',
		rcpts       TEXT NOT NULL DEFAULT '[]', -- JSON array
		hdr_from    TEXT NOT NULL DEFAULT '',
		subject     TEXT NOT NULL DEFAULT '',
		message_id  TEXT NOT NULL DEFAULT '',
		size        INTEGER NOT NULL DEFAULT 0,
		score       REAL NOT NULL DEFAULT 0,
		tests       TEXT NOT NULL DEFAULT '[]', -- JSON array
		virus       TEXT NOT NULL DEFAULT '',
		reason      TEXT NOT NULL,
		action      TEXT NOT NULL,
		status      TEXT NOT NULL,
		status_by   TEXT NOT NULL DEFAULT '',
		status_at   INTEGER NOT NULL DEFAULT 0
	);
	CREATE INDEX messages_time ON messages(time);
	CREATE TABLE bodies (
		id   TEXT PRIMARY KEY REFERENCES messages(id) ON DELETE CASCADE,
		data BLOB NOT NULL -- gzip of the message as received
	);
	CREATE TABLE recipients (
		id   TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
		addr TEXT NOT NULL -- lower case
	);
	CREATE INDEX recipients_addr ON recipients(addr);
	CREATE INDEX recipients_id ON recipients(id);`,
	// What the check that refused the message found, where: the infected part,
	// the banned file.
	`ALTER TABLE messages ADD COLUMN detail TEXT NOT NULL DEFAULT '';`,
}

// SQLite is the embedded Store: one database file, WAL mode so the CLI reads while
// serve writes, synchronous=FULL so a commit survives a crash or power loss. Puts from
// concurrent sessions are committed together (group commit): one fsync for many.
type SQLite struct {
	db   *sql.DB
	path string

	mu     sync.RWMutex // guards closed against Put's send
	closed bool
	puts   chan *putReq
	done   chan struct{}
}

type putReq struct {
	r   *Record
	gz  []byte
	res chan error
	// state settles who owns a request whose caller gives up: reqQueued until the
	// writer takes it (reqTaken) or the caller abandons it (reqAbandoned).
	state atomic.Int32
}

const (
	reqQueued = iota
	reqTaken
	reqAbandoned
)

// OpenSQLite opens (creating it with mode 0600 if needed) the database at path and
// brings its schema up to date.
func OpenSQLite(path string) (*SQLite, error) {
	db, err := sqlitedb.Open(path, "_journal_mode=WAL&_synchronous=FULL&_busy_timeout=10000&_foreign_keys=on&_txlock=immediate", migrations)
	if err != nil {
		return nil, fmt.Errorf("quarantine: %w", err)
	}
	s := &SQLite{db: db, path: path, puts: make(chan *putReq, 256), done: make(chan struct{})}
	go s.writer()
	return s, nil
}

// Put implements Store. The message is compressed in the caller's goroutine; the
// single writer commits it, with whatever other puts are waiting, in one transaction.
func (s *SQLite) Put(ctx context.Context, r *Record, raw io.Reader) error {
	gz, err := compress(raw)
	if err != nil {
		return fmt.Errorf("quarantine: store %s: %w", r.ID, err)
	}
	req := &putReq{r: held(r), gz: gz, res: make(chan error, 1)}
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return fmt.Errorf("quarantine: store %s: store closed", r.ID)
	}
	select {
	case s.puts <- req:
		s.mu.RUnlock()
	case <-ctx.Done():
		s.mu.RUnlock()
		return fmt.Errorf("quarantine: store %s: %w", r.ID, ctx.Err())
	}
	select {
	case err := <-req.res:
		return err
	case <-ctx.Done():
		if req.state.CompareAndSwap(reqQueued, reqAbandoned) {
			return fmt.Errorf("quarantine: store %s: %w", r.ID, ctx.Err())
		}
		// The writer is committing it: an error now would tempfail a message whose
		// record is about to exist (released later, it would arrive twice). The
		// outcome comes within SQLite's busy timeout.
		return <-req.res
	}
}

// writer commits puts in batches until Close.
func (s *SQLite) writer() {
	defer close(s.done)
	take := func(batch []*putReq, r *putReq) []*putReq {
		if r.state.CompareAndSwap(reqQueued, reqTaken) {
			return append(batch, r)
		}
		return batch // its caller gave up: it must not be written
	}
	for req := range s.puts {
		batch := take(nil, req)
	more:
		for len(batch) < 128 {
			select {
			case r, ok := <-s.puts:
				if !ok {
					break more
				}
				batch = take(batch, r)
			default:
				break more
			}
		}
		if len(batch) == 0 {
			continue
		}
		if err := s.insert(batch); err != nil {
			// One bad record must not fail the others: retry them one by one.
			for _, r := range batch {
				r.res <- s.insert([]*putReq{r})
			}
			continue
		}
		for _, r := range batch {
			r.res <- nil
		}
	}
}

func (s *SQLite) insert(batch []*putReq) (err error) {
	ids := make([]string, len(batch))
	for i, r := range batch {
		ids[i] = r.r.ID
	}
	wrap := func(err error) error {
		return fmt.Errorf("quarantine: store %s: %w", strings.Join(ids, ","), err)
	}
	tx, err := s.db.Begin()
	if err != nil {
		return wrap(err)
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	for _, req := range batch {
		if err := insertRecord(context.Background(), tx, req.r, req.gz); err != nil {
			return wrap(err)
		}
	}
	if err := tx.Commit(); err != nil {
		return wrap(err)
	}
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

const columns = `id, time, queue_id, client_addr, client_name, helo, mail_from, rcpts, hdr_from,
	subject, message_id, size, score, tests, virus, reason, action, status, status_by, status_at, detail`

func scanRecord(row interface{ Scan(...any) error }) (*Record, error) {
	var r Record
	var t, statusAt int64
	var rcpts, tests string
	if err := row.Scan(&r.ID, &t, &r.QueueID, &r.ClientAddr, &r.ClientName, &r.Helo, &r.MailFrom,
		&rcpts, &r.From, &r.Subject, &r.MessageID, &r.Size, &r.Score, &tests, &r.Virus, &r.Reason,
		&r.Action, &r.Status, &r.StatusBy, &statusAt, &r.Detail); err != nil {
		return nil, err
	}
	r.Time = time.UnixMicro(t)
	if statusAt != 0 {
		r.StatusAt = time.UnixMicro(statusAt)
	}
	_ = json.Unmarshal([]byte(rcpts), &r.Rcpts)
	_ = json.Unmarshal([]byte(tests), &r.Tests)
	return &r, nil
}

// Get implements Store.
func (s *SQLite) Get(ctx context.Context, id string) (*Record, error) {
	r, err := scanRecord(s.db.QueryRowContext(ctx, `SELECT `+columns+` FROM messages WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("quarantine: %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("quarantine: get %s: %w", id, err)
	}
	return r, nil
}

// Raw implements Store.
func (s *SQLite) Raw(ctx context.Context, id string) ([]byte, error) {
	var gz []byte
	err := s.db.QueryRowContext(ctx, `SELECT data FROM bodies WHERE id = ?`, id).Scan(&gz)
	if errors.Is(err, sql.ErrNoRows) {
		if _, gerr := s.Get(ctx, id); gerr != nil {
			return nil, gerr
		}
		return nil, fmt.Errorf("quarantine: %s: the message was deleted", id)
	}
	if err != nil {
		return nil, fmt.Errorf("quarantine: read %s: %w", id, err)
	}
	raw, err := gunzip(gz)
	if err != nil {
		return nil, fmt.Errorf("quarantine: read %s: %w", id, err)
	}
	return raw, nil
}

// List implements Store: newest first.
func (s *SQLite) List(ctx context.Context, f Filter) ([]Record, error) {
	q, args := listSQL(f, "messages", "recipients", columns, func(int) string { return "?" })
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("quarantine: list: %w", err)
	}
	defer rows.Close()
	var out []Record
	for rows.Next() {
		r, err := scanRecord(rows)
		if err != nil {
			return nil, fmt.Errorf("quarantine: list: %w", err)
		}
		out = append(out, *r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("quarantine: list: %w", err)
	}
	return out, nil
}

// SetStatus implements Store.
func (s *SQLite) SetStatus(ctx context.Context, id, status, by string) error {
	res, err := s.db.ExecContext(ctx, `UPDATE messages SET status = ?, status_by = ?, status_at = ? WHERE id = ?`,
		status, by, time.Now().UnixMicro(), id)
	if err != nil {
		return fmt.Errorf("quarantine: set status of %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("quarantine: %s: %w", id, ErrNotFound)
	}
	return nil
}

// Delete implements Store.
func (s *SQLite) Delete(ctx context.Context, id, by string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("quarantine: delete %s: %w", id, err)
	}
	defer tx.Rollback()
	res, err := tx.Exec(`UPDATE messages SET status = ?, status_by = ?, status_at = ? WHERE id = ?`,
		StatusDeleted, by, time.Now().UnixMicro(), id)
	if err != nil {
		return fmt.Errorf("quarantine: delete %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("quarantine: %s: %w", id, ErrNotFound)
	}
	if _, err := tx.Exec(`DELETE FROM bodies WHERE id = ?`, id); err != nil {
		return fmt.Errorf("quarantine: delete %s: %w", id, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("quarantine: delete %s: %w", id, err)
	}
	return nil
}

// Purge implements Store.
func (s *SQLite) Purge(ctx context.Context, before time.Time) (int, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM messages WHERE time < ?`, before.UnixMicro())
	if err != nil {
		return 0, fmt.Errorf("quarantine: purge: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// Stats implements Store.
func (s *SQLite) Stats(ctx context.Context) (Stats, error) {
	st := Stats{ByReason: map[string]int{}, ByStatus: map[string]int{}}
	rows, err := s.db.QueryContext(ctx, `SELECT reason, status, count(*) FROM messages GROUP BY reason, status`)
	if err != nil {
		return st, fmt.Errorf("quarantine: stats: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var reason, status string
		var n int
		if err := rows.Scan(&reason, &status, &n); err != nil {
			return st, fmt.Errorf("quarantine: stats: %w", err)
		}
		st.Total += n
		st.ByReason[reason] += n
		st.ByStatus[status] += n
	}
	var oldest, newest sql.NullInt64
	if err := s.db.QueryRowContext(ctx, `SELECT min(time), max(time) FROM messages`).Scan(&oldest, &newest); err != nil {
		return st, fmt.Errorf("quarantine: stats: %w", err)
	}
	if oldest.Valid {
		st.Oldest, st.Newest = time.UnixMicro(oldest.Int64), time.UnixMicro(newest.Int64)
	}
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if fi, err := os.Stat(s.path + suffix); err == nil {
			st.SizeBytes += fi.Size()
		}
	}
	return st, nil
}

// Close waits for pending puts to commit and closes the database.
func (s *SQLite) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.puts)
	s.mu.Unlock()
	<-s.done
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("quarantine: close %s: %w", s.path, err)
	}
	return nil
}

// Ping reports whether the database answers a query, for serve's /healthz.
func (s *SQLite) Ping(ctx context.Context) error {
	var one int
	if err := s.db.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("quarantine: ping: %w", err)
	}
	return nil
}

// Restore implements Restorer.
func (s *SQLite) Restore(ctx context.Context, r *Record, raw []byte) error {
	wrap := func(err error) error { return fmt.Errorf("quarantine: restore %s: %w", r.ID, err) }
	var gz []byte
	if raw != nil {
		var err error
		if gz, err = compress(bytes.NewReader(raw)); err != nil {
			return wrap(err)
		}
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return wrap(err)
	}
	defer tx.Rollback()
	if err := insertRecord(ctx, tx, r, gz); err != nil {
		return wrap(err)
	}
	if err := tx.Commit(); err != nil {
		return wrap(err)
	}
	return nil
}

// insertRecord writes a record as it is, status included, with its message (gz
// nil: none, the record was deleted) and its recipients' index.
func insertRecord(ctx context.Context, tx *sql.Tx, r *Record, gz []byte) error {
	rcpts, _ := json.Marshal(nonNil(r.Rcpts))
	tests, _ := json.Marshal(nonNil(r.Tests))
	var statusAt int64
	if !r.StatusAt.IsZero() {
		statusAt = r.StatusAt.UnixMicro()
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO messages (id, time, queue_id, client_addr, client_name, helo,
		mail_from, rcpts, hdr_from, subject, message_id, size, score, tests, virus, reason, action, status, status_by, status_at, detail)
		VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
		r.ID, r.Time.UnixMicro(), r.QueueID, r.ClientAddr, r.ClientName, r.Helo,
		r.MailFrom, string(rcpts), r.From, r.Subject, r.MessageID, r.Size, r.Score, string(tests),
		r.Virus, r.Reason, r.Action, r.Status, r.StatusBy, statusAt, r.Detail); err != nil {
		return err
	}
	if gz != nil {
		if _, err := tx.ExecContext(ctx, `INSERT INTO bodies (id, data) VALUES (?, ?)`, r.ID, gz); err != nil {
			return err
		}
	}
	for _, a := range r.Rcpts {
		if _, err := tx.ExecContext(ctx, `INSERT INTO recipients (id, addr) VALUES (?, ?)`, r.ID, strings.ToLower(a)); err != nil {
			return err
		}
	}
	return nil
}
