package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/toteorg/tote"
	"github.com/toteorg/tote/job"
)

// Dispatcher sends deliveries: it is the handler of KindDeliverWebhook
// jobs. One job runs one attempt; a failed attempt puts the job back for
// the next one, so nothing waits in memory and a crash loses nothing (the
// job is rescued and the attempt made again: at least once). The outcome
// of an attempt, the end of the bag's turn, and the job's next state are
// one transaction, shared with the attempts that finish at the same time.
type Dispatcher struct {
	Store  tote.Store
	Clock  tote.Clock
	Log    *slog.Logger
	Sender *Sender
	Policy Policy
	// EndpointConcurrency caps the attempts in flight to one subscription
	// in this process (default 16), so a slow endpoint can hold only that
	// many workers and never starve the others. A delivery over the cap is
	// put back for a moment.
	EndpointConcurrency int
	// Retention is how long deliveries and their attempts are kept
	// (default 30 days).
	Retention time.Duration

	mu       sync.Mutex
	inFlight map[int64]int

	batch batcher
}

// DefaultRetention is how long delivery records are kept.
const DefaultRetention = 30 * 24 * time.Hour

// Register adds the delivery job kind to a runner. A job outlives its
// HTTP attempt by the time needed to record the outcome.
func (d *Dispatcher) Register(r *job.Runner) {
	timeout := 10 * time.Second
	if d.Sender != nil && d.Sender.Client != nil && d.Sender.Client.Timeout > 0 {
		timeout = d.Sender.Client.Timeout
	}
	d.batch.store = d.Store
	r.Handle(tote.KindDeliverWebhook, d.deliver, timeout+30*time.Second)
}

func (d *Dispatcher) acquire(webhookID int64) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.inFlight == nil {
		d.inFlight = map[int64]int{}
	}
	limit := d.EndpointConcurrency
	if limit <= 0 {
		limit = 16
	}
	if d.inFlight[webhookID] >= limit {
		return false
	}
	d.inFlight[webhookID]++
	return true
}

func (d *Dispatcher) release(webhookID int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.inFlight[webhookID]--; d.inFlight[webhookID] <= 0 {
		delete(d.inFlight, webhookID)
	}
}

// busyWait is how long a delivery over its endpoint's cap waits: longer
// each time its job comes up busy, so a backlog behind a slow endpoint
// does not spin.
func busyWait(jobAttempt int) time.Duration {
	d := 250 * time.Millisecond << min(max(jobAttempt-1, 0), 5)
	return d/2 + time.Duration(rand.Int64N(int64(d)))
}

func (d *Dispatcher) deliver(ctx context.Context, j *tote.Job) error {
	var args tote.DeliveryJobArgs
	if err := json.Unmarshal(j.Args, &args); err != nil {
		return job.Permanent(err)
	}
	ds, err := d.Store.FindDeliveryToSend(ctx, args.DeliveryID)
	if errors.Is(err, tote.ErrNotFound) {
		return nil // deleted with its subscription
	} else if err != nil {
		return err
	}
	del, w := ds.Delivery, ds.Webhook
	if del.Status.Final() || del.Waiting {
		return nil // a duplicate job: the delivery's turn was recorded already
	}
	now := d.Clock.Now()
	if w.Status != tote.WebhookStatusActive {
		r, err := d.record(ctx, tote.DeliveryOutcome{DeliveryID: del.ID, Attempts: del.Attempts, Now: now,
			Status: tote.DeliveryStatusCancelled, Error: "subscription is " + string(w.Status), JobID: j.ID, JobAttempt: j.Attempt})
		if err == nil && r.JobRecorded {
			return job.ErrOutcomeRecorded
		}
		return err
	}
	if next := del.DateNextAttempt; next != nil && next.After(now) {
		// The job came up early (taken over from a worker that recorded
		// its attempt after losing the job's lease): keep to the schedule.
		return job.Snooze(next.Sub(now), "not due yet")
	}
	if w.PausedUntil != nil && now.Before(*w.PausedUntil) {
		return job.Snooze(jitter(w.PausedUntil.Sub(now), 0.05)+time.Second, "endpoint paused")
	}
	if !d.acquire(w.ID) {
		return job.Snooze(busyWait(j.Attempt), "endpoint busy")
	}
	res := d.Sender.Send(ctx, Message{
		URL: w.RemoteEndpoint, WebhookID: w.ID, EventID: del.EventID, SourceEventID: del.SourceEventID,
		Topic: del.EventType, OrderID: del.OrderID, BagID: del.BagID, BagVersion: del.BagVersion,
		Body: body(ds.Body), AppKey: ds.AppWebhookKey, Secret: w.SigningSecret,
	})
	d.release(w.ID)
	out := d.Policy.Outcome(del, res, d.Clock.Now())
	out.JobID, out.JobAttempt = j.ID, j.Attempt
	r, err := d.record(ctx, out)
	if err != nil {
		return err // the job is retried: the endpoint may get this attempt again
	}
	// The job's next state was recorded with the outcome (unless this
	// worker lost its job meanwhile).
	done := error(nil)
	if r.JobRecorded {
		done = job.ErrOutcomeRecorded
	}
	if !r.Recorded {
		return done
	}
	log := d.Log.With("delivery_id", del.ID, "webhook_id", w.ID, "event_id", del.EventID, "attempt", del.Attempts+1)
	if r.Disabled {
		log.Warn("webhook subscription disabled", "status_code", res.StatusCode, "err", out.Error)
	}
	if r.PausedUntil != nil {
		log.Warn("webhook endpoint paused after repeated failures", "until", r.PausedUntil)
	}
	switch out.Status {
	case tote.DeliveryStatusInProgress:
		log.Info("webhook delivery failed; will retry", "status_code", res.StatusCode, "err", out.Error, "next_attempt", out.NextAttempt)
		if done == nil {
			return job.Snooze(max(out.NextAttempt.Sub(d.Clock.Now()), 0), "next attempt")
		}
	case tote.DeliveryStatusFailed:
		log.Warn("webhook delivery failed for good", "status_code", res.StatusCode, "err", out.Error)
	}
	return done
}

