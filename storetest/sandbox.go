package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/toteorg/tote"
)

// SandboxMerchant creates a SANDBOX merchant selling in USD with the given
// behaviour (fixture).
func SandboxMerchant(tb testing.TB, s tote.Store, b tote.SandboxBehaviour) *tote.Merchant {
	tb.Helper()
	m := &tote.Merchant{Name: "sandbox merchant", Platform: tote.PlatformSandbox, Currency: "USD",
		Sandbox: b, DateCreated: T0, DateModified: T0}
	if err := s.InTx(context.Background(), func(tx tote.Tx) error { return tx.CreateMerchant(context.Background(), m) }); err != nil {
		tb.Fatalf("create merchant: %v", err)
	}
	return m
}

// StockedSKU creates a SKU of the merchant priced 1000 (USD) with the given
// inventory (fixture).
func StockedSKU(tb testing.TB, s tote.Store, merchantID, inventory int64) *tote.SKU {
	tb.Helper()
	sku := &tote.SKU{MerchantID: merchantID, Name: "stocked sku", Price: 1000, Currency: "USD", Inventory: inventory,
		RequiresShipping: true, ProductType: tote.ProductPhysical, DateCreated: T0, DateModified: T0}
	if err := s.InTx(context.Background(), func(tx tote.Tx) error { return tx.CreateSKU(context.Background(), sku) }); err != nil {
		tb.Fatalf("create sku: %v", err)
	}
	return sku
}

// SKUInventory reads a SKU's inventory.
func SKUInventory(tb testing.TB, s tote.Store, skuID int64) int64 {
	tb.Helper()
	sku, err := s.FindSKUByID(context.Background(), skuID)
	if err != nil {
		tb.Fatalf("find sku %d: %v", skuID, err)
	}
	return sku.Inventory
}

func sandboxParams(merchantID int64, ref string, lines ...tote.SandboxLine) tote.SandboxOrderParams {
	return tote.SandboxOrderParams{MerchantID: merchantID, ExternalID: "sbx_ord_" + ref, Reference: ref,
		Status: "ACCEPTED", Lines: lines, Body: []byte(`{"reference":"` + ref + `"}`), Total: 2000,
		Currency: "USD", DateCreated: T0}
}

func isUnavailable(err error) bool {
	return errors.Is(err, tote.ErrSandboxItemUnavailable) && tote.ErrorCode(err) == tote.EINVALID
}

