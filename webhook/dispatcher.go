package webhook

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/toteorg/tote"
	"github.com/toteorg/tote/job"
)

// Dispatcher sends deliveries. The deliveries are their own queue (decision
// 0009): Run claims due ones in batches into a local queue, workers take
// them from it and make one HTTP attempt each, and the outcomes are
// recorded in batches with those that finish at the same time. A claim is
// a lease renewed while the delivery waits in the local queue and while its
// attempt runs; if the process dies, the delivery comes up again when its
// lease ends and is sent again (at least once, with the same event id).
type Dispatcher struct {
	Store  tote.Store
	Clock  tote.Clock
	Log    *slog.Logger
	Sender *Sender
	Policy Policy
	// Workers is how many attempts run at once in this process (default
	// 64).
	Workers int
	// Lease is how long a claim holds without renewal (default 30 s); it
	// is renewed every third of it until the outcome is recorded.
	Lease time.Duration
	// PollInterval is how often the queue is looked at when nothing
	// notified the dispatcher (default 1 s).
	PollInterval time.Duration
	// EndpointConcurrency caps the attempts in flight to one subscription
	// in this process (default 16), so a slow endpoint can hold only that
	// many workers and never starve the others. A claimed delivery whose
	// endpoint is at its cap waits in the local queue for a free place.
	EndpointConcurrency int
	// Retention is how long deliveries and their attempts are kept
	// (default 30 days).
	Retention time.Duration

	mu       sync.Mutex
	inFlight map[int64]int   // subscription → attempts in flight
	claimed  map[int64]int64 // deliveries claimed and not yet recorded → their claim (leases renewed)
	// queue holds claimed deliveries not yet started, oldest claim first;
	// queued counts them by subscription.
	queue  []queuedDelivery
	queued map[int64]int
	// paused are the subscriptions this process saw paused, until when: a
	// claim that raced the pause is given back, not queued.
	paused   map[int64]time.Time
	sending  int  // attempts running (at most Workers)
	held     int  // claimed and not yet recorded: queued, sending, or being recorded
	stopping bool // Run is ending: nothing more is started
	wg       sync.WaitGroup

	// attempts counts this process's HTTP attempts by outcome.
	attempts [3]atomic.Int64

	batch batcher
	once  sync.Once
	wake  chan struct{}
	// soon wakes the dispatcher when a retry is due before the next poll
	// would find it.
	soon job.WakeTimer
	// abort ends the contexts of the attempts still running (at a drain
	// deadline).
	abortCtx context.Context
	abort    context.CancelFunc
}

// AttemptCounts are the HTTP attempts a dispatcher has made, by outcome.
type AttemptCounts struct {
	Succeeded int64 // answered 2xx
	Retried   int64 // failed; another attempt will be made
	Failed    int64 // failed for good
}

// Attempts returns the attempts this dispatcher has made (and recorded)
// since it was created.
func (d *Dispatcher) Attempts() AttemptCounts {
	return AttemptCounts{Succeeded: d.attempts[0].Load(), Retried: d.attempts[1].Load(), Failed: d.attempts[2].Load()}
}

// DefaultRetention is how long delivery records are kept.
const DefaultRetention = 30 * 24 * time.Hour

func (d *Dispatcher) init() {
	d.once.Do(func() {
		if d.Workers <= 0 {
			d.Workers = 64
		}
		if d.Lease <= 0 {
			d.Lease = 30 * time.Second
		}
		if d.PollInterval <= 0 {
			d.PollInterval = time.Second
		}
		d.wake = make(chan struct{}, 1)
		d.inFlight, d.claimed, d.queued, d.paused = map[int64]int{}, map[int64]int64{}, map[int64]int{}, map[int64]time.Time{}
		d.abortCtx, d.abort = context.WithCancel(context.Background())
		d.batch.store = d.Store
	})
}

