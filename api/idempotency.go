package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"time"

	"github.com/toteorg/tote"
)

// idempotencyLockTimeout is how long a key may stay in flight before a
// retry of the same request may assume its handler died and take it over.
// It is well above how long any handler runs, so a live handler is not
// taken over.
const idempotencyLockTimeout = 2 * time.Minute

// idempotencyWait is how long a concurrent duplicate waits for the first
// request before it gets a 409.
const idempotencyWait = time.Minute

// idempotencyPoll is how often a concurrent duplicate checks whether the
// first request has finished (a read, not a write).
const idempotencyPoll = 20 * time.Millisecond

// validIdempotencyKey: 1 to 255 printable ASCII characters.
var validIdempotencyKey = regexp.MustCompile(`^[\x20-\x7e]{1,255}$`)

// idempotent implements Idempotency-Key on POSTs (API.md): the first
// response is stored and replayed to a retry with the same key and body; the
// same key with another body is a 409; a concurrent duplicate waits for the
// first and replays it. Keys are per app. A 5xx is not stored, so the client
// can retry it. See docs/decisions/0004-idempotency-keys.md.
func (s *Server) idempotent(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get("Idempotency-Key")
		if r.Method != http.MethodPost || key == "" {
			next(w, r)
			return
		}
		if !validIdempotencyKey.MatchString(key) {
			Error(w, r, s.Logger, tote.Invalid(tote.FieldError{Field: "Idempotency-Key", Message: "must be 1 to 255 printable ASCII characters"}))
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				err = &tote.Error{Code: tote.ETOOLARGE, Message: fmt.Sprintf("Request body is larger than %d bytes.", MaxBodyBytes)}
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
		hash := h.Sum(nil)

		ctx := r.Context()
		giveUp := time.Now().Add(idempotencyWait)
		for {
			now := s.Clock.Now()
			k := &tote.IdempotencyKey{AppID: appID, Key: key, RequestHash: hash, LockedAt: now, DateCreated: now}
			old, reserved, err := s.Store.ReserveIdempotencyKey(ctx, k, now.Add(-idempotencyLockTimeout))
			switch {
			case errors.Is(err, tote.ErrNotFound):
				continue // released between two statements: try again
			case err != nil:
				Error(w, r, s.Logger, err)
				return
			case reserved:
				s.serveAndRemember(w, r, next, k)
				return
			}
			// The key is known: wait (reading only) while its first
			// request is in flight.
			for !old.Done && bytes.Equal(old.RequestHash, hash) && old.LockedAt.After(s.Clock.Now().Add(-idempotencyLockTimeout)) {
				if time.Now().After(giveUp) {
					Error(w, r, s.Logger, tote.Errorf(tote.ECONFLICT, "A request with Idempotency-Key %q is still being processed.", key))
					return
				}
				select {
				case <-ctx.Done():
					return
				case <-time.After(idempotencyPoll):
				}
				if old, err = s.Store.FindIdempotencyKey(ctx, appID, key); errors.Is(err, tote.ErrNotFound) {
					break // released: reserve it ourselves
				} else if err != nil {
					Error(w, r, s.Logger, err)
					return
				}
			}
			switch {
			case old == nil || !old.Done && bytes.Equal(old.RequestHash, hash):
				continue // released, or its handler presumably died: reserve again
			case !bytes.Equal(old.RequestHash, hash):
				Error(w, r, s.Logger, tote.Errorf(tote.ECONFLICT, "Idempotency-Key %q was already used with a different request.", key))
				return
			default:
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("Idempotent-Replayed", "true")
				w.WriteHeader(old.ResponseCode)
				w.Write(old.ResponseBody)
				return
			}
		}
	}
}

// serveAndRemember runs the handler into a buffer, stores the response
// under the key (or releases the key after a 5xx, a panic, or a response
// the handler asked to forget), then sends it.
func (s *Server) serveAndRemember(w http.ResponseWriter, r *http.Request, next http.HandlerFunc, k *tote.IdempotencyKey) {
	ctx := context.WithoutCancel(r.Context()) // remember even if the client left
	buf := &bufferedResponse{header: http.Header{}}
	func() {
		defer func() {
			if p := recover(); p != nil {
				if err := s.Store.ReleaseIdempotencyKey(ctx, k); err != nil {
					s.Logger.ErrorContext(ctx, "release idempotency key after a panic", "err", err)
				}
				panic(p)
			}
		}()
		next(buf, r)
	}()
	if buf.status == 0 {
		buf.status = http.StatusOK
	}
	if buf.status >= 500 || buf.forget {
		if err := s.Store.ReleaseIdempotencyKey(ctx, k); err != nil {
			s.Logger.ErrorContext(ctx, "release idempotency key", "err", err)
		}
	} else {
		var err error
		for try := 0; try < 3; try++ { // a lost completion would let a retry run again
			var ok bool
			if ok, err = s.Store.CompleteIdempotencyKey(ctx, k, buf.status, buf.body.Bytes()); err == nil {
				if !ok {
					s.Logger.WarnContext(ctx, "idempotency key was taken over before its response was stored", "key", k.Key)
				}
				break
			}
		}
		if err != nil {
			s.Logger.ErrorContext(ctx, "store idempotent response", "err", err)
		}
	}
	for name, v := range buf.header {
		w.Header()[name] = v
	}
	w.WriteHeader(buf.status)
	w.Write(buf.body.Bytes())
}

// bufferedResponse is a ResponseWriter that keeps everything in memory.
type bufferedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
	// forget, set by forget(w): release the key instead of keeping this
	// answer under it.
	forget bool
}

// forget tells the Idempotency-Key middleware, if w is its buffer, not to
// keep this response under the request's key: the request changed nothing
// (an order still waiting for its shopper), so a retry with the same key
// must be served afresh, not told the old news.
func forget(w http.ResponseWriter) {
	if b, ok := w.(*bufferedResponse); ok {
		b.forget = true
	}
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
