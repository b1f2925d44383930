package sqlite

import (
	"context"
	"database/sql"

	"github.com/toteorg/tote"
)

// An order is read with several statements (order, bags, lines, errors,
// transactions). Outside a transaction a commit could land between two of
// them and the caller would see a torn order, so the store's order reads
// run in one read transaction: a single snapshot of the WAL.

func (s *Store) snapshot(ctx context.Context, fn func(r reader) error) error {
	tx, err := s.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return interpretError(err, "begin read")
	}
	defer tx.Rollback()
	return fn(reader{q: txQuerier{tx: tx, cache: s.readCache}})
}

// FindOrderByID reads the order and everything in it from one snapshot.
func (s *Store) FindOrderByID(ctx context.Context, id int64) (o *tote.Order, err error) {
	err = s.snapshot(ctx, func(r reader) error { o, err = r.FindOrderByID(ctx, id); return err })
	return o, err
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
