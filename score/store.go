package score

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/postern/postern/internal/sqlitedb"
)

// FileName is the Bayes database's name inside data_dir.
const FileName = "bayes.db"

// Item is one message to learn or forget.
type Item struct {
	MsgID string
	Spam  bool
	Keys  []Key
	// Sure: the classifier already gives the message its class (Selector), so a
	// message never learned before is passed over (Outcome Sure). One learned the
	// other way is still moved.
	Sure bool
}

// Outcome of learning one item.
type Outcome int

const (
	Learned   Outcome = iota // new, counted
	Relearned                // was learned as the other class: counts moved
	Known                    // already learned as this class: nothing changed
	Forgotten                // forget: counts removed
	Unknown                  // forget of a message never learned
	Sure                     // not learned: the classifier already gives it this class
)

// Store keeps token counts, message totals and the ids of learned messages. A
// PostgreSQL store can implement the same.
type Store interface {
	// Load calls fn for every token and returns the totals and the version (for
	// Changes) the data is at.
	Load(ctx context.Context, fn func(Key, Counts)) (nspam, nham, version int64, err error)
	// Changes calls fn for tokens changed after since (a version) and returns the
	// totals and the version now; ErrReload when a full Load is needed instead.
	Changes(ctx context.Context, since int64, fn func(Key, Counts)) (nspam, nham, version int64, err error)
	// Learn applies items (learn, or forget when forget is true) in one transaction.
	Learn(ctx context.Context, items []Item, forget bool) ([]Outcome, error)
	// Expire drops the rarest, oldest tokens until at most maxTokens remain.
	Expire(ctx context.Context, maxTokens int) (int, error)
	Close() error
}

var bayesMigrations = []string{
	`CREATE TABLE tokens (
		key   INTEGER PRIMARY KEY, -- FNV-1a 64 of the token, as a signed integer
		spam  INTEGER NOT NULL DEFAULT 0,
		ham   INTEGER NOT NULL DEFAULT 0,
		mtime INTEGER NOT NULL     -- unix microseconds of the last learn touching it
	);
	-- Which tokens each learn transaction changed, so other processes (serve) can
	-- refresh their cache without an index on tokens that every learn must update.
	CREATE TABLE changes (
		version INTEGER PRIMARY KEY AUTOINCREMENT,
		time    INTEGER NOT NULL,
		keys    BLOB NOT NULL -- 8 bytes per key, big-endian; empty: everything changed
	);
	CREATE TABLE learned (
		msgid TEXT PRIMARY KEY,
		spam  INTEGER NOT NULL, -- 1 spam, 0 ham
		time  INTEGER NOT NULL
	);
	CREATE TABLE totals (
		id   INTEGER PRIMARY KEY CHECK (id = 1),
		spam INTEGER NOT NULL,
		ham  INTEGER NOT NULL
	);
	INSERT INTO totals (id, spam, ham) VALUES (1, 0, 0);`,
}

// SQLite is the embedded Store.
type SQLite struct {
	db   *sql.DB
	path string
}

// OpenSQLite opens or creates the Bayes database at path (mode 0600).
func OpenSQLite(path string) (*SQLite, error) {
	db, err := sqlitedb.Open(path, "_journal_mode=WAL&_synchronous=NORMAL&_busy_timeout=30000&_txlock=immediate&_cache_size=-65536", bayesMigrations)
	if err != nil {
		return nil, fmt.Errorf("bayes: %w", err)
	}
	return &SQLite{db: db, path: path}, nil
}

func (s *SQLite) totals(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}) (int64, int64, error) {
	var spam, ham int64
	err := q.QueryRowContext(ctx, `SELECT spam, ham FROM totals WHERE id = 1`).Scan(&spam, &ham)
	return spam, ham, err
}

