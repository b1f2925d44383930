// Package job runs durable jobs: rows in the store, written in the same
// transaction as the state change that calls for them, claimed by workers,
// retried with backoff and jitter, and rescued when a worker dies holding
// one. See docs/decisions/0002-durable-jobs.md for why this is a table of
// our own rather than River.
package job

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"runtime/debug"
	"sync"
	"time"

	"github.com/toteorg/tote"
)

// Handler runs one attempt of a job. Returning nil completes the job;
// Permanent(err) discards it; RetryAfter(d, err) retries it after d; any
// other error retries it with backoff until its attempts run out. ctx ends
// when the job's timeout passes.
type Handler func(ctx context.Context, j *tote.Job) error

// Config tunes a Runner. Zero values take the defaults.
type Config struct {
	// Workers is how many jobs run at once in this process (default 10).
	Workers int
	// PollInterval is how often the queue is checked when nothing woke the
	// runner (default 1s). Jobs inserted by this process wake it at once.
	PollInterval time.Duration
	// Timeout bounds one attempt (default 1m) unless the kind sets its own.
	Timeout time.Duration
	// Lease is how long a claim holds without news from its worker before
	// the rescuer may hand the job to another (default 30s). While a job's
	// goroutine is alive, even past its timeout, the runner renews the
	// lease every Lease/3; so a job is never run twice at once unless its
	// process stops heartbeating (it died, or was cut off from the
	// database for a whole lease).
	Lease time.Duration
	// RescueInterval is how often expired leases are looked for (default 15s).
	RescueInterval time.Duration
	// Backoff gives the delay before retry number attempt (1-based) when a
	// handler fails (default: 1s doubling to at most 1h, ±25% jitter).
	Backoff func(attempt int) time.Duration
	// Retention is how long finished jobs are kept (default 24h).
	Retention time.Duration
	// Name identifies this runner in claims (default host-pid-random).
	Name string
}

func (c Config) withDefaults() Config {
	c.Workers = max(c.Workers, 0)
	if c.Workers == 0 {
		c.Workers = 10
	}
	if c.PollInterval <= 0 {
		c.PollInterval = time.Second
	}
	if c.Timeout <= 0 {
		c.Timeout = time.Minute
	}
	if c.Lease <= 0 {
		c.Lease = 30 * time.Second
	}
	if c.RescueInterval <= 0 {
		c.RescueInterval = 15 * time.Second
	}
	if c.Retention <= 0 {
		c.Retention = 24 * time.Hour
	}
	if c.Backoff == nil {
		c.Backoff = ExponentialBackoff(time.Second, time.Hour)
	}
	if c.Name == "" {
		host, _ := os.Hostname()
		c.Name = fmt.Sprintf("%s-%d-%04x", host, os.Getpid(), rand.IntN(1<<16))
	}
	return c
}

// ExponentialBackoff returns base·2^(attempt-1), capped, with ±25% jitter so
// that jobs failing together do not retry together.
func ExponentialBackoff(base, limit time.Duration) func(int) time.Duration {
	return func(attempt int) time.Duration {
		d := base
		for i := 1; i < attempt && d < limit; i++ {
			d *= 2
		}
		d = min(d, limit)
		jitter := time.Duration(rand.Int64N(int64(d)/2+1)) - d/4
		return d + jitter
	}
}

// permanentError marks a failure not worth retrying.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent wraps err so the job is discarded without further attempts.
func Permanent(err error) error { return &permanentError{err} }

// retryAfterError asks for the next attempt at a given delay.
type retryAfterError struct {
	after time.Duration
	err   error
}

func (e *retryAfterError) Error() string { return e.err.Error() }
func (e *retryAfterError) Unwrap() error { return e.err }

// RetryAfter wraps err so the next attempt comes after d (e.g. a
// Retry-After header), instead of the backoff's delay.
func RetryAfter(d time.Duration, err error) error { return &retryAfterError{d, err} }

// snoozeError puts a job back without it having failed.
type snoozeError struct {
	after  time.Duration
	reason string
}

func (e *snoozeError) Error() string { return "snoozed: " + e.reason }

