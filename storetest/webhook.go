package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/toteorg/tote"
)

// Webhook creates a subscription of app to event at url (fixture).
func Webhook(tb testing.TB, s tote.Store, appID int64, event tote.EventType, url string, ordered bool) *tote.Webhook {
	tb.Helper()
	w := &tote.Webhook{AppID: appID, Event: event, RemoteEndpoint: url, Status: tote.WebhookStatusActive,
		SigningSecret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", Ordered: ordered, DateCreated: T0, DateLastModified: T0}
	noErr(tb, s.InTx(context.Background(), func(tx tote.Tx) error { return tx.CreateWebhook(context.Background(), w) }), "create webhook")
	return w
}

// Events records events of one type for bags of an order, in one
// transaction, and returns them (numbered).
func Events(tb testing.TB, s tote.Store, o *tote.Order, typ tote.EventType, bags ...int64) []*tote.Event {
	tb.Helper()
	var evs []*tote.Event
	for _, bag := range bags {
		evs = append(evs, &tote.Event{ID: fmt.Sprintf("evt_%d_%d_%s", bag, time.Now().UnixNano(), typ), AppID: o.AppID,
			Type: typ, OrderID: o.ID, BagID: bag, BagVersion: 2, Payload: []byte(fmt.Sprintf(`{"id":%d}`, o.ID)), DateCreated: T0})
	}
	noErr(tb, s.InTx(context.Background(), func(tx tote.Tx) error { return tx.InsertEvents(context.Background(), evs) }), "insert events")
	return evs
}

// Claim claims the deliveries due at now (for a day) and returns them, in
// id order.
func Claim(tb testing.TB, s tote.Store, now time.Time) []*tote.DeliveryToSend {
	tb.Helper()
	ds, err := s.ClaimDeliveries(context.Background(), tote.ClaimDeliveriesParams{Now: now, Lease: 24 * time.Hour, Limit: 1000})
	noErr(tb, err, "claim deliveries")
	return ds
}

// DueDeliveries claims the deliveries due at now (for a day) and returns
// their ids, in order.
func DueDeliveries(tb testing.TB, s tote.Store, now time.Time) []int64 {
	tb.Helper()
	var ids []int64
	for _, d := range Claim(tb, s, now) {
		ids = append(ids, d.Delivery.ID)
	}
	return ids
}

func deliveries(tb testing.TB, s tote.Store, webhookID int64) []*tote.Delivery {
	tb.Helper()
	ds, _, err := s.FindDeliveries(context.Background(), webhookID, tote.Page{Number: 1, Size: 100})
	noErr(tb, err, "find deliveries")
	slices.Reverse(ds) // oldest first
	return ds
}

func record(tb testing.TB, s tote.Store, outcomes ...tote.DeliveryOutcome) []tote.DeliveryResult {
	tb.Helper()
	res, err := s.RecordDeliveryOutcomes(context.Background(), outcomes)
	noErr(tb, err, "record delivery outcomes")
	return res
}

func succeeded(d *tote.Delivery, now time.Time) tote.DeliveryOutcome {
	return tote.DeliveryOutcome{DeliveryID: d.ID, Attempts: d.Attempts, Now: now, Status: tote.DeliveryStatusSucceeded,
		Sent: true, Succeeded: true, StatusCode: 200, Duration: 3 * time.Millisecond}
}

func failed(d *tote.Delivery, now time.Time, retryAt time.Time) tote.DeliveryOutcome {
	return tote.DeliveryOutcome{DeliveryID: d.ID, Attempts: d.Attempts, Now: now, Status: tote.DeliveryStatusInProgress,
		NextAttempt: retryAt, Sent: true, StatusCode: 500, Error: "HTTP 500", Duration: time.Millisecond}
}

func testWebhooks(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t)
	a := App(t, s)
	w := Webhook(t, s, a.ID, tote.EventOrderUpdated, "https://example.com/hook", true)
	if w.ID <= 0 {
		t.Fatalf("webhook id = %d", w.ID)
	}
	got, err := s.FindWebhookByID(ctx, w.ID)
	noErr(t, err, "find webhook")
	equal(t, "webhook", got, w)

	other := Webhook(t, s, a.ID, tote.EventOrderShipped, w.RemoteEndpoint, false)
	// One endpoint may be subscribed to one event twice: each subscription
	// is its own, with its own deliveries.
	twin := Webhook(t, s, a.ID, tote.EventOrderShipped, w.RemoteEndpoint, false)
	if twin.ID == other.ID {
		t.Fatalf("the second subscription has the first's id %d", twin.ID)
	}

	paused := T0.Add(time.Hour)
	w.Status, w.RemoteEndpoint, w.Ordered, w.PausedUntil, w.PauseLevel = tote.WebhookStatusInactive, "https://example.com/v2", false, &paused, 2
	w.DateLastModified = T0.Add(time.Minute)
	noErr(t, s.InTx(ctx, func(tx tote.Tx) error { return tx.UpdateWebhook(ctx, w) }), "update webhook")
	got, err = s.FindWebhookByID(ctx, w.ID)
	noErr(t, err, "find webhook")
	equal(t, "updated webhook", got, w)

	page, total, err := s.FindWebhooks(ctx, a.ID, tote.Page{Number: 1, Size: 1})
	noErr(t, err, "list webhooks")
	if total != 3 || len(page) != 1 || page[0].ID != w.ID {
		t.Fatalf("page 1 of 1: %d of %d, first %v", len(page), total, page)
	}
	page, _, err = s.FindWebhooks(ctx, a.ID+1000, tote.Page{Number: 1, Size: 10})
	noErr(t, err, "list another app's webhooks")
	if len(page) != 0 {
		t.Fatalf("another app sees %d webhooks", len(page))
	}

	// Deleting a subscription deletes its deliveries.
	o := Order(t, s, a.ID, 1)
	Events(t, s, o, tote.EventOrderShipped, o.Bags[0].ID)
	if n, twins := len(deliveries(t, s, other.ID)), len(deliveries(t, s, twin.ID)); n != 1 || twins != 1 {
		t.Fatalf("deliveries before delete = %d, to its twin %d", n, twins)
	}
	noErr(t, s.InTx(ctx, func(tx tote.Tx) error { return tx.DeleteWebhook(ctx, other.ID) }), "delete webhook")
	if _, err := s.FindWebhookByID(ctx, other.ID); !errors.Is(err, tote.ErrNotFound) {
		t.Fatalf("deleted webhook: err = %v", err)
	}
	if n, twins := len(deliveries(t, s, other.ID)), len(deliveries(t, s, twin.ID)); n != 0 || twins != 1 {
		t.Fatalf("deliveries after delete = %d, to its twin %d", n, twins)
	}
	if err := s.InTx(ctx, func(tx tote.Tx) error { return tx.DeleteWebhook(ctx, other.ID) }); !errors.Is(err, tote.ErrNotFound) {
		t.Fatalf("delete again: err = %v", err)
	}

	// The app's signing key round-trips.
	noErr(t, s.InTx(ctx, func(tx tote.Tx) error { return tx.SetAppWebhookKey(ctx, a.ID, []byte("key-state")) }), "set key")
	app, err := s.FindAppByID(ctx, a.ID)
	noErr(t, err, "find app")
	equal(t, "app webhook key", string(app.WebhookKey), "key-state")
}

