package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/toteorg/tote"
)

// Webhook subscriptions, their deliveries and the bag streams that keep a
// subscription's deliveries of one bag in order. A stream's row is updated
// both by the fan-out (in the event's transaction) and by the end of a
// delivery (handing the turn on), so the row lock serializes the two: a
// delivery that starts waiting is always seen by the turn that ends before
// it. Transactions take stream rows in (subscription, bag) order.

const webhookColumns = `id, app_id, event, remote_endpoint, status, signing_secret, ordered,
	paused_until, pause_level, date_created, date_last_modified`

func webhookDest(w *tote.Webhook) []any {
	return []any{&w.ID, &w.AppID, &w.Event, &w.RemoteEndpoint, &w.Status, &w.SigningSecret,
		&w.Ordered, &w.PausedUntil, &w.PauseLevel, &w.DateCreated, &w.DateLastModified}
}

func finishWebhook(w *tote.Webhook) {
	w.PausedUntil, w.DateCreated, w.DateLastModified = utc(w.PausedUntil), w.DateCreated.UTC(), w.DateLastModified.UTC()
}

func scanWebhook(row pgx.Row) (*tote.Webhook, error) {
	var w tote.Webhook
	if err := row.Scan(webhookDest(&w)...); err != nil {
		return nil, err
	}
	finishWebhook(&w)
	return &w, nil
}

// CreateWebhook inserts w and sets its ID.
func (tx *Tx) CreateWebhook(ctx context.Context, w *tote.Webhook) error {
	err := tx.tx.QueryRow(ctx, `
		INSERT INTO webhooks (app_id, event, remote_endpoint, status, signing_secret, ordered,
			paused_until, pause_level, date_created, date_last_modified)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id`,
		w.AppID, w.Event, w.RemoteEndpoint, w.Status, w.SigningSecret, w.Ordered,
		w.PausedUntil, w.PauseLevel, w.DateCreated, w.DateLastModified).Scan(&w.ID)
	return interpretError(err, "create webhook")
}

// UpdateWebhook saves every field but ID, AppID and DateCreated.
func (tx *Tx) UpdateWebhook(ctx context.Context, w *tote.Webhook) error {
	tag, err := tx.tx.Exec(ctx, `
		UPDATE webhooks SET event = $1, remote_endpoint = $2, status = $3, signing_secret = $4,
			ordered = $5, paused_until = $6, pause_level = $7, date_last_modified = $8
		WHERE id = $9`,
		w.Event, w.RemoteEndpoint, w.Status, w.SigningSecret, w.Ordered, w.PausedUntil, w.PauseLevel,
		w.DateLastModified, w.ID)
	if err == nil && tag.RowsAffected() == 0 {
		err = pgx.ErrNoRows
	}
	return interpretError(err, fmt.Sprintf("update webhook %d", w.ID))
}

// DeleteWebhook removes a subscription with its deliveries and attempts.
func (tx *Tx) DeleteWebhook(ctx context.Context, id int64) error {
	for _, q := range []string{
		`DELETE FROM webhook_delivery_attempts WHERE webhook_id = $1`,
		`DELETE FROM webhook_deliveries WHERE webhook_id = $1`,
		`DELETE FROM webhook_streams WHERE webhook_id = $1`,
	} {
		if _, err := tx.tx.Exec(ctx, q, id); err != nil {
			return interpretError(err, fmt.Sprintf("delete webhook %d", id))
		}
	}
	tag, err := tx.tx.Exec(ctx, `DELETE FROM webhooks WHERE id = $1`, id)
	if err == nil && tag.RowsAffected() == 0 {
		err = pgx.ErrNoRows
	}
	return interpretError(err, fmt.Sprintf("delete webhook %d", id))
}

// LockWebhook returns the subscription, locked (SELECT … FOR UPDATE).
func (tx *Tx) LockWebhook(ctx context.Context, id int64) (*tote.Webhook, error) {
	w, err := scanWebhook(tx.tx.QueryRow(ctx, `SELECT `+webhookColumns+` FROM webhooks WHERE id = $1 FOR UPDATE`, id))
	if err != nil {
		return nil, interpretError(err, fmt.Sprintf("lock webhook %d", id))
	}
	return w, nil
}

// SetAppWebhookKey stores the key an app's deliveries are signed with.
func (tx *Tx) SetAppWebhookKey(ctx context.Context, appID int64, key []byte) error {
	tag, err := tx.tx.Exec(ctx, `UPDATE apps SET webhook_key = $1 WHERE id = $2`, key, appID)
	if err == nil && tag.RowsAffected() == 0 {
		err = pgx.ErrNoRows
	}
	return interpretError(err, fmt.Sprintf("set webhook key of app %d", appID))
}

