// Command pg benchmarks River (the version pinned in go.mod) on PostgreSQL
// with the riverpgxv5 driver. See ../README.md.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	riverbench "github.com/toteorg/tote/bench/river"
)

func main() {
	f := riverbench.ParseFlags("postgres")
	if err := run(f); err != nil {
		fmt.Fprintln(os.Stderr, "river bench:", err)
		os.Exit(1)
	}
}

func run(f riverbench.Flags) error {
	if f.DB != "postgres" {
		return fmt.Errorf("this program benchmarks -db postgres only; -db %s is in ../sqlite", f.DB)
	}
	cfg, err := pgxpool.ParseConfig(f.DatabaseURL)
	if err != nil {
		return err
	}
	if err := riverbench.CheckBenchName(cfg.ConnConfig.Database); err != nil {
		return err
	}
	cfg.MaxConns = int32(f.PGConns)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	s := &pgStore{cfg: cfg}
	err = riverbench.Run(ctx, s, f)
	if cerr := s.Close(); err == nil {
		err = cerr
	}
	return err
}

type pgStore struct{ cfg *pgxpool.Config }

func (s *pgStore) Engine() string  { return "river-pg" }
func (s *pgStore) Version() string { return riverVersion() }

func (s *pgStore) FetchDefaults() (time.Duration, time.Duration) {
	return river.FetchPollIntervalDefault, river.FetchCooldownDefault
}

func (s *pgStore) NewClient(ctx context.Context, o riverbench.Options) (riverbench.Client, error) {
	if err := s.admin(ctx, "DROP DATABASE IF EXISTS %s WITH (FORCE)", "CREATE DATABASE %s"); err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, s.cfg.Copy())
	if err != nil {
		return nil, err
	}
	tx := txFuncs[pgx.Tx]{
		begin:    pool.Begin,
		commit:   func(ctx context.Context, tx pgx.Tx) error { return tx.Commit(ctx) },
		rollback: func(ctx context.Context, tx pgx.Tx) { _ = tx.Rollback(ctx) },
	}
	return newClient(ctx, riverpgxv5.New(pool), tx, pool.Close, o)
}

// Close drops the bench database.
func (s *pgStore) Close() error {
	return s.admin(context.Background(), "DROP DATABASE IF EXISTS %s WITH (FORCE)")
}

// admin runs statements, formatted with the bench database's quoted name,
// on the server's postgres database.
func (s *pgStore) admin(ctx context.Context, statements ...string) error {
	cc := s.cfg.ConnConfig.Copy()
	name := pgx.Identifier{cc.Database}.Sanitize()
	cc.Database = "postgres"
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	for _, st := range statements {
		if _, err := conn.Exec(ctx, fmt.Sprintf(st, name)); err != nil {
			return err
		}
	}
	return nil
}
