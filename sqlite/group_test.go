package sqlite_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/toteorg/tote"
	"github.com/toteorg/tote/storetest"
)

// TestGroupedPanic: a command that panics inside a group fails alone; the
// commands grouped with it commit.
func TestGroupedPanic(t *testing.T) {
	ctx := context.Background()
	s := storetest.SQLite(t)
	var wg sync.WaitGroup
	errs := make([]error, 16)
	for i := range errs {
		wg.Go(func() {
			errs[i] = s.InTx(ctx, func(tx tote.Tx) error {
				if err := tx.CreateApp(ctx, &tote.App{Name: "a", SecretHash: []byte("h"), DateCreated: storetest.T0}); err != nil {
					return err
				}
				if i == 7 {
					panic("bug")
				}
				return nil
			})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if (i == 7) != (err != nil) {
			t.Fatalf("command %d: %v", i, err)
		}
	}
	if _, err := s.FindAppByID(ctx, 16); !errors.Is(err, tote.ErrNotFound) {
		t.Fatalf("the panicking command's write was kept: %v", err)
	}
	if _, err := s.FindAppByID(ctx, 15); err != nil {
		t.Fatalf("15 of 16 apps should exist: %v", err)
	}
}
