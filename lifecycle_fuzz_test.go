package tote

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
)

// The fuzz input is a header, then two bytes per command:
//
//	byte 0          number of bags: 2 + b%3 (2–4)
//	bytes 1..n      bag totals: 1 + b%50 each
//	then pairs      (code, arg): code%numOps picks the command; arg%n picks
//	                the bag; arg/16 picks an amount (0: the natural amount —
//	                what is due, or all that is refundable —, k: exactly k).
const (
	opSubmit = iota
	opSetPaymentMethod
	opRequireAction
	opCompleteAction
	opAbandon
	opAuthorize
	opAuthorizePending
	opSubmitBag
	opBagAccepted
	opBagRetryableFailure
	opBagOutcomeUnknown
	opBagRejected
	opBagBackordered
	opBagStockArrived
	opCancelBag
	opCapture
	opCaptureFailed
	opCaptureRemaining
	opVoidAuthorization
	opShipPartial
	opShipAll
	opDeliver
	opCouldNotDeliver
	opReturn
	opRefund
	numOps
)

// opTakesBag and opTakesAmount say which parts of arg a command uses; the
// seed search uses them to avoid trying the same command twice.
func opTakesBag(code int) bool {
	return code >= opSubmitBag && code != opCapture && code != opCaptureFailed && code != opVoidAuthorization
}

func opTakesAmount(code int) bool { return code == opCapture || code == opRefund }

// newFuzzOrder decodes the header; it returns the order and the rest of data.
func newFuzzOrder(data []byte) (*OrderState, []byte) {
	if len(data) == 0 {
		data = []byte{0}
	}
	n := 2 + int(data[0])%3
	data = data[1:]
	totals := make([]int64, n)
	for i := range totals {
		totals[i] = 1
		if i < len(data) {
			totals[i] += int64(data[i]) % 50
		}
	}
	data = data[min(n, len(data)):]
	o, err := NewOrderState(totals...)
	if err != nil {
		panic(err)
	}
	return o, data
}

// applyOp runs one decoded command on o. ok is false for the one command that
// is not a lifecycle change (SetPaymentMethod).
func applyOp(o *OrderState, code, arg byte) (name string, out Outcome, err error, ok bool) {
	c := int(code) % numOps
	i := int(arg) % len(o.Bags)
	amount := int64(arg / 16)
	switch c {
	case opSubmit:
		out, err = o.Submit()
		return "Submit", out, err, true
	case opSetPaymentMethod:
		o.SetPaymentMethod()
		return "SetPaymentMethod", Outcome{}, nil, false
	case opRequireAction:
		out, err = o.RequireAction()
		return "RequireAction", out, err, true
	case opCompleteAction:
		out, err = o.CompleteAction()
		return "CompleteAction", out, err, true
	case opAbandon:
		out, err = o.Abandon()
		return "Abandon", out, err, true
	case opAuthorize, opAuthorizePending:
		out, err = o.Authorize(c == opAuthorizePending)
		return fmt.Sprintf("Authorize(%v)", c == opAuthorizePending), out, err, true
	case opSubmitBag:
		out, err = o.SubmitBag(i)
	case opBagAccepted:
		out, err = o.BagAccepted(i)
	case opBagRetryableFailure:
		out, err = o.BagRetryableFailure(i)
	case opBagOutcomeUnknown:
		out, err = o.BagOutcomeUnknown(i)
	case opBagRejected:
		out, err = o.BagRejected(i)
	case opBagBackordered:
		out, err = o.BagBackordered(i)
	case opBagStockArrived:
		out, err = o.BagStockArrived(i)
	case opCancelBag:
		out, err = o.CancelBag(i)
	case opCapture:
		if amount == 0 {
			amount = CaptureAmount(o.Bags)
		}
		out, err = o.Capture(amount)
		return fmt.Sprintf("Capture(%d)", amount), out, err, true
	case opCaptureFailed:
		out, err = o.CaptureFailed()
		return "CaptureFailed", out, err, true
	case opCaptureRemaining:
		out, err = o.CaptureRemaining(i)
	case opVoidAuthorization:
		out, err = o.VoidAuthorization()
		return "VoidAuthorization", out, err, true
	case opShipPartial, opShipAll:
		out, err = o.Ship(i, c == opShipAll)
	case opDeliver:
		out, err = o.Deliver(i)
	case opCouldNotDeliver:
		out, err = o.CouldNotDeliver(i)
	case opReturn:
		out, err = o.Return(i)
	case opRefund:
		if amount == 0 {
			amount = o.Bags[i].Captured - o.Bags[i].Refunded
		}
		out, err = o.Refund(i, amount)
		return fmt.Sprintf("Refund(%d, %d)", i, amount), out, err, true
	}
	return fmt.Sprintf("op%d(%d)", c, i), out, err, true
}

