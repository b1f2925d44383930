package sandbox_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/toteorg/tote"
	"github.com/toteorg/tote/platform/sandbox"
	"github.com/toteorg/tote/storetest"
)

const key = "test-sandbox-key"

// bundle is one platform served over real HTTP on a fresh store, and a
// connector to it.
type bundle struct {
	store    tote.Store
	url      string
	conn     *sandbox.Connector
	finished *atomic.Int64 // requests the platform has finished handling
}

func setup(t *testing.T, open storetest.Opener) *bundle {
	t.Helper()
	s := open(t)
	p := &sandbox.Platform{Store: s, Key: key, Clock: tote.ClockFunc(func() time.Time { return storetest.T0 })}
	h := p.Handler()
	var finished atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer finished.Add(1)
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return &bundle{store: s, url: srv.URL, finished: &finished,
		conn: &sandbox.Connector{BaseURL: srv.URL, Key: key, Timeout: 5 * time.Second}}
}

// settle waits until the platform has finished handling n requests in
// all, including those whose caller gave up.
func (b *bundle) settle(t *testing.T, n int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for b.finished.Load() < n {
		if time.Now().After(deadline) {
			t.Fatalf("the platform finished %d requests, want %d: one it was given up on still runs", b.finished.Load(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (b *bundle) orders(t *testing.T, merchantID int64) []*tote.SandboxOrder {
	t.Helper()
	list, err := b.store.FindSandboxOrders(context.Background(), merchantID)
	if err != nil {
		t.Fatalf("find sandbox orders: %v", err)
	}
	return list
}

func order(merchantID int64, ref string, lines ...tote.PlatformLine) tote.PlatformOrder {
	var total int64
	for _, l := range lines {
		total += l.Quantity * l.Price
	}
	return tote.PlatformOrder{MerchantID: merchantID, Reference: ref, Currency: "USD", Lines: lines, Total: total,
		Customer:        &tote.Customer{FirstName: "Ada", LastName: "Lovelace", Email: "ada@example.com"},
		ShippingAddress: &tote.Address{Address1: "1 Main St", City: "Springfield", State: "IL", PostalCode: "62701", Country: "US"}}
}

func line(sku *tote.SKU, qty int64) tote.PlatformLine {
	return tote.PlatformLine{SkuID: sku.ID, Name: sku.Name, Quantity: qty, Price: sku.Price}
}

func platformError(t *testing.T, err error, kind, typ string) *tote.PlatformError {
	t.Helper()
	var pe *tote.PlatformError
	if !errors.As(err, &pe) || pe.Kind != kind || (typ != "" && pe.Type != typ) {
		t.Fatalf("err = %#v (%v), want a %s PlatformError of type %q", err, err, kind, typ)
	}
	return pe
}

func TestAccept(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, open storetest.Opener) {
		b := setup(t, open)
		ctx := context.Background()
		m := storetest.SandboxMerchant(t, b.store, tote.SandboxBehaviour{Submit: tote.SandboxAccept})
		sku := storetest.StockedSKU(t, b.store, m.ID, 5)

		rec, err := b.conn.Submit(ctx, order(m.ID, "bag-1", line(sku, 2)))
		if err != nil {
			t.Fatalf("submit: %v", err)
		}
		if !strings.HasPrefix(rec.ExternalID, "sbx_ord_") || rec.Reference != "bag-1" ||
			rec.Status != sandbox.OrderStatusAccepted || !rec.DateCreated.Equal(storetest.T0) {
			t.Fatalf("record = %+v", rec)
		}
		if got := storetest.SKUInventory(t, b.store, sku.ID); got != 3 {
			t.Fatalf("inventory = %d, want 3", got)
		}
		found, err := b.conn.Lookup(ctx, m.ID, "bag-1")
		if err != nil || !reflect.DeepEqual(found, rec) {
			t.Fatalf("lookup = %+v, %v; want %+v", found, err, rec)
		}
		if _, err := b.conn.Lookup(ctx, m.ID, "bag-2"); !errors.Is(err, tote.ErrNotFound) {
			t.Fatalf("lookup of an unplaced reference: err = %v, want ErrNotFound", err)
		}
		// What the platform kept is what was sent.
		list := b.orders(t, m.ID)
		if len(list) != 1 || !strings.Contains(string(list[0].Body), `"email":"ada@example.com"`) || list[0].Total != 2000 {
			t.Fatalf("platform orders = %+v", list)
		}
	})
}

func TestIdempotentResubmit(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, open storetest.Opener) {
		b := setup(t, open)
		ctx := context.Background()
		m := storetest.SandboxMerchant(t, b.store, tote.SandboxBehaviour{})
		sku := storetest.StockedSKU(t, b.store, m.ID, 5)
		first, err := b.conn.Submit(ctx, order(m.ID, "bag-1", line(sku, 2)))
		if err != nil {
			t.Fatalf("submit: %v", err)
		}
		again, err := b.conn.Submit(ctx, order(m.ID, "bag-1", line(sku, 2)))
		if err != nil || !reflect.DeepEqual(again, first) {
			t.Fatalf("resubmit = %+v, %v; want the first order %+v", again, err, first)
		}
		if got := storetest.SKUInventory(t, b.store, sku.ID); got != 3 {
			t.Fatalf("inventory = %d, want 3 (taken once)", got)
		}
		if n := len(b.orders(t, m.ID)); n != 1 {
			t.Fatalf("%d platform orders, want 1", n)
		}
	})
}

func TestBackorder(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, open storetest.Opener) {
		b := setup(t, open)
		m := storetest.SandboxMerchant(t, b.store, tote.SandboxBehaviour{Submit: tote.SandboxAccept, Backorder: true})
		sku := storetest.StockedSKU(t, b.store, m.ID, 5)
		rec, err := b.conn.Submit(context.Background(), order(m.ID, "bag-1", line(sku, 1)))
		if err != nil || rec.Status != sandbox.OrderStatusBackordered {
			t.Fatalf("submit = %+v, %v; want a BACKORDERED order", rec, err)
		}
	})
}

