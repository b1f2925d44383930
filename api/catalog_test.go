package api_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/toteorg/tote/storetest"
)

// fieldsOf returns the field names of a 422 body.
func fieldsOf(t *testing.T, m map[string]any) []string {
	t.Helper()
	var out []string
	list, _ := m["errors"].([]any)
	for _, f := range list {
		out = append(out, f.(map[string]any)["field"].(string))
	}
	return out
}

func wantInvalidFields(t *testing.T, r response, fields ...string) {
	t.Helper()
	m := wantError(t, r, 422, "invalid")
	got := fieldsOf(t, m)
	if strings.Join(got, ",") != strings.Join(fields, ",") {
		t.Fatalf("invalid fields = %v, want %v: %s", got, fields, r.body)
	}
}

// created posts body as the operator and returns the 201 response's JSON.
func (b *bundle) created(path, body string) map[string]any {
	b.t.Helper()
	r := b.do("POST", path, strings.NewReader(body), b.admin())
	if r.status != 201 {
		b.t.Fatalf("POST %s = %d: %s", path, r.status, r.body)
	}
	return r.json(b.t)
}

func id(m map[string]any, key string) string { return fmt.Sprint(int64(m[key].(float64))) }

func TestMerchantRoutes(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, open storetest.Opener) {
		b := setup(t, open, adminKey)
		m := b.created("/v1/admin/merchants", `{"name": "Acme", "platform": "SANDBOX", "currency": "USD",
			"commission_rate": 12.5, "sandbox": {"submit": "FAIL_RETRYABLE", "fail_times": 2, "push_events": false}}`)
		sb := m["sandbox"].(map[string]any)
		if m["name"] != "Acme" || m["platform"] != "SANDBOX" || m["currency"] != "USD" || m["commission_rate"] != 12.5 ||
			sb["submit"] != "FAIL_RETRYABLE" || sb["fail_times"] != 2.0 || sb["push_events"] != false {
			t.Fatalf("merchant = %v", m)
		}
		mid := id(m, "id")
		plain := b.created("/v1/admin/merchants", `{"name": "Plain", "platform": "SANDBOX", "currency": "USD", "external_id": "plain"}`)
		if plain["commission_rate"] != nil || plain["sandbox"].(map[string]any)["submit"] != "ACCEPT" ||
			plain["sandbox"].(map[string]any)["push_events"] != true || plain["external_id"] != "plain" {
			t.Fatalf("defaults = %v", plain)
		}

		t.Run("Get", func(t *testing.T) {
			r := b.do("GET", "/v1/admin/merchants/"+mid, nil, b.admin())
			got := r.json(t)
			if r.status != 200 || got["name"] != "Acme" || len(got["shipping_methods"].([]any)) != 0 || len(got["tax_rates"].([]any)) != 0 {
				t.Fatalf("GET merchant = %d %s", r.status, r.body)
			}
		})
		t.Run("List", func(t *testing.T) {
			r := b.do("GET", "/v1/admin/merchants?size=1&page=2", nil, b.admin())
			page := r.json(t)
			content := page["content"].([]any)
			if r.status != 200 || len(content) != 1 || content[0].(map[string]any)["name"] != "Plain" ||
				page["total_elements"] != 2.0 || page["total_pages"] != 2.0 || page["first"] != false || page["last"] != true {
				t.Fatalf("page 2 = %d %s", r.status, r.body)
			}
			r = b.do("GET", "/v1/admin/merchants", nil, b.admin())
			if page := r.json(t); page["size"] != 20.0 || page["number"] != 1.0 || page["number_of_elements"] != 2.0 {
				t.Fatalf("default page = %s", r.body)
			}
		})
		t.Run("Put", func(t *testing.T) {
			r := b.do("PUT", "/v1/admin/merchants/"+mid, strings.NewReader(`{"name": "Acme 2", "platform": "SANDBOX",
				"currency": "EUR", "commission_rate": "7.25", "sandbox": {"submit": "REJECT"}}`), b.admin())
			got := r.json(t)
			// The sandbox's members left out (push_events: false) keep
			// their values too.
			if sb := got["sandbox"].(map[string]any); r.status != 200 || got["name"] != "Acme 2" || got["currency"] != "EUR" ||
				got["commission_rate"] != 7.25 || sb["submit"] != "REJECT" || sb["push_events"] != false || sb["fail_times"] != 2.0 {
				t.Fatalf("PUT = %d %s", r.status, r.body)
			}
			r = b.do("GET", "/v1/admin/merchants/"+mid, nil, b.admin())
			if r.json(t)["name"] != "Acme 2" {
				t.Fatalf("after PUT: %s", r.body)
			}
			// A field left out keeps its value: the sandbox alone changes.
			r = b.do("PUT", "/v1/admin/merchants/"+mid, strings.NewReader(`{"sandbox": {"submit": "FAIL_RETRYABLE", "fail_times": 2}}`), b.admin())
			got = r.json(t)
			if sb := got["sandbox"].(map[string]any); r.status != 200 || got["name"] != "Acme 2" || got["currency"] != "EUR" ||
				got["commission_rate"] != 7.25 || sb["submit"] != "FAIL_RETRYABLE" || sb["fail_times"] != 2.0 || sb["push_events"] != false {
				t.Fatalf("PUT of the sandbox alone = %d %s", r.status, r.body)
			}
			// null clears an optional field.
			r = b.do("PUT", "/v1/admin/merchants/"+mid, strings.NewReader(`{"commission_rate": null, "sandbox": null}`), b.admin())
			got = r.json(t)
			if r.status != 200 || got["commission_rate"] != nil || got["sandbox"].(map[string]any)["submit"] != "ACCEPT" || got["name"] != "Acme 2" {
				t.Fatalf("PUT of nulls = %d %s", r.status, r.body)
			}
			wantInvalidFields(t, b.do("PUT", "/v1/admin/merchants/"+mid, strings.NewReader(`{"name": "", "platform": "", "currency": "usd"}`), b.admin()),
				"name", "platform", "currency")
			wantError(t, b.do("PUT", "/v1/admin/merchants/999999", strings.NewReader(`{"name": ""}`), b.admin()), 404, "not_found")

			// Two PUTs of different fields at once both count: each body is
			// applied to the merchant as its transaction holds it.
			for i := range 10 {
				name := fmt.Sprintf("Acme %d", i+3)
				var wg sync.WaitGroup
				wg.Go(func() {
					b.do("PUT", "/v1/admin/merchants/"+mid, strings.NewReader(`{"name": "`+name+`"}`), b.admin())
				})
				wg.Go(func() {
					b.do("PUT", "/v1/admin/merchants/"+mid, strings.NewReader(`{"sandbox": {"latency_ms": `+fmt.Sprint(i+1)+`}}`), b.admin())
				})
				wg.Wait()
				got := b.do("GET", "/v1/admin/merchants/"+mid, nil, b.admin()).json(t)
				if got["name"] != name || got["sandbox"].(map[string]any)["latency_ms"] != float64(i+1) {
					t.Fatalf("after two PUTs at once: %v; want name %s and latency %d", got, name, i+1)
				}
			}
			wantError(t, b.do("PUT", "/v1/admin/merchants/"+mid, strings.NewReader(`{"external_id": "plain", "name": "x",
				"platform": "SANDBOX", "currency": "USD"}`), b.admin()), 409, "conflict")
			wantError(t, b.do("PUT", "/v1/admin/merchants/999999", strings.NewReader(`{"name": "x", "platform": "SANDBOX",
				"currency": "USD"}`), b.admin()), 404, "not_found")
		})
		t.Run("ErrNotFound", func(t *testing.T) {
			for _, p := range []string{"999999", "abc", "0", "-1", "1.5", "99999999999999999999"} {
				wantError(t, b.do("GET", "/v1/admin/merchants/"+p, nil, b.admin()), 404, "not_found")
				wantError(t, b.do("POST", "/v1/admin/merchants/"+p+"/skus", strings.NewReader(`{"name": "x", "price": 1, "inventory": 1}`), b.admin()), 404, "not_found")
				wantError(t, b.do("POST", "/v1/admin/merchants/"+p+"/shipping_methods", strings.NewReader(`{"label": "x", "price": 1}`), b.admin()), 404, "not_found")
				wantError(t, b.do("POST", "/v1/admin/merchants/"+p+"/tax_rates", strings.NewReader(`{"country": "US", "rate": "0.1"}`), b.admin()), 404, "not_found")
			}
		})
		t.Run("ErrInvalid", func(t *testing.T) {
			for body, fields := range map[string][]string{
				`{}`: {"name", "platform", "currency"},
				`{"name": "x", "platform": "SHOPIFY", "currency": "usd"}`:                                {"platform", "currency"},
				`{"name": "x", "platform": "SANDBOX", "currency": "USD", "commission_rate": 101}`:        {"commission_rate"},
				`{"name": "x", "platform": "SANDBOX", "currency": "USD", "commission_rate": 10.555}`:     {"commission_rate"},
				`{"name": "x", "platform": "SANDBOX", "currency": "USD", "commission_rate": "ten"}`:      {"commission_rate"},
				`{"name": "x", "platform": "SANDBOX", "currency": "USD", "commission_rate": true}`:       {"commission_rate"},
				`{"name": "x", "platform": "SANDBOX", "currency": "USD", "sandbox": {"submit": "NOPE"}}`: {"sandbox.submit"},
				`{"name": "x", "platform": "SANDBOX", "currency": "USD", "sandbox": {"latency_ms": -1}}`: {"sandbox.latency_ms"},
				// Past ten minutes; as a duration it would overflow and wait not at all.
				`{"name": "x", "platform": "SANDBOX", "currency": "USD", "sandbox": {"latency_ms": 9223372036854775807}}`: {"sandbox.latency_ms"},
				`{"name": "x", "platform": "SANDBOX", "currency": "USD", "sandbox": {"fail_times": "two"}}`:               {"sandbox.fail_times"},
			} {
				wantInvalidFields(t, b.do("POST", "/v1/admin/merchants", strings.NewReader(body), b.admin()), fields...)
			}
			wantError(t, b.do("POST", "/v1/admin/merchants", strings.NewReader(`{"name": `), b.admin()), 400, "malformed")
		})
		t.Run("ErrConflict", func(t *testing.T) {
			wantError(t, b.do("POST", "/v1/admin/merchants", strings.NewReader(`{"name": "Other", "platform": "SANDBOX",
				"currency": "USD", "external_id": "plain"}`), b.admin()), 409, "conflict")
		})
		t.Run("ErrAuth", func(t *testing.T) {
			wantError(t, b.do("GET", "/v1/admin/merchants", nil, b.app()), 401, "unauthorized")
			wantError(t, b.do("POST", "/v1/admin/merchants", strings.NewReader(`{}`), nil), 401, "unauthorized")
		})
	})
}

