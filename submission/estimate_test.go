package submission

import (
	"context"
	"testing"

	"github.com/toteorg/tote"
	"github.com/toteorg/tote/catalog"
	"github.com/toteorg/tote/storetest"
)

// TestEstimateShipping: a cart is priced with its cheapest shipping method
// when it has SKUs that ship; with nothing to ship, or no method offered
// for its subtotal, it is priced without shipping (and says it has no
// method), and the other carts are estimated all the same.
func TestEstimateShipping(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, open storetest.Opener) {
		ctx := context.Background()
		s := open(t)
		cat := &catalog.Service{Store: s, Clock: tote.SystemClock{}}
		merchant := func(name string) int64 {
			m, err := cat.CreateMerchant(ctx, catalog.MerchantInput{Name: name, Platform: tote.PlatformSandbox, Currency: "USD"})
			if err != nil {
				t.Fatal(err)
			}
			return m.ID
		}
		sku := func(m int64, price int64, ships bool) int64 {
			sk, err := cat.CreateSKU(ctx, m, catalog.SKUInput{Name: "x", Price: new(price), Inventory: new(int64(100)), RequiresShipping: new(ships)})
			if err != nil {
				t.Fatal(err)
			}
			return sk.ID
		}
		method := func(m int64, price int64, max *int64) {
			if _, err := cat.CreateShippingMethod(ctx, m, catalog.ShippingMethodInput{Label: "m", Carrier: "UPS", Price: new(price), MaxSubtotal: max}); err != nil {
				t.Fatal(err)
			}
		}
		plain, digital, heavy := merchant("plain"), merchant("digital"), merchant("heavy")
		method(plain, 700, nil)
		method(plain, 500, nil)
		method(digital, 900, nil)
		method(heavy, 300, new(int64(1000))) // not offered above a subtotal of 1000
		tee, card, anvil := sku(plain, 2000, true), sku(digital, 5000, false), sku(heavy, 5000, true)

		e := &Engine{Store: s}
		est, err := e.Estimate(ctx, "USD", &tote.Address{Address1: "1 Main St", City: "Springfield", State: "IL", PostalCode: "62701", Country: "US"},
			[]SkuRequest{{SkuID: tee, Quantity: 1}, {SkuID: card, Quantity: 1}, {SkuID: anvil, Quantity: 1}})
		if err != nil {
			t.Fatal(err)
		}
		if len(est) != 3 {
			t.Fatalf("%d carts, want 3", len(est))
		}
		for i, want := range []struct {
			shipping, total int64
			methods         int
		}{
			{500, 2500, 2}, // the cheapest of two
			{0, 5000, 1},   // nothing ships: no shipping, though a method exists
			{0, 5000, 0},   // ships, but no method is offered for 5000
		} {
			if b := est[i].Bag; b.ShippingTotal != want.shipping || b.Total != want.total || len(est[i].ShippingMethods) != want.methods {
				t.Errorf("cart %d: shipping %d, total %d, %d methods; want %d, %d, %d", i, b.ShippingTotal, b.Total,
					len(est[i].ShippingMethods), want.shipping, want.total, want.methods)
			}
		}
	})
}
