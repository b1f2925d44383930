package sandbox

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/toteorg/tote"
)

// DefaultTimeout bounds each call of a Connector that sets none.
const DefaultTimeout = 5 * time.Second

// Connector is Tote's connector to the sandbox platform, over HTTP.
type Connector struct {
	// BaseURL is where the platform's API is served, e.g.
	// "http://127.0.0.1:41234" (no trailing slash needed).
	BaseURL string
	// Key is sent in X-Sandbox-Key.
	Key string
	// Timeout bounds each call, answer included (DefaultTimeout if zero).
	Timeout time.Duration
	// HTTPClient makes the requests (http.DefaultClient if nil).
	HTTPClient *http.Client
	// Clock reads Retry-After dates (tote.SystemClock if nil).
	Clock tote.Clock
}

var _ tote.Platform = (*Connector)(nil)

// Submit places the order; see the package doc for how each answer maps
// to a *tote.PlatformError.
func (c *Connector) Submit(ctx context.Context, o tote.PlatformOrder) (*tote.PlatformRecord, error) {
	body, err := json.Marshal(toOrderJSON(o))
	if err != nil {
		return nil, &tote.PlatformError{Kind: tote.PlatformRejected, Type: tote.ErrorTypeExternalSubmitCart, Message: "encode order: " + err.Error()}
	}
	res, err := c.call(ctx, http.MethodPost, "/orders", body)
	if err != nil {
		if res.sent {
			return nil, &tote.PlatformError{Kind: tote.PlatformUnknown, Type: tote.ErrorTypeExternalSubmitCart,
				Message: "no answer from the sandbox platform: " + err.Error()}
		}
		return nil, &tote.PlatformError{Kind: tote.PlatformRetryable, Type: tote.ErrorTypeExternalSubmitCart,
			Message: "could not reach the sandbox platform: " + err.Error()}
	}
	switch {
	case res.status >= 200 && res.status < 300:
		rec, err := toRecord(res.body)
		if err != nil { // it said yes, but to what: ask before trying again
			return nil, &tote.PlatformError{Kind: tote.PlatformUnknown, Type: tote.ErrorTypeExternalSubmitCart,
				Message: "unreadable answer from the sandbox platform: " + err.Error()}
		}
		return rec, nil
	case res.status == http.StatusTooManyRequests || res.status == http.StatusRequestTimeout || res.status >= 500:
		e := res.platformError(tote.PlatformRetryable)
		e.RetryAfter = retryAfter(res.header.Get("Retry-After"), c.clock().Now())
		return nil, e
	case res.status >= 400:
		return nil, res.platformError(tote.PlatformRejected)
	default:
		return nil, res.platformError(tote.PlatformUnknown)
	}
}

// Lookup finds the order placed with reference.
func (c *Connector) Lookup(ctx context.Context, merchantID int64, reference string) (*tote.PlatformRecord, error) {
	q := url.Values{"merchant_id": {strconv.FormatInt(merchantID, 10)}, "reference": {reference}}
	res, err := c.call(ctx, http.MethodGet, "/orders?"+q.Encode(), nil)
	if err != nil {
		return nil, &tote.PlatformError{Kind: tote.PlatformRetryable, Type: tote.ErrorTypeExternalSubmitCart,
			Message: "could not ask the sandbox platform: " + err.Error()}
	}
	switch {
	case res.status == http.StatusOK:
		rec, err := toRecord(res.body)
		if err != nil {
			return nil, &tote.PlatformError{Kind: tote.PlatformRetryable, Type: tote.ErrorTypeExternalSubmitCart,
				Message: "unreadable answer from the sandbox platform: " + err.Error()}
		}
		return rec, nil
	case res.status == http.StatusNotFound:
		return nil, fmt.Errorf("sandbox order %q of merchant %d: %w", reference, merchantID, tote.ErrNotFound)
	default:
		e := res.platformError(tote.PlatformRetryable)
		e.RetryAfter = retryAfter(res.header.Get("Retry-After"), c.clock().Now())
		return nil, e
	}
}

// Cancel asks the platform to cancel the order placed with reference.
func (c *Connector) Cancel(ctx context.Context, merchantID int64, reference, reason string) (*tote.PlatformRecord, error) {
	body, _ := json.Marshal(cancelJSON{MerchantID: merchantID, Reference: reference, Reason: reason})
	res, err := c.call(ctx, http.MethodPost, "/orders/cancel", body)
	if err != nil {
		// Cancelling twice is harmless: whether or not it was sent, the
		// caller may try again.
		return nil, &tote.PlatformError{Kind: tote.PlatformRetryable, Type: tote.ErrorTypeExternalCancelOrder,
			Message: "no answer from the sandbox platform: " + err.Error()}
	}
	switch {
	case res.status == http.StatusOK:
		rec, err := toRecord(res.body)
		if err != nil {
			return nil, &tote.PlatformError{Kind: tote.PlatformRetryable, Type: tote.ErrorTypeExternalCancelOrder,
				Message: "unreadable answer from the sandbox platform: " + err.Error()}
		}
		return rec, nil
	default:
		return nil, c.refusal(res, tote.ErrorTypeExternalCancelOrder, merchantID, reference)
	}
}

