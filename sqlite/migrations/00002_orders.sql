-- +goose Up
-- Catalog, order details, payments, and the records of the built-in sandbox
-- platform and sandbox payment provider. Times are INTEGER microseconds.

CREATE TABLE merchants (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    external_id        TEXT,
    name               TEXT    NOT NULL,
    platform           TEXT    NOT NULL,
    currency           TEXT    NOT NULL,
    commission_rate    INTEGER,
    sandbox            BLOB    NOT NULL,
    date_created       INTEGER NOT NULL,
    date_last_modified INTEGER NOT NULL
);
CREATE UNIQUE INDEX merchants_external_id ON merchants (external_id) WHERE external_id IS NOT NULL;

CREATE TABLE skus (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    merchant_id        INTEGER NOT NULL REFERENCES merchants (id),
    external_id        TEXT,
    name               TEXT    NOT NULL,
    price              INTEGER NOT NULL,
    currency           TEXT    NOT NULL,
    inventory          INTEGER NOT NULL,
    weight             INTEGER NOT NULL DEFAULT 0,
    requires_shipping  INTEGER NOT NULL DEFAULT 1,
    product_type       TEXT    NOT NULL,
    date_created       INTEGER NOT NULL,
    date_last_modified INTEGER NOT NULL
);
CREATE INDEX skus_merchant ON skus (merchant_id, id);
CREATE UNIQUE INDEX skus_external_id ON skus (merchant_id, external_id) WHERE external_id IS NOT NULL;

CREATE TABLE shipping_methods (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    merchant_id  INTEGER NOT NULL REFERENCES merchants (id),
    external_id  TEXT,
    label        TEXT    NOT NULL,
    carrier      TEXT    NOT NULL,
    price        INTEGER NOT NULL,
    type         TEXT    NOT NULL,
    min_subtotal INTEGER,
    max_subtotal INTEGER,
    date_created INTEGER NOT NULL
);
CREATE INDEX shipping_methods_merchant ON shipping_methods (merchant_id, id);
CREATE UNIQUE INDEX shipping_methods_external_id ON shipping_methods (merchant_id, external_id) WHERE external_id IS NOT NULL;

CREATE TABLE tax_rates (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    merchant_id         INTEGER NOT NULL REFERENCES merchants (id),
    country             TEXT    NOT NULL,
    state               TEXT    NOT NULL DEFAULT '',
    rate_ppm            INTEGER NOT NULL,
    applies_to_shipping INTEGER NOT NULL DEFAULT 0,
    date_created        INTEGER NOT NULL
);
CREATE UNIQUE INDEX tax_rates_place ON tax_rates (merchant_id, country, state);

