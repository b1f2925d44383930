// Package catalog manages what merchants sell: merchants, their SKUs,
// shipping methods and tax rates. It validates what operators write (over
// HTTP, on the command line, or in a catalog import file) and stores it;
// readers of the catalog (carts, orders) use the store directly.
package catalog

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/toteorg/tote"
)

// ShippingFlatRate is the only shipping method type for now: a fixed price
// per bag.
const ShippingFlatRate = "FLAT_RATE_PRICE"

// MaxAmount bounds prices and subtotals (minor units), so that sums of a
// thousand lines cannot overflow an int64.
const MaxAmount = 1_000_000_000_000

// Service creates and changes catalog entries.
type Service struct {
	Store tote.Store
	Clock tote.Clock
}

// SandboxInput scripts the sandbox platform for a merchant (API.md,
// "Sandbox platform"). Omitted fields take their defaults.
type SandboxInput struct {
	// Submit is ACCEPT (default), REJECT, FAIL_RETRYABLE or TIMEOUT.
	Submit    string `json:"submit,omitempty"`
	FailTimes int    `json:"fail_times,omitempty"`
	LatencyMS int    `json:"latency_ms,omitempty"`
	Cartless  bool   `json:"cartless,omitempty"`
	// PushEvents defaults to true: the platform notifies Tote of changes.
	PushEvents *bool `json:"push_events,omitempty"`
	Backorder  bool  `json:"backorder,omitempty"`
}

// MerchantInput is a merchant as an operator writes it.
type MerchantInput struct {
	// ExternalID identifies the merchant in import files (optional by hand).
	ExternalID string `json:"external_id"`
	Name       string `json:"name"`
	Platform   string `json:"platform"`
	Currency   string `json:"currency"`
	// CommissionRate is a percentage with at most two decimals ("12.5");
	// empty means the app's rate applies.
	CommissionRate Decimal `json:"commission_rate,omitempty"`
	// Sandbox is the sandbox platform's behaviour; nil accepts every order.
	Sandbox *SandboxInput `json:"sandbox,omitempty"`
}

// SKUInput is a SKU as an operator writes it.
type SKUInput struct {
	ExternalID string `json:"external_id"`
	Name       string `json:"name"`
	Price      *int64 `json:"price"` // minor units; required
	// Currency defaults to the merchant's, and must equal it.
	Currency  string `json:"currency,omitempty"`
	Inventory *int64 `json:"inventory"`        // required
	Weight    int64  `json:"weight,omitempty"` // grams
	// RequiresShipping defaults to true.
	RequiresShipping *bool `json:"requires_shipping,omitempty"`
	// ProductType defaults to PHYSICAL.
	ProductType string `json:"product_type,omitempty"`
}

// ShippingMethodInput is a shipping method as an operator writes it.
type ShippingMethodInput struct {
	ExternalID string `json:"external_id"`
	Label      string `json:"label"`
	Carrier    string `json:"carrier"`
	Price      *int64 `json:"price"` // minor units; required
	// Type defaults to FLAT_RATE_PRICE, the only type.
	Type string `json:"type,omitempty"`
	// MinSubtotal and MaxSubtotal, when set, bound the bag subtotals the
	// method is offered for.
	MinSubtotal *int64 `json:"min_subtotal,omitempty"`
	MaxSubtotal *int64 `json:"max_subtotal,omitempty"`
}

// TaxRateInput is a tax rate as an operator writes it.
type TaxRateInput struct {
	Country string `json:"country"`         // ISO 3166-1 alpha-2, upper case
	State   string `json:"state,omitempty"` // empty: the whole country
	// Rate is a decimal fraction, "0.0725" for 7.25%, at most 6 decimals.
	Rate              Decimal `json:"rate"`
	AppliesToShipping bool    `json:"applies_to_shipping,omitempty"`
}

// problems collects field errors, each field named under a prefix
// ("merchants[0].skus[1]." in an import file).
type problems struct {
	prefix string
	list   *[]tote.FieldError
}

func newProblems() problems { return problems{list: new([]tote.FieldError)} }

func (p problems) add(field, format string, args ...any) {
	*p.list = append(*p.list, tote.FieldError{Field: p.prefix + field, Message: fmt.Sprintf(format, args...)})
}

func (p problems) under(prefix string) problems {
	return problems{prefix: p.prefix + prefix, list: p.list}
}

func (p problems) err() error {
	if len(*p.list) == 0 {
		return nil
	}
	return tote.Invalid(*p.list...)
}

func (p problems) text(field, v string, required bool) string {
	v = strings.TrimSpace(v)
	if v == "" && required {
		p.add(field, "is required")
	} else if e, long := tote.TooLong(field, v, tote.MaxText); long {
		p.add(field, "%s", e.Message)
	}
	return v
}

