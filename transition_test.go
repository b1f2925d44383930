package tote

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// row is a transition table row with its statuses as strings, so the four
// tables can be walked by one piece of test code.
type row struct {
	from    []string
	trigger Trigger
	to      string
	events  []EventType
}

func rowsOf[S ~string](table []Transition[S]) []row {
	rows := make([]row, 0, len(table))
	for _, r := range table {
		from := make([]string, len(r.From))
		for i, s := range r.From {
			from[i] = string(s)
		}
		rows = append(rows, row{from: from, trigger: r.Trigger, to: string(r.To), events: r.Events})
	}
	return rows
}

func stringsOf[S ~string](all []S) []string {
	out := make([]string, len(all))
	for i, s := range all {
		out[i] = string(s)
	}
	return out
}

// fieldSpec describes one status field for the table-walking tests.
type fieldSpec struct {
	field    StatusField
	statuses []string
	triggers []Trigger
	rows     []row
	apply    func(from string, t Trigger) (string, []EventType, error)
	// terminal is nil for fields LIFECYCLE.md gives no terminal statuses.
	terminal func(s string) bool
}

func fieldSpecs() []fieldSpec {
	return []fieldSpec{
		{
			field:    FieldBagStatus,
			statuses: stringsOf(BagStatuses()),
			triggers: BagTriggers(),
			rows:     rowsOf(BagStatusTransitions),
			apply: func(from string, t Trigger) (string, []EventType, error) {
				to, ev, err := TransitionBagStatus(BagStatus(from), t)
				return string(to), ev, err
			},
			terminal: func(s string) bool { return BagStatus(s).IsTerminal() },
		},
		{
			field:    FieldFinancialStatus,
			statuses: stringsOf(FinancialStatuses()),
			triggers: FinancialTriggers(),
			rows:     rowsOf(FinancialStatusTransitions),
			apply: func(from string, t Trigger) (string, []EventType, error) {
				to, ev, err := TransitionFinancialStatus(FinancialStatus(from), t)
				return string(to), ev, err
			},
		},
		{
			field:    FieldFulfillmentStatus,
			statuses: stringsOf(FulfillmentStatuses()),
			triggers: FulfillmentTriggers(),
			rows:     rowsOf(FulfillmentStatusTransitions),
			apply: func(from string, t Trigger) (string, []EventType, error) {
				to, ev, err := TransitionFulfillmentStatus(FulfillmentStatus(from), t)
				return string(to), ev, err
			},
		},
		{
			field:    FieldOrderStatus,
			statuses: stringsOf(OrderStatuses()),
			triggers: OrderTriggers(),
			rows:     rowsOf(OrderStatusTransitions),
			apply: func(from string, t Trigger) (string, []EventType, error) {
				to, ev, err := TransitionOrderStatus(OrderStatus(from), t)
				return string(to), ev, err
			},
			terminal: func(s string) bool { return OrderStatus(s).IsTerminal() },
		},
	}
}

func specFor(t testing.TB, field StatusField) fieldSpec {
	t.Helper()
	for _, s := range fieldSpecs() {
		if s.field == field {
			return s
		}
	}
	t.Fatalf("no spec for %s", field)
	return fieldSpec{}
}

// matching returns the rows of rows that apply trigger t from status from.
func matching(rows []row, from string, t Trigger) []row {
	var out []row
	for _, r := range rows {
		if r.trigger == t && slices.Contains(r.from, from) {
			out = append(out, r)
		}
	}
	return out
}

