package webhook_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/toteorg/tote"
	"github.com/toteorg/tote/storetest"
	"github.com/toteorg/tote/tenant"
	"github.com/toteorg/tote/webhook"
)

func TestMain(m *testing.M) {
	storetest.ReportPostgres()
	os.Exit(m.Run())
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// harness is a store with an app, an order of two bags, and a running
// dispatcher.
type harness struct {
	t         *testing.T
	store     *countingStore
	app       *tote.App
	appSecret string
	svc       *webhook.Service
	order     *tote.Order
}

type options struct {
	policy      webhook.Policy
	workers     int
	concurrency int
	timeout     time.Duration
}

func fastPolicy() webhook.Policy {
	return webhook.Policy{Schedule: []time.Duration{10 * time.Millisecond, 10 * time.Millisecond, 10 * time.Millisecond,
		10 * time.Millisecond, 10 * time.Millisecond}, Jitter: 0.01}
}

func newHarness(t *testing.T, open storetest.Opener, o options) *harness {
	t.Helper()
	store := &countingStore{Store: open(t)}
	clock := tote.SystemClock{}
	app, secret, err := (&tenant.Service{Store: store, Clock: clock}).CreateApp(t.Context(), tenant.CreateAppParams{Name: "channel"})
	if err != nil {
		t.Fatal(err)
	}
	sender := &webhook.Sender{Client: webhook.NewClient(cmpOr(o.timeout, 5*time.Second), true), Clock: clock, AllowPrivate: true}
	h := &harness{t: t, store: store, app: app, appSecret: secret,
		svc:   &webhook.Service{Store: store, Clock: clock, Sender: sender, AllowPrivate: true},
		order: storetest.Order(t, store, app.ID, 1, 2)}
	d := &webhook.Dispatcher{Store: store, Clock: clock, Log: quiet, Sender: sender, Policy: o.policy,
		EndpointConcurrency: o.concurrency, Workers: cmpOr(o.workers, 16), PollInterval: 10 * time.Millisecond,
		Lease: 3 * time.Second}
	h.svc.Changed = d.Forget
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); d.Abort(); <-done })
	return h
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// subscribe creates a subscription to rcv and tells rcv its secret.
func (h *harness) subscribe(rcv *receiver, event tote.EventType, ordered bool) *tote.Webhook {
	h.t.Helper()
	w, err := h.svc.Create(h.t.Context(), h.app, h.appSecret, webhook.CreateParams{Event: string(event),
		RemoteEndpoint: rcv.srv.URL + "/hook", Ordered: &ordered})
	if err != nil {
		h.t.Fatal(err)
	}
	rcv.trust(w.SigningSecret, h.appSecret)
	return w
}

// events records one event per bag given (0 and 1 index the order's bags).
func (h *harness) events(typ tote.EventType, bags ...int) []*tote.Event {
	h.t.Helper()
	ids := make([]int64, len(bags))
	for i, b := range bags {
		ids[i] = h.order.Bags[b].ID
	}
	return storetest.Events(h.t, h.store, h.order, typ, ids...)
}

func (h *harness) deliveries(w *tote.Webhook) []*tote.Delivery {
	h.t.Helper()
	ds, _, err := h.store.FindDeliveries(h.t.Context(), w.ID, tote.Page{Number: 1, Size: 100})
	if err != nil {
		h.t.Fatal(err)
	}
	return ds
}

func (h *harness) webhook(w *tote.Webhook) *tote.Webhook {
	h.t.Helper()
	got, err := h.store.FindWebhookByID(h.t.Context(), w.ID)
	if err != nil {
		h.t.Fatal(err)
	}
	return got
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

// call is one request a receiver got.
type call struct {
	eventID, source, topic, bag string
	body                        string
	at                          time.Time // when it arrived
	status                      int
}

// receiver is a channel's endpoint written only against the Standard
// Webhooks library, plus an independent check of X-Violet-Hmac. answer
// picks the status of the n-th call (1-based); nil answers 200.
type receiver struct {
	t      *testing.T
	srv    *httptest.Server
	answer func(n int, r *http.Request) int

	mu        sync.Mutex
	wh        *standardwebhooks.Webhook
	appSecret string
	calls     []call
}

func newReceiver(t *testing.T, answer func(n int, r *http.Request) int) *receiver {
	rcv := &receiver{t: t, answer: answer}
	rcv.srv = httptest.NewServer(http.HandlerFunc(rcv.serve))
	t.Cleanup(rcv.srv.Close)
	return rcv
}

func (rcv *receiver) trust(secret, appSecret string) {
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		rcv.t.Fatal(err)
	}
	rcv.mu.Lock()
	rcv.wh, rcv.appSecret = wh, appSecret
	rcv.mu.Unlock()
}

