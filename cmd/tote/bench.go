package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/toteorg/tote"
	"github.com/toteorg/tote/job"
	"github.com/toteorg/tote/postgres"
	"github.com/toteorg/tote/sqlite"
)

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	switch {
	case len(args) > 0 && args[0] == "jobs":
		return benchJobs(ctx, args[1:], stdout, stderr)
	case len(args) > 0 && args[0] == "dos":
		return benchDOS(ctx, args[1:], stdout, stderr)
	case len(args) > 0 && args[0] == "search":
		return benchSearch(ctx, args[1:], stdout, stderr)
	case len(args) > 0 && args[0] == "webhooks":
		return benchWebhooks(ctx, args[1:], stdout, stderr)
	}
	fmt.Fprintln(stderr, `Usage:
  tote bench jobs [flags]   durable job throughput and commit-to-start latency
  tote bench dos [flags]    Direct Order Submission against a running server
  tote bench search [flags] order and bag search over a million seeded orders
  tote bench webhooks [flags] webhook deliveries/s and event-to-delivery latency`)
	return flag.ErrHelp
}

// jobsBench is the protocol shared with bench/river, so the two are
// measured alike (docs/decisions/0002-durable-jobs.md).
type jobsBench struct {
	db          string
	databaseURL string
	workers     int
	jobs        int
	rate        int
	duration    time.Duration
	runs        int
	mode        string
}

func benchJobs(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("tote bench jobs", flag.ContinueOnError)
	fs.SetOutput(stderr)
	b := &jobsBench{}
	fs.StringVar(&b.db, "db", "sqlite", "store: sqlite or postgres")
	fs.StringVar(&b.databaseURL, "database-url", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable",
		"PostgreSQL to use; each run gets a new schema, dropped afterwards")
	fs.IntVar(&b.workers, "workers", 20, "jobs run at once")
	fs.IntVar(&b.jobs, "jobs", 20000, "jobs in a throughput run")
	fs.IntVar(&b.rate, "rate", 200, "jobs inserted per second in a latency run, one per transaction")
	fs.DurationVar(&b.duration, "duration", 10*time.Second, "length of a latency run")
	fs.IntVar(&b.runs, "runs", 3, "runs of each mode (the median is printed last)")
	fs.StringVar(&b.mode, "mode", "all", "throughput, latency or all")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if b.db != "sqlite" && b.db != "postgres" {
		return fmt.Errorf("-db must be sqlite or postgres")
	}
	engine := "tote-" + b.db
	if b.mode == "all" || b.mode == "throughput" {
		var rates []float64
		for run := 1; run <= b.runs; run++ {
			elapsed, err := b.throughput(ctx)
			if err != nil {
				return err
			}
			rate := float64(b.jobs) / elapsed.Seconds()
			rates = append(rates, rate)
			fmt.Fprintf(stdout, "engine=%s mode=throughput run=%d jobs=%d workers=%d elapsed=%.2fs jobs_per_sec=%.0f\n",
				engine, run, b.jobs, b.workers, elapsed.Seconds(), rate)
		}
		fmt.Fprintf(stdout, "engine=%s mode=throughput run=median jobs_per_sec=%.0f\n", engine, median(rates))
	}
	if b.mode == "all" || b.mode == "latency" {
		var p50s, p90s, p99s, maxes []float64
		for run := 1; run <= b.runs; run++ {
			lat, err := b.latency(ctx)
			if err != nil {
				return err
			}
			q := quantiles(lat)
			p50s, p90s, p99s, maxes = append(p50s, q[0]), append(p90s, q[1]), append(p99s, q[2]), append(maxes, q[3])
			fmt.Fprintf(stdout, "engine=%s mode=latency run=%d rate=%d jobs=%d p50=%.2fms p90=%.2fms p99=%.2fms max=%.2fms\n",
				engine, run, b.rate, len(lat), q[0], q[1], q[2], q[3])
		}
		fmt.Fprintf(stdout, "engine=%s mode=latency run=median rate=%d p50=%.2fms p90=%.2fms p99=%.2fms max=%.2fms\n",
			engine, b.rate, median(p50s), median(p90s), median(p99s), median(maxes))
	}
	return nil
}

// open makes a fresh store: a new SQLite file, or a new PostgreSQL schema.
func (b *jobsBench) open(ctx context.Context) (store tote.Store, setHook func(func()), cleanup func(), err error) {
	if b.db == "sqlite" {
		dir, err := os.MkdirTemp("", "tote-bench-")
		if err != nil {
			return nil, nil, nil, err
		}
		s, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(dir, "tote.db")})
		if err != nil {
			return nil, nil, nil, err
		}
		return s, func(f func()) { s.AfterCommitJobs = f }, func() { s.Close(); os.RemoveAll(dir) }, nil
	}
	rnd := make([]byte, 4)
	rand.Read(rnd)
	schema := "bench_" + hex.EncodeToString(rnd)
	conn, err := pgx.Connect(ctx, b.databaseURL)
	if err != nil {
		return nil, nil, nil, err
	}
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		conn.Close(ctx)
		return nil, nil, nil, err
	}
	u, err := url.Parse(b.databaseURL)
	if err != nil {
		return nil, nil, nil, err
	}
	q := u.Query()
	q.Set("search_path", schema)
	q.Set("pool_max_conns", fmt.Sprint(b.workers+5))
	u.RawQuery = q.Encode()
	s, err := postgres.Open(ctx, u.String())
	if err != nil {
		return nil, nil, nil, err
	}
	return s, func(f func()) { s.AfterCommitJobs = f }, func() {
		s.Close()
		conn.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		conn.Close(context.Background())
	}, nil
}

