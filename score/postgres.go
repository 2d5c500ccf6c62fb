package score

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/postern/postern/internal/pgdb"
)

var bayesPgMigrations = []string{
	`CREATE TABLE bayes_tokens (
		key   bigint PRIMARY KEY, -- FNV-1a 64 of the token, as a signed integer
		spam  bigint NOT NULL DEFAULT 0,
		ham   bigint NOT NULL DEFAULT 0,
		mtime bigint NOT NULL     -- unix microseconds of the last learn touching it
	);
	CREATE TABLE bayes_changes (
		version bigserial PRIMARY KEY,
		time    bigint NOT NULL,
		keys    bytea NOT NULL -- 8 bytes per key, big-endian; empty: everything changed
	);
	CREATE INDEX bayes_changes_time ON bayes_changes(time);
	CREATE TABLE bayes_learned (
		msgid text PRIMARY KEY,
		spam  boolean NOT NULL,
		time  bigint NOT NULL
	);
	CREATE TABLE bayes_totals (
		id   integer PRIMARY KEY CHECK (id = 1),
		spam bigint NOT NULL,
		ham  bigint NOT NULL
	);
	INSERT INTO bayes_totals (id, spam, ham) VALUES (1, 0, 0);`,
}

// learnLock is the advisory lock every writer of the change log holds until it
// commits. Versions come from a sequence, which hands them out in the order
// transactions start, not the order they commit: without the lock a node could read
// version 11 committed while 10 was still open, and never see 10. Serializing
// learners also makes "learned on two nodes at once" count once: the second sees
// the first's learned row. Learns are batched, so one at a time is not the limit.
const learnLock = 7406112

// Postgres is the Store on a PostgreSQL database shared by several nodes. What one
// node learns reaches the others through the change log, which each polls every
// bayes.refresh (Bayes.Refresh), as it does for 'postern learn' with SQLite.
type Postgres struct {
	pool *pgxpool.Pool
}

// PgStore is the Bayes store's name in a PostgreSQL database's postern_schema.
const PgStore = "bayes"

// OpenPostgres connects to the database at url and brings Bayes's tables up to date.
func OpenPostgres(ctx context.Context, url string) (*Postgres, error) {
	pool, err := pgdb.Open(ctx, url, PgStore, pgdb.Options{MaxConns: 8}, bayesPgMigrations)
	if err != nil {
		return nil, fmt.Errorf("bayes: %w", err)
	}
	return &Postgres{pool: pool}, nil
}

// snapshot runs fn in a read-only transaction that sees one state of the database.
func (s *Postgres) snapshot(ctx context.Context, fn func(pgx.Tx) error) error {
	return pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, fn)
}

func pgTotals(ctx context.Context, tx pgx.Tx) (spam, ham int64, err error) {
	err = tx.QueryRow(ctx, `SELECT spam, ham FROM bayes_totals WHERE id = 1`).Scan(&spam, &ham)
	return
}

// Load implements Store.
func (s *Postgres) Load(ctx context.Context, fn func(Key, Counts)) (spam, ham, version int64, err error) {
	err = s.snapshot(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT key, spam, ham FROM bayes_tokens`)
		if err != nil {
			return err
		}
		var k, sp, hm int64
		_, err = pgx.ForEachRow(rows, []any{&k, &sp, &hm}, func() error {
			fn(Key(k), Counts{sp, hm})
			return nil
		})
		if err != nil {
			return err
		}
		if spam, ham, err = pgTotals(ctx, tx); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM bayes_changes`).Scan(&version)
	})
	if err != nil {
		return 0, 0, 0, fmt.Errorf("bayes: load: %w", err)
	}
	return spam, ham, version, nil
}

