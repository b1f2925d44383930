package submission

import (
	"context"
	"os"
	"testing"

	"github.com/toteorg/tote"
	"github.com/toteorg/tote/storetest"
)

func TestMain(m *testing.M) {
	storetest.ReportPostgres()
	os.Exit(m.Run())
}

func ptr(v int64) *int64 { return &v }

// TestPriceBags: lines, shipping and tax against a real catalog, and every
// refusal naming its field.
func TestPriceBags(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, open storetest.Opener) {
		ctx := context.Background()
		s := open(t)
		m1 := storetest.Merchant(t, s, "Shirts")
		m2 := storetest.Merchant(t, s, "Coffee")
		tee := storetest.SKU(t, s, m1.ID, "Tee", 2500)
		beans := storetest.SKU(t, s, m2.ID, "Beans", 1999)
		ground := &tote.ShippingMethod{MerchantID: m1.ID, Label: "Ground", Carrier: "UPS", Price: 599, Type: "FLAT_RATE_PRICE", MaxSubtotal: ptr(9999), DateCreated: storetest.T0}
		free := &tote.ShippingMethod{MerchantID: m2.ID, Label: "Free", Carrier: "UPS", Price: 0, Type: "FLAT_RATE_PRICE", MinSubtotal: ptr(5000), DateCreated: storetest.T0}
		err := s.InTx(ctx, func(tx tote.Tx) error {
			for _, sm := range []*tote.ShippingMethod{ground, free} {
				if err := tx.CreateShippingMethod(ctx, sm); err != nil {
					return err
				}
			}
			for _, r := range []*tote.TaxRate{
				{MerchantID: m1.ID, Country: "US", RatePPM: 72500, DateCreated: storetest.T0},                          // 7.25%, goods only
				{MerchantID: m1.ID, Country: "US", State: "CA", RatePPM: 100000, DateCreated: storetest.T0},            // a state's own rate wins
				{MerchantID: m2.ID, Country: "US", RatePPM: 60000, AppliesToShipping: true, DateCreated: storetest.T0}, // 6% on goods and shipping
			} {
				if err := tx.SaveTaxRate(ctx, r); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		il := &tote.Address{Address1: "1 Main St", City: "Springfield", State: "IL", PostalCode: "62701", Country: "US"}
		ca := &tote.Address{Address1: "1 Main St", City: "Fresno", State: "CA", PostalCode: "93650", Country: "US"}

		bags, bad, err := priceBags(ctx, s, "USD", il, []BagRequest{
			{Skus: []SkuRequest{{SkuID: tee.ID, Quantity: 3}}, ShippingMethodID: ground.ID},
			{Skus: []SkuRequest{{SkuID: beans.ID, Quantity: 1, Price: ptr(1500)}}, ShippingLabel: "Courier", ShippingPrice: ptr(350)},
		})
		if err != nil || len(bad) != 0 {
			t.Fatalf("price: %v %v", err, bad)
		}
		// Bag 1: 3 × 2500 = 7500 + 599 shipping; tax 7.25% of 7500 = 543.75 → 544.
		// Bag 2: the channel's price 1500 + 350 shipping; tax 6% of 1850 = 111.
		for i, want := range [][4]int64{{7500, 599, 544, 8643}, {1500, 350, 111, 1961}} {
			b := bags[i]
			if got := [4]int64{b.SubTotal, b.ShippingTotal, b.TaxTotal, b.Total}; got != want {
				t.Errorf("bag %d: sub, shipping, tax, total = %v, want %v", i, got, want)
			}
		}
		if bags[0].MerchantID != m1.ID || bags[0].Skus[0].LinePrice != 7500 || bags[1].ShippingMethod.Label != "Courier" {
			t.Errorf("bag details: %+v / %+v", bags[0], bags[1])
		}
		// California's own rate: 10% of 2500.
		bags, _, _ = priceBags(ctx, s, "USD", ca, []BagRequest{{Skus: []SkuRequest{{SkuID: tee.ID, Quantity: 1}}, ShippingMethodID: ground.ID}})
		if bags[0].TaxTotal != 250 {
			t.Errorf("CA tax = %d, want 250", bags[0].TaxTotal)
		}

		refusals := map[string]struct {
			bags  []BagRequest
			field string
		}{
			"NoBags":            {nil, "order.bags"},
			"NoSkus":            {[]BagRequest{{}}, "order.bags[0].skus"},
			"UnknownSKU":        {[]BagRequest{{Skus: []SkuRequest{{SkuID: 1 << 40, Quantity: 1}}}}, "order.bags[0].skus[0].sku_id"},
			"Quantity":          {[]BagRequest{{Skus: []SkuRequest{{SkuID: tee.ID, Quantity: 1001}}, ShippingMethodID: ground.ID}}, "order.bags[0].skus[0].quantity"},
			"MixedMerchants":    {[]BagRequest{{Skus: []SkuRequest{{SkuID: tee.ID, Quantity: 1}, {SkuID: beans.ID, Quantity: 1}}, ShippingMethodID: ground.ID}}, "order.bags[0].skus[1].sku_id"},
			"TwoBagsOneShop":    {[]BagRequest{{Skus: []SkuRequest{{SkuID: tee.ID, Quantity: 1}}, ShippingMethodID: ground.ID}, {Skus: []SkuRequest{{SkuID: tee.ID, Quantity: 1}}, ShippingMethodID: ground.ID}}, "order.bags[1].merchant_id"},
			"OtherShopsMethod":  {[]BagRequest{{Skus: []SkuRequest{{SkuID: tee.ID, Quantity: 1}}, ShippingMethodID: free.ID}}, "order.bags[0].shipping_method.shipping_method_id"},
			"OverMaxSubtotal":   {[]BagRequest{{Skus: []SkuRequest{{SkuID: tee.ID, Quantity: 4}}, ShippingMethodID: ground.ID}}, "order.bags[0].shipping_method.shipping_method_id"},
			"NoShipping":        {[]BagRequest{{Skus: []SkuRequest{{SkuID: tee.ID, Quantity: 1}}}}, "order.bags[0].shipping_method"},
			"NegativePrice":     {[]BagRequest{{Skus: []SkuRequest{{SkuID: tee.ID, Quantity: 1, Price: ptr(-1)}}, ShippingMethodID: ground.ID}}, "order.bags[0].skus[0].price"},
			"HugeShippingPrice": {[]BagRequest{{Skus: []SkuRequest{{SkuID: tee.ID, Quantity: 1}}, ShippingLabel: "x", ShippingPrice: ptr(MaxPrice + 1)}}, "order.bags[0].shipping_method.price"},
		}
		for name, c := range refusals {
			_, bad, err := priceBags(ctx, s, "USD", il, c.bags)
			if err != nil || len(bad) == 0 || bad[0].Field != c.field {
				t.Errorf("%s: %v, %v; want the field %s", name, err, bad, c.field)
			}
		}
		// Another currency than the SKUs'.
		if _, bad, _ := priceBags(ctx, s, "EUR", il, []BagRequest{{Skus: []SkuRequest{{SkuID: tee.ID, Quantity: 1}}, ShippingMethodID: ground.ID}}); len(bad) == 0 || bad[0].Field != "order.bags[0].skus[0].sku_id" {
			t.Errorf("currency mismatch: %v", bad)
		}
	})
}

// TestFirstAttemptsDone: the request waits while a bag is in flight or not
// yet sent, and, once all have settled, until the payment has too.
func TestFirstAttemptsDone(t *testing.T) {
	t.Parallel()
	bag := func(s tote.BagStatus, f tote.FinancialStatus, attempts int) *tote.Bag {
		return &tote.Bag{Status: s, FinancialStatus: f, SubmitAttempts: attempts}
	}
	for _, c := range []struct {
		name  string
		order *tote.Order
		done  bool
	}{
		{"NotSent", &tote.Order{Status: tote.OrderStatusProcessing, Bags: []*tote.Bag{bag(tote.BagStatusInProgress, tote.FinancialStatusAuthorized, 0)}}, false},
		{"InFlight", &tote.Order{Status: tote.OrderStatusProcessing, Bags: []*tote.Bag{bag(tote.BagStatusSubmitted, tote.FinancialStatusAuthorized, 1)}}, false},
		{"Retrying", &tote.Order{Status: tote.OrderStatusProcessing, Bags: []*tote.Bag{bag(tote.BagStatusInProgress, tote.FinancialStatusAuthorized, 1)}}, true},
		{"AcceptedNotCaptured", &tote.Order{Status: tote.OrderStatusAccepted, Bags: []*tote.Bag{bag(tote.BagStatusAccepted, tote.FinancialStatusAuthorized, 1)}}, false},
		{"Captured", &tote.Order{Status: tote.OrderStatusCompleted, Bags: []*tote.Bag{bag(tote.BagStatusAccepted, tote.FinancialStatusPaid, 1)}}, true},
		{"RejectedNotVoided", &tote.Order{Status: tote.OrderStatusRejected, Bags: []*tote.Bag{bag(tote.BagStatusRejected, tote.FinancialStatusAuthorized, 1)}}, false},
		{"RejectedVoided", &tote.Order{Status: tote.OrderStatusRejected, Bags: []*tote.Bag{bag(tote.BagStatusRejected, tote.FinancialStatusVoided, 1)}}, true},
	} {
		if got := firstAttemptsDone(c.order); got != c.done {
			t.Errorf("%s: done = %v, want %v", c.name, got, c.done)
		}
	}
}

// TestTaxByState: a state's own rate wins over its country's whichever
// comes first, the state matched as a shopper may type it.
func TestTaxByState(t *testing.T) {
	t.Parallel()
	country := &tote.TaxRate{Country: "US", RatePPM: 50_000} // 5%
	ca := &tote.TaxRate{Country: "US", State: "CA", RatePPM: 72_500, AppliesToShipping: true}
	for _, c := range []struct {
		state string
		rates []*tote.TaxRate
		want  int64
	}{
		{"CA", []*tote.TaxRate{country, ca}, 798}, // 7.25% of 10000 + 1000 shipping, half up
		{"CA", []*tote.TaxRate{ca, country}, 798},
		{" ca ", []*tote.TaxRate{country, ca}, 798},
		{"IL", []*tote.TaxRate{ca, country}, 500}, // the country's, on the subtotal only
		{"", []*tote.TaxRate{ca}, 0},
	} {
		if got := tax(c.rates, &tote.Address{Country: "US", State: c.state}, 10000, 1000); got != c.want {
			t.Errorf("state %q: tax %d, want %d", c.state, got, c.want)
		}
	}
}

// TestAddressCountry: a country is two letters A to Z, nothing else of
// length two.
func TestAddressCountry(t *testing.T) {
	t.Parallel()
	for country, ok := range map[string]bool{"US": true, "GB": true, "us": false, "!!": false, "12": false, "  ": false,
		"\x01\x01": false, "ÄÖ": false, "USA": false, "": false} {
		a := &tote.Address{Address1: "1 Main St", City: "Springfield", State: "IL", PostalCode: "62701", Country: country}
		bad := validateAddress("order.shipping_address", a)
		if got := len(bad) == 0; got != ok {
			t.Errorf("country %q: valid %v, want %v (%v)", country, got, ok, bad)
		}
	}
}
