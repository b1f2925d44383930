package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/toteorg/tote"
	"github.com/toteorg/tote/postgres"
	"github.com/toteorg/tote/sqlite"
)

// storeFlags are the flags that choose the database, shared by every command.
type storeFlags struct {
	dataDir     string
	databaseURL string
	synchronous string
}

func (f *storeFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.dataDir, "data-dir", cmp.Or(os.Getenv("TOTE_DATA_DIR"), "./tote-data"),
		"directory of the embedded SQLite database (env TOTE_DATA_DIR)")
	fs.StringVar(&f.databaseURL, "database-url", os.Getenv("TOTE_DATABASE_URL"),
		"PostgreSQL URL, e.g. postgres://user@host/db; overrides --data-dir (env TOTE_DATABASE_URL)")
	fs.StringVar(&f.synchronous, "sqlite-synchronous", cmp.Or(os.Getenv("TOTE_SQLITE_SYNCHRONOUS"), "FULL"),
		"SQLite synchronous pragma: FULL (commits survive power loss) or NORMAL (env TOTE_SQLITE_SYNCHRONOUS)")
}

// describe names the database for logs, without credentials.
func (f *storeFlags) describe() string {
	if f.databaseURL != "" {
		return "postgres"
	}
	return "sqlite:" + filepath.Join(f.dataDir, "tote.db")
}

// open opens the chosen store (running migrations) and returns a function
// that sets the hook called after a transaction that inserted jobs commits.
func (f *storeFlags) open(ctx context.Context) (tote.Store, func(func()), error) {
	if f.databaseURL != "" {
		s, err := postgres.Open(ctx, f.databaseURL)
		if err != nil {
			return nil, nil, err
		}
		return s, func(fn func()) { s.AfterCommitJobs = fn }, nil
	}
	s, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(f.dataDir, "tote.db"), Synchronous: f.synchronous})
	if err != nil {
		return nil, nil, err
	}
	return s, func(fn func()) { s.AfterCommitJobs = fn }, nil
}

func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("tote migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var sf storeFlags
	sf.register(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	s, _, err := sf.open(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "database %s is up to date\n", sf.describe())
	return s.Close()
}
