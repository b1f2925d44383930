package tote

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// orderTest wraps an OrderState and checks every command's invariants (the
// same checks the fuzz test runs), so each scenario below is also a fuzz
// case.
type orderTest struct {
	t    *testing.T
	o    *OrderState
	rows map[StatusField][]row
}

func setup(t *testing.T, totals ...int64) *orderTest {
	t.Helper()
	o, err := NewOrderState(totals...)
	if err != nil {
		t.Fatal(err)
	}
	return &orderTest{t: t, o: o, rows: tableRows()}
}

func (ot *orderTest) do(name string, cmd func(o *OrderState) (Outcome, error)) (Outcome, error) {
	ot.t.Helper()
	before := ot.o.Clone()
	out, err := cmd(ot.o)
	checkStep(ot.t, ot.rows, name, before, ot.o, out, err, true)
	return out, err
}

// ok runs cmd, which must succeed, and returns the events it produced.
func (ot *orderTest) ok(name string, cmd func(o *OrderState) (Outcome, error)) []BagEvents {
	ot.t.Helper()
	out, err := ot.do(name, cmd)
	if err != nil {
		ot.t.Fatalf("%s: %v", name, err)
	}
	return out.Events()
}

// refused runs cmd, which must fail with code, and returns the error.
func (ot *orderTest) refused(name, code string, cmd func(o *OrderState) (Outcome, error)) error {
	ot.t.Helper()
	_, err := ot.do(name, cmd)
	if ErrorCode(err) != code {
		ot.t.Fatalf("%s: error %v, want code %s", name, err, code)
	}
	return err
}

func (ot *orderTest) wantStatus(want OrderStatus, bags ...BagStatus) {
	ot.t.Helper()
	if ot.o.Status != want {
		ot.t.Fatalf("order status %s, want %s", ot.o.Status, want)
	}
	for i, b := range bags {
		if ot.o.Bags[i].Status != b {
			ot.t.Fatalf("bag %d status %s, want %s", i, ot.o.Bags[i].Status, b)
		}
	}
}

func wantEvents(t *testing.T, got []BagEvents, want ...BagEvents) {
	t.Helper()
	if !reflect.DeepEqual(got, want) && (len(got) != 0 || len(want) != 0) {
		t.Fatalf("events %+v, want %+v", got, want)
	}
}

func be(bag int, events ...EventType) BagEvents { return BagEvents{Bag: bag, Events: events} }

func submit(o *OrderState) (Outcome, error)        { return o.Submit() }
func authorize(o *OrderState) (Outcome, error)     { return o.Authorize(false) }
func captureFailed(o *OrderState) (Outcome, error) { return o.CaptureFailed() }
func voidAuth(o *OrderState) (Outcome, error)      { return o.VoidAuthorization() }
func submitBag(i int) func(*OrderState) (Outcome, error) {
	return func(o *OrderState) (Outcome, error) { return o.SubmitBag(i) }
}
func accepted(i int) func(*OrderState) (Outcome, error) {
	return func(o *OrderState) (Outcome, error) { return o.BagAccepted(i) }
}
func rejected(i int) func(*OrderState) (Outcome, error) {
	return func(o *OrderState) (Outcome, error) { return o.BagRejected(i) }
}
func capture(amount int64) func(*OrderState) (Outcome, error) {
	return func(o *OrderState) (Outcome, error) { return o.Capture(amount) }
}
func refund(i int, amount int64) func(*OrderState) (Outcome, error) {
	return func(o *OrderState) (Outcome, error) { return o.Refund(i, amount) }
}
func cancelBag(i int) func(*OrderState) (Outcome, error) {
	return func(o *OrderState) (Outcome, error) { return o.CancelBag(i) }
}

// placeAll submits, authorizes and sends every bag.
func (ot *orderTest) placeAll() {
	ot.t.Helper()
	ot.ok("Submit", submit)
	ot.ok("Authorize", authorize)
	for i := range ot.o.Bags {
		ot.ok("SubmitBag", submitBag(i))
	}
}

