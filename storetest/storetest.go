package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/toteorg/tote"
)

// T0 is a fixed time with microsecond precision, the finest both stores keep.
var T0 = time.Date(2026, 3, 4, 5, 6, 7, 123456000, time.UTC)

// Run runs the whole conformance suite against stores made by open.
func Run(t *testing.T, open Opener) {
	t.Run("App", func(t *testing.T) { t.Parallel(); testApp(t, open) })
	t.Run("Order", func(t *testing.T) { t.Parallel(); testOrder(t, open) })
	t.Run("OrderDetails", func(t *testing.T) { t.Parallel(); testOrderDetails(t, open) })
	t.Run("OrderSearch", func(t *testing.T) { t.Parallel(); testOrderSearch(t, open) })
	t.Run("ConcurrentCommands", func(t *testing.T) { t.Parallel(); testConcurrentCommands(t, open) })
	t.Run("Rollback", func(t *testing.T) { t.Parallel(); testRollback(t, open) })
	t.Run("Events", func(t *testing.T) { t.Parallel(); testEvents(t, open) })
	t.Run("ConcurrentBagWriters", func(t *testing.T) { t.Parallel(); testConcurrentBagWriters(t, open) })
	t.Run("Jobs", func(t *testing.T) { t.Parallel(); testJobs(t, open) })
	t.Run("CompleteJobs", func(t *testing.T) { t.Parallel(); testCompleteJobs(t, open) })
	t.Run("JobParams", func(t *testing.T) { t.Parallel(); testJobParams(t, open) })
	t.Run("JobFencingAndRescue", func(t *testing.T) { t.Parallel(); testJobFencingAndRescue(t, open) })
	t.Run("ConcurrentClaims", func(t *testing.T) { t.Parallel(); testConcurrentClaims(t, open) })
	t.Run("Idempotency", func(t *testing.T) { t.Parallel(); testIdempotency(t, open) })
	t.Run("ConcurrentIdempotency", func(t *testing.T) { t.Parallel(); testConcurrentIdempotency(t, open) })
	t.Run("Sandbox", func(t *testing.T) { t.Parallel(); testSandbox(t, open) })
	t.Run("Catalog", func(t *testing.T) { t.Parallel(); testCatalog(t, open) })
	t.Run("Webhooks", func(t *testing.T) { t.Parallel(); testWebhooks(t, open) })
	t.Run("FanOut", func(t *testing.T) { t.Parallel(); testFanOut(t, open) })
	t.Run("DeliveryStreams", func(t *testing.T) { t.Parallel(); testDeliveryStreams(t, open) })
	t.Run("DeliveryHealth", func(t *testing.T) { t.Parallel(); testDeliveryHealth(t, open) })
	t.Run("DeliveryClaims", func(t *testing.T) { t.Parallel(); testDeliveryClaims(t, open) })
	t.Run("WakeDeliveries", func(t *testing.T) { t.Parallel(); testWakeDeliveries(t, open) })
	t.Run("PausedDeliveries", func(t *testing.T) { t.Parallel(); testPausedDeliveries(t, open) })
}

// App creates an app (fixture).
func App(tb testing.TB, s tote.Store) *tote.App {
	tb.Helper()
	a := &tote.App{Name: "channel", SecretHash: []byte("hash-of-secret"), CommissionRate: 1000, DateCreated: T0}
	if err := s.InTx(context.Background(), func(tx tote.Tx) error { return tx.CreateApp(context.Background(), a) }); err != nil {
		tb.Fatalf("create app: %v", err)
	}
	return a
}

// Order creates an order of app with one IN_PROGRESS bag per merchant id.
func Order(tb testing.TB, s tote.Store, appID int64, merchants ...int64) *tote.Order {
	tb.Helper()
	o := &tote.Order{AppID: appID, Status: tote.OrderStatusInProgress, Currency: "USD", DateCreated: T0, DateLastModified: T0}
	for i, m := range merchants {
		o.Bags = append(o.Bags, &tote.Bag{
			MerchantID: m, Status: tote.BagStatusInProgress, FinancialStatus: tote.FinancialStatusUnpaid,
			FulfillmentStatus: tote.FulfillmentStatusProcessing, Version: 1, Currency: "USD",
			SubTotal: int64(1000 * (i + 1)), Total: int64(1000 * (i + 1)), DateCreated: T0, DateLastModified: T0,
		})
		o.SubTotal += int64(1000 * (i + 1))
	}
	o.Total = o.SubTotal
	if err := s.InTx(context.Background(), func(tx tote.Tx) error { return tx.CreateOrder(context.Background(), o) }); err != nil {
		tb.Fatalf("create order: %v", err)
	}
	return o
}

