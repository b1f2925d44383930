package catalog

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"time"

	"github.com/toteorg/tote"
	"github.com/toteorg/tote/jsonpath"
)

// File is a catalog import file (docs/decisions/0006-catalog-import.md):
//
//	{"merchants": [{"external_id": "acme", "name": "Acme", "platform": "SANDBOX",
//	  "currency": "USD", "commission_rate": 10, "sandbox": {"submit": "ACCEPT"},
//	  "skus": [{"external_id": "tee", "name": "Tee", "price": 2500, "inventory": 100}],
//	  "shipping_methods": [{"external_id": "std", "label": "Standard", "carrier": "USPS",
//	    "price": 500, "type": "FLAT_RATE_PRICE"}],
//	  "tax_rates": [{"country": "US", "state": "CA", "rate": "0.0725"}]}]}
//
// Merchants, SKUs and shipping methods are matched to what is stored by
// their external_id (required here), tax rates by country and state, so
// importing a file twice changes nothing the second time. What the file
// does not mention is left alone.
type File struct {
	Merchants []ImportMerchant `json:"merchants"`
}

// ImportMerchant is a merchant with what it sells.
type ImportMerchant struct {
	MerchantInput
	SKUs            []SKUInput            `json:"skus"`
	ShippingMethods []ShippingMethodInput `json:"shipping_methods"`
	TaxRates        []TaxRateInput        `json:"tax_rates"`
}

// Counts tells what an import did with one kind of entry.
type Counts struct {
	Created   int `json:"created"`
	Updated   int `json:"updated"`
	Unchanged int `json:"unchanged"`
}

// ImportSummary tells what an import did.
type ImportSummary struct {
	Merchants       Counts `json:"merchants"`
	SKUs            Counts `json:"skus"`
	ShippingMethods Counts `json:"shipping_methods"`
	TaxRates        Counts `json:"tax_rates"`
}

// ReadFile decodes an import file. Malformed JSON is EMALFORMED; a value of
// the wrong type or an unknown field is EINVALID naming it by its path
// (merchants[1].skus[0].price).
func ReadFile(r io.Reader) (*File, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read the file: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f File
	err = dec.Decode(&f)
	if err == nil && dec.More() {
		return nil, &tote.Error{Code: tote.EMALFORMED, Message: "Malformed JSON: unexpected data after the JSON value."}
	}
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case err == nil:
		return &f, nil
	case errors.As(err, &syntax):
		return nil, &tote.Error{Code: tote.EMALFORMED, Message: fmt.Sprintf("Malformed JSON at byte %d: %v.", syntax.Offset, err)}
	case errors.As(err, &typ):
		field := cmp.Or(jsonpath.At(data, typ.Offset), typ.Field, "the file")
		return nil, tote.Invalid(tote.FieldError{Field: field, Message: "must be " + jsonpath.Kind(typ.Type)})
	case strings.HasPrefix(err.Error(), "json: unknown field"):
		// The decoder's error names the key only; its path is found by
		// walking the file along File's fields.
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		if path := jsonpath.Unknown(data, reflect.TypeFor[File]()); path == field || strings.HasSuffix(path, "."+field) {
			field = path
		}
		return nil, tote.Invalid(tote.FieldError{Field: field, Message: "is not a field of a catalog import file"})
	case errors.Is(err, io.EOF):
		return nil, &tote.Error{Code: tote.EMALFORMED, Message: "The file is empty; a JSON object is required."}
	default:
		return nil, &tote.Error{Code: tote.EMALFORMED, Message: "Malformed JSON: " + err.Error() + "."}
	}
}

// planned is one validated merchant entry of a file.
type planned struct {
	merchant *tote.Merchant
	skus     []*tote.SKU
	methods  []*tote.ShippingMethod
	rates    []*tote.TaxRate
	field    string // "merchants[i]"
}

// validate checks the whole file, naming every bad field by its path
// ("merchants[0].skus[2].price").
func (f *File) validate() ([]*planned, error) {
	p := newProblems()
	var out []*planned
	merchantIDs := map[string]int{}
	for i, entry := range f.Merchants {
		field := fmt.Sprintf("merchants[%d]", i)
		mp := p.under(field + ".")
		pl := &planned{merchant: entry.merchant(mp), field: field}
		m := pl.merchant
		if m.ExternalID == "" {
			mp.add("external_id", "is required in an import file")
		} else if j, dup := merchantIDs[m.ExternalID]; dup {
			mp.add("external_id", "repeats merchants[%d].external_id %q", j, m.ExternalID)
		} else {
			merchantIDs[m.ExternalID] = i
		}
		skuIDs := map[string]int{}
		for j, in := range entry.SKUs {
			sp := mp.under(fmt.Sprintf("skus[%d].", j))
			s := in.sku(sp, m)
			requireUnique(sp, s.ExternalID, "skus", j, skuIDs)
			pl.skus = append(pl.skus, s)
		}
		methodIDs := map[string]int{}
		for j, in := range entry.ShippingMethods {
			sp := mp.under(fmt.Sprintf("shipping_methods[%d].", j))
			sm := in.shippingMethod(sp, 0)
			requireUnique(sp, sm.ExternalID, "shipping_methods", j, methodIDs)
			pl.methods = append(pl.methods, sm)
		}
		places := map[[2]string]int{}
		for j, in := range entry.TaxRates {
			rp := mp.under(fmt.Sprintf("tax_rates[%d].", j))
			r := in.taxRate(rp, 0)
			place := [2]string{r.Country, r.State}
			if k, dup := places[place]; dup {
				rp.add("state", "repeats the country and state of tax_rates[%d]", k)
			}
			places[place] = j
			pl.rates = append(pl.rates, r)
		}
		out = append(out, pl)
	}
	return out, p.err()
}

