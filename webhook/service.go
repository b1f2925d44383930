package webhook

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/toteorg/tote"
)

// Service manages an app's subscriptions and their delivery log: what the
// /v1/events/webhooks routes do. Every method takes the calling app; another
// app's subscription is ENOTFOUND, as if it did not exist.
type Service struct {
	Store tote.Store
	Clock tote.Clock
	// Sender sends simulated events.
	Sender *Sender
	// AllowPrivate accepts http and private endpoints
	// (--webhook-allow-private).
	AllowPrivate bool
	// Bodies render the entities simulated events carry, as the API returns
	// them; nil sends "{}".
	Bodies tote.EventBodies
	// NewEventID makes the event ids of resends and simulated events
	// (default: "evt_" and a UUIDv7, like recorded events).
	NewEventID func() string
	// Changed, when set, is told of a subscription updated or deleted,
	// after the change commits: the local Dispatcher's Forget, so that
	// deliveries it holds are not sent as the subscription was.
	Changed func(webhookID int64)
}

func (s *Service) changed(id int64) {
	if s.Changed != nil {
		s.Changed(id)
	}
}

func (s *Service) newEventID() string {
	if s.NewEventID != nil {
		return s.NewEventID()
	}
	return "evt_" + uuid.Must(uuid.NewV7()).String()
}

// CreateParams is a new subscription as the app asks for it.
type CreateParams struct {
	Event          string
	RemoteEndpoint string
	// Status is ACTIVE (the default) or INACTIVE.
	Status string
	// Ordered defaults to true.
	Ordered *bool
}

// UpdateParams changes the fields that are set.
type UpdateParams struct {
	Event          *string
	RemoteEndpoint *string
	Status         *string
	Ordered        *bool
}

func parseStatus(s string) (tote.WebhookStatus, error) {
	switch st := tote.WebhookStatus(s); st {
	case tote.WebhookStatusActive, tote.WebhookStatusInactive:
		return st, nil
	}
	return "", tote.Invalid(tote.FieldError{Field: "status", Message: "must be ACTIVE or INACTIVE"})
}

// Create subscribes app to an event type. appSecret, the secret the app
// authenticated with, gives an app created before webhooks its webhook key
// (App.WebhookKey). EINVALID names a bad field. An app may subscribe one
// endpoint to one event more than once: each subscription is delivered to
// on its own, with its own secret.
func (s *Service) Create(ctx context.Context, app *tote.App, appSecret string, p CreateParams) (*tote.Webhook, error) {
	var bad []tote.FieldError
	event, err := tote.ParseEventType(p.Event)
	if p.Event == "" {
		bad = append(bad, tote.FieldError{Field: "event", Message: "is required"})
	} else if err != nil {
		bad = append(bad, tote.ErrorFields(err)...)
	}
	if err := CheckEndpoint(p.RemoteEndpoint, s.AllowPrivate, "remote_endpoint"); err != nil {
		bad = append(bad, tote.ErrorFields(err)...)
	}
	status := tote.WebhookStatusActive
	if p.Status != "" {
		if status, err = parseStatus(p.Status); err != nil {
			bad = append(bad, tote.ErrorFields(err)...)
		}
	}
	if len(bad) > 0 {
		return nil, tote.Invalid(bad...)
	}
	now := s.Clock.Now()
	w := &tote.Webhook{AppID: app.ID, Event: event, RemoteEndpoint: p.RemoteEndpoint, Status: status,
		SigningSecret: NewSigningSecret(), Ordered: p.Ordered == nil || *p.Ordered, DateCreated: now, DateLastModified: now}
	err = s.Store.InTx(ctx, func(tx tote.Tx) error {
		if len(app.WebhookKey) == 0 && appSecret != "" {
			if err := tx.SetAppWebhookKey(ctx, app.ID, AppKey(appSecret)); err != nil {
				return err
			}
		}
		return tx.CreateWebhook(ctx, w)
	})
	if err != nil {
		return nil, err
	}
	return w, nil
}

func notFound(id int64) error { return tote.Errorf(tote.ENOTFOUND, "Webhook %d not found.", id) }

// Get returns one of the app's subscriptions.
func (s *Service) Get(ctx context.Context, appID, id int64) (*tote.Webhook, error) {
	w, err := s.Store.FindWebhookByID(ctx, id)
	if errors.Is(err, tote.ErrNotFound) || err == nil && w.AppID != appID {
		return nil, notFound(id)
	}
	return w, err
}