func (rcv *receiver) serve(w http.ResponseWriter, r *http.Request) {
	arrived := time.Now()
	body, _ := io.ReadAll(r.Body)
	rcv.mu.Lock()
	wh, appSecret := rcv.wh, rcv.appSecret
	n := len(rcv.calls) + 1
	rcv.calls = append(rcv.calls, call{})
	rcv.mu.Unlock()
	if wh == nil {
		rcv.t.Errorf("a delivery came before the subscription existed")
	} else if err := wh.Verify(body, r.Header); err != nil {
		rcv.t.Errorf("Standard Webhooks verification failed: %v", err)
	}
	mac := hmac.New(sha256.New, []byte(appSecret))
	mac.Write(body)
	if got, want := r.Header.Get("X-Violet-Hmac"), base64.StdEncoding.EncodeToString(mac.Sum(nil)); got != want {
		rcv.t.Errorf("X-Violet-Hmac = %q, want %q", got, want)
	}
	if r.Header.Get("X-Violet-Entity-Length") != strconv.Itoa(len(body)) || r.Header.Get("Content-Type") != "application/json" ||
		r.Header.Get("X-Violet-Event-Id") != r.Header.Get("webhook-id") {
		rcv.t.Errorf("headers: %v", r.Header)
	}
	status := 200
	if rcv.answer != nil {
		status = rcv.answer(n, r)
	}
	rcv.mu.Lock()
	rcv.calls[n-1] = call{eventID: r.Header.Get("X-Violet-Event-Id"), source: r.Header.Get("X-Violet-Event-Id-Source"),
		topic: r.Header.Get("X-Violet-Topic"), bag: r.Header.Get("X-Violet-Bag-Id"), body: string(body), at: arrived, status: status}
	rcv.mu.Unlock()
	w.WriteHeader(status)
}

func (rcv *receiver) got() []call {
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	return slices.Clone(rcv.calls)
}

// delivered returns the event ids answered with a 2xx, each once.
func (rcv *receiver) delivered() []string {
	var ids []string
	for _, c := range rcv.got() {
		if c.status >= 200 && c.status < 300 && !slices.Contains(ids, c.eventID) {
			ids = append(ids, c.eventID)
		}
	}
	slices.Sort(ids)
	return ids
}

func ids(evs []*tote.Event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.ID)
	}
	slices.Sort(out)
	return out
}

// TestDeliverSigned: every event reaches the subscription of its type, with
// the body recorded with it and verifiable signatures; deliveries end
// SUCCEEDED with one attempt each.
func TestDeliverSigned(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, open storetest.Opener) {
		h := newHarness(t, open, options{policy: fastPolicy()})
		updates, accepts := newReceiver(t, nil), newReceiver(t, nil)
		wu := h.subscribe(updates, tote.EventOrderUpdated, true)
		wa := h.subscribe(accepts, tote.EventOrderAccepted, true)
		var evs []*tote.Event
		for range 3 {
			evs = append(evs, h.events(tote.EventOrderUpdated, 0, 1)...)
		}
		accepted := h.events(tote.EventOrderAccepted, 1)
		eventually(t, "every event delivered", func() bool {
			return len(updates.delivered()) == len(evs) && len(accepts.delivered()) == 1
		})
		if got := updates.delivered(); !slices.Equal(got, ids(evs)) {
			t.Fatalf("delivered %v, want %v", got, ids(evs))
		}
		c := accepts.got()[0]
		if c.eventID != accepted[0].ID || c.topic != "ORDER_ACCEPTED" || c.bag != fmt.Sprint(h.order.Bags[1].ID) ||
			c.body != string(accepted[0].Payload) {
			t.Fatalf("ORDER_ACCEPTED delivery = %+v", c)
		}
		eventually(t, "deliveries recorded", func() bool {
			for _, d := range append(h.deliveries(wu), h.deliveries(wa)...) {
				if d.Status != tote.DeliveryStatusSucceeded {
					return false
				}
			}
			return true
		})
		for _, d := range h.deliveries(wu) {
			if d.Attempts != 1 || d.StatusCode != 200 || d.DateNextAttempt != nil {
				t.Fatalf("delivery = %+v", d)
			}
		}
	})
}

