package api_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/toteorg/tote/storetest"
)

// TestBagSearchSort: sort_by takes the bag's field names in snake_case, as
// the rest of the JSON, or in the camelCase of the API Tote follows, and
// sort_direction either case; anything else is a 422 naming the field.
func TestBagSearchSort(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, open storetest.Opener) {
		b := setupWebhooks(t, open, false)
		o := storetest.Order(t, b.store, b.appID, 1, 2) // bag totals 1000 and 2000
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
			`{"sort_by": "sub_total", "sort_direction": "asc"}`:          {1000, 2000},
			`{"sort_by": "subTotal", "sort_direction": "DESC"}`:          {2000, 1000},
			`{"sort_by": "total", "sort_direction": "Asc"}`:              {1000, 2000},
			`{"sort_by": "date_created", "sort_direction": "desc"}`:      {2000, 1000}, // the second bag was created last
			`{"sort_by": "date_last_modified", "sort_direction": "ASC"}`: {1000, 2000},
		} {
			if got := search(body); !slices.Equal(got, want) {
				t.Errorf("%s: sub totals %v, want %v", body, got, want)
			}
		}
		if o.Bags[0].ID > o.Bags[1].ID {
			t.Fatalf("bags numbered out of creation order: %d, %d", o.Bags[0].ID, o.Bags[1].ID)
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
