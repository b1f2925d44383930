package tote

import "time"

// PlatformSandbox is the built-in simulated commerce platform. Other
// platforms (Shopify, ...) come with their connectors.
const PlatformSandbox = "SANDBOX"

// Merchant sells through Tote from a store on its own commerce platform.
type Merchant struct {
	ID int64
	// ExternalID identifies the merchant in a catalog import file, which
	// makes the import idempotent. Empty when created by hand.
	ExternalID string
	Name       string
	Platform   string // PlatformSandbox, ...
	Currency   string
	// CommissionRate in basis points overrides the app's when set.
	CommissionRate *int64
	Sandbox        SandboxBehaviour
	DateCreated    time.Time
	DateModified   time.Time
}

// Sandbox submit behaviours.
const (
	SandboxAccept        = "ACCEPT"
	SandboxReject        = "REJECT"
	SandboxFailRetryable = "FAIL_RETRYABLE"
	SandboxTimeout       = "TIMEOUT"
)

// SandboxBehaviour scripts how the sandbox platform treats a merchant's
// orders (API.md, "Sandbox platform").
type SandboxBehaviour struct {
	// Submit is ACCEPT (default), REJECT, FAIL_RETRYABLE or TIMEOUT.
	Submit string `json:"submit"`
	// FailTimes is how many attempts FAIL_RETRYABLE fails before accepting.
	FailTimes int `json:"fail_times"`
	// LatencyMS delays every answer of the platform.
	LatencyMS int  `json:"latency_ms"`
	Cartless  bool `json:"cartless"`
	// PushEvents false means the platform sends no notifications.
	PushEvents bool `json:"push_events"`
	Backorder  bool `json:"backorder"`
}

// Product types of a SKU.
const (
	ProductPhysical = "PHYSICAL"
	ProductDigital  = "DIGITAL"
	ProductVirtual  = "VIRTUAL"
	ProductBundled  = "BUNDLED"
)

// SKU is one purchasable variant of a merchant's product.
type SKU struct {
	ID               int64
	MerchantID       int64
	ExternalID       string
	Name             string
	Price            int64 // minor units of Currency
	Currency         string
	Inventory        int64
	Weight           int64 // grams
	RequiresShipping bool
	ProductType      string
	DateCreated      time.Time
	DateModified     time.Time
}

// ShippingMethod is a way a merchant ships, at a flat price.
type ShippingMethod struct {
	ID          int64
	MerchantID  int64
	ExternalID  string
	Label       string
	Carrier     string
	Price       int64
	Type        string // FLAT_RATE_PRICE
	MinSubtotal *int64 // offered only when the bag's subtotal is within
	MaxSubtotal *int64
	DateCreated time.Time
}

// TaxRate is a merchant's tax rate for a country (and state).
type TaxRate struct {
	ID         int64
	MerchantID int64
	Country    string
	State      string // empty: the whole country
	// RatePPM is the rate in millionths (0.0725 = 72500).
	RatePPM           int64
	AppliesToShipping bool
	DateCreated       time.Time
}

// Page asks for one page of a list: Number is 1-based.
type Page struct {
	Number int
	Size   int
}

// Offset is the number of items before the page.
func (p Page) Offset() int { return (p.Number - 1) * p.Size }