// TestRetriesUntilSuccess: a receiver failing its first three calls still
// gets each event, every attempt with the event's one id.
func TestRetriesUntilSuccess(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, open storetest.Opener) {
		h := newHarness(t, open, options{policy: fastPolicy()})
		rcv := newReceiver(t, func(n int, r *http.Request) int {
			if n <= 3 {
				return 503
			}
			return 200
		})
		w := h.subscribe(rcv, tote.EventOrderUpdated, true)
		evs := h.events(tote.EventOrderUpdated, 0, 0, 1)
		eventually(t, "every event delivered", func() bool { return len(rcv.delivered()) == 3 })
		if got := rcv.delivered(); !slices.Equal(got, ids(evs)) {
			t.Fatalf("delivered %v, want %v", got, ids(evs))
		}
		tries := map[string]int{}
		for _, c := range rcv.got() {
			tries[c.eventID]++
		}
		total := 0
		for id, n := range tries {
			if !slices.Contains(ids(evs), id) {
				t.Fatalf("an attempt carried event id %s, not one of the events", id)
			}
			total += n
		}
		if total != 6 {
			t.Fatalf("%d calls for 3 events with 3 failures: %v", total, tries)
		}
		eventually(t, "attempts recorded", func() bool {
			n := 0
			for _, d := range h.deliveries(w) {
				if d.Status == tote.DeliveryStatusSucceeded {
					n += d.Attempts
				}
			}
			return n == 6
		})
		ds := h.deliveries(w)
		all := []int64{}
		for _, d := range ds {
			all = append(all, d.ID)
		}
		as, err := h.store.FindDeliveryAttempts(t.Context(), all)
		if err != nil {
			t.Fatal(err)
		}
		failures := 0
		for _, a := range as {
			if !a.Succeeded {
				failures++
				if a.StatusCode != 503 || a.Error == "" {
					t.Fatalf("failed attempt = %+v", a)
				}
			}
		}
		if failures != 3 || len(as) != 6 {
			t.Fatalf("%d attempts kept, %d failed", len(as), failures)
		}
	})
}

// TestAnswers: 410 disables the subscription and cancels what it had
// pending; another 4xx fails a delivery at once; a 429's Retry-After sets
// the next attempt; out of attempts, a delivery fails.
func TestAnswers(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, open storetest.Opener) {
		h := newHarness(t, open, options{policy: fastPolicy()})

		gone := newReceiver(t, func(int, *http.Request) int { return 410 })
		wg := h.subscribe(gone, tote.EventOrderShipped, true)
		h.events(tote.EventOrderShipped, 0, 0)
		eventually(t, "410 disables", func() bool { return h.webhook(wg).Status == tote.WebhookStatusDisabled })
		eventually(t, "pending delivery cancelled", func() bool {
			ds := h.deliveries(wg)
			return len(ds) == 2 && ds[0].Status == tote.DeliveryStatusCancelled && ds[1].Status == tote.DeliveryStatusFailed
		})
		if n := len(gone.got()); n != 1 {
			t.Fatalf("the gone endpoint got %d calls", n)
		}
		h.events(tote.EventOrderShipped, 0)
		if n := len(h.deliveries(wg)); n != 2 {
			t.Fatalf("a disabled subscription got a new delivery (%d)", n)
		}

		bad := newReceiver(t, func(int, *http.Request) int { return 400 })
		wb := h.subscribe(bad, tote.EventOrderDelivered, false)
		h.events(tote.EventOrderDelivered, 0)
		eventually(t, "400 fails at once", func() bool {
			ds := h.deliveries(wb)
			return len(ds) == 1 && ds[0].Status == tote.DeliveryStatusFailed && ds[0].Attempts == 1 && ds[0].StatusCode == 400
		})

		busy := newReceiver(t, func(n int, r *http.Request) int {
			if n == 1 {
				return 429
			}
			return 200
		})
		busy.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "1")
			busy.serve(w, r)
		})
		wy := h.subscribe(busy, tote.EventOrderCompleted, false)
		h.events(tote.EventOrderCompleted, 1)
		eventually(t, "429 retried after Retry-After", func() bool { return len(busy.delivered()) == 1 })
		calls := busy.got()
		if gap := calls[1].at.Sub(calls[0].at); gap < 900*time.Millisecond {
			t.Fatalf("retried %v after a 429 with Retry-After: 1", gap)
		}
		eventually(t, "recorded", func() bool { return h.deliveries(wy)[0].Status == tote.DeliveryStatusSucceeded })

		down := newReceiver(t, func(int, *http.Request) int { return 500 })
		wd := h.subscribe(down, tote.EventOrderRefunded, false)
		h.events(tote.EventOrderRefunded, 0)
		eventually(t, "out of attempts", func() bool {
			ds := h.deliveries(wd)
			return ds[0].Status == tote.DeliveryStatusFailed
		})
		if d := h.deliveries(wd)[0]; d.Attempts != 6 || len(down.got()) != 6 {
			t.Fatalf("attempts = %d, calls %d; want 6 (5 retries)", d.Attempts, len(down.got()))
		}
	})
}