// Load implements Store.
func (s *SQLite) Load(ctx context.Context, fn func(Key, Counts)) (int64, int64, int64, error) {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return 0, 0, 0, fmt.Errorf("bayes: load: %w", err)
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `SELECT key, spam, ham FROM tokens`)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("bayes: load: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k, sp, hm int64
		if err := rows.Scan(&k, &sp, &hm); err != nil {
			return 0, 0, 0, fmt.Errorf("bayes: load: %w", err)
		}
		fn(Key(k), Counts{sp, hm})
	}
	if err := rows.Err(); err != nil {
		return 0, 0, 0, fmt.Errorf("bayes: load: %w", err)
	}
	spam, ham, err := s.totals(ctx, tx)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("bayes: load: %w", err)
	}
	var version int64
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM changes`).Scan(&version); err != nil {
		return 0, 0, 0, fmt.Errorf("bayes: load: %w", err)
	}
	return spam, ham, version, nil
}

// ErrReload is returned by Changes when so much changed (or the change log no longer
// reaches back to since) that a full Load is the way to catch up.
var ErrReload = errors.New("bayes: too many changes: reload")

// Changes implements Store.
func (s *SQLite) Changes(ctx context.Context, since int64, fn func(Key, Counts)) (int64, int64, int64, error) {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return 0, 0, 0, fmt.Errorf("bayes: changes: %w", err)
	}
	defer tx.Rollback()
	var oldest, newest int64
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(min(version), 0), coalesce(max(version), 0) FROM changes`).Scan(&oldest, &newest); err != nil {
		return 0, 0, 0, fmt.Errorf("bayes: changes: %w", err)
	}
	if newest > since && oldest > since+1 {
		return 0, 0, 0, ErrReload // the log was pruned past since
	}
	rows, err := tx.QueryContext(ctx, `SELECT keys FROM changes WHERE version > ? ORDER BY version`, since)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("bayes: changes: %w", err)
	}
	keys := map[Key]struct{}{}
	for rows.Next() {
		var blob []byte
		if err := rows.Scan(&blob); err != nil {
			rows.Close()
			return 0, 0, 0, fmt.Errorf("bayes: changes: %w", err)
		}
		if len(blob) == 0 || len(keys)+len(blob)/8 > maxIncremental {
			rows.Close()
			return 0, 0, 0, ErrReload
		}
		for i := 0; i+8 <= len(blob); i += 8 {
			keys[Key(binary.BigEndian.Uint64(blob[i:]))] = struct{}{}
		}
	}
	rows.Close()
	stmt, err := tx.PrepareContext(ctx, `SELECT spam, ham FROM tokens WHERE key = ?`)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("bayes: changes: %w", err)
	}
	defer stmt.Close()
	for k := range keys {
		var c Counts
		err := stmt.QueryRowContext(ctx, int64(k)).Scan(&c.Spam, &c.Ham)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return 0, 0, 0, fmt.Errorf("bayes: changes: %w", err)
		}
		fn(k, c) // zero counts: the token is gone
	}
	spam, ham, err := s.totals(ctx, tx)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("bayes: changes: %w", err)
	}
	return spam, ham, max(newest, since), nil
}

// maxIncremental is how many changed tokens a refresh looks up one by one before a
// full reload is cheaper.
const maxIncremental = 200_000

// changeLogAge is how long the change log is kept: far longer than any refresh period.
const changeLogAge = 24 * time.Hour

// learnPlan is what one Learn batch changes, whatever the store: the same decisions
// for SQLite and PostgreSQL.
type learnPlan struct {
	outcomes   []Outcome
	dSpam      int64
	dHam       int64
	applied    bool         // some counts change (the totals, maybe no token's)
	learned    []learnedRow // rows of the learned table to upsert
	forgotten  []string     // … and to delete
	changedKey []tokenDelta // the tokens' summed changes, in key order
}

type learnedRow struct {
	msgid string
	spam  bool
}

