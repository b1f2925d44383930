package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/toteorg/tote"
)

// CreateApp inserts a and sets its ID.
func (tx *Tx) CreateApp(ctx context.Context, a *tote.App) error {
	err := tx.tx.QueryRow(ctx, `
		INSERT INTO apps (name, secret_hash, commission_rate, date_created)
		VALUES ($1, $2, $3, $4) RETURNING id`,
		a.Name, a.SecretHash, a.CommissionRate, a.DateCreated).Scan(&a.ID)
	return interpretError(err, "create app")
}

func (r reader) FindAppByID(ctx context.Context, id int64) (*tote.App, error) {
	var a tote.App
	err := r.q.QueryRow(ctx, `
		SELECT id, name, secret_hash, commission_rate, date_created FROM apps WHERE id = $1`, id).
		Scan(&a.ID, &a.Name, &a.SecretHash, &a.CommissionRate, &a.DateCreated)
	if err != nil {
		return nil, interpretError(err, fmt.Sprintf("find app %d", id))
	}
	a.DateCreated = a.DateCreated.UTC()
	return &a, nil
}

// CreateOrder inserts o and its bags and sets their IDs.
func (tx *Tx) CreateOrder(ctx context.Context, o *tote.Order) error {
	err := tx.tx.QueryRow(ctx, `
		INSERT INTO orders (app_id, app_order_id, status, currency, sub_total, shipping_total,
			tax_total, discount_total, total, date_created, date_submitted, date_last_modified)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id`,
		o.AppID, o.AppOrderID, o.Status, o.Currency, o.SubTotal, o.ShippingTotal,
		o.TaxTotal, o.DiscountTotal, o.Total, o.DateCreated, o.DateSubmitted,
		o.DateLastModified).Scan(&o.ID)
	if err != nil {
		return interpretError(err, "create order")
	}
	for _, b := range o.Bags {
		b.OrderID, b.AppID = o.ID, o.AppID
		err := tx.tx.QueryRow(ctx, `
			INSERT INTO bags (order_id, app_id, merchant_id, status, financial_status,
				fulfillment_status, version, external_id, currency, sub_total, shipping_total,
				tax_total, discount_total, total, captured, refunded, event_seq, date_created,
				date_submitted, date_last_modified, date_last_consolidated)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
				$18, $19, $20, $21) RETURNING id`,
			b.OrderID, b.AppID, b.MerchantID, b.Status, b.FinancialStatus, b.FulfillmentStatus,
			b.Version, b.ExternalID, b.Currency, b.SubTotal, b.ShippingTotal, b.TaxTotal,
			b.DiscountTotal, b.Total, b.Captured, b.Refunded, b.EventSeq, b.DateCreated, b.DateSubmitted,
			b.DateLastModified, b.DateLastConsolidated).Scan(&b.ID)
		if err != nil {
			return interpretError(err, "create bag")
		}
	}
	return nil
}

// UpdateOrder saves o's status, totals and dates.
func (tx *Tx) UpdateOrder(ctx context.Context, o *tote.Order) error {
	tag, err := tx.tx.Exec(ctx, `
		UPDATE orders SET app_order_id = $1, status = $2, currency = $3, sub_total = $4,
			shipping_total = $5, tax_total = $6, discount_total = $7, total = $8,
			date_submitted = $9, date_last_modified = $10
		WHERE id = $11`,
		o.AppOrderID, o.Status, o.Currency, o.SubTotal, o.ShippingTotal, o.TaxTotal,
		o.DiscountTotal, o.Total, o.DateSubmitted, o.DateLastModified, o.ID)
	if err == nil && tag.RowsAffected() == 0 {
		err = pgx.ErrNoRows
	}
	return interpretError(err, fmt.Sprintf("update order %d", o.ID))
}

