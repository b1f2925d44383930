package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"time"

	"github.com/toteorg/tote"
	"github.com/toteorg/tote/api"
	"github.com/toteorg/tote/tenant"
	"github.com/toteorg/tote/webhook"
)

// webhooksBench measures webhook delivery on one store: how fast a backlog
// of deliveries drains to a local receiver, and how long an event takes
// from its commit to the receiver at a steady rate; beside the raw rate of
// a plain Go http.Client posting the same bodies to the same receiver with
// the same concurrency, in the same run.
type webhooksBench struct {
	db          string
	databaseURL string
	events      int
	bags        int
	workers     int
	endpoint    int
	rate        int
	duration    time.Duration
	runs        int
	out         io.Writer

	body []byte
	rcv  *benchReceiver

	// Live mode: against a running server while it takes orders.
	url         string
	adminKey    string
	concurrency int
}

func benchWebhooks(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("tote bench webhooks", flag.ContinueOnError)
	fs.SetOutput(stderr)
	b := &webhooksBench{out: stdout}
	fs.StringVar(&b.db, "db", "sqlite", "store: sqlite or postgres")
	fs.StringVar(&b.databaseURL, "database-url", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable",
		"PostgreSQL to use; each run gets a new schema, dropped afterwards")
	fs.IntVar(&b.events, "events", 20000, "events in a throughput run")
	fs.IntVar(&b.bags, "bags", 5000, "bags the events are spread over (each bag's deliveries go in order)")
	fs.IntVar(&b.workers, "workers", 64, "deliveries in flight (and the raw client's concurrency)")
	fs.IntVar(&b.endpoint, "endpoint-concurrency", 0, "deliveries in flight to the one endpoint (default: --workers)")
	fs.IntVar(&b.rate, "rate", 500, "events recorded per second, one per transaction, in a latency run")
	fs.DurationVar(&b.duration, "duration", 10*time.Second, "length of a latency run")
	fs.IntVar(&b.runs, "runs", 3, "runs (the median is printed last)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole benchmark to this file")
	fs.StringVar(&b.url, "url", "", "live mode: a running tote serve (started with --webhook-allow-private) to place orders on at half its peak while measuring its webhooks")
	fs.StringVar(&b.adminKey, "admin-key", os.Getenv("TOTE_ADMIN_KEY"), "live mode: the server's admin key (env TOTE_ADMIN_KEY)")
	fs.IntVar(&b.concurrency, "concurrency", 16, "live mode: orders in flight in the peak phase")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if b.db != "sqlite" && b.db != "postgres" {
		return fmt.Errorf("-db must be sqlite or postgres")
	}
	if b.endpoint <= 0 {
		b.endpoint = b.workers
	}
	var err error
	if b.body, err = (api.EventBodies{}).Order(benchOrder()); err != nil {
		return err
	}
	if b.rcv, err = startBenchReceiver(); err != nil {
		return err
	}
	defer b.rcv.close()
	if b.url != "" {
		return b.live(ctx)
	}
	engine := "tote-" + b.db
	var raws, rates, p50s, p99s []float64
	for run := 1; run <= b.runs; run++ {
		raw, err := b.raw(ctx)
		if err != nil {
			return fmt.Errorf("raw client: %w", err)
		}
		rate, err := b.throughput(ctx)
		if err != nil {
			return fmt.Errorf("throughput: %w", err)
		}
		fmt.Fprintf(b.out, "engine=%s mode=throughput run=%d events=%d bags=%d workers=%d body_bytes=%d raw_per_sec=%.0f deliveries_per_sec=%.0f ratio=%.2f\n",
			engine, run, b.events, b.bags, b.workers, len(b.body), raw, rate, rate/raw)
		lat, achieved, err := b.latency(ctx)
		if err != nil {
			return fmt.Errorf("latency: %w", err)
		}
		q := quantiles(lat)
		fmt.Fprintf(b.out, "engine=%s mode=latency run=%d rate=%d achieved_per_sec=%.0f events=%d p50=%.2fms p90=%.2fms p99=%.2fms max=%.2fms\n",
			engine, run, b.rate, achieved, len(lat), q[0], q[1], q[2], q[3])
		raws, rates, p50s, p99s = append(raws, raw), append(rates, rate), append(p50s, q[0]), append(p99s, q[2])
	}
	fmt.Fprintf(b.out, "engine=%s run=median raw_per_sec=%.0f deliveries_per_sec=%.0f ratio=%.2f latency_rate=%d p50=%.2fms p99=%.2fms\n",
		engine, median(raws), median(rates), median(rates)/median(raws), b.rate, median(p50s), median(p99s))
	return nil
}

