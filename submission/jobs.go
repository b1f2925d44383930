package submission

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/toteorg/tote"
	"github.com/toteorg/tote/job"
	"github.com/toteorg/tote/lifecycle"
)

// submitBag is one attempt to place a bag on its platform. The bag is
// marked SUBMITTED (and the attempt counted) before the platform is called,
// so that after a crash or a timeout the next attempt knows the order may
// exist and asks the platform by the bag's reference before sending again.
func (e *Engine) submitBag(ctx context.Context, j *tote.Job) error {
	var args bagArgs
	if err := json.Unmarshal(j.Args, &args); err != nil {
		return job.Permanent(err)
	}
	o, err := e.Store.FindOrderByID(ctx, args.OrderID)
	if err != nil {
		return err
	}
	bag := findBag(o, args.BagID)
	if bag == nil {
		return job.Permanent(fmt.Errorf("bag %d is not in order %d", args.BagID, args.OrderID))
	}
	switch {
	case bag.Status == tote.BagStatusSubmitted && j.Attempt == 1 && bag.SubmitAttempts == 1:
		// The order was created with the bag marked SUBMITTED and this
		// job starts for the first time: nothing was sent yet.
	case bag.Status == tote.BagStatusSubmitted:
		// The last attempt's outcome is unknown: ask before sending again.
		rec, err := e.Platform.Lookup(ctx, bag.MerchantID, bag.Reference)
		if err == nil {
			return e.recorded(ctx, j, o, bag, rec)
		} else if !errors.Is(err, tote.ErrNotFound) {
			return err // the platform cannot say yet; ask again later
		}
		if bag.SubmitAttempts >= e.maxAttempts() {
			return e.rejected(ctx, o, bag, &tote.PlatformError{Kind: tote.PlatformRejected, Type: tote.ErrorTypeExternalSubmitCart,
				Message: fmt.Sprintf("The platform did not take the order after %d attempts.", bag.SubmitAttempts)})
		}
		if _, err := e.Lifecycle.Apply(ctx, lifecycle.Command{OrderID: o.ID, BagID: bag.ID, Edit: countAttempt}); err != nil {
			return err
		}
		bag.SubmitAttempts++
	case bag.Status == tote.BagStatusInProgress:
		res, err := e.Lifecycle.Apply(ctx, lifecycle.Command{OrderID: o.ID, BagID: bag.ID,
			Run:  func(st *tote.OrderState, i int) (tote.Outcome, error) { return st.SubmitBag(i) },
			Edit: countAttempt,
		})
		if err != nil {
			return err
		}
		o, bag = res.Order, findBag(res.Order, bag.ID)
	default:
		return nil // settled already: a duplicate job
	}

	rec, err := e.Platform.Submit(ctx, platformOrder(o, bag))
	var perr *tote.PlatformError
	switch {
	case err == nil:
		return e.recorded(ctx, j, o, bag, rec)
	case errors.As(err, &perr) && perr.Kind == tote.PlatformRejected:
		return e.rejected(ctx, o, bag, perr)
	case errors.As(err, &perr) && perr.Kind == tote.PlatformUnknown:
		e.Log.Warn("bag submission outcome unknown; will ask the platform before resending",
			"order_id", o.ID, "bag_id", bag.ID, "attempt", bag.SubmitAttempts, "err", err)
		_, aerr := e.Lifecycle.Apply(ctx, lifecycle.Command{OrderID: o.ID, BagID: bag.ID,
			Run: func(st *tote.OrderState, i int) (tote.Outcome, error) { return st.BagOutcomeUnknown(i) }})
		return job.RetryAfter(e.retryDelay(bag.SubmitAttempts), errors.Join(err, aerr))
	default:
		if perr == nil {
			perr = &tote.PlatformError{Kind: tote.PlatformRetryable, Type: tote.ErrorTypeExternalSubmitCart, Message: err.Error()}
		}
		if bag.SubmitAttempts >= e.maxAttempts() {
			perr.Message = fmt.Sprintf("Rejected after %d attempts; last: %s", bag.SubmitAttempts, perr.Message)
			return e.rejected(ctx, o, bag, perr)
		}
		_, aerr := e.Lifecycle.Apply(ctx, lifecycle.Command{OrderID: o.ID, BagID: bag.ID,
			Run: func(st *tote.OrderState, i int) (tote.Outcome, error) { return st.BagRetryableFailure(i) },
			Edit: func(c *lifecycle.Change) error {
				c.Order.Errors = append(c.Order.Errors, bagError(c, perr, fmt.Sprintf("Attempt %d failed; retrying: %s", bag.SubmitAttempts, perr.Message)))
				return nil
			}})
		if aerr != nil {
			return aerr
		}
		delay := e.retryDelay(bag.SubmitAttempts)
		if perr.RetryAfter > delay {
			delay = perr.RetryAfter
		}
		return job.RetryAfter(delay, err)
	}
}