// TestCartless: a cartless merchant takes the order (and its stock) but
// confirms it only when asked again; sending the reference again changes
// nothing.
func TestCartless(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, open storetest.Opener) {
		b := setup(t, open)
		ctx := context.Background()
		m := storetest.SandboxMerchant(t, b.store, tote.SandboxBehaviour{Submit: tote.SandboxAccept, Cartless: true, Backorder: true})
		sku := storetest.StockedSKU(t, b.store, m.ID, 5)
		rec, err := b.conn.Submit(ctx, order(m.ID, "bag-1", line(sku, 2)))
		if err != nil || rec.Status != tote.PlatformStatusPending || rec.ExternalID == "" {
			t.Fatalf("submit = %+v, %v; want a PENDING order with an external id", rec, err)
		}
		if got := storetest.SKUInventory(t, b.store, sku.ID); got != 3 {
			t.Fatalf("inventory = %d, want 3: a taken order holds its stock", got)
		}
		again, err := b.conn.Submit(ctx, order(m.ID, "bag-1", line(sku, 2)))
		if err != nil || again.Status != tote.PlatformStatusPending || again.ExternalID != rec.ExternalID {
			t.Fatalf("submit again = %+v, %v; want the same PENDING order", again, err)
		}
		got, err := b.conn.Lookup(ctx, m.ID, "bag-1")
		if err != nil || got.Status != sandbox.OrderStatusBackordered || got.ExternalID != rec.ExternalID {
			t.Fatalf("lookup = %+v, %v; want the order confirmed (BACKORDERED, this merchant's status)", got, err)
		}
		list := b.orders(t, m.ID)
		if len(list) != 1 || list[0].Status != sandbox.OrderStatusBackordered {
			t.Fatalf("platform orders = %+v, want one, confirmed", list)
		}
		if got := storetest.SKUInventory(t, b.store, sku.ID); got != 3 {
			t.Fatalf("inventory = %d, want 3 (taken once)", got)
		}
	})
}

