// Package quarantine keeps a durable copy of every message Postern rejects or holds,
// so a false positive can always be found, read, released to its recipients and
// learned from. Storage sits behind Store; SQLite (one file in data_dir) is the
// embedded implementation.
package quarantine

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	kgzip "github.com/klauspost/compress/gzip"
)

// Reasons a message is in the quarantine: the verdict's reason (filter's
// Reason* constants, which quarantine does not import).
const (
	ReasonSpam   = "spam"
	ReasonVirus  = "virus"
	ReasonBanned = "banned" // a banned attachment
	ReasonDMARC  = "dmarc"  // refused for its domain's DMARC policy
)

// Statuses of a record.
const (
	StatusHeld     = "held"     // kept; the message was rejected or is in Postfix's hold queue
	StatusReleased = "released" // re-injected to its recipients
	StatusDeleted  = "deleted"  // the postmaster deleted it; the message itself is gone
)

// Actions: what was done with the message during SMTP.
const (
	ActionRejected = "rejected" // the sender got a 5xx naming the record's id
	ActionHeld     = "hold"     // accepted into Postfix's hold queue
)

// Record is one quarantined message, without its bytes.
type Record struct {
	ID         string    `json:"id"`
	Time       time.Time `json:"time"`
	QueueID    string    `json:"queue_id"`
	ClientAddr string    `json:"client_addr"`
	ClientName string    `json:"client_name"`
	Helo       string    `json:"helo"`
	MailFrom   string    `json:"mail_from"`
	Rcpts      []string  `json:"rcpts"`
	From       string    `json:"from"` // the From header
	Subject    string    `json:"subject"`
	MessageID  string    `json:"message_id"`
	Size       int64     `json:"size"`
	Score      float64   `json:"score"`
	Tests      []string  `json:"tests"`
	Virus      string    `json:"virus,omitempty"`
	// Detail is what the check that refused the message found, and where: the
	// infected part, the banned file and why.
	Detail   string    `json:"detail,omitempty"`
	Reason   string    `json:"reason"`
	Action   string    `json:"action"`
	Status   string    `json:"status"`
	StatusBy string    `json:"status_by,omitempty"`
	StatusAt time.Time `json:"status_at,omitzero"`
}

// Filter selects records for List. Zero values select everything.
type Filter struct {
	Since   time.Time
	Reason  string
	Rcpt    string // exact envelope recipient, case-insensitive
	From    string // envelope sender or From header contains this, case-insensitive
	Subject string // subject contains this, case-insensitive
	Status  string
	Limit   int // 0: no limit
}

// Stats summarizes the store.
type Stats struct {
	Total     int            `json:"total"`
	ByReason  map[string]int `json:"by_reason"`
	ByStatus  map[string]int `json:"by_status"`
	Oldest    time.Time      `json:"oldest,omitzero"`
	Newest    time.Time      `json:"newest,omitzero"`
	SizeBytes int64          `json:"db_size_bytes"` // the database files on disk
}

// ErrNotFound is returned for an unknown id.
var ErrNotFound = errors.New("no such quarantined message")

// Store is the quarantine's storage.
type Store interface {
	// Put stores a record and its message durably: when it returns nil the data is
	// committed to stable storage (a 5xx may then be answered); when it returns an
	// error nothing is stored (the message is tempfailed and will come again).
	Put(ctx context.Context, r *Record, raw io.Reader) error
	Get(ctx context.Context, id string) (*Record, error)
	// Raw returns the message exactly as it was received.
	Raw(ctx context.Context, id string) ([]byte, error)
	List(ctx context.Context, f Filter) ([]Record, error)
	// SetStatus records who changed a record's status, and when.
	SetStatus(ctx context.Context, id, status, by string) error
	// Delete marks records deleted and drops their messages.
	Delete(ctx context.Context, id, by string) error
	// Purge removes records older than before, returning how many.
	Purge(ctx context.Context, before time.Time) (int, error)
	Stats(ctx context.Context) (Stats, error)
	Close() error
}

// Restorer writes a record as another store holds it, status and all; raw nil: the
// message was deleted. postern migrate copies stores with it.
type Restorer interface {
	Restore(ctx context.Context, r *Record, raw []byte) error
}

