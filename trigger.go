package tote

import "slices"

// Trigger names what happened to cause a status change: a command Tote ran
// (submit, authorize, capture), or a fact a merchant platform or payment
// provider reported (platform accepted, all shipped, partial refund). The
// transition tables map (current status, trigger) to the next status.
//
// Triggers Tote performs itself are imperative ("capture"); triggers that
// report something that happened elsewhere are in the past tense ("stock
// arrived"). A trigger may appear in several tables when one fact moves
// several status fields: "partial refund" moves a bag's status and its
// financial_status, and "all shipped" moves its status and its
// fulfillment_status.
type Trigger string

// Bag status triggers (LIFECYCLE.md, "Bag status"). TriggerSubmit is also an
// order status trigger; the refund triggers are also financial and order
// triggers; TriggerAllShipped is also a fulfillment trigger.
const (
	// TriggerSubmit is "order submitted": for a bag, Tote sends it to the
	// merchant's platform (IN_PROGRESS → SUBMITTED, again after each retryable
	// failure); for an order, submit was called with valid data
	// (IN_PROGRESS → PROCESSING).
	TriggerSubmit Trigger = "submit"
	// TriggerPlatformAccepted: the platform created the order and returned
	// its external order id (SUBMITTED → ACCEPTED).
	TriggerPlatformAccepted Trigger = "platform accepted"
	// TriggerRetryableFailure: the platform said "not now" before creating
	// anything (429, 5xx, connection refused); the bag goes back to
	// IN_PROGRESS and is resubmitted with backoff.
	TriggerRetryableFailure Trigger = "retryable failure"
	// TriggerOutcomeUnknown: the request was sent but no answer came back
	// (timeout). The bag stays SUBMITTED and the platform is asked, by the
	// bag's idempotency reference, whether the order exists before any
	// resubmission.
	TriggerOutcomeUnknown Trigger = "outcome unknown"
	// TriggerRejected: a non-retryable failure, or retries exhausted
	// (SUBMITTED → REJECTED).
	TriggerRejected Trigger = "rejected"
	// TriggerBackordered: the platform reports the items backordered
	// (ACCEPTED → BACKORDERED).
	TriggerBackordered Trigger = "backordered"
	// TriggerStockArrived: backordered stock arrived
	// (BACKORDERED → ACCEPTED).
	TriggerStockArrived Trigger = "stock arrived"
	// TriggerAllShipped: every SKU quantity of the bag has shipped. Moves the
	// bag status to COMPLETED and its fulfillment_status to SHIPPED.
	TriggerAllShipped Trigger = "all shipped"
	// TriggerFullRefund: a refund brought the refunded amount up to
	// everything captured (for an order: across all its bags). Also used for
	// "remaining amount refunded" from PARTIALLY_REFUNDED.
	TriggerFullRefund Trigger = "full refund"
	// TriggerPartialRefund: a refund that leaves part of the captured amount
	// unrefunded.
	TriggerPartialRefund Trigger = "partial refund"
	// TriggerCancel: the merchant or the channel canceled the bag. A cancel
	// does not refund by itself.
	TriggerCancel Trigger = "cancel"
)

// Financial status triggers (LIFECYCLE.md, "Bag financial_status"), besides
// TriggerPartialRefund and TriggerFullRefund.
const (
	// TriggerAuthorize: a hold was placed on the shopper's payment method
	// for the bag, before the bag goes to the merchant (UNPAID → AUTHORIZED).
	TriggerAuthorize Trigger = "authorize"
	// TriggerMarkPending: a slow payment method started processing
	// (UNPAID → PENDING).
	TriggerMarkPending Trigger = "mark pending"
	// TriggerCapture: the bag's amount was captured in full (financial:
	// → PAID). For an order: payment for the accepted bags was captured
	// (→ COMPLETED).
	TriggerCapture Trigger = "capture"
	// TriggerPartialCapture: a capture settled for less than the bag total
	// (→ PARTIALLY_PAID).
	TriggerPartialCapture Trigger = "partial capture"
	// TriggerVoid: the bag's authorization was released because the bag was
	// rejected or canceled before capture, or because the capture failed
	// (AUTHORIZED → VOIDED).
	TriggerVoid Trigger = "void"
	// TriggerReauthorize: the order was resubmitted with a new payment
	// method after a failed capture (VOIDED → AUTHORIZED).
	TriggerReauthorize Trigger = "reauthorize"
)

