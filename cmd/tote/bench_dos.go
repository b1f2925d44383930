package main

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// dosBench drives Direct Order Submissions of two bags each against a
// running server, and measures the same machine's raw ceiling: a single
// order row plus one outbox row inserted per transaction on the same store.
type dosBench struct {
	url         string
	adminKey    string
	store       storeFlags
	duration    time.Duration
	concurrency int
	runs        int
	out         io.Writer
	client      *http.Client

	appID   string
	secret  string
	payload []byte
}

func benchDOS(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("tote bench dos", flag.ContinueOnError)
	fs.SetOutput(stderr)
	b := &dosBench{out: stdout}
	b.store.register(fs)
	fs.StringVar(&b.url, "url", "http://127.0.0.1:8080", "the running tote server")
	fs.StringVar(&b.adminKey, "admin-key", os.Getenv("TOTE_ADMIN_KEY"), "the server's admin key, to create the app and merchants (env TOTE_ADMIN_KEY)")
	fs.DurationVar(&b.duration, "duration", 10*time.Second, "length of each phase")
	fs.IntVar(&b.concurrency, "concurrency", 16, "requests in flight in the peak phase")
	fs.IntVar(&b.runs, "runs", 3, "runs (the median is printed last)")
	fixed := fs.Float64("rate", 0, "orders/s of the second phase (default: half the run's peak); a fixed rate compares builds or stores at the same load")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if b.adminKey == "" {
		return fmt.Errorf("--admin-key (or TOTE_ADMIN_KEY) is required to set up the app and merchants")
	}
	b.client = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: b.concurrency * 2}}
	if err := b.setup(ctx); err != nil {
		return fmt.Errorf("set up: %w", err)
	}
	var ceilings, peaks, p99s, halfP99s []float64
	for run := 1; run <= b.runs; run++ {
		ceiling, err := b.ceiling(ctx)
		if err != nil {
			return fmt.Errorf("raw ceiling: %w", err)
		}
		fmt.Fprintf(b.out, "run=%d phase=ceiling store=%s inserts_per_sec=%.0f\n", run, b.store.describe(), ceiling)
		peak, lat, errs := b.load(ctx, "peak", 0)
		q := quantiles(lat)
		fmt.Fprintf(b.out, "run=%d phase=peak concurrency=%d orders=%d errors=%d orders_per_sec=%.0f p50=%.1fms p90=%.1fms p99=%.1fms max=%.1fms ratio_to_ceiling=%.2f\n",
			run, b.concurrency, len(lat), errs, peak, q[0], q[1], q[2], q[3], peak/ceiling)
		target := cmp.Or(*fixed, peak/2)
		rate, hlat, herrs := b.load(ctx, "half", target)
		hq := quantiles(hlat)
		fmt.Fprintf(b.out, "run=%d phase=half-peak target_per_sec=%.0f orders=%d errors=%d orders_per_sec=%.0f p50=%.1fms p90=%.1fms p99=%.1fms max=%.1fms\n",
			run, target, len(hlat), herrs, rate, hq[0], hq[1], hq[2], hq[3])
		ceilings, peaks, p99s, halfP99s = append(ceilings, ceiling), append(peaks, peak), append(p99s, q[2]), append(halfP99s, hq[2])
	}
	fmt.Fprintf(b.out, "median: ceiling=%.0f/s peak=%.0f orders/s (%.2f of ceiling) peak_p99=%.1fms half_peak_p99=%.1fms\n",
		median(ceilings), median(peaks), median(peaks)/median(ceilings), median(p99s), median(halfP99s))
	return nil
}

func (b *dosBench) call(ctx context.Context, method, path string, body any, auth map[string]string) (map[string]any, error) {
	raw, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, method, b.url+path, bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range auth {
		req.Header.Set(k, v)
	}
	res, err := b.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	out := map[string]any{}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		return nil, fmt.Errorf("%s %s: %d, unreadable body: %w", method, path, res.StatusCode, err)
	}
	if res.StatusCode >= 300 {
		return out, fmt.Errorf("%s %s: %d %v", method, path, res.StatusCode, out["message"])
	}
	return out, nil
}

