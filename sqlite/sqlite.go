// Package sqlite is the embedded store: one SQLite file, reached through the
// pure-Go modernc.org/sqlite driver, in WAL mode. Writes go through a single
// connection (SQLite has one writer at a time anyway, and queuing in Go is
// cheaper than SQLITE_BUSY retries); reads use a pool of read-only
// connections that never wait for the writer.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/pressly/goose/v3"
	sqlitedriver "modernc.org/sqlite" // registers the "sqlite" database/sql driver
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/toteorg/tote"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Config says where the database lives and how durable a commit is.
type Config struct {
	// Path of the database file; its directory is created if missing.
	Path string
	// Synchronous is SQLite's synchronous pragma: FULL (the default: an
	// acknowledged commit survives power loss) or NORMAL (survives a crash
	// of the process, may lose the last commits on power loss).
	Synchronous string
	// Readers is the size of the read pool (default: 2 × CPUs, at least 4).
	Readers int
}

// Store is the SQLite implementation of tote.Store.
type Store struct {
	reader
	write *sql.DB
	read  *sql.DB
	// Each pool's prepared statements (prepared.go).
	writeCache, readCache *stmtCache
	readPrepDone          chan struct{}

	// AfterCommitJobs, when set, is called after a transaction that
	// inserted jobs has committed, so local workers can start at once.
	AfterCommitJobs func()

	// The group-commit writer (group.go).
	writes     chan *writeReq
	stop       chan struct{}
	writerDone chan struct{}
	stopOnce   sync.Once
}

var _ tote.Store = (*Store)(nil)

// Open opens (creating if needed) the database at c.Path and brings its
// schema up to date.
func Open(ctx context.Context, c Config) (*Store, error) {
	if c.Path == "" {
		return nil, errors.New("sqlite: no database path")
	}
	if c.Synchronous == "" {
		c.Synchronous = "FULL"
	}
	if c.Synchronous != "FULL" && c.Synchronous != "NORMAL" {
		return nil, fmt.Errorf("sqlite: synchronous must be FULL or NORMAL, not %q", c.Synchronous)
	}
	if c.Readers <= 0 {
		c.Readers = max(4, 2*runtime.NumCPU())
	}
	if err := os.MkdirAll(filepath.Dir(c.Path), 0o755); err != nil {
		return nil, fmt.Errorf("sqlite: create data directory: %w", err)
	}
	pragmas := url.Values{}
	pragmas.Add("_pragma", "busy_timeout(10000)")
	pragmas.Add("_pragma", "journal_mode(WAL)")
	pragmas.Add("_pragma", "synchronous("+c.Synchronous+")")
	pragmas.Add("_pragma", "foreign_keys(1)")
	// ANALYZE (run by PRAGMA optimize at open and hourly) looks at about
	// this many rows of each index, so it stays quick at any size, as
	// SQLite advises.
	pragmas.Add("_pragma", "analysis_limit(1000)")
	// The statement journal of the group commit's savepoints stays in
	// memory: by default it spills to a temporary file past 64 KiB, and
	// every savepoint's first change to a page then costs a write(2).
	pragmas.Add("_pragma", "temp_store(MEMORY)")
	pragmas.Add("_txlock", "immediate")
	// The path is escaped: SQLite decodes %XX in file: URIs, and a ? or #
	// in a directory name would otherwise end the path.
	path := (&url.URL{Path: c.Path}).EscapedPath()
	write, err := sql.Open("sqlite", "file:"+path+"?"+pragmas.Encode())
	if err != nil {
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	write.SetConnMaxIdleTime(0)

	if err := migrate(ctx, write); err != nil {
		write.Close()
		return nil, err
	}
	// Let the planner gather the statistics it needs (cheap, bounded).
	if _, err := write.ExecContext(ctx, `PRAGMA optimize=0x10002`); err != nil {
		write.Close()
		return nil, fmt.Errorf("sqlite: optimize: %w", err)
	}
	if err := dropSamples(ctx, write); err != nil {
		write.Close()
		return nil, err
	}

	rp := url.Values{}
	rp.Add("_pragma", "busy_timeout(10000)")
	rp.Add("_pragma", "query_only(1)")
	read, err := sql.Open("sqlite", "file:"+path+"?"+rp.Encode())
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("sqlite: open readers: %w", err)
	}
	read.SetMaxOpenConns(c.Readers)
	read.SetMaxIdleConns(c.Readers)
	read.SetConnMaxIdleTime(0)
	s := &Store{write: write, read: read, writeCache: newStmtCache(write), readCache: newStmtCache(read)}
	s.reader = reader{q: poolQuerier{db: read, cache: s.readCache}}
	s.startWriter()
	s.readPrepDone = make(chan struct{})
	go s.readCache.prepareInBackground(s.stop, s.readPrepDone)
	return s, nil
}

