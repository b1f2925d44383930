package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/toteorg/tote"
)

// CreateApp inserts a and sets its ID.
func (tx *Tx) CreateApp(ctx context.Context, a *tote.App) error {
	err := tx.tx.QueryRowContext(ctx, `
		INSERT INTO apps (name, secret_hash, commission_rate, date_created)
		VALUES (?, ?, ?, ?) RETURNING id`,
		a.Name, a.SecretHash, a.CommissionRate, micros(a.DateCreated)).Scan(&a.ID)
	if err != nil {
		return interpretError(err, "create app")
	}
	return nil
}

func (r reader) FindAppByID(ctx context.Context, id int64) (*tote.App, error) {
	var a tote.App
	var created int64
	err := r.q.QueryRowContext(ctx, `
		SELECT id, name, secret_hash, commission_rate, date_created FROM apps WHERE id = ?`, id).
		Scan(&a.ID, &a.Name, &a.SecretHash, &a.CommissionRate, &created)
	if err != nil {
		return nil, interpretError(err, fmt.Sprintf("find app %d", id))
	}
	a.DateCreated = fromMicros(created)
	return &a, nil
}

// CreateOrder inserts o and its bags and sets their IDs.
func (tx *Tx) CreateOrder(ctx context.Context, o *tote.Order) error {
	err := tx.tx.QueryRowContext(ctx, `
		INSERT INTO orders (app_id, app_order_id, status, currency, sub_total, shipping_total,
			tax_total, discount_total, total, date_created, date_submitted, date_last_modified)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		o.AppID, o.AppOrderID, o.Status, o.Currency, o.SubTotal, o.ShippingTotal,
		o.TaxTotal, o.DiscountTotal, o.Total, micros(o.DateCreated), nullMicros(o.DateSubmitted),
		micros(o.DateLastModified)).Scan(&o.ID)
	if err != nil {
		return interpretError(err, "create order")
	}
	for _, b := range o.Bags {
		b.OrderID, b.AppID = o.ID, o.AppID
		err := tx.tx.QueryRowContext(ctx, `
			INSERT INTO bags (order_id, app_id, merchant_id, status, financial_status,
				fulfillment_status, version, external_id, currency, sub_total, shipping_total,
				tax_total, discount_total, total, captured, refunded, event_seq, date_created,
				date_submitted, date_last_modified, date_last_consolidated)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			b.OrderID, b.AppID, b.MerchantID, b.Status, b.FinancialStatus, b.FulfillmentStatus,
			b.Version, b.ExternalID, b.Currency, b.SubTotal, b.ShippingTotal, b.TaxTotal,
			b.DiscountTotal, b.Total, b.Captured, b.Refunded, b.EventSeq, micros(b.DateCreated), nullMicros(b.DateSubmitted),
			micros(b.DateLastModified), nullMicros(b.DateLastConsolidated)).Scan(&b.ID)
		if err != nil {
			return interpretError(err, "create bag")
		}
	}
	return nil
}

// UpdateOrder saves o's status, totals and dates.
func (tx *Tx) UpdateOrder(ctx context.Context, o *tote.Order) error {
	res, err := tx.tx.ExecContext(ctx, `
		UPDATE orders SET app_order_id = ?, status = ?, currency = ?, sub_total = ?,
			shipping_total = ?, tax_total = ?, discount_total = ?, total = ?,
			date_submitted = ?, date_last_modified = ?
		WHERE id = ?`,
		o.AppOrderID, o.Status, o.Currency, o.SubTotal, o.ShippingTotal, o.TaxTotal,
		o.DiscountTotal, o.Total, nullMicros(o.DateSubmitted), micros(o.DateLastModified), o.ID)
	return checkUpdated(res, err, fmt.Sprintf("update order %d", o.ID))
}

