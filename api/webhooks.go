package api

import (
	"cmp"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/toteorg/tote"
	"github.com/toteorg/tote/webhook"
)

// The /v1/events/webhooks routes (API.md, "Webhooks"): subscriptions, their
// delivery log, resends and simulated events.

type webhookRequest struct {
	Event          *string `json:"event"`
	RemoteEndpoint *string `json:"remote_endpoint"`
	Status         *string `json:"status"`
	Ordered        *bool   `json:"ordered"`
}

type webhookBody struct {
	ID             int64              `json:"id"`
	AppID          int64              `json:"app_id"`
	Event          tote.EventType     `json:"event"`
	RemoteEndpoint string             `json:"remote_endpoint"`
	Status         tote.WebhookStatus `json:"status"`
	SigningSecret  string             `json:"signing_secret"`
	Ordered        bool               `json:"ordered"`
	// PausedUntil is set while the endpoint is paused for failing.
	PausedUntil      *time.Time `json:"paused_until"`
	DateCreated      time.Time  `json:"date_created"`
	DateLastModified time.Time  `json:"date_last_modified"`
}

func toWebhookBody(w *tote.Webhook) webhookBody {
	b := webhookBody{ID: w.ID, AppID: w.AppID, Event: w.Event, RemoteEndpoint: w.RemoteEndpoint, Status: w.Status,
		SigningSecret: w.SigningSecret, Ordered: w.Ordered, DateCreated: w.DateCreated, DateLastModified: w.DateLastModified}
	if w.PausedUntil != nil && w.PausedUntil.After(time.Now()) {
		b.PausedUntil = w.PausedUntil
	}
	return b
}

type deliveryBody struct {
	ID            int64          `json:"id"`
	WebhookID     int64          `json:"webhook_id"`
	EventID       string         `json:"event_id"`
	EventIDSource *string        `json:"event_id_source"`
	EventType     tote.EventType `json:"event_type"`
	// EntityID is what the delivery's body is, as a string like an order
	// error's: the order's id, or a payment event's transaction's.
	EntityID         string              `json:"entity_id"`
	BagID            *int64              `json:"bag_id"`
	BagVersion       int64               `json:"bag_version"`
	Status           tote.DeliveryStatus `json:"status"`
	Attempts         int                 `json:"attempts"`
	StatusCode       *int                `json:"status_code"`
	LastError        *string             `json:"last_error"`
	DateCreated      time.Time           `json:"date_created"`
	DateLastModified time.Time           `json:"date_last_modified"`
	DateNextAttempt  *time.Time          `json:"date_next_attempt"`
	AttemptLog       []attemptBody       `json:"attempt_log"`
}

type attemptBody struct {
	Attempt     int       `json:"attempt"`
	StatusCode  *int      `json:"status_code"`
	Error       *string   `json:"error"`
	DurationMS  float64   `json:"duration_ms"`
	DateCreated time.Time `json:"date_created"`
}

func toDeliveryBody(d *tote.Delivery, attempts []*tote.DeliveryAttempt) deliveryBody {
	b := deliveryBody{ID: d.ID, WebhookID: d.WebhookID, EventID: d.EventID, EventType: d.EventType,
		EntityID: strconv.FormatInt(cmp.Or(d.TransactionID, d.OrderID), 10), BagID: optional(d.BagID), BagVersion: d.BagVersion, Status: d.Status,
		Attempts: d.Attempts, StatusCode: optional(d.StatusCode), LastError: optional(d.LastError),
		DateCreated: d.DateCreated, DateLastModified: d.DateLastModified, DateNextAttempt: d.DateNextAttempt,
		AttemptLog: []attemptBody{}}
	if d.SourceEventID != d.EventID {
		b.EventIDSource = &d.SourceEventID
	}
	for _, a := range attempts {
		b.AttemptLog = append(b.AttemptLog, attemptBody{Attempt: a.Attempt, StatusCode: optional(a.StatusCode),
			Error: optional(a.Error), DurationMS: float64(a.Duration.Microseconds()) / 1000, DateCreated: a.DateCreated})
	}
	return b
}

// webhookID reads the {webhook_id} path parameter; a malformed one is a
// webhook that does not exist.
func webhookID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("webhook_id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, tote.Errorf(tote.ENOTFOUND, "Webhook %q not found.", r.PathValue("webhook_id"))
	}
	return id, nil
}

func (s *Server) handleCreateWebhook(w http.ResponseWriter, r *http.Request) {
	var req webhookRequest
	if err := decode(r, &req); err != nil {
		Error(w, r, s.Logger, err)
		return
	}
	p := webhook.CreateParams{Ordered: req.Ordered}
	if req.Event != nil {
		p.Event = *req.Event
	}
	if req.RemoteEndpoint != nil {
		p.RemoteEndpoint = *req.RemoteEndpoint
	}
	if req.Status != nil {
		p.Status = *req.Status
	}
	wh, err := s.Webhooks.Create(r.Context(), appFrom(r.Context()), r.Header.Get("X-Violet-App-Secret"), p)
	if err != nil {
		Error(w, r, s.Logger, err)
		return
	}
	writeJSON(w, http.StatusCreated, toWebhookBody(wh))
}

