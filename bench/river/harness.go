// Package riverbench is the store-agnostic half of the River benchmark:
// flags, the throughput and latency protocols, statistics and output.
//
// The River half lives in the pg and sqlite modules beside this one, one
// module per River version (the SQLite driver only exists up to v0.49.0).
// This module imports nothing but the standard library, so both can use it.
package riverbench

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// insertBatch is how many jobs the throughput mode inserts per transaction.
const insertBatch = 1000

// settle is how long the latency mode waits after starting the client
// before it inserts the first job, so that start-up work (leader election,
// LISTEN connection) is not counted as job latency.
const settle = time.Second

// Flags are the benchmark parameters, shared with the purpose-built
// implementation's benchmark so that both follow one protocol.
type Flags struct {
	DB           string // postgres or sqlite
	DatabaseURL  string // postgres: URL of the bench database, dropped and recreated
	Workers      int    // River MaxWorkers
	Jobs         int    // throughput: jobs inserted before the client starts
	Rate         int    // latency: jobs inserted per second
	Duration     time.Duration
	Runs         int
	Mode         string // throughput, throughput-fast, latency, latency-fast or all
	FastPoll     time.Duration
	FastCooldown time.Duration
	Timeout      time.Duration // bound on each wait for jobs to be worked
	PGConns      int
	SQLiteConns  int
}

// ParseFlags parses the command line; defaultDB is the store the calling
// program was built for.
func ParseFlags(defaultDB string) Flags {
	var f Flags
	flag.StringVar(&f.DB, "db", defaultDB, "store: postgres or sqlite")
	flag.StringVar(&f.DatabaseURL, "database-url", "postgres://postgres@127.0.0.1:5432/river_bench?sslmode=disable",
		"postgres: URL of the bench database; it is dropped and recreated before every run, so its name must contain \"bench\"")
	flag.IntVar(&f.Workers, "workers", 20, "River MaxWorkers of the default queue")
	flag.IntVar(&f.Jobs, "jobs", 20000, "throughput: jobs inserted before the client starts")
	flag.IntVar(&f.Rate, "rate", 200, "latency: jobs inserted per second, one per transaction")
	flag.DurationVar(&f.Duration, "duration", 10*time.Second, "latency: how long the producer inserts")
	flag.IntVar(&f.Runs, "runs", 3, "runs of each mode")
	flag.StringVar(&f.Mode, "mode", "all", "throughput, throughput-fast, latency, latency-fast or all")
	flag.DurationVar(&f.FastPoll, "fast-poll", 50*time.Millisecond, "*-fast modes: River FetchPollInterval")
	flag.DurationVar(&f.FastCooldown, "fast-cooldown", 10*time.Millisecond, "*-fast modes: River FetchCooldown")
	flag.DurationVar(&f.Timeout, "timeout", 5*time.Minute, "give up waiting for jobs to be worked after this long")
	flag.IntVar(&f.PGConns, "pg-conns", 10, "postgres: pgxpool MaxConns")
	flag.IntVar(&f.SQLiteConns, "sqlite-conns", 1, "sqlite: database/sql MaxOpenConns (River's SQLite driver recommends 1)")
	flag.Parse()
	return f
}

// Options configure one River client.
type Options struct {
	Workers           int
	FetchPollInterval time.Duration
	FetchCooldown     time.Duration
	Logger            *slog.Logger
	OnWork            func(jobID int64) // called first thing in every Work
}

// Store makes River clients, each on a fresh store.
type Store interface {
	Engine() string  // e.g. river-pg
	Version() string // River version the program was built with
	FetchDefaults() (poll, cooldown time.Duration)
	// NewClient recreates the store, runs River's migrations on it and
	// returns a client that is not started.
	NewClient(ctx context.Context, o Options) (Client, error)
	// Close removes whatever the store created (temp files).
	Close() error
}

// Client is one River client on its store.
type Client interface {
	InsertBatch(ctx context.Context, n int) error // n jobs in one transaction
	// InsertOne inserts one job in its own transaction and returns the
	// job's id and the time right after Commit returned.
	InsertOne(ctx context.Context) (id int64, committed time.Time, err error)
	Start(ctx context.Context) error
	Stop() error // stops the client and closes its connections
}