func TestOrderState(t *testing.T) {
	t.Parallel()

	t.Run("HappyPath", func(t *testing.T) {
		t.Parallel()
		ot := setup(t, 1000, 500)
		wantEvents(t, ot.ok("Submit", submit))
		wantEvents(t, ot.ok("Authorize", authorize), be(0, EventOrderUpdated), be(1, EventOrderUpdated))
		wantEvents(t, ot.ok("SubmitBag 0", submitBag(0)), be(0, EventOrderUpdated))
		wantEvents(t, ot.ok("SubmitBag 1", submitBag(1)), be(1, EventOrderUpdated))
		wantEvents(t, ot.ok("Accepted 0", accepted(0)), be(0, evAccepted...))
		ot.wantStatus(OrderStatusProcessing, BagStatusAccepted, BagStatusSubmitted)
		wantEvents(t, ot.ok("Accepted 1", accepted(1)), be(1, evAccepted...))
		ot.wantStatus(OrderStatusAccepted)
		if got := CaptureAmount(ot.o.Bags); got != 1500 {
			t.Fatalf("CaptureAmount = %d, want 1500", got)
		}
		wantEvents(t, ot.ok("Capture", capture(1500)), be(0, EventOrderUpdated), be(1, EventOrderUpdated))
		ot.wantStatus(OrderStatusCompleted)
		wantEvents(t, ot.ok("Ship all 0", func(o *OrderState) (Outcome, error) { return o.Ship(0, true) }),
			be(0, EventOrderShipped, EventOrderCompleted, EventOrderUpdated))
		wantEvents(t, ot.ok("Deliver 0", func(o *OrderState) (Outcome, error) { return o.Deliver(0) }),
			be(0, evDelivered...))
		// A refund moves status and financial_status; the bag gets one set.
		wantEvents(t, ot.ok("Refund 0 part", refund(0, 300)), be(0, evRefunded...))
		ot.wantStatus(OrderStatusPartiallyRefunded, BagStatusPartiallyRefunded)
		wantEvents(t, ot.ok("Refund 0 more", refund(0, 300)), be(0, evRefunded...))
		ot.wantStatus(OrderStatusPartiallyRefunded, BagStatusPartiallyRefunded)
		ot.ok("Refund 0 rest", refund(0, 400))
		ot.ok("Refund 1", refund(1, 500))
		ot.wantStatus(OrderStatusRefunded, BagStatusRefunded, BagStatusRefunded)
	})

	t.Run("SingleBagRejected", func(t *testing.T) {
		t.Parallel()
		ot := setup(t, 1000)
		ot.placeAll()
		// The bag's ORDER_FAILED and the order's are one event.
		wantEvents(t, ot.ok("Rejected", rejected(0)), be(0, EventOrderFailed))
		ot.wantStatus(OrderStatusRejected, BagStatusRejected)
		ot.refused("Capture", ECONFLICT, capture(1000))
		wantEvents(t, ot.ok("Void", voidAuth), be(0, EventOrderUpdated))
		if ot.o.Bags[0].Financial != FinancialStatusVoided {
			t.Fatalf("financial %s, want VOIDED", ot.o.Bags[0].Financial)
		}
	})

	t.Run("RejectedBagDroppedFromCharge", func(t *testing.T) {
		t.Parallel()
		ot := setup(t, 1000, 500)
		ot.placeAll()
		ot.ok("Accepted 0", accepted(0))
		ot.ok("Rejected 1", rejected(1))
		ot.wantStatus(OrderStatusProcessing)
		if got := CaptureAmount(ot.o.Bags); got != 1000 {
			t.Fatalf("CaptureAmount = %d, want 1000", got)
		}
		ot.refused("Capture too much", EINVALID, capture(1500))
		ot.ok("Capture", capture(1000))
		ot.wantStatus(OrderStatusCompleted)
		if f := ot.o.Bags[1].Financial; f != FinancialStatusVoided {
			t.Fatalf("rejected bag's financial %s, want VOIDED", f)
		}
	})

	t.Run("WaitsForRetriedBag", func(t *testing.T) {
		t.Parallel()
		ot := setup(t, 100, 200)
		ot.placeAll()
		ot.ok("Accepted 0", accepted(0))
		ot.ok("Retryable 1", func(o *OrderState) (Outcome, error) { return o.BagRetryableFailure(1) })
		err := ot.refused("Capture early", ECONFLICT, capture(100))
		if !errors.Is(err, ErrInvalidTransition) || !strings.Contains(ErrorMessage(err), "bag 1 is still IN_PROGRESS") {
			t.Fatalf("error %v", err)
		}
		wantEvents(t, ot.ok("SubmitBag 1", submitBag(1)), be(1, EventOrderUpdated))
		wantEvents(t, ot.ok("Unknown 1", func(o *OrderState) (Outcome, error) { return o.BagOutcomeUnknown(1) }))
		ot.wantStatus(OrderStatusProcessing, BagStatusAccepted, BagStatusSubmitted)
		ot.ok("Accepted 1", accepted(1))
		ot.wantStatus(OrderStatusAccepted)
	})

	t.Run("CaptureFailedThenResubmit", func(t *testing.T) {
		t.Parallel()
		ot := setup(t, 700, 300)
		ot.placeAll()
		ot.ok("Accepted 0", accepted(0))
		ot.ok("Accepted 1", accepted(1))
		wantEvents(t, ot.ok("CaptureFailed", captureFailed), be(0, EventOrderUpdated), be(1, EventOrderUpdated))
		ot.wantStatus(OrderStatusInProgress, BagStatusAccepted, BagStatusAccepted)
		err := ot.refused("Submit without payment method", EINVALID, submit)
		if ErrorMessage(err) != "No payment method on Cart" {
			t.Fatalf("message %q", ErrorMessage(err))
		}
		ot.o.SetPaymentMethod()
		ot.ok("Submit", submit)
		ot.wantStatus(OrderStatusAccepted) // both bags are still placed: not placed twice
		ot.refused("Capture before reauthorizing", ECONFLICT, capture(1000))
		ot.ok("Reauthorize", authorize)
		ot.ok("Capture", capture(1000))
		ot.wantStatus(OrderStatusCompleted)
	})

	t.Run("ThreeDSAbandoned", func(t *testing.T) {
		t.Parallel()
		ot := setup(t, 100)
		ot.ok("Submit", submit)
		wantEvents(t, ot.ok("RequireAction", func(o *OrderState) (Outcome, error) { return o.RequireAction() }))
		ot.refused("Authorize", ECONFLICT, authorize)
		wantEvents(t, ot.ok("Abandon", func(o *OrderState) (Outcome, error) { return o.Abandon() }), be(NoBag, EventOrderFailed))
		ot.wantStatus(OrderStatusCanceled, BagStatusInProgress)
	})

	t.Run("ThreeDSCompleted", func(t *testing.T) {
		t.Parallel()
		ot := setup(t, 100)
		ot.ok("Submit", submit)
		ot.ok("RequireAction", func(o *OrderState) (Outcome, error) { return o.RequireAction() })
		ot.ok("CompleteAction", func(o *OrderState) (Outcome, error) { return o.CompleteAction() })
		ot.ok("Authorize", authorize)
		ot.refused("RequireAction after authorizing", ECONFLICT, func(o *OrderState) (Outcome, error) { return o.RequireAction() })
	})

	t.Run("ErrRefundExceedsCaptured", func(t *testing.T) {
		t.Parallel()
		ot := setup(t, 1000)
		ot.placeAll()
		ot.ok("Accepted", accepted(0))
		ot.ok("Capture short", capture(600))
		if b := ot.o.Bags[0]; b.Financial != FinancialStatusPartiallyPaid || b.Captured != 600 {
			t.Fatalf("bag %+v, want PARTIALLY_PAID with 600 captured", b)
		}
		ot.refused("Refund 601", EINVALID, refund(0, 601))
		ot.refused("Refund 0", EINVALID, refund(0, 0))
		ot.refused("Refund -1", EINVALID, refund(0, -1))
		ot.ok("Refund 600", refund(0, 600))
		ot.wantStatus(OrderStatusRefunded, BagStatusRefunded)
		ot.refused("Refund again", EINVALID, refund(0, 1))
	})

	t.Run("ShortCaptureThenRest", func(t *testing.T) {
		t.Parallel()
		ot := setup(t, 100, 50)
		ot.placeAll()
		ot.ok("Accepted 0", accepted(0))
		ot.ok("Accepted 1", accepted(1))
		ot.ok("Capture short", capture(120))
		if b := ot.o.Bags[1]; b.Financial != FinancialStatusPartiallyPaid || b.Captured != 20 {
			t.Fatalf("bag 1 %+v, want PARTIALLY_PAID with 20 captured", b)
		}
		rest := func(o *OrderState) (Outcome, error) { return o.CaptureRemaining(1) }
		ot.refused("Rest of a PAID bag", ECONFLICT, func(o *OrderState) (Outcome, error) { return o.CaptureRemaining(0) })
		wantEvents(t, ot.ok("Rest", rest), be(1, EventOrderUpdated))
		if b := ot.o.Bags[1]; b.Financial != FinancialStatusPaid || b.Captured != 50 {
			t.Fatalf("bag 1 %+v, want PAID with 50 captured", b)
		}
	})

	t.Run("ErrCaptureRestOfRefundedOrder", func(t *testing.T) {
		t.Parallel()
		// Found by a long random run: a short capture leaves bag 1 with
		// nothing captured, everything captured is refunded, so the order
		// is REFUNDED (terminal); capturing bag 1's rest then would leave
		// a REFUNDED order holding unrefunded money.
		ot := setup(t, 100, 50)
		ot.placeAll()
		ot.ok("Accepted 0", accepted(0))
		ot.ok("Accepted 1", accepted(1))
		ot.ok("Capture short", capture(100))
		ot.ok("Refund 0", refund(0, 100))
		ot.wantStatus(OrderStatusRefunded)
		ot.refused("Rest", ECONFLICT, func(o *OrderState) (Outcome, error) { return o.CaptureRemaining(1) })
	})

	t.Run("CanceledBagRefundedLater", func(t *testing.T) {
		t.Parallel()
		ot := setup(t, 400, 600)
		ot.placeAll()
		ot.ok("Accepted 0", accepted(0))
		ot.ok("Accepted 1", accepted(1))
		ot.ok("Capture", capture(1000))
		wantEvents(t, ot.ok("Cancel 0", cancelBag(0)), be(0, evCancelled...))
		ot.wantStatus(OrderStatusCompleted, BagStatusCanceled)
		// The bag stays CANCELED; only its financial_status moves.
		wantEvents(t, ot.ok("Refund 0", refund(0, 400)), be(0, evRefunded...))
		ot.wantStatus(OrderStatusPartiallyRefunded, BagStatusCanceled)
		if f := ot.o.Bags[0].Financial; f != FinancialStatusRefunded {
			t.Fatalf("financial %s, want REFUNDED", f)
		}
	})

	t.Run("EveryLiveBagCanceled", func(t *testing.T) {
		t.Parallel()
		ot := setup(t, 400, 600)
		ot.placeAll()
		ot.ok("Accepted 0", accepted(0))
		ot.ok("Rejected 1", rejected(1))
		ot.ok("Capture", capture(400))
		ot.ok("Cancel 0", cancelBag(0))
		ot.wantStatus(OrderStatusCanceled, BagStatusCanceled, BagStatusRejected)
	})

	t.Run("CanceledBeforeCapture", func(t *testing.T) {
		t.Parallel()
		ot := setup(t, 400, 600)
		ot.placeAll()
		ot.ok("Cancel 0", cancelBag(0))
		ot.ok("Accepted 1", accepted(1))
		ot.ok("Capture", capture(600))
		ot.wantStatus(OrderStatusCompleted, BagStatusCanceled, BagStatusAccepted)
		if f := ot.o.Bags[0].Financial; f != FinancialStatusVoided {
			t.Fatalf("canceled bag's financial %s, want VOIDED (never charged)", f)
		}
	})

	t.Run("ShipPartThenRest", func(t *testing.T) {
		t.Parallel()
		ot := setup(t, 100)
		ot.refused("Ship before placing", ECONFLICT, func(o *OrderState) (Outcome, error) { return o.Ship(0, false) })
		ot.placeAll()
		ot.ok("Accepted", accepted(0))
		ot.ok("Backordered", func(o *OrderState) (Outcome, error) { return o.BagBackordered(0) })
		part := func(o *OrderState) (Outcome, error) { return o.Ship(0, false) }
		wantEvents(t, ot.ok("Ship part", part), be(0, evShipped...))
		wantEvents(t, ot.ok("Ship another part", part), be(0, evShipped...))
		ot.wantStatus(OrderStatusAccepted, BagStatusBackordered)
		ot.ok("Ship rest", func(o *OrderState) (Outcome, error) { return o.Ship(0, true) })
		ot.wantStatus(OrderStatusAccepted, BagStatusCompleted)
		wantEvents(t, ot.ok("Return", func(o *OrderState) (Outcome, error) { return o.Return(0) }), be(0, EventOrderUpdated))
	})

	t.Run("ErrBadInput", func(t *testing.T) {
		t.Parallel()
		for _, totals := range [][]int64{nil, {0}, {5, -1}, {1 << 62, 1 << 62}} {
			if _, err := NewOrderState(totals...); ErrorCode(err) != EINVALID {
				t.Errorf("NewOrderState(%v): error %v, want EINVALID", totals, err)
			}
		}
		ot := setup(t, 100)
		ot.refused("No bag 3", EINVALID, submitBag(3))
		ot.refused("No bag -2", EINVALID, refund(-2, 1))
	})
}

func TestOutcomeEvents(t *testing.T) {
	t.Parallel()
	out := Outcome{Bag: 1, Changes: []AppliedTransition{
		{Bag: 1, Field: FieldBagStatus, Events: evFailed},
		{Bag: NoBag, Field: FieldOrderStatus, Events: evFailed},
		{Bag: 0, Field: FieldFinancialStatus, Events: evUpdated},
		{Bag: 1, Field: FieldFinancialStatus, Events: evUpdated},
		{Bag: 2, Field: FieldBagStatus, Events: nil},
	}}
	want := []BagEvents{be(1, EventOrderFailed, EventOrderUpdated), be(0, EventOrderUpdated)}
	if got := out.Events(); !slices.EqualFunc(got, want, func(a, b BagEvents) bool {
		return a.Bag == b.Bag && slices.Equal(a.Events, b.Events)
	}) {
		t.Fatalf("Events() = %+v, want %+v", got, want)
	}
}