func equal(t testing.TB, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

func noErr(t testing.TB, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func testApp(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t)
	a := App(t, s)
	if a.ID <= 0 {
		t.Fatalf("app id = %d, want positive", a.ID)
	}
	got, err := s.FindAppByID(ctx, a.ID)
	noErr(t, err, "find app")
	equal(t, "app", got, a)

	_, err = s.FindAppByID(ctx, a.ID+1000)
	if !errors.Is(err, tote.ErrNotFound) || tote.ErrorCode(err) != tote.ENOTFOUND {
		t.Fatalf("unknown app: err = %v, want ErrNotFound", err)
	}
}

func testOrder(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t)
	a := App(t, s)
	o := Order(t, s, a.ID, 11, 22)
	if o.ID <= 0 || o.Bags[0].ID <= 0 || o.Bags[1].ID <= 0 || o.Bags[0].OrderID != o.ID {
		t.Fatalf("ids not set: order %d bags %d, %d", o.ID, o.Bags[0].ID, o.Bags[1].ID)
	}
	got, err := s.FindOrderByID(ctx, o.ID)
	noErr(t, err, "find order")
	equal(t, "order", got, o)

	// Update a bag and the order in one transaction, nullable dates included.
	later := T0.Add(90 * time.Second)
	err = s.InTx(ctx, func(tx tote.Tx) error {
		locked, err := tx.LockOrder(ctx, o.ID)
		if err != nil {
			return err
		}
		b := locked.Bags[1]
		b.Status, b.Version, b.ExternalID = tote.BagStatusSubmitted, b.Version+1, "ext-1"
		b.Captured, b.Refunded = 2000, 500
		b.DateSubmitted, b.DateLastModified, b.DateLastConsolidated = &later, later, &later
		if err := tx.UpdateBag(ctx, b); err != nil {
			return err
		}
		o.Bags[1] = b
		o.Status, o.DateSubmitted, o.DateLastModified = tote.OrderStatusProcessing, &later, later
		return tx.UpdateOrder(ctx, o)
	})
	noErr(t, err, "update")
	got, err = s.FindOrderByID(ctx, o.ID)
	noErr(t, err, "find order")
	equal(t, "updated order", got, o)
	bag, err := s.FindBagByID(ctx, o.Bags[1].ID)
	noErr(t, err, "find bag")
	equal(t, "bag", bag, o.Bags[1])

	// In one transaction a change and then its undo both land (a store
	// that saves only what changed must compare with what it last wrote).
	err = s.InTx(ctx, func(tx tote.Tx) error {
		locked, err := tx.LockOrder(ctx, o.ID)
		if err != nil {
			return err
		}
		b := locked.Bags[0]
		b.Status, b.ExternalID = tote.BagStatusSubmitted, "ext-0"
		if err := tx.UpdateBag(ctx, b); err != nil {
			return err
		}
		b.Status = tote.BagStatusInProgress
		if err := tx.UpdateBag(ctx, b); err != nil {
			return err
		}
		o.Bags[0] = b
		return nil
	})
	noErr(t, err, "change and undo")
	bag, err = s.FindBagByID(ctx, o.Bags[0].ID)
	noErr(t, err, "find bag")
	equal(t, "bag after change and undo", bag, o.Bags[0])
	// A bag updated without LockOrder is saved whole.
	err = s.InTx(ctx, func(tx tote.Tx) error {
		b := *o.Bags[0]
		b.Captured, b.Version, b.DateLastModified = 700, b.Version+1, later.Add(time.Second)
		o.Bags[0] = &b
		return tx.UpdateBag(ctx, &b)
	})
	noErr(t, err, "update without lock")
	got, err = s.FindOrderByID(ctx, o.ID)
	noErr(t, err, "find order")
	equal(t, "order after update without lock", got, o)

	if _, err := s.FindOrderByID(ctx, o.ID+1000); !errors.Is(err, tote.ErrNotFound) {
		t.Fatalf("unknown order: err = %v", err)
	}
	if _, err := s.FindBagByID(ctx, 1<<40); !errors.Is(err, tote.ErrNotFound) {
		t.Fatalf("unknown bag: err = %v", err)
	}
	err = s.InTx(ctx, func(tx tote.Tx) error { return tx.UpdateBag(ctx, &tote.Bag{ID: 1 << 40}) })
	if !errors.Is(err, tote.ErrNotFound) {
		t.Fatalf("update unknown bag: err = %v", err)
	}
}

