package api

import (
	"cmp"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/toteorg/tote"
	"github.com/toteorg/tote/submission"
)

// Wire shapes of the order requests.

type dosRequest struct {
	PaymentMethod *struct {
		Token           string `json:"token"`
		PaymentProvider string `json:"payment_provider"`
	} `json:"payment_method"`
	Order *struct {
		AppOrderID      string         `json:"app_order_id"`
		ReferralID      string         `json:"referral_id"`
		Customer        *tote.Customer `json:"customer"`
		ShippingAddress *tote.Address  `json:"shipping_address"`
		BillingAddress  *tote.Address  `json:"billing_address"`
		Currency        string         `json:"currency"`
		Bags            []struct {
			MerchantID     int64             `json:"merchant_id"`
			Skus           []orderSkuRequest `json:"skus"`
			ShippingMethod *struct {
				ShippingMethodID int64  `json:"shipping_method_id"`
				Label            string `json:"label"`
				Price            *int64 `json:"price"`
			} `json:"shipping_method"`
		} `json:"bags"`
	} `json:"order"`
}

type orderSkuRequest struct {
	SkuID    int64  `json:"sku_id"`
	Quantity int64  `json:"quantity"`
	Price    *int64 `json:"price"`
}

func toSkuRequests(in []orderSkuRequest) []submission.SkuRequest {
	out := make([]submission.SkuRequest, len(in))
	for i, s := range in {
		out[i] = submission.SkuRequest{SkuID: s.SkuID, Quantity: s.Quantity, Price: s.Price}
	}
	return out
}

// handleCreateOrder is Direct Order Submission.
func (s *Server) handleCreateOrder(w http.ResponseWriter, r *http.Request) {
	var req dosRequest
	if err := decode(r, &req); err != nil {
		Error(w, r, s.Logger, err)
		return
	}
	var bad []tote.FieldError
	if req.PaymentMethod == nil {
		bad = append(bad, tote.FieldError{Field: "payment_method", Message: "is required"})
	}
	if req.Order == nil {
		bad = append(bad, tote.FieldError{Field: "order", Message: "is required"})
	} else if req.Order.Customer == nil {
		bad = append(bad, tote.FieldError{Field: "order.customer", Message: "is required"})
	}
	if len(bad) > 0 {
		Error(w, r, s.Logger, tote.Invalid(bad...))
		return
	}
	o := req.Order
	or := &submission.OrderRequest{
		IdempotencyKey: r.Header.Get("Idempotency-Key"),
		AppOrderID:     o.AppOrderID, ReferralID: o.ReferralID, Currency: o.Currency,
		Customer: *o.Customer, ShippingAddress: o.ShippingAddress, BillingAddress: o.BillingAddress,
		PaymentMethod: tote.PaymentMethod{Token: req.PaymentMethod.Token, PaymentProvider: req.PaymentMethod.PaymentProvider},
	}
	for _, b := range o.Bags {
		br := submission.BagRequest{MerchantID: b.MerchantID, Skus: toSkuRequests(b.Skus)}
		if sm := b.ShippingMethod; sm != nil {
			br.ShippingMethodID, br.ShippingLabel, br.ShippingPrice = sm.ShippingMethodID, sm.Label, sm.Price
		}
		or.Bags = append(or.Bags, br)
	}
	order, err := s.Orders.PlaceOrder(r.Context(), appFrom(r.Context()), or)
	s.writeSubmitted(w, r, order, err)
}

// handleSubmitCart submits an order again: the one that waited for its
// shopper to complete 3-D Secure (REQUIRES_ACTION) goes on to its
// merchants. The body, {app_order_id?}, may be left out.
func (s *Server) handleSubmitCart(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("cart_id"), 10, 64)
	if err != nil || id <= 0 {
		Error(w, r, s.Logger, tote.Errorf(tote.ENOTFOUND, "Cart %q not found.", r.PathValue("cart_id")))
		return
	}
	var req struct {
		AppOrderID string `json:"app_order_id"`
	}
	if err := decodeOptional(r, &req); err != nil {
		Error(w, r, s.Logger, err)
		return
	}
	order, err := s.Orders.Resubmit(r.Context(), appFrom(r.Context()), id, req.AppOrderID)
	if err == nil && order.Status == tote.OrderStatusRequiresAction {
		forget(w) // still waiting for the shopper: a retry after they act must submit
	}
	s.writeSubmitted(w, r, order, err)
}