// Refund asks the platform to refund part of the order placed with
// reference, once per r.Reference.
func (c *Connector) Refund(ctx context.Context, merchantID int64, reference string, r tote.PlatformRefundRequest) (*tote.PlatformRefund, error) {
	body, _ := json.Marshal(refundJSON{MerchantID: merchantID, Reference: reference, RefundReference: r.Reference,
		Amount: r.Amount, Reason: r.Reason})
	res, err := c.call(ctx, http.MethodPost, "/orders/refunds", body)
	if err != nil {
		// The refund reference makes asking again safe.
		return nil, &tote.PlatformError{Kind: tote.PlatformRetryable, Type: tote.ErrorTypeExternalWriteOrder,
			Message: "no answer from the sandbox platform: " + err.Error()}
	}
	switch {
	case res.status == http.StatusOK || res.status == http.StatusCreated:
		var rf tote.SandboxRefund
		if err := json.Unmarshal(res.body, &rf); err != nil || rf.ExternalID == "" {
			return nil, &tote.PlatformError{Kind: tote.PlatformRetryable, Type: tote.ErrorTypeExternalWriteOrder,
				Message: fmt.Sprintf("unreadable answer from the sandbox platform: %v", cmp.Or(err, fmt.Errorf("no external_id")))}
		}
		out := toPlatformRefund(rf)
		return &out, nil
	default:
		return nil, c.refusal(res, tote.ErrorTypeExternalWriteOrder, merchantID, reference)
	}
}

// refusal reads a change the platform did not make to an order: none with
// that reference (ErrNotFound), not now (429 or 5xx: retryable, Retry-After
// kept), or not at all (any other answer: rejected), of type typ unless
// the platform names one.
func (c *Connector) refusal(res reply, typ string, merchantID int64, reference string) error {
	switch {
	case res.status == http.StatusNotFound:
		return fmt.Errorf("sandbox order %q of merchant %d: %w", reference, merchantID, tote.ErrNotFound)
	case res.status == http.StatusTooManyRequests || res.status >= 500:
		e := res.platformErrorOf(tote.PlatformRetryable, typ)
		e.RetryAfter = retryAfter(res.header.Get("Retry-After"), c.clock().Now())
		return e
	default:
		return res.platformErrorOf(tote.PlatformRejected, typ)
	}
}

func toPlatformRefund(r tote.SandboxRefund) tote.PlatformRefund {
	return tote.PlatformRefund{ExternalID: r.ExternalID, Reference: r.Reference, Amount: r.Amount, Reason: r.Reason,
		DateCreated: r.DateCreated.UTC()}
}

// reply is what came back from one call; sent says whether the request
// had been written out, after which the platform may have acted on it.
type reply struct {
	sent   bool
	status int
	header http.Header
	body   []byte
}

func (c *Connector) call(ctx context.Context, method, path string, body []byte) (reply, error) {
	ctx, cancel := context.WithTimeout(ctx, cmp.Or(c.Timeout, DefaultTimeout))
	defer cancel()
	var sent atomic.Bool
	// Conservative: a request counts as sent as soon as the transport tried
	// to write it, even if the write failed part way.
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteRequest: func(httptrace.WroteRequestInfo) { sent.Store(true) },
	})
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(c.BaseURL, "/")+path, rd)
	if err != nil {
		return reply{}, err
	}
	req.Header.Set(KeyHeader, c.Key)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	client := c.HTTPClient
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return reply{sent: sent.Load()}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil { // the answer was cut off: the request was certainly sent
		return reply{sent: true}, fmt.Errorf("read answer: %w", err)
	}
	return reply{sent: true, status: resp.StatusCode, header: resp.Header, body: b}, nil
}

// platformError reads the platform's refusal of a placement.
func (r reply) platformError(kind string) *tote.PlatformError {
	return r.platformErrorOf(kind, tote.ErrorTypeExternalSubmitCart)
}

// platformErrorOf reads the platform's refusal, of type typ unless it
// names one.
func (r reply) platformErrorOf(kind, typ string) *tote.PlatformError {
	var e errorResponse
	json.Unmarshal(r.body, &e)
	return &tote.PlatformError{
		Kind:    kind,
		Type:    cmp.Or(e.Type, typ),
		Message: cmp.Or(e.Message, fmt.Sprintf("sandbox platform answered %d %s", r.status, http.StatusText(r.status))),
		SkuID:   e.SkuID,
	}
}

func toRecord(body []byte) (*tote.PlatformRecord, error) {
	var o orderResponse
	if err := json.Unmarshal(body, &o); err != nil {
		return nil, err
	}
	if o.ExternalID == "" {
		return nil, fmt.Errorf("no external_id")
	}
	rec := &tote.PlatformRecord{ExternalID: o.ExternalID, Reference: o.Reference, Status: o.Status,
		DateCreated: o.DateCreated.UTC()}
	for _, rf := range o.Refunds {
		rec.Refunds = append(rec.Refunds, toPlatformRefund(rf))
	}
	return rec, nil
}

// retryAfter reads a Retry-After header: seconds or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
		return time.Duration(max(s, 0)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0)
	}
	return 0
}

func (c *Connector) clock() tote.Clock {
	if c.Clock == nil {
		return tote.SystemClock{}
	}
	return c.Clock
}