// benchOrder is a typical two-line order, the body of every event.
func benchOrder() *tote.Order {
	now := time.Now().UTC().Truncate(time.Microsecond)
	return &tote.Order{
		ID: 123456, AppID: 1, AppOrderID: "bench-order", Status: tote.OrderStatusCompleted, Currency: "USD",
		SubTotal: 4000, ShippingTotal: 500, TaxTotal: 290, Total: 4790, DateCreated: now, DateSubmitted: &now, DateLastModified: now,
		Details: tote.OrderDetails{
			Customer:        &tote.Customer{FirstName: "Ada", LastName: "Lovelace", Email: "ada@example.com"},
			ShippingAddress: &tote.Address{Address1: "1 Main St", City: "Springfield", State: "IL", PostalCode: "62701", Country: "US"},
			PaymentMethod:   &tote.PaymentMethod{Token: "tok_visa", PaymentProvider: "SANDBOX"},
		},
		Transactions: []*tote.PaymentTransaction{{ID: 1, OrderID: 123456, Type: tote.TransactionCapture, Amount: 4790,
			Currency: "USD", Status: "SUCCEEDED", PaymentProvider: "SANDBOX", PaymentProviderTransactionID: "pi_123", DateCreated: now}},
		Bags: []*tote.Bag{{
			ID: 7890, OrderID: 123456, AppID: 1, MerchantID: 3, MerchantName: "Acme Outfitters", Platform: "SANDBOX",
			Status: tote.BagStatusAccepted, FinancialStatus: tote.FinancialStatusPaid, FulfillmentStatus: tote.FulfillmentStatusProcessing,
			Version: 4, ExternalID: "sbx_ord_1234", Currency: "USD", SubTotal: 4000, ShippingTotal: 500, TaxTotal: 290, Total: 4790,
			DateCreated: now, DateSubmitted: &now, DateLastModified: now, DateLastConsolidated: &now,
			ShippingMethod: &tote.BagShippingMethod{ShippingMethodID: 1, Label: "Standard", Carrier: "USPS", Price: 500},
			Skus: []*tote.OrderSku{
				{ID: 1, OrderID: 123456, BagID: 7890, SkuID: 11, MerchantID: 3, Name: "Trail Tee, Medium", Quantity: 1, Price: 2500, LinePrice: 2500, Status: "PROCESSING"},
				{ID: 2, OrderID: 123456, BagID: 7890, SkuID: 12, MerchantID: 3, Name: "Trail Socks", Quantity: 2, Price: 750, LinePrice: 1500, Status: "PROCESSING"},
			},
		}},
	}
}

// benchReceiver is the local endpoint: it answers 200 and notes when each
// event id arrived.
type benchReceiver struct {
	srv   *http.Server
	url   string
	count atomic.Int64

	mu      sync.Mutex
	arrived map[string]time.Time
	// live keeps bodies, whose bag's date_last_modified is the event's time.
	live   bool
	bodies []liveDelivery
}

func startBenchReceiver() (*benchReceiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &benchReceiver{url: "http://" + ln.Addr().String() + "/hook", arrived: map[string]time.Time{}}
	r.srv = &http.Server{Handler: r, ReadHeaderTimeout: 10 * time.Second}
	go r.srv.Serve(ln)
	return r, nil
}

