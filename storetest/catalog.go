package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/toteorg/tote"
)

// Merchant creates a SANDBOX merchant selling in USD that accepts every
// order (fixture).
func Merchant(tb testing.TB, s tote.Store, name string) *tote.Merchant {
	tb.Helper()
	m := &tote.Merchant{Name: name, Platform: tote.PlatformSandbox, Currency: "USD",
		Sandbox: tote.SandboxBehaviour{Submit: tote.SandboxAccept, PushEvents: true}, DateCreated: T0, DateModified: T0}
	if err := s.InTx(context.Background(), func(tx tote.Tx) error { return tx.CreateMerchant(context.Background(), m) }); err != nil {
		tb.Fatalf("create merchant: %v", err)
	}
	return m
}

// SKU creates a physical SKU of the merchant in USD with plenty of
// inventory (fixture).
func SKU(tb testing.TB, s tote.Store, merchantID int64, name string, price int64) *tote.SKU {
	tb.Helper()
	sku := &tote.SKU{MerchantID: merchantID, Name: name, Price: price, Currency: "USD", Inventory: 1000,
		RequiresShipping: true, ProductType: tote.ProductPhysical, DateCreated: T0, DateModified: T0}
	if err := s.InTx(context.Background(), func(tx tote.Tx) error { return tx.CreateSKU(context.Background(), sku) }); err != nil {
		tb.Fatalf("create sku: %v", err)
	}
	return sku
}

func isConflict(err error) bool { return tote.ErrorCode(err) == tote.ECONFLICT }

func testCatalogMerchants(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t)
	rate := int64(1250)
	m := &tote.Merchant{ExternalID: "acme", Name: "Acme", Platform: tote.PlatformSandbox, Currency: "USD",
		CommissionRate: &rate, Sandbox: tote.SandboxBehaviour{Submit: tote.SandboxFailRetryable, FailTimes: 2,
			LatencyMS: 150, Cartless: true, PushEvents: true, Backorder: true},
		DateCreated: T0, DateModified: T0}
	noErr(t, s.InTx(ctx, func(tx tote.Tx) error { return tx.CreateMerchant(ctx, m) }), "create merchant")
	if m.ID <= 0 {
		t.Fatalf("merchant id = %d", m.ID)
	}
	got, err := s.FindMerchantByID(ctx, m.ID)
	noErr(t, err, "find merchant")
	equal(t, "merchant", got, m)
	got, err = s.FindMerchantByExternalID(ctx, "acme")
	noErr(t, err, "find merchant by external id")
	equal(t, "merchant by external id", got, m)

	// A merchant made by hand has no external id and no commission rate;
	// any number of them may exist.
	plain := Merchant(t, s, "Plain")
	plain2 := Merchant(t, s, "Plain 2")
	got, err = s.FindMerchantByID(ctx, plain.ID)
	noErr(t, err, "find plain merchant")
	equal(t, "plain merchant", got, plain)

	// A second merchant with the same external id is a conflict.
	err = s.InTx(ctx, func(tx tote.Tx) error {
		return tx.CreateMerchant(ctx, &tote.Merchant{ExternalID: "acme", Name: "Other", Platform: tote.PlatformSandbox,
			Currency: "USD", DateCreated: T0, DateModified: T0})
	})
	if !isConflict(err) {
		t.Fatalf("duplicate external id: err = %v, want ECONFLICT", err)
	}

	// Update every field but ID and DateCreated, clearing the rate.
	later := T0.Add(time.Minute)
	m.Name, m.Currency, m.CommissionRate, m.DateModified = "Acme Inc", "EUR", nil, later
	m.Sandbox = tote.SandboxBehaviour{Submit: tote.SandboxReject}
	noErr(t, s.InTx(ctx, func(tx tote.Tx) error { return tx.UpdateMerchant(ctx, m) }), "update merchant")
	got, err = s.FindMerchantByID(ctx, m.ID)
	noErr(t, err, "find updated merchant")
	equal(t, "updated merchant", got, m)

	// Taking another merchant's external id is a conflict too.
	plain.ExternalID = "acme"
	err = s.InTx(ctx, func(tx tote.Tx) error { return tx.UpdateMerchant(ctx, plain) })
	if !isConflict(err) {
		t.Fatalf("update to a taken external id: err = %v, want ECONFLICT", err)
	}
	plain.ExternalID = ""

	page, total, err := s.FindMerchants(ctx, tote.Page{Number: 1, Size: 2})
	noErr(t, err, "find merchants")
	equal(t, "total merchants", total, int64(3))
	equal(t, "first page", page, []*tote.Merchant{m, plain})
	page, _, err = s.FindMerchants(ctx, tote.Page{Number: 2, Size: 2})
	noErr(t, err, "find merchants page 2")
	equal(t, "second page", page, []*tote.Merchant{plain2})
	page, total, err = s.FindMerchants(ctx, tote.Page{Number: 3, Size: 2})
	noErr(t, err, "find merchants page 3")
	if len(page) != 0 || page == nil || total != 3 {
		t.Fatalf("page past the end = %v (nil %v), total %d; want empty, 3", page, page == nil, total)
	}

	if _, err := s.FindMerchantByID(ctx, m.ID+1000); !errors.Is(err, tote.ErrNotFound) {
		t.Fatalf("unknown merchant: err = %v", err)
	}
	if _, err := s.FindMerchantByExternalID(ctx, "nope"); !errors.Is(err, tote.ErrNotFound) {
		t.Fatalf("unknown external id: err = %v", err)
	}
	err = s.InTx(ctx, func(tx tote.Tx) error { return tx.UpdateMerchant(ctx, &tote.Merchant{ID: 1 << 40}) })
	if !errors.Is(err, tote.ErrNotFound) {
		t.Fatalf("update unknown merchant: err = %v", err)
	}
}

