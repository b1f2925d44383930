package sandbox

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"github.com/toteorg/tote"
)

// KeyHeader carries the key shared by the platform and its connector.
const KeyHeader = "X-Sandbox-Key"

// Statuses of the platform's orders.
const (
	OrderStatusAccepted    = "ACCEPTED"
	OrderStatusBackordered = "BACKORDERED"
	// OrderStatusPending: a cartless merchant's order, taken but not yet
	// confirmed (tote.PlatformStatusPending).
	OrderStatusPending = tote.PlatformStatusPending
	// OrderStatusCanceled: cancelled by the merchant or at Tote's request;
	// its stock is back in inventory.
	OrderStatusCanceled = tote.PlatformStatusCanceled
)

// maxBody caps request bodies, as the API does.
const maxBody = 1 << 20

// Store is what the platform keeps and reads: its own records, and the
// merchants' behaviours. A tote.Store is one.
type Store interface {
	FindMerchantByID(ctx context.Context, id int64) (*tote.Merchant, error)
	tote.SandboxStore
}

// Platform is the simulated commerce platform's HTTP API. Set the fields,
// then serve Handler.
type Platform struct {
	Store Store
	// Key authenticates callers (X-Sandbox-Key); with none, every request
	// is refused.
	Key    string
	Clock  tote.Clock
	Logger *slog.Logger
}

// Handler returns the platform's API.
func (p *Platform) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /orders", p.handlePlace)
	mux.HandleFunc("GET /orders", p.handleLookup)
	mux.HandleFunc("POST /orders/cancel", p.handleCancel)
	mux.HandleFunc("POST /orders/refunds", p.handleRefund)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writePlatformError(w, http.StatusNotFound, "NOT_FOUND", "No route "+r.Method+" "+r.URL.Path+".")
	})
	return p.authenticate(mux)
}

func (p *Platform) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p.Key == "" || subtle.ConstantTimeCompare([]byte(r.Header.Get(KeyHeader)), []byte(p.Key)) != 1 {
			writePlatformError(w, http.StatusUnauthorized, tote.ErrorTypeExternalSubmitCart, "Missing or wrong "+KeyHeader+".")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (p *Platform) handlePlace(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var req orderJSON
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody)).Decode(&req); err != nil {
		writePlatformError(w, http.StatusBadRequest, tote.ErrorTypeExternalSubmitCart, "Malformed order: "+err.Error())
		return
	}
	if msg := req.validate(); msg != "" {
		writePlatformError(w, http.StatusBadRequest, tote.ErrorTypeExternalSubmitCart, msg)
		return
	}
	b, ok := p.behaviour(w, r, req.MerchantID)
	if !ok || !wait(ctx, b.LatencyMS) {
		return
	}
	existing, err := p.Store.FindSandboxOrder(ctx, req.MerchantID, req.Reference)
	if err == nil {
		p.answer(w, r, b, http.StatusOK, existing)
		return
	} else if !errors.Is(err, tote.ErrNotFound) {
		p.internalError(w, r, err)
		return
	}

	switch b.Submit {
	case tote.SandboxReject:
		writePlatformError(w, http.StatusUnprocessableEntity, tote.ErrorTypeExternalSubmitCart, "The store refused the order.")
		return
	case tote.SandboxFailRetryable:
		attempt, err := p.Store.CountSandboxAttempt(ctx, req.MerchantID, req.Reference)
		if err != nil {
			p.internalError(w, r, err)
			return
		}
		if attempt <= int64(b.FailTimes) {
			writePlatformError(w, http.StatusServiceUnavailable, tote.ErrorTypeExternalSubmitCart,
				fmt.Sprintf("The store is unavailable (attempt %d of the %d that fail).", attempt, b.FailTimes))
			return
		}
	}

	status := confirmedStatus(b)
	if b.Cartless {
		status = OrderStatusPending
	}
	body, err := json.Marshal(req)
	if err != nil {
		p.internalError(w, r, err)
		return
	}
	params := tote.SandboxOrderParams{
		MerchantID: req.MerchantID, ExternalID: newExternalID(), Reference: req.Reference, Status: status,
		Body: body, Total: req.Total, Currency: req.Currency, DateCreated: p.now(),
	}
	for _, l := range req.Lines {
		params.Lines = append(params.Lines, tote.SandboxLine{SkuID: l.SkuID, Quantity: l.Quantity})
	}
	o, created, err := p.Store.PlaceSandboxOrder(ctx, params)
	switch {
	case errors.Is(err, tote.ErrSandboxItemUnavailable):
		res := errorResponse{Type: tote.ErrorTypeExternalAddItem, Message: tote.ErrorMessage(err)}
		if item := (*tote.SandboxItemError)(nil); errors.As(err, &item) {
			res.SkuID = item.SkuID
		}
		writeJSON(w, http.StatusConflict, res)
		return
	case err != nil:
		p.internalError(w, r, err)
		return
	}
	code := http.StatusOK
	switch {
	case created && o.Status == OrderStatusPending:
		code = http.StatusAccepted
	case created:
		code = http.StatusCreated
	}
	p.answer(w, r, b, code, o)
}