func requireUnique(p problems, id, list string, j int, seen map[string]int) {
	if id == "" {
		p.add("external_id", "is required in an import file")
	} else if k, dup := seen[id]; dup {
		p.add("external_id", "repeats %s[%d].external_id %q", list, k, id)
	} else {
		seen[id] = j
	}
}

// Import loads the file's merchants with their SKUs, shipping methods and
// tax rates in one transaction: the whole file is imported or, on any
// error, nothing is. Entries are matched by external id, so a second
// import of the same file changes nothing, and one with a changed price
// updates that price.
func (s *Service) Import(ctx context.Context, f *File) (*ImportSummary, error) {
	plan, err := f.validate()
	if err != nil {
		return nil, err
	}
	var sum ImportSummary
	err = s.Store.InTx(ctx, func(tx tote.Tx) error {
		sum = ImportSummary{}
		now := s.Clock.Now()
		for _, pl := range plan {
			if err := importMerchant(ctx, tx, pl, now, &sum); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &sum, nil
}

func importMerchant(ctx context.Context, tx tote.Tx, pl *planned, now time.Time, sum *ImportSummary) error {
	m := pl.merchant
	old, err := tx.FindMerchantByExternalID(ctx, m.ExternalID)
	switch {
	case errors.Is(err, tote.ErrNotFound):
		m.DateCreated, m.DateModified = now, now
		if err := tx.CreateMerchant(ctx, m); err != nil {
			return err
		}
		sum.Merchants.Created++
	case err != nil:
		return err
	default:
		m.ID, m.DateCreated, m.DateModified = old.ID, old.DateCreated, old.DateModified
		if reflect.DeepEqual(m, old) {
			sum.Merchants.Unchanged++
			break
		}
		if err := checkCurrencyChange(ctx, tx, old, m.Currency); err != nil {
			return renameField(err, pl.field+".")
		}
		m.DateModified = now
		if err := tx.UpdateMerchant(ctx, m); err != nil {
			return err
		}
		sum.Merchants.Updated++
	}

	for _, sku := range pl.skus {
		sku.MerchantID = m.ID
		old, err := tx.FindSKUByExternalID(ctx, m.ID, sku.ExternalID)
		switch {
		case errors.Is(err, tote.ErrNotFound):
			sku.DateCreated, sku.DateModified = now, now
			if err := tx.CreateSKU(ctx, sku); err != nil {
				return err
			}
			sum.SKUs.Created++
		case err != nil:
			return err
		default:
			sku.ID, sku.DateCreated, sku.DateModified = old.ID, old.DateCreated, old.DateModified
			if reflect.DeepEqual(sku, old) {
				sum.SKUs.Unchanged++
				continue
			}
			sku.DateModified = now
			if err := tx.UpdateSKU(ctx, sku); err != nil {
				return err
			}
			sum.SKUs.Updated++
		}
	}

	methods, err := tx.FindShippingMethods(ctx, m.ID)
	if err != nil {
		return err
	}
	byExternalID := map[string]*tote.ShippingMethod{}
	for _, sm := range methods {
		if sm.ExternalID != "" {
			byExternalID[sm.ExternalID] = sm
		}
	}
	for _, sm := range pl.methods {
		sm.MerchantID = m.ID
		old, ok := byExternalID[sm.ExternalID]
		if !ok {
			sm.DateCreated = now
			if err := tx.CreateShippingMethod(ctx, sm); err != nil {
				return err
			}
			sum.ShippingMethods.Created++
			continue
		}
		sm.ID, sm.DateCreated = old.ID, old.DateCreated
		if reflect.DeepEqual(sm, old) {
			sum.ShippingMethods.Unchanged++
			continue
		}
		if err := tx.UpdateShippingMethod(ctx, sm); err != nil {
			return err
		}
		sum.ShippingMethods.Updated++
	}

	rates, err := tx.FindTaxRates(ctx, m.ID)
	if err != nil {
		return err
	}
	byPlace := map[[2]string]*tote.TaxRate{}
	for _, r := range rates {
		byPlace[[2]string{r.Country, r.State}] = r
	}
	for _, r := range pl.rates {
		r.MerchantID, r.DateCreated = m.ID, now
		old, ok := byPlace[[2]string{r.Country, r.State}]
		if ok && old.RatePPM == r.RatePPM && old.AppliesToShipping == r.AppliesToShipping {
			*r = *old
			sum.TaxRates.Unchanged++
			continue
		}
		if err := tx.SaveTaxRate(ctx, r); err != nil {
			return err
		}
		if ok {
			sum.TaxRates.Updated++
		} else {
			sum.TaxRates.Created++
		}
	}
	return nil
}

// renameField puts a prefix before the fields of an EINVALID error.
func renameField(err error, prefix string) error {
	var e *tote.Error
	if !errors.As(err, &e) || e.Code != tote.EINVALID {
		return err
	}
	fields := make([]tote.FieldError, len(e.Fields))
	for i, f := range e.Fields {
		fields[i] = tote.FieldError{Field: prefix + f.Field, Message: f.Message}
	}
	return tote.Invalid(fields...)
}
