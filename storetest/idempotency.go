package storetest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/toteorg/tote"
)

func key(app int64, k, hash string, at time.Time) *tote.IdempotencyKey {
	return &tote.IdempotencyKey{AppID: app, Key: k, RequestHash: []byte(hash), LockedAt: at, DateCreated: at}
}

func testIdempotency(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t)
	stale := T0.Add(-time.Minute)

	k1 := key(1, "k1", "h1", T0)
	old, ok, err := s.ReserveIdempotencyKey(ctx, k1, stale)
	noErr(t, err, "reserve")
	if !ok || old != nil {
		t.Fatalf("first reserve = %v, %v; want reserved", old, ok)
	}
	// Same key, other app: independent.
	if _, ok, _ := s.ReserveIdempotencyKey(ctx, key(2, "k1", "h1", T0), stale); !ok {
		t.Fatal("a key of another app blocked this app's")
	}
	// In flight: the second caller sees it, undone.
	old, ok, err = s.ReserveIdempotencyKey(ctx, key(1, "k1", "h1", T0.Add(time.Second)), stale)
	noErr(t, err, "reserve again")
	if ok || old == nil || old.Done || string(old.RequestHash) != "h1" {
		t.Fatalf("in-flight reserve = %+v, %v", old, ok)
	}
	// A completion fenced by a lock that is not the key's changes nothing.
	if ok, err := s.CompleteIdempotencyKey(ctx, key(1, "k1", "h1", T0.Add(time.Second)), 500, nil); err != nil || ok {
		t.Fatalf("completion by a stale holder: %v, %v", ok, err)
	}
	ok, err = s.CompleteIdempotencyKey(ctx, k1, 201, []byte(`{"id":7}`))
	noErr(t, err, "complete")
	if !ok {
		t.Fatal("the holder's completion was refused")
	}
	got, err := s.FindIdempotencyKey(ctx, 1, "k1")
	noErr(t, err, "find")
	if !got.Done || got.ResponseCode != 201 {
		t.Fatalf("found key = %+v", got)
	}
	if _, err := s.FindIdempotencyKey(ctx, 1, "nope"); tote.ErrorCode(err) != tote.ENOTFOUND {
		t.Fatalf("unknown key: %v", err)
	}
	old, ok, err = s.ReserveIdempotencyKey(ctx, key(1, "k1", "h1", T0.Add(time.Hour)), T0.Add(time.Hour))
	noErr(t, err, "reserve done")
	if ok || !old.Done || old.ResponseCode != 201 || string(old.ResponseBody) != `{"id":7}` {
		t.Fatalf("done key = %+v, %v", old, ok)
	}

	// A handler that died: the same request takes the key over once stale,
	// another request never does.
	_, _, err = s.ReserveIdempotencyKey(ctx, key(1, "k2", "h2", T0), stale)
	noErr(t, err, "reserve k2")
	if _, ok, _ := s.ReserveIdempotencyKey(ctx, key(1, "k2", "other", T0.Add(time.Hour)), T0.Add(time.Minute)); ok {
		t.Fatal("a different request took over an in-flight key")
	}
	taker := key(1, "k2", "h2", T0.Add(time.Hour))
	if _, ok, _ := s.ReserveIdempotencyKey(ctx, taker, T0.Add(time.Minute)); !ok {
		t.Fatal("a stale in-flight key was not taken over")
	}
	// The dead holder's release no longer applies; the taker's does.
	noErr(t, s.ReleaseIdempotencyKey(ctx, key(1, "k2", "h2", T0)), "stale release")
	if _, err := s.FindIdempotencyKey(ctx, 1, "k2"); err != nil {
		t.Fatalf("a stale holder released the key: %v", err)
	}
	noErr(t, s.ReleaseIdempotencyKey(ctx, taker), "release")
	if _, ok, _ := s.ReserveIdempotencyKey(ctx, key(1, "k2", "h3", T0), stale); !ok {
		t.Fatal("a released key could not be reserved")
	}
	// Released does not touch completed keys.
	noErr(t, s.ReleaseIdempotencyKey(ctx, k1), "release done")
	if old, ok, _ := s.ReserveIdempotencyKey(ctx, key(1, "k1", "h1", T0), stale); ok || !old.Done {
		t.Fatal("release forgot a completed key")
	}

	n, err := s.PruneIdempotencyKeys(ctx, T0.Add(time.Microsecond))
	noErr(t, err, "prune")
	equal(t, "pruned keys", n, int64(3))
}

// testConcurrentIdempotency: of many simultaneous first requests with one
// key, exactly one is let through.
func testConcurrentIdempotency(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t)
	const n = 12
	var wg sync.WaitGroup
	var mu sync.Mutex
	reserved := 0
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, ok, err := s.ReserveIdempotencyKey(ctx, key(1, "same", "h", T0), T0.Add(-time.Minute))
			if err != nil {
				t.Errorf("reserve: %v", err)
			}
			if ok {
				mu.Lock()
				reserved++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	equal(t, "callers let through", reserved, 1)
}
