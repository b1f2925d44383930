-- +goose Up
-- A payment event's deliveries name its transaction, the entity their body
-- is (the delivery log's entity_id); NULL for an order event, whose entity
-- is the order. Deliveries made before this learn it from their event's
-- body where it was kept.
ALTER TABLE webhook_deliveries ADD COLUMN transaction_id BIGINT;
UPDATE webhook_deliveries d SET transaction_id = (convert_from(e.payload, 'UTF8')::jsonb ->> 'id')::bigint
    FROM events e
    WHERE e.id = d.source_event_id AND e.payload IS NOT NULL AND d.event_type LIKE 'PAYMENT_TRANSACTION_%';

-- +goose Down
ALTER TABLE webhook_deliveries DROP COLUMN transaction_id;