// ErrOutcomeRecorded, returned by a handler, says it has recorded the
// attempt's outcome itself, in the transaction that recorded its own work
// (fenced by the job's id and attempt, like RecordJobOutcomes): the runner
// records nothing. A webhook delivery does this, so its result and its
// job's next state commit together.
var ErrOutcomeRecorded = errors.New("job outcome recorded by its handler")

// Snooze puts the job back to run again after d: the handler chose not to
// work on it yet (its destination is paused or busy). Unlike a failure it
// is not logged as one, and it never discards the job, whatever its
// attempt count.
func Snooze(d time.Duration, reason string) error { return &snoozeError{d, reason} }

type kind struct {
	handler Handler
	timeout time.Duration
}

// Runner claims and runs jobs of the kinds registered with Handle.
type Runner struct {
	store    tote.JobQueue
	clock    tote.Clock
	log      *slog.Logger
	cfg      Config
	kinds    map[string]kind
	names    []string
	wake     chan struct{}
	wg       sync.WaitGroup
	active   chan struct{} // one token per running job
	outcomes chan tote.JobOutcome

	runMu   sync.Mutex
	running map[int64]int // job id → attempt, while its goroutine lives
	// abort ends the contexts of running jobs (at a drain deadline).
	abortCtx context.Context
	abort    context.CancelFunc

	lastPrune time.Time
	backlog   bool // the last claim took all it asked for: more may wait

	// A job put back to run again sooner than the next poll (a snooze, a
	// short Retry-After) wakes the runner when it is due.
	soon WakeTimer
}

// NewRunner returns a runner; register kinds with Handle, then call Run.
func NewRunner(store tote.JobQueue, clock tote.Clock, log *slog.Logger, cfg Config) *Runner {
	cfg = cfg.withDefaults()
	abortCtx, abort := context.WithCancel(context.Background())
	return &Runner{
		running:  map[int64]int{},
		abortCtx: abortCtx,
		abort:    abort,
		store:    store,
		clock:    clock,
		log:      log,
		cfg:      cfg,
		kinds:    map[string]kind{},
		wake:     make(chan struct{}, 1),
		active:   make(chan struct{}, cfg.Workers),
	}
}

// Handle registers the handler of a kind; timeout 0 means the default.
// Call it before Run.
func (r *Runner) Handle(name string, h Handler, timeout time.Duration) {
	if timeout <= 0 {
		timeout = r.cfg.Timeout
	}
	if _, ok := r.kinds[name]; !ok {
		r.names = append(r.names, name)
	}
	r.kinds[name] = kind{handler: h, timeout: timeout}
}

// Notify tells the runner new jobs may be due, so it claims them now rather
// than at the next poll. It never blocks.
func (r *Runner) Notify() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Run claims and runs jobs until ctx ends, then waits for running jobs to
// finish (each is bounded by its timeout, or cut short by Abort), records
// their outcomes, and returns.
func (r *Runner) Run(ctx context.Context) {
	r.outcomes = make(chan tote.JobOutcome, r.cfg.Workers)
	// A few completers record outcomes side by side: on PostgreSQL one
	// commit at a time would cap throughput; on SQLite they take turns
	// at the one writer anyway.
	var completers sync.WaitGroup
	for range completerCount {
		completers.Go(r.complete)
	}
	completed := make(chan struct{})
	go func() { completers.Wait(); close(completed) }()
	beating := make(chan struct{})
	stopBeat := make(chan struct{})
	go func() { r.heartbeat(stopBeat); close(beating) }()
	defer func() {
		r.wg.Wait()
		close(stopBeat)
		<-beating
		close(r.outcomes)
		<-completed
		r.stopSoon()
	}()
	rescue := time.NewTicker(r.cfg.RescueInterval)
	defer rescue.Stop()
	poll := time.NewTicker(r.cfg.PollInterval)
	defer poll.Stop()
	failures := 0
	for {
		full, err := r.claim(ctx)
		if err != nil && ctx.Err() == nil {
			failures++
			r.log.Error("claim jobs", "err", err)
		} else {
			failures = 0
		}
		if full && err == nil {
			continue // there may be more due work; go again at once
		}
		timer := time.NewTimer(IdleWait(r.cfg.PollInterval, failures))
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-r.wake:
		case <-poll.C:
		case <-timer.C:
		case <-rescue.C:
			r.maintain(ctx)
		}
		timer.Stop()
	}
}

