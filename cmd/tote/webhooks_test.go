package main_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/toteorg/tote/storetest"
)

// hookReceiver is a channel's endpoint in the test process. It verifies
// every request with the Standard Webhooks library and X-Violet-Hmac with
// the app secret, remembers what arrived by event id, and notices a request
// for an event id that arrives while another for the same id is still
// being handled (a delivery made twice at once).
type hookReceiver struct {
	t   *testing.T
	srv *httptest.Server

	mu        sync.Mutex
	secrets   map[string]*standardwebhooks.Webhook // webhook id → verifier
	appSecret string
	hold      chan struct{} // while open, requests wait (closed: they go on)
	holding   bool
	// failFirst answers 503 to the first attempt of that many events (fewer
	// than the 50 failures that would pause the endpoint).
	failFirst int
	failed    map[string]bool
	received  map[string][]hookCall
	inFlight  map[string]int
	overlaps  []string
	waiting   int
}

type hookCall struct {
	topic, bag, version, order, webhook string
	body                                []byte
}

func newHookReceiver(t *testing.T, appSecret string) *hookReceiver {
	h := &hookReceiver{t: t, appSecret: appSecret, secrets: map[string]*standardwebhooks.Webhook{},
		received: map[string][]hookCall{}, inFlight: map[string]int{}, failed: map[string]bool{}, hold: make(chan struct{})}
	close(h.hold)
	h.srv = httptest.NewServer(http.HandlerFunc(h.serve))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hookReceiver) trust(webhookID, secret string) {
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		h.t.Fatal(err)
	}
	h.mu.Lock()
	h.secrets[webhookID] = wh
	h.mu.Unlock()
}

// block makes new requests wait until release.
func (h *hookReceiver) block() {
	h.mu.Lock()
	h.hold, h.holding = make(chan struct{}), true
	h.mu.Unlock()
}

func (h *hookReceiver) release() {
	h.mu.Lock()
	if h.holding {
		close(h.hold)
		h.holding = false
	}
	h.mu.Unlock()
}

func (h *hookReceiver) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	id := r.Header.Get("X-Violet-Event-Id")
	h.mu.Lock()
	wh := h.secrets[r.Header.Get("X-Violet-Webhook-Id")]
	if h.inFlight[id] > 0 {
		h.overlaps = append(h.overlaps, id)
	}
	h.inFlight[id]++
	first := len(h.received[id]) == 0
	h.received[id] = append(h.received[id], hookCall{topic: r.Header.Get("X-Violet-Topic"), bag: r.Header.Get("X-Violet-Bag-Id"),
		version: r.Header.Get("X-Violet-Bag-Version"), order: r.Header.Get("X-Violet-Order-Id"),
		webhook: r.Header.Get("X-Violet-Webhook-Id"), body: body})
	hold, fail := h.hold, first && len(h.failed) < h.failFirst
	if fail {
		h.failed[id] = true
	}
	h.waiting++
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		h.inFlight[id]--
		h.waiting--
		h.mu.Unlock()
	}()
	if wh == nil {
		h.t.Errorf("a delivery for unknown webhook %q", r.Header.Get("X-Violet-Webhook-Id"))
	} else if err := wh.Verify(body, r.Header); err != nil {
		h.t.Errorf("Standard Webhooks verification of %s: %v", id, err)
	}
	mac := hmac.New(sha256.New, []byte(h.appSecret))
	mac.Write(body)
	if r.Header.Get("X-Violet-Hmac") != base64.StdEncoding.EncodeToString(mac.Sum(nil)) {
		h.t.Errorf("X-Violet-Hmac of %s does not match the app secret", id)
	}
	select {
	case <-hold:
	case <-r.Context().Done():
		return // the server went away mid-request
	}
	if fail {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	// A receiver takes a moment to process; it widens the window in which
	// a duplicate delivery would overlap this one.
	time.Sleep(2 * time.Millisecond)
	w.WriteHeader(http.StatusOK)
}

