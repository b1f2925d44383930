-- +goose Up
-- Deliveries are their own queue (decision 0009): no job per delivery.
-- due_at is when a pending delivery may next be claimed (NULL while it
-- waits for its turn and once it is final); a claim sets lease_until, and
-- the delivery is skipped until that has passed (an outcome clears it).
-- A successful attempt is described by the delivery itself (status_code,
-- duration_us, date_last_modified); only failed attempts keep rows.
ALTER TABLE webhook_deliveries ADD COLUMN due_at INTEGER;
ALTER TABLE webhook_deliveries ADD COLUMN lease_until INTEGER;
-- claim_token numbers the delivery's claims: outcomes and heartbeats name
-- theirs, so a worker whose claim lapsed cannot end or extend the next one.
ALTER TABLE webhook_deliveries ADD COLUMN claim_token INTEGER NOT NULL DEFAULT 0;
ALTER TABLE webhook_deliveries ADD COLUMN duration_us INTEGER NOT NULL DEFAULT 0;
UPDATE webhook_deliveries SET due_at = coalesce(date_next_attempt, date_created)
    WHERE status IN ('CREATED', 'IN_PROGRESS') AND waiting = 0;
UPDATE webhook_deliveries SET duration_us = coalesce((SELECT a.duration_us FROM webhook_delivery_attempts a
        WHERE a.delivery_id = webhook_deliveries.id AND a.succeeded = 1), 0)
    WHERE status = 'SUCCEEDED';
DELETE FROM webhook_delivery_attempts WHERE succeeded = 1;
DELETE FROM jobs WHERE kind = 'deliver_webhook';
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (due_at, id) WHERE due_at IS NOT NULL;

-- +goose Down
-- Back to a job per delivery: each pending delivery that is due (not waiting
-- for its turn) gets its deliver_webhook job again, and each successful
-- delivery its attempt row, so none is stranded or loses its log.
INSERT INTO jobs (kind, args, state, max_attempts, run_at, created_at)
    SELECT 'deliver_webhook', CAST('{"delivery_id":' || id || '}' AS BLOB), 'available', 1073741824, due_at, date_created
    FROM webhook_deliveries WHERE due_at IS NOT NULL ORDER BY id;
INSERT INTO webhook_delivery_attempts (delivery_id, webhook_id, attempt, status_code, error, succeeded,
        duration_us, date_created)
    SELECT id, webhook_id, attempts, status_code, '', 1, duration_us, date_last_modified
    FROM webhook_deliveries WHERE status = 'SUCCEEDED';
DROP INDEX webhook_deliveries_due;
ALTER TABLE webhook_deliveries DROP COLUMN duration_us;
ALTER TABLE webhook_deliveries DROP COLUMN claim_token;
ALTER TABLE webhook_deliveries DROP COLUMN lease_until;
ALTER TABLE webhook_deliveries DROP COLUMN due_at;