// TestSlowAndDeadEndpoints: an endpoint that never answers in time and one
// that refuses connections do not hold up another subscription.
// TestSaturatedEndpointWaits: deliveries behind an endpoint at its cap
// stay due, unclaimed (but for the few the dispatcher keeps ready to go),
// rather than being claimed and put off over and over (a write
// each time) while the endpoint is busy; they go once it answers.
func TestSaturatedEndpointWaits(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, open storetest.Opener) {
		h := newHarness(t, open, options{policy: fastPolicy(), workers: 16, concurrency: 2, timeout: 10 * time.Second})
		release := make(chan struct{})
		slow := newReceiver(t, func(int, *http.Request) int { <-release; return 200 })
		var once sync.Once
		free := func() { once.Do(func() { close(release) }) }
		t.Cleanup(free)
		w := h.subscribe(slow, tote.EventOrderUpdated, false)
		h.events(tote.EventOrderUpdated, 0, 1)
		eventually(t, "the endpoint to hold two requests", func() bool { return len(slow.got()) == 2 })
		for range 18 {
			h.events(tote.EventOrderUpdated, 0)
		}
		time.Sleep(500 * time.Millisecond) // many poll intervals (10 ms)
		st, err := h.store.DeliveryStats(t.Context(), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		// A claim takes up to the cap (2) while fewer than twice the cap
		// are in flight or ready: at most 3 of the 18 are claimed.
		if st.Due < 15 || h.store.postponed.Load() != 0 {
			t.Fatalf("%d deliveries due behind the busy endpoint and %d put off; want at least 15 due, none put off",
				st.Due, h.store.postponed.Load())
		}
		free()
		eventually(t, "every delivery", func() bool {
			for _, d := range h.deliveries(w) {
				if d.Status != tote.DeliveryStatusSucceeded {
					return false
				}
			}
			return len(slow.got()) >= 20
		})
	})
}

func TestSlowAndDeadEndpoints(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, open storetest.Opener) {
		h := newHarness(t, open, options{policy: fastPolicy(), workers: 8, concurrency: 3, timeout: 10 * time.Second})
		release := make(chan struct{})
		slow := newReceiver(t, func(int, *http.Request) int { <-release; return 200 })
		t.Cleanup(func() { close(release) })
		dead := newReceiver(t, nil)
		dead.srv.Close() // connections refused from now on
		fast := newReceiver(t, nil)
		h.subscribe(slow, tote.EventOrderUpdated, false)
		h.subscribe(dead, tote.EventOrderUpdated, false)
		wf := h.subscribe(fast, tote.EventOrderUpdated, false)
		var evs []*tote.Event
		for range 10 {
			evs = append(evs, h.events(tote.EventOrderUpdated, 0, 1)...)
		}
		start := time.Now()
		eventually(t, "the healthy endpoint got every event", func() bool { return len(fast.delivered()) == len(evs) })
		if took := time.Since(start); took > 5*time.Second {
			t.Fatalf("the healthy endpoint waited %v", took)
		}
		if n := len(slow.got()); n > 3 {
			t.Fatalf("the slow endpoint holds %d requests, more than its cap of 3", n)
		}
		eventually(t, "recorded", func() bool {
			for _, d := range h.deliveries(wf) {
				if d.Status != tote.DeliveryStatusSucceeded {
					return false
				}
			}
			return true
		})
	})
}