// Notify tells the dispatcher deliveries may be due, so it claims them now
// rather than at the next poll. It never blocks.
func (d *Dispatcher) Notify() {
	d.init()
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Abort cancels the attempts still running, so that a drain that ran out
// of time ends them; their deliveries are made due again at once.
func (d *Dispatcher) Abort() {
	d.init()
	d.abort()
}

// Run claims and sends deliveries until ctx ends, then hands back the
// deliveries it claimed and did not start (due again at once), waits for
// the attempts in flight (each bounded by the sender's timeout, or cut
// short by Abort) and records their outcomes.
func (d *Dispatcher) Run(ctx context.Context) {
	d.init()
	stopBeat := make(chan struct{})
	beating := make(chan struct{})
	go func() { d.heartbeat(stopBeat); close(beating) }()
	defer func() {
		d.handBack()
		d.wg.Wait()
		close(stopBeat)
		<-beating
		d.soon.Stop()
	}()
	poll := time.NewTicker(d.PollInterval)
	defer poll.Stop()
	failures := 0
	for {
		limit, skip := d.room()
		full := false
		if limit > 0 && ctx.Err() == nil {
			// Not cut short by shutdown: a claim committed but not yet read
			// would leave its deliveries idle for a lease.
			batch, err := d.Store.ClaimDeliveries(context.WithoutCancel(ctx), tote.ClaimDeliveriesParams{
				Now: d.Clock.Now(), Lease: d.Lease, Limit: limit, Skip: skip, PerSubscription: d.endpointLimit()})
			if err != nil && ctx.Err() == nil {
				failures++
				d.Log.Error("claim webhook deliveries", "err", err)
			} else {
				failures = 0
			}
			d.enqueue(batch)
			full = err == nil && (len(batch) == limit || trimmed(batch, d.endpointLimit()))
		}
		if full {
			continue // more may be due: go again at once
		}
		timer := time.NewTimer(job.IdleWait(d.PollInterval, failures))
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-d.wake:
		case <-poll.C:
		case <-timer.C:
		}
		timer.Stop()
	}
}

// room says how many deliveries to claim now, and which subscriptions to
// leave out. The dispatcher keeps its workers busy and as many deliveries
// again ready to start, so a worker that frees up never waits for a
// claim's round trip; it claims in batches (a quarter of the workers at
// least) so that the claim is not paid once per delivery. A claim takes at
// most an endpoint's cap of one subscription, and none of a subscription
// that already has twice its cap in flight or waiting here: an endpoint at
// its cap has the next deliveries ready, and a slow one holds at most three
// times its cap of this process's claims (never all of them).
func (d *Dispatcher) room() (int, []int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	limit := d.endpointLimit()
	ready := 0 // queued deliveries that could start now
	var skip []int64
	for id, n := range d.queued {
		ready += min(n, max(0, limit-d.inFlight[id]))
		if d.inFlight[id]+n >= 2*limit {
			skip = append(skip, id)
		}
	}
	for id, n := range d.inFlight {
		if _, ok := d.queued[id]; !ok && n >= 2*limit {
			skip = append(skip, id)
		}
	}
	want := min(2*d.Workers-d.sending-ready, 4*d.Workers-d.held)
	if want < max(1, d.Workers/4) && (d.sending > 0 || ready > 0) {
		return 0, nil
	}
	return max(want, 0), skip
}

// queuedDelivery is a claimed delivery waiting for a worker, since when.
type queuedDelivery struct {
	ds    *tote.DeliveryToSend
	since time.Time
}

// trimmed reports whether a claim may have left due deliveries behind a
// subscription's share (perSubscription of it): others may be due past
// them. Claiming again at once is bounded, as room soon skips that
// subscription.
func trimmed(batch []*tote.DeliveryToSend, perSubscription int) bool {
	n := map[int64]int{}
	for _, ds := range batch {
		if n[ds.Webhook.ID]++; n[ds.Webhook.ID] == perSubscription {
			return true
		}
	}
	return false
}

// enqueue puts claimed deliveries in the local queue and starts what can
// start.
func (d *Dispatcher) enqueue(batch []*tote.DeliveryToSend) {
	if len(batch) == 0 {
		return
	}
	now := time.Now()
	clock := d.Clock.Now()
	back := map[time.Time][]queuedDelivery{} // by the end of their pause
	d.mu.Lock()
	defer func() {
		d.mu.Unlock()
		for until, list := range back {
			d.giveBack(list, until)
		}
	}()
	for _, ds := range batch {
		d.claimed[ds.Delivery.ID] = ds.Claim
		d.held++
		if end, ok := d.paused[ds.Webhook.ID]; ok && end.After(clock) {
			back[end] = append(back[end], queuedDelivery{ds, now}) // claimed as the pause began
			continue
		}
		d.queue = append(d.queue, queuedDelivery{ds, now})
		d.queued[ds.Webhook.ID]++
	}
	d.pump()
}

// pump starts queued deliveries, oldest first, while a worker is free and
// their endpoint is under its cap. d.mu must be held.
func (d *Dispatcher) pump() {
	limit := d.endpointLimit()
	for i := 0; i < len(d.queue) && d.sending < d.Workers && !d.stopping; {
		q := d.queue[i]
		id := q.ds.Webhook.ID
		if d.inFlight[id] >= limit {
			i++
			continue
		}
		d.queue = slices.Delete(d.queue, i, i+1)
		if d.queued[id]--; d.queued[id] == 0 {
			delete(d.queued, id)
		}
		d.inFlight[id]++
		d.sending++
		d.wg.Go(func() { d.attempt(q.ds, time.Since(q.since) > staleAfter) })
	}
}

