package tote

import (
	"cmp"
	"context"
	"slices"
	"time"
)

// Webhook is a subscription: an app asks to be told of one event type at
// one URL. Every event of that type and app recorded while the subscription
// is ACTIVE becomes a Delivery, in the transaction that records the event.
type Webhook struct {
	ID             int64
	AppID          int64
	Event          EventType
	RemoteEndpoint string
	Status         WebhookStatus
	// SigningSecret keys the Standard Webhooks signature: "whsec_" and
	// base64 of 32 random bytes.
	SigningSecret string
	// Ordered (the default) holds a bag's delivery back while an earlier
	// delivery of the same bag to this subscription is pending or being
	// retried, so a receiver sees each bag's events in order.
	Ordered bool
	// PausedUntil, while in the future, holds every delivery of the
	// subscription back (they wait; none is dropped). It is set when the
	// endpoint fails too often (PausePolicy) and stays as the end of the
	// last pause.
	PausedUntil *time.Time
	// PauseLevel counts pauses since the endpoint last answered a delivery
	// with success; it picks the next pause's length.
	PauseLevel       int
	DateCreated      time.Time
	DateLastModified time.Time
}

// WebhookStatus says whether a subscription receives events.
type WebhookStatus string

const (
	// WebhookStatusActive: new events fan out to it and its deliveries are
	// sent. Entered on creation (by default) or by the app's PUT.
	WebhookStatusActive WebhookStatus = "ACTIVE"
	// WebhookStatusInactive: set by the app. No new deliveries; pending
	// ones are cancelled when they come up.
	WebhookStatusInactive WebhookStatus = "INACTIVE"
	// WebhookStatusDisabled: set by Tote when the endpoint answered 410
	// Gone, or failed through every pause. Like INACTIVE until the app sets
	// it ACTIVE again.
	WebhookStatusDisabled WebhookStatus = "DISABLED"
)

// WebhookStatuses returns every subscription status.
func WebhookStatuses() []WebhookStatus {
	return []WebhookStatus{WebhookStatusActive, WebhookStatusInactive, WebhookStatusDisabled}
}

// Valid reports whether s is one of WebhookStatuses().
func (s WebhookStatus) Valid() bool { return slices.Contains(WebhookStatuses(), s) }

// DeliveryStatus is where one delivery of one event to one subscription is.
type DeliveryStatus string

const (
	// DeliveryStatusCreated: not attempted yet (due, or waiting behind an
	// earlier delivery of its bag).
	DeliveryStatusCreated DeliveryStatus = "CREATED"
	// DeliveryStatusInProgress: attempted and failed; another attempt is
	// due at DateNextAttempt.
	DeliveryStatusInProgress DeliveryStatus = "IN_PROGRESS"
	// DeliveryStatusSucceeded: the endpoint answered 2xx. Final.
	DeliveryStatusSucceeded DeliveryStatus = "SUCCEEDED"
	// DeliveryStatusFailed: out of attempts, or refused for good (4xx other
	// than 408 and 429, or 410). Final.
	DeliveryStatusFailed DeliveryStatus = "FAILED"
	// DeliveryStatusCancelled: its subscription was no longer ACTIVE when
	// the delivery came up. Final.
	DeliveryStatusCancelled DeliveryStatus = "CANCELLED"
)

// DeliveryStatuses returns every delivery status.
func DeliveryStatuses() []DeliveryStatus {
	return []DeliveryStatus{DeliveryStatusCreated, DeliveryStatusInProgress, DeliveryStatusSucceeded,
		DeliveryStatusFailed, DeliveryStatusCancelled}
}

// Final reports whether no further attempt will be made.
func (s DeliveryStatus) Final() bool {
	return s == DeliveryStatusSucceeded || s == DeliveryStatusFailed || s == DeliveryStatusCancelled
}

