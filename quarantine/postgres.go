package quarantine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/postern/postern/internal/pgdb"
)

// pgMigrations are the PostgreSQL schema's, as migrations are SQLite's. The tables
// are prefixed: the database is shared with the other stores and maybe more.
var pgMigrations = []string{
	`CREATE TABLE quarantine_messages (
		id          text PRIMARY KEY,
		time        bigint NOT NULL, -- unix microseconds
		queue_id    text NOT NULL DEFAULT '',
		client_addr text NOT NULL DEFAULT '',
		client_name text NOT NULL DEFAULT '',
		helo        text NOT NULL DEFAULT '',
		mail_from   text NOT NULL DEFAULT '',
		rcpts       text[] NOT NULL DEFAULT '{}',
		hdr_from    text NOT NULL DEFAULT '',
		subject     text NOT NULL DEFAULT '',
		message_id  text NOT NULL DEFAULT '',
		size        bigint NOT NULL DEFAULT 0,
		score       double precision NOT NULL DEFAULT 0,
		tests       text[] NOT NULL DEFAULT '{}',
		virus       text NOT NULL DEFAULT '',
		reason      text NOT NULL,
		action      text NOT NULL,
		status      text NOT NULL,
		status_by   text NOT NULL DEFAULT '',
		status_at   bigint NOT NULL DEFAULT 0
	);
	CREATE INDEX quarantine_messages_time ON quarantine_messages(time);
	CREATE TABLE quarantine_bodies (
		id   text PRIMARY KEY REFERENCES quarantine_messages(id) ON DELETE CASCADE,
		data bytea NOT NULL -- gzip of the message as received
	);
	CREATE TABLE quarantine_recipients (
		id   text NOT NULL REFERENCES quarantine_messages(id) ON DELETE CASCADE,
		addr text NOT NULL -- lower case
	);
	CREATE INDEX quarantine_recipients_addr ON quarantine_recipients(addr);
	CREATE INDEX quarantine_recipients_id ON quarantine_recipients(id);`,
	`ALTER TABLE quarantine_messages ADD COLUMN detail text NOT NULL DEFAULT '';`,
}

// Postgres is the Store on a PostgreSQL database that several nodes share: a record
// put by one is listed, released and deleted from any. PostgreSQL commits
// concurrent transactions with one WAL flush by itself, so Put is one transaction.
type Postgres struct {
	pool *pgxpool.Pool
}

// PgStore is the quarantine's name in a PostgreSQL database's postern_schema.
const PgStore = "quarantine"

// OpenPostgres connects to the database at url and brings the quarantine's tables
// up to date.
func OpenPostgres(ctx context.Context, url string) (*Postgres, error) {
	pool, err := pgdb.Open(ctx, url, PgStore, pgdb.Options{MaxConns: 16}, pgMigrations)
	if err != nil {
		return nil, fmt.Errorf("quarantine: %w", err)
	}
	return &Postgres{pool: pool}, nil
}

// putTimeout bounds one Put against an unreachable database: then the message is
// tempfailed.
const putTimeout = 15 * time.Second

// Put implements Store: committed (synchronous_commit as the server has it, on by
// default) when it returns nil.
func (s *Postgres) Put(ctx context.Context, r *Record, raw io.Reader) error {
	gz, err := compress(raw)
	if err != nil {
		return fmt.Errorf("quarantine: store %s: %w", r.ID, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("quarantine: store %s: %w", r.ID, err)
	}
	// Once started, the transaction is not cancelled with the session: a Put that
	// answered an error for a record that committed anyway would have the message
	// tempfailed and kept (released later, it would arrive twice). putTimeout bounds
	// the wait instead.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), putTimeout)
	defer cancel()
	if err := s.insert(wctx, held(r), gz); err != nil {
		return fmt.Errorf("quarantine: store %s: %w", r.ID, err)
	}
	return nil
}

// insert writes a record as it is, status included; gz nil: no body (deleted).
func (s *Postgres) insert(ctx context.Context, r *Record, gz []byte) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var statusAt int64
		if !r.StatusAt.IsZero() {
			statusAt = r.StatusAt.UnixMicro()
		}
		if _, err := tx.Exec(ctx, `INSERT INTO quarantine_messages (id, time, queue_id, client_addr, client_name, helo,
			mail_from, rcpts, hdr_from, subject, message_id, size, score, tests, virus, reason, action, status, status_by, status_at, detail)
			VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21)`,
			r.ID, r.Time.UnixMicro(), r.QueueID, r.ClientAddr, r.ClientName, r.Helo,
			r.MailFrom, nonNil(r.Rcpts), r.From, r.Subject, r.MessageID, r.Size, r.Score, nonNil(r.Tests),
			r.Virus, r.Reason, r.Action, r.Status, r.StatusBy, statusAt, r.Detail); err != nil {
			return err
		}
		if gz != nil {
			if _, err := tx.Exec(ctx, `INSERT INTO quarantine_bodies (id, data) VALUES ($1, $2)`, r.ID, gz); err != nil {
				return err
			}
		}
		for _, a := range r.Rcpts {
			if _, err := tx.Exec(ctx, `INSERT INTO quarantine_recipients (id, addr) VALUES ($1, $2)`, r.ID, strings.ToLower(a)); err != nil {
				return err
			}
		}
		return nil
	})
}

