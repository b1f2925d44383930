package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/toteorg/tote"
)

// fullOrder is an order with everything a DOS order carries.
func fullOrder(appID int64, n int, created time.Time, email string, merchants ...int64) *tote.Order {
	o := &tote.Order{
		AppID: appID, AppOrderID: fmt.Sprintf("app-order-%d", n), ReferralID: "ref", Status: tote.OrderStatusProcessing,
		Currency: "USD", DateCreated: created, DateSubmitted: &created, DateLastModified: created,
		IdempotencyKey: fmt.Sprintf("key-%d", n),
		Details: tote.OrderDetails{
			Customer:        &tote.Customer{FirstName: "Ada", LastName: "Lovelace", Email: email},
			ShippingAddress: &tote.Address{Address1: "1 Main St", City: "Springfield", State: "IL", PostalCode: "62701", Country: "US"},
			PaymentMethod:   &tote.PaymentMethod{Token: "tok_visa", PaymentProvider: "SANDBOX", IntentID: "pi_1"},
		},
	}
	for i, m := range merchants {
		b := &tote.Bag{
			MerchantID: m, MerchantName: fmt.Sprintf("M%d", m), Platform: "SANDBOX", Reference: fmt.Sprintf("ref-%d-%d", n, i),
			CommissionRate: 1000, ShippingMethod: &tote.BagShippingMethod{ShippingMethodID: 3, Label: "Ground", Price: 500},
			Status: tote.BagStatusSubmitted, FinancialStatus: tote.FinancialStatusAuthorized, FulfillmentStatus: tote.FulfillmentStatusProcessing,
			Version: 1, Currency: "USD", SubTotal: 2000, ShippingTotal: 500, TaxTotal: 145, Total: 2645,
			DateCreated: created, DateSubmitted: &created, DateLastModified: created, SubmitAttempts: 1,
			Skus: []*tote.OrderSku{
				{SkuID: 10 * m, MerchantID: m, Name: "Thing", Quantity: 2, Price: 1000, LinePrice: 2000, Status: "IN_PROGRESS"},
			},
		}
		o.Bags = append(o.Bags, b)
		o.SubTotal, o.ShippingTotal, o.TaxTotal, o.Total = o.SubTotal+b.SubTotal, o.ShippingTotal+b.ShippingTotal, o.TaxTotal+b.TaxTotal, o.Total+b.Total
	}
	return o
}

func testOrderDetails(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t)
	a := App(t, s)
	o := fullOrder(a.ID, 1, T0, "ada@example.com", 5, 6)
	noErr(t, s.InTx(ctx, func(tx tote.Tx) error {
		if err := tx.CreateOrder(ctx, o); err != nil {
			return err
		}
		o.Errors = []*tote.OrderError{{OrderID: o.ID, BagID: o.Bags[1].ID, EntityType: "BAG", EntityID: "x", Type: tote.ErrorTypeExternalSubmitCart, Message: "no", ExternalPlatform: "SANDBOX", DateCreated: T0}}
		o.Transactions = []*tote.PaymentTransaction{
			{OrderID: o.ID, BagID: o.Bags[0].ID, Type: tote.TransactionAuthorization, Amount: 2645, Currency: "USD", Status: "COMPLETED", PaymentProvider: "SANDBOX", PaymentProviderTransactionID: "pi_1", DateCreated: T0},
			{OrderID: o.ID, Type: tote.TransactionVoid, Amount: 1, Currency: "USD", Status: "COMPLETED", PaymentProvider: "SANDBOX", DateCreated: T0},
		}
		if err := tx.InsertOrderErrors(ctx, o.Errors); err != nil {
			return err
		}
		return tx.InsertPaymentTransactions(ctx, o.Transactions)
	}), "create")
	got, err := s.FindOrderByID(ctx, o.ID)
	noErr(t, err, "find")
	equal(t, "order with details, lines, errors and transactions", got, o)
	byKey, err := s.FindOrderByIdempotencyKey(ctx, a.ID, "key-1")
	noErr(t, err, "find by key")
	equal(t, "order by idempotency key", byKey.ID, o.ID)
	if _, err := s.FindOrderByIdempotencyKey(ctx, a.ID+1, "key-1"); tote.ErrorCode(err) != tote.ENOTFOUND {
		t.Fatalf("another app's key: %v", err)
	}
	bag, err := s.FindBagByID(ctx, o.Bags[0].ID)
	noErr(t, err, "find bag")
	equal(t, "bag with lines", bag, o.Bags[0])

	// The key is unique per app.
	dup := fullOrder(a.ID, 1, T0, "x@example.com", 5)
	err = s.InTx(ctx, func(tx tote.Tx) error { return tx.CreateOrder(ctx, dup) })
	if tote.ErrorCode(err) != tote.ECONFLICT {
		t.Fatalf("second order with one idempotency key: %v, want ECONFLICT", err)
	}
}

