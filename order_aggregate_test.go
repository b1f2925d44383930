package tote

import (
	"fmt"
	"slices"
	"testing"
)

func bags(s ...BagStatus) []BagStatus { return s }

const (
	bIP  = BagStatusInProgress
	bSub = BagStatusSubmitted
	bAcc = BagStatusAccepted
	bBO  = BagStatusBackordered
	bCom = BagStatusCompleted
	bRej = BagStatusRejected
	bCan = BagStatusCanceled
	bPR  = BagStatusPartiallyRefunded
	bRef = BagStatusRefunded
)

func TestNextOrderStatus(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		facts  OrderFacts
		want   OrderStatus // "" when the status stays
		events []EventType
	}{
		{"InProgressStays", OrderFacts{Status: OrderStatusInProgress, Bags: bags(bIP, bIP)}, "", nil},
		{"RequiresActionStays", OrderFacts{Status: OrderStatusRequiresAction, Bags: bags(bAcc)}, "", nil},
		{"NoBagsStays", OrderFacts{Status: OrderStatusProcessing, Captured: true}, "", nil},
		{"WaitsForSubmittedBag", OrderFacts{Status: OrderStatusProcessing, Bags: bags(bAcc, bSub)}, "", nil},
		{"WaitsForRetriedBag", OrderFacts{Status: OrderStatusProcessing, Bags: bags(bAcc, bIP)}, "", nil},
		{"CaptureWaitsForEveryBag", OrderFacts{Status: OrderStatusProcessing, Bags: bags(bAcc, bSub), Captured: true}, "", nil},
		{"AllAccepted", OrderFacts{Status: OrderStatusProcessing, Bags: bags(bAcc, bAcc)}, OrderStatusAccepted, nil},
		{"AllAcceptedOneBackordered", OrderFacts{Status: OrderStatusProcessing, Bags: bags(bAcc, bBO)}, OrderStatusAccepted, nil},
		{"AcceptedAndRejectedWaitsForCapture", OrderFacts{Status: OrderStatusProcessing, Bags: bags(bAcc, bRej)}, "", nil},
		{"AcceptedWaitsForCapture", OrderFacts{Status: OrderStatusAccepted, Bags: bags(bAcc, bAcc)}, "", nil},
		{"CapturedFromProcessing", OrderFacts{Status: OrderStatusProcessing, Bags: bags(bAcc, bRej), Captured: true}, OrderStatusCompleted, nil},
		{"CapturedFromAccepted", OrderFacts{Status: OrderStatusAccepted, Bags: bags(bAcc, bCom), Captured: true}, OrderStatusCompleted, nil},
		{"CapturedNothingAccepted", OrderFacts{Status: OrderStatusProcessing, Bags: bags(bRej, bCan), Captured: true}, OrderStatusCanceled, nil},
		{"SingleBagRejected", OrderFacts{Status: OrderStatusProcessing, Bags: bags(bRej)}, OrderStatusRejected, evFailed},
		{"AllRejected", OrderFacts{Status: OrderStatusProcessing, Bags: bags(bRej, bRej, bRej)}, OrderStatusRejected, evFailed},
		{"RejectedWaitsForOthers", OrderFacts{Status: OrderStatusProcessing, Bags: bags(bRej, bSub)}, "", nil},
		{"RejectedAndCanceled", OrderFacts{Status: OrderStatusProcessing, Bags: bags(bRej, bCan)}, OrderStatusCanceled, nil},
		{"CanceledWaitsForOthers", OrderFacts{Status: OrderStatusProcessing, Bags: bags(bCan, bSub)}, "", nil},
		{"AcceptedAllCanceled", OrderFacts{Status: OrderStatusAccepted, Bags: bags(bCan, bCan)}, OrderStatusCanceled, nil},
		{"CaptureFailedFromProcessing", OrderFacts{Status: OrderStatusProcessing, Bags: bags(bAcc, bRej), CaptureFailed: true}, OrderStatusInProgress, nil},
		{"CaptureFailedFromAccepted", OrderFacts{Status: OrderStatusAccepted, Bags: bags(bAcc), CaptureFailed: true}, OrderStatusInProgress, nil},
		{"CompletedStays", OrderFacts{Status: OrderStatusCompleted, Bags: bags(bCom, bRej), CapturedAmount: 10}, "", nil},
		{"CompletedSomeCanceledStays", OrderFacts{Status: OrderStatusCompleted, Bags: bags(bCan, bAcc), CapturedAmount: 10}, "", nil},
		{"CompletedEveryLiveBagCanceled", OrderFacts{Status: OrderStatusCompleted, Bags: bags(bCan, bRej), CapturedAmount: 10}, OrderStatusCanceled, nil},
		{"CompletedCanceledBeatsRefund", OrderFacts{Status: OrderStatusCompleted, Bags: bags(bCan), CapturedAmount: 10, RefundedAmount: 10}, OrderStatusCanceled, nil},
		{"CompletedPartialRefund", OrderFacts{Status: OrderStatusCompleted, Bags: bags(bPR, bAcc), CapturedAmount: 10, RefundedAmount: 3}, OrderStatusPartiallyRefunded, nil},
		{"CompletedFullRefund", OrderFacts{Status: OrderStatusCompleted, Bags: bags(bRef, bRef), CapturedAmount: 10, RefundedAmount: 10}, OrderStatusRefunded, nil},
		{"PartiallyRefundedStays", OrderFacts{Status: OrderStatusPartiallyRefunded, Bags: bags(bPR), CapturedAmount: 10, RefundedAmount: 9}, "", nil},
		{"PartiallyRefundedRest", OrderFacts{Status: OrderStatusPartiallyRefunded, Bags: bags(bRef, bCan), CapturedAmount: 10, RefundedAmount: 10}, OrderStatusRefunded, nil},
		{"PartiallyRefundedAllCanceledStays", OrderFacts{Status: OrderStatusPartiallyRefunded, Bags: bags(bCan), CapturedAmount: 10, RefundedAmount: 4}, "", nil},
		{"RejectedIsTerminal", OrderFacts{Status: OrderStatusRejected, Bags: bags(bRej), Captured: true}, "", nil},
		{"CanceledIsTerminal", OrderFacts{Status: OrderStatusCanceled, Bags: bags(bCan), CapturedAmount: 5, RefundedAmount: 5}, "", nil},
		{"RefundedIsTerminal", OrderFacts{Status: OrderStatusRefunded, Bags: bags(bCan), CapturedAmount: 5, RefundedAmount: 5}, "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ch, ok, err := NextOrderStatus(tc.facts)
			if err != nil {
				t.Fatalf("error: %v", err)
			}
			if tc.want == "" {
				if ok {
					t.Fatalf("moved to %s by %q, want it to stay %s", ch.To, ch.Trigger, tc.facts.Status)
				}
				return
			}
			if !ok || ch.To != string(tc.want) {
				t.Fatalf("got (%+v, %v), want a move to %s", ch, ok, tc.want)
			}
			if ch.From != string(tc.facts.Status) || ch.Field != FieldOrderStatus || ch.Bag != NoBag {
				t.Errorf("change %+v does not describe the order status", ch)
			}
			if !slices.Equal(ch.Events, tc.events) {
				t.Errorf("events %v, want %v", ch.Events, tc.events)
			}
		})
	}
}