// tableRows returns the rows of each field's table, for checking changes.
func tableRows() map[StatusField][]row {
	m := map[StatusField][]row{}
	for _, spec := range fieldSpecs() {
		m[spec.field] = spec.rows
	}
	return m
}

// fieldValue reads one status field of o.
func fieldValue(o *OrderState, bag int, field StatusField) string {
	switch field {
	case FieldOrderStatus:
		return string(o.Status)
	case FieldBagStatus:
		return string(o.Bags[bag].Status)
	case FieldFinancialStatus:
		return string(o.Bags[bag].Financial)
	case FieldFulfillmentStatus:
		return string(o.Bags[bag].Fulfillment)
	}
	panic(field)
}

// checkStep checks the invariants of one command: before is the order before
// it, after the order after it.
func checkStep(t *testing.T, rows map[StatusField][]row, name string, before, after *OrderState, out Outcome, err error, lifecycle bool) {
	t.Helper()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("%s: %s\nbefore: %+v\nafter:  %+v\noutcome: %+v", name, fmt.Sprintf(format, args...), *before, *after, out)
	}

	if err != nil {
		// Refused changes change nothing, and say why in a caller's terms.
		if !reflect.DeepEqual(before, after) {
			fail("refused (%v) but the order changed", err)
		}
		switch ErrorCode(err) {
		case ECONFLICT:
			if !errors.Is(err, ErrInvalidTransition) {
				fail("ECONFLICT error %v does not wrap ErrInvalidTransition", err)
			}
		case EINVALID:
		default:
			fail("error %v has code %s, want conflict or invalid", err, ErrorCode(err))
		}
	} else if lifecycle {
		if len(out.Changes) == 0 {
			fail("succeeded with no status change")
		}
		// Each change is a row of its table, with exactly the row's events,
		// and the changes account for every status that moved.
		type key struct {
			bag   int
			field StatusField
		}
		current := map[key]string{}
		for _, c := range out.Changes {
			r := matching(rows[c.Field], c.From, c.Trigger)
			if len(r) != 1 || r[0].to != c.To || !slices.Equal(r[0].events, c.Events) {
				fail("change %+v is not a row of the %s table", c, c.Field)
			}
			k := key{c.Bag, c.Field}
			from, seen := current[k]
			if !seen {
				from = fieldValue(before, c.Bag, c.Field)
			}
			if c.From != from {
				fail("change %+v starts from %s, but the field was %s", c, c.From, from)
			}
			current[k] = c.To
		}
		for bag := NoBag; bag < len(before.Bags); bag++ {
			for _, field := range StatusFields() {
				if (bag == NoBag) != (field == FieldOrderStatus) {
					continue
				}
				want, changed := current[key{bag, field}]
				if !changed {
					want = fieldValue(before, bag, field)
				}
				if got := fieldValue(after, bag, field); got != want {
					fail("bag %d %s is %s; the changes say %s", bag, field, got, want)
				}
			}
		}
		// One real change, one set of events per bag: no duplicates, and
		// exactly the union of the rows' events.
		emitted := map[int][]EventType{}
		for _, be := range out.Events() {
			if _, dup := emitted[be.Bag]; dup {
				fail("two event sets for bag %d", be.Bag)
			}
			if !slices.Equal(be.Events, MergeEvents(be.Events)) || len(be.Events) == 0 {
				fail("event set %v for bag %d has duplicates, is out of order, or is empty", be.Events, be.Bag)
			}
			emitted[be.Bag] = be.Events
		}
		want := map[int][]EventType{}
		for _, c := range out.Changes {
			k := c.Bag
			if k == NoBag {
				k = out.Bag
			}
			want[k] = MergeEvents(want[k], c.Events)
		}
		for k, ev := range want {
			if !slices.Equal(emitted[k], ev) {
				fail("bag %d got events %v, its changes imply %v", k, emitted[k], ev)
			}
		}
	}

	// A terminal status never changes.
	if before.Status.IsTerminal() && after.Status != before.Status {
		fail("terminal order status %s became %s", before.Status, after.Status)
	}
	for i := range before.Bags {
		if b := before.Bags[i].Status; b.IsTerminal() && after.Bags[i].Status != b {
			fail("bag %d: terminal status %s became %s", i, b, after.Bags[i].Status)
		}
	}
	checkOrderInvariants(t, name, after)
}

