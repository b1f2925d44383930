package sandbox

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/toteorg/tote"
)

// KeyHeader carries the key shared by the provider and its client.
const KeyHeader = "X-Sandbox-Key"

// Test tokens.
const (
	TokenVisa           = "tok_visa"
	TokenChargeDeclined = "tok_chargeDeclined"
	TokenThreeDSecure   = "tok_threeDSecureRequired"
	TokenCaptureFails   = "tok_captureFails"
)

const maxBody = 1 << 20

// errDeclined marks the card refusals (402).
var errDeclined = errors.New("declined")

// Provider is the simulated payment provider's HTTP API. Set the fields,
// then serve Handler.
type Provider struct {
	Store tote.SandboxStore
	// Key authenticates callers (X-Sandbox-Key); with none, every request
	// is refused.
	Key    string
	Clock  tote.Clock
	Logger *slog.Logger
}

// Handler returns the provider's API.
func (p *Provider) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /payment_intents", p.handleCreate)
	mux.HandleFunc("GET /payment_intents/{id}", p.handleGet)
	mux.HandleFunc("POST /payment_intents/{id}/capture", p.handleCapture)
	mux.HandleFunc("POST /payment_intents/{id}/void", p.handleChange(void))
	mux.HandleFunc("POST /payment_intents/{id}/refund", p.handleAmount(refund))
	mux.HandleFunc("POST /client_secrets/{client_secret}/confirm", p.handleConfirm)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		p.writeError(w, r, tote.Errorf(tote.ENOTFOUND, "No route %s %s.", r.Method, r.URL.Path))
	})
	return p.authenticate(mux)
}

func (p *Provider) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p.Key == "" || subtle.ConstantTimeCompare([]byte(r.Header.Get(KeyHeader)), []byte(p.Key)) != 1 {
			p.writeError(w, r, tote.Errorf(tote.EUNAUTHORIZED, "Missing or wrong %s.", KeyHeader))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// createRequest asks for an authorization.
type createRequest struct {
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
	Token    string `json:"token"`
}

func (p *Provider) handleCreate(w http.ResponseWriter, r *http.Request) {
	var req createRequest
	if err := decode(w, r, &req); err != nil {
		p.writeError(w, r, err)
		return
	}
	key := r.Header.Get("Idempotency-Key")
	switch {
	case key == "" || len(key) > 255:
		p.writeError(w, r, tote.Errorf(tote.EINVALID, "An Idempotency-Key header (at most 255 characters) is required."))
		return
	case req.Amount < 1:
		p.writeError(w, r, tote.Invalid(tote.FieldError{Field: "amount", Message: "must be at least 1"}))
		return
	case !isCurrency(req.Currency):
		p.writeError(w, r, tote.Invalid(tote.FieldError{Field: "currency", Message: "must be a three-letter code"}))
		return
	case req.Token == "":
		p.writeError(w, r, tote.Invalid(tote.FieldError{Field: "token", Message: "is required"}))
		return
	case !knownToken(req.Token):
		// Not a card at all: refused as bad input, leaving no intent behind
		// (a declined card, tok_chargeDeclined, does leave its failed one).
		p.writeError(w, r, &tote.Error{Code: tote.EINVALID, Message: declineMessage(req.Token), Err: errDeclined})
		return
	}
	id := "pi_sbx_" + strings.ToLower(rand.Text())
	in := &tote.SandboxIntent{
		ID: id, ClientSecret: id + "_secret_" + strings.ToLower(rand.Text()), IdempotencyKey: key,
		Token: req.Token, Status: authorizationStatus(req.Token), Amount: req.Amount,
		Currency: strings.ToUpper(req.Currency), DateCreated: p.now(),
	}
	got, created, err := p.Store.CreateSandboxIntent(r.Context(), in)
	if err != nil {
		p.writeError(w, r, err)
		return
	}
	if !created && (got.Amount != in.Amount || got.Currency != in.Currency || got.Token != in.Token) {
		p.writeError(w, r, tote.Errorf(tote.ECONFLICT, "Idempotency-Key %q was used with other parameters.", key))
		return
	}
	if got.Status == tote.IntentFailed {
		p.writeError(w, r, &tote.Error{Code: tote.EINVALID, Message: declineMessage(got.Token), Err: errDeclined})
		return
	}
	code := http.StatusOK
	if created {
		code = http.StatusCreated
	}
	writeJSON(w, code, toIntentJSON(got))
}

func isCurrency(c string) bool {
	if len(c) != 3 {
		return false
	}
	for _, r := range strings.ToUpper(c) {
		if r < 'A' || r > 'Z' {
			return false
		}
	}
	return true
}

func (p *Provider) handleGet(w http.ResponseWriter, r *http.Request) {
	in, err := p.Store.FindSandboxIntent(r.Context(), r.PathValue("id"))
	if err != nil {
		p.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toIntentJSON(in))
}

// handleChange applies a rule to the intent of the path.
func (p *Provider) handleChange(rule func(*tote.SandboxIntent) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		in, err := p.Store.UpdateSandboxIntent(r.Context(), r.PathValue("id"), rule)
		if err != nil {
			p.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, toIntentJSON(in))
	}
}

