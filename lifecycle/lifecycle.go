// Package lifecycle runs the commands that change orders and bags. Each
// command loads the order (locked), applies one pure operation of
// tote.OrderState, and writes in ONE transaction everything that follows
// from it: the new statuses and versions, an audit row per status change,
// the events the transition tables imply (numbered per bag, each carrying
// the order as it now stands, and fanned out to the webhook subscriptions
// that want them), and the follow-up jobs the caller asks for. Either all
// of it commits or none of it does. Network calls (platforms, payments,
// webhooks) never happen inside; their outcomes arrive as further commands.
package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/toteorg/tote"
)

// Service runs lifecycle commands against a store.
type Service struct {
	Store tote.Store
	Clock tote.Clock
	// NewEventID makes event ids (default: "evt_" and a UUIDv7, so ids sort
	// by creation time).
	NewEventID func() string
	// Bodies render the events' payloads (the bodies their webhooks
	// deliver), after all the command's writes: an order event carries the
	// order, so it shows the bag versions, errors and transactions of the
	// change; a payment event carries its new transaction. cmd/tote wires
	// api.EventBodies; nil records events without a payload.
	Bodies tote.EventBodies
	// Committed, when set, is told each command's result once it has
	// committed (a request waiting on the order can look at it instead of
	// reading it back). It must not block, nor change the result, which
	// the command's caller holds too.
	Committed func(*Result)
}

// Command is one change to one order.
type Command struct {
	// AppID, when not zero, is the app asking: another app's order is
	// ENOTFOUND, as if it did not exist.
	AppID   int64
	OrderID int64
	// BagID is the bag the command concerns; zero for an order-level one.
	BagID int64
	// Run applies the pure operation, e.g.
	//	func(o *tote.OrderState, bag int) (tote.Outcome, error) { return o.BagAccepted(bag) }
	// bag is BagID's index in o.Bags (tote.NoBag when BagID is zero). An
	// error refuses the command and nothing is written. Nil changes no
	// status (Edit alone).
	Run func(o *tote.OrderState, bag int) (tote.Outcome, error)
	// Edit, when set, changes other fields after Run succeeded: an external
	// id, a date, the order's details; it may append new errors and payment
	// transactions (those without an ID) to the order, and follow-up jobs.
	// All of it is saved with the rest. An error refuses the command.
	//
	// A bag is saved, with its version raised by one, when Run changed one
	// of its statuses or recorded events for it, or when it is BagID's and
	// Edit is set; a command that changes neither (an outcome still
	// unknown) leaves the bag and its version as they were.
	Edit func(c *Change) error
	// Jobs are follow-up jobs to insert in the same transaction; a zero
	// RunAt means now.
	Jobs []tote.JobParams
	// CompleteJobs are jobs this command makes unnecessary (the safety net
	// of work done here instead); those still waiting are marked completed
	// in the same transaction.
	CompleteJobs []int64
}

// Change is what Edit sees and may change.
type Change struct {
	// Order holds the new statuses already; Bag is the command's bag (nil
	// for an order-level command).
	Order *tote.Order
	Bag   *tote.Bag
	// State is the pure state after Run.
	State *tote.OrderState
	Now   time.Time
	// Jobs are inserted with the change; Edit may add more.
	Jobs []tote.JobParams
}

// Result is what a command changed.
type Result struct {
	Order   *tote.Order
	Changes []*tote.StatusChange
	Events  []*tote.Event
	JobIDs  []int64
}

// Apply runs c in one transaction. It returns ENOTFOUND for an unknown (or
// another app's) order or bag, and whatever Run refuses with (ECONFLICT
// wrapping tote.ErrInvalidTransition for a move the tables do not allow).
func (s *Service) Apply(ctx context.Context, c Command) (*Result, error) {
	var res *Result
	err := s.Store.InTx(ctx, func(tx tote.Tx) error {
		var err error
		res, err = s.apply(ctx, tx, c)
		return err
	})
	if err != nil {
		return nil, err
	}
	s.committed(res)
	return res, nil
}

