package api_test

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/toteorg/tote"
	"github.com/toteorg/tote/api"
	"github.com/toteorg/tote/storetest"
	"github.com/toteorg/tote/tenant"
	"github.com/toteorg/tote/webhook"
)

// setupWebhooks is setup with the webhook service; allowPrivate is
// --webhook-allow-private.
func setupWebhooks(t *testing.T, open storetest.Opener, allowPrivate bool) *bundle {
	t.Helper()
	store := open(t)
	logs := &syncBuffer{}
	log := slog.New(api.LogHandler{Handler: slog.NewJSONHandler(logs, nil)})
	clock := tote.SystemClock{}
	apps := &tenant.Service{Store: store, Clock: clock}
	srv := &api.Server{Store: store, Apps: apps, Clock: clock, Logger: log, AdminKey: adminKey,
		Webhooks: &webhook.Service{Store: store, Clock: clock, AllowPrivate: allowPrivate, Bodies: api.EventBodies{},
			Sender: &webhook.Sender{Client: webhook.NewClient(5*time.Second, allowPrivate), Clock: clock, AllowPrivate: allowPrivate}}}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	app, secret, err := apps.CreateApp(t.Context(), tenant.CreateAppParams{Name: "channel"})
	if err != nil {
		t.Fatal(err)
	}
	return &bundle{t: t, url: ts.URL, store: store, logs: logs, appID: app.ID, secret: secret}
}

func (b *bundle) otherApp() map[string]string {
	b.t.Helper()
	app, secret, err := (&tenant.Service{Store: b.store, Clock: tote.SystemClock{}}).CreateApp(b.t.Context(), tenant.CreateAppParams{Name: "other"})
	if err != nil {
		b.t.Fatal(err)
	}
	return map[string]string{"X-Violet-App-Id": fmt.Sprint(app.ID), "X-Violet-App-Secret": secret}
}

func wantField(t *testing.T, r response, field string) {
	t.Helper()
	m := wantError(t, r, 422, "invalid")
	fields, _ := m["errors"].([]any)
	if len(fields) == 0 || fields[0].(map[string]any)["field"] != field {
		t.Fatalf("errors = %v, want the field %s", m["errors"], field)
	}
}

