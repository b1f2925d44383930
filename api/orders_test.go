package api_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/toteorg/tote"
	"github.com/toteorg/tote/storetest"
)

// TestBagSearchSort: sort_by takes the bag's field names in snake_case, as
// the rest of the JSON, or in the camelCase of the API Tote follows, and
// sort_direction either case; anything else is a 422 naming the field.
func TestBagSearchSort(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, open storetest.Opener) {
		b := setupWebhooks(t, open, false)
		// The first bag (the lower id) is the larger, and the later created
		// and modified, so that no sort below is the id order.
		t0 := storetest.T0
		o := &tote.Order{AppID: b.appID, Status: tote.OrderStatusInProgress, Currency: "USD", SubTotal: 5000, Total: 5000,
			DateCreated: t0, DateLastModified: t0}
		for i, sub := range []int64{3000, 2000} {
			at := t0.Add(time.Duration(1-i) * time.Minute)
			o.Bags = append(o.Bags, &tote.Bag{MerchantID: int64(i + 1), Status: tote.BagStatusInProgress,
				FinancialStatus: tote.FinancialStatusUnpaid, FulfillmentStatus: tote.FulfillmentStatusProcessing, Version: 1,
				Currency: "USD", SubTotal: sub, Total: sub, DateCreated: at, DateLastModified: at.Add(time.Duration(1-i) * time.Hour)})
		}
		if err := b.store.InTx(t.Context(), func(tx tote.Tx) error { return tx.CreateOrder(t.Context(), o) }); err != nil {
			t.Fatal(err)
		}
		search := func(body string) []float64 {
			t.Helper()
			r := b.do("POST", "/v1/orders/bags/search", strings.NewReader(body), b.app())
			if r.status != 200 {
				t.Fatalf("%s = %d %s", body, r.status, r.body)
			}
			var totals []float64
			for _, bag := range r.json(t)["content"].([]any) {
				totals = append(totals, bag.(map[string]any)["sub_total"].(float64))
			}
			return totals
		}
		for body, want := range map[string][]float64{
			`{"sort_by": "id", "sort_direction": "asc"}`:                 {3000, 2000},
			`{"sort_by": "sub_total", "sort_direction": "asc"}`:          {2000, 3000},
			`{"sort_by": "subTotal", "sort_direction": "DESC"}`:          {3000, 2000},
			`{"sort_by": "total", "sort_direction": "Asc"}`:              {2000, 3000},
			`{"sort_by": "date_created", "sort_direction": "desc"}`:      {3000, 2000},
			`{"sort_by": "dateCreated", "sort_direction": "asc"}`:        {2000, 3000},
			`{"sort_by": "date_last_modified", "sort_direction": "ASC"}`: {2000, 3000},
		} {
			if got := search(body); !slices.Equal(got, want) {
				t.Errorf("%s: sub totals %v, want %v", body, got, want)
			}
		}
		if o.Bags[0].ID > o.Bags[1].ID {
			t.Fatalf("the first bag has the higher id: %d, %d", o.Bags[0].ID, o.Bags[1].ID)
		}
		for body, field := range map[string]string{
			`{"sort_by": "colour"}`:          "sort_by",
			`{"sort_by": "SUB_TOTAL"}`:       "sort_by",
			`{"sort_direction": "sideways"}`: "sort_direction",
			`{"sort_by": 3}`:                 "sort_by",
		} {
			wantField(t, b.do("POST", "/v1/orders/bags/search", strings.NewReader(body), b.app()), field)
		}
	})
}
