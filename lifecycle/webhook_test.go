package lifecycle_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/toteorg/tote"
	"github.com/toteorg/tote/lifecycle"
	"github.com/toteorg/tote/storetest"
)

// orderView is what the test's Snapshot renders of an order: enough to see
// that it was taken after the command's writes.
type orderView struct {
	ID   int64 `json:"id"`
	Bags []struct {
		ID         int64  `json:"id"`
		Status     string `json:"status"`
		Version    int64  `json:"version"`
		ExternalID string `json:"external_id"`
	} `json:"bags"`
	Errors int `json:"errors"`
}

// testBodies renders orders as orderView and transactions as themselves.
type testBodies struct{}

func (testBodies) Transaction(t *tote.PaymentTransaction) ([]byte, error) { return json.Marshal(t) }

func (testBodies) Order(o *tote.Order) ([]byte, error) {
	v := orderView{ID: o.ID, Errors: len(o.Errors)}
	for _, b := range o.Bags {
		v.Bags = append(v.Bags, struct {
			ID         int64  `json:"id"`
			Status     string `json:"status"`
			Version    int64  `json:"version"`
			ExternalID string `json:"external_id"`
		}{b.ID, string(b.Status), b.Version, b.ExternalID})
	}
	return json.Marshal(v)
}

// TestEventsCarryTheOrderAndFanOut: each event of a command carries the
// order as it stands after the command (new status, version, external id,
// errors), and becomes a delivery to each subscription of its type in the
// same transaction; a command that fails leaves neither.
func TestEventsCarryTheOrderAndFanOut(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, open storetest.Opener) {
		ctx := context.Background()
		s := open(t)
		o := submitted(t, s)
		accepted := storetest.Webhook(t, s, o.AppID, tote.EventOrderAccepted, "https://example.com/accepted", true)
		updated := storetest.Webhook(t, s, o.AppID, tote.EventOrderUpdated, "https://example.com/updated", true)
		l := svc(s)
		l.Bodies = testBodies{}

		// A failing command: no event, no delivery.
		_, err := svc(faultyStore{s}).Apply(ctx, accept(o, 0, tote.JobParams{Kind: "k", RunAt: storetest.T0}))
		if err == nil {
			t.Fatal("the faulty store did not fail")
		}
		for _, w := range []*tote.Webhook{accepted, updated} {
			if ds, _, _ := s.FindDeliveries(ctx, w.ID, tote.Page{Number: 1, Size: 10}); len(ds) != 0 {
				t.Fatalf("a failed command left %d deliveries", len(ds))
			}
		}

		c := accept(o, 0)
		edit := c.Edit
		c.Edit = func(ch *lifecycle.Change) error {
			ch.Order.Errors = append(ch.Order.Errors, &tote.OrderError{BagID: ch.Bag.ID, EntityType: "BAG",
				Type: tote.ErrorTypeExternalSubmitCart, Message: "note", DateCreated: storetest.T0})
			return edit(ch)
		}
		res, err := l.Apply(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Events) != 2 {
			t.Fatalf("%d events", len(res.Events))
		}
		stored, _ := s.FindEvents(ctx, o.ID, o.Bags[0].ID)
		for _, e := range stored[len(stored)-2:] {
			var v orderView
			if err := json.Unmarshal(e.Payload, &v); err != nil {
				t.Fatalf("event %s payload %q: %v", e.Type, e.Payload, err)
			}
			b := v.Bags[0]
			if v.ID != o.ID || b.Status != "ACCEPTED" || b.Version != o.Bags[0].Version+1 || b.ExternalID != "ext-a" || v.Errors != 1 {
				t.Fatalf("%s carries %s, want the order after the change (bag v%d)", e.Type, e.Payload, o.Bags[0].Version+1)
			}
		}
		for _, w := range []*tote.Webhook{accepted, updated} {
			ds, _, err := s.FindDeliveries(ctx, w.ID, tote.Page{Number: 1, Size: 10})
			if err != nil || len(ds) != 1 || ds[0].EventType != w.Event || ds[0].BagVersion != o.Bags[0].Version+1 {
				t.Fatalf("%s subscription's deliveries: %+v (%v)", w.Event, ds, err)
			}
		}
		// What a dispatcher sends is the body recorded with the event.
		claimed := storetest.Claim(t, s, time.Now().Add(time.Hour))
		if len(claimed) != 2 {
			t.Fatalf("%d deliveries due, want 2", len(claimed))
		}
		for _, send := range claimed {
			if string(send.Body) != string(stored[len(stored)-1].Payload) {
				t.Fatal(fmt.Sprint("delivery body: ", string(send.Body)))
			}
		}
	})
}

// TestPaymentEventsCarryTheirTransaction: a command that records payment
// transactions publishes, after its order events, each transaction's
// payment events (LIFECYCLE.md), carrying the transaction as stored (with
// its id), numbered in its bag's sequence and fanned out to subscriptions
// of their type.
func TestPaymentEventsCarryTheirTransaction(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, open storetest.Opener) {
		ctx := context.Background()
		s := open(t)
		o := submitted(t, s)
		captured := storetest.Webhook(t, s, o.AppID, tote.EventPaymentCaptured, "https://example.com/captured", true)
		storetest.Webhook(t, s, o.AppID, tote.EventPaymentUpdated, "https://example.com/updated", true)
		l := svc(s)
		l.Bodies = testBodies{}

		c := accept(o, 0)
		edit := c.Edit
		c.Edit = func(ch *lifecycle.Change) error {
			ch.Order.Transactions = append(ch.Order.Transactions, &tote.PaymentTransaction{BagID: ch.Bag.ID,
				Type: tote.TransactionCapture, Amount: 1234, Currency: "USD", Status: tote.TransactionCompleted,
				PaymentProvider: tote.PaymentProviderSandbox, PaymentProviderTransactionID: "pi_1", DateCreated: ch.Now})
			return edit(ch)
		}
		res, err := l.Apply(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		var types []tote.EventType
		for _, e := range res.Events {
			types = append(types, e.Type)
		}
		want := []tote.EventType{tote.EventOrderAccepted, tote.EventOrderUpdated, tote.EventPaymentCaptured, tote.EventPaymentUpdated}
		if fmt.Sprint(types) != fmt.Sprint(want) {
			t.Fatalf("events %v, want %v", types, want)
		}
		stored, err := s.FindEvents(ctx, o.ID, o.Bags[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		last := stored[len(stored)-4:]
		for i, e := range last {
			if e.Sequence != last[0].Sequence+int64(i) || e.BagVersion != o.Bags[0].Version+1 {
				t.Fatalf("%s: sequence %d, version %d", e.Type, e.Sequence, e.BagVersion)
			}
		}
		for _, e := range last[2:] {
			var tr tote.PaymentTransaction
			if err := json.Unmarshal(e.Payload, &tr); err != nil {
				t.Fatalf("%s payload %q: %v", e.Type, e.Payload, err)
			}
			if tr.ID == 0 || tr.OrderID != o.ID || tr.BagID != o.Bags[0].ID || tr.Amount != 1234 || tr.Type != tote.TransactionCapture {
				t.Fatalf("%s carries %s, want the stored capture", e.Type, e.Payload)
			}
		}
		ds, _, err := s.FindDeliveries(ctx, captured.ID, tote.Page{Number: 1, Size: 10})
		if err != nil || len(ds) != 1 || ds[0].EventID != last[2].ID || ds[0].BagID != o.Bags[0].ID {
			t.Fatalf("the CAPTURED subscription's deliveries: %+v (%v)", ds, err)
		}
	})
}
