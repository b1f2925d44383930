package main_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/toteorg/tote"
	"github.com/toteorg/tote/api/apitest"
	"github.com/toteorg/tote/storetest"
)

// shop is a running server with an app and helpers to place orders.
type shop struct {
	t     *testing.T
	srv   *server
	admin map[string]string
	app   map[string]string
}

func jsonOf(t *testing.T, body string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatalf("not a JSON object: %v: %s", err, body)
	}
	return m
}

func openShop(t *testing.T, srv *server) *shop {
	t.Helper()
	s := &shop{t: t, srv: srv, admin: map[string]string{"Authorization": "Bearer e2e-admin"}}
	code, body := post(t, srv.url+"/v1/admin/apps", `{"name": "Channel"}`, s.admin)
	if code != 201 {
		t.Fatalf("create app: %d %s", code, body)
	}
	app := jsonOf(t, body)
	s.app = map[string]string{"X-Violet-App-Id": fmt.Sprint(app["id"]), "X-Violet-App-Secret": app["secret"].(string)}
	return s
}

// merchant creates a sandbox merchant with the given behaviour and one SKU
// and shipping method, and returns the bag of an order for it.
func (s *shop) merchant(sandbox string) (merchantID float64, bag string) {
	s.t.Helper()
	code, body := post(s.t, s.srv.url+"/v1/admin/merchants", `{"name": "M", "platform": "SANDBOX", "currency": "USD", "sandbox": `+sandbox+`}`, s.admin)
	if code != 201 {
		s.t.Fatalf("create merchant: %d %s", code, body)
	}
	m := jsonOf(s.t, body)["id"].(float64)
	code, body = post(s.t, fmt.Sprintf("%s/v1/admin/merchants/%.0f/skus", s.srv.url, m), `{"name": "Widget", "price": 1500, "inventory": 100}`, s.admin)
	if code != 201 {
		s.t.Fatalf("create sku: %d %s", code, body)
	}
	sku := jsonOf(s.t, body)["id"].(float64)
	code, body = post(s.t, fmt.Sprintf("%s/v1/admin/merchants/%.0f/shipping_methods", s.srv.url, m), `{"label": "Ground", "carrier": "UPS", "price": 500, "type": "FLAT_RATE_PRICE"}`, s.admin)
	if code != 201 {
		s.t.Fatalf("create shipping method: %d %s", code, body)
	}
	sm := jsonOf(s.t, body)["shipping_method_id"].(float64)
	return m, fmt.Sprintf(`{"skus": [{"sku_id": %.0f, "quantity": 2}], "shipping_method": {"shipping_method_id": %.0f}}`, sku, sm)
}

var freeShipping = regexp.MustCompile(`"shipping_method": \{[^}]*\}`)

func dos(appOrderID string, bags ...string) string {
	return `{"payment_method": {"token": "tok_visa"}, "order": {"app_order_id": "` + appOrderID + `",
		"customer": {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com"},
		"shipping_address": {"address_1": "1 Main St", "city": "Springfield", "state": "IL", "postal_code": "62701", "country": "US"},
		"bags": [` + strings.Join(bags, ",") + `]}}`
}

func (s *shop) place(body string) (int, map[string]any) {
	s.t.Helper()
	code, out := post(s.t, s.srv.url+"/v1/orders", body, s.app)
	return code, jsonOf(s.t, out)
}

func (s *shop) order(id any) map[string]any {
	s.t.Helper()
	code, out := get(s.t, fmt.Sprintf("%s/v1/orders/%v", s.srv.url, id), s.app)
	if code != 200 {
		s.t.Fatalf("get order %v: %d %s", id, code, out)
	}
	return jsonOf(s.t, out)
}

// platformOrders is what the sandbox platform holds for a merchant.
func (s *shop) platformOrders(merchant float64) []any {
	s.t.Helper()
	code, out := get(s.t, fmt.Sprintf("%s/v1/sandbox/merchants/%.0f/orders", s.srv.url, merchant), s.admin)
	if code != 200 {
		s.t.Fatalf("sandbox orders: %d %s", code, out)
	}
	var list []any
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		s.t.Fatal(err)
	}
	return list
}

