package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/toteorg/tote"
	"github.com/toteorg/tote/catalog"
)

// catalogService is the catalog service on the server's store and clock.
func (s *Server) catalogService() *catalog.Service {
	return &catalog.Service{Store: s.Store, Clock: s.Clock}
}

// pathInt64 reads a positive id from the path. Anything else names no
// existing entity: ENOTFOUND, with a message naming the parameter.
func pathInt64(r *http.Request, name, what string) (int64, error) {
	v := r.PathValue(name)
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id < 1 {
		return 0, &tote.Error{Code: tote.ENOTFOUND, Err: tote.ErrNotFound,
			Message: fmt.Sprintf("%s %q not found: %s must be a positive integer.", what, v, name)}
	}
	return id, nil
}

// Requests.

type sandboxRequest struct {
	Submit     string `json:"submit"`
	FailTimes  int    `json:"fail_times"`
	LatencyMS  int    `json:"latency_ms"`
	Cartless   bool   `json:"cartless"`
	PushEvents *bool  `json:"push_events"`
	Backorder  bool   `json:"backorder"`
}

type merchantRequest struct {
	ExternalID     string          `json:"external_id"`
	Name           string          `json:"name"`
	Platform       string          `json:"platform"`
	Currency       string          `json:"currency"`
	CommissionRate catalog.Decimal `json:"commission_rate"`
	Sandbox        *sandboxRequest `json:"sandbox"`
}

type skuRequest struct {
	ExternalID       string `json:"external_id"`
	Name             string `json:"name"`
	Price            *int64 `json:"price"`
	Currency         string `json:"currency"`
	Inventory        *int64 `json:"inventory"`
	Weight           int64  `json:"weight"`
	RequiresShipping *bool  `json:"requires_shipping"`
	ProductType      string `json:"product_type"`
}

type shippingMethodRequest struct {
	ExternalID  string `json:"external_id"`
	Label       string `json:"label"`
	Carrier     string `json:"carrier"`
	Price       *int64 `json:"price"`
	Type        string `json:"type"`
	MinSubtotal *int64 `json:"min_subtotal"`
	MaxSubtotal *int64 `json:"max_subtotal"`
}

type taxRateRequest struct {
	Country           string          `json:"country"`
	State             string          `json:"state"`
	Rate              catalog.Decimal `json:"rate"`
	AppliesToShipping bool            `json:"applies_to_shipping"`
}

func toMerchantInput(r merchantRequest) catalog.MerchantInput {
	in := catalog.MerchantInput{ExternalID: r.ExternalID, Name: r.Name, Platform: r.Platform, Currency: r.Currency,
		CommissionRate: r.CommissionRate}
	if sb := r.Sandbox; sb != nil {
		in.Sandbox = &catalog.SandboxInput{Submit: sb.Submit, FailTimes: sb.FailTimes, LatencyMS: sb.LatencyMS,
			Cartless: sb.Cartless, PushEvents: sb.PushEvents, Backorder: sb.Backorder}
	}
	return in
}

func toSKUInput(r skuRequest) catalog.SKUInput {
	return catalog.SKUInput{ExternalID: r.ExternalID, Name: r.Name, Price: r.Price, Currency: r.Currency,
		Inventory: r.Inventory, Weight: r.Weight, RequiresShipping: r.RequiresShipping, ProductType: r.ProductType}
}

func toShippingMethodInput(r shippingMethodRequest) catalog.ShippingMethodInput {
	return catalog.ShippingMethodInput{ExternalID: r.ExternalID, Label: r.Label, Carrier: r.Carrier, Price: r.Price,
		Type: r.Type, MinSubtotal: r.MinSubtotal, MaxSubtotal: r.MaxSubtotal}
}

func toTaxRateInput(r taxRateRequest) catalog.TaxRateInput {
	return catalog.TaxRateInput{Country: r.Country, State: r.State, Rate: r.Rate, AppliesToShipping: r.AppliesToShipping}
}

// Responses.

// SandboxResponse is a merchant's sandbox behaviour on the wire.
type SandboxResponse struct {
	Submit     string `json:"submit"`
	FailTimes  int    `json:"fail_times"`
	LatencyMS  int    `json:"latency_ms"`
	Cartless   bool   `json:"cartless"`
	PushEvents bool   `json:"push_events"`
	Backorder  bool   `json:"backorder"`
}