func (s *Server) handleListWebhooks(w http.ResponseWriter, r *http.Request) {
	page, err := parsePage(r)
	if err != nil {
		Error(w, r, s.Logger, err)
		return
	}
	list, total, err := s.Webhooks.List(r.Context(), appFrom(r.Context()).ID, page)
	if err != nil {
		Error(w, r, s.Logger, err)
		return
	}
	writeJSON(w, http.StatusOK, newPage(list, total, page, toWebhookBody))
}

func (s *Server) handleGetWebhook(w http.ResponseWriter, r *http.Request) {
	id, err := webhookID(r)
	if err == nil {
		var wh *tote.Webhook
		if wh, err = s.Webhooks.Get(r.Context(), appFrom(r.Context()).ID, id); err == nil {
			writeJSON(w, http.StatusOK, toWebhookBody(wh))
			return
		}
	}
	Error(w, r, s.Logger, err)
}

func (s *Server) handleUpdateWebhook(w http.ResponseWriter, r *http.Request) {
	id, err := webhookID(r)
	if err != nil {
		Error(w, r, s.Logger, err)
		return
	}
	var req webhookRequest
	if err := decode(r, &req); err != nil {
		Error(w, r, s.Logger, err)
		return
	}
	wh, err := s.Webhooks.Update(r.Context(), appFrom(r.Context()).ID, id, webhook.UpdateParams{
		Event: req.Event, RemoteEndpoint: req.RemoteEndpoint, Status: req.Status, Ordered: req.Ordered})
	if err != nil {
		Error(w, r, s.Logger, err)
		return
	}
	writeJSON(w, http.StatusOK, toWebhookBody(wh))
}

func (s *Server) handleDeleteWebhook(w http.ResponseWriter, r *http.Request) {
	id, err := webhookID(r)
	if err == nil {
		err = s.Webhooks.Delete(r.Context(), appFrom(r.Context()).ID, id)
	}
	if err != nil {
		Error(w, r, s.Logger, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleListDeliveries(w http.ResponseWriter, r *http.Request) {
	id, err := webhookID(r)
	if err != nil {
		Error(w, r, s.Logger, err)
		return
	}
	page, err := parsePage(r)
	if err != nil {
		Error(w, r, s.Logger, err)
		return
	}
	ds, attempts, total, err := s.Webhooks.Deliveries(r.Context(), appFrom(r.Context()).ID, id, page)
	if err != nil {
		Error(w, r, s.Logger, err)
		return
	}
	writeJSON(w, http.StatusOK, newPage(ds, total, page, func(d *tote.Delivery) deliveryBody {
		return toDeliveryBody(d, attempts[d.ID])
	}))
}

func (s *Server) handleResend(w http.ResponseWriter, r *http.Request) {
	id, err := webhookID(r)
	if err != nil {
		Error(w, r, s.Logger, err)
		return
	}
	d, err := s.Webhooks.Resend(r.Context(), appFrom(r.Context()).ID, id, r.PathValue("event_id"))
	if err != nil {
		Error(w, r, s.Logger, err)
		return
	}
	writeJSON(w, http.StatusAccepted, toDeliveryBody(d, nil))
}

type simulateRequest struct {
	EventType string `json:"event_type"`
	OrderID   *int64 `json:"order_id"`
}

type simulateBody struct {
	WebhookID      int64               `json:"webhook_id"`
	EventID        string              `json:"event_id"`
	EventType      tote.EventType      `json:"event_type"`
	RemoteEndpoint string              `json:"remote_endpoint"`
	Status         tote.DeliveryStatus `json:"status"`
	StatusCode     *int                `json:"status_code"`
	Error          *string             `json:"error"`
	DurationMS     float64             `json:"duration_ms"`
}

func (s *Server) handleSimulate(w http.ResponseWriter, r *http.Request) {
	id, err := webhookID(r)
	if err != nil {
		Error(w, r, s.Logger, err)
		return
	}
	var req simulateRequest
	if err := decode(r, &req); err != nil {
		Error(w, r, s.Logger, err)
		return
	}
	res, err := s.Webhooks.Simulate(r.Context(), appFrom(r.Context()), r.Header.Get("X-Violet-App-Secret"), id, req.EventType, req.OrderID)
	if err != nil {
		Error(w, r, s.Logger, err)
		return
	}
	writeJSON(w, http.StatusOK, simulateBody{WebhookID: res.WebhookID, EventID: res.EventID, EventType: res.EventType,
		RemoteEndpoint: res.RemoteEndpoint, Status: res.Status, StatusCode: optional(res.StatusCode), Error: optional(res.Error),
		DurationMS: float64(res.Duration.Microseconds()) / 1000})
}

// EventBodies renders webhook event bodies as the API returns the entities
// (tote.EventBodies): an order as GET /v1/orders/{order_id} returns it, a
// payment transaction as an entry of its payment_transactions.
type EventBodies struct{}

// Order renders o as GET /v1/orders/{order_id} returns it.
func (EventBodies) Order(o *tote.Order) ([]byte, error) { return json.Marshal(toOrderBody(o)) }

// Transaction renders t as the order's payment_transactions list it.
func (EventBodies) Transaction(t *tote.PaymentTransaction) ([]byte, error) {
	return json.Marshal(toTransactionBody(t))
}
