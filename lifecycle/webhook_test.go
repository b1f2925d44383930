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

func snapshotJSON(o *tote.Order) ([]byte, error) {
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
		l.Snapshot = snapshotJSON

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