func (r reader) FindWebhookByID(ctx context.Context, id int64) (*tote.Webhook, error) {
	w, err := scanWebhook(r.q.QueryRow(ctx, `SELECT `+webhookColumns+` FROM webhooks WHERE id = $1`, id))
	if err != nil {
		return nil, interpretError(err, fmt.Sprintf("find webhook %d", id))
	}
	return w, nil
}

func (r reader) FindWebhooks(ctx context.Context, appID int64, page tote.Page) ([]*tote.Webhook, int64, error) {
	var total int64
	if err := r.q.QueryRow(ctx, `SELECT count(*) FROM webhooks WHERE app_id = $1`, appID).Scan(&total); err != nil {
		return nil, 0, interpretError(err, "count webhooks")
	}
	rows, err := r.q.Query(ctx, `SELECT `+webhookColumns+` FROM webhooks WHERE app_id = $1
		ORDER BY id LIMIT $2 OFFSET $3`, appID, page.Size, page.Offset())
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
	var bag, resendOf, transaction *int64
	dest := []any{&d.ID, &d.WebhookID, &d.AppID, &d.EventID, &d.SourceEventID, &d.EventType, &d.OrderID,
		&bag, &d.BagVersion, &d.Sequence, &d.Status, &d.InStream, &d.Waiting, &d.Attempts, &d.StatusCode,
		&d.LastError, &resendOf, &d.DateCreated, &d.DateLastModified, &d.DateNextAttempt, &transaction}
	return dest, func() {
		if bag != nil {
			d.BagID = *bag
		}
		if transaction != nil {
			d.TransactionID = *transaction
		}
		if resendOf != nil {
			d.ResendOf = *resendOf
		}
		d.DateCreated, d.DateLastModified, d.DateNextAttempt = d.DateCreated.UTC(), d.DateLastModified.UTC(), utc(d.DateNextAttempt)
	}
}

func scanDelivery(row pgx.Row) (*tote.Delivery, error) {
	var d tote.Delivery
	dest, finish := deliveryDest(&d)
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	finish()
	return &d, nil
}

func (r reader) FindDeliveryByID(ctx context.Context, id int64) (*tote.Delivery, error) {
	d, err := scanDelivery(r.q.QueryRow(ctx, `SELECT `+deliveryColumns("")+` FROM webhook_deliveries WHERE id = $1`, id))
	if err != nil {
		return nil, interpretError(err, fmt.Sprintf("find delivery %d", id))
	}
	return d, nil
}

func (r reader) FindDeliveryByEventID(ctx context.Context, webhookID int64, eventID string) (*tote.Delivery, error) {
	d, err := scanDelivery(r.q.QueryRow(ctx, `SELECT `+deliveryColumns("")+` FROM webhook_deliveries
		WHERE webhook_id = $1 AND event_id = $2`, webhookID, eventID))
	if err != nil {
		return nil, interpretError(err, fmt.Sprintf("find delivery of event %s", eventID))
	}
	return d, nil
}

func (r reader) FindDeliveries(ctx context.Context, webhookID int64, page tote.Page) ([]*tote.Delivery, int64, error) {
	var total int64
	if err := r.q.QueryRow(ctx, `SELECT count(*) FROM webhook_deliveries WHERE webhook_id = $1`, webhookID).Scan(&total); err != nil {
		return nil, 0, interpretError(err, "count deliveries")
	}
	rows, err := r.q.Query(ctx, `SELECT `+deliveryColumns("")+` FROM webhook_deliveries
		WHERE webhook_id = $1 ORDER BY id DESC LIMIT $2 OFFSET $3`, webhookID, page.Size, page.Offset())
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
	rows, err := r.q.Query(ctx, `
		SELECT delivery_id, webhook_id, attempt, status_code, error, succeeded, duration_us, date_created
		FROM webhook_delivery_attempts WHERE delivery_id = ANY($1)
		UNION ALL
		SELECT id, webhook_id, attempts, status_code, '', TRUE, duration_us, date_last_modified
		FROM webhook_deliveries WHERE id = ANY($1) AND status = 'SUCCEEDED'
		ORDER BY 1, 3`, deliveryIDs)
	if err != nil {
		return nil, interpretError(err, "find delivery attempts")
	}
	defer rows.Close()
	var out []*tote.DeliveryAttempt
	for rows.Next() {
		var a tote.DeliveryAttempt
		var duration int64
		if err := rows.Scan(&a.DeliveryID, &a.WebhookID, &a.Attempt, &a.StatusCode, &a.Error, &a.Succeeded,
			&duration, &a.DateCreated); err != nil {
			return nil, interpretError(err, "scan delivery attempt")
		}
		a.Duration, a.DateCreated = time.Duration(duration)*time.Microsecond, a.DateCreated.UTC()
		out = append(out, &a)
	}
	return out, interpretError(rows.Err(), "find delivery attempts")
}

