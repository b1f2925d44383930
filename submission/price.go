package submission

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"net/mail"
	"strings"

	"github.com/toteorg/tote"
)

// OrderRequest is a Direct Order Submission: an order created and submitted
// in one call.
type OrderRequest struct {
	AppID           int64
	IdempotencyKey  string
	AppOrderID      string
	ReferralID      string
	Currency        string // default USD
	Customer        tote.Customer
	ShippingAddress *tote.Address
	BillingAddress  *tote.Address
	PaymentMethod   tote.PaymentMethod
	Bags            []BagRequest
}

// BagRequest is one merchant's part of an OrderRequest.
type BagRequest struct {
	MerchantID int64 // optional: taken from the SKUs, must match them
	Skus       []SkuRequest
	// ShippingMethodID picks one of the merchant's methods; otherwise
	// ShippingLabel and ShippingPrice describe a custom one.
	ShippingMethodID int64
	ShippingLabel    string
	ShippingPrice    *int64
}

// SkuRequest is one line: a SKU and how many.
type SkuRequest struct {
	SkuID    int64
	Quantity int64
	// Price, when set, is what the channel charges for one, instead of the
	// catalog price.
	Price *int64
}

// Bounds of one line: quantity, and a price set by the channel (in minor
// units; the bound keeps every total far inside int64).
const (
	MinQuantity = 1
	MaxQuantity = 1000
	MaxPrice    = 1_000_000_000_00
)

// fields collects field errors.
type fields []tote.FieldError