// UpdateBag saves b's statuses, version, external id, totals and dates.
func (tx *Tx) UpdateBag(ctx context.Context, b *tote.Bag) error {
	res, err := tx.tx.ExecContext(ctx, `
		UPDATE bags SET status = ?, financial_status = ?, fulfillment_status = ?, version = ?,
			external_id = ?, sub_total = ?, shipping_total = ?, tax_total = ?,
			discount_total = ?, total = ?, captured = ?, refunded = ?, date_submitted = ?,
			date_last_modified = ?, date_last_consolidated = ?
		WHERE id = ?`,
		b.Status, b.FinancialStatus, b.FulfillmentStatus, b.Version, b.ExternalID, b.SubTotal,
		b.ShippingTotal, b.TaxTotal, b.DiscountTotal, b.Total, b.Captured, b.Refunded, nullMicros(b.DateSubmitted),
		micros(b.DateLastModified), nullMicros(b.DateLastConsolidated), b.ID)
	return checkUpdated(res, err, fmt.Sprintf("update bag %d", b.ID))
}

func checkUpdated(res sql.Result, err error, what string) error {
	if err != nil {
		return interpretError(err, what)
	}
	if n, err := res.RowsAffected(); err != nil {
		return interpretError(err, what)
	} else if n == 0 {
		return interpretError(sql.ErrNoRows, what)
	}
	return nil
}

const orderColumns = `id, app_id, app_order_id, status, currency, sub_total, shipping_total,
	tax_total, discount_total, total, date_created, date_submitted, date_last_modified`

func (r reader) FindOrderByID(ctx context.Context, id int64) (*tote.Order, error) {
	var o tote.Order
	var created, modified int64
	var submitted sql.NullInt64
	err := r.q.QueryRowContext(ctx, `SELECT `+orderColumns+` FROM orders WHERE id = ?`, id).Scan(
		&o.ID, &o.AppID, &o.AppOrderID, &o.Status, &o.Currency, &o.SubTotal, &o.ShippingTotal,
		&o.TaxTotal, &o.DiscountTotal, &o.Total, &created, &submitted, &modified)
	if err != nil {
		return nil, interpretError(err, fmt.Sprintf("find order %d", id))
	}
	o.DateCreated, o.DateSubmitted, o.DateLastModified = fromMicros(created), fromNullMicros(submitted), fromMicros(modified)
	bags, err := r.findBags(ctx, `WHERE order_id = ? ORDER BY id`, id)
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
	bags, err := r.findBags(ctx, `WHERE id = ?`, id)
	if err != nil {
		return nil, err
	} else if len(bags) == 0 {
		return nil, interpretError(sql.ErrNoRows, fmt.Sprintf("find bag %d", id))
	}
	return bags[0], nil
}

// LockOrder returns the order. The transaction already holds SQLite's
// write lock (BEGIN IMMEDIATE), so no other writer can change it meanwhile.
func (tx *Tx) LockOrder(ctx context.Context, id int64) (*tote.Order, error) {
	return tx.FindOrderByID(ctx, id)
}

func (r reader) findBags(ctx context.Context, where string, args ...any) ([]*tote.Bag, error) {
	rows, err := r.q.QueryContext(ctx, `SELECT `+bagColumns+` FROM bags `+where, args...)
	if err != nil {
		return nil, interpretError(err, "find bags")
	}
	defer rows.Close()
	var bags []*tote.Bag
	for rows.Next() {
		var b tote.Bag
		var created, modified int64
		var submitted, consolidated sql.NullInt64
		if err := rows.Scan(&b.ID, &b.OrderID, &b.AppID, &b.MerchantID, &b.Status,
			&b.FinancialStatus, &b.FulfillmentStatus, &b.Version, &b.ExternalID, &b.Currency,
			&b.SubTotal, &b.ShippingTotal, &b.TaxTotal, &b.DiscountTotal, &b.Total, &b.Captured,
			&b.Refunded, &b.EventSeq,
			&created, &submitted, &modified, &consolidated); err != nil {
			return nil, interpretError(err, "scan bag")
		}
		b.DateCreated, b.DateSubmitted = fromMicros(created), fromNullMicros(submitted)
		b.DateLastModified, b.DateLastConsolidated = fromMicros(modified), fromNullMicros(consolidated)
		bags = append(bags, &b)
	}
	if err := rows.Err(); err != nil {
		return nil, interpretError(err, "find bags")
	}
	return bags, nil
}