ALTER TABLE orders ADD COLUMN referral_id TEXT NOT NULL DEFAULT '';
ALTER TABLE orders ADD COLUMN customer_email TEXT NOT NULL DEFAULT '';
ALTER TABLE orders ADD COLUMN details BLOB;
ALTER TABLE orders ADD COLUMN payment_intent_client_secret TEXT NOT NULL DEFAULT '';
ALTER TABLE orders ADD COLUMN idempotency_key TEXT;
CREATE UNIQUE INDEX orders_idempotency_key ON orders (app_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX orders_app_modified ON orders (app_id, date_last_modified DESC, id DESC);
CREATE INDEX orders_app_status ON orders (app_id, status, date_created DESC, id DESC);
CREATE INDEX orders_app_order_id ON orders (app_id, app_order_id);
CREATE INDEX orders_app_email ON orders (app_id, customer_email);

ALTER TABLE bags ADD COLUMN merchant_name TEXT NOT NULL DEFAULT '';
ALTER TABLE bags ADD COLUMN platform TEXT NOT NULL DEFAULT '';
ALTER TABLE bags ADD COLUMN reference TEXT NOT NULL DEFAULT '';
ALTER TABLE bags ADD COLUMN commission_rate INTEGER NOT NULL DEFAULT 0;
ALTER TABLE bags ADD COLUMN shipping_method BLOB;
ALTER TABLE bags ADD COLUMN submit_attempts INTEGER NOT NULL DEFAULT 0;
CREATE INDEX bags_app_created ON bags (app_id, date_created DESC, id DESC);
CREATE INDEX bags_app_status ON bags (app_id, status, id DESC);
CREATE INDEX bags_app_merchant ON bags (app_id, merchant_id, id DESC);
CREATE INDEX bags_app_external ON bags (app_id, external_id);
CREATE INDEX bags_app_modified ON bags (app_id, date_last_modified DESC, id DESC);
-- Bag search sorts (sort_by) and the default order, each with the app first.
CREATE INDEX bags_app_id ON bags (app_id, id);
CREATE INDEX bags_app_submitted ON bags (app_id, date_submitted, id);
CREATE INDEX bags_app_total ON bags (app_id, total, id);
CREATE INDEX bags_app_sub_total ON bags (app_id, sub_total, id);
CREATE INDEX bags_app_shipping_total ON bags (app_id, shipping_total, id);
CREATE INDEX bags_app_tax_total ON bags (app_id, tax_total, id);

CREATE TABLE order_skus (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id           INTEGER NOT NULL REFERENCES orders (id),
    bag_id             INTEGER NOT NULL REFERENCES bags (id),
    sku_id             INTEGER NOT NULL,
    merchant_id        INTEGER NOT NULL,
    name               TEXT    NOT NULL,
    quantity           INTEGER NOT NULL,
    price              INTEGER NOT NULL,
    line_price         INTEGER NOT NULL,
    quantity_fulfilled INTEGER NOT NULL DEFAULT 0,
    quantity_refunded  INTEGER NOT NULL DEFAULT 0,
    status             TEXT    NOT NULL
);
CREATE INDEX order_skus_order ON order_skus (order_id, id);
CREATE INDEX order_skus_bag ON order_skus (bag_id, id);

CREATE TABLE order_errors (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id          INTEGER NOT NULL REFERENCES orders (id),
    bag_id            INTEGER,
    entity_type       TEXT    NOT NULL,
    entity_id         TEXT    NOT NULL DEFAULT '',
    type              TEXT    NOT NULL,
    message           TEXT    NOT NULL,
    external_platform TEXT    NOT NULL DEFAULT '',
    date_created      INTEGER NOT NULL
);
CREATE INDEX order_errors_order ON order_errors (order_id, id);

CREATE TABLE payment_transactions (
    id                              INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id                        INTEGER NOT NULL REFERENCES orders (id),
    bag_id                          INTEGER,
    type                            TEXT    NOT NULL,
    amount                          INTEGER NOT NULL,
    currency                        TEXT    NOT NULL,
    status                          TEXT    NOT NULL,
    payment_provider                TEXT    NOT NULL,
    payment_provider_transaction_id TEXT    NOT NULL DEFAULT '',
    date_created                    INTEGER NOT NULL
);
CREATE INDEX payment_transactions_order ON payment_transactions (order_id, id);

-- The sandbox platform's own records: what a merchant's store would hold.
CREATE TABLE sandbox_orders (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    merchant_id  INTEGER NOT NULL,
    external_id  TEXT    NOT NULL,
    reference    TEXT    NOT NULL,
    status       TEXT    NOT NULL,
    body         BLOB    NOT NULL,
    total        INTEGER NOT NULL,
    currency     TEXT    NOT NULL,
    date_created INTEGER NOT NULL
);
CREATE UNIQUE INDEX sandbox_orders_reference ON sandbox_orders (merchant_id, reference);
CREATE UNIQUE INDEX sandbox_orders_external_id ON sandbox_orders (external_id);

-- How many times the sandbox platform was asked to place each reference.
CREATE TABLE sandbox_attempts (
    merchant_id INTEGER NOT NULL,
    reference   TEXT    NOT NULL,
    attempts    INTEGER NOT NULL,
    PRIMARY KEY (merchant_id, reference)
);

-- The sandbox payment provider's own records.
CREATE TABLE sandbox_payment_intents (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    intent_id         TEXT    NOT NULL,
    client_secret     TEXT    NOT NULL,
    idempotency_key   TEXT    NOT NULL,
    token             TEXT    NOT NULL,
    status            TEXT    NOT NULL,
    amount            INTEGER NOT NULL,
    amount_captured   INTEGER NOT NULL DEFAULT 0,
    amount_refunded   INTEGER NOT NULL DEFAULT 0,
    currency          TEXT    NOT NULL,
    date_created      INTEGER NOT NULL
);
CREATE UNIQUE INDEX sandbox_payment_intents_id ON sandbox_payment_intents (intent_id);
CREATE UNIQUE INDEX sandbox_payment_intents_secret ON sandbox_payment_intents (client_secret);
CREATE UNIQUE INDEX sandbox_payment_intents_key ON sandbox_payment_intents (idempotency_key);

-- +goose Down
-- (the columns added to orders and bags stay; SQLite cannot drop indexed columns simply)
DROP TABLE sandbox_payment_intents;
DROP TABLE sandbox_attempts;
DROP TABLE sandbox_orders;
DROP TABLE payment_transactions;
DROP TABLE order_errors;
DROP TABLE order_skus;
DROP TABLE tax_rates;
DROP TABLE shipping_methods;
DROP TABLE skus;
DROP TABLE merchants;
