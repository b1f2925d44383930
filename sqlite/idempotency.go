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
	old, err := findIdempotencyKey(ctx, tx, k.AppID, k.Key)
	if err != nil {
		return nil, false, err
	}
	if old.Done || !old.LockedAt.Before(staleBefore) || !bytes.Equal(old.RequestHash, k.RequestHash) {
		return old, false, nil
	}
	// The first handler died: take the key over.
	if _, err := tx.ExecContext(ctx, `UPDATE idempotency_keys SET locked_at = ? WHERE app_id = ? AND key = ?`,
		micros(k.LockedAt), k.AppID, k.Key); err != nil {
		return nil, false, interpretError(err, "take over idempotency key")
	}
	return nil, true, interpretError(tx.Commit(), "commit")
}

// FindIdempotencyKey reads a key.
func (s *Store) FindIdempotencyKey(ctx context.Context, appID int64, key string) (*tote.IdempotencyKey, error) {
	return findIdempotencyKey(ctx, s.read, appID, key)
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
	res, err := s.write.ExecContext(ctx, `
		UPDATE idempotency_keys SET done = 1, response_code = ?, response_body = ?
		WHERE app_id = ? AND key = ? AND locked_at = ? AND done = 0`,
		code, body, k.AppID, k.Key, micros(k.LockedAt))
	if err != nil {
		return false, interpretError(err, "complete idempotency key")
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// ReleaseIdempotencyKey forgets an unfinished key, fenced by LockedAt.
func (s *Store) ReleaseIdempotencyKey(ctx context.Context, k *tote.IdempotencyKey) error {
	_, err := s.write.ExecContext(ctx,
		`DELETE FROM idempotency_keys WHERE app_id = ? AND key = ? AND locked_at = ? AND done = 0`,
		k.AppID, k.Key, micros(k.LockedAt))
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