// recorded acts on the platform's record of the bag's order: accepted (or
// backordered), taken but not yet confirmed, or, for any other status, not
// placed.
func (e *Engine) recorded(ctx context.Context, j *tote.Job, o *tote.Order, bag *tote.Bag, rec *tote.PlatformRecord) error {
	switch rec.Status {
	case string(tote.BagStatusAccepted), string(tote.BagStatusBackordered):
		return e.accepted(ctx, o, bag, rec)
	case tote.PlatformStatusPending:
		return e.pending(j)
	default:
		return e.rejected(ctx, o, bag, &tote.PlatformError{Kind: tote.PlatformRejected, Type: tote.ErrorTypeExternalSubmitCart,
			Message: fmt.Sprintf("The platform holds the order with status %q, not an accepted one.", rec.Status)})
	}
}

// pending puts the job back while the platform has taken the bag's order
// but not confirmed it (a cartless platform): the bag stays SUBMITTED, and
// the job's next run, past its first, asks the platform by reference
// before anything else.
func (e *Engine) pending(j *tote.Job) error {
	return job.Snooze(e.pendingDelay(j.Attempt), "the platform has taken the order but not confirmed it yet")
}

// pendingDelay is the wait before the attempt-th look at a bag the platform
// has not confirmed: soon at first, then twice as long each time, up to
// Reconcile (each wait within a quarter of its value, the backoff's jitter).
func (e *Engine) pendingDelay(attempt int) time.Duration {
	return job.ExponentialBackoff(pendingPoll, cmpOr(e.Reconcile, 5*time.Minute))(attempt)
}

const pendingPoll = 250 * time.Millisecond

func countAttempt(c *lifecycle.Change) error {
	c.Bag.SubmitAttempts++
	c.Bag.DateSubmitted = &c.Now
	return nil
}

func findBag(o *tote.Order, id int64) *tote.Bag {
	for _, b := range o.Bags {
		if b.ID == id {
			return b
		}
	}
	return nil
}

func bagError(c *lifecycle.Change, perr *tote.PlatformError, message string) *tote.OrderError {
	e := &tote.OrderError{
		BagID: c.Bag.ID, EntityType: "BAG", EntityID: fmt.Sprint(c.Bag.ID), Type: cmpOr(perr.Type, tote.ErrorTypeExternalSubmitCart),
		Message: message, ExternalPlatform: c.Bag.Platform, DateCreated: c.Now,
	}
	if perr.SkuID != 0 { // an item refused: the error is the SKU's
		e.EntityType, e.EntityID = "SKU", fmt.Sprint(perr.SkuID)
	}
	return e
}

// settleWhenDone adds the settle job when this change settled the last bag,
// and returns its index among the change's jobs (-1 when it added none).
// The job is the safety net: the change's caller settles the order at once
// (settleNow), and the job, due only after that attempt has had all the
// time it can take, is completed by the settlement; it runs only if the
// settlement did not happen (the process died; the provider was down,
// and then settleNow makes it due at once).
func (e *Engine) settleWhenDone(c *lifecycle.Change) int {
	for _, b := range c.State.Bags {
		if !b.Status.IsSettled() {
			return -1
		}
	}
	c.Jobs = append(c.Jobs, jobParams(KindSettleOrder, orderArgs{c.Order.ID}, c.Now.Add(e.settleGrace()), unlimited))
	return len(c.Jobs) - 1
}

// settleGrace is how long the settle job waits for the settlement made
// right after the last bag settled: longer than the submit job that makes
// it may run.
func (e *Engine) settleGrace() time.Duration { return e.submitTimeout() + 5*time.Second }

// settleNow settles the order of a change that settled its last bag (its
// settle job is res.JobIDs[job]; job < 0 when the change settled nothing).
// When that fails, the attempt is over: the settle job is made due now.
func (e *Engine) settleNow(ctx context.Context, res *lifecycle.Result, job int) {
	if job < 0 {
		return
	}
	safetyNet := res.JobIDs[job]
	err := e.settle(ctx, res.Order, []int64{safetyNet})
	if err == nil {
		return
	}
	e.Log.Warn("settling the order failed; its settle job will try again", "order_id", res.Order.ID, "err", err)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	now := e.Clock.Now()
	if derr := e.Store.InTx(ctx, func(tx tote.Tx) error { return tx.DueJobs(ctx, []int64{safetyNet}, now) }); derr != nil {
		e.Log.Warn("could not bring the settle job forward; it runs at its time", "order_id", res.Order.ID, "err", derr)
	}
}

