package sandbox_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/toteorg/tote"
	"github.com/toteorg/tote/payment/sandbox"
	"github.com/toteorg/tote/storetest"
)

const key = "test-payments-key"

type bundle struct {
	store    tote.Store
	provider *sandbox.Provider
	url      string
	client   *sandbox.Client
}

func setup(t *testing.T, open storetest.Opener) *bundle {
	t.Helper()
	s := open(t)
	p := &sandbox.Provider{Store: s, Key: key, Clock: tote.ClockFunc(func() time.Time { return storetest.T0 })}
	srv := httptest.NewServer(p.Handler())
	t.Cleanup(srv.Close)
	return &bundle{store: s, provider: p, url: srv.URL, client: &sandbox.Client{BaseURL: srv.URL, Key: key}}
}

func (b *bundle) authorize(t *testing.T, token, idemKey string, amount int64) *tote.PaymentIntent {
	t.Helper()
	in, err := b.client.Authorize(context.Background(), tote.AuthorizeParams{Amount: amount, Currency: "USD", Token: token, IdempotencyKey: idemKey})
	if err != nil {
		t.Fatalf("authorize with %s: %v", token, err)
	}
	return in
}

// refused checks err is a *tote.PaymentError, declined or not.
func refused(t *testing.T, err error, declined bool) *tote.PaymentError {
	t.Helper()
	var pe *tote.PaymentError
	if !errors.As(err, &pe) || pe.Declined != declined {
		t.Fatalf("err = %#v (%v), want a PaymentError with Declined %v", err, err, declined)
	}
	return pe
}

func want(t *testing.T, in *tote.PaymentIntent, err error, status string, captured, refunded int64) {
	t.Helper()
	if err != nil {
		t.Fatalf("err = %v, want a %s intent", err, status)
	}
	if in.Status != status || in.AmountCaptured != captured || in.AmountRefunded != refunded {
		t.Fatalf("intent = %+v, want %s, captured %d, refunded %d", in, status, captured, refunded)
	}
}

func TestVisa(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, open storetest.Opener) {
		b := setup(t, open)
		ctx := context.Background()
		in := b.authorize(t, sandbox.TokenVisa, "order-1", 5000)
		if !strings.HasPrefix(in.ID, "pi_sbx_") || in.ClientSecret == "" || in.Status != tote.IntentAuthorized ||
			in.Amount != 5000 || in.Currency != "USD" {
			t.Fatalf("intent = %+v", in)
		}
		got, err := b.client.Capture(ctx, in.ID, 3000) // the rest is released
		want(t, got, err, tote.IntentCaptured, 3000, 0)
		got, err = b.client.Capture(ctx, in.ID, 3000) // a retried capture
		want(t, got, err, tote.IntentCaptured, 3000, 0)
		_, err = b.client.Capture(ctx, in.ID, 4000)
		refused(t, err, false)
		got, err = b.client.Refund(ctx, in.ID, 1000)
		want(t, got, err, tote.IntentPartlyRefunded, 3000, 1000)
		got, err = b.client.Refund(ctx, in.ID, 2000)
		want(t, got, err, tote.IntentRefunded, 3000, 3000)
		got, err = b.client.Get(ctx, in.ID)
		want(t, got, err, tote.IntentRefunded, 3000, 3000)
		if *got != (tote.PaymentIntent{ID: in.ID, ClientSecret: in.ClientSecret, Status: tote.IntentRefunded, Amount: 5000,
			AmountCaptured: 3000, AmountRefunded: 3000, Currency: "USD"}) {
			t.Fatalf("intent = %+v", got)
		}
	})
}

