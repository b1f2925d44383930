package tote

import (
	"encoding/json"
	"time"
)

// Order is one checkout: what a shopper bought from one or more merchants,
// split into one Bag per merchant. A cart is an Order in IN_PROGRESS.
type Order struct {
	ID               int64
	AppID            int64
	AppOrderID       string
	Status           OrderStatus
	Currency         string
	SubTotal         int64
	ShippingTotal    int64
	TaxTotal         int64
	DiscountTotal    int64
	Total            int64
	Bags             []*Bag
	DateCreated      time.Time
	DateSubmitted    *time.Time
	DateLastModified time.Time
}

// Bag is the part of an Order that goes to one merchant, placed as one order
// on that merchant's platform. Its three status fields move independently.
type Bag struct {
	ID                int64
	OrderID           int64
	AppID             int64
	MerchantID        int64
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
	BagVersion  int64
	Payload     json.RawMessage
	DateCreated time.Time
}
