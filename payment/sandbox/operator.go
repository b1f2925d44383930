package sandbox

import (
	"net/http"

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

// OperatorRoutes returns the provider's routes of the operator API
// (API.md, "Checkout carts"): the shopper's side of 3-D Secure.
//
//	POST /v1/sandbox/payment_intents/{client_secret}/confirm   body ignored
//	  200 {id, client_secret, status: "AUTHORIZED", amount, amount_captured,
//	       amount_refunded, currency, date_created}
//	  404 unknown client secret; 409 nothing to confirm (voided, failed, captured...)
//
// Confirming an intent that is already AUTHORIZED answers it unchanged.
// Errors have the API's shape {code, error, message}.
func (p *Provider) OperatorRoutes() []Route {
	return []Route{{"POST", "/v1/sandbox/payment_intents/{client_secret}/confirm", p.handleOperatorConfirm}}
}

// OperatorHandler serves OperatorRoutes on a mux of their own, for callers
// that mount a handler rather than routes. It does no authentication.
func (p *Provider) OperatorHandler() http.Handler {
	mux := http.NewServeMux()
	for _, rt := range p.OperatorRoutes() {
		mux.Handle(rt.Pattern(), rt.Handler)
	}
	return mux
}

func (p *Provider) handleOperatorConfirm(w http.ResponseWriter, r *http.Request) {
	in, err := p.confirm(r.Context(), r.PathValue("client_secret"))
	if err != nil {
		s := status(err)
		if s >= 500 {
			p.logger().ErrorContext(r.Context(), "sandbox operator request failed", "path", r.URL.Path, "err", err)
		}
		writeJSON(w, s, struct {
			Code    int    `json:"code"`
			Error   string `json:"error"`
			Message string `json:"message"`
		}{s, tote.ErrorCode(err), tote.ErrorMessage(err)})
		return
	}
	writeJSON(w, http.StatusOK, toIntentJSON(in))
}