// testFanOut: an event becomes one delivery (due at once) per ACTIVE
// subscription of its app and type, in the event's own transaction.
func testFanOut(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t)
	a, b := App(t, s), App(t, s)
	noErr(t, s.InTx(ctx, func(tx tote.Tx) error { return tx.SetAppWebhookKey(ctx, a.ID, []byte("a-key")) }), "set key")
	updated := Webhook(t, s, a.ID, tote.EventOrderUpdated, "https://a.example/updated", true)
	accepted := Webhook(t, s, a.ID, tote.EventOrderAccepted, "https://a.example/accepted", true)
	inactive := Webhook(t, s, a.ID, tote.EventOrderUpdated, "https://a.example/inactive", true)
	inactive.Status = tote.WebhookStatusInactive
	noErr(t, s.InTx(ctx, func(tx tote.Tx) error { return tx.UpdateWebhook(ctx, inactive) }), "deactivate")
	otherApp := Webhook(t, s, b.ID, tote.EventOrderUpdated, "https://b.example/updated", true)

	o := Order(t, s, a.ID, 1)
	bag := o.Bags[0].ID
	// A rolled-back event leaves no delivery and no job behind.
	boom := errors.New("boom")
	err := s.InTx(ctx, func(tx tote.Tx) error {
		if err := tx.InsertEvents(ctx, []*tote.Event{{ID: "evt_rolled_back", AppID: a.ID, Type: tote.EventOrderUpdated,
			OrderID: o.ID, BagID: bag, DateCreated: T0}}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("InTx = %v", err)
	}
	if n := len(deliveries(t, s, updated.ID)); n != 0 {
		t.Fatalf("a rolled-back event left %d deliveries", n)
	}
	if ids := DueDeliveries(t, s, T0.Add(time.Hour)); len(ids) != 0 {
		t.Fatalf("a rolled-back event left due deliveries %v", ids)
	}

	evs := []*tote.Event{
		{ID: "evt_accepted", AppID: a.ID, Type: tote.EventOrderAccepted, OrderID: o.ID, BagID: bag, BagVersion: 2, Payload: []byte(`{"v":2}`), DateCreated: T0},
		{ID: "evt_updated", AppID: a.ID, Type: tote.EventOrderUpdated, OrderID: o.ID, BagID: bag, BagVersion: 2, Payload: []byte(`{"v":2}`), DateCreated: T0},
		// No subscription receives it: recorded and numbered, without a body.
		{ID: "evt_shipped", AppID: a.ID, Type: tote.EventOrderShipped, OrderID: o.ID, BagID: bag, BagVersion: 2, Payload: []byte(`{"v":2}`), DateCreated: T0},
	}
	noErr(t, s.InTx(ctx, func(tx tote.Tx) error { return tx.InsertEvents(ctx, evs) }), "insert events")
	shipped, err := s.FindEventByID(ctx, "evt_shipped")
	noErr(t, err, "find the event no one receives")
	if shipped.Type != tote.EventOrderShipped || shipped.Sequence != 3 || len(shipped.Payload) != 0 {
		t.Fatalf("an event no subscription receives was stored as %+v (payload %q), want sequence 3 and no payload",
			shipped, shipped.Payload)
	}
	got := deliveries(t, s, updated.ID)
	if len(got) != 1 {
		t.Fatalf("ORDER_UPDATED subscription has %d deliveries", len(got))
	}
	d := got[0]
	want := &tote.Delivery{ID: d.ID, WebhookID: updated.ID, AppID: a.ID, EventID: "evt_updated", SourceEventID: "evt_updated",
		EventType: tote.EventOrderUpdated, OrderID: o.ID, BagID: bag, BagVersion: 2, Sequence: 2, Status: tote.DeliveryStatusCreated,
		InStream: true, DateCreated: T0, DateLastModified: T0, DateNextAttempt: &T0}
	equal(t, "delivery", d, want)
	if got := deliveries(t, s, accepted.ID); len(got) != 1 || got[0].EventID != "evt_accepted" || got[0].Sequence != 1 {
		t.Fatalf("ORDER_ACCEPTED subscription's deliveries: %+v", got)
	}
	if n := len(deliveries(t, s, inactive.ID)) + len(deliveries(t, s, otherApp.ID)); n != 0 {
		t.Fatalf("an inactive subscription or another app's got %d deliveries", n)
	}
	claimed := Claim(t, s, T0)
	var due []int64
	var send *tote.DeliveryToSend
	for _, c := range claimed {
		due = append(due, c.Delivery.ID)
		if c.Delivery.ID == d.ID {
			send = c
		}
	}
	wantDue := []int64{deliveries(t, s, accepted.ID)[0].ID, d.ID}
	slices.Sort(wantDue)
	equal(t, "due deliveries", due, wantDue)
	if ids := DueDeliveries(t, s, T0); len(ids) != 0 {
		t.Fatalf("claimed deliveries were claimed again: %v", ids)
	}

	byID, err := s.FindDeliveryByID(ctx, d.ID)
	noErr(t, err, "find delivery")
	equal(t, "delivery by id", byID, d)
	byEvent, err := s.FindDeliveryByEventID(ctx, updated.ID, "evt_updated")
	noErr(t, err, "find delivery by event")
	equal(t, "delivery by event id", byEvent, d)
	if _, err := s.FindDeliveryByEventID(ctx, accepted.ID, "evt_updated"); !errors.Is(err, tote.ErrNotFound) {
		t.Fatalf("another subscription's event: err = %v", err)
	}
	equal(t, "delivery to send", send.Delivery, d)
	equal(t, "its webhook", send.Webhook, updated)
	equal(t, "its body and key", [2]string{string(send.Body), string(send.AppWebhookKey)}, [2]string{`{"v":2}`, "a-key"})
	ev, err := s.FindEventByID(ctx, "evt_updated")
	noErr(t, err, "find event")
	if ev.Type != tote.EventOrderUpdated || ev.BagID != bag || string(ev.Payload) != `{"v":2}` {
		t.Fatalf("event = %+v", ev)
	}

	// A resend is a delivery of its own, due at once, outside the stream.
	resend := &tote.Delivery{WebhookID: updated.ID, AppID: a.ID, EventID: "evt_resend", SourceEventID: "evt_updated",
		EventType: tote.EventOrderUpdated, OrderID: o.ID, BagID: bag, BagVersion: 2, Sequence: 2,
		Status: tote.DeliveryStatusCreated, ResendOf: d.ID, DateCreated: T0.Add(time.Minute), DateLastModified: T0.Add(time.Minute)}
	noErr(t, s.InTx(ctx, func(tx tote.Tx) error { return tx.CreateDelivery(ctx, resend) }), "create delivery")
	claimed = Claim(t, s, T0.Add(time.Minute))
	if len(claimed) != 1 || claimed[0].Delivery.ID != resend.ID {
		t.Fatalf("due after the resend: %d deliveries", len(claimed))
	}
	send = claimed[0]
	if string(send.Body) != `{"v":2}` || send.Delivery.ResendOf != d.ID || send.Delivery.InStream {
		t.Fatalf("resend = %+v, body %s", send.Delivery, send.Body)
	}

	// A payment event's deliveries name its transaction, and so do their
	// resends; an order event's name none.
	captured := Webhook(t, s, a.ID, tote.EventPaymentCaptured, "https://a.example/captured", false)
	noErr(t, s.InTx(ctx, func(tx tote.Tx) error {
		return tx.InsertEvents(ctx, []*tote.Event{{ID: "evt_captured", AppID: a.ID, Type: tote.EventPaymentCaptured,
			OrderID: o.ID, BagID: bag, BagVersion: 3, TransactionID: 77, Payload: []byte(`{"id":77}`), DateCreated: T0}})
	}), "insert a payment event")
	got = deliveries(t, s, captured.ID)
	if len(got) != 1 || got[0].TransactionID != 77 || got[0].OrderID != o.ID {
		t.Fatalf("payment event's deliveries: %+v, want one naming transaction 77", got)
	}
	claimed = Claim(t, s, T0.Add(time.Minute))
	if len(claimed) != 1 || claimed[0].Delivery.TransactionID != 77 {
		t.Fatalf("claimed payment delivery: %d, %+v", len(claimed), claimed)
	}
	copyOf := &tote.Delivery{WebhookID: captured.ID, AppID: a.ID, EventID: "evt_captured_again", SourceEventID: "evt_captured",
		EventType: tote.EventPaymentCaptured, OrderID: o.ID, BagID: bag, BagVersion: 3, TransactionID: 77,
		Status: tote.DeliveryStatusCreated, ResendOf: got[0].ID, DateCreated: T0, DateLastModified: T0}
	noErr(t, s.InTx(ctx, func(tx tote.Tx) error { return tx.CreateDelivery(ctx, copyOf) }), "resend the payment event")
	again, err := s.FindDeliveryByID(ctx, copyOf.ID)
	if err != nil || again.TransactionID != 77 {
		t.Fatalf("resent payment delivery: %+v, %v", again, err)
	}
	if d, err := s.FindDeliveryByID(ctx, d.ID); err != nil || d.TransactionID != 0 {
		t.Fatalf("an order event's delivery names transaction %d (%v)", d.TransactionID, err)
	}
}

// testDeliveryStreams: for an ordered subscription, a bag's delivery waits
// while an earlier one of the same bag is pending or being retried; other
// bags and unordered subscriptions go at once.
func testDeliveryStreams(t *testing.T, open Opener) {
	s := open(t)
	a := App(t, s)
	ordered := Webhook(t, s, a.ID, tote.EventOrderUpdated, "https://a.example/ordered", true)
	unordered := Webhook(t, s, a.ID, tote.EventOrderUpdated, "https://a.example/unordered", false)
	o := Order(t, s, a.ID, 1, 2)
	b1, b2 := o.Bags[0].ID, o.Bags[1].ID
	Events(t, s, o, tote.EventOrderUpdated, b1)
	Events(t, s, o, tote.EventOrderUpdated, b1, b2)
	Events(t, s, o, tote.EventOrderUpdated, b1)

	ds := deliveries(t, s, ordered.ID) // b1#1, b1#2, b2#1, b1#3
	if len(ds) != 4 {
		t.Fatalf("%d deliveries", len(ds))
	}
	waiting := []bool{ds[0].Waiting, ds[1].Waiting, ds[2].Waiting, ds[3].Waiting}
	equal(t, "waiting (b1#1, b1#2, b2#1, b1#3)", waiting, []bool{false, true, false, true})
	if ds[1].DateNextAttempt != nil {
		t.Fatalf("a waiting delivery has a next attempt: %v", ds[1].DateNextAttempt)
	}
	un := deliveries(t, s, unordered.ID)
	due := DueDeliveries(t, s, T0)
	want := []int64{ds[0].ID, ds[2].ID, un[0].ID, un[1].ID, un[2].ID, un[3].ID}
	slices.Sort(want)
	equal(t, "due deliveries", due, want)

	// A failed attempt keeps the turn: the next delivery of b1 still waits.
	retry := T0.Add(10 * time.Second)
	res := record(t, s, failed(ds[0], T0.Add(time.Second), retry))
	equal(t, "recorded", res[0].Recorded, true)
	first, _ := s.FindDeliveryByID(context.Background(), ds[0].ID)
	if first.Status != tote.DeliveryStatusInProgress || first.Attempts != 1 || first.StatusCode != 500 ||
		first.LastError != "HTTP 500" || first.DateNextAttempt == nil || !first.DateNextAttempt.Equal(retry) {
		t.Fatalf("after a failed attempt: %+v", first)
	}
	if ids := DueDeliveries(t, s, T0.Add(5*time.Second)); len(ids) != 0 {
		t.Fatalf("due while b1's first delivery is retried: %v", ids)
	}
	// A stale worker's outcome (fenced by attempts) changes nothing.
	res = record(t, s, succeeded(ds[0], T0.Add(2*time.Second)))
	equal(t, "stale outcome recorded", res[0].Recorded, false)
	if ids := DueDeliveries(t, s, T0.Add(5*time.Second)); len(ids) != 0 {
		t.Fatalf("a fenced outcome handed the turn on: %v", ids)
	}
	// Its success hands the turn to b1#2, and only to it.
	res = record(t, s, succeeded(first, T0.Add(11*time.Second)))
	equal(t, "recorded", res[0].Recorded, true)
	equal(t, "b1's next turn", DueDeliveries(t, s, T0.Add(time.Hour)), []int64{ds[1].ID})
	attempts, err := s.FindDeliveryAttempts(context.Background(), []int64{ds[0].ID})
	noErr(t, err, "attempts")
	if len(attempts) != 2 || attempts[0].Attempt != 1 || attempts[0].StatusCode != 500 || attempts[0].Succeeded ||
		attempts[1].Attempt != 2 || !attempts[1].Succeeded || attempts[1].Duration != 3*time.Millisecond {
		t.Fatalf("attempts = %+v %+v", attempts[0], attempts[1])
	}
	// A final failure hands the turn on too.
	second, _ := s.FindDeliveryByID(context.Background(), ds[1].ID)
	if second.Waiting || second.DateNextAttempt == nil {
		t.Fatalf("b1#2 after its turn came: %+v", second)
	}
	out := failed(second, T0.Add(12*time.Second), time.Time{})
	out.Status, out.StatusCode = tote.DeliveryStatusFailed, 400
	record(t, s, out)
	equal(t, "b1's third turn", DueDeliveries(t, s, T0.Add(time.Hour)), []int64{ds[3].ID})
	third, _ := s.FindDeliveryByID(context.Background(), ds[3].ID)
	record(t, s, succeeded(third, T0.Add(13*time.Second)))
	// The stream is empty: b1's next event goes at once.
	next := Events(t, s, o, tote.EventOrderUpdated, b1)
	d, err := s.FindDeliveryByEventID(context.Background(), ordered.ID, next[0].ID)
	noErr(t, err, "find")
	if d.Waiting {
		t.Fatal("a delivery of an idle stream waits")
	}
}

// testDeliveryHealth: a 410 disables the subscription; failures past the
// policy pause it, longer each time, then disable it; a success restarts
// the ladder; cancellations are not attempts.
func testDeliveryHealth(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t)
	a := App(t, s)
	w := Webhook(t, s, a.ID, tote.EventOrderUpdated, "https://a.example/flaky", false)
	o := Order(t, s, a.ID, 1)
	policy := &tote.PausePolicy{Failures: 3, Window: time.Minute, Pauses: []time.Duration{time.Hour, 3 * time.Hour}}
	now := T0
	fail := func() tote.DeliveryResult {
		t.Helper()
		ev := Events(t, s, o, tote.EventOrderUpdated, o.Bags[0].ID)
		nd, err := s.FindDeliveryByEventID(ctx, w.ID, ev[0].ID)
		noErr(t, err, "find")
		out := failed(nd, now, now.Add(time.Minute))
		out.Pause = policy
		now = now.Add(time.Second)
		return record(t, s, out)[0]
	}
	for i := range 3 {
		if r := fail(); r.PausedUntil != nil || r.Disabled {
			t.Fatalf("failure %d paused the subscription: %+v", i+1, r)
		}
	}
	r := fail()
	if r.PausedUntil == nil || !r.PausedUntil.Equal(now.Add(-time.Second).Add(time.Hour)) {
		t.Fatalf("the 4th failure in a minute: %+v, want paused for 1h", r)
	}
	got, _ := s.FindWebhookByID(ctx, w.ID)
	if got.PausedUntil == nil || got.PauseLevel != 1 || got.Status != tote.WebhookStatusActive {
		t.Fatalf("paused webhook = %+v", got)
	}
	// Failures while paused (attempts already in flight) change nothing.
	if r := fail(); r.PausedUntil != nil {
		t.Fatalf("paused again while paused: %+v", r)
	}
	// After the pause, only new failures count: three are not enough.
	now = got.PausedUntil.Add(time.Second)
	for range 3 {
		if r := fail(); r.PausedUntil != nil {
			t.Fatalf("old failures counted after the pause: %+v", r)
		}
	}
	if r := fail(); r.PausedUntil == nil || !r.PausedUntil.Equal(now.Add(-time.Second).Add(3*time.Hour)) {
		t.Fatalf("second pause: %+v, want 3h", r)
	}
	// A success restarts the ladder.
	got, _ = s.FindWebhookByID(ctx, w.ID)
	now = got.PausedUntil.Add(time.Second)
	ev := Events(t, s, o, tote.EventOrderUpdated, o.Bags[0].ID)
	d, _ := s.FindDeliveryByEventID(ctx, w.ID, ev[0].ID)
	record(t, s, succeeded(d, now))
	if got, _ := s.FindWebhookByID(ctx, w.ID); got.PauseLevel != 0 {
		t.Fatalf("pause level after a success = %d", got.PauseLevel)
	}
	// Even when that reset did not happen (on PostgreSQL it is skipped
	// while another transaction holds the subscription), the next pause
	// sees the success and starts the ladder again: put the level back.
	noErr(t, s.InTx(ctx, func(tx tote.Tx) error {
		got, err := tx.LockWebhook(ctx, w.ID)
		if err != nil {
			return err
		}
		got.PauseLevel = 2
		return tx.UpdateWebhook(ctx, got)
	}), "undo the reset")
	// Failing through every pause disables it.
	for level := range 3 {
		for range 3 {
			fail()
		}
		r := fail()
		if level < 2 && r.PausedUntil == nil || level == 2 && !r.Disabled {
			t.Fatalf("round %d: %+v", level, r)
		}
		if got, _ := s.FindWebhookByID(ctx, w.ID); got.PausedUntil != nil {
			now = got.PausedUntil.Add(time.Second)
		}
	}
	if got, _ := s.FindWebhookByID(ctx, w.ID); got.Status != tote.WebhookStatusDisabled {
		t.Fatalf("after every pause: %s", got.Status)
	}

	// A 410 disables at once; a cancellation is recorded without an attempt.
	gone := Webhook(t, s, a.ID, tote.EventOrderShipped, "https://a.example/gone", false)
	evs := Events(t, s, o, tote.EventOrderShipped, o.Bags[0].ID, o.Bags[0].ID)
	d1, _ := s.FindDeliveryByEventID(ctx, gone.ID, evs[0].ID)
	d2, _ := s.FindDeliveryByEventID(ctx, gone.ID, evs[1].ID)
	out := failed(d1, now, time.Time{})
	out.Status, out.StatusCode, out.DisableWebhook = tote.DeliveryStatusFailed, 410, true
	cancel := tote.DeliveryOutcome{DeliveryID: d2.ID, Attempts: 0, Now: now, Status: tote.DeliveryStatusCancelled, Error: "subscription DISABLED"}
	res := record(t, s, out, cancel)
	if !res[0].Disabled || !res[1].Recorded {
		t.Fatalf("410 and cancellation: %+v", res)
	}
	if got, _ := s.FindWebhookByID(ctx, gone.ID); got.Status != tote.WebhookStatusDisabled {
		t.Fatalf("after a 410: %s", got.Status)
	}
	c, _ := s.FindDeliveryByID(ctx, d2.ID)
	if c.Status != tote.DeliveryStatusCancelled || c.Attempts != 0 || c.LastError != "subscription DISABLED" || c.DateNextAttempt != nil {
		t.Fatalf("cancelled delivery = %+v", c)
	}
	if as, _ := s.FindDeliveryAttempts(ctx, []int64{d2.ID}); len(as) != 0 {
		t.Fatalf("a cancellation left %d attempts", len(as))
	}

	// Pruning removes old attempts and old final deliveries, never
	// pending ones.
	pending := Webhook(t, s, a.ID, tote.EventOrderDelivered, "https://a.example/pending", false)
	Events(t, s, o, tote.EventOrderDelivered, o.Bags[0].ID)
	n, err := s.PruneDeliveries(ctx, now.Add(time.Hour))
	noErr(t, err, "prune")
	if n == 0 || len(deliveries(t, s, gone.ID)) != 0 {
		t.Fatalf("pruned %d; %d final deliveries left", n, len(deliveries(t, s, gone.ID)))
	}
	var left []int64
	for _, d := range deliveries(t, s, w.ID) {
		if d.Status.Final() {
			t.Fatalf("an old final delivery was kept: %+v", d)
		}
		left = append(left, d.ID)
	}
	if as, _ := s.FindDeliveryAttempts(ctx, left); len(left) == 0 || len(as) != 0 {
		t.Fatalf("%d deliveries pending, %d old attempts kept", len(left), len(as))
	}
	if len(deliveries(t, s, pending.ID)) != 1 {
		t.Fatal("a pending delivery was pruned")
	}
}

