package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/toteorg/tote"
	"github.com/toteorg/tote/api"
	"github.com/toteorg/tote/storetest"
	"github.com/toteorg/tote/tenant"
)

func TestMain(m *testing.M) {
	storetest.ReportPostgres()
	os.Exit(m.Run())
}

const adminKey = "test-admin-key"

// bundle is one running server and what a test needs to talk to it.
type bundle struct {
	t      *testing.T
	url    string
	store  tote.Store
	logs   *syncBuffer
	appID  int64
	secret string
}

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func setup(t *testing.T, open storetest.Opener, adminKey string) *bundle {
	t.Helper()
	store := open(t)
	logs := &syncBuffer{}
	log := slog.New(api.LogHandler{Handler: slog.NewJSONHandler(logs, nil)})
	apps := &tenant.Service{Store: store, Clock: tote.SystemClock{}}
	srv := &api.Server{Store: store, Apps: apps, Clock: tote.SystemClock{}, Logger: log, AdminKey: adminKey}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	app, secret, err := apps.CreateApp(t.Context(), tenant.CreateAppParams{Name: "channel"})
	if err != nil {
		t.Fatal(err)
	}
	return &bundle{t: t, url: ts.URL, store: store, logs: logs, appID: app.ID, secret: secret}
}

// response is what a call got back, already checked against the OpenAPI
// document.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("response is not a JSON object: %v: %s", err, r.body)
	}
	return m
}

// do sends a request and holds the response to the OpenAPI document.
func (b *bundle) do(method, path string, body io.Reader, header map[string]string) response {
	b.t.Helper()
	req, err := http.NewRequestWithContext(b.t.Context(), method, b.url+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	got, err := io.ReadAll(res.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	r := response{status: res.StatusCode, header: res.Header, body: got}
	checkAgainstOpenAPI(b.t, method, path, r)
	return r
}

func (b *bundle) admin() map[string]string {
	return map[string]string{"Authorization": "Bearer " + adminKey}
}

func (b *bundle) app() map[string]string {
	return map[string]string{"X-Violet-App-Id": fmt.Sprint(b.appID), "X-Violet-App-Secret": b.secret}
}

func wantError(t *testing.T, r response, status int, code string) map[string]any {
	t.Helper()
	if r.status != status {
		t.Fatalf("status = %d, want %d: %s", r.status, status, r.body)
	}
	m := r.json(t)
	if m["code"] != float64(status) || m["error"] != code || m["message"] == "" {
		t.Fatalf("error body = %s, want code %d and error %q with a message", r.body, status, code)
	}
	return m
}

func TestHealth(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, open storetest.Opener) {
		b := setup(t, open, adminKey)
		if r := b.do("GET", "/healthz", nil, nil); r.status != 200 {
			t.Fatalf("healthz = %d", r.status)
		}
		if r := b.do("GET", "/readyz", nil, nil); r.status != 200 {
			t.Fatalf("readyz = %d", r.status)
		}
		b.store.Close()
		wantError(t, b.do("GET", "/readyz", nil, nil), 503, "unavailable")
	})
}

func TestAppAuthentication(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, open storetest.Opener) {
		b := setup(t, open, adminKey)
		// Right credentials get past authentication (to a 404 here, as no
		// app route is implemented at this path).
		r := b.do("GET", "/v1/orders/1", nil, b.app())
		wantError(t, r, 404, "not_found")

		cases := map[string]map[string]string{
			"NoHeaders":    nil,
			"WrongSecret":  {"X-Violet-App-Id": fmt.Sprint(b.appID), "X-Violet-App-Secret": b.secret + "x"},
			"UnknownApp":   {"X-Violet-App-Id": fmt.Sprint(b.appID + 100), "X-Violet-App-Secret": b.secret},
			"BadAppID":     {"X-Violet-App-Id": "abc", "X-Violet-App-Secret": b.secret},
			"NoSecret":     {"X-Violet-App-Id": fmt.Sprint(b.appID)},
			"AdminKeyOnly": b.admin(),
		}
		for name, h := range cases {
			t.Run(name, func(t *testing.T) {
				wantError(t, b.do("GET", "/v1/orders/1", nil, h), 401, "unauthorized")
				wantError(t, b.do("POST", "/v1/orders", strings.NewReader(`{`), h), 401, "unauthorized")
			})
		}
	})
}

