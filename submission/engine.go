// Package submission places orders: it prices a Direct Order Submission
// against the catalog, authorizes the payment, creates the order and sends
// each bag to its merchant's platform through durable jobs, retries what
// can be retried, resolves unknown outcomes by asking the platform before
// any resubmission, and captures what the accepted bags owe once every bag
// has settled. It follows spec/LIFECYCLE.md; every status change goes
// through lifecycle.Service.
package submission

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/toteorg/tote"
	"github.com/toteorg/tote/job"
	"github.com/toteorg/tote/lifecycle"
)

// Job kinds.
const (
	KindSubmitBag   = "submit_bag"
	KindSettleOrder = "settle_order"
)

// Engine runs submissions.
type Engine struct {
	Store     tote.Store
	Clock     tote.Clock
	Lifecycle *lifecycle.Service
	Platform  tote.Platform
	Payments  tote.PaymentProvider
	Log       *slog.Logger
	// MaxAttempts is how many times a bag is sent before it is rejected
	// (default 5).
	MaxAttempts int
	// RetryDelay is the first wait before a bag is sent again, doubling
	// with each attempt (default 2s).
	RetryDelay time.Duration
	// Wait bounds how long PlaceOrder waits for each bag's first attempt
	// (default 10s). Retries go on in the background after it answers.
	Wait time.Duration
	// PlatformTimeout bounds one platform call; the submit job's own
	// timeout is derived from it (default 10s).
	PlatformTimeout time.Duration
	// Reconcile is the longest wait between two checks of a bag against
	// its platform (--reconcile-interval, default 5m). A bag whose order
	// the platform has taken without confirming it is asked about after
	// 250ms, then twice as long each time, up to this.
	Reconcile time.Duration

	waitMu  sync.Mutex
	waiters map[string][]chan *tote.Order // by waitKey
}

func (e *Engine) maxAttempts() int { return cmpOr(e.MaxAttempts, 5) }

