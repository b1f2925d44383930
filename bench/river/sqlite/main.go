// Command sqlite benchmarks River (the version pinned in go.mod) on SQLite
// with the riversqlite driver over modernc.org/sqlite. See ../README.md.
package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	riverbench "github.com/toteorg/tote/bench/river"
	_ "modernc.org/sqlite"
)

func main() {
	f := riverbench.ParseFlags("sqlite")
	if err := run(f); err != nil {
		fmt.Fprintln(os.Stderr, "river bench:", err)
		os.Exit(1)
	}
}

func run(f riverbench.Flags) error {
	if f.DB != "sqlite" {
		return fmt.Errorf("this program benchmarks -db sqlite only; -db %s is in ../pg", f.DB)
	}
	dir, err := os.MkdirTemp("", "river-bench-sqlite-")
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	s := &sqliteStore{dir: dir, conns: f.SQLiteConns}
	err = riverbench.Run(ctx, s, f)
	if cerr := s.Close(); err == nil {
		err = cerr
	}
	return err
}

type sqliteStore struct {
	dir   string
	conns int
}

func (s *sqliteStore) Engine() string  { return "river-sqlite" }
func (s *sqliteStore) Version() string { return riverVersion() }

func (s *sqliteStore) FetchDefaults() (time.Duration, time.Duration) {
	return river.FetchPollIntervalDefault, river.FetchCooldownDefault
}

// NewClient replaces the database file with a fresh one.
func (s *sqliteStore) NewClient(ctx context.Context, o riverbench.Options) (riverbench.Client, error) {
	path := filepath.Join(s.dir, "river.db")
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := os.Remove(path + suffix); err != nil && !os.IsNotExist(err) {
			return nil, err
		}
	}
	// The pragmas run on every new connection of the pool.
	db, err := sql.Open("sqlite", "file:"+path+
		"?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=busy_timeout(5000)")
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(s.conns)
	tx := txFuncs[*sql.Tx]{
		begin:    func(ctx context.Context) (*sql.Tx, error) { return db.BeginTx(ctx, nil) },
		commit:   func(_ context.Context, tx *sql.Tx) error { return tx.Commit() },
		rollback: func(_ context.Context, tx *sql.Tx) { _ = tx.Rollback() },
	}
	return newClient(ctx, riversqlite.New(db), tx, func() { _ = db.Close() }, o)
}

// Close removes the temp directory and the database files in it.
func (s *sqliteStore) Close() error { return os.RemoveAll(s.dir) }