// dropSamples keeps the planner's row counts per index (sqlite_stat1) but
// not the value samples ANALYZE also takes (sqlite_stat4, compiled into
// this driver). With samples, a statement whose plan could depend on a
// bound value (WHERE order_id = ?, run_at <= ?) is planned again, parsed
// included, every time that value changes: every call, on the order and
// job paths, which undoes the statement cache (prepared.go) and costs two
// to four times the statement. The row counts are what keeps searches on
// their indexes.
func dropSamples(ctx context.Context, db *sql.DB) error {
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE name = 'sqlite_stat4'`).Scan(&n); err != nil {
		return fmt.Errorf("sqlite: statistics: %w", err)
	}
	if n == 0 {
		return nil
	}
	// ANALYZE sqlite_schema reloads the statistics without the samples.
	if _, err := db.ExecContext(ctx, `DELETE FROM sqlite_stat4; ANALYZE sqlite_schema`); err != nil {
		return fmt.Errorf("sqlite: drop statistics samples: %w", err)
	}
	return nil
}

// Migrate brings the schema of the database at c.Path up to date and
// closes it again (tote migrate).
func Migrate(ctx context.Context, c Config) error {
	s, err := Open(ctx, c)
	if err != nil {
		return err
	}
	return s.Close()
}

func migrate(ctx context.Context, db *sql.DB) error {
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return err
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, db, fsys)
	if err != nil {
		return fmt.Errorf("sqlite: migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	return nil
}

// Close closes both pools.
func (s *Store) Close() error {
	if s.stop != nil {
		s.stopWriter()
		<-s.readPrepDone
	}
	return errors.Join(s.writeCache.close(), s.readCache.close(), s.read.Close(), s.write.Close())
}

// Ping checks that the database file can be read.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	return s.q.QueryRowContext(ctx, `SELECT 1`).Scan(&one)
}

// Tx is one write transaction (one command of a group, group.go).
type Tx struct {
	reader
	tx           txQuerier
	insertedJobs bool
	// rows holds the values of the orders and bags this transaction read
	// or wrote, by "order ID" and "bag ID" (order.go).
	rows map[string][]any
}

var _ tote.Tx = (*Tx)(nil)

// querier is what *sql.DB and *sql.Tx have in common.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// reader implements tote.Reader on either pool or a transaction.
type reader struct{ q querier }

// interpretError turns driver errors into the domain's (nil stays nil).
func interpretError(err error, what string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s: %w", what, tote.ErrNotFound)
	}
	var se *sqlitedriver.Error
	if errors.As(err, &se) && (se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY) {
		return fmt.Errorf("%s: %w", what, &tote.Error{Code: tote.ECONFLICT, Message: "Already exists."})
	}
	return fmt.Errorf("sqlite: %s: %w", what, err)
}

func micros(t time.Time) int64 { return t.UTC().UnixMicro() }

func nullMicros(t *time.Time) sql.NullInt64 {
	if t == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: micros(*t), Valid: true}
}

func fromMicros(v int64) time.Time { return time.UnixMicro(v).UTC() }

func fromNullMicros(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromMicros(v.Int64)
	return &t
}

func nullInt(v int64) sql.NullInt64 { return sql.NullInt64{Int64: v, Valid: v != 0} }
