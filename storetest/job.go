package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/toteorg/tote"
)

// InsertJobs inserts jobs of kind, due at runAt, in one transaction.
func InsertJobs(tb testing.TB, s tote.Store, kind string, n int, runAt time.Time, maxAttempts int) []int64 {
	tb.Helper()
	params := make([]tote.JobParams, n)
	for i := range params {
		params[i] = tote.JobParams{Kind: kind, Args: []byte(fmt.Sprintf(`{"n": %d}`, i)), RunAt: runAt, MaxAttempts: maxAttempts}
	}
	var ids []int64
	noErr(tb, s.InTx(context.Background(), func(tx tote.Tx) error {
		var err error
		ids, err = tx.InsertJobs(context.Background(), params)
		return err
	}), "insert jobs")
	return ids
}

func claim(tb testing.TB, s tote.Store, worker string, limit int, now time.Time, kinds ...string) []*tote.Job {
	tb.Helper()
	jobs, err := s.ClaimJobs(context.Background(), tote.ClaimJobsParams{Worker: worker, Kinds: kinds, Limit: limit, Now: now, Lease: time.Minute})
	noErr(tb, err, "claim")
	return jobs
}

func testJobs(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t)
	due := InsertJobs(t, s, "send", 3, T0, 3)
	InsertJobs(t, s, "send", 1, T0.Add(time.Hour), 3) // not due yet
	InsertJobs(t, s, "other", 1, T0, 3)               // a kind this worker does not run

	got := claim(t, s, "w1", 2, T0, "send")
	if len(got) != 2 {
		t.Fatalf("claimed %d jobs with limit 2", len(got))
	}
	for _, j := range got {
		if j.State != tote.JobStateRunning || j.Attempt != 1 || j.AttemptedBy != "w1" || j.Kind != "send" {
			t.Fatalf("claimed job = %+v", j)
		}
		if j.LeaseUntil == nil || !j.LeaseUntil.Equal(T0.Add(time.Minute)) {
			t.Fatalf("lease = %v, want %v", j.LeaseUntil, T0.Add(time.Minute))
		}
	}
	rest := claim(t, s, "w1", 10, T0, "send")
	if len(rest) != 1 || rest[0].ID != due[2] {
		t.Fatalf("second claim = %d jobs, want only job %d (oldest first, not the future one)", len(rest), due[2])
	}
	j, err := s.FindJobByID(ctx, due[0])
	noErr(t, err, "find job")
	if string(j.Args) != `{"n": 0}` && string(j.Args) != `{"n":0}` {
		t.Fatalf("args = %s", j.Args)
	}

	// Outcomes: complete, retry later, discard.
	retryAt := T0.Add(10 * time.Second)
	ok, err := s.RecordJobOutcomes(ctx, []tote.JobOutcome{
		{ID: got[0].ID, Attempt: 1, Now: T0, State: tote.JobStateCompleted},
		{ID: got[1].ID, Attempt: 1, Now: T0, State: tote.JobStateAvailable, RetryAt: retryAt, Error: "503"},
		{ID: rest[0].ID, Attempt: 1, Now: T0, State: tote.JobStateDiscarded, Error: "400"},
	})
	noErr(t, err, "record outcomes")
	equal(t, "outcomes recorded", ok, []bool{true, true, true})

	if n := len(claim(t, s, "w2", 10, T0.Add(9*time.Second), "send")); n != 0 {
		t.Fatalf("claimed %d jobs before the retry was due", n)
	}
	again := claim(t, s, "w2", 10, retryAt, "send")
	if len(again) != 1 || again[0].ID != got[1].ID || again[0].Attempt != 2 || again[0].LastError != "503" {
		t.Fatalf("retry claim = %+v", again)
	}

	stats, err := s.JobStats(ctx, T0.Add(2*time.Hour))
	noErr(t, err, "stats")
	want := map[tote.JobState]int64{tote.JobStateCompleted: 1, tote.JobStateDiscarded: 1, tote.JobStateRunning: 1, tote.JobStateAvailable: 2}
	equal(t, "job counts", stats.Count, want)
	equal(t, "oldest due", stats.OldestDue, 2*time.Hour)

	n, err := s.PruneJobs(ctx, T0.Add(time.Second))
	noErr(t, err, "prune")
	equal(t, "pruned finished jobs", n, int64(2))
	if _, err := s.FindJobByID(ctx, got[0].ID); tote.ErrorCode(err) != tote.ENOTFOUND {
		t.Fatalf("pruned job still found: %v", err)
	}
}

