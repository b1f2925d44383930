package tote

import (
	"errors"
	"fmt"
	"slices"
)

// BagState is the lifecycle part of one bag: its three status fields and
// its money, in minor units of the order's currency.
type BagState struct {
	Status      BagStatus
	Financial   FinancialStatus
	Fulfillment FulfillmentStatus
	// Total is what the bag owes; Captured what was captured for it;
	// Refunded what was refunded of that. 0 ≤ Refunded ≤ Captured ≤ Total.
	Total    int64
	Captured int64
	Refunded int64
}

// OrderState is a pure model of an order's lifecycle: the order status and
// its bags. Each command below applies one fact through the transition
// functions, keeps the money consistent, re-derives the order status with
// NextOrderStatus, and returns the changes made. A refused command returns
// an error and changes nothing.
//
// The commands follow the flow of LIFECYCLE.md: Submit; Authorize (or
// RequireAction, then CompleteAction or Abandon); SubmitBag for each bag,
// then the platform's answers (BagAccepted, BagRetryableFailure,
// BagOutcomeUnknown, BagRejected); once every bag has settled, Capture or
// CaptureFailed; then whatever merchants do (Ship, Deliver, Refund,
// CancelBag, ...). Network calls happen outside: these record outcomes.
type OrderState struct {
	Status OrderStatus
	Bags   []BagState
	// HasPaymentMethod is false after a failed capture removed the payment
	// method; Submit refuses until SetPaymentMethod.
	HasPaymentMethod bool
}

// NewOrderState returns an IN_PROGRESS order with a payment method and one
// IN_PROGRESS, UNPAID, PROCESSING bag per total. Each total must be positive
// and their sum must fit in an int64 (EINVALID otherwise).
func NewOrderState(totals ...int64) (*OrderState, error) {
	if len(totals) == 0 {
		return nil, Errorf(EINVALID, "an order needs at least one bag")
	}
	o := &OrderState{Status: OrderStatusInProgress, HasPaymentMethod: true}
	var sum int64
	for i, total := range totals {
		var ok bool
		if sum, ok = addAmounts(sum, total); total <= 0 || !ok {
			return nil, Errorf(EINVALID, "bag %d: total %d must be positive and the order total must fit in an int64", i, total)
		}
		o.Bags = append(o.Bags, BagState{
			Status:      BagStatusInProgress,
			Financial:   FinancialStatusUnpaid,
			Fulfillment: FulfillmentStatusProcessing,
			Total:       total,
		})
	}
	return o, nil
}

// Clone returns a deep copy of o.
func (o *OrderState) Clone() *OrderState {
	c := *o
	c.Bags = slices.Clone(o.Bags)
	return &c
}

// Facts returns the facts NextOrderStatus derives the order status from,
// with no payment outcome being recorded.
func (o *OrderState) Facts() OrderFacts {
	f := OrderFacts{Status: o.Status}
	for _, b := range o.Bags {
		f.Bags = append(f.Bags, b.Status)
		f.CapturedAmount += b.Captured
		f.RefundedAmount += b.Refunded
	}
	return f
}

// Outcome is what a successful command did: the bag it concerned (NoBag for
// an order-level command) and every status change, in the order applied.
type Outcome struct {
	Bag     int
	Changes []AppliedTransition
}

// BagEvents is one set of events to publish for one bag (or NoBag for an
// order-level change that concerns no single bag).
type BagEvents struct {
	Bag    int
	Events []EventType
}

// Events returns the events to publish for the outcome: one set per bag
// touched, merged with MergeEvents so that one change yields each event once
// (a refund moves status and financial_status, each implying ORDER_REFUNDED,
// ORDER_UPDATED; the bag gets them once). Order-level events go with the
// bag the command concerned, since order events are bag-level; a bag's last
// rejection that fails the order yields ORDER_FAILED once. Bags whose
// changes imply no event get no set.
func (out Outcome) Events() []BagEvents {
	var keys []int
	sets := map[int][][]EventType{}
	for _, c := range out.Changes {
		k := c.Bag
		if k == NoBag {
			k = out.Bag
		}
		if _, ok := sets[k]; !ok {
			keys = append(keys, k)
		}
		sets[k] = append(sets[k], c.Events)
	}
	var all []BagEvents
	for _, k := range keys {
		if ev := MergeEvents(sets[k]...); len(ev) > 0 {
			all = append(all, BagEvents{Bag: k, Events: ev})
		}
	}
	return all
}