// checkOrderInvariants checks what must hold of any order the commands can
// produce.
func checkOrderInvariants(t *testing.T, name string, o *OrderState) {
	t.Helper()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("%s: %s\norder: %+v", name, fmt.Sprintf(format, args...), *o)
	}
	var captured, refunded int64
	anyAccepted, allRejected := false, true
	for i, b := range o.Bags {
		if !b.Status.Valid() || !b.Financial.Valid() || !b.Fulfillment.Valid() {
			fail("bag %d has an unknown status", i)
		}
		// Refunded never exceeds captured, which never exceeds the total.
		if b.Refunded < 0 || b.Refunded > b.Captured || b.Captured > b.Total {
			fail("bag %d: refunded %d, captured %d, total %d", i, b.Refunded, b.Captured, b.Total)
		}
		// The financial status agrees with the money.
		var ok bool
		switch b.Financial {
		case FinancialStatusUnpaid, FinancialStatusPending, FinancialStatusAuthorized, FinancialStatusVoided:
			ok = b.Captured == 0 && b.Refunded == 0
		case FinancialStatusPaid:
			ok = b.Captured == b.Total && b.Refunded == 0
		case FinancialStatusPartiallyPaid:
			ok = b.Captured < b.Total && b.Refunded == 0
		case FinancialStatusPartiallyRefunded:
			ok = b.Refunded > 0 && b.Refunded < b.Captured
		case FinancialStatusRefunded:
			ok = b.Refunded > 0 && b.Refunded == b.Captured
		}
		if !ok {
			fail("bag %d: financial_status %s with captured %d, refunded %d, total %d", i, b.Financial, b.Captured, b.Refunded, b.Total)
		}
		switch b.Status {
		case BagStatusRefunded:
			ok = b.Refunded > 0 && b.Refunded == b.Captured
		case BagStatusPartiallyRefunded:
			ok = b.Refunded > 0 && b.Refunded < b.Captured
		default:
			ok = true
		}
		if !ok {
			fail("bag %d: status %s with captured %d, refunded %d", i, b.Status, b.Captured, b.Refunded)
		}
		captured += b.Captured
		refunded += b.Refunded
		anyAccepted = anyAccepted || b.Status.AcceptedOrLater()
		allRejected = allRejected && b.Status == BagStatusRejected
	}
	switch o.Status {
	case OrderStatusCompleted:
		if !anyAccepted {
			fail("order COMPLETED with no bag ACCEPTED or later")
		}
	case OrderStatusRejected:
		if !allRejected {
			fail("order REJECTED with a bag not REJECTED")
		}
	case OrderStatusRefunded:
		if captured == 0 || refunded != captured {
			fail("order REFUNDED with captured %d, refunded %d", captured, refunded)
		}
	}
	// The order status is always where the rules put it.
	if ch, moves, err := NextOrderStatus(o.Facts()); err != nil || moves {
		fail("order status not settled: would move %s --%s--> %s (%v)", ch.From, ch.Trigger, ch.To, err)
	}
}

// runLifecycle decodes and runs a whole fuzz input, checking every step.
func runLifecycle(t *testing.T, rows map[StatusField][]row, data []byte) {
	o, ops := newFuzzOrder(data)
	checkOrderInvariants(t, "new order", o)
	for len(ops) >= 2 {
		before := o.Clone()
		name, out, err, lifecycle := applyOp(o, ops[0], ops[1])
		checkStep(t, rows, name, before, o, out, err, lifecycle)
		ops = ops[2:]
	}
}

// FuzzOrderLifecycle drives random command sequences through a 2–4 bag order
// and checks the invariants after every step. It is seeded with the shortest
// sequences that exercise each row of each table (see rowSeeds).
func FuzzOrderLifecycle(f *testing.F) {
	for _, seed := range rowSeeds() {
		f.Add(seed)
	}
	f.Add([]byte{2, 10, 20, 30, opSubmit, 0, opAuthorize, 0, opSubmitBag, 0, opSubmitBag, 1, opSubmitBag, 2,
		opBagAccepted, 0, opBagRejected, 1, opBagAccepted, 2, opCapture, 0, opShipAll, 0, opRefund, 0, opRefund, 2})
	rows := tableRows()
	f.Fuzz(func(t *testing.T, data []byte) {
		// Longer inputs add little a fuzzer can steer, and slow down its
		// minimizing of every new interesting input (execs stall for up to
		// a minute each time); TestLifecycleRandom covers long histories.
		runLifecycle(t, rows, data[:min(len(data), maxFuzzInput)])
	})
}

