package tote

import (
	"context"
	"time"
)

// Platform is a connector to merchants' commerce platforms: it places a bag
// as an order, reads that order back (its current state: status and
// refunds), and cancels or refunds it. Every call is a network call and
// happens outside any transaction.
type Platform interface {
	// Submit places the order. It returns the platform's record when the
	// order was created, and otherwise a *PlatformError saying whether the
	// failure is retryable, final, or of unknown outcome.
	Submit(ctx context.Context, o PlatformOrder) (*PlatformRecord, error)
	// Lookup finds the order placed with reference, and returns ErrNotFound
	// when there is none. It is how an unknown outcome is resolved before
	// any resubmission, so a bag is never placed twice.
	Lookup(ctx context.Context, merchantID int64, reference string) (*PlatformRecord, error)
	// Cancel asks the platform to cancel the order placed with reference
	// and returns its record as it then is (PlatformStatusCanceled); an
	// order cancelled already is answered the same way. A *PlatformError
	// of kind PlatformRejected (EXTERNAL_CANCEL_ORDER) means the platform
	// refuses; ErrNotFound that it has no such order.
	Cancel(ctx context.Context, merchantID int64, reference, reason string) (*PlatformRecord, error)
	// Refund asks the platform to give back part or all of what the order
	// placed with reference was paid. r.Reference makes it idempotent:
	// asking again with it returns the refund made the first time. More
	// than is left to refund is PlatformRejected (EXTERNAL_WRITE_ORDER);
	// ErrNotFound when there is no such order.
	Refund(ctx context.Context, merchantID int64, reference string, r PlatformRefundRequest) (*PlatformRefund, error)
}

// PlatformRefundRequest asks a platform for a refund.
type PlatformRefundRequest struct {
	// Reference is the caller's idempotency reference for this refund.
	Reference string
	Amount    int64 // minor units, at least 1
	Reason    string
}

// PlatformRefund is a platform's record of a refund.
type PlatformRefund struct {
	ExternalID  string
	Reference   string
	Amount      int64
	Reason      string
	DateCreated time.Time
}

// PlatformOrder is a bag as sent to its merchant's platform.
type PlatformOrder struct {
	MerchantID      int64
	Reference       string // the bag's idempotency reference
	Currency        string
	Lines           []PlatformLine
	ShippingTotal   int64
	TaxTotal        int64
	Total           int64
	Customer        *Customer
	ShippingAddress *Address
}

// PlatformLine is one SKU line of a PlatformOrder.
type PlatformLine struct {
	SkuID    int64
	Name     string
	Quantity int64
	Price    int64
}

// PlatformRecord is the platform's own record of an order.
type PlatformRecord struct {
	ExternalID string
	Reference  string
	// Status is the platform's: ACCEPTED, BACKORDERED,
	// PlatformStatusPending or PlatformStatusCanceled.
	Status      string
	DateCreated time.Time
	// Refunds are the refunds the platform has made on the order, oldest
	// first.
	Refunds []PlatformRefund
}

// PlatformStatusPending is the status of an order a platform has taken but
// not yet confirmed (a cartless platform): the bag stays SUBMITTED and the
// platform is asked again later.
const PlatformStatusPending = "PENDING"

// PlatformStatusCanceled is the status of an order the platform has
// cancelled.
const PlatformStatusCanceled = "CANCELED"

// How a platform call failed.
const (
	// PlatformRetryable: the platform said "not now" before creating
	// anything (429, 5xx, connection refused). Try again later.
	PlatformRetryable = "retryable"
	// PlatformRejected: the platform refused the order for good.
	PlatformRejected = "rejected"
	// PlatformUnknown: the request went out but no answer came back; the
	// order may or may not exist. Look it up before trying again.
	PlatformUnknown = "unknown"
)

// PlatformError is a failed platform call.
type PlatformError struct {
	Kind string // PlatformRetryable, PlatformRejected or PlatformUnknown
	// Type is the order error type to record (EXTERNAL_SUBMIT_CART,
	// EXTERNAL_ADD_ITEM, ...).
	Type    string
	Message string
	// SkuID, when not zero, is the SKU the refusal is about (an item out
	// of stock): the order error names it rather than the bag.
	SkuID int64
	// RetryAfter, when the platform said so, is when to try again.
	RetryAfter time.Duration
}

func (e *PlatformError) Error() string { return e.Kind + ": " + e.Message }
