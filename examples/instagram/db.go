package main

import (
	"context"
	"database/sql"
	_ "embed"
	"fmt"
	"net/url"
	"runtime"
	"sync"
	"sync/atomic"

	_ "modernc.org/sqlite" // the pure-Go SQLite driver, registered as "sqlite"
)

//go:embed schema.sql
var schema string

// DB is the app's SQLite database. It counts the statements it runs, so a
// test can prove that a page costs a bounded number of queries, and keeps
// the statements of the busiest pages prepared.
type DB struct {
	*sql.DB
	queries    atomic.Int64
	generation atomic.Uint64 // counts writes, so caches can tell stale pages

	mu    sync.Mutex
	stmts map[string]*sql.Stmt
}

// stmt returns query prepared, preparing it on first use. The busy pages
// run the same few queries over and over: SQLite parses each once.
func (db *DB) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	if st, ok := db.stmts[query]; ok {
		return st, nil
	}
	st, err := db.DB.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if db.stmts == nil {
		db.stmts = make(map[string]*sql.Stmt)
	}
	db.stmts[query] = st
	return st, nil
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
	// SQLite runs in this process: more connections than CPUs only add
	// contention. Keep them all open, so statements stay prepared.
	conns := max(4, 2*runtime.GOMAXPROCS(0))
	sqlDB.SetMaxOpenConns(conns)
	sqlDB.SetMaxIdleConns(conns)
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

// QueryContext, QueryRowContext and ExecContext count, then run the
// prepared statement.

func (db *DB) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	db.queries.Add(1)
	st, err := db.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

func (db *DB) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	db.queries.Add(1)
	st, err := db.stmt(ctx, query)
	if err != nil {
		return db.DB.QueryRowContext(ctx, query, args...) // reports the error
	}
	return st.QueryRowContext(ctx, args...)
}

func (db *DB) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	db.queries.Add(1)
	defer db.generation.Add(1) // after the write, so a page rendered meanwhile is stale
	return db.DB.ExecContext(ctx, query, args...)
}

// Generation changes after every write.
func (db *DB) Generation() uint64 { return db.generation.Load() }

// Close closes the prepared statements and the database.
func (db *DB) Close() error {
	db.mu.Lock()
	for _, st := range db.stmts {
		st.Close()
	}
	db.stmts = nil
	db.mu.Unlock()
	return db.DB.Close()
}

// Queries returns the number of statements run so far.
func (db *DB) Queries() int64 { return db.queries.Load() }