// Abort cancels the contexts of the jobs still running, so that a drain
// that ran out of time ends them (Run then records their outcomes).
func (r *Runner) Abort() { r.abort() }

// heartbeat renews the leases of running jobs until stop is closed.
func (r *Runner) heartbeat(stop chan struct{}) {
	Heartbeat(stop, r.cfg.Lease, func(ctx context.Context, until time.Time) {
		r.runMu.Lock()
		leases := make([]tote.JobLease, 0, len(r.running))
		for id, attempt := range r.running {
			leases = append(leases, tote.JobLease{ID: id, Attempt: attempt})
		}
		r.runMu.Unlock()
		if len(leases) == 0 {
			return
		}
		if _, err := r.store.ExtendJobLeases(ctx, leases, until); err != nil {
			r.log.Error("renew job leases", "jobs", len(leases), "err", err)
		}
	}, r.clock)
}

// Heartbeat calls renew every third of lease until stop is closed, with
// the time the leases it renews should now end and a context bounded by
// half a lease: a lease renewed that often survives two missed beats.
func Heartbeat(stop <-chan struct{}, lease time.Duration, renew func(ctx context.Context, until time.Time), clock tote.Clock) {
	t := time.NewTicker(lease / 3)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), lease/2)
		renew(ctx, clock.Now().Add(lease))
		cancel()
	}
}

// maintain rescues jobs whose worker was lost and prunes finished ones.
func (r *Runner) maintain(ctx context.Context) {
	now := r.clock.Now()
	if n, err := r.store.RescueJobs(ctx, now); err != nil {
		r.log.Error("rescue jobs", "err", err)
	} else if n > 0 {
		r.log.Warn("rescued jobs whose worker was lost", "count", n)
	}
	if now.Sub(r.lastPrune) >= time.Hour {
		r.lastPrune = now
		if _, err := r.store.PruneJobs(ctx, now.Add(-r.cfg.Retention)); err != nil {
			r.log.Error("prune jobs", "err", err)
		}
	}
}

// claim takes as many due jobs as there are free workers and starts them.
// It reports whether it filled every free worker (so more may be waiting).
func (r *Runner) claim(ctx context.Context) (bool, error) {
	free := cap(r.active) - len(r.active)
	if free == 0 || len(r.names) == 0 || ctx.Err() != nil {
		return false, nil
	}
	// With a backlog, claim in batches (a quarter of the workers at
	// least): one claim per finished job would make the claim round trip
	// the limit on a networked database. Without one, claim at once.
	if r.backlog && len(r.active) > 0 && free < max(1, cap(r.active)/4) {
		return false, nil
	}
	jobs, err := r.store.ClaimJobs(ctx, tote.ClaimJobsParams{
		Worker: r.cfg.Name,
		Kinds:  r.names,
		Limit:  free,
		Now:    r.clock.Now(),
		Lease:  r.cfg.Lease,
	})
	if err != nil {
		return false, err
	}
	r.backlog = len(jobs) == free
	r.runMu.Lock()
	for _, j := range jobs {
		r.running[j.ID] = j.Attempt
	}
	r.runMu.Unlock()
	for _, j := range jobs {
		r.active <- struct{}{}
		r.wg.Add(1)
		go r.run(j)
	}
	return len(jobs) == free, nil
}

func (r *Runner) run(j *tote.Job) {
	defer r.wg.Done()
	defer func() {
		<-r.active
		r.Notify() // a worker is free
	}()
	k := r.kinds[j.Kind]
	// The attempt outlives a shutdown request (it drains), but not its
	// timeout or an Abort.
	jctx, cancel := context.WithTimeout(r.abortCtx, k.timeout)
	err := r.call(jctx, k.handler, j)
	cancel()
	r.runMu.Lock()
	delete(r.running, j.ID) // its lease is no longer renewed
	r.runMu.Unlock()

	now := r.clock.Now()
	o := tote.JobOutcome{ID: j.ID, Attempt: j.Attempt, Now: now, State: tote.JobStateCompleted}
	var perm *permanentError
	var after *retryAfterError
	var snooze *snoozeError
	switch {
	case errors.Is(err, ErrOutcomeRecorded):
		return
	case err == nil:
	case errors.As(err, &snooze):
		o.State, o.RetryAt = tote.JobStateAvailable, now.Add(snooze.after)
		r.log.Debug("job snoozed", "job_id", j.ID, "kind", j.Kind, "until", o.RetryAt, "reason", snooze.reason)
		r.outcomes <- o
		return
	case errors.As(err, &perm) || j.Attempt >= j.MaxAttempts:
		o.State, o.Error = tote.JobStateDiscarded, err.Error()
	case errors.As(err, &after):
		o.State, o.Error, o.RetryAt = tote.JobStateAvailable, err.Error(), now.Add(after.after)
	default:
		o.State, o.Error, o.RetryAt = tote.JobStateAvailable, err.Error(), now.Add(r.cfg.Backoff(j.Attempt))
	}
	if err != nil {
		r.log.Warn("job attempt failed", "job_id", j.ID, "kind", j.Kind, "attempt", j.Attempt,
			"next", o.State, "err", err)
	}
	r.outcomes <- o
}

