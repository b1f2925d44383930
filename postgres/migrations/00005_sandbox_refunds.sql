-- +goose Up
-- The sandbox platform's refunds of an order, as a JSON array of
-- {external_id, reference, amount, reason, date_created}: they are only
-- ever read and written with their order.
ALTER TABLE sandbox_orders ADD COLUMN refunds JSONB NOT NULL DEFAULT '[]';

-- +goose Down
ALTER TABLE sandbox_orders DROP COLUMN refunds;