// MerchantResponse is a merchant on the wire. ShippingMethods and TaxRates
// are set only by GET /v1/admin/merchants/{merchant_id}.
type MerchantResponse struct {
	ID         int64  `json:"id"`
	ExternalID string `json:"external_id,omitempty"`
	Name       string `json:"name"`
	Platform   string `json:"platform"`
	Currency   string `json:"currency"`
	// CommissionRate is a percentage (12.5), null when the app's applies.
	CommissionRate   *json.Number             `json:"commission_rate"`
	Sandbox          SandboxResponse          `json:"sandbox"`
	DateCreated      time.Time                `json:"date_created"`
	DateLastModified time.Time                `json:"date_last_modified"`
	ShippingMethods  []ShippingMethodResponse `json:"shipping_methods,omitzero"`
	TaxRates         []TaxRateResponse        `json:"tax_rates,omitzero"`
}

// ToMerchantResponse converts a merchant for the wire.
func ToMerchantResponse(m *tote.Merchant) MerchantResponse {
	var rate *json.Number
	if m.CommissionRate != nil {
		n := json.Number(catalog.FormatPercent(*m.CommissionRate))
		rate = &n
	}
	sb := m.Sandbox
	return MerchantResponse{
		ID:             m.ID,
		ExternalID:     m.ExternalID,
		Name:           m.Name,
		Platform:       m.Platform,
		Currency:       m.Currency,
		CommissionRate: rate,
		Sandbox: SandboxResponse{Submit: sb.Submit, FailTimes: sb.FailTimes, LatencyMS: sb.LatencyMS,
			Cartless: sb.Cartless, PushEvents: sb.PushEvents, Backorder: sb.Backorder},
		DateCreated:      m.DateCreated.UTC(),
		DateLastModified: m.DateModified.UTC(),
	}
}

// SKUResponse is a SKU on the wire.
type SKUResponse struct {
	ID               int64     `json:"id"`
	MerchantID       int64     `json:"merchant_id"`
	ExternalID       string    `json:"external_id,omitempty"`
	Name             string    `json:"name"`
	Price            int64     `json:"price"`
	Currency         string    `json:"currency"`
	Inventory        int64     `json:"inventory"`
	Weight           int64     `json:"weight"`
	RequiresShipping bool      `json:"requires_shipping"`
	ProductType      string    `json:"product_type"`
	DateCreated      time.Time `json:"date_created"`
	DateLastModified time.Time `json:"date_last_modified"`
}

// ToSKUResponse converts a SKU for the wire.
func ToSKUResponse(s *tote.SKU) SKUResponse {
	return SKUResponse{
		ID:               s.ID,
		MerchantID:       s.MerchantID,
		ExternalID:       s.ExternalID,
		Name:             s.Name,
		Price:            s.Price,
		Currency:         s.Currency,
		Inventory:        s.Inventory,
		Weight:           s.Weight,
		RequiresShipping: s.RequiresShipping,
		ProductType:      s.ProductType,
		DateCreated:      s.DateCreated.UTC(),
		DateLastModified: s.DateModified.UTC(),
	}
}

// ShippingMethodResponse is a merchant's shipping method on the wire.
type ShippingMethodResponse struct {
	ShippingMethodID int64     `json:"shipping_method_id"`
	MerchantID       int64     `json:"merchant_id"`
	ExternalID       string    `json:"external_id,omitempty"`
	Label            string    `json:"label"`
	Carrier          string    `json:"carrier"`
	Price            int64     `json:"price"`
	Type             string    `json:"type"`
	MinSubtotal      *int64    `json:"min_subtotal"`
	MaxSubtotal      *int64    `json:"max_subtotal"`
	DateCreated      time.Time `json:"date_created"`
}

// ToShippingMethodResponse converts a shipping method for the wire.
func ToShippingMethodResponse(m *tote.ShippingMethod) ShippingMethodResponse {
	return ShippingMethodResponse{
		ShippingMethodID: m.ID,
		MerchantID:       m.MerchantID,
		ExternalID:       m.ExternalID,
		Label:            m.Label,
		Carrier:          m.Carrier,
		Price:            m.Price,
		Type:             m.Type,
		MinSubtotal:      m.MinSubtotal,
		MaxSubtotal:      m.MaxSubtotal,
		DateCreated:      m.DateCreated.UTC(),
	}
}