// RunTwins runs the cases that need two stores on one database, as two
// processes have.
func RunTwins(t *testing.T, twin func(testing.TB) (tote.Store, tote.Store)) {
	t.Run("ConcurrentStreams", func(t *testing.T) { t.Parallel(); testConcurrentStreams(t, twin) })
	t.Run("DeleteWhileRecording", func(t *testing.T) { t.Parallel(); testDeleteWhileRecording(t, twin) })
}

// testDeleteWhileRecording: a subscription deleted by one process while
// another records failed attempts of its deliveries (which pause it when
// they are too many): both finish, whichever goes first, and neither fails.
func testDeleteWhileRecording(t *testing.T, twin func(testing.TB) (tote.Store, tote.Store)) {
	ctx := context.Background()
	api, worker := twin(t)
	a := App(t, api)
	o := Order(t, api, a.ID, 1, 2, 3)
	policy := &tote.PausePolicy{Failures: 1, Window: time.Hour, Pauses: []time.Duration{time.Hour}}
	for round := range 20 {
		w := Webhook(t, api, a.ID, tote.EventOrderUpdated, fmt.Sprintf("https://a.example/del/%d", round), true)
		Events(t, api, o, tote.EventOrderUpdated, o.Bags[0].ID, o.Bags[1].ID, o.Bags[2].ID)
		claimed, err := worker.ClaimDeliveries(ctx, tote.ClaimDeliveriesParams{Now: T0.Add(time.Hour), Lease: time.Minute, Limit: 10})
		noErr(t, err, "claim")
		var outs []tote.DeliveryOutcome
		for _, c := range claimed {
			out := failed(c.Delivery, T0.Add(time.Hour), T0.Add(2*time.Hour))
			out.Status, out.Pause = tote.DeliveryStatusFailed, policy
			outs = append(outs, out)
		}
		var wg sync.WaitGroup
		var recErr, delErr error
		start := make(chan struct{})
		wg.Go(func() {
			<-start
			_, recErr = worker.RecordDeliveryOutcomes(ctx, outs)
		})
		wg.Go(func() {
			<-start
			delErr = api.InTx(ctx, func(tx tote.Tx) error {
				if _, err := tx.LockWebhook(ctx, w.ID); err != nil {
					return err
				}
				time.Sleep(time.Millisecond) // let the outcomes start
				return tx.DeleteWebhook(ctx, w.ID)
			})
		})
		close(start)
		wg.Wait()
		if recErr != nil || delErr != nil {
			t.Fatalf("round %d: recording: %v; deleting: %v", round, recErr, delErr)
		}
		if _, err := api.FindWebhookByID(ctx, w.ID); !errors.Is(err, tote.ErrNotFound) {
			t.Fatalf("round %d: the subscription is still there (%v)", round, err)
		}
	}
}

