package api

import (
	"time"

	"github.com/toteorg/tote"
)

// The order's wire shape (API.md, "Orders"). Converters below build it from
// the domain types, so the published JSON stays put when those change.

type orderBody struct {
	ID                        int64             `json:"id"`
	AppID                     int64             `json:"app_id"`
	AppOrderID                string            `json:"app_order_id"`
	ReferralID                string            `json:"referral_id"`
	Customer                  *tote.Customer    `json:"customer"`
	ShippingAddress           *tote.Address     `json:"shipping_address"`
	BillingAddress            *tote.Address     `json:"billing_address"`
	PaymentMethod             *paymentBody      `json:"payment_method"`
	Status                    tote.OrderStatus  `json:"status"`
	Currency                  string            `json:"currency"`
	SubTotal                  int64             `json:"sub_total"`
	ShippingTotal             int64             `json:"shipping_total"`
	TaxTotal                  int64             `json:"tax_total"`
	DiscountTotal             int64             `json:"discount_total"`
	Total                     int64             `json:"total"`
	Errors                    []orderErrorBody  `json:"errors"`
	Bags                      []bagBody         `json:"bags"`
	PaymentTransactions       []transactionBody `json:"payment_transactions"`
	PaymentIntentClientSecret *string           `json:"payment_intent_client_secret"`
	DateCreated               time.Time         `json:"date_created"`
	DateSubmitted             *time.Time        `json:"date_submitted"`
	DateLastModified          time.Time         `json:"date_last_modified"`
}

type paymentBody struct {
	PaymentProvider string `json:"payment_provider"`
}

type bagBody struct {
	ID                   int64                   `json:"id"`
	OrderID              int64                   `json:"order_id"`
	MerchantID           int64                   `json:"merchant_id"`
	MerchantName         string                  `json:"merchant_name"`
	Platform             string                  `json:"platform"`
	ExternalID           *string                 `json:"external_id"`
	Status               tote.BagStatus          `json:"status"`
	FinancialStatus      tote.FinancialStatus    `json:"financial_status"`
	FulfillmentStatus    tote.FulfillmentStatus  `json:"fulfillment_status"`
	Version              int64                   `json:"version"`
	Skus                 []skuLineBody           `json:"skus"`
	ShippingMethod       *tote.BagShippingMethod `json:"shipping_method"`
	Fulfillments         []any                   `json:"fulfillments"`
	Refunds              []any                   `json:"refunds"`
	Transactions         []transactionBody       `json:"transactions"`
	SubTotal             int64                   `json:"sub_total"`
	ShippingTotal        int64                   `json:"shipping_total"`
	TaxTotal             int64                   `json:"tax_total"`
	DiscountTotal        int64                   `json:"discount_total"`
	Total                int64                   `json:"total"`
	Currency             string                  `json:"currency"`
	CommissionRate       float64                 `json:"commission_rate"`
	DateCreated          time.Time               `json:"date_created"`
	DateSubmitted        *time.Time              `json:"date_submitted"`
	DateLastModified     time.Time               `json:"date_last_modified"`
	DateLastConsolidated *time.Time              `json:"date_last_consolidated"`
}

type skuLineBody struct {
	ID                int64  `json:"id"`
	SkuID             int64  `json:"sku_id"`
	MerchantID        int64  `json:"merchant_id"`
	Name              string `json:"name"`
	Quantity          int64  `json:"quantity"`
	Price             int64  `json:"price"`
	LinePrice         int64  `json:"line_price"`
	QuantityFulfilled int64  `json:"quantity_fulfilled"`
	QuantityRefunded  int64  `json:"quantity_refunded"`
	Status            string `json:"status"`
}

type orderErrorBody struct {
	ID               int64     `json:"id"`
	OrderID          int64     `json:"order_id"`
	BagID            *int64    `json:"bag_id"`
	EntityType       string    `json:"entity_type"`
	EntityID         string    `json:"entity_id"`
	Type             string    `json:"type"`
	Message          string    `json:"message"`
	ExternalPlatform string    `json:"external_platform"`
	DateCreated      time.Time `json:"date_created"`
}

type transactionBody struct {
	ID                           int64     `json:"id"`
	OrderID                      int64     `json:"order_id"`
	BagID                        *int64    `json:"bag_id"`
	Type                         string    `json:"type"`
	Amount                       int64     `json:"amount"`
	Currency                     string    `json:"currency"`
	Status                       string    `json:"status"`
	PaymentProvider              string    `json:"payment_provider"`
	PaymentProviderTransactionID string    `json:"payment_provider_transaction_id"`
	DateCreated                  time.Time `json:"date_created"`
}