// command is one command in progress: it works on a copy of the order, so a
// refusal anywhere leaves the original untouched.
type command struct {
	o   *OrderState
	out Outcome
	// The payment outcome this command records, for NextOrderStatus.
	captured, captureFailed bool
}

// run applies fn to a copy of o, re-derives the order status, and commits
// the copy only if everything succeeded.
func (o *OrderState) run(bag int, fn func(c *command) error) (Outcome, error) {
	if bag != NoBag && (bag < 0 || bag >= len(o.Bags)) {
		return Outcome{}, Errorf(EINVALID, "no bag %d in an order of %d bags", bag, len(o.Bags))
	}
	c := &command{o: o.Clone(), out: Outcome{Bag: bag}}
	if err := fn(c); err != nil {
		return Outcome{}, err
	}
	if err := c.deriveOrderStatus(); err != nil {
		return Outcome{}, err
	}
	*o = *c.o
	return c.out, nil
}

// deriveOrderStatus applies NextOrderStatus until the order status settles.
// One step suffices for every order the commands can reach (the fuzz test
// checks the result is settled); the loop keeps that from being load-bearing.
func (c *command) deriveOrderStatus() error {
	for range len(OrderStatuses()) {
		f := c.o.Facts()
		f.Captured, f.CaptureFailed = c.captured, c.captureFailed
		ch, ok, err := NextOrderStatus(f)
		if err != nil || !ok {
			return err
		}
		c.o.Status = OrderStatus(ch.To)
		c.out.Changes = append(c.out.Changes, ch)
	}
	return Errorf(EINTERNAL, "order status did not settle from %s", c.o.Status)
}

func (c *command) record(bag int, field StatusField, from, to string, t Trigger, events []EventType) {
	c.out.Changes = append(c.out.Changes, AppliedTransition{Bag: bag, Field: field, From: from, To: to, Trigger: t, Events: events})
}

func (c *command) order(t Trigger) error {
	from := c.o.Status
	to, events, err := TransitionOrderStatus(from, t)
	if err != nil {
		return err
	}
	c.o.Status = to
	c.record(NoBag, FieldOrderStatus, string(from), string(to), t, events)
	return nil
}

func (c *command) bagStatus(i int, t Trigger) error {
	b := &c.o.Bags[i]
	to, events, err := TransitionBagStatus(b.Status, t)
	if err != nil {
		return err
	}
	c.record(i, FieldBagStatus, string(b.Status), string(to), t, events)
	b.Status = to
	return nil
}

// followBagStatus moves the bag status by t when its table has a row for
// the current status, and leaves it otherwise: for facts whose main effect is
// on another field (a refund of a CANCELED bag moves only financial_status;
// a PARTIALLY_REFUNDED bag whose last items ship stays PARTIALLY_REFUNDED).
func (c *command) followBagStatus(i int, t Trigger) error {
	if err := c.bagStatus(i, t); err != nil && !errors.Is(err, ErrInvalidTransition) {
		return err
	}
	return nil
}

func (c *command) financial(i int, t Trigger) error {
	b := &c.o.Bags[i]
	to, events, err := TransitionFinancialStatus(b.Financial, t)
	if err != nil {
		return err
	}
	c.record(i, FieldFinancialStatus, string(b.Financial), string(to), t, events)
	b.Financial = to
	return nil
}

func (c *command) fulfillment(i int, t Trigger) error {
	b := &c.o.Bags[i]
	to, events, err := TransitionFulfillmentStatus(b.Fulfillment, t)
	if err != nil {
		return err
	}
	c.record(i, FieldFulfillmentStatus, string(b.Fulfillment), string(to), t, events)
	b.Fulfillment = to
	return nil
}

// refuseOrder refuses trigger t for the order's current status, saying why.
func (c *command) refuseOrder(t Trigger, format string, args ...any) error {
	return refuse(FieldOrderStatus, statusText(OrderStatuses(), c.o.Status), t, fmt.Sprintf(format, args...))
}

// Submit records that submit was called with valid data:
// IN_PROGRESS → PROCESSING. It is refused with EINVALID "No payment method
// on Cart" after a failed capture removed the payment method. A resubmitted
// order whose bags are all still accepted goes on to ACCEPTED.
func (o *OrderState) Submit() (Outcome, error) {
	return o.run(NoBag, func(c *command) error {
		if err := c.order(TriggerSubmit); err != nil {
			return err
		}
		if !c.o.HasPaymentMethod {
			return Errorf(EINVALID, "No payment method on Cart")
		}
		return nil
	})
}

