package submission

import (
	"context"
	"strings"
	"testing"

	"github.com/toteorg/tote"
	"github.com/toteorg/tote/lifecycle"
	"github.com/toteorg/tote/storetest"
)

// TestResubmitAbandoned: an order waiting for its shopper is left as it is
// while its payment intent still needs the shopper; once the intent can no
// longer be authorized (here voided: the shopper gave up), submitting again
// cancels the order with ORDER_FAILED, sends nothing, and answers 422.
func TestResubmitAbandoned(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, open storetest.Opener) {
		ctx := context.Background()
		s := open(t)
		e, payments := paymentsEngine(t, s, nil)

		app := storetest.App(t, s)
		o := storetest.Order(t, s, app.ID, 7)
		intent, err := payments.Authorize(ctx, tote.AuthorizeParams{Amount: o.Total, Currency: "USD", Token: "tok_threeDSecureRequired", IdempotencyKey: "resubmit-test"})
		if err != nil || intent.Status != tote.IntentRequiresAction {
			t.Fatalf("authorize: %+v, %v", intent, err)
		}
		_, err = e.Lifecycle.Apply(ctx, lifecycle.Command{OrderID: o.ID,
			Run: func(st *tote.OrderState, _ int) (tote.Outcome, error) { return merge(st.Submit, st.RequireAction) },
			Edit: func(c *lifecycle.Change) error {
				c.Order.Details.PaymentMethod = &tote.PaymentMethod{Token: "tok_threeDSecureRequired", IntentID: intent.ID, PaymentProvider: tote.PaymentProviderSandbox}
				c.Order.PaymentIntentClientSecret = intent.ClientSecret
				return nil
			}})
		if err != nil {
			t.Fatal(err)
		}

		other := storetest.App(t, s)
		if _, err := e.Resubmit(ctx, other, o.ID, ""); tote.ErrorCode(err) != tote.ENOTFOUND {
			t.Fatalf("another app's resubmit: %v, want not found", err)
		}
		waiting, err := e.Resubmit(ctx, app, o.ID, "")
		if err != nil || waiting.Status != tote.OrderStatusRequiresAction {
			t.Fatalf("resubmit before the shopper acted: %v, %v", waiting, err)
		}

		if _, err := payments.Void(ctx, intent.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Resubmit(ctx, app, o.ID, ""); tote.ErrorCode(err) != tote.EREJECTED {
			t.Fatalf("resubmit after the shopper gave up: %v, want rejected", err)
		}
		got, err := s.FindOrderByID(ctx, o.ID)
		if err != nil || got.Status != tote.OrderStatusCanceled || got.Bags[0].Status != tote.BagStatusInProgress || got.Bags[0].SubmitAttempts != 0 {
			t.Fatalf("after the shopper gave up: order %v, bag %v (%d attempts), %v", got.Status, got.Bags[0].Status, got.Bags[0].SubmitAttempts, err)
		}
		if n := len(got.Errors); n != 1 || got.Errors[0].Type != tote.ErrorTypeExternalSetPaymentMethod || !strings.Contains(got.Errors[0].Message, "VOIDED") {
			t.Fatalf("after the shopper gave up: errors %+v, want one saying the payment was not authorized", got.Errors)
		}
		events, err := s.FindEvents(ctx, o.ID, 0)
		if err != nil {
			t.Fatal(err)
		}
		var failed int
		for _, ev := range events {
			if ev.Type == tote.EventOrderFailed {
				failed++
			}
		}
		if failed == 0 {
			t.Fatalf("events %v: want ORDER_FAILED", events)
		}
		if _, err := e.Resubmit(ctx, app, o.ID, ""); tote.ErrorCode(err) != tote.ECONFLICT {
			t.Fatalf("resubmit of a canceled order: %v, want conflict", err)
		}
	})
}