// List returns a page of the app's subscriptions.
func (s *Service) List(ctx context.Context, appID int64, page tote.Page) ([]*tote.Webhook, int64, error) {
	return s.Store.FindWebhooks(ctx, appID, page)
}

// Update changes a subscription. Setting it ACTIVE again (after INACTIVE
// or DISABLED) also forgets its pauses.
func (s *Service) Update(ctx context.Context, appID, id int64, p UpdateParams) (*tote.Webhook, error) {
	var bad []tote.FieldError
	var event tote.EventType
	if p.Event != nil {
		var err error
		if event, err = tote.ParseEventType(*p.Event); err != nil {
			bad = append(bad, tote.ErrorFields(err)...)
		}
	}
	if p.RemoteEndpoint != nil {
		if err := CheckEndpoint(*p.RemoteEndpoint, s.AllowPrivate, "remote_endpoint"); err != nil {
			bad = append(bad, tote.ErrorFields(err)...)
		}
	}
	var status tote.WebhookStatus
	if p.Status != nil {
		var err error
		if status, err = parseStatus(*p.Status); err != nil {
			bad = append(bad, tote.ErrorFields(err)...)
		}
	}
	if len(bad) > 0 {
		return nil, tote.Invalid(bad...)
	}
	var w *tote.Webhook
	err := s.Store.InTx(ctx, func(tx tote.Tx) error {
		var err error
		w, err = tx.LockWebhook(ctx, id)
		if errors.Is(err, tote.ErrNotFound) || err == nil && w.AppID != appID {
			return notFound(id)
		} else if err != nil {
			return err
		}
		if p.Event != nil {
			w.Event = event
		}
		if p.RemoteEndpoint != nil {
			w.RemoteEndpoint = *p.RemoteEndpoint
		}
		if p.Ordered != nil {
			w.Ordered = *p.Ordered
		}
		if p.Status != nil {
			if status == tote.WebhookStatusActive && (w.Status != tote.WebhookStatusActive || w.PausedUntil != nil) {
				// Reactivated: its deliveries go out now, not when the
				// pause would have ended.
				w.PausedUntil, w.PauseLevel = nil, 0
				if _, err := tx.WakeDeliveries(ctx, w.ID, s.Clock.Now()); err != nil {
					return err
				}
			}
			w.Status = status
		}
		w.DateLastModified = s.Clock.Now()
		return tx.UpdateWebhook(ctx, w)
	})
	if err != nil {
		return nil, err
	}
	s.changed(w.ID)
	return w, nil
}

// Delete removes a subscription with its delivery log; its pending
// deliveries are dropped.
func (s *Service) Delete(ctx context.Context, appID, id int64) error {
	err := s.Store.InTx(ctx, func(tx tote.Tx) error {
		w, err := tx.LockWebhook(ctx, id)
		if errors.Is(err, tote.ErrNotFound) || err == nil && w.AppID != appID {
			return notFound(id)
		} else if err != nil {
			return err
		}
		return tx.DeleteWebhook(ctx, id)
	})
	if err == nil {
		s.changed(id)
	}
	return err
}

// Deliveries returns a page of a subscription's delivery log, newest first,
// with the attempts of each delivery.
func (s *Service) Deliveries(ctx context.Context, appID, id int64, page tote.Page) ([]*tote.Delivery, map[int64][]*tote.DeliveryAttempt, int64, error) {
	if _, err := s.Get(ctx, appID, id); err != nil {
		return nil, nil, 0, err
	}
	ds, total, err := s.Store.FindDeliveries(ctx, id, page)
	if err != nil {
		return nil, nil, 0, err
	}
	ids := make([]int64, len(ds))
	for i, d := range ds {
		ids[i] = d.ID
	}
	as, err := s.Store.FindDeliveryAttempts(ctx, ids)
	if err != nil {
		return nil, nil, 0, err
	}
	attempts := map[int64][]*tote.DeliveryAttempt{}
	for _, a := range as {
		attempts[a.DeliveryID] = append(attempts[a.DeliveryID], a)
	}
	return ds, attempts, total, nil
}