var (
	evUpdated     = []EventType{EventOrderUpdated}
	evAccepted    = []EventType{EventOrderAccepted, EventOrderUpdated}
	evShipped     = []EventType{EventOrderShipped, EventOrderUpdated}
	evDelivered   = []EventType{EventOrderDelivered, EventOrderUpdated}
	evCompleted   = []EventType{EventOrderCompleted, EventOrderUpdated}
	evRefunded    = []EventType{EventOrderRefunded, EventOrderUpdated}
	evCancelled   = []EventType{EventOrderCancelled, EventOrderUpdated}
	evFailed      = []EventType{EventOrderFailed}
	evNone        []EventType
	bagF          = FieldBagStatus
	finF          = FieldFinancialStatus
	fulF          = FieldFulfillmentStatus
	ordF          = FieldOrderStatus
	everyRowCases = []struct {
		field   StatusField
		from    string
		trigger Trigger
		to      string
		events  []EventType
	}{
		// Bag status: LIFECYCLE.md's table, one case per (from, row).
		{bagF, "IN_PROGRESS", TriggerSubmit, "SUBMITTED", evUpdated},
		{bagF, "SUBMITTED", TriggerPlatformAccepted, "ACCEPTED", evAccepted},
		{bagF, "SUBMITTED", TriggerRetryableFailure, "IN_PROGRESS", evUpdated},
		{bagF, "SUBMITTED", TriggerOutcomeUnknown, "SUBMITTED", evNone},
		{bagF, "SUBMITTED", TriggerRejected, "REJECTED", evFailed},
		{bagF, "ACCEPTED", TriggerBackordered, "BACKORDERED", evUpdated},
		{bagF, "BACKORDERED", TriggerStockArrived, "ACCEPTED", evAccepted},
		{bagF, "ACCEPTED", TriggerAllShipped, "COMPLETED", evCompleted},
		{bagF, "BACKORDERED", TriggerAllShipped, "COMPLETED", evCompleted},
		{bagF, "ACCEPTED", TriggerFullRefund, "REFUNDED", evRefunded},
		{bagF, "BACKORDERED", TriggerFullRefund, "REFUNDED", evRefunded},
		{bagF, "COMPLETED", TriggerFullRefund, "REFUNDED", evRefunded},
		{bagF, "ACCEPTED", TriggerPartialRefund, "PARTIALLY_REFUNDED", evRefunded},
		{bagF, "BACKORDERED", TriggerPartialRefund, "PARTIALLY_REFUNDED", evRefunded},
		{bagF, "COMPLETED", TriggerPartialRefund, "PARTIALLY_REFUNDED", evRefunded},
		{bagF, "PARTIALLY_REFUNDED", TriggerFullRefund, "REFUNDED", evRefunded},
		{bagF, "SUBMITTED", TriggerCancel, "CANCELED", evCancelled},
		{bagF, "ACCEPTED", TriggerCancel, "CANCELED", evCancelled},
		{bagF, "BACKORDERED", TriggerCancel, "CANCELED", evCancelled},
		{bagF, "COMPLETED", TriggerCancel, "CANCELED", evCancelled},
		{bagF, "PARTIALLY_REFUNDED", TriggerCancel, "CANCELED", evCancelled},

		// Financial status: the prose, turned into rows.
		{finF, "UNPAID", TriggerAuthorize, "AUTHORIZED", evUpdated},
		{finF, "UNPAID", TriggerMarkPending, "PENDING", evUpdated},
		{finF, "AUTHORIZED", TriggerCapture, "PAID", evUpdated},
		{finF, "PENDING", TriggerCapture, "PAID", evUpdated},
		{finF, "PARTIALLY_PAID", TriggerCapture, "PAID", evUpdated},
		{finF, "AUTHORIZED", TriggerPartialCapture, "PARTIALLY_PAID", evUpdated},
		{finF, "PENDING", TriggerPartialCapture, "PARTIALLY_PAID", evUpdated},
		{finF, "AUTHORIZED", TriggerVoid, "VOIDED", evUpdated},
		{finF, "VOIDED", TriggerReauthorize, "AUTHORIZED", evUpdated},
		{finF, "PAID", TriggerPartialRefund, "PARTIALLY_REFUNDED", evRefunded},
		{finF, "PARTIALLY_PAID", TriggerPartialRefund, "PARTIALLY_REFUNDED", evRefunded},
		{finF, "PARTIALLY_REFUNDED", TriggerPartialRefund, "PARTIALLY_REFUNDED", evRefunded},
		{finF, "PAID", TriggerFullRefund, "REFUNDED", evRefunded},
		{finF, "PARTIALLY_PAID", TriggerFullRefund, "REFUNDED", evRefunded},
		{finF, "PARTIALLY_REFUNDED", TriggerFullRefund, "REFUNDED", evRefunded},

		// Fulfillment status: the prose, turned into rows.
		{fulF, "PROCESSING", TriggerPartiallyShipped, "PARTIALLY_SHIPPED", evShipped},
		{fulF, "PARTIALLY_SHIPPED", TriggerPartiallyShipped, "PARTIALLY_SHIPPED", evShipped},
		{fulF, "PROCESSING", TriggerAllShipped, "SHIPPED", evShipped},
		{fulF, "PARTIALLY_SHIPPED", TriggerAllShipped, "SHIPPED", evShipped},
		{fulF, "SHIPPED", TriggerDelivered, "DELIVERED", evDelivered},
		{fulF, "PARTIALLY_SHIPPED", TriggerCouldNotDeliver, "COULD_NOT_DELIVER", evUpdated},
		{fulF, "SHIPPED", TriggerCouldNotDeliver, "COULD_NOT_DELIVER", evUpdated},
		{fulF, "PARTIALLY_SHIPPED", TriggerReturned, "RETURNED", evUpdated},
		{fulF, "SHIPPED", TriggerReturned, "RETURNED", evUpdated},
		{fulF, "DELIVERED", TriggerReturned, "RETURNED", evUpdated},
		{fulF, "COULD_NOT_DELIVER", TriggerReturned, "RETURNED", evUpdated},

		// Order status: LIFECYCLE.md's table plus the two gaps it leaves.
		{ordF, "IN_PROGRESS", TriggerSubmit, "PROCESSING", evNone},
		{ordF, "PROCESSING", TriggerRequiresAction, "REQUIRES_ACTION", evNone},
		{ordF, "REQUIRES_ACTION", TriggerActionCompleted, "PROCESSING", evNone},
		{ordF, "REQUIRES_ACTION", TriggerAbandon, "CANCELED", evFailed},
		{ordF, "PROCESSING", TriggerAllAccepted, "ACCEPTED", evNone},
		{ordF, "PROCESSING", TriggerCapture, "COMPLETED", evNone},
		{ordF, "ACCEPTED", TriggerCapture, "COMPLETED", evNone},
		{ordF, "PROCESSING", TriggerAllRejected, "REJECTED", evFailed},
		{ordF, "PROCESSING", TriggerCaptureFailed, "IN_PROGRESS", evNone},
		{ordF, "ACCEPTED", TriggerCaptureFailed, "IN_PROGRESS", evNone},
		{ordF, "PROCESSING", TriggerAllCanceled, "CANCELED", evNone},
		{ordF, "ACCEPTED", TriggerAllCanceled, "CANCELED", evNone},
		{ordF, "COMPLETED", TriggerAllCanceled, "CANCELED", evNone},
		{ordF, "COMPLETED", TriggerPartialRefund, "PARTIALLY_REFUNDED", evNone},
		{ordF, "COMPLETED", TriggerFullRefund, "REFUNDED", evNone},
		{ordF, "PARTIALLY_REFUNDED", TriggerFullRefund, "REFUNDED", evNone},
	}
)

