package catalog_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/toteorg/tote"
	"github.com/toteorg/tote/catalog"
	"github.com/toteorg/tote/storetest"
)

func TestMain(m *testing.M) {
	storetest.ReportPostgres()
	os.Exit(m.Run())
}

// clock is a settable test clock.
type clock struct{ now time.Time }

func (c *clock) Now() time.Time { return c.now }

func service(t *testing.T, open storetest.Opener) (*catalog.Service, *clock) {
	t.Helper()
	c := &clock{now: storetest.T0}
	return &catalog.Service{Store: open(t), Clock: c}, c
}

// wantInvalid fails unless err is EINVALID naming exactly these fields.
func wantInvalid(t *testing.T, err error, fields ...string) {
	t.Helper()
	if tote.ErrorCode(err) != tote.EINVALID {
		t.Fatalf("err = %v, want EINVALID", err)
	}
	var got []string
	for _, f := range tote.ErrorFields(err) {
		got = append(got, f.Field)
	}
	slices.Sort(got)
	slices.Sort(fields)
	if !slices.Equal(got, fields) {
		t.Fatalf("invalid fields = %v, want %v (%v)", got, fields, tote.ErrorFields(err))
	}
}

func ptr[T any](v T) *T { return &v }

func validMerchant() catalog.MerchantInput {
	return catalog.MerchantInput{Name: "Acme", Platform: "SANDBOX", Currency: "USD"}
}

func TestCreateMerchant(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, open storetest.Opener) {
		ctx := context.Background()
		s, _ := service(t, open)
		in := validMerchant()
		in.CommissionRate = "12.5"
		in.Sandbox = &catalog.SandboxInput{Submit: "FAIL_RETRYABLE", FailTimes: 2, PushEvents: ptr(false)}
		m, err := s.CreateMerchant(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		want := &tote.Merchant{ID: m.ID, Name: "Acme", Platform: "SANDBOX", Currency: "USD", CommissionRate: ptr(int64(1250)),
			Sandbox:     tote.SandboxBehaviour{Submit: "FAIL_RETRYABLE", FailTimes: 2},
			DateCreated: storetest.T0, DateModified: storetest.T0}
		got, err := s.Merchant(ctx, m.ID)
		if err != nil || !equalJSON(got, want) || !equalJSON(m, want) {
			t.Fatalf("merchant = %+v (%v), want %+v", got, err, want)
		}

		// Defaults: no commission rate, a sandbox that accepts and notifies.
		plain, err := s.CreateMerchant(ctx, validMerchant())
		if err != nil {
			t.Fatal(err)
		}
		if plain.CommissionRate != nil || plain.Sandbox != (tote.SandboxBehaviour{Submit: "ACCEPT", PushEvents: true}) {
			t.Fatalf("defaults = %+v", plain)
		}
		if _, err := s.Merchant(ctx, plain.ID+100); tote.ErrorCode(err) != tote.ENOTFOUND || !errors.Is(err, tote.ErrNotFound) {
			t.Fatalf("unknown merchant: %v", err)
		}
	})
}

func TestMerchantValidation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := service(t, storetest.SQLite)
	cases := map[string]struct {
		edit   func(*catalog.MerchantInput)
		fields []string
	}{
		"NameRequired":       {func(in *catalog.MerchantInput) { in.Name = "  " }, []string{"name"}},
		"NameTooLong":        {func(in *catalog.MerchantInput) { in.Name = strings.Repeat("é", 256) }, []string{"name"}},
		"Platform":           {func(in *catalog.MerchantInput) { in.Platform = "SHOPIFY" }, []string{"platform"}},
		"PlatformMissing":    {func(in *catalog.MerchantInput) { in.Platform = "" }, []string{"platform"}},
		"CurrencyLowercase":  {func(in *catalog.MerchantInput) { in.Currency = "usd" }, []string{"currency"}},
		"CurrencyMissing":    {func(in *catalog.MerchantInput) { in.Currency = "" }, []string{"currency"}},
		"CommissionTooHigh":  {func(in *catalog.MerchantInput) { in.CommissionRate = "100.5" }, []string{"commission_rate"}},
		"CommissionNegative": {func(in *catalog.MerchantInput) { in.CommissionRate = "-1" }, []string{"commission_rate"}},
		"CommissionDecimals": {func(in *catalog.MerchantInput) { in.CommissionRate = "10.555" }, []string{"commission_rate"}},
		"SandboxSubmit": {func(in *catalog.MerchantInput) { in.Sandbox = &catalog.SandboxInput{Submit: "MAYBE"} },
			[]string{"sandbox.submit"}},
		"SandboxNegatives": {func(in *catalog.MerchantInput) {
			in.Sandbox = &catalog.SandboxInput{FailTimes: -1, LatencyMS: -5}
		}, []string{"sandbox.fail_times", "sandbox.latency_ms"}},
		"Everything": {func(in *catalog.MerchantInput) { *in = catalog.MerchantInput{} },
			[]string{"name", "platform", "currency"}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			in := validMerchant()
			c.edit(&in)
			_, err := s.CreateMerchant(ctx, in)
			wantInvalid(t, err, c.fields...)
		})
	}
	_, total, err := s.Store.FindMerchants(ctx, tote.Page{Number: 1, Size: 1})
	if err != nil || total != 0 {
		t.Fatalf("invalid merchants were stored: %d (%v)", total, err)
	}
}

