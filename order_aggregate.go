package tote

// OrderFacts are what an order's status is derived from: its current status,
// its bags' statuses, the payment outcome being recorded now, and the money
// captured and refunded so far.
type OrderFacts struct {
	// Status is the order's current status.
	Status OrderStatus
	// Bags holds every bag's status, REJECTED ones included.
	Bags []BagStatus
	// Captured says the change being recorded is a successful capture of
	// this submission's payment. Capture happens once per submission.
	Captured bool
	// CaptureFailed says the change being recorded is a failed capture.
	CaptureFailed bool
	// CapturedAmount and RefundedAmount are the totals over all bags, in
	// minor units.
	CapturedAmount int64
	RefundedAmount int64
}

// OrderStatusTrigger returns the trigger the facts call for from f.Status,
// or false when the order status stays. It only ever returns a trigger that
// OrderStatusTransitions allows from f.Status:
//
//   - PROCESSING, ACCEPTED: a failed capture → "capture failed"; a capture
//     with every bag settled and at least one ACCEPTED or later →
//     "capture"; (PROCESSING only) every bag REJECTED → "all rejected";
//     every live bag CANCELED → "all canceled"; (PROCESSING only) every bag
//     ACCEPTED or later and nothing captured → "all accepted". Otherwise
//     the order waits: it stays PROCESSING until every bag has settled and
//     the capture is recorded.
//   - COMPLETED: every live bag CANCELED → "all canceled"; then as below.
//   - COMPLETED, PARTIALLY_REFUNDED: everything captured refunded → "full
//     refund"; (COMPLETED only) something refunded → "partial refund".
//
// "Live" means not REJECTED. An order with no bags never moves.
func OrderStatusTrigger(f OrderFacts) (Trigger, bool) {
	n := len(f.Bags)
	if n == 0 {
		return "", false
	}
	var accepted, rejected, canceled, settled int
	for _, b := range f.Bags {
		if b.IsSettled() {
			settled++
		}
		switch {
		case b.AcceptedOrLater():
			accepted++
		case b == BagStatusRejected:
			rejected++
		case b == BagStatusCanceled:
			canceled++
		}
	}
	live := n - rejected
	allLiveCanceled := live > 0 && canceled == live

	switch f.Status {
	case OrderStatusProcessing, OrderStatusAccepted:
		processing := f.Status == OrderStatusProcessing
		switch {
		case f.CaptureFailed:
			return TriggerCaptureFailed, true
		case f.Captured && accepted > 0 && settled == n:
			return TriggerCapture, true
		case processing && rejected == n:
			return TriggerAllRejected, true
		case allLiveCanceled:
			return TriggerAllCanceled, true
		case processing && accepted == n && !f.Captured:
			return TriggerAllAccepted, true
		}
	case OrderStatusCompleted, OrderStatusPartiallyRefunded:
		switch {
		case f.Status == OrderStatusCompleted && allLiveCanceled:
			return TriggerAllCanceled, true
		case f.CapturedAmount > 0 && f.RefundedAmount >= f.CapturedAmount:
			return TriggerFullRefund, true
		case f.Status == OrderStatusCompleted && f.RefundedAmount > 0:
			return TriggerPartialRefund, true
		}
	}
	return "", false
}

// NextOrderStatus says what the order status should become given f, and
// applies it through TransitionOrderStatus, the only way an order status
// changes. It returns the change and true, or false when the status stays.
// The rules are OrderStatusTrigger's; in short: the order stays PROCESSING
// until every bag has settled (accepted, rejected or canceled) and payment
// is captured; all bags rejected → REJECTED; at least one bag ACCEPTED or
// later and captured → COMPLETED; every live bag canceled → CANCELED;
// refunds → PARTIALLY_REFUNDED, then REFUNDED. It never returns COMPLETED
// unless a bag is ACCEPTED or later.
func NextOrderStatus(f OrderFacts) (AppliedTransition, bool, error) {
	t, ok := OrderStatusTrigger(f)
	if !ok {
		return AppliedTransition{}, false, nil
	}
	to, events, err := TransitionOrderStatus(f.Status, t)
	if err != nil {
		return AppliedTransition{}, false, err
	}
	return AppliedTransition{
		Bag:     NoBag,
		Field:   FieldOrderStatus,
		From:    string(f.Status),
		To:      string(to),
		Trigger: t,
		Events:  events,
	}, true, nil
}

// Chargeable reports whether the bag's total is to be captured now: the bag
// is ACCEPTED or later (so the merchant took it) and its payment is
// authorized or pending, not yet captured or released.
func (b BagState) Chargeable() bool {
	return b.Status.AcceptedOrLater() && b.Financial.HoldsAuthorization()
}

// CaptureAmount returns the amount to capture for a submission: the sum of
// the totals of the chargeable bags. Bags that are REJECTED or CANCELED are
// dropped from the charge (their share of the authorization is released),
// and bags already captured are not captured again. It does not check for
// overflow; OrderState keeps totals small enough by construction.
func CaptureAmount(bags []BagState) int64 {
	var sum int64
	for _, b := range bags {
		if b.Chargeable() {
			sum += b.Total
		}
	}
	return sum
}