// TestCancel: a cancelled order's stock goes back into inventory, once,
// however often it is cancelled; an unknown reference is not found.
func TestCancel(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, open storetest.Opener) {
		b := setup(t, open)
		ctx := context.Background()
		m := storetest.SandboxMerchant(t, b.store, tote.SandboxBehaviour{Submit: tote.SandboxAccept})
		sku := storetest.StockedSKU(t, b.store, m.ID, 5)
		placed, err := b.conn.Submit(ctx, order(m.ID, "bag-1", line(sku, 2), line(sku, 1)))
		if err != nil {
			t.Fatal(err)
		}
		if got := storetest.SKUInventory(t, b.store, sku.ID); got != 2 {
			t.Fatalf("inventory after placing = %d, want 2", got)
		}
		for i := range 2 {
			rec, err := b.conn.Cancel(ctx, m.ID, "bag-1", "customer changed their mind")
			if err != nil || rec.Status != sandbox.OrderStatusCanceled || rec.ExternalID != placed.ExternalID {
				t.Fatalf("cancel #%d = %+v, %v; want the order CANCELED", i+1, rec, err)
			}
			if got := storetest.SKUInventory(t, b.store, sku.ID); got != 5 {
				t.Fatalf("inventory after cancel #%d = %d, want 5 (restocked once)", i+1, got)
			}
		}
		if got, err := b.conn.Lookup(ctx, m.ID, "bag-1"); err != nil || got.Status != sandbox.OrderStatusCanceled {
			t.Fatalf("lookup = %+v, %v; want CANCELED", got, err)
		}
		if _, err := b.conn.Cancel(ctx, m.ID, "bag-2", ""); !errors.Is(err, tote.ErrNotFound) {
			t.Fatalf("cancel of an unplaced reference: err = %v, want ErrNotFound", err)
		}
	})
}

// TestRefund: refunds are kept with the order and shown by a lookup; a
// refund reference is honoured once; nothing beyond the total is refunded;
// an order not yet confirmed cannot be.
func TestRefund(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, open storetest.Opener) {
		b := setup(t, open)
		ctx := context.Background()
		m := storetest.SandboxMerchant(t, b.store, tote.SandboxBehaviour{Submit: tote.SandboxAccept})
		sku := storetest.StockedSKU(t, b.store, m.ID, 5)
		placed, err := b.conn.Submit(ctx, order(m.ID, "bag-1", line(sku, 2))) // total 2,000
		if err != nil || placed.Refunds != nil {
			t.Fatalf("submit = %+v, %v", placed, err)
		}
		first, err := b.conn.Refund(ctx, m.ID, "bag-1", tote.PlatformRefundRequest{Reference: "r1", Amount: 500, Reason: "damaged"})
		if err != nil || !strings.HasPrefix(first.ExternalID, "sbx_ref_") || first.Amount != 500 || first.Reason != "damaged" ||
			!first.DateCreated.Equal(storetest.T0) {
			t.Fatalf("refund = %+v, %v", first, err)
		}
		again, err := b.conn.Refund(ctx, m.ID, "bag-1", tote.PlatformRefundRequest{Reference: "r1", Amount: 500})
		if err != nil || *again != *first {
			t.Fatalf("the same refund again = %+v, %v; want %+v", again, err, first)
		}
		_, err = b.conn.Refund(ctx, m.ID, "bag-1", tote.PlatformRefundRequest{Reference: "r1", Amount: 700})
		platformError(t, err, tote.PlatformRejected, tote.ErrorTypeExternalWriteOrder)
		_, err = b.conn.Refund(ctx, m.ID, "bag-1", tote.PlatformRefundRequest{Reference: "r2", Amount: 1501})
		if pe := platformError(t, err, tote.PlatformRejected, tote.ErrorTypeExternalWriteOrder); !strings.Contains(pe.Message, "1500") {
			t.Fatalf("refusal = %q, want it to say what is left (1500)", pe.Message)
		}
		if _, err := b.conn.Refund(ctx, m.ID, "bag-1", tote.PlatformRefundRequest{Reference: "r2", Amount: 1500}); err != nil {
			t.Fatalf("refund of the rest: %v", err)
		}
		got, err := b.conn.Lookup(ctx, m.ID, "bag-1")
		if err != nil || len(got.Refunds) != 2 || got.Refunds[0] != *first || got.Refunds[1].Amount != 1500 {
			t.Fatalf("lookup = %+v, %v; want both refunds", got, err)
		}
		_, err = b.conn.Refund(ctx, m.ID, "bag-1", tote.PlatformRefundRequest{Reference: "r3", Amount: 0})
		platformError(t, err, tote.PlatformRejected, tote.ErrorTypeExternalWriteOrder)
		if _, err := b.conn.Refund(ctx, m.ID, "bag-9", tote.PlatformRefundRequest{Reference: "r1", Amount: 1}); !errors.Is(err, tote.ErrNotFound) {
			t.Fatalf("refund of an unplaced reference: err = %v, want ErrNotFound", err)
		}

		cartless := storetest.SandboxMerchant(t, b.store, tote.SandboxBehaviour{Submit: tote.SandboxAccept, Cartless: true})
		other := storetest.StockedSKU(t, b.store, cartless.ID, 5)
		if _, err := b.conn.Submit(ctx, order(cartless.ID, "bag-c", line(other, 1))); err != nil {
			t.Fatal(err)
		}
		_, err = b.conn.Refund(ctx, cartless.ID, "bag-c", tote.PlatformRefundRequest{Reference: "r1", Amount: 1})
		platformError(t, err, tote.PlatformRejected, tote.ErrorTypeExternalWriteOrder)
	})
}