// eventIDs returns the event ids received, by topic.
func (h *hookReceiver) eventIDs(topic string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var ids []string
	for id, calls := range h.received {
		if calls[0].topic == topic {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

func (h *hookReceiver) inProgress() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.waiting
}

// held returns the event ids of the requests in progress.
func (h *hookReceiver) held() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var ids []string
	for id, n := range h.inFlight {
		if n > 0 {
			ids = append(ids, id)
		}
	}
	return ids
}

// subscribe creates a subscription of s's app to topic at the receiver.
func (s *shop) subscribe(h *hookReceiver, topic string) string {
	s.t.Helper()
	code, out := post(s.t, s.srv.url+"/v1/events/webhooks", `{"event": "`+topic+`", "remote_endpoint": "`+h.srv.URL+`/hooks"}`, s.app)
	if code != 201 {
		s.t.Fatalf("subscribe: %d %s", code, out)
	}
	w := jsonOf(s.t, out)
	id := fmt.Sprint(w["id"])
	h.trust(id, w["signing_secret"].(string))
	return id
}

// deliveryLog reads a subscription's whole delivery log.
func (s *shop) deliveryLog(webhookID string) []map[string]any {
	s.t.Helper()
	var out []map[string]any
	for page := 1; ; page++ {
		code, body := get(s.t, fmt.Sprintf("%s/v1/events/webhooks/%s/events?size=100&page=%d", s.srv.url, webhookID, page), s.app)
		if code != 200 {
			s.t.Fatalf("delivery log: %d %s", code, body)
		}
		p := jsonOf(s.t, body)
		for _, d := range p["content"].([]any) {
			out = append(out, d.(map[string]any))
		}
		if p["last"] == true {
			return out
		}
	}
}

func logEventIDs(log []map[string]any) []string {
	var ids []string
	for _, d := range log {
		ids = append(ids, d["event_id"].(string))
	}
	slices.Sort(ids)
	return ids
}

func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var hookFlags = []string{"--webhook-allow-private", "--webhook-retry-schedule", "50ms,50ms,100ms,100ms,200ms,200ms,500ms,1s,1s",
	"--job-lease", "1s", "--job-poll-interval", "50ms"}

// TestWebhooksSurviveSIGKILL: orders are placed while their deliveries are
// held in flight by the receiver; the server is killed with SIGKILL,
// restarted, and every event is delivered at least once, and after
// de-duplication by event id exactly the expected set: one ORDER_ACCEPTED
// per bag, and the events the delivery log lists.
func TestWebhooksSurviveSIGKILL(t *testing.T) {
	t.Parallel()
	storetest.EachKind(t, func(t *testing.T, k storetest.Kind) {
		flag, value := k.URL(t)
		args := append([]string{flag, value}, hookFlags...)
		first := serve(t, args...)
		s := openShop(t, first)
		rcv := newHookReceiver(t, s.app["X-Violet-App-Secret"])
		accepted := s.subscribe(rcv, "ORDER_ACCEPTED")
		updated := s.subscribe(rcv, "ORDER_UPDATED")
		_, bag := s.merchant(`{"submit": "ACCEPT"}`)

		rcv.block()
		var bagIDs []string
		for i := range 6 {
			code, o := s.place(dos(fmt.Sprint("hooked-", i), bag))
			if code != 200 || o["status"] != "COMPLETED" {
				t.Fatalf("DOS = %d %v", code, o)
			}
			bagIDs = append(bagIDs, fmt.Sprint(bags(o)[0]["id"]))
		}
		waitUntil(t, 20*time.Second, "deliveries in flight", func() bool { return rcv.inProgress() >= 2 })
		inFlight := rcv.held()
		first.cmd.Process.Signal(syscall.SIGKILL)
		<-first.done
		first.done <- nil
		rcv.release()

		second := serve(t, args...)
		s.srv = second
		wantAccepted := logEventIDs(s.deliveryLog(accepted))
		wantUpdated := logEventIDs(s.deliveryLog(updated))
		if len(wantAccepted) != len(bagIDs) || len(wantUpdated) < 2*len(bagIDs) {
			t.Fatalf("the log lists %d ORDER_ACCEPTED and %d ORDER_UPDATED for %d bags", len(wantAccepted), len(wantUpdated), len(bagIDs))
		}
		waitUntil(t, 60*time.Second, "every event delivered, and those cut off by the kill sent again", func() bool {
			if !slices.Equal(rcv.eventIDs("ORDER_ACCEPTED"), wantAccepted) || !slices.Equal(rcv.eventIDs("ORDER_UPDATED"), wantUpdated) {
				return false
			}
			rcv.mu.Lock()
			defer rcv.mu.Unlock()
			for _, id := range inFlight { // the resend comes a lease after the restart
				if len(rcv.received[id]) < 2 {
					return false
				}
			}
			return true
		})
		// One ORDER_ACCEPTED per bag, each carrying its order as it was.
		rcv.mu.Lock()
		for _, id := range inFlight { // cut off by the kill, so sent again
			if len(rcv.received[id]) < 2 {
				t.Errorf("event %s was in flight at the kill and arrived %d times", id, len(rcv.received[id]))
			}
		}
		var gotBags []string
		for _, id := range wantAccepted {
			c := rcv.received[id][0]
			gotBags = append(gotBags, c.bag)
			var o struct {
				ID   int64 `json:"id"`
				Bags []struct {
					ID      int64  `json:"id"`
					Status  string `json:"status"`
					Version int64  `json:"version"`
				} `json:"bags"`
			}
			if err := json.Unmarshal(c.body, &o); err != nil || fmt.Sprint(o.ID) != c.order || len(o.Bags) != 1 ||
				o.Bags[0].Status != "ACCEPTED" || fmt.Sprint(o.Bags[0].Version) != c.version {
				t.Errorf("ORDER_ACCEPTED %s: body %s (headers order %s, bag version %s)", id, c.body, c.order, c.version)
			}
		}
		rcv.mu.Unlock()
		slices.Sort(gotBags)
		slices.Sort(bagIDs)
		if !slices.Equal(gotBags, bagIDs) {
			t.Fatalf("ORDER_ACCEPTED for bags %v, want %v", gotBags, bagIDs)
		}
		waitUntil(t, 30*time.Second, "the log to show every delivery SUCCEEDED", func() bool {
			for _, d := range append(s.deliveryLog(accepted), s.deliveryLog(updated)...) {
				if d["status"] != "SUCCEEDED" {
					return false
				}
			}
			return true
		})
	})
}

// TestWebhooksTwoProcesses: two tote serve processes on one PostgreSQL
// database deliver a stream of events, the first attempts of 40 of them
// refused so that retries move between processes: none is lost, none is
// delivered twice at once, and with no crash each is taken (2xx) exactly
// once.
func TestWebhooksTwoProcesses(t *testing.T) {
	t.Parallel()
	url := storetest.PostgresSchemaURL(t)
	// A long lease here: this test counts exact deliveries, and on a loaded
	// machine a heartbeat late by a second would hand a live job to the
	// other process (at-least-once, but not what this test counts).
	args := append(append([]string{"--database-url", url}, hookFlags...), "--job-lease", "10s")
	a, b := serve(t, args...), serve(t, args...)
	s := openShop(t, a)
	rcv := newHookReceiver(t, s.app["X-Violet-App-Secret"])
	rcv.failFirst = 40
	updated := s.subscribe(rcv, "ORDER_UPDATED")
	_, bag1 := s.merchant(`{"submit": "ACCEPT"}`)
	_, bag2 := s.merchant(`{"submit": "ACCEPT"}`)
	sb := &shop{t: t, srv: b, admin: s.admin, app: s.app}

	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			shop := s
			if i%2 == 1 {
				shop = sb
			}
			if code, o := shop.place(dos(fmt.Sprint("two-", i), bag1, bag2)); code != 200 {
				t.Errorf("DOS = %d %v", code, o)
			}
		})
	}
	wg.Wait()
	var want []string
	deadline := time.Now().Add(60 * time.Second)
	for {
		// The log may still grow (a bag's last event can follow the
		// order's answer), so compare against it afresh each time.
		want = logEventIDs(s.deliveryLog(updated))
		got := rcv.eventIDs("ORDER_UPDATED")
		if slices.Equal(got, want) {
			break
		}
		if time.Now().After(deadline) {
			counts := map[string]int{}
			for _, d := range s.deliveryLog(updated) {
				counts[fmt.Sprint(d["status"], "/", d["attempts"], "/", d["date_next_attempt"] != nil)]++
			}
			t.Fatalf("after 60s: %d events in the log, %d delivered; log: %v", len(want), len(got), counts)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(want) < 16*2*2 {
		t.Fatalf("the log lists %d ORDER_UPDATED for 32 bags", len(want))
	}
	rcv.mu.Lock()
	failed := maps.Clone(rcv.failed)
	rcv.mu.Unlock()
	if len(failed) != 40 {
		t.Fatalf("%d first attempts refused, want 40", len(failed))
	}
	waitUntil(t, 30*time.Second, "the log to show every delivery SUCCEEDED", func() bool {
		for _, d := range s.deliveryLog(updated) {
			attempts := 1.0
			if failed[d["event_id"].(string)] {
				attempts = 2
			}
			if d["status"] != "SUCCEEDED" || d["attempts"] != attempts {
				return false
			}
		}
		return true
	})
	// Both processes took part, and between them made each attempt once:
	// one success per event, one retry per refused first attempt.
	var succeeded, retried float64
	for _, srv := range []*server{a, b} {
		_, m := get(t, srv.url+"/metrics", nil)
		ok, again := metric(m, `tote_webhook_attempts_total{outcome="succeeded"}`), metric(m, `tote_webhook_attempts_total{outcome="retried"}`)
		if ok+again == 0 {
			t.Fatalf("a process made no delivery attempt:\n%s", m)
		}
		succeeded, retried = succeeded+ok, retried+again
	}
	if int(succeeded) != len(want) || retried != 40 {
		t.Fatalf("the processes' metrics count %v successes and %v retries, want %d and 40", succeeded, retried, len(want))
	}
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	if len(rcv.overlaps) > 0 {
		t.Fatalf("events delivered twice at once: %v", rcv.overlaps)
	}
	for id, calls := range rcv.received {
		if want := 1 + boolInt(failed[id]); len(calls) != want {
			t.Errorf("event %s arrived %d times, want %d", id, len(calls), want)
		}
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// metric returns the value of one series in a Prometheus text exposition
// (0 if absent).
func metric(exposition, series string) float64 {
	for line := range strings.Lines(exposition) {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			v, _ := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			return v
		}
	}
	return 0
}

// TestPaymentWebhooks: a channel subscribed to payment events learns of
// each authorization, capture and failed capture, with the transaction, as
// the order's payment_transactions list it, as the body.
func TestPaymentWebhooks(t *testing.T) {
	t.Parallel()
	storetest.EachKind(t, func(t *testing.T, k storetest.Kind) {
		flag, value := k.URL(t)
		s := openShop(t, serve(t, append([]string{flag, value}, hookFlags...)...))
		rcv := newHookReceiver(t, s.app["X-Violet-App-Secret"])
		topics := []string{"PAYMENT_TRANSACTION_CAPTURE_STATUS_AUTHORIZED", "PAYMENT_TRANSACTION_CAPTURE_STATUS_CAPTURED",
			"PAYMENT_TRANSACTION_CAPTURE_STATUS_FAILED", "PAYMENT_TRANSACTION_CAPTURE_STATUS_UPDATED"}
		var hooks []string
		for _, topic := range topics {
			hooks = append(hooks, s.subscribe(rcv, topic))
		}
		_, bag1 := s.merchant(`{"submit": "ACCEPT"}`)
		_, bag2 := s.merchant(`{"submit": "ACCEPT"}`)
		code, paid := s.place(dos("paid", bag1, bag2))
		if code != 200 || paid["status"] != "COMPLETED" {
			t.Fatalf("DOS = %d %v", code, paid["status"])
		}
		code, failed := s.place(strings.Replace(dos("capture-fails", bag1), "tok_visa", "tok_captureFails", 1))
		if code != 200 || failed["status"] != "IN_PROGRESS" {
			t.Fatalf("failed capture = %d %v", code, failed["status"])
		}

		// What the API lists, by transaction id.
		want := map[string]map[string]any{}
		for _, o := range []map[string]any{s.order(paid["id"]), s.order(failed["id"])} {
			for _, tr := range o["payment_transactions"].([]any) {
				want[fmt.Sprint(tr.(map[string]any)["id"])] = tr.(map[string]any)
			}
		}
		// authorizations: 3 (two bags, one bag); captures: 2; failed: 1;
		// UPDATED alongside each, and alone for the failed order's void.
		counts := map[string]int{topics[0]: 3, topics[1]: 2, topics[2]: 1, topics[3]: 7}
		waitUntil(t, 20*time.Second, "every payment event", func() bool {
			for topic, n := range counts {
				if len(rcv.eventIDs(topic)) != n {
					return false
				}
			}
			return true
		})
		rcv.mu.Lock()
		defer rcv.mu.Unlock()
		kinds := map[string]int{}
		for id, calls := range rcv.received {
			c := calls[0]
			var got map[string]any
			if err := json.Unmarshal(c.body, &got); err != nil {
				t.Fatalf("%s %s: body %q: %v", c.topic, id, c.body, err)
			}
			w := want[fmt.Sprint(got["id"])]
			if w == nil || fmt.Sprint(got) != fmt.Sprint(w) {
				t.Fatalf("%s carries %s; the API lists %v", c.topic, c.body, w)
			}
			if c.bag != fmt.Sprint(got["bag_id"]) || c.order != fmt.Sprint(got["order_id"]) {
				t.Errorf("%s: X-Violet-Order-Id %s, X-Violet-Bag-Id %s for %v", c.topic, c.order, c.bag, got)
			}
			kinds[fmt.Sprint(c.topic, " ", got["type"], " ", got["status"])]++
		}
		wantKinds := map[string]int{
			topics[0] + " AUTHORIZATION COMPLETED": 3, topics[3] + " AUTHORIZATION COMPLETED": 3,
			topics[1] + " CAPTURE COMPLETED": 2, topics[3] + " CAPTURE COMPLETED": 2,
			topics[2] + " CAPTURE FAILED": 1, topics[3] + " CAPTURE FAILED": 1, topics[3] + " VOID COMPLETED": 1,
		}
		if !maps.Equal(kinds, wantKinds) {
			t.Fatalf("events by topic, type and status: %v, want %v", kinds, wantKinds)
		}
		// The event log names each delivery's entity: its transaction.
		for _, hook := range hooks {
			for _, d := range s.deliveryLog(hook) {
				calls := rcv.received[d["event_id"].(string)]
				var body struct{ ID int64 }
				if len(calls) == 0 || json.Unmarshal(calls[0].body, &body) != nil || d["entity_id"] != fmt.Sprint(body.ID) {
					t.Fatalf("delivery %v of webhook %s: entity_id %v, want the transaction it carried", d["id"], hook, d["entity_id"])
				}
			}
		}
	})
}