// TaxRateResponse is a merchant's tax rate on the wire; Rate is a decimal
// string ("0.0725").
type TaxRateResponse struct {
	ID                int64     `json:"id"`
	MerchantID        int64     `json:"merchant_id"`
	Country           string    `json:"country"`
	State             string    `json:"state"`
	Rate              string    `json:"rate"`
	AppliesToShipping bool      `json:"applies_to_shipping"`
	DateCreated       time.Time `json:"date_created"`
}

// ToTaxRateResponse converts a tax rate for the wire.
func ToTaxRateResponse(r *tote.TaxRate) TaxRateResponse {
	return TaxRateResponse{
		ID:                r.ID,
		MerchantID:        r.MerchantID,
		Country:           r.Country,
		State:             r.State,
		Rate:              catalog.FormatTaxRate(r.RatePPM),
		AppliesToShipping: r.AppliesToShipping,
		DateCreated:       r.DateCreated.UTC(),
	}
}

// Operator routes.

func (s *Server) handleCreateMerchant(w http.ResponseWriter, r *http.Request) {
	var req merchantRequest
	if err := decode(r, &req); err != nil {
		Error(w, r, s.Logger, err)
		return
	}
	m, err := s.catalogService().CreateMerchant(r.Context(), toMerchantInput(req))
	if err != nil {
		Error(w, r, s.Logger, err)
		return
	}
	writeJSON(w, http.StatusCreated, ToMerchantResponse(m))
}

func (s *Server) handleListMerchants(w http.ResponseWriter, r *http.Request) {
	page, err := parsePage(r)
	if err != nil {
		Error(w, r, s.Logger, err)
		return
	}
	merchants, total, err := s.Store.FindMerchants(r.Context(), page)
	if err != nil {
		Error(w, r, s.Logger, err)
		return
	}
	writeJSON(w, http.StatusOK, newPage(merchants, total, page, ToMerchantResponse))
}

func (s *Server) handleGetMerchant(w http.ResponseWriter, r *http.Request) {
	id, err := pathInt64(r, "merchant_id", "Merchant")
	if err != nil {
		Error(w, r, s.Logger, err)
		return
	}
	m, err := s.catalogService().Merchant(r.Context(), id)
	if err != nil {
		Error(w, r, s.Logger, err)
		return
	}
	methods, err := s.Store.FindShippingMethods(r.Context(), id)
	if err != nil {
		Error(w, r, s.Logger, err)
		return
	}
	rates, err := s.Store.FindTaxRates(r.Context(), id)
	if err != nil {
		Error(w, r, s.Logger, err)
		return
	}
	res := ToMerchantResponse(m)
	res.ShippingMethods = make([]ShippingMethodResponse, 0, len(methods))
	for _, sm := range methods {
		res.ShippingMethods = append(res.ShippingMethods, ToShippingMethodResponse(sm))
	}
	res.TaxRates = make([]TaxRateResponse, 0, len(rates))
	for _, rate := range rates {
		res.TaxRates = append(res.TaxRates, ToTaxRateResponse(rate))
	}
	writeJSON(w, http.StatusOK, res)
}

// merchantWrite serves a write to one merchant
// (/v1/admin/merchants/{merchant_id}...): the merchant id from the path, the
// body decoded as Req, then write, whose result is sent with status.
func merchantWrite[Req, Res any](s *Server, status int, write func(ctx context.Context, merchantID int64, req Req) (Res, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := pathInt64(r, "merchant_id", "Merchant")
		if err != nil {
			Error(w, r, s.Logger, err)
			return
		}
		var req Req
		if err := decode(r, &req); err != nil {
			Error(w, r, s.Logger, err)
			return
		}
		res, err := write(r.Context(), id, req)
		if err != nil {
			Error(w, r, s.Logger, err)
			return
		}
		writeJSON(w, status, res)
	}
}

