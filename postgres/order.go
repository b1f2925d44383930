package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/toteorg/tote"
)

// CreateApp inserts a and sets its ID.
func (tx *Tx) CreateApp(ctx context.Context, a *tote.App) error {
	err := tx.tx.QueryRow(ctx, `
		INSERT INTO apps (name, secret_hash, commission_rate, webhook_key, date_created)
		VALUES ($1, $2, $3, $4, $5) RETURNING id`,
		a.Name, a.SecretHash, a.CommissionRate, a.WebhookKey, a.DateCreated).Scan(&a.ID)
	return interpretError(err, "create app")
}

func (r reader) FindAppByID(ctx context.Context, id int64) (*tote.App, error) {
	var a tote.App
	err := r.q.QueryRow(ctx, `
		SELECT id, name, secret_hash, commission_rate, webhook_key, date_created FROM apps WHERE id = $1`, id).
		Scan(&a.ID, &a.Name, &a.SecretHash, &a.CommissionRate, &a.WebhookKey, &a.DateCreated)
	if err != nil {
		return nil, interpretError(err, fmt.Sprintf("find app %d", id))
	}
	a.DateCreated = a.DateCreated.UTC()
	return &a, nil
}

// CreateOrder inserts o, its bags and their SKU lines, and sets their IDs.
func (tx *Tx) CreateOrder(ctx context.Context, o *tote.Order) error {
	details, err := json.Marshal(o.Details)
	if err != nil {
		return err
	}
	err = tx.tx.QueryRow(ctx, `
		INSERT INTO orders (app_id, app_order_id, referral_id, idempotency_key, status, currency,
			sub_total, shipping_total, tax_total, discount_total, total, customer_email, details,
			payment_intent_client_secret, date_created, date_submitted, date_last_modified)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) RETURNING id`,
		o.AppID, o.AppOrderID, o.ReferralID, nullString(o.IdempotencyKey), o.Status, o.Currency,
		o.SubTotal, o.ShippingTotal, o.TaxTotal, o.DiscountTotal, o.Total, customerEmail(o), details,
		o.PaymentIntentClientSecret, o.DateCreated, o.DateSubmitted, o.DateLastModified).Scan(&o.ID)
	if err != nil {
		return interpretError(err, "create order")
	}
	for _, b := range o.Bags {
		b.OrderID, b.AppID = o.ID, o.AppID
		shipping, err := json.Marshal(b.ShippingMethod)
		if err != nil {
			return err
		}
		err = tx.tx.QueryRow(ctx, `
			INSERT INTO bags (order_id, app_id, merchant_id, merchant_name, platform, reference,
				commission_rate, shipping_method, submit_attempts, status, financial_status,
				fulfillment_status, version, external_id, currency, sub_total, shipping_total,
				tax_total, discount_total, total, captured, refunded, event_seq, date_created,
				date_submitted, date_last_modified, date_last_consolidated)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
				$19, $20, $21, $22, $23, $24, $25, $26, $27)
			RETURNING id`,
			b.OrderID, b.AppID, b.MerchantID, b.MerchantName, b.Platform, b.Reference,
			b.CommissionRate, shipping, b.SubmitAttempts, b.Status, b.FinancialStatus,
			b.FulfillmentStatus, b.Version, b.ExternalID, b.Currency, b.SubTotal, b.ShippingTotal,
			b.TaxTotal, b.DiscountTotal, b.Total, b.Captured, b.Refunded, b.EventSeq,
			b.DateCreated, b.DateSubmitted, b.DateLastModified, b.DateLastConsolidated).Scan(&b.ID)
		if err != nil {
			return interpretError(err, "create bag")
		}
		for _, l := range b.Skus {
			l.OrderID, l.BagID = o.ID, b.ID
			err := tx.tx.QueryRow(ctx, `
				INSERT INTO order_skus (order_id, bag_id, sku_id, merchant_id, name, quantity, price,
					line_price, quantity_fulfilled, quantity_refunded, status)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id`,
				l.OrderID, l.BagID, l.SkuID, l.MerchantID, l.Name, l.Quantity, l.Price, l.LinePrice,
				l.QuantityFulfilled, l.QuantityRefunded, l.Status).Scan(&l.ID)
			if err != nil {
				return interpretError(err, "create order sku")
			}
		}
	}
	return nil
}

func customerEmail(o *tote.Order) string {
	if o.Details.Customer == nil {
		return ""
	}
	return strings.ToLower(o.Details.Customer.Email)
}