// required is *v, or 0 with "is required" noted when v is nil (the field
// was absent, or null).
func (p problems) required(field string, v *int64) int64 {
	if v == nil {
		p.add(field, "is required")
		return 0
	}
	return *v
}

func (p problems) amount(field string, v int64) {
	if v < 0 || v > MaxAmount {
		p.add(field, "must be an amount in minor units between 0 and %d", int64(MaxAmount))
	}
}

// merchant checks in and returns the merchant it describes (without id
// and dates).
func (in MerchantInput) merchant(p problems) *tote.Merchant {
	m := &tote.Merchant{
		ExternalID: p.text("external_id", in.ExternalID, false),
		Name:       p.text("name", in.Name, true),
		Platform:   strings.TrimSpace(in.Platform),
		Currency:   strings.TrimSpace(in.Currency),
	}
	if m.Platform != tote.PlatformSandbox {
		p.add("platform", "must be SANDBOX (the only platform with a connector)")
	}
	if !tote.ValidCurrency(m.Currency) {
		p.add("currency", "must be an ISO 4217 currency code in upper case, such as USD")
	}
	if in.CommissionRate != "" {
		if bp, ok := ParsePercent(string(in.CommissionRate)); ok {
			m.CommissionRate = &bp
		} else {
			p.add("commission_rate", "must be a percentage between 0 and 100 with at most two decimals")
		}
	}
	m.Sandbox = in.Sandbox.behaviour(p.under("sandbox."))
	return m
}

// maxLatencyMS bounds a sandbox platform's delay: past any platform
// timeout, and short of a number whose duration overflows.
const maxLatencyMS = 10 * 60 * 1000

func (in *SandboxInput) behaviour(p problems) tote.SandboxBehaviour {
	b := tote.SandboxBehaviour{Submit: tote.SandboxAccept, PushEvents: true}
	if in == nil {
		return b
	}
	switch s := strings.TrimSpace(in.Submit); s {
	case "":
	case tote.SandboxAccept, tote.SandboxReject, tote.SandboxFailRetryable, tote.SandboxTimeout:
		b.Submit = s
	default:
		p.add("submit", "must be one of ACCEPT, REJECT, FAIL_RETRYABLE, TIMEOUT")
	}
	if in.FailTimes < 0 {
		p.add("fail_times", "must not be negative")
	}
	if in.LatencyMS < 0 || in.LatencyMS > maxLatencyMS {
		p.add("latency_ms", "must be between 0 and %d (ten minutes)", maxLatencyMS)
	}
	b.FailTimes, b.LatencyMS, b.Cartless, b.Backorder = in.FailTimes, in.LatencyMS, in.Cartless, in.Backorder
	if in.PushEvents != nil {
		b.PushEvents = *in.PushEvents
	}
	return b
}

// sku checks in and returns the SKU it describes for merchant m.
func (in SKUInput) sku(p problems, m *tote.Merchant) *tote.SKU {
	s := &tote.SKU{
		MerchantID:       m.ID,
		ExternalID:       p.text("external_id", in.ExternalID, false),
		Name:             p.text("name", in.Name, true),
		Price:            p.required("price", in.Price),
		Currency:         strings.TrimSpace(in.Currency),
		Inventory:        p.required("inventory", in.Inventory),
		Weight:           in.Weight,
		RequiresShipping: true,
		ProductType:      strings.TrimSpace(in.ProductType),
	}
	if in.Price != nil {
		p.amount("price", s.Price)
	}
	if s.Currency == "" {
		s.Currency = m.Currency
	} else if s.Currency != m.Currency {
		p.add("currency", "must be the merchant's currency, %s", m.Currency)
	}
	if s.Inventory < 0 {
		p.add("inventory", "must not be negative")
	}
	if s.Weight < 0 {
		p.add("weight", "must not be negative")
	}
	if in.RequiresShipping != nil {
		s.RequiresShipping = *in.RequiresShipping
	}
	switch s.ProductType {
	case "":
		s.ProductType = tote.ProductPhysical
	case tote.ProductPhysical, tote.ProductDigital, tote.ProductVirtual, tote.ProductBundled:
	default:
		p.add("product_type", "must be one of PHYSICAL, DIGITAL, VIRTUAL, BUNDLED")
	}
	return s
}

