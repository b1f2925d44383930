package tote

import (
	"encoding/json"
	"time"
)

// Order is one checkout: what a shopper bought from one or more merchants,
// split into one Bag per merchant. A cart is an Order in IN_PROGRESS.
type Order struct {
	ID         int64
	AppID      int64
	AppOrderID string
	ReferralID string
	// IdempotencyKey is the Idempotency-Key of the request that created the
	// order, unique per app, so a retried creation never makes a second one.
	IdempotencyKey string
	Status         OrderStatus
	Currency       string
	SubTotal       int64
	ShippingTotal  int64
	TaxTotal       int64
	DiscountTotal  int64
	Total          int64
	Details        OrderDetails
	// PaymentIntentClientSecret is set while the shopper must act (3-D
	// Secure) on the order's payment.
	PaymentIntentClientSecret string
	Bags                      []*Bag
	Errors                    []*OrderError
	Transactions              []*PaymentTransaction
	DateCreated               time.Time
	DateSubmitted             *time.Time
	DateLastModified          time.Time
}

// Bag is the part of an Order that goes to one merchant, placed as one order
// on that merchant's platform. Its three status fields move independently.
type Bag struct {
	ID           int64
	OrderID      int64
	AppID        int64
	MerchantID   int64
	MerchantName string
	Platform     string
	// Reference is the idempotency reference the bag is placed on its
	// platform with, the same on every attempt, so the platform (and Tote,
	// after a timeout) can tell whether the order already exists.
	Reference string
	// CommissionRate is the channel's share of the bag, in basis points.
	CommissionRate int64
	ShippingMethod *BagShippingMethod
	SubmitAttempts int
	Skus           []*OrderSku
	// Transactions are the bag's payment transactions, filled by bag
	// searches (an order carries its bags' in Order.Transactions).
	Transactions      []*PaymentTransaction
	Status            BagStatus
	FinancialStatus   FinancialStatus
	FulfillmentStatus FulfillmentStatus
	// Version increases by one on every change to the bag, so a webhook
	// receiver can drop stale updates.
	Version       int64
	ExternalID    string
	Currency      string
	SubTotal      int64
	ShippingTotal int64
	TaxTotal      int64
	DiscountTotal int64
	Total         int64
	// Captured is what was captured for the bag; Refunded what was refunded
	// of that. 0 ≤ Refunded ≤ Captured ≤ Total.
	Captured int64
	Refunded int64
	// EventSeq is the sequence number of the bag's latest event.
	EventSeq             int64
	DateCreated          time.Time
	DateSubmitted        *time.Time
	DateLastModified     time.Time
	DateLastConsolidated *time.Time
}

// StatusChange is the audit record of one transition.
type StatusChange struct {
	ID          int64
	AppID       int64
	OrderID     int64
	BagID       int64 // zero for a change of the order's own status
	Field       StatusField
	From        string
	To          string
	Trigger     Trigger
	DateCreated time.Time
}

// Event is something a channel is told about through webhooks. It is written
// in the transaction of the change that caused it.
type Event struct {
	ID      string // stable: the dedupe key receivers use
	AppID   int64
	Type    EventType
	OrderID int64
	BagID   int64
	// Sequence numbers a bag's events 1, 2, 3, ... in the order they happened.
	Sequence int64
	// BagVersion is the bag's version after the change.
	BagVersion int64
	// TransactionID is a payment event's transaction, which is its body
	// (and its deliveries' entity); zero for an order event.
	TransactionID int64
	// Payload is the body its deliveries carry. The store keeps it only
	// when a subscription receives the event (the outbox keeps what it must
	// deliver); an event no one subscribes to is recorded without it.
	Payload     json.RawMessage
	DateCreated time.Time
}

// OrderDetails are the shopper's details of an order.
type OrderDetails struct {
	Customer        *Customer      `json:"customer,omitempty"`
	ShippingAddress *Address       `json:"shipping_address,omitempty"`
	BillingAddress  *Address       `json:"billing_address,omitempty"`
	PaymentMethod   *PaymentMethod `json:"payment_method,omitempty"`
}

