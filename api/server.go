// Package api is Tote's HTTP interface: the /v1 routes of spec/API.md, the
// operator routes, health, metrics and the OpenAPI document. Handlers decode
// wire structs, call the services, and encode wire structs; the domain types
// never reach the wire directly.
package api

import (
	"bytes"
	"context"
	_ "embed"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/toteorg/tote"
	"github.com/toteorg/tote/submission"
	"github.com/toteorg/tote/tenant"
	"github.com/toteorg/tote/webhook"
)

// MaxBodyBytes is the largest request body accepted (413 beyond).
const MaxBodyBytes = 1 << 20

// Server serves the API. Set the exported fields, then call Handler.
type Server struct {
	Store    tote.Store
	Apps     *tenant.Service
	Orders   *submission.Engine
	Webhooks *webhook.Service
	// Dispatcher, when set, reports this process's webhook attempts on
	// /metrics.
	Dispatcher *webhook.Dispatcher
	Clock      tote.Clock
	Logger     *slog.Logger
	AdminKey   string
	// Registry receives the HTTP and queue metrics and is served on /metrics.
	Registry *prometheus.Registry
	// OperatorRoutes are further routes behind the admin key (the
	// sandboxes' operator routes).
	OperatorRoutes []Route

	metrics *httpMetrics
}

// Route is a route another package provides, mounted by the server.
type Route struct {
	Method, Path string
	Handler      http.HandlerFunc
}

// route is one documented route; the OpenAPI test holds the list and the
// document to each other.
type route struct {
	method, path string
	auth         authKind
	handler      http.HandlerFunc
}

type authKind int

const (
	authNone authKind = iota
	authApp
	authAdmin
)

func (s *Server) routes() []route {
	var extra []route
	for _, rt := range s.OperatorRoutes {
		extra = append(extra, route{rt.Method, rt.Path, authAdmin, rt.Handler})
	}
	return append(extra, []route{
		{"GET", "/healthz", authNone, s.handleHealthz},
		{"GET", "/readyz", authNone, s.handleReadyz},
		{"GET", "/openapi.json", authNone, s.handleOpenAPI},
		{"POST", "/v1/admin/apps", authAdmin, s.handleCreateApp},
		{"POST", "/v1/admin/merchants", authAdmin, s.handleCreateMerchant},
		{"GET", "/v1/admin/merchants", authAdmin, s.handleListMerchants},
		{"GET", "/v1/admin/merchants/{merchant_id}", authAdmin, s.handleGetMerchant},
		{"PUT", "/v1/admin/merchants/{merchant_id}", authAdmin, s.handleUpdateMerchant},
		{"POST", "/v1/admin/merchants/{merchant_id}/skus", authAdmin, s.handleCreateSKU},
		{"POST", "/v1/admin/merchants/{merchant_id}/shipping_methods", authAdmin, s.handleCreateShippingMethod},
		{"POST", "/v1/admin/merchants/{merchant_id}/tax_rates", authAdmin, s.handleSaveTaxRate},
		{"GET", "/v1/catalog/skus", authApp, s.handleListSKUs},
		{"GET", "/v1/catalog/skus/{sku_id}", authApp, s.handleGetSKU},
		{"POST", "/v1/orders", authApp, s.handleCreateOrder},
		{"GET", "/v1/checkout/cart/{cart_id}", authApp, s.handleGetOrder},
		{"POST", "/v1/checkout/cart/{cart_id}/submit", authApp, s.handleSubmitCart},
		{"POST", "/v1/orders/estimate", authApp, s.handleEstimateOrder},
		{"GET", "/v1/orders", authApp, s.handleListOrders},
		{"GET", "/v1/orders/{order_id}", authApp, s.handleGetOrder},
		{"POST", "/v1/orders/search", authApp, s.handleSearchOrders},
		{"POST", "/v1/orders/bags/search", authApp, s.handleSearchBags},
		{"POST", "/v1/events/webhooks", authApp, s.handleCreateWebhook},
		{"GET", "/v1/events/webhooks", authApp, s.handleListWebhooks},
		{"GET", "/v1/events/webhooks/{webhook_id}", authApp, s.handleGetWebhook},
		{"PUT", "/v1/events/webhooks/{webhook_id}", authApp, s.handleUpdateWebhook},
		{"DELETE", "/v1/events/webhooks/{webhook_id}", authApp, s.handleDeleteWebhook},
		{"GET", "/v1/events/webhooks/{webhook_id}/events", authApp, s.handleListDeliveries},
		{"POST", "/v1/events/webhooks/{webhook_id}/events/{event_id}/resend", authApp, s.handleResend},
		{"POST", "/v1/events/webhooks/{webhook_id}/simulate", authApp, s.handleSimulate},
	}...)
}

// Handler returns the server's root handler.
func (s *Server) Handler() http.Handler {
	if s.Registry == nil {
		s.Registry = prometheus.NewRegistry()
	}
	s.metrics = newHTTPMetrics(s.Registry)
	s.Registry.MustRegister(&queueCollector{store: s.Store, clock: s.Clock, log: s.Logger},
		&deliveryCollector{store: s.Store, dispatcher: s.Dispatcher, clock: s.Clock, log: s.Logger})

	mux := http.NewServeMux()
	for _, rt := range s.routes() {
		mux.Handle(rt.method+" "+rt.path, s.protect(rt.auth, rt.handler))
	}
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.Registry, promhttp.HandlerOpts{}))
	// Anything else under /v1 is authenticated first, so an unknown route
	// answers 401 to a stranger and 404 to an app.
	mux.Handle("/v1/admin/", s.protect(authAdmin, s.handleNotFound))
	mux.Handle("/v1/sandbox/", s.protect(authAdmin, s.handleNotFound))
	mux.Handle("/v1/", s.protect(authApp, s.handleNotFound))
	mux.HandleFunc("/", s.handleNotFound)
	return s.observe(mux)
}

// protect wraps a handler in its authentication and, for POSTs, the
// Idempotency-Key handling (which needs to know whose key it is).
func (s *Server) protect(a authKind, h http.HandlerFunc) http.Handler {
	switch a {
	case authApp:
		return s.requireApp(s.idempotent(h))
	case authAdmin:
		return s.requireAdmin(s.idempotent(h))
	default:
		return h
	}
}

func (s *Server) handleHealthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) handleReadyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.Store.Ping(ctx); err != nil {
		s.Logger.WarnContext(ctx, "readiness check failed", "err", err)
		writeJSON(w, http.StatusServiceUnavailable, errorBody{Code: 503, Error: tote.EUNAVAILABLE, Message: "Database unreachable."})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) handleNotFound(w http.ResponseWriter, r *http.Request) {
	Error(w, r, s.Logger, tote.Errorf(tote.ENOTFOUND, "No route %s %s.", r.Method, r.URL.Path))
}

//go:embed openapi.json
var openAPIDocument []byte

// OpenAPIDocument returns the API reference the server serves at
// /openapi.json (a copy).
func OpenAPIDocument() []byte { return bytes.Clone(openAPIDocument) }

func (s *Server) handleOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write(openAPIDocument)
}

// Routes lists the documented routes as "METHOD /path", for the test that
// holds them and the OpenAPI document to each other.
func (s *Server) Routes() []string {
	var out []string
	for _, rt := range s.routes() {
		out = append(out, rt.method+" "+rt.path)
	}
	return append(out, "GET /metrics")
}
