package sandbox

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/toteorg/tote"
)

// Route is one operator route, for the API server to mount behind its
// admin authentication. Handler reads the path's wildcards with
// r.PathValue, so it must be mounted with Pattern (as "Method Path").
type Route struct {
	Method  string
	Path    string
	Handler http.HandlerFunc
}

// Pattern is the route as an http.ServeMux pattern.
func (rt Route) Pattern() string { return rt.Method + " " + rt.Path }

// OperatorRoutes returns the platform's routes of the operator API
// (API.md, "Sandbox platform"): what the merchant sees in its store.
//
//	GET /v1/sandbox/merchants/{merchant_id}/orders
//	  200 [{external_id, reference, status, skus: [{sku_id, name, quantity, price}],
//	        total, currency, fulfillments: [], refunds: [], date_created}]   oldest first
//	  404 unknown merchant, or not a SANDBOX merchant; 422 merchant_id not a positive integer
//
// Errors have the API's shape {code, error, message}.
func (p *Platform) OperatorRoutes() []Route {
	return []Route{{"GET", "/v1/sandbox/merchants/{merchant_id}/orders", p.handleOperatorOrders}}
}

// OperatorHandler serves OperatorRoutes on a mux of their own, for callers
// that mount a handler rather than routes. It does no authentication.
func (p *Platform) OperatorHandler() http.Handler {
	mux := http.NewServeMux()
	for _, rt := range p.OperatorRoutes() {
		mux.Handle(rt.Pattern(), rt.Handler)
	}
	return mux
}

// merchantOrderJSON is one of the platform's records, as the merchant sees
// it. Fulfillments stay empty until the merchant's actions
// (POST /v1/sandbox/bags/{bag_id}/...) exist.
type merchantOrderJSON struct {
	ExternalID   string               `json:"external_id"`
	Reference    string               `json:"reference"`
	Status       string               `json:"status"`
	Skus         []lineJSON           `json:"skus"`
	Total        int64                `json:"total"`
	Currency     string               `json:"currency"`
	Fulfillments []any                `json:"fulfillments"`
	Refunds      []tote.SandboxRefund `json:"refunds"`
	DateCreated  time.Time            `json:"date_created"`
}

func (p *Platform) handleOperatorOrders(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id, err := strconv.ParseInt(r.PathValue("merchant_id"), 10, 64)
	if err != nil || id <= 0 { // no merchant has such an id, as for every other path id
		p.operatorError(w, r, tote.Errorf(tote.ENOTFOUND, "Merchant %q not found: merchant_id must be a positive integer.", r.PathValue("merchant_id")))
		return
	}
	m, err := p.Store.FindMerchantByID(ctx, id)
	if err == nil && m.Platform != tote.PlatformSandbox {
		err = tote.Errorf(tote.ENOTFOUND, "Merchant %d is not on the sandbox platform.", id)
	}
	if err != nil {
		p.operatorError(w, r, err)
		return
	}
	orders, err := p.Store.FindSandboxOrders(ctx, id)
	if err != nil {
		p.operatorError(w, r, err)
		return
	}
	out := make([]merchantOrderJSON, 0, len(orders))
	for _, o := range orders {
		out = append(out, merchantOrderJSON{
			ExternalID: o.ExternalID, Reference: o.Reference, Status: o.Status, Skus: linesOf(o),
			Total: o.Total, Currency: o.Currency, Fulfillments: []any{}, Refunds: toOrderResponse(o).Refunds,
			DateCreated: o.DateCreated.UTC(),
		})
	}
	writeJSON(w, http.StatusOK, out)
}

// statuses maps error codes to HTTP statuses, as the API does.
var statuses = map[string]int{
	tote.EMALFORMED:    http.StatusBadRequest,
	tote.EUNAUTHORIZED: http.StatusUnauthorized,
	tote.EFORBIDDEN:    http.StatusForbidden,
	tote.ENOTFOUND:     http.StatusNotFound,
	tote.ECONFLICT:     http.StatusConflict,
	tote.ETOOLARGE:     http.StatusRequestEntityTooLarge,
	tote.EINVALID:      http.StatusUnprocessableEntity,
	tote.EUNAVAILABLE:  http.StatusServiceUnavailable,
}

// operatorError writes err in the API's error shape.
func (p *Platform) operatorError(w http.ResponseWriter, r *http.Request, err error) {
	code := tote.ErrorCode(err)
	status, ok := statuses[code]
	if !ok {
		status = http.StatusInternalServerError
		p.logger().ErrorContext(r.Context(), "sandbox operator request failed", "path", r.URL.Path, "err", err)
	}
	msg := tote.ErrorMessage(err)
	if errors.Is(err, tote.ErrNotFound) && code == tote.ENOTFOUND {
		msg = fmt.Sprintf("No merchant %s.", r.PathValue("merchant_id"))
	}
	writeJSON(w, status, struct {
		Code    int               `json:"code"`
		Error   string            `json:"error"`
		Message string            `json:"message"`
		Errors  []tote.FieldError `json:"errors,omitempty"`
	}{status, code, msg, tote.ErrorFields(err)})
}