// setup creates an app and two sandbox merchants, each with a SKU and a
// shipping method, and builds the order every request places.
func (b *dosBench) setup(ctx context.Context) error {
	admin := map[string]string{"Authorization": "Bearer " + b.adminKey}
	app, err := b.call(ctx, "POST", "/v1/admin/apps", map[string]any{"name": "tote bench"}, admin)
	if err != nil {
		return err
	}
	b.appID, b.secret = fmt.Sprint(int64(app["id"].(float64))), app["secret"].(string)
	var bags []map[string]any
	for i := range 2 {
		m, err := b.call(ctx, "POST", "/v1/admin/merchants", map[string]any{
			"name": fmt.Sprintf("Bench merchant %d", i+1), "platform": "SANDBOX", "currency": "USD",
			"sandbox": map[string]any{"submit": "ACCEPT"},
		}, admin)
		if err != nil {
			return err
		}
		mid := int64(m["id"].(float64))
		sku, err := b.call(ctx, "POST", fmt.Sprintf("/v1/admin/merchants/%d/skus", mid), map[string]any{
			"name": "Bench widget", "price": 1999, "inventory": 1 << 40,
		}, admin)
		if err != nil {
			return err
		}
		sm, err := b.call(ctx, "POST", fmt.Sprintf("/v1/admin/merchants/%d/shipping_methods", mid), map[string]any{
			"label": "Ground", "carrier": "USPS", "price": 500, "type": "FLAT_RATE_PRICE",
		}, admin)
		if err != nil {
			return err
		}
		bags = append(bags, map[string]any{
			"skus":            []map[string]any{{"sku_id": int64(sku["id"].(float64)), "quantity": 1}},
			"shipping_method": map[string]any{"shipping_method_id": int64(sm["shipping_method_id"].(float64))},
		})
	}
	b.payload, _ = json.Marshal(map[string]any{
		"payment_method": map[string]any{"token": "tok_visa"},
		"order": map[string]any{
			"customer":         map[string]any{"first_name": "Bench", "last_name": "Shopper", "email": "bench@example.com"},
			"shipping_address": map[string]any{"address_1": "1 Main St", "city": "Springfield", "state": "IL", "postal_code": "62701", "country": "US"},
			"bags":             bags,
		},
	})
	// One order first, to check the setup end to end.
	if _, err := b.place(ctx); err != nil {
		return err
	}
	return nil
}

// place submits one order and checks it completed.
func (b *dosBench) place(ctx context.Context) (time.Duration, error) {
	start := time.Now()
	req, _ := http.NewRequestWithContext(ctx, "POST", b.url+"/v1/orders", bytes.NewReader(b.payload))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Violet-App-Id", b.appID)
	req.Header.Set("X-Violet-App-Secret", b.secret)
	res, err := b.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	var o struct{ Status, Message string }
	if err := json.NewDecoder(res.Body).Decode(&o); err != nil {
		return 0, err
	}
	if res.StatusCode != 200 || o.Status != "COMPLETED" {
		return 0, fmt.Errorf("order: %d %s %s", res.StatusCode, o.Status, o.Message)
	}
	return time.Since(start), nil
}