// UpdateOrder saves o's status, totals, details, client secret and dates.
func (tx *Tx) UpdateOrder(ctx context.Context, o *tote.Order) error {
	details, err := json.Marshal(o.Details)
	if err != nil {
		return err
	}
	tag, err := tx.tx.Exec(ctx, `
		UPDATE orders SET app_order_id = $1, referral_id = $2, status = $3, currency = $4,
			sub_total = $5, shipping_total = $6, tax_total = $7, discount_total = $8, total = $9,
			customer_email = $10, details = $11, payment_intent_client_secret = $12,
			date_submitted = $13, date_last_modified = $14
		WHERE id = $15`,
		o.AppOrderID, o.ReferralID, o.Status, o.Currency, o.SubTotal, o.ShippingTotal, o.TaxTotal,
		o.DiscountTotal, o.Total, customerEmail(o), details, o.PaymentIntentClientSecret,
		o.DateSubmitted, o.DateLastModified, o.ID)
	if err == nil && tag.RowsAffected() == 0 {
		err = pgx.ErrNoRows
	}
	return interpretError(err, fmt.Sprintf("update order %d", o.ID))
}

// UpdateBag saves b's statuses, version, external id, attempts, money and dates.
func (tx *Tx) UpdateBag(ctx context.Context, b *tote.Bag) error {
	tag, err := tx.tx.Exec(ctx, `
		UPDATE bags SET status = $1, financial_status = $2, fulfillment_status = $3, version = $4,
			external_id = $5, submit_attempts = $6, sub_total = $7, shipping_total = $8,
			tax_total = $9, discount_total = $10, total = $11, captured = $12, refunded = $13,
			date_submitted = $14, date_last_modified = $15, date_last_consolidated = $16
		WHERE id = $17`,
		b.Status, b.FinancialStatus, b.FulfillmentStatus, b.Version, b.ExternalID, b.SubmitAttempts,
		b.SubTotal, b.ShippingTotal, b.TaxTotal, b.DiscountTotal, b.Total, b.Captured, b.Refunded,
		b.DateSubmitted, b.DateLastModified, b.DateLastConsolidated, b.ID)
	if err == nil && tag.RowsAffected() == 0 {
		err = pgx.ErrNoRows
	}
	return interpretError(err, fmt.Sprintf("update bag %d", b.ID))
}

const orderColumns = `id, app_id, app_order_id, referral_id, idempotency_key, status, currency,
	sub_total, shipping_total, tax_total, discount_total, total, details,
	payment_intent_client_secret, date_created, date_submitted, date_last_modified`

func scanOrder(row pgx.Row) (*tote.Order, error) {
	var o tote.Order
	var key *string
	var details []byte
	if err := row.Scan(&o.ID, &o.AppID, &o.AppOrderID, &o.ReferralID, &key, &o.Status, &o.Currency,
		&o.SubTotal, &o.ShippingTotal, &o.TaxTotal, &o.DiscountTotal, &o.Total, &details,
		&o.PaymentIntentClientSecret, &o.DateCreated, &o.DateSubmitted, &o.DateLastModified); err != nil {
		return nil, err
	}
	if len(details) > 0 {
		if err := json.Unmarshal(details, &o.Details); err != nil {
			return nil, fmt.Errorf("order %d details: %w", o.ID, err)
		}
	}
	if key != nil {
		o.IdempotencyKey = *key
	}
	o.DateCreated, o.DateSubmitted, o.DateLastModified = o.DateCreated.UTC(), utc(o.DateSubmitted), o.DateLastModified.UTC()
	return &o, nil
}

func (r reader) FindOrderByID(ctx context.Context, id int64) (*tote.Order, error) {
	o, err := scanOrder(r.q.QueryRow(ctx, `SELECT `+orderColumns+` FROM orders WHERE id = $1`, id))
	if err != nil {
		return nil, interpretError(err, fmt.Sprintf("find order %d", id))
	}
	return o, r.loadOrder(ctx, o)
}

func (r reader) FindOrderByIdempotencyKey(ctx context.Context, appID int64, key string) (*tote.Order, error) {
	o, err := scanOrder(r.q.QueryRow(ctx,
		`SELECT `+orderColumns+` FROM orders WHERE app_id = $1 AND idempotency_key = $2`, appID, key))
	if err != nil {
		return nil, interpretError(err, "find order by idempotency key")
	}
	return o, r.loadOrder(ctx, o)
}

// loadOrder reads the order's bags (with their SKU lines), errors and
// payment transactions.
func (r reader) loadOrder(ctx context.Context, o *tote.Order) error {
	bags, err := r.findBags(ctx, `WHERE order_id = $1 ORDER BY id`, o.ID)
	if err != nil {
		return err
	}
	o.Bags = bags
	if err := r.loadSkus(ctx, bags, `WHERE order_id = $1`, o.ID); err != nil {
		return err
	}
	rows, err := r.q.Query(ctx, orderErrorsSQL, o.ID)
	if err != nil {
		return interpretError(err, "find order errors")
	}
	for rows.Next() {
		var e tote.OrderError
		var bag *int64
		if err := rows.Scan(&e.ID, &e.OrderID, &bag, &e.EntityType, &e.EntityID, &e.Type, &e.Message,
			&e.ExternalPlatform, &e.DateCreated); err != nil {
			rows.Close()
			return interpretError(err, "scan order error")
		}
		if bag != nil {
			e.BagID = *bag
		}
		e.DateCreated = e.DateCreated.UTC()
		o.Errors = append(o.Errors, &e)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return interpretError(err, "find order errors")
	}
	o.Transactions, err = r.findTransactions(ctx, `WHERE order_id = $1`, o.ID)
	return err
}

