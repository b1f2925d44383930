-- +goose Up
-- An app may subscribe one endpoint to one event type more than once
-- (decision 0009): API.md sets no such rule, and each subscription has its
-- own secret and log. The fan-out still finds an app's subscriptions
-- through this index (by app_id, its first column).
DROP INDEX webhooks_app_event_endpoint;
CREATE INDEX webhooks_app_event ON webhooks (app_id, event);

-- +goose Down
-- Fails if an app has two subscriptions of one event at one endpoint:
-- those must be deleted by hand first, never silently.
DROP INDEX webhooks_app_event;
CREATE UNIQUE INDEX webhooks_app_event_endpoint ON webhooks (app_id, event, remote_endpoint);