func TestReject(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, open storetest.Opener) {
		b := setup(t, open)
		ctx := context.Background()
		m := storetest.SandboxMerchant(t, b.store, tote.SandboxBehaviour{Submit: tote.SandboxReject})
		sku := storetest.StockedSKU(t, b.store, m.ID, 5)
		_, err := b.conn.Submit(ctx, order(m.ID, "bag-1", line(sku, 1)))
		platformError(t, err, tote.PlatformRejected, "EXTERNAL_SUBMIT_CART")
		if got := storetest.SKUInventory(t, b.store, sku.ID); got != 5 {
			t.Fatalf("inventory = %d, want 5", got)
		}
		if _, err := b.conn.Lookup(ctx, m.ID, "bag-1"); !errors.Is(err, tote.ErrNotFound) {
			t.Fatalf("lookup after a rejection: err = %v, want ErrNotFound", err)
		}
	})
}

func TestFailRetryable(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, open storetest.Opener) {
		b := setup(t, open)
		ctx := context.Background()
		m := storetest.SandboxMerchant(t, b.store, tote.SandboxBehaviour{Submit: tote.SandboxFailRetryable, FailTimes: 2})
		sku := storetest.StockedSKU(t, b.store, m.ID, 5)
		for i := range 2 {
			_, err := b.conn.Submit(ctx, order(m.ID, "bag-1", line(sku, 1)))
			platformError(t, err, tote.PlatformRetryable, "")
			if n := len(b.orders(t, m.ID)); n != 0 {
				t.Fatalf("after failed attempt %d: %d platform orders, want 0", i+1, n)
			}
		}
		rec, err := b.conn.Submit(ctx, order(m.ID, "bag-1", line(sku, 1)))
		if err != nil {
			t.Fatalf("third attempt: %v", err)
		}
		list := b.orders(t, m.ID)
		if len(list) != 1 || list[0].ExternalID != rec.ExternalID {
			t.Fatalf("platform orders = %+v, want exactly %s", list, rec.ExternalID)
		}
		if got := storetest.SKUInventory(t, b.store, sku.ID); got != 4 {
			t.Fatalf("inventory = %d, want 4", got)
		}
		// Another reference has attempts of its own.
		_, err = b.conn.Submit(ctx, order(m.ID, "bag-2", line(sku, 1)))
		platformError(t, err, tote.PlatformRetryable, "")
		n, err := b.store.CountSandboxAttempt(ctx, m.ID, "bag-1")
		if err != nil || n != 3+1 { // three requests, and this count
			t.Fatalf("attempts of bag-1 = %d, %v; want 4", n, err)
		}
	})
}