func testOrderSearch(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t)
	a, other := App(t, s), App(t, s)
	var orders []*tote.Order
	for i := range 5 {
		o := fullOrder(a.ID, i, T0.Add(time.Duration(i)*time.Hour), fmt.Sprintf("shopper%d@Example.com", i%2), int64(1+i%2), 9)
		if i == 4 {
			o.Status = tote.OrderStatusInProgress
		}
		noErr(t, s.InTx(ctx, func(tx tote.Tx) error { return tx.CreateOrder(ctx, o) }), "create")
		orders = append(orders, o)
	}
	noErr(t, s.InTx(ctx, func(tx tote.Tx) error {
		return tx.CreateOrder(ctx, fullOrder(other.ID, 99, T0, "shopper0@example.com", 1))
	}), "other app")
	ids := func(os []*tote.Order) []int64 {
		var out []int64
		for _, o := range os {
			out = append(out, o.ID)
		}
		return out
	}
	page := tote.Page{Number: 1, Size: 20}
	find := func(f tote.OrderFilter, p tote.Page) ([]int64, int64) {
		f.AppID = a.ID
		got, total, err := s.FindOrders(ctx, f, p)
		noErr(t, err, "find orders")
		return ids(got), total
	}
	got, total := find(tote.OrderFilter{}, page)
	equal(t, "all orders, newest first", got, []int64{orders[4].ID, orders[3].ID, orders[2].ID, orders[1].ID, orders[0].ID})
	equal(t, "total", total, int64(5))
	got, total = find(tote.OrderFilter{ExcludeInProgress: true}, tote.Page{Number: 2, Size: 2})
	equal(t, "page 2 of submitted orders", got, []int64{orders[1].ID, orders[0].ID})
	equal(t, "total submitted", total, int64(4))
	email := "SHOPPER1@example.com"
	got, _ = find(tote.OrderFilter{CustomerEmail: &email}, page)
	equal(t, "by email, case-insensitive", got, []int64{orders[3].ID, orders[1].ID})
	m := int64(2)
	got, _ = find(tote.OrderFilter{MerchantID: &m}, page)
	equal(t, "by merchant", got, []int64{orders[3].ID, orders[1].ID})
	bagID := orders[2].Bags[1].ID
	got, _ = find(tote.OrderFilter{BagID: &bagID}, page)
	equal(t, "by bag", got, []int64{orders[2].ID})
	st := tote.BagStatusAccepted
	got, _ = find(tote.OrderFilter{BagStatus: &st}, page)
	equal(t, "by bag status", len(got), 0)
	lo, hi := T0.Add(time.Hour), T0.Add(3*time.Hour)
	got, _ = find(tote.OrderFilter{CreatedMin: &lo, CreatedMax: &hi}, page)
	equal(t, "by creation time", got, []int64{orders[3].ID, orders[2].ID, orders[1].ID})
	appOrder := "app-order-3"
	got, _ = find(tote.OrderFilter{AppOrderID: &appOrder}, page)
	equal(t, "by app order id", got, []int64{orders[3].ID})
	status := tote.OrderStatusInProgress
	got, _ = find(tote.OrderFilter{Status: &status}, page)
	equal(t, "by status", got, []int64{orders[4].ID})

	// Bags.
	findBags := func(f tote.BagFilter) []int64 {
		f.AppID = a.ID
		got, _, err := s.FindBags(ctx, f, page)
		noErr(t, err, "find bags")
		var out []int64
		for _, b := range got {
			out = append(out, b.ID)
			if len(b.Skus) != 1 {
				t.Fatalf("bag %d came without its lines", b.ID)
			}
		}
		return out
	}
	equal(t, "bags of an order", findBags(tote.BagFilter{OrderID: &orders[0].ID}), []int64{orders[0].Bags[1].ID, orders[0].Bags[0].ID})
	equal(t, "bags by app order id, ascending", findBags(tote.BagFilter{AppOrderID: &appOrder, Ascending: true}), []int64{orders[3].Bags[0].ID, orders[3].Bags[1].ID})
	nine := int64(9)
	equal(t, "bags of merchant 9", len(findBags(tote.BagFilter{MerchantID: &nine})), 5)
	ref := orders[1].Bags[0].ID
	equal(t, "bag by id", findBags(tote.BagFilter{ID: &ref, Sort: tote.BagSortTotal}), []int64{ref})
	fin := tote.FinancialStatusAuthorized
	equal(t, "other app's bags never show", len(findBags(tote.BagFilter{FinancialStatus: &fin})), 10)
}