// confirmedStatus is the status of an order the merchant has confirmed.
func confirmedStatus(b tote.SandboxBehaviour) string {
	if b.Backorder {
		return OrderStatusBackordered
	}
	return OrderStatusAccepted
}

// answer writes the order, or, for a TIMEOUT merchant, nothing until the
// caller has given up.
func (p *Platform) answer(w http.ResponseWriter, r *http.Request, b tote.SandboxBehaviour, code int, o *tote.SandboxOrder) {
	if b.Submit == tote.SandboxTimeout {
		<-r.Context().Done()
		return
	}
	writeJSON(w, code, toOrderResponse(o))
}

func (p *Platform) handleLookup(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	merchantID, err := strconv.ParseInt(r.URL.Query().Get("merchant_id"), 10, 64)
	reference := r.URL.Query().Get("reference")
	if err != nil || merchantID <= 0 || reference == "" {
		writePlatformError(w, http.StatusBadRequest, tote.ErrorTypeExternalSubmitCart, "merchant_id and reference are required.")
		return
	}
	b, ok := p.behaviour(w, r, merchantID)
	if !ok || !wait(ctx, b.LatencyMS) {
		return
	}
	o, err := p.Store.FindSandboxOrder(ctx, merchantID, reference)
	if err == nil && o.Status == OrderStatusPending {
		// A cartless platform confirms a taken order by the time it is
		// asked about it again.
		o, err = p.Store.UpdateSandboxOrder(ctx, merchantID, reference, p.now(), func(o *tote.SandboxOrder) ([]tote.SandboxLine, error) {
			if o.Status == OrderStatusPending {
				o.Status = confirmedStatus(b)
			}
			return nil, nil
		})
	}
	if errors.Is(err, tote.ErrNotFound) {
		writePlatformError(w, http.StatusNotFound, "NOT_FOUND", "No order with that reference.")
		return
	} else if err != nil {
		p.internalError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toOrderResponse(o))
}

// errOrderState refuses a change the order's status does not allow.
var errOrderState = errors.New("order state")

// handleCancel cancels an order and puts its stock back; cancelling a
// cancelled order answers it as it is.
func (p *Platform) handleCancel(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var req cancelJSON
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody)).Decode(&req); err != nil {
		writePlatformError(w, http.StatusBadRequest, tote.ErrorTypeExternalCancelOrder, "Malformed JSON: "+err.Error())
		return
	}
	if req.MerchantID <= 0 || req.Reference == "" {
		writePlatformError(w, http.StatusUnprocessableEntity, tote.ErrorTypeExternalCancelOrder, "merchant_id and reference are required.")
		return
	}
	b, ok := p.behaviour(w, r, req.MerchantID)
	if !ok || !wait(ctx, b.LatencyMS) {
		return
	}
	var status string
	o, err := p.Store.UpdateSandboxOrder(ctx, req.MerchantID, req.Reference, p.now(), func(o *tote.SandboxOrder) ([]tote.SandboxLine, error) {
		switch o.Status {
		case OrderStatusCanceled:
			return nil, nil
		case OrderStatusAccepted, OrderStatusBackordered, OrderStatusPending:
		default:
			status = o.Status
			return nil, errOrderState
		}
		o.Status = OrderStatusCanceled
		var restock []tote.SandboxLine
		for _, l := range linesOf(o) {
			restock = append(restock, tote.SandboxLine{SkuID: l.SkuID, Quantity: l.Quantity})
		}
		return restock, nil
	})
	switch {
	case errors.Is(err, tote.ErrNotFound):
		writePlatformError(w, http.StatusNotFound, "NOT_FOUND", "No order with that reference.")
	case errors.Is(err, errOrderState):
		writePlatformError(w, http.StatusConflict, tote.ErrorTypeExternalCancelOrder, "An order that is "+status+" cannot be cancelled.")
	case err != nil:
		p.internalError(w, r, err)
	default:
		writeJSON(w, http.StatusOK, toOrderResponse(o))
	}
}

