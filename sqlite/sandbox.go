package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/toteorg/tote"
)

// The records of the built-in sandboxes (tote.SandboxStore). Every write
// goes through the writer (group.go), so placements, inventory decrements
// and intent updates are serialized.

const sandboxOrderColumns = `id, merchant_id, external_id, reference, status, body, total, currency, date_created, refunds`

// PlaceSandboxOrder creates the order and takes its lines out of inventory,
// unless the reference was placed already.
func (s *Store) PlaceSandboxOrder(ctx context.Context, p tote.SandboxOrderParams) (o *tote.SandboxOrder, placed bool, err error) {
	demand, err := p.Demand()
	if err != nil {
		return nil, false, err
	}
	err = s.inWriteTx(ctx, func(tx *Tx) error {
		o, placed = nil, false
		var id int64
		err := tx.tx.QueryRowContext(ctx, `
			INSERT INTO sandbox_orders (merchant_id, external_id, reference, status, body, total, currency, date_created)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (merchant_id, reference) DO NOTHING RETURNING id`,
			p.MerchantID, p.ExternalID, p.Reference, p.Status, p.Body, p.Total, p.Currency, micros(p.DateCreated)).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) { // placed before: change nothing
			o, err = findSandboxOrder(ctx, tx.tx, p.MerchantID, p.Reference)
			return err
		} else if err != nil {
			return interpretError(err, "place sandbox order")
		}
		for _, l := range demand {
			res, err := tx.tx.ExecContext(ctx, `
				UPDATE skus SET inventory = inventory - ?, date_last_modified = ?
				WHERE id = ? AND merchant_id = ? AND inventory >= ?`,
				l.Quantity, micros(p.DateCreated), l.SkuID, p.MerchantID, l.Quantity)
			if err != nil {
				return interpretError(err, "take sandbox inventory")
			}
			if n, _ := res.RowsAffected(); n == 1 {
				continue
			}
			var left int64
			err = tx.tx.QueryRowContext(ctx, `SELECT inventory FROM skus WHERE id = ? AND merchant_id = ?`,
				l.SkuID, p.MerchantID).Scan(&left)
			if errors.Is(err, sql.ErrNoRows) {
				return tote.SandboxUnknownItem(l.SkuID)
			} else if err != nil {
				return interpretError(err, "read sandbox inventory")
			}
			return tote.SandboxShortage(l.SkuID, left)
		}
		o, placed = &tote.SandboxOrder{ID: id, MerchantID: p.MerchantID, ExternalID: p.ExternalID, Reference: p.Reference,
			Status: p.Status, Body: p.Body, Total: p.Total, Currency: p.Currency, DateCreated: fromMicros(micros(p.DateCreated))}, true
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	return o, placed, nil
}

// CountSandboxAttempt adds one to the reference's attempts.
func (s *Store) CountSandboxAttempt(ctx context.Context, merchantID int64, reference string) (int64, error) {
	var n int64
	err := s.inWriteTx(ctx, func(tx *Tx) error {
		err := tx.tx.QueryRowContext(ctx, `
			INSERT INTO sandbox_attempts (merchant_id, reference, attempts) VALUES (?, ?, 1)
			ON CONFLICT (merchant_id, reference) DO UPDATE SET attempts = attempts + 1
			RETURNING attempts`, merchantID, reference).Scan(&n)
		return interpretError(err, "count sandbox attempt")
	})
	return n, err
}

// FindSandboxOrder returns the order placed with reference.
func (s *Store) FindSandboxOrder(ctx context.Context, merchantID int64, reference string) (*tote.SandboxOrder, error) {
	return findSandboxOrder(ctx, s.q, merchantID, reference)
}

func findSandboxOrder(ctx context.Context, q querier, merchantID int64, reference string) (*tote.SandboxOrder, error) {
	o, err := scanSandboxOrder(q.QueryRowContext(ctx, `SELECT `+sandboxOrderColumns+`
		FROM sandbox_orders WHERE merchant_id = ? AND reference = ?`, merchantID, reference))
	if err != nil {
		return nil, interpretError(err, fmt.Sprintf("find sandbox order %q of merchant %d", reference, merchantID))
	}
	return o, nil
}

// UpdateSandboxOrder changes the order with fn inside one write
// transaction (the single writer serializes it), restocking what fn
// returns.
func (s *Store) UpdateSandboxOrder(ctx context.Context, merchantID int64, reference string, now time.Time,
	fn func(*tote.SandboxOrder) ([]tote.SandboxLine, error)) (o *tote.SandboxOrder, err error) {
	err = s.inWriteTx(ctx, func(tx *Tx) error {
		var err error
		if o, err = findSandboxOrder(ctx, tx.tx, merchantID, reference); err != nil {
			return err
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
		if _, err := tx.tx.ExecContext(ctx, `UPDATE sandbox_orders SET status = ?, refunds = ? WHERE id = ?`,
			o.Status, string(refunds), o.ID); err != nil {
			return interpretError(err, "update sandbox order")
		}
		for _, l := range restock {
			if _, err := tx.tx.ExecContext(ctx, `UPDATE skus SET inventory = inventory + ?, date_last_modified = ?
				WHERE id = ? AND merchant_id = ?`, l.Quantity, micros(now), l.SkuID, merchantID); err != nil {
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
	rows, err := s.q.QueryContext(ctx, `SELECT `+sandboxOrderColumns+`
		FROM sandbox_orders WHERE merchant_id = ? ORDER BY id`, merchantID)
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

func scanSandboxOrder(row interface{ Scan(...any) error }) (*tote.SandboxOrder, error) {
	var o tote.SandboxOrder
	var created int64
	var refunds string
	if err := row.Scan(&o.ID, &o.MerchantID, &o.ExternalID, &o.Reference, &o.Status, &o.Body,
		&o.Total, &o.Currency, &created, &refunds); err != nil {
		return nil, err
	}
	o.DateCreated = fromMicros(created)
	if err := json.Unmarshal([]byte(refunds), &o.Refunds); err != nil {
		return nil, fmt.Errorf("sandbox order %d: refunds: %w", o.ID, err)
	}
	if len(o.Refunds) == 0 {
		o.Refunds = nil // none, as a new order has
	}
	return &o, nil
}

const sandboxIntentColumns = `intent_id, client_secret, idempotency_key, token, status, amount,
	amount_captured, amount_refunded, currency, date_created`

// CreateSandboxIntent inserts in unless its idempotency key is known.
func (s *Store) CreateSandboxIntent(ctx context.Context, in *tote.SandboxIntent) (out *tote.SandboxIntent, created bool, err error) {
	err = s.inWriteTx(ctx, func(tx *Tx) error {
		res, err := tx.tx.ExecContext(ctx, `
			INSERT INTO sandbox_payment_intents (`+sandboxIntentColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (idempotency_key) DO NOTHING`,
			in.ID, in.ClientSecret, in.IdempotencyKey, in.Token, in.Status, in.Amount,
			in.AmountCaptured, in.AmountRefunded, in.Currency, micros(in.DateCreated))
		if err != nil {
			return interpretError(err, "create sandbox intent")
		}
		if n, _ := res.RowsAffected(); n == 1 {
			c := *in
			c.DateCreated = fromMicros(micros(in.DateCreated))
			out, created = &c, true
			return nil
		}
		out, created = nil, false
		out, err = scanSandboxIntent(tx.tx.QueryRowContext(ctx, `SELECT `+sandboxIntentColumns+`
			FROM sandbox_payment_intents WHERE idempotency_key = ?`, in.IdempotencyKey))
		return interpretError(err, "find sandbox intent by idempotency key")
	})
	if err != nil {
		return nil, false, err
	}
	return out, created, nil
}

// FindSandboxIntent returns the intent with the given id.
func (s *Store) FindSandboxIntent(ctx context.Context, id string) (*tote.SandboxIntent, error) {
	in, err := scanSandboxIntent(s.q.QueryRowContext(ctx, `SELECT `+sandboxIntentColumns+`
		FROM sandbox_payment_intents WHERE intent_id = ?`, id))
	return in, interpretError(err, fmt.Sprintf("find sandbox intent %q", id))
}

// FindSandboxIntentBySecret returns the intent with the given client secret.
func (s *Store) FindSandboxIntentBySecret(ctx context.Context, clientSecret string) (*tote.SandboxIntent, error) {
	in, err := scanSandboxIntent(s.q.QueryRowContext(ctx, `SELECT `+sandboxIntentColumns+`
		FROM sandbox_payment_intents WHERE client_secret = ?`, clientSecret))
	return in, interpretError(err, "find sandbox intent by client secret")
}

// UpdateSandboxIntent changes the intent with fn inside one write
// transaction (the single writer serializes it).
func (s *Store) UpdateSandboxIntent(ctx context.Context, id string, fn func(*tote.SandboxIntent) error) (in *tote.SandboxIntent, err error) {
	err = s.inWriteTx(ctx, func(tx *Tx) error {
		var err error
		in, err = scanSandboxIntent(tx.tx.QueryRowContext(ctx, `SELECT `+sandboxIntentColumns+`
			FROM sandbox_payment_intents WHERE intent_id = ?`, id))
		if err != nil {
			return interpretError(err, fmt.Sprintf("find sandbox intent %q", id))
		}
		if err := fn(in); err != nil {
			return err
		}
		_, err = tx.tx.ExecContext(ctx, `
			UPDATE sandbox_payment_intents SET status = ?, amount_captured = ?, amount_refunded = ?
			WHERE intent_id = ?`, in.Status, in.AmountCaptured, in.AmountRefunded, id)
		return interpretError(err, "update sandbox intent")
	})
	if err != nil {
		return nil, err
	}
	return in, nil
}

func scanSandboxIntent(row *sql.Row) (*tote.SandboxIntent, error) {
	var in tote.SandboxIntent
	var created int64
	if err := row.Scan(&in.ID, &in.ClientSecret, &in.IdempotencyKey, &in.Token, &in.Status, &in.Amount,
		&in.AmountCaptured, &in.AmountRefunded, &in.Currency, &created); err != nil {
		return nil, err
	}
	in.DateCreated = fromMicros(created)
	return &in, nil
}
