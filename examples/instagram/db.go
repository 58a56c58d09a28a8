package main

import (
	"context"
	"database/sql"
	_ "embed"
	"fmt"
	"net/url"
	"sync/atomic"

	_ "modernc.org/sqlite" // the pure-Go SQLite driver, registered as "sqlite"
)

//go:embed schema.sql
var schema string

// DB is the app's SQLite database. It counts the statements it runs, so a
// test can prove that a page costs a bounded number of queries.
type DB struct {
	*sql.DB
	queries atomic.Int64
}

// openDB opens (creating if needed) the SQLite file at path, in WAL mode
// with foreign keys on, and creates the schema on first use.
func openDB(ctx context.Context, path string) (*DB, error) {
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() +
		"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)"
	sqlDB, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	db := &DB{DB: sqlDB}
	var version int
	if err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		db.Close()
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	if version == 0 {
		if _, err := db.ExecContext(ctx, schema+"\nPRAGMA user_version = 1;"); err != nil {
			db.Close()
			return nil, fmt.Errorf("creating the schema: %w", err)
		}
	}
	return db, nil
}

// QueryContext, QueryRowContext and ExecContext count, then delegate.

func (db *DB) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	db.queries.Add(1)
	return db.DB.QueryContext(ctx, query, args...)
}

func (db *DB) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	db.queries.Add(1)
	return db.DB.QueryRowContext(ctx, query, args...)
}

func (db *DB) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	db.queries.Add(1)
	return db.DB.ExecContext(ctx, query, args...)
}

// Queries returns the number of statements run so far.
func (db *DB) Queries() int64 { return db.queries.Load() }