func bags(o map[string]any) []map[string]any {
	var out []map[string]any
	for _, b := range o["bags"].([]any) {
		out = append(out, b.(map[string]any))
	}
	return out
}

func sumTotals(bs []map[string]any, live bool) float64 {
	var sum float64
	for _, b := range bs {
		if !live || b["status"] != "REJECTED" {
			sum += b["total"].(float64)
		}
	}
	return sum
}

func transactions(o map[string]any, typ string) (sum float64, n int) {
	for _, t := range o["payment_transactions"].([]any) {
		if tx := t.(map[string]any); tx["type"] == typ {
			sum += tx["amount"].(float64)
			n++
		}
	}
	return sum, n
}

// TestDirectOrderSubmission walks the "done" list on each store.
func TestDirectOrderSubmission(t *testing.T) {
	t.Parallel()
	storetest.EachKind(t, func(t *testing.T, k storetest.Kind) {
		flag, value := k.URL(t)
		s := openShop(t, serve(t, flag, value, "--platform-timeout", "300ms", "--submission-retry-delay", "20ms", "--submission-attempts", "3",
			"--reconcile-interval", "1s"))
		// The server's database, opened beside it, for what the API does not show.
		var store tote.Store
		if flag == "--data-dir" {
			store = storetest.OpenSQLiteAt(t, filepath.Join(value, "tote.db"))
		} else {
			store = storetest.OpenPostgresAt(t, value)
		}

		t.Run("TwoMerchants", func(t *testing.T) {
			m1, bag1 := s.merchant(`{"submit": "ACCEPT"}`)
			m2, bag2 := s.merchant(`{"submit": "ACCEPT"}`)
			code, o := s.place(dos("two-merchants", bag1, bag2))
			if code != 200 || o["status"] != "COMPLETED" {
				t.Fatalf("DOS = %d %v", code, o)
			}
			// The job that accepted the last bag settled the order; the
			// settle job written as its safety net was completed with the
			// capture, so none is left waiting.
			waiting, err := store.ClaimJobs(context.Background(), tote.ClaimJobsParams{Worker: "test", Kinds: []string{"settle_order"},
				Limit: 10, Now: time.Now().Add(time.Hour), Lease: time.Minute})
			if err != nil || len(waiting) != 0 {
				t.Fatalf("settle jobs left waiting after the order completed: %d (%v)", len(waiting), err)
			}
			bs := bags(o)
			for _, b := range bs {
				if b["status"] != "ACCEPTED" || b["financial_status"] != "PAID" || b["external_id"] == nil {
					t.Fatalf("bag %v: %v %v external id %v", b["id"], b["status"], b["financial_status"], b["external_id"])
				}
			}
			if o["total"].(float64) != sumTotals(bs, false) || o["total"].(float64) != 2*(3000+500) {
				t.Fatalf("order total %v, bags %v", o["total"], sumTotals(bs, false))
			}
			if captured, _ := transactions(o, "CAPTURE"); captured != o["total"] {
				t.Fatalf("captured %v of %v", captured, o["total"])
			}
			for _, m := range []float64{m1, m2} {
				if n := len(s.platformOrders(m)); n != 1 {
					t.Fatalf("merchant %v's platform holds %d orders", m, n)
				}
			}
			code, out := post(t, s.srv.url+"/v1/orders/search", `{"app_order_id": "two-merchants"}`, s.app)
			if found := jsonOf(t, out); code != 200 || found["total_elements"] != 1.0 {
				t.Fatalf("search = %d %s", code, out)
			}
			code, out = post(t, s.srv.url+"/v1/orders/bags/search", fmt.Sprintf(`{"order_id": %v}`, o["id"]), s.app)
			found := jsonOf(t, out)
			if code != 200 || found["total_elements"] != 2.0 {
				t.Fatalf("bag search = %d %s", code, out)
			}
			for _, b := range found["content"].([]any) {
				if ts := b.(map[string]any)["transactions"].([]any); len(ts) != 2 { // authorization, capture
					t.Fatalf("bag search: bag %v has transactions %v", b.(map[string]any)["id"], ts)
				}
			}
			if got := s.order(o["id"]); got["status"] != "COMPLETED" || len(bags(got)) != 2 {
				t.Fatalf("GET = %v", got)
			}
		})

		t.Run("LongestIdempotencyKey", func(t *testing.T) {
			// A key of the longest length allowed (255) places the order,
			// and a retry with it replays the answer: the authorization's
			// own key, derived from it, must fit the provider's limit too.
			_, bag := s.merchant(`{"submit": "ACCEPT"}`)
			h := maps.Clone(s.app)
			h["Idempotency-Key"] = strings.Repeat("k", 255)
			body := dos("longest-key", bag)
			code, first := post(t, s.srv.url+"/v1/orders", body, h)
			if code != 200 || jsonOf(t, first)["status"] != "COMPLETED" {
				t.Fatalf("DOS with a 255-character key = %d %s", code, first)
			}
			code, again := post(t, s.srv.url+"/v1/orders", body, h)
			if code != 200 || again != first {
				t.Fatalf("the retry = %d %s, want the first answer replayed", code, again)
			}
		})

		t.Run("OneMerchantRejects", func(t *testing.T) {
			_, ok := s.merchant(`{"submit": "ACCEPT"}`)
			_, no := s.merchant(`{"submit": "REJECT"}`)
			code, o := s.place(dos("one-rejects", ok, no))
			if code != 200 || o["status"] != "COMPLETED" {
				t.Fatalf("DOS = %d %v", code, o)
			}
			bs := bags(o)
			if bs[0]["status"] != "ACCEPTED" || bs[1]["status"] != "REJECTED" || bs[1]["financial_status"] != "VOIDED" {
				t.Fatalf("bags: %v, %v/%v", bs[0]["status"], bs[1]["status"], bs[1]["financial_status"])
			}
			errs := o["errors"].([]any)
			if len(errs) != 1 || errs[0].(map[string]any)["type"] != "EXTERNAL_SUBMIT_CART" || errs[0].(map[string]any)["bag_id"] != bs[1]["id"] {
				t.Fatalf("errors = %v", errs)
			}
			if o["total"].(float64) != bs[0]["total"].(float64) {
				t.Fatalf("order total %v, want only the accepted bag's %v", o["total"], bs[0]["total"])
			}
			if captured, n := transactions(o, "CAPTURE"); captured != bs[0]["total"] || n != 1 {
				t.Fatalf("captured %v in %d transactions, want only the accepted bag's %v", captured, n, bs[0]["total"])
			}
		})

		t.Run("SingleMerchantRejects", func(t *testing.T) {
			m, no := s.merchant(`{"submit": "REJECT"}`)
			code, body := s.place(dos("single-rejects", no))
			if code != 422 || body["error"] != "rejected" {
				t.Fatalf("DOS = %d %v, want 422", code, body)
			}
			code, out := post(t, s.srv.url+"/v1/orders/search", `{"app_order_id": "single-rejects"}`, s.app)
			page := jsonOf(t, out)
			if code != 200 || page["total_elements"] != 1.0 {
				t.Fatalf("search = %d %s", code, out)
			}
			o := page["content"].([]any)[0].(map[string]any)
			if o["status"] != "REJECTED" || bags(o)[0]["financial_status"] != "VOIDED" {
				t.Fatalf("order %v, bag %v", o["status"], bags(o)[0]["financial_status"])
			}
			if voided, _ := transactions(o, "VOID"); voided != bags(o)[0]["total"] {
				t.Fatalf("voided %v", voided)
			}
			if n := len(s.platformOrders(m)); n != 0 {
				t.Fatalf("the rejecting platform holds %d orders", n)
			}
		})

		t.Run("EveryBagRejected", func(t *testing.T) {
			_, no1 := s.merchant(`{"submit": "REJECT"}`)
			_, no2 := s.merchant(`{"submit": "REJECT"}`)
			code, body := s.place(dos("all-reject", no1, no2))
			if code != 422 || body["error"] != "rejected" {
				t.Fatalf("DOS = %d %v, want 422", code, body)
			}
			_, out := post(t, s.srv.url+"/v1/orders/search", `{"app_order_id": "all-reject"}`, s.app)
			o := jsonOf(t, out)["content"].([]any)[0].(map[string]any)
			if o["status"] != "REJECTED" || o["total"] != sumTotals(bags(o), false) {
				t.Fatalf("order %v with total %v, bags %v", o["status"], o["total"], sumTotals(bags(o), false))
			}
			if voided, _ := transactions(o, "VOID"); voided != o["total"] {
				t.Fatalf("voided %v of %v", voided, o["total"])
			}
		})

		t.Run("Backorder", func(t *testing.T) {
			_, bag := s.merchant(`{"submit": "ACCEPT", "backorder": true}`)
			code, o := s.place(dos("backorder", bag))
			if code != 200 || o["status"] != "COMPLETED" || bags(o)[0]["status"] != "BACKORDERED" {
				t.Fatalf("DOS = %d %v, bag %v", code, o["status"], bags(o)[0]["status"])
			}
		})

		t.Run("Cartless", func(t *testing.T) {
			// The cartless merchant takes its bag without confirming it;
			// Tote asks again and the order completes within the wait.
			m1, cartless := s.merchant(`{"submit": "ACCEPT", "cartless": true}`)
			_, plain := s.merchant(`{"submit": "ACCEPT"}`)
			code, o := s.place(dos("cartless", cartless, plain))
			if code != 200 || o["status"] != "COMPLETED" {
				t.Fatalf("DOS = %d %v", code, o["status"])
			}
			for _, b := range bags(o) {
				if b["status"] != "ACCEPTED" || b["financial_status"] != "PAID" || b["external_id"] == nil {
					t.Fatalf("bag %v: %v %v external id %v", b["id"], b["status"], b["financial_status"], b["external_id"])
				}
			}
			list := s.platformOrders(m1)
			if len(list) != 1 || list[0].(map[string]any)["status"] != "ACCEPTED" ||
				list[0].(map[string]any)["external_id"] != bags(o)[0]["external_id"] {
				t.Fatalf("the cartless platform holds %v; want one confirmed order, the bag's", list)
			}
		})

		t.Run("RetriesExhausted", func(t *testing.T) {
			m, flaky := s.merchant(`{"submit": "FAIL_RETRYABLE", "fail_times": 100}`)
			code, o := s.place(dos("exhausted", flaky))
			if code != 200 || bags(o)[0]["status"] != "IN_PROGRESS" {
				t.Fatalf("after the first attempt: %d, bag %v", code, bags(o)[0]["status"])
			}
			deadline := time.Now().Add(20 * time.Second)
			for o["status"] != "REJECTED" && time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond)
				o = s.order(o["id"])
			}
			errs := o["errors"].([]any)
			last := errs[len(errs)-1].(map[string]any)
			if o["status"] != "REJECTED" || bags(o)[0]["status"] != "REJECTED" || len(errs) != 3 ||
				last["type"] != "EXTERNAL_SUBMIT_CART" || !strings.Contains(last["message"].(string), "after 3 attempts") {
				t.Fatalf("order %v, bag %v, errors %v; want REJECTED after 3 attempts", o["status"], bags(o)[0]["status"], errs)
			}
			if n := len(s.platformOrders(m)); n != 0 {
				t.Fatalf("the platform holds %d orders", n)
			}
		})

		t.Run("OutOfStock", func(t *testing.T) {
			_, bag := s.merchant(`{"submit": "ACCEPT"}`) // 100 in stock
			code, body := s.place(dos("out-of-stock", strings.Replace(bag, `"quantity": 2`, `"quantity": 101`, 1)))
			if code != 422 || body["error"] != "rejected" || !strings.Contains(body["message"].(string), "Not enough items") {
				t.Fatalf("DOS = %d %v, want 422 with the platform's message", code, body)
			}
			_, out := post(t, s.srv.url+"/v1/orders/search", `{"app_order_id": "out-of-stock"}`, s.app)
			o := jsonOf(t, out)["content"].([]any)[0].(map[string]any)
			// The error is the SKU's (VIOLET-FACTS: entity_id is the SKU id
			// when SKU-related).
			if e := o["errors"].([]any)[0].(map[string]any); e["type"] != "EXTERNAL_ADD_ITEM" || e["entity_type"] != "SKU" ||
				e["entity_id"] != fmt.Sprint(bags(o)[0]["skus"].([]any)[0].(map[string]any)["sku_id"]) {
				t.Fatalf("error = %v, want EXTERNAL_ADD_ITEM of the SKU", e)
			}
		})

		t.Run("TimeoutNeverDuplicates", func(t *testing.T) {
			m, slow := s.merchant(`{"submit": "TIMEOUT"}`)
			code, o := s.place(dos("timeout", slow))
			if code != 200 {
				t.Fatalf("DOS = %d %v", code, o)
			}
			deadline := time.Now().Add(20 * time.Second)
			for o["status"] != "COMPLETED" && time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond)
				o = s.order(o["id"])
			}
			if o["status"] != "COMPLETED" || bags(o)[0]["status"] != "ACCEPTED" {
				t.Fatalf("after the timeout the order is %v, bag %v", o["status"], bags(o)[0]["status"])
			}
			if n := len(s.platformOrders(m)); n != 1 {
				t.Fatalf("the platform holds %d orders for one bag", n)
			}
		})

		t.Run("BadInput", func(t *testing.T) {
			_, bag := s.merchant(`{"submit": "ACCEPT"}`)
			code, out := post(t, s.srv.url+"/v1/orders/search", `{}`, s.app)
			before := jsonOf(t, out)["total_elements"]
			cases := map[string]struct {
				body  string
				code  int
				field string
			}{
				"UnknownSKU":   {dos("bad", `{"skus": [{"sku_id": 999999, "quantity": 1}], "shipping_method": {"label": "x", "price": 0}}`), 422, "order.bags[0].skus[0].sku_id"},
				"ZeroQuantity": {dos("bad", strings.Replace(bag, `"quantity": 2`, `"quantity": 0`, 1)), 422, "order.bags[0].skus[0].quantity"},
				"NoEmail":      {strings.Replace(dos("bad", bag), `"email": "ada@example.com"`, `"email": ""`, 1), 422, "order.customer.email"},
				"Declined":     {strings.Replace(dos("bad", bag), "tok_visa", "tok_chargeDeclined", 1), 422, "payment_method.token"},
				"Malformed":    {`{"order": `, 400, ""},
				"FreeBag": {dos("bad", freeShipping.ReplaceAllString(strings.Replace(bag, `"quantity": 2}]`, `"quantity": 1, "price": 0}]`, 1),
					`"shipping_method": {"label": "Free", "price": 0}`)), 422, "order.bags[0]"},
				"HugeShipping": {dos("bad", `{"skus": [{"sku_id": 1, "quantity": 1}], "shipping_method": {"label": "x", "price": 9223372036854775807}}`), 422, "order.bags[0].shipping_method.price"},
				// Over-long text (random, so it does not compress: PostgreSQL
				// would refuse to index it) is refused with the field's name.
				"LongAppOrderID": {dos(randomText(3000), bag), 422, "order.app_order_id"},
				"LongEmail": {strings.Replace(dos("bad", bag), `"email": "ada@example.com"`, `"email": "`+randomText(300)+`@example.com"`, 1),
					422, "order.customer.email"},
				// A value of the wrong type is named with its indexes.
				"QuantityAsText": {dos("bad", bag, strings.Replace(bag, `"quantity": 2`, `"quantity": "2"`, 1)), 422, "order.bags[1].skus[0].quantity"},
			}
			for name, c := range cases {
				code, body := s.place(c.body)
				if code != c.code {
					t.Errorf("%s: %d %v, want %d", name, code, body, c.code)
					continue
				}
				if c.field != "" {
					fields, _ := body["errors"].([]any)
					if len(fields) == 0 || fields[0].(map[string]any)["field"] != c.field {
						t.Errorf("%s: errors %v, want field %s", name, body["errors"], c.field)
					}
				}
			}
			code, out = post(t, s.srv.url+"/v1/orders/search", `{}`, s.app)
			if after := jsonOf(t, out)["total_elements"]; code != 200 || after != before {
				t.Fatalf("bad requests left orders behind: %v before, %v after", before, after)
			}
			// Another app's order is a 404.
			other := openShop(t, s.srv)
			code, body := s.place(dos("mine", bag))
			if code != 200 {
				t.Fatalf("DOS = %d %v", code, body)
			}
			if code, _ := get(t, fmt.Sprintf("%s/v1/orders/%v", s.srv.url, body["id"]), other.app); code != 404 {
				t.Fatalf("another app's order = %d, want 404", code)
			}
		})
	})
}