const orderErrorsSQL = `
		SELECT id, order_id, bag_id, entity_type, entity_id, type, message, external_platform, date_created
		FROM order_errors WHERE order_id = $1 ORDER BY id`

func transactionsSQL(where string) string {
	return `
		SELECT id, order_id, bag_id, type, amount, currency, status, payment_provider,
			payment_provider_transaction_id, date_created
		FROM payment_transactions ` + where + ` ORDER BY id`
}

func skusSQL(where string) string {
	return `
		SELECT id, order_id, bag_id, sku_id, merchant_id, name, quantity, price, line_price,
			quantity_fulfilled, quantity_refunded, status
		FROM order_skus ` + where + ` ORDER BY id`
}

func bagsSQL(where string) string { return `SELECT ` + bagColumns + ` FROM bags ` + where }

// findTransactions reads the payment transactions selected by where.
func (r reader) findTransactions(ctx context.Context, where string, args ...any) ([]*tote.PaymentTransaction, error) {
	rows, err := r.q.Query(ctx, transactionsSQL(where), args...)
	if err != nil {
		return nil, interpretError(err, "find payment transactions")
	}
	defer rows.Close()
	var out []*tote.PaymentTransaction
	for rows.Next() {
		var t tote.PaymentTransaction
		var bag *int64
		if err := rows.Scan(&t.ID, &t.OrderID, &bag, &t.Type, &t.Amount, &t.Currency, &t.Status,
			&t.PaymentProvider, &t.PaymentProviderTransactionID, &t.DateCreated); err != nil {
			return nil, interpretError(err, "scan payment transaction")
		}
		if bag != nil {
			t.BagID = *bag
		}
		t.DateCreated = t.DateCreated.UTC()
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
	rows, err := r.q.Query(ctx, skusSQL(where), args...)
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
	bags, err := r.findBags(ctx, `WHERE id = $1`, id)
	if err != nil {
		return nil, err
	} else if len(bags) == 0 {
		return nil, interpretError(pgx.ErrNoRows, fmt.Sprintf("find bag %d", id))
	}
	return bags[0], r.loadSkus(ctx, bags, `WHERE bag_id = $1`, id)
}

// LockOrder reads the order with FOR UPDATE: another writer of the same
// order waits until this transaction ends, then sees its result.
func (tx *Tx) LockOrder(ctx context.Context, id int64) (*tote.Order, error) {
	return readOrder(ctx, tx.tx, id, true, false)
}

func (r reader) findBags(ctx context.Context, where string, args ...any) ([]*tote.Bag, error) {
	rows, err := r.q.Query(ctx, bagsSQL(where), args...)
	if err != nil {
		return nil, interpretError(err, "find bags")
	}
	defer rows.Close()
	var bags []*tote.Bag
	for rows.Next() {
		var b tote.Bag
		var shipping []byte
		if err := rows.Scan(&b.ID, &b.OrderID, &b.AppID, &b.MerchantID, &b.MerchantName, &b.Platform,
			&b.Reference, &b.CommissionRate, &shipping, &b.SubmitAttempts, &b.Status,
			&b.FinancialStatus, &b.FulfillmentStatus, &b.Version, &b.ExternalID, &b.Currency,
			&b.SubTotal, &b.ShippingTotal, &b.TaxTotal, &b.DiscountTotal, &b.Total, &b.Captured,
			&b.Refunded, &b.EventSeq, &b.DateCreated, &b.DateSubmitted, &b.DateLastModified,
			&b.DateLastConsolidated); err != nil {
			return nil, interpretError(err, "scan bag")
		}
		if len(shipping) > 0 && string(shipping) != "null" {
			b.ShippingMethod = new(tote.BagShippingMethod)
			if err := json.Unmarshal(shipping, b.ShippingMethod); err != nil {
				return nil, fmt.Errorf("bag %d shipping method: %w", b.ID, err)
			}
		}
		b.DateCreated, b.DateSubmitted = b.DateCreated.UTC(), utc(b.DateSubmitted)
		b.DateLastModified, b.DateLastConsolidated = b.DateLastModified.UTC(), utc(b.DateLastConsolidated)
		bags = append(bags, &b)
	}
	return bags, interpretError(rows.Err(), "find bags")
}

// InsertOrderErrors appends errors to their order.
func (tx *Tx) InsertOrderErrors(ctx context.Context, errs []*tote.OrderError) error {
	for _, e := range errs {
		err := tx.tx.QueryRow(ctx, `
			INSERT INTO order_errors (order_id, bag_id, entity_type, entity_id, type, message,
				external_platform, date_created)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
			e.OrderID, nullInt(e.BagID), e.EntityType, e.EntityID, e.Type, e.Message,
			e.ExternalPlatform, e.DateCreated).Scan(&e.ID)
		if err != nil {
			return interpretError(err, "insert order error")
		}
	}
	return nil
}

// InsertPaymentTransactions appends payment transactions.
func (tx *Tx) InsertPaymentTransactions(ctx context.Context, ts []*tote.PaymentTransaction) error {
	for _, t := range ts {
		err := tx.tx.QueryRow(ctx, `
			INSERT INTO payment_transactions (order_id, bag_id, type, amount, currency, status,
				payment_provider, payment_provider_transaction_id, date_created)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
			t.OrderID, nullInt(t.BagID), t.Type, t.Amount, t.Currency, t.Status, t.PaymentProvider,
			t.PaymentProviderTransactionID, t.DateCreated).Scan(&t.ID)
		if err != nil {
			return interpretError(err, "insert payment transaction")
		}
	}
	return nil
}

// InsertStatusChanges appends changes to the audit trail, a statement per
// maxRowsPerInsert of them. The ids one statement draws from the sequence
// rise in the order its rows are given, so the ids read back, sorted, are
// the changes' in order.
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
			q.WriteString(placeholders(len(args), 8))
			args = append(args, c.AppID, c.OrderID, nullInt(c.BagID), c.Field, c.From, c.To, c.Trigger, c.DateCreated)
		}
		q.WriteString(" RETURNING id")
		rows, err := tx.tx.Query(ctx, q.String(), args...)
		if err != nil {
			return interpretError(err, "insert status changes")
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return interpretError(err, "insert status changes")
		}
		slices.Sort(ids)
		for i, c := range part {
			c.ID = ids[i]
		}
	}
	return nil
}