func TestUpdateMerchant(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, open storetest.Opener) {
		ctx := context.Background()
		s, c := service(t, open)
		in := validMerchant()
		in.ExternalID, in.CommissionRate = "acme", "10"
		m, err := s.CreateMerchant(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		c.now = storetest.T0.Add(time.Hour)
		// PUT replaces: the omitted rate is cleared, the external id kept.
		up, err := s.UpdateMerchant(ctx, m.ID, catalog.MerchantInput{Name: "Acme 2", Platform: "SANDBOX", Currency: "EUR",
			Sandbox: &catalog.SandboxInput{Submit: "REJECT"}})
		if err != nil {
			t.Fatal(err)
		}
		if up.Name != "Acme 2" || up.Currency != "EUR" || up.CommissionRate != nil || up.ExternalID != "acme" ||
			up.Sandbox.Submit != "REJECT" || !up.DateCreated.Equal(storetest.T0) || !up.DateModified.Equal(c.now) {
			t.Fatalf("updated = %+v", up)
		}
		got, _ := s.Merchant(ctx, m.ID)
		if !equalJSON(got, up) {
			t.Fatalf("stored %+v, want %+v", got, up)
		}
		// With SKUs priced in EUR, the currency stays.
		if _, err := s.CreateSKU(ctx, m.ID, catalog.SKUInput{Name: "Tee", Price: new(int64(100)), Inventory: new(int64(1))}); err != nil {
			t.Fatal(err)
		}
		_, err = s.UpdateMerchant(ctx, m.ID, catalog.MerchantInput{Name: "Acme 2", Platform: "SANDBOX", Currency: "USD"})
		wantInvalid(t, err, "currency")
		_, err = s.UpdateMerchant(ctx, m.ID+100, validMerchant())
		if tote.ErrorCode(err) != tote.ENOTFOUND {
			t.Fatalf("update unknown merchant: %v", err)
		}
		_, err = s.UpdateMerchant(ctx, m.ID, catalog.MerchantInput{})
		wantInvalid(t, err, "name", "platform", "currency")
	})
}

func TestCreateSKU(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, open storetest.Opener) {
		ctx := context.Background()
		s, _ := service(t, open)
		m, err := s.CreateMerchant(ctx, validMerchant())
		if err != nil {
			t.Fatal(err)
		}
		sku, err := s.CreateSKU(ctx, m.ID, catalog.SKUInput{ExternalID: "tee", Name: "Tee", Price: new(int64(2500)), Inventory: new(int64(10))})
		if err != nil {
			t.Fatal(err)
		}
		want := &tote.SKU{ID: sku.ID, MerchantID: m.ID, ExternalID: "tee", Name: "Tee", Price: 2500, Currency: "USD",
			Inventory: 10, RequiresShipping: true, ProductType: "PHYSICAL", DateCreated: storetest.T0, DateModified: storetest.T0}
		got, err := s.SKU(ctx, sku.ID)
		if err != nil || !equalJSON(got, want) {
			t.Fatalf("sku = %+v (%v), want %+v", got, err, want)
		}
		digital, err := s.CreateSKU(ctx, m.ID, catalog.SKUInput{Name: "Card", Price: new(int64(0)), Inventory: new(int64(0)), Currency: "USD",
			RequiresShipping: ptr(false), ProductType: "DIGITAL"})
		if err != nil || digital.RequiresShipping || digital.ProductType != "DIGITAL" {
			t.Fatalf("digital sku = %+v (%v)", digital, err)
		}
		_, err = s.CreateSKU(ctx, m.ID, catalog.SKUInput{ExternalID: "tee", Name: "Tee again", Price: new(int64(1)), Inventory: new(int64(1))})
		if tote.ErrorCode(err) != tote.ECONFLICT {
			t.Fatalf("duplicate external id: %v, want ECONFLICT", err)
		}
		_, err = s.CreateSKU(ctx, m.ID, catalog.SKUInput{Name: " ", Price: new(int64(-1)), Inventory: new(int64(-1)), Weight: -1, Currency: "EUR", ProductType: "FOOD"})
		wantInvalid(t, err, "name", "price", "inventory", "weight", "currency", "product_type")
		_, err = s.CreateSKU(ctx, m.ID+100, catalog.SKUInput{Name: "x"})
		if tote.ErrorCode(err) != tote.ENOTFOUND {
			t.Fatalf("sku of unknown merchant: %v", err)
		}
		if _, err := s.SKU(ctx, 1<<40); tote.ErrorCode(err) != tote.ENOTFOUND {
			t.Fatalf("unknown sku: %v", err)
		}
		list, total, err := s.SKUs(ctx, m.ID, tote.Page{Number: 1, Size: 1})
		if err != nil || total != 2 || len(list) != 1 || list[0].ID != sku.ID {
			t.Fatalf("SKUs = %v, %d, %v", list, total, err)
		}
		if _, _, err := s.SKUs(ctx, m.ID+100, tote.Page{Number: 1, Size: 1}); tote.ErrorCode(err) != tote.ENOTFOUND {
			t.Fatalf("SKUs of unknown merchant: %v", err)
		}
	})
}