// Changes implements Store.
func (s *Postgres) Changes(ctx context.Context, since int64, fn func(Key, Counts)) (spam, ham, version int64, err error) {
	err = s.snapshot(ctx, func(tx pgx.Tx) error {
		var oldest, newest int64
		if err := tx.QueryRow(ctx, `SELECT coalesce(min(version), 0), coalesce(max(version), 0) FROM bayes_changes`).Scan(&oldest, &newest); err != nil {
			return err
		}
		if newest > since && oldest > since+1 {
			return ErrReload // the log was pruned past since
		}
		rows, err := tx.Query(ctx, `SELECT keys FROM bayes_changes WHERE version > $1 ORDER BY version`, since)
		if err != nil {
			return err
		}
		seen := map[Key]struct{}{}
		var keys []int64
		var blob []byte
		_, err = pgx.ForEachRow(rows, []any{&blob}, func() error {
			if len(blob) == 0 || len(seen)+len(blob)/8 > maxIncremental {
				return ErrReload
			}
			for i := 0; i+8 <= len(blob); i += 8 {
				k := Key(binary.BigEndian.Uint64(blob[i:]))
				if _, ok := seen[k]; !ok {
					seen[k] = struct{}{}
					keys = append(keys, int64(k))
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		if len(keys) > 0 {
			rows, err := tx.Query(ctx, `SELECT key, spam, ham FROM bayes_tokens WHERE key = ANY($1)`, keys)
			if err != nil {
				return err
			}
			var k, sp, hm int64
			_, err = pgx.ForEachRow(rows, []any{&k, &sp, &hm}, func() error {
				fn(Key(k), Counts{sp, hm})
				delete(seen, Key(k))
				return nil
			})
			if err != nil {
				return err
			}
			for k := range seen {
				fn(k, Counts{}) // the token is gone
			}
		}
		spam, ham, err = pgTotals(ctx, tx)
		version = max(newest, since)
		return err
	})
	if errors.Is(err, ErrReload) {
		return 0, 0, 0, err
	}
	if err != nil {
		return 0, 0, 0, fmt.Errorf("bayes: changes: %w", err)
	}
	return spam, ham, version, nil
}

// lockLearn takes the change log's lock for the rest of tx.
func lockLearn(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(learnLock))
	return err
}

// Learn implements Store, with the decisions SQLite's makes (planLearn), the
// learned rows read in one query and the tokens upserted from arrays.
func (s *Postgres) Learn(ctx context.Context, items []Item, forget bool) ([]Outcome, error) {
	var outcomes []Outcome
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := lockLearn(ctx, tx); err != nil {
			return err
		}
		ids := make([]string, len(items))
		for i, it := range items {
			ids[i] = it.MsgID
		}
		prev := map[string]bool{}
		rows, err := tx.Query(ctx, `SELECT msgid, spam FROM bayes_learned WHERE msgid = ANY($1)`, ids)
		if err != nil {
			return err
		}
		var id string
		var sp bool
		if _, err := pgx.ForEachRow(rows, []any{&id, &sp}, func() error { prev[id] = sp; return nil }); err != nil {
			return err
		}
		p, err := planLearn(items, forget, func(msgid string) (bool, bool, error) {
			was, found := prev[msgid]
			return was, found, nil
		})
		if err != nil {
			return err
		}
		outcomes = p.outcomes
		now := time.Now().UnixMicro()
		if len(p.forgotten) > 0 {
			if _, err := tx.Exec(ctx, `DELETE FROM bayes_learned WHERE msgid = ANY($1)`, p.forgotten); err != nil {
				return err
			}
		}
		if len(p.learned) > 0 {
			lids, lspam := make([]string, len(p.learned)), make([]bool, len(p.learned))
			for i, l := range p.learned {
				lids[i], lspam[i] = l.msgid, l.spam
			}
			if _, err := tx.Exec(ctx, `INSERT INTO bayes_learned (msgid, spam, time)
				SELECT m, s, $3 FROM unnest($1::text[], $2::boolean[]) AS u(m, s)
				ON CONFLICT (msgid) DO UPDATE SET spam = excluded.spam, time = excluded.time`, lids, lspam, now); err != nil {
				return err
			}
		}
		if !p.applied {
			return nil
		}
		if err := pgUpsertTokens(ctx, tx, p.changedKey, now); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE bayes_totals SET spam = greatest(0, spam + $1), ham = greatest(0, ham + $2) WHERE id = 1`, p.dSpam, p.dHam); err != nil {
			return err
		}
		return pgLogChange(ctx, tx, p.changeBlob(), now)
	})
	if err != nil {
		return nil, fmt.Errorf("bayes: learn: %w", err)
	}
	return outcomes, nil
}

// pgUpsertTokens adds the deltas as upsertTokens does for SQLite: a token a negative
// delta created or left below zero is clamped, one left at zero and zero deleted.
func pgUpsertTokens(ctx context.Context, tx pgx.Tx, ds []tokenDelta, now int64) error {
	keys, spam, ham := make([]int64, len(ds)), make([]int64, len(ds)), make([]int64, len(ds))
	var fix []int64
	for i, d := range ds {
		keys[i], spam[i], ham[i] = int64(d.key), d.spam, d.ham
		if d.spam < 0 || d.ham < 0 {
			fix = append(fix, int64(d.key))
		}
	}
	if _, err := tx.Exec(ctx, `INSERT INTO bayes_tokens (key, spam, ham, mtime)
		SELECT k, s, h, $4 FROM unnest($1::bigint[], $2::bigint[], $3::bigint[]) AS u(k, s, h)
		ON CONFLICT (key) DO UPDATE SET spam = greatest(0, bayes_tokens.spam + excluded.spam),
			ham = greatest(0, bayes_tokens.ham + excluded.ham), mtime = excluded.mtime`, keys, spam, ham, now); err != nil {
		return fmt.Errorf("tokens: %w", err)
	}
	if len(fix) > 0 {
		if _, err := tx.Exec(ctx, `DELETE FROM bayes_tokens WHERE key = ANY($1) AND spam <= 0 AND ham <= 0`, fix); err != nil {
			return fmt.Errorf("tokens: %w", err)
		}
		if _, err := tx.Exec(ctx, `UPDATE bayes_tokens SET spam = greatest(0, spam), ham = greatest(0, ham) WHERE key = ANY($1) AND (spam < 0 OR ham < 0)`, fix); err != nil {
			return fmt.Errorf("tokens: %w", err)
		}
	}
	return nil
}

// pgLogChange records changed keys (nil: everything) and prunes old log entries.
func pgLogChange(ctx context.Context, tx pgx.Tx, keys []byte, now int64) error {
	if keys == nil {
		keys = []byte{}
	}
	if _, err := tx.Exec(ctx, `INSERT INTO bayes_changes (time, keys) VALUES ($1, $2)`, now, keys); err != nil {
		return fmt.Errorf("change log: %w", err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM bayes_changes WHERE time < $1`, now-changeLogAge.Microseconds()); err != nil {
		return fmt.Errorf("change log: %w", err)
	}
	return nil
}

// Expire implements Store as SQLite's does. Every node runs it daily; the lock makes
// two at once expire once.
func (s *Postgres) Expire(ctx context.Context, maxTokens int) (int, error) {
	removed := 0
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := lockLearn(ctx, tx); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM bayes_tokens`).Scan(&n); err != nil {
			return err
		}
		if n <= maxTokens {
			return nil
		}
		target := maxTokens * 8 / 10
		for hits := 1; n-removed > target && hits < 1<<20; hits *= 2 {
			tag, err := tx.Exec(ctx, `DELETE FROM bayes_tokens WHERE key IN (
				SELECT key FROM bayes_tokens WHERE spam + ham <= $1 ORDER BY mtime LIMIT $2)`, hits, n-removed-target)
			if err != nil {
				return err
			}
			removed += int(tag.RowsAffected())
		}
		if removed == 0 {
			return nil
		}
		return pgLogChange(ctx, tx, nil, time.Now().UnixMicro())
	})
	if err != nil {
		return 0, fmt.Errorf("bayes: expire: %w", err)
	}
	return removed, nil
}

// Close implements Store.
func (s *Postgres) Close() error {
	s.pool.Close()
	return nil
}

// Export writes the store in the format SQLite.Export writes.
func (s *Postgres) Export(ctx context.Context, w io.Writer) error {
	bw := bufio.NewWriter(w)
	err := s.snapshot(ctx, func(tx pgx.Tx) error {
		spam, ham, err := pgTotals(ctx, tx)
		if err != nil {
			return err
		}
		exportTotals(bw, spam, ham)
		rows, err := tx.Query(ctx, `SELECT key, spam, ham, mtime FROM bayes_tokens ORDER BY key`)
		if err != nil {
			return err
		}
		var k, sp, hm, mt int64
		if _, err := pgx.ForEachRow(rows, []any{&k, &sp, &hm, &mt}, func() error {
			exportToken(bw, Key(k), sp, hm, mt)
			return nil
		}); err != nil {
			return err
		}
		rows, err = tx.Query(ctx, `SELECT msgid, spam, time FROM bayes_learned ORDER BY msgid`)
		if err != nil {
			return err
		}
		var id string
		var isSpam bool
		var t int64
		_, err = pgx.ForEachRow(rows, []any{&id, &isSpam, &t}, func() error {
			exportLearned(bw, id, isSpam, t)
			return nil
		})
		return err
	})
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		return fmt.Errorf("bayes: export: %w", err)
	}
	return nil
}

// Import replaces the store's contents with an export, in one transaction, as
// SQLite.Import does; rows go in by COPY.
func (s *Postgres) Import(ctx context.Context, r io.Reader) error {
	var tokens, learned [][]any
	var spam, ham int64
	err := readExport(r, func(sp, hm int64) error { spam, ham = sp, hm; return nil },
		func(k Key, sp, hm, mt int64) error { tokens = append(tokens, []any{int64(k), sp, hm, mt}); return nil },
		func(id string, isSpam bool, t int64) error {
			learned = append(learned, []any{id, isSpam, t})
			return nil
		})
	if err != nil {
		return err
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := lockLearn(ctx, tx); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM bayes_tokens; DELETE FROM bayes_learned`); err != nil {
			return err
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"bayes_tokens"}, []string{"key", "spam", "ham", "mtime"}, pgx.CopyFromRows(tokens)); err != nil {
			return err
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"bayes_learned"}, []string{"msgid", "spam", "time"}, pgx.CopyFromRows(learned)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE bayes_totals SET spam = $1, ham = $2 WHERE id = 1`, spam, ham); err != nil {
			return err
		}
		return pgLogChange(ctx, tx, nil, time.Now().UnixMicro())
	})
	if err != nil {
		return fmt.Errorf("bayes: import: %w", err)
	}
	return nil
}

// Stats counts what the store holds; SizeBytes is the tables' size with indexes.
func (s *Postgres) Stats(ctx context.Context) (StoreStats, error) {
	var st StoreStats
	keys := make([]int64, len(commonTrigrams))
	for i, k := range commonTrigrams {
		keys[i] = int64(k)
	}
	var n int
	err := s.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM bayes_tokens), (SELECT count(*) FROM bayes_learned), spam, ham,
		(SELECT count(*) FROM bayes_tokens WHERE key = ANY($1)),
		pg_total_relation_size('bayes_tokens') + pg_total_relation_size('bayes_learned') + pg_total_relation_size('bayes_changes')
		FROM bayes_totals`, keys).Scan(&st.Tokens, &st.Learned, &st.Spam, &st.Ham, &n, &st.SizeBytes)
	if err != nil {
		return st, fmt.Errorf("bayes: stats: %w", err)
	}
	st.Trigrams = n > 0
	return st, nil
}

// Ping reports whether the database answers, for serve's /healthz.
func (s *Postgres) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("bayes: ping: %w", err)
	}
	return nil
}