// handleRefund records a refund of an order, once per refund reference,
// never beyond the order's total.
func (p *Platform) handleRefund(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var req refundJSON
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody)).Decode(&req); err != nil {
		writePlatformError(w, http.StatusBadRequest, tote.ErrorTypeExternalWriteOrder, "Malformed JSON: "+err.Error())
		return
	}
	switch {
	case req.MerchantID <= 0 || req.Reference == "" || req.RefundReference == "":
		writePlatformError(w, http.StatusUnprocessableEntity, tote.ErrorTypeExternalWriteOrder, "merchant_id, reference and refund_reference are required.")
		return
	case req.Amount < 1:
		writePlatformError(w, http.StatusUnprocessableEntity, tote.ErrorTypeExternalWriteOrder, "amount must be at least 1.")
		return
	}
	b, ok := p.behaviour(w, r, req.MerchantID)
	if !ok || !wait(ctx, b.LatencyMS) {
		return
	}
	var refund tote.SandboxRefund
	var created bool
	var refusal string
	_, err := p.Store.UpdateSandboxOrder(ctx, req.MerchantID, req.Reference, p.now(), func(o *tote.SandboxOrder) ([]tote.SandboxLine, error) {
		for _, rf := range o.Refunds {
			if rf.Reference == req.RefundReference {
				refund, created = rf, false
				if rf.Amount != req.Amount {
					refusal = fmt.Sprintf("Refund %s was made for %d, not %d.", rf.Reference, rf.Amount, req.Amount)
					return nil, errOrderState
				}
				return nil, nil
			}
		}
		if o.Status == OrderStatusPending {
			refusal = "The order is not confirmed yet."
			return nil, errOrderState
		}
		if left := o.Total - o.Refunded(); req.Amount > left {
			refusal = fmt.Sprintf("Only %d of the order's %d is left to refund.", left, o.Total)
			return nil, errOrderState
		}
		refund = tote.SandboxRefund{ExternalID: newRefundID(), Reference: req.RefundReference, Amount: req.Amount,
			Reason: req.Reason, DateCreated: p.now().UTC().Truncate(time.Microsecond)}
		o.Refunds, created = append(o.Refunds, refund), true
		return nil, nil
	})
	switch {
	case errors.Is(err, tote.ErrNotFound):
		writePlatformError(w, http.StatusNotFound, "NOT_FOUND", "No order with that reference.")
	case errors.Is(err, errOrderState):
		writePlatformError(w, http.StatusConflict, tote.ErrorTypeExternalWriteOrder, refusal)
	case err != nil:
		p.internalError(w, r, err)
	case created:
		writeJSON(w, http.StatusCreated, refund)
	default:
		writeJSON(w, http.StatusOK, refund)
	}
}

// behaviour reads the merchant's sandbox behaviour; an unknown merchant, or
// one on another platform, is a store the platform does not have (404).
func (p *Platform) behaviour(w http.ResponseWriter, r *http.Request, merchantID int64) (tote.SandboxBehaviour, bool) {
	m, err := p.Store.FindMerchantByID(r.Context(), merchantID)
	if err == nil && m.Platform != tote.PlatformSandbox {
		err = tote.ErrNotFound
	}
	if errors.Is(err, tote.ErrNotFound) {
		writePlatformError(w, http.StatusNotFound, tote.ErrorTypeExternalSubmitCart, fmt.Sprintf("No sandbox store for merchant %d.", merchantID))
		return tote.SandboxBehaviour{}, false
	} else if err != nil {
		p.internalError(w, r, err)
		return tote.SandboxBehaviour{}, false
	}
	return m.Sandbox, true
}

// wait sleeps for the merchant's latency; false when the caller gave up
// first (then nothing is answered: nobody is listening).
func wait(ctx context.Context, ms int) bool {
	if ms <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(time.Duration(ms) * time.Millisecond)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func (p *Platform) internalError(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil { // the caller has gone; the error is its cancellation
		return
	}
	p.logger().ErrorContext(r.Context(), "sandbox platform request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	writePlatformError(w, http.StatusInternalServerError, tote.ErrorTypeExternalSubmitCart, "The store had an internal error.")
}

func (p *Platform) now() time.Time {
	if p.Clock == nil {
		return tote.SystemClock{}.Now()
	}
	return p.Clock.Now()
}

func (p *Platform) logger() *slog.Logger {
	if p.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return p.Logger
}

// newRefundID makes the platform's id of a new refund.
func newRefundID() string {
	return "sbx_ref_" + strconv.FormatInt(rand.Int64N(1<<62)+1, 10)
}

// newExternalID makes the platform's id of a new order. It is random rather
// than sequential so that ids come from Go on both stores; the unique index
// on external_id guards the (negligible) chance of a repeat.
func newExternalID() string {
	return "sbx_ord_" + strconv.FormatInt(rand.Int64N(1<<62)+1, 10)
}