// shippingMethod checks in and returns the method it describes for
// merchant merchantID.
func (in ShippingMethodInput) shippingMethod(p problems, merchantID int64) *tote.ShippingMethod {
	m := &tote.ShippingMethod{
		MerchantID:  merchantID,
		ExternalID:  p.text("external_id", in.ExternalID, false),
		Label:       p.text("label", in.Label, true),
		Carrier:     p.text("carrier", in.Carrier, true),
		Price:       p.required("price", in.Price),
		Type:        strings.TrimSpace(in.Type),
		MinSubtotal: in.MinSubtotal,
		MaxSubtotal: in.MaxSubtotal,
	}
	if in.Price != nil {
		p.amount("price", m.Price)
	}
	switch m.Type {
	case "":
		m.Type = ShippingFlatRate
	case ShippingFlatRate:
	default:
		p.add("type", "must be FLAT_RATE_PRICE")
	}
	if m.MinSubtotal != nil {
		p.amount("min_subtotal", *m.MinSubtotal)
	}
	if m.MaxSubtotal != nil {
		p.amount("max_subtotal", *m.MaxSubtotal)
	}
	if m.MinSubtotal != nil && m.MaxSubtotal != nil && *m.MinSubtotal > *m.MaxSubtotal {
		p.add("max_subtotal", "must not be less than min_subtotal")
	}
	return m
}

// taxRate checks in and returns the rate it describes for merchant
// merchantID.
func (in TaxRateInput) taxRate(p problems, merchantID int64) *tote.TaxRate {
	// A state is kept in upper case: addresses match it regardless of
	// case, so "ca" and "CA" are one rate, not two.
	r := &tote.TaxRate{
		MerchantID:        merchantID,
		Country:           strings.TrimSpace(in.Country),
		State:             strings.ToUpper(p.text("state", in.State, false)),
		AppliesToShipping: in.AppliesToShipping,
	}
	if !validCountry(r.Country) {
		p.add("country", "must be an ISO 3166-1 alpha-2 country code in upper case, such as US")
	}
	if ppm, ok := ParseTaxRate(string(in.Rate)); ok {
		r.RatePPM = ppm
	} else {
		p.add("rate", `must be a decimal fraction between 0 and 1 with at most 6 decimals, such as "0.0725"`)
	}
	return r
}

func validCountry(c string) bool {
	return len(c) == 2 && c[0] >= 'A' && c[0] <= 'Z' && c[1] >= 'A' && c[1] <= 'Z'
}

func merchantNotFound(id int64) error {
	return &tote.Error{Code: tote.ENOTFOUND, Message: fmt.Sprintf("Merchant %d not found.", id), Err: tote.ErrNotFound}
}

// lockMerchant reads merchant id inside tx, locked against other writers
// until tx ends (Tx.LockMerchant), or ENOTFOUND naming it.
func lockMerchant(ctx context.Context, tx tote.Tx, id int64) (*tote.Merchant, error) {
	m, err := tx.LockMerchant(ctx, id)
	if errors.Is(err, tote.ErrNotFound) {
		return nil, merchantNotFound(id)
	}
	return m, err
}

// CreateMerchant validates in and stores the merchant. A taken external id
// is ECONFLICT.
func (s *Service) CreateMerchant(ctx context.Context, in MerchantInput) (*tote.Merchant, error) {
	p := newProblems()
	m := in.merchant(p)
	if err := p.err(); err != nil {
		return nil, err
	}
	now := s.Clock.Now()
	m.DateCreated, m.DateModified = now, now
	if err := s.Store.InTx(ctx, func(tx tote.Tx) error { return tx.CreateMerchant(ctx, m) }); err != nil {
		return nil, err
	}
	return m, nil
}

// UpdateMerchant replaces merchant id's fields with in's (an empty
// ExternalID keeps the current one). Its currency cannot change once it
// has SKUs.
func (s *Service) UpdateMerchant(ctx context.Context, id int64, in MerchantInput) (*tote.Merchant, error) {
	return s.EditMerchant(ctx, id, func(*tote.Merchant) (MerchantInput, error) { return in, nil })
}

