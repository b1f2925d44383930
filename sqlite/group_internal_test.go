package sqlite

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func openTemp(t *testing.T) *Store {
	t.Helper()
	s, err := Open(context.Background(), Config{Path: filepath.Join(t.TempDir(), "t.db")})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func insertApp(ctx context.Context, tx *Tx, name string) error {
	_, err := tx.tx.ExecContext(ctx, `INSERT INTO apps (name, secret_hash, commission_rate, webhook_key, date_created)
		VALUES (?, x'00', 0, x'00', 0)`, name)
	return err
}

// TestGroupCallerCancelled: a command whose caller gives up while its
// statement runs does not take the other commands of its group down.
func TestGroupCallerCancelled(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	defer s.Close()

	// Hold the writer so the next three commands form one group.
	hold, held := make(chan struct{}), make(chan struct{})
	go s.inWriteTx(ctx, func(tx *Tx) error { close(held); <-hold; return nil })
	<-held

	var wg sync.WaitGroup
	var errA, errB, errC error
	bctx, cancel := context.WithCancel(ctx)
	wg.Go(func() { errA = s.inWriteTx(ctx, func(tx *Tx) error { return insertApp(ctx, tx, "a") }) })
	time.Sleep(20 * time.Millisecond)
	wg.Go(func() {
		errB = s.inWriteTx(bctx, func(tx *Tx) error {
			if err := insertApp(bctx, tx, "b"); err != nil {
				return err
			}
			time.AfterFunc(2*time.Millisecond, cancel)
			// A slow write, cancelled while it runs (SQLite rolls back the
			// whole transaction when a write statement is interrupted).
			if _, err := tx.tx.ExecContext(bctx, `INSERT INTO apps (name, secret_hash, commission_rate, webhook_key, date_created)
				WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 100000)
				SELECT 'bulk', x'00', 0, x'00', 0 FROM c`); err != nil {
				return err
			}
			return insertApp(bctx, tx, "b2")
		})
	})
	time.Sleep(20 * time.Millisecond)
	wg.Go(func() { errC = s.inWriteTx(ctx, func(tx *Tx) error { return insertApp(ctx, tx, "c") }) })
	time.Sleep(20 * time.Millisecond)
	close(hold)
	wg.Wait()

	if errA != nil || errC != nil {
		t.Fatalf("the commands grouped with a cancelled one failed: a: %v, c: %v", errA, errC)
	}
	if !errors.Is(errB, context.Canceled) {
		t.Fatalf("cancelled command: err = %v, want context.Canceled", errB)
	}
	rows, err := s.q.QueryContext(ctx, `SELECT name FROM apps ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		rows.Scan(&n)
		names = append(names, n)
	}
	if len(names) != 2 || names[0] != "a" || names[1] != "c" {
		t.Fatalf("apps = %v, want [a c]: the cancelled command's writes must go, the others' stay", names)
	}
}

// TestCloseAnswersEveryWriter: writers racing Close all return.
func TestCloseAnswersEveryWriter(t *testing.T) {
	for range 5 {
		s := openTemp(t)
		ctx := context.Background()
		var wg sync.WaitGroup
		for range 32 {
			wg.Go(func() {
				for s.inWriteTx(ctx, func(tx *Tx) error { return insertApp(ctx, tx, "w") }) == nil {
				}
			})
		}
		time.Sleep(20 * time.Millisecond)
		s.Close()
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("a writer was never answered after Close")
		}
	}
}
