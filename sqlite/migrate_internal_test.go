package sqlite

import (
	"context"
	"io/fs"
	"testing"

	"github.com/pressly/goose/v3"
)

// migrator runs s's migrations up and down.
func migrator(t *testing.T, s *Store) *goose.Provider {
	t.Helper()
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, s.write, fsys)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestDeliveryQueueMigrationDown: rolling migration 4 back gives every due
// pending delivery its deliver_webhook job again and every successful one
// its attempt row (nothing stranded), and migrating up again makes them
// due as before.
func TestDeliveryQueueMigrationDown(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	defer s.Close()
	err := s.inWriteTx(ctx, func(tx *Tx) error {
		if err := insertApp(ctx, tx, "a"); err != nil {
			return err
		}
		_, err := tx.tx.ExecContext(ctx, `
			INSERT INTO webhooks (app_id, event, remote_endpoint, status, signing_secret, date_created, date_last_modified)
			VALUES (1, 'ORDER_UPDATED', 'https://a.example', 'ACTIVE', 'whsec_x', 0, 0);
			INSERT INTO webhook_deliveries (webhook_id, app_id, event_id, source_event_id, event_type, order_id, status,
				waiting, attempts, status_code, date_created, date_last_modified, date_next_attempt, due_at, duration_us)
			VALUES (1, 1, 'e1', 'e1', 'ORDER_UPDATED', 1, 'CREATED', 0, 0, 0, 10, 10, 10, 10, 0),
			       (1, 1, 'e2', 'e2', 'ORDER_UPDATED', 1, 'IN_PROGRESS', 0, 2, 500, 10, 20, 30, 30, 0),
			       (1, 1, 'e3', 'e3', 'ORDER_UPDATED', 1, 'CREATED', 1, 0, 0, 10, 10, NULL, NULL, 0),
			       (1, 1, 'e4', 'e4', 'ORDER_UPDATED', 1, 'SUCCEEDED', 0, 1, 200, 10, 40, NULL, NULL, 1234)`)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	p := migrator(t, s)
	if _, err := p.DownTo(ctx, 3); err != nil {
		t.Fatal(err)
	}
	var jobs []string
	rows, err := s.write.QueryContext(ctx, `SELECT CAST(args AS TEXT) || '@' || run_at FROM jobs WHERE kind = 'deliver_webhook' ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var j string
		if err := rows.Scan(&j); err != nil {
			t.Fatal(err)
		}
		jobs = append(jobs, j)
	}
	rows.Close()
	if len(jobs) != 2 || jobs[0] != `{"delivery_id":1}@10` || jobs[1] != `{"delivery_id":2}@30` {
		t.Fatalf("jobs after down: %v, want one for each due pending delivery (1 at 10, 2 at 30)", jobs)
	}
	var attempt, code, dur int
	if err := s.write.QueryRowContext(ctx, `SELECT attempt, status_code, duration_us FROM webhook_delivery_attempts
		WHERE delivery_id = 4 AND succeeded = 1`).Scan(&attempt, &code, &dur); err != nil || attempt != 1 || code != 200 || dur != 1234 {
		t.Fatalf("the successful attempt after down: %d %d %d (%v)", attempt, code, dur, err)
	}
	if _, err := p.Up(ctx); err != nil {
		t.Fatal(err)
	}
	var due, left int
	if err := s.write.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM webhook_deliveries WHERE due_at IS NOT NULL),
		(SELECT count(*) FROM jobs WHERE kind = 'deliver_webhook')`).Scan(&due, &left); err != nil || due != 2 || left != 0 {
		t.Fatalf("after up again: %d due, %d delivery jobs (%v)", due, left, err)
	}
}

// TestDeliveryTransactionMigration: migration 7 gives the deliveries of
// payment events made before it their transaction, from the body their
// event kept; an order event's stays without one.
func TestDeliveryTransactionMigration(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	defer s.Close()
	p := migrator(t, s)
	if _, err := p.DownTo(ctx, 6); err != nil {
		t.Fatal(err)
	}
	err := s.inWriteTx(ctx, func(tx *Tx) error {
		if err := insertApp(ctx, tx, "a"); err != nil {
			return err
		}
		_, err := tx.tx.ExecContext(ctx, `
			INSERT INTO webhooks (app_id, event, remote_endpoint, status, signing_secret, date_created, date_last_modified)
			VALUES (1, 'PAYMENT_TRANSACTION_CAPTURE_STATUS_CAPTURED', 'https://a.example', 'ACTIVE', 'whsec_x', 0, 0);
			INSERT INTO orders (app_id, status, currency, details, date_created, date_last_modified)
			VALUES (1, 'COMPLETED', 'USD', '{}', 0, 0);
			INSERT INTO events (id, app_id, type, order_id, sequence, payload, date_created)
			VALUES ('e_paid', 1, 'PAYMENT_TRANSACTION_CAPTURE_STATUS_CAPTURED', 1, 0, CAST('{"id":42,"type":"CAPTURE"}' AS BLOB), 0),
			       ('e_order', 1, 'ORDER_UPDATED', 1, 0, CAST('{"id":1}' AS BLOB), 0);
			INSERT INTO webhook_deliveries (webhook_id, app_id, event_id, source_event_id, event_type, order_id, status,
				date_created, date_last_modified)
			VALUES (1, 1, 'e_paid', 'e_paid', 'PAYMENT_TRANSACTION_CAPTURE_STATUS_CAPTURED', 1, 'SUCCEEDED', 0, 0),
			       (1, 1, 'e_order', 'e_order', 'ORDER_UPDATED', 1, 'SUCCEEDED', 0, 0)`)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Up(ctx); err != nil {
		t.Fatal(err)
	}
	paid, err := s.FindDeliveryByEventID(ctx, 1, "e_paid")
	if err != nil || paid.TransactionID != 42 {
		t.Fatalf("payment event's delivery after the migration: %+v (%v), want transaction 42", paid, err)
	}
	order, err := s.FindDeliveryByEventID(ctx, 1, "e_order")
	if err != nil || order.TransactionID != 0 {
		t.Fatalf("order event's delivery after the migration: %+v (%v), want no transaction", order, err)
	}
}