func TestIdempotency(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, open storetest.Opener) {
		b := setup(t, open)
		ctx := context.Background()
		first := b.authorize(t, sandbox.TokenVisa, "order-1", 5000)
		again := b.authorize(t, sandbox.TokenVisa, "order-1", 5000)
		if *again != *first {
			t.Fatalf("replay = %+v, want %+v", again, first)
		}
		// The replay answers the intent as it is now.
		if _, err := b.client.Capture(ctx, first.ID, 5000); err != nil {
			t.Fatal(err)
		}
		if again := b.authorize(t, sandbox.TokenVisa, "order-1", 5000); again.ID != first.ID || again.Status != tote.IntentCaptured {
			t.Fatalf("replay after capture = %+v", again)
		}
		_, err := b.client.Authorize(ctx, tote.AuthorizeParams{Amount: 4000, Currency: "USD", Token: sandbox.TokenVisa, IdempotencyKey: "order-1"})
		if pe := refused(t, err, false); !strings.Contains(pe.Message, "other parameters") {
			t.Fatalf("reuse with another amount: %q", pe.Message)
		}
		if other := b.authorize(t, sandbox.TokenVisa, "order-2", 5000); other.ID == first.ID {
			t.Fatal("another key got the same intent")
		}
		_, err = b.client.Authorize(ctx, tote.AuthorizeParams{Amount: 4000, Currency: "USD", Token: sandbox.TokenVisa})
		refused(t, err, false)

		// Simultaneous first requests with one key: one intent.
		var wg sync.WaitGroup
		ids := make([]string, 6)
		for i := range ids {
			wg.Go(func() {
				in, err := b.client.Authorize(ctx, tote.AuthorizeParams{Amount: 700, Currency: "USD", Token: sandbox.TokenVisa, IdempotencyKey: "order-3"})
				if err != nil {
					t.Errorf("authorize: %v", err)
					return
				}
				ids[i] = in.ID
			})
		}
		wg.Wait()
		for _, id := range ids {
			if id != ids[0] {
				t.Fatalf("ids = %v, want one intent", ids)
			}
		}
	})
}

func TestDeclined(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, open storetest.Opener) {
		b := setup(t, open)
		ctx := context.Background()
		for range 2 { // a replay is declined the same way
			_, err := b.client.Authorize(ctx, tote.AuthorizeParams{Amount: 5000, Currency: "USD", Token: sandbox.TokenChargeDeclined, IdempotencyKey: "k1"})
			if pe := refused(t, err, true); pe.Message != "Your card was declined." {
				t.Fatalf("message = %q", pe.Message)
			}
		}
		_, err := b.client.Authorize(ctx, tote.AuthorizeParams{Amount: 5000, Currency: "USD", Token: "tok_bogus", IdempotencyKey: "k2"})
		if pe := refused(t, err, true); !strings.Contains(pe.Message, `"tok_bogus"`) || !strings.Contains(pe.Message, "tok_visa") {
			t.Fatalf("unknown token message = %q", pe.Message)
		}
		// A token that is no card leaves nothing behind: its key is free
		// for a real attempt (a declined card's key replays its decline).
		in, err := b.client.Authorize(ctx, tote.AuthorizeParams{Amount: 5000, Currency: "USD", Token: sandbox.TokenVisa, IdempotencyKey: "k2"})
		want(t, in, err, tote.IntentAuthorized, 0, 0)
	})
}

func TestThreeDSecure(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, open storetest.Opener) {
		b := setup(t, open)
		ctx := context.Background()
		in := b.authorize(t, sandbox.TokenThreeDSecure, "order-1", 5000)
		if in.Status != tote.IntentRequiresAction || in.ClientSecret == "" {
			t.Fatalf("intent = %+v, want REQUIRES_ACTION with a client secret", in)
		}
		_, err := b.client.Capture(ctx, in.ID, 5000)
		refused(t, err, false)

		got, err := b.client.Confirm(ctx, in.ClientSecret)
		want(t, got, err, tote.IntentAuthorized, 0, 0)
		got, err = b.client.Confirm(ctx, in.ClientSecret) // again: unchanged
		want(t, got, err, tote.IntentAuthorized, 0, 0)
		if _, err := b.client.Confirm(ctx, "nope"); !errors.Is(err, tote.ErrNotFound) {
			t.Fatalf("unknown secret: err = %v, want ErrNotFound", err)
		}
		got, err = b.client.Get(ctx, in.ID)
		want(t, got, err, tote.IntentAuthorized, 0, 0)
		got, err = b.client.Capture(ctx, in.ID, 5000)
		want(t, got, err, tote.IntentCaptured, 5000, 0)
	})
}

