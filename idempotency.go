package tote

import "time"

// IdempotencyKey is a client's Idempotency-Key and the first response given
// to it. A key belongs to one app (or to the operator, AppID 0).
type IdempotencyKey struct {
	AppID int64
	Key   string
	// RequestHash identifies the request (method, path and body); a retry
	// with another body is a conflict.
	RequestHash []byte
	// Done is false while the first request is still being handled.
	Done         bool
	ResponseCode int
	ResponseBody []byte
	// LockedAt is when the current handling began; a key whose handler died
	// may be taken over once the lock is old.
	LockedAt    time.Time
	DateCreated time.Time
}

// IdempotencyKeyTTL is how long a key and its response are kept.
const IdempotencyKeyTTL = 24 * time.Hour
