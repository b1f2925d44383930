package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/toteorg/tote"
)

// CreateApp inserts a and sets its ID.
func (tx *Tx) CreateApp(ctx context.Context, a *tote.App) error {
	err := tx.tx.QueryRowContext(ctx, `
		INSERT INTO apps (name, secret_hash, commission_rate, webhook_key, date_created)
		VALUES (?, ?, ?, ?, ?) RETURNING id`,
		a.Name, a.SecretHash, a.CommissionRate, a.WebhookKey, micros(a.DateCreated)).Scan(&a.ID)
	if err != nil {
		return interpretError(err, "create app")
	}
	return nil
}

func (r reader) FindAppByID(ctx context.Context, id int64) (*tote.App, error) {
	var a tote.App
	var created int64
	err := r.q.QueryRowContext(ctx, `
		SELECT id, name, secret_hash, commission_rate, webhook_key, date_created FROM apps WHERE id = ?`, id).
		Scan(&a.ID, &a.Name, &a.SecretHash, &a.CommissionRate, &a.WebhookKey, &created)
	if err != nil {
		return nil, interpretError(err, fmt.Sprintf("find app %d", id))
	}
	a.DateCreated = fromMicros(created)
	return &a, nil
}

// CreateOrder inserts o, its bags and their SKU lines, and sets their IDs.
func (tx *Tx) CreateOrder(ctx context.Context, o *tote.Order) error {
	details, err := json.Marshal(o.Details)
	if err != nil {
		return err
	}
	err = tx.tx.QueryRowContext(ctx, `
		INSERT INTO orders (app_id, app_order_id, referral_id, idempotency_key, status, currency,
			sub_total, shipping_total, tax_total, discount_total, total, customer_email, details,
			payment_intent_client_secret, date_created, date_submitted, date_last_modified)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		o.AppID, o.AppOrderID, o.ReferralID, nullString(o.IdempotencyKey), o.Status, o.Currency,
		o.SubTotal, o.ShippingTotal, o.TaxTotal, o.DiscountTotal, o.Total, customerEmail(o), details,
		o.PaymentIntentClientSecret, micros(o.DateCreated), nullMicros(o.DateSubmitted),
		micros(o.DateLastModified)).Scan(&o.ID)
	if err != nil {
		return interpretError(err, "create order")
	}
	for _, b := range o.Bags {
		b.OrderID, b.AppID = o.ID, o.AppID
		shipping, err := json.Marshal(b.ShippingMethod)
		if err != nil {
			return err
		}
		err = tx.tx.QueryRowContext(ctx, `
			INSERT INTO bags (order_id, app_id, merchant_id, merchant_name, platform, reference,
				commission_rate, shipping_method, submit_attempts, status, financial_status,
				fulfillment_status, version, external_id, currency, sub_total, shipping_total,
				tax_total, discount_total, total, captured, refunded, event_seq, date_created,
				date_submitted, date_last_modified, date_last_consolidated)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			RETURNING id`,
			b.OrderID, b.AppID, b.MerchantID, b.MerchantName, b.Platform, b.Reference,
			b.CommissionRate, shipping, b.SubmitAttempts, b.Status, b.FinancialStatus,
			b.FulfillmentStatus, b.Version, b.ExternalID, b.Currency, b.SubTotal, b.ShippingTotal,
			b.TaxTotal, b.DiscountTotal, b.Total, b.Captured, b.Refunded, b.EventSeq,
			micros(b.DateCreated), nullMicros(b.DateSubmitted), micros(b.DateLastModified),
			nullMicros(b.DateLastConsolidated)).Scan(&b.ID)
		if err != nil {
			return interpretError(err, "create bag")
		}
		for _, l := range b.Skus {
			l.OrderID, l.BagID = o.ID, b.ID
			err := tx.tx.QueryRowContext(ctx, `
				INSERT INTO order_skus (order_id, bag_id, sku_id, merchant_id, name, quantity, price,
					line_price, quantity_fulfilled, quantity_refunded, status)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
				l.OrderID, l.BagID, l.SkuID, l.MerchantID, l.Name, l.Quantity, l.Price, l.LinePrice,
				l.QuantityFulfilled, l.QuantityRefunded, l.Status).Scan(&l.ID)
			if err != nil {
				return interpretError(err, "create order sku")
			}
		}
	}
	return tx.remember(o)
}

func customerEmail(o *tote.Order) string {
	if o.Details.Customer == nil {
		return ""
	}
	return strings.ToLower(o.Details.Customer.Email)
}

