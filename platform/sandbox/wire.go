package sandbox

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/toteorg/tote"
)

// orderJSON is an order as sent to the platform, and as the platform keeps
// it (the body of its record).
type orderJSON struct {
	MerchantID      int64          `json:"merchant_id"`
	Reference       string         `json:"reference"`
	Currency        string         `json:"currency"`
	Lines           []lineJSON     `json:"lines"`
	ShippingTotal   int64          `json:"shipping_total"`
	TaxTotal        int64          `json:"tax_total"`
	Total           int64          `json:"total"`
	Customer        *tote.Customer `json:"customer,omitempty"`
	ShippingAddress *tote.Address  `json:"shipping_address,omitempty"`
}

type lineJSON struct {
	SkuID    int64  `json:"sku_id"`
	Name     string `json:"name"`
	Quantity int64  `json:"quantity"`
	Price    int64  `json:"price"`
}

func (o *orderJSON) validate() string {
	switch {
	case o.MerchantID <= 0:
		return "merchant_id is required."
	case o.Reference == "" || len(o.Reference) > 255:
		return "reference is required (at most 255 characters)."
	case o.Currency == "":
		return "currency is required."
	case len(o.Lines) == 0:
		return "lines must not be empty."
	case o.Total < 0:
		return "total must not be negative."
	}
	for _, l := range o.Lines {
		if l.SkuID <= 0 || l.Quantity < 1 || l.Price < 0 {
			return "each line needs a sku_id, a quantity of at least 1 and a price of at least 0."
		}
	}
	return ""
}

func toOrderJSON(o tote.PlatformOrder) orderJSON {
	out := orderJSON{
		MerchantID: o.MerchantID, Reference: o.Reference, Currency: o.Currency,
		ShippingTotal: o.ShippingTotal, TaxTotal: o.TaxTotal, Total: o.Total,
		Customer: o.Customer, ShippingAddress: o.ShippingAddress, Lines: []lineJSON{},
	}
	for _, l := range o.Lines {
		out.Lines = append(out.Lines, lineJSON{SkuID: l.SkuID, Name: l.Name, Quantity: l.Quantity, Price: l.Price})
	}
	return out
}

// orderResponse is the platform's answer about one order.
type orderResponse struct {
	ExternalID  string               `json:"external_id"`
	MerchantID  int64                `json:"merchant_id"`
	Reference   string               `json:"reference"`
	Status      string               `json:"status"`
	Total       int64                `json:"total"`
	Currency    string               `json:"currency"`
	Lines       []lineJSON           `json:"lines"`
	Refunds     []tote.SandboxRefund `json:"refunds"`
	DateCreated time.Time            `json:"date_created"`
}

func toOrderResponse(o *tote.SandboxOrder) orderResponse {
	refunds := o.Refunds
	if refunds == nil {
		refunds = []tote.SandboxRefund{}
	}
	return orderResponse{
		ExternalID: o.ExternalID, MerchantID: o.MerchantID, Reference: o.Reference, Status: o.Status,
		Total: o.Total, Currency: o.Currency, Lines: linesOf(o), Refunds: refunds, DateCreated: o.DateCreated.UTC(),
	}
}

// cancelJSON asks the platform to cancel an order.
type cancelJSON struct {
	MerchantID int64  `json:"merchant_id"`
	Reference  string `json:"reference"`
	Reason     string `json:"reason,omitempty"`
}

// refundJSON asks the platform to refund part of an order.
type refundJSON struct {
	MerchantID      int64  `json:"merchant_id"`
	Reference       string `json:"reference"`
	RefundReference string `json:"refund_reference"`
	Amount          int64  `json:"amount"`
	Reason          string `json:"reason,omitempty"`
}

// linesOf reads the lines back from the body the platform kept (never
// nil, so lists show [] rather than null).
func linesOf(o *tote.SandboxOrder) []lineJSON {
	var body orderJSON
	if json.Unmarshal(o.Body, &body) != nil || body.Lines == nil {
		return []lineJSON{}
	}
	return body.Lines
}

// errorResponse is the body of the platform's refusals.
type errorResponse struct {
	Type    string `json:"type"`
	Message string `json:"message"`
	// SkuID names the SKU an EXTERNAL_ADD_ITEM refusal is about.
	SkuID int64 `json:"sku_id,omitempty"`
}

func writePlatformError(w http.ResponseWriter, status int, typ, msg string) {
	writeJSON(w, status, errorResponse{Type: typ, Message: msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