// TestRetriesSurviveRestart: a bag whose platform fails twice is retried in
// the background; the server is killed between attempts, restarted, and the
// bag is still accepted, with exactly one order on the platform.
func TestRetriesSurviveRestart(t *testing.T) {
	t.Parallel()
	storetest.EachKind(t, func(t *testing.T, k storetest.Kind) {
		flag, value := k.URL(t)
		// The kill may land before the first attempt's outcome is recorded
		// (the order answers first); the job is then rescued when its lease
		// ends, so keep the lease short.
		args := []string{flag, value, "--submission-retry-delay", "1s", "--job-poll-interval", "100ms", "--job-lease", "2s"}
		first := serve(t, args...)
		s := openShop(t, first)
		m, flaky := s.merchant(`{"submit": "FAIL_RETRYABLE", "fail_times": 2}`)
		code, o := s.place(dos("flaky", flaky))
		if code != 200 || bags(o)[0]["status"] != "IN_PROGRESS" || len(o["errors"].([]any)) != 1 {
			t.Fatalf("after the first attempt: %d, bag %v, errors %v", code, bags(o)[0]["status"], o["errors"])
		}
		// Kill it before the retry is due (1 s, ±25%).
		first.cmd.Process.Signal(syscall.SIGKILL)
		<-first.done
		first.done <- nil

		second := serve(t, args...)
		s.srv = second
		deadline := time.Now().Add(30 * time.Second)
		for o["status"] != "COMPLETED" && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
			o = s.order(o["id"])
		}
		if o["status"] != "COMPLETED" || bags(o)[0]["status"] != "ACCEPTED" {
			t.Fatalf("after the restart: order %v, bag %v, errors %v", o["status"], bags(o)[0]["status"], o["errors"])
		}
		if n := len(s.platformOrders(m)); n != 1 {
			t.Fatalf("the platform holds %d orders for one bag", n)
		}
		if errs := o["errors"].([]any); len(errs) != 2 {
			t.Fatalf("errors = %v, want one per failed attempt", errs)
		}
	})
}