var benchLog = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))

// throughput inserts b.jobs no-op jobs, then times a runner draining them.
func (b *jobsBench) throughput(ctx context.Context) (time.Duration, error) {
	s, _, cleanup, err := b.open(ctx)
	if err != nil {
		return 0, err
	}
	defer cleanup()
	now := time.Now()
	for i := 0; i < b.jobs; i += 1000 {
		params := make([]tote.JobParams, min(1000, b.jobs-i))
		for n := range params {
			params[n] = tote.JobParams{Kind: "noop", Args: []byte(`{}`), RunAt: now, MaxAttempts: 3}
		}
		if err := s.InTx(ctx, func(tx tote.Tx) error { _, err := tx.InsertJobs(ctx, params); return err }); err != nil {
			return 0, err
		}
	}
	var done atomic.Int64
	finished := make(chan struct{})
	r := job.NewRunner(s, tote.SystemClock{}, benchLog, job.Config{Workers: b.workers})
	r.Handle("noop", func(ctx context.Context, j *tote.Job) error {
		if done.Add(1) == int64(b.jobs) {
			close(finished)
		}
		return nil
	}, 0)
	runCtx, stop := context.WithCancel(ctx)
	stopped := make(chan struct{})
	start := time.Now()
	go func() { r.Run(runCtx); close(stopped) }()
	defer func() { stop(); <-stopped }()
	select {
	case <-finished:
	case <-time.After(10 * time.Minute):
		return 0, fmt.Errorf("throughput run did not finish in 10 minutes (%d of %d jobs)", done.Load(), b.jobs)
	}
	stop()
	<-stopped // every outcome is recorded once Run returns
	return time.Since(start), nil
}

// latency inserts one job per transaction at b.rate for b.duration with a
// runner running, and measures from each commit's return to its job's start.
func (b *jobsBench) latency(ctx context.Context) ([]time.Duration, error) {
	s, setHook, cleanup, err := b.open(ctx)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	var mu sync.Mutex
	committed := map[int64]time.Time{}
	started := map[int64]time.Time{}
	r := job.NewRunner(s, tote.SystemClock{}, benchLog, job.Config{Workers: b.workers})
	r.Handle("noop", func(ctx context.Context, j *tote.Job) error {
		t := time.Now()
		mu.Lock()
		started[j.ID] = t
		mu.Unlock()
		return nil
	}, 0)
	setHook(r.Notify)
	runCtx, stop := context.WithCancel(ctx)
	stopped := make(chan struct{})
	go func() { r.Run(runCtx); close(stopped) }()
	defer func() { stop(); <-stopped }()

	// Job i is due at i/rate after the start; a late producer catches up
	// rather than skipping, so every run offers rate × duration jobs.
	total := int(b.duration.Seconds() * float64(b.rate))
	time.Sleep(time.Second) // let the runner settle, as the River side does
	begin := time.Now()
	for i := range total {
		if wait := time.Until(begin.Add(time.Duration(i) * time.Second / time.Duration(b.rate))); wait > 0 {
			time.Sleep(wait)
		}
		var ids []int64
		err := s.InTx(ctx, func(tx tote.Tx) error {
			var err error
			ids, err = tx.InsertJobs(ctx, []tote.JobParams{{Kind: "noop", Args: []byte(`{}`), RunAt: time.Now(), MaxAttempts: 3}})
			return err
		})
		t := time.Now()
		if err != nil {
			return nil, err
		}
		mu.Lock()
		committed[ids[0]] = t
		mu.Unlock()
	}
	deadline := time.Now().Add(time.Minute)
	for {
		mu.Lock()
		n := len(started)
		mu.Unlock()
		if n >= total || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	lat := make([]time.Duration, 0, len(started))
	for id, t := range started {
		// The hook can wake the runner before the producer records the
		// commit time; such a job started within microseconds of it.
		lat = append(lat, max(0, t.Sub(committed[id])))
	}
	if len(lat) < total {
		return nil, fmt.Errorf("only %d of %d jobs started within a minute", len(lat), total)
	}
	return lat, nil
}

// quantiles returns p50, p90, p99 and max in milliseconds.
func quantiles(d []time.Duration) [4]float64 {
	slices.Sort(d)
	at := func(q float64) float64 {
		return float64(d[min(len(d)-1, int(q*float64(len(d))))]) / float64(time.Millisecond)
	}
	return [4]float64{at(0.50), at(0.90), at(0.99), float64(d[len(d)-1]) / float64(time.Millisecond)}
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	sort.Float64s(s)
	return s[len(s)/2]
}