// testRollback: a failed command leaves no trace of any of its writes.
func testRollback(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t)
	a := App(t, s)
	o := Order(t, s, a.ID, 1)
	boom := errors.New("boom")
	err := s.InTx(ctx, func(tx tote.Tx) error {
		locked, err := tx.LockOrder(ctx, o.ID)
		if err != nil {
			return err
		}
		b := locked.Bags[0]
		b.Status, b.Version = tote.BagStatusSubmitted, b.Version+1
		if err := tx.UpdateBag(ctx, b); err != nil {
			return err
		}
		if err := tx.InsertStatusChanges(ctx, []*tote.StatusChange{{AppID: a.ID, OrderID: o.ID, BagID: b.ID,
			Field: tote.FieldBagStatus, From: "IN_PROGRESS", To: "SUBMITTED", Trigger: "submit", DateCreated: T0}}); err != nil {
			return err
		}
		if err := tx.InsertEvents(ctx, []*tote.Event{{ID: "evt_rollback", AppID: a.ID, Type: tote.EventOrderUpdated,
			OrderID: o.ID, BagID: b.ID, DateCreated: T0}}); err != nil {
			return err
		}
		if _, err := tx.InsertJobs(ctx, []tote.JobParams{{Kind: "k", Args: []byte(`{}`), RunAt: T0, MaxAttempts: 3}}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("InTx err = %v, want the callback's error", err)
	}
	bag, err := s.FindBagByID(ctx, o.Bags[0].ID)
	noErr(t, err, "find bag")
	equal(t, "bag after rollback", bag, o.Bags[0])
	changes, err := s.FindStatusChanges(ctx, o.ID)
	noErr(t, err, "status changes")
	events, err := s.FindEvents(ctx, o.ID, 0)
	noErr(t, err, "events")
	jobs, err := s.ClaimJobs(ctx, tote.ClaimJobsParams{Worker: "w", Limit: 10, Now: T0.Add(time.Hour), Lease: time.Minute})
	noErr(t, err, "claim")
	if len(changes)+len(events)+len(jobs) != 0 {
		t.Fatalf("rolled back writes are visible: %d changes, %d events, %d jobs", len(changes), len(events), len(jobs))
	}
}

func testEvents(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t)
	a := App(t, s)
	o := Order(t, s, a.ID, 1, 2)
	b1, b2 := o.Bags[0].ID, o.Bags[1].ID
	// Someone receives them, so their payloads are kept.
	Webhook(t, s, a.ID, tote.EventOrderUpdated, "https://a.example/updated", true)
	insert := func(ids ...string) []*tote.Event {
		var evs []*tote.Event
		for _, id := range ids {
			bag := b1
			if id[len(id)-1] == '2' {
				bag = b2
			}
			evs = append(evs, &tote.Event{ID: id, AppID: a.ID, Type: tote.EventOrderUpdated, OrderID: o.ID,
				BagID: bag, BagVersion: 2, Payload: []byte(`{"id":1}`), DateCreated: T0})
		}
		noErr(t, s.InTx(ctx, func(tx tote.Tx) error { return tx.InsertEvents(ctx, evs) }), "insert events")
		return evs
	}
	first := insert("evt_a1", "evt_b1", "evt_c2")
	second := insert("evt_d1", "evt_e2")
	seqs := []int64{first[0].Sequence, first[1].Sequence, first[2].Sequence, second[0].Sequence, second[1].Sequence}
	equal(t, "sequences (bag 1: a,b,d; bag 2: c,e)", seqs, []int64{1, 2, 1, 3, 2})

	// Several status changes in one call keep their order and get their ids.
	var changes []*tote.StatusChange
	for i, bag := range []int64{b2, b1, 0} {
		changes = append(changes, &tote.StatusChange{AppID: a.ID, OrderID: o.ID, BagID: bag, Field: tote.FieldBagStatus,
			From: fmt.Sprint(i), To: fmt.Sprint(i + 1), Trigger: "test", DateCreated: T0})
	}
	noErr(t, s.InTx(ctx, func(tx tote.Tx) error { return tx.InsertStatusChanges(ctx, changes) }), "insert changes")
	stored, err := s.FindStatusChanges(ctx, o.ID)
	noErr(t, err, "find status changes")
	equal(t, "status changes", stored, changes)
	// More than one statement's worth keep their order too.
	var many []*tote.StatusChange
	for i := range 1201 {
		many = append(many, &tote.StatusChange{AppID: a.ID, OrderID: o.ID, BagID: b1, Field: tote.FieldBagStatus,
			From: fmt.Sprint(i), To: fmt.Sprint(i + 1), Trigger: "many", DateCreated: T0})
	}
	noErr(t, s.InTx(ctx, func(tx tote.Tx) error { return tx.InsertStatusChanges(ctx, many) }), "insert many changes")
	stored, err = s.FindStatusChanges(ctx, o.ID)
	noErr(t, err, "find status changes")
	equal(t, "many status changes", stored[len(changes):], many)

	got, err := s.FindEvents(ctx, o.ID, b1)
	noErr(t, err, "find events")
	var ids []string
	for _, e := range got {
		ids = append(ids, e.ID)
		if string(e.Payload) != `{"id": 1}` && string(e.Payload) != `{"id":1}` {
			t.Fatalf("payload = %s", e.Payload)
		}
	}
	equal(t, "bag 1 events in order", ids, []string{"evt_a1", "evt_b1", "evt_d1"})
	bag, err := s.FindBagByID(ctx, b1)
	noErr(t, err, "find bag")
	equal(t, "bag event_seq", bag.EventSeq, int64(3))

	err = s.InTx(ctx, func(tx tote.Tx) error {
		return tx.InsertEvents(ctx, []*tote.Event{{ID: "evt_a1", AppID: a.ID, Type: tote.EventOrderUpdated, OrderID: o.ID, DateCreated: T0}})
	})
	if err == nil {
		t.Fatal("a duplicate event id was accepted")
	}
}

