package job_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/toteorg/tote"
	"github.com/toteorg/tote/job"
	"github.com/toteorg/tote/storetest"
)

// TestSnoozeAndOwnOutcome: a snoozed job comes back later without counting
// as a failure (even past its attempt limit); a handler that records its
// own outcome is left to it.
func TestSnoozeAndOwnOutcome(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, open storetest.Opener) {
		s := open(t)
		r := job.NewRunner(s, tote.SystemClock{}, quiet, job.Config{PollInterval: 10 * time.Millisecond})
		var snoozes atomic.Int32
		r.Handle("busy", func(ctx context.Context, j *tote.Job) error {
			if snoozes.Add(1) <= 3 {
				return job.Snooze(5*time.Millisecond, "busy")
			}
			return nil
		}, 0)
		r.Handle("self", func(ctx context.Context, j *tote.Job) error {
			rec, err := s.RecordJobOutcomes(ctx, []tote.JobOutcome{{ID: j.ID, Attempt: j.Attempt, Now: time.Now(),
				State: tote.JobStateAvailable, RetryAt: time.Now().Add(time.Hour), Error: "recorded by the handler"}})
			if err != nil || !rec[0] {
				t.Errorf("handler's own outcome: %v %v", rec, err)
			}
			return job.ErrOutcomeRecorded
		}, 0)
		start(t, r)
		busy := storetest.InsertJobs(t, s, "busy", 1, time.Now(), 2)[0]
		self := storetest.InsertJobs(t, s, "self", 1, time.Now(), 5)[0]
		r.Notify()
		eventually(t, "the snoozed job to finish", func() bool { return jobState(t, s, busy).FinalizedAt != nil })
		if j := jobState(t, s, busy); j.State != tote.JobStateCompleted || j.Attempt != 4 || j.LastError != "" {
			t.Errorf("snoozed job: %s after %d runs (%q), want completed after 4 despite max 2", j.State, j.Attempt, j.LastError)
		}
		eventually(t, "the handler's outcome", func() bool { return jobState(t, s, self).LastError != "" })
		if j := jobState(t, s, self); j.State != tote.JobStateAvailable || j.RunAt.Before(time.Now().Add(50*time.Minute)) {
			t.Errorf("self-recorded job: %s at %v, want what the handler recorded", j.State, j.RunAt)
		}
	})
}

// TestShortSnoozeWakesRunner: a job put back for less than the poll
// interval runs again when it is due, not at the next poll.
func TestShortSnoozeWakesRunner(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, open storetest.Opener) {
		s := open(t)
		r := job.NewRunner(s, tote.SystemClock{}, quiet, job.Config{PollInterval: time.Hour})
		var runs atomic.Int32
		r.Handle("pending", func(ctx context.Context, j *tote.Job) error {
			if runs.Add(1) == 1 {
				return job.Snooze(20*time.Millisecond, "not confirmed yet")
			}
			return nil
		}, 0)
		start(t, r)
		id := storetest.InsertJobs(t, s, "pending", 1, time.Now(), 5)[0]
		r.Notify()
		deadline := time.Now().Add(10 * time.Second)
		for jobState(t, s, id).FinalizedAt == nil {
			if time.Now().After(deadline) {
				t.Fatalf("the snoozed job did not run again within 10 s (poll interval 1 h): %d runs", runs.Load())
			}
			time.Sleep(5 * time.Millisecond)
		}
		if n := runs.Load(); n != 2 {
			t.Fatalf("%d runs, want 2", n)
		}
	})
}