func (f *fields) add(field, format string, args ...any) {
	*f = append(*f, tote.FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

// limit notes field if value is longer than max characters.
func (f *fields) limit(field, value string, max int) {
	if e, long := tote.TooLong(field, value, max); long {
		*f = append(*f, e)
	}
}

// MaxReferralID is the longest referral_id accepted (Violet's limit).
const MaxReferralID = 128

func (f fields) err() error {
	if len(f) == 0 {
		return nil
	}
	return tote.Invalid(f...)
}

// validateShopper checks the customer, addresses and payment method.
func validateShopper(r *OrderRequest) fields {
	var bad fields
	bad.limit("order.app_order_id", r.AppOrderID, tote.MaxText)
	bad.limit("order.referral_id", r.ReferralID, MaxReferralID)
	bad.limit("order.customer.first_name", r.Customer.FirstName, tote.MaxText)
	bad.limit("order.customer.last_name", r.Customer.LastName, tote.MaxText)
	bad.limit("payment_method.token", r.PaymentMethod.Token, tote.MaxText)

	if strings.TrimSpace(r.Customer.FirstName) == "" {
		bad.add("order.customer.first_name", "is required")
	}
	if strings.TrimSpace(r.Customer.LastName) == "" {
		bad.add("order.customer.last_name", "is required")
	}
	if long, ok := tote.TooLong("order.customer.email", r.Customer.Email, tote.MaxEmail); ok {
		bad = append(bad, long)
	} else if r.Customer.Email == "" {
		bad.add("order.customer.email", "is required")
	} else if a, err := mail.ParseAddress(r.Customer.Email); err != nil || a.Address != r.Customer.Email {
		bad.add("order.customer.email", "is not an email address")
	}
	if r.ShippingAddress == nil {
		bad.add("order.shipping_address", "is required")
	} else {
		bad = append(bad, validateAddress("order.shipping_address", r.ShippingAddress)...)
	}
	if r.BillingAddress != nil {
		bad = append(bad, validateAddress("order.billing_address", r.BillingAddress)...)
	}
	if r.PaymentMethod.Token == "" {
		bad.add("payment_method.token", "is required")
	}
	switch r.PaymentMethod.PaymentProvider {
	case "", tote.PaymentProviderSandbox:
	default:
		bad.add("payment_method.payment_provider", "must be SANDBOX (the only provider configured)")
	}
	return bad
}

func validateAddress(prefix string, a *tote.Address) fields {
	var bad fields
	for _, f := range []struct {
		name, value string
		required    bool
	}{
		{"first_name", a.FirstName, false}, {"last_name", a.LastName, false},
		{"address_1", a.Address1, true}, {"address_2", a.Address2, false}, {"city", a.City, true},
		{"state", a.State, true}, {"postal_code", a.PostalCode, true}, {"phone", a.Phone, false},
	} {
		if f.required && strings.TrimSpace(f.value) == "" {
			bad.add(prefix+"."+f.name, "is required")
		}
		bad.limit(prefix+"."+f.name, f.value, tote.MaxText)
	}
	if c := a.Country; len(c) != 2 || c[0] < 'A' || c[0] > 'Z' || c[1] < 'A' || c[1] > 'Z' {
		bad.add(prefix+".country", "must be an ISO 3166-1 alpha-2 code such as US")
	}
	return bad
}

// priceBags checks the bags against the catalog and prices them: lines,
// shipping, tax and totals. It reads only. Every problem is a field error.
func priceBags(ctx context.Context, cat tote.CatalogReader, currency string, shipTo *tote.Address, reqs []BagRequest) ([]*tote.Bag, fields, error) {
	var bad fields
	if len(reqs) == 0 {
		bad.add("order.bags", "must have at least one bag")
		return nil, bad, nil
	}
	var bags []*tote.Bag
	seen := map[int64]int{} // merchant → bag index
	for i, br := range reqs {
		at := fmt.Sprintf("order.bags[%d]", i)
		if len(br.Skus) == 0 {
			bad.add(at+".skus", "must have at least one SKU")
			continue
		}
		bag := &tote.Bag{Currency: currency, MerchantID: br.MerchantID}
		needsShipping := false
		for j, sr := range br.Skus {
			sat := fmt.Sprintf("%s.skus[%d]", at, j)
			if sr.Quantity < MinQuantity || sr.Quantity > MaxQuantity {
				bad.add(sat+".quantity", "must be between %d and %d", MinQuantity, MaxQuantity)
			}
			sku, err := cat.FindSKUByID(ctx, sr.SkuID)
			if errors.Is(err, tote.ErrNotFound) {
				bad.add(sat+".sku_id", "no SKU %d", sr.SkuID)
				continue
			} else if err != nil {
				return nil, nil, err
			}
			if bag.MerchantID == 0 {
				bag.MerchantID = sku.MerchantID
			} else if sku.MerchantID != bag.MerchantID {
				bad.add(sat+".sku_id", "SKU %d belongs to merchant %d, not to this bag's merchant %d", sku.ID, sku.MerchantID, bag.MerchantID)
				continue
			}
			if sku.Currency != currency {
				bad.add(sat+".sku_id", "SKU %d is priced in %s, the order in %s", sku.ID, sku.Currency, currency)
				continue
			}
			price := sku.Price
			if sr.Price != nil {
				if *sr.Price < 0 || *sr.Price > MaxPrice {
					bad.add(sat+".price", "must be between 0 and %d", MaxPrice)
					continue
				}
				price = *sr.Price
			}
			needsShipping = needsShipping || sku.RequiresShipping
			bag.Skus = append(bag.Skus, &tote.OrderSku{
				SkuID: sku.ID, MerchantID: sku.MerchantID, Name: sku.Name, Quantity: sr.Quantity,
				Price: price, LinePrice: price * sr.Quantity, Status: "IN_PROGRESS",
			})
			bag.SubTotal += price * sr.Quantity
		}
		if bag.MerchantID == 0 {
			continue
		}
		if prev, dup := seen[bag.MerchantID]; dup {
			bad.add(at+".merchant_id", "merchant %d already has bag %d; one bag per merchant", bag.MerchantID, prev)
			continue
		}
		seen[bag.MerchantID] = i
		m, err := cat.FindMerchantByID(ctx, bag.MerchantID)
		if errors.Is(err, tote.ErrNotFound) {
			bad.add(at+".merchant_id", "no merchant %d", bag.MerchantID)
			continue
		} else if err != nil {
			return nil, nil, err
		}
		bag.MerchantName, bag.Platform = m.Name, m.Platform
		if m.CommissionRate != nil {
			bag.CommissionRate = *m.CommissionRate
		} else {
			bag.CommissionRate = -1 // the app's rate; set by the caller
		}
		switch {
		case br.ShippingMethodID != 0:
			sm, err := cat.FindShippingMethodByID(ctx, br.ShippingMethodID)
			if errors.Is(err, tote.ErrNotFound) || err == nil && sm.MerchantID != bag.MerchantID {
				bad.add(at+".shipping_method.shipping_method_id", "merchant %d has no shipping method %d", bag.MerchantID, br.ShippingMethodID)
				continue
			} else if err != nil {
				return nil, nil, err
			}
			if sm.MinSubtotal != nil && bag.SubTotal < *sm.MinSubtotal || sm.MaxSubtotal != nil && bag.SubTotal > *sm.MaxSubtotal {
				bad.add(at+".shipping_method.shipping_method_id", "shipping method %d is not offered for a subtotal of %d", sm.ID, bag.SubTotal)
				continue
			}
			bag.ShippingMethod = &tote.BagShippingMethod{ShippingMethodID: sm.ID, Label: sm.Label, Carrier: sm.Carrier, Price: sm.Price}
		case br.ShippingPrice != nil || br.ShippingLabel != "":
			if br.ShippingLabel == "" {
				bad.add(at+".shipping_method.label", "is required with a price")
				continue
			}
			if f, long := tote.TooLong(at+".shipping_method.label", br.ShippingLabel, tote.MaxText); long {
				bad = append(bad, f)
				continue
			}
			if br.ShippingPrice == nil || *br.ShippingPrice < 0 || *br.ShippingPrice > MaxPrice {
				bad.add(at+".shipping_method.price", "must be between 0 and %d", MaxPrice)
				continue
			}
			bag.ShippingMethod = &tote.BagShippingMethod{Label: br.ShippingLabel, Price: *br.ShippingPrice}
		case needsShipping:
			bad.add(at+".shipping_method", "is required: the bag has SKUs that ship")
			continue
		}
		if bag.ShippingMethod != nil {
			bag.ShippingTotal = bag.ShippingMethod.Price
		}
		rates, err := cat.FindTaxRates(ctx, bag.MerchantID)
		if err != nil {
			return nil, nil, err
		}
		bag.TaxTotal = tax(rates, shipTo, bag.SubTotal, bag.ShippingTotal)
		bag.Total = bag.SubTotal + bag.ShippingTotal + bag.TaxTotal
		bags = append(bags, bag)
	}
	return bags, bad, nil
}

// tax applies the merchant's rate for the destination (a state's own rate
// over the country's), rounding half up to the minor unit.
func tax(rates []*tote.TaxRate, to *tote.Address, subTotal, shipping int64) int64 {
	if to == nil {
		return 0
	}
	var rate *tote.TaxRate
	state := strings.TrimSpace(to.State) // "ca" is CA, as a shopper may type it
	for _, r := range rates {
		if r.Country != to.Country {
			continue
		}
		if r.State != "" && strings.EqualFold(r.State, state) || r.State == "" && rate == nil {
			rate = r
		}
	}
	if rate == nil {
		return 0
	}
	base := subTotal
	if rate.AppliesToShipping {
		base += shipping
	}
	// base × rate can pass int64 for large orders; the result cannot.
	t := new(big.Int).Mul(big.NewInt(base), big.NewInt(rate.RatePPM))
	t.Add(t, big.NewInt(500_000))
	return t.Quo(t, big.NewInt(1_000_000)).Int64()
}