// handleUpdateMerchant changes the fields the body has; the others keep
// their values (decision 13), so {"sandbox": {"submit": "REJECT"}} scripts
// a merchant's next submissions and changes nothing else. null clears an
// optional field (commission_rate: the app's rate; sandbox: ACCEPT). An
// unknown merchant is a 404 whatever the body.
func (s *Server) handleUpdateMerchant(w http.ResponseWriter, r *http.Request) {
	id, err := pathInt64(r, "merchant_id", "Merchant")
	if err != nil {
		Error(w, r, s.Logger, err)
		return
	}
	svc := s.catalogService()
	if _, err := svc.Merchant(r.Context(), id); err != nil {
		Error(w, r, s.Logger, err) // 404 before anything in the body
		return
	}
	data, err := readBody(r)
	if err != nil {
		Error(w, r, s.Logger, err)
		return
	}
	// The body is decoded over the merchant as the update's transaction
	// holds it, so two PUTs of different fields both count.
	m, err := svc.EditMerchant(r.Context(), id, func(cur *tote.Merchant) (catalog.MerchantInput, error) {
		req := merchantRequestOf(cur)
		err := decodeBytes(data, &req)
		return toMerchantInput(req), err
	})
	if err != nil {
		Error(w, r, s.Logger, err)
		return
	}
	writeJSON(w, http.StatusOK, ToMerchantResponse(m))
}

// merchantRequestOf is m as a request that would write it as it is: what
// an update's body is decoded over.
func merchantRequestOf(m *tote.Merchant) merchantRequest {
	req := merchantRequest{ExternalID: m.ExternalID, Name: m.Name, Platform: m.Platform, Currency: m.Currency}
	if m.CommissionRate != nil {
		req.CommissionRate = catalog.Decimal(catalog.FormatPercent(*m.CommissionRate))
	}
	sb := m.Sandbox
	req.Sandbox = &sandboxRequest{Submit: sb.Submit, FailTimes: sb.FailTimes, LatencyMS: sb.LatencyMS,
		Cartless: sb.Cartless, PushEvents: &sb.PushEvents, Backorder: sb.Backorder}
	return req
}

func (s *Server) handleCreateSKU(w http.ResponseWriter, r *http.Request) {
	merchantWrite(s, http.StatusCreated, func(ctx context.Context, id int64, req skuRequest) (any, error) {
		sku, err := s.catalogService().CreateSKU(ctx, id, toSKUInput(req))
		if err != nil {
			return nil, err
		}
		return ToSKUResponse(sku), nil
	})(w, r)
}

func (s *Server) handleCreateShippingMethod(w http.ResponseWriter, r *http.Request) {
	merchantWrite(s, http.StatusCreated, func(ctx context.Context, id int64, req shippingMethodRequest) (any, error) {
		sm, err := s.catalogService().CreateShippingMethod(ctx, id, toShippingMethodInput(req))
		if err != nil {
			return nil, err
		}
		return ToShippingMethodResponse(sm), nil
	})(w, r)
}

func (s *Server) handleSaveTaxRate(w http.ResponseWriter, r *http.Request) {
	merchantWrite(s, http.StatusCreated, func(ctx context.Context, id int64, req taxRateRequest) (any, error) {
		rate, err := s.catalogService().SaveTaxRate(ctx, id, toTaxRateInput(req))
		if err != nil {
			return nil, err
		}
		return ToTaxRateResponse(rate), nil
	})(w, r)
}

// App routes.

func (s *Server) handleListSKUs(w http.ResponseWriter, r *http.Request) {
	page, err := parsePage(r)
	if err != nil {
		Error(w, r, s.Logger, err)
		return
	}
	var merchantID int64
	if v := r.URL.Query().Get("merchant_id"); v != "" {
		merchantID, err = strconv.ParseInt(v, 10, 64)
		if err != nil || merchantID < 1 {
			Error(w, r, s.Logger, tote.Invalid(tote.FieldError{Field: "merchant_id", Message: "must be a positive integer"}))
			return
		}
	}
	skus, total, err := s.catalogService().SKUs(r.Context(), merchantID, page)
	if err != nil {
		Error(w, r, s.Logger, err)
		return
	}
	writeJSON(w, http.StatusOK, newPage(skus, total, page, ToSKUResponse))
}

func (s *Server) handleGetSKU(w http.ResponseWriter, r *http.Request) {
	id, err := pathInt64(r, "sku_id", "SKU")
	if err != nil {
		Error(w, r, s.Logger, err)
		return
	}
	sku, err := s.catalogService().SKU(r.Context(), id)
	if err != nil {
		Error(w, r, s.Logger, err)
		return
	}
	writeJSON(w, http.StatusOK, ToSKUResponse(sku))
}
