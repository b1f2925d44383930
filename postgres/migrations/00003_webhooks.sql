-- +goose Up
-- Webhook subscriptions, their deliveries, and every attempt of each.
-- Times are timestamptz; ids are identities.

-- The HMAC-SHA256 key state an app's deliveries are signed with
-- (X-Violet-Hmac); never the secret itself.
ALTER TABLE apps ADD COLUMN webhook_key BYTEA;

CREATE TABLE webhooks (
    id                 BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    app_id             BIGINT NOT NULL REFERENCES apps (id),
    event              TEXT    NOT NULL,
    remote_endpoint    TEXT    NOT NULL,
    status             TEXT    NOT NULL,
    signing_secret     TEXT    NOT NULL,
    ordered            BOOLEAN NOT NULL DEFAULT TRUE,
    paused_until       TIMESTAMPTZ,
    pause_level        BIGINT NOT NULL DEFAULT 0,
    date_created       TIMESTAMPTZ NOT NULL,
    date_last_modified TIMESTAMPTZ NOT NULL
);
-- Also serves the fan-out: an app's subscriptions to one event type.
CREATE UNIQUE INDEX webhooks_app_event_endpoint ON webhooks (app_id, event, remote_endpoint);

CREATE TABLE webhook_deliveries (
    id                 BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    webhook_id         BIGINT NOT NULL REFERENCES webhooks (id),
    app_id             BIGINT NOT NULL,
    event_id           TEXT    NOT NULL,
    source_event_id    TEXT    NOT NULL,
    event_type         TEXT    NOT NULL,
    order_id           BIGINT NOT NULL,
    bag_id             BIGINT,
    bag_version        BIGINT NOT NULL DEFAULT 0,
    sequence           BIGINT NOT NULL DEFAULT 0,
    status             TEXT    NOT NULL,
    in_stream          BOOLEAN NOT NULL DEFAULT FALSE,
    waiting            BOOLEAN NOT NULL DEFAULT FALSE,
    attempts           BIGINT NOT NULL DEFAULT 0,
    status_code        BIGINT NOT NULL DEFAULT 0,
    last_error         TEXT    NOT NULL DEFAULT '',
    resend_of          BIGINT,
    date_created       TIMESTAMPTZ NOT NULL,
    date_last_modified TIMESTAMPTZ NOT NULL,
    date_next_attempt  TIMESTAMPTZ
);
CREATE UNIQUE INDEX webhook_deliveries_event ON webhook_deliveries (webhook_id, event_id);
CREATE INDEX webhook_deliveries_log ON webhook_deliveries (webhook_id, id);
CREATE INDEX webhook_deliveries_waiting ON webhook_deliveries (webhook_id, bag_id, sequence, id) WHERE waiting;
CREATE INDEX webhook_deliveries_final ON webhook_deliveries (date_last_modified)
    WHERE status IN ('SUCCEEDED', 'FAILED', 'CANCELLED');

CREATE TABLE webhook_delivery_attempts (
    delivery_id  BIGINT NOT NULL,
    webhook_id   BIGINT NOT NULL,
    attempt      BIGINT NOT NULL,
    status_code  BIGINT NOT NULL DEFAULT 0,
    error        TEXT    NOT NULL DEFAULT '',
    succeeded    BOOLEAN NOT NULL,
    duration_us  BIGINT NOT NULL,
    date_created TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (delivery_id, attempt)
);
-- Failures per endpoint in a window (pausing), and pruning.
CREATE INDEX webhook_delivery_attempts_failures ON webhook_delivery_attempts (webhook_id, date_created)
    WHERE NOT succeeded;
CREATE INDEX webhook_delivery_attempts_created ON webhook_delivery_attempts (date_created);

-- One row per (subscription, bag) with deliveries in their turn: pending
-- counts the stream's deliveries not yet final. Fan-out and completion both
-- update this row, which serializes them per stream.
CREATE TABLE webhook_streams (
    webhook_id BIGINT NOT NULL,
    bag_id     BIGINT NOT NULL,
    pending    BIGINT NOT NULL,
    PRIMARY KEY (webhook_id, bag_id)
);

-- +goose Down
DROP TABLE webhook_streams;
DROP TABLE webhook_delivery_attempts;
DROP TABLE webhook_deliveries;
DROP TABLE webhooks;
ALTER TABLE apps DROP COLUMN webhook_key;
