// Package tote is the domain core of Tote, a multi-merchant order
// orchestration service: the types every other package shares, and the pure
// rules of the order lifecycle. It does no I/O and imports no other package
// of this module, so every rule can be tested, and fuzzed, on its own.
//
// # Orders and bags
//
// A channel's checkout becomes one Order, split into one Bag per merchant.
// Tote takes one payment for the order, places each bag as an order on its
// merchant's platform, and follows each bag from there:
//
//	Order (status)
//	 ├── Bag, merchant A (status, financial_status, fulfillment_status)
//	 │    ├── SKUs
//	 │    └── Fulfillments
//	 └── Bag, merchant B (...)
//
// # Four status fields
//
// Four status fields move independently: the order's status and, on each
// bag, status, financial_status and fulfillment_status (OrderStatus,
// BagStatus, FinancialStatus, FulfillmentStatus). Each has a transition table
// held as data (OrderStatusTransitions, BagStatusTransitions,
// FinancialStatusTransitions, FulfillmentStatusTransitions) and one function
// that applies it (TransitionOrderStatus, ...). Nothing else assigns a
// status. A transition returns the webhook events it implies (EventType);
// anything not in a table is refused with an ECONFLICT *Error wrapping
// ErrInvalidTransition, naming the current status and the Trigger. The rules
// come from spec/LIFECYCLE.md; the tables' doc comments say where they had
// to decide something it leaves open.
//
// The four machines in short (↺ marks a row that keeps the status):
//
// Bag status; terminal: REJECTED, CANCELED, REFUNDED.
//
//	IN_PROGRESS ──submit──▶ SUBMITTED ──platform accepted──▶ ACCEPTED ──all shipped──▶ COMPLETED
//	     ▲                   │ │ ↺ outcome unknown             │  ▲
//	     └─retryable failure─┘ └──rejected──▶ REJECTED  backordered  stock arrived
//	                                                           ▼  │
//	                                                        BACKORDERED ──all shipped──▶ COMPLETED
//	ACCEPTED, BACKORDERED, COMPLETED ──partial refund──▶ PARTIALLY_REFUNDED ──full refund──▶ REFUNDED
//	ACCEPTED, BACKORDERED, COMPLETED ──full refund──▶ REFUNDED
//	SUBMITTED, ACCEPTED, BACKORDERED, COMPLETED, PARTIALLY_REFUNDED ──cancel──▶ CANCELED
//
// Financial status:
//
//	UNPAID ──authorize──▶ AUTHORIZED ──capture──▶ PAID
//	UNPAID ──mark pending──▶ PENDING ──capture──▶ PAID
//	AUTHORIZED, PENDING ──partial capture──▶ PARTIALLY_PAID ──capture──▶ PAID
//	AUTHORIZED ──void──▶ VOIDED ──reauthorize──▶ AUTHORIZED
//	PAID, PARTIALLY_PAID ──partial refund──▶ PARTIALLY_REFUNDED (↺ partial refund)
//	PAID, PARTIALLY_PAID, PARTIALLY_REFUNDED ──full refund──▶ REFUNDED
//
// Fulfillment status:
//
//	PROCESSING ──partially shipped──▶ PARTIALLY_SHIPPED (↺ partially shipped)
//	PROCESSING, PARTIALLY_SHIPPED ──all shipped──▶ SHIPPED ──delivered──▶ DELIVERED
//	PARTIALLY_SHIPPED, SHIPPED ──could not deliver──▶ COULD_NOT_DELIVER
//	any shipped status ──returned──▶ RETURNED
//
// Order status; terminal: REJECTED, CANCELED, REFUNDED. Submit and the
// shopper's steps are commands; NextOrderStatus derives the rest from the
// bags:
//
//	IN_PROGRESS ──submit──▶ PROCESSING ──requires action──▶ REQUIRES_ACTION ──abandon──▶ CANCELED
//	                        PROCESSING ◀──action completed── REQUIRES_ACTION
//	PROCESSING ──all accepted──▶ ACCEPTED
//	PROCESSING, ACCEPTED ──capture──▶ COMPLETED
//	PROCESSING ──all rejected──▶ REJECTED
//	PROCESSING, ACCEPTED ──capture failed──▶ IN_PROGRESS
//	PROCESSING, ACCEPTED, COMPLETED ──all canceled──▶ CANCELED
//	COMPLETED ──partial refund──▶ PARTIALLY_REFUNDED ──full refund──▶ REFUNDED
//	COMPLETED ──full refund──▶ REFUNDED
//
// The order stays PROCESSING until every bag has settled and the capture is
// recorded; it is never COMPLETED unless a bag is ACCEPTED or later.
//
// # Events
//
// Order events are bag-level: each names the bag that changed. When one real
// change moves several fields of a bag (a refund moves status and
// financial_status), MergeEvents makes one set of them. OrderState is a small
// pure model of a whole order that applies facts through the transition
// functions, keeps the money consistent (refunds never exceed captures) and
// returns the changes and events of each command.
//
// # Money
//
// Money is int64 minor units plus a currency code, end to end.
package tote
