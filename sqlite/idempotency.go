package sqlite

import (
	"bytes"
	"context"
	"time"

	"github.com/toteorg/tote"
)

// ReserveIdempotencyKey records k as in flight unless the key is known.
func (s *Store) ReserveIdempotencyKey(ctx context.Context, k *tote.IdempotencyKey, staleBefore time.Time) (*tote.IdempotencyKey, bool, error) {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, false, interpretError(err, "begin")
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `
		INSERT INTO idempotency_keys (app_id, key, request_hash, locked_at, date_created)
		VALUES (?, ?, ?, ?, ?) ON CONFLICT (app_id, key) DO NOTHING`,
		k.AppID, k.Key, k.RequestHash, micros(k.LockedAt), micros(k.DateCreated))
	if err != nil {
		return nil, false, interpretError(err, "reserve idempotency key")
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return nil, true, interpretError(tx.Commit(), "commit")
	}
	var old tote.IdempotencyKey
	var locked, created int64
	err = tx.QueryRowContext(ctx, `
		SELECT app_id, key, request_hash, done, response_code, response_body, locked_at, date_created
		FROM idempotency_keys WHERE app_id = ? AND key = ?`, k.AppID, k.Key).Scan(
		&old.AppID, &old.Key, &old.RequestHash, &old.Done, &old.ResponseCode, &old.ResponseBody,
		&locked, &created)
	if err != nil {
		return nil, false, interpretError(err, "find idempotency key")
	}
	old.LockedAt, old.DateCreated = fromMicros(locked), fromMicros(created)
	if old.Done || !old.LockedAt.Before(staleBefore) || !bytes.Equal(old.RequestHash, k.RequestHash) {
		return &old, false, nil
	}
	// The first handler died: take the key over.
	if _, err := tx.ExecContext(ctx, `UPDATE idempotency_keys SET locked_at = ? WHERE app_id = ? AND key = ?`,
		micros(k.LockedAt), k.AppID, k.Key); err != nil {
		return nil, false, interpretError(err, "take over idempotency key")
	}
	return nil, true, interpretError(tx.Commit(), "commit")
}

// CompleteIdempotencyKey stores the first response.
func (s *Store) CompleteIdempotencyKey(ctx context.Context, appID int64, key string, code int, body []byte) error {
	_, err := s.write.ExecContext(ctx, `
		UPDATE idempotency_keys SET done = 1, response_code = ?, response_body = ?
		WHERE app_id = ? AND key = ?`, code, body, appID, key)
	return interpretError(err, "complete idempotency key")
}

// ReleaseIdempotencyKey forgets an unfinished key.
func (s *Store) ReleaseIdempotencyKey(ctx context.Context, appID int64, key string) error {
	_, err := s.write.ExecContext(ctx,
		`DELETE FROM idempotency_keys WHERE app_id = ? AND key = ? AND done = 0`, appID, key)
	return interpretError(err, "release idempotency key")
}

// PruneIdempotencyKeys deletes keys older than before.
func (s *Store) PruneIdempotencyKeys(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.write.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE date_created < ?`, micros(before))
	if err != nil {
		return 0, interpretError(err, "prune idempotency keys")
	}
	return res.RowsAffected()
}
