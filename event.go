package tote

import (
	"fmt"
	"slices"
	"strings"
)

// EventType names a webhook event, as channels subscribe to it and as
// deliveries carry it. The values are the wire names.
type EventType string

// Order events. They are bag-level: each carries the whole order as its body
// and names the bag that changed. The transition tables say which a change
// implies.
const (
	// EventOrderAccepted: a bag's status became ACCEPTED.
	EventOrderAccepted EventType = "ORDER_ACCEPTED"
	// EventOrderShipped: a bag's fulfillment_status became PARTIALLY_SHIPPED
	// or SHIPPED.
	EventOrderShipped EventType = "ORDER_SHIPPED"
	// EventOrderDelivered: a bag's fulfillment_status became DELIVERED.
	EventOrderDelivered EventType = "ORDER_DELIVERED"
	// EventOrderCompleted: a bag's status became COMPLETED (all shipped).
	EventOrderCompleted EventType = "ORDER_COMPLETED"
	// EventOrderRefunded: a bag's status or financial_status became REFUNDED
	// or PARTIALLY_REFUNDED.
	EventOrderRefunded EventType = "ORDER_REFUNDED"
	// EventOrderCancelled: a bag's status became CANCELED. Spelled with a
	// double L on the wire; ParseEventType also accepts ORDER_CANCELED.
	EventOrderCancelled EventType = "ORDER_CANCELLED"
	// EventOrderFailed: a bag was rejected, or the order failed before any
	// bag was accepted. Never paired with ORDER_UPDATED by the tables.
	EventOrderFailed EventType = "ORDER_FAILED"
	// EventOrderUpdated: any change to a bag; sent alongside every order
	// event but ORDER_FAILED, and alone for changes with no event of their
	// own (tracking, fulfillment edits, addresses, other financial changes).
	EventOrderUpdated EventType = "ORDER_UPDATED"
)

// Payment transaction events. Each comes with
// PAYMENT_TRANSACTION_CAPTURE_STATUS_UPDATED alongside.
const (
	EventPaymentAuthorized        EventType = "PAYMENT_TRANSACTION_CAPTURE_STATUS_AUTHORIZED"
	EventPaymentCaptured          EventType = "PAYMENT_TRANSACTION_CAPTURE_STATUS_CAPTURED"
	EventPaymentRefunded          EventType = "PAYMENT_TRANSACTION_CAPTURE_STATUS_REFUNDED"
	EventPaymentPartiallyRefunded EventType = "PAYMENT_TRANSACTION_CAPTURE_STATUS_PARTIALLY_REFUNDED"
	EventPaymentFailed            EventType = "PAYMENT_TRANSACTION_CAPTURE_STATUS_FAILED"
	EventPaymentUpdated           EventType = "PAYMENT_TRANSACTION_CAPTURE_STATUS_UPDATED"
)

// Transfer (merchant payout) events. Each comes with TRANSFER_UPDATED
// alongside.
const (
	EventTransferSent              EventType = "TRANSFER_SENT"
	EventTransferFailed            EventType = "TRANSFER_FAILED"
	EventTransferReversed          EventType = "TRANSFER_REVERSED"
	EventTransferPartiallyRefunded EventType = "TRANSFER_PARTIALLY_REFUNDED"
	EventTransferReversalFailed    EventType = "TRANSFER_REVERSAL_FAILED"
	EventTransferUpdated           EventType = "TRANSFER_UPDATED"
)

// eventOrderCanceledAlias is the single-L spelling some of the seed's own
// sources use. It names the same event type as EventOrderCancelled.
const eventOrderCanceledAlias = "ORDER_CANCELED"

// EventTypes returns every event type. Order events come first, in the order
// of LIFECYCLE.md's Events table with ORDER_UPDATED last; MergeEvents uses
// this order, so a merged set still reads "X, ORDER_UPDATED".
func EventTypes() []EventType {
	return []EventType{
		EventOrderAccepted,
		EventOrderShipped,
		EventOrderDelivered,
		EventOrderCompleted,
		EventOrderRefunded,
		EventOrderCancelled,
		EventOrderFailed,
		EventOrderUpdated,
		EventPaymentAuthorized,
		EventPaymentCaptured,
		EventPaymentRefunded,
		EventPaymentPartiallyRefunded,
		EventPaymentFailed,
		EventPaymentUpdated,
		EventTransferSent,
		EventTransferFailed,
		EventTransferReversed,
		EventTransferPartiallyRefunded,
		EventTransferReversalFailed,
		EventTransferUpdated,
	}
}