// Run runs the selected modes f.Runs times each and prints every run and
// the medians on stdout.
func Run(ctx context.Context, s Store, f Flags) error {
	if f.Runs < 1 || f.Workers < 1 || f.Jobs < 1 || f.Rate < 1 || f.Duration <= 0 {
		return errors.New("-runs, -workers, -jobs, -rate and -duration must be positive")
	}
	modes := []string{"throughput", "throughput-fast", "latency", "latency-fast"}
	if f.Mode != "all" {
		if !slices.Contains(modes, f.Mode) {
			return fmt.Errorf("unknown -mode %q", f.Mode)
		}
		modes = []string{f.Mode}
	}
	prefix := fmt.Sprintf("engine=%s version=%s", s.Engine(), s.Version())
	for _, mode := range modes {
		var results []result
		for run := 1; run <= f.Runs; run++ {
			poll, cooldown := s.FetchDefaults()
			if strings.HasSuffix(mode, "-fast") {
				poll, cooldown = f.FastPoll, f.FastCooldown
			}
			var r result
			var err error
			if strings.HasPrefix(mode, "throughput") {
				r, err = throughput(ctx, s, f, poll, cooldown)
			} else {
				r, err = latency(ctx, s, f, poll, cooldown)
			}
			if err != nil {
				return fmt.Errorf("%s run %d: %w", mode, run, err)
			}
			fmt.Printf("%s mode=%s run=%d %s\n", prefix, mode, run, r.format(true))
			results = append(results, r)
		}
		fmt.Printf("%s mode=%s run=median %s\n", prefix, mode, median(results).format(false))
	}
	return nil
}

// result is one run's measurement; a throughput run leaves the latency
// fields zero and the other way round.
type result struct {
	mode                 string
	jobs, workers        int
	elapsed              time.Duration
	rate                 int
	poll, cooldown       time.Duration
	p50, p90, p99, max   time.Duration
	missing, riverWarned int
}

func (r result) format(withWarnings bool) string {
	var s string
	if r.mode == "throughput" {
		s = fmt.Sprintf("jobs=%d workers=%d elapsed=%.2fs jobs_per_sec=%.0f",
			r.jobs, r.workers, r.elapsed.Seconds(), float64(r.jobs)/r.elapsed.Seconds())
	} else {
		s = fmt.Sprintf("rate=%d jobs=%d p50=%s p90=%s p99=%s max=%s missing=%d",
			r.rate, r.jobs, ms(r.p50), ms(r.p90), ms(r.p99), ms(r.max), r.missing)
	}
	s += fmt.Sprintf(" fetch_poll=%s fetch_cooldown=%s", r.poll, r.cooldown)
	if withWarnings {
		s += fmt.Sprintf(" river_warnings=%d", r.riverWarned)
	}
	return s
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
}

func throughput(ctx context.Context, s Store, f Flags, poll, cooldown time.Duration) (result, error) {
	var worked atomic.Int64
	allWorked := make(chan struct{})
	logger, warned := countingLogger()
	c, err := s.NewClient(ctx, Options{
		Workers: f.Workers, FetchPollInterval: poll, FetchCooldown: cooldown, Logger: logger,
		OnWork: func(int64) {
			if worked.Add(1) == int64(f.Jobs) {
				close(allWorked)
			}
		},
	})
	if err != nil {
		return result{}, err
	}
	defer c.Stop()
	for left := f.Jobs; left > 0; left -= insertBatch {
		if err := c.InsertBatch(ctx, min(left, insertBatch)); err != nil {
			return result{}, fmt.Errorf("insert: %w", err)
		}
	}
	start := time.Now()
	if err := c.Start(ctx); err != nil {
		return result{}, err
	}
	select {
	case <-allWorked:
	case <-time.After(f.Timeout):
		return result{}, fmt.Errorf("only %d of %d jobs worked after %s", worked.Load(), f.Jobs, f.Timeout)
	case <-ctx.Done():
		return result{}, ctx.Err()
	}
	elapsed := time.Since(start)
	if err := c.Stop(); err != nil {
		return result{}, err
	}
	return result{
		mode: "throughput", jobs: f.Jobs, workers: f.Workers, elapsed: elapsed,
		poll: poll, cooldown: cooldown, riverWarned: int(warned.Load()),
	}, nil
}