func TestCaptureFails(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, open storetest.Opener) {
		b := setup(t, open)
		ctx := context.Background()
		in := b.authorize(t, sandbox.TokenCaptureFails, "order-1", 5000)
		if in.Status != tote.IntentAuthorized {
			t.Fatalf("intent = %+v, want AUTHORIZED", in)
		}
		_, err := b.client.Capture(ctx, in.ID, 5000)
		refused(t, err, true)
		got, err := b.client.Get(ctx, in.ID) // the hold was released
		want(t, got, err, tote.IntentVoided, 0, 0)
		got, err = b.client.Void(ctx, in.ID)
		want(t, got, err, tote.IntentVoided, 0, 0)
		_, err = b.client.Capture(ctx, in.ID, 5000)
		refused(t, err, false)
	})
}

func TestAmountLimits(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, open storetest.Opener) {
		b := setup(t, open)
		ctx := context.Background()
		in := b.authorize(t, sandbox.TokenVisa, "order-1", 5000)
		_, err := b.client.Refund(ctx, in.ID, 100) // nothing captured yet
		refused(t, err, false)
		for _, amount := range []int64{5001, 0, -1} {
			_, err := b.client.Capture(ctx, in.ID, amount)
			refused(t, err, false)
		}
		got, err := b.client.Get(ctx, in.ID)
		want(t, got, err, tote.IntentAuthorized, 0, 0)
		got, err = b.client.Capture(ctx, in.ID, 5000)
		want(t, got, err, tote.IntentCaptured, 5000, 0)
		got, err = b.client.Refund(ctx, in.ID, 4000)
		want(t, got, err, tote.IntentPartlyRefunded, 5000, 4000)
		for _, amount := range []int64{1001, 0} {
			_, err := b.client.Refund(ctx, in.ID, amount)
			refused(t, err, false)
		}
		got, err = b.client.Get(ctx, in.ID)
		want(t, got, err, tote.IntentPartlyRefunded, 5000, 4000)
		_, err = b.client.Void(ctx, in.ID) // captured: refund instead
		refused(t, err, false)
	})
}

// TestConcurrentRefunds: refunds racing each other never exceed the capture.
func TestConcurrentRefunds(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, open storetest.Opener) {
		b := setup(t, open)
		ctx := context.Background()
		in := b.authorize(t, sandbox.TokenVisa, "order-1", 5000)
		if _, err := b.client.Capture(ctx, in.ID, 3000); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		ok := 0
		for range 8 {
			wg.Go(func() {
				_, err := b.client.Refund(ctx, in.ID, 1000)
				mu.Lock()
				defer mu.Unlock()
				var pe *tote.PaymentError
				if err == nil {
					ok++
				} else if !errors.As(err, &pe) {
					t.Errorf("refund: %v", err)
				}
			})
		}
		wg.Wait()
		got, err := b.client.Get(ctx, in.ID)
		want(t, got, err, tote.IntentRefunded, 3000, 3000)
		if ok != 3 {
			t.Fatalf("%d refunds went through, want 3", ok)
		}
	})
}

func TestVoid(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, open storetest.Opener) {
		b := setup(t, open)
		ctx := context.Background()
		in := b.authorize(t, sandbox.TokenVisa, "order-1", 5000)
		got, err := b.client.Void(ctx, in.ID)
		want(t, got, err, tote.IntentVoided, 0, 0)
		got, err = b.client.Void(ctx, in.ID)
		want(t, got, err, tote.IntentVoided, 0, 0)
		_, err = b.client.Capture(ctx, in.ID, 5000)
		refused(t, err, false)
		if _, err := b.client.Get(ctx, "pi_unknown"); !errors.Is(err, tote.ErrNotFound) {
			t.Fatalf("unknown intent: err = %v, want ErrNotFound", err)
		}
		if _, err := b.client.Void(ctx, "pi_unknown"); !errors.Is(err, tote.ErrNotFound) {
			t.Fatalf("void unknown intent: err = %v, want ErrNotFound", err)
		}
	})
}