// SetPaymentMethod records that the shopper applied a payment method. It
// changes no status.
func (o *OrderState) SetPaymentMethod() { o.HasPaymentMethod = true }

// RequireAction records that the payment needs shopper authentication:
// PROCESSING → REQUIRES_ACTION. Authentication is part of authorizing, so it
// is refused once a bag holds an authorization.
func (o *OrderState) RequireAction() (Outcome, error) {
	return o.run(NoBag, func(c *command) error {
		for i, b := range c.o.Bags {
			if b.Financial.HoldsAuthorization() {
				return c.refuseOrder(TriggerRequiresAction, "bag %d already holds an authorization (%s)", i, b.Financial)
			}
		}
		return c.order(TriggerRequiresAction)
	})
}

// CompleteAction records that the shopper completed the action and the
// order was resubmitted: REQUIRES_ACTION → PROCESSING.
func (o *OrderState) CompleteAction() (Outcome, error) {
	return o.run(NoBag, func(c *command) error { return c.order(TriggerActionCompleted) })
}

// Abandon records that the shopper abandoned or canceled the action:
// REQUIRES_ACTION → CANCELED, with ORDER_FAILED.
func (o *OrderState) Abandon() (Outcome, error) {
	return o.run(NoBag, func(c *command) error { return c.order(TriggerAbandon) })
}

// Authorize records the hold placed for every live, not canceled bag that
// has none: UNPAID → AUTHORIZED (or PENDING when pending, for slow payment
// methods), VOIDED → AUTHORIZED after a resubmission with a new payment
// method. The order must be PROCESSING, or ACCEPTED (a resubmitted order
// whose bags are all still accepted goes straight there), and some bag must
// need it.
func (o *OrderState) Authorize(pending bool) (Outcome, error) {
	return o.run(NoBag, func(c *command) error {
		t := TriggerAuthorize
		if pending {
			t = TriggerMarkPending
		}
		if c.o.Status != OrderStatusProcessing && c.o.Status != OrderStatusAccepted {
			return c.refuseOrder(t, "payment is authorized only while the order is %s or %s",
				OrderStatusProcessing, OrderStatusAccepted)
		}
		for i, b := range c.o.Bags {
			if b.Status == BagStatusRejected || b.Status == BagStatusCanceled {
				continue
			}
			var err error
			switch b.Financial {
			case FinancialStatusUnpaid:
				err = c.financial(i, t)
			case FinancialStatusVoided:
				err = c.financial(i, TriggerReauthorize)
			}
			if err != nil {
				return err
			}
		}
		if len(c.out.Changes) == 0 {
			return c.refuseOrder(t, "no bag needs authorizing")
		}
		return nil
	})
}

// SubmitBag records that bag i was sent to its merchant's platform:
// IN_PROGRESS → SUBMITTED. The order must be PROCESSING and the bag's
// payment authorized or pending, since the hold comes before the merchant.
func (o *OrderState) SubmitBag(i int) (Outcome, error) {
	return o.run(i, func(c *command) error {
		b := c.o.Bags[i]
		if err := c.bagStatus(i, TriggerSubmit); err != nil {
			return err
		}
		if c.o.Status != OrderStatusProcessing {
			return refuse(FieldBagStatus, string(b.Status), TriggerSubmit, fmt.Sprintf("the order is %s, not %s", c.o.Status, OrderStatusProcessing))
		}
		if !b.Financial.HoldsAuthorization() {
			return refuse(FieldBagStatus, string(b.Status), TriggerSubmit, fmt.Sprintf("its payment is %s, not authorized", b.Financial))
		}
		return nil
	})
}

// applyBag runs a command that moves only bag i's status by t.
func (o *OrderState) applyBag(i int, t Trigger) (Outcome, error) {
	return o.run(i, func(c *command) error { return c.bagStatus(i, t) })
}

// BagAccepted records that the platform created bag i's order:
// SUBMITTED → ACCEPTED.
func (o *OrderState) BagAccepted(i int) (Outcome, error) {
	return o.applyBag(i, TriggerPlatformAccepted)
}

// BagRetryableFailure records that the platform said "not now" for bag i:
// SUBMITTED → IN_PROGRESS, to be resubmitted.
func (o *OrderState) BagRetryableFailure(i int) (Outcome, error) {
	return o.applyBag(i, TriggerRetryableFailure)
}

// BagOutcomeUnknown records a timeout after bag i was sent: it stays
// SUBMITTED, and the change implies no event.
func (o *OrderState) BagOutcomeUnknown(i int) (Outcome, error) {
	return o.applyBag(i, TriggerOutcomeUnknown)
}

