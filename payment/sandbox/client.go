package sandbox

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/toteorg/tote"
)

// DefaultTimeout bounds each call of a Client that sets none.
const DefaultTimeout = 10 * time.Second

// Client is Tote's client of the sandbox payment provider, over HTTP.
type Client struct {
	// BaseURL is where the provider's API is served, e.g.
	// "http://127.0.0.1:41234".
	BaseURL string
	// Key is sent in X-Sandbox-Key.
	Key string
	// Timeout bounds each call, answer included (DefaultTimeout if zero).
	Timeout time.Duration
	// HTTPClient makes the requests (http.DefaultClient if nil).
	HTTPClient *http.Client
}

var _ tote.PaymentProvider = (*Client)(nil)

// Authorize creates the intent for p.IdempotencyKey, or returns the one
// already made with it.
func (c *Client) Authorize(ctx context.Context, p tote.AuthorizeParams) (*tote.PaymentIntent, error) {
	return c.call(ctx, http.MethodPost, "/payment_intents", p.IdempotencyKey,
		createRequest{Amount: p.Amount, Currency: p.Currency, Token: p.Token})
}

// Capture takes amount and releases the rest of the hold.
func (c *Client) Capture(ctx context.Context, intentID string, amount int64) (*tote.PaymentIntent, error) {
	return c.call(ctx, http.MethodPost, "/payment_intents/"+url.PathEscape(intentID)+"/capture", "", amountRequest{amount})
}

// Void releases the whole hold.
func (c *Client) Void(ctx context.Context, intentID string) (*tote.PaymentIntent, error) {
	return c.call(ctx, http.MethodPost, "/payment_intents/"+url.PathEscape(intentID)+"/void", "", struct{}{})
}

// Refund returns amount of what was captured.
func (c *Client) Refund(ctx context.Context, intentID string, amount int64) (*tote.PaymentIntent, error) {
	return c.call(ctx, http.MethodPost, "/payment_intents/"+url.PathEscape(intentID)+"/refund", "", amountRequest{amount})
}

// Get reads the intent.
func (c *Client) Get(ctx context.Context, intentID string) (*tote.PaymentIntent, error) {
	return c.call(ctx, http.MethodGet, "/payment_intents/"+url.PathEscape(intentID), "", nil)
}

// Confirm completes 3-D Secure for the intent with the given client secret,
// as the shopper's browser would.
func (c *Client) Confirm(ctx context.Context, clientSecret string) (*tote.PaymentIntent, error) {
	return c.call(ctx, http.MethodPost, "/client_secrets/"+url.PathEscape(clientSecret)+"/confirm", "", struct{}{})
}

type amountRequest struct {
	Amount int64 `json:"amount"`
}

func (c *Client) call(ctx context.Context, method, path, idempotencyKey string, body any) (*tote.PaymentIntent, error) {
	ctx, cancel := context.WithTimeout(ctx, cmp.Or(c.Timeout, DefaultTimeout))
	defer cancel()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(c.BaseURL, "/")+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set(KeyHeader, c.Key)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if idempotencyKey != "" {
		req.Header.Set("Idempotency-Key", idempotencyKey)
	}
	client := c.HTTPClient
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("sandbox payments %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, fmt.Errorf("sandbox payments %s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		var in intentJSON
		if err := json.Unmarshal(b, &in); err != nil || in.ID == "" {
			return nil, fmt.Errorf("sandbox payments %s %s: unreadable answer %.200q", method, path, b)
		}
		return &tote.PaymentIntent{ID: in.ID, ClientSecret: in.ClientSecret, Status: in.Status, Amount: in.Amount,
			AmountCaptured: in.AmountCaptured, AmountRefunded: in.AmountRefunded, Currency: in.Currency}, nil
	}
	var e errorJSON
	json.Unmarshal(b, &e)
	msg := cmp.Or(e.Message, fmt.Sprintf("sandbox payments answered %d %s", resp.StatusCode, http.StatusText(resp.StatusCode)))
	switch {
	case resp.StatusCode == http.StatusPaymentRequired:
		return nil, &tote.PaymentError{Declined: true, Message: msg}
	case resp.StatusCode == http.StatusNotFound:
		return nil, fmt.Errorf("sandbox payments %s %s: %s: %w", method, path, msg, tote.ErrNotFound)
	case resp.StatusCode >= 400 && resp.StatusCode < 500 && resp.StatusCode != http.StatusTooManyRequests &&
		resp.StatusCode != http.StatusRequestTimeout:
		return nil, &tote.PaymentError{Message: msg}
	default: // 5xx, 429, 408: unknown outcome, try again
		return nil, fmt.Errorf("sandbox payments %s %s: %s", method, path, msg)
	}
}
