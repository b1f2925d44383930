// Package tenant creates apps (the channels that call the API) and
// authenticates their requests. An app secret is 32 random bytes shown once;
// only its SHA-256 is stored (and, to sign its webhooks, the HMAC key state
// derived from it; see package webhook). A slow password hash buys nothing
// for a secret with 256 bits of entropy and would cost every request a few
// milliseconds.
package tenant

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"strings"

	"github.com/toteorg/tote"
	"github.com/toteorg/tote/webhook"
)

// secretPrefix makes app secrets recognisable in logs and secret scanners.
const secretPrefix = "tote_sk_"

// Service creates and authenticates apps.
type Service struct {
	Store tote.Store
	Clock tote.Clock
}

// CreateAppParams is the input of CreateApp.
type CreateAppParams struct {
	Name string
	// CommissionRate in basis points (1000 = 10%).
	CommissionRate int64
}

// CreateApp registers an app and returns it with its secret, which is not
// kept and cannot be shown again. EINVALID names a bad field.
func (s *Service) CreateApp(ctx context.Context, p CreateAppParams) (*tote.App, string, error) {
	p.Name = strings.TrimSpace(p.Name)
	var bad []tote.FieldError
	if p.Name == "" {
		bad = append(bad, tote.FieldError{Field: "name", Message: "is required"})
	} else if e, long := tote.TooLong("name", p.Name, tote.MaxText); long {
		bad = append(bad, e)
	}
	if p.CommissionRate < 0 || p.CommissionRate > 10000 {
		bad = append(bad, tote.FieldError{Field: "commission_rate", Message: "must be between 0 and 100"})
	}
	if len(bad) > 0 {
		return nil, "", tote.Invalid(bad...)
	}
	raw := make([]byte, 32)
	rand.Read(raw) // never fails (crypto/rand panics instead)
	secret := secretPrefix + base64.RawURLEncoding.EncodeToString(raw)
	a := &tote.App{
		Name:           p.Name,
		SecretHash:     HashSecret(secret),
		WebhookKey:     webhook.AppKey(secret),
		CommissionRate: p.CommissionRate,
		DateCreated:    s.Clock.Now(),
	}
	if err := s.Store.InTx(ctx, func(tx tote.Tx) error { return tx.CreateApp(ctx, a) }); err != nil {
		return nil, "", err
	}
	return a, secret, nil
}

// HashSecret is what is stored of an app secret.
func HashSecret(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// errBadCredentials is deliberately the same for an unknown app and a
// wrong secret, so a caller cannot probe which app ids exist.
var errBadCredentials = &tote.Error{Code: tote.EUNAUTHORIZED, Message: "Invalid X-Violet-App-Id or X-Violet-App-Secret."}

// Authenticate returns the app with this id if secret is its secret, and
// EUNAUTHORIZED otherwise.
func (s *Service) Authenticate(ctx context.Context, id int64, secret string) (*tote.App, error) {
	if id <= 0 || secret == "" {
		return nil, errBadCredentials
	}
	a, err := s.Store.FindAppByID(ctx, id)
	if errors.Is(err, tote.ErrNotFound) {
		return nil, errBadCredentials
	} else if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare(a.SecretHash, HashSecret(secret)) != 1 {
		return nil, errBadCredentials
	}
	return a, nil
}