// UpdateBag saves b's statuses, version, external id, totals and dates.
func (tx *Tx) UpdateBag(ctx context.Context, b *tote.Bag) error {
	tag, err := tx.tx.Exec(ctx, `
		UPDATE bags SET status = $1, financial_status = $2, fulfillment_status = $3,
			version = $4, external_id = $5, sub_total = $6, shipping_total = $7, tax_total = $8,
			discount_total = $9, total = $10, captured = $11, refunded = $12, date_submitted = $13,
			date_last_modified = $14, date_last_consolidated = $15
		WHERE id = $16`,
		b.Status, b.FinancialStatus, b.FulfillmentStatus, b.Version, b.ExternalID, b.SubTotal,
		b.ShippingTotal, b.TaxTotal, b.DiscountTotal, b.Total, b.Captured, b.Refunded, b.DateSubmitted,
		b.DateLastModified, b.DateLastConsolidated, b.ID)
	if err == nil && tag.RowsAffected() == 0 {
		err = pgx.ErrNoRows
	}
	return interpretError(err, fmt.Sprintf("update bag %d", b.ID))
}

const orderColumns = `id, app_id, app_order_id, status, currency, sub_total, shipping_total,
	tax_total, discount_total, total, date_created, date_submitted, date_last_modified`

func (r reader) FindOrderByID(ctx context.Context, id int64) (*tote.Order, error) {
	var o tote.Order
	err := r.q.QueryRow(ctx, `SELECT `+orderColumns+` FROM orders WHERE id = $1`, id).Scan(
		&o.ID, &o.AppID, &o.AppOrderID, &o.Status, &o.Currency, &o.SubTotal, &o.ShippingTotal,
		&o.TaxTotal, &o.DiscountTotal, &o.Total, &o.DateCreated, &o.DateSubmitted,
		&o.DateLastModified)
	if err != nil {
		return nil, interpretError(err, fmt.Sprintf("find order %d", id))
	}
	o.DateCreated, o.DateSubmitted, o.DateLastModified = o.DateCreated.UTC(), utc(o.DateSubmitted), o.DateLastModified.UTC()
	bags, err := r.findBags(ctx, `WHERE order_id = $1 ORDER BY id`, id)
	if err != nil {
		return nil, err
	}
	o.Bags = bags
	return &o, nil
}

const bagColumns = `id, order_id, app_id, merchant_id, status, financial_status, fulfillment_status,
	version, external_id, currency, sub_total, shipping_total, tax_total, discount_total, total,
	captured, refunded, event_seq, date_created, date_submitted, date_last_modified, date_last_consolidated`

func (r reader) FindBagByID(ctx context.Context, id int64) (*tote.Bag, error) {
	bags, err := r.findBags(ctx, `WHERE id = $1`, id)
	if err != nil {
		return nil, err
	} else if len(bags) == 0 {
		return nil, interpretError(pgx.ErrNoRows, fmt.Sprintf("find bag %d", id))
	}
	return bags[0], nil
}

// LockOrder reads the order with FOR UPDATE: another writer of the same
// order waits until this transaction ends, then sees its result.
func (tx *Tx) LockOrder(ctx context.Context, id int64) (*tote.Order, error) {
	if _, err := tx.tx.Exec(ctx, `SELECT 1 FROM orders WHERE id = $1 FOR UPDATE`, id); err != nil {
		return nil, interpretError(err, fmt.Sprintf("lock order %d", id))
	}
	return tx.FindOrderByID(ctx, id)
}

func (r reader) findBags(ctx context.Context, where string, args ...any) ([]*tote.Bag, error) {
	rows, err := r.q.Query(ctx, `SELECT `+bagColumns+` FROM bags `+where, args...)
	if err != nil {
		return nil, interpretError(err, "find bags")
	}
	defer rows.Close()
	var bags []*tote.Bag
	for rows.Next() {
		var b tote.Bag
		if err := rows.Scan(&b.ID, &b.OrderID, &b.AppID, &b.MerchantID, &b.Status,
			&b.FinancialStatus, &b.FulfillmentStatus, &b.Version, &b.ExternalID, &b.Currency,
			&b.SubTotal, &b.ShippingTotal, &b.TaxTotal, &b.DiscountTotal, &b.Total, &b.Captured,
			&b.Refunded, &b.EventSeq,
			&b.DateCreated, &b.DateSubmitted, &b.DateLastModified, &b.DateLastConsolidated); err != nil {
			return nil, interpretError(err, "scan bag")
		}
		b.DateCreated, b.DateSubmitted = b.DateCreated.UTC(), utc(b.DateSubmitted)
		b.DateLastModified, b.DateLastConsolidated = b.DateLastModified.UTC(), utc(b.DateLastConsolidated)
		bags = append(bags, &b)
	}
	return bags, interpretError(rows.Err(), "find bags")
}

