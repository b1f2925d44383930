package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/toteorg/tote"
)

// Webhook subscriptions, their deliveries and the bag streams that keep a
// subscription's deliveries of one bag in order. SQLite has one writer, so
// the stream counters need no locking beyond the transaction itself.

const webhookColumns = `id, app_id, event, remote_endpoint, status, signing_secret, ordered,
	paused_until, pause_level, date_created, date_last_modified`

func scanWebhook(row interface{ Scan(...any) error }) (*tote.Webhook, error) {
	var w tote.Webhook
	var paused sql.NullInt64
	var created, modified int64
	if err := row.Scan(&w.ID, &w.AppID, &w.Event, &w.RemoteEndpoint, &w.Status, &w.SigningSecret,
		&w.Ordered, &paused, &w.PauseLevel, &created, &modified); err != nil {
		return nil, err
	}
	w.PausedUntil, w.DateCreated, w.DateLastModified = fromNullMicros(paused), fromMicros(created), fromMicros(modified)
	return &w, nil
}

// CreateWebhook inserts w and sets its ID.
func (tx *Tx) CreateWebhook(ctx context.Context, w *tote.Webhook) error {
	err := tx.tx.QueryRowContext(ctx, `
		INSERT INTO webhooks (app_id, event, remote_endpoint, status, signing_secret, ordered,
			paused_until, pause_level, date_created, date_last_modified)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		w.AppID, w.Event, w.RemoteEndpoint, w.Status, w.SigningSecret, w.Ordered,
		nullMicros(w.PausedUntil), w.PauseLevel, micros(w.DateCreated), micros(w.DateLastModified)).Scan(&w.ID)
	return interpretError(err, "create webhook")
}

// UpdateWebhook saves every field but ID, AppID and DateCreated.
func (tx *Tx) UpdateWebhook(ctx context.Context, w *tote.Webhook) error {
	res, err := tx.tx.ExecContext(ctx, `
		UPDATE webhooks SET event = ?, remote_endpoint = ?, status = ?, signing_secret = ?, ordered = ?,
			paused_until = ?, pause_level = ?, date_last_modified = ?
		WHERE id = ?`,
		w.Event, w.RemoteEndpoint, w.Status, w.SigningSecret, w.Ordered, nullMicros(w.PausedUntil),
		w.PauseLevel, micros(w.DateLastModified), w.ID)
	return checkUpdated(res, err, fmt.Sprintf("update webhook %d", w.ID))
}

// DeleteWebhook removes a subscription with its deliveries and attempts.
func (tx *Tx) DeleteWebhook(ctx context.Context, id int64) error {
	for _, q := range []string{
		`DELETE FROM webhook_delivery_attempts WHERE webhook_id = ?`,
		`DELETE FROM webhook_deliveries WHERE webhook_id = ?`,
		`DELETE FROM webhook_streams WHERE webhook_id = ?`,
	} {
		if _, err := tx.tx.ExecContext(ctx, q, id); err != nil {
			return interpretError(err, fmt.Sprintf("delete webhook %d", id))
		}
	}
	res, err := tx.tx.ExecContext(ctx, `DELETE FROM webhooks WHERE id = ?`, id)
	return checkUpdated(res, err, fmt.Sprintf("delete webhook %d", id))
}

// LockWebhook returns the subscription; the transaction already holds
// SQLite's write lock.
func (tx *Tx) LockWebhook(ctx context.Context, id int64) (*tote.Webhook, error) {
	return tx.FindWebhookByID(ctx, id)
}

// SetAppWebhookKey stores the key an app's deliveries are signed with.
func (tx *Tx) SetAppWebhookKey(ctx context.Context, appID int64, key []byte) error {
	res, err := tx.tx.ExecContext(ctx, `UPDATE apps SET webhook_key = ? WHERE id = ?`, key, appID)
	return checkUpdated(res, err, fmt.Sprintf("set webhook key of app %d", appID))
}

func (r reader) FindWebhookByID(ctx context.Context, id int64) (*tote.Webhook, error) {
	w, err := scanWebhook(r.q.QueryRowContext(ctx, `SELECT `+webhookColumns+` FROM webhooks WHERE id = ?`, id))
	if err != nil {
		return nil, interpretError(err, fmt.Sprintf("find webhook %d", id))
	}
	return w, nil
}

func (r reader) FindWebhooks(ctx context.Context, appID int64, page tote.Page) ([]*tote.Webhook, int64, error) {
	var total int64
	if err := r.q.QueryRowContext(ctx, `SELECT count(*) FROM webhooks WHERE app_id = ?`, appID).Scan(&total); err != nil {
		return nil, 0, interpretError(err, "count webhooks")
	}
	rows, err := r.q.QueryContext(ctx, `SELECT `+webhookColumns+` FROM webhooks WHERE app_id = ?
		ORDER BY id LIMIT ? OFFSET ?`, appID, page.Size, page.Offset())
	if err != nil {
		return nil, 0, interpretError(err, "find webhooks")
	}
	defer rows.Close()
	out := []*tote.Webhook{}
	for rows.Next() {
		w, err := scanWebhook(rows)
		if err != nil {
			return nil, 0, interpretError(err, "scan webhook")
		}
		out = append(out, w)
	}
	return out, total, interpretError(rows.Err(), "find webhooks")
}

// deliveryColumns lists a delivery's columns, each prefixed (e.g. "d.").
func deliveryColumns(prefix string) string {
	cols := []string{"id", "webhook_id", "app_id", "event_id", "source_event_id", "event_type", "order_id",
		"bag_id", "bag_version", "sequence", "status", "in_stream", "waiting", "attempts", "status_code",
		"last_error", "resend_of", "date_created", "date_last_modified", "date_next_attempt", "transaction_id"}
	for i, c := range cols {
		cols[i] = prefix + c
	}
	return strings.Join(cols, ", ")
}

// deliveryDest returns the scan destinations of deliveryColumns and a
// function that finishes d once scanned.
func deliveryDest(d *tote.Delivery) ([]any, func()) {
	var bag, resendOf, next, transaction sql.NullInt64
	var created, modified int64
	dest := []any{&d.ID, &d.WebhookID, &d.AppID, &d.EventID, &d.SourceEventID, &d.EventType, &d.OrderID,
		&bag, &d.BagVersion, &d.Sequence, &d.Status, &d.InStream, &d.Waiting, &d.Attempts, &d.StatusCode,
		&d.LastError, &resendOf, &created, &modified, &next, &transaction}
	return dest, func() {
		d.BagID, d.ResendOf, d.TransactionID = bag.Int64, resendOf.Int64, transaction.Int64
		d.DateCreated, d.DateLastModified, d.DateNextAttempt = fromMicros(created), fromMicros(modified), fromNullMicros(next)
	}
}

func scanDelivery(row interface{ Scan(...any) error }) (*tote.Delivery, error) {
	var d tote.Delivery
	dest, finish := deliveryDest(&d)
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	finish()
	return &d, nil
}

func (r reader) FindDeliveryByID(ctx context.Context, id int64) (*tote.Delivery, error) {
	d, err := scanDelivery(r.q.QueryRowContext(ctx, `SELECT `+deliveryColumns("")+` FROM webhook_deliveries WHERE id = ?`, id))
	if err != nil {
		return nil, interpretError(err, fmt.Sprintf("find delivery %d", id))
	}
	return d, nil
}

func (r reader) FindDeliveryByEventID(ctx context.Context, webhookID int64, eventID string) (*tote.Delivery, error) {
	d, err := scanDelivery(r.q.QueryRowContext(ctx, `SELECT `+deliveryColumns("")+` FROM webhook_deliveries
		WHERE webhook_id = ? AND event_id = ?`, webhookID, eventID))
	if err != nil {
		return nil, interpretError(err, fmt.Sprintf("find delivery of event %s", eventID))
	}
	return d, nil
}

func (r reader) FindDeliveries(ctx context.Context, webhookID int64, page tote.Page) ([]*tote.Delivery, int64, error) {
	var total int64
	if err := r.q.QueryRowContext(ctx, `SELECT count(*) FROM webhook_deliveries WHERE webhook_id = ?`, webhookID).Scan(&total); err != nil {
		return nil, 0, interpretError(err, "count deliveries")
	}
	rows, err := r.q.QueryContext(ctx, `SELECT `+deliveryColumns("")+` FROM webhook_deliveries
		WHERE webhook_id = ? ORDER BY id DESC LIMIT ? OFFSET ?`, webhookID, page.Size, page.Offset())
	if err != nil {
		return nil, 0, interpretError(err, "find deliveries")
	}
	defer rows.Close()
	out := []*tote.Delivery{}
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, 0, interpretError(err, "scan delivery")
		}
		out = append(out, d)
	}
	return out, total, interpretError(rows.Err(), "find deliveries")
}

func (r reader) FindDeliveryAttempts(ctx context.Context, deliveryIDs []int64) ([]*tote.DeliveryAttempt, error) {
	if len(deliveryIDs) == 0 {
		return nil, nil
	}
	// Failed attempts have rows; the successful one is the delivery's own
	// record.
	rows, err := r.q.QueryContext(ctx, `
		SELECT delivery_id, webhook_id, attempt, status_code, error, succeeded, duration_us, date_created
		FROM webhook_delivery_attempts WHERE delivery_id IN (SELECT value FROM json_each(?))
		UNION ALL
		SELECT id, webhook_id, attempts, status_code, '', 1, duration_us, date_last_modified
		FROM webhook_deliveries WHERE id IN (SELECT value FROM json_each(?)) AND status = 'SUCCEEDED'
		ORDER BY 1, 3`, jsonIDs(deliveryIDs), jsonIDs(deliveryIDs))
	if err != nil {
		return nil, interpretError(err, "find delivery attempts")
	}
	defer rows.Close()
	var out []*tote.DeliveryAttempt
	for rows.Next() {
		var a tote.DeliveryAttempt
		var duration, created int64
		if err := rows.Scan(&a.DeliveryID, &a.WebhookID, &a.Attempt, &a.StatusCode, &a.Error, &a.Succeeded,
			&duration, &created); err != nil {
			return nil, interpretError(err, "scan delivery attempt")
		}
		a.Duration, a.DateCreated = time.Duration(duration)*time.Microsecond, fromMicros(created)
		out = append(out, &a)
	}
	return out, interpretError(rows.Err(), "find delivery attempts")
}

// jsonIDs is ids as a JSON array, for json_each: one statement (one
// prepared plan) whatever the number of ids.
func jsonIDs(ids []int64) string {
	b := make([]byte, 0, len(ids)*8+2)
	b = append(b, '[')
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, id, 10)
	}
	return string(append(b, ']'))
}

func (r reader) FindEventByID(ctx context.Context, id string) (*tote.Event, error) {
	var e tote.Event
	var bag sql.NullInt64
	var payload []byte
	var created int64
	err := r.q.QueryRowContext(ctx, `
		SELECT id, app_id, type, order_id, bag_id, sequence, bag_version, payload, date_created
		FROM events WHERE id = ?`, id).Scan(&e.ID, &e.AppID, &e.Type, &e.OrderID, &bag, &e.Sequence,
		&e.BagVersion, &payload, &created)
	if err != nil {
		return nil, interpretError(err, fmt.Sprintf("find event %s", id))
	}
	e.BagID, e.Payload, e.DateCreated = bag.Int64, payload, fromMicros(created)
	return &e, nil
}

// ClaimDeliveries claims due deliveries and reads each with its
// subscription, body and app key.
func (s *Store) ClaimDeliveries(ctx context.Context, p tote.ClaimDeliveriesParams) ([]*tote.DeliveryToSend, error) {
	var out []*tote.DeliveryToSend
	until := micros(p.Now.Add(p.Lease))
	err := s.inWriteTx(ctx, func(tx *Tx) error {
		out = out[:0]
		per := p.Limit
		if p.PerSubscription > 0 {
			per = p.PerSubscription
		}
		rows, err := tx.tx.QueryContext(ctx, sqlClaimDeliveries, until, micros(p.Now), micros(p.Now), jsonIDs(p.Skip), micros(p.Now), p.Limit, per)
		if err != nil {
			return interpretError(err, "claim deliveries")
		}
		var ids []int64
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return interpretError(err, "claim deliveries")
			}
			ids = append(ids, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil || len(ids) == 0 {
			return interpretError(err, "claim deliveries")
		}
		rows, err = tx.tx.QueryContext(ctx, sqlDeliveriesToSend, jsonIDs(ids))
		if err != nil {
			return interpretError(err, "read deliveries to send")
		}
		defer rows.Close()
		for rows.Next() {
			ds, err := scanDeliveryToSend(rows)
			if err != nil {
				return interpretError(err, "read deliveries to send")
			}
			out = append(out, ds)
		}
		return interpretError(rows.Err(), "read deliveries to send")
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func scanDeliveryToSend(row interface{ Scan(...any) error }) (*tote.DeliveryToSend, error) {
	var out tote.DeliveryToSend
	out.Delivery = new(tote.Delivery)
	dest, finish := deliveryDest(out.Delivery)
	var w tote.Webhook
	var paused sql.NullInt64
	var wCreated, wModified int64
	dest = append(dest, &w.ID, &w.AppID, &w.Event, &w.RemoteEndpoint, &w.Status, &w.SigningSecret,
		&w.Ordered, &paused, &w.PauseLevel, &wCreated, &wModified, &out.Body, &out.AppWebhookKey, &out.Claim)
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	finish()
	w.PausedUntil, w.DateCreated, w.DateLastModified = fromNullMicros(paused), fromMicros(wCreated), fromMicros(wModified)
	out.Webhook = &w
	return &out, nil
}

// ExtendDeliveryLeases moves the claims that are still current to until.
func (s *Store) ExtendDeliveryLeases(ctx context.Context, claims []tote.DeliveryClaim, until time.Time) error {
	rows := make([][]any, len(claims))
	for i, c := range claims {
		rows[i] = []any{c.DeliveryID, c.Claim}
	}
	arg, err := json.Marshal(rows)
	if err != nil {
		return err
	}
	_, err = s.execWrite(ctx, "extend delivery leases", `
		UPDATE webhook_deliveries SET lease_until = ?
		FROM json_each(?) j
		WHERE webhook_deliveries.id = j.value->>0 AND webhook_deliveries.claim_token = j.value->>1
			AND webhook_deliveries.lease_until IS NOT NULL`,
		micros(until), string(arg))
	return err
}

// DeliveryStats counts the deliveries due and not claimed, and ages the
// oldest.
func (s *Store) DeliveryStats(ctx context.Context, now time.Time) (tote.DeliveryStats, error) {
	var st tote.DeliveryStats
	var oldest sql.NullInt64
	err := s.q.QueryRowContext(ctx, `SELECT count(*), min(due_at) FROM webhook_deliveries
		WHERE due_at <= ? AND (lease_until IS NULL OR lease_until <= ?)`,
		micros(now), micros(now)).Scan(&st.Due, &oldest)
	if err != nil {
		return st, interpretError(err, "delivery stats")
	}
	if oldest.Valid {
		st.OldestDue = max(now.Sub(fromMicros(oldest.Int64)), 0)
	}
	return st, nil
}

// A claim sets the delivery's lease: it is skipped until the lease ends
// (then, if no outcome was recorded, it is due again). Only lease_until
// changes, which no index holds, so a claim rewrites no index entry; the
// deliveries in flight stay at the head of the due index and are stepped
// over.
//
// Of the first Limit due deliveries, at most PerSubscription of each
// subscription are taken (row_number over the candidates only, so the
// claim never reads past them).
const sqlClaimDeliveries = `
	UPDATE webhook_deliveries SET lease_until = ?, claim_token = claim_token + 1
	WHERE id IN (SELECT id FROM (
			SELECT id, row_number() OVER (PARTITION BY webhook_id ORDER BY due_at, id) AS nth
			FROM (SELECT id, webhook_id, due_at FROM webhook_deliveries
				WHERE due_at <= ? AND (lease_until IS NULL OR lease_until <= ?)
					AND webhook_id NOT IN (SELECT value FROM json_each(?))
					AND webhook_id NOT IN (SELECT id FROM webhooks WHERE paused_until > ?)
				ORDER BY due_at, id LIMIT ? + 0))
		WHERE nth <= ?)
	RETURNING id`

var sqlDeliveriesToSend = `
		SELECT ` + deliveryColumns("d.") + `, w.id, w.app_id, w.event, w.remote_endpoint, w.status,
			w.signing_secret, w.ordered, w.paused_until, w.pause_level, w.date_created,
			w.date_last_modified, e.payload, a.webhook_key, d.claim_token
		FROM webhook_deliveries d
		JOIN webhooks w ON w.id = d.webhook_id
		JOIN apps a ON a.id = d.app_id
		LEFT JOIN events e ON e.id = d.source_event_id
		WHERE d.id IN (SELECT value FROM json_each(?))
		ORDER BY d.id`

// The writes of fan-out and of recording outcomes, prepared (prepared.go).
const (
	sqlActiveSubscriptions = `SELECT id, event, ordered, paused_until FROM webhooks WHERE app_id = ? AND status = 'ACTIVE' ORDER BY id`
	sqlStreamAdd           = `
		INSERT INTO webhook_streams (webhook_id, bag_id, pending) VALUES (?, ?, ?)
		ON CONFLICT (webhook_id, bag_id) DO UPDATE SET pending = pending + excluded.pending
		RETURNING pending`
	sqlInsertDelivery = `
		INSERT INTO webhook_deliveries (webhook_id, app_id, event_id, source_event_id, event_type,
			order_id, bag_id, bag_version, sequence, status, in_stream, waiting, attempts, status_code,
			last_error, resend_of, date_created, date_last_modified, date_next_attempt, due_at, transaction_id)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`
	// Outcomes are recorded a batch per statement: each statement reads
	// the batch as a JSON array of rows (json_each), so a batch of any size
	// is one prepared statement and one step.
	//
	// A turn ends the claim: the delivery is due at its next attempt, or
	// never again once final. Fenced by attempts and status: a delivery
	// another worker recorded meanwhile is not returned.
	// Row: [id, attempts, status, sent, status_code, set_error, error,
	// duration_us, now, next_attempt, claim].
	sqlRecordDeliveries = `
		UPDATE webhook_deliveries SET status = j.value->>2, attempts = attempts + (j.value->>3),
			status_code = CASE WHEN j.value->>3 THEN j.value->>4 ELSE status_code END,
			last_error = CASE WHEN j.value->>5 THEN j.value->>6 ELSE last_error END,
			duration_us = CASE WHEN j.value->>3 THEN j.value->>7 ELSE duration_us END,
			date_last_modified = j.value->>8, date_next_attempt = j.value->>9, due_at = j.value->>9,
			lease_until = CASE WHEN j.value->>10 IN (0, claim_token) THEN NULL ELSE lease_until END
		FROM json_each(?) j
		WHERE webhook_deliveries.id = j.value->>0 AND webhook_deliveries.attempts = j.value->>1
			AND webhook_deliveries.status IN ('CREATED', 'IN_PROGRESS')
		RETURNING webhook_deliveries.id, webhook_deliveries.webhook_id, webhook_deliveries.bag_id,
			webhook_deliveries.in_stream`
	// Row: [id, attempts, due_at, claim].
	sqlPostponeDeliveries = `
		UPDATE webhook_deliveries SET due_at = j.value->>2, date_next_attempt = j.value->>2, lease_until = NULL
		FROM json_each(?) j
		WHERE webhook_deliveries.id = j.value->>0 AND webhook_deliveries.attempts = j.value->>1
			AND webhook_deliveries.status IN ('CREATED', 'IN_PROGRESS')
			AND j.value->>3 IN (0, webhook_deliveries.claim_token)
		RETURNING webhook_deliveries.id`
	// Row: [delivery_id, webhook_id, attempt, status_code, error,
	// duration_us, date_created].
	sqlInsertAttempts = `
		INSERT INTO webhook_delivery_attempts (delivery_id, webhook_id, attempt, status_code, error,
			succeeded, duration_us, date_created)
		SELECT j.value->>0, j.value->>1, j.value->>2, j.value->>3, j.value->>4, 0, j.value->>5, j.value->>6
		FROM json_each(?) j`
	// Streams, row: [webhook_id, bag_id] (and now, to start the next).
	// Most often a stream held only the delivery that ended: it goes.
	sqlStreamsDeleteLast = `
		DELETE FROM webhook_streams WHERE pending = 1
			AND (webhook_id, bag_id) IN (SELECT j.value->>0, j.value->>1 FROM json_each(?) j)
		RETURNING webhook_id, bag_id`
	sqlStreamsEnd = `
		UPDATE webhook_streams SET pending = pending - 1
		FROM json_each(?) j
		WHERE webhook_streams.webhook_id = j.value->>0 AND webhook_streams.bag_id = j.value->>1
		RETURNING webhook_streams.webhook_id, webhook_streams.bag_id, webhook_streams.pending`
	sqlStreamDelete = `DELETE FROM webhook_streams WHERE webhook_id = ? AND bag_id = ? AND pending <= 0`
	sqlStreamsNext  = `
		UPDATE webhook_deliveries SET waiting = 0, date_last_modified = j.value->>2,
			-- due now, or when its subscription's pause ends
			date_next_attempt = max(j.value->>2, coalesce(w.paused_until, 0)),
			due_at = max(j.value->>2, coalesce(w.paused_until, 0))
		FROM json_each(?) j JOIN webhooks w ON w.id = j.value->>0
		WHERE webhook_deliveries.id = (SELECT d.id FROM webhook_deliveries d
			WHERE d.webhook_id = j.value->>0 AND d.bag_id = j.value->>1 AND d.waiting = 1
			ORDER BY d.sequence, d.id LIMIT 1)`
	sqlResetPauses = `UPDATE webhooks SET pause_level = 0 WHERE id = ? AND pause_level > 0`
)

// CreateDelivery inserts a delivery outside any stream, due at once.
func (tx *Tx) CreateDelivery(ctx context.Context, d *tote.Delivery) error {
	d.InStream, d.Waiting = false, false
	if d.DateNextAttempt == nil {
		due := d.DateCreated
		d.DateNextAttempt = &due
	}
	return tx.insertDelivery(ctx, d)
}

func (tx *Tx) insertDelivery(ctx context.Context, d *tote.Delivery) error {
	err := tx.tx.QueryRowContext(ctx, sqlInsertDelivery,
		d.WebhookID, d.AppID, d.EventID, d.SourceEventID, d.EventType, d.OrderID, nullInt(d.BagID),
		d.BagVersion, d.Sequence, d.Status, d.InStream, d.Waiting, d.Attempts, d.StatusCode, d.LastError,
		nullInt(d.ResendOf), micros(d.DateCreated), micros(d.DateLastModified), nullMicros(d.DateNextAttempt),
		nullMicros(d.DateNextAttempt), nullInt(d.TransactionID)).Scan(&d.ID)
	if err == nil && d.DateNextAttempt != nil {
		tx.insertedJobs = true // wake the local dispatcher after the commit
	}
	return interpretError(err, "insert delivery")
}

// subscribers reads the ACTIVE subscriptions of the events' apps.
func (tx *Tx) subscribers(ctx context.Context, events []*tote.Event) (tote.Subscribers, error) {
	subs := tote.Subscribers{}
	for _, e := range events {
		if _, ok := subs[e.AppID]; ok {
			continue
		}
		rows, err := tx.tx.QueryContext(ctx, sqlActiveSubscriptions, e.AppID)
		if err != nil {
			return nil, interpretError(err, "find subscriptions")
		}
		list := []tote.Subscriber{}
		for rows.Next() {
			var s tote.Subscriber
			var paused sql.NullInt64
			if err := rows.Scan(&s.WebhookID, &s.Event, &s.Ordered, &paused); err != nil {
				rows.Close()
				return nil, interpretError(err, "scan subscription")
			}
			s.PausedUntil = fromNullMicros(paused)
			list = append(list, s)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, interpretError(err, "find subscriptions")
		}
		subs[e.AppID] = list
	}
	return subs, nil
}

// fanOut creates the deliveries of newly inserted events
// (tote.PlanFanOut): one per ACTIVE subscription of the event's app and
// type (subs). A delivery in a bag stream that already has pending
// deliveries waits (not due) for its turn.
func (tx *Tx) fanOut(ctx context.Context, events []*tote.Event, subs tote.Subscribers) error {
	plan, err := tote.PlanFanOut(events, subs, func(adds []*tote.StreamAdd) error {
		for _, a := range adds {
			var pending int64
			err := tx.tx.QueryRowContext(ctx, sqlStreamAdd, a.Stream.WebhookID, a.Stream.BagID, a.Added).Scan(&pending)
			if err != nil {
				return interpretError(err, "count delivery into its stream")
			}
			a.Before = pending - a.Added
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, d := range plan {
		if err := tx.insertDelivery(ctx, d); err != nil {
			return err
		}
	}
	return nil
}

// RecordDeliveryOutcomes records turns of deliveries in one transaction.
func (s *Store) RecordDeliveryOutcomes(ctx context.Context, outcomes []tote.DeliveryOutcome) ([]tote.DeliveryResult, error) {
	var results []tote.DeliveryResult
	err := s.inWriteTx(ctx, func(tx *Tx) (err error) {
		results, err = tx.recordOutcomes(ctx, outcomes)
		return err
	})
	if err != nil {
		return nil, err
	}
	return results, nil
}

func (tx *Tx) recordOutcomes(ctx context.Context, outcomes []tote.DeliveryOutcome) ([]tote.DeliveryResult, error) {
	results := make([]tote.DeliveryResult, len(outcomes))
	// One outcome per delivery: a second one in the same batch (a worker
	// that lost its claim, and the one that took it over) is reported not
	// recorded, as the fence would have it after the first.
	first := make(map[int64]int, len(outcomes))
	var postponed, turns [][]any
	for i, o := range outcomes {
		if _, dup := first[o.DeliveryID]; dup {
			continue
		}
		first[o.DeliveryID] = i
		if o.Postpone {
			postponed = append(postponed, []any{o.DeliveryID, o.Attempts, micros(o.NextAttempt), o.Claim})
			continue
		}
		var next any
		if o.Status == tote.DeliveryStatusInProgress {
			next = micros(o.NextAttempt)
		}
		turns = append(turns, []any{o.DeliveryID, o.Attempts, o.Status, flag(o.Sent), o.StatusCode,
			flag(o.Sent || o.Error != ""), o.Error, o.Duration.Microseconds(), micros(o.Now), next, o.Claim})
	}
	if len(postponed) > 0 {
		err := tx.queryJSON(ctx, "postpone deliveries", sqlPostponeDeliveries, postponed, func(rows *sql.Rows) error {
			var id int64
			if err := rows.Scan(&id); err != nil {
				return err
			}
			results[first[id]].Recorded = true
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	if len(turns) == 0 {
		return results, nil
	}
	var ended [][]any              // [webhook, bag, now] of final deliveries in a stream
	var attempts [][]any           // failed attempts
	byWebhook := map[int64][]int{} // subscription → its recorded outcomes
	err := tx.queryJSON(ctx, "record delivery outcomes", sqlRecordDeliveries, turns, func(rows *sql.Rows) error {
		var id, webhook int64
		var bag sql.NullInt64
		var inStream bool
		if err := rows.Scan(&id, &webhook, &bag, &inStream); err != nil {
			return err
		}
		i := first[id]
		o := outcomes[i]
		results[i].Recorded = true
		byWebhook[webhook] = append(byWebhook[webhook], i)
		if o.Sent && !o.Succeeded {
			attempts = append(attempts, []any{o.DeliveryID, webhook, o.Attempts + 1, o.StatusCode, o.Error,
				o.Duration.Microseconds(), micros(o.Now)})
		}
		if o.Status.Final() && inStream {
			ended = append(ended, []any{webhook, bag.Int64, micros(o.Now)})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(attempts) > 0 {
		if err := tx.execJSON(ctx, "insert delivery attempts", sqlInsertAttempts, attempts); err != nil {
			return nil, err
		}
	}
	if err := tx.endStreamTurns(ctx, ended); err != nil {
		return nil, err
	}
	// Subscription health, in subscription order.
	webhooks := make([]int64, 0, len(byWebhook))
	for id := range byWebhook {
		webhooks = append(webhooks, id)
	}
	slices.Sort(webhooks)
	for _, id := range webhooks {
		slices.Sort(byWebhook[id]) // the batch's order
		if err := tx.webhookHealth(ctx, id, byWebhook[id], outcomes, results); err != nil {
			return nil, err
		}
	}
	return results, nil
}

// endStreamTurns counts each ended delivery ([webhook, bag, now]) out of
// its stream, and starts the next waiting delivery of the streams that
// have one.
func (tx *Tx) endStreamTurns(ctx context.Context, ended [][]any) error {
	if len(ended) == 0 {
		return nil
	}
	gone := map[tote.StreamKey]bool{}
	err := tx.queryJSON(ctx, "end streams", sqlStreamsDeleteLast, ended, func(rows *sql.Rows) error {
		var k tote.StreamKey
		if err := rows.Scan(&k.WebhookID, &k.BagID); err != nil {
			return err
		}
		gone[k] = true
		return nil
	})
	if err != nil || len(gone) == len(ended) {
		return err
	}
	var rest [][]any
	for _, e := range ended {
		if !gone[tote.StreamKey{WebhookID: e[0].(int64), BagID: e[1].(int64)}] {
			rest = append(rest, e)
		}
	}
	var empty []tote.StreamKey
	waiting := map[tote.StreamKey]bool{}
	err = tx.queryJSON(ctx, "end stream turns", sqlStreamsEnd, rest, func(rows *sql.Rows) error {
		var k tote.StreamKey
		var pending int64
		if err := rows.Scan(&k.WebhookID, &k.BagID, &pending); err != nil {
			return err
		}
		if pending <= 0 {
			empty = append(empty, k)
		} else {
			waiting[k] = true
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, k := range empty {
		if _, err := tx.tx.ExecContext(ctx, sqlStreamDelete, k.WebhookID, k.BagID); err != nil {
			return interpretError(err, "end stream")
		}
	}
	var next [][]any
	for _, e := range rest {
		if waiting[tote.StreamKey{WebhookID: e[0].(int64), BagID: e[1].(int64)}] {
			next = append(next, e)
		}
	}
	if len(next) == 0 {
		return nil
	}
	if err := tx.execJSON(ctx, "start next deliveries of streams", sqlStreamsNext, next); err != nil {
		return err
	}
	tx.insertedJobs = true // wake the local dispatcher after the commit
	return nil
}

// queryJSON runs a statement over rows passed as one JSON array, calling
// scan for each row it returns.
func (tx *Tx) queryJSON(ctx context.Context, what, query string, rows [][]any, scan func(*sql.Rows) error) error {
	arg, err := json.Marshal(rows)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	res, err := tx.tx.QueryContext(ctx, query, string(arg))
	if err != nil {
		return interpretError(err, what)
	}
	defer res.Close()
	for res.Next() {
		if err := scan(res); err != nil {
			return interpretError(err, what)
		}
	}
	return interpretError(res.Err(), what)
}

// execJSON runs a statement over rows passed as one JSON array.
func (tx *Tx) execJSON(ctx context.Context, what, query string, rows [][]any) error {
	arg, err := json.Marshal(rows)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	_, err = tx.tx.ExecContext(ctx, query, string(arg))
	return interpretError(err, what)
}

// flag is b as 0 or 1, for JSON rows.
func flag(b bool) int {
	if b {
		return 1
	}
	return 0
}

// webhookHealth applies the recorded outcomes of one subscription to it:
// a 410 disables it, a success restarts its pause ladder, and failures past
// the policy pause it.
func (tx *Tx) webhookHealth(ctx context.Context, id int64, indexes []int, outcomes []tote.DeliveryOutcome, results []tote.DeliveryResult) error {
	succeeded, failed, disable := health(indexes, outcomes)
	if disable < 0 && succeeded < 0 && failed < 0 {
		return nil
	}
	if disable >= 0 {
		res, err := tx.tx.ExecContext(ctx, `UPDATE webhooks SET status = 'DISABLED', date_last_modified = ?
			WHERE id = ? AND status = 'ACTIVE'`, micros(outcomes[disable].Now), id)
		if err != nil {
			return interpretError(err, "disable webhook")
		}
		n, _ := res.RowsAffected()
		results[disable].Disabled = n == 1
		return nil
	}
	if succeeded >= 0 {
		if _, err := tx.tx.ExecContext(ctx, sqlResetPauses, id); err != nil {
			return interpretError(err, "reset webhook pauses")
		}
		return nil
	}
	var status tote.WebhookStatus
	var paused sql.NullInt64
	var level int
	err := tx.tx.QueryRowContext(ctx, `SELECT status, paused_until, pause_level FROM webhooks WHERE id = ?`, id).
		Scan(&status, &paused, &level)
	if err == sql.ErrNoRows {
		return nil
	} else if err != nil {
		return interpretError(err, "read webhook health")
	}
	o := outcomes[failed]
	if status != tote.WebhookStatusActive || paused.Valid && paused.Int64 > micros(o.Now) {
		return nil // paused already
	}
	since := micros(o.Now.Add(-o.Pause.Window))
	if paused.Valid && paused.Int64 > since {
		since = paused.Int64 // count only failures since the last pause ended
	}
	var n int
	err = tx.tx.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT 1 FROM webhook_delivery_attempts
		WHERE webhook_id = ? AND succeeded = 0 AND date_created >= ? LIMIT ?)`,
		id, since, o.Pause.Failures+1).Scan(&n)
	if err != nil {
		return interpretError(err, "count endpoint failures")
	}
	if n <= o.Pause.Failures {
		return nil
	}
	if level > 0 && paused.Valid {
		// A success since the last pause ended restarts the ladder (as its
		// reset did; on PostgreSQL that reset may be skipped).
		var ok bool
		if err := tx.tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM webhook_deliveries
			WHERE webhook_id = ? AND status = 'SUCCEEDED' AND date_last_modified >= ?)`, id, paused.Int64).Scan(&ok); err != nil {
			return interpretError(err, "find a success since the last pause")
		} else if ok {
			level = 0
		}
	}
	if level >= len(o.Pause.Pauses) {
		if _, err := tx.tx.ExecContext(ctx, `UPDATE webhooks SET status = 'DISABLED', date_last_modified = ?
			WHERE id = ?`, micros(o.Now), id); err != nil {
			return interpretError(err, "disable webhook")
		}
		results[failed].Disabled = true
		return nil
	}
	until := o.Now.Add(o.Pause.Pauses[level])
	if _, err := tx.tx.ExecContext(ctx, `UPDATE webhooks SET paused_until = ?, pause_level = ? WHERE id = ?`,
		micros(until), level+1, id); err != nil {
		return interpretError(err, "pause webhook")
	}
	// Its waiting deliveries are due when the pause ends (claims skip a
	// paused subscription; this keeps them out of the claims' way). Those
	// being sent keep their claim.
	if _, err := tx.tx.ExecContext(ctx, `UPDATE webhook_deliveries SET due_at = ?1, date_next_attempt = ?1
		WHERE webhook_id = ?2 AND due_at < ?1 AND (lease_until IS NULL OR lease_until <= ?3)`,
		micros(until), id, micros(o.Now)); err != nil {
		return interpretError(err, "put off the paused webhook's deliveries")
	}
	results[failed].PausedUntil = &until
	return nil
}

// health picks, among one subscription's recorded outcomes, the last one
// that disables it, the last success, and the last failure subject to a
// pause policy (-1 when there is none).
func health(indexes []int, outcomes []tote.DeliveryOutcome) (succeeded, failed, disable int) {
	succeeded, failed, disable = -1, -1, -1
	for _, i := range indexes {
		switch o := outcomes[i]; {
		case !o.Sent:
		case o.DisableWebhook:
			disable = i
		case o.Succeeded:
			succeeded = i
		case o.Pause != nil:
			failed = i
		}
	}
	return succeeded, failed, disable
}

// PruneDeliveries deletes old attempts and old final deliveries, a batch
// at a time so the writer is never held long.
func (s *Store) PruneDeliveries(ctx context.Context, before time.Time) (int64, error) {
	var total int64
	for _, q := range []string{
		`DELETE FROM webhook_delivery_attempts WHERE rowid IN (
			SELECT rowid FROM webhook_delivery_attempts WHERE date_created < ? LIMIT 5000)`,
		`DELETE FROM webhook_deliveries WHERE id IN (
			SELECT id FROM webhook_deliveries WHERE status IN ('SUCCEEDED', 'FAILED', 'CANCELLED')
				AND date_last_modified < ? LIMIT 5000)`,
	} {
		for {
			n, err := s.execWrite(ctx, "prune deliveries", q, micros(before))
			if err != nil {
				return total, err
			}
			total += n
			if n < 5000 {
				break
			}
		}
	}
	return total, nil
}

// WakeDeliveries makes a subscription's unfinished deliveries that were
// put off (and are not being sent) due now.
func (tx *Tx) WakeDeliveries(ctx context.Context, webhookID int64, now time.Time) (int64, error) {
	res, err := tx.tx.ExecContext(ctx, `
		UPDATE webhook_deliveries SET due_at = ?1, date_next_attempt = ?1
		WHERE webhook_id = ?2 AND due_at > ?1 AND (lease_until IS NULL OR lease_until <= ?1)`,
		micros(now), webhookID)
	if err != nil {
		return 0, interpretError(err, "wake deliveries")
	}
	n, err := res.RowsAffected()
	if n > 0 {
		tx.insertedJobs = true
	}
	return n, err
}