// TestTimeout: the platform creates the order and never answers; the
// connector reports an unknown outcome, and Lookup then finds exactly one
// order, also after a resubmission that timed out again.
func TestTimeout(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, open storetest.Opener) {
		b := setup(t, open)
		b.conn.Timeout = 300 * time.Millisecond
		ctx := context.Background()
		m := storetest.SandboxMerchant(t, b.store, tote.SandboxBehaviour{Submit: tote.SandboxTimeout})
		sku := storetest.StockedSKU(t, b.store, m.ID, 5)

		for i := range 2 {
			_, err := b.conn.Submit(ctx, order(m.ID, "bag-1", line(sku, 2)))
			platformError(t, err, tote.PlatformUnknown, "")
			b.settle(t, int64(i+1)) // the platform let go of the request
		}
		rec, err := b.conn.Lookup(ctx, m.ID, "bag-1")
		if err != nil || !strings.HasPrefix(rec.ExternalID, "sbx_ord_") {
			t.Fatalf("lookup = %+v, %v; want the order", rec, err)
		}
		if list := b.orders(t, m.ID); len(list) != 1 || list[0].ExternalID != rec.ExternalID {
			t.Fatalf("platform orders = %+v, want exactly one", list)
		}
		if got := storetest.SKUInventory(t, b.store, sku.ID); got != 3 {
			t.Fatalf("inventory = %d, want 3 (taken once)", got)
		}
	})
}

func TestLatency(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, open storetest.Opener) {
		b := setup(t, open)
		ctx := context.Background()
		m := storetest.SandboxMerchant(t, b.store, tote.SandboxBehaviour{Submit: tote.SandboxAccept, LatencyMS: 300})
		sku := storetest.StockedSKU(t, b.store, m.ID, 5)

		start := time.Now()
		if _, err := b.conn.Submit(ctx, order(m.ID, "bag-1", line(sku, 1))); err != nil {
			t.Fatalf("submit: %v", err)
		}
		if took := time.Since(start); took < 300*time.Millisecond {
			t.Fatalf("submit took %v, want at least the 300ms latency", took)
		}

		// A caller that gives up during the wait: outcome unknown to it,
		// and in fact nothing was placed.
		impatient := *b.conn
		impatient.Timeout = 50 * time.Millisecond
		_, err := impatient.Submit(ctx, order(m.ID, "bag-2", line(sku, 1)))
		platformError(t, err, tote.PlatformUnknown, "")
		b.settle(t, 2)
		if _, err := b.conn.Lookup(ctx, m.ID, "bag-2"); !errors.Is(err, tote.ErrNotFound) {
			t.Fatalf("lookup: err = %v, want ErrNotFound", err)
		}
		if got := storetest.SKUInventory(t, b.store, sku.ID); got != 4 {
			t.Fatalf("inventory = %d, want 4", got)
		}
	})
}

func TestInventoryShortage(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, open storetest.Opener) {
		b := setup(t, open)
		ctx := context.Background()
		m := storetest.SandboxMerchant(t, b.store, tote.SandboxBehaviour{Submit: tote.SandboxAccept})
		plenty, scarce := storetest.StockedSKU(t, b.store, m.ID, 10), storetest.StockedSKU(t, b.store, m.ID, 1)
		_, err := b.conn.Submit(ctx, order(m.ID, "bag-1", line(plenty, 3), line(scarce, 2)))
		pe := platformError(t, err, tote.PlatformRejected, "EXTERNAL_ADD_ITEM")
		if pe.Message != "Not enough items available. Only 1 left" || pe.SkuID != scarce.ID {
			t.Fatalf("message = %q, SKU %d; want SKU %d", pe.Message, pe.SkuID, scarce.ID)
		}
		if a, b := storetest.SKUInventory(t, b.store, plenty.ID), storetest.SKUInventory(t, b.store, scarce.ID); a != 10 || b != 1 {
			t.Fatalf("inventory = %d, %d; want unchanged 10, 1", a, b)
		}
		if n := len(b.orders(t, m.ID)); n != 0 {
			t.Fatalf("%d platform orders, want 0", n)
		}
		// Another merchant's SKU is not for sale here either.
		other := storetest.SandboxMerchant(t, b.store, tote.SandboxBehaviour{})
		foreign := storetest.StockedSKU(t, b.store, other.ID, 10)
		_, err = b.conn.Submit(ctx, order(m.ID, "bag-2", line(foreign, 1)))
		platformError(t, err, tote.PlatformRejected, "EXTERNAL_ADD_ITEM")
	})
}