// TestBagOrder: for an ordered subscription a bag's later events wait while
// its first is retried; the other bag goes meanwhile; an unordered
// subscription does not wait.
func TestBagOrder(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, open storetest.Opener) {
		policy := fastPolicy()
		policy.Schedule = []time.Duration{200 * time.Millisecond, 200 * time.Millisecond, 200 * time.Millisecond}
		h := newHarness(t, open, options{policy: policy})
		bag0 := fmt.Sprint(h.order.Bags[0].ID)
		var first string
		var mu sync.Mutex
		failFirst := func(n int, r *http.Request) int {
			mu.Lock()
			defer mu.Unlock()
			if r.Header.Get("X-Violet-Bag-Id") == bag0 && (first == "" || first == r.Header.Get("X-Violet-Event-Id")) {
				first = r.Header.Get("X-Violet-Event-Id")
				if n <= 3 {
					return 500
				}
			}
			return 200
		}
		ordered := newReceiver(t, failFirst)
		h.subscribe(ordered, tote.EventOrderUpdated, true)
		evs := h.events(tote.EventOrderUpdated, 0)
		evs = append(evs, h.events(tote.EventOrderUpdated, 0, 1)...)
		evs = append(evs, h.events(tote.EventOrderUpdated, 0)...)
		eventually(t, "every event delivered", func() bool { return len(ordered.delivered()) == 4 })
		var bag0Order []string
		var firstOK, bag1At time.Time
		for _, c := range ordered.got() {
			switch {
			case c.bag == bag0 && c.status == 200:
				bag0Order = append(bag0Order, c.eventID)
				if c.eventID == evs[0].ID {
					firstOK = c.at
				}
			case c.bag != bag0:
				bag1At = c.at
			}
		}
		if !slices.Equal(bag0Order, []string{evs[0].ID, evs[1].ID, evs[3].ID}) {
			t.Fatalf("bag 0's events arrived as %v, want %v, %v, %v", bag0Order, evs[0].ID, evs[1].ID, evs[3].ID)
		}
		for _, c := range ordered.got() {
			if c.bag == bag0 && c.eventID != evs[0].ID && c.at.Before(firstOK) {
				t.Fatalf("a later event of bag 0 came while its first was being retried")
			}
		}
		if !bag1At.Before(firstOK) {
			t.Fatalf("bag 1 waited for bag 0 (bag 1 at %v, bag 0's first at %v)", bag1At, firstOK)
		}
	})
}

// TestPause: an endpoint with more failures than the policy allows is
// paused (its deliveries wait, none is lost), and a success after the
// pause restarts the ladder.
func TestPause(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, open storetest.Opener) {
		policy := fastPolicy()
		policy.Schedule = []time.Duration{5 * time.Millisecond, 5 * time.Millisecond, 5 * time.Millisecond, 5 * time.Millisecond,
			5 * time.Millisecond, 5 * time.Millisecond, 5 * time.Millisecond, 5 * time.Millisecond}
		policy.Pause = tote.PausePolicy{Failures: 4, Window: time.Minute, Pauses: []time.Duration{3 * time.Second, time.Hour}}
		h := newHarness(t, open, options{policy: policy})
		var mu sync.Mutex
		failing := true
		rcv := newReceiver(t, func(int, *http.Request) int {
			mu.Lock()
			defer mu.Unlock()
			if failing {
				return 500
			}
			return 200
		})
		w := h.subscribe(rcv, tote.EventOrderUpdated, false)
		evs := h.events(tote.EventOrderUpdated, 0, 1)
		eventually(t, "paused", func() bool { return h.webhook(w).PausedUntil != nil })
		observed := time.Now()
		paused := h.webhook(w)
		if paused.PauseLevel != 1 || paused.Status != tote.WebhookStatusActive {
			t.Fatalf("paused webhook = %+v", paused)
		}
		mu.Lock()
		failing = false
		callsAtPause := len(rcv.got())
		mu.Unlock()
		eventually(t, "delivered after the pause", func() bool { return len(rcv.delivered()) == 2 })
		if got := rcv.delivered(); !slices.Equal(got, ids(evs)) {
			t.Fatalf("delivered %v", got)
		}
		// Attempts already under way when the pause began may still land
		// just after it; none may start during the rest of it.
		grace := observed.Add(time.Second)
		for _, c := range rcv.got()[callsAtPause:] {
			if c.at.After(grace) && c.at.Before(*paused.PausedUntil) {
				t.Fatalf("called at %v during the pause (until %v)", c.at, paused.PausedUntil)
			}
		}
		eventually(t, "ladder restarted", func() bool { return h.webhook(w).PauseLevel == 0 })
	})
}

