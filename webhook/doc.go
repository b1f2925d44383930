// Package webhook tells apps what happened: it manages their subscriptions
// (Service, behind the /v1/events/webhooks routes) and delivers events to
// them (Dispatcher, a durable job handler).
//
// Every event fans out, in the transaction that records it, to one delivery
// per ACTIVE subscription of its app and type (the stores do this in
// Tx.InsertEvents). The Dispatcher then POSTs each delivery to its
// subscription's endpoint, outside any transaction, signed twice: with the
// app secret (X-Violet-Hmac) and with the subscription's whsec_ secret (the
// Standard Webhooks headers). A 2xx within the timeout is success; other
// outcomes are retried on a schedule, honouring Retry-After, except 4xx
// answers (but 408 and 429), and 410 disables the subscription. An
// endpoint that fails too often is paused, longer each time, then
// disabled. For one subscription, deliveries of one bag go one at a time,
// in order (unless it opted out); other bags and other subscriptions are
// never held up by them. See docs/decisions/0009-webhooks.md.
package webhook