func (e *Engine) accepted(ctx context.Context, o *tote.Order, bag *tote.Bag, rec *tote.PlatformRecord) error {
	settleJob := -1
	res, err := e.Lifecycle.Apply(ctx, lifecycle.Command{OrderID: o.ID, BagID: bag.ID,
		Run: func(st *tote.OrderState, i int) (tote.Outcome, error) {
			if rec.Status == string(tote.BagStatusBackordered) {
				return merge(func() (tote.Outcome, error) { return st.BagAccepted(i) }, func() (tote.Outcome, error) { return st.BagBackordered(i) })
			}
			return st.BagAccepted(i)
		},
		Edit: func(c *lifecycle.Change) error {
			c.Bag.ExternalID, c.Bag.DateLastConsolidated = rec.ExternalID, &c.Now
			settleJob = e.settleWhenDone(c)
			return nil
		}})
	if err != nil {
		return err
	}
	e.settleNow(ctx, res, settleJob)
	return nil
}

// rejected records a final rejection. In an order with other live bags,
// the rejected bag drops out of the order's totals (and so of the charge).
func (e *Engine) rejected(ctx context.Context, o *tote.Order, bag *tote.Bag, perr *tote.PlatformError) error {
	settleJob := -1
	res, err := e.Lifecycle.Apply(ctx, lifecycle.Command{OrderID: o.ID, BagID: bag.ID,
		Run: func(st *tote.OrderState, i int) (tote.Outcome, error) { return st.BagRejected(i) },
		Edit: func(c *lifecycle.Change) error {
			c.Order.Errors = append(c.Order.Errors, bagError(c, perr, perr.Message))
			var live []*tote.Bag
			for _, b := range c.Order.Bags {
				if b.Status != tote.BagStatusRejected {
					live = append(live, b)
				}
			}
			if len(live) == 0 { // nothing left to charge: the order shows what was asked
				live = c.Order.Bags
			}
			o := c.Order
			o.SubTotal, o.ShippingTotal, o.TaxTotal, o.Total = 0, 0, 0, 0
			for _, b := range live {
				o.SubTotal += b.SubTotal
				o.ShippingTotal += b.ShippingTotal
				o.TaxTotal += b.TaxTotal
				o.Total += b.Total
			}
			o.DateLastModified = c.Now
			settleJob = e.settleWhenDone(c)
			return nil
		}})
	if err != nil {
		return err
	}
	e.settleNow(ctx, res, settleJob)
	return nil
}

// settleOrder takes the payment once every bag has settled: it captures
// what the accepted bags owe and releases the rest, or releases everything
// when no bag was accepted. A failed capture sends the order back to
// IN_PROGRESS with its payment method removed (LIFECYCLE.md).
func (e *Engine) settleOrder(ctx context.Context, j *tote.Job) error {
	var args orderArgs
	if err := json.Unmarshal(j.Args, &args); err != nil {
		return job.Permanent(err)
	}
	o, err := e.Store.FindOrderByID(ctx, args.OrderID)
	if err != nil {
		return err
	}
	return e.settle(ctx, o, nil)
}