// wakeSoon has the runner claim at t, when t comes before its next poll
// would (at most PollInterval late otherwise, as before).
func (r *Runner) wakeSoon(t time.Time) {
	r.soon.At(t, r.clock.Now(), r.cfg.PollInterval, r.Notify)
}

// stopSoon stops the pending wake-up, when the runner stops.
func (r *Runner) stopSoon() { r.soon.Stop() }

// IdleWait is how long a claim loop with nothing to do waits before it
// looks again: the poll interval, or after failures in a row (database
// trouble) a second per failure, up to 30 s.
func IdleWait(poll time.Duration, failures int) time.Duration {
	if failures > 0 {
		return min(time.Duration(failures)*time.Second, 30*time.Second)
	}
	return poll
}

// WakeTimer calls a wake-up function when work put back for a moment is
// due, if that comes before the caller's next poll would find it. One
// timer serves the earliest such time. The zero value is ready to use.
type WakeTimer struct {
	mu    sync.Mutex
	timer *time.Timer
	when  time.Time
}

// At has wake called at t, unless t is a poll interval or more after now
// (the poll finds it) or an earlier wake-up is set.
func (w *WakeTimer) At(t, now time.Time, poll time.Duration, wake func()) {
	wait := t.Sub(now)
	if wait >= poll {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.timer != nil && !t.Before(w.when) {
		return // an earlier wake-up is set
	}
	if w.timer != nil {
		w.timer.Stop()
	}
	w.when = t
	var timer *time.Timer
	timer = time.AfterFunc(max(wait, 0), func() {
		w.mu.Lock()
		if w.timer == timer {
			w.timer = nil
		}
		w.mu.Unlock()
		wake()
	})
	w.timer = timer
}

// Stop cancels the pending wake-up.
func (w *WakeTimer) Stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.timer != nil {
		w.timer.Stop()
		w.timer = nil
	}
}

// complete records outcomes as they come, batching those that arrive while
// a write is in flight into one transaction, until outcomes is closed.
func (r *Runner) complete() {
	ctx := context.Background() // outcomes are recorded even while shutting down
	batch := make([]tote.JobOutcome, 0, maxOutcomeBatch)
	for o := range r.outcomes {
		batch = append(batch[:0], o)
	more:
		for len(batch) < maxOutcomeBatch {
			select {
			case o, ok := <-r.outcomes:
				if !ok {
					break more
				}
				batch = append(batch, o)
			default:
				break more
			}
		}
		recorded, err := r.store.RecordJobOutcomes(ctx, batch)
		if err != nil {
			// The jobs stay running until their leases end; the rescuer
			// then retries them.
			r.log.Error("record job outcomes", "jobs", len(batch), "err", err)
			continue
		}
		for i, ok := range recorded {
			if !ok {
				r.log.Warn("job lease was lost before its outcome was recorded", "job_id", batch[i].ID, "attempt", batch[i].Attempt)
			} else if batch[i].State == tote.JobStateAvailable {
				r.wakeSoon(batch[i].RetryAt)
			}
		}
	}
}

const (
	maxOutcomeBatch = 100
	completerCount  = 4
)

func (r *Runner) call(ctx context.Context, h Handler, j *tote.Job) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("job handler panicked: %v\n%s", p, debug.Stack())
		}
	}()
	return h(ctx, j)
}