// writeSubmitted answers a submission: the order, or, when every bag was
// rejected, a 422 naming the last error.
func (s *Server) writeSubmitted(w http.ResponseWriter, r *http.Request, order *tote.Order, err error) {
	if errors.Is(err, submission.ErrOrderRejected) {
		msg := "The merchants' platforms rejected every bag of the order."
		if n := len(order.Errors); n > 0 {
			msg = fmt.Sprintf("Order %d was rejected: %s", order.ID, order.Errors[n-1].Message)
		}
		Error(w, r, s.Logger, &tote.Error{Code: tote.EREJECTED, Message: msg})
		return
	} else if err != nil {
		Error(w, r, s.Logger, err)
		return
	}
	writeJSON(w, http.StatusOK, toOrderBody(order))
}

type estimateRequest struct {
	Skus            []orderSkuRequest `json:"skus"`
	ShippingAddress *tote.Address     `json:"shipping_address"`
	BaseCurrency    string            `json:"base_currency"`
}

type estimatedCart struct {
	MerchantID               int64                `json:"merchant_id"`
	Platform                 string               `json:"platform"`
	BaseCurrency             string               `json:"base_currency"`
	SubTotal                 int64                `json:"sub_total"`
	ShippingTotal            int64                `json:"shipping_total"`
	TaxTotal                 int64                `json:"tax_total"`
	DiscountTotal            int64                `json:"discount_total"`
	Total                    int64                `json:"total"`
	Skus                     []skuLineBody        `json:"skus"`
	AvailableShippingMethods []shippingMethodBody `json:"available_shipping_methods"`
	HasShippingMethods       bool                 `json:"has_shipping_methods"`
}

type shippingMethodBody struct {
	ShippingMethodID int64  `json:"shipping_method_id"`
	Label            string `json:"label"`
	Carrier          string `json:"carrier"`
	Price            int64  `json:"price"`
}

func (s *Server) handleEstimateOrder(w http.ResponseWriter, r *http.Request) {
	var req estimateRequest
	if err := decode(r, &req); err != nil {
		Error(w, r, s.Logger, err)
		return
	}
	ests, err := s.Orders.Estimate(r.Context(), req.BaseCurrency, req.ShippingAddress, toSkuRequests(req.Skus))
	if err != nil {
		Error(w, r, s.Logger, err)
		return
	}
	carts := []estimatedCart{}
	for _, e := range ests {
		b := toBagBody(e.Bag, nil)
		c := estimatedCart{
			MerchantID: e.Bag.MerchantID, Platform: e.Bag.Platform, BaseCurrency: e.Bag.Currency,
			SubTotal: e.Bag.SubTotal, ShippingTotal: e.Bag.ShippingTotal, TaxTotal: e.Bag.TaxTotal, Total: e.Bag.Total,
			Skus: b.Skus, AvailableShippingMethods: []shippingMethodBody{}, HasShippingMethods: len(e.ShippingMethods) > 0,
		}
		for _, m := range e.ShippingMethods {
			c.AvailableShippingMethods = append(c.AvailableShippingMethods, shippingMethodBody{m.ID, m.Label, m.Carrier, m.Price})
		}
		carts = append(carts, c)
	}
	writeJSON(w, http.StatusOK, map[string]any{"estimated_carts": carts})
}

// handleGetOrder answers GET /v1/orders/{order_id} and GET
// /v1/checkout/cart/{cart_id}: a cart is an order, read the same way
// whatever its status.
func (s *Server) handleGetOrder(w http.ResponseWriter, r *http.Request) {
	param := cmp.Or(r.PathValue("order_id"), r.PathValue("cart_id"))
	id, err := strconv.ParseInt(param, 10, 64)
	if err != nil || id <= 0 {
		Error(w, r, s.Logger, tote.Errorf(tote.ENOTFOUND, "Order %q not found.", param))
		return
	}
	o, err := s.Store.FindOrderByID(r.Context(), id)
	if err == nil && o.AppID != appFrom(r.Context()).ID {
		err = tote.ErrNotFound // another app's order does not exist for this one
	}
	if errors.Is(err, tote.ErrNotFound) {
		Error(w, r, s.Logger, tote.Errorf(tote.ENOTFOUND, "Order %d not found.", id))
		return
	} else if err != nil {
		Error(w, r, s.Logger, err)
		return
	}
	writeJSON(w, http.StatusOK, toOrderBody(o))
}