// testJobFencingAndRescue: a job whose worker vanished is rescued once its
// lease ends; the lost worker's late outcome is then ignored.
func testJobFencingAndRescue(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t)
	InsertJobs(t, s, "k", 2, T0, 2)
	first := claim(t, s, "dead-worker", 2, T0)

	n, err := s.RescueJobs(ctx, T0.Add(59*time.Second))
	noErr(t, err, "rescue")
	equal(t, "rescued before the lease ended", n, int64(0))
	n, err = s.RescueJobs(ctx, T0.Add(61*time.Second))
	noErr(t, err, "rescue")
	equal(t, "rescued after the lease ended", n, int64(2))

	second := claim(t, s, "live-worker", 2, T0.Add(61*time.Second))
	if len(second) != 2 || second[0].Attempt != 2 {
		t.Fatalf("reclaim = %+v", second)
	}
	ok, err := s.RecordJobOutcomes(ctx, []tote.JobOutcome{
		{ID: first[0].ID, Attempt: 1, Now: T0, State: tote.JobStateCompleted},
		{ID: second[1].ID, Attempt: 2, Now: T0, State: tote.JobStateCompleted},
	})
	noErr(t, err, "late outcome")
	equal(t, "recorded (lost worker's outcome, live worker's outcome)", ok, []bool{false, true})

	// The other job's second worker dies too; out of attempts, the next
	// rescue discards it instead of requeueing it.
	n, err = s.RescueJobs(ctx, T0.Add(3*time.Minute))
	noErr(t, err, "rescue")
	equal(t, "rescued", n, int64(1))
	j, err := s.FindJobByID(ctx, second[0].ID)
	noErr(t, err, "find")
	if j.State != tote.JobStateDiscarded || j.FinalizedAt == nil {
		t.Fatalf("job out of attempts after rescue = %s (finalized %v), want discarded", j.State, j.FinalizedAt)
	}
	if j, _ := s.FindJobByID(ctx, second[1].ID); j.State != tote.JobStateCompleted {
		t.Fatalf("completed job = %s", j.State)
	}
}

// testJobParams: both stores insert only prepared jobs, with the same
// defaults and the same refusals.
func testJobParams(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t)
	var ids []int64
	noErr(t, s.InTx(ctx, func(tx tote.Tx) error {
		var err error
		ids, err = tx.InsertJobs(ctx, []tote.JobParams{{Kind: "k", RunAt: T0}})
		return err
	}), "insert with defaults")
	j, err := s.FindJobByID(ctx, ids[0])
	noErr(t, err, "find")
	if string(j.Args) != "{}" || j.MaxAttempts != tote.DefaultJobMaxAttempts || !j.CreatedAt.Equal(T0) {
		t.Fatalf("defaults: args %s, max attempts %d, created %v", j.Args, j.MaxAttempts, j.CreatedAt)
	}
	for name, p := range map[string]tote.JobParams{
		"NoRunAt":  {Kind: "k"},
		"NoKind":   {RunAt: T0},
		"BadJSON":  {Kind: "k", RunAt: T0, Args: []byte("{")},
		"Negative": {Kind: "k", RunAt: T0, MaxAttempts: -1},
	} {
		err := s.InTx(ctx, func(tx tote.Tx) error { _, err := tx.InsertJobs(ctx, []tote.JobParams{p}); return err })
		if tote.ErrorCode(err) != tote.EINVALID {
			t.Errorf("%s: err = %v, want EINVALID", name, err)
		}
	}
}

// testConcurrentClaims: workers racing for the same jobs never share one.
func testConcurrentClaims(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t)
	const jobs, workers = 300, 6
	InsertJobs(t, s, "race", jobs, T0, 1)
	var mu sync.Mutex
	owner := map[int64]string{}
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("w%d", w)
			for {
				got, err := s.ClaimJobs(ctx, tote.ClaimJobsParams{Worker: name, Limit: 7, Now: T0, Lease: time.Minute})
				if err != nil {
					errs <- err
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, j := range got {
					if prev, dup := owner[j.ID]; dup {
						mu.Unlock()
						errs <- fmt.Errorf("job %d claimed by %s and %s", j.ID, prev, name)
						return
					}
					owner[j.ID] = name
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	equal(t, "jobs claimed exactly once", len(owner), jobs)
}

// testCompleteJobs: waiting jobs are completed (or made due) in the
// transaction; a running or finished one is left as it is.
func testCompleteJobs(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t)
	ids := InsertJobs(t, s, "safety", 3, T0, 5)
	running := claim(t, s, "w", 1, T0)
	if len(running) != 1 {
		t.Fatalf("claimed %d", len(running))
	}
	later := T0.Add(time.Minute)
	noErr(t, s.InTx(ctx, func(tx tote.Tx) error { return tx.CompleteJobs(ctx, ids, later) }), "complete jobs")
	for _, id := range ids {
		j, err := s.FindJobByID(ctx, id)
		noErr(t, err, "find job")
		if id == running[0].ID {
			equal(t, "the running job's state", j.State, tote.JobStateRunning)
			continue
		}
		if j.State != tote.JobStateCompleted || j.FinalizedAt == nil || !j.FinalizedAt.Equal(later) {
			t.Fatalf("job %d: %s finalized %v, want completed at %v", id, j.State, j.FinalizedAt, later)
		}
	}
	if more := claim(t, s, "w", 10, later.Add(time.Hour)); len(more) != 0 {
		t.Fatalf("claimed %d completed jobs", len(more))
	}

	// DueJobs brings a waiting job forward (and leaves finished ones).
	net := InsertJobs(t, s, "safety", 1, T0.Add(time.Hour), 5)[0]
	noErr(t, s.InTx(ctx, func(tx tote.Tx) error { return tx.DueJobs(ctx, append([]int64{net}, ids...), T0) }), "due jobs")
	got := claim(t, s, "w", 10, T0)
	if len(got) != 1 || got[0].ID != net {
		t.Fatalf("claimed %d jobs at T0, want only the one made due", len(got))
	}
}