// planLearn decides each item's outcome from what the store knew of its message
// (prev: its class, and whether it was learned at all).
func planLearn(items []Item, forget bool, prev func(msgid string) (spam, found bool, err error)) (*learnPlan, error) {
	n := 0
	for _, it := range items {
		n += len(it.Keys)
	}
	p := &learnPlan{outcomes: make([]Outcome, len(items))}
	sums := newDeltas(n)
	apply := func(keys []Key, spam bool, d int64) {
		p.applied = true
		sums.add(keys, spam, d)
		if spam {
			p.dSpam += d
		} else {
			p.dHam += d
		}
	}
	seen := map[string]bool{} // the same message twice in one batch
	for i, it := range items {
		if seen[it.MsgID] {
			p.outcomes[i] = Known
			continue
		}
		seen[it.MsgID] = true
		was, found, err := prev(it.MsgID)
		if err != nil {
			return nil, fmt.Errorf("bayes: learn %s: %w", it.MsgID, err)
		}
		switch {
		case forget && !found:
			p.outcomes[i] = Unknown
		case forget:
			apply(it.Keys, was, -1)
			p.forgotten = append(p.forgotten, it.MsgID)
			p.outcomes[i] = Forgotten
		case found && was == it.Spam:
			p.outcomes[i] = Known
		case !found && it.Sure:
			p.outcomes[i] = Sure
		default:
			if found {
				apply(it.Keys, was, -1)
				p.outcomes[i] = Relearned
			} else {
				p.outcomes[i] = Learned
			}
			apply(it.Keys, it.Spam, +1)
			p.learned = append(p.learned, learnedRow{it.MsgID, it.Spam})
		}
	}
	if p.applied {
		p.changedKey = sums.changed()
	}
	return p, nil
}

// changeBlob is the change log's record of the plan's tokens.
func (p *learnPlan) changeBlob() []byte {
	blob := make([]byte, 0, 8*len(p.changedKey))
	for _, d := range p.changedKey {
		blob = binary.BigEndian.AppendUint64(blob, uint64(d.key))
	}
	return blob
}

