package lifecycle_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/toteorg/tote"
	"github.com/toteorg/tote/lifecycle"
	"github.com/toteorg/tote/storetest"
)

func TestMain(m *testing.M) {
	storetest.ReportPostgres()
	os.Exit(m.Run())
}

func svc(s tote.Store) *lifecycle.Service {
	return &lifecycle.Service{Store: s, Clock: tote.ClockFunc(func() time.Time { return storetest.T0 })}
}

// submitted builds a two-bag order that is PROCESSING, authorized, with
// both bags SUBMITTED to their platforms.
func submitted(t *testing.T, s tote.Store) *tote.Order {
	t.Helper()
	ctx := context.Background()
	app := storetest.App(t, s)
	o := storetest.Order(t, s, app.ID, 7, 8)
	steps := []lifecycle.Command{
		{OrderID: o.ID, Run: func(st *tote.OrderState, _ int) (tote.Outcome, error) { return st.Submit() }},
		{OrderID: o.ID, Run: func(st *tote.OrderState, _ int) (tote.Outcome, error) { return st.Authorize(false) }},
		{OrderID: o.ID, BagID: o.Bags[0].ID, Run: func(st *tote.OrderState, b int) (tote.Outcome, error) { return st.SubmitBag(b) }},
		{OrderID: o.ID, BagID: o.Bags[1].ID, Run: func(st *tote.OrderState, b int) (tote.Outcome, error) { return st.SubmitBag(b) }},
	}
	for _, c := range steps {
		if _, err := svc(s).Apply(ctx, c); err != nil {
			t.Fatalf("set up: %v", err)
		}
	}
	o, err := s.FindOrderByID(ctx, o.ID)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func accept(o *tote.Order, bag int, jobs ...tote.JobParams) lifecycle.Command {
	return lifecycle.Command{
		AppID: o.AppID, OrderID: o.ID, BagID: o.Bags[bag].ID,
		Run: func(st *tote.OrderState, b int) (tote.Outcome, error) { return st.BagAccepted(b) },
		Edit: func(c *lifecycle.Change) error {
			c.Bag.ExternalID = "ext-" + string(rune('a'+bag))
			return nil
		},
		Jobs: jobs,
	}
}

// snapshot is everything a command may write, to compare before and after.
type snapshot struct {
	order   *tote.Order
	changes int
	events  int
}

func take(t *testing.T, s tote.Store, orderID int64) snapshot {
	t.Helper()
	ctx := context.Background()
	o, err := s.FindOrderByID(ctx, orderID)
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.FindStatusChanges(ctx, orderID)
	if err != nil {
		t.Fatal(err)
	}
	e, err := s.FindEvents(ctx, orderID, 0)
	if err != nil {
		t.Fatal(err)
	}
	return snapshot{o, len(c), len(e)}
}

func TestApplyWritesEverythingTogether(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, open storetest.Opener) {
		ctx := context.Background()
		s := open(t)
		o := submitted(t, s)
		before := take(t, s, o.ID)

		job := tote.JobParams{Kind: "notify", Args: []byte(`{}`), RunAt: storetest.T0, MaxAttempts: 3}
		res, err := svc(s).Apply(ctx, accept(o, 0, job))
		if err != nil {
			t.Fatal(err)
		}
		after := take(t, s, o.ID)
		bag := after.order.Bags[0]
		if bag.Status != tote.BagStatusAccepted || bag.ExternalID != "ext-a" || bag.Version != before.order.Bags[0].Version+1 {
			t.Fatalf("bag after accept: %s %q v%d", bag.Status, bag.ExternalID, bag.Version)
		}
		if other := after.order.Bags[1]; other.Version != before.order.Bags[1].Version {
			t.Fatalf("the other bag's version moved: v%d", other.Version)
		}
		// The audit row.
		changes, _ := s.FindStatusChanges(ctx, o.ID)
		last := changes[len(changes)-1]
		if after.changes != before.changes+1 || last.BagID != bag.ID || last.Field != tote.FieldBagStatus ||
			last.From != "SUBMITTED" || last.To != "ACCEPTED" || last.Trigger != tote.TriggerPlatformAccepted || !last.DateCreated.Equal(storetest.T0) {
			t.Fatalf("audit: %d → %d rows, last %+v", before.changes, after.changes, last)
		}
		// The events, in the table's order, numbered after the bag's earlier ones.
		events, _ := s.FindEvents(ctx, o.ID, bag.ID)
		n := len(events)
		if after.events != before.events+2 || events[n-2].Type != tote.EventOrderAccepted || events[n-1].Type != tote.EventOrderUpdated {
			t.Fatalf("events: %d → %d, last %s, %s", before.events, after.events, events[n-2].Type, events[n-1].Type)
		}
		for i, e := range events {
			if e.Sequence != int64(i+1) {
				t.Fatalf("event %d of the bag has sequence %d", i+1, e.Sequence)
			}
		}
		if events[n-1].BagVersion != bag.Version || events[n-1].ID != res.Events[1].ID {
			t.Fatalf("event carries version %d (bag v%d), id %s (returned %s)", events[n-1].BagVersion, bag.Version, events[n-1].ID, res.Events[1].ID)
		}
		// The follow-up job.
		j, err := s.FindJobByID(ctx, res.JobIDs[0])
		if err != nil || j.Kind != "notify" || j.State != tote.JobStateAvailable {
			t.Fatalf("job: %+v, %v", j, err)
		}
	})
}

