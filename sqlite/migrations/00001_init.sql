-- +goose Up
-- Times are INTEGER microseconds since the Unix epoch, UTC.

CREATE TABLE apps (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    name            TEXT    NOT NULL,
    secret_hash     BLOB    NOT NULL,
    commission_rate INTEGER NOT NULL DEFAULT 0,
    date_created    INTEGER NOT NULL
);

CREATE TABLE orders (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    app_id             INTEGER NOT NULL REFERENCES apps (id),
    app_order_id       TEXT    NOT NULL DEFAULT '',
    status             TEXT    NOT NULL,
    currency           TEXT    NOT NULL,
    sub_total          INTEGER NOT NULL DEFAULT 0,
    shipping_total     INTEGER NOT NULL DEFAULT 0,
    tax_total          INTEGER NOT NULL DEFAULT 0,
    discount_total     INTEGER NOT NULL DEFAULT 0,
    total              INTEGER NOT NULL DEFAULT 0,
    date_created       INTEGER NOT NULL,
    date_submitted     INTEGER,
    date_last_modified INTEGER NOT NULL
);
CREATE INDEX orders_app_created ON orders (app_id, date_created DESC, id DESC);

CREATE TABLE bags (
    id                     INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id               INTEGER NOT NULL REFERENCES orders (id),
    app_id                 INTEGER NOT NULL REFERENCES apps (id),
    merchant_id            INTEGER NOT NULL,
    status                 TEXT    NOT NULL,
    financial_status       TEXT    NOT NULL,
    fulfillment_status     TEXT    NOT NULL,
    version                INTEGER NOT NULL DEFAULT 1,
    external_id            TEXT    NOT NULL DEFAULT '',
    currency               TEXT    NOT NULL,
    sub_total              INTEGER NOT NULL DEFAULT 0,
    shipping_total         INTEGER NOT NULL DEFAULT 0,
    tax_total              INTEGER NOT NULL DEFAULT 0,
    discount_total         INTEGER NOT NULL DEFAULT 0,
    total                  INTEGER NOT NULL DEFAULT 0,
    captured               INTEGER NOT NULL DEFAULT 0,
    refunded               INTEGER NOT NULL DEFAULT 0,
    event_seq              INTEGER NOT NULL DEFAULT 0,
    date_created           INTEGER NOT NULL,
    date_submitted         INTEGER,
    date_last_modified     INTEGER NOT NULL,
    date_last_consolidated INTEGER
);
CREATE INDEX bags_order ON bags (order_id);

CREATE TABLE status_changes (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    app_id       INTEGER NOT NULL,
    order_id     INTEGER NOT NULL REFERENCES orders (id),
    bag_id       INTEGER,
    field        TEXT    NOT NULL,
    from_status  TEXT    NOT NULL,
    to_status    TEXT    NOT NULL,
    trigger      TEXT    NOT NULL,
    date_created INTEGER NOT NULL
);
CREATE INDEX status_changes_order ON status_changes (order_id, id);

CREATE TABLE events (
    id           TEXT    PRIMARY KEY,
    app_id       INTEGER NOT NULL,
    type         TEXT    NOT NULL,
    order_id     INTEGER NOT NULL REFERENCES orders (id),
    bag_id       INTEGER,
    sequence     INTEGER NOT NULL DEFAULT 0,
    bag_version  INTEGER NOT NULL DEFAULT 0,
    payload      BLOB,
    date_created INTEGER NOT NULL
);
CREATE INDEX events_order ON events (order_id, date_created, sequence);
CREATE UNIQUE INDEX events_bag_sequence ON events (bag_id, sequence) WHERE bag_id IS NOT NULL;

CREATE TABLE jobs (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    kind         TEXT    NOT NULL,
    args         BLOB    NOT NULL,
    state        TEXT    NOT NULL,
    attempt      INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    run_at       INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    attempted_at INTEGER,
    attempted_by TEXT    NOT NULL DEFAULT '',
    lease_until  INTEGER,
    last_error   TEXT    NOT NULL DEFAULT '',
    finalized_at INTEGER
);
CREATE INDEX jobs_due ON jobs (run_at, id) WHERE state = 'available';
CREATE INDEX jobs_lease ON jobs (lease_until) WHERE state = 'running';
CREATE INDEX jobs_finalized ON jobs (finalized_at) WHERE finalized_at IS NOT NULL;

CREATE TABLE idempotency_keys (
    app_id        INTEGER NOT NULL,
    key           TEXT    NOT NULL,
    request_hash  BLOB    NOT NULL,
    done          INTEGER NOT NULL DEFAULT 0,
    response_code INTEGER NOT NULL DEFAULT 0,
    response_body BLOB,
    locked_at     INTEGER NOT NULL,
    date_created  INTEGER NOT NULL,
    PRIMARY KEY (app_id, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (date_created);

-- +goose Down
DROP TABLE idempotency_keys;
DROP TABLE jobs;
DROP TABLE events;
DROP TABLE status_changes;
DROP TABLE bags;
DROP TABLE orders;
DROP TABLE apps;