// body is what is sent for an event recorded without a payload.
func body(b []byte) []byte {
	if len(b) == 0 {
		return []byte("{}")
	}
	return b
}

// record writes an outcome together with those of the attempts finishing
// at the same time (one transaction for many: what lets deliveries keep
// up with a busy store).
func (d *Dispatcher) record(ctx context.Context, o tote.DeliveryOutcome) (tote.DeliveryResult, error) {
	return d.batch.record(ctx, o)
}

// batcher groups outcomes into transactions. A caller that finds no write
// in flight starts a writer goroutine, which writes everything pending, then
// whatever arrived meanwhile, until nothing is left; every caller just waits
// for its own result (none is kept writing others' outcomes).
type batcher struct {
	store   tote.WebhookStore
	mu      sync.Mutex
	pending []*pendingOutcome
	writing bool
}

type pendingOutcome struct {
	o    tote.DeliveryOutcome
	res  tote.DeliveryResult
	err  error
	done chan struct{}
}

const maxBatch = 200

func (b *batcher) record(ctx context.Context, o tote.DeliveryOutcome) (tote.DeliveryResult, error) {
	p := &pendingOutcome{o: o, done: make(chan struct{})}
	b.mu.Lock()
	b.pending = append(b.pending, p)
	if !b.writing {
		b.writing = true
		go b.drain(context.WithoutCancel(ctx))
	}
	b.mu.Unlock()
	<-p.done
	return p.res, p.err
}

// drain writes pending outcomes in batches until none is left.
func (b *batcher) drain(ctx context.Context) {
	b.mu.Lock()
	for len(b.pending) > 0 {
		n := min(len(b.pending), maxBatch)
		batch := b.pending[:n:n]
		b.pending = b.pending[n:]
		b.mu.Unlock()
		b.write(ctx, batch)
		b.mu.Lock()
	}
	b.writing = false
	b.mu.Unlock()
}

func (b *batcher) write(ctx context.Context, batch []*pendingOutcome) {
	outcomes := make([]tote.DeliveryOutcome, len(batch))
	for i, p := range batch {
		outcomes[i] = p.o
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	results, err := b.store.RecordDeliveryOutcomes(ctx, outcomes)
	for i, p := range batch {
		if err != nil {
			p.err = err
		} else {
			p.res = results[i]
		}
		close(p.done)
	}
}

// Prune deletes delivery records older than the retention, every interval,
// until ctx ends. Every process may run it; deleting is idempotent.
func (d *Dispatcher) Prune(ctx context.Context, interval time.Duration) {
	retention := d.Retention
	if retention <= 0 {
		retention = DefaultRetention
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if n, err := d.Store.PruneDeliveries(ctx, d.Clock.Now().Add(-retention)); err != nil && ctx.Err() == nil {
			d.Log.Error("prune webhook deliveries", "err", err)
		} else if n > 0 {
			d.Log.Info("pruned webhook delivery records", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