func testSandboxOrders(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t)
	m := SandboxMerchant(t, s, tote.SandboxBehaviour{Submit: tote.SandboxAccept})
	other := SandboxMerchant(t, s, tote.SandboxBehaviour{})
	a, b := StockedSKU(t, s, m.ID, 5), StockedSKU(t, s, m.ID, 3)
	foreign := StockedSKU(t, s, other.ID, 10)

	// A SKU may appear on several lines; the lines add up.
	p := sandboxParams(m.ID, "bag-1", tote.SandboxLine{SkuID: a.ID, Quantity: 1}, tote.SandboxLine{SkuID: b.ID, Quantity: 2},
		tote.SandboxLine{SkuID: a.ID, Quantity: 1})
	o, created, err := s.PlaceSandboxOrder(ctx, p)
	noErr(t, err, "place")
	if !created || o.ID <= 0 {
		t.Fatalf("first placement: created %v, id %d", created, o.ID)
	}
	want := &tote.SandboxOrder{ID: o.ID, MerchantID: m.ID, ExternalID: "sbx_ord_bag-1", Reference: "bag-1", Status: "ACCEPTED",
		Body: p.Body, Total: 2000, Currency: "USD", DateCreated: T0}
	equal(t, "placed order", o, want)
	equal(t, "inventory after placement", [2]int64{SKUInventory(t, s, a.ID), SKUInventory(t, s, b.ID)}, [2]int64{3, 1})
	got, err := s.FindSandboxOrder(ctx, m.ID, "bag-1")
	noErr(t, err, "find")
	equal(t, "found order", got, want)

	// The same reference again: the first order, nothing taken again.
	again := sandboxParams(m.ID, "bag-1", tote.SandboxLine{SkuID: a.ID, Quantity: 3})
	again.ExternalID = "sbx_ord_other"
	o2, created, err := s.PlaceSandboxOrder(ctx, again)
	noErr(t, err, "place again")
	if created {
		t.Fatal("a second placement of one reference created an order")
	}
	equal(t, "second placement's order", o2, want)
	equal(t, "inventory after a repeat", [2]int64{SKUInventory(t, s, a.ID), SKUInventory(t, s, b.ID)}, [2]int64{3, 1})

	// Short on the second SKU: nothing at all is placed or taken.
	_, _, err = s.PlaceSandboxOrder(ctx, sandboxParams(m.ID, "bag-2",
		tote.SandboxLine{SkuID: a.ID, Quantity: 1}, tote.SandboxLine{SkuID: b.ID, Quantity: 2}))
	if !isUnavailable(err) || tote.ErrorMessage(err) != "Not enough items available. Only 1 left" {
		t.Fatalf("shortage: err = %v (message %q)", err, tote.ErrorMessage(err))
	}
	equal(t, "inventory after a shortage", [2]int64{SKUInventory(t, s, a.ID), SKUInventory(t, s, b.ID)}, [2]int64{3, 1})
	if _, err := s.FindSandboxOrder(ctx, m.ID, "bag-2"); !errors.Is(err, tote.ErrNotFound) {
		t.Fatalf("order of a failed placement: err = %v, want ErrNotFound", err)
	}
	// Another merchant's SKU, or none at all, is not for sale here.
	for _, sku := range []int64{foreign.ID, 1 << 40} {
		_, _, err = s.PlaceSandboxOrder(ctx, sandboxParams(m.ID, "bag-3", tote.SandboxLine{SkuID: sku, Quantity: 1}))
		if !isUnavailable(err) {
			t.Fatalf("sku %d of no merchant's store: err = %v", sku, err)
		}
	}
	equal(t, "foreign inventory", SKUInventory(t, s, foreign.ID), int64(10))
	if _, _, err := s.PlaceSandboxOrder(ctx, sandboxParams(m.ID, "bag-4", tote.SandboxLine{SkuID: a.ID, Quantity: 0})); tote.ErrorCode(err) != tote.EINVALID {
		t.Fatalf("quantity 0: err = %v, want EINVALID", err)
	}
	// A failed reference can be placed once it can be satisfied.
	o3, created, err := s.PlaceSandboxOrder(ctx, sandboxParams(m.ID, "bag-2", tote.SandboxLine{SkuID: b.ID, Quantity: 1}))
	noErr(t, err, "place after a shortage")
	if !created {
		t.Fatal("a reference that failed for want of stock could not be placed later")
	}
	equal(t, "inventory of the last unit", SKUInventory(t, s, b.ID), int64(0))

	list, err := s.FindSandboxOrders(ctx, m.ID)
	noErr(t, err, "list")
	if len(list) != 2 {
		t.Fatalf("%d orders listed, want 2", len(list))
	}
	equal(t, "merchant's orders, oldest first", []string{list[0].Reference, list[1].Reference}, []string{"bag-1", "bag-2"})
	equal(t, "listed order", list[1], o3)
	none, err := s.FindSandboxOrders(ctx, other.ID)
	noErr(t, err, "list other")
	if none == nil || len(none) != 0 {
		t.Fatalf("other merchant's orders = %#v, want an empty list", none)
	}
	if _, err := s.FindSandboxOrder(ctx, other.ID, "bag-1"); !errors.Is(err, tote.ErrNotFound) {
		t.Fatalf("reference of another merchant: err = %v", err)
	}
}