func (r *benchReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	now := time.Now()
	var body []byte
	if r.live {
		body, _ = io.ReadAll(req.Body)
	} else {
		io.Copy(io.Discard, req.Body)
	}
	if id := req.Header.Get("X-Violet-Event-Id"); id != "" {
		r.mu.Lock()
		if _, dup := r.arrived[id]; !dup {
			r.arrived[id] = now
			if r.live {
				r.bodies = append(r.bodies, liveDelivery{bag: req.Header.Get("X-Violet-Bag-Id"), body: body, at: now})
			}
		}
		r.mu.Unlock()
	}
	r.count.Add(1)
	w.WriteHeader(http.StatusOK)
}

type liveDelivery struct {
	bag  string
	body []byte
	at   time.Time
}

func (r *benchReceiver) reset() {
	r.mu.Lock()
	r.arrived = map[string]time.Time{}
	r.bodies = nil
	r.mu.Unlock()
	r.count.Store(0)
}

func (r *benchReceiver) close() { r.srv.Close() }

// raw posts the same number of bodies with a plain http.Client from
// b.workers goroutines, and returns posts per second.
func (b *webhooksBench) raw(ctx context.Context) (float64, error) {
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: b.workers}}
	defer client.CloseIdleConnections()
	var next atomic.Int64
	var firstErr atomic.Value
	start := time.Now()
	var wg sync.WaitGroup
	for range b.workers {
		wg.Go(func() {
			for next.Add(1) <= int64(b.events) {
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, b.rcv.url, bytes.NewReader(b.body))
				req.Header.Set("Content-Type", "application/json")
				res, err := client.Do(req)
				if err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
			}
		})
	}
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		return 0, err
	}
	return float64(b.events) / time.Since(start).Seconds(), nil
}

// setup opens a fresh store with an app subscribed to ORDER_UPDATED at the
// receiver, and b.bags one-bag orders.
func (b *webhooksBench) setup(ctx context.Context) (tote.Store, func(func()), func(), *tote.Order, []int64, error) {
	store, setHook, cleanup, err := (&jobsBench{db: b.db, databaseURL: b.databaseURL, workers: b.workers}).open(ctx)
	if err != nil {
		return nil, nil, nil, nil, nil, err
	}
	clock := tote.SystemClock{}
	fail := func(err error) (tote.Store, func(func()), func(), *tote.Order, []int64, error) {
		cleanup()
		return nil, nil, nil, nil, nil, err
	}
	app, secret, err := (&tenant.Service{Store: store, Clock: clock}).CreateApp(ctx, tenant.CreateAppParams{Name: "bench"})
	if err != nil {
		return fail(err)
	}
	svc := &webhook.Service{Store: store, Clock: clock, AllowPrivate: true}
	if _, err := svc.Create(ctx, app, secret, webhook.CreateParams{Event: "ORDER_UPDATED", RemoteEndpoint: b.rcv.url}); err != nil {
		return fail(err)
	}
	var orders []*tote.Order
	bags := make([]int64, 0, b.bags)
	for len(bags) < b.bags {
		err := store.InTx(ctx, func(tx tote.Tx) error {
			for i := 0; i < 500 && len(bags) < b.bags; i++ {
				now := clock.Now()
				o := &tote.Order{AppID: app.ID, Status: tote.OrderStatusCompleted, Currency: "USD", DateCreated: now, DateLastModified: now,
					Bags: []*tote.Bag{{MerchantID: 1, Status: tote.BagStatusAccepted, FinancialStatus: tote.FinancialStatusPaid,
						FulfillmentStatus: tote.FulfillmentStatusProcessing, Version: 1, Currency: "USD", DateCreated: now, DateLastModified: now}}}
				if err := tx.CreateOrder(ctx, o); err != nil {
					return err
				}
				orders = append(orders, o)
				bags = append(bags, o.Bags[0].ID)
			}
			return nil
		})
		if err != nil {
			return fail(err)
		}
	}
	return store, setHook, cleanup, orders[0], bags, nil
}

func (b *webhooksBench) event(appID int64, orders map[int64]int64, bag int64, id string, now time.Time) *tote.Event {
	return &tote.Event{ID: id, AppID: appID, Type: tote.EventOrderUpdated, OrderID: orders[bag], BagID: bag, BagVersion: 2,
		Payload: b.body, DateCreated: now}
}