func latency(ctx context.Context, s Store, f Flags, poll, cooldown time.Duration) (result, error) {
	expected := int(f.Duration.Seconds()*float64(f.Rate)) + 1
	var mu sync.Mutex
	started := make(map[int64]time.Time, expected)
	logger, warned := countingLogger()
	c, err := s.NewClient(ctx, Options{
		Workers: f.Workers, FetchPollInterval: poll, FetchCooldown: cooldown, Logger: logger,
		OnWork: func(id int64) {
			now := time.Now()
			mu.Lock()
			started[id] = now
			mu.Unlock()
		},
	})
	if err != nil {
		return result{}, err
	}
	defer c.Stop()
	if err := c.Start(ctx); err != nil {
		return result{}, err
	}
	time.Sleep(settle)

	// Job i is due at begin + i/rate; a late producer catches up without
	// sleeping, so the offered load stays rate x duration when it can.
	committed := make(map[int64]time.Time, expected)
	interval := time.Second / time.Duration(f.Rate)
	begin := time.Now()
	end := begin.Add(f.Duration)
	for due := begin; due.Before(end) && time.Now().Before(end); due = due.Add(interval) {
		select {
		case <-time.After(time.Until(due)):
		case <-ctx.Done():
			return result{}, ctx.Err()
		}
		id, at, err := c.InsertOne(ctx)
		if err != nil {
			return result{}, fmt.Errorf("insert: %w", err)
		}
		committed[id] = at
	}

	// Wait, bounded, until every inserted job has started.
	for deadline := time.Now().Add(f.Timeout); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		mu.Lock()
		n := len(started)
		mu.Unlock()
		if n >= len(committed) || ctx.Err() != nil {
			break
		}
	}
	if err := c.Stop(); err != nil {
		return result{}, err
	}

	mu.Lock()
	defer mu.Unlock()
	lat := make([]time.Duration, 0, len(committed))
	for id, at := range committed {
		if st, ok := started[id]; ok {
			lat = append(lat, st.Sub(at))
		}
	}
	if len(lat) == 0 {
		return result{}, errors.New("no job was worked")
	}
	slices.Sort(lat)
	return result{
		mode: "latency", rate: f.Rate, jobs: len(committed), poll: poll, cooldown: cooldown,
		p50: percentile(lat, 50), p90: percentile(lat, 90), p99: percentile(lat, 99), max: lat[len(lat)-1],
		missing: len(committed) - len(lat), riverWarned: int(warned.Load()),
	}, nil
}

// percentile returns the nearest-rank percentile of sorted durations.
func percentile(sorted []time.Duration, p float64) time.Duration {
	i := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[max(i, 0)]
}

// median returns the run-by-run median of every figure in results.
func median(results []result) result {
	m := results[0]
	m.elapsed = medianOf(results, func(r result) time.Duration { return r.elapsed })
	m.jobs = medianOf(results, func(r result) int { return r.jobs })
	m.p50 = medianOf(results, func(r result) time.Duration { return r.p50 })
	m.p90 = medianOf(results, func(r result) time.Duration { return r.p90 })
	m.p99 = medianOf(results, func(r result) time.Duration { return r.p99 })
	m.max = medianOf(results, func(r result) time.Duration { return r.max })
	m.missing = medianOf(results, func(r result) int { return r.missing })
	return m
}

func medianOf[T int | time.Duration](results []result, get func(result) T) T {
	v := make([]T, len(results))
	for i, r := range results {
		v[i] = get(r)
	}
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// countingLogger is the logger handed to River: it prints River's warnings
// and errors (SQLITE_BUSY and the like) on stderr and counts them.
func countingLogger() (*slog.Logger, *atomic.Int64) {
	var n atomic.Int64
	h := slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})
	return slog.New(countingHandler{h, &n}), &n
}

type countingHandler struct {
	slog.Handler
	n *atomic.Int64
}

func (h countingHandler) Handle(ctx context.Context, r slog.Record) error {
	h.n.Add(1)
	return h.Handler.Handle(ctx, r)
}

func (h countingHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return countingHandler{h.Handler.WithAttrs(attrs), h.n}
}

func (h countingHandler) WithGroup(name string) slog.Handler {
	return countingHandler{h.Handler.WithGroup(name), h.n}
}

// CheckBenchName guards the drop-and-recreate of a postgres database.
func CheckBenchName(database string) error {
	if !strings.Contains(database, "bench") {
		return fmt.Errorf("refusing to drop database %q: its name must contain \"bench\"", database)
	}
	return nil
}