// TestOutcomeUnknownKeepsTheVersion: a bag whose submission outcome is
// unknown stays SUBMITTED and records no event, so its version, which a
// receiver checks deliveries against, does not move either.
func TestOutcomeUnknownKeepsTheVersion(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, open storetest.Opener) {
		ctx := context.Background()
		s := open(t)
		o := submitted(t, s)
		before := take(t, s, o.ID)
		later := &lifecycle.Service{Store: s, Clock: tote.ClockFunc(func() time.Time { return storetest.T0.Add(time.Minute) })}
		_, err := later.Apply(ctx, lifecycle.Command{OrderID: o.ID, BagID: o.Bags[0].ID,
			Run: func(st *tote.OrderState, b int) (tote.Outcome, error) { return st.BagOutcomeUnknown(b) }})
		if err != nil {
			t.Fatal(err)
		}
		after := take(t, s, o.ID)
		was, bag := before.order.Bags[0], after.order.Bags[0]
		if bag.Status != tote.BagStatusSubmitted || bag.Version != was.Version || !bag.DateLastModified.Equal(was.DateLastModified) {
			t.Fatalf("after an unknown outcome the bag is %s v%d modified %v; it was v%d modified %v",
				bag.Status, bag.Version, bag.DateLastModified, was.Version, was.DateLastModified)
		}
		if after.events != before.events {
			t.Fatalf("events: %d → %d", before.events, after.events)
		}
		// The next real change takes the next version.
		if _, err := later.Apply(ctx, accept(o, 0)); err != nil {
			t.Fatal(err)
		}
		if got := take(t, s, o.ID).order.Bags[0].Version; got != was.Version+1 {
			t.Fatalf("accepted: v%d, want v%d", got, was.Version+1)
		}
	})
}

// faultyStore is a real store whose transactions fail at InsertJobs, the
// last write of a command, to show the earlier writes roll back with it.
type faultyStore struct{ tote.Store }

type faultyTx struct{ tote.Tx }

var errInjected = errors.New("injected failure")

func (f faultyStore) InTx(ctx context.Context, fn func(tote.Tx) error) error {
	return f.Store.InTx(ctx, func(tx tote.Tx) error { return fn(faultyTx{tx}) })
}

func (faultyTx) InsertJobs(context.Context, []tote.JobParams) ([]int64, error) {
	return nil, errInjected
}