const pgColumns = `id, time, queue_id, client_addr, client_name, helo, mail_from, rcpts, hdr_from,
	subject, message_id, size, score, tests, virus, reason, action, status, status_by, status_at, detail`

func scanPgRecord(row pgx.Row) (*Record, error) {
	var r Record
	var t, statusAt int64
	if err := row.Scan(&r.ID, &t, &r.QueueID, &r.ClientAddr, &r.ClientName, &r.Helo, &r.MailFrom,
		&r.Rcpts, &r.From, &r.Subject, &r.MessageID, &r.Size, &r.Score, &r.Tests, &r.Virus, &r.Reason,
		&r.Action, &r.Status, &r.StatusBy, &statusAt, &r.Detail); err != nil {
		return nil, err
	}
	r.Time = time.UnixMicro(t)
	if statusAt != 0 {
		r.StatusAt = time.UnixMicro(statusAt)
	}
	return &r, nil
}

// Get implements Store.
func (s *Postgres) Get(ctx context.Context, id string) (*Record, error) {
	r, err := scanPgRecord(s.pool.QueryRow(ctx, `SELECT `+pgColumns+` FROM quarantine_messages WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("quarantine: %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("quarantine: get %s: %w", id, err)
	}
	return r, nil
}

// Raw implements Store.
func (s *Postgres) Raw(ctx context.Context, id string) ([]byte, error) {
	var gz []byte
	err := s.pool.QueryRow(ctx, `SELECT data FROM quarantine_bodies WHERE id = $1`, id).Scan(&gz)
	if errors.Is(err, pgx.ErrNoRows) {
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
func (s *Postgres) List(ctx context.Context, f Filter) ([]Record, error) {
	q, args := listSQL(f, "quarantine_messages", "quarantine_recipients", pgColumns, func(n int) string { return fmt.Sprintf("$%d", n) })
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("quarantine: list: %w", err)
	}
	defer rows.Close()
	var out []Record
	for rows.Next() {
		r, err := scanPgRecord(rows)
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
func (s *Postgres) SetStatus(ctx context.Context, id, status, by string) error {
	tag, err := s.pool.Exec(ctx, `UPDATE quarantine_messages SET status = $1, status_by = $2, status_at = $3 WHERE id = $4`,
		status, by, time.Now().UnixMicro(), id)
	if err != nil {
		return fmt.Errorf("quarantine: set status of %s: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("quarantine: %s: %w", id, ErrNotFound)
	}
	return nil
}

// Delete implements Store.
func (s *Postgres) Delete(ctx context.Context, id, by string) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE quarantine_messages SET status = $1, status_by = $2, status_at = $3 WHERE id = $4`,
			StatusDeleted, by, time.Now().UnixMicro(), id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return ErrNotFound
		}
		_, err = tx.Exec(ctx, `DELETE FROM quarantine_bodies WHERE id = $1`, id)
		return err
	})
	if errors.Is(err, ErrNotFound) {
		return fmt.Errorf("quarantine: %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("quarantine: delete %s: %w", id, err)
	}
	return nil
}

// Purge implements Store.
func (s *Postgres) Purge(ctx context.Context, before time.Time) (int, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM quarantine_messages WHERE time < $1`, before.UnixMicro())
	if err != nil {
		return 0, fmt.Errorf("quarantine: purge: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// Stats implements Store; SizeBytes is the tables' size with their indexes.
func (s *Postgres) Stats(ctx context.Context) (Stats, error) {
	st := Stats{ByReason: map[string]int{}, ByStatus: map[string]int{}}
	rows, err := s.pool.Query(ctx, `SELECT reason, status, count(*) FROM quarantine_messages GROUP BY reason, status`)
	if err != nil {
		return st, fmt.Errorf("quarantine: stats: %w", err)
	}
	for rows.Next() {
		var reason, status string
		var n int
		if err := rows.Scan(&reason, &status, &n); err != nil {
			rows.Close()
			return st, fmt.Errorf("quarantine: stats: %w", err)
		}
		st.Total += n
		st.ByReason[reason] += n
		st.ByStatus[status] += n
	}
	rows.Close()
	var oldest, newest *int64
	if err := s.pool.QueryRow(ctx, `SELECT min(time), max(time),
		pg_total_relation_size('quarantine_messages') + pg_total_relation_size('quarantine_bodies') + pg_total_relation_size('quarantine_recipients')
		FROM quarantine_messages`).Scan(&oldest, &newest, &st.SizeBytes); err != nil {
		return st, fmt.Errorf("quarantine: stats: %w", err)
	}
	if oldest != nil {
		st.Oldest, st.Newest = time.UnixMicro(*oldest), time.UnixMicro(*newest)
	}
	return st, nil
}

// Close implements Store.
func (s *Postgres) Close() error {
	s.pool.Close()
	return nil
}

// Ping reports whether the database answers a query, for serve's /healthz.
func (s *Postgres) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("quarantine: ping: %w", err)
	}
	return nil
}

// Restore implements Restorer.
func (s *Postgres) Restore(ctx context.Context, r *Record, raw []byte) error {
	var gz []byte
	if raw != nil {
		var err error
		if gz, err = compress(bytes.NewReader(raw)); err != nil {
			return fmt.Errorf("quarantine: restore %s: %w", r.ID, err)
		}
	}
	if err := s.insert(ctx, r, gz); err != nil {
		return fmt.Errorf("quarantine: restore %s: %w", r.ID, err)
	}
	return nil
}