// TestPaymentPaths: 3-D Secure leaves the order waiting for the shopper;
// a failed capture sends it back to IN_PROGRESS with its payment voided;
// an estimate prices without creating anything.
func TestPaymentPaths(t *testing.T) {
	t.Parallel()
	storetest.EachKind(t, func(t *testing.T, k storetest.Kind) {
		flag, value := k.URL(t)
		s := openShop(t, serve(t, flag, value))
		m, bag := s.merchant(`{"submit": "ACCEPT"}`)

		code, o := s.place(strings.Replace(dos("3ds", bag), "tok_visa", "tok_threeDSecureRequired", 1))
		if code != 200 || o["status"] != "REQUIRES_ACTION" || o["payment_intent_client_secret"] == nil {
			t.Fatalf("3-D Secure: %d %v, secret %v", code, o["status"], o["payment_intent_client_secret"])
		}
		if n := len(s.platformOrders(m)); n != 0 {
			t.Fatalf("a bag went to the merchant before the payment was authorized (%d orders)", n)
		}
		// The channel submits again before the shopper has acted: nothing
		// changes. After the shopper confirms, submitting again sends the
		// bag and the order completes; a third submit is a conflict.
		// It keeps its Idempotency-Key: an answer that changed nothing is
		// not kept under it, so the same key submits once the shopper acts.
		submit := fmt.Sprintf("%s/v1/checkout/cart/%v/submit", s.srv.url, o["id"])
		keyed := maps.Clone(s.app)
		keyed["Idempotency-Key"] = "submit-3ds"
		code, out := post(t, submit, `{"app_order_id": "3ds-done"}`, keyed)
		if again := jsonOf(t, out); code != 200 || again["status"] != "REQUIRES_ACTION" || bags(again)[0]["version"] != bags(o)[0]["version"] || again["app_order_id"] != o["app_order_id"] {
			t.Fatalf("submit before the shopper acted = %d %s", code, out)
		}
		code, out = post(t, fmt.Sprintf("%s/v1/sandbox/payment_intents/%s/confirm", s.srv.url, o["payment_intent_client_secret"]), `{}`, s.admin)
		if code != 200 {
			t.Fatalf("confirm = %d %s", code, out)
		}
		// The channel's retry races a second submit (no key): one goes
		// through, the other is a conflict, the bag goes out once.
		answers := make(chan [2]any, 2)
		for _, h := range []map[string]string{keyed, s.app} {
			go func() { // no t.Fatal off the test's goroutine
				req, _ := http.NewRequest("POST", submit, strings.NewReader(`{"app_order_id": "3ds-done"}`))
				for k, v := range h {
					req.Header.Set(k, v)
				}
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					answers <- [2]any{0, err.Error()}
					return
				}
				defer res.Body.Close()
				body, _ := io.ReadAll(res.Body)
				answers <- [2]any{res.StatusCode, string(body)}
			}()
		}
		var done map[string]any
		for range 2 {
			a := <-answers
			code, out := a[0].(int), a[1].(string)
			if code != 0 {
				apitest.Check(t, "POST", strings.TrimPrefix(submit, s.srv.url), code, []byte(out))
			}
			switch {
			case code == 200 && done == nil:
				done = jsonOf(t, out)
			case code == 409 && strings.Contains(out, "only an order waiting for its shopper"):
			default:
				t.Fatalf("concurrent submits: %d %s", code, out)
			}
		}
		if done == nil || done["status"] != "COMPLETED" || done["app_order_id"] != "3ds-done" || done["date_submitted"] == o["date_submitted"] {
			t.Fatalf("submit after the shopper acted: %v", done)
		}
		if b := bags(done)[0]; b["status"] != "ACCEPTED" || b["financial_status"] != "PAID" || b["external_id"] == nil {
			t.Fatalf("after 3-D Secure: bag %v/%v, external id %v", b["status"], b["financial_status"], b["external_id"])
		}
		if captured, n := transactions(done, "CAPTURE"); n != 1 || captured != done["total"] {
			t.Fatalf("after 3-D Secure: captured %v in %d transactions, total %v", captured, n, done["total"])
		}
		if n := len(s.platformOrders(m)); n != 1 {
			t.Fatalf("the platform holds %d orders for the bag", n)
		}
		// The cart is the order.
		code, cart := get(t, strings.TrimSuffix(submit, "/submit"), s.app)
		if _, order := get(t, fmt.Sprintf("%s/v1/orders/%v", s.srv.url, o["id"]), s.app); code != 200 || cart != order {
			t.Fatalf("GET cart = %d %s\nGET order = %s", code, cart, order)
		}
		if code, out = post(t, submit, ``, s.app); code != 409 {
			t.Fatalf("submit of a completed order = %d %s, want 409", code, out)
		}
		if code, out = post(t, fmt.Sprintf("%s/v1/checkout/cart/%v/submit", s.srv.url, 1<<40), ``, s.app); code != 404 {
			t.Fatalf("submit of an unknown order = %d %s, want 404", code, out)
		}

		code, o = s.place(strings.Replace(dos("capture-fails", bag), "tok_visa", "tok_captureFails", 1))
		if code != 200 || o["status"] != "IN_PROGRESS" || o["payment_method"] != nil {
			t.Fatalf("failed capture: %d %v, payment method %v", code, o["status"], o["payment_method"])
		}
		if b := bags(o)[0]; b["status"] != "ACCEPTED" || b["financial_status"] != "VOIDED" {
			t.Fatalf("failed capture: bag %v/%v", b["status"], b["financial_status"])
		}
		if errs := o["errors"].([]any); len(errs) != 1 || errs[0].(map[string]any)["type"] != "EXTERNAL_SET_PAYMENT_METHOD" {
			t.Fatalf("failed capture: errors %v", errs)
		}
		// Without a payment method left, submitting again is refused.
		code, out = post(t, fmt.Sprintf("%s/v1/checkout/cart/%v/submit", s.srv.url, o["id"]), ``, s.app)
		if errs, _ := jsonOf(t, out)["errors"].([]any); code != 422 || len(errs) != 1 || !strings.Contains(out, "No payment method on Cart") {
			t.Fatalf("submit without a payment method = %d %s", code, out)
		}
		if again := s.order(o["id"]); again["status"] != "IN_PROGRESS" || again["date_last_modified"] != o["date_last_modified"] {
			t.Fatalf("a refused submit changed the order: %v", again)
		}

		code, out = post(t, s.srv.url+"/v1/orders/search", `{}`, s.app)
		before := jsonOf(t, out)["total_elements"]
		var b struct {
			Skus []map[string]any `json:"skus"`
		}
		json.Unmarshal([]byte(bag), &b)
		skus, _ := json.Marshal(b.Skus)
		code, out = post(t, s.srv.url+"/v1/orders/estimate", `{"skus": `+string(skus)+`, "shipping_address": {"address_1": "1 Main St", "city": "Springfield", "state": "IL", "postal_code": "62701", "country": "US"}}`, s.app)
		est := jsonOf(t, out)
		carts, _ := est["estimated_carts"].([]any)
		if code != 200 || len(carts) != 1 || carts[0].(map[string]any)["total"] != 3500.0 || carts[0].(map[string]any)["merchant_id"] != m {
			t.Fatalf("estimate = %d %s", code, out)
		}
		// An error names the field of the estimate's own request.
		code, out = post(t, s.srv.url+"/v1/orders/estimate", `{"base_currency": "EUR", "skus": `+string(skus)+`, "shipping_address": {"address_1": "1 Main St", "city": "Springfield", "state": "IL", "postal_code": "62701", "country": "US"}}`, s.app)
		if errs, _ := jsonOf(t, out)["errors"].([]any); code != 422 || len(errs) == 0 || errs[0].(map[string]any)["field"] != "skus[0].sku_id" {
			t.Fatalf("estimate in another currency = %d %s, want 422 naming skus[0].sku_id", code, out)
		}
		code, out = post(t, s.srv.url+"/v1/orders/search", `{}`, s.app)
		if jsonOf(t, out)["total_elements"] != before {
			t.Fatal("an estimate created an order")
		}
	})
}

// randomText is n characters of random base32.
func randomText(n int) string {
	var b strings.Builder
	for b.Len() < n {
		b.WriteString(rand.Text())
	}
	return b.String()[:n]
}
