package submission

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/toteorg/tote"
	"github.com/toteorg/tote/lifecycle"
	"github.com/toteorg/tote/storetest"
)

// TestSettleSafetyNet: the job that accepts an order's last bag settles
// the order at once; when it cannot (the payment provider is down), the
// settle job written with the acceptance is made due at once, and settles
// the order.
func TestSettleSafetyNet(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, open storetest.Opener) {
		ctx := context.Background()
		s := open(t)
		var down atomic.Bool
		e, payments := paymentsEngine(t, s, func(h http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if down.Load() {
					http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
					return
				}
				h.ServeHTTP(w, r)
			})
		})
		e.PlatformTimeout = 100 * time.Millisecond

		app := storetest.App(t, s)
		o := storetest.Order(t, s, app.ID, 7) // one bag of 1000
		intent, err := payments.Authorize(ctx, tote.AuthorizeParams{Amount: o.Total, Currency: "USD", Token: "tok_visa", IdempotencyKey: "settle-test"})
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.Lifecycle.Apply(ctx, lifecycle.Command{OrderID: o.ID,
			Run: func(st *tote.OrderState, _ int) (tote.Outcome, error) {
				return merge(st.Submit, func() (tote.Outcome, error) { return st.Authorize(false) },
					func() (tote.Outcome, error) { return st.SubmitBag(0) })
			},
			Edit: func(c *lifecycle.Change) error {
				c.Order.Details.PaymentMethod = &tote.PaymentMethod{Token: "tok_visa", IntentID: intent.ID, PaymentProvider: tote.PaymentProviderSandbox}
				return nil
			}})
		if err != nil {
			t.Fatal(err)
		}

		down.Store(true)
		if err := e.accepted(ctx, o, o.Bags[0], &tote.PlatformRecord{ExternalID: "ext-1", Status: "ACCEPTED"}); err != nil {
			t.Fatalf("accepted: %v (a settlement that fails must not fail the acceptance)", err)
		}
		got, err := s.FindOrderByID(ctx, o.ID)
		if err != nil || got.Status == tote.OrderStatusCompleted || got.Bags[0].FinancialStatus == tote.FinancialStatusPaid {
			t.Fatalf("order %v, bag %v (%v): nothing can be captured while the provider is down", got.Status, got.Bags[0].FinancialStatus, err)
		}
		// The failed attempt is over, so the safety net is due now, not
		// after its grace.
		jobs, err := s.ClaimJobs(ctx, tote.ClaimJobsParams{Worker: "test", Kinds: []string{KindSettleOrder}, Limit: 10,
			Now: time.Now().Add(time.Second), Lease: time.Minute})
		if err != nil || len(jobs) != 1 {
			t.Fatalf("settle jobs due now: %d (%v), want the safety net", len(jobs), err)
		}

		down.Store(false)
		if err := e.settleOrder(ctx, jobs[0]); err != nil {
			t.Fatalf("settle job: %v", err)
		}
		got, err = s.FindOrderByID(ctx, o.ID)
		if err != nil || got.Status != tote.OrderStatusCompleted || got.Bags[0].FinancialStatus != tote.FinancialStatusPaid {
			t.Fatalf("after the settle job: order %v, bag %v (%v); want COMPLETED and PAID", got.Status, got.Bags[0].FinancialStatus, err)
		}
	})
}
