package tote

import (
	"context"
	"encoding/json"
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
}

// KindDeliverWebhook is the job kind of a delivery: one job per delivery,
// whose args are DeliveryJobArgs. The stores insert these jobs themselves
// (fan-out and stream turns), so the kind is part of the store contract.
const KindDeliverWebhook = "deliver_webhook"

// DeliveryJobMaxAttempts is the job-level attempt limit of a delivery job.
// A delivery counts its own attempts (the retry schedule decides when it
// fails); its job may also be postponed any number of times while the
// subscription is paused or busy, so the job limit is out of reach.
const DeliveryJobMaxAttempts = 1 << 30

// DeliveryJobArgs are the args of a KindDeliverWebhook job.
type DeliveryJobArgs struct {
	DeliveryID int64 `json:"delivery_id"`
}

// DeliveryJob returns the job that sends delivery id from runAt on.
func DeliveryJob(id int64, runAt time.Time) JobParams {
	args, _ := json.Marshal(DeliveryJobArgs{DeliveryID: id})
	return JobParams{Kind: KindDeliverWebhook, Args: args, RunAt: runAt, CreatedAt: runAt, MaxAttempts: DeliveryJobMaxAttempts}
}

// DeliveryOutcome records one turn of a delivery: an HTTP attempt (Sent) or
// a cancellation.
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
	// JobID and JobAttempt, when set, name the delivery job's attempt that
	// made this turn: the job is ended in the same transaction (available
	// again at NextAttempt for IN_PROGRESS, completed otherwise), fenced
	// by its attempt like JobOutcome.
	JobID      int64
	JobAttempt int
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
	// JobRecorded: the job attempt named by the outcome was ended with it
	// (false when it no longer held its job).
	JobRecorded bool
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
	// attempts; jobs of those deliveries find nothing to do.
	DeleteWebhook(ctx context.Context, id int64) error
	// CreateDelivery inserts d (a resend) with its job, due at
	// d.DateCreated, outside any bag stream; it sets d.ID.
	CreateDelivery(ctx context.Context, d *Delivery) error
	// WakeDeliveries makes the queued jobs of a subscription's unfinished
	// deliveries due at now (a reactivated subscription's deliveries were
	// put off until its pause would have ended), and reports how many.
	WakeDeliveries(ctx context.Context, webhookID int64, now time.Time) (int64, error)
	// SetAppWebhookKey stores the key an app's deliveries are signed with
	// (App.WebhookKey).
	SetAppWebhookKey(ctx context.Context, appID int64, key []byte) error
}

// WebhookStore is the workers' side of deliveries.
type WebhookStore interface {
	WebhookReader
	// FindDeliveryToSend reads a delivery with its subscription, its body
	// and its app's key.
	FindDeliveryToSend(ctx context.Context, id int64) (*DeliveryToSend, error)
	// RecordDeliveryOutcomes records turns of deliveries, all in one
	// transaction. A delivery that becomes final and was in a bag stream
	// hands the turn to the next waiting delivery of that stream (its job
	// is inserted in the same transaction).
	RecordDeliveryOutcomes(ctx context.Context, outcomes []DeliveryOutcome) ([]DeliveryResult, error)
	// PruneDeliveries deletes attempts made before the given time, and
	// final deliveries last changed before it.
	PruneDeliveries(ctx context.Context, before time.Time) (int64, error)
}