// Delivery is one event sent (or to be sent) to one subscription, with the
// outcome of its attempts. The delivery log of the API lists them.
type Delivery struct {
	ID        int64
	WebhookID int64
	AppID     int64
	// EventID is the X-Violet-Event-Id (and webhook-id) of the delivery:
	// the event's id, stable across retries. A resend has an id of its own.
	EventID string
	// SourceEventID is the recorded event whose body is sent: EventID, but
	// for a resend the event it copies (X-Violet-Event-Id-Source).
	SourceEventID string
	EventType     EventType
	OrderID       int64
	BagID         int64 // zero for an event of no single bag
	BagVersion    int64
	// TransactionID is the event's (Event.TransactionID): the entity a
	// payment event is about. Zero for an order event.
	TransactionID int64
	Sequence      int64 // the event's number among its bag's events
	Status        DeliveryStatus
	// InStream: the delivery takes its turn among its bag's deliveries to
	// its subscription (an Ordered subscription and a bag event).
	InStream bool
	// Waiting: an earlier delivery of its stream is still pending, so this
	// one has no job yet; the earlier one's end queues it.
	Waiting    bool
	Attempts   int
	StatusCode int // of the last attempt; zero when no answer came
	LastError  string
	// ResendOf is the delivery this one resends (zero if none).
	ResendOf         int64
	DateCreated      time.Time
	DateLastModified time.Time
	// DateNextAttempt is when the next attempt is due; nil once final or
	// while waiting.
	DateNextAttempt *time.Time
}

// DeliveryAttempt is the record of one HTTP attempt of a delivery, kept
// with its delivery for the retention period.
type DeliveryAttempt struct {
	DeliveryID  int64
	WebhookID   int64
	Attempt     int
	StatusCode  int // zero when no answer came
	Error       string
	Succeeded   bool
	Duration    time.Duration
	DateCreated time.Time
}

// DeliveryToSend is everything one attempt of a delivery needs, read at once.
type DeliveryToSend struct {
	Delivery *Delivery
	Webhook  *Webhook
	// Body is the payload of the source event, as recorded with it.
	Body []byte
	// AppWebhookKey signs X-Violet-Hmac (App.WebhookKey).
	AppWebhookKey []byte
	// Claim numbers the claim this was read under (each claim of a
	// delivery takes the next number); outcomes and heartbeats name it, so
	// a worker whose claim lapsed cannot end or extend the next one's.
	Claim int64
}

// DeliveryClaim names a delivery's claim (DeliveryToSend.Claim).
type DeliveryClaim struct {
	DeliveryID int64
	Claim      int64
}

// ClaimDeliveriesParams selects the deliveries a dispatcher takes.
type ClaimDeliveriesParams struct {
	Now time.Time
	// Lease is how long the claim holds: the deliveries are not due again
	// before Now+Lease unless an outcome is recorded, and come up again
	// then if none is (their process died), unless ExtendDeliveryLeases
	// moves it on.
	Lease time.Duration
	Limit int
	// Skip lists subscriptions whose deliveries are not to be taken now
	// (their endpoint is at the dispatcher's cap).
	Skip []int64
	// PerSubscription, if positive, is the most deliveries of one
	// subscription the claim takes: among the first Limit due deliveries,
	// those past that many of their subscription are left due.
	PerSubscription int
}

// DeliveryOutcome records one turn of a delivery: an HTTP attempt (Sent), a
// cancellation, or a postponement.
type DeliveryOutcome struct {
	DeliveryID int64
	// Attempts is the delivery's Attempts as the worker read it. It fences
	// the write: if another worker recorded an outcome meanwhile, nothing
	// is written and the outcome reports not recorded.
	Attempts int
	Now      time.Time
	// Status is the delivery's new status: SUCCEEDED, FAILED, CANCELLED,
	// or IN_PROGRESS with the next attempt at NextAttempt.
	Status      DeliveryStatus
	NextAttempt time.Time
	// Sent: an HTTP attempt was made (counted, and kept as a
	// DeliveryAttempt); false for a cancellation.
	Sent       bool
	Succeeded  bool
	StatusCode int
	Error      string
	Duration   time.Duration
	// DisableWebhook sets the subscription DISABLED (the endpoint answered
	// 410 Gone).
	DisableWebhook bool
	// Pause, on a failed attempt, pauses the subscription when its
	// endpoint has failed too often.
	Pause *PausePolicy
	// Postpone: no attempt was made (the dispatcher gave the delivery back:
	// it is shutting down, or the subscription was paused or changed); the
	// delivery keeps its status and is due again at NextAttempt, which its
	// log shows as the next attempt. (A paused subscription's deliveries
	// are not claimed.)
	Postpone bool
	// Claim is the claim the turn was made under (DeliveryToSend.Claim);
	// zero for none. A postponement under a claim that is no longer the
	// delivery's changes nothing, and another outcome ends the delivery's
	// claim only if it is that one.
	Claim int64
}

// PausePolicy pauses a subscription whose endpoint failed more than
// Failures times within Window (counting only failures since its last pause
// ended): for Pauses[0] the first time, Pauses[1] the next, and so on, and
// DISABLED once they are used up. A successful attempt starts the ladder
// again.
type PausePolicy struct {
	Failures int
	Window   time.Duration
	Pauses   []time.Duration
}