func (r reader) FindEventByID(ctx context.Context, id string) (*tote.Event, error) {
	var e tote.Event
	var bag *int64
	var payload []byte
	err := r.q.QueryRow(ctx, `
		SELECT id, app_id, type, order_id, bag_id, sequence, bag_version, payload, date_created
		FROM events WHERE id = $1`, id).Scan(&e.ID, &e.AppID, &e.Type, &e.OrderID, &bag, &e.Sequence,
		&e.BagVersion, &payload, &e.DateCreated)
	if err != nil {
		return nil, interpretError(err, fmt.Sprintf("find event %s", id))
	}
	if bag != nil {
		e.BagID = *bag
	}
	e.Payload, e.DateCreated = payload, e.DateCreated.UTC()
	return &e, nil
}

// ClaimDeliveries claims due deliveries (skipping those another claimer
// is taking) and reads each with its subscription, body and app key, in
// one statement.
func (s *Store) ClaimDeliveries(ctx context.Context, p tote.ClaimDeliveriesParams) ([]*tote.DeliveryToSend, error) {
	skip := p.Skip
	if skip == nil {
		skip = []int64{}
	}
	per := p.Limit
	if p.PerSubscription > 0 {
		per = p.PerSubscription
	}
	rows, err := s.pool.Query(ctx, sqlClaimDeliveries, p.Now.Add(p.Lease), p.Now, p.Limit, skip, per)
	if err != nil {
		return nil, interpretError(err, "claim deliveries")
	}
	defer rows.Close()
	var out []*tote.DeliveryToSend
	for rows.Next() {
		ds := &tote.DeliveryToSend{Delivery: new(tote.Delivery)}
		dest, finish := deliveryDest(ds.Delivery)
		var w tote.Webhook
		dest = append(append(dest, webhookDest(&w)...), &ds.Body, &ds.AppWebhookKey, &ds.Claim)
		if err := rows.Scan(dest...); err != nil {
			return nil, interpretError(err, "claim deliveries")
		}
		finish()
		finishWebhook(&w)
		ds.Webhook = &w
		out = append(out, ds)
	}
	if err := rows.Err(); err != nil {
		return nil, interpretError(err, "claim deliveries")
	}
	return out, nil
}

// A claim sets the delivery's lease: it is skipped until the lease ends
// (then, if no outcome was recorded, it is due again). Only lease_until
// changes, which no index holds, so the row is updated in place (HOT, with
// the table's fillfactor leaving room) and no index entry is written; the
// deliveries in flight stay at the head of the due index and are stepped
// over. The body and the key are read by id, one row each (subqueries,
// not joins: a plan cached while the events table was small would
// otherwise scan it whole on every claim once it has grown). Of the first
// Limit due deliveries, at most PerSubscription ($5) of each subscription
// are taken. Only those are locked (SKIP LOCKED, their conditions checked
// again on the locked row), so a candidate left due is never held from a
// concurrent pause or claim.
var sqlClaimDeliveries = `
	WITH candidates AS (
		SELECT id, webhook_id, due_at FROM webhook_deliveries
		WHERE due_at <= $2 AND (lease_until IS NULL OR lease_until <= $2)
			AND webhook_id <> ALL($4)
			AND webhook_id NOT IN (SELECT id FROM webhooks WHERE paused_until > $2)
		ORDER BY due_at, id LIMIT $3),
	chosen AS (
		SELECT id FROM webhook_deliveries
		WHERE id IN (SELECT id FROM (
				SELECT id, row_number() OVER (PARTITION BY webhook_id ORDER BY due_at, id) AS nth FROM candidates) c
			WHERE nth <= $5)
			AND due_at <= $2 AND (lease_until IS NULL OR lease_until <= $2)
		FOR UPDATE SKIP LOCKED),
	claimed AS (
		UPDATE webhook_deliveries SET lease_until = $1, claim_token = claim_token + 1
		WHERE id IN (SELECT id FROM chosen)
		RETURNING *)
	SELECT ` + deliveryColumns("d.") + `, w.id, w.app_id, w.event, w.remote_endpoint, w.status,
		w.signing_secret, w.ordered, w.paused_until, w.pause_level, w.date_created, w.date_last_modified,
		(SELECT e.payload FROM events e WHERE e.id = d.source_event_id),
		(SELECT a.webhook_key FROM apps a WHERE a.id = d.app_id), d.claim_token
	FROM claimed d
	JOIN webhooks w ON w.id = d.webhook_id
	ORDER BY d.id`