func testSandboxAttempts(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t)
	var got []int64
	for _, ref := range []string{"r1", "r1", "r2", "r1"} {
		n, err := s.CountSandboxAttempt(ctx, 7, ref)
		noErr(t, err, "count")
		got = append(got, n)
	}
	n, err := s.CountSandboxAttempt(ctx, 8, "r1")
	noErr(t, err, "count other merchant")
	equal(t, "attempts", append(got, n), []int64{1, 2, 1, 3, 1})
}

// testConcurrentSandboxPlacements: concurrent placements of one reference
// create one order and take inventory once; placements competing for the
// last units never oversell, whatever order their lines come in.
func testConcurrentSandboxPlacements(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t)
	m := SandboxMerchant(t, s, tote.SandboxBehaviour{})
	a, b := StockedSKU(t, s, m.ID, 10), StockedSKU(t, s, m.ID, 10)

	const same = 8
	var wg sync.WaitGroup
	var mu sync.Mutex
	created, ids := 0, map[string]bool{}
	for i := range same {
		wg.Go(func() {
			p := sandboxParams(m.ID, "same", tote.SandboxLine{SkuID: a.ID, Quantity: 2})
			p.ExternalID = fmt.Sprintf("sbx_ord_same_%d", i)
			o, c, err := s.PlaceSandboxOrder(ctx, p)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				t.Errorf("place: %v", err)
				return
			}
			ids[o.ExternalID] = true
			if c {
				created++
			}
		})
	}
	wg.Wait()
	equal(t, "placements that created the order", created, 1)
	equal(t, "distinct orders returned", len(ids), 1)
	equal(t, "inventory taken once", SKUInventory(t, s, a.ID), int64(8))

	// 8 units of a and 10 of b left; 12 placements want 1 of each, half
	// of them listing b first.
	const racers = 12
	placed, short := 0, 0
	for i := range racers {
		wg.Go(func() {
			lines := []tote.SandboxLine{{SkuID: a.ID, Quantity: 1}, {SkuID: b.ID, Quantity: 1}}
			if i%2 == 1 {
				lines[0], lines[1] = lines[1], lines[0]
			}
			_, _, err := s.PlaceSandboxOrder(ctx, sandboxParams(m.ID, fmt.Sprintf("race-%d", i), lines...))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				placed++
			case isUnavailable(err):
				short++
			default:
				t.Errorf("place race-%d: %v", i, err)
			}
		})
	}
	wg.Wait()
	equal(t, "placed, short", [2]int{placed, short}, [2]int{8, racers - 8})
	equal(t, "inventory left", [2]int64{SKUInventory(t, s, a.ID), SKUInventory(t, s, b.ID)}, [2]int64{0, 2})
	list, err := s.FindSandboxOrders(ctx, m.ID)
	noErr(t, err, "list")
	equal(t, "orders on the platform", len(list), 1+8)
}

