package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"

	"github.com/mattn/go-sqlite3"
)

// DB is the open inventory. It is safe for concurrent use.
type DB struct {
	sql  *sql.DB // writers: IMMEDIATE transactions, serialised
	read *sql.DB // readers: deferred read-only transactions (View)
}

// Tx is one transaction, valid only inside the function given to
// DB.Transaction.
type Tx struct {
	tx *sql.Tx
	// queries counts the statements run, so tests can prove that lists
	// are one query and not one per row.
	queries int
}

// Open opens (creating if needed) the SQLite database at path with mode
// 0600, in WAL mode with a 30 s busy timeout, foreign keys on and
// synchronous=NORMAL, and applies the migrations it has not applied yet.
func Open(ctx context.Context, path string) (*DB, error) {
	// Create the file ourselves: SQLite would create it with the umask's
	// mode, and the inventory is root's business only.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	f.Close()
	if err := os.Chmod(path, 0o600); err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	params := url.Values{
		"_journal_mode": {"WAL"},
		"_busy_timeout": {"30000"},
		"_foreign_keys": {"on"},
		"_synchronous":  {"NORMAL"},
		"_txlock":       {"immediate"},
	}
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + params.Encode()
	sqldb, err := sql.Open("sqlite3", dsn)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	// Readers get their own pool of deferred, read-only transactions: in
	// WAL mode they then neither wait for nor block the writers, which
	// matters with hundreds of guests (a list reads every row).
	params.Set("_txlock", "deferred")
	params.Set("_query_only", "true")
	readdb, err := sql.Open("sqlite3", "file:"+(&url.URL{Path: path}).EscapedPath()+"?"+params.Encode())
	if err != nil {
		sqldb.Close()
		return nil, fmt.Errorf("open database: %w", err)
	}
	db := &DB{sql: sqldb, read: readdb}
	var mode string
	if err := sqldb.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		sqldb.Close()
		return nil, fmt.Errorf("open database %q: %w", path, err)
	}
	if mode != "wal" {
		sqldb.Close()
		return nil, fmt.Errorf("open database %q: journal mode is %q, want wal", path, mode)
	}
	if err := db.migrate(ctx); err != nil {
		sqldb.Close()
		return nil, err
	}
	return db, nil
}

// Close closes the database.
func (db *DB) Close() error {
	return errors.Join(db.read.Close(), db.sql.Close())
}

// View runs fn in a read-only transaction that sees one consistent
// snapshot and does not block, nor wait for, writers. Writes in fn fail.
func (db *DB) View(ctx context.Context, fn func(tx *Tx) error) error {
	sqltx, err := db.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("begin read transaction: %w", err)
	}
	defer sqltx.Rollback()
	return fn(&Tx{tx: sqltx})
}

// Transaction runs fn in one IMMEDIATE transaction: it commits if fn
// returns nil and rolls back if fn returns an error or panics (the panic is
// re-raised). Do not call Transaction again from inside fn.
func (db *DB) Transaction(ctx context.Context, fn func(tx *Tx) error) (err error) {
	sqltx, err := db.sql.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	defer func() {
		if p := recover(); p != nil {
			_ = sqltx.Rollback()
			panic(p)
		}
		if err != nil {
			_ = sqltx.Rollback()
		}
	}()
	if err := fn(&Tx{tx: sqltx}); err != nil {
		return err
	}
	if err := sqltx.Commit(); err != nil {
		return fmt.Errorf("commit transaction: %w", err)
	}
	return nil
}

func (tx *Tx) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	tx.queries++
	return tx.tx.ExecContext(ctx, query, args...)
}

func (tx *Tx) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	tx.queries++
	return tx.tx.QueryContext(ctx, query, args...)
}

func (tx *Tx) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	tx.queries++
	return tx.tx.QueryRowContext(ctx, query, args...)
}

// isUnique reports whether err is a UNIQUE (or primary key) violation.
func isUnique(err error) bool {
	var se sqlite3.Error
	return errors.As(err, &se) && (se.ExtendedCode == sqlite3.ErrConstraintUnique || se.ExtendedCode == sqlite3.ErrConstraintPrimaryKey)
}

// affectedOne turns "no row changed" into ErrNotFound.
func affectedOne(res sql.Result, err error, what string) error {
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if n == 0 {
		return fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	return nil
}