func TestWebhookSubscriptions(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, open storetest.Opener) {
		b := setupWebhooks(t, open, false)
		r := b.do("POST", "/v1/events/webhooks", strings.NewReader(`{"event": "ORDER_CANCELED", "remote_endpoint": "https://hooks.example.com/tote"}`), b.app())
		if r.status != 201 {
			t.Fatalf("create = %d %s", r.status, r.body)
		}
		w := r.json(t)
		if w["event"] != "ORDER_CANCELLED" || w["status"] != "ACTIVE" || w["ordered"] != true || w["app_id"] != float64(b.appID) ||
			!strings.HasPrefix(w["signing_secret"].(string), "whsec_") || w["remote_endpoint"] != "https://hooks.example.com/tote" {
			t.Fatalf("created %s", r.body)
		}
		path := fmt.Sprintf("/v1/events/webhooks/%.0f", w["id"])

		t.Run("ErrFields", func(t *testing.T) {
			for body, field := range map[string]string{
				`{"remote_endpoint": "https://hooks.example.com/x"}`:                                       "event",
				`{"event": "ORDER_EXPLODED", "remote_endpoint": "https://hooks.example.com/x"}`:            "event",
				`{"event": "ORDER_UPDATED"}`:                                                               "remote_endpoint",
				`{"event": "ORDER_UPDATED", "remote_endpoint": "http://hooks.example.com/x"}`:              "remote_endpoint",
				`{"event": "ORDER_UPDATED", "remote_endpoint": "https://127.0.0.1:8443/x"}`:                "remote_endpoint",
				`{"event": "ORDER_UPDATED", "remote_endpoint": "https://169.254.169.254/x"}`:               "remote_endpoint",
				`{"event": "ORDER_UPDATED", "remote_endpoint": "not a url"}`:                               "remote_endpoint",
				`{"event": "ORDER_UPDATED", "remote_endpoint": "https://a.example", "status": "DISABLED"}`: "status",
				`{"event": "ORDER_UPDATED", "remote_endpoint": "https://a.example", "ordered": "yes"}`:     "ordered",
				`{"event": 7, "remote_endpoint": "https://a.example"}`:                                     "event",
			} {
				wantField(t, b.do("POST", "/v1/events/webhooks", strings.NewReader(body), b.app()), field)
			}
			wantError(t, b.do("POST", "/v1/events/webhooks", strings.NewReader(`{"event": `), b.app()), 400, "malformed")
			wantField(t, b.do("PUT", path, strings.NewReader(`{"remote_endpoint": "http://hooks.example.com/x"}`), b.app()), "remote_endpoint")
			wantField(t, b.do("PUT", path, strings.NewReader(`{"status": "DISABLED"}`), b.app()), "status")
		})

		t.Run("ListGetUpdate", func(t *testing.T) {
			b.do("POST", "/v1/events/webhooks", strings.NewReader(`{"event": "ORDER_SHIPPED", "remote_endpoint": "https://hooks.example.com/ship", "status": "INACTIVE", "ordered": false}`), b.app())
			r := b.do("GET", "/v1/events/webhooks?size=1", nil, b.app())
			page := r.json(t)
			if r.status != 200 || page["total_elements"] != 2.0 || page["number_of_elements"] != 1.0 || page["last"] != false {
				t.Fatalf("list = %d %s", r.status, r.body)
			}
			r = b.do("GET", path, nil, b.app())
			if r.status != 200 || r.json(t)["id"] != w["id"] {
				t.Fatalf("get = %d %s", r.status, r.body)
			}
			r = b.do("PUT", path, strings.NewReader(`{"status": "INACTIVE", "ordered": false, "event": "ORDER_REFUNDED"}`), b.app())
			got := r.json(t)
			if r.status != 200 || got["status"] != "INACTIVE" || got["ordered"] != false || got["event"] != "ORDER_REFUNDED" ||
				got["signing_secret"] != w["signing_secret"] || got["remote_endpoint"] != w["remote_endpoint"] {
				t.Fatalf("update = %d %s", r.status, r.body)
			}
			if r := b.do("GET", "/v1/events/webhooks?size=500", nil, b.app()); r.status != 200 || r.json(t)["size"] != 100.0 {
				t.Fatalf("size 500 = %d %s, want served as 100", r.status, r.body)
			}
			wantError(t, b.do("GET", "/v1/events/webhooks?size=0", nil, b.app()), 422, "invalid")
		})

		t.Run("AnotherApps", func(t *testing.T) {
			other := b.otherApp()
			wantError(t, b.do("GET", path, nil, other), 404, "not_found")
			wantError(t, b.do("PUT", path, strings.NewReader(`{"status": "ACTIVE"}`), other), 404, "not_found")
			wantError(t, b.do("DELETE", path, nil, other), 404, "not_found")
			wantError(t, b.do("GET", path+"/events", nil, other), 404, "not_found")
			wantError(t, b.do("POST", path+"/events/evt_x/resend", nil, other), 404, "not_found")
			wantError(t, b.do("POST", path+"/simulate", strings.NewReader(`{"event_type": "ORDER_UPDATED"}`), other), 404, "not_found")
			if r := b.do("GET", "/v1/events/webhooks", nil, other); r.json(t)["total_elements"] != 0.0 {
				t.Fatalf("another app lists %s", r.body)
			}
			wantError(t, b.do("GET", "/v1/events/webhooks/abc", nil, b.app()), 404, "not_found")
			wantError(t, b.do("GET", "/v1/events/webhooks", nil, nil), 401, "unauthorized")
		})

		t.Run("Twice", func(t *testing.T) {
			// An endpoint subscribed to one event twice (spelled either
			// way) has two subscriptions, each with its own secret.
			var subs []map[string]any
			for _, event := range []string{"ORDER_CANCELED", "ORDER_CANCELLED"} {
				r := b.do("POST", "/v1/events/webhooks", strings.NewReader(`{"event": "`+event+`", "remote_endpoint": "https://hooks.example.com/twice"}`), b.app())
				if r.status != 201 {
					t.Fatalf("subscribe %s = %d %s", event, r.status, r.body)
				}
				subs = append(subs, r.json(t))
			}
			if subs[0]["id"] == subs[1]["id"] || subs[1]["event"] != "ORDER_CANCELLED" || subs[0]["signing_secret"] == subs[1]["signing_secret"] {
				t.Fatalf("two subscriptions: %v", subs)
			}
			for _, sub := range subs {
				if r := b.do("DELETE", fmt.Sprintf("/v1/events/webhooks/%.0f", sub["id"]), nil, b.app()); r.status != 204 {
					t.Fatalf("delete = %d %s", r.status, r.body)
				}
			}
		})

		t.Run("Delete", func(t *testing.T) {
			r := b.do("POST", "/v1/events/webhooks", strings.NewReader(`{"event": "ORDER_DELIVERED", "remote_endpoint": "https://hooks.example.com/gone"}`), b.app())
			p := fmt.Sprintf("/v1/events/webhooks/%.0f", r.json(t)["id"])
			if r := b.do("DELETE", p, nil, b.app()); r.status != 204 {
				t.Fatalf("delete = %d %s", r.status, r.body)
			}
			wantError(t, b.do("GET", p, nil, b.app()), 404, "not_found")
			wantError(t, b.do("DELETE", p, nil, b.app()), 404, "not_found")
		})
	})
}