// Learn implements Store. Token deltas of the whole batch are summed first, so a
// token common to many messages is written once.
func (s *SQLite) Learn(ctx context.Context, items []Item, forget bool) ([]Outcome, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("bayes: learn: %w", err)
	}
	defer tx.Rollback()
	p, err := planLearn(items, forget, func(msgid string) (bool, bool, error) {
		var prev sql.NullBool
		err := tx.QueryRowContext(ctx, `SELECT spam FROM learned WHERE msgid = ?`, msgid).Scan(&prev)
		if errors.Is(err, sql.ErrNoRows) {
			err = nil
		}
		return prev.Bool, prev.Valid, err
	})
	if err != nil {
		return nil, err
	}
	now := time.Now().UnixMicro()
	for _, id := range p.forgotten {
		if _, err := tx.ExecContext(ctx, `DELETE FROM learned WHERE msgid = ?`, id); err != nil {
			return nil, fmt.Errorf("bayes: forget %s: %w", id, err)
		}
	}
	for _, l := range p.learned {
		if _, err := tx.ExecContext(ctx, `INSERT INTO learned (msgid, spam, time) VALUES (?, ?, ?)
			ON CONFLICT(msgid) DO UPDATE SET spam = excluded.spam, time = excluded.time`, l.msgid, l.spam, now); err != nil {
			return nil, fmt.Errorf("bayes: learn %s: %w", l.msgid, err)
		}
	}
	if p.applied {
		if err := upsertTokens(ctx, tx, p.changedKey, now); err != nil {
			return nil, fmt.Errorf("bayes: learn: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE totals SET spam = max(0, spam + ?), ham = max(0, ham + ?) WHERE id = 1`, p.dSpam, p.dHam); err != nil {
			return nil, fmt.Errorf("bayes: learn: totals: %w", err)
		}
		if err := logChange(ctx, tx, p.changeBlob(), now); err != nil {
			return nil, err
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("bayes: learn: commit: %w", err)
	}
	return p.outcomes, nil
}

// upsertRows is how many tokens one upsert statement writes: one statement per token
// spent more in binding and calling into SQLite than in SQLite's own work
// (BenchmarkLearnStore).
const upsertRows = 200

// upsertTokens adds the deltas to their tokens' counts, creating the missing tokens,
// and deletes those left with no counts. A count never goes below 0, even when a
// message is forgotten under another tokenizer than it was learned with.
func upsertTokens(ctx context.Context, tx *sql.Tx, keys []tokenDelta, now int64) error {
	var fix []Key // tokens a negative delta may have left below 0, or at 0 and 0
	var full *sql.Stmt
	defer func() {
		if full != nil {
			full.Close()
		}
	}()
	args := make([]any, 0, 4*upsertRows)
	for len(keys) > 0 {
		n := min(len(keys), upsertRows)
		args = args[:0]
		for _, d := range keys[:n] {
			args = append(args, int64(d.key), d.spam, d.ham, now)
			if d.spam < 0 || d.ham < 0 {
				fix = append(fix, d.key)
			}
		}
		keys = keys[n:]
		var err error
		if n == upsertRows {
			if full == nil {
				if full, err = tx.PrepareContext(ctx, upsertSQL(upsertRows)); err != nil {
					return fmt.Errorf("tokens: %w", err)
				}
			}
			_, err = full.ExecContext(ctx, args...)
		} else {
			_, err = tx.ExecContext(ctx, upsertSQL(n), args...)
		}
		if err != nil {
			return fmt.Errorf("tokens: %w", err)
		}
	}
	// A token inserted by a negative delta holds it as it came (SQLite's excluded.*
	// is the inserted row, so the upsert cannot clamp it), and one brought to 0 and 0
	// is dead weight. Forgetting a batch makes every delta negative, so these go by
	// the chunk too: one statement per token made forgetting four times slower than
	// learning.
	for len(fix) > 0 {
		n := min(len(fix), upsertRows)
		args = args[:0]
		for _, k := range fix[:n] {
			args = append(args, int64(k))
		}
		fix = fix[n:]
		in := `key IN (?` + strings.Repeat(`, ?`, n-1) + `)`
		if _, err := tx.ExecContext(ctx, `DELETE FROM tokens WHERE `+in+` AND spam <= 0 AND ham <= 0`, args...); err != nil {
			return fmt.Errorf("tokens: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE tokens SET spam = max(0, spam), ham = max(0, ham) WHERE `+in+` AND (spam < 0 OR ham < 0)`, args...); err != nil {
			return fmt.Errorf("tokens: %w", err)
		}
	}
	return nil
}

// upsertSQL is the statement that upserts n tokens: key, spam delta, ham delta, time.
func upsertSQL(n int) string {
	return `INSERT INTO tokens (key, spam, ham, mtime) VALUES (?, ?, ?, ?)` + strings.Repeat(`, (?, ?, ?, ?)`, n-1) + `
		ON CONFLICT(key) DO UPDATE SET spam = max(0, spam + excluded.spam), ham = max(0, ham + excluded.ham), mtime = excluded.mtime`
}

// logChange records changed keys (nil: everything) and prunes old log entries.
func logChange(ctx context.Context, tx *sql.Tx, keys []byte, now int64) error {
	if keys == nil {
		keys = []byte{}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO changes (time, keys) VALUES (?, ?)`, now, keys); err != nil {
		return fmt.Errorf("bayes: change log: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM changes WHERE time < ?`, now-changeLogAge.Microseconds()); err != nil {
		return fmt.Errorf("bayes: change log: %w", err)
	}
	return nil
}

// Expire implements Store: while more than maxTokens remain, it deletes tokens seen in
// one message only, oldest first, then those seen in two, and so on, down to 80% of
// maxTokens. Rare, old tokens carry the least evidence (see docs/bayes.md). Deleted
// tokens make Changes answer ErrReload.
func (s *SQLite) Expire(ctx context.Context, maxTokens int) (int, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM tokens`).Scan(&n); err != nil {
		return 0, fmt.Errorf("bayes: expire: %w", err)
	}
	if n <= maxTokens {
		return 0, nil
	}
	target := maxTokens * 8 / 10
	removed := 0
	for hits := 1; n-removed > target && hits < 1<<20; hits *= 2 {
		res, err := s.db.ExecContext(ctx, `DELETE FROM tokens WHERE key IN (
			SELECT key FROM tokens WHERE spam + ham <= ? ORDER BY mtime LIMIT ?)`, hits, n-removed-target)
		if err != nil {
			return removed, fmt.Errorf("bayes: expire: %w", err)
		}
		d, _ := res.RowsAffected()
		removed += int(d)
	}
	if removed > 0 {
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return removed, fmt.Errorf("bayes: expire: %w", err)
		}
		if err := logChange(ctx, tx, nil, time.Now().UnixMicro()); err != nil {
			tx.Rollback()
			return removed, err
		}
		if err := tx.Commit(); err != nil {
			return removed, fmt.Errorf("bayes: expire: %w", err)
		}
	}
	return removed, nil
}

// Close implements Store.
func (s *SQLite) Close() error { return s.db.Close() }

// exportHeader starts the export format (docs/bayes.md).
const exportHeader = "# postern bayes export v1"

// Export writes the whole store in the documented text format:
//
//	# postern bayes export v1
//	totals SPAM HAM
//	t KEY SPAM HAM MTIME      (one line per token; KEY is 16 hex digits)
//	l MSGID s|h TIME          (one line per learned message)
func (s *SQLite) Export(ctx context.Context, w io.Writer) error {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("bayes: export: %w", err)
	}
	defer tx.Rollback()
	bw := bufio.NewWriter(w)
	spam, ham, err := s.totals(ctx, tx)
	if err != nil {
		return fmt.Errorf("bayes: export: %w", err)
	}
	exportTotals(bw, spam, ham)
	rows, err := tx.QueryContext(ctx, `SELECT key, spam, ham, mtime FROM tokens ORDER BY key`)
	if err != nil {
		return fmt.Errorf("bayes: export: %w", err)
	}
	for rows.Next() {
		var k, sp, hm, mt int64
		if err := rows.Scan(&k, &sp, &hm, &mt); err != nil {
			rows.Close()
			return fmt.Errorf("bayes: export: %w", err)
		}
		exportToken(bw, Key(k), sp, hm, mt)
	}
	rows.Close()
	rows, err = tx.QueryContext(ctx, `SELECT msgid, spam, time FROM learned ORDER BY msgid`)
	if err != nil {
		return fmt.Errorf("bayes: export: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var sp bool
		var t int64
		if err := rows.Scan(&id, &sp, &t); err != nil {
			return fmt.Errorf("bayes: export: %w", err)
		}
		exportLearned(bw, id, sp, t)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("bayes: export: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("bayes: export: %w", err)
	}
	return nil
}

// Import replaces the store's contents with an export, in one transaction: on any
// error in the file (reported with its line number) the store is unchanged.
func (s *SQLite) Import(ctx context.Context, r io.Reader) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("bayes: import: %w", err)
	}
	defer tx.Rollback()
	for _, q := range []string{`DELETE FROM tokens`, `DELETE FROM learned`} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("bayes: import: %w", err)
		}
	}
	tokStmt, err := tx.PrepareContext(ctx, `INSERT INTO tokens (key, spam, ham, mtime) VALUES (?, ?, ?, ?)`)
	if err != nil {
		return fmt.Errorf("bayes: import: %w", err)
	}
	defer tokStmt.Close()
	learnStmt, err := tx.PrepareContext(ctx, `INSERT INTO learned (msgid, spam, time) VALUES (?, ?, ?)`)
	if err != nil {
		return fmt.Errorf("bayes: import: %w", err)
	}
	defer learnStmt.Close()
	err = readExport(r, func(sp, hm int64) error {
		_, err := tx.ExecContext(ctx, `UPDATE totals SET spam = ?, ham = ? WHERE id = 1`, sp, hm)
		return err
	}, func(k Key, sp, hm, mt int64) error {
		_, err := tokStmt.ExecContext(ctx, int64(k), sp, hm, mt)
		return err
	}, func(id string, spam bool, t int64) error {
		_, err := learnStmt.ExecContext(ctx, id, spam, t)
		return err
	})
	if err != nil {
		return err
	}
	if err := logChange(ctx, tx, nil, time.Now().UnixMicro()); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("bayes: import: %w", err)
	}
	return nil
}

// exportTotals, exportToken and exportLearned write the export format's lines
// (Export's comment): the same for every store.
func exportTotals(w io.Writer, spam, ham int64) {
	fmt.Fprintf(w, "%s\ntotals %d %d\n", exportHeader, spam, ham)
}

func exportToken(w io.Writer, k Key, spam, ham, mtime int64) {
	fmt.Fprintf(w, "t %016x %d %d %d\n", uint64(k), spam, ham, mtime)
}

func exportLearned(w io.Writer, msgid string, spam bool, time int64) {
	class := "h"
	if spam {
		class = "s"
	}
	fmt.Fprintf(w, "l %s %s %d\n", msgid, class, time)
}

// readExport reads the export format, calling totals, token and learned for its
// lines; an error in the file, or one a callback returns, names the line.
func readExport(r io.Reader, totals func(spam, ham int64) error, token func(k Key, spam, ham, mtime int64) error, learned func(msgid string, spam bool, time int64) error) error {
	sc := bufio.NewScanner(r)
	n := 0
	sawTotals := false
	for sc.Scan() {
		n++
		line := sc.Text()
		f := strings.Fields(line)
		bad := func(err error) error { return fmt.Errorf("bayes: import: line %d: %q: %v", n, line, err) }
		switch {
		case n == 1:
			if line != exportHeader {
				return bad(errors.New("not a postern bayes export (first line)"))
			}
		case len(f) == 3 && f[0] == "totals":
			sp, err1 := strconv.ParseInt(f[1], 10, 64)
			hm, err2 := strconv.ParseInt(f[2], 10, 64)
			if err := errors.Join(err1, err2); err != nil {
				return bad(err)
			}
			if err := totals(sp, hm); err != nil {
				return bad(err)
			}
			sawTotals = true
		case len(f) == 5 && f[0] == "t":
			k, err1 := strconv.ParseUint(f[1], 16, 64)
			sp, err2 := strconv.ParseInt(f[2], 10, 64)
			hm, err3 := strconv.ParseInt(f[3], 10, 64)
			mt, err4 := strconv.ParseInt(f[4], 10, 64)
			if err := errors.Join(err1, err2, err3, err4); err != nil {
				return bad(err)
			}
			if err := token(Key(k), sp, hm, mt); err != nil {
				return bad(err)
			}
		case len(f) == 4 && f[0] == "l" && (f[2] == "s" || f[2] == "h"):
			t, err := strconv.ParseInt(f[3], 10, 64)
			if err != nil {
				return bad(err)
			}
			if err := learned(f[1], f[2] == "s", t); err != nil {
				return bad(err)
			}
		case line == "" || strings.HasPrefix(line, "#"):
		default:
			return bad(errors.New("unknown line"))
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("bayes: import: %w", err)
	}
	if !sawTotals {
		return fmt.Errorf("bayes: import: no totals line")
	}
	return nil
}

// StoreStats describes the store on disk.
type StoreStats struct {
	Tokens    int
	Learned   int
	Spam, Ham int64
	SizeBytes int64
	Trigrams  bool // it learned with trigrams (Model.HasTrigrams)
}

// Stats counts what the store holds.
func (s *SQLite) Stats(ctx context.Context) (StoreStats, error) {
	var st StoreStats
	err := s.db.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM tokens), (SELECT count(*) FROM learned), spam, ham FROM totals`).
		Scan(&st.Tokens, &st.Learned, &st.Spam, &st.Ham)
	if err != nil {
		return st, fmt.Errorf("bayes: stats: %w", err)
	}
	args := make([]any, len(commonTrigrams))
	for i, k := range commonTrigrams {
		args[i] = int64(k)
	}
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM tokens WHERE key IN (?`+strings.Repeat(",?", len(args)-1)+`)`, args...).Scan(&n); err != nil {
		return st, fmt.Errorf("bayes: stats: %w", err)
	}
	st.Trigrams = n > 0
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if fi, err := os.Stat(s.path + suffix); err == nil {
			st.SizeBytes += fi.Size()
		}
	}
	return st, nil
}

// Ping reports whether the database answers a query, for serve's /healthz.
func (s *SQLite) Ping(ctx context.Context) error {
	var one int
	if err := s.db.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("bayes: ping: %w", err)
	}
	return nil
}