// InsertStatusChange appends c to the audit trail.
func (tx *Tx) InsertStatusChange(ctx context.Context, c *tote.StatusChange) error {
	err := tx.tx.QueryRowContext(ctx, `
		INSERT INTO status_changes (app_id, order_id, bag_id, field, from_status, to_status,
			trigger, date_created)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		c.AppID, c.OrderID, nullInt(c.BagID), c.Field, c.From, c.To, c.Trigger,
		micros(c.DateCreated)).Scan(&c.ID)
	if err != nil {
		return interpretError(err, "insert status change")
	}
	return nil
}

func (r reader) FindStatusChanges(ctx context.Context, orderID int64) ([]*tote.StatusChange, error) {
	rows, err := r.q.QueryContext(ctx, `
		SELECT id, app_id, order_id, bag_id, field, from_status, to_status, trigger, date_created
		FROM status_changes WHERE order_id = ? ORDER BY id`, orderID)
	if err != nil {
		return nil, interpretError(err, "find status changes")
	}
	defer rows.Close()
	var out []*tote.StatusChange
	for rows.Next() {
		var c tote.StatusChange
		var bagID sql.NullInt64
		var created int64
		if err := rows.Scan(&c.ID, &c.AppID, &c.OrderID, &bagID, &c.Field, &c.From, &c.To,
			&c.Trigger, &created); err != nil {
			return nil, interpretError(err, "scan status change")
		}
		c.BagID, c.DateCreated = bagID.Int64, fromMicros(created)
		out = append(out, &c)
	}
	return out, interpretError(rows.Err(), "find status changes")
}

// InsertEvents appends events, numbering each bag's events in sequence.
func (tx *Tx) InsertEvents(ctx context.Context, events []*tote.Event) error {
	for _, e := range events {
		if e.BagID != 0 {
			err := tx.tx.QueryRowContext(ctx,
				`UPDATE bags SET event_seq = event_seq + 1 WHERE id = ? RETURNING event_seq`,
				e.BagID).Scan(&e.Sequence)
			if err != nil {
				return interpretError(err, fmt.Sprintf("number event of bag %d", e.BagID))
			}
		}
		_, err := tx.tx.ExecContext(ctx, `
			INSERT INTO events (id, app_id, type, order_id, bag_id, sequence, bag_version,
				payload, date_created)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			e.ID, e.AppID, e.Type, e.OrderID, nullInt(e.BagID), e.Sequence, e.BagVersion,
			[]byte(e.Payload), micros(e.DateCreated))
		if err != nil {
			return interpretError(err, "insert event")
		}
	}
	return nil
}

func (r reader) FindEvents(ctx context.Context, orderID, bagID int64) ([]*tote.Event, error) {
	rows, err := r.q.QueryContext(ctx, `
		SELECT id, app_id, type, order_id, bag_id, sequence, bag_version, payload, date_created
		FROM events WHERE order_id = ? AND (? = 0 OR bag_id = ?)
		ORDER BY date_created, bag_id, sequence`, orderID, bagID, bagID)
	if err != nil {
		return nil, interpretError(err, "find events")
	}
	defer rows.Close()
	var out []*tote.Event
	for rows.Next() {
		var e tote.Event
		var bag sql.NullInt64
		var payload []byte
		var created int64
		if err := rows.Scan(&e.ID, &e.AppID, &e.Type, &e.OrderID, &bag, &e.Sequence,
			&e.BagVersion, &payload, &created); err != nil {
			return nil, interpretError(err, "scan event")
		}
		e.BagID, e.Payload, e.DateCreated = bag.Int64, payload, fromMicros(created)
		out = append(out, &e)
	}
	return out, interpretError(rows.Err(), "find events")
}