func testCatalogSKUs(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t)
	m1, m2 := Merchant(t, s, "One"), Merchant(t, s, "Two")
	var skus []*tote.SKU
	for i := range 5 {
		merchant := m1.ID
		if i%2 == 1 {
			merchant = m2.ID
		}
		sku := &tote.SKU{MerchantID: merchant, ExternalID: fmt.Sprintf("sku-%d", i), Name: fmt.Sprintf("SKU %d", i),
			Price: int64(100 * (i + 1)), Currency: "USD", Inventory: int64(i), Weight: 250,
			RequiresShipping: i != 4, ProductType: tote.ProductPhysical, DateCreated: T0, DateModified: T0}
		if i == 4 {
			sku.ExternalID, sku.ProductType = "", tote.ProductDigital
		}
		noErr(t, s.InTx(ctx, func(tx tote.Tx) error { return tx.CreateSKU(ctx, sku) }), "create sku")
		skus = append(skus, sku)
	}
	got, err := s.FindSKUByID(ctx, skus[4].ID)
	noErr(t, err, "find sku")
	equal(t, "sku", got, skus[4])
	got, err = s.FindSKUByExternalID(ctx, m2.ID, "sku-1")
	noErr(t, err, "find sku by external id")
	equal(t, "sku by external id", got, skus[1])
	if _, err := s.FindSKUByExternalID(ctx, m1.ID, "sku-1"); !errors.Is(err, tote.ErrNotFound) {
		t.Fatalf("another merchant's external id: err = %v, want ErrNotFound", err)
	}

	// External ids are unique per merchant only.
	dup := func(merchantID int64) error {
		return s.InTx(ctx, func(tx tote.Tx) error {
			return tx.CreateSKU(ctx, &tote.SKU{MerchantID: merchantID, ExternalID: "sku-0", Name: "dup",
				Currency: "USD", ProductType: tote.ProductPhysical, DateCreated: T0, DateModified: T0})
		})
	}
	if err := dup(m1.ID); !isConflict(err) {
		t.Fatalf("duplicate sku external id: err = %v, want ECONFLICT", err)
	}
	noErr(t, dup(m2.ID), "same external id at another merchant")

	later := T0.Add(time.Hour)
	s0 := skus[0]
	s0.Name, s0.Price, s0.Inventory, s0.Weight, s0.RequiresShipping, s0.ProductType, s0.DateModified =
		"Renamed", 4999, 7, 0, false, tote.ProductVirtual, later
	noErr(t, s.InTx(ctx, func(tx tote.Tx) error { return tx.UpdateSKU(ctx, s0) }), "update sku")
	got, err = s.FindSKUByID(ctx, s0.ID)
	noErr(t, err, "find updated sku")
	equal(t, "updated sku", got, s0)

	all, total, err := s.FindSKUs(ctx, 0, tote.Page{Number: 1, Size: 100})
	noErr(t, err, "find all skus")
	equal(t, "total skus", total, int64(6))
	equal(t, "first five skus", all[:5], skus)
	one, total, err := s.FindSKUs(ctx, m1.ID, tote.Page{Number: 2, Size: 2})
	noErr(t, err, "find merchant skus")
	equal(t, "merchant sku count", total, int64(3))
	equal(t, "merchant skus, page 2", one, []*tote.SKU{skus[4]})

	if _, err := s.FindSKUByID(ctx, 1<<40); !errors.Is(err, tote.ErrNotFound) {
		t.Fatalf("unknown sku: err = %v", err)
	}
	err = s.InTx(ctx, func(tx tote.Tx) error { return tx.UpdateSKU(ctx, &tote.SKU{ID: 1 << 40}) })
	if !errors.Is(err, tote.ErrNotFound) {
		t.Fatalf("update unknown sku: err = %v", err)
	}
}