func testSandboxIntents(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t)
	in := &tote.SandboxIntent{ID: "pi_1", ClientSecret: "pi_1_secret_x", IdempotencyKey: "key-1", Token: "tok_visa",
		Status: tote.IntentAuthorized, Amount: 5000, Currency: "USD", DateCreated: T0}
	got, created, err := s.CreateSandboxIntent(ctx, in)
	noErr(t, err, "create")
	if !created {
		t.Fatal("first intent not created")
	}
	equal(t, "created intent", got, in)

	// Same key: the first intent, whatever the second asks.
	dup := *in
	dup.ID, dup.ClientSecret, dup.Amount = "pi_2", "pi_2_secret_y", 1
	got, created, err = s.CreateSandboxIntent(ctx, &dup)
	noErr(t, err, "create again")
	if created {
		t.Fatal("a second intent was created with one idempotency key")
	}
	equal(t, "intent of a known key", got, in)
	if _, err := s.FindSandboxIntent(ctx, "pi_2"); !errors.Is(err, tote.ErrNotFound) {
		t.Fatalf("the duplicate was stored: err = %v", err)
	}

	got, err = s.FindSandboxIntent(ctx, "pi_1")
	noErr(t, err, "find")
	equal(t, "found intent", got, in)
	got, err = s.FindSandboxIntentBySecret(ctx, "pi_1_secret_x")
	noErr(t, err, "find by secret")
	equal(t, "found by secret", got, in)
	if _, err := s.FindSandboxIntentBySecret(ctx, "nope"); !errors.Is(err, tote.ErrNotFound) {
		t.Fatalf("unknown secret: err = %v", err)
	}

	updated, err := s.UpdateSandboxIntent(ctx, "pi_1", func(i *tote.SandboxIntent) error {
		i.Status, i.AmountCaptured, i.AmountRefunded = tote.IntentPartlyRefunded, 4000, 1500
		return nil
	})
	noErr(t, err, "update")
	want := *in
	want.Status, want.AmountCaptured, want.AmountRefunded = tote.IntentPartlyRefunded, 4000, 1500
	equal(t, "updated intent", updated, &want)
	got, err = s.FindSandboxIntent(ctx, "pi_1")
	noErr(t, err, "find updated")
	equal(t, "stored update", got, &want)

	// A refused change keeps nothing and returns fn's error as is.
	boom := errors.New("boom")
	_, err = s.UpdateSandboxIntent(ctx, "pi_1", func(i *tote.SandboxIntent) error {
		i.Status = tote.IntentVoided
		return boom
	})
	if err != boom {
		t.Fatalf("refused update: err = %v, want fn's error", err)
	}
	got, err = s.FindSandboxIntent(ctx, "pi_1")
	noErr(t, err, "find after refusal")
	equal(t, "intent after a refused update", got, &want)
	if _, err := s.UpdateSandboxIntent(ctx, "nope", func(*tote.SandboxIntent) error { return nil }); !errors.Is(err, tote.ErrNotFound) {
		t.Fatalf("update unknown: err = %v", err)
	}
}

// testConcurrentSandboxIntents: concurrent changes of one intent see each
// other's results (no lost update), so refunds never exceed the capture.
func testConcurrentSandboxIntents(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t)
	in := &tote.SandboxIntent{ID: "pi_c", ClientSecret: "pi_c_secret", IdempotencyKey: "key-c", Token: "tok_visa",
		Status: tote.IntentCaptured, Amount: 5000, AmountCaptured: 5000, Currency: "USD", DateCreated: T0}
	_, _, err := s.CreateSandboxIntent(ctx, in)
	noErr(t, err, "create")
	tooMuch := errors.New("more than captured")
	const refunds = 12
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	for range refunds {
		wg.Go(func() {
			_, err := s.UpdateSandboxIntent(ctx, "pi_c", func(i *tote.SandboxIntent) error {
				if i.AmountRefunded+1000 > i.AmountCaptured {
					return tooMuch
				}
				i.AmountRefunded += 1000
				return nil
			})
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				ok++
			} else if err != tooMuch {
				t.Errorf("refund: %v", err)
			}
		})
	}
	wg.Wait()
	equal(t, "refunds let through", ok, 5)
	got, err := s.FindSandboxIntent(ctx, "pi_c")
	noErr(t, err, "find")
	equal(t, "amount refunded", got.AmountRefunded, int64(5000))

	// Concurrent creations with one key: one intent.
	created := 0
	for i := range 8 {
		wg.Go(func() {
			in := &tote.SandboxIntent{ID: fmt.Sprintf("pi_k%d", i), ClientSecret: fmt.Sprintf("pi_k%d_secret", i),
				IdempotencyKey: "key-k", Token: "tok_visa", Status: tote.IntentAuthorized, Amount: 100, Currency: "USD",
				DateCreated: T0.Add(time.Duration(i) * time.Second)}
			_, c, err := s.CreateSandboxIntent(ctx, in)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				t.Errorf("create: %v", err)
			} else if c {
				created++
			}
		})
	}
	wg.Wait()
	equal(t, "intents created with one key", created, 1)
}