// load runs one phase: closed-loop with b.concurrency workers when rate is
// zero, otherwise open-loop at rate orders per second. It prints progress
// every second to stderr.
func (b *dosBench) load(ctx context.Context, phase string, rate float64) (float64, []time.Duration, int64) {
	ctx, cancel := context.WithTimeout(ctx, b.duration)
	defer cancel()
	var mu sync.Mutex
	var lat []time.Duration
	var done, errs atomic.Int64
	record := func() {
		d, err := b.place(context.WithoutCancel(ctx))
		if err != nil {
			if errs.Add(1) <= 3 {
				fmt.Fprintln(os.Stderr, "  error:", err)
			}
			return
		}
		done.Add(1)
		mu.Lock()
		lat = append(lat, d)
		mu.Unlock()
	}
	start := time.Now()
	var wg sync.WaitGroup
	progress := time.NewTicker(time.Second)
	defer progress.Stop()
	go func() {
		for range progress.C {
			if ctx.Err() != nil {
				return
			}
			fmt.Fprintf(os.Stderr, "  %s: %3.0fs  %6d orders  %6.0f/s  %d errors\n", phase, time.Since(start).Seconds(),
				done.Load(), float64(done.Load())/time.Since(start).Seconds(), errs.Load())
		}
	}()
	if rate == 0 {
		for range b.concurrency {
			wg.Go(func() {
				for ctx.Err() == nil {
					record()
				}
			})
		}
	} else {
		tick := time.NewTicker(time.Duration(float64(time.Second) / rate))
		defer tick.Stop()
	loop:
		for {
			select {
			case <-ctx.Done():
				break loop
			case <-tick.C:
				wg.Go(record)
			}
		}
	}
	wg.Wait()
	elapsed := time.Since(start)
	return float64(done.Load()) / elapsed.Seconds(), lat, errs.Load()
}

// ceiling measures single-connection transactions per second, each
// inserting one order-sized row and one outbox row, on the store the
// server uses (a scratch file beside it, or a scratch schema in it).
func (b *dosBench) ceiling(ctx context.Context) (float64, error) {
	body := bytes.Repeat([]byte("x"), 1024)
	run := func(insert func() error) (float64, error) {
		n, start := 0, time.Now()
		for time.Since(start) < 3*time.Second {
			if err := insert(); err != nil {
				return 0, err
			}
			n++
		}
		return float64(n) / time.Since(start).Seconds(), nil
	}
	if b.store.databaseURL == "" {
		path := filepath.Join(b.store.dataDir, "bench-ceiling.db")
		defer os.Remove(path)
		defer os.Remove(path + "-wal")
		defer os.Remove(path + "-shm")
		db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+
			"?_pragma=journal_mode(WAL)&_pragma=synchronous("+b.store.synchronous+")&_pragma=busy_timeout(10000)")
		if err != nil {
			return 0, err
		}
		defer db.Close()
		db.SetMaxOpenConns(1)
		for _, q := range []string{
			`CREATE TABLE IF NOT EXISTS orders (id INTEGER PRIMARY KEY AUTOINCREMENT, status TEXT, body BLOB, created INTEGER)`,
			`CREATE TABLE IF NOT EXISTS outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, order_id INTEGER, kind TEXT, created INTEGER)`,
		} {
			if _, err := db.ExecContext(ctx, q); err != nil {
				return 0, err
			}
		}
		return run(func() error {
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				return err
			}
			defer tx.Rollback()
			var id int64
			now := time.Now().UnixMicro()
			if err := tx.QueryRowContext(ctx, `INSERT INTO orders (status, body, created) VALUES ('PROCESSING', ?, ?) RETURNING id`, body, now).Scan(&id); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO outbox (order_id, kind, created) VALUES (?, 'submit_bag', ?)`, id, now); err != nil {
				return err
			}
			return tx.Commit()
		})
	}
	conn, err := pgx.Connect(ctx, b.store.databaseURL)
	if err != nil {
		return 0, err
	}
	defer conn.Close(context.Background())
	rnd := make([]byte, 4)
	rand.Read(rnd)
	schema := "bench_ceiling_" + hex.EncodeToString(rnd)
	defer conn.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
	for _, q := range []string{
		"CREATE SCHEMA " + schema,
		`CREATE TABLE ` + schema + `.orders (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, status TEXT, body BYTEA, created TIMESTAMPTZ)`,
		`CREATE TABLE ` + schema + `.outbox (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, order_id BIGINT, kind TEXT, created TIMESTAMPTZ)`,
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			return 0, err
		}
	}
	return run(func() error {
		return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			var id int64
			now := time.Now()
			if err := tx.QueryRow(ctx, `INSERT INTO `+schema+`.orders (status, body, created) VALUES ('PROCESSING', $1, $2) RETURNING id`, body, now).Scan(&id); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO `+schema+`.outbox (order_id, kind, created) VALUES ($1, 'submit_bag', $2)`, id, now)
			return err
		})
	})
}
