-- +goose Up
-- Webhook subscriptions, their deliveries, and every attempt of each.
-- Times are INTEGER microseconds since the Unix epoch, UTC.

-- The HMAC-SHA256 key state an app's deliveries are signed with
-- (X-Violet-Hmac); never the secret itself.
ALTER TABLE apps ADD COLUMN webhook_key BLOB;

CREATE TABLE webhooks (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    app_id             INTEGER NOT NULL REFERENCES apps (id),
    event              TEXT    NOT NULL,
    remote_endpoint    TEXT    NOT NULL,
    status             TEXT    NOT NULL,
    signing_secret     TEXT    NOT NULL,
    ordered            INTEGER NOT NULL DEFAULT 1,
    paused_until       INTEGER,
    pause_level        INTEGER NOT NULL DEFAULT 0,
    date_created       INTEGER NOT NULL,
    date_last_modified INTEGER NOT NULL
);
-- Also serves the fan-out: an app's subscriptions to one event type.
CREATE UNIQUE INDEX webhooks_app_event_endpoint ON webhooks (app_id, event, remote_endpoint);

CREATE TABLE webhook_deliveries (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    webhook_id         INTEGER NOT NULL REFERENCES webhooks (id),
    app_id             INTEGER NOT NULL,
    event_id           TEXT    NOT NULL,
    source_event_id    TEXT    NOT NULL,
    event_type         TEXT    NOT NULL,
    order_id           INTEGER NOT NULL,
    bag_id             INTEGER,
    bag_version        INTEGER NOT NULL DEFAULT 0,
    sequence           INTEGER NOT NULL DEFAULT 0,
    status             TEXT    NOT NULL,
    in_stream          INTEGER NOT NULL DEFAULT 0,
    waiting            INTEGER NOT NULL DEFAULT 0,
    attempts           INTEGER NOT NULL DEFAULT 0,
    status_code        INTEGER NOT NULL DEFAULT 0,
    last_error         TEXT    NOT NULL DEFAULT '',
    resend_of          INTEGER,
    date_created       INTEGER NOT NULL,
    date_last_modified INTEGER NOT NULL,
    date_next_attempt  INTEGER
);
CREATE UNIQUE INDEX webhook_deliveries_event ON webhook_deliveries (webhook_id, event_id);
CREATE INDEX webhook_deliveries_log ON webhook_deliveries (webhook_id, id);
CREATE INDEX webhook_deliveries_waiting ON webhook_deliveries (webhook_id, bag_id, sequence, id) WHERE waiting = 1;
CREATE INDEX webhook_deliveries_final ON webhook_deliveries (date_last_modified)
    WHERE status IN ('SUCCEEDED', 'FAILED', 'CANCELLED');

CREATE TABLE webhook_delivery_attempts (
    delivery_id  INTEGER NOT NULL,
    webhook_id   INTEGER NOT NULL,
    attempt      INTEGER NOT NULL,
    status_code  INTEGER NOT NULL DEFAULT 0,
    error        TEXT    NOT NULL DEFAULT '',
    succeeded    INTEGER NOT NULL,
    duration_us  INTEGER NOT NULL,
    date_created INTEGER NOT NULL,
    PRIMARY KEY (delivery_id, attempt)
);
-- Failures per endpoint in a window (pausing), and pruning.
CREATE INDEX webhook_delivery_attempts_failures ON webhook_delivery_attempts (webhook_id, date_created)
    WHERE succeeded = 0;
CREATE INDEX webhook_delivery_attempts_created ON webhook_delivery_attempts (date_created);

-- One row per (subscription, bag) with deliveries in their turn: pending
-- counts the stream's deliveries not yet final. Fan-out and completion both
-- update this row, which serializes them per stream.
CREATE TABLE webhook_streams (
    webhook_id INTEGER NOT NULL,
    bag_id     INTEGER NOT NULL,
    pending    INTEGER NOT NULL,
    PRIMARY KEY (webhook_id, bag_id)
);

-- +goose Down
DROP TABLE webhook_streams;
DROP TABLE webhook_delivery_attempts;
DROP TABLE webhook_deliveries;
DROP TABLE webhooks;
ALTER TABLE apps DROP COLUMN webhook_key;