// TestResendAndSimulate: a resend is a new delivery of the same body with
// its own event id, naming the original in X-Violet-Event-Id-Source; a
// simulated event is sent at once and its result returned.
func TestResendAndSimulate(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, open storetest.Opener) {
		h := newHarness(t, open, options{policy: fastPolicy()})
		rcv := newReceiver(t, nil)
		w := h.subscribe(rcv, tote.EventOrderUpdated, true)
		evs := h.events(tote.EventOrderUpdated, 0)
		eventually(t, "delivered", func() bool { return len(rcv.delivered()) == 1 })
		d, err := h.svc.Resend(t.Context(), h.app.ID, w.ID, evs[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		if d.EventID == evs[0].ID || d.SourceEventID != evs[0].ID || d.ResendOf == 0 {
			t.Fatalf("resend = %+v", d)
		}
		eventually(t, "resent", func() bool { return len(rcv.delivered()) == 2 })
		c := rcv.got()[1]
		if c.eventID != d.EventID || c.source != evs[0].ID || c.body != string(evs[0].Payload) {
			t.Fatalf("resent call = %+v", c)
		}
		if _, err := h.svc.Resend(t.Context(), h.app.ID, w.ID, "evt_nope"); tote.ErrorCode(err) != tote.ENOTFOUND {
			t.Fatalf("resend of an unknown event: %v", err)
		}
		if _, err := h.svc.Resend(t.Context(), h.app.ID+1, w.ID, evs[0].ID); tote.ErrorCode(err) != tote.ENOTFOUND {
			t.Fatalf("another app's resend: %v", err)
		}

		res, err := h.svc.Simulate(t.Context(), h.app, h.appSecret, w.ID, "ORDER_CANCELED", nil)
		if err != nil {
			t.Fatal(err)
		}
		if res.Status != tote.DeliveryStatusSucceeded || res.StatusCode != 200 || res.EventType != tote.EventOrderCancelled {
			t.Fatalf("simulate = %+v", res)
		}
		if c := rcv.got()[2]; c.topic != "ORDER_CANCELLED" || c.eventID != res.EventID {
			t.Fatalf("simulated call = %+v", c)
		}
		if _, err := h.svc.Simulate(t.Context(), h.app, h.appSecret, w.ID, "ORDER_EXPLODED", nil); tote.ErrorCode(err) != tote.EINVALID {
			t.Fatalf("simulate an unknown type: %v", err)
		}
		other := int64(1 << 40)
		if _, err := h.svc.Simulate(t.Context(), h.app, h.appSecret, w.ID, "ORDER_UPDATED", &other); tote.ErrorCode(err) != tote.ENOTFOUND {
			t.Fatalf("simulate an unknown order: %v", err)
		}
		if _, err := h.svc.Simulate(t.Context(), h.app, h.appSecret, w.ID, "ORDER_EXPLODED", &other); tote.ErrorCode(err) != tote.EINVALID {
			t.Fatalf("simulate an unknown type of an unknown order: %v", err)
		}
	})
}

// TestAbortKeepsAnAnswer: an endpoint has answered 200 (headers sent) and
// is still sending its body when the dispatcher is aborted at shutdown: the
// answer counts, and the delivery is not sent again.
func TestAbortKeepsAnAnswer(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, open storetest.Opener) { testAbortKeepsAnAnswer(t, open) })
}

