package tote

import "slices"

// FinancialStatus is where a bag's money stands: authorized, captured,
// refunded. It moves only through TransitionFinancialStatus, independently
// of the bag status: a CANCELED bag can still be refunded, and a return does
// not move it.
type FinancialStatus string

const (
	// FinancialStatusUnpaid: no payment has been attempted for the bag. Every
	// bag starts here; left for AUTHORIZED or PENDING.
	FinancialStatusUnpaid FinancialStatus = "UNPAID"
	// FinancialStatusPending: a slow payment method started processing
	// without a hold. Left for PAID or PARTIALLY_PAID when it settles.
	FinancialStatusPending FinancialStatus = "PENDING"
	// FinancialStatusAuthorized: a hold is placed for the bag's total, before
	// the bag goes to the merchant. Left for PAID (captured after the
	// merchant accepted), PARTIALLY_PAID, or VOIDED (the hold was released).
	FinancialStatusAuthorized FinancialStatus = "AUTHORIZED"
	// FinancialStatusPaid: the bag's total was captured. Left for a refund
	// status.
	FinancialStatusPaid FinancialStatus = "PAID"
	// FinancialStatusPartiallyPaid: a capture settled for less than the bag
	// total (rare: a short capture, a currency conversion issue). Left for
	// PAID when the rest is captured, or for a refund status.
	FinancialStatusPartiallyPaid FinancialStatus = "PARTIALLY_PAID"
	// FinancialStatusPartiallyRefunded: part of what was captured was
	// refunded. Stays on a further partial refund; left for REFUNDED when the
	// rest is refunded.
	FinancialStatusPartiallyRefunded FinancialStatus = "PARTIALLY_REFUNDED"
	// FinancialStatusRefunded: everything captured was refunded. Nothing
	// leaves it.
	FinancialStatusRefunded FinancialStatus = "REFUNDED"
	// FinancialStatusVoided: the authorization was released, because the bag
	// was rejected or canceled before capture or because the capture failed.
	// Left for AUTHORIZED when the order is resubmitted with a new payment
	// method.
	FinancialStatusVoided FinancialStatus = "VOIDED"
)

// FinancialStatuses returns every financial status, in lifecycle order.
func FinancialStatuses() []FinancialStatus {
	return []FinancialStatus{
		FinancialStatusUnpaid,
		FinancialStatusPending,
		FinancialStatusAuthorized,
		FinancialStatusPaid,
		FinancialStatusPartiallyPaid,
		FinancialStatusPartiallyRefunded,
		FinancialStatusRefunded,
		FinancialStatusVoided,
	}
}

// Valid reports whether s is one of FinancialStatuses().
func (s FinancialStatus) Valid() bool { return slices.Contains(FinancialStatuses(), s) }

// ParseFinancialStatus returns the financial status spelled exactly s, or an
// EINVALID error.
func ParseFinancialStatus(s string) (FinancialStatus, error) {
	return parseStatus(FinancialStatuses(), "financial status", s)
}

// HoldsAuthorization reports whether the bag's payment is authorized or
// pending but not yet captured: the states a capture or a void starts from.
func (s FinancialStatus) HoldsAuthorization() bool {
	return s == FinancialStatusAuthorized || s == FinancialStatusPending
}

// FinancialStatusTransitions turns the financial_status prose of
// LIFECYCLE.md into rows. LIFECYCLE.md names no terminal financial status
// (REFUNDED has no way out, VOIDED has one), so FinancialStatus has no
// IsTerminal. Treat the table as read-only.
//
// Where the prose is silent, these rows decide:
//   - PARTIALLY_PAID moves "to PAID" by TriggerCapture (the rest captured).
//   - PENDING, like AUTHORIZED, can settle short (TriggerPartialCapture),
//     since PARTIALLY_PAID is "entered only when a capture settled for less
//     than the bag total".
//   - PARTIALLY_REFUNDED --partial refund--> PARTIALLY_REFUNDED: a second
//     partial refund is a real change and is reported as a refund.
//
// Events: → REFUNDED or PARTIALLY_REFUNDED gives ORDER_REFUNDED,
// ORDER_UPDATED; every other financial change gives ORDER_UPDATED. Payment
// transaction events (PAYMENT_TRANSACTION_CAPTURE_STATUS_*) belong to the
// payment transaction, not to this field, and are not produced here.
var FinancialStatusTransitions = []Transition[FinancialStatus]{
	{
		From:    []FinancialStatus{FinancialStatusUnpaid},
		Trigger: TriggerAuthorize,
		To:      FinancialStatusAuthorized,
		Events:  []EventType{EventOrderUpdated},
	},
	{
		From:    []FinancialStatus{FinancialStatusUnpaid},
		Trigger: TriggerMarkPending,
		To:      FinancialStatusPending,
		Events:  []EventType{EventOrderUpdated},
	},
	{
		From:    []FinancialStatus{FinancialStatusAuthorized, FinancialStatusPending, FinancialStatusPartiallyPaid},
		Trigger: TriggerCapture,
		To:      FinancialStatusPaid,
		Events:  []EventType{EventOrderUpdated},
	},
	{
		From:    []FinancialStatus{FinancialStatusAuthorized, FinancialStatusPending},
		Trigger: TriggerPartialCapture,
		To:      FinancialStatusPartiallyPaid,
		Events:  []EventType{EventOrderUpdated},
	},
	{
		From:    []FinancialStatus{FinancialStatusAuthorized},
		Trigger: TriggerVoid,
		To:      FinancialStatusVoided,
		Events:  []EventType{EventOrderUpdated},
	},
	{
		From:    []FinancialStatus{FinancialStatusVoided},
		Trigger: TriggerReauthorize,
		To:      FinancialStatusAuthorized,
		Events:  []EventType{EventOrderUpdated},
	},
	{
		From:    []FinancialStatus{FinancialStatusPaid, FinancialStatusPartiallyPaid, FinancialStatusPartiallyRefunded},
		Trigger: TriggerPartialRefund,
		To:      FinancialStatusPartiallyRefunded,
		Events:  []EventType{EventOrderRefunded, EventOrderUpdated},
	},
	{
		From:    []FinancialStatus{FinancialStatusPaid, FinancialStatusPartiallyPaid, FinancialStatusPartiallyRefunded},
		Trigger: TriggerFullRefund,
		To:      FinancialStatusRefunded,
		Events:  []EventType{EventOrderRefunded, EventOrderUpdated},
	},
}

// TransitionFinancialStatus applies trigger t to a bag whose financial_status
// is from, and returns the new status and the events implied. A pair with no
// row in FinancialStatusTransitions is refused with an ECONFLICT *Error
// wrapping ErrInvalidTransition, such as `cannot apply "capture" to bag
// financial_status VOIDED`, and from is returned unchanged.
func TransitionFinancialStatus(from FinancialStatus, t Trigger) (FinancialStatus, []EventType, error) {
	return transition(FieldFinancialStatus, FinancialStatusTransitions, FinancialStatuses(), from, t)
}