func optional[T comparable](v T) *T {
	var zero T
	if v == zero {
		return nil
	}
	return &v
}

// toOrderBody converts an order, with its bags, for the wire.
func toOrderBody(o *tote.Order) orderBody {
	b := orderBody{
		ID: o.ID, AppID: o.AppID, AppOrderID: o.AppOrderID, ReferralID: o.ReferralID,
		Customer: o.Details.Customer, ShippingAddress: o.Details.ShippingAddress, BillingAddress: o.Details.BillingAddress,
		Status: o.Status, Currency: o.Currency, SubTotal: o.SubTotal, ShippingTotal: o.ShippingTotal,
		TaxTotal: o.TaxTotal, DiscountTotal: o.DiscountTotal, Total: o.Total,
		Errors: []orderErrorBody{}, Bags: []bagBody{}, PaymentTransactions: []transactionBody{},
		PaymentIntentClientSecret: optional(o.PaymentIntentClientSecret),
		DateCreated:               o.DateCreated, DateSubmitted: o.DateSubmitted, DateLastModified: o.DateLastModified,
	}
	if o.HasPaymentMethod() { // removed after a failed capture
		b.PaymentMethod = &paymentBody{PaymentProvider: o.Details.PaymentMethod.PaymentProvider}
	}
	for _, e := range o.Errors {
		b.Errors = append(b.Errors, orderErrorBody{
			ID: e.ID, OrderID: e.OrderID, BagID: optional(e.BagID), EntityType: e.EntityType, EntityID: e.EntityID,
			Type: e.Type, Message: e.Message, ExternalPlatform: e.ExternalPlatform, DateCreated: e.DateCreated,
		})
	}
	for _, t := range o.Transactions {
		b.PaymentTransactions = append(b.PaymentTransactions, toTransactionBody(t))
	}
	for _, bag := range o.Bags {
		b.Bags = append(b.Bags, toBagBody(bag, o.Transactions))
	}
	return b
}

func toTransactionBody(t *tote.PaymentTransaction) transactionBody {
	return transactionBody{
		ID: t.ID, OrderID: t.OrderID, BagID: optional(t.BagID), Type: t.Type, Amount: t.Amount, Currency: t.Currency,
		Status: t.Status, PaymentProvider: t.PaymentProvider, PaymentProviderTransactionID: t.PaymentProviderTransactionID,
		DateCreated: t.DateCreated,
	}
}

// toBagBody converts a bag; its transactions are those of ts that name it.
func toBagBody(b *tote.Bag, ts []*tote.PaymentTransaction) bagBody {
	body := bagBody{
		ID: b.ID, OrderID: b.OrderID, MerchantID: b.MerchantID, MerchantName: b.MerchantName, Platform: b.Platform,
		ExternalID: optional(b.ExternalID), Status: b.Status, FinancialStatus: b.FinancialStatus,
		FulfillmentStatus: b.FulfillmentStatus, Version: b.Version, Skus: []skuLineBody{}, ShippingMethod: b.ShippingMethod,
		Fulfillments: []any{}, Refunds: []any{}, Transactions: []transactionBody{},
		SubTotal: b.SubTotal, ShippingTotal: b.ShippingTotal, TaxTotal: b.TaxTotal, DiscountTotal: b.DiscountTotal,
		Total: b.Total, Currency: b.Currency, CommissionRate: float64(b.CommissionRate) / 100,
		DateCreated: b.DateCreated, DateSubmitted: b.DateSubmitted, DateLastModified: b.DateLastModified,
		DateLastConsolidated: b.DateLastConsolidated,
	}
	for _, l := range b.Skus {
		body.Skus = append(body.Skus, skuLineBody{
			ID: l.ID, SkuID: l.SkuID, MerchantID: l.MerchantID, Name: l.Name, Quantity: l.Quantity, Price: l.Price,
			LinePrice: l.LinePrice, QuantityFulfilled: l.QuantityFulfilled, QuantityRefunded: l.QuantityRefunded, Status: l.Status,
		})
	}
	for _, t := range ts {
		if t.BagID == b.ID {
			body.Transactions = append(body.Transactions, toTransactionBody(t))
		}
	}
	return body
}
