package tote

import "time"

// OrderFilter narrows an order search to one app's orders. Nil fields do not
// filter.
type OrderFilter struct {
	AppID         int64
	OrderID       *int64
	AppOrderID    *string
	BagID         *int64
	BagStatus     *BagStatus
	MerchantID    *int64
	Status        *OrderStatus
	CustomerEmail *string
	CreatedMin    *time.Time
	CreatedMax    *time.Time
	ModifiedMin   *time.Time
	ModifiedMax   *time.Time
	// ExcludeInProgress leaves out carts (orders still IN_PROGRESS).
	ExcludeInProgress bool
}

// BagSort names what a bag search is ordered by.
type BagSort string

// Bag sort keys, in the camelCase of the API Tote follows (the API also
// takes them in snake_case).
const (
	BagSortID            BagSort = "id"
	BagSortDateCreated   BagSort = "dateCreated"
	BagSortDateModified  BagSort = "dateLastModified"
	BagSortDateSubmitted BagSort = "dateSubmitted"
	BagSortTotal         BagSort = "total"
	BagSortSubTotal      BagSort = "subTotal"
	BagSortShipping      BagSort = "shippingTotal"
	BagSortTax           BagSort = "taxTotal"
)

// BagSorts lists the bag sort keys.
func BagSorts() []BagSort {
	return []BagSort{BagSortID, BagSortDateCreated, BagSortDateModified, BagSortDateSubmitted, BagSortTotal, BagSortSubTotal, BagSortShipping, BagSortTax}
}

// BagFilter narrows a bag search to one app's bags. Nil fields do not
// filter. Results are ordered by Sort (default id), descending unless
// Ascending.
type BagFilter struct {
	AppID             int64
	ID                *int64
	OrderID           *int64
	MerchantID        *int64
	ExternalID        *string
	Status            *BagStatus
	FinancialStatus   *FinancialStatus
	FulfillmentStatus *FulfillmentStatus
	AppOrderID        *string
	CreatedMin        *time.Time
	CreatedMax        *time.Time
	SubmittedMin      *time.Time
	SubmittedMax      *time.Time
	ModifiedMin       *time.Time
	ModifiedMax       *time.Time
	Sort              BagSort
	Ascending         bool
}
