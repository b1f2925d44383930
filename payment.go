package tote

import "context"

// Payment providers.
const (
	PaymentProviderSandbox = "SANDBOX"
	PaymentProviderStripe  = "STRIPE"
)

// PaymentProvider takes the shopper's money: an authorization (hold) for the
// order before bags go out, a capture of what the accepted bags owe, a void
// of what is left, refunds. Every call is a network call made outside any
// transaction; the idempotency key makes a retried call safe.
type PaymentProvider interface {
	// Authorize places a hold. The intent's status says whether the shopper
	// must act first (3-D Secure). A declined card is a *PaymentError with
	// Declined set.
	Authorize(ctx context.Context, p AuthorizeParams) (*PaymentIntent, error)
	// Capture takes amount (at most what was authorized) and releases the
	// rest of the hold. Capturing an intent again with the amount it was
	// captured for must answer the captured intent, not an error: a capture
	// whose answer was lost is sent again.
	Capture(ctx context.Context, intentID string, amount int64) (*PaymentIntent, error)
	// Void releases the whole hold.
	Void(ctx context.Context, intentID string) (*PaymentIntent, error)
	// Refund returns amount of what was captured.
	Refund(ctx context.Context, intentID string, amount int64) (*PaymentIntent, error)
	// Get reads the intent, e.g. after the shopper completed 3-D Secure.
	Get(ctx context.Context, intentID string) (*PaymentIntent, error)
}

// AuthorizeParams asks for a hold.
type AuthorizeParams struct {
	Amount         int64
	Currency       string
	Token          string
	IdempotencyKey string
}

// Payment intent statuses.
const (
	IntentRequiresAction = "REQUIRES_ACTION"
	IntentAuthorized     = "AUTHORIZED"
	IntentCaptured       = "CAPTURED"
	IntentVoided         = "VOIDED"
	IntentFailed         = "FAILED"
	IntentPartlyRefunded = "PARTIALLY_REFUNDED"
	IntentRefunded       = "REFUNDED"
)

// PaymentIntent is the provider's record of one order's payment.
type PaymentIntent struct {
	ID             string
	ClientSecret   string
	Status         string
	Amount         int64
	AmountCaptured int64
	AmountRefunded int64
	Currency       string
}

// PaymentError is a failed payment call.
type PaymentError struct {
	// Declined: the card was refused; retrying will not help.
	Declined bool
	Message  string
}

func (e *PaymentError) Error() string { return e.Message }
