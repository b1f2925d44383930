package catalog_test

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/toteorg/tote"
	"github.com/toteorg/tote/catalog"
	"github.com/toteorg/tote/storetest"
)

func demoFile(t *testing.T) *catalog.File {
	t.Helper()
	f, err := os.Open("../examples/demo-catalog.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	file, err := catalog.ReadFile(f)
	if err != nil {
		t.Fatalf("read the demo catalog: %v", err)
	}
	return file
}

// snapshot is the whole catalog, for comparing before and after.
func snapshot(t *testing.T, s tote.Store) string {
	t.Helper()
	ctx := context.Background()
	merchants, _, err := s.FindMerchants(ctx, tote.Page{Number: 1, Size: 100})
	if err != nil {
		t.Fatal(err)
	}
	skus, _, err := s.FindSKUs(ctx, 0, tote.Page{Number: 1, Size: 100})
	if err != nil {
		t.Fatal(err)
	}
	all := []any{merchants, skus}
	for _, m := range merchants {
		methods, err := s.FindShippingMethods(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		rates, err := s.FindTaxRates(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, methods, rates)
	}
	b, _ := json.Marshal(all)
	return string(b)
}

func TestImportDemoCatalogTwice(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, open storetest.Opener) {
		ctx := context.Background()
		s, c := service(t, open)
		sum, err := s.Import(ctx, demoFile(t))
		if err != nil {
			t.Fatal(err)
		}
		want := catalog.ImportSummary{Merchants: catalog.Counts{Created: 2}, SKUs: catalog.Counts{Created: 6},
			ShippingMethods: catalog.Counts{Created: 4}, TaxRates: catalog.Counts{Created: 2}}
		if *sum != want {
			t.Fatalf("first import = %+v, want %+v", *sum, want)
		}
		before := snapshot(t, s.Store)

		c.now = c.now.Add(time.Hour) // an import that changes nothing touches no date
		sum, err = s.Import(ctx, demoFile(t))
		if err != nil {
			t.Fatal(err)
		}
		want = catalog.ImportSummary{Merchants: catalog.Counts{Unchanged: 2}, SKUs: catalog.Counts{Unchanged: 6},
			ShippingMethods: catalog.Counts{Unchanged: 4}, TaxRates: catalog.Counts{Unchanged: 2}}
		if *sum != want {
			t.Fatalf("second import = %+v, want %+v", *sum, want)
		}
		if after := snapshot(t, s.Store); after != before {
			t.Fatalf("a second import changed the catalog:\n%s\n%s", before, after)
		}

		m, err := s.Store.FindMerchantByExternalID(ctx, "acme-outfitters")
		if err != nil || m.Name != "Acme Outfitters" || m.CommissionRate == nil || *m.CommissionRate != 1000 {
			t.Fatalf("acme = %+v (%v)", m, err)
		}
		bolt, _ := s.Store.FindMerchantByExternalID(ctx, "bolt-coffee")
		rates, _ := s.Store.FindTaxRates(ctx, bolt.ID)
		if len(rates) != 1 || rates[0].RatePPM != 60000 || !rates[0].AppliesToShipping || rates[0].Country != "US" {
			t.Fatalf("bolt tax rates = %+v", rates)
		}

		// A changed price (and a changed tax rate, and a new SKU) update
		// just those.
		c.now = c.now.Add(time.Hour)
		f := demoFile(t)
		f.Merchants[0].SKUs[1].Price = new(int64(5900))
		f.Merchants[1].TaxRates[0].Rate = "0.065"
		f.Merchants[1].SKUs = append(f.Merchants[1].SKUs, catalog.SKUInput{ExternalID: "bolt-mug", Name: "Mug", Price: new(int64(1500)), Inventory: new(int64(5))})
		sum, err = s.Import(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		want = catalog.ImportSummary{Merchants: catalog.Counts{Unchanged: 2}, SKUs: catalog.Counts{Created: 1, Updated: 1, Unchanged: 5},
			ShippingMethods: catalog.Counts{Unchanged: 4}, TaxRates: catalog.Counts{Updated: 1, Unchanged: 1}}
		if *sum != want {
			t.Fatalf("changed import = %+v, want %+v", *sum, want)
		}
		hoodie, err := s.Store.FindSKUByExternalID(ctx, m.ID, "acme-hoodie-l")
		if err != nil || hoodie.Price != 5900 || !hoodie.DateModified.Equal(c.now) || !hoodie.DateCreated.Equal(storetest.T0) {
			t.Fatalf("hoodie = %+v (%v), want the new price, modified now", hoodie, err)
		}
		_, total, _ := s.Store.FindSKUs(ctx, 0, tote.Page{Number: 1, Size: 1})
		if total != 7 {
			t.Fatalf("%d SKUs, want 7", total)
		}
	})
}

// TestImportIsAtomic: a file that fails part-way writes nothing.
func TestImportIsAtomic(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, open storetest.Opener) {
		ctx := context.Background()
		s, _ := service(t, open)
		if _, err := s.Import(ctx, demoFile(t)); err != nil {
			t.Fatal(err)
		}
		before := snapshot(t, s.Store)
		// The first merchant's change is valid; the second merchant's
		// currency cannot change (it has SKUs), which is found only in the
		// transaction.
		f := demoFile(t)
		f.Merchants[0].SKUs[0].Price = new(int64(1))
		f.Merchants[0].Name = "Renamed"
		f.Merchants[1].Currency = "EUR"
		for i := range f.Merchants[1].SKUs {
			f.Merchants[1].SKUs[i].Currency = "EUR"
		}
		_, err := s.Import(ctx, f)
		wantInvalid(t, err, "merchants[1].currency")
		if after := snapshot(t, s.Store); after != before {
			t.Fatalf("a failed import left changes:\n%s\n%s", before, after)
		}
	})
}