// DeliveryStats counts the deliveries due and not claimed, and ages the
// oldest.
func (s *Store) DeliveryStats(ctx context.Context, now time.Time) (tote.DeliveryStats, error) {
	var st tote.DeliveryStats
	var oldest *time.Time
	err := s.pool.QueryRow(ctx, `SELECT count(*), min(due_at) FROM webhook_deliveries
		WHERE due_at <= $1 AND (lease_until IS NULL OR lease_until <= $1)`, now).
		Scan(&st.Due, &oldest)
	if err != nil {
		return st, interpretError(err, "delivery stats")
	}
	if oldest != nil {
		st.OldestDue = max(now.Sub(*oldest), 0)
	}
	return st, nil
}

// ExtendDeliveryLeases moves the claims that are still current to until,
// a lookup by key each (pipelined), in id order.
func (s *Store) ExtendDeliveryLeases(ctx context.Context, claims []tote.DeliveryClaim, until time.Time) error {
	sorted := slices.Clone(claims)
	slices.SortFunc(sorted, func(a, b tote.DeliveryClaim) int { return cmp.Compare(a.DeliveryID, b.DeliveryID) })
	batch := &pgx.Batch{}
	for _, c := range sorted {
		batch.Queue(`UPDATE webhook_deliveries SET lease_until = $1
			WHERE id = $2 AND claim_token = $3 AND lease_until IS NOT NULL`, until, c.DeliveryID, c.Claim)
	}
	return interpretError(s.pool.SendBatch(ctx, batch).Close(), "extend delivery leases")
}

// CreateDelivery inserts a delivery outside any stream, due at once.
func (tx *Tx) CreateDelivery(ctx context.Context, d *tote.Delivery) error {
	d.InStream, d.Waiting = false, false
	if d.DateNextAttempt == nil {
		due := d.DateCreated
		d.DateNextAttempt = &due
	}
	return tx.insertDelivery(ctx, d)
}

const sqlInsertDelivery = `
	INSERT INTO webhook_deliveries (webhook_id, app_id, event_id, source_event_id, event_type,
		order_id, bag_id, bag_version, sequence, status, in_stream, waiting, attempts, status_code,
		last_error, resend_of, date_created, date_last_modified, date_next_attempt, due_at, transaction_id)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $19, $20)
	RETURNING id`

// insertDeliveryArgs are sqlInsertDelivery's arguments for d.
func insertDeliveryArgs(d *tote.Delivery) []any {
	return []any{d.WebhookID, d.AppID, d.EventID, d.SourceEventID, d.EventType, d.OrderID, nullInt(d.BagID),
		d.BagVersion, d.Sequence, d.Status, d.InStream, d.Waiting, d.Attempts, d.StatusCode, d.LastError,
		nullInt(d.ResendOf), d.DateCreated, d.DateLastModified, d.DateNextAttempt, nullInt(d.TransactionID)}
}

