package job_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/toteorg/tote"
	"github.com/toteorg/tote/job"
	"github.com/toteorg/tote/postgres"
	"github.com/toteorg/tote/sqlite"
	"github.com/toteorg/tote/storetest"
)

func TestMain(m *testing.M) {
	if os.Getenv("TOTE_JOB_CRASH_CHILD") != "" {
		crashChild()
		return
	}
	storetest.ReportPostgres()
	os.Exit(m.Run())
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// start runs r until the test ends, and waits for it to drain.
func start(t *testing.T, r *job.Runner) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func jobState(t *testing.T, s tote.Store, id int64) *tote.Job {
	t.Helper()
	j, err := s.FindJobByID(context.Background(), id)
	if err != nil {
		t.Fatalf("find job %d: %v", id, err)
	}
	return j
}

func TestRetriesThenOutcome(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, open storetest.Opener) {
		s := open(t)
		var calls sync.Map // job id → *atomic.Int32
		r := job.NewRunner(s, tote.SystemClock{}, quiet, job.Config{
			PollInterval: 20 * time.Millisecond,
			Backoff:      func(int) time.Duration { return time.Millisecond },
		})
		r.Handle("flaky", func(ctx context.Context, j *tote.Job) error {
			c, _ := calls.LoadOrStore(j.ID, new(atomic.Int32))
			if c.(*atomic.Int32).Add(1) < 3 {
				return errors.New("not yet")
			}
			return nil
		}, 0)
		r.Handle("hopeless", func(ctx context.Context, j *tote.Job) error {
			return job.Permanent(errors.New("bad request"))
		}, 0)
		r.Handle("broken", func(ctx context.Context, j *tote.Job) error { panic("bug") }, 0)
		start(t, r)

		now := time.Now()
		flaky := storetest.InsertJobs(t, s, "flaky", 1, now, 5)[0]
		hopeless := storetest.InsertJobs(t, s, "hopeless", 1, now, 5)[0]
		broken := storetest.InsertJobs(t, s, "broken", 1, now, 2)[0]
		r.Notify()

		eventually(t, "jobs to finish", func() bool {
			return jobState(t, s, flaky).FinalizedAt != nil && jobState(t, s, hopeless).FinalizedAt != nil &&
				jobState(t, s, broken).FinalizedAt != nil
		})
		if j := jobState(t, s, flaky); j.State != tote.JobStateCompleted || j.Attempt != 3 {
			t.Errorf("flaky job: %s after %d attempts, want completed after 3", j.State, j.Attempt)
		}
		if j := jobState(t, s, hopeless); j.State != tote.JobStateDiscarded || j.Attempt != 1 || j.LastError != "bad request" {
			t.Errorf("permanent failure: %s after %d attempts (%q), want discarded after 1", j.State, j.Attempt, j.LastError)
		}
		if j := jobState(t, s, broken); j.State != tote.JobStateDiscarded || j.Attempt != 2 {
			t.Errorf("panicking job: %s after %d attempts, want discarded after its 2", j.State, j.Attempt)
		}
	})
}

func TestRetryAfterAndTimeout(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, open storetest.Opener) {
		s := open(t)
		r := job.NewRunner(s, tote.SystemClock{}, quiet, job.Config{PollInterval: 20 * time.Millisecond})
		r.Handle("later", func(ctx context.Context, j *tote.Job) error {
			return job.RetryAfter(time.Hour, errors.New("429"))
		}, 0)
		r.Handle("slow", func(ctx context.Context, j *tote.Job) error {
			<-ctx.Done() // the attempt's timeout ends it
			return ctx.Err()
		}, 50*time.Millisecond)
		start(t, r)
		before := time.Now()
		later := storetest.InsertJobs(t, s, "later", 1, before, 5)[0]
		slow := storetest.InsertJobs(t, s, "slow", 1, before, 1)[0]
		r.Notify()
		eventually(t, "retry to be scheduled", func() bool { return jobState(t, s, later).LastError == "429" })
		if j := jobState(t, s, later); j.State != tote.JobStateAvailable || j.RunAt.Before(before.Add(59*time.Minute)) {
			t.Errorf("Retry-After job: %s at %v, want available in an hour", j.State, j.RunAt)
		}
		eventually(t, "slow job to time out", func() bool { return jobState(t, s, slow).FinalizedAt != nil })
		if j := jobState(t, s, slow); j.State != tote.JobStateDiscarded || j.LastError != context.DeadlineExceeded.Error() {
			t.Errorf("timed-out job: %s (%q)", j.State, j.LastError)
		}
	})
}