// maxFuzzInput bounds what FuzzOrderLifecycle reads: a header and 128
// commands.
const maxFuzzInput = 5 + 2*128

// rowKey names one (field, from, trigger) pair of a table.
type rowKey struct {
	field   StatusField
	from    string
	trigger Trigger
}

// seedHeader is the fuzz header rowSeeds and the coverage test use: two bags
// with totals 3 and 5.
var seedHeader = []byte{0, 2, 4}

// exploreRows searches the commands breadth first from a new two-bag order
// and returns, for each table (field, from, trigger) pair it reaches, the
// shortest command sequence (as fuzz input) that applies it.
func exploreRows() map[rowKey][]byte {
	type node struct {
		o    *OrderState
		path []byte
	}
	start, _ := newFuzzOrder(seedHeader)
	var ops [][2]byte
	for code := range numOps {
		bagsN, amounts := 1, []int{0}
		if opTakesBag(code) {
			bagsN = len(start.Bags)
		}
		if opTakesAmount(code) {
			// The natural amount, 1, and 7: capturing 7 of 8 leaves the
			// second bag PARTIALLY_PAID with 4 to refund from.
			amounts = []int{0, 1, 7}
		}
		for i := range bagsN {
			for _, a := range amounts {
				ops = append(ops, [2]byte{byte(code), byte(a*16 + i)})
			}
		}
	}
	wanted := 0
	for _, spec := range fieldSpecs() {
		for _, r := range spec.rows {
			wanted += len(r.from)
		}
	}
	found := map[rowKey][]byte{}
	seen := map[string]bool{fmt.Sprint(*start): true}
	queue := []node{{start, nil}}
	for depth := 0; len(queue) > 0 && depth < 24 && len(found) < wanted; depth++ {
		var next []node
		for _, n := range queue {
			for _, op := range ops {
				o := n.o.Clone()
				_, out, err, _ := applyOp(o, op[0], op[1])
				if err != nil {
					continue
				}
				path := append(slices.Clone(n.path), op[0], op[1])
				for _, c := range out.Changes {
					k := rowKey{c.Field, c.From, c.Trigger}
					if _, ok := found[k]; !ok {
						found[k] = append(slices.Clone(seedHeader), path...)
					}
				}
				if s := fmt.Sprint(*o); !seen[s] {
					seen[s] = true
					next = append(next, node{o, path})
				}
			}
		}
		queue = next
	}
	return found
}

// rowSeeds returns the fuzz seeds: one per table row pair exploreRows reaches.
func rowSeeds() [][]byte {
	found := exploreRows()
	var seeds [][]byte
	for _, spec := range fieldSpecs() {
		for _, r := range spec.rows {
			for _, from := range r.from {
				if seed, ok := found[rowKey{spec.field, from, r.trigger}]; ok {
					seeds = append(seeds, seed)
				}
			}
		}
	}
	return seeds
}

// TestLifecycleReachesEveryRow checks that the OrderState commands can reach
// every (from, trigger) pair of every table: no row is dead, and the fuzz
// seeds cover them all.
func TestLifecycleReachesEveryRow(t *testing.T) {
	t.Parallel()
	found := exploreRows()
	for _, spec := range fieldSpecs() {
		for _, r := range spec.rows {
			for _, from := range r.from {
				if _, ok := found[rowKey{spec.field, from, r.trigger}]; !ok {
					t.Errorf("no command sequence applies %s %s --%s--> %s", spec.field, from, r.trigger, r.to)
				}
			}
		}
	}
	rows := tableRows()
	for _, seed := range rowSeeds() {
		runLifecycle(t, rows, seed)
	}
}

// TestLifecycleRandom runs long random command sequences, with a fixed seed,
// through the fuzz checks: the fuzzer favours short inputs, and some bugs
// need a long history to show (a short capture, refunds, then a late
// capture of the rest).
func TestLifecycleRandom(t *testing.T) {
	t.Parallel()
	n := 300
	if testing.Short() {
		n = 30
	}
	r := rand.New(rand.NewPCG(1, 2))
	rows := tableRows()
	for range n {
		data := make([]byte, r.IntN(4000))
		for i := range data {
			data[i] = byte(r.UintN(256))
		}
		runLifecycle(t, rows, data)
	}
}