// handleAmount applies a rule that takes the body's amount.
func (p *Provider) handleAmount(rule func(*tote.SandboxIntent, int64) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Amount int64 `json:"amount"`
		}
		if err := decode(w, r, &req); err != nil {
			p.writeError(w, r, err)
			return
		}
		p.handleChange(func(in *tote.SandboxIntent) error { return rule(in, req.Amount) })(w, r)
	}
}

// handleCapture captures; a capture the issuer refuses (tok_captureFails)
// releases the hold (VOIDED) and answers 402.
func (p *Provider) handleCapture(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Amount int64 `json:"amount"`
	}
	if err := decode(w, r, &req); err != nil {
		p.writeError(w, r, err)
		return
	}
	var failed error
	in, err := p.Store.UpdateSandboxIntent(r.Context(), r.PathValue("id"), func(in *tote.SandboxIntent) error {
		err := capture(in, req.Amount)
		if errors.Is(err, errDeclined) {
			in.Status, failed = tote.IntentVoided, err
			return nil
		}
		return err
	})
	switch {
	case err != nil:
		p.writeError(w, r, err)
	case failed != nil:
		p.writeError(w, r, failed)
	default:
		writeJSON(w, http.StatusOK, toIntentJSON(in))
	}
}

func (p *Provider) handleConfirm(w http.ResponseWriter, r *http.Request) {
	in, err := p.confirm(r.Context(), r.PathValue("client_secret"))
	if err != nil {
		p.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toIntentJSON(in))
}

// confirm completes the shopper's 3-D Secure step of the intent with the
// given client secret.
func (p *Provider) confirm(ctx context.Context, clientSecret string) (*tote.SandboxIntent, error) {
	var in *tote.SandboxIntent
	var err error = tote.ErrNotFound // a secret that is no storable text names none
	if tote.Storable(clientSecret) {
		in, err = p.Store.FindSandboxIntentBySecret(ctx, clientSecret)
	}
	if errors.Is(err, tote.ErrNotFound) {
		return nil, tote.Errorf(tote.ENOTFOUND, "No payment intent with that client secret.")
	} else if err != nil {
		return nil, err
	}
	return p.Store.UpdateSandboxIntent(ctx, in.ID, confirm)
}

func (p *Provider) now() time.Time {
	if p.Clock == nil {
		return tote.SystemClock{}.Now()
	}
	return p.Clock.Now()
}

func (p *Provider) logger() *slog.Logger {
	if p.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return p.Logger
}

// intentJSON is an intent on the wire.
type intentJSON struct {
	ID             string    `json:"id"`
	ClientSecret   string    `json:"client_secret"`
	Status         string    `json:"status"`
	Amount         int64     `json:"amount"`
	AmountCaptured int64     `json:"amount_captured"`
	AmountRefunded int64     `json:"amount_refunded"`
	Currency       string    `json:"currency"`
	DateCreated    time.Time `json:"date_created"`
}

func toIntentJSON(in *tote.SandboxIntent) intentJSON {
	return intentJSON{ID: in.ID, ClientSecret: in.ClientSecret, Status: in.Status, Amount: in.Amount,
		AmountCaptured: in.AmountCaptured, AmountRefunded: in.AmountRefunded, Currency: in.Currency,
		DateCreated: in.DateCreated.UTC()}
}

// errorJSON is the provider's error body.
type errorJSON struct {
	Error    string `json:"error"`
	Message  string `json:"message"`
	Declined bool   `json:"declined,omitempty"`
}

// statuses maps error codes to HTTP statuses.
var statuses = map[string]int{
	tote.EMALFORMED:    http.StatusBadRequest,
	tote.EUNAUTHORIZED: http.StatusUnauthorized,
	tote.EFORBIDDEN:    http.StatusForbidden,
	tote.ENOTFOUND:     http.StatusNotFound,
	tote.ECONFLICT:     http.StatusConflict,
	tote.ETOOLARGE:     http.StatusRequestEntityTooLarge,
	tote.EINVALID:      http.StatusUnprocessableEntity,
	tote.EUNAVAILABLE:  http.StatusServiceUnavailable,
}

