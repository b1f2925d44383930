package postgres

import (
	"context"
	"time"

	"github.com/toteorg/tote"
)

// ReserveIdempotencyKey records k as in flight unless the key is known. A
// concurrent reservation of the same key blocks on the row lock and then
// sees the winner's row.
func (s *Store) ReserveIdempotencyKey(ctx context.Context, k *tote.IdempotencyKey, staleBefore time.Time) (*tote.IdempotencyKey, bool, error) {
	tag, err := s.pool.Exec(ctx, `
		INSERT INTO idempotency_keys (app_id, key, request_hash, locked_at, date_created)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT (app_id, key) DO NOTHING`,
		k.AppID, k.Key, k.RequestHash, k.LockedAt, k.DateCreated)
	if err != nil {
		return nil, false, interpretError(err, "reserve idempotency key")
	}
	if tag.RowsAffected() == 1 {
		return nil, true, nil
	}
	// Known key. Take it over only if its handler presumably died: in
	// flight, locked long ago, same request; the conditional UPDATE makes
	// exactly one taker win.
	tag, err = s.pool.Exec(ctx, `
		UPDATE idempotency_keys SET locked_at = $1
		WHERE app_id = $2 AND key = $3 AND NOT done AND locked_at < $4 AND request_hash = $5`,
		k.LockedAt, k.AppID, k.Key, staleBefore, k.RequestHash)
	if err != nil {
		return nil, false, interpretError(err, "take over idempotency key")
	}
	if tag.RowsAffected() == 1 {
		return nil, true, nil
	}
	// ErrNotFound here means the holder released the key in between; the
	// caller tries again.
	old, err := s.FindIdempotencyKey(ctx, k.AppID, k.Key)
	if err != nil {
		return nil, false, err
	}
	return old, false, nil
}

// FindIdempotencyKey reads a key.
func (s *Store) FindIdempotencyKey(ctx context.Context, appID int64, key string) (*tote.IdempotencyKey, error) {
	var k tote.IdempotencyKey
	err := s.pool.QueryRow(ctx, `
		SELECT app_id, key, request_hash, done, response_code, response_body, locked_at, date_created
		FROM idempotency_keys WHERE app_id = $1 AND key = $2`, appID, key).Scan(
		&k.AppID, &k.Key, &k.RequestHash, &k.Done, &k.ResponseCode, &k.ResponseBody,
		&k.LockedAt, &k.DateCreated)
	if err != nil {
		return nil, interpretError(err, "find idempotency key")
	}
	k.LockedAt, k.DateCreated = k.LockedAt.UTC(), k.DateCreated.UTC()
	return &k, nil
}

// CompleteIdempotencyKey stores the first response, fenced by LockedAt.
func (s *Store) CompleteIdempotencyKey(ctx context.Context, k *tote.IdempotencyKey, code int, body []byte) (bool, error) {
	tag, err := s.pool.Exec(ctx, `
		UPDATE idempotency_keys SET done = true, response_code = $1, response_body = $2
		WHERE app_id = $3 AND key = $4 AND locked_at = $5 AND NOT done`,
		code, body, k.AppID, k.Key, k.LockedAt)
	if err != nil {
		return false, interpretError(err, "complete idempotency key")
	}
	return tag.RowsAffected() == 1, nil
}

// ReleaseIdempotencyKey forgets an unfinished key, fenced by LockedAt.
func (s *Store) ReleaseIdempotencyKey(ctx context.Context, k *tote.IdempotencyKey) error {
	_, err := s.pool.Exec(ctx,
		`DELETE FROM idempotency_keys WHERE app_id = $1 AND key = $2 AND locked_at = $3 AND NOT done`,
		k.AppID, k.Key, k.LockedAt)
	return interpretError(err, "release idempotency key")
}

// PruneIdempotencyKeys deletes keys older than before.
func (s *Store) PruneIdempotencyKeys(ctx context.Context, before time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM idempotency_keys WHERE date_created < $1`, before)
	if err != nil {
		return 0, interpretError(err, "prune idempotency keys")
	}
	return tag.RowsAffected(), nil
}