// The columns UpdateOrder and UpdateBag save. Each update sets only those
// whose value differs from the row as this transaction read or wrote it
// (LockOrder, CreateOrder): SQLite rewrites the entry of every index on a
// column an UPDATE sets, changed or not, and bags carry many indexes for
// search, while a status change touches two or three columns.
var (
	orderUpdateColumns = []string{"app_order_id", "referral_id", "status", "currency", "sub_total",
		"shipping_total", "tax_total", "discount_total", "total", "customer_email", "details",
		"payment_intent_client_secret", "date_submitted", "date_last_modified"}
	bagUpdateColumns = []string{"status", "financial_status", "fulfillment_status", "version",
		"external_id", "submit_attempts", "sub_total", "shipping_total", "tax_total", "discount_total",
		"total", "captured", "refunded", "date_submitted", "date_last_modified", "date_last_consolidated"}
)

func orderUpdateValues(o *tote.Order) ([]any, error) {
	details, err := json.Marshal(o.Details)
	if err != nil {
		return nil, err
	}
	return []any{o.AppOrderID, o.ReferralID, string(o.Status), o.Currency, o.SubTotal, o.ShippingTotal,
		o.TaxTotal, o.DiscountTotal, o.Total, customerEmail(o), details, o.PaymentIntentClientSecret,
		nullMicros(o.DateSubmitted), micros(o.DateLastModified)}, nil
}

func bagUpdateValues(b *tote.Bag) []any {
	return []any{string(b.Status), string(b.FinancialStatus), string(b.FulfillmentStatus), b.Version,
		b.ExternalID, int64(b.SubmitAttempts), b.SubTotal, b.ShippingTotal, b.TaxTotal, b.DiscountTotal,
		b.Total, b.Captured, b.Refunded, nullMicros(b.DateSubmitted), micros(b.DateLastModified),
		nullMicros(b.DateLastConsolidated)}
}

// changedSet is the SET list of the columns whose value differs from old
// (all of them when old is unknown), and their values.
func changedSet(columns []string, values, old []any) (string, []any) {
	var set strings.Builder
	var args []any
	for i, c := range columns {
		if old != nil && sameValue(values[i], old[i]) {
			continue
		}
		if set.Len() > 0 {
			set.WriteString(", ")
		}
		set.WriteString(c + " = ?")
		args = append(args, values[i])
	}
	return set.String(), args
}

func sameValue(a, b any) bool {
	if ab, ok := a.([]byte); ok {
		bb, ok := b.([]byte)
		return ok && bytes.Equal(ab, bb)
	}
	return a == b
}

// remember notes the row values of the order and bags as the transaction
// now holds them.
func (tx *Tx) remember(o *tote.Order) error {
	if tx.rows == nil {
		tx.rows = map[string][]any{}
	}
	vals, err := orderUpdateValues(o)
	if err != nil {
		return err
	}
	tx.rows[fmt.Sprint("order ", o.ID)] = vals
	for _, b := range o.Bags {
		tx.rows[fmt.Sprint("bag ", b.ID)] = bagUpdateValues(b)
	}
	return nil
}

// UpdateOrder saves o's status, totals, details, client secret and dates.
func (tx *Tx) UpdateOrder(ctx context.Context, o *tote.Order) error {
	vals, err := orderUpdateValues(o)
	if err != nil {
		return err
	}
	key := fmt.Sprint("order ", o.ID)
	return tx.updateChanged(ctx, "orders", key, o.ID, orderUpdateColumns, vals)
}

// UpdateBag saves b's statuses, version, external id, attempts, money and dates.
func (tx *Tx) UpdateBag(ctx context.Context, b *tote.Bag) error {
	key := fmt.Sprint("bag ", b.ID)
	return tx.updateChanged(ctx, "bags", key, b.ID, bagUpdateColumns, bagUpdateValues(b))
}