func TestWebhookLogResendSimulate(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, open storetest.Opener) {
		b := setupWebhooks(t, open, true)
		var mu sync.Mutex
		var got []http.Header
		var bodies [][]byte
		status := 200
		rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			mu.Lock()
			defer mu.Unlock()
			got, bodies = append(got, r.Header.Clone()), append(bodies, body)
			w.WriteHeader(status)
		}))
		t.Cleanup(rcv.Close)
		r := b.do("POST", "/v1/events/webhooks", strings.NewReader(`{"event": "ORDER_UPDATED", "remote_endpoint": "`+rcv.URL+`/hook"}`), b.app())
		if r.status != 201 {
			t.Fatalf("create with --webhook-allow-private = %d %s", r.status, r.body)
		}
		path := fmt.Sprintf("/v1/events/webhooks/%.0f", r.json(t)["id"])

		o := storetest.Order(t, b.store, b.appID, 1)
		evs := storetest.Events(t, b.store, o, tote.EventOrderUpdated, o.Bags[0].ID, o.Bags[0].ID)
		r = b.do("GET", path+"/events", nil, b.app())
		page := r.json(t)
		content := page["content"].([]any)
		if r.status != 200 || page["total_elements"] != 2.0 || len(content) != 2 {
			t.Fatalf("log = %d %s", r.status, r.body)
		}
		newest := content[0].(map[string]any)
		if newest["event_id"] != evs[1].ID || newest["status"] != "CREATED" || newest["entity_id"] != fmt.Sprint(o.ID) ||
			newest["bag_id"] != float64(o.Bags[0].ID) || newest["attempts"] != 0.0 || newest["date_next_attempt"] != nil {
			t.Fatalf("newest delivery (waiting for the first) = %v", newest)
		}

		r = b.do("POST", path+"/events/"+evs[0].ID+"/resend", nil, b.app())
		if r.status != 202 || r.json(t)["event_id_source"] != evs[0].ID || r.json(t)["event_id"] == evs[0].ID {
			t.Fatalf("resend = %d %s", r.status, r.body)
		}
		for _, id := range []string{"evt_unknown", "ab%00cd", "ab%FFcd"} { // PostgreSQL refuses NUL and invalid UTF-8
			wantError(t, b.do("POST", path+"/events/"+id+"/resend", nil, b.app()), 404, "not_found")
		}

		r = b.do("POST", path+"/simulate", strings.NewReader(fmt.Sprintf(`{"event_type": "ORDER_SHIPPED", "order_id": %d}`, o.ID)), b.app())
		res := r.json(t)
		if r.status != 200 || res["status"] != "SUCCEEDED" || res["status_code"] != 200.0 || res["event_type"] != "ORDER_SHIPPED" {
			t.Fatalf("simulate = %d %s", r.status, r.body)
		}
		mu.Lock()
		h := got[len(got)-1]
		mu.Unlock()
		if h.Get("X-Violet-Order-Id") != fmt.Sprint(o.ID) || h.Get("X-Violet-Simulated") != "true" || h.Get("X-Violet-Hmac") == "" ||
			h.Get("webhook-signature") == "" || h.Get("X-Violet-Event-Id") != res["event_id"] {
			t.Fatalf("simulated request headers %v", h)
		}
		// A payment event carries a payment transaction, not the order.
		r = b.do("POST", path+"/simulate", strings.NewReader(`{"event_type": "PAYMENT_TRANSACTION_CAPTURE_STATUS_CAPTURED"}`), b.app())
		if r.status != 200 || r.json(t)["status"] != "SUCCEEDED" {
			t.Fatalf("simulate a payment event = %d %s", r.status, r.body)
		}
		mu.Lock()
		var tr map[string]any
		if err := json.Unmarshal(bodies[len(bodies)-1], &tr); err != nil || tr["type"] != "CAPTURE" || tr["amount"] != 3500.0 ||
			tr["status"] != "COMPLETED" || tr["bags"] != nil || tr["id"] != float64(webhook.SampleID) {
			t.Fatalf("simulated payment event body %s (%v)", bodies[len(bodies)-1], err)
		}
		status = 500
		mu.Unlock()
		r = b.do("POST", path+"/simulate", strings.NewReader(`{"event_type": "ORDER_UPDATED"}`), b.app())
		if res := r.json(t); r.status != 200 || res["status"] != "FAILED" || res["status_code"] != 500.0 || res["error"] == nil {
			t.Fatalf("simulate to a failing endpoint = %d %s", r.status, r.body)
		}
		// Without an order, a sample one: positive ids no store hands out,
		// and the order headers of a real order event.
		mu.Lock()
		h = got[len(got)-1]
		var sample map[string]any
		err := json.Unmarshal(bodies[len(bodies)-1], &sample)
		mu.Unlock()
		sampleID := fmt.Sprint(webhook.SampleID)
		if err != nil || fmt.Sprint(sample["id"]) != fmt.Sprint(float64(webhook.SampleID)) || h.Get("X-Violet-Order-Id") != sampleID ||
			h.Get("X-Violet-Bag-Id") != sampleID || h.Get("X-Violet-Simulated") != "true" {
			t.Fatalf("simulated sample order: headers %v, body %v (%v)", h, sample, err)
		}
		wantField(t, b.do("POST", path+"/simulate", strings.NewReader(`{"event_type": "NOPE"}`), b.app()), "event_type")
		wantField(t, b.do("POST", path+"/simulate", strings.NewReader(`{}`), b.app()), "event_type")
		wantError(t, b.do("POST", path+"/simulate", strings.NewReader(`{"event_type": "ORDER_UPDATED", "order_id": 999999}`), b.app()), 404, "not_found")

		// Resend needs an ACTIVE subscription.
		b.do("PUT", path, strings.NewReader(`{"status": "INACTIVE"}`), b.app())
		wantError(t, b.do("POST", path+"/events/"+evs[0].ID+"/resend", nil, b.app()), 409, "conflict")
	})
}