// testSandboxOrderUpdates: an update saves the status and refunds fn set
// and restocks what it returns, all or nothing; concurrent updates of one
// order each see the one before.
func testSandboxOrderUpdates(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t)
	m := SandboxMerchant(t, s, tote.SandboxBehaviour{Submit: tote.SandboxAccept})
	a, b := StockedSKU(t, s, m.ID, 10), StockedSKU(t, s, m.ID, 10)
	_, _, err := s.PlaceSandboxOrder(ctx, sandboxParams(m.ID, "bag-1", tote.SandboxLine{SkuID: a.ID, Quantity: 3},
		tote.SandboxLine{SkuID: b.ID, Quantity: 2}))
	noErr(t, err, "place")

	refund := tote.SandboxRefund{ExternalID: "sbx_ref_1", Reference: "r1", Amount: 500, Reason: "damaged", DateCreated: T0}
	o, err := s.UpdateSandboxOrder(ctx, m.ID, "bag-1", T0, func(o *tote.SandboxOrder) ([]tote.SandboxLine, error) {
		o.Status = "CANCELED"
		o.Refunds = append(o.Refunds, refund)
		return []tote.SandboxLine{{SkuID: b.ID, Quantity: 1}, {SkuID: a.ID, Quantity: 3}, {SkuID: b.ID, Quantity: 1}}, nil
	})
	noErr(t, err, "update")
	found, err := s.FindSandboxOrder(ctx, m.ID, "bag-1")
	noErr(t, err, "find")
	equal(t, "updated order", found, o)
	equal(t, "saved", [2]any{found.Status, found.Refunds}, [2]any{"CANCELED", []tote.SandboxRefund{refund}})
	equal(t, "restocked", [2]int64{SKUInventory(t, s, a.ID), SKUInventory(t, s, b.ID)}, [2]int64{10, 10})

	boom := errors.New("boom")
	_, err = s.UpdateSandboxOrder(ctx, m.ID, "bag-1", T0, func(o *tote.SandboxOrder) ([]tote.SandboxLine, error) {
		o.Status, o.Refunds = "ACCEPTED", nil
		return nil, boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("update whose fn failed: err = %v", err)
	}
	again, _ := s.FindSandboxOrder(ctx, m.ID, "bag-1")
	equal(t, "after a failed update", again, found)
	if _, err := s.UpdateSandboxOrder(ctx, m.ID, "bag-9", T0, func(*tote.SandboxOrder) ([]tote.SandboxLine, error) {
		return nil, nil
	}); !errors.Is(err, tote.ErrNotFound) {
		t.Fatalf("update of an unknown order: err = %v", err)
	}

	// Ten refunds at once: each update sees the others' (none is lost).
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() {
			_, err := s.UpdateSandboxOrder(ctx, m.ID, "bag-1", T0, func(o *tote.SandboxOrder) ([]tote.SandboxLine, error) {
				o.Refunds = append(o.Refunds, tote.SandboxRefund{ExternalID: fmt.Sprint("sbx_ref_c", i), Reference: fmt.Sprint("c", i), Amount: 10})
				return nil, nil
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	final, _ := s.FindSandboxOrder(ctx, m.ID, "bag-1")
	equal(t, "refunds after concurrent updates", [2]int64{int64(len(final.Refunds)), final.Refunded()}, [2]int64{11, 600})
}

func testSandbox(t *testing.T, open Opener) {
	t.Run("Orders", func(t *testing.T) { t.Parallel(); testSandboxOrders(t, open) })
	t.Run("Attempts", func(t *testing.T) { t.Parallel(); testSandboxAttempts(t, open) })
	t.Run("ConcurrentPlacements", func(t *testing.T) { t.Parallel(); testConcurrentSandboxPlacements(t, open) })
	t.Run("OrderUpdates", func(t *testing.T) { t.Parallel(); testSandboxOrderUpdates(t, open) })
	t.Run("Intents", func(t *testing.T) { t.Parallel(); testSandboxIntents(t, open) })
	t.Run("ConcurrentIntents", func(t *testing.T) { t.Parallel(); testConcurrentSandboxIntents(t, open) })
}
