package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/toteorg/tote"
)

// idempotencyLockTimeout is how long a key may stay in flight before a
// retry of the same request may assume its handler died and take it over.
const idempotencyLockTimeout = time.Minute

// idempotencyPoll is how often a concurrent duplicate checks whether the
// first request has finished.
const idempotencyPoll = 20 * time.Millisecond

// idempotent implements Idempotency-Key on POSTs (API.md): the first
// response is stored and replayed to a retry with the same key and body; the
// same key with another body is a 409; a concurrent duplicate waits for the
// first and replays it. Keys are per app. A 5xx is not stored, so the client
// can retry it.
func (s *Server) idempotent(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get("Idempotency-Key")
		if r.Method != http.MethodPost || key == "" {
			next(w, r)
			return
		}
		if len(key) > 255 {
			Error(w, r, s.Logger, tote.Invalid(tote.FieldError{Field: "Idempotency-Key", Message: "must be at most 255 characters"}))
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				err = &tote.Error{Code: tote.ETOOLARGE, Message: "Request body is larger than 1048576 bytes."}
			} else {
				err = &tote.Error{Code: tote.EMALFORMED, Message: "Could not read the request body."}
			}
			Error(w, r, s.Logger, err)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))

		var appID int64
		if a := appFrom(r.Context()); a != nil {
			appID = a.ID
		}
		h := sha256.New()
		io.WriteString(h, r.Method+" "+r.URL.RequestURI()+"\n")
		h.Write(body)
		now := s.Clock.Now()
		k := &tote.IdempotencyKey{AppID: appID, Key: key, RequestHash: h.Sum(nil), LockedAt: now, DateCreated: now}

		ctx := r.Context()
		waitUntil := time.Now().Add(idempotencyLockTimeout)
		for {
			old, reserved, err := s.Store.ReserveIdempotencyKey(ctx, k, s.Clock.Now().Add(-idempotencyLockTimeout))
			switch {
			case err != nil:
				Error(w, r, s.Logger, err)
				return
			case reserved:
				s.serveAndRemember(w, r, next, appID, key)
				return
			case !bytes.Equal(old.RequestHash, k.RequestHash):
				Error(w, r, s.Logger, tote.Errorf(tote.ECONFLICT, "Idempotency-Key %q was already used with a different request.", key))
				return
			case old.Done:
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("Idempotent-Replayed", "true")
				w.WriteHeader(old.ResponseCode)
				w.Write(old.ResponseBody)
				return
			case time.Now().After(waitUntil):
				Error(w, r, s.Logger, tote.Errorf(tote.ECONFLICT, "A request with Idempotency-Key %q is still being processed.", key))
				return
			}
			select { // the first request is in flight: wait for its answer
			case <-ctx.Done():
				return
			case <-time.After(idempotencyPoll):
			}
		}
	}
}

// serveAndRemember runs the handler into a buffer, stores the response
// under the key (or releases the key after a 5xx), then sends it.
func (s *Server) serveAndRemember(w http.ResponseWriter, r *http.Request, next http.HandlerFunc, appID int64, key string) {
	buf := &bufferedResponse{header: http.Header{}}
	next(buf, r)
	if buf.status == 0 {
		buf.status = http.StatusOK
	}
	ctx := context.WithoutCancel(r.Context()) // remember even if the client left
	var err error
	if buf.status >= 500 {
		err = s.Store.ReleaseIdempotencyKey(ctx, appID, key)
	} else {
		err = s.Store.CompleteIdempotencyKey(ctx, appID, key, buf.status, buf.body.Bytes())
	}
	if err != nil {
		s.Logger.ErrorContext(ctx, "store idempotent response", "err", err)
	}
	for k, v := range buf.header {
		w.Header()[k] = v
	}
	w.WriteHeader(buf.status)
	w.Write(buf.body.Bytes())
}

// bufferedResponse is a ResponseWriter that keeps everything in memory.
type bufferedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header { return b.header }

func (b *bufferedResponse) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}

func (b *bufferedResponse) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}