// sent frees the worker and the endpoint place of an attempt that is over,
// starts what waited for them, and lets Run claim more.
func (d *Dispatcher) sent(webhookID int64) {
	d.mu.Lock()
	if d.inFlight[webhookID]--; d.inFlight[webhookID] <= 0 {
		delete(d.inFlight, webhookID)
	}
	d.sending--
	d.pump()
	d.mu.Unlock()
	d.Notify()
}

// handBack makes the deliveries claimed and never started due again at
// once, for whichever process runs next, rather than idle until their
// lease ends.
func (d *Dispatcher) handBack() {
	d.mu.Lock()
	d.stopping = true
	queue := d.queue
	d.queue, d.queued = nil, map[int64]int{}
	d.mu.Unlock()
	d.giveBack(queue, d.Clock.Now())
}

// unqueue gives back the queued deliveries of a subscription that was just
// paused or disabled, due at until (the pause's end; for a disabled one,
// now: the next claim cancels them), and notes a pause.
func (d *Dispatcher) unqueue(webhookID int64, until time.Time, paused bool) {
	d.mu.Lock()
	for id, end := range d.paused {
		if !end.After(d.Clock.Now()) {
			delete(d.paused, id)
		}
	}
	if paused {
		d.paused[webhookID] = until
	} else {
		delete(d.paused, webhookID)
	}
	var mine []queuedDelivery
	d.queue = slices.DeleteFunc(d.queue, func(q queuedDelivery) bool {
		if q.ds.Webhook.ID == webhookID {
			mine = append(mine, q)
			return true
		}
		return false
	})
	delete(d.queued, webhookID)
	d.mu.Unlock()
	d.giveBack(mine, until)
}

// Forget gives back the deliveries of a subscription waiting in the local
// queue, due now: it was changed or deleted (Service.Changed), and the next
// claim reads it as it is. Another process's queue notices within
// staleAfter, when it reads the subscription again.
func (d *Dispatcher) Forget(webhookID int64) {
	d.init()
	d.unqueue(webhookID, d.Clock.Now(), false)
	d.Notify()
}

// giveBack ends the claims of deliveries taken out of the queue: they are
// due again at due.
func (d *Dispatcher) giveBack(list []queuedDelivery, due time.Time) {
	now := d.Clock.Now()
	for _, q := range list {
		d.wg.Go(func() {
			defer d.recorded(q.ds.Delivery.ID)
			_, _ = d.record(tote.DeliveryOutcome{DeliveryID: q.ds.Delivery.ID, Attempts: q.ds.Delivery.Attempts, Now: now,
				Status: q.ds.Delivery.Status, Postpone: true, NextAttempt: due, Claim: q.ds.Claim})
		})
	}
}

// recorded ends a delivery's claim in this process: its lease is no longer
// renewed, and its place among the held deliveries is free.
func (d *Dispatcher) recorded(deliveryID int64) {
	d.mu.Lock()
	delete(d.claimed, deliveryID)
	d.held--
	d.mu.Unlock()
}

// heartbeat renews the leases of the deliveries claimed until stop is
// closed.
func (d *Dispatcher) heartbeat(stop chan struct{}) {
	job.Heartbeat(stop, d.Lease, func(ctx context.Context, until time.Time) {
		d.mu.Lock()
		claims := make([]tote.DeliveryClaim, 0, len(d.claimed))
		for id, claim := range d.claimed {
			claims = append(claims, tote.DeliveryClaim{DeliveryID: id, Claim: claim})
		}
		d.mu.Unlock()
		if len(claims) == 0 {
			return
		}
		if err := d.Store.ExtendDeliveryLeases(ctx, claims, until); err != nil {
			d.Log.Error("renew webhook delivery leases", "deliveries", len(claims), "err", err)
		}
	}, d.Clock)
}

func (d *Dispatcher) endpointLimit() int {
	if d.EndpointConcurrency <= 0 {
		return 16
	}
	return d.EndpointConcurrency
}

// staleAfter is how long a delivery may wait in the local queue before its
// subscription is read again when it starts: it may have been deactivated,
// deleted, or pointed elsewhere meanwhile.
const staleAfter = time.Second

