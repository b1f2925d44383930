package sandbox_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/toteorg/tote"
	"github.com/toteorg/tote/platform/sandbox"
)

// TestConnectorAnswers holds the connector's reading of each kind of answer
// against a scripted server.
func TestConnectorAnswers(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	tests := []struct {
		name       string
		status     int
		header     map[string]string
		body       string
		wantKind   string // "" for success
		wantType   string
		wantMsg    string
		wantSku    int64
		wantRetry  time.Duration
		wantExtID  string
		wantStatus string
	}{
		{name: "created", status: 201, body: `{"external_id":"sbx_ord_9","reference":"r","status":"ACCEPTED","date_created":"2026-03-04T05:06:07Z"}`,
			wantExtID: "sbx_ord_9", wantStatus: "ACCEPTED"},
		{name: "existing", status: 200, body: `{"external_id":"sbx_ord_9","reference":"r","status":"BACKORDERED"}`,
			wantExtID: "sbx_ord_9", wantStatus: "BACKORDERED"},
		{name: "2xx without a readable order", status: 200, body: `<html>`, wantKind: tote.PlatformUnknown},
		{name: "2xx without an external id", status: 200, body: `{}`, wantKind: tote.PlatformUnknown},
		{name: "429 with seconds", status: 429, header: map[string]string{"Retry-After": "7"}, body: `{"type":"EXTERNAL_SUBMIT_CART","message":"slow down"}`,
			wantKind: tote.PlatformRetryable, wantType: "EXTERNAL_SUBMIT_CART", wantMsg: "slow down", wantRetry: 7 * time.Second},
		{name: "503 with a date", status: 503, header: map[string]string{"Retry-After": now.Add(90 * time.Second).Format(http.TimeFormat)},
			wantKind: tote.PlatformRetryable, wantType: "EXTERNAL_SUBMIT_CART", wantMsg: "sandbox platform answered 503 Service Unavailable", wantRetry: 90 * time.Second},
		{name: "500", status: 500, body: `oops`, wantKind: tote.PlatformRetryable},
		{name: "408", status: 408, wantKind: tote.PlatformRetryable},
		{name: "409 out of stock", status: 409, body: `{"type":"EXTERNAL_ADD_ITEM","message":"Not enough items available. Only 0 left","sku_id":42}`,
			wantKind: tote.PlatformRejected, wantType: "EXTERNAL_ADD_ITEM", wantMsg: "Not enough items available. Only 0 left", wantSku: 42},
		{name: "422 without a type", status: 422, body: `{"message":"no"}`, wantKind: tote.PlatformRejected, wantType: "EXTERNAL_SUBMIT_CART", wantMsg: "no"},
		{name: "404", status: 404, wantKind: tote.PlatformRejected, wantType: "EXTERNAL_SUBMIT_CART"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get(sandbox.KeyHeader) != "k" || r.Method != "POST" || r.URL.Path != "/base/orders" {
					t.Errorf("request %s %s with key %q", r.Method, r.URL, r.Header.Get(sandbox.KeyHeader))
				}
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tt.status)
				w.Write([]byte(tt.body))
			}))
			defer srv.Close()
			c := &sandbox.Connector{BaseURL: srv.URL + "/base/", Key: "k", Clock: tote.ClockFunc(func() time.Time { return now })}
			rec, err := c.Submit(context.Background(), order(1, "r", tote.PlatformLine{SkuID: 1, Quantity: 1, Price: 1}))
			if tt.wantKind == "" {
				if err != nil || rec.ExternalID != tt.wantExtID || rec.Status != tt.wantStatus {
					t.Fatalf("submit = %+v, %v", rec, err)
				}
				return
			}
			pe := platformError(t, err, tt.wantKind, tt.wantType)
			if (tt.wantMsg != "" && pe.Message != tt.wantMsg) || pe.RetryAfter != tt.wantRetry || pe.SkuID != tt.wantSku {
				t.Fatalf("error = %+v, want message %q, retry after %v", pe, tt.wantMsg, tt.wantRetry)
			}
		})
	}
}

func TestConnectorLookupAnswers(t *testing.T) {
	t.Parallel()
	status := map[string]int{"found": 200, "absent": 404, "broken": 502}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ref := r.URL.Query().Get("reference")
		if r.Method != "GET" || r.URL.Path != "/orders" || r.URL.Query().Get("merchant_id") != "3" {
			t.Errorf("request %s %s", r.Method, r.URL)
		}
		w.WriteHeader(status[ref])
		if ref == "found" {
			w.Write([]byte(`{"external_id":"sbx_ord_1","reference":"found","status":"ACCEPTED"}`))
		}
	}))
	defer srv.Close()
	c := &sandbox.Connector{BaseURL: srv.URL, Key: "k"}
	ctx := context.Background()
	if rec, err := c.Lookup(ctx, 3, "found"); err != nil || rec.ExternalID != "sbx_ord_1" || rec.Reference != "found" {
		t.Fatalf("found: %+v, %v", rec, err)
	}
	if _, err := c.Lookup(ctx, 3, "absent"); !errors.Is(err, tote.ErrNotFound) {
		t.Fatalf("absent: err = %v, want ErrNotFound", err)
	}
	_, err := c.Lookup(ctx, 3, "broken")
	if errors.Is(err, tote.ErrNotFound) {
		t.Fatal("a failed lookup claimed the order does not exist")
	}
	platformError(t, err, tote.PlatformRetryable, "")
}

// TestConnectorUnreachable: nothing listening is a retryable failure (the
// request never left), unlike a timeout after it was sent.
func TestConnectorUnreachable(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c := &sandbox.Connector{BaseURL: "http://" + addr, Key: "k", Timeout: time.Second}
	_, err = c.Submit(context.Background(), order(1, "r", tote.PlatformLine{SkuID: 1, Quantity: 1, Price: 1}))
	platformError(t, err, tote.PlatformRetryable, "EXTERNAL_SUBMIT_CART")
	_, err = c.Lookup(context.Background(), 1, "r")
	platformError(t, err, tote.PlatformRetryable, "")

	// The caller's own cancellation after sending is also an unknown outcome.
	hold := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-hold:
		}
	}))
	defer srv.Close()
	defer close(hold)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	c = &sandbox.Connector{BaseURL: srv.URL, Key: "k"}
	_, err = c.Submit(ctx, order(1, "r", tote.PlatformLine{SkuID: 1, Quantity: 1, Price: 1}))
	platformError(t, err, tote.PlatformUnknown, "")
}