// Valid reports whether e is one of EventTypes(). The alias ORDER_CANCELED
// is not valid as a value: ParseEventType turns it into ORDER_CANCELLED.
func (e EventType) Valid() bool { return slices.Contains(EventTypes(), e) }

// IsOrderEvent reports whether e is an order event (ORDER_*), the kind that
// names a bag when delivered.
func (e EventType) IsOrderEvent() bool {
	return e.Valid() && strings.HasPrefix(string(e), "ORDER_")
}

// IsPaymentEvent reports whether e is a payment transaction event
// (PAYMENT_TRANSACTION_*), the kind whose body is a payment transaction.
func (e EventType) IsPaymentEvent() bool {
	return e.Valid() && strings.HasPrefix(string(e), "PAYMENT_TRANSACTION_")
}

// ParseEventType returns the event type spelled exactly s, as in a
// subscription request. "ORDER_CANCELED" returns EventOrderCancelled: both
// spellings name one event type, and deliveries use the double L. Anything
// else unknown is an EINVALID error.
func ParseEventType(s string) (EventType, error) {
	if s == eventOrderCanceledAlias {
		return EventOrderCancelled, nil
	}
	if e := EventType(s); e.Valid() {
		return e, nil
	}
	return "", &Error{
		Code:    EINVALID,
		Message: fmt.Sprintf("unknown event type %q", s),
		Fields:  []FieldError{{Field: "event", Message: "unknown event type"}},
	}
}

// MergeEvents returns the events of sets, each once, in EventTypes() order.
// One real change produces exactly one set of events: when a change moves
// several fields of one bag (a refund moves status and financial_status,
// both implying ORDER_REFUNDED, ORDER_UPDATED), their events are merged with
// this. Event types not in EventTypes() follow, in the order first seen.
func MergeEvents(sets ...[]EventType) []EventType {
	var merged []EventType
	for _, e := range EventTypes() {
		for _, set := range sets {
			if slices.Contains(set, e) {
				merged = append(merged, e)
				break
			}
		}
	}
	for _, set := range sets {
		for _, e := range set {
			if !e.Valid() && !slices.Contains(merged, e) {
				merged = append(merged, e)
			}
		}
	}
	return merged
}

// NumberEvents gives each bag's events the bag's next sequence numbers, in
// order: take(bag, n) reserves the bag's next n numbers (in the store) and
// returns the last. Stores use it in InsertEvents.
func NumberEvents(events []*Event, take func(bagID, n int64) (int64, error)) error {
	counts := map[int64]int64{}
	var bags []int64
	for _, e := range events {
		if e.BagID != 0 {
			if counts[e.BagID] == 0 {
				bags = append(bags, e.BagID)
			}
			counts[e.BagID]++
		}
	}
	next := make(map[int64]int64, len(bags))
	for _, bag := range bags {
		last, err := take(bag, counts[bag])
		if err != nil {
			return err
		}
		next[bag] = last - counts[bag] + 1
	}
	for _, e := range events {
		if e.BagID != 0 {
			e.Sequence = next[e.BagID]
			next[e.BagID]++
		}
	}
	return nil
}

// PaymentEvents returns the events a new payment transaction implies
// (LIFECYCLE.md, Payment events), given its bag's financial status after the
// change: an authorization, AUTHORIZED; a capture, CAPTURED (FAILED when the
// provider refused it); a refund, REFUNDED or PARTIALLY_REFUNDED as the bag
// now stands; each with PAYMENT_TRANSACTION_CAPTURE_STATUS_UPDATED after
// it. A void (a hold released) has no event of its own, so it is UPDATED
// alone.
func PaymentEvents(t *PaymentTransaction, bag FinancialStatus) []EventType {
	var own EventType
	switch {
	case t.Status == TransactionFailed:
		own = EventPaymentFailed
	case t.Type == TransactionAuthorization:
		own = EventPaymentAuthorized
	case t.Type == TransactionCapture:
		own = EventPaymentCaptured
	case t.Type == TransactionRefund && bag == FinancialStatusRefunded:
		own = EventPaymentRefunded
	case t.Type == TransactionRefund:
		own = EventPaymentPartiallyRefunded
	}
	if own == "" {
		return []EventType{EventPaymentUpdated}
	}
	return []EventType{own, EventPaymentUpdated}
}

// EventBodies renders what webhook events carry: the entity itself, exactly
// as the API returns it. Order events carry the whole order, payment events
// the payment transaction.
type EventBodies interface {
	Order(*Order) ([]byte, error)
	Transaction(*PaymentTransaction) ([]byte, error)
}