// start runs a delivery runner on store until the returned stop is called.
func (b *webhooksBench) start(store tote.Store, setHook func(func())) func() {
	clock := tote.SystemClock{}
	d := &webhook.Dispatcher{Store: store, Clock: clock, Log: benchLog, EndpointConcurrency: b.endpoint,
		Workers: b.workers, PollInterval: 100 * time.Millisecond,
		Sender: &webhook.Sender{Client: webhook.NewClient(10*time.Second, true), Clock: clock, AllowPrivate: true}}
	setHook(d.Notify)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	return func() { cancel(); <-done; setHook(nil) }
}

// throughput records b.events events (and their deliveries) with no worker
// running, then times a runner draining them to the receiver.
func (b *webhooksBench) throughput(ctx context.Context) (float64, error) {
	store, setHook, cleanup, first, bags, err := b.setup(ctx)
	if err != nil {
		return 0, err
	}
	defer cleanup()
	orders := b.orderOf(ctx, store, bags)
	clock := tote.SystemClock{}
	for i := 0; i < b.events; {
		err := store.InTx(ctx, func(tx tote.Tx) error {
			var evs []*tote.Event
			for ; len(evs) < 200 && i < b.events; i++ {
				evs = append(evs, b.event(first.AppID, orders, bags[i%len(bags)], fmt.Sprintf("evt_bench_%d", i), clock.Now()))
			}
			return tx.InsertEvents(ctx, evs)
		})
		if err != nil {
			return 0, err
		}
	}
	b.rcv.reset()
	start := time.Now()
	stop := b.start(store, setHook)
	defer stop()
	deadline := start.Add(10 * time.Minute)
	for b.rcv.count.Load() < int64(b.events) {
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("%d of %d delivered after 10 minutes", b.rcv.count.Load(), b.events)
		}
		time.Sleep(time.Millisecond)
	}
	return float64(b.events) / time.Since(start).Seconds(), nil
}

func (b *webhooksBench) orderOf(ctx context.Context, store tote.Store, bags []int64) map[int64]int64 {
	orders := make(map[int64]int64, len(bags))
	for _, id := range bags {
		bag, err := store.FindBagByID(ctx, id)
		if err == nil {
			orders[id] = bag.OrderID
		}
	}
	return orders
}

// latency records events at b.rate per second, one per transaction, for
// b.duration while the runner delivers them, and returns each event's
// time from its commit to its arrival at the receiver.
func (b *webhooksBench) latency(ctx context.Context) ([]time.Duration, float64, error) {
	store, setHook, cleanup, first, bags, err := b.setup(ctx)
	if err != nil {
		return nil, 0, err
	}
	defer cleanup()
	orders := b.orderOf(ctx, store, bags)
	b.rcv.reset()
	stop := b.start(store, setHook)
	defer stop()
	clock := tote.SystemClock{}
	// Open loop: each event is recorded on its own goroutine at its
	// scheduled time, so a slow commit delays only its own event and the
	// rate holds (a serial loop fell to 320-400/s on PostgreSQL, whose
	// commit is a round trip plus a flush).
	var (
		mu        sync.Mutex
		committed = map[string]time.Time{}
		firstErr  error
		wg        sync.WaitGroup
	)
	start := time.Now()
	interval := time.Second / time.Duration(b.rate)
	var failed atomic.Bool
	for i := 0; time.Since(start) < b.duration && !failed.Load() && ctx.Err() == nil; i++ {
		if wait := time.Until(start.Add(time.Duration(i) * interval)); wait > 0 {
			time.Sleep(wait)
		}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			id := fmt.Sprintf("evt_lat_%d", i)
			err := store.InTx(ctx, func(tx tote.Tx) error {
				return tx.InsertEvents(ctx, []*tote.Event{b.event(first.AppID, orders, bags[i%len(bags)], id, clock.Now())})
			})
			at := time.Now()
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if firstErr == nil {
					firstErr = err
				}
				failed.Store(true)
				return
			}
			committed[id] = at
		}(i)
	}
	wg.Wait()
	if firstErr != nil {
		return nil, 0, firstErr
	} else if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	achieved := float64(len(committed)) / time.Since(start).Seconds()
	deadline := time.Now().Add(time.Minute)
	for b.rcv.count.Load() < int64(len(committed)) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	b.rcv.mu.Lock()
	defer b.rcv.mu.Unlock()
	lat := make([]time.Duration, 0, len(committed))
	for id, at := range committed {
		got, ok := b.rcv.arrived[id]
		if !ok {
			return nil, 0, fmt.Errorf("event %s never arrived", id)
		}
		lat = append(lat, max(got.Sub(at), 0))
	}
	return lat, achieved, nil
}