// TestTransitionEveryRow applies every row of every table, from each of its
// From statuses, and checks the result against expectations written out by
// hand from LIFECYCLE.md. It also checks the tables hold no row the cases do
// not name.
func TestTransitionEveryRow(t *testing.T) {
	t.Parallel()
	for _, tc := range everyRowCases {
		t.Run(fmt.Sprintf("%s/%s/%s", tc.field, tc.from, tc.trigger), func(t *testing.T) {
			t.Parallel()
			to, events, err := specFor(t, tc.field).apply(tc.from, tc.trigger)
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if to != tc.to {
				t.Errorf("to = %s, want %s", to, tc.to)
			}
			if !slices.Equal(events, tc.events) {
				t.Errorf("events = %v, want %v", events, tc.events)
			}
		})
	}
	t.Run("NoUnlistedRow", func(t *testing.T) {
		t.Parallel()
		for _, spec := range fieldSpecs() {
			pairs := 0
			for _, r := range spec.rows {
				pairs += len(r.from)
			}
			cases := 0
			for _, tc := range everyRowCases {
				if tc.field == spec.field {
					cases++
				}
			}
			if pairs != cases {
				t.Errorf("%s: the table has %d (from, trigger) pairs, the cases name %d", spec.field, pairs, cases)
			}
		}
	})
}