// TestTwoRunnersRace: two runners, each with its own connections to one
// database (as two processes), share a stream of jobs; each job runs exactly
// once and never on both at once.
func TestTwoRunnersRace(t *testing.T) {
	t.Parallel()
	storetest.EachKind(t, func(t *testing.T, k storetest.Kind) {
		a, b := k.Twin(t)
		const jobs = 300
		var running, runs [jobs + 1]atomic.Int32
		var overlaps atomic.Int32
		var total atomic.Int32
		handler := func(ctx context.Context, j *tote.Job) error {
			var args struct{ N int }
			if err := json.Unmarshal(j.Args, &args); err != nil {
				return job.Permanent(err)
			}
			if running[args.N].Add(1) > 1 {
				overlaps.Add(1)
			}
			runs[args.N].Add(1)
			time.Sleep(time.Millisecond) // widen the window for a double claim
			running[args.N].Add(-1)
			total.Add(1)
			return nil
		}
		for _, s := range []tote.Store{a, b} {
			r := job.NewRunner(s, tote.SystemClock{}, quiet, job.Config{Workers: 8, PollInterval: 10 * time.Millisecond})
			r.Handle("race", handler, 0)
			start(t, r)
		}
		// Insert while both run, in small transactions through both stores.
		for i := 0; i < jobs; i += 10 {
			params := make([]tote.JobParams, 10)
			for n := range params {
				params[n] = tote.JobParams{Kind: "race", Args: fmt.Appendf(nil, `{"N": %d}`, i+n+1), RunAt: time.Now(), MaxAttempts: 3}
			}
			s := []tote.Store{a, b}[i/10%2]
			if err := s.InTx(context.Background(), func(tx tote.Tx) error {
				_, err := tx.InsertJobs(context.Background(), params)
				return err
			}); err != nil {
				t.Fatal(err)
			}
		}
		eventually(t, "all jobs to run", func() bool { return total.Load() >= jobs })
		for n := 1; n <= jobs; n++ {
			if got := runs[n].Load(); got != 1 {
				t.Errorf("job %d ran %d times", n, got)
			}
		}
		if o := overlaps.Load(); o != 0 {
			t.Errorf("%d jobs ran concurrently twice", o)
		}
	})
}

// TestRescueAfterKill: a worker process is killed with SIGKILL while it
// holds a job; once the job's lease ends, another runner rescues it and runs
// it to completion, exactly once more.
func TestRescueAfterKill(t *testing.T) {
	t.Parallel()
	storetest.EachKind(t, func(t *testing.T, k storetest.Kind) {
		flag, value := k.URL(t)
		var s tote.Store
		if flag == "--data-dir" {
			s = storetest.OpenSQLiteAt(t, filepath.Join(value, "tote.db"))
		} else {
			s = storetest.OpenPostgresAt(t, value)
		}
		id := storetest.InsertJobs(t, s, "crash", 1, time.Now(), 3)[0]

		marker := filepath.Join(t.TempDir(), "started")
		child := exec.Command(os.Args[0], "-test.run=^$")
		child.Env = append(os.Environ(), "TOTE_JOB_CRASH_CHILD="+flag+"="+value, "TOTE_JOB_CRASH_MARKER="+marker)
		child.Stderr = os.Stderr
		if err := child.Start(); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the child to start the job", func() bool { _, err := os.Stat(marker); return err == nil })
		if err := child.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		child.Wait()
		if j := jobState(t, s, id); j.State != tote.JobStateRunning || j.Attempt != 1 {
			t.Fatalf("after the kill the job is %s (attempt %d), want still running under the dead worker", j.State, j.Attempt)
		}

		var runs atomic.Int32
		r := job.NewRunner(s, tote.SystemClock{}, quiet, job.Config{PollInterval: 20 * time.Millisecond, RescueInterval: 50 * time.Millisecond})
		r.Handle("crash", func(ctx context.Context, j *tote.Job) error { runs.Add(1); return nil }, 0)
		start(t, r)
		eventually(t, "the job to be rescued and completed", func() bool { return jobState(t, s, id).State == tote.JobStateCompleted })
		if j := jobState(t, s, id); j.Attempt != 2 || runs.Load() != 1 {
			t.Fatalf("rescued job: attempt %d, ran %d times here; want attempt 2, once", j.Attempt, runs.Load())
		}
	})
}