func TestMerchantCatalogRoutes(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, open storetest.Opener) {
		b := setup(t, open, adminKey)
		m := b.created("/v1/admin/merchants", `{"name": "Acme", "platform": "SANDBOX", "currency": "USD"}`)
		base := "/v1/admin/merchants/" + id(m, "id")

		sku := b.created(base+"/skus", `{"name": "Tee", "price": 2500, "inventory": 10, "external_id": "tee"}`)
		if sku["merchant_id"] != m["id"] || sku["price"] != 2500.0 || sku["currency"] != "USD" || sku["requires_shipping"] != true ||
			sku["product_type"] != "PHYSICAL" || sku["external_id"] != "tee" || sku["weight"] != 0.0 {
			t.Fatalf("sku = %v", sku)
		}
		card := b.created(base+"/skus", `{"name": "Card", "price": 5000, "inventory": 0, "currency": "USD",
			"requires_shipping": false, "product_type": "DIGITAL", "weight": 0}`)
		if card["requires_shipping"] != false || card["product_type"] != "DIGITAL" {
			t.Fatalf("digital sku = %v", card)
		}
		wantError(t, b.do("POST", base+"/skus", strings.NewReader(`{"name": "Tee 2", "price": 1, "inventory": 1, "external_id": "tee"}`), b.admin()), 409, "conflict")
		wantInvalidFields(t, b.do("POST", base+"/skus", strings.NewReader(`{"name": "", "price": -1, "inventory": -2, "currency": "EUR"}`), b.admin()),
			"name", "price", "currency", "inventory")
		wantInvalidFields(t, b.do("POST", base+"/skus", strings.NewReader(`{"name": "x", "price": 9.99, "inventory": 1}`), b.admin()), "price")

		sm := b.created(base+"/shipping_methods", `{"label": "Standard", "carrier": "USPS", "price": 500, "type": "FLAT_RATE_PRICE", "max_subtotal": 10000}`)
		if sm["shipping_method_id"] == nil || sm["label"] != "Standard" || sm["max_subtotal"] != 10000.0 || sm["min_subtotal"] != nil {
			t.Fatalf("shipping method = %v", sm)
		}
		wantInvalidFields(t, b.do("POST", base+"/shipping_methods", strings.NewReader(`{"label": "x", "price": 1, "type": "FREE",
			"min_subtotal": 10, "max_subtotal": 5}`), b.admin()), "carrier", "type", "max_subtotal")
		// Price and inventory (and a method's price and carrier) are
		// required: absent or null is not 0.
		wantInvalidFields(t, b.do("POST", base+"/skus", strings.NewReader(`{"name": "x"}`), b.admin()), "price", "inventory")
		wantInvalidFields(t, b.do("POST", base+"/skus", strings.NewReader(`{"name": "x", "price": null, "inventory": 1}`), b.admin()), "price")
		wantInvalidFields(t, b.do("POST", base+"/shipping_methods", strings.NewReader(`{"label": "x"}`), b.admin()), "carrier", "price")

		tr := b.created(base+"/tax_rates", `{"country": "US", "state": "CA", "rate": "0.0725"}`)
		if tr["rate"] != "0.0725" || tr["country"] != "US" || tr["state"] != "CA" || tr["applies_to_shipping"] != false {
			t.Fatalf("tax rate = %v", tr)
		}
		again := b.created(base+"/tax_rates", `{"country": "US", "state": "CA", "rate": 0.08, "applies_to_shipping": true}`)
		if again["id"] != tr["id"] || again["rate"] != "0.08" {
			t.Fatalf("replaced tax rate = %v, want the same id with the new rate", again)
		}
		for body, fields := range map[string][]string{
			`{"country": "us", "rate": "0.05"}`:       {"country"},
			`{"country": "US", "rate": "7.25"}`:       {"rate"},
			`{"country": "US", "rate": "7.25%"}`:      {"rate"},
			`{"country": "US"}`:                       {"rate"},
			`{"country": "USA", "rate": "-0.01"}`:     {"country", "rate"},
			`{"country": "US", "rate": "0.12345678"}`: {"rate"},
		} {
			wantInvalidFields(t, b.do("POST", base+"/tax_rates", strings.NewReader(body), b.admin()), fields...)
		}

		r := b.do("GET", base, nil, b.admin())
		got := r.json(t)
		if len(got["shipping_methods"].([]any)) != 1 || len(got["tax_rates"].([]any)) != 1 ||
			got["tax_rates"].([]any)[0].(map[string]any)["rate"] != "0.08" {
			t.Fatalf("merchant with its catalog = %s", r.body)
		}
	})
}

