package tote

import "slices"

// BagStatus is a bag's top-level status: where the bag is in its life at the
// merchant. It moves only through TransitionBagStatus.
type BagStatus string

const (
	// BagStatusInProgress: bags are created IN_PROGRESS, one per merchant,
	// as SKUs are added. A bag also comes back here from SUBMITTED after a
	// retryable failure, to be resubmitted with backoff. Left by submit.
	BagStatusInProgress BagStatus = "IN_PROGRESS"
	// BagStatusSubmitted: Tote sent the bag to the merchant's platform and is
	// waiting for its answer. Stays SUBMITTED while the outcome is unknown
	// (the platform is then asked whether the order exists before any
	// resubmission). Left for ACCEPTED, IN_PROGRESS (retryable failure),
	// REJECTED or CANCELED.
	BagStatusSubmitted BagStatus = "SUBMITTED"
	// BagStatusAccepted: the platform created the order and returned its
	// external id. Left for BACKORDERED, COMPLETED (all shipped), a refund
	// status or CANCELED.
	BagStatusAccepted BagStatus = "ACCEPTED"
	// BagStatusBackordered: the platform reports the items backordered
	// (where it supports backorders). Left for ACCEPTED when stock arrives,
	// or like ACCEPTED for COMPLETED, a refund status or CANCELED.
	BagStatusBackordered BagStatus = "BACKORDERED"
	// BagStatusCompleted: every SKU quantity shipped. "Terminal with
	// exceptions": left only for a refund status or CANCELED.
	BagStatusCompleted BagStatus = "COMPLETED"
	// BagStatusRejected: the platform refused the bag for good, or retries
	// ran out. Terminal. The bag is dropped from the order's charge.
	BagStatusRejected BagStatus = "REJECTED"
	// BagStatusCanceled: the merchant or the channel canceled the bag.
	// Terminal. A cancel does not refund by itself: money captured for the
	// bag is refunded through financial_status, which still moves.
	BagStatusCanceled BagStatus = "CANCELED"
	// BagStatusPartiallyRefunded: part of what was captured for the bag was
	// refunded. Left for REFUNDED when the rest is refunded, or CANCELED.
	BagStatusPartiallyRefunded BagStatus = "PARTIALLY_REFUNDED"
	// BagStatusRefunded: everything captured for the bag was refunded.
	// Terminal.
	BagStatusRefunded BagStatus = "REFUNDED"
)

// BagStatuses returns every bag status, in lifecycle order.
func BagStatuses() []BagStatus {
	return []BagStatus{
		BagStatusInProgress,
		BagStatusSubmitted,
		BagStatusAccepted,
		BagStatusBackordered,
		BagStatusCompleted,
		BagStatusRejected,
		BagStatusCanceled,
		BagStatusPartiallyRefunded,
		BagStatusRefunded,
	}
}

// Valid reports whether s is one of BagStatuses().
func (s BagStatus) Valid() bool { return slices.Contains(BagStatuses(), s) }

// ParseBagStatus returns the bag status spelled exactly s (upper case, as on
// the wire), or an EINVALID error.
func ParseBagStatus(s string) (BagStatus, error) {
	return parseStatus(BagStatuses(), "bag status", s)
}

// IsTerminal reports whether s is REJECTED, CANCELED or REFUNDED: no row of
// BagStatusTransitions leaves them.
func (s BagStatus) IsTerminal() bool {
	switch s {
	case BagStatusRejected, BagStatusCanceled, BagStatusRefunded:
		return true
	}
	return false
}

// IsSettled reports whether the platform has answered for the bag, so the
// order no longer waits for it before capturing: every status but
// IN_PROGRESS and SUBMITTED. LIFECYCLE.md says "settled (ACCEPTED or
// REJECTED)"; statuses reachable only from ACCEPTED are settled too, and so
// is CANCELED, because a canceled bag will never be accepted and an order
// waiting for it would wait forever.
func (s BagStatus) IsSettled() bool {
	return s.Valid() && s != BagStatusInProgress && s != BagStatusSubmitted
}

// AcceptedOrLater reports whether s is ACCEPTED or a status reachable only
// through ACCEPTED: BACKORDERED, COMPLETED, PARTIALLY_REFUNDED, REFUNDED.
// An order is never COMPLETED unless one of its bags is AcceptedOrLater.
// CANCELED is not included, since a bag can be canceled while SUBMITTED.
func (s BagStatus) AcceptedOrLater() bool {
	switch s {
	case BagStatusAccepted, BagStatusBackordered, BagStatusCompleted,
		BagStatusPartiallyRefunded, BagStatusRefunded:
		return true
	}
	return false
}