// settle settles order o as it stands (read, not changed). done are jobs
// the settlement makes unnecessary (the settle job, when settling at once):
// they are completed with it.
func (e *Engine) settle(ctx context.Context, o *tote.Order, done []int64) error {
	if o.Details.PaymentMethod == nil || o.Details.PaymentMethod.IntentID == "" {
		return job.Permanent(fmt.Errorf("order %d has no authorized payment to settle", o.ID))
	}
	intentID := o.Details.PaymentMethod.IntentID
	st := tote.OrderState{Status: o.Status}
	for _, b := range o.Bags {
		st.Bags = append(st.Bags, tote.BagState{Status: b.Status, Financial: b.FinancialStatus, Total: b.Total})
	}
	due := tote.CaptureAmount(st.Bags)
	switch {
	case o.Status == tote.OrderStatusRejected || o.Status == tote.OrderStatusCanceled:
		if !holdsAuthorization(o) {
			return nil // released already
		}
		if _, err := e.Payments.Void(ctx, intentID); err != nil {
			return err
		}
		_, err := e.Lifecycle.Apply(ctx, lifecycle.Command{OrderID: o.ID, CompleteJobs: done,
			Run: func(st *tote.OrderState, _ int) (tote.Outcome, error) { return st.VoidAuthorization() },
			Edit: func(c *lifecycle.Change) error {
				for _, b := range c.Order.Bags {
					c.Order.Transactions = append(c.Order.Transactions, transaction(c, b, tote.TransactionVoid, b.Total, intentID))
				}
				return nil
			}})
		return err
	case o.Status != tote.OrderStatusProcessing && o.Status != tote.OrderStatusAccepted || due == 0:
		return nil // captured already
	}

	intent, err := e.Payments.Capture(ctx, intentID, due)
	var perr *tote.PaymentError
	if errors.As(err, &perr) && perr.Declined {
		_, err := e.Lifecycle.Apply(ctx, lifecycle.Command{OrderID: o.ID, CompleteJobs: done,
			Run: func(st *tote.OrderState, _ int) (tote.Outcome, error) { return st.CaptureFailed() },
			Edit: func(c *lifecycle.Change) error {
				for i, b := range c.Order.Bags {
					if i < len(st.Bags) && st.Bags[i].Chargeable() {
						// The capture the bag owed, refused.
						failed := transaction(c, b, tote.TransactionCapture, b.Total, intentID)
						failed.Status = tote.TransactionFailed
						c.Order.Transactions = append(c.Order.Transactions, failed)
					}
					if b.FinancialStatus == tote.FinancialStatusVoided {
						c.Order.Transactions = append(c.Order.Transactions, transaction(c, b, tote.TransactionVoid, b.Total, intentID))
					}
				}
				c.Order.Errors = append(c.Order.Errors, &tote.OrderError{EntityType: "ORDER", EntityID: fmt.Sprint(c.Order.ID),
					Type: tote.ErrorTypeExternalSetPaymentMethod, Message: "Capture failed: " + strings.TrimSuffix(perr.Message, ".") + ". No payment method on Cart.", DateCreated: c.Now})
				// The payment method is removed; its intent id stays, so the
				// hold can still be found.
				c.Order.Details.PaymentMethod.Token = ""
				return nil
			}})
		return err
	} else if err != nil {
		return err // unreachable provider: try again
	}
	_, err = e.Lifecycle.Apply(ctx, lifecycle.Command{OrderID: o.ID, CompleteJobs: done,
		Run: func(st *tote.OrderState, _ int) (tote.Outcome, error) { return st.Capture(intent.AmountCaptured) },
		Edit: func(c *lifecycle.Change) error {
			for _, b := range c.Order.Bags {
				switch {
				case b.FinancialStatus == tote.FinancialStatusPaid || b.FinancialStatus == tote.FinancialStatusPartiallyPaid:
					c.Order.Transactions = append(c.Order.Transactions, transaction(c, b, tote.TransactionCapture, b.Captured, intentID))
				case b.FinancialStatus == tote.FinancialStatusVoided:
					c.Order.Transactions = append(c.Order.Transactions, transaction(c, b, tote.TransactionVoid, b.Total, intentID))
				}
			}
			return nil
		}})
	return err
}

func holdsAuthorization(o *tote.Order) bool {
	for _, b := range o.Bags {
		if b.FinancialStatus.HoldsAuthorization() {
			return true
		}
	}
	return false
}

func transaction(c *lifecycle.Change, b *tote.Bag, typ string, amount int64, intentID string) *tote.PaymentTransaction {
	return &tote.PaymentTransaction{BagID: b.ID, Type: typ, Amount: amount, Currency: b.Currency, Status: tote.TransactionCompleted,
		PaymentProvider: tote.PaymentProviderSandbox, PaymentProviderTransactionID: intentID, DateCreated: c.Now}
}

// platformOrder is the bag as its platform is sent it.
func platformOrder(o *tote.Order, b *tote.Bag) tote.PlatformOrder {
	p := tote.PlatformOrder{
		MerchantID: b.MerchantID, Reference: b.Reference, Currency: b.Currency,
		ShippingTotal: b.ShippingTotal, TaxTotal: b.TaxTotal, Total: b.Total,
		Customer: o.Details.Customer, ShippingAddress: o.Details.ShippingAddress,
	}
	for _, l := range b.Skus {
		p.Lines = append(p.Lines, tote.PlatformLine{SkuID: l.SkuID, Name: l.Name, Quantity: l.Quantity, Price: l.Price})
	}
	return p
}