func TestCatalogSKURoutes(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, open storetest.Opener) {
		b := setup(t, open, adminKey)
		m1 := b.created("/v1/admin/merchants", `{"name": "One", "platform": "SANDBOX", "currency": "USD"}`)
		m2 := b.created("/v1/admin/merchants", `{"name": "Two", "platform": "SANDBOX", "currency": "USD"}`)
		var ids []string
		for i := range 5 {
			m := m1
			if i >= 3 {
				m = m2
			}
			sku := b.created("/v1/admin/merchants/"+id(m, "id")+"/skus", fmt.Sprintf(`{"name": "SKU %d", "price": %d, "inventory": 100}`, i, 100*(i+1)))
			ids = append(ids, id(sku, "id"))
		}
		list := func(query string) map[string]any {
			t.Helper()
			r := b.do("GET", "/v1/catalog/skus"+query, nil, b.app())
			if r.status != 200 {
				t.Fatalf("GET /v1/catalog/skus%s = %d %s", query, r.status, r.body)
			}
			return r.json(t)
		}
		names := func(page map[string]any) string {
			var out []string
			for _, c := range page["content"].([]any) {
				out = append(out, c.(map[string]any)["name"].(string))
			}
			return strings.Join(out, ",")
		}

		all := list("")
		if names(all) != "SKU 0,SKU 1,SKU 2,SKU 3,SKU 4" || all["total_elements"] != 5.0 || all["total_pages"] != 1.0 ||
			all["first"] != true || all["last"] != true || all["empty"] != false || all["size"] != 20.0 {
			t.Fatalf("all skus = %v", all)
		}
		p2 := list("?merchant_id=" + id(m1, "id") + "&size=2&page=2")
		if names(p2) != "SKU 2" || p2["number"] != 2.0 || p2["size"] != 2.0 || p2["number_of_elements"] != 1.0 ||
			p2["total_elements"] != 3.0 || p2["total_pages"] != 2.0 || p2["first"] != false || p2["last"] != true {
			t.Fatalf("merchant 1, page 2 = %v", p2)
		}
		p1 := list("?merchant_id=" + id(m1, "id") + "&size=2")
		if names(p1) != "SKU 0,SKU 1" || p1["first"] != true || p1["last"] != false {
			t.Fatalf("merchant 1, page 1 = %v", p1)
		}
		if capped := list("?size=101"); capped["size"] != 100.0 || capped["total_elements"] != 5.0 || len(capped["content"].([]any)) != 5 {
			t.Fatalf("size 101 = %v, want served as 100", capped)
		}
		past := list("?page=9&size=100")
		if past["empty"] != true || len(past["content"].([]any)) != 0 || past["total_elements"] != 5.0 || past["last"] != true {
			t.Fatalf("page past the end = %v", past)
		}

		for query, field := range map[string]string{
			"?page=0": "page", "?page=-1": "page", "?page=x": "page", "?page=1.5": "page", "?page=99999999999": "page",
			"?size=0": "size", "?size=-3": "size", "?size=ten": "size",
			"?merchant_id=abc": "merchant_id", "?merchant_id=0": "merchant_id",
		} {
			m := wantError(t, b.do("GET", "/v1/catalog/skus"+query, nil, b.app()), 422, "invalid")
			if f := fieldsOf(t, m); len(f) != 1 || f[0] != field {
				t.Fatalf("%s: fields %v, want %s", query, f, field)
			}
		}
		wantError(t, b.do("GET", "/v1/catalog/skus?merchant_id=999999", nil, b.app()), 404, "not_found")

		r := b.do("GET", "/v1/catalog/skus/"+ids[3], nil, b.app())
		if sku := r.json(t); r.status != 200 || sku["name"] != "SKU 3" || sku["merchant_id"] != m2["id"] || sku["price"] != 400.0 {
			t.Fatalf("GET sku = %d %s", r.status, r.body)
		}
		for _, p := range []string{"999999", "abc", "0", "-3"} {
			wantError(t, b.do("GET", "/v1/catalog/skus/"+p, nil, b.app()), 404, "not_found")
		}
		wantError(t, b.do("GET", "/v1/catalog/skus", nil, nil), 401, "unauthorized")
		wantError(t, b.do("GET", "/v1/catalog/skus/"+ids[0], nil, b.admin()), 401, "unauthorized")
	})
}