func TestWrongKey(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, open storetest.Opener) {
		b := setup(t, open)
		ctx := context.Background()
		m := storetest.SandboxMerchant(t, b.store, tote.SandboxBehaviour{})
		sku := storetest.StockedSKU(t, b.store, m.ID, 5)
		for _, k := range []string{"", "wrong", key + "x"} {
			req, _ := http.NewRequest("GET", b.url+"/orders?merchant_id=1&reference=x", nil)
			if k != "" {
				req.Header.Set(sandbox.KeyHeader, k)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("key %q: status %d, want 401", k, resp.StatusCode)
			}
		}
		wrong := *b.conn
		wrong.Key = "wrong"
		_, err := wrong.Submit(ctx, order(m.ID, "bag-1", line(sku, 1)))
		platformError(t, err, tote.PlatformRejected, "EXTERNAL_SUBMIT_CART")
		if n := len(b.orders(t, m.ID)); n != 0 || storetest.SKUInventory(t, b.store, sku.ID) != 5 {
			t.Fatalf("a caller with a wrong key placed %d orders", n)
		}
		// A platform without a key refuses everyone.
		keyless := httptest.NewServer((&sandbox.Platform{Store: b.store}).Handler())
		defer keyless.Close()
		for _, k := range []string{"", key} {
			c := &sandbox.Connector{BaseURL: keyless.URL, Key: k}
			if _, err := c.Lookup(ctx, m.ID, "bag-1"); errors.Is(err, tote.ErrNotFound) || err == nil {
				t.Fatalf("keyless platform answered a lookup with key %q: err = %v", k, err)
			}
		}
	})
}

func TestUnknownMerchant(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, open storetest.Opener) {
		b := setup(t, open)
		_, err := b.conn.Submit(context.Background(), order(1<<40, "bag-1", tote.PlatformLine{SkuID: 1, Quantity: 1, Price: 100}))
		platformError(t, err, tote.PlatformRejected, "EXTERNAL_SUBMIT_CART")
		if _, err := b.conn.Lookup(context.Background(), 1<<40, "bag-1"); !errors.Is(err, tote.ErrNotFound) {
			t.Fatalf("lookup at an unknown merchant: err = %v, want ErrNotFound", err)
		}
	})
}

// TestConcurrentSubmits: simultaneous submissions of one bag make one order.
func TestConcurrentSubmits(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, open storetest.Opener) {
		b := setup(t, open)
		m := storetest.SandboxMerchant(t, b.store, tote.SandboxBehaviour{})
		sku := storetest.StockedSKU(t, b.store, m.ID, 10)
		var wg sync.WaitGroup
		ids := make([]string, 6)
		for i := range ids {
			wg.Go(func() {
				rec, err := b.conn.Submit(context.Background(), order(m.ID, "bag-1", line(sku, 3)))
				if err != nil {
					t.Errorf("submit: %v", err)
					return
				}
				ids[i] = rec.ExternalID
			})
		}
		wg.Wait()
		for _, id := range ids {
			if id != ids[0] {
				t.Fatalf("external ids = %v, want one order", ids)
			}
		}
		if n, inv := len(b.orders(t, m.ID)), storetest.SKUInventory(t, b.store, sku.ID); n != 1 || inv != 7 {
			t.Fatalf("%d orders, inventory %d; want 1 order, 7 left", n, inv)
		}
	})
}