// TestTransitionExhaustive tries every status (and a few invalid ones) with
// every trigger (and an unknown one) on each field: each pair either matches
// exactly one row and returns that row's To and Events, or is refused with an
// ECONFLICT error wrapping ErrInvalidTransition that names the field, the
// status and the trigger, and leaves the status as it was.
func TestTransitionExhaustive(t *testing.T) {
	t.Parallel()
	for _, spec := range fieldSpecs() {
		t.Run(string(spec.field), func(t *testing.T) {
			t.Parallel()
			statuses := append(slices.Clone(spec.statuses), "", "BOGUS", "in_progress")
			triggers := append(Triggers(), "", "bogus")
			allowed := 0
			for _, from := range statuses {
				for _, trig := range triggers {
					to, events, err := spec.apply(from, trig)
					rows := matching(spec.rows, from, trig)
					switch len(rows) {
					case 0:
						checkRefused(t, spec, from, trig, to, events, err)
					case 1:
						allowed++
						if err != nil || to != rows[0].to || !slices.Equal(events, rows[0].events) {
							t.Errorf("%s %s --%s--> (%s, %v, %v), want (%s, %v, nil)",
								spec.field, from, trig, to, events, err, rows[0].to, rows[0].events)
						}
					default:
						t.Errorf("%s %s --%s--> matches %d rows; the table must be deterministic", spec.field, from, trig, len(rows))
					}
				}
			}
			if allowed == 0 {
				t.Errorf("%s: no pair allowed", spec.field)
			}
		})
	}
}

func checkRefused(t *testing.T, spec fieldSpec, from string, trig Trigger, to string, events []EventType, err error) {
	t.Helper()
	field := spec.field
	if err == nil {
		t.Errorf("%s %q --%q--> %s allowed; it has no row", field, from, trig, to)
		return
	}
	if !errors.Is(err, ErrInvalidTransition) {
		t.Errorf("%s %q --%q-->: error %v does not wrap ErrInvalidTransition", field, from, trig, err)
	}
	if code := ErrorCode(err); code != ECONFLICT {
		t.Errorf("%s %q --%q-->: code %s, want %s", field, from, trig, code, ECONFLICT)
	}
	msg := ErrorMessage(err)
	shown := from // an unknown status is quoted, so an empty one still shows
	if !slices.Contains(spec.statuses, from) {
		shown = strconv.Quote(from)
	}
	for _, want := range []string{string(field), strconv.Quote(string(trig)), shown} {
		if !strings.Contains(msg, want) {
			t.Errorf("%s %q --%q-->: message %q does not name %q", field, from, trig, msg, want)
		}
	}
	if to != from || events != nil {
		t.Errorf("%s %q --%q--> refused but returned (%q, %v), want the status unchanged and no events", field, from, trig, to, events)
	}
}

func TestTransitionRefusalMessage(t *testing.T) {
	t.Parallel()
	_, _, err := TransitionFinancialStatus(FinancialStatusVoided, TriggerCapture)
	want := `cannot apply "capture" to bag financial_status VOIDED`
	if got := ErrorMessage(err); got != want {
		t.Errorf("message = %q, want %q", got, want)
	}
	var e *Error
	if !errors.As(err, &e) || e.Err != ErrInvalidTransition {
		t.Errorf("error %#v is not an *Error with Err ErrInvalidTransition", err)
	}
}