// BagStatusTransitions is the bag status table of LIFECYCLE.md, row for row.
// Treat it as read-only; TransitionBagStatus is the only way to apply it.
//
// Events follow the Events table: → ACCEPTED gives ORDER_ACCEPTED,
// ORDER_UPDATED (also when stock arrives for a backordered bag: the table
// names no exception); → COMPLETED, → a refund status and → CANCELED give
// their event then ORDER_UPDATED; → REJECTED gives ORDER_FAILED alone; every
// other change gives ORDER_UPDATED. SUBMITTED --outcome unknown--> SUBMITTED
// gives nothing: the status does not change and the channel has nothing to
// learn until the platform answers.
var BagStatusTransitions = []Transition[BagStatus]{
	{
		From:    []BagStatus{BagStatusInProgress},
		Trigger: TriggerSubmit,
		To:      BagStatusSubmitted,
		Events:  []EventType{EventOrderUpdated},
	},
	{
		From:    []BagStatus{BagStatusSubmitted},
		Trigger: TriggerPlatformAccepted,
		To:      BagStatusAccepted,
		Events:  []EventType{EventOrderAccepted, EventOrderUpdated},
	},
	{
		From:    []BagStatus{BagStatusSubmitted},
		Trigger: TriggerRetryableFailure,
		To:      BagStatusInProgress,
		Events:  []EventType{EventOrderUpdated},
	},
	{
		From:    []BagStatus{BagStatusSubmitted},
		Trigger: TriggerOutcomeUnknown,
		To:      BagStatusSubmitted,
		Events:  nil,
	},
	{
		From:    []BagStatus{BagStatusSubmitted},
		Trigger: TriggerRejected,
		To:      BagStatusRejected,
		Events:  []EventType{EventOrderFailed},
	},
	{
		From:    []BagStatus{BagStatusAccepted},
		Trigger: TriggerBackordered,
		To:      BagStatusBackordered,
		Events:  []EventType{EventOrderUpdated},
	},
	{
		From:    []BagStatus{BagStatusBackordered},
		Trigger: TriggerStockArrived,
		To:      BagStatusAccepted,
		Events:  []EventType{EventOrderAccepted, EventOrderUpdated},
	},
	{
		From:    []BagStatus{BagStatusAccepted, BagStatusBackordered},
		Trigger: TriggerAllShipped,
		To:      BagStatusCompleted,
		Events:  []EventType{EventOrderCompleted, EventOrderUpdated},
	},
	{
		From:    []BagStatus{BagStatusAccepted, BagStatusBackordered, BagStatusCompleted},
		Trigger: TriggerFullRefund,
		To:      BagStatusRefunded,
		Events:  []EventType{EventOrderRefunded, EventOrderUpdated},
	},
	{
		From:    []BagStatus{BagStatusAccepted, BagStatusBackordered, BagStatusCompleted},
		Trigger: TriggerPartialRefund,
		To:      BagStatusPartiallyRefunded,
		Events:  []EventType{EventOrderRefunded, EventOrderUpdated},
	},
	{
		// "remaining amount refunded"
		From:    []BagStatus{BagStatusPartiallyRefunded},
		Trigger: TriggerFullRefund,
		To:      BagStatusRefunded,
		Events:  []EventType{EventOrderRefunded, EventOrderUpdated},
	},
	{
		From: []BagStatus{BagStatusSubmitted, BagStatusAccepted, BagStatusBackordered,
			BagStatusCompleted, BagStatusPartiallyRefunded},
		Trigger: TriggerCancel,
		To:      BagStatusCanceled,
		Events:  []EventType{EventOrderCancelled, EventOrderUpdated},
	},
}

// TransitionBagStatus applies trigger t to a bag whose status is from. It
// returns the new status and the events the change implies, in publishing
// order (none for a self-loop that changes nothing). A (status, trigger)
// pair with no row in BagStatusTransitions is refused with an ECONFLICT
// *Error wrapping ErrInvalidTransition whose message names both, and from is
// returned unchanged.
func TransitionBagStatus(from BagStatus, t Trigger) (BagStatus, []EventType, error) {
	return transition(FieldBagStatus, BagStatusTransitions, BagStatuses(), from, t)
}