func TestAdminRoutes(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, open storetest.Opener) {
		b := setup(t, open, adminKey)
		t.Run("OK", func(t *testing.T) {
			r := b.do("POST", "/v1/admin/apps", strings.NewReader(`{"name": "Shop", "commission_rate": 12.5}`), b.admin())
			if r.status != 201 {
				t.Fatalf("create app = %d: %s", r.status, r.body)
			}
			app := r.json(t)
			if app["name"] != "Shop" || app["commission_rate"] != 12.5 || !strings.HasPrefix(app["secret"].(string), "tote_sk_") {
				t.Fatalf("app = %s", r.body)
			}
			// The new app's credentials work.
			h := map[string]string{"X-Violet-App-Id": fmt.Sprint(app["id"]), "X-Violet-App-Secret": app["secret"].(string)}
			wantError(t, b.do("GET", "/v1/anything", nil, h), 404, "not_found")
		})
		t.Run("WrongKey", func(t *testing.T) {
			wantError(t, b.do("POST", "/v1/admin/apps", strings.NewReader(`{"name":"x"}`), map[string]string{"Authorization": "Bearer nope"}), 401, "unauthorized")
			wantError(t, b.do("POST", "/v1/admin/apps", strings.NewReader(`{"name":"x"}`), b.app()), 401, "unauthorized")
			wantError(t, b.do("POST", "/v1/admin/apps", strings.NewReader(`{"name":"x"}`), map[string]string{"Authorization": adminKey}), 401, "unauthorized")
		})
		t.Run("SchemeAnyCase", func(t *testing.T) {
			// The scheme's name is case-insensitive (RFC 9110).
			r := b.do("POST", "/v1/admin/apps", strings.NewReader(`{"name":"lower"}`), map[string]string{"Authorization": "bearer " + adminKey})
			if r.status != 201 {
				t.Fatalf("with \"bearer\": %d %s", r.status, r.body)
			}
		})
		t.Run("ErrNameRequired", func(t *testing.T) {
			m := wantError(t, b.do("POST", "/v1/admin/apps", strings.NewReader(`{"name": "  "}`), b.admin()), 422, "invalid")
			if fields := m["errors"].([]any); fields[0].(map[string]any)["field"] != "name" {
				t.Fatalf("errors = %v, want the name field", fields)
			}
		})
		t.Run("ErrCommissionRate", func(t *testing.T) {
			for _, rate := range []string{"-1", "101", "10.555", `"ten"`} {
				m := wantError(t, b.do("POST", "/v1/admin/apps", strings.NewReader(`{"name": "x", "commission_rate": `+rate+`}`), b.admin()), 422, "invalid")
				if !strings.Contains(m["message"].(string), "commission_rate") {
					t.Fatalf("rate %s: message %q does not name the field", rate, m["message"])
				}
			}
		})
		t.Run("ErrWrongType", func(t *testing.T) {
			m := wantError(t, b.do("POST", "/v1/admin/apps", strings.NewReader(`{"name": 5}`), b.admin()), 422, "invalid")
			if !strings.Contains(m["message"].(string), "name") {
				t.Fatalf("message %q does not name the field", m["message"])
			}
		})
		t.Run("ErrMalformed", func(t *testing.T) {
			for _, body := range []string{`{"name": `, ``, `not json`, `{"name": "a"} trailing`} {
				wantError(t, b.do("POST", "/v1/admin/apps", strings.NewReader(body), b.admin()), 400, "malformed")
			}
		})
		t.Run("ErrTooLarge", func(t *testing.T) {
			big := `{"name": "` + strings.Repeat("a", api.MaxBodyBytes) + `"}`
			wantError(t, b.do("POST", "/v1/admin/apps", strings.NewReader(big), b.admin()), 413, "too_large")
			// Without a Content-Length (chunked), the limit still holds.
			wantError(t, b.do("POST", "/v1/admin/apps", io.MultiReader(strings.NewReader(big)), b.admin()), 413, "too_large")
			// With an Idempotency-Key, the body is read up front: same answer.
			h := b.admin()
			h["Idempotency-Key"] = "big"
			wantError(t, b.do("POST", "/v1/admin/apps", io.MultiReader(strings.NewReader(big)), h), 413, "too_large")
		})
		t.Run("ErrDisabled", func(t *testing.T) {
			closed := setup(t, open, "")
			wantError(t, closed.do("POST", "/v1/admin/apps", strings.NewReader(`{"name":"x"}`), closed.admin()), 403, "forbidden")
		})
	})
}

