// Package sqlitedb opens Postern's SQLite databases the same way: the file created
// with mode 0600 before SQLite sees it, and the schema brought up to date by numbered
// migrations kept in PRAGMA user_version.
package sqlitedb

import (
	"database/sql"
	"fmt"
	"os"

	_ "github.com/mattn/go-sqlite3" // the SQLite driver (cgo)
)

// Open opens (creating it, mode 0600) the database at path with go-sqlite3 DSN
// parameters (e.g. "_journal_mode=WAL&_synchronous=FULL") and applies migrations.
// A file that may only be read still opens: reads work, writes fail, which callers
// turn into tempfails.
func Open(path, params string, migrations []string) (*sql.DB, error) {
	if f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600); err == nil {
		f.Close()
	} else if _, serr := os.Stat(path); serr != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	db, err := sql.Open("sqlite3", "file:"+path+"?"+params)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if err := migrate(db, path, migrations); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// migrate applies migrations[v:] where v is the database's version, each in its own
// transaction. Append migrations; never edit one that has shipped.
func migrate(db *sql.DB, path string, migrations []string) error {
	var version int
	if err := db.QueryRow("PRAGMA user_version").Scan(&version); err != nil {
		return fmt.Errorf("%s: read schema version: %w", path, err)
	}
	if version > len(migrations) {
		return fmt.Errorf("%s: schema version %d is newer than this postern knows (%d)", path, version, len(migrations))
	}
	for v := version; v < len(migrations); v++ {
		tx, err := db.Begin()
		if err != nil {
			return fmt.Errorf("%s: migrate to %d: %w", path, v+1, err)
		}
		if _, err := tx.Exec(migrations[v]); err != nil {
			tx.Rollback()
			return fmt.Errorf("%s: migrate to %d: %w", path, v+1, err)
		}
		if _, err := tx.Exec(fmt.Sprintf("PRAGMA user_version = %d", v+1)); err != nil {
			tx.Rollback()
			return fmt.Errorf("%s: migrate to %d: %w", path, v+1, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("%s: migrate to %d: %w", path, v+1, err)
		}
	}
	return nil
}
