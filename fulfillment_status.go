package tote

import "slices"

// FulfillmentStatus is how far a bag's items have travelled. It is derived
// from the bag's fulfillments and stored so it can be searched; it moves only
// through TransitionFulfillmentStatus.
type FulfillmentStatus string

const (
	// FulfillmentStatusProcessing: nothing has shipped yet. Every bag starts
	// here; left when a first fulfillment ships some or all of it.
	FulfillmentStatusProcessing FulfillmentStatus = "PROCESSING"
	// FulfillmentStatusPartiallyShipped: some SKU quantity shipped, not all.
	// Stays on further partial shipments; left for SHIPPED when the rest
	// ships, COULD_NOT_DELIVER or RETURNED.
	FulfillmentStatusPartiallyShipped FulfillmentStatus = "PARTIALLY_SHIPPED"
	// FulfillmentStatusShipped: every SKU quantity shipped. Left for
	// DELIVERED, COULD_NOT_DELIVER or RETURNED.
	FulfillmentStatusShipped FulfillmentStatus = "SHIPPED"
	// FulfillmentStatusDelivered: the carrier or merchant confirmed delivery
	// of everything. Left only for RETURNED.
	FulfillmentStatusDelivered FulfillmentStatus = "DELIVERED"
	// FulfillmentStatusCouldNotDeliver: the carrier could not deliver what
	// shipped. Left only for RETURNED.
	FulfillmentStatusCouldNotDeliver FulfillmentStatus = "COULD_NOT_DELIVER"
	// FulfillmentStatusReturned: all items are back with the merchant.
	// Nothing leaves it. Says nothing about money: "return + refund" is
	// RETURNED with a refund financial status, "return only" (an exchange)
	// is RETURNED with PAID.
	FulfillmentStatusReturned FulfillmentStatus = "RETURNED"
)

// FulfillmentStatuses returns every fulfillment status, in lifecycle order.
func FulfillmentStatuses() []FulfillmentStatus {
	return []FulfillmentStatus{
		FulfillmentStatusProcessing,
		FulfillmentStatusPartiallyShipped,
		FulfillmentStatusShipped,
		FulfillmentStatusDelivered,
		FulfillmentStatusCouldNotDeliver,
		FulfillmentStatusReturned,
	}
}

// Valid reports whether s is one of FulfillmentStatuses().
func (s FulfillmentStatus) Valid() bool { return slices.Contains(FulfillmentStatuses(), s) }

// ParseFulfillmentStatus returns the fulfillment status spelled exactly s, or
// an EINVALID error.
func ParseFulfillmentStatus(s string) (FulfillmentStatus, error) {
	return parseStatus(FulfillmentStatuses(), "fulfillment status", s)
}

// HasShipped reports whether anything of the bag has left the merchant:
// every status but PROCESSING. These are the "shipped states" a return can
// start from.
func (s FulfillmentStatus) HasShipped() bool {
	return s.Valid() && s != FulfillmentStatusProcessing
}

// FulfillmentStatusTransitions turns the fulfillment_status prose of
// LIFECYCLE.md into rows. LIFECYCLE.md names no terminal fulfillment status
// (RETURNED has no way out), so FulfillmentStatus has no IsTerminal. Treat
// the table as read-only.
//
// Where the prose is silent, these rows decide:
//   - PROCESSING --all shipped--> SHIPPED: the status is derived from the
//     fulfillments, and one fulfillment can ship everything at once.
//   - PARTIALLY_SHIPPED --partially shipped--> PARTIALLY_SHIPPED: a further
//     partial shipment is a real change (new tracking) and is reported as a
//     shipment.
//   - "Any shipped state → RETURNED" includes COULD_NOT_DELIVER (the parcel
//     goes back to the merchant).
//
// Events: → PARTIALLY_SHIPPED or SHIPPED gives ORDER_SHIPPED, ORDER_UPDATED;
// → DELIVERED gives ORDER_DELIVERED, ORDER_UPDATED; the rest ORDER_UPDATED.
var FulfillmentStatusTransitions = []Transition[FulfillmentStatus]{
	{
		From:    []FulfillmentStatus{FulfillmentStatusProcessing, FulfillmentStatusPartiallyShipped},
		Trigger: TriggerPartiallyShipped,
		To:      FulfillmentStatusPartiallyShipped,
		Events:  []EventType{EventOrderShipped, EventOrderUpdated},
	},
	{
		From:    []FulfillmentStatus{FulfillmentStatusProcessing, FulfillmentStatusPartiallyShipped},
		Trigger: TriggerAllShipped,
		To:      FulfillmentStatusShipped,
		Events:  []EventType{EventOrderShipped, EventOrderUpdated},
	},
	{
		From:    []FulfillmentStatus{FulfillmentStatusShipped},
		Trigger: TriggerDelivered,
		To:      FulfillmentStatusDelivered,
		Events:  []EventType{EventOrderDelivered, EventOrderUpdated},
	},
	{
		From:    []FulfillmentStatus{FulfillmentStatusPartiallyShipped, FulfillmentStatusShipped},
		Trigger: TriggerCouldNotDeliver,
		To:      FulfillmentStatusCouldNotDeliver,
		Events:  []EventType{EventOrderUpdated},
	},
	{
		From: []FulfillmentStatus{FulfillmentStatusPartiallyShipped, FulfillmentStatusShipped,
			FulfillmentStatusDelivered, FulfillmentStatusCouldNotDeliver},
		Trigger: TriggerReturned,
		To:      FulfillmentStatusReturned,
		Events:  []EventType{EventOrderUpdated},
	},
}

// TransitionFulfillmentStatus applies trigger t to a bag whose
// fulfillment_status is from, and returns the new status and the events
// implied. A pair with no row in FulfillmentStatusTransitions is refused with
// an ECONFLICT *Error wrapping ErrInvalidTransition whose message names both,
// and from is returned unchanged.
func TransitionFulfillmentStatus(from FulfillmentStatus, t Trigger) (FulfillmentStatus, []EventType, error) {
	return transition(FieldFulfillmentStatus, FulfillmentStatusTransitions, FulfillmentStatuses(), from, t)
}
