package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/toteorg/tote"
)

// The records of the built-in sandboxes (tote.SandboxStore).

const sandboxOrderColumns = `id, merchant_id, external_id, reference, status, body, total, currency, date_created, refunds`

// PlaceSandboxOrder creates the order and takes its lines out of inventory,
// unless the reference was placed already.
//
// The order row is inserted first: a concurrent placement of the same
// reference then waits on the unique (merchant_id, reference) index until
// this transaction ends, and finds the order (DO NOTHING) or, if this one
// rolled back for want of stock, places its own. Each inventory decrement is
// a conditional UPDATE, which PostgreSQL re-checks against the latest
// committed row after waiting for its lock, so concurrent placements never
// take more than there is.
func (s *Store) PlaceSandboxOrder(ctx context.Context, p tote.SandboxOrderParams) (*tote.SandboxOrder, bool, error) {
	demand, err := p.Demand()
	if err != nil {
		return nil, false, err
	}
	var out *tote.SandboxOrder
	created := false
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var id int64
		err := tx.QueryRow(ctx, `
			INSERT INTO sandbox_orders (merchant_id, external_id, reference, status, body, total, currency, date_created)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
			ON CONFLICT (merchant_id, reference) DO NOTHING RETURNING id`,
			p.MerchantID, p.ExternalID, p.Reference, p.Status, p.Body, p.Total, p.Currency, p.DateCreated).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) { // placed before: change nothing
			out, err = findSandboxOrder(ctx, tx, p.MerchantID, p.Reference)
			return err
		} else if err != nil {
			return interpretError(err, "place sandbox order")
		}
		for _, l := range demand {
			tag, err := tx.Exec(ctx, `
				UPDATE skus SET inventory = inventory - $1, date_last_modified = $2
				WHERE id = $3 AND merchant_id = $4 AND inventory >= $1`,
				l.Quantity, p.DateCreated, l.SkuID, p.MerchantID)
			if err != nil {
				return interpretError(err, "take sandbox inventory")
			}
			if tag.RowsAffected() == 1 {
				continue
			}
			var left int64
			err = tx.QueryRow(ctx, `SELECT inventory FROM skus WHERE id = $1 AND merchant_id = $2`,
				l.SkuID, p.MerchantID).Scan(&left)
			if errors.Is(err, pgx.ErrNoRows) {
				return tote.SandboxUnknownItem(l.SkuID)
			} else if err != nil {
				return interpretError(err, "read sandbox inventory")
			}
			return tote.SandboxShortage(l.SkuID, left)
		}
		out = &tote.SandboxOrder{ID: id, MerchantID: p.MerchantID, ExternalID: p.ExternalID, Reference: p.Reference,
			Status: p.Status, Body: p.Body, Total: p.Total, Currency: p.Currency, DateCreated: p.DateCreated.UTC().Truncate(time.Microsecond)}
		created = true
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	return out, created, nil
}

// CountSandboxAttempt adds one to the reference's attempts.
func (s *Store) CountSandboxAttempt(ctx context.Context, merchantID int64, reference string) (int64, error) {
	var n int64
	err := s.pool.QueryRow(ctx, `
		INSERT INTO sandbox_attempts (merchant_id, reference, attempts) VALUES ($1, $2, 1)
		ON CONFLICT (merchant_id, reference) DO UPDATE SET attempts = sandbox_attempts.attempts + 1
		RETURNING attempts`, merchantID, reference).Scan(&n)
	return n, interpretError(err, "count sandbox attempt")
}

// FindSandboxOrder returns the order placed with reference.
func (s *Store) FindSandboxOrder(ctx context.Context, merchantID int64, reference string) (*tote.SandboxOrder, error) {
	return findSandboxOrder(ctx, s.pool, merchantID, reference)
}

func findSandboxOrder(ctx context.Context, q querier, merchantID int64, reference string) (*tote.SandboxOrder, error) {
	o, err := scanSandboxOrder(q.QueryRow(ctx, `SELECT `+sandboxOrderColumns+`
		FROM sandbox_orders WHERE merchant_id = $1 AND reference = $2`, merchantID, reference))
	if err != nil {
		return nil, interpretError(err, fmt.Sprintf("find sandbox order %q of merchant %d", reference, merchantID))
	}
	return o, nil
}

