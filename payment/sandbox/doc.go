// Package sandbox is the built-in simulated payment provider (a small
// Stripe-like service) and Tote's client for it (a tote.PaymentProvider).
//
// Like the sandbox platform, the provider is a remote service to Tote:
// Provider is an http.Handler served on its own listener inside the tote
// process, and Client reaches it over HTTP with a timeout per call. Its
// records are the sandbox_payment_intents table of Tote's database.
//
// # The provider's API
//
// Every request carries the shared key in X-Sandbox-Key (401 otherwise).
// Intents are {id, client_secret, status, amount, amount_captured,
// amount_refunded, currency, date_created}, status one of tote.Intent...;
// errors are {error, message, declined} with error a tote error code.
//
//	POST /payment_intents  {amount, currency, token}, Idempotency-Key required
//	     201 new intent; 200 the intent already made with that key; 402 declined
//	     (also on a replay); 409 the key was used with other parameters
//	GET  /payment_intents/{id}
//	POST /payment_intents/{id}/capture  {amount}  1 ≤ amount ≤ authorized; the rest is released
//	POST /payment_intents/{id}/void
//	POST /payment_intents/{id}/refund   {amount}  1 ≤ amount ≤ captured − refunded
//	POST /client_secrets/{client_secret}/confirm  the shopper completed 3-D Secure
//
// Test tokens (API.md, "Checkout carts"):
//
//   - tok_visa: authorizes (AUTHORIZED), captures.
//   - tok_chargeDeclined: declined at authorization: the intent is kept as
//     FAILED (so a replay gets the same answer) and the answer is 402.
//   - tok_threeDSecureRequired: REQUIRES_ACTION until confirmed by client
//     secret, then AUTHORIZED; capturing before that is a 409.
//   - tok_captureFails: authorizes; the capture is declined (402) and the
//     hold released: the intent becomes VOIDED (a later Void answers it
//     unchanged).
//   - any other token: declined, with a message naming the known ones.
//
// Capturing an intent again with the amount already captured, voiding a
// voided one and confirming an authorized one answer the intent unchanged,
// so a call retried after a timeout is harmless. A refund is not
// idempotent: after a refund call that timed out, read the intent (Get)
// before refunding again.
//
// # How the client reads answers
//
// 2xx is the intent; 402 is a *tote.PaymentError with Declined; 404 wraps
// tote.ErrNotFound; any other 4xx but 408 and 429 is a *tote.PaymentError
// without Declined (the call was refused for good: retrying it will not
// help); a 5xx, 408, 429, timeout or network failure is a plain error, the
// outcome unknown: retry Authorize with the same idempotency key, or Get
// the intent.
//
// # Operator routes
//
// OperatorRoutes returns what the API server mounts behind the admin key:
// POST /v1/sandbox/payment_intents/{client_secret}/confirm, the shopper's
// 3-D Secure step.
package sandbox