// Resend delivers an event of the subscription's log again, as a new
// delivery with an event id of its own; its request carries the original
// id in X-Violet-Event-Id-Source. eventID is the id the delivery carried
// (X-Violet-Event-Id), or the delivery record's numeric id. A resend is
// sent at once, outside the bag's turn. ECONFLICT unless the subscription
// is ACTIVE.
func (s *Service) Resend(ctx context.Context, appID, id int64, eventID string) (*tote.Delivery, error) {
	w, err := s.Get(ctx, appID, id)
	if err != nil {
		return nil, err
	}
	var orig *tote.Delivery
	err = tote.ErrNotFound // an id that is no storable text names none
	if tote.Storable(eventID) {
		orig, err = s.Store.FindDeliveryByEventID(ctx, id, eventID)
	}
	if errors.Is(err, tote.ErrNotFound) {
		if n, perr := strconv.ParseInt(eventID, 10, 64); perr == nil {
			orig, err = s.Store.FindDeliveryByID(ctx, n)
			if err == nil && orig.WebhookID != id {
				err = tote.ErrNotFound
			}
		}
	}
	if errors.Is(err, tote.ErrNotFound) {
		return nil, tote.Errorf(tote.ENOTFOUND, "Event %s was not delivered to webhook %d.", eventID, id)
	} else if err != nil {
		return nil, err
	}
	if w.Status != tote.WebhookStatusActive {
		return nil, tote.Errorf(tote.ECONFLICT, "Webhook %d is %s; set it ACTIVE to resend.", id, w.Status)
	}
	now := s.Clock.Now()
	d := &tote.Delivery{WebhookID: id, AppID: appID, EventID: s.newEventID(), SourceEventID: orig.SourceEventID,
		EventType: orig.EventType, OrderID: orig.OrderID, BagID: orig.BagID, BagVersion: orig.BagVersion,
		TransactionID: orig.TransactionID,
		Sequence:      orig.Sequence, Status: tote.DeliveryStatusCreated, ResendOf: orig.ID,
		DateCreated: now, DateLastModified: now, DateNextAttempt: &now}
	if err := s.Store.InTx(ctx, func(tx tote.Tx) error { return tx.CreateDelivery(ctx, d) }); err != nil {
		return nil, err
	}
	return d, nil
}

// SimulateResult is what a simulated event got.
type SimulateResult struct {
	WebhookID      int64
	EventID        string
	EventType      tote.EventType
	RemoteEndpoint string
	Status         tote.DeliveryStatus // SUCCEEDED or FAILED
	StatusCode     int
	Error          string
	Duration       time.Duration
}

// Simulate sends a sample event of type eventType to the subscription's
// endpoint now, whatever the subscription's status or type, and reports
// what the endpoint answered. The body is the app's order orderID as the
// API returns it, or a sample order (ids SampleID). Nothing is recorded.
// EINVALID names a bad field; an order that is not the app's is ENOTFOUND.
func (s *Service) Simulate(ctx context.Context, app *tote.App, appSecret string, id int64, eventType string, orderID *int64) (*SimulateResult, error) {
	w, err := s.Get(ctx, app.ID, id)
	if err != nil {
		return nil, err
	}
	var bad []tote.FieldError
	typ, err := tote.ParseEventType(eventType)
	if eventType == "" {
		bad = append(bad, tote.FieldError{Field: "event_type", Message: "is required"})
	} else if err != nil {
		bad = append(bad, tote.FieldError{Field: "event_type", Message: "unknown event type"})
	}
	var o *tote.Order
	if orderID != nil {
		o, err = s.Store.FindOrderByID(ctx, *orderID)
		if errors.Is(err, tote.ErrNotFound) || err == nil && o.AppID != app.ID {
			if len(bad) == 0 { // unknown or not yours: 404, as on every route
				return nil, tote.Errorf(tote.ENOTFOUND, "Order %d not found.", *orderID)
			}
			o = nil
		} else if err != nil {
			return nil, err
		}
	}
	if len(bad) > 0 {
		return nil, tote.Invalid(bad...)
	}
	m := Message{URL: w.RemoteEndpoint, WebhookID: w.ID, EventID: s.newEventID(), Topic: typ,
		AppKey: app.WebhookKey, Secret: w.SigningSecret, Simulated: true}
	if len(m.AppKey) == 0 && appSecret != "" {
		m.AppKey = AppKey(appSecret)
	}
	if o == nil {
		o = sampleOrder(app.ID, s.Clock.Now())
	}
	m.OrderID = o.ID
	if len(o.Bags) > 0 {
		m.BagID, m.BagVersion = o.Bags[0].ID, o.Bags[0].Version
	}
	m.Body = []byte("{}")
	if s.Bodies != nil {
		if m.Body, err = s.simulatedBody(typ, o, &m); err != nil {
			return nil, err
		}
	}
	res := s.Sender.Send(ctx, m)
	out := &SimulateResult{WebhookID: w.ID, EventID: m.EventID, EventType: typ, RemoteEndpoint: w.RemoteEndpoint,
		Status: tote.DeliveryStatusSucceeded, StatusCode: res.StatusCode, Duration: res.Duration}
	if !res.OK() {
		out.Status = tote.DeliveryStatusFailed
		if res.Err != nil {
			out.Error = res.Err.Error()
		}
	}
	return out, nil
}

