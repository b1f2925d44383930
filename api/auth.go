package api

import (
	"context"
	"crypto/subtle"
	"net/http"
	"strconv"
	"strings"

	"github.com/toteorg/tote"
)

type ctxKey int

const (
	appKey ctxKey = iota
	requestIDKey
)

// appFrom returns the authenticated app of the request, or nil on operator
// routes.
func appFrom(ctx context.Context) *tote.App {
	a, _ := ctx.Value(appKey).(*tote.App)
	return a
}

// requireApp authenticates X-Violet-App-Id and X-Violet-App-Secret.
func (s *Server) requireApp(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		idText, secret := r.Header.Get("X-Violet-App-Id"), r.Header.Get("X-Violet-App-Secret")
		if idText == "" || secret == "" {
			Error(w, r, s.Logger, tote.Errorf(tote.EUNAUTHORIZED, "X-Violet-App-Id and X-Violet-App-Secret headers are required."))
			return
		}
		id, err := strconv.ParseInt(idText, 10, 64)
		if err != nil {
			Error(w, r, s.Logger, tote.Errorf(tote.EUNAUTHORIZED, "Invalid X-Violet-App-Id or X-Violet-App-Secret."))
			return
		}
		app, err := s.Apps.Authenticate(r.Context(), id, secret)
		if err != nil {
			Error(w, r, s.Logger, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), appKey, app)))
	})
}

// requireAdmin checks the operator's bearer key. With no key configured the
// operator routes are closed (403), never open.
func (s *Server) requireAdmin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.AdminKey == "" {
			Error(w, r, s.Logger, tote.Errorf(tote.EFORBIDDEN, "Operator routes are disabled: start tote with --admin-key or TOTE_ADMIN_KEY."))
			return
		}
		// The scheme's name is case-insensitive (RFC 9110, 11.1).
		scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare([]byte(token), []byte(s.AdminKey)) != 1 {
			Error(w, r, s.Logger, tote.Errorf(tote.EUNAUTHORIZED, "A valid Authorization: Bearer <admin key> header is required."))
			return
		}
		next.ServeHTTP(w, r)
	})
}