// testConcurrentBagWriters: writers that lock the order, then read and
// update one of its bags at the same time never lose an update.
func testConcurrentBagWriters(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t)
	a := App(t, s)
	o := Order(t, s, a.ID, 1)
	const writers = 16
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- s.InTx(ctx, func(tx tote.Tx) error {
				locked, err := tx.LockOrder(ctx, o.ID)
				if err != nil {
					return err
				}
				b := locked.Bags[0]
				b.Version++
				b.DateLastModified = T0.Add(time.Duration(i) * time.Second)
				if err := tx.UpdateBag(ctx, b); err != nil {
					return err
				}
				return tx.InsertStatusChanges(ctx, []*tote.StatusChange{{AppID: a.ID, OrderID: o.ID, BagID: b.ID,
					Field: tote.FieldBagStatus, From: fmt.Sprint(b.Version - 1), To: fmt.Sprint(b.Version),
					Trigger: "test", DateCreated: T0}})
			})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		noErr(t, err, "writer")
	}
	b, err := s.FindBagByID(ctx, o.Bags[0].ID)
	noErr(t, err, "find bag")
	equal(t, "version after concurrent writers", b.Version, int64(1+writers))
	changes, err := s.FindStatusChanges(ctx, o.ID)
	noErr(t, err, "changes")
	for i, c := range changes { // each writer saw the previous one's result
		equal(t, "audit chain", [2]string{c.From, c.To}, [2]string{fmt.Sprint(i + 1), fmt.Sprint(i + 2)})
	}
}

// testConcurrentCommands: commands committing at the same time (which
// SQLite groups into one commit) succeed or fail each on its own.
func testConcurrentCommands(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t)
	const n = 24
	var wg sync.WaitGroup
	ids := make([]int64, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			errs[i] = s.InTx(ctx, func(tx tote.Tx) error {
				a := &tote.App{Name: fmt.Sprint("app ", i), SecretHash: []byte("h"), DateCreated: T0}
				if err := tx.CreateApp(ctx, a); err != nil {
					return err
				}
				ids[i] = a.ID
				if i%2 == 0 {
					return errors.New("refused")
				}
				return nil
			})
		})
	}
	wg.Wait()
	for i := range n {
		// A rolled-back insert's id may be given to a later one: compare names.
		a, err := s.FindAppByID(ctx, ids[i])
		kept := err == nil && a.Name == fmt.Sprint("app ", i)
		switch {
		case i%2 == 1 && (errs[i] != nil || !kept):
			t.Errorf("command %d: %v, then find: %v; want committed", i, errs[i], err)
		case i%2 == 0 && (errs[i] == nil || kept):
			t.Errorf("command %d: %v; want refused and rolled back, found it kept", i, errs[i])
		}
	}
}