func TestShippingMethodsAndTaxRates(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, open storetest.Opener) {
		ctx := context.Background()
		s, c := service(t, open)
		m, err := s.CreateMerchant(ctx, validMerchant())
		if err != nil {
			t.Fatal(err)
		}
		sm, err := s.CreateShippingMethod(ctx, m.ID, catalog.ShippingMethodInput{Label: "Standard", Carrier: "USPS", Price: new(int64(500)),
			MinSubtotal: ptr(int64(0)), MaxSubtotal: ptr(int64(10000))})
		if err != nil || sm.ID <= 0 || sm.Type != "FLAT_RATE_PRICE" {
			t.Fatalf("shipping method = %+v (%v)", sm, err)
		}
		_, err = s.CreateShippingMethod(ctx, m.ID, catalog.ShippingMethodInput{Price: new(int64(-1)), Type: "TABLE_RATE",
			MinSubtotal: ptr(int64(500)), MaxSubtotal: ptr(int64(100))})
		wantInvalid(t, err, "label", "carrier", "price", "type", "max_subtotal")
		_, err = s.CreateShippingMethod(ctx, m.ID+100, catalog.ShippingMethodInput{Label: "x"})
		if tote.ErrorCode(err) != tote.ENOTFOUND {
			t.Fatalf("method of unknown merchant: %v", err)
		}

		r, err := s.SaveTaxRate(ctx, m.ID, catalog.TaxRateInput{Country: "US", State: "CA", Rate: "0.0725"})
		if err != nil || r.RatePPM != 72500 || r.ID <= 0 {
			t.Fatalf("tax rate = %+v (%v)", r, err)
		}
		c.now = storetest.T0.Add(time.Hour)
		// "ca" is CA: the same rate, replaced (states are kept in upper
		// case, as addresses match them regardless of case).
		r2, err := s.SaveTaxRate(ctx, m.ID, catalog.TaxRateInput{Country: "US", State: "ca", Rate: "0.08", AppliesToShipping: true})
		if err != nil || r2.ID != r.ID || r2.RatePPM != 80000 || !r2.AppliesToShipping || r2.State != "CA" {
			t.Fatalf("replaced tax rate = %+v (%v), want the same row with the new rate", r2, err)
		}
		for _, bad := range []catalog.TaxRateInput{
			{Country: "us", Rate: "0.05"}, {Country: "USA", Rate: "0.05"}, {Country: "", Rate: "0.05"},
		} {
			_, err := s.SaveTaxRate(ctx, m.ID, bad)
			wantInvalid(t, err, "country")
		}
		for _, rate := range []catalog.Decimal{"", "7.25", "-0.1", "0.0000001", "abc", "7.25%"} {
			_, err := s.SaveTaxRate(ctx, m.ID, catalog.TaxRateInput{Country: "US", Rate: rate})
			wantInvalid(t, err, "rate")
		}
		rates, err := s.Store.FindTaxRates(ctx, m.ID)
		if err != nil || len(rates) != 1 {
			t.Fatalf("tax rates = %v (%v), want the one", rates, err)
		}
	})
}

func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}
