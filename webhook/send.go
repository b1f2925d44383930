package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/toteorg/tote"
)

// Message is one HTTP attempt of a delivery.
type Message struct {
	URL       string
	WebhookID int64
	// EventID is X-Violet-Event-Id and webhook-id; SourceEventID, when set,
	// is X-Violet-Event-Id-Source (a resend's original event).
	EventID       string
	SourceEventID string
	Topic         tote.EventType
	OrderID       int64
	BagID         int64
	BagVersion    int64
	Body          []byte
	// AppKey signs X-Violet-Hmac (AppKey); Secret the Standard Webhooks
	// signature.
	AppKey    []byte
	Secret    string
	Simulated bool
}

// Result is what an attempt got.
type Result struct {
	StatusCode int // zero when no answer came
	// Err is set when no answer came (a refused or timed-out connection),
	// or the answer was not a 2xx (then it quotes the start of the body).
	Err        error
	Duration   time.Duration
	RetryAfter time.Duration // from a 429 or 503's Retry-After
}

// OK reports whether the endpoint took the delivery (a 2xx).
func (r Result) OK() bool { return r.StatusCode >= 200 && r.StatusCode < 300 }

// Sender sends messages.
type Sender struct {
	Client *http.Client
	Clock  tote.Clock
	// AllowPrivate also allows plain http (the client itself enforces the
	// address rule).
	AllowPrivate bool
	// UserAgent defaults to "Tote-Webhooks/1".
	UserAgent string
}

// Headers returns the headers of an attempt made at now.
func Headers(m Message, now time.Time) (http.Header, error) {
	h := make(http.Header, 16)
	h.Set("Content-Type", "application/json")
	if hmac, err := SignApp(m.AppKey, m.Body); err == nil {
		h.Set("X-Violet-Hmac", hmac)
	} else if err != errNoAppKey {
		return nil, err
	}
	h.Set("X-Violet-Event-Id", m.EventID)
	if m.SourceEventID != "" && m.SourceEventID != m.EventID {
		h.Set("X-Violet-Event-Id-Source", m.SourceEventID)
	}
	h.Set("X-Violet-Topic", string(m.Topic))
	h.Set("X-Violet-Webhook-Id", strconv.FormatInt(m.WebhookID, 10))
	h.Set("X-Violet-Entity-Length", strconv.Itoa(len(m.Body)))
	if m.OrderID != 0 {
		h.Set("X-Violet-Order-Id", strconv.FormatInt(m.OrderID, 10))
	}
	if m.BagID != 0 {
		h.Set("X-Violet-Bag-Id", strconv.FormatInt(m.BagID, 10))
		h.Set("X-Violet-Bag-Version", strconv.FormatInt(m.BagVersion, 10))
	}
	if m.Simulated {
		h.Set("X-Violet-Simulated", "true")
	}
	sig, err := Sign(m.Secret, m.EventID, now, m.Body)
	if err != nil {
		return nil, err
	}
	h.Set("webhook-id", m.EventID)
	h.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
	h.Set("webhook-signature", sig)
	return h, nil
}

// maxRetryAfter bounds what an endpoint's Retry-After can ask for.
const maxRetryAfter = 24 * time.Hour

// Send makes one attempt. It never returns an error of its own: every
// failure is in the Result.
func (s *Sender) Send(ctx context.Context, m Message) Result {
	start := time.Now()
	res := s.send(ctx, m)
	res.Duration = time.Since(start)
	return res
}

func (s *Sender) send(ctx context.Context, m Message) Result {
	if err := schemeAllowed(m.URL, s.AllowPrivate); err != nil {
		return Result{Err: err}
	}
	header, err := Headers(m, s.Clock.Now())
	if err != nil {
		return Result{Err: err}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.URL, bytes.NewReader(m.Body))
	if err != nil {
		return Result{Err: err}
	}
	req.Header = header
	req.Header.Set("User-Agent", s.userAgent())
	resp, err := s.Client.Do(req)
	if err != nil {
		// The client's error quotes the URL; its query may hold a token,
		// and the error is logged and stored.
		var uerr *url.Error
		if errors.As(err, &uerr) {
			uerr.URL = redact(uerr.URL)
		}
		return Result{Err: err}
	}
	defer resp.Body.Close()
	// Read a little of the body (for the error, and so the connection can
	// be reused), never all of it.
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	res := Result{StatusCode: resp.StatusCode}
	if !res.OK() {
		msg := strings.TrimSpace(string(bytes.ToValidUTF8(snippet, nil)))
		res.Err = fmt.Errorf("HTTP %d %s", resp.StatusCode, strings.TrimSpace(msg))
		if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
			res.RetryAfter = min(retryAfter(resp.Header.Get("Retry-After"), time.Now()), maxRetryAfter)
		}
	}
	return res
}

func (s *Sender) userAgent() string {
	if s.UserAgent != "" {
		return s.UserAgent
	}
	return "Tote-Webhooks/1"
}

// retryAfter reads a Retry-After header: seconds, or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		return time.Duration(min(n, int64(maxRetryAfter/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// redact drops a URL's query, fragment and password, which may carry secrets.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(endpoint)"
	}
	u.RawQuery, u.Fragment, u.User = "", "", nil
	return u.String()
}