func (tx *Tx) insertDelivery(ctx context.Context, d *tote.Delivery) error {
	err := tx.tx.QueryRow(ctx, sqlInsertDelivery, insertDeliveryArgs(d)...).Scan(&d.ID)
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
		// FOR KEY SHARE: a subscription being deleted meanwhile is waited
		// for and then skipped, rather than its deliveries' foreign key
		// failing this (unrelated) change. Health updates take FOR NO KEY
		// UPDATE, so they do not hold event recording up.
		rows, err := tx.tx.Query(ctx, `SELECT id, event, ordered, paused_until FROM webhooks
			WHERE app_id = $1 AND status = 'ACTIVE' ORDER BY id FOR KEY SHARE`, e.AppID)
		if err != nil {
			return nil, interpretError(err, "find subscriptions")
		}
		list := []tote.Subscriber{}
		for rows.Next() {
			var s tote.Subscriber
			if err := rows.Scan(&s.WebhookID, &s.Event, &s.Ordered, &s.PausedUntil); err != nil {
				rows.Close()
				return nil, interpretError(err, "scan subscription")
			}
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
// deliveries waits (not due) for its turn. The streams are counted in one
// round trip, the deliveries inserted in another.
func (tx *Tx) fanOut(ctx context.Context, events []*tote.Event, subs tote.Subscribers) error {
	plan, err := tote.PlanFanOut(events, subs, func(adds []*tote.StreamAdd) error {
		batch := &pgx.Batch{}
		for _, a := range adds {
			batch.Queue(`
				INSERT INTO webhook_streams (webhook_id, bag_id, pending) VALUES ($1, $2, $3)
				ON CONFLICT (webhook_id, bag_id) DO UPDATE SET pending = webhook_streams.pending + excluded.pending
				RETURNING pending`, a.Stream.WebhookID, a.Stream.BagID, a.Added).QueryRow(func(r pgx.Row) error {
				var pending int64
				err := r.Scan(&pending)
				a.Before = pending - a.Added
				return err
			})
		}
		return interpretError(tx.tx.SendBatch(ctx, batch).Close(), "count deliveries into their streams")
	})
	if err != nil || len(plan) == 0 {
		return err
	}
	batch := &pgx.Batch{}
	for _, d := range plan {
		batch.Queue(sqlInsertDelivery, insertDeliveryArgs(d)...).QueryRow(func(r pgx.Row) error {
			return r.Scan(&d.ID)
		})
	}
	if err := tx.tx.SendBatch(ctx, batch).Close(); err != nil {
		return interpretError(err, "insert deliveries")
	}
	for _, d := range plan {
		if !d.Waiting {
			tx.insertedJobs = true // wake the local dispatcher after the commit
		}
	}
	return nil
}

// RecordDeliveryOutcomes records turns of deliveries in one transaction.
func (s *Store) RecordDeliveryOutcomes(ctx context.Context, outcomes []tote.DeliveryOutcome) ([]tote.DeliveryResult, error) {
	var results []tote.DeliveryResult
	var inserted bool
	err := pgx.BeginFunc(ctx, s.pool, func(pgTx pgx.Tx) error {
		tx := &Tx{reader: reader{q: pgTx}, tx: pgTx}
		var err error
		results, err = tx.recordOutcomes(ctx, outcomes)
		inserted = tx.insertedJobs
		return err
	})
	if err != nil {
		return nil, interpretError(err, "record delivery outcomes")
	}
	if inserted && s.AfterCommitJobs != nil {
		s.AfterCommitJobs()
	}
	return results, nil
}

// The statements of recording outcomes. They are sent in a few pipelined
// batches (one round trip each), not one by one: a batch of outcomes costs
// the same few round trips whatever its size. Each is a lookup by key, so
// its plan stays right at any table size (statements over arrays were
// tried: PostgreSQL re-planned them on every call, and a cached generic
// plan, made while the table was small, scanned it all once it had grown).
// Rows are taken in a fixed order (deliveries by id, then streams by
// subscription and bag), so transactions never deadlock on them.
const (
	// A batch with failures, which may pause or disable their
	// subscriptions, locks the subscriptions first, as fan-out and deleting
	// a subscription take them: KEY SHARE lets batches and fan-outs go side
	// by side, and makes a batch and a deletion of its subscription wait
	// for each other rather than deadlock (the deletion locks the
	// subscription, then its deliveries). A batch of successes touches a
	// subscription only to restart its pause ladder, and skips that when
	// the row is locked.
	sqlLockDeliveryWebhooks = `
		SELECT id FROM webhooks WHERE id IN (SELECT webhook_id FROM webhook_deliveries WHERE id = ANY($1))
		ORDER BY id FOR KEY SHARE`
	sqlRecordDelivery = `
		UPDATE webhook_deliveries SET status = $1, attempts = attempts + $2,
			status_code = CASE WHEN $3 THEN $4 ELSE status_code END,
			last_error = CASE WHEN $5 THEN $6 ELSE last_error END,
			duration_us = CASE WHEN $3 THEN $11 ELSE duration_us END,
			date_last_modified = $7, date_next_attempt = $8, due_at = $8,
			lease_until = CASE WHEN $12::bigint IN (0, claim_token) THEN NULL ELSE lease_until END
		WHERE id = $9 AND attempts = $10 AND status IN ('CREATED', 'IN_PROGRESS')
		RETURNING webhook_id, bag_id, in_stream`
	sqlPostponeDelivery = `
		UPDATE webhook_deliveries SET due_at = $1, date_next_attempt = $1, lease_until = NULL
		WHERE id = $2 AND attempts = $3 AND status IN ('CREATED', 'IN_PROGRESS') AND $4::bigint IN (0, claim_token)`
	sqlInsertAttempt = `
		INSERT INTO webhook_delivery_attempts (delivery_id, webhook_id, attempt, status_code, error,
			succeeded, duration_us, date_created)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`
	sqlStreamDeleteLast = `DELETE FROM webhook_streams WHERE webhook_id = $1 AND bag_id = $2 AND pending = 1`
	sqlStreamEnd        = `UPDATE webhook_streams SET pending = pending - 1 WHERE webhook_id = $1 AND bag_id = $2 RETURNING pending`
	sqlStreamDelete     = `DELETE FROM webhook_streams WHERE webhook_id = $1 AND bag_id = $2 AND pending <= 0`
	sqlStreamNext       = `
		UPDATE webhook_deliveries SET waiting = FALSE, date_last_modified = $1,
			-- due now, or when its subscription's pause ends
			date_next_attempt = greatest($1, w.paused_until), due_at = greatest($1, w.paused_until)
		FROM webhooks w
		WHERE w.id = $2 AND webhook_deliveries.id = (SELECT id FROM webhook_deliveries WHERE webhook_id = $2
			AND bag_id = $3 AND waiting ORDER BY sequence, id LIMIT 1)
		RETURNING webhook_deliveries.id`
)

func (tx *Tx) recordOutcomes(ctx context.Context, outcomes []tote.DeliveryOutcome) ([]tote.DeliveryResult, error) {
	results := make([]tote.DeliveryResult, len(outcomes))
	order := make([]int, len(outcomes))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(outcomes[a].DeliveryID, outcomes[b].DeliveryID) })
	var failed []int64
	for _, o := range outcomes {
		if o.Sent && !o.Succeeded {
			failed = append(failed, o.DeliveryID)
		}
	}

	// 1. The deliveries, fenced by their attempts.
	type row struct {
		webhook  int64
		bag      *int64
		inStream bool
	}
	rows := make([]row, len(outcomes))
	batch := &pgx.Batch{}
	if len(failed) > 0 {
		batch.Queue(sqlLockDeliveryWebhooks, failed)
	}
	for _, i := range order {
		o := outcomes[i]
		if o.Postpone {
			batch.Queue(sqlPostponeDelivery, o.NextAttempt, o.DeliveryID, o.Attempts, o.Claim).Exec(func(tag pgconn.CommandTag) error {
				results[i].Recorded = tag.RowsAffected() == 1
				return nil
			})
			continue
		}
		var next *time.Time
		if o.Status == tote.DeliveryStatusInProgress {
			next = &o.NextAttempt
		}
		sent := 0
		if o.Sent {
			sent = 1
		}
		batch.Queue(sqlRecordDelivery, o.Status, sent, o.Sent, o.StatusCode, o.Sent || o.Error != "", o.Error, o.Now, next,
			o.DeliveryID, o.Attempts, o.Duration.Microseconds(), o.Claim).QueryRow(func(r pgx.Row) error {
			err := r.Scan(&rows[i].webhook, &rows[i].bag, &rows[i].inStream)
			if errors.Is(err, pgx.ErrNoRows) {
				return nil // fenced: another worker recorded this turn
			}
			results[i].Recorded = err == nil
			return err
		})
	}
	if err := tx.tx.SendBatch(ctx, batch).Close(); err != nil {
		return nil, interpretError(err, "record delivery outcomes")
	}

	// 2. Their failed attempts, and the end of their bags' turns
	// (most often the stream held only this delivery and ends).
	type done struct {
		i       int
		webhook int64
		bag     int64
		last    bool // the stream ended with it
	}
	var ended []*done
	byWebhook := map[int64][]int{}
	batch = &pgx.Batch{}
	for _, i := range order {
		o, r := outcomes[i], rows[i]
		if !results[i].Recorded || o.Postpone {
			continue
		}
		byWebhook[r.webhook] = append(byWebhook[r.webhook], i)
		if o.Sent && !o.Succeeded {
			batch.Queue(sqlInsertAttempt, o.DeliveryID, r.webhook, o.Attempts+1, o.StatusCode, o.Error, o.Succeeded,
				o.Duration.Microseconds(), o.Now)
		}
		if o.Status.Final() && r.inStream && r.bag != nil {
			ended = append(ended, &done{i: i, webhook: r.webhook, bag: *r.bag})
		}
	}
	slices.SortFunc(ended, func(a, b *done) int {
		return tote.CompareStreams(tote.StreamKey{WebhookID: a.webhook, BagID: a.bag}, tote.StreamKey{WebhookID: b.webhook, BagID: b.bag})
	})
	for _, e := range ended {
		batch.Queue(sqlStreamDeleteLast, e.webhook, e.bag).Exec(func(tag pgconn.CommandTag) error {
			e.last = tag.RowsAffected() == 1
			return nil
		})
	}
	if err := tx.tx.SendBatch(ctx, batch).Close(); err != nil {
		return nil, interpretError(err, "record delivery attempts")
	}

	// 3. Streams with more deliveries waiting: count this one out, then
	// start the next in sequence.
	var turns []*done
	batch = &pgx.Batch{}
	pending := map[*done]int64{}
	for _, e := range ended {
		if e.last {
			continue
		}
		turns = append(turns, e)
		batch.Queue(sqlStreamEnd, e.webhook, e.bag).QueryRow(func(r pgx.Row) error {
			var n int64
			err := r.Scan(&n)
			if errors.Is(err, pgx.ErrNoRows) {
				return nil
			}
			pending[e] = n
			return err
		})
	}
	if len(turns) == 0 {
		return results, tx.health(ctx, byWebhook, outcomes, results)
	}
	if err := tx.tx.SendBatch(ctx, batch).Close(); err != nil {
		return nil, interpretError(err, "end stream turns")
	}
	batch = &pgx.Batch{}
	for _, e := range turns {
		n, ok := pending[e]
		switch {
		case !ok:
		case n <= 0:
			batch.Queue(sqlStreamDelete, e.webhook, e.bag)
		default:
			now := outcomes[e.i].Now
			batch.Queue(sqlStreamNext, now, e.webhook, e.bag).QueryRow(func(r pgx.Row) error {
				var id int64
				err := r.Scan(&id)
				if errors.Is(err, pgx.ErrNoRows) {
					return nil
				} else if err == nil {
					tx.insertedJobs = true // wake the local dispatcher after the commit
				}
				return err
			})
		}
	}
	if err := tx.tx.SendBatch(ctx, batch).Close(); err != nil {
		return nil, interpretError(err, "start next deliveries")
	}

	return results, tx.health(ctx, byWebhook, outcomes, results)
}