// UpdateSandboxOrder changes the order with fn while its row is locked
// (FOR UPDATE), restocking what fn returns in SKU id order (as placements
// take stock, so the two never deadlock).
func (s *Store) UpdateSandboxOrder(ctx context.Context, merchantID int64, reference string, now time.Time,
	fn func(*tote.SandboxOrder) ([]tote.SandboxLine, error)) (o *tote.SandboxOrder, err error) {
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		o, err = scanSandboxOrder(tx.QueryRow(ctx, `SELECT `+sandboxOrderColumns+`
			FROM sandbox_orders WHERE merchant_id = $1 AND reference = $2 FOR UPDATE`, merchantID, reference))
		if err != nil {
			return interpretError(err, fmt.Sprintf("find sandbox order %q of merchant %d", reference, merchantID))
		}
		restock, err := fn(o)
		if err != nil {
			return err
		}
		restock, err = tote.SandboxOrderParams{Lines: restock}.Demand()
		if err != nil {
			return err
		}
		refunds, err := json.Marshal(refundsOrEmpty(o.Refunds))
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE sandbox_orders SET status = $1, refunds = $2 WHERE id = $3`,
			o.Status, string(refunds), o.ID); err != nil {
			return interpretError(err, "update sandbox order")
		}
		for _, l := range restock {
			if _, err := tx.Exec(ctx, `UPDATE skus SET inventory = inventory + $1, date_last_modified = $2
				WHERE id = $3 AND merchant_id = $4`, l.Quantity, now, l.SkuID, merchantID); err != nil {
				return interpretError(err, "restock sandbox inventory")
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return o, nil
}

// refundsOrEmpty is rs, or an empty list (stored as [], never null).
func refundsOrEmpty(rs []tote.SandboxRefund) []tote.SandboxRefund {
	if rs == nil {
		return []tote.SandboxRefund{}
	}
	return rs
}

// FindSandboxOrders returns the merchant's orders, oldest first.
func (s *Store) FindSandboxOrders(ctx context.Context, merchantID int64) ([]*tote.SandboxOrder, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+sandboxOrderColumns+`
		FROM sandbox_orders WHERE merchant_id = $1 ORDER BY id`, merchantID)
	if err != nil {
		return nil, interpretError(err, "find sandbox orders")
	}
	defer rows.Close()
	out := []*tote.SandboxOrder{}
	for rows.Next() {
		o, err := scanSandboxOrder(rows)
		if err != nil {
			return nil, interpretError(err, "scan sandbox order")
		}
		out = append(out, o)
	}
	return out, interpretError(rows.Err(), "find sandbox orders")
}

func scanSandboxOrder(row pgx.Row) (*tote.SandboxOrder, error) {
	var o tote.SandboxOrder
	var refunds []byte
	if err := row.Scan(&o.ID, &o.MerchantID, &o.ExternalID, &o.Reference, &o.Status, &o.Body,
		&o.Total, &o.Currency, &o.DateCreated, &refunds); err != nil {
		return nil, err
	}
	o.DateCreated = o.DateCreated.UTC()
	if err := json.Unmarshal(refunds, &o.Refunds); err != nil {
		return nil, fmt.Errorf("sandbox order %d: refunds: %w", o.ID, err)
	}
	if len(o.Refunds) == 0 {
		o.Refunds = nil // none, as a new order has
	}
	return &o, nil
}

const sandboxIntentColumns = `intent_id, client_secret, idempotency_key, token, status, amount,
	amount_captured, amount_refunded, currency, date_created`

// CreateSandboxIntent inserts in unless its idempotency key is known. A
// concurrent creation with the same key waits on the unique index and then
// returns the winner's intent.
func (s *Store) CreateSandboxIntent(ctx context.Context, in *tote.SandboxIntent) (*tote.SandboxIntent, bool, error) {
	tag, err := s.pool.Exec(ctx, `
		INSERT INTO sandbox_payment_intents (`+sandboxIntentColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (idempotency_key) DO NOTHING`,
		in.ID, in.ClientSecret, in.IdempotencyKey, in.Token, in.Status, in.Amount,
		in.AmountCaptured, in.AmountRefunded, in.Currency, in.DateCreated)
	if err != nil {
		return nil, false, interpretError(err, "create sandbox intent")
	}
	if tag.RowsAffected() == 1 {
		c := *in
		c.DateCreated = c.DateCreated.UTC().Truncate(time.Microsecond)
		return &c, true, nil
	}
	old, err := scanSandboxIntent(s.pool.QueryRow(ctx, `SELECT `+sandboxIntentColumns+`
		FROM sandbox_payment_intents WHERE idempotency_key = $1`, in.IdempotencyKey))
	return old, false, interpretError(err, "find sandbox intent by idempotency key")
}

// FindSandboxIntent returns the intent with the given id.
func (s *Store) FindSandboxIntent(ctx context.Context, id string) (*tote.SandboxIntent, error) {
	in, err := scanSandboxIntent(s.pool.QueryRow(ctx, `SELECT `+sandboxIntentColumns+`
		FROM sandbox_payment_intents WHERE intent_id = $1`, id))
	return in, interpretError(err, fmt.Sprintf("find sandbox intent %q", id))
}

// FindSandboxIntentBySecret returns the intent with the given client secret.
func (s *Store) FindSandboxIntentBySecret(ctx context.Context, clientSecret string) (*tote.SandboxIntent, error) {
	in, err := scanSandboxIntent(s.pool.QueryRow(ctx, `SELECT `+sandboxIntentColumns+`
		FROM sandbox_payment_intents WHERE client_secret = $1`, clientSecret))
	return in, interpretError(err, "find sandbox intent by client secret")
}

// UpdateSandboxIntent changes the intent with fn while holding its row lock.
func (s *Store) UpdateSandboxIntent(ctx context.Context, id string, fn func(*tote.SandboxIntent) error) (*tote.SandboxIntent, error) {
	var out *tote.SandboxIntent
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		in, err := scanSandboxIntent(tx.QueryRow(ctx, `SELECT `+sandboxIntentColumns+`
			FROM sandbox_payment_intents WHERE intent_id = $1 FOR UPDATE`, id))
		if err != nil {
			return interpretError(err, fmt.Sprintf("find sandbox intent %q", id))
		}
		if err := fn(in); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `
			UPDATE sandbox_payment_intents SET status = $1, amount_captured = $2, amount_refunded = $3
			WHERE intent_id = $4`, in.Status, in.AmountCaptured, in.AmountRefunded, id); err != nil {
			return interpretError(err, "update sandbox intent")
		}
		out = in
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func scanSandboxIntent(row pgx.Row) (*tote.SandboxIntent, error) {
	var in tote.SandboxIntent
	if err := row.Scan(&in.ID, &in.ClientSecret, &in.IdempotencyKey, &in.Token, &in.Status, &in.Amount,
		&in.AmountCaptured, &in.AmountRefunded, &in.Currency, &in.DateCreated); err != nil {
		return nil, err
	}
	in.DateCreated = in.DateCreated.UTC()
	return &in, nil
}
