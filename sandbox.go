package tote

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// SandboxStore keeps the records of the two built-in sandboxes: the
// simulated commerce platform (its orders, and how often each reference was
// placed) and the simulated payment provider (its payment intents). Those
// sandboxes are HTTP services that Tote's connectors reach over the network;
// only they call these methods, never the order lifecycle. Each method runs
// in a transaction of its own.
type SandboxStore interface {
	// PlaceSandboxOrder creates the platform order p describes and takes
	// its lines out of the SKUs' inventory, atomically. When the merchant
	// already has an order with p.Reference it changes nothing and returns
	// that order with created false, so a reference is placed at most once
	// even by concurrent callers. A line whose SKU is not the merchant's, or
	// has fewer units left than asked for, fails the whole placement with
	// an EINVALID *Error wrapping ErrSandboxItemUnavailable.
	PlaceSandboxOrder(ctx context.Context, p SandboxOrderParams) (o *SandboxOrder, created bool, err error)
	// CountSandboxAttempt records one more request to place reference and
	// returns how many there have been, this one included.
	CountSandboxAttempt(ctx context.Context, merchantID int64, reference string) (int64, error)
	// FindSandboxOrder returns the merchant's order placed with reference,
	// or ErrNotFound.
	FindSandboxOrder(ctx context.Context, merchantID int64, reference string) (*SandboxOrder, error)
	// FindSandboxOrders returns all the merchant's orders, oldest first.
	FindSandboxOrders(ctx context.Context, merchantID int64) ([]*SandboxOrder, error)
	// UpdateSandboxOrder reads the merchant's order placed with reference,
	// locked against other writers, lets fn change its Status and Refunds,
	// and saves them unless fn returns an error (returned as is); the
	// lines fn returns go back into their SKUs' inventory in the same
	// transaction (their SKUs marked modified at now). It returns the
	// order as it then is; ErrNotFound when there is no such order.
	UpdateSandboxOrder(ctx context.Context, merchantID int64, reference string, now time.Time,
		fn func(*SandboxOrder) (restock []SandboxLine, err error)) (*SandboxOrder, error)

	// CreateSandboxIntent inserts in unless an intent with its
	// IdempotencyKey exists, in which case it returns that intent with
	// created false (and in is not stored).
	CreateSandboxIntent(ctx context.Context, in *SandboxIntent) (intent *SandboxIntent, created bool, err error)
	// FindSandboxIntent returns the intent with the given id, or ErrNotFound.
	FindSandboxIntent(ctx context.Context, id string) (*SandboxIntent, error)
	// FindSandboxIntentBySecret returns the intent with the given client
	// secret, or ErrNotFound.
	FindSandboxIntentBySecret(ctx context.Context, clientSecret string) (*SandboxIntent, error)
	// UpdateSandboxIntent reads the intent, locked against other writers,
	// lets fn change it, and saves its status and amounts unless fn returns
	// an error (which is returned as is). ErrNotFound if there is none.
	UpdateSandboxIntent(ctx context.Context, id string, fn func(*SandboxIntent) error) (*SandboxIntent, error)
}

// ErrSandboxItemUnavailable is wrapped by the error of a sandbox placement
// that asked for more than a SKU's inventory, or for a SKU the merchant
// does not sell.
var ErrSandboxItemUnavailable = errors.New("sandbox item unavailable")

// SandboxOrderParams asks the sandbox platform's store for an order.
type SandboxOrderParams struct {
	MerchantID int64
	// ExternalID is the platform's id for a new order.
	ExternalID string
	Reference  string
	Status     string
	// Lines are taken out of inventory; a SKU may appear more than once.
	Lines []SandboxLine
	// Body is the order as the platform received it (JSON), kept as is.
	Body        []byte
	Total       int64
	Currency    string
	DateCreated time.Time
}

// SandboxLine is a quantity of one SKU.
type SandboxLine struct {
	SkuID    int64
	Quantity int64
}

// SandboxOrder is the sandbox platform's record of an order.
type SandboxOrder struct {
	ID          int64
	MerchantID  int64
	ExternalID  string
	Reference   string
	Status      string
	Body        []byte
	Total       int64
	Currency    string
	DateCreated time.Time
	// Refunds are the money the merchant gave back, oldest first.
	Refunds []SandboxRefund
}

// Refunded is the sum of the order's refunds.
func (o *SandboxOrder) Refunded() int64 {
	var n int64
	for _, r := range o.Refunds {
		n += r.Amount
	}
	return n
}

// SandboxRefund is one refund of a sandbox platform order.
type SandboxRefund struct {
	// ExternalID is the platform's id of the refund.
	ExternalID string `json:"external_id"`
	// Reference is the caller's idempotency reference: a second request
	// with it is answered with this refund.
	Reference   string    `json:"reference"`
	Amount      int64     `json:"amount"`
	Reason      string    `json:"reason,omitempty"`
	DateCreated time.Time `json:"date_created"`
}

// SandboxIntent is the sandbox payment provider's record of a payment
// intent. Status is one of the Intent... statuses.
type SandboxIntent struct {
	ID             string
	ClientSecret   string
	IdempotencyKey string
	Token          string
	Status         string
	Amount         int64
	AmountCaptured int64
	AmountRefunded int64
	Currency       string
	DateCreated    time.Time
}

// Demand adds up the quantity asked of each SKU, in SKU id order: the order
// in which a store takes inventory, so concurrent placements lock SKU rows
// in one order and cannot deadlock. A quantity below one is EINVALID.
func (p SandboxOrderParams) Demand() ([]SandboxLine, error) {
	var out []SandboxLine
	for _, l := range p.Lines {
		if l.Quantity < 1 {
			return nil, Errorf(EINVALID, "The quantity of SKU %d must be at least 1.", l.SkuID)
		}
		i := slices.IndexFunc(out, func(o SandboxLine) bool { return o.SkuID == l.SkuID })
		if i < 0 {
			out = append(out, l)
		} else {
			out[i].Quantity += l.Quantity
		}
	}
	slices.SortFunc(out, func(a, b SandboxLine) int { return cmp.Compare(a.SkuID, b.SkuID) })
	return out, nil
}

// SandboxItemError is what a sandbox placement refused for: the SKU it
// asked too many of, or one the merchant does not sell. It is
// ErrSandboxItemUnavailable (errors.Is).
type SandboxItemError struct{ SkuID int64 }

func (e *SandboxItemError) Error() string {
	return fmt.Sprintf("%v: SKU %d", ErrSandboxItemUnavailable, e.SkuID)
}

// Is makes a SandboxItemError ErrSandboxItemUnavailable.
func (e *SandboxItemError) Is(target error) bool { return target == ErrSandboxItemUnavailable }

// SandboxShortage is the error of a placement that asks for more units of
// SKU skuID than are left.
func SandboxShortage(skuID, left int64) error {
	return &Error{Code: EINVALID, Err: &SandboxItemError{SkuID: skuID},
		Message: fmt.Sprintf("Not enough items available. Only %d left", max(left, 0))}
}

// SandboxUnknownItem is the error of a placement that asks for a SKU the
// merchant does not sell.
func SandboxUnknownItem(skuID int64) error {
	return &Error{Code: EINVALID, Err: &SandboxItemError{SkuID: skuID},
		Message: fmt.Sprintf("SKU %d is not sold by this merchant.", skuID)}
}