func status(err error) int {
	if errors.Is(err, errDeclined) {
		return http.StatusPaymentRequired
	}
	if s, ok := statuses[tote.ErrorCode(err)]; ok {
		return s
	}
	return http.StatusInternalServerError
}

func (p *Provider) writeError(w http.ResponseWriter, r *http.Request, err error) {
	s := status(err)
	if s >= 500 {
		p.logger().ErrorContext(r.Context(), "sandbox payment request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	writeJSON(w, s, errorJSON{Error: tote.ErrorCode(err), Message: tote.ErrorMessage(err), Declined: errors.Is(err, errDeclined)})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func decode(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	if err := dec.Decode(v); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return tote.Errorf(tote.ETOOLARGE, "Request body is larger than %d bytes.", tooLarge.Limit)
		}
		return tote.Errorf(tote.EMALFORMED, "Malformed JSON: %v.", err)
	}
	return nil
}

// The rules of an intent's life. Each changes the intent or says why not.

// authorizationStatus is what authorizing with token leads to.
func authorizationStatus(token string) string {
	switch token {
	case TokenVisa, TokenCaptureFails:
		return tote.IntentAuthorized
	case TokenThreeDSecure:
		return tote.IntentRequiresAction
	default:
		return tote.IntentFailed
	}
}

// knownToken reports whether token is one of the sandbox's test cards.
func knownToken(token string) bool {
	switch token {
	case TokenVisa, TokenChargeDeclined, TokenThreeDSecure, TokenCaptureFails:
		return true
	}
	return false
}

func declineMessage(token string) string {
	if token == TokenChargeDeclined {
		return "Your card was declined."
	}
	return fmt.Sprintf("Your card was declined: %q is not a sandbox test token (use %s, %s, %s or %s).",
		token, TokenVisa, TokenChargeDeclined, TokenThreeDSecure, TokenCaptureFails)
}

func capture(in *tote.SandboxIntent, amount int64) error {
	switch in.Status {
	case tote.IntentAuthorized:
	case tote.IntentCaptured, tote.IntentPartlyRefunded, tote.IntentRefunded:
		if amount == in.AmountCaptured {
			return nil // a retried capture
		}
		return tote.Errorf(tote.ECONFLICT, "The payment intent was already captured (%d).", in.AmountCaptured)
	case tote.IntentRequiresAction:
		return tote.Errorf(tote.ECONFLICT, "The payment intent requires action: the shopper has not completed 3-D Secure.")
	default:
		return tote.Errorf(tote.ECONFLICT, "A %s payment intent cannot be captured.", in.Status)
	}
	if amount < 1 || amount > in.Amount {
		return tote.Invalid(tote.FieldError{Field: "amount", Message: fmt.Sprintf("must be between 1 and the %d authorized", in.Amount)})
	}
	if in.Token == TokenCaptureFails {
		return &tote.Error{Code: tote.EINVALID, Message: "The capture failed: the card issuer refused it; the authorization was released.", Err: errDeclined}
	}
	in.Status, in.AmountCaptured = tote.IntentCaptured, amount
	return nil
}

func void(in *tote.SandboxIntent) error {
	switch in.Status {
	case tote.IntentAuthorized, tote.IntentRequiresAction:
		in.Status = tote.IntentVoided
		return nil
	case tote.IntentVoided:
		return nil
	default:
		return tote.Errorf(tote.ECONFLICT, "A %s payment intent cannot be voided.", in.Status)
	}
}

func refund(in *tote.SandboxIntent, amount int64) error {
	if in.Status != tote.IntentCaptured && in.Status != tote.IntentPartlyRefunded {
		return tote.Errorf(tote.ECONFLICT, "A %s payment intent cannot be refunded.", in.Status)
	}
	left := in.AmountCaptured - in.AmountRefunded
	if amount < 1 || amount > left {
		return tote.Invalid(tote.FieldError{Field: "amount", Message: fmt.Sprintf("must be between 1 and the %d captured and not refunded", left)})
	}
	in.AmountRefunded += amount
	in.Status = tote.IntentPartlyRefunded
	if in.AmountRefunded == in.AmountCaptured {
		in.Status = tote.IntentRefunded
	}
	return nil
}

func confirm(in *tote.SandboxIntent) error {
	switch in.Status {
	case tote.IntentRequiresAction:
		in.Status = tote.IntentAuthorized
		return nil
	case tote.IntentAuthorized:
		return nil
	default:
		return tote.Errorf(tote.ECONFLICT, "A %s payment intent has nothing to confirm.", in.Status)
	}
}
