package tote

import (
	"errors"
	"slices"
	"testing"
	"time"
)

// TestPlanFanOut: each event becomes one delivery per subscriber of its app
// and type; an ordered subscriber's deliveries of a bag take turns behind
// what its stream already holds, and a paused subscriber's are due when
// the pause ends.
func TestPlanFanOut(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	pause := t0.Add(time.Hour)
	subs := Subscribers{
		1: {
			{WebhookID: 11, Event: EventOrderUpdated, Ordered: true},
			{WebhookID: 12, Event: EventOrderUpdated},                                     // unordered
			{WebhookID: 13, Event: EventOrderUpdated, Ordered: true, PausedUntil: &pause}, // paused
			{WebhookID: 14, Event: EventOrderShipped, Ordered: true},                      // another type
		},
		2: {{WebhookID: 21, Event: EventOrderUpdated, Ordered: true}},
	}
	ev := func(id string, app, bag int64) *Event {
		return &Event{ID: id, AppID: app, Type: EventOrderUpdated, OrderID: 100, BagID: bag, DateCreated: t0}
	}
	events := []*Event{ev("a", 1, 7), ev("b", 1, 7), ev("c", 1, 8), ev("d", 1, 0), ev("e", 3, 7)}
	var counted []StreamAdd
	plan, err := PlanFanOut(events, subs, func(adds []*StreamAdd) error {
		for _, a := range adds {
			counted = append(counted, *a)
			if a.Stream == (StreamKey{11, 8}) {
				a.Before = 1 // a delivery of bag 8 to webhook 11 is still pending
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	wantCounted := []StreamAdd{
		{Stream: StreamKey{11, 7}, Added: 2}, {Stream: StreamKey{11, 8}, Added: 1},
		{Stream: StreamKey{13, 7}, Added: 2}, {Stream: StreamKey{13, 8}, Added: 1},
	}
	if !slices.Equal(counted, wantCounted) {
		t.Fatalf("streams counted %v, want %v", counted, wantCounted)
	}
	type got struct {
		event           string
		webhook         int64
		inStream, waits bool
		due             time.Time
	}
	var gots []got
	for _, d := range plan {
		g := got{event: d.EventID, webhook: d.WebhookID, inStream: d.InStream, waits: d.Waiting}
		if d.DateNextAttempt != nil {
			g.due = *d.DateNextAttempt
		}
		if d.Status != DeliveryStatusCreated || d.SourceEventID != d.EventID || d.OrderID != 100 {
			t.Errorf("delivery %+v", d)
		}
		gots = append(gots, g)
	}
	want := []got{
		{"a", 11, true, false, t0}, {"a", 12, false, false, t0}, {"a", 13, true, false, pause},
		{"b", 11, true, true, time.Time{}}, {"b", 12, false, false, t0}, {"b", 13, true, true, time.Time{}},
		{"c", 11, true, true, time.Time{}}, {"c", 12, false, false, t0}, {"c", 13, true, false, pause},
		// An event of no bag is in no stream.
		{"d", 11, false, false, t0}, {"d", 12, false, false, t0}, {"d", 13, false, false, pause},
		// App 3 has no subscriber.
	}
	if !slices.Equal(gots, want) {
		t.Fatalf("plan:\n got %v\nwant %v", gots, want)
	}

	boom := errors.New("boom")
	if _, err := PlanFanOut(events, subs, func([]*StreamAdd) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("a failed count: %v", err)
	}
	if plan, err := PlanFanOut(events[3:4], Subscribers{1: {{WebhookID: 12, Event: EventOrderUpdated}}},
		func([]*StreamAdd) error { t.Fatal("counted no stream"); return nil }); err != nil || len(plan) != 1 {
		t.Fatalf("unordered only: %v, %v", plan, err)
	}
}
