package tote

import "slices"

// OrderStatus is an order's status: an aggregate over its bags plus the
// checkout steps that happen before any bag is placed. It moves only through
// TransitionOrderStatus, either by a command (submit, requires action,
// action completed, abandon) or by NextOrderStatus, which derives the
// trigger from the bags.
type OrderStatus string

const (
	// OrderStatusInProgress: the order is a cart, being filled. Left for
	// PROCESSING when submit is called with valid data. An order comes back
	// here when capture failed, without its payment method.
	OrderStatusInProgress OrderStatus = "IN_PROGRESS"
	// OrderStatusProcessing: submitted; payment is being authorized and bags
	// placed. Stays PROCESSING until every bag has settled, even while a bag
	// is retried in the background. Left for REQUIRES_ACTION, ACCEPTED,
	// COMPLETED, REJECTED, CANCELED, or IN_PROGRESS when capture fails.
	OrderStatusProcessing OrderStatus = "PROCESSING"
	// OrderStatusRequiresAction: the payment needs shopper authentication
	// (3-D Secure). Left for PROCESSING when the shopper completes it, or
	// CANCELED when they abandon it.
	OrderStatusRequiresAction OrderStatus = "REQUIRES_ACTION"
	// OrderStatusAccepted: every bag is accepted and payment is not yet
	// captured; brief. Left for COMPLETED when payment is captured.
	OrderStatusAccepted OrderStatus = "ACCEPTED"
	// OrderStatusCompleted: at least one bag is accepted and payment is
	// captured. Left for CANCELED (every live bag canceled) or a refund
	// status.
	OrderStatusCompleted OrderStatus = "COMPLETED"
	// OrderStatusRejected: every bag was rejected; the authorization is
	// voided. Terminal.
	OrderStatusRejected OrderStatus = "REJECTED"
	// OrderStatusCanceled: the shopper abandoned the payment action, or every
	// live bag was canceled. Terminal.
	OrderStatusCanceled OrderStatus = "CANCELED"
	// OrderStatusPartiallyRefunded: some bags or SKUs were refunded. Left for
	// REFUNDED when everything captured is refunded.
	OrderStatusPartiallyRefunded OrderStatus = "PARTIALLY_REFUNDED"
	// OrderStatusRefunded: everything captured was refunded. Terminal.
	OrderStatusRefunded OrderStatus = "REFUNDED"
)

// OrderStatuses returns every order status, in lifecycle order.
func OrderStatuses() []OrderStatus {
	return []OrderStatus{
		OrderStatusInProgress,
		OrderStatusProcessing,
		OrderStatusRequiresAction,
		OrderStatusAccepted,
		OrderStatusCompleted,
		OrderStatusRejected,
		OrderStatusCanceled,
		OrderStatusPartiallyRefunded,
		OrderStatusRefunded,
	}
}

// Valid reports whether s is one of OrderStatuses().
func (s OrderStatus) Valid() bool { return slices.Contains(OrderStatuses(), s) }

// ParseOrderStatus returns the order status spelled exactly s, or an
// EINVALID error.
func ParseOrderStatus(s string) (OrderStatus, error) {
	return parseStatus(OrderStatuses(), "order status", s)
}

// IsTerminal reports whether s is REJECTED, CANCELED or REFUNDED. LIFECYCLE.md
// calls REJECTED terminal outright; CANCELED and REFUNDED are terminal
// because no row of OrderStatusTransitions leaves them (seed 002 calls
// CANCELED terminal too).
func (s OrderStatus) IsTerminal() bool {
	switch s {
	case OrderStatusRejected, OrderStatusCanceled, OrderStatusRefunded:
		return true
	}
	return false
}

// OrderStatusTransitions is the order status table of LIFECYCLE.md. Treat it
// as read-only.
//
// Where LIFECYCLE.md is silent, these rows decide:
//   - ACCEPTED --capture failed--> IN_PROGRESS: ACCEPTED is the state an
//     order waits in for its capture when every bag was accepted, so a
//     failed capture must be recordable from it as from PROCESSING.
//   - PROCESSING, ACCEPTED --all canceled--> CANCELED: if every live bag is
//     canceled before capture there is nothing left to charge; without
//     these rows such an order would wait forever.
//
// Events: order events are bag-level, so most order changes imply no event
// of their own; the bag change that caused them already carries it (the
// last bag's cancel carries ORDER_CANCELLED, a bag refund ORDER_REFUNDED,
// each capture's financial change ORDER_UPDATED). The exceptions are the
// two ways an order fails before anything is charged: → REJECTED and
// REQUIRES_ACTION --abandon--> CANCELED give ORDER_FAILED ("the order
// failed before any bag was accepted"). A failed capture gives no order
// event: each bag's VOIDED carries ORDER_UPDATED, and the payment
// transaction carries PAYMENT_TRANSACTION_CAPTURE_STATUS_FAILED.
var OrderStatusTransitions = []Transition[OrderStatus]{
	{
		From:    []OrderStatus{OrderStatusInProgress},
		Trigger: TriggerSubmit,
		To:      OrderStatusProcessing,
	},
	{
		From:    []OrderStatus{OrderStatusProcessing},
		Trigger: TriggerRequiresAction,
		To:      OrderStatusRequiresAction,
	},
	{
		From:    []OrderStatus{OrderStatusRequiresAction},
		Trigger: TriggerActionCompleted,
		To:      OrderStatusProcessing,
	},
	{
		From:    []OrderStatus{OrderStatusRequiresAction},
		Trigger: TriggerAbandon,
		To:      OrderStatusCanceled,
		Events:  []EventType{EventOrderFailed},
	},
	{
		From:    []OrderStatus{OrderStatusProcessing},
		Trigger: TriggerAllAccepted,
		To:      OrderStatusAccepted,
	},
	{
		From:    []OrderStatus{OrderStatusProcessing, OrderStatusAccepted},
		Trigger: TriggerCapture,
		To:      OrderStatusCompleted,
	},
	{
		From:    []OrderStatus{OrderStatusProcessing},
		Trigger: TriggerAllRejected,
		To:      OrderStatusRejected,
		Events:  []EventType{EventOrderFailed},
	},
	{
		From:    []OrderStatus{OrderStatusProcessing, OrderStatusAccepted},
		Trigger: TriggerCaptureFailed,
		To:      OrderStatusInProgress,
	},
	{
		From:    []OrderStatus{OrderStatusProcessing, OrderStatusAccepted, OrderStatusCompleted},
		Trigger: TriggerAllCanceled,
		To:      OrderStatusCanceled,
	},
	{
		From:    []OrderStatus{OrderStatusCompleted},
		Trigger: TriggerPartialRefund,
		To:      OrderStatusPartiallyRefunded,
	},
	{
		From:    []OrderStatus{OrderStatusCompleted, OrderStatusPartiallyRefunded},
		Trigger: TriggerFullRefund,
		To:      OrderStatusRefunded,
	},
}

// TransitionOrderStatus applies trigger t to an order whose status is from,
// and returns the new status and the order-level events implied (usually
// none; see OrderStatusTransitions). A pair with no row is refused with an
// ECONFLICT *Error wrapping ErrInvalidTransition whose message names both,
// and from is returned unchanged.
func TransitionOrderStatus(from OrderStatus, t Trigger) (OrderStatus, []EventType, error) {
	return transition(FieldOrderStatus, OrderStatusTransitions, OrderStatuses(), from, t)
}