// parseTime reads a filter time: RFC 3339, or 2006-01-02T15:04:05-0700.
func parseTime(field string, v *string, bad *[]tote.FieldError) *time.Time {
	if v == nil {
		return nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05-0700"} {
		if t, err := time.Parse(layout, *v); err == nil {
			t = t.UTC()
			return &t
		}
	}
	*bad = append(*bad, tote.FieldError{Field: field, Message: "must be a time such as 2026-01-02T15:04:05Z"})
	return nil
}

func (s *Server) handleListOrders(w http.ResponseWriter, r *http.Request) {
	page, err := parsePage(r)
	if err != nil {
		Error(w, r, s.Logger, err)
		return
	}
	var bad []tote.FieldError
	f := tote.OrderFilter{AppID: appFrom(r.Context()).ID, ExcludeInProgress: true}
	if v := r.URL.Query().Get("date_last_modified:min"); v != "" {
		f.ModifiedMin = parseTime("date_last_modified:min", &v, &bad)
	}
	if len(bad) > 0 {
		Error(w, r, s.Logger, tote.Invalid(bad...))
		return
	}
	s.writeOrders(w, r, f, page)
}

type orderSearch struct {
	OrderID         *int64  `json:"order_id"`
	AppOrderID      *string `json:"app_order_id"`
	BagID           *int64  `json:"bag_id"`
	BagStatus       *string `json:"bag_status"`
	MerchantID      *int64  `json:"merchant_id"`
	Status          *string `json:"status"`
	CustomerEmail   *string `json:"customer_email"`
	CreatedMin      *string `json:"date_created:min"`
	CreatedMax      *string `json:"date_created:max"`
	LastModifiedMin *string `json:"date_last_modified:min"`
	LastModifiedMax *string `json:"date_last_modified:max"`
}

func (s *Server) handleSearchOrders(w http.ResponseWriter, r *http.Request) {
	page, err := parsePage(r)
	if err != nil {
		Error(w, r, s.Logger, err)
		return
	}
	var req orderSearch
	if err := decodeOptional(r, &req); err != nil {
		Error(w, r, s.Logger, err)
		return
	}
	var bad []tote.FieldError
	f := tote.OrderFilter{
		AppID: appFrom(r.Context()).ID, OrderID: req.OrderID, AppOrderID: req.AppOrderID, BagID: req.BagID,
		MerchantID: req.MerchantID, CustomerEmail: req.CustomerEmail, ExcludeInProgress: true,
		CreatedMin: parseTime("date_created:min", req.CreatedMin, &bad), CreatedMax: parseTime("date_created:max", req.CreatedMax, &bad),
		ModifiedMin: parseTime("date_last_modified:min", req.LastModifiedMin, &bad),
		ModifiedMax: parseTime("date_last_modified:max", req.LastModifiedMax, &bad),
	}
	f.BagStatus = parseEnum("bag_status", req.BagStatus, tote.BagStatuses(), &bad)
	f.Status = parseEnum("status", req.Status, tote.OrderStatuses(), &bad)
	if v := r.URL.Query().Get("exclude_in_progress"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			bad = append(bad, tote.FieldError{Field: "exclude_in_progress", Message: "must be true or false"})
		}
		f.ExcludeInProgress = b
	}
	if len(bad) > 0 {
		Error(w, r, s.Logger, tote.Invalid(bad...))
		return
	}
	s.writeOrders(w, r, f, page)
}

func (s *Server) writeOrders(w http.ResponseWriter, r *http.Request, f tote.OrderFilter, page tote.Page) {
	orders, total, err := s.Store.FindOrders(r.Context(), f, page)
	if err != nil {
		Error(w, r, s.Logger, err)
		return
	}
	writeJSON(w, http.StatusOK, newPage(orders, total, page, toOrderBody))
}

// parseEnum checks v against the allowed values.
func parseEnum[S ~string](field string, v *string, all []S, bad *[]tote.FieldError) *S {
	if v == nil {
		return nil
	}
	if !slices.Contains(all, S(*v)) {
		names := make([]string, len(all))
		for i, a := range all {
			names[i] = string(a)
		}
		*bad = append(*bad, tote.FieldError{Field: field, Message: "must be one of " + strings.Join(names, ", ")})
		return nil
	}
	s := S(*v)
	return &s
}