// testConcurrentStreams: events of one bag recorded by one process while
// another ends their deliveries: every delivery gets its turn exactly once,
// in order, and none is left waiting.
func testConcurrentStreams(t *testing.T, twin func(testing.TB) (tote.Store, tote.Store)) {
	ctx := context.Background()
	producer, worker := twin(t)
	a := App(t, producer)
	w := Webhook(t, producer, a.ID, tote.EventOrderUpdated, "https://a.example/race", true)
	o := Order(t, producer, a.ID, 1, 2)
	const events = 60
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	wg.Go(func() {
		for i := range events {
			bag := o.Bags[i%2].ID
			err := producer.InTx(ctx, func(tx tote.Tx) error {
				if _, err := tx.LockOrder(ctx, o.ID); err != nil {
					return err
				}
				return tx.InsertEvents(ctx, []*tote.Event{{ID: fmt.Sprintf("evt_race_%d", i), AppID: a.ID,
					Type: tote.EventOrderUpdated, OrderID: o.ID, BagID: bag, DateCreated: T0}})
			})
			if err != nil {
				errs <- err
				return
			}
		}
	})
	var mu sync.Mutex
	sent := map[int64][]int64{} // bag → sequences in the order their turn came
	wg.Go(func() {
		deadline := time.Now().Add(30 * time.Second)
		total := 0
		for total < events && time.Now().Before(deadline) {
			claimed, err := worker.ClaimDeliveries(ctx, tote.ClaimDeliveriesParams{Now: T0.Add(time.Hour), Lease: time.Minute, Limit: 10})
			if err != nil {
				errs <- err
				return
			}
			var outs []tote.DeliveryOutcome
			for _, c := range claimed {
				d := c.Delivery
				mu.Lock()
				sent[d.BagID] = append(sent[d.BagID], d.Sequence)
				mu.Unlock()
				outs = append(outs, succeeded(d, T0))
			}
			if len(outs) > 0 {
				if _, err := worker.RecordDeliveryOutcomes(ctx, outs); err != nil {
					errs <- err
					return
				}
			}
			total += len(claimed)
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for _, b := range o.Bags {
		seqs := sent[b.ID]
		for i, seq := range seqs {
			if seq != int64(i+1) || len(seqs) != events/2 {
				t.Fatalf("bag %d's deliveries took their turns as %v", b.ID, seqs)
			}
		}
	}
	for _, d := range deliveries(t, worker, w.ID) {
		if d.Status != tote.DeliveryStatusSucceeded {
			t.Fatalf("delivery %d of bag %d (seq %d) is %s, waiting %v", d.ID, d.BagID, d.Sequence, d.Status, d.Waiting)
		}
	}
}

// testDeliveryClaims: a claim holds its deliveries until its lease ends
// (then they are due again, as when their process died), a heartbeat moves
// it on, an outcome ends it: due at the next attempt, never once final, or
// at the new time when postponed.
func testDeliveryClaims(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t)
	a := App(t, s)
	w := Webhook(t, s, a.ID, tote.EventOrderUpdated, "https://a.example/claims", false)
	o := Order(t, s, a.ID, 1)
	Events(t, s, o, tote.EventOrderUpdated, o.Bags[0].ID, o.Bags[0].ID)
	ds := deliveries(t, s, w.ID)
	var claims []tote.DeliveryClaim // of the last claim that took something
	claim := func(now time.Time) []int64 {
		t.Helper()
		got, err := s.ClaimDeliveries(ctx, tote.ClaimDeliveriesParams{Now: now, Lease: time.Minute, Limit: 10})
		noErr(t, err, "claim")
		var ids []int64
		if len(got) > 0 {
			claims = nil
		}
		for _, d := range got {
			ids = append(ids, d.Delivery.ID)
			claims = append(claims, tote.DeliveryClaim{DeliveryID: d.Delivery.ID, Claim: d.Claim})
		}
		return ids
	}
	skipped, err := s.ClaimDeliveries(ctx, tote.ClaimDeliveriesParams{Now: T0, Lease: time.Minute, Limit: 10, Skip: []int64{w.ID}})
	noErr(t, err, "claim, skipping the subscription")
	equal(t, "claimed while skipping the subscription", len(skipped), 0)
	// At most PerSubscription of one subscription: the rest stay due, and
	// another subscription's delivery behind them is taken.
	other := Webhook(t, s, a.ID, tote.EventOrderShipped, "https://a.example/other", false)
	Events(t, s, o, tote.EventOrderShipped, o.Bags[0].ID)
	capped, err := s.ClaimDeliveries(ctx, tote.ClaimDeliveriesParams{Now: T0, Lease: time.Minute, Limit: 10, PerSubscription: 1})
	noErr(t, err, "claim one per subscription")
	var cappedIDs []int64
	for _, c := range capped {
		cappedIDs = append(cappedIDs, c.Delivery.ID)
	}
	otherDelivery := deliveries(t, s, other.ID)[0]
	equal(t, "claimed, one per subscription", cappedIDs, []int64{ds[0].ID, otherDelivery.ID})
	// Put back: due again as they were.
	for _, c := range capped {
		record(t, s, tote.DeliveryOutcome{DeliveryID: c.Delivery.ID, Attempts: c.Delivery.Attempts, Now: T0,
			Status: c.Delivery.Status, Postpone: true, NextAttempt: T0, Claim: c.Claim})
	}
	noErr(t, s.InTx(ctx, func(tx tote.Tx) error { return tx.DeleteWebhook(ctx, other.ID) }), "delete the other subscription")
	equal(t, "claimed", claim(T0), []int64{ds[0].ID, ds[1].ID})
	first := claims
	if ids := claim(T0.Add(59 * time.Second)); len(ids) != 0 {
		t.Fatalf("claimed again while the lease holds: %v", ids)
	}
	// The lease ends: due again (a process died mid-attempt), under a new
	// claim.
	equal(t, "after the lease", claim(T0.Add(time.Minute)), []int64{ds[0].ID, ds[1].ID})
	if claims[0].Claim == first[0].Claim {
		t.Fatalf("the second claim has the first's number %d", first[0].Claim)
	}
	// The first claimer, stale, can neither extend the second claim nor
	// end it by putting the delivery off.
	noErr(t, s.ExtendDeliveryLeases(ctx, first, T0.Add(time.Hour)), "stale extend")
	res := record(t, s, tote.DeliveryOutcome{DeliveryID: ds[0].ID, Attempts: 0, Now: T0.Add(61 * time.Second),
		Status: tote.DeliveryStatusCreated, Postpone: true, NextAttempt: T0.Add(62 * time.Second), Claim: first[0].Claim})
	equal(t, "stale postponement recorded", res[0].Recorded, false)
	if ids := claim(T0.Add(90 * time.Second)); len(ids) != 0 {
		t.Fatalf("claimed while the second claim holds: %v", ids)
	}
	if ids := claim(T0.Add(2 * time.Minute)); len(ids) != 2 {
		t.Fatalf("a stale heartbeat extended the second claim: claimed %v after it lapsed", ids)
	}
	// A heartbeat moves the current claim on.
	noErr(t, s.ExtendDeliveryLeases(ctx, claims, T0.Add(5*time.Minute)), "extend")
	if ids := claim(T0.Add(4 * time.Minute)); len(ids) != 0 {
		t.Fatalf("claimed under an extended lease: %v", ids)
	}

	// Two outcomes of one delivery in one batch (a worker that lost its
	// claim, and the one that took it over): the first is recorded.
	res = record(t, s, succeeded(ds[0], T0.Add(time.Second)), failed(ds[1], T0.Add(time.Second), T0.Add(10*time.Minute)),
		failed(ds[0], T0.Add(time.Second), T0.Add(time.Minute)))
	if !res[0].Recorded || !res[1].Recorded || res[2].Recorded {
		t.Fatalf("results = %+v", res)
	}
	// A heartbeat after the outcome no longer claims anything.
	noErr(t, s.ExtendDeliveryLeases(ctx, claims, T0.Add(time.Hour)), "extend")
	if ids := claim(T0.Add(10*time.Minute - time.Second)); len(ids) != 0 {
		t.Fatalf("claimed before the next attempt: %v", ids)
	}
	equal(t, "at the next attempt", claim(T0.Add(10*time.Minute)), []int64{ds[1].ID})

	// Postponed: same status and attempts, due at the new time (which its
	// log shows as the next attempt).
	second, _ := s.FindDeliveryByID(ctx, ds[1].ID)
	res = record(t, s, tote.DeliveryOutcome{DeliveryID: second.ID, Attempts: second.Attempts, Now: T0.Add(11 * time.Minute),
		Status: second.Status, Postpone: true, NextAttempt: T0.Add(20 * time.Minute)})
	equal(t, "postponed", res[0].Recorded, true)
	after, _ := s.FindDeliveryByID(ctx, ds[1].ID)
	wantAfter := *second
	wantAfter.DateNextAttempt = new(T0.Add(20 * time.Minute))
	equal(t, "postponed delivery", after, &wantAfter)
	if ids := claim(T0.Add(20*time.Minute - time.Second)); len(ids) != 0 {
		t.Fatalf("claimed before the postponement ended: %v", ids)
	}
	equal(t, "after the postponement", claim(T0.Add(20*time.Minute)), []int64{ds[1].ID})
	// A postponement fenced by a newer outcome changes nothing.
	record(t, s, succeeded(second, T0.Add(21*time.Minute)))
	res = record(t, s, tote.DeliveryOutcome{DeliveryID: second.ID, Attempts: second.Attempts, Now: T0.Add(22 * time.Minute),
		Status: second.Status, Postpone: true, NextAttempt: T0.Add(30 * time.Minute)})
	equal(t, "stale postponement recorded", res[0].Recorded, false)
	if ids := claim(T0.Add(time.Hour)); len(ids) != 0 {
		t.Fatalf("final deliveries came up: %v", ids)
	}

	// The log: the failed attempt's row, and the success the delivery
	// itself records.
	attempts, err := s.FindDeliveryAttempts(ctx, []int64{ds[0].ID, ds[1].ID})
	noErr(t, err, "attempts")
	type row struct {
		delivery   int64
		attempt    int
		statusCode int
		succeeded  bool
		at         time.Time
	}
	var got []row
	for _, a := range attempts {
		got = append(got, row{a.DeliveryID, a.Attempt, a.StatusCode, a.Succeeded, a.DateCreated})
	}
	equal(t, "attempts", got, []row{
		{ds[0].ID, 1, 200, true, T0.Add(time.Second)},
		{ds[1].ID, 1, 500, false, T0.Add(time.Second)},
		{ds[1].ID, 2, 200, true, T0.Add(21 * time.Minute)},
	})
}

// testWakeDeliveries: a reactivated subscription's put-off deliveries
// become due at once; those being sent, finished ones and other
// subscriptions' are left alone.
func testWakeDeliveries(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t)
	a := App(t, s)
	o := Order(t, s, a.ID, 1, 2)
	w := Webhook(t, s, a.ID, tote.EventOrderUpdated, "https://a.example.com/hook", false)
	Webhook(t, s, a.ID, tote.EventOrderUpdated, "https://b.example.com/hook", false) // another subscription
	Events(t, s, o, tote.EventOrderUpdated, o.Bags[0].ID, o.Bags[1].ID)

	// Every delivery is claimed; all but one of w's are put off by two
	// hours (as a pause would); that one is still being sent.
	claimed, err := s.ClaimDeliveries(ctx, tote.ClaimDeliveriesParams{Now: T0, Lease: 3 * time.Hour, Limit: 100})
	noErr(t, err, "claim")
	equal(t, "claimed", len(claimed), 4)
	var outs []tote.DeliveryOutcome
	var sending int64
	for _, c := range claimed {
		d := c.Delivery
		if d.WebhookID == w.ID && sending == 0 {
			sending = d.ID
			continue
		}
		outs = append(outs, tote.DeliveryOutcome{DeliveryID: d.ID, Attempts: d.Attempts, Now: T0, Status: d.Status,
			Postpone: true, NextAttempt: T0.Add(2 * time.Hour)})
	}
	record(t, s, outs...)

	var woken int64
	noErr(t, s.InTx(ctx, func(tx tote.Tx) error {
		var err error
		woken, err = tx.WakeDeliveries(ctx, w.ID, T0.Add(time.Hour))
		return err
	}), "wake")
	equal(t, "deliveries woken", woken, int64(1))
	due := DueDeliveries(t, s, T0.Add(time.Hour))
	equal(t, "due deliveries", len(due), 1)
	if d, _ := s.FindDeliveryByID(ctx, due[0]); d.WebhookID != w.ID || d.ID == sending {
		t.Fatalf("woke delivery %d of subscription %d (sending %d, subscription %d)", d.ID, d.WebhookID, sending, w.ID)
	}
}

// testPausedDeliveries: a paused subscription's deliveries are not claimed:
// those waiting are put off to the pause's end, those fanned out during it
// start due then, and a retry of an attempt that was in flight when the
// pause began, scheduled inside the pause, waits too; other
// subscriptions are not held up; reactivating the subscription makes every
// one due at once. (A claimed delivery is never postponed for a pause, so a
// reactivation cannot be outlasted by one.)
func testPausedDeliveries(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t)
	a := App(t, s)
	o := Order(t, s, a.ID, 1, 2, 3)
	w := Webhook(t, s, a.ID, tote.EventOrderUpdated, "https://a.example.com/paused", false)
	other := Webhook(t, s, a.ID, tote.EventOrderUpdated, "https://b.example.com/fine", false)
	Events(t, s, o, tote.EventOrderUpdated, o.Bags[0].ID, o.Bags[1].ID)

	// Every delivery is sent. One of w's fails, which pauses w for an
	// hour; the other, in flight meanwhile, fails after, with a retry
	// due inside the pause.
	claimed, err := s.ClaimDeliveries(ctx, tote.ClaimDeliveriesParams{Now: T0, Lease: time.Minute, Limit: 10})
	noErr(t, err, "claim")
	equal(t, "claimed", len(claimed), 4)
	var mine []*tote.Delivery
	for _, c := range claimed {
		if c.Delivery.WebhookID == w.ID {
			mine = append(mine, c.Delivery)
		} else {
			record(t, s, succeeded(c.Delivery, T0))
		}
	}
	equal(t, "w's deliveries claimed", len(mine), 2)
	first := mine[0]
	out := failed(first, T0, T0.Add(10*time.Second))
	out.Pause = &tote.PausePolicy{Failures: 0, Window: time.Hour, Pauses: []time.Duration{time.Hour}}
	res := record(t, s, out)
	if res[0].PausedUntil == nil || !res[0].PausedUntil.Equal(T0.Add(time.Hour)) {
		t.Fatalf("paused until %v, want %v", res[0].PausedUntil, T0.Add(time.Hour))
	}
	record(t, s, failed(mine[1], T0.Add(time.Second), T0.Add(10*time.Second)))
	Events(t, s, o, tote.EventOrderUpdated, o.Bags[2].ID) // fanned out during the pause

	// Inside the pause only the other subscription's deliveries come up.
	for _, d := range Claim(t, s, T0.Add(time.Minute)) {
		if d.Delivery.WebhookID != other.ID {
			t.Fatalf("delivery %d of the paused subscription was claimed inside its pause", d.Delivery.ID)
		}
	}
	ws := deliveries(t, s, w.ID)
	equal(t, "the paused subscription's deliveries", len(ws), 3)
	for _, d := range ws {
		if d.ID != mine[1].ID && (d.DateNextAttempt == nil || !d.DateNextAttempt.Equal(T0.Add(time.Hour))) {
			t.Fatalf("delivery %d is due at %v, want the pause's end %v", d.ID, d.DateNextAttempt, T0.Add(time.Hour))
		}
	}

	// Reactivated: all three are due at once.
	noErr(t, s.InTx(ctx, func(tx tote.Tx) error {
		got, err := tx.LockWebhook(ctx, w.ID)
		if err != nil {
			return err
		}
		got.PausedUntil, got.PauseLevel = nil, 0
		if _, err := tx.WakeDeliveries(ctx, w.ID, T0.Add(2*time.Minute)); err != nil {
			return err
		}
		return tx.UpdateWebhook(ctx, got)
	}), "reactivate")
	equal(t, "due after the reactivation", len(Claim(t, s, T0.Add(2*time.Minute))), 3)
}