// DeliveryResult is what recording an outcome did.
type DeliveryResult struct {
	// Recorded is false when the fence failed (another worker recorded this
	// turn); nothing was written then.
	Recorded bool
	// PausedUntil is set when this outcome paused the subscription.
	PausedUntil *time.Time
	// Disabled: this outcome set the subscription DISABLED.
	Disabled bool
}

// WebhookReader reads subscriptions and their deliveries. Lookups by id
// return ErrNotFound when nothing matches.
type WebhookReader interface {
	FindWebhookByID(ctx context.Context, id int64) (*Webhook, error)
	// FindWebhooks returns a page of an app's subscriptions by id, and the
	// total count.
	FindWebhooks(ctx context.Context, appID int64, page Page) ([]*Webhook, int64, error)
	FindDeliveryByID(ctx context.Context, id int64) (*Delivery, error)
	// FindDeliveryByEventID returns the subscription's delivery whose
	// EventID is eventID.
	FindDeliveryByEventID(ctx context.Context, webhookID int64, eventID string) (*Delivery, error)
	// FindDeliveries returns a page of a subscription's deliveries, newest
	// first, and the total count.
	FindDeliveries(ctx context.Context, webhookID int64, page Page) ([]*Delivery, int64, error)
	// FindDeliveryAttempts returns the attempts of the given deliveries, by
	// delivery and attempt number.
	FindDeliveryAttempts(ctx context.Context, deliveryIDs []int64) ([]*DeliveryAttempt, error)
	// FindEventByID returns one recorded event with its payload.
	FindEventByID(ctx context.Context, id string) (*Event, error)
}

// WebhookWriter changes subscriptions inside a transaction. Events fan out
// to subscriptions in Tx.InsertEvents itself.
type WebhookWriter interface {
	// LockWebhook returns a subscription, locked against other writers
	// until the transaction ends (ErrNotFound if there is none).
	LockWebhook(ctx context.Context, id int64) (*Webhook, error)
	// CreateWebhook inserts w and sets its ID. A second subscription of the
	// app to the same event and endpoint is ECONFLICT.
	CreateWebhook(ctx context.Context, w *Webhook) error
	// UpdateWebhook saves every field but ID, AppID and DateCreated
	// (ECONFLICT as CreateWebhook).
	UpdateWebhook(ctx context.Context, w *Webhook) error
	// DeleteWebhook removes a subscription with its deliveries and their
	// attempts; a dispatcher sending one of them finds nothing to record.
	DeleteWebhook(ctx context.Context, id int64) error
	// CreateDelivery inserts d (a resend), due at d.DateCreated, outside
	// any bag stream; it sets d.ID.
	CreateDelivery(ctx context.Context, d *Delivery) error
	// WakeDeliveries makes a subscription's unfinished deliveries that are
	// not being sent due at now (a reactivated subscription's deliveries
	// were put off until its pause would have ended), and reports how many.
	WakeDeliveries(ctx context.Context, webhookID int64, now time.Time) (int64, error)
	// SetAppWebhookKey stores the key an app's deliveries are signed with
	// (App.WebhookKey).
	SetAppWebhookKey(ctx context.Context, appID int64, key []byte) error
}

// DeliveryStats describes the delivery queue for metrics.
type DeliveryStats struct {
	// Due counts deliveries whose attempt is due and that no dispatcher
	// has claimed.
	Due int64
	// OldestDue is how long the oldest of them has been due (zero if none).
	OldestDue time.Duration
}

// WebhookStore is the workers' side of deliveries.
type WebhookStore interface {
	WebhookReader
	// ClaimDeliveries takes up to p.Limit due deliveries (pending, not
	// waiting for their turn, their next attempt due and no live claim on
	// them, their subscription not paused at p.Now), oldest due first,
	// claims them until p.Now+p.Lease, and returns each with its
	// subscription, body and app key. Two claimers never get the same
	// delivery while a claim holds. (When a subscription is paused, its
	// pending deliveries are put off to the pause's end, and those fanned
	// out during it start due then; reactivating it makes them due at once.)
	ClaimDeliveries(ctx context.Context, p ClaimDeliveriesParams) ([]*DeliveryToSend, error)
	// ExtendDeliveryLeases moves the given claims, those still current, to
	// until (a dispatcher's heartbeat while it sends them).
	ExtendDeliveryLeases(ctx context.Context, claims []DeliveryClaim, until time.Time) error
	// DeliveryStats describes the deliveries due at now.
	DeliveryStats(ctx context.Context, now time.Time) (DeliveryStats, error)
	// RecordDeliveryOutcomes records turns of deliveries, all in one
	// transaction, and ends their claims. A delivery that becomes final and
	// was in a bag stream hands the turn to the next waiting delivery of
	// that stream (due at once). A failed attempt is kept as a
	// DeliveryAttempt; the successful one is described by the delivery
	// itself (FindDeliveryAttempts lists it).
	RecordDeliveryOutcomes(ctx context.Context, outcomes []DeliveryOutcome) ([]DeliveryResult, error)
	// PruneDeliveries deletes attempts made before the given time, and
	// final deliveries last changed before it.
	PruneDeliveries(ctx context.Context, before time.Time) (int64, error)
}