func testAbortKeepsAnAnswer(t *testing.T, open storetest.Opener) {
	store := open(t)
	clock := tote.SystemClock{}
	app, secret, err := (&tenant.Service{Store: store, Clock: clock}).CreateApp(t.Context(), tenant.CreateAppParams{Name: "c"})
	if err != nil {
		t.Fatal(err)
	}
	order := storetest.Order(t, store, app.ID, 1)
	var answered atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		answered.Add(1)
		time.Sleep(500 * time.Millisecond)
		w.Write([]byte("ok"))
	}))
	defer srv.Close()
	sender := &webhook.Sender{Client: webhook.NewClient(5*time.Second, true), Clock: clock, AllowPrivate: true}
	svc := &webhook.Service{Store: store, Clock: clock, Sender: sender, AllowPrivate: true}
	f := false
	w, err := svc.Create(t.Context(), app, secret, webhook.CreateParams{Event: string(tote.EventOrderUpdated), RemoteEndpoint: srv.URL, Ordered: &f})
	if err != nil {
		t.Fatal(err)
	}
	d := &webhook.Dispatcher{Store: store, Clock: clock, Log: quiet, Sender: sender, Policy: fastPolicy(),
		Workers: 4, PollInterval: 10 * time.Millisecond, Lease: 3 * time.Second}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	storetest.Events(t, store, order, tote.EventOrderUpdated, order.Bags[0].ID)
	eventually(t, "the endpoint to answer", func() bool { return answered.Load() > 0 })
	time.Sleep(100 * time.Millisecond)
	cancel()
	d.Abort()
	<-done
	ds, _, err := store.FindDeliveries(t.Context(), w.ID, tote.Page{Number: 1, Size: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 1 {
		t.Fatalf("%d deliveries, want 1", len(ds))
	}
	if ds[0].Status != tote.DeliveryStatusSucceeded || ds[0].Attempts != 1 {
		t.Fatalf("after a 200 cut short by Abort: %s after %d attempts; want SUCCEEDED after 1", ds[0].Status, ds[0].Attempts)
	}
}

// countingStore counts the deliveries put off (claimed, then made due
// again without an attempt).
type countingStore struct {
	tote.Store
	postponed, sent atomic.Int64
}

func (s *countingStore) RecordDeliveryOutcomes(ctx context.Context, outcomes []tote.DeliveryOutcome) ([]tote.DeliveryResult, error) {
	res, err := s.Store.RecordDeliveryOutcomes(ctx, outcomes)
	for _, o := range outcomes {
		if o.Postpone {
			s.postponed.Add(1)
		}
		if o.Sent && err == nil {
			s.sent.Add(1)
		}
	}
	return res, err
}

// attempts counts the HTTP attempts whose outcome was recorded.
func (s *countingStore) attempts() int64 { return s.sent.Load() }

// bare is a store (counting what is put off) with an app and an order of
// one bag, for tests that run a dispatcher of their own.
type bare struct {
	store  *countingStore
	order  *tote.Order
	sender *webhook.Sender
	svc    *webhook.Service
	app    *tote.App
	secret string
}

func newBare(t *testing.T, open storetest.Opener) *bare {
	t.Helper()
	b := &bare{store: &countingStore{Store: open(t)}}
	clock := tote.SystemClock{}
	var err error
	b.app, b.secret, err = (&tenant.Service{Store: b.store, Clock: clock}).CreateApp(t.Context(), tenant.CreateAppParams{Name: "c"})
	if err != nil {
		t.Fatal(err)
	}
	b.order = storetest.Order(t, b.store, b.app.ID, 1)
	b.sender = &webhook.Sender{Client: webhook.NewClient(5*time.Second, true), Clock: clock, AllowPrivate: true}
	b.svc = &webhook.Service{Store: b.store, Clock: clock, Sender: b.sender, AllowPrivate: true}
	return b
}

// subscribe makes an unordered subscription to url.
func (b *bare) subscribe(t *testing.T, event tote.EventType, url string) *tote.Webhook {
	t.Helper()
	f := false
	w, err := b.svc.Create(t.Context(), b.app, b.secret, webhook.CreateParams{Event: string(event), RemoteEndpoint: url, Ordered: &f})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// run starts a dispatcher of workers, perEndpoint of them at most to one
// endpoint, until the test ends (cut short then).
func (b *bare) run(t *testing.T, workers, perEndpoint int, poll time.Duration) *webhook.Dispatcher {
	d := &webhook.Dispatcher{Store: b.store, Clock: tote.SystemClock{}, Log: quiet, Sender: b.sender, Policy: fastPolicy(),
		Workers: workers, EndpointConcurrency: perEndpoint, PollInterval: poll, Lease: 30 * time.Second}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); d.Abort(); <-done })
	return d
}

// TestBacklogToOneEndpoint: a backlog to one subscription goes out at its
// endpoint's cap, each delivery claimed once and sent once: what the cap
// holds back waits, due or in the dispatcher's queue, and is never claimed
// and put off again (a write each time, over and over).
func TestBacklogToOneEndpoint(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, open storetest.Opener) {
		b := newBare(t, open)
		var inFlight, most, got atomic.Int64
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n := inFlight.Add(1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
			time.Sleep(10 * time.Millisecond)
			inFlight.Add(-1)
			got.Add(1)
		}))
		t.Cleanup(srv.Close)
		w := b.subscribe(t, tote.EventOrderUpdated, srv.URL)
		const events = 40
		for range events {
			storetest.Events(t, b.store, b.order, tote.EventOrderUpdated, b.order.Bags[0].ID)
		}
		d := b.run(t, 8, 2, 10*time.Millisecond)
		eventually(t, "every delivery", func() bool { return got.Load() >= events })
		eventually(t, "every outcome", func() bool { return d.Attempts().Succeeded == events })
		if most.Load() > 2 {
			t.Fatalf("%d requests at once to an endpoint capped at 2", most.Load())
		}
		if n := b.store.postponed.Load(); n != 0 {
			t.Fatalf("%d deliveries were claimed and put off", n)
		}
		ds, _, err := b.store.FindDeliveries(t.Context(), w.ID, tote.Page{Number: 1, Size: 100})
		if err != nil {
			t.Fatal(err)
		}
		for _, del := range ds {
			if del.Status != tote.DeliveryStatusSucceeded || del.Attempts != 1 {
				t.Fatalf("delivery %d: %s after %d attempts, want SUCCEEDED after 1", del.ID, del.Status, del.Attempts)
			}
		}
	})
}

