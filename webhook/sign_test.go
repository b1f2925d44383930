package webhook_test

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/toteorg/tote/webhook"
)

// TestAppKeySignsLikeTheSecret: the stored key state gives exactly the
// HMAC-SHA256 keyed with the secret itself, for secrets shorter and longer
// than a block, and does not contain the secret.
func TestAppKeySignsLikeTheSecret(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 1, 32, 51, 63, 64, 65, 200} {
		secret := make([]byte, n)
		rand.Read(secret)
		for _, body := range []string{"", "{}", strings.Repeat(`{"id": 1}`, 1000)} {
			key := webhook.AppKey(string(secret))
			got, err := webhook.SignApp(key, []byte(body))
			if err != nil {
				t.Fatal(err)
			}
			mac := hmac.New(sha256.New, secret)
			mac.Write([]byte(body))
			if want := base64.StdEncoding.EncodeToString(mac.Sum(nil)); got != want {
				t.Fatalf("secret of %d bytes, body of %d: got %s, want %s", n, len(body), got, want)
			}
			if n >= 8 && strings.Contains(string(key), string(secret[:8])) {
				t.Fatal("the key contains the secret")
			}
		}
	}
	if _, err := webhook.SignApp(nil, []byte("{}")); err == nil {
		t.Fatal("signed without a key")
	}
}

// TestSignVerifiesWithStandardWebhooks: the reference library verifies
// Tote's signature headers.
func TestSignVerifiesWithStandardWebhooks(t *testing.T) {
	t.Parallel()
	secret := webhook.NewSigningSecret()
	if !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("secret %q", secret)
	}
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"id": 42, "bags": []}`)
	h, err := webhook.Headers(webhook.Message{EventID: "evt_1", Topic: "ORDER_UPDATED", WebhookID: 7, OrderID: 42,
		BagID: 9, BagVersion: 3, Body: body, AppKey: webhook.AppKey("tote_sk_x"), Secret: secret}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.Verify(body, h); err != nil {
		t.Fatalf("standard webhooks verification: %v", err)
	}
	if err := wh.Verify([]byte(`{"id": 43, "bags": []}`), h); err == nil {
		t.Fatal("a changed body verified")
	}
	want := map[string]string{"Content-Type": "application/json", "X-Violet-Event-Id": "evt_1", "webhook-id": "evt_1",
		"X-Violet-Topic": "ORDER_UPDATED", "X-Violet-Webhook-Id": "7", "X-Violet-Order-Id": "42", "X-Violet-Bag-Id": "9",
		"X-Violet-Entity-Length": fmt.Sprint(len(body))}
	for k, v := range want {
		if got := h.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if h.Get("X-Violet-Event-Id-Source") != "" {
		t.Error("an original delivery names a source event")
	}
	old, _ := webhook.Headers(webhook.Message{EventID: "evt_1", Body: body, Secret: secret}, time.Now().Add(-time.Hour))
	if err := wh.Verify(body, old); err == nil {
		t.Fatal("an hour-old signature verified (the timestamp is signed per attempt)")
	}
	if err := wh.Verify(body, http.Header{}); err == nil {
		t.Fatal("verified without headers")
	}
}