// held is a new record as Put stores it: held, with no status history.
func held(r *Record) *Record {
	h := *r
	h.Status, h.StatusBy, h.StatusAt = StatusHeld, "", time.Time{}
	return &h
}

// Copy copies the records of src that dst does not hold yet, oldest first, and
// returns how many it copied: run again after a failure, it carries on.
func Copy(ctx context.Context, dst interface {
	Restorer
	Get(ctx context.Context, id string) (*Record, error)
}, src Store) (int, error) {
	recs, err := src.List(ctx, Filter{})
	if err != nil {
		return 0, err
	}
	n := 0
	for i := len(recs) - 1; i >= 0; i-- {
		r := &recs[i]
		if _, err := dst.Get(ctx, r.ID); err == nil {
			continue
		} else if !errors.Is(err, ErrNotFound) {
			return n, err
		}
		var raw []byte
		if r.Status != StatusDeleted {
			if raw, err = src.Raw(ctx, r.ID); err != nil {
				return n, err
			}
		}
		if err := dst.Restore(ctx, r, raw); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// listSQL is List's query in either store's dialect: the tables' names and how the
// nth placeholder is written differ, nothing else.
func listSQL(f Filter, messages, recipients, columns string, placeholder func(n int) string) (string, []any) {
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return placeholder(len(args))
	}
	if !f.Since.IsZero() {
		where = append(where, "time >= "+arg(f.Since.UnixMicro()))
	}
	if f.Reason != "" {
		where = append(where, "reason = "+arg(f.Reason))
	}
	if f.Status != "" {
		where = append(where, "status = "+arg(f.Status))
	}
	if f.Rcpt != "" {
		where = append(where, "id IN (SELECT id FROM "+recipients+" WHERE addr = "+arg(strings.ToLower(f.Rcpt))+")")
	}
	if f.From != "" {
		like := "%" + escapeLike(strings.ToLower(f.From)) + "%"
		where = append(where, `(lower(mail_from) LIKE `+arg(like)+` ESCAPE '\' OR lower(hdr_from) LIKE `+arg(like)+` ESCAPE '\')`)
	}
	if f.Subject != "" {
		where = append(where, `lower(subject) LIKE `+arg("%"+escapeLike(strings.ToLower(f.Subject))+"%")+` ESCAPE '\'`)
	}
	q := `SELECT ` + columns + ` FROM ` + messages
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY time DESC"
	if f.Limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", f.Limit)
	}
	return q, args
}

func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// compress is how both stores keep a message: gzip, fastest level (a quarantined
// message is written once and rarely read).
//
// The encoder is klauspost/compress's, not the standard library's: it writes the
// same format (gunzip, every release's reader and zcat read it) in a little over
// half the time, for a compressed size 3 % larger. Under the load test the
// standard encoder was 2.4 % of serve's CPU, paid before each 5xx
// (docs/benchmarks.md, "Fifty-first session").
func compress(raw io.Reader) ([]byte, error) {
	var buf bytes.Buffer
	z := gzipWriters.Get().(*gzipWriter)
	defer gzipWriters.Put(z)
	zw := z.w
	zw.Reset(&buf)
	if _, err := io.CopyBuffer(zw, raw, z.copy); err != nil {
		return nil, fmt.Errorf("read message: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("compress: %w", err)
	}
	return buf.Bytes(), nil
}

// gzipWriters are reused: a writer's compressor state is about a megabyte, more
// than the message it compresses, and under load every rejected message made one
// (a quarter of serve's allocations, and the collections they cost).
var gzipWriters = sync.Pool{New: func() any {
	zw, _ := kgzip.NewWriterLevel(io.Discard, kgzip.BestSpeed)
	return &gzipWriter{w: zw, copy: make([]byte, 32<<10)}
}}

// gzipWriter is a pooled writer with the buffer io.Copy would otherwise make for
// each message (gzip.Writer has no ReadFrom).
type gzipWriter struct {
	w    *kgzip.Writer
	copy []byte
}

func gunzip(gz []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(zr)
}