// maxRowsPerInsert bounds a multi-row INSERT well under PostgreSQL's limit
// of 65,535 parameters.
const maxRowsPerInsert = 500

// placeholders is "($n+1, …, $n+k)".
func placeholders(n, k int) string {
	var b strings.Builder
	b.WriteByte('(')
	for i := 1; i <= k; i++ {
		if i > 1 {
			b.WriteString(", ")
		}
		b.WriteString("$" + strconv.Itoa(n+i))
	}
	b.WriteByte(')')
	return b.String()
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

// InsertEvents appends events, numbering each bag's events in sequence:
// one statement per bag takes the bag's next numbers, one inserts them all.
func (tx *Tx) InsertEvents(ctx context.Context, events []*tote.Event) error {
	if len(events) == 0 {
		return nil
	}
	if err := tote.NumberEvents(events, func(bagID, n int64) (int64, error) {
		var last int64
		err := tx.tx.QueryRow(ctx, `UPDATE bags SET event_seq = event_seq + $1 WHERE id = $2 RETURNING event_seq`,
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
			var payload []byte
			if len(e.Payload) > 0 && subs.Receives(e) {
				payload = e.Payload
			}
			q.WriteString(placeholders(len(args), 9))
			args = append(args, e.ID, e.AppID, e.Type, e.OrderID, nullInt(e.BagID), e.Sequence, e.BagVersion,
				payload, e.DateCreated)
		}
		if _, err := tx.tx.Exec(ctx, q.String(), args...); err != nil {
			return interpretError(err, "insert events")
		}
	}
	return tx.fanOut(ctx, events, subs)
}

func (r reader) FindEvents(ctx context.Context, orderID, bagID int64) ([]*tote.Event, error) {
	rows, err := r.q.Query(ctx, `
		SELECT id, app_id, type, order_id, bag_id, sequence, bag_version, payload, date_created
		FROM events WHERE order_id = $1 AND ($2 = 0 OR bag_id = $2)
		ORDER BY date_created, bag_id NULLS FIRST, sequence`, orderID, bagID)
	if err != nil {
		return nil, interpretError(err, "find events")
	}
	defer rows.Close()
	var out []*tote.Event
	for rows.Next() {
		var e tote.Event
		var bag *int64
		var payload []byte
		if err := rows.Scan(&e.ID, &e.AppID, &e.Type, &e.OrderID, &bag, &e.Sequence,
			&e.BagVersion, &payload, &e.DateCreated); err != nil {
			return nil, interpretError(err, "scan event")
		}
		if bag != nil {
			e.BagID = *bag
		}
		e.Payload = payload
		e.DateCreated = e.DateCreated.UTC()
		out = append(out, &e)
	}
	return out, interpretError(rows.Err(), "find events")
}