func TestApplyIsAllOrNothing(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, open storetest.Opener) {
		ctx := context.Background()
		s := open(t)
		o := submitted(t, s)
		before := take(t, s, o.ID)

		job := tote.JobParams{Kind: "notify", Args: []byte(`{}`), RunAt: storetest.T0, MaxAttempts: 3}
		_, err := svc(faultyStore{s}).Apply(ctx, accept(o, 0, job))
		if !errors.Is(err, errInjected) {
			t.Fatalf("err = %v, want the injected failure", err)
		}
		after := take(t, s, o.ID)
		if after.changes != before.changes || after.events != before.events {
			t.Fatalf("a failed command left %d audit rows and %d events behind", after.changes-before.changes, after.events-before.events)
		}
		if got := after.order.Bags[0]; got.Status != tote.BagStatusSubmitted || got.ExternalID != "" || got.Version != before.order.Bags[0].Version {
			t.Fatalf("bag changed by a failed command: %s %q v%d", got.Status, got.ExternalID, got.Version)
		}
	})
}

func TestApplyRefusals(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, open storetest.Opener) {
		ctx := context.Background()
		s := open(t)
		o := submitted(t, s)
		if _, err := svc(s).Apply(ctx, accept(o, 0)); err != nil {
			t.Fatal(err)
		}
		before := take(t, s, o.ID)

		// Accepting an accepted bag is not in the table.
		_, err := svc(s).Apply(ctx, accept(o, 0))
		if !errors.Is(err, tote.ErrInvalidTransition) || tote.ErrorCode(err) != tote.ECONFLICT {
			t.Fatalf("second accept: err = %v, want an invalid transition", err)
		}
		if msg := tote.ErrorMessage(err); !strings.Contains(msg, "ACCEPTED") || !strings.Contains(msg, string(tote.TriggerPlatformAccepted)) {
			t.Fatalf("message %q does not name the status and the trigger", msg)
		}
		// Another app's order does not exist for it.
		other := accept(o, 1)
		other.AppID = o.AppID + 1
		if _, err := svc(s).Apply(ctx, other); tote.ErrorCode(err) != tote.ENOTFOUND {
			t.Fatalf("another app's order: err = %v, want not found", err)
		}
		// A bag of another order.
		wrong := accept(o, 1)
		wrong.BagID = 1 << 40
		if _, err := svc(s).Apply(ctx, wrong); tote.ErrorCode(err) != tote.ENOTFOUND {
			t.Fatalf("unknown bag: err = %v, want not found", err)
		}
		after := take(t, s, o.ID)
		if after.changes != before.changes || after.events != before.events || after.order.Bags[1].Status != tote.BagStatusSubmitted {
			t.Fatal("a refused command wrote something")
		}
	})
}

// TestConcurrentAccept: two processes record the same acceptance at once
// (say, a platform's push and a reconciliation poll). Exactly one wins; the
// other is refused; the channel hears of the acceptance once.
func TestConcurrentAccept(t *testing.T) {
	t.Parallel()
	storetest.EachKind(t, func(t *testing.T, k storetest.Kind) {
		ctx := context.Background()
		a, b := k.Twin(t)
		o := submitted(t, a)
		for round := 0; round < 2; round++ { // both bags, each raced
			var wg sync.WaitGroup
			errs := make([]error, 2)
			for i, s := range []tote.Store{a, b} {
				wg.Go(func() { _, errs[i] = svc(s).Apply(ctx, accept(o, round)) })
			}
			wg.Wait()
			ok, refused := 0, 0
			for _, err := range errs {
				switch {
				case err == nil:
					ok++
				case errors.Is(err, tote.ErrInvalidTransition):
					refused++
				default:
					t.Fatalf("unexpected error: %v", err)
				}
			}
			if ok != 1 || refused != 1 {
				t.Fatalf("round %d: %d succeeded, %d refused; want 1 and 1", round, ok, refused)
			}
		}
		events, _ := a.FindEvents(ctx, o.ID, 0)
		accepted := 0
		for _, e := range events {
			if e.Type == tote.EventOrderAccepted {
				accepted++
			}
		}
		final := take(t, a, o.ID)
		if accepted != 2 || final.order.Bags[0].Status != tote.BagStatusAccepted || final.order.Bags[1].Status != tote.BagStatusAccepted {
			t.Fatalf("%d ORDER_ACCEPTED events for 2 bags; bags %s, %s", accepted, final.order.Bags[0].Status, final.order.Bags[1].Status)
		}
	})
}
