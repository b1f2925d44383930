package sandbox_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"testing"

	"github.com/toteorg/tote"
	"github.com/toteorg/tote/platform/sandbox"
	"github.com/toteorg/tote/storetest"
)

func TestOperatorOrders(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, open storetest.Opener) {
		b := setup(t, open)
		m := storetest.SandboxMerchant(t, b.store, tote.SandboxBehaviour{})
		sku := storetest.StockedSKU(t, b.store, m.ID, 5)
		rec, err := b.conn.Submit(context.Background(), order(m.ID, "bag-1", line(sku, 2)))
		if err != nil {
			t.Fatalf("submit: %v", err)
		}
		p := &sandbox.Platform{Store: b.store}
		routes := p.OperatorRoutes()
		if len(routes) != 1 || routes[0].Pattern() != "GET /v1/sandbox/merchants/{merchant_id}/orders" {
			t.Fatalf("routes = %+v", routes)
		}
		srv := httptest.NewServer(p.OperatorHandler())
		defer srv.Close()

		get := func(merchant string) (int, any) {
			t.Helper()
			resp, err := http.Get(srv.URL + "/v1/sandbox/merchants/" + merchant + "/orders")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var v any
			if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
				t.Fatalf("decode: %v", err)
			}
			return resp.StatusCode, v
		}
		code, got := get(strconv.FormatInt(m.ID, 10))
		want := []any{map[string]any{
			"external_id": rec.ExternalID, "reference": "bag-1", "status": "ACCEPTED",
			"skus":  []any{map[string]any{"sku_id": float64(sku.ID), "name": sku.Name, "quantity": float64(2), "price": float64(sku.Price)}},
			"total": float64(2 * sku.Price), "currency": "USD", "fulfillments": []any{}, "refunds": []any{},
			"date_created": "2026-03-04T05:06:07.123456Z",
		}}
		if code != 200 || !reflect.DeepEqual(got, want) {
			t.Fatalf("orders = %d %#v\nwant %#v", code, got, want)
		}

		other := storetest.SandboxMerchant(t, b.store, tote.SandboxBehaviour{})
		if code, got := get(strconv.FormatInt(other.ID, 10)); code != 200 || !reflect.DeepEqual(got, []any{}) {
			t.Fatalf("orders of a merchant with none = %d %#v, want []", code, got)
		}
		if code, got := get("999999"); code != 404 || got.(map[string]any)["error"] != "not_found" {
			t.Fatalf("unknown merchant = %d %v", code, got)
		}
		if code, got := get("abc"); code != 404 || got.(map[string]any)["error"] != "not_found" {
			t.Fatalf("a merchant id that is not a number = %d %v, want 404 as every other path id", code, got)
		}
	})
}