// Customer is who placed the order.
type Customer struct {
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
	Email     string `json:"email"`
}

// Address is a postal address; Country is ISO 3166-1 alpha-2.
type Address struct {
	FirstName  string `json:"first_name,omitempty"`
	LastName   string `json:"last_name,omitempty"`
	Address1   string `json:"address_1"`
	Address2   string `json:"address_2,omitempty"`
	City       string `json:"city"`
	State      string `json:"state"`
	PostalCode string `json:"postal_code"`
	Country    string `json:"country"`
	Phone      string `json:"phone,omitempty"`
}

// PaymentMethod is how the shopper pays: a provider's token, never card data.
type PaymentMethod struct {
	Token           string `json:"token"`
	PaymentProvider string `json:"payment_provider"`
	// IntentID is the provider's payment intent once authorized.
	IntentID string `json:"intent_id,omitempty"`
}

// HasPaymentMethod reports whether the order holds a payment method: a
// failed capture removes it (its token is cleared; the intent id stays,
// for the record).
func (o *Order) HasPaymentMethod() bool {
	return o.Details.PaymentMethod != nil && o.Details.PaymentMethod.Token != ""
}

// BagShippingMethod is the shipping method chosen for a bag, as it was
// when chosen.
type BagShippingMethod struct {
	ShippingMethodID int64  `json:"shipping_method_id,omitempty"`
	Label            string `json:"label"`
	Carrier          string `json:"carrier,omitempty"`
	Price            int64  `json:"price"`
}

// OrderSku is one line of a bag: a SKU and its quantity.
type OrderSku struct {
	ID                int64
	OrderID           int64
	BagID             int64
	SkuID             int64
	MerchantID        int64
	Name              string
	Quantity          int64
	Price             int64
	LinePrice         int64
	QuantityFulfilled int64
	QuantityRefunded  int64
	Status            string
}

// Order error types (seed 002).
const (
	ErrorTypeExternalSubmitCart       = "EXTERNAL_SUBMIT_CART"
	ErrorTypeExternalAddItem          = "EXTERNAL_ADD_ITEM"
	ErrorTypeInternalAddItem          = "INTERNAL_ADD_ITEM"
	ErrorTypeExternalCancelOrder      = "EXTERNAL_CANCEL_ORDER"
	ErrorTypeExternalSetPaymentMethod = "EXTERNAL_SET_PAYMENT_METHOD"
	// ErrorTypeExternalWriteOrder: the platform refused a change to an
	// order it holds (a refund).
	ErrorTypeExternalWriteOrder = "EXTERNAL_WRITE_ORDER"
)

// OrderError is a problem recorded on an order; a 200 may carry some.
type OrderError struct {
	ID               int64
	OrderID          int64
	BagID            int64
	EntityType       string // ORDER, BAG or SKU
	EntityID         string
	Type             string
	Message          string
	ExternalPlatform string
	DateCreated      time.Time
}

// Payment transaction types.
const (
	TransactionAuthorization = "AUTHORIZATION"
	TransactionCapture       = "CAPTURE"
	TransactionVoid          = "VOID"
	TransactionRefund        = "REFUND"
)

// Payment transaction statuses: the movement happened, or the provider
// refused it (a capture that failed is recorded, then the hold released).
const (
	TransactionCompleted = "COMPLETED"
	TransactionFailed    = "FAILED"
)

// PaymentTransaction is one movement of the shopper's money.
type PaymentTransaction struct {
	ID                           int64
	OrderID                      int64
	BagID                        int64 // zero when it concerns the whole order
	Type                         string
	Amount                       int64
	Currency                     string
	Status                       string
	PaymentProvider              string
	PaymentProviderTransactionID string
	DateCreated                  time.Time
}
