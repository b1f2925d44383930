package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/toteorg/tote"
)

// An order is read with several statements (order, bags, lines, errors,
// transactions). Outside a transaction a commit could land between two of
// them and the caller would see a torn order, so the store's order reads
// run in one REPEATABLE READ, read-only transaction: a single snapshot.

func (s *Store) snapshot(ctx context.Context, fn func(r reader) error) error {
	return pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly},
		func(tx pgx.Tx) error { return fn(reader{q: tx}) })
}

// FindOrderByID reads the order and everything in it from one snapshot.
func (s *Store) FindOrderByID(ctx context.Context, id int64) (*tote.Order, error) {
	return readOrder(ctx, s.pool, id, false, true)
}

// FindOrderByIdempotencyKey reads the order from one snapshot.
func (s *Store) FindOrderByIdempotencyKey(ctx context.Context, appID int64, key string) (o *tote.Order, err error) {
	err = s.snapshot(ctx, func(r reader) error { o, err = r.FindOrderByIdempotencyKey(ctx, appID, key); return err })
	return o, err
}

// FindOrders reads a page of orders from one snapshot.
func (s *Store) FindOrders(ctx context.Context, f tote.OrderFilter, page tote.Page) (os []*tote.Order, n int64, err error) {
	err = s.snapshot(ctx, func(r reader) error { os, n, err = r.FindOrders(ctx, f, page); return err })
	return os, n, err
}

// FindBags reads a page of bags from one snapshot.
func (s *Store) FindBags(ctx context.Context, f tote.BagFilter, page tote.Page) (bs []*tote.Bag, n int64, err error) {
	err = s.snapshot(ctx, func(r reader) error { bs, n, err = r.FindBags(ctx, f, page); return err })
	return bs, n, err
}