func testCatalogShippingAndTax(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t)
	m := Merchant(t, s, "Ships")
	lo, hi := int64(0), int64(10000)
	standard := &tote.ShippingMethod{MerchantID: m.ID, ExternalID: "std", Label: "Standard", Carrier: "USPS",
		Price: 500, Type: "FLAT_RATE_PRICE", MinSubtotal: &lo, MaxSubtotal: &hi, DateCreated: T0}
	express := &tote.ShippingMethod{MerchantID: m.ID, Label: "Express", Carrier: "UPS", Price: 1500,
		Type: "FLAT_RATE_PRICE", DateCreated: T0}
	noErr(t, s.InTx(ctx, func(tx tote.Tx) error {
		if err := tx.CreateShippingMethod(ctx, standard); err != nil {
			return err
		}
		return tx.CreateShippingMethod(ctx, express)
	}), "create shipping methods")
	got, err := s.FindShippingMethodByID(ctx, standard.ID)
	noErr(t, err, "find shipping method")
	equal(t, "shipping method", got, standard)
	err = s.InTx(ctx, func(tx tote.Tx) error {
		return tx.CreateShippingMethod(ctx, &tote.ShippingMethod{MerchantID: m.ID, ExternalID: "std", Label: "x",
			Carrier: "x", Type: "FLAT_RATE_PRICE", DateCreated: T0})
	})
	if !isConflict(err) {
		t.Fatalf("duplicate shipping method external id: err = %v, want ECONFLICT", err)
	}
	standard.Price, standard.MinSubtotal, standard.Label = 700, nil, "Standard (5-7 days)"
	noErr(t, s.InTx(ctx, func(tx tote.Tx) error { return tx.UpdateShippingMethod(ctx, standard) }), "update shipping method")
	methods, err := s.FindShippingMethods(ctx, m.ID)
	noErr(t, err, "find shipping methods")
	equal(t, "shipping methods", methods, []*tote.ShippingMethod{standard, express})
	if _, err := s.FindShippingMethodByID(ctx, 1<<40); !errors.Is(err, tote.ErrNotFound) {
		t.Fatalf("unknown shipping method: err = %v", err)
	}
	none, err := s.FindShippingMethods(ctx, m.ID+1000)
	noErr(t, err, "shipping methods of nobody")
	if none == nil || len(none) != 0 {
		t.Fatalf("shipping methods of an unknown merchant = %v, want empty", none)
	}

	us := &tote.TaxRate{MerchantID: m.ID, Country: "US", RatePPM: 50000, DateCreated: T0}
	ca := &tote.TaxRate{MerchantID: m.ID, Country: "US", State: "CA", RatePPM: 72500, AppliesToShipping: true, DateCreated: T0}
	noErr(t, s.InTx(ctx, func(tx tote.Tx) error {
		if err := tx.SaveTaxRate(ctx, us); err != nil {
			return err
		}
		return tx.SaveTaxRate(ctx, ca)
	}), "save tax rates")
	// Saving the same place again replaces the rate and keeps the row.
	replaced := &tote.TaxRate{MerchantID: m.ID, Country: "US", State: "CA", RatePPM: 82500, DateCreated: T0.Add(time.Hour)}
	noErr(t, s.InTx(ctx, func(tx tote.Tx) error { return tx.SaveTaxRate(ctx, replaced) }), "replace tax rate")
	equal(t, "replaced rate id", replaced.ID, ca.ID)
	equal(t, "replaced rate keeps its creation date", replaced.DateCreated, T0)
	rates, err := s.FindTaxRates(ctx, m.ID)
	noErr(t, err, "find tax rates")
	equal(t, "tax rates", rates, []*tote.TaxRate{us, replaced})
}

// testCatalogRollback: catalog writes of a failed transaction leave no trace.
func testCatalogRollback(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t)
	boom := errors.New("boom")
	err := s.InTx(ctx, func(tx tote.Tx) error {
		m := &tote.Merchant{ExternalID: "gone", Name: "Gone", Platform: tote.PlatformSandbox, Currency: "USD",
			DateCreated: T0, DateModified: T0}
		if err := tx.CreateMerchant(ctx, m); err != nil {
			return err
		}
		// Reads inside the transaction see its writes.
		if _, err := tx.FindMerchantByExternalID(ctx, "gone"); err != nil {
			return err
		}
		if err := tx.CreateSKU(ctx, &tote.SKU{MerchantID: m.ID, Name: "x", Currency: "USD",
			ProductType: tote.ProductPhysical, DateCreated: T0, DateModified: T0}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("InTx err = %v, want the callback's error", err)
	}
	_, total, err := s.FindMerchants(ctx, tote.Page{Number: 1, Size: 10})
	noErr(t, err, "find merchants")
	_, skus, err := s.FindSKUs(ctx, 0, tote.Page{Number: 1, Size: 10})
	noErr(t, err, "find skus")
	if total+skus != 0 {
		t.Fatalf("rolled back catalog is visible: %d merchants, %d skus", total, skus)
	}
}

func testCatalog(t *testing.T, open Opener) {
	t.Run("Merchants", func(t *testing.T) { t.Parallel(); testCatalogMerchants(t, open) })
	t.Run("SKUs", func(t *testing.T) { t.Parallel(); testCatalogSKUs(t, open) })
	t.Run("ShippingAndTax", func(t *testing.T) { t.Parallel(); testCatalogShippingAndTax(t, open) })
	t.Run("Rollback", func(t *testing.T) { t.Parallel(); testCatalogRollback(t, open) })
}