// Fulfillment status triggers (LIFECYCLE.md, "Bag fulfillment_status"),
// besides TriggerAllShipped. Each is derived from the bag's fulfillments.
const (
	// TriggerPartiallyShipped: a fulfillment shipped some, not all, of the
	// bag's SKU quantities.
	TriggerPartiallyShipped Trigger = "partially shipped"
	// TriggerDelivered: the carrier or merchant confirmed delivery of
	// everything (SHIPPED → DELIVERED).
	TriggerDelivered Trigger = "delivered"
	// TriggerCouldNotDeliver: the carrier could not deliver what shipped.
	TriggerCouldNotDeliver Trigger = "could not deliver"
	// TriggerReturned: all items are back with the merchant. A return does
	// not change financial_status.
	TriggerReturned Trigger = "returned"
)

// Order status triggers (LIFECYCLE.md, "Order status"), besides
// TriggerSubmit, TriggerCapture and the refund triggers. Except for the
// shopper-driven ones (requires action, action completed, abandon), each is
// derived from the bags by NextOrderStatus.
const (
	// TriggerRequiresAction: the payment needs shopper authentication
	// (3-D Secure) (PROCESSING → REQUIRES_ACTION).
	TriggerRequiresAction Trigger = "requires action"
	// TriggerActionCompleted: the shopper completed the action and the order
	// is resubmitted (REQUIRES_ACTION → PROCESSING).
	TriggerActionCompleted Trigger = "action completed"
	// TriggerAbandon: the shopper abandoned or canceled the action
	// (REQUIRES_ACTION → CANCELED).
	TriggerAbandon Trigger = "abandon"
	// TriggerAllAccepted: every bag is accepted and payment is not yet
	// captured (PROCESSING → ACCEPTED).
	TriggerAllAccepted Trigger = "all accepted"
	// TriggerAllRejected: every bag was rejected (PROCESSING → REJECTED).
	TriggerAllRejected Trigger = "all rejected"
	// TriggerCaptureFailed: capturing the accepted bags' amount failed; the
	// order goes back to IN_PROGRESS without its payment method.
	TriggerCaptureFailed Trigger = "capture failed"
	// TriggerAllCanceled: every live (not REJECTED) bag is CANCELED.
	TriggerAllCanceled Trigger = "all canceled"
)

// BagTriggers returns the triggers of the bag status table, in table order.
func BagTriggers() []Trigger {
	return []Trigger{
		TriggerSubmit,
		TriggerPlatformAccepted,
		TriggerRetryableFailure,
		TriggerOutcomeUnknown,
		TriggerRejected,
		TriggerBackordered,
		TriggerStockArrived,
		TriggerAllShipped,
		TriggerFullRefund,
		TriggerPartialRefund,
		TriggerCancel,
	}
}

// FinancialTriggers returns the triggers of the financial status table, in
// table order.
func FinancialTriggers() []Trigger {
	return []Trigger{
		TriggerAuthorize,
		TriggerMarkPending,
		TriggerCapture,
		TriggerPartialCapture,
		TriggerVoid,
		TriggerReauthorize,
		TriggerPartialRefund,
		TriggerFullRefund,
	}
}

// FulfillmentTriggers returns the triggers of the fulfillment status table,
// in table order.
func FulfillmentTriggers() []Trigger {
	return []Trigger{
		TriggerPartiallyShipped,
		TriggerAllShipped,
		TriggerDelivered,
		TriggerCouldNotDeliver,
		TriggerReturned,
	}
}

// OrderTriggers returns the triggers of the order status table, in table
// order.
func OrderTriggers() []Trigger {
	return []Trigger{
		TriggerSubmit,
		TriggerRequiresAction,
		TriggerActionCompleted,
		TriggerAbandon,
		TriggerAllAccepted,
		TriggerCapture,
		TriggerAllRejected,
		TriggerCaptureFailed,
		TriggerAllCanceled,
		TriggerPartialRefund,
		TriggerFullRefund,
	}
}

// Triggers returns every trigger of every table, each once.
func Triggers() []Trigger {
	var all []Trigger
	for _, list := range [][]Trigger{BagTriggers(), FinancialTriggers(), FulfillmentTriggers(), OrderTriggers()} {
		for _, t := range list {
			if !slices.Contains(all, t) {
				all = append(all, t)
			}
		}
	}
	return all
}

// Valid reports whether t is one of Triggers().
func (t Trigger) Valid() bool { return slices.Contains(Triggers(), t) }