func (tx *Tx) updateChanged(ctx context.Context, table, key string, id int64, columns []string, vals []any) error {
	old := tx.rows[key]
	set, args := changedSet(columns, vals, old)
	if set == "" {
		return nil // the row holds these values already
	}
	res, err := tx.tx.ExecContext(ctx, `UPDATE `+table+` SET `+set+` WHERE id = ?`, append(args, id)...)
	if err := checkUpdated(res, err, fmt.Sprintf("update %s", key)); err != nil {
		return err
	}
	if tx.rows == nil {
		tx.rows = map[string][]any{}
	}
	tx.rows[key] = vals
	return nil
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

const orderColumns = `id, app_id, app_order_id, referral_id, idempotency_key, status, currency,
	sub_total, shipping_total, tax_total, discount_total, total, details,
	payment_intent_client_secret, date_created, date_submitted, date_last_modified`

func scanOrder(row interface{ Scan(...any) error }) (*tote.Order, error) {
	var o tote.Order
	var key sql.NullString
	var details []byte
	var created, modified int64
	var submitted sql.NullInt64
	if err := row.Scan(&o.ID, &o.AppID, &o.AppOrderID, &o.ReferralID, &key, &o.Status, &o.Currency,
		&o.SubTotal, &o.ShippingTotal, &o.TaxTotal, &o.DiscountTotal, &o.Total, &details,
		&o.PaymentIntentClientSecret, &created, &submitted, &modified); err != nil {
		return nil, err
	}
	if len(details) > 0 {
		if err := json.Unmarshal(details, &o.Details); err != nil {
			return nil, fmt.Errorf("order %d details: %w", o.ID, err)
		}
	}
	o.IdempotencyKey = key.String
	o.DateCreated, o.DateSubmitted, o.DateLastModified = fromMicros(created), fromNullMicros(submitted), fromMicros(modified)
	return &o, nil
}

func (r reader) FindOrderByID(ctx context.Context, id int64) (*tote.Order, error) {
	o, err := scanOrder(r.q.QueryRowContext(ctx, `SELECT `+orderColumns+` FROM orders WHERE id = ?`, id))
	if err != nil {
		return nil, interpretError(err, fmt.Sprintf("find order %d", id))
	}
	return o, r.loadOrder(ctx, o)
}

func (r reader) FindOrderByIdempotencyKey(ctx context.Context, appID int64, key string) (*tote.Order, error) {
	o, err := scanOrder(r.q.QueryRowContext(ctx,
		`SELECT `+orderColumns+` FROM orders WHERE app_id = ? AND idempotency_key = ?`, appID, key))
	if err != nil {
		return nil, interpretError(err, "find order by idempotency key")
	}
	return o, r.loadOrder(ctx, o)
}

// loadOrder reads the order's bags (with their SKU lines), errors and
// payment transactions.
func (r reader) loadOrder(ctx context.Context, o *tote.Order) error {
	bags, err := r.findBags(ctx, `WHERE order_id = ? ORDER BY id`, o.ID)
	if err != nil {
		return err
	}
	o.Bags = bags
	if err := r.loadSkus(ctx, bags, `WHERE order_id = ?`, o.ID); err != nil {
		return err
	}
	rows, err := r.q.QueryContext(ctx, `
		SELECT id, order_id, bag_id, entity_type, entity_id, type, message, external_platform, date_created
		FROM order_errors WHERE order_id = ? ORDER BY id`, o.ID)
	if err != nil {
		return interpretError(err, "find order errors")
	}
	defer rows.Close()
	for rows.Next() {
		var e tote.OrderError
		var bag sql.NullInt64
		var created int64
		if err := rows.Scan(&e.ID, &e.OrderID, &bag, &e.EntityType, &e.EntityID, &e.Type, &e.Message,
			&e.ExternalPlatform, &created); err != nil {
			return interpretError(err, "scan order error")
		}
		e.BagID, e.DateCreated = bag.Int64, fromMicros(created)
		o.Errors = append(o.Errors, &e)
	}
	if err := rows.Err(); err != nil {
		return interpretError(err, "find order errors")
	}
	o.Transactions, err = r.findTransactions(ctx, `WHERE order_id = ?`, o.ID)
	return err
}

// findTransactions reads the payment transactions selected by where.
func (r reader) findTransactions(ctx context.Context, where string, args ...any) ([]*tote.PaymentTransaction, error) {
	rows, err := r.q.QueryContext(ctx, `
		SELECT id, order_id, bag_id, type, amount, currency, status, payment_provider,
			payment_provider_transaction_id, date_created
		FROM payment_transactions `+where+` ORDER BY id`, args...)
	if err != nil {
		return nil, interpretError(err, "find payment transactions")
	}
	defer rows.Close()
	var out []*tote.PaymentTransaction
	for rows.Next() {
		var t tote.PaymentTransaction
		var bag sql.NullInt64
		var created int64
		if err := rows.Scan(&t.ID, &t.OrderID, &bag, &t.Type, &t.Amount, &t.Currency, &t.Status,
			&t.PaymentProvider, &t.PaymentProviderTransactionID, &created); err != nil {
			return nil, interpretError(err, "scan payment transaction")
		}
		t.BagID, t.DateCreated = bag.Int64, fromMicros(created)
		out = append(out, &t)
	}
	return out, interpretError(rows.Err(), "find payment transactions")
}

// loadSkus attaches the SKU lines selected by where to their bags.
func (r reader) loadSkus(ctx context.Context, bags []*tote.Bag, where string, args ...any) error {
	byID := make(map[int64]*tote.Bag, len(bags))
	for _, b := range bags {
		byID[b.ID] = b
	}
	rows, err := r.q.QueryContext(ctx, `
		SELECT id, order_id, bag_id, sku_id, merchant_id, name, quantity, price, line_price,
			quantity_fulfilled, quantity_refunded, status
		FROM order_skus `+where+` ORDER BY id`, args...)
	if err != nil {
		return interpretError(err, "find order skus")
	}
	defer rows.Close()
	for rows.Next() {
		var l tote.OrderSku
		if err := rows.Scan(&l.ID, &l.OrderID, &l.BagID, &l.SkuID, &l.MerchantID, &l.Name, &l.Quantity,
			&l.Price, &l.LinePrice, &l.QuantityFulfilled, &l.QuantityRefunded, &l.Status); err != nil {
			return interpretError(err, "scan order sku")
		}
		if b := byID[l.BagID]; b != nil {
			b.Skus = append(b.Skus, &l)
		}
	}
	return interpretError(rows.Err(), "find order skus")
}

const bagColumns = `id, order_id, app_id, merchant_id, merchant_name, platform, reference,
	commission_rate, shipping_method, submit_attempts, status, financial_status, fulfillment_status,
	version, external_id, currency, sub_total, shipping_total, tax_total, discount_total, total,
	captured, refunded, event_seq, date_created, date_submitted, date_last_modified,
	date_last_consolidated`

func (r reader) FindBagByID(ctx context.Context, id int64) (*tote.Bag, error) {
	bags, err := r.findBags(ctx, `WHERE id = ?`, id)
	if err != nil {
		return nil, err
	} else if len(bags) == 0 {
		return nil, interpretError(sql.ErrNoRows, fmt.Sprintf("find bag %d", id))
	}
	return bags[0], r.loadSkus(ctx, bags, `WHERE bag_id = ?`, id)
}

// LockOrder returns the order. The transaction already holds SQLite's
// write lock (BEGIN IMMEDIATE), so no other writer can change it meanwhile.
func (tx *Tx) LockOrder(ctx context.Context, id int64) (*tote.Order, error) {
	o, err := tx.FindOrderByID(ctx, id)
	if err != nil {
		return nil, err
	}
	return o, tx.remember(o)
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
		var shipping []byte
		var created, modified int64
		var submitted, consolidated sql.NullInt64
		if err := rows.Scan(&b.ID, &b.OrderID, &b.AppID, &b.MerchantID, &b.MerchantName, &b.Platform,
			&b.Reference, &b.CommissionRate, &shipping, &b.SubmitAttempts, &b.Status,
			&b.FinancialStatus, &b.FulfillmentStatus, &b.Version, &b.ExternalID, &b.Currency,
			&b.SubTotal, &b.ShippingTotal, &b.TaxTotal, &b.DiscountTotal, &b.Total, &b.Captured,
			&b.Refunded, &b.EventSeq, &created, &submitted, &modified, &consolidated); err != nil {
			return nil, interpretError(err, "scan bag")
		}
		if len(shipping) > 0 && string(shipping) != "null" {
			b.ShippingMethod = new(tote.BagShippingMethod)
			if err := json.Unmarshal(shipping, b.ShippingMethod); err != nil {
				return nil, fmt.Errorf("bag %d shipping method: %w", b.ID, err)
			}
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

// InsertOrderErrors appends errors to their order.
func (tx *Tx) InsertOrderErrors(ctx context.Context, errs []*tote.OrderError) error {
	for _, e := range errs {
		err := tx.tx.QueryRowContext(ctx, `
			INSERT INTO order_errors (order_id, bag_id, entity_type, entity_id, type, message,
				external_platform, date_created)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			e.OrderID, nullInt(e.BagID), e.EntityType, e.EntityID, e.Type, e.Message,
			e.ExternalPlatform, micros(e.DateCreated)).Scan(&e.ID)
		if err != nil {
			return interpretError(err, "insert order error")
		}
	}
	return nil
}

// InsertPaymentTransactions appends payment transactions.
func (tx *Tx) InsertPaymentTransactions(ctx context.Context, ts []*tote.PaymentTransaction) error {
	for _, t := range ts {
		err := tx.tx.QueryRowContext(ctx, `
			INSERT INTO payment_transactions (order_id, bag_id, type, amount, currency, status,
				payment_provider, payment_provider_transaction_id, date_created)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			t.OrderID, nullInt(t.BagID), t.Type, t.Amount, t.Currency, t.Status, t.PaymentProvider,
			t.PaymentProviderTransactionID, micros(t.DateCreated)).Scan(&t.ID)
		if err != nil {
			return interpretError(err, "insert payment transaction")
		}
	}
	return nil
}

// InsertStatusChanges appends changes to the audit trail, a statement per
// maxRowsPerInsert of them. The ids of one statement's rows rise in the
// order the rows are given, so the ids read back, sorted, are the changes'
// in order.
func (tx *Tx) InsertStatusChanges(ctx context.Context, changes []*tote.StatusChange) error {
	for len(changes) > 0 {
		part := changes[:min(len(changes), maxRowsPerInsert)]
		changes = changes[len(part):]
		var q strings.Builder
		q.WriteString(`INSERT INTO status_changes (app_id, order_id, bag_id, field, from_status, to_status,
			trigger, date_created) VALUES `)
		args := make([]any, 0, 8*len(part))
		for i, c := range part {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteString("(?, ?, ?, ?, ?, ?, ?, ?)")
			args = append(args, c.AppID, c.OrderID, nullInt(c.BagID), c.Field, c.From, c.To, c.Trigger, micros(c.DateCreated))
		}
		q.WriteString(" RETURNING id")
		rows, err := tx.tx.QueryContext(ctx, q.String(), args...)
		if err != nil {
			return interpretError(err, "insert status changes")
		}
		ids, err := scanIDs(rows)
		if err != nil {
			return interpretError(err, "insert status changes")
		}
		for i, c := range part {
			c.ID = ids[i]
		}
	}
	return nil
}

// maxRowsPerInsert bounds a multi-row INSERT well under SQLite's limit of
// 32,766 parameters.
const maxRowsPerInsert = 500

// scanIDs reads a column of ids, sorted.
func scanIDs(rows *sql.Rows) ([]int64, error) {
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids, rows.Err()
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

// InsertEvents appends events, numbering each bag's events in sequence:
// one statement per bag takes the bag's next numbers, one inserts them all.
func (tx *Tx) InsertEvents(ctx context.Context, events []*tote.Event) error {
	if len(events) == 0 {
		return nil
	}
	if err := tote.NumberEvents(events, func(bagID, n int64) (int64, error) {
		var last int64
		err := tx.tx.QueryRowContext(ctx, `UPDATE bags SET event_seq = event_seq + ? WHERE id = ? RETURNING event_seq`,
			n, bagID).Scan(&last)
		return last, interpretError(err, fmt.Sprintf("number events of bag %d", bagID))
	}); err != nil {
		return err
	}
	subs, err := tx.subscribers(ctx, events)
	if err != nil {
		return err
	}
	for rest := events; len(rest) > 0; {
		part := rest[:min(len(rest), maxRowsPerInsert)]
		rest = rest[len(part):]
		var q strings.Builder
		q.WriteString(`INSERT INTO events (id, app_id, type, order_id, bag_id, sequence, bag_version, payload,
			date_created) VALUES `)
		args := make([]any, 0, 9*len(part))
		for i, e := range part {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?)")
			var payload []byte
			if subs.Receives(e) {
				payload = e.Payload
			}
			args = append(args, e.ID, e.AppID, e.Type, e.OrderID, nullInt(e.BagID), e.Sequence, e.BagVersion,
				payload, micros(e.DateCreated))
		}
		if _, err := tx.tx.ExecContext(ctx, q.String(), args...); err != nil {
			return interpretError(err, "insert events")
		}
	}
	return tx.fanOut(ctx, events, subs)
}

func (r reader) FindEvents(ctx context.Context, orderID, bagID int64) ([]*tote.Event, error) {
	rows, err := r.q.QueryContext(ctx, `
		SELECT id, app_id, type, order_id, bag_id, sequence, bag_version, payload, date_created
		FROM events WHERE order_id = ? AND (? = 0 OR bag_id = ?)
		ORDER BY date_created, bag_id NULLS FIRST, sequence`, orderID, bagID, bagID)
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