// InsertStatusChange appends c to the audit trail.
func (tx *Tx) InsertStatusChange(ctx context.Context, c *tote.StatusChange) error {
	err := tx.tx.QueryRow(ctx, `
		INSERT INTO status_changes (app_id, order_id, bag_id, field, from_status, to_status,
			trigger, date_created)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
		c.AppID, c.OrderID, nullInt(c.BagID), c.Field, c.From, c.To, c.Trigger,
		c.DateCreated).Scan(&c.ID)
	return interpretError(err, "insert status change")
}

func (r reader) FindStatusChanges(ctx context.Context, orderID int64) ([]*tote.StatusChange, error) {
	rows, err := r.q.Query(ctx, `
		SELECT id, app_id, order_id, bag_id, field, from_status, to_status, trigger, date_created
		FROM status_changes WHERE order_id = $1 ORDER BY id`, orderID)
	if err != nil {
		return nil, interpretError(err, "find status changes")
	}
	defer rows.Close()
	var out []*tote.StatusChange
	for rows.Next() {
		var c tote.StatusChange
		var bagID *int64
		if err := rows.Scan(&c.ID, &c.AppID, &c.OrderID, &bagID, &c.Field, &c.From, &c.To,
			&c.Trigger, &c.DateCreated); err != nil {
			return nil, interpretError(err, "scan status change")
		}
		if bagID != nil {
			c.BagID = *bagID
		}
		c.DateCreated = c.DateCreated.UTC()
		out = append(out, &c)
	}
	return out, interpretError(rows.Err(), "find status changes")
}

// InsertEvents appends events, numbering each bag's events in sequence.
func (tx *Tx) InsertEvents(ctx context.Context, events []*tote.Event) error {
	for _, e := range events {
		if e.BagID != 0 {
			err := tx.tx.QueryRow(ctx,
				`UPDATE bags SET event_seq = event_seq + 1 WHERE id = $1 RETURNING event_seq`,
				e.BagID).Scan(&e.Sequence)
			if err != nil {
				return interpretError(err, fmt.Sprintf("number event of bag %d", e.BagID))
			}
		}
		var payload any
		if len(e.Payload) > 0 {
			payload = string(e.Payload)
		}
		_, err := tx.tx.Exec(ctx, `
			INSERT INTO events (id, app_id, type, order_id, bag_id, sequence, bag_version,
				payload, date_created)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			e.ID, e.AppID, e.Type, e.OrderID, nullInt(e.BagID), e.Sequence, e.BagVersion,
			payload, e.DateCreated)
		if err != nil {
			return interpretError(err, "insert event")
		}
	}
	return nil
}

func (r reader) FindEvents(ctx context.Context, orderID, bagID int64) ([]*tote.Event, error) {
	rows, err := r.q.Query(ctx, `
		SELECT id, app_id, type, order_id, bag_id, sequence, bag_version, payload::text, date_created
		FROM events WHERE order_id = $1 AND ($2 = 0 OR bag_id = $2)
		ORDER BY date_created, bag_id, sequence`, orderID, bagID)
	if err != nil {
		return nil, interpretError(err, "find events")
	}
	defer rows.Close()
	var out []*tote.Event
	for rows.Next() {
		var e tote.Event
		var bag *int64
		var payload *string
		if err := rows.Scan(&e.ID, &e.AppID, &e.Type, &e.OrderID, &bag, &e.Sequence,
			&e.BagVersion, &payload, &e.DateCreated); err != nil {
			return nil, interpretError(err, "scan event")
		}
		if bag != nil {
			e.BagID = *bag
		}
		if payload != nil {
			e.Payload = []byte(*payload)
		}
		e.DateCreated = e.DateCreated.UTC()
		out = append(out, &e)
	}
	return out, interpretError(rows.Err(), "find events")
}