func TestImportValidation(t *testing.T) {
	t.Parallel()
	s, _ := service(t, storetest.SQLite)
	ctx := context.Background()
	f := demoFile(t)
	f.Merchants[0].ExternalID = ""
	f.Merchants[0].SKUs[1].Price = new(int64(-5))
	f.Merchants[0].SKUs[2].ExternalID = f.Merchants[0].SKUs[0].ExternalID
	f.Merchants[1].ExternalID = " "
	f.Merchants[1].Sandbox.Submit = "NOPE"
	f.Merchants[1].ShippingMethods[1].ExternalID = ""
	f.Merchants[1].TaxRates = append(f.Merchants[1].TaxRates, catalog.TaxRateInput{Country: "US", Rate: "0.1"})
	f.Merchants[1].SKUs[0].Currency = "EUR"
	_, err := s.Import(ctx, f)
	wantInvalid(t, err,
		"merchants[0].external_id", "merchants[0].skus[1].price", "merchants[0].skus[2].external_id",
		"merchants[1].external_id", "merchants[1].sandbox.submit", "merchants[1].shipping_methods[1].external_id",
		"merchants[1].tax_rates[1].state", "merchants[1].skus[0].currency")
	if _, total, _ := s.Store.FindMerchants(ctx, tote.Page{Number: 1, Size: 1}); total != 0 {
		t.Fatalf("an invalid file stored %d merchants", total)
	}

	dup := demoFile(t)
	dup.Merchants[1].ExternalID = dup.Merchants[0].ExternalID
	_, err = s.Import(ctx, dup)
	wantInvalid(t, err, "merchants[1].external_id")
}

func TestReadFile(t *testing.T) {
	t.Parallel()
	for body, code := range map[string]string{
		``:                             tote.EMALFORMED,
		`{"merchants": [`:              tote.EMALFORMED,
		`{"merchants": []} {}`:         tote.EMALFORMED,
		`{"merchant": []}`:             tote.EINVALID,
		`{"merchants": [{"name": 5}]}`: tote.EINVALID,
		`{"merchants": [{"skus": [{"price": 1.5}]}]}`: tote.EINVALID,
		`{"merchants": [{"skus": "many"}]}`:           tote.EINVALID,
	} {
		_, err := catalog.ReadFile(strings.NewReader(body))
		if got := tote.ErrorCode(err); got != code {
			t.Errorf("ReadFile(%q) = %v (%s), want %s", body, err, got, code)
		}
		if code == tote.EINVALID && len(tote.ErrorFields(err)) != 1 {
			t.Errorf("ReadFile(%q) names no field: %v", body, err)
		}
	}
	// A wrong type or an unknown field is named by its path.
	for body, field := range map[string]string{
		`{"merchants": [{"name": "A"}, {"skus": [{"price": 1}, {"price": "12"}]}]}`:  "merchants[1].skus[1].price",
		`{"merchants": [{"name": "A"}, {"skus": [{"name": "x", "colour": "red"}]}]}`: "merchants[1].skus[0].colour",
		`{"merchants": [{"sandbox": {"sumbit": "REJECT"}}]}`:                         "merchants[0].sandbox.sumbit",
		`{"merchant": []}`: "merchant",
	} {
		_, err := catalog.ReadFile(strings.NewReader(body))
		if fs := tote.ErrorFields(err); len(fs) != 1 || fs[0].Field != field {
			t.Errorf("ReadFile(%s): fields %v, want %s", body, fs, field)
		}
	}
	f, err := catalog.ReadFile(strings.NewReader(`{"merchants": [{"external_id": "a", "commission_rate": 12.5,
		"tax_rates": [{"country": "US", "rate": 0.0725}, {"country": "CA", "rate": "0.05"}]}]}`))
	if err != nil || f.Merchants[0].CommissionRate != "12.5" || f.Merchants[0].TaxRates[0].Rate != "0.0725" || f.Merchants[0].TaxRates[1].Rate != "0.05" {
		t.Fatalf("numbers are kept exactly: %+v (%v)", f, err)
	}
}

// TestImportOddDecimals: decimals that are not numbers reach validation,
// which names the field.
func TestImportOddDecimals(t *testing.T) {
	t.Parallel()
	f, err := catalog.ReadFile(strings.NewReader(`{"merchants": [{"external_id": "a", "name": "A", "platform": "SANDBOX",
		"currency": "USD", "commission_rate": "ten", "tax_rates": [{"country": "US", "rate": true}, {"country": "CA", "rate": null}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	s, _ := service(t, storetest.SQLite)
	_, err = s.Import(context.Background(), f)
	wantInvalid(t, err, "merchants[0].commission_rate", "merchants[0].tax_rates[0].rate", "merchants[0].tax_rates[1].rate")
}
