// Package sandbox is the built-in simulated commerce platform of
// `platform: "SANDBOX"` merchants (API.md, "Sandbox platform"), and Tote's
// connector to it.
//
// The platform is a remote service as far as Tote is concerned: Platform is
// an http.Handler with its own small API, served on its own listener inside
// the tote process, and Connector (a tote.Platform) reaches it over HTTP
// with a timeout per call, exactly as it would reach a real platform. Both
// share Tote's database: the platform keeps its orders in the
// sandbox_orders table, and a SKU's inventory is the catalog's own
// skus.inventory column (in the sandbox, Tote's catalog row is the
// merchant store's product).
//
// # The platform's API
//
// Every request carries the shared key in X-Sandbox-Key (401 otherwise).
//
//	POST /orders   {merchant_id, reference, currency, lines: [{sku_id, name, quantity, price}],
//	                shipping_total, tax_total, total, customer?, shipping_address?}
//	  201 a new order (202 a cartless merchant's, not yet confirmed), 200 the
//	      order already placed with that reference:
//	      {external_id, merchant_id, reference, status, total, currency, lines, date_created}
//	  4xx/5xx {type, message}: type is the order error type it means to Tote
//	GET  /orders?merchant_id=&reference=
//	  200 the order (a PENDING one confirmed first), 404 none
//	POST /orders/cancel   {merchant_id, reference, reason?}
//	  200 the order, CANCELED, its lines back in inventory (once: cancelling
//	      a cancelled order answers it as it is); 409 EXTERNAL_CANCEL_ORDER
//	      when its status allows no cancelling; 404 none
//	POST /orders/refunds  {merchant_id, reference, refund_reference, amount, reason?}
//	  201 the new refund {external_id, reference, amount, reason, date_created},
//	      200 the refund already made with that refund_reference; 409
//	      EXTERNAL_WRITE_ORDER beyond what is left to refund, for an order not
//	      yet confirmed, or a refund_reference reused with another amount;
//	      422 amount below 1; 404 no such order
//
// An order's answer carries its refunds (refunds: [...]).
//
// What a POST does depends on the merchant's sandbox behaviour
// (tote.SandboxBehaviour), read from the store on every request:
//
//   - latency_ms: the platform waits that long before doing anything (GET
//     too); a caller that gives up meanwhile leaves nothing behind.
//   - A reference already placed is answered with its order (200) whatever
//     the behaviour says, without touching inventory again.
//   - ACCEPT (or empty): the order is created, its lines taken out of
//     inventory atomically (201). Short of stock: 409, type
//     EXTERNAL_ADD_ITEM, "Not enough items available. Only N left", with
//     the SKU's id as sku_id, and nothing changes. A SKU the merchant does
//     not sell is the same error.
//   - REJECT: 422, type EXTERNAL_SUBMIT_CART; nothing is created.
//   - FAIL_RETRYABLE with fail_times N: the first N requests for a
//     reference answer 503 without creating anything, later ones behave as
//     ACCEPT. Requests are counted per reference in sandbox_attempts
//     (only while the merchant is FAIL_RETRYABLE and the reference is not
//     placed).
//   - TIMEOUT: the order is created as under ACCEPT, and then the platform
//     does not answer until the caller hangs up, so the caller cannot know
//     what happened. A repeated request for the reference hangs the same
//     way; GET answers normally, which is how the outcome is found.
//   - backorder: an accepted order's status is BACKORDERED instead of
//     ACCEPTED (inventory is still enforced).
//   - cartless: the platform takes the order (inventory included) but
//     does not confirm it at once: 202 with status PENDING. It confirms
//     the order (ACCEPTED, or BACKORDERED) by the time it is next asked
//     about it (GET), which is how Tote, polling, learns the outcome; a
//     bag of such a merchant stays SUBMITTED meanwhile.
//   - push_events: not used by the platform yet: it sends no
//     notifications; changes are found by asking.
//
// # How the connector reads answers
//
// Submit: 2xx is the platform's record. 429, 408, 5xx and a connection that
// could not be made or failed before the request was written are
// tote.PlatformRetryable (Retry-After honoured). Any other 4xx is
// tote.PlatformRejected with the body's type (EXTERNAL_SUBMIT_CART when it
// has none), 401 included: a wrong key is a configuration error that retries
// would not cure. A timeout or cancellation after the request was written,
// or a 2xx body that cannot be read, is tote.PlatformUnknown: the order may
// exist, and Lookup must be asked before any resubmission. Lookup: 200 is
// the record, 404 wraps tote.ErrNotFound, anything else is a
// tote.PlatformRetryable error meaning only "ask again later" (never that
// the order does not exist). Cancel and Refund: 200 (201) is the record,
// 404 wraps tote.ErrNotFound, 429 and 5xx and no answer are
// tote.PlatformRetryable (asking again is safe: a cancel is idempotent, a
// refund keyed by its reference), any other 4xx is tote.PlatformRejected.
//
// # Operator routes
//
// OperatorRoutes returns what the API server mounts behind the admin key:
// GET /v1/sandbox/merchants/{merchant_id}/orders, the platform's own records.
package sandbox