// Subscriber is an ACTIVE subscription as fan-out sees it.
type Subscriber struct {
	WebhookID int64
	Event     EventType
	Ordered   bool
	// PausedUntil, when set, is when its new deliveries become due (if it
	// is still in the future then).
	PausedUntil *time.Time
}

// Subscribers are the ACTIVE subscriptions of apps, by app id.
type Subscribers map[int64][]Subscriber

// Receives reports whether a subscription receives e.
func (subs Subscribers) Receives(e *Event) bool {
	for _, s := range subs[e.AppID] {
		if s.Event == e.Type {
			return true
		}
	}
	return false
}

// StreamKey names a stream: one ordered subscription's deliveries of one
// bag, which go one at a time, in order.
type StreamKey struct{ WebhookID, BagID int64 }

// CompareStreams orders streams as every store takes their rows: by
// subscription, then bag (a fixed order, so transactions never deadlock).
func CompareStreams(a, b StreamKey) int {
	return cmp.Or(cmp.Compare(a.WebhookID, b.WebhookID), cmp.Compare(a.BagID, b.BagID))
}

// StreamAdd counts new deliveries into a stream. The store sets Before:
// how many of the stream's deliveries were pending before them.
type StreamAdd struct {
	Stream StreamKey
	Added  int64
	Before int64
}

// PlanFanOut makes the deliveries of newly recorded events, in event order:
// one per subscriber of the event's app and type. A delivery of a bag event
// to an ordered subscriber is in the bag's stream: count is called once
// (when any stream gets deliveries) with every stream's new deliveries, in
// CompareStreams order, and a delivery
// behind pending ones waits for its turn. The others are due at once, or
// when their subscription's pause ends. The store inserts what is returned.
func PlanFanOut(events []*Event, subs Subscribers, count func([]*StreamAdd) error) ([]*Delivery, error) {
	var plan []*Delivery
	paused := map[int64]time.Time{}
	added := map[StreamKey]*StreamAdd{}
	for _, e := range events {
		for _, s := range subs[e.AppID] {
			if s.Event != e.Type {
				continue
			}
			d := &Delivery{WebhookID: s.WebhookID, AppID: e.AppID, EventID: e.ID, SourceEventID: e.ID,
				EventType: e.Type, OrderID: e.OrderID, BagID: e.BagID, BagVersion: e.BagVersion,
				TransactionID: e.TransactionID, Sequence: e.Sequence, Status: DeliveryStatusCreated, InStream: s.Ordered && e.BagID != 0,
				DateCreated: e.DateCreated, DateLastModified: e.DateCreated}
			plan = append(plan, d)
			if s.PausedUntil != nil {
				paused[s.WebhookID] = *s.PausedUntil
			}
			if d.InStream {
				k := StreamKey{s.WebhookID, e.BagID}
				if added[k] == nil {
					added[k] = &StreamAdd{Stream: k}
				}
				added[k].Added++
			}
		}
	}
	if len(added) > 0 {
		adds := make([]*StreamAdd, 0, len(added))
		for _, a := range added {
			adds = append(adds, a)
		}
		slices.SortFunc(adds, func(a, b *StreamAdd) int { return CompareStreams(a.Stream, b.Stream) })
		if err := count(adds); err != nil {
			return nil, err
		}
	}
	for _, d := range plan {
		if d.InStream {
			a := added[StreamKey{d.WebhookID, d.BagID}]
			d.Waiting = a.Before > 0
			a.Before++
		}
		if !d.Waiting {
			due := d.DateCreated
			if until, ok := paused[d.WebhookID]; ok && until.After(due) {
				due = until
			}
			d.DateNextAttempt = &due
		}
	}
	return plan, nil
}