// TestOverrunNeverRunsTwice: a handler that ignores its context and runs
// far past its timeout and its lease is still not handed to another runner
// while its own process lives and heartbeats.
func TestOverrunNeverRunsTwice(t *testing.T) {
	t.Parallel()
	storetest.EachKind(t, func(t *testing.T, k storetest.Kind) {
		a, b := k.Twin(t)
		var runs, running, overlaps atomic.Int32
		release := make(chan struct{})
		handler := func(ctx context.Context, j *tote.Job) error {
			runs.Add(1)
			if running.Add(1) > 1 {
				overlaps.Add(1)
			}
			defer running.Add(-1)
			<-release // ignores ctx: a stuck call
			return nil
		}
		// The lease leaves the heartbeat (every third of it) room for a
		// stall of the loaded machine the whole suite runs on: at 400 ms
		// one was once late under -race.
		cfg := job.Config{PollInterval: 10 * time.Millisecond, Timeout: 20 * time.Millisecond,
			Lease: time.Second, RescueInterval: 20 * time.Millisecond}
		for _, s := range []tote.Store{a, b} {
			r := job.NewRunner(s, tote.SystemClock{}, quiet, cfg)
			r.Handle("stuck", handler, 0)
			start(t, r)
		}
		t.Cleanup(func() { close(release) }) // runs before the runners stop
		id := storetest.InsertJobs(t, a, "stuck", 1, time.Now(), 5)[0]
		eventually(t, "the job to start", func() bool { return runs.Load() == 1 })
		// Three leases pass with both runners polling and rescuing.
		deadline := time.Now().Add(3 * time.Second)
		for time.Now().Before(deadline) {
			if runs.Load() > 1 {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if n, o := runs.Load(), overlaps.Load(); n != 1 || o != 0 {
			t.Fatalf("the stuck job was started %d times (%d overlapping)", n, o)
		}
		if j := jobState(t, a, id); j.State != tote.JobStateRunning || j.Attempt != 1 {
			t.Fatalf("stuck job: %s, attempt %d; want still running its first attempt", j.State, j.Attempt)
		}
	})
}

// crashChild is the worker process TestRescueAfterKill kills: it claims the
// job with a one-second lease and hangs in it.
func crashChild() {
	ctx := context.Background()
	spec := os.Getenv("TOTE_JOB_CRASH_CHILD")
	var s tote.Store
	var err error
	if v, ok := strings.CutPrefix(spec, "--data-dir="); ok {
		s, err = sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(v, "tote.db")})
	} else if v, ok := strings.CutPrefix(spec, "--database-url="); ok {
		s, err = postgres.Open(ctx, v)
	}
	if err != nil || s == nil {
		fmt.Fprintln(os.Stderr, "crash child: open store:", err)
		os.Exit(2)
	}
	r := job.NewRunner(s, tote.SystemClock{}, quiet, job.Config{PollInterval: 10 * time.Millisecond, Lease: time.Second})
	r.Handle("crash", func(ctx context.Context, j *tote.Job) error {
		os.WriteFile(os.Getenv("TOTE_JOB_CRASH_MARKER"), nil, 0o644)
		select {} // hang until killed
	}, 0)
	r.Run(ctx)
}