// live measures a running server: its DOS peak with an ORDER_UPDATED
// subscription at the local receiver, then, placing orders at half that
// peak, each event's time from the change (its bag's date_last_modified in
// the body, taken just before the commit) to its arrival.
func (b *webhooksBench) live(ctx context.Context) error {
	if b.adminKey == "" {
		return fmt.Errorf("--admin-key (or TOTE_ADMIN_KEY) is required in live mode")
	}
	d := &dosBench{url: b.url, adminKey: b.adminKey, duration: b.duration, concurrency: b.concurrency, runs: 1, out: b.out,
		client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: b.concurrency * 2}}}
	if err := d.setup(ctx); err != nil {
		return fmt.Errorf("set up: %w", err)
	}
	app := map[string]string{"X-Violet-App-Id": d.appID, "X-Violet-App-Secret": d.secret}
	if _, err := d.call(ctx, "POST", "/v1/events/webhooks", map[string]any{"event": "ORDER_UPDATED", "remote_endpoint": b.rcv.url}, app); err != nil {
		return fmt.Errorf("subscribe (is the server running with --webhook-allow-private?): %w", err)
	}
	b.rcv.live = true
	var peaks, rates, p50s, p99s []float64
	for run := 1; run <= b.runs; run++ {
		peak, _, _ := d.load(ctx, "peak", 0)
		b.rcv.reset()
		start := time.Now()
		rate, _, errs := d.load(ctx, "half", peak/2)
		// Wait for the deliveries of the phase's events to arrive.
		for last, n := time.Now(), int64(-1); time.Since(last) < 2*time.Second; {
			if c := b.rcv.count.Load(); c != n {
				last, n = time.Now(), c
			}
			time.Sleep(50 * time.Millisecond)
		}
		b.rcv.mu.Lock()
		var lat []time.Duration
		for _, dl := range b.rcv.bodies {
			var o struct {
				Bags []struct {
					ID               int64     `json:"id"`
					DateLastModified time.Time `json:"date_last_modified"`
				} `json:"bags"`
			}
			if json.Unmarshal(dl.body, &o) != nil {
				continue
			}
			for _, bag := range o.Bags {
				if fmt.Sprint(bag.ID) == dl.bag && bag.DateLastModified.After(start) {
					lat = append(lat, max(dl.at.Sub(bag.DateLastModified), 0))
				}
			}
		}
		b.rcv.mu.Unlock()
		if len(lat) == 0 {
			return fmt.Errorf("no webhook arrived during the half-peak phase")
		}
		q := quantiles(lat)
		fmt.Fprintf(b.out, "engine=live run=%d peak_orders_per_sec=%.0f half_peak_orders_per_sec=%.0f order_errors=%d deliveries=%d p50=%.1fms p90=%.1fms p99=%.1fms max=%.1fms\n",
			run, peak, rate, errs, len(lat), q[0], q[1], q[2], q[3])
		peaks, rates, p50s, p99s = append(peaks, peak), append(rates, rate), append(p50s, q[0]), append(p99s, q[2])
	}
	fmt.Fprintf(b.out, "engine=live run=median peak_orders_per_sec=%.0f half_peak_orders_per_sec=%.0f p50=%.1fms p99=%.1fms\n",
		median(peaks), median(rates), median(p50s), median(p99s))
	return nil
}