// TestTransitionEventsFollowEventsTable derives each row's events from the
// rules of LIFECYCLE.md's Events table, independently of the hand-written
// cases above.
func TestTransitionEventsFollowEventsTable(t *testing.T) {
	t.Parallel()
	want := func(field StatusField, r row) []EventType {
		selfLoop := slices.Equal(r.from, []string{r.to})
		switch field {
		case FieldBagStatus:
			switch {
			case selfLoop:
				return nil // outcome unknown: nothing changed
			case r.to == "ACCEPTED":
				return evAccepted
			case r.to == "COMPLETED":
				return evCompleted
			case r.to == "REFUNDED" || r.to == "PARTIALLY_REFUNDED":
				return evRefunded
			case r.to == "CANCELED":
				return evCancelled
			case r.to == "REJECTED":
				return evFailed
			}
			return evUpdated
		case FieldFinancialStatus:
			if r.to == "REFUNDED" || r.to == "PARTIALLY_REFUNDED" {
				return evRefunded
			}
			return evUpdated
		case FieldFulfillmentStatus:
			switch r.to {
			case "PARTIALLY_SHIPPED", "SHIPPED":
				return evShipped
			case "DELIVERED":
				return evDelivered
			}
			return evUpdated
		}
		// Order: only a failure before anything is charged has events.
		if r.to == "REJECTED" || r.trigger == TriggerAbandon {
			return evFailed
		}
		return nil
	}
	for _, spec := range fieldSpecs() {
		for _, r := range spec.rows {
			if w := want(spec.field, r); !slices.Equal(r.events, w) {
				t.Errorf("%s %v --%s--> %s: events %v, want %v", spec.field, r.from, r.trigger, r.to, r.events, w)
			}
		}
	}
}

// TestTransitionTablesWellFormed checks that every row uses known statuses,
// that each table's triggers are exactly its trigger list, and that
// IsTerminal names exactly the statuses no row leaves.
func TestTransitionTablesWellFormed(t *testing.T) {
	t.Parallel()
	for _, spec := range fieldSpecs() {
		var used []Trigger
		for _, r := range spec.rows {
			if len(r.from) == 0 {
				t.Errorf("%s --%s--> %s: no From", spec.field, r.trigger, r.to)
			}
			for _, s := range append(slices.Clone(r.from), r.to) {
				if !slices.Contains(spec.statuses, s) {
					t.Errorf("%s: row --%s--> uses unknown status %q", spec.field, r.trigger, s)
				}
			}
			if !slices.Contains(used, r.trigger) {
				used = append(used, r.trigger)
			}
		}
		if !slices.Equal(used, spec.triggers) {
			t.Errorf("%s: triggers in the table %v, trigger list %v", spec.field, used, spec.triggers)
		}
		for _, trig := range spec.triggers {
			if !trig.Valid() {
				t.Errorf("%s: trigger %q not Valid", spec.field, trig)
			}
		}
		if spec.terminal == nil {
			continue
		}
		for _, s := range spec.statuses {
			leaves := false
			for _, r := range spec.rows {
				if slices.Contains(r.from, s) && r.to != s {
					leaves = true
				}
			}
			if spec.terminal(s) == leaves {
				t.Errorf("%s %s: IsTerminal() = %v, but a row leaves it: %v", spec.field, s, spec.terminal(s), leaves)
			}
		}
	}
	if n, all := len(Triggers()), Triggers(); n != len(slices.Compact(slices.Sorted(slices.Values(all)))) {
		t.Errorf("Triggers() has duplicates: %v", all)
	}
	if Trigger("bogus").Valid() {
		t.Error(`Trigger("bogus").Valid() = true`)
	}
}

