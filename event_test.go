package tote

import (
	"slices"
	"testing"
)

func TestEventTypes(t *testing.T) {
	t.Parallel()
	all := EventTypes()
	want := []EventType{
		"ORDER_ACCEPTED", "ORDER_SHIPPED", "ORDER_DELIVERED", "ORDER_COMPLETED",
		"ORDER_REFUNDED", "ORDER_CANCELLED", "ORDER_FAILED", "ORDER_UPDATED",
		"PAYMENT_TRANSACTION_CAPTURE_STATUS_AUTHORIZED", "PAYMENT_TRANSACTION_CAPTURE_STATUS_CAPTURED",
		"PAYMENT_TRANSACTION_CAPTURE_STATUS_REFUNDED", "PAYMENT_TRANSACTION_CAPTURE_STATUS_PARTIALLY_REFUNDED",
		"PAYMENT_TRANSACTION_CAPTURE_STATUS_FAILED", "PAYMENT_TRANSACTION_CAPTURE_STATUS_UPDATED",
		"TRANSFER_SENT", "TRANSFER_FAILED", "TRANSFER_REVERSED", "TRANSFER_PARTIALLY_REFUNDED",
		"TRANSFER_REVERSAL_FAILED", "TRANSFER_UPDATED",
	}
	if !slices.Equal(all, want) {
		t.Fatalf("EventTypes() = %v, want %v", all, want)
	}
	for _, e := range all {
		if !e.Valid() {
			t.Errorf("%s not Valid", e)
		}
		got, err := ParseEventType(string(e))
		if err != nil || got != e {
			t.Errorf("ParseEventType(%q) = (%q, %v)", e, got, err)
		}
		if want := e[:6] == "ORDER_"; e.IsOrderEvent() != want {
			t.Errorf("%s.IsOrderEvent() = %v", e, !want)
		}
	}
	// Every event a table names is a known order event.
	for _, spec := range fieldSpecs() {
		for _, r := range spec.rows {
			for _, e := range r.events {
				if !e.IsOrderEvent() {
					t.Errorf("%s --%s--> %s names %q, not an order event", spec.field, r.trigger, r.to, e)
				}
			}
		}
	}
}

func TestParseEventType(t *testing.T) {
	t.Parallel()
	t.Run("OrderCanceledAlias", func(t *testing.T) {
		t.Parallel()
		got, err := ParseEventType("ORDER_CANCELED")
		if err != nil || got != EventOrderCancelled {
			t.Fatalf("ParseEventType(ORDER_CANCELED) = (%q, %v), want ORDER_CANCELLED", got, err)
		}
		if EventType("ORDER_CANCELED").Valid() {
			t.Error("the alias itself must not be a Valid value: deliveries use the double L")
		}
	})
	t.Run("ErrUnknown", func(t *testing.T) {
		t.Parallel()
		for _, s := range []string{"", "order_accepted", "ORDER_RETURNED", "ORDER_ACCEPTED "} {
			got, err := ParseEventType(s)
			if ErrorCode(err) != EINVALID || got != "" {
				t.Errorf("ParseEventType(%q) = (%q, %v), want an EINVALID error", s, got, err)
			}
			if fields := ErrorFields(err); len(fields) != 1 || fields[0].Field != "event" {
				t.Errorf("ParseEventType(%q): fields %v", s, fields)
			}
		}
	})
}

func TestMergeEvents(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		sets [][]EventType
		want []EventType
	}{
		{"Empty", nil, nil},
		{"One", [][]EventType{evAccepted}, evAccepted},
		{"RefundTwice", [][]EventType{evRefunded, evRefunded}, evRefunded},
		{"UpdatedFirstStillLast", [][]EventType{evUpdated, evRefunded}, evRefunded},
		{"ShipAndComplete", [][]EventType{evShipped, evCompleted},
			[]EventType{EventOrderShipped, EventOrderCompleted, EventOrderUpdated}},
		{"FailedOnce", [][]EventType{evFailed, evFailed}, evFailed},
		{"UnknownKept", [][]EventType{{"X_CUSTOM"}, evUpdated, {"X_CUSTOM"}},
			[]EventType{EventOrderUpdated, "X_CUSTOM"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := MergeEvents(tc.sets...); !slices.Equal(got, tc.want) {
				t.Errorf("MergeEvents(%v) = %v, want %v", tc.sets, got, tc.want)
			}
		})
	}
}

func TestPaymentEvents(t *testing.T) {
	t.Parallel()
	tx := func(typ, status string) *PaymentTransaction {
		return &PaymentTransaction{Type: typ, Status: status}
	}
	for _, c := range []struct {
		t    *PaymentTransaction
		bag  FinancialStatus
		want []EventType
	}{
		{tx(TransactionAuthorization, TransactionCompleted), FinancialStatusAuthorized,
			[]EventType{EventPaymentAuthorized, EventPaymentUpdated}},
		{tx(TransactionCapture, TransactionCompleted), FinancialStatusPaid,
			[]EventType{EventPaymentCaptured, EventPaymentUpdated}},
		{tx(TransactionCapture, TransactionFailed), FinancialStatusVoided,
			[]EventType{EventPaymentFailed, EventPaymentUpdated}},
		{tx(TransactionRefund, TransactionCompleted), FinancialStatusRefunded,
			[]EventType{EventPaymentRefunded, EventPaymentUpdated}},
		{tx(TransactionRefund, TransactionCompleted), FinancialStatusPartiallyRefunded,
			[]EventType{EventPaymentPartiallyRefunded, EventPaymentUpdated}},
		{tx(TransactionVoid, TransactionCompleted), FinancialStatusVoided,
			[]EventType{EventPaymentUpdated}},
	} {
		if got := PaymentEvents(c.t, c.bag); !slices.Equal(got, c.want) {
			t.Errorf("%s %s (bag %s): %v, want %v", c.t.Type, c.t.Status, c.bag, got, c.want)
		}
	}
	payment := []EventType{EventPaymentAuthorized, EventPaymentCaptured, EventPaymentRefunded,
		EventPaymentPartiallyRefunded, EventPaymentFailed, EventPaymentUpdated}
	for _, e := range EventTypes() {
		if e.IsPaymentEvent() != slices.Contains(payment, e) {
			t.Errorf("%s.IsPaymentEvent() = %v", e, e.IsPaymentEvent())
		}
	}
	if EventType("PAYMENT_TRANSACTION_NOPE").IsPaymentEvent() {
		t.Error("an unknown type is a payment event")
	}
}