// EditMerchant is UpdateMerchant with the input made by edit from the
// merchant as it is stored, under its lock: a change made of some fields
// (the API's PUT) cannot undo another one made meanwhile.
func (s *Service) EditMerchant(ctx context.Context, id int64, edit func(*tote.Merchant) (MerchantInput, error)) (*tote.Merchant, error) {
	var m *tote.Merchant
	err := s.Store.InTx(ctx, func(tx tote.Tx) error {
		cur, err := lockMerchant(ctx, tx, id)
		if err != nil {
			return err
		}
		in, err := edit(cur)
		if err != nil {
			return err
		}
		p := newProblems()
		next := in.merchant(p)
		if err := p.err(); err != nil {
			return err
		}
		if err := checkCurrencyChange(ctx, tx, cur, next.Currency); err != nil {
			return err
		}
		if next.ExternalID == "" {
			next.ExternalID = cur.ExternalID
		}
		next.ID, next.DateCreated, next.DateModified = cur.ID, cur.DateCreated, s.Clock.Now()
		m = next
		return tx.UpdateMerchant(ctx, m)
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// checkCurrencyChange refuses a new currency for a merchant with SKUs,
// whose prices are in the old one.
func checkCurrencyChange(ctx context.Context, tx tote.Tx, m *tote.Merchant, currency string) error {
	if currency == m.Currency {
		return nil
	}
	_, n, err := tx.FindSKUs(ctx, m.ID, tote.Page{Number: 1, Size: 1})
	if err != nil {
		return err
	}
	if n > 0 {
		return tote.Invalid(tote.FieldError{Field: "currency",
			Message: fmt.Sprintf("cannot change from %s: the merchant has SKUs priced in it", m.Currency)})
	}
	return nil
}

// CreateSKU validates in and adds the SKU to merchant merchantID.
func (s *Service) CreateSKU(ctx context.Context, merchantID int64, in SKUInput) (*tote.SKU, error) {
	var sku *tote.SKU
	err := s.Store.InTx(ctx, func(tx tote.Tx) error {
		m, err := lockMerchant(ctx, tx, merchantID)
		if err != nil {
			return err
		}
		p := newProblems()
		sku = in.sku(p, m)
		if err := p.err(); err != nil {
			return err
		}
		now := s.Clock.Now()
		sku.DateCreated, sku.DateModified = now, now
		return tx.CreateSKU(ctx, sku)
	})
	if err != nil {
		return nil, err
	}
	return sku, nil
}

// CreateShippingMethod validates in and adds the method to merchant
// merchantID.
func (s *Service) CreateShippingMethod(ctx context.Context, merchantID int64, in ShippingMethodInput) (*tote.ShippingMethod, error) {
	if _, err := s.Merchant(ctx, merchantID); err != nil {
		return nil, err // an unknown merchant is ENOTFOUND before any field is checked
	}
	p := newProblems()
	sm := in.shippingMethod(p, merchantID)
	if err := p.err(); err != nil {
		return nil, err
	}
	err := s.Store.InTx(ctx, func(tx tote.Tx) error {
		if _, err := lockMerchant(ctx, tx, merchantID); err != nil {
			return err
		}
		sm.DateCreated = s.Clock.Now()
		return tx.CreateShippingMethod(ctx, sm)
	})
	if err != nil {
		return nil, err
	}
	return sm, nil
}

// SaveTaxRate validates in and sets merchant merchantID's rate for its
// country and state, replacing any rate there was.
func (s *Service) SaveTaxRate(ctx context.Context, merchantID int64, in TaxRateInput) (*tote.TaxRate, error) {
	if _, err := s.Merchant(ctx, merchantID); err != nil {
		return nil, err // an unknown merchant is ENOTFOUND before any field is checked
	}
	p := newProblems()
	r := in.taxRate(p, merchantID)
	if err := p.err(); err != nil {
		return nil, err
	}
	err := s.Store.InTx(ctx, func(tx tote.Tx) error {
		if _, err := lockMerchant(ctx, tx, merchantID); err != nil {
			return err
		}
		r.DateCreated = s.Clock.Now()
		return tx.SaveTaxRate(ctx, r)
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

// Merchant returns merchant id, or ENOTFOUND.
func (s *Service) Merchant(ctx context.Context, id int64) (*tote.Merchant, error) {
	m, err := s.Store.FindMerchantByID(ctx, id)
	if errors.Is(err, tote.ErrNotFound) {
		return nil, merchantNotFound(id)
	}
	return m, err
}

// SKU returns SKU id, or ENOTFOUND.
func (s *Service) SKU(ctx context.Context, id int64) (*tote.SKU, error) {
	sku, err := s.Store.FindSKUByID(ctx, id)
	if errors.Is(err, tote.ErrNotFound) {
		return nil, &tote.Error{Code: tote.ENOTFOUND, Message: fmt.Sprintf("SKU %d not found.", id), Err: tote.ErrNotFound}
	}
	return sku, err
}

// SKUs returns a page of SKUs, of merchant merchantID when it is not zero
// (ENOTFOUND if there is no such merchant), and their total count.
func (s *Service) SKUs(ctx context.Context, merchantID int64, page tote.Page) ([]*tote.SKU, int64, error) {
	if merchantID != 0 {
		if _, err := s.Merchant(ctx, merchantID); err != nil {
			return nil, 0, err
		}
	}
	return s.Store.FindSKUs(ctx, merchantID, page)
}