// BagRejected records a non-retryable failure, or retries exhausted, for
// bag i: SUBMITTED → REJECTED. If every bag is now rejected the order is
// REJECTED too; VoidAuthorization then records the release.
func (o *OrderState) BagRejected(i int) (Outcome, error) { return o.applyBag(i, TriggerRejected) }

// BagBackordered records that bag i's items are backordered.
func (o *OrderState) BagBackordered(i int) (Outcome, error) { return o.applyBag(i, TriggerBackordered) }

// BagStockArrived records that bag i's backordered stock arrived.
func (o *OrderState) BagStockArrived(i int) (Outcome, error) {
	return o.applyBag(i, TriggerStockArrived)
}

// CancelBag records that the merchant or channel canceled bag i. It refunds
// nothing; captured money stays until Refund.
func (o *OrderState) CancelBag(i int) (Outcome, error) { return o.applyBag(i, TriggerCancel) }

// readyToCapture refuses a capture outcome (t is TriggerCapture or
// TriggerCaptureFailed) unless the order can record it, every bag has
// settled, every accepted bag holds an authorization, and one of them does.
func (c *command) readyToCapture(t Trigger) error {
	if _, _, err := TransitionOrderStatus(c.o.Status, t); err != nil {
		return err
	}
	chargeable := 0
	for i, b := range c.o.Bags {
		switch {
		case !b.Status.IsSettled():
			return c.refuseOrder(t, "bag %d is still %s", i, b.Status)
		case b.Status.AcceptedOrLater() && !b.Financial.HoldsAuthorization():
			return c.refuseOrder(t, "bag %d is accepted but its payment is %s", i, b.Financial)
		case b.Chargeable():
			chargeable++
		}
	}
	if chargeable == 0 {
		return c.refuseOrder(t, "no accepted bag to capture")
	}
	return nil
}

// Capture records that amount was captured for the submission, once every
// bag has settled. The amount is shared among the chargeable bags in order:
// a bag that gets its whole total is PAID, one that gets less is
// PARTIALLY_PAID. Rejected and canceled bags' authorizations are released
// (VOIDED). The order becomes COMPLETED. amount must be between 1 and
// CaptureAmount (EINVALID otherwise).
func (o *OrderState) Capture(amount int64) (Outcome, error) {
	return o.run(NoBag, func(c *command) error {
		if err := c.readyToCapture(TriggerCapture); err != nil {
			return err
		}
		if due := CaptureAmount(c.o.Bags); amount <= 0 || amount > due {
			return Errorf(EINVALID, "capture of %d: must be between 1 and the %d the accepted bags owe", amount, due)
		}
		left := amount
		for i := range c.o.Bags {
			b := &c.o.Bags[i]
			var err error
			switch {
			case b.Chargeable():
				share := min(left, b.Total)
				left -= share
				t := TriggerCapture
				if share < b.Total {
					t = TriggerPartialCapture
				}
				err = c.financial(i, t)
				b.Captured = share
			case b.Financial == FinancialStatusAuthorized:
				err = c.financial(i, TriggerVoid)
			}
			if err != nil {
				return err
			}
		}
		c.captured = true
		return nil
	})
}

// CaptureFailed records that the capture failed: every authorization is
// released (AUTHORIZED → VOIDED), the payment method is removed, and the
// order goes back to IN_PROGRESS. A later Submit needs SetPaymentMethod
// first; Authorize then reauthorizes the voided bags.
func (o *OrderState) CaptureFailed() (Outcome, error) {
	return o.run(NoBag, func(c *command) error {
		if err := c.readyToCapture(TriggerCaptureFailed); err != nil {
			return err
		}
		for i, b := range c.o.Bags {
			if b.Financial == FinancialStatusAuthorized {
				if err := c.financial(i, TriggerVoid); err != nil {
					return err
				}
			}
		}
		c.o.HasPaymentMethod = false
		c.captureFailed = true
		return nil
	})
}

