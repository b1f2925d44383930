// Package postgres is the production store: PostgreSQL through a pgx/v5
// connection pool. Any number of tote processes may share one database;
// they coordinate only through it (row locks, FOR UPDATE SKIP LOCKED).
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/toteorg/tote"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is the PostgreSQL implementation of tote.Store.
type Store struct {
	reader
	pool *pgxpool.Pool

	// AfterCommitJobs, when set, is called after a transaction that
	// inserted jobs has committed, so local workers can start at once.
	AfterCommitJobs func()
}

var _ tote.Store = (*Store)(nil)

// Open connects to the database at url and brings its schema up to date.
// Schema selection (search_path) and pool size come from the URL, as pgx
// reads them (e.g. ?pool_max_conns=20&search_path=tote).
func Open(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: parse database url: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	return &Store{reader: reader{q: pool}, pool: pool}, nil
}

// Migrate brings the schema up to date and disconnects (tote migrate).
func Migrate(ctx context.Context, url string) error {
	s, err := Open(ctx, url)
	if err != nil {
		return err
	}
	return s.Close()
}

func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return err
	}
	// A session lock lets several tote processes start at once: one
	// migrates, the others wait and then find nothing to do. The lock is
	// per schema, so databases holding several schemas (tests do) migrate
	// them in parallel.
	var schema string
	if err := pool.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return fmt.Errorf("postgres: current schema: %w", err)
	}
	h := fnv.New64a()
	h.Write([]byte(schema))
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(lock.DefaultLockID ^ int64(h.Sum64()>>1)))
	if err != nil {
		return err
	}
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, db, fsys, goose.WithSessionLocker(locker))
	if err != nil {
		return fmt.Errorf("postgres: migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	return nil
}

// Close closes the pool.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// Autovacuum reports whether the server runs autovacuum. Tote's queues
// (jobs, webhook deliveries, the bag streams' counters) update the same
// rows many times a second; without VACUUM their dead versions pile up and
// every claim reads through them, so an operator who turned it off should
// know.
func (s *Store) Autovacuum(ctx context.Context) (bool, error) {
	var on bool
	err := s.pool.QueryRow(ctx, `SELECT current_setting('autovacuum')::boolean`).Scan(&on)
	return on, err
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.pool.Ping(ctx) }

// InTx runs fn in one READ COMMITTED transaction; rows a command changes are
// locked with SELECT … FOR UPDATE (LockOrder) before they are read.
func (s *Store) InTx(ctx context.Context, fn func(tote.Tx) error) error {
	pgTx, err := s.pool.Begin(ctx)
	if err != nil {
		return interpretError(err, "begin")
	}
	defer pgTx.Rollback(context.WithoutCancel(ctx))
	tx := &Tx{reader: reader{q: pgTx}, tx: pgTx}
	if err := fn(tx); err != nil {
		return err
	}
	if err := pgTx.Commit(ctx); err != nil {
		return interpretError(err, "commit")
	}
	if tx.insertedJobs && s.AfterCommitJobs != nil {
		s.AfterCommitJobs()
	}
	return nil
}

// Tx is one transaction.
type Tx struct {
	reader
	tx           pgx.Tx
	insertedJobs bool
}

var _ tote.Tx = (*Tx)(nil)

// querier is what *pgxpool.Pool and pgx.Tx have in common.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// reader implements tote.Reader on the pool or a transaction.
type reader struct{ q querier }

// interpretError turns driver errors into the domain's (nil stays nil).
func interpretError(err error, what string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%s: %w", what, tote.ErrNotFound)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return fmt.Errorf("%s: %w", what, &tote.Error{Code: tote.ECONFLICT, Message: "Already exists."})
	}
	return fmt.Errorf("postgres: %s: %w", what, err)
}

func nullInt(v int64) *int64 {
	if v == 0 {
		return nil
	}
	return &v
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