// Create inserts a new order, then runs c on it, in one transaction: an
// order and its submission commit together or not at all.
func (s *Service) Create(ctx context.Context, o *tote.Order, c Command) (*Result, error) {
	var res *Result
	err := s.Store.InTx(ctx, func(tx tote.Tx) error {
		if err := tx.CreateOrder(ctx, o); err != nil {
			return err
		}
		c.OrderID = o.ID
		// The order is the one just written: no need to read it back.
		var err error
		res, err = s.applyTo(ctx, tx, c, o)
		return err
	})
	if err != nil {
		return nil, err
	}
	s.committed(res)
	return res, nil
}

func (s *Service) committed(res *Result) {
	if s.Committed != nil {
		s.Committed(res)
	}
}

func (s *Service) apply(ctx context.Context, tx tote.Tx, c Command) (*Result, error) {
	o, err := tx.LockOrder(ctx, c.OrderID)
	if errors.Is(err, tote.ErrNotFound) || err == nil && c.AppID != 0 && o.AppID != c.AppID {
		return nil, tote.Errorf(tote.ENOTFOUND, "Order %d not found.", c.OrderID)
	} else if err != nil {
		return nil, err
	}
	return s.applyTo(ctx, tx, c, o)
}

// applyTo runs c on o, the order as the transaction holds it.
func (s *Service) applyTo(ctx context.Context, tx tote.Tx, c Command, o *tote.Order) (*Result, error) {
	var err error
	bag := tote.NoBag
	if c.BagID != 0 {
		bag = -1
		for i, b := range o.Bags {
			if b.ID == c.BagID {
				bag = i
			}
		}
		if bag < 0 {
			return nil, tote.Errorf(tote.ENOTFOUND, "Bag %d not found in order %d.", c.BagID, c.OrderID)
		}
	}

	state := orderState(o)
	out := tote.Outcome{Bag: bag}
	if c.Run != nil {
		if out, err = c.Run(state, bag); err != nil {
			return nil, err
		}
	}
	now := Now(s.Clock)
	touched := map[int]bool{}
	res := &Result{Order: o}
	for _, ch := range out.Changes {
		sc := &tote.StatusChange{AppID: o.AppID, OrderID: o.ID, Field: ch.Field, From: ch.From, To: ch.To, Trigger: ch.Trigger, DateCreated: now}
		if ch.Bag != tote.NoBag {
			sc.BagID = o.Bags[ch.Bag].ID
			// A self-loop that records no event (an outcome still
			// unknown) leaves the bag as it was: no new version.
			if ch.From != ch.To || len(ch.Events) > 0 {
				touched[ch.Bag] = true
			}
		}
		res.Changes = append(res.Changes, sc)
	}

	// Copy the new state back, then let Edit change the rest.
	if o.Status != state.Status {
		o.Status, o.DateLastModified = state.Status, now
	}
	for i, b := range o.Bags {
		st := state.Bags[i]
		b.Status, b.FinancialStatus, b.FulfillmentStatus = st.Status, st.Financial, st.Fulfillment
		b.Captured, b.Refunded = st.Captured, st.Refunded
	}
	change := &Change{Order: o, State: state, Now: now, Jobs: c.Jobs}
	if bag != tote.NoBag {
		change.Bag = o.Bags[bag]
		if c.Edit != nil {
			touched[bag] = true // Edit may change any of its fields
		}
	}
	for _, set := range out.Events() {
		if set.Bag != tote.NoBag {
			touched[set.Bag] = true // its events carry its new version
		}
	}
	if c.Edit != nil {
		if err := c.Edit(change); err != nil {
			return nil, err
		}
	}
	if err := tx.UpdateOrder(ctx, o); err != nil {
		return nil, err
	}
	var newErrors []*tote.OrderError
	for _, e := range o.Errors {
		if e.ID == 0 {
			e.OrderID = o.ID
			newErrors = append(newErrors, e)
		}
	}
	if err := tx.InsertOrderErrors(ctx, newErrors); err != nil {
		return nil, err
	}
	var newTransactions []*tote.PaymentTransaction
	for _, t := range o.Transactions {
		if t.ID == 0 {
			t.OrderID = o.ID
			newTransactions = append(newTransactions, t)
		}
	}
	if err := tx.InsertPaymentTransactions(ctx, newTransactions); err != nil {
		return nil, err
	}
	for i, b := range o.Bags {
		if !touched[i] {
			continue
		}
		b.Version++
		b.DateLastModified = now
		if err := tx.UpdateBag(ctx, b); err != nil {
			return nil, err
		}
	}
	if err := tx.InsertStatusChanges(ctx, res.Changes); err != nil {
		return nil, err
	}
	for _, set := range out.Events() {
		var bagID, version int64 // an order-level change of no single bag
		if set.Bag != tote.NoBag {
			bagID, version = o.Bags[set.Bag].ID, o.Bags[set.Bag].Version
		}
		for _, typ := range set.Events {
			res.Events = append(res.Events, &tote.Event{
				ID: s.newEventID(), AppID: o.AppID, Type: typ, OrderID: o.ID, BagID: bagID,
				BagVersion: version, DateCreated: now,
			})
		}
	}
	if len(res.Events) > 0 && s.Bodies != nil {
		payload, err := s.Bodies.Order(o)
		if err != nil {
			return nil, fmt.Errorf("snapshot of order %d for its events: %w", o.ID, err)
		}
		for _, e := range res.Events {
			e.Payload = payload
		}
	}
	// Payment events follow the order events: the change, then the money.
	for _, t := range newTransactions {
		var bagID, version int64
		financial := tote.FinancialStatus("")
		for _, b := range o.Bags {
			if b.ID == t.BagID {
				bagID, version, financial = b.ID, b.Version, b.FinancialStatus
			}
		}
		var payload []byte
		if s.Bodies != nil {
			if payload, err = s.Bodies.Transaction(t); err != nil {
				return nil, fmt.Errorf("payment transaction %d for its events: %w", t.ID, err)
			}
		}
		for _, typ := range tote.PaymentEvents(t, financial) {
			res.Events = append(res.Events, &tote.Event{
				ID: s.newEventID(), AppID: o.AppID, Type: typ, OrderID: o.ID, BagID: bagID,
				BagVersion: version, TransactionID: t.ID, Payload: payload, DateCreated: now,
			})
		}
	}
	if err := tx.InsertEvents(ctx, res.Events); err != nil {
		return nil, err
	}
	for _, e := range res.Events {
		for _, b := range o.Bags {
			if b.ID == e.BagID {
				b.EventSeq = e.Sequence
			}
		}
	}
	for i := range change.Jobs {
		if change.Jobs[i].RunAt.IsZero() {
			change.Jobs[i].RunAt = now
		}
		change.Jobs[i].CreatedAt = now
	}
	if len(change.Jobs) > 0 {
		if res.JobIDs, err = tx.InsertJobs(ctx, change.Jobs); err != nil {
			return nil, err
		}
	}
	if len(c.CompleteJobs) > 0 {
		if err := tx.CompleteJobs(ctx, c.CompleteJobs, now); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// orderState is the pure lifecycle view of a stored order.
func orderState(o *tote.Order) *tote.OrderState {
	// Orders carry no payment method yet (the checkout issue adds it), so
	// none is missing.
	st := &tote.OrderState{Status: o.Status, HasPaymentMethod: true}
	for _, b := range o.Bags {
		st.Bags = append(st.Bags, tote.BagState{
			Status: b.Status, Financial: b.FinancialStatus, Fulfillment: b.FulfillmentStatus,
			Total: b.Total, Captured: b.Captured, Refunded: b.Refunded,
		})
	}
	return st
}

func (s *Service) newEventID() string {
	if s.NewEventID != nil {
		return s.NewEventID()
	}
	return "evt_" + uuid.Must(uuid.NewV7()).String()
}

// Now is the clock's time as the stores keep it: UTC, to the microsecond.
// An order kept in memory after a command then reads the same as one read
// back from the store.
func Now(c tote.Clock) time.Time { return c.Now().UTC().Truncate(time.Microsecond) }