func TestIdempotencyKey(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, open storetest.Opener) {
		b := setup(t, open, adminKey)
		h := b.admin()
		h["Idempotency-Key"] = "create-shop-1"
		first := b.do("POST", "/v1/admin/apps", strings.NewReader(`{"name": "Shop"}`), h)
		if first.status != 201 {
			t.Fatalf("first = %d", first.status)
		}
		again := b.do("POST", "/v1/admin/apps", strings.NewReader(`{"name": "Shop"}`), h)
		if again.status != 201 || !bytes.Equal(again.body, first.body) || again.header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("retry = %d %s (replayed %q), want the first response again", again.status, again.body, again.header.Get("Idempotent-Replayed"))
		}
		wantError(t, b.do("POST", "/v1/admin/apps", strings.NewReader(`{"name": "Other"}`), h), 409, "conflict")

		// Refused requests are remembered too: the same error comes back.
		h["Idempotency-Key"] = "bad-1"
		wantError(t, b.do("POST", "/v1/admin/apps", strings.NewReader(`{"name": ""}`), h), 422, "invalid")
		wantError(t, b.do("POST", "/v1/admin/apps", strings.NewReader(`{"name": ""}`), h), 422, "invalid")

		h["Idempotency-Key"] = strings.Repeat("k", 256)
		m := wantError(t, b.do("POST", "/v1/admin/apps", strings.NewReader(`{"name": "x"}`), h), 422, "invalid")
		if !strings.Contains(m["message"].(string), "Idempotency-Key") {
			t.Fatalf("message %q does not name the header", m["message"])
		}

		// Concurrent duplicates: one app is created, every caller gets it.
		h["Idempotency-Key"] = "concurrent"
		var wg sync.WaitGroup
		bodies := make([]string, 8)
		for i := range bodies {
			wg.Go(func() {
				r := b.do("POST", "/v1/admin/apps", strings.NewReader(`{"name": "Racer"}`), h)
				bodies[i] = fmt.Sprint(r.status, " ", string(r.body))
			})
		}
		wg.Wait()
		for _, body := range bodies[1:] {
			if body != bodies[0] {
				t.Fatalf("concurrent duplicates got different answers:\n%s\n%s", bodies[0], body)
			}
		}
		if !strings.HasPrefix(bodies[0], "201 ") {
			t.Fatalf("concurrent create = %s", bodies[0])
		}
	})
}

func TestObservability(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, open storetest.Opener) {
		b := setup(t, open, adminKey)
		h := b.admin()
		h["X-Request-Id"] = "req-abc-123"
		r := b.do("POST", "/v1/admin/apps", strings.NewReader(`{"name": "Shop"}`), h)
		if got := r.header.Get("X-Request-Id"); got != "req-abc-123" {
			t.Fatalf("X-Request-Id = %q", got)
		}
		if r := b.do("GET", "/healthz", nil, nil); r.header.Get("X-Request-Id") == "" {
			t.Fatal("no request id generated")
		}
		found := false
		for _, line := range strings.Split(strings.TrimSpace(b.logs.String()), "\n") {
			var rec map[string]any
			if err := json.Unmarshal([]byte(line), &rec); err != nil {
				t.Fatalf("log line is not JSON: %s", line)
			}
			if rec["request_id"] == nil {
				t.Fatalf("log line without request_id: %s", line)
			}
			found = found || rec["request_id"] == "req-abc-123"
		}
		if !found {
			t.Fatal("no log line carries the request's id")
		}
		storetest.InsertJobs(t, b.store, "k", 2, storetest.T0, 3)
		m := string(b.do("GET", "/metrics", nil, nil).body)
		for _, want := range []string{
			`tote_http_requests_total{code="201",method="POST",route="POST /v1/admin/apps"} 1`,
			`tote_http_request_duration_seconds_count{method="POST",route="POST /v1/admin/apps"} 1`,
			`tote_jobs{state="available"} 2`,
			`tote_jobs_oldest_due_age_seconds `,
			`tote_webhook_deliveries_due 0`,
			`tote_webhook_deliveries_oldest_due_age_seconds 0`,
		} {
			if !strings.Contains(m, want) {
				t.Errorf("metrics lack %q", want)
			}
		}
	})
}

// TestNULCharacters: text PostgreSQL cannot store is refused as bad input on
// both stores, never a 500.
func TestNULCharacters(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, open storetest.Opener) {
		b := setup(t, open, adminKey)
		m := wantError(t, b.do("POST", "/v1/admin/apps", strings.NewReader(`{"name": "a\u0000b"}`), b.admin()), 422, "invalid")
		if fields := m["errors"].([]any); fields[0].(map[string]any)["field"] != "name" {
			t.Fatalf("errors = %v, want the name field", fields)
		}
		h := b.admin()
		h["Idempotency-Key"] = "caf\xc3\xa9"
		wantError(t, b.do("POST", "/v1/admin/apps", strings.NewReader(`{"name": "x"}`), h), 422, "invalid")
	})
}