// TestTransitionResultIsACopy makes sure a caller cannot change a table
// through the events a transition returns.
func TestTransitionResultIsACopy(t *testing.T) {
	t.Parallel()
	_, events, err := TransitionBagStatus(BagStatusSubmitted, TriggerPlatformAccepted)
	if err != nil {
		t.Fatal(err)
	}
	events[0] = "TAMPERED"
	_, again, _ := TransitionBagStatus(BagStatusSubmitted, TriggerPlatformAccepted)
	if !slices.Equal(again, evAccepted) {
		t.Fatalf("table changed through a returned slice: %v", again)
	}
}

func TestParseStatuses(t *testing.T) {
	t.Parallel()
	check := func(kind string, all []string, parse func(string) (string, error), valid func(string) bool) {
		t.Helper()
		for _, s := range all {
			got, err := parse(s)
			if err != nil || got != s || !valid(s) {
				t.Errorf("%s %q: parse = (%q, %v), valid = %v", kind, s, got, err, valid(s))
			}
		}
		if len(slices.Compact(slices.Sorted(slices.Values(all)))) != len(all) {
			t.Errorf("%s: duplicate statuses in %v", kind, all)
		}
		for _, bad := range []string{"", "bogus", strings.ToLower(all[0]), " " + all[0]} {
			if _, err := parse(bad); ErrorCode(err) != EINVALID {
				t.Errorf("%s %q: error %v, want code %s", kind, bad, err, EINVALID)
			}
			if valid(bad) {
				t.Errorf("%s %q: Valid() = true", kind, bad)
			}
		}
	}
	check("order", stringsOf(OrderStatuses()),
		func(s string) (string, error) { v, err := ParseOrderStatus(s); return string(v), err },
		func(s string) bool { return OrderStatus(s).Valid() })
	check("bag", stringsOf(BagStatuses()),
		func(s string) (string, error) { v, err := ParseBagStatus(s); return string(v), err },
		func(s string) bool { return BagStatus(s).Valid() })
	check("financial", stringsOf(FinancialStatuses()),
		func(s string) (string, error) { v, err := ParseFinancialStatus(s); return string(v), err },
		func(s string) bool { return FinancialStatus(s).Valid() })
	check("fulfillment", stringsOf(FulfillmentStatuses()),
		func(s string) (string, error) { v, err := ParseFulfillmentStatus(s); return string(v), err },
		func(s string) bool { return FulfillmentStatus(s).Valid() })
}

func TestStatusValuesMatchLifecycle(t *testing.T) {
	t.Parallel()
	want := map[string][]string{
		"order":       {"IN_PROGRESS", "PROCESSING", "REQUIRES_ACTION", "ACCEPTED", "COMPLETED", "REJECTED", "CANCELED", "PARTIALLY_REFUNDED", "REFUNDED"},
		"bag":         {"IN_PROGRESS", "SUBMITTED", "ACCEPTED", "BACKORDERED", "COMPLETED", "REJECTED", "CANCELED", "PARTIALLY_REFUNDED", "REFUNDED"},
		"financial":   {"UNPAID", "PENDING", "AUTHORIZED", "PAID", "PARTIALLY_PAID", "PARTIALLY_REFUNDED", "REFUNDED", "VOIDED"},
		"fulfillment": {"PROCESSING", "PARTIALLY_SHIPPED", "SHIPPED", "DELIVERED", "COULD_NOT_DELIVER", "RETURNED"},
	}
	got := map[string][]string{
		"order":       stringsOf(OrderStatuses()),
		"bag":         stringsOf(BagStatuses()),
		"financial":   stringsOf(FinancialStatuses()),
		"fulfillment": stringsOf(FulfillmentStatuses()),
	}
	for k, w := range want {
		if !slices.Equal(slices.Sorted(slices.Values(got[k])), slices.Sorted(slices.Values(w))) {
			t.Errorf("%s statuses = %v, want %v", k, got[k], w)
		}
	}
}