// health applies each subscription's outcomes to it, in subscription order.
func (tx *Tx) health(ctx context.Context, byWebhook map[int64][]int, outcomes []tote.DeliveryOutcome, results []tote.DeliveryResult) error {
	webhooks := make([]int64, 0, len(byWebhook))
	for id := range byWebhook {
		webhooks = append(webhooks, id)
	}
	slices.Sort(webhooks)
	for _, id := range webhooks {
		slices.Sort(byWebhook[id]) // the batch's order
		if err := tx.webhookHealth(ctx, id, byWebhook[id], outcomes, results); err != nil {
			return err
		}
	}
	return nil
}

// webhookHealth applies the recorded outcomes of one subscription to it:
// a 410 disables it, a success restarts its pause ladder, and failures past
// the policy pause it. The row is locked first, so two processes never
// pause one subscription twice for the same failures.
func (tx *Tx) webhookHealth(ctx context.Context, id int64, indexes []int, outcomes []tote.DeliveryOutcome, results []tote.DeliveryResult) error {
	succeeded, failed, disable := health(indexes, outcomes)
	if disable < 0 && succeeded < 0 && failed < 0 {
		return nil
	}
	if disable >= 0 {
		tag, err := tx.tx.Exec(ctx, `UPDATE webhooks SET status = 'DISABLED', date_last_modified = $1
			WHERE id = $2 AND status = 'ACTIVE'`, outcomes[disable].Now, id)
		if err != nil {
			return interpretError(err, "disable webhook")
		}
		results[disable].Disabled = tag.RowsAffected() == 1
		return nil
	}
	if succeeded >= 0 {
		// SKIP LOCKED: a subscription being changed or deleted meanwhile
		// keeps its ladder (setting it ACTIVE clears it anyway); waiting for
		// its lock could deadlock with a deletion.
		if _, err := tx.tx.Exec(ctx, `UPDATE webhooks SET pause_level = 0 WHERE id IN (
			SELECT id FROM webhooks WHERE id = $1 AND pause_level > 0 FOR NO KEY UPDATE SKIP LOCKED)`, id); err != nil {
			return interpretError(err, "reset webhook pauses")
		}
		return nil
	}
	var status tote.WebhookStatus
	var paused *time.Time
	var level int
	err := tx.tx.QueryRow(ctx, `SELECT status, paused_until, pause_level FROM webhooks WHERE id = $1 FOR NO KEY UPDATE`, id).
		Scan(&status, &paused, &level)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	} else if err != nil {
		return interpretError(err, "read webhook health")
	}
	o := outcomes[failed]
	if status != tote.WebhookStatusActive || paused != nil && paused.After(o.Now) {
		return nil // paused already
	}
	since := o.Now.Add(-o.Pause.Window)
	if paused != nil && paused.After(since) {
		since = *paused // count only failures since the last pause ended
	}
	var n int
	err = tx.tx.QueryRow(ctx, `SELECT count(*) FROM (SELECT 1 FROM webhook_delivery_attempts
		WHERE webhook_id = $1 AND NOT succeeded AND date_created >= $2 LIMIT $3) f`,
		id, since, o.Pause.Failures+1).Scan(&n)
	if err != nil {
		return interpretError(err, "count endpoint failures")
	}
	if n <= o.Pause.Failures {
		return nil
	}
	if level > 0 && paused != nil {
		// A success since the last pause ended restarts the ladder, even if
		// its reset was skipped (SKIP LOCKED, above).
		var ok bool
		if err := tx.tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM webhook_deliveries
			WHERE webhook_id = $1 AND status = 'SUCCEEDED' AND date_last_modified >= $2)`, id, *paused).Scan(&ok); err != nil {
			return interpretError(err, "find a success since the last pause")
		} else if ok {
			level = 0
		}
	}
	if level >= len(o.Pause.Pauses) {
		if _, err := tx.tx.Exec(ctx, `UPDATE webhooks SET status = 'DISABLED', date_last_modified = $1
			WHERE id = $2`, o.Now, id); err != nil {
			return interpretError(err, "disable webhook")
		}
		results[failed].Disabled = true
		return nil
	}
	until := o.Now.Add(o.Pause.Pauses[level])
	if _, err := tx.tx.Exec(ctx, `UPDATE webhooks SET paused_until = $1, pause_level = $2 WHERE id = $3`,
		until, level+1, id); err != nil {
		return interpretError(err, "pause webhook")
	}
	// Its waiting deliveries are due when the pause ends (claims skip a
	// paused subscription; this keeps them out of the claims' way). Those
	// being sent keep their claim; SKIP LOCKED leaves those another
	// transaction holds (waiting for them could deadlock with a concurrent
	// outcome batch of the same subscription).
	if _, err := tx.tx.Exec(ctx, `UPDATE webhook_deliveries SET due_at = $1, date_next_attempt = $1
		WHERE id IN (SELECT id FROM webhook_deliveries WHERE webhook_id = $2 AND due_at < $1
			AND (lease_until IS NULL OR lease_until <= $3) FOR UPDATE SKIP LOCKED)`,
		until, id, o.Now); err != nil {
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
// at a time.
func (s *Store) PruneDeliveries(ctx context.Context, before time.Time) (int64, error) {
	var total int64
	for _, q := range []string{
		`DELETE FROM webhook_delivery_attempts WHERE ctid = ANY(ARRAY(
			SELECT ctid FROM webhook_delivery_attempts WHERE date_created < $1 LIMIT 5000))`,
		`DELETE FROM webhook_deliveries WHERE id IN (
			SELECT id FROM webhook_deliveries WHERE status IN ('SUCCEEDED', 'FAILED', 'CANCELLED')
				AND date_last_modified < $1 LIMIT 5000)`,
	} {
		for {
			tag, err := s.pool.Exec(ctx, q, before)
			if err != nil {
				return total, interpretError(err, "prune deliveries")
			}
			total += tag.RowsAffected()
			if tag.RowsAffected() < 5000 {
				break
			}
		}
	}
	return total, nil
}

// WakeDeliveries makes a subscription's unfinished deliveries that were
// put off (and are not being sent) due now.
func (tx *Tx) WakeDeliveries(ctx context.Context, webhookID int64, now time.Time) (int64, error) {
	tag, err := tx.tx.Exec(ctx, `
		UPDATE webhook_deliveries SET due_at = $1, date_next_attempt = $1
		WHERE webhook_id = $2 AND due_at > $1 AND (lease_until IS NULL OR lease_until <= $1)`, now, webhookID)
	if err != nil {
		return 0, interpretError(err, "wake deliveries")
	}
	if tag.RowsAffected() > 0 {
		tx.insertedJobs = true
	}
	return tag.RowsAffected(), nil
}