func TestWrongKey(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, open storetest.Opener) {
		b := setup(t, open)
		wrong := *b.client
		wrong.Key = "wrong"
		_, err := wrong.Authorize(context.Background(), tote.AuthorizeParams{Amount: 1, Currency: "USD", Token: sandbox.TokenVisa, IdempotencyKey: "k"})
		refused(t, err, false)
		resp, err := http.Get(b.url + "/payment_intents/x")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("no key: status %d, want 401", resp.StatusCode)
		}
		// Nothing was created by the refused call.
		if _, err := b.client.Authorize(context.Background(), tote.AuthorizeParams{Amount: 2, Currency: "USD", Token: sandbox.TokenVisa, IdempotencyKey: "k"}); err != nil {
			t.Fatalf("the key of a refused call was taken: %v", err)
		}
	})
}

func TestOperatorConfirm(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, open storetest.Opener) {
		b := setup(t, open)
		in := b.authorize(t, sandbox.TokenThreeDSecure, "order-1", 5000)
		routes := b.provider.OperatorRoutes()
		if len(routes) != 1 || routes[0].Pattern() != "POST /v1/sandbox/payment_intents/{client_secret}/confirm" {
			t.Fatalf("routes = %+v", routes)
		}
		srv := httptest.NewServer(b.provider.OperatorHandler())
		defer srv.Close()
		post := func(secret string) (int, map[string]any) {
			t.Helper()
			resp, err := http.Post(srv.URL+"/v1/sandbox/payment_intents/"+secret+"/confirm", "application/json", strings.NewReader(`{}`))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var v map[string]any
			if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
				t.Fatal(err)
			}
			return resp.StatusCode, v
		}
		code, body := post(in.ClientSecret)
		if code != 200 || body["status"] != tote.IntentAuthorized || body["id"] != in.ID || body["amount"] != float64(5000) {
			t.Fatalf("confirm = %d %v", code, body)
		}
		got, err := b.client.Get(context.Background(), in.ID)
		want(t, got, err, tote.IntentAuthorized, 0, 0)
		// A secret no store can hold (PostgreSQL refuses NUL and invalid
		// UTF-8) names nothing: 404, not a failed query.
		for _, secret := range []string{"nope", "ab%00cd", "ab%FFcd", "%C0%AF"} {
			if code, body := post(secret); code != 404 || body["error"] != "not_found" || body["code"] != float64(404) {
				t.Fatalf("secret %s = %d %v", secret, code, body)
			}
		}
		if _, err := b.client.Void(context.Background(), in.ID); err != nil {
			t.Fatal(err)
		}
		if code, body := post(in.ClientSecret); code != 409 || body["error"] != "conflict" {
			t.Fatalf("confirm of a voided intent = %d %v", code, body)
		}
	})
}

// TestClientFailures: an answer that never comes, or a server error, is a
// plain error (outcome unknown), never a PaymentError.
func TestClientFailures(t *testing.T) {
	t.Parallel()
	hold := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/payment_intents/pi_broken" {
			http.Error(w, `{"error":"internal","message":"boom"}`, 500)
			return
		}
		select {
		case <-r.Context().Done():
		case <-hold:
		}
	}))
	defer srv.Close()
	defer close(hold)
	c := &sandbox.Client{BaseURL: srv.URL, Key: key, Timeout: 100 * time.Millisecond}
	for _, id := range []string{"pi_slow", "pi_broken"} {
		_, err := c.Get(context.Background(), id)
		var pe *tote.PaymentError
		if err == nil || errors.As(err, &pe) || errors.Is(err, tote.ErrNotFound) {
			t.Fatalf("%s: err = %#v, want a plain error", id, err)
		}
	}
}