// bagSortSnake spells the bag sort keys in snake_case, as the rest of the
// JSON is; the camelCase keys of the API Tote follows are accepted too.
var bagSortSnake = map[string]tote.BagSort{
	"date_created": tote.BagSortDateCreated, "date_last_modified": tote.BagSortDateModified, "date_submitted": tote.BagSortDateSubmitted,
	"sub_total": tote.BagSortSubTotal, "shipping_total": tote.BagSortShipping, "tax_total": tote.BagSortTax,
}

// bagSort reads a bag sort key in either spelling.
func bagSort(v string) (tote.BagSort, bool) {
	if k, ok := bagSortSnake[v]; ok {
		return k, true
	}
	return tote.BagSort(v), slices.Contains(tote.BagSorts(), tote.BagSort(v))
}

// upper is v in upper case (nil stays nil).
func upper(v *string) *string {
	if v == nil {
		return nil
	}
	s := strings.ToUpper(*v)
	return &s
}

type bagSearch struct {
	ID                *int64  `json:"id"`
	OrderID           *int64  `json:"order_id"`
	MerchantID        *int64  `json:"merchant_id"`
	ExternalID        *string `json:"external_id"`
	BagStatus         *string `json:"bag_status"`
	FinancialStatus   *string `json:"financial_status"`
	FulfillmentStatus *string `json:"fulfillment_status"`
	AppOrderID        *string `json:"app_order_id"`
	CreatedMin        *string `json:"date_created:min"`
	CreatedMax        *string `json:"date_created:max"`
	SubmittedMin      *string `json:"date_submitted:min"`
	SubmittedMax      *string `json:"date_submitted:max"`
	LastModifiedMin   *string `json:"date_last_modified:min"`
	LastModifiedMax   *string `json:"date_last_modified:max"`
	SortBy            *string `json:"sort_by"`
	SortDirection     *string `json:"sort_direction"`
}

func (s *Server) handleSearchBags(w http.ResponseWriter, r *http.Request) {
	page, err := parsePage(r)
	if err != nil {
		Error(w, r, s.Logger, err)
		return
	}
	var req bagSearch
	if err := decodeOptional(r, &req); err != nil {
		Error(w, r, s.Logger, err)
		return
	}
	var bad []tote.FieldError
	f := tote.BagFilter{
		AppID: appFrom(r.Context()).ID, ID: req.ID, OrderID: req.OrderID, MerchantID: req.MerchantID,
		ExternalID: req.ExternalID, AppOrderID: req.AppOrderID,
		CreatedMin: parseTime("date_created:min", req.CreatedMin, &bad), CreatedMax: parseTime("date_created:max", req.CreatedMax, &bad),
		SubmittedMin: parseTime("date_submitted:min", req.SubmittedMin, &bad), SubmittedMax: parseTime("date_submitted:max", req.SubmittedMax, &bad),
		ModifiedMin: parseTime("date_last_modified:min", req.LastModifiedMin, &bad),
		ModifiedMax: parseTime("date_last_modified:max", req.LastModifiedMax, &bad),
	}
	f.Status = parseEnum("bag_status", req.BagStatus, tote.BagStatuses(), &bad)
	f.FinancialStatus = parseEnum("financial_status", req.FinancialStatus, tote.FinancialStatuses(), &bad)
	f.FulfillmentStatus = parseEnum("fulfillment_status", req.FulfillmentStatus, tote.FulfillmentStatuses(), &bad)
	if req.SortBy != nil {
		if sort, ok := bagSort(*req.SortBy); ok {
			f.Sort = sort
		} else {
			bad = append(bad, tote.FieldError{Field: "sort_by", Message: "must be one of id, date_created, date_last_modified, " +
				"date_submitted, total, sub_total, shipping_total, tax_total (or the same in camelCase)"})
		}
	}
	if dir := parseEnum("sort_direction", upper(req.SortDirection), []string{"ASC", "DESC"}, &bad); dir != nil {
		f.Ascending = *dir == "ASC"
	}
	if len(bad) > 0 {
		Error(w, r, s.Logger, tote.Invalid(bad...))
		return
	}
	bags, total, err := s.Store.FindBags(r.Context(), f, page)
	if err != nil {
		Error(w, r, s.Logger, err)
		return
	}
	writeJSON(w, http.StatusOK, newPage(bags, total, page, func(b *tote.Bag) bagBody { return toBagBody(b, b.Transactions) }))
}

// decodeOptional decodes a JSON body that may be absent (a search with no
// filters).
func decodeOptional(r *http.Request, v any) error {
	if r.ContentLength == 0 {
		return nil
	}
	return decode(r, v)
}