// CaptureRemaining records that the rest of a partially paid bag i was
// captured: PARTIALLY_PAID → PAID. The order must be COMPLETED or
// PARTIALLY_REFUNDED: a terminal order (REFUNDED, CANCELED) takes no more
// money, so an order that is REFUNDED stays "everything captured refunded".
func (o *OrderState) CaptureRemaining(i int) (Outcome, error) {
	return o.run(i, func(c *command) error {
		b := &c.o.Bags[i]
		if b.Financial != FinancialStatusPartiallyPaid {
			return refuse(FieldFinancialStatus, statusText(FinancialStatuses(), b.Financial), TriggerCapture,
				"only a partially paid bag is captured on its own; use Capture")
		}
		if c.o.Status != OrderStatusCompleted && c.o.Status != OrderStatusPartiallyRefunded {
			return refuse(FieldFinancialStatus, string(b.Financial), TriggerCapture,
				fmt.Sprintf("the order is %s; only a %s or %s order captures more", c.o.Status,
					OrderStatusCompleted, OrderStatusPartiallyRefunded))
		}
		if err := c.financial(i, TriggerCapture); err != nil {
			return err
		}
		b.Captured = b.Total
		return nil
	})
}

// VoidAuthorization records that the authorization of a REJECTED or
// CANCELED order was released: every AUTHORIZED bag becomes VOIDED.
func (o *OrderState) VoidAuthorization() (Outcome, error) {
	return o.run(NoBag, func(c *command) error {
		if c.o.Status != OrderStatusRejected && c.o.Status != OrderStatusCanceled {
			return c.refuseOrder(TriggerVoid, "the authorization is released here only for a REJECTED or CANCELED order")
		}
		for i, b := range c.o.Bags {
			if b.Financial == FinancialStatusAuthorized {
				if err := c.financial(i, TriggerVoid); err != nil {
					return err
				}
			}
		}
		if len(c.out.Changes) == 0 {
			return c.refuseOrder(TriggerVoid, "no bag holds an authorization")
		}
		return nil
	})
}

// Ship records a fulfillment of bag i: of some of its SKU quantities
// (PARTIALLY_SHIPPED) or of all the rest (SHIPPED). Shipping everything also
// moves an ACCEPTED or BACKORDERED bag to COMPLETED; a bag in another status
// keeps it. Refused for a bag never placed (IN_PROGRESS, SUBMITTED,
// REJECTED).
func (o *OrderState) Ship(i int, all bool) (Outcome, error) {
	return o.run(i, func(c *command) error {
		t := TriggerPartiallyShipped
		if all {
			t = TriggerAllShipped
		}
		b := c.o.Bags[i]
		switch b.Status {
		case BagStatusInProgress, BagStatusSubmitted, BagStatusRejected:
			return refuse(FieldFulfillmentStatus, string(b.Fulfillment), t, fmt.Sprintf("the bag is %s, never placed", b.Status))
		}
		if err := c.fulfillment(i, t); err != nil {
			return err
		}
		if all {
			return c.followBagStatus(i, TriggerAllShipped)
		}
		return nil
	})
}

// Deliver records that delivery of everything in bag i was confirmed.
func (o *OrderState) Deliver(i int) (Outcome, error) {
	return o.run(i, func(c *command) error { return c.fulfillment(i, TriggerDelivered) })
}

// CouldNotDeliver records that the carrier could not deliver bag i.
func (o *OrderState) CouldNotDeliver(i int) (Outcome, error) {
	return o.run(i, func(c *command) error { return c.fulfillment(i, TriggerCouldNotDeliver) })
}

// Return records that all of bag i's items are back with the merchant. It
// moves no money: a refund is a separate Refund.
func (o *OrderState) Return(i int) (Outcome, error) {
	return o.run(i, func(c *command) error { return c.fulfillment(i, TriggerReturned) })
}

// Refund records a refund of amount for bag i. amount must be positive and
// at most what was captured for the bag and not yet refunded (EINVALID
// otherwise: refunds never exceed captures). A refund that brings the bag's
// refunded amount up to its captured amount is a full refund, anything less
// a partial one. financial_status always moves; the bag status follows where
// its table allows (a CANCELED bag stays CANCELED; a PARTIALLY_REFUNDED bag
// stays so until fully refunded). The order status follows from the totals.
func (o *OrderState) Refund(i int, amount int64) (Outcome, error) {
	return o.run(i, func(c *command) error {
		b := &c.o.Bags[i]
		if avail := b.Captured - b.Refunded; amount <= 0 || amount > avail {
			return &Error{Code: EINVALID, Message: fmt.Sprintf(
				"refund of %d for bag %d: must be positive and at most the %d captured and not yet refunded", amount, i, avail)}
		}
		t := TriggerPartialRefund
		if b.Refunded+amount == b.Captured {
			t = TriggerFullRefund
		}
		if err := c.financial(i, t); err != nil {
			return err
		}
		b.Refunded += amount
		return c.followBagStatus(i, t)
	})
}