// attempt makes one turn of a delivery started by pump: it sends it, or
// cancels it, and records what happened. A delivery that waited (stale)
// is sent as its subscription is now.
func (d *Dispatcher) attempt(ds *tote.DeliveryToSend, stale bool) {
	del, w := ds.Delivery, ds.Webhook
	defer d.recorded(del.ID)
	if stale {
		cur, err := d.Store.FindWebhookByID(context.Background(), w.ID)
		switch {
		case errors.Is(err, tote.ErrNotFound): // deleted, with its deliveries
			d.sent(w.ID)
			return
		case err != nil:
			d.Log.Error("read webhook subscription", "webhook_id", w.ID, "err", err)
		default:
			w = cur
		}
	}
	now := d.Clock.Now()
	if w.PausedUntil != nil && w.PausedUntil.After(now) { // paused while it waited
		d.sent(w.ID)
		_, _ = d.record(tote.DeliveryOutcome{DeliveryID: del.ID, Attempts: del.Attempts, Now: now,
			Status: del.Status, Postpone: true, NextAttempt: *w.PausedUntil, Claim: ds.Claim})
		return
	}
	if w.Status != tote.WebhookStatusActive {
		d.sent(w.ID)
		_, _ = d.record(tote.DeliveryOutcome{DeliveryID: del.ID, Attempts: del.Attempts, Now: now,
			Status: tote.DeliveryStatusCancelled, Error: "subscription is " + string(w.Status), Claim: ds.Claim})
		return
	}
	res := d.Sender.Send(d.abortCtx, Message{
		URL: w.RemoteEndpoint, WebhookID: w.ID, EventID: del.EventID, SourceEventID: del.SourceEventID,
		Topic: del.EventType, OrderID: del.OrderID, BagID: del.BagID, BagVersion: del.BagVersion,
		Body: body(ds.Body), AppKey: ds.AppWebhookKey, Secret: w.SigningSecret,
	})
	d.sent(w.ID)
	if res.StatusCode == 0 && d.abortCtx.Err() != nil {
		// Cut short at shutdown before any answer: not the endpoint's
		// failure. Due again at once, for whichever process runs next. (An
		// answer that did come back is recorded as usual.)
		d.Log.Debug("webhook delivery handed back at shutdown", "delivery_id", del.ID)
		_, _ = d.record(tote.DeliveryOutcome{DeliveryID: del.ID, Attempts: del.Attempts, Now: now,
			Status: del.Status, Postpone: true, NextAttempt: now, Claim: ds.Claim})
		return
	}
	out := d.Policy.Outcome(del, res, d.Clock.Now())
	out.Claim = ds.Claim
	r, err := d.record(out)
	if err != nil {
		d.Log.Error("record webhook delivery outcome", "delivery_id", del.ID, "err", err)
		return // the lease ends and the delivery is sent again: at least once
	}
	if !r.Recorded {
		d.Log.Warn("webhook delivery was recorded by another worker", "delivery_id", del.ID)
		return
	}
	switch out.Status {
	case tote.DeliveryStatusSucceeded:
		d.attempts[0].Add(1)
	case tote.DeliveryStatusInProgress:
		d.attempts[1].Add(1)
	default:
		d.attempts[2].Add(1)
	}
	log := d.Log.With("delivery_id", del.ID, "webhook_id", w.ID, "event_id", del.EventID, "attempt", del.Attempts+1)
	if r.Disabled {
		log.Warn("webhook subscription disabled", "status_code", res.StatusCode, "err", out.Error)
	}
	if r.PausedUntil != nil {
		log.Warn("webhook endpoint paused after repeated failures", "until", r.PausedUntil)
	}
	switch {
	case r.PausedUntil != nil:
		d.unqueue(w.ID, *r.PausedUntil, true)
	case r.Disabled:
		d.unqueue(w.ID, d.Clock.Now(), false)
	}
	switch out.Status {
	case tote.DeliveryStatusInProgress:
		log.Info("webhook delivery failed; will retry", "status_code", res.StatusCode, "err", out.Error, "next_attempt", out.NextAttempt)
		d.soon.At(out.NextAttempt, d.Clock.Now(), d.PollInterval, d.Notify)
	case tote.DeliveryStatusFailed:
		log.Warn("webhook delivery failed for good", "status_code", res.StatusCode, "err", out.Error)
	}
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
func (d *Dispatcher) record(o tote.DeliveryOutcome) (tote.DeliveryResult, error) {
	return d.batch.record(context.Background(), o)
}

// batcher groups outcomes into transactions. A caller that finds fewer
// than maxWriters writes in flight starts a writer goroutine, which writes
// everything pending, then whatever arrived meanwhile, until nothing is
// left; every caller just waits for its own result (none is kept writing
// others' outcomes). Several writers let a networked database commit
// batches side by side; the stores lock rows in a fixed order, so they do
// not deadlock.
type batcher struct {
	store   tote.WebhookStore
	mu      sync.Mutex
	pending []*pendingOutcome
	writers int
}

const maxWriters = 4

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
	if b.writers < maxWriters {
		b.writers++
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
	b.writers--
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