func (e *Engine) retryDelay(attempt int) time.Duration {
	return job.ExponentialBackoff(cmpOr(e.RetryDelay, 2*time.Second), 10*time.Minute)(attempt)
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// Register adds the engine's job kinds to a runner, and has the lifecycle
// service tell the engine of every commit (for the requests waiting on
// their orders).
func (e *Engine) Register(r *job.Runner) {
	r.Handle(KindSubmitBag, e.submitBag, e.submitTimeout())
	r.Handle(KindSettleOrder, e.settleOrder, 2*cmpOr(e.PlatformTimeout, 10*time.Second))
	if prev := e.Lifecycle.Committed; prev != nil {
		e.Lifecycle.Committed = func(res *lifecycle.Result) { prev(res); e.committed(res) }
	} else {
		e.Lifecycle.Committed = e.committed
	}
}

// submitTimeout bounds one run of a submit job: a lookup, a submit, and the
// settlement when its bag was the last to settle (a payment call, given
// settleBudget).
func (e *Engine) submitTimeout() time.Duration {
	return 2*cmpOr(e.PlatformTimeout, 10*time.Second) + settleBudget
}

// settleBudget is the part of a submit job's time kept for settling its
// order: the payment provider's call (10 s at most by default) and the
// commands around it.
const settleBudget = 15 * time.Second

// unlimited is the attempt budget of the submission jobs: they must not be
// discarded while their bag or order is unsettled (the bag's own attempts
// are counted on the bag; a job attempt may only have asked a platform that
// did not answer). Their backoff is capped, so they keep trying.
const unlimited = 1 << 30

type bagArgs struct {
	OrderID int64 `json:"order_id"`
	BagID   int64 `json:"bag_id"`
}

type orderArgs struct {
	OrderID int64 `json:"order_id"`
}

func jobParams(kind string, args any, runAt time.Time, attempts int) tote.JobParams {
	b, _ := json.Marshal(args)
	return tote.JobParams{Kind: kind, Args: b, RunAt: runAt, MaxAttempts: attempts}
}

// ErrOrderRejected is returned, with the order, by PlaceOrder when every
// bag of the order was rejected (a single-merchant order's only bag, say):
// the API answers 422. A partial rejection is a 200 with errors[].
var ErrOrderRejected = errors.New("every bag of the order was rejected")

// Estimate is one merchant's part of an estimate.
type Estimate struct {
	Bag             *tote.Bag
	ShippingMethods []*tote.ShippingMethod // offered for the bag's subtotal
}

// Estimate prices SKUs, grouped into one bag per merchant, without
// persisting anything. A bag with SKUs that ship is priced with its
// cheapest offered method; a bag with nothing to ship, or no method
// offered for its subtotal, without shipping.
func (e *Engine) Estimate(ctx context.Context, currency string, shipTo *tote.Address, skus []SkuRequest) ([]Estimate, error) {
	currency = cmpOr(currency, "USD")
	var bad fields
	if !tote.ValidCurrency(currency) {
		bad.add("base_currency", "is not an ISO 4217 currency")
	}
	if shipTo == nil {
		bad.add("shipping_address", "is required")
	} else {
		bad = append(bad, validateAddress("shipping_address", shipTo)...)
	}
	if len(skus) == 0 {
		bad.add("skus", "must have at least one SKU")
	}
	if err := bad.err(); err != nil {
		return nil, err
	}
	// Group by merchant, in the order merchants first appear.
	var reqs []BagRequest
	index := map[int64]int{}
	var positions [][]int // each bag's SKUs' places in skus
	var ships []bool      // whether a bag has a SKU that ships
	for i, sr := range skus {
		if sr.Quantity < MinQuantity || sr.Quantity > MaxQuantity {
			bad.add(fmt.Sprintf("skus[%d].quantity", i), "must be between %d and %d", MinQuantity, MaxQuantity)
		}
		sku, err := e.Store.FindSKUByID(ctx, sr.SkuID)
		if errors.Is(err, tote.ErrNotFound) {
			bad.add(fmt.Sprintf("skus[%d].sku_id", i), "no SKU %d", sr.SkuID)
			continue
		} else if err != nil {
			return nil, err
		}
		n, ok := index[sku.MerchantID]
		if !ok {
			n = len(reqs)
			index[sku.MerchantID] = n
			reqs = append(reqs, BagRequest{MerchantID: sku.MerchantID})
			positions = append(positions, nil)
			ships = append(ships, false)
		}
		ships[n] = ships[n] || sku.RequiresShipping
		reqs[n].Skus = append(reqs[n].Skus, sr)
		positions[n] = append(positions[n], i)
	}
	if err := bad.err(); err != nil {
		return nil, err
	}
	// Price once without shipping to learn the subtotals, pick the
	// cheapest method offered for each, then price for real.
	var out []Estimate
	for i := range reqs {
		reqs[i].ShippingLabel, reqs[i].ShippingPrice = "none", new(int64)
	}
	priced, more, err := priceBags(ctx, e.Store, currency, shipTo, reqs)
	if err != nil {
		return nil, err
	}
	if len(more) > 0 {
		return nil, renameFields(more, positions)
	}
	for i, b := range priced {
		methods, err := e.Store.FindShippingMethods(ctx, b.MerchantID)
		if err != nil {
			return nil, err
		}
		est := Estimate{}
		var cheapest *tote.ShippingMethod
		for _, m := range methods {
			if m.MinSubtotal != nil && b.SubTotal < *m.MinSubtotal || m.MaxSubtotal != nil && b.SubTotal > *m.MaxSubtotal {
				continue
			}
			est.ShippingMethods = append(est.ShippingMethods, m)
			if cheapest == nil || m.Price < cheapest.Price {
				cheapest = m
			}
		}
		// A bag that ships is priced with its cheapest method; one with
		// nothing to ship, or none offered for it (its cart says so:
		// has_shipping_methods false), without shipping.
		if ships[i] && cheapest != nil {
			reqs[i].ShippingLabel, reqs[i].ShippingPrice, reqs[i].ShippingMethodID = "", nil, cheapest.ID
		}
		out = append(out, est)
	}
	priced, more, err = priceBags(ctx, e.Store, currency, shipTo, reqs)
	if err != nil {
		return nil, err
	}
	if len(more) > 0 {
		return nil, renameFields(more, positions)
	}
	for i := range out {
		out[i].Bag = priced[i]
	}
	return out, nil
}

// renameFields words the errors of an estimate's bags for its flat skus
// list: order.bags[n].skus[m].f is the SKU at positions[n][m], skus[i].f;
// anything else of order.bags[n] is named by the bag's first SKU.
func renameFields(bad fields, positions [][]int) error {
	out := make(fields, len(bad))
	for k, f := range bad {
		if m := bagField.FindStringSubmatch(f.Field); m != nil {
			n, _ := strconv.Atoi(m[1])
			j, _ := strconv.Atoi(cmpOr(m[2], "0"))
			if n < len(positions) && j < len(positions[n]) {
				f.Field = fmt.Sprintf("skus[%d]", positions[n][j])
				if m[2] != "" {
					f.Field += m[3]
				}
			}
		}
		out[k] = f
	}
	return out.err()
}

var bagField = regexp.MustCompile(`^order\.bags\[(\d+)\](?:\.skus\[(\d+)\])?(.*)$`)

// PlaceOrder creates and submits an order (Direct Order Submission). It
// answers once each bag has had its first attempt (or Wait passed), with
// the order as it stands. Bad input is EINVALID naming each field and
// leaves nothing behind; so does a declined card. An order whose bags were
// all rejected is returned with ErrOrderRejected.
func (e *Engine) PlaceOrder(ctx context.Context, app *tote.App, r *OrderRequest) (*tote.Order, error) {
	r.Currency = cmpOr(r.Currency, "USD")
	bad := validateShopper(r)
	if !tote.ValidCurrency(r.Currency) {
		bad.add("order.currency", "is not an ISO 4217 currency")
	}
	bags, more, err := priceBags(ctx, e.Store, r.Currency, r.ShippingAddress, r.Bags)
	if err != nil {
		return nil, err
	}
	bad = append(bad, more...)
	for i, b := range bags {
		if b.Total <= 0 {
			// Nothing to authorize or capture: the payment steps cannot
			// settle such a bag (free orders are not supported yet).
			bad.add(fmt.Sprintf("order.bags[%d]", i), "must cost something: its total is %d", b.Total)
		}
	}
	if err := bad.err(); err != nil {
		return nil, err
	}
	if r.IdempotencyKey != "" {
		o, err := e.Store.FindOrderByIdempotencyKey(ctx, app.ID, r.IdempotencyKey)
		if err == nil && e.Clock.Now().Sub(o.DateCreated) > tote.IdempotencyKeyTTL {
			return nil, tote.Errorf(tote.ECONFLICT, "Idempotency-Key %q placed order %d more than 24 hours ago; use a new key.", r.IdempotencyKey, o.ID)
		} else if err == nil {
			return e.answer(o)
		} else if !errors.Is(err, tote.ErrNotFound) {
			return nil, err
		}
	}

	now := lifecycle.Now(e.Clock)
	o := &tote.Order{
		AppID: app.ID, AppOrderID: r.AppOrderID, ReferralID: r.ReferralID, IdempotencyKey: r.IdempotencyKey,
		Status: tote.OrderStatusInProgress, Currency: r.Currency, DateCreated: now, DateLastModified: now,
		Details: tote.OrderDetails{
			Customer: &r.Customer, ShippingAddress: r.ShippingAddress, BillingAddress: r.BillingAddress,
			PaymentMethod: &tote.PaymentMethod{Token: r.PaymentMethod.Token, PaymentProvider: tote.PaymentProviderSandbox},
		},
	}
	if o.Details.BillingAddress == nil {
		o.Details.BillingAddress = r.ShippingAddress
	}
	for _, b := range bags {
		b.Status, b.FinancialStatus, b.FulfillmentStatus = tote.BagStatusInProgress, tote.FinancialStatusUnpaid, tote.FulfillmentStatusProcessing
		b.Version, b.DateCreated, b.DateLastModified = 1, now, now
		b.Reference = "tote_bag_" + uuid.Must(uuid.NewV7()).String()
		if b.CommissionRate < 0 {
			b.CommissionRate = app.CommissionRate
		}
		o.Bags = append(o.Bags, b)
		o.SubTotal += b.SubTotal
		o.ShippingTotal += b.ShippingTotal
		o.TaxTotal += b.TaxTotal
		o.Total += b.Total
	}

	// The hold comes before anything goes to a merchant. Its idempotency
	// key makes a retried request reuse the same hold.
	payKey := paymentKey(app.ID, cmpOr(r.IdempotencyKey, uuid.Must(uuid.NewV7()).String()))
	// From here the client leaving must not strand a hold without an
	// order: authorize and create run to the end.
	ctx = context.WithoutCancel(ctx)
	intent, err := e.Payments.Authorize(ctx, tote.AuthorizeParams{Amount: o.Total, Currency: o.Currency, Token: r.PaymentMethod.Token, IdempotencyKey: payKey})
	var perr *tote.PaymentError
	if errors.As(err, &perr) && perr.Declined {
		return nil, tote.Invalid(tote.FieldError{Field: "payment_method.token", Message: "was declined: " + perr.Message})
	} else if err != nil {
		return nil, &tote.Error{Code: tote.EUNAVAILABLE, Message: "The payment provider could not be reached; nothing was charged or submitted. Retry later.", Err: err}
	}
	o.Details.PaymentMethod.IntentID = intent.ID

	var cmd lifecycle.Command
	if intent.Status == tote.IntentRequiresAction {
		cmd.Run = func(st *tote.OrderState, _ int) (tote.Outcome, error) {
			return merge(st.Submit, st.RequireAction)
		}
		cmd.Edit = func(c *lifecycle.Change) error {
			c.Order.DateSubmitted = &c.Now
			c.Order.PaymentIntentClientSecret = intent.ClientSecret
			return nil
		}
	} else {
		cmd = sendBags(intent.ID, (*tote.OrderState).Submit)
		send := cmd.Edit
		cmd.Edit = func(c *lifecycle.Change) error {
			c.Order.DateSubmitted = &c.Now
			return send(c)
		}
	}
	cmd.AppID = app.ID
	// Listen before the order exists, so no commit of its jobs can come
	// before the request listens.
	key := waitKey(o)
	ch := e.subscribe(key)
	defer e.unsubscribe(key, ch)
	res, err := e.Lifecycle.Create(ctx, o, cmd)
	if tote.ErrorCode(err) == tote.ECONFLICT && r.IdempotencyKey != "" {
		// A concurrent request with the same key won the race.
		existing, ferr := e.Store.FindOrderByIdempotencyKey(ctx, app.ID, r.IdempotencyKey)
		if ferr == nil {
			return e.answer(existing)
		}
	}
	if err != nil {
		// No order holds the authorization: release it.
		if _, verr := e.Payments.Void(ctx, intent.ID); verr != nil {
			e.Log.Error("void the authorization of an order that was not created", "intent", intent.ID, "err", verr)
		}
		return nil, err
	}
	if intent.Status == tote.IntentRequiresAction {
		return res.Order, nil
	}
	o, err = e.waitFirstAttempts(ctx, res.Order, ch)
	if err != nil {
		return nil, err
	}
	return e.answer(o)
}

// sendBags is the command that sends an order's bags to their merchants,
// after first, the order's own step (Submit for a new order, CompleteAction
// for one that waited for its shopper): the hold, intentID, recorded for
// every bag; the bags marked SUBMITTED with their first attempt counted; and
// a job per bag that sends it, all bags at once. A job that starts for the
// first time knows nothing was sent yet.
func sendBags(intentID string, first func(*tote.OrderState) (tote.Outcome, error)) lifecycle.Command {
	return lifecycle.Command{
		Run: func(st *tote.OrderState, _ int) (tote.Outcome, error) {
			steps := []func() (tote.Outcome, error){
				func() (tote.Outcome, error) { return first(st) },
				func() (tote.Outcome, error) { return st.Authorize(false) },
			}
			for i := range st.Bags {
				steps = append(steps, func() (tote.Outcome, error) { return st.SubmitBag(i) })
			}
			return merge(steps...)
		},
		Edit: func(c *lifecycle.Change) error {
			for _, b := range c.Order.Bags {
				b.SubmitAttempts, b.DateSubmitted = 1, &c.Now
				c.Order.Transactions = append(c.Order.Transactions, &tote.PaymentTransaction{
					BagID: b.ID, Type: tote.TransactionAuthorization, Amount: b.Total, Currency: b.Currency,
					Status: tote.TransactionCompleted, PaymentProvider: tote.PaymentProviderSandbox,
					PaymentProviderTransactionID: intentID, DateCreated: c.Now,
				})
				c.Jobs = append(c.Jobs, jobParams(KindSubmitBag, bagArgs{c.Order.ID, b.ID}, c.Now, unlimited))
			}
			return nil
		},
	}
}

// Resubmit submits an order again (POST /v1/checkout/cart/{id}/submit). An
// order waiting for its shopper (REQUIRES_ACTION) goes on once the shopper
// has completed the action, i.e. once its payment intent is authorized:
// REQUIRES_ACTION → PROCESSING (date_submitted now, app_order_id set when
// given), then its bags go to their merchants and the answer comes as
// PlaceOrder's does. While the intent still waits for the shopper, the
// order is answered as it is, nothing changed (app_order_id not applied).
// An intent that failed or was voided means the shopper abandoned the
// action: the order is CANCELED (ORDER_FAILED) with an error entry saying
// so, and the answer is an EREJECTED error. Any other intent status is a
// conflict that changes nothing.
//
// Any other order is refused and left as it is (notWaiting), also when a
// concurrent submit of the same order went first.
func (e *Engine) Resubmit(ctx context.Context, app *tote.App, orderID int64, appOrderID string) (*tote.Order, error) {
	var bad fields
	bad.limit("app_order_id", appOrderID, tote.MaxText)
	if err := bad.err(); err != nil {
		return nil, err
	}
	o, err := e.Store.FindOrderByID(ctx, orderID)
	if err == nil && o.AppID != app.ID {
		err = tote.ErrNotFound // another app's order does not exist for this one
	}
	if errors.Is(err, tote.ErrNotFound) {
		return nil, tote.Errorf(tote.ENOTFOUND, "Order %d not found.", orderID)
	} else if err != nil {
		return nil, err
	}
	if err := notWaiting(o); err != nil {
		return nil, err
	}
	// The hold needs no new call: the shopper completed it at the
	// provider, so ask the provider what it holds now.
	intent, err := e.Payments.Get(ctx, o.Details.PaymentMethod.IntentID)
	if err != nil {
		return nil, &tote.Error{Code: tote.EUNAVAILABLE, Message: "The payment provider could not be reached; nothing was submitted. Retry later.", Err: err}
	}
	ctx = context.WithoutCancel(ctx) // from here the order changes: run to the end
	var cmd lifecycle.Command
	switch intent.Status {
	case tote.IntentRequiresAction:
		return o, nil
	case tote.IntentAuthorized:
		cmd = sendBags(intent.ID, (*tote.OrderState).CompleteAction)
		send := cmd.Edit
		cmd.Edit = func(c *lifecycle.Change) error {
			c.Order.DateSubmitted = &c.Now
			if appOrderID != "" {
				c.Order.AppOrderID = appOrderID
			}
			return send(c)
		}
	case tote.IntentFailed, tote.IntentVoided:
		msg := fmt.Sprintf("The payment was not authorized (its intent is %s): the shopper did not complete the action. The order is canceled.", intent.Status)
		cmd.Run = func(st *tote.OrderState, _ int) (tote.Outcome, error) { return st.Abandon() }
		cmd.Edit = func(c *lifecycle.Change) error {
			c.Order.Errors = append(c.Order.Errors, &tote.OrderError{EntityType: "ORDER", EntityID: fmt.Sprint(c.Order.ID),
				Type: tote.ErrorTypeExternalSetPaymentMethod, Message: msg, ExternalPlatform: tote.PaymentProviderSandbox, DateCreated: c.Now})
			return nil
		}
	default:
		return nil, &tote.Error{Code: tote.ECONFLICT,
			Message: fmt.Sprintf("Order %d cannot be submitted: its payment intent is %s.", o.ID, intent.Status)}
	}
	cmd.AppID, cmd.OrderID = app.ID, o.ID
	key := waitKey(o)
	ch := e.subscribe(key)
	defer e.unsubscribe(key, ch)
	res, err := e.Lifecycle.Apply(ctx, cmd)
	if errors.Is(err, tote.ErrInvalidTransition) {
		// A concurrent submit went first: answer as if it had come before.
		if now, ferr := e.Store.FindOrderByID(ctx, o.ID); ferr == nil {
			err = cmpOr(notWaiting(now), err)
		}
	}
	if err != nil {
		return nil, err
	}
	if res.Order.Status == tote.OrderStatusCanceled {
		return nil, &tote.Error{Code: tote.EREJECTED, Message: fmt.Sprintf("Order %d: %s", o.ID, res.Order.Errors[len(res.Order.Errors)-1].Message)}
	}
	o, err = e.waitFirstAttempts(ctx, res.Order, ch)
	if err != nil {
		return nil, err
	}
	return e.answer(o)
}

// notWaiting refuses a submit of an order that is not waiting for its
// shopper: an IN_PROGRESS one whose capture failed has no payment method
// left; any other is an invalid transition.
func notWaiting(o *tote.Order) error {
	switch {
	case o.Status == tote.OrderStatusRequiresAction:
		return nil
	case o.Status == tote.OrderStatusInProgress && !o.HasPaymentMethod():
		return tote.Invalid(tote.FieldError{Field: "payment_method", Message: "No payment method on Cart"})
	default:
		return &tote.Error{Code: tote.ECONFLICT, Err: tote.ErrInvalidTransition,
			Message: fmt.Sprintf("Order %d is %s: only an order waiting for its shopper (%s) can be submitted again.", o.ID, o.Status, tote.OrderStatusRequiresAction)}
	}
}

// answer returns the order, flagged when every bag was rejected.
func (e *Engine) answer(o *tote.Order) (*tote.Order, error) {
	if o.Status == tote.OrderStatusRejected {
		return o, ErrOrderRejected
	}
	return o, nil
}

// merge runs steps in turn and joins their changes into one outcome.
func merge(steps ...func() (tote.Outcome, error)) (tote.Outcome, error) {
	all := tote.Outcome{Bag: tote.NoBag}
	for _, step := range steps {
		out, err := step()
		if err != nil {
			return tote.Outcome{}, err
		}
		all.Changes = append(all.Changes, out.Changes...)
	}
	return all, nil
}

// waitFirstAttempts waits until no bag of the order is in flight (each has
// had an outcome) and, once every bag has settled, until the payment is
// settled too; or until e.Wait passes. The commands of this process tell
// it what they made of the order (Committed), so it reads the order back
// only when that says it is done, to answer with the order as stored; the
// jobs of other processes are seen by polling.
func (e *Engine) waitFirstAttempts(ctx context.Context, created *tote.Order, ch <-chan *tote.Order) (*tote.Order, error) {
	deadline := time.NewTimer(cmpOr(e.Wait, 10*time.Second))
	defer deadline.Stop()
	interval := firstPoll
	poll := time.NewTimer(interval)
	defer poll.Stop()
	hint, read := created, false
	for {
		if read || firstAttemptsDone(hint) {
			o, err := e.Store.FindOrderByID(ctx, created.ID)
			if err != nil {
				return nil, err
			}
			if firstAttemptsDone(o) {
				return o, nil
			}
			hint, read = o, false // the order as stored now
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-deadline.C:
			return e.Store.FindOrderByID(ctx, created.ID)
		case o := <-ch:
			hint = newer(hint, o)
		case <-poll.C:
			read = true
			interval = min(2*interval, maxPoll)
			poll.Reset(interval)
		}
	}
}

// A waiting request also reads its order now and then, for the changes
// made by other processes: after 50 ms, then less and less often, down to
// every 250 ms.
const (
	firstPoll = 50 * time.Millisecond
	maxPoll   = 250 * time.Millisecond
)

// newer returns whichever of two states of one order is the later: every
// command that changes a bag raises its version, so the later state has
// the larger sum of bag versions (b on a tie: it came last).
func newer(a, b *tote.Order) *tote.Order {
	if versions(a) > versions(b) {
		return a
	}
	return b
}

func versions(o *tote.Order) int64 {
	var n int64
	for _, b := range o.Bags {
		n += b.Version
	}
	return n
}

func firstAttemptsDone(o *tote.Order) bool {
	settled := true
	for _, b := range o.Bags {
		if b.Status == tote.BagStatusSubmitted || b.SubmitAttempts == 0 {
			return false // in flight, or not yet sent
		}
		settled = settled && b.Status.IsSettled()
	}
	if settled { // then wait for the payment to settle too
		return o.Status != tote.OrderStatusProcessing && o.Status != tote.OrderStatusAccepted && !holdsAuthorization(o)
	}
	return true
}

// waitKey names an order for its waiting request before the order has an
// id: the reference of its first bag (unique, and made before the order).
func waitKey(o *tote.Order) string { return o.Bags[0].Reference }

func (e *Engine) subscribe(key string) chan *tote.Order {
	ch := make(chan *tote.Order, 1)
	e.waitMu.Lock()
	defer e.waitMu.Unlock()
	if e.waiters == nil {
		e.waiters = map[string][]chan *tote.Order{}
	}
	e.waiters[key] = append(e.waiters[key], ch)
	return ch
}

func (e *Engine) unsubscribe(key string, ch chan *tote.Order) {
	e.waitMu.Lock()
	defer e.waitMu.Unlock()
	list := e.waiters[key]
	for i, c := range list {
		if c == ch {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(e.waiters, key)
	} else {
		e.waiters[key] = list
	}
}

// committed hands a command's result to the requests waiting on its order
// (Register wires it to lifecycle.Service.Committed). Each waiter is given
// the later of what it has not read yet and this; it never blocks. The
// order is shared: neither side changes it.
func (e *Engine) committed(res *lifecycle.Result) {
	o := res.Order
	if len(o.Bags) == 0 {
		return
	}
	e.waitMu.Lock()
	defer e.waitMu.Unlock()
	for _, ch := range e.waiters[waitKey(o)] {
		select {
		case old := <-ch:
			ch <- newer(old, o)
		default:
			ch <- o
		}
	}
}

// paymentKey is the idempotency key of an order's authorization: the
// app's Idempotency-Key (up to 255 characters) under a prefix naming the
// app, or, when that would pass the providers' limit (255 characters, as
// Stripe's), the key's SHA-256 in its place.
func paymentKey(appID int64, key string) string {
	k := fmt.Sprintf("app_%d_order_%s", appID, key)
	if len(k) <= maxPaymentKey {
		return k
	}
	sum := sha256.Sum256([]byte(key))
	return fmt.Sprintf("app_%d_order_sha256_%s", appID, hex.EncodeToString(sum[:]))
}

const maxPaymentKey = 255