// TestNextOrderStatusProperties runs NextOrderStatus over every order status,
// every pair of bag statuses and every payment outcome, and checks that each
// move is a row of OrderStatusTransitions, that COMPLETED needs a bag
// ACCEPTED or later, that a PROCESSING order with an unsettled bag moves only
// on a failed capture, and that applying the rules again settles.
func TestNextOrderStatusProperties(t *testing.T) {
	t.Parallel()
	rows := rowsOf(OrderStatusTransitions)
	money := [][2]int64{{0, 0}, {10, 0}, {10, 4}, {10, 10}}
	for _, status := range OrderStatuses() {
		for _, b1 := range BagStatuses() {
			for _, b2 := range BagStatuses() {
				for _, flags := range [][2]bool{{false, false}, {true, false}, {false, true}} {
					for _, m := range money {
						f := OrderFacts{Status: status, Bags: bags(b1, b2), Captured: flags[0], CaptureFailed: flags[1],
							CapturedAmount: m[0], RefundedAmount: m[1]}
						name := fmt.Sprintf("%+v", f)
						// Apply the rules until they settle, as OrderState
						// does; each step must be a row, and with no new
						// payment outcome they settle within a step or two.
						for step := 0; ; step++ {
							ch, ok, err := NextOrderStatus(f)
							if err != nil {
								t.Fatalf("%s: %v", name, err)
							}
							if !ok {
								break
							}
							if step == 3 {
								t.Errorf("%s: does not settle: %s --%s--> %s", name, ch.From, ch.Trigger, ch.To)
								break
							}
							if r := matching(rows, ch.From, ch.Trigger); len(r) != 1 || r[0].to != ch.To || !slices.Equal(r[0].events, ch.Events) {
								t.Errorf("%s: change %+v is not a row of the order table", name, ch)
							}
							if ch.To == string(OrderStatusCompleted) && !b1.AcceptedOrLater() && !b2.AcceptedOrLater() {
								t.Errorf("%s: COMPLETED with no bag accepted", name)
							}
							if f.Status == OrderStatusProcessing && (!b1.IsSettled() || !b2.IsSettled()) && ch.Trigger != TriggerCaptureFailed {
								t.Errorf("%s: moved by %q while a bag is unsettled", name, ch.Trigger)
							}
							f.Status, f.Captured, f.CaptureFailed = OrderStatus(ch.To), false, false
						}
					}
				}
			}
		}
	}
}

func TestCaptureAmount(t *testing.T) {
	t.Parallel()
	b := func(s BagStatus, f FinancialStatus, total int64) BagState {
		return BagState{Status: s, Financial: f, Fulfillment: FulfillmentStatusProcessing, Total: total}
	}
	for _, tc := range []struct {
		name string
		bags []BagState
		want int64
	}{
		{"None", nil, 0},
		{"AllAccepted", []BagState{b(bAcc, FinancialStatusAuthorized, 100), b(bBO, FinancialStatusAuthorized, 50)}, 150},
		{"RejectedDropped", []BagState{b(bAcc, FinancialStatusAuthorized, 100), b(bRej, FinancialStatusAuthorized, 50)}, 100},
		{"CanceledDropped", []BagState{b(bCan, FinancialStatusAuthorized, 100), b(bCom, FinancialStatusPending, 50)}, 50},
		{"AlreadyCapturedNotAgain", []BagState{b(bAcc, FinancialStatusPaid, 100), b(bAcc, FinancialStatusAuthorized, 50)}, 50},
		{"VoidedNotCharged", []BagState{b(bAcc, FinancialStatusVoided, 100)}, 0},
		{"NotYetAccepted", []BagState{b(bSub, FinancialStatusAuthorized, 100)}, 0},
	} {
		if got := CaptureAmount(tc.bags); got != tc.want {
			t.Errorf("%s: CaptureAmount = %d, want %d", tc.name, got, tc.want)
		}
	}
}