// TestQueuedWhenPaused: the deliveries a dispatcher holds for a
// subscription that an outcome pauses are given back due when the pause
// ends, as the pause's own transaction does with those it finds waiting.
func TestQueuedWhenPaused(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, open storetest.Opener) {
		policy := fastPolicy()
		policy.Pause = tote.PausePolicy{Failures: 4, Window: time.Minute, Pauses: []time.Duration{time.Hour}}
		h := newHarness(t, open, options{policy: policy, workers: 8, concurrency: 4})
		rcv := newReceiver(t, func(int, *http.Request) int {
			time.Sleep(30 * time.Millisecond)
			return 500
		})
		w := h.subscribe(rcv, tote.EventOrderUpdated, false)
		// In one transaction, so none is recorded as the pause begins (on
		// PostgreSQL such a delivery may start due at once: decision 0009).
		h.events(tote.EventOrderUpdated, make([]int, 30)...)
		eventually(t, "the pause", func() bool { return h.webhook(w).PausedUntil != nil })
		until := *h.webhook(w).PausedUntil
		// Never attempted (waiting when the pause began, or held by the
		// dispatcher and given back): due when the pause ends.
		eventually(t, "the deliveries never attempted to be due at the pause's end", func() bool {
			for _, d := range h.deliveries(w) {
				if d.Attempts == 0 && (d.DateNextAttempt == nil || d.DateNextAttempt.Before(until)) {
					return false
				}
			}
			return true
		})
	})
}

// TestTrimmedClaim: a claim that took a subscription's share and left the
// rest of its backlog due claims again at once, so another subscription's
// delivery behind that backlog does not wait for the next poll.
func TestTrimmedClaim(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, open storetest.Opener) {
		b := newBare(t, open)
		slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select { // answers after 3 s, or when the test ends
			case <-time.After(3 * time.Second):
			case <-r.Context().Done():
			}
		}))
		t.Cleanup(slow.Close)
		arrived := make(chan time.Time, 1)
		fast := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case arrived <- time.Now():
			default:
			}
		}))
		t.Cleanup(fast.Close)
		b.subscribe(t, tote.EventOrderUpdated, slow.URL)
		b.subscribe(t, tote.EventOrderShipped, fast.URL)
		for range 200 {
			storetest.Events(t, b.store, b.order, tote.EventOrderUpdated, b.order.Bags[0].ID)
		}
		storetest.Events(t, b.store, b.order, tote.EventOrderShipped, b.order.Bags[0].ID)
		start := time.Now()
		b.run(t, 64, 16, 3*time.Second)
		select {
		case at := <-arrived:
			if took := at.Sub(start); took > time.Second {
				t.Fatalf("the fast endpoint's delivery took %v behind the slow one's backlog", took)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the fast endpoint's delivery never came")
		}
	})
}

// TestQueuedWhenChanged: deliveries a dispatcher holds for a subscription
// that is then deactivated are not sent (they are cancelled when claimed
// again).
func TestQueuedWhenChanged(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, open storetest.Opener) {
		h := newHarness(t, open, options{policy: fastPolicy(), workers: 8, concurrency: 2})
		var changed atomic.Bool
		var late atomic.Int64
		rcv := newReceiver(t, func(int, *http.Request) int {
			if changed.Load() {
				late.Add(1)
			}
			time.Sleep(300 * time.Millisecond)
			return 200
		})
		w := h.subscribe(rcv, tote.EventOrderUpdated, false)
		for range 10 {
			h.events(tote.EventOrderUpdated, 0)
		}
		eventually(t, "two in flight", func() bool { return len(rcv.got()) == 2 })
		inactive := string(tote.WebhookStatusInactive)
		if _, err := h.svc.Update(t.Context(), h.app.ID, w.ID, webhook.UpdateParams{Status: &inactive}); err != nil {
			t.Fatal(err)
		}
		changed.Store(true)
		eventually(t, "every delivery final", func() bool {
			for _, d := range h.deliveries(w) {
				if !d.Status.Final() {
					return false
				}
			}
			return true
		})
		if late.Load() > 0 {
			t.Fatalf("%d deliveries were sent after the subscription was deactivated", late.Load())
		}
	})
}
