package sqlite

import (
	"bytes"
	"context"
	"time"

	"github.com/toteorg/tote"
)

// ReserveIdempotencyKey records k as in flight unless the key is known.
func (s *Store) ReserveIdempotencyKey(ctx context.Context, k *tote.IdempotencyKey, staleBefore time.Time) (old *tote.IdempotencyKey, reserved bool, err error) {
	err = s.inWriteTx(ctx, func(tx *Tx) error {
		old, reserved = nil, false
		res, err := tx.tx.ExecContext(ctx, `
			INSERT INTO idempotency_keys (app_id, key, request_hash, locked_at, date_created)
			VALUES (?, ?, ?, ?, ?) ON CONFLICT (app_id, key) DO NOTHING`,
			k.AppID, k.Key, k.RequestHash, micros(k.LockedAt), micros(k.DateCreated))
		if err != nil {
			return interpretError(err, "reserve idempotency key")
		}
		if n, _ := res.RowsAffected(); n == 1 {
			reserved = true
			return nil
		}
		known, err := findIdempotencyKey(ctx, tx.tx, k.AppID, k.Key)
		if err != nil {
			return err
		}
		if known.Done || !known.LockedAt.Before(staleBefore) || !bytes.Equal(known.RequestHash, k.RequestHash) {
			old = known
			return nil
		}
		// The first handler died: take the key over.
		if _, err := tx.tx.ExecContext(ctx, `UPDATE idempotency_keys SET locked_at = ? WHERE app_id = ? AND key = ?`,
			micros(k.LockedAt), k.AppID, k.Key); err != nil {
			return interpretError(err, "take over idempotency key")
		}
		reserved = true
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	return old, reserved, nil
}

// FindIdempotencyKey reads a key.
func (s *Store) FindIdempotencyKey(ctx context.Context, appID int64, key string) (*tote.IdempotencyKey, error) {
	return findIdempotencyKey(ctx, s.q, appID, key)
}

func findIdempotencyKey(ctx context.Context, q querier, appID int64, key string) (*tote.IdempotencyKey, error) {
	var k tote.IdempotencyKey
	var locked, created int64
	err := q.QueryRowContext(ctx, `
		SELECT app_id, key, request_hash, done, response_code, response_body, locked_at, date_created
		FROM idempotency_keys WHERE app_id = ? AND key = ?`, appID, key).Scan(
		&k.AppID, &k.Key, &k.RequestHash, &k.Done, &k.ResponseCode, &k.ResponseBody, &locked, &created)
	if err != nil {
		return nil, interpretError(err, "find idempotency key")
	}
	k.LockedAt, k.DateCreated = fromMicros(locked), fromMicros(created)
	return &k, nil
}

// CompleteIdempotencyKey stores the first response, fenced by LockedAt.
func (s *Store) CompleteIdempotencyKey(ctx context.Context, k *tote.IdempotencyKey, code int, body []byte) (bool, error) {
	n, err := s.execWrite(ctx, "complete idempotency key", `
		UPDATE idempotency_keys SET done = 1, response_code = ?, response_body = ?
		WHERE app_id = ? AND key = ? AND locked_at = ? AND done = 0`,
		code, body, k.AppID, k.Key, micros(k.LockedAt))
	return n == 1, err
}

// ReleaseIdempotencyKey forgets an unfinished key, fenced by LockedAt.
func (s *Store) ReleaseIdempotencyKey(ctx context.Context, k *tote.IdempotencyKey) error {
	_, err := s.execWrite(ctx, "release idempotency key",
		`DELETE FROM idempotency_keys WHERE app_id = ? AND key = ? AND locked_at = ? AND done = 0`,
		k.AppID, k.Key, micros(k.LockedAt))
	return err
}

// PruneIdempotencyKeys deletes keys older than before.
func (s *Store) PruneIdempotencyKeys(ctx context.Context, before time.Time) (int64, error) {
	return s.execWrite(ctx, "prune idempotency keys", `DELETE FROM idempotency_keys WHERE date_created < ?`, micros(before))
}