// simulatedBody renders what an event of type typ about order o carries: a
// payment event, the order's latest payment transaction (a sample one when
// it has none, amount the order's total); any other, the order.
func (s *Service) simulatedBody(typ tote.EventType, o *tote.Order, m *Message) ([]byte, error) {
	if !typ.IsPaymentEvent() {
		return s.Bodies.Order(o)
	}
	var t *tote.PaymentTransaction
	if n := len(o.Transactions); n > 0 {
		t = o.Transactions[n-1]
	} else {
		t = &tote.PaymentTransaction{ID: SampleID, OrderID: o.ID, Type: tote.TransactionCapture, Amount: o.Total, Currency: o.Currency,
			Status: tote.TransactionCompleted, PaymentProvider: tote.PaymentProviderSandbox, DateCreated: o.DateLastModified}
		if len(o.Bags) > 0 {
			t.BagID = o.Bags[0].ID
		}
	}
	m.BagID, m.BagVersion = 0, 0
	for _, b := range o.Bags {
		if b.ID == t.BagID && b.ID != 0 {
			m.BagID, m.BagVersion = b.ID, b.Version
		}
	}
	return s.Bodies.Transaction(t)
}

// SampleID is every id of a simulated event's sample order and payment
// transaction: positive, as every id on the wire (so a receiver's parsing
// is tried as it will be, and the order headers of a real event are sent),
// yet far past any id a store hands out, so that a receiver that overlooks
// X-Violet-Simulated cannot take the sample for one of its real orders. It
// is 2^53-1, the largest integer a JSON number keeps exactly in JavaScript.
const SampleID int64 = 1<<53 - 1

// sampleOrder is the body of a simulated event without an order: a
// plausible order whose ids are all SampleID.
func sampleOrder(appID int64, now time.Time) *tote.Order {
	const id = SampleID
	return &tote.Order{
		ID: id, AppID: appID, AppOrderID: "sample", Status: tote.OrderStatusCompleted, Currency: "USD",
		SubTotal: 3000, ShippingTotal: 500, Total: 3500, DateCreated: now, DateSubmitted: &now, DateLastModified: now,
		Details: tote.OrderDetails{
			Customer:        &tote.Customer{FirstName: "Ada", LastName: "Lovelace", Email: "ada@example.com"},
			ShippingAddress: &tote.Address{Address1: "1 Main St", City: "Springfield", State: "IL", PostalCode: "62701", Country: "US"},
		},
		Bags: []*tote.Bag{{
			ID: id, OrderID: id, MerchantID: id, AppID: appID, MerchantName: "Sample Merchant", Platform: "SANDBOX", Status: tote.BagStatusAccepted,
			FinancialStatus: tote.FinancialStatusPaid, FulfillmentStatus: tote.FulfillmentStatusProcessing, Version: 1,
			Currency: "USD", SubTotal: 3000, ShippingTotal: 500, Total: 3500, DateCreated: now, DateSubmitted: &now,
			DateLastModified: now, ShippingMethod: &tote.BagShippingMethod{Label: "Ground", Carrier: "UPS", Price: 500},
			Skus: []*tote.OrderSku{{ID: id, OrderID: id, BagID: id, SkuID: id, MerchantID: id, Name: "Sample Widget", Quantity: 2, Price: 1500, LinePrice: 3000, Status: "PROCESSING"}},
		}},
	}
}
