package main

import (
	"context"
	"database/sql"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // the pure-Go SQLite driver, registered as "sqlite"

	"github.com/gopictures/pictures"
	"github.com/gopictures/pictures/processor/riverprocessor"
)

//go:embed schema.sql
var schema string

//go:embed schema_postgres.sql
var schemaPostgres string

// DB is the app's database: an SQLite file (the default) or PostgreSQL
// (for several processes and machines). Queries are written once, with ?
// placeholders, and rebound to $1, $2... for PostgreSQL. It counts the
// statements it runs, so a test can prove that a page costs a bounded
// number of queries, and keeps the statements of the busiest pages
// prepared.
type DB struct {
	*sql.DB
	postgres   bool
	pg         *pgxpool.Pool // PostgreSQL only
	queue      txQueue       // PostgreSQL with River: jobs go in the row's transaction
	queries    atomic.Int64
	generation atomic.Uint64 // counts writes, so caches can tell stale pages

	mu      sync.Mutex
	stmts   map[string]*sql.Stmt
	rebound map[string]string
}

// A txQueue enqueues a picture's job in the transaction that writes the
// row holding the picture: the job exists if and only if the row does.
type txQueue interface {
	EnqueueTx(ctx context.Context, tx pgx.Tx, job pictures.Job) error
}

// q returns query in the database's placeholder syntax.
func (db *DB) q(query string) string {
	if !db.postgres {
		return query
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	if r, ok := db.rebound[query]; ok {
		return r
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(query[i])
	}
	if db.rebound == nil {
		db.rebound = make(map[string]string)
	}
	db.rebound[query] = b.String()
	return b.String()
}

// stmt returns query prepared, preparing it on first use. The busy pages
// run the same few queries over and over: the database parses each once.
func (db *DB) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	query = db.q(query)
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

// openPostgres connects to the PostgreSQL database at url and creates
// what is missing: the app's tables and River's. Every process runs it at
// start; an advisory lock keeps them from doing it at once.
func openPostgres(ctx context.Context, url string) (*DB, error) {
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("connecting to PostgreSQL: %w", err)
	}
	err = func() error {
		conn, err := pool.Acquire(ctx)
		if err != nil {
			return err
		}
		defer conn.Release()
		const lock = 7_240_1207 // any constant shared by the app's processes
		if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", lock); err != nil {
			return err
		}
		defer conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", lock)
		if _, err := conn.Exec(ctx, schemaPostgres); err != nil {
			return fmt.Errorf("creating the schema: %w", err)
		}
		return riverprocessor.Migrate(ctx, pool)
	}()
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("preparing PostgreSQL: %w", err)
	}
	return &DB{DB: stdlib.OpenDBFromPool(pool), postgres: true, pg: pool}, nil
}

// listen bumps the generation whenever another process writes (see
// schema_postgres.sql), until ctx ends; losing the connection counts as a
// write, since notifications may have been missed.
func (db *DB) listen(ctx context.Context, log *slog.Logger) {
	for ctx.Err() == nil {
		err := func() error {
			conn, err := db.pg.Acquire(ctx)
			if err != nil {
				return err
			}
			defer conn.Release()
			if _, err := conn.Exec(ctx, "LISTEN instagram_writes"); err != nil {
				return err
			}
			for {
				if _, err := conn.Conn().WaitForNotification(ctx); err != nil {
					conn.Conn().Close(context.Background()) // never back to the pool still listening
					return err
				}
				db.generation.Add(1)
			}
		}()
		db.generation.Add(1)
		if ctx.Err() == nil {
			log.Warn("instagram: listening for writes", "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}
}

// inTx runs fn in a transaction of the PostgreSQL pool.
func (db *DB) inTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	db.queries.Add(1)
	defer db.generation.Add(1)
	return pgx.BeginFunc(ctx, db.pg, fn)
}

// EnqueuesJobs reports whether the database enqueues pictures' jobs with
// their rows (CreatePost, SetAvatar); otherwise callers Schedule them.
func (db *DB) EnqueuesJobs() bool { return db.queue != nil }

// isUnique and isForeignKey classify constraint violations of both
// databases.
func isUnique(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505" || err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
}

func isForeignKey(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23503" || err != nil && strings.Contains(err.Error(), "FOREIGN KEY")
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
		return db.DB.QueryRowContext(ctx, db.q(query), args...) // reports the error
	}
	return st.QueryRowContext(ctx, args...)
}

func (db *DB) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	db.queries.Add(1)
	defer db.generation.Add(1) // after the write, so a page rendered meanwhile is stale
	return db.DB.ExecContext(ctx, db.q(query), args...)
}

// insert runs an INSERT ... RETURNING id (both databases have it) and
// returns the id.
func (db *DB) insert(ctx context.Context, query string, args ...any) (int64, error) {
	db.queries.Add(1)
	defer db.generation.Add(1)
	var id int64
	err := db.DB.QueryRowContext(ctx, db.q(query+" RETURNING id"), args...).Scan(&id)
	return id, err
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
	err := db.DB.Close()
	if db.pg != nil {
		db.pg.Close()
	}
	return err
}

// Queries returns the number of statements run so far.
func (db *DB) Queries() int64 { return db.queries.Load() }
