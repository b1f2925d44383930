package tote

import (
	"fmt"
	"slices"
	"strconv"
)

// Transition is one row of a status transition table: applying Trigger to a
// status in From moves it to To and implies Events, in that order, for the
// bag the status belongs to. The tables are data (as in Temporal's hsm) so
// that tests can walk every row, and so that reading a table is reading the
// rules. A row whose To is in its From is a self-loop: the status stays, and
// Events says whether the change is still worth telling the channel about.
type Transition[S ~string] struct {
	From    []S
	Trigger Trigger
	To      S
	Events  []EventType
}

// Allows reports whether the row applies to trigger t from status from.
func (r Transition[S]) Allows(from S, t Trigger) bool {
	return r.Trigger == t && slices.Contains(r.From, from)
}

// StatusField names one of the four status fields that move independently.
// Its value is how refusal messages name the field.
type StatusField string

// The four status fields.
const (
	FieldOrderStatus       StatusField = "order status"
	FieldBagStatus         StatusField = "bag status"
	FieldFinancialStatus   StatusField = "bag financial_status"
	FieldFulfillmentStatus StatusField = "bag fulfillment_status"
)

// StatusFields returns the four status fields.
func StatusFields() []StatusField {
	return []StatusField{FieldOrderStatus, FieldBagStatus, FieldFinancialStatus, FieldFulfillmentStatus}
}

// transition looks (from, t) up in table. It returns the row's To and a copy
// of its Events, or from unchanged and an invalid-transition error when no
// row applies. Each table has at most one row per (from, trigger); the tests
// hold every table to that.
func transition[S ~string](field StatusField, table []Transition[S], all []S, from S, t Trigger) (S, []EventType, error) {
	for _, r := range table {
		if r.Allows(from, t) {
			return r.To, slices.Clone(r.Events), nil
		}
	}
	return from, nil, refuse(field, statusText(all, from), t, "")
}

// refuse returns the error for a refused status change: ECONFLICT, wrapping
// ErrInvalidTransition, with a message naming the trigger, the field and its
// current status, and, when given, why.
func refuse(field StatusField, status string, t Trigger, why string) error {
	msg := fmt.Sprintf("cannot apply %q to %s %s", string(t), field, status)
	if why != "" {
		msg += ": " + why
	}
	return &Error{Code: ECONFLICT, Message: msg, Err: ErrInvalidTransition}
}

// statusText returns s as a message shows it: bare when it is one of all,
// quoted otherwise, so an empty or unknown status is still visible.
func statusText[S ~string](all []S, s S) string {
	if slices.Contains(all, s) {
		return string(s)
	}
	return strconv.Quote(string(s))
}

// parseStatus returns the member of all spelled exactly s, or an EINVALID
// error naming the kind of status and the values allowed.
func parseStatus[S ~string](all []S, kind, s string) (S, error) {
	for _, v := range all {
		if string(v) == s {
			return v, nil
		}
	}
	names := make([]string, len(all))
	for i, v := range all {
		names[i] = string(v)
	}
	return "", &Error{Code: EINVALID, Message: fmt.Sprintf("unknown %s %q (want one of %v)", kind, s, names)}
}

// NoBag is the Bag of a AppliedTransition or BagEvents that concerns the order
// itself rather than one of its bags.
const NoBag = -1

// AppliedTransition records one transition applied to one status field:
// which bag (by index, or NoBag for the order status), which field, from and
// to which status, by which trigger, and the events its row implies.
// NextOrderStatus and the OrderState commands return them so that callers
// (and tests) can hold every change to the tables; StatusChange is the
// stored audit record a service writes for each.
type AppliedTransition struct {
	Bag     int
	Field   StatusField
	From    string
	To      string
	Trigger Trigger
	Events  []EventType
}
