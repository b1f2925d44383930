package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/toteorg/tote"
	"github.com/toteorg/tote/api"
	"github.com/toteorg/tote/job"
	"github.com/toteorg/tote/lifecycle"
	paymentsandbox "github.com/toteorg/tote/payment/sandbox"
	platformsandbox "github.com/toteorg/tote/platform/sandbox"
	"github.com/toteorg/tote/submission"
	"github.com/toteorg/tote/tenant"
	"github.com/toteorg/tote/webhook"
)

// serveConfig is everything tote serve is told by flags and environment.
type serveConfig struct {
	store        storeFlags
	addr         string
	adminKey     string
	logLevel     string
	workers      int
	pollInterval time.Duration
	drainTimeout time.Duration

	submitAttempts  int
	retryDelay      time.Duration
	submitWait      time.Duration
	platformTimeout time.Duration
	reconcile       time.Duration
	sandboxKey      string

	jobLease                   time.Duration
	webhookAllowPrivate        bool
	webhookSchedule            []time.Duration
	webhookWorkers             int
	webhookTimeout             time.Duration
	webhookEndpointConcurrency int

	pprofAddr string
}

func parseServe(args []string, stderr io.Writer) (*serveConfig, error) {
	fs := flag.NewFlagSet("tote serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c := &serveConfig{}
	c.store.register(fs)
	fs.StringVar(&c.addr, "addr", cmp.Or(os.Getenv("TOTE_ADDR"), "127.0.0.1:8080"), "address to listen on (env TOTE_ADDR)")
	fs.StringVar(&c.adminKey, "admin-key", os.Getenv("TOTE_ADMIN_KEY"),
		"bearer key of the operator routes; none closes them (env TOTE_ADMIN_KEY)")
	fs.StringVar(&c.logLevel, "log-level", cmp.Or(os.Getenv("TOTE_LOG_LEVEL"), "info"), "debug, info, warn or error (env TOTE_LOG_LEVEL)")
	fs.IntVar(&c.workers, "workers", envInt("TOTE_WORKERS", 10), "jobs run at once by this process (env TOTE_WORKERS)")
	fs.DurationVar(&c.pollInterval, "job-poll-interval", envDuration("TOTE_JOB_POLL_INTERVAL", time.Second),
		"how often workers look for jobs and webhook deliveries made by other processes (env TOTE_JOB_POLL_INTERVAL)")
	fs.DurationVar(&c.drainTimeout, "drain-timeout", envDuration("TOTE_DRAIN_TIMEOUT", 30*time.Second),
		"on SIGTERM, how long to wait for in-flight requests and jobs (env TOTE_DRAIN_TIMEOUT)")
	fs.IntVar(&c.submitAttempts, "submission-attempts", envInt("TOTE_SUBMISSION_ATTEMPTS", 5),
		"attempts to place a bag before it is rejected (env TOTE_SUBMISSION_ATTEMPTS)")
	fs.DurationVar(&c.retryDelay, "submission-retry-delay", envDuration("TOTE_SUBMISSION_RETRY_DELAY", 2*time.Second),
		"first wait before a bag is sent again, doubling each time (env TOTE_SUBMISSION_RETRY_DELAY)")
	fs.DurationVar(&c.submitWait, "submission-wait", envDuration("TOTE_SUBMISSION_WAIT", 10*time.Second),
		"how long POST /v1/orders waits for each bag's first attempt (env TOTE_SUBMISSION_WAIT)")
	fs.DurationVar(&c.platformTimeout, "platform-timeout", envDuration("TOTE_PLATFORM_TIMEOUT", 5*time.Second),
		"timeout of one call to a merchant platform (env TOTE_PLATFORM_TIMEOUT)")
	fs.DurationVar(&c.reconcile, "reconcile-interval", envDuration("TOTE_RECONCILE_INTERVAL", 5*time.Minute),
		"longest wait between two checks of a bag against its platform while the platform has taken its order without confirming it; the checks start at 250ms and double up to this (env TOTE_RECONCILE_INTERVAL)")
	fs.StringVar(&c.sandboxKey, "sandbox-key", os.Getenv("TOTE_SANDBOX_KEY"),
		"key between Tote and its sandbox platform and payment provider; random if unset (env TOTE_SANDBOX_KEY)")
	fs.DurationVar(&c.jobLease, "job-lease", envDuration("TOTE_JOB_LEASE", 30*time.Second),
		"how long a running job's (or webhook delivery's) claim holds without a heartbeat before another worker takes it over (env TOTE_JOB_LEASE)")
	fs.BoolVar(&c.webhookAllowPrivate, "webhook-allow-private", envBool("TOTE_WEBHOOK_ALLOW_PRIVATE"),
		"let webhook endpoints be plain http and private or loopback addresses; for development and tests (env TOTE_WEBHOOK_ALLOW_PRIVATE)")
	schedule := fs.String("webhook-retry-schedule", cmp.Or(os.Getenv("TOTE_WEBHOOK_RETRY_SCHEDULE"), "10s,1m,5m,30m,1h,2h,4h,8h,8h"),
		"waits between webhook delivery attempts, comma-separated (env TOTE_WEBHOOK_RETRY_SCHEDULE)")
	fs.IntVar(&c.webhookWorkers, "webhook-workers", envInt("TOTE_WEBHOOK_WORKERS", 64),
		"webhook deliveries sent at once by this process (env TOTE_WEBHOOK_WORKERS)")
	fs.DurationVar(&c.webhookTimeout, "webhook-timeout", envDuration("TOTE_WEBHOOK_TIMEOUT", 10*time.Second),
		"how long an endpoint has to answer a delivery with a 2xx (env TOTE_WEBHOOK_TIMEOUT)")
	fs.IntVar(&c.webhookEndpointConcurrency, "webhook-endpoint-concurrency", envInt("TOTE_WEBHOOK_ENDPOINT_CONCURRENCY", 16),
		"deliveries in flight to one subscription from this process (env TOTE_WEBHOOK_ENDPOINT_CONCURRENCY)")
	fs.StringVar(&c.pprofAddr, "pprof-addr", os.Getenv("TOTE_PPROF_ADDR"),
		"address to serve Go's /debug/pprof profiles on; empty serves none (env TOTE_PPROF_ADDR)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	var err error
	if c.webhookSchedule, err = webhook.ParseSchedule(*schedule); err != nil {
		envErrs = append(envErrs, fmt.Errorf("--webhook-retry-schedule: %w", err))
	}
	if c.webhookWorkers < 1 || c.webhookEndpointConcurrency < 1 || c.jobLease < time.Second/10 || c.webhookTimeout <= 0 {
		envErrs = append(envErrs, fmt.Errorf("--webhook-workers and --webhook-endpoint-concurrency must be at least 1, --job-lease at least 100ms, --webhook-timeout positive"))
	}
	if c.submitAttempts < 1 {
		envErrs = append(envErrs, fmt.Errorf("--submission-attempts must be at least 1"))
	}
	if c.reconcile <= 0 {
		envErrs = append(envErrs, fmt.Errorf("--reconcile-interval must be positive"))
	}
	if err := errors.Join(envErrs...); err != nil {
		return nil, err
	}
	return c, nil
}

func runServe(ctx context.Context, args []string, stderr io.Writer) error {
	ctx, stopSignals := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stopSignals()
	c, err := parseServe(args, stderr)
	if err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.logLevel)); err != nil {
		return err
	}
	log := slog.New(api.LogHandler{Handler: slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level})})

	store, onJobs, err := c.store.open(ctx)
	if err != nil {
		return err
	}
	defer store.Close()
	if pg, ok := store.(interface {
		Autovacuum(context.Context) (bool, error)
	}); ok {
		if on, err := pg.Autovacuum(ctx); err != nil {
			log.Debug("could not read PostgreSQL's autovacuum setting", "err", err)
		} else if !on {
			log.Warn("PostgreSQL runs with autovacuum off: Tote's queue tables will slow down as dead rows pile up; turn it on, or VACUUM them often (jobs, webhook_deliveries, webhook_streams)")
		}
	}
	clock := tote.SystemClock{}

	jobs := job.Config{Workers: c.workers, PollInterval: c.pollInterval, Lease: c.jobLease, RescueInterval: c.jobLease / 2}
	runner := job.NewRunner(store, clock, log, jobs)
	// Webhook deliveries are a queue of their own with workers of their
	// own, so a backlog of them never delays bag submissions, nor the
	// reverse.
	sender := &webhook.Sender{Client: webhook.NewClient(c.webhookTimeout, c.webhookAllowPrivate), Clock: clock,
		AllowPrivate: c.webhookAllowPrivate}
	dispatcher := &webhook.Dispatcher{Store: store, Clock: clock, Log: log, Sender: sender,
		Policy: webhook.Policy{Schedule: c.webhookSchedule}, EndpointConcurrency: c.webhookEndpointConcurrency,
		Workers: c.webhookWorkers, Lease: c.jobLease, PollInterval: c.pollInterval}
	onJobs(func() { runner.Notify(); dispatcher.Notify() })

	if c.pprofAddr != "" {
		if err := servePprof(ctx, c.pprofAddr, log); err != nil {
			return err
		}
	}
	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		return err
	}
	// The sandbox platform and payment provider are served by this process
	// and reached over HTTP, like remote services (decision 0007), on a
	// loopback listener of their own that closes only after the workers
	// have stopped: a job draining at shutdown still reaches them.
	sandboxLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	sandboxKey := c.sandboxKey
	if sandboxKey == "" {
		b := make([]byte, 16)
		rand.Read(b)
		sandboxKey = hex.EncodeToString(b)
	}
	platform := &platformsandbox.Platform{Store: store, Key: sandboxKey, Clock: clock, Logger: log}
	payments := &paymentsandbox.Provider{Store: store, Key: sandboxKey, Clock: clock, Logger: log}
	self := selfURL(sandboxLn.Addr())
	engine := &submission.Engine{
		Store: store, Clock: clock, Log: log,
		Lifecycle:       &lifecycle.Service{Store: store, Clock: clock, Bodies: api.EventBodies{}},
		Platform:        &platformsandbox.Connector{BaseURL: self + "/sandbox/platform", Key: sandboxKey, Timeout: c.platformTimeout, Clock: clock},
		Payments:        &paymentsandbox.Client{BaseURL: self + "/sandbox/payments", Key: sandboxKey},
		MaxAttempts:     c.submitAttempts,
		RetryDelay:      c.retryDelay,
		Wait:            c.submitWait,
		PlatformTimeout: c.platformTimeout,
		Reconcile:       c.reconcile,
	}
	engine.Register(runner)

	srv := &api.Server{
		Store:      store,
		Apps:       &tenant.Service{Store: store, Clock: clock},
		Orders:     engine,
		Clock:      clock,
		Dispatcher: dispatcher,
		Logger:     log,
		AdminKey:   c.adminKey,
	}
	sandboxMux := http.NewServeMux()
	sandboxMux.Handle("/sandbox/platform/", http.StripPrefix("/sandbox/platform", platform.Handler()))
	sandboxMux.Handle("/sandbox/payments/", http.StripPrefix("/sandbox/payments", payments.Handler()))
	sandboxServer := &http.Server{Handler: sandboxMux, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	go sandboxServer.Serve(sandboxLn)
	defer sandboxServer.Close()
	srv.Webhooks = &webhook.Service{Store: store, Clock: clock, Sender: sender, AllowPrivate: c.webhookAllowPrivate,
		Bodies: api.EventBodies{}, Changed: dispatcher.Forget}
	for _, rt := range platform.OperatorRoutes() {
		srv.OperatorRoutes = append(srv.OperatorRoutes, api.Route{Method: rt.Method, Path: rt.Path, Handler: rt.Handler})
	}
	for _, rt := range payments.OperatorRoutes() {
		srv.OperatorRoutes = append(srv.OperatorRoutes, api.Route{Method: rt.Method, Path: rt.Path, Handler: rt.Handler})
	}
	httpServer := &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	log.Info("tote listening", "addr", ln.Addr().String(), "store", c.store.describe(), "operator_routes", c.adminKey != "")

	// Workers and maintenance stop when ctx ends, after the HTTP server has
	// drained, so a request's follow-up jobs are still picked up.
	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Go(func() { runner.Run(workCtx) })
	wg.Go(func() { dispatcher.Run(workCtx) })
	wg.Go(func() { dispatcher.Prune(workCtx, time.Hour) })
	wg.Go(func() { pruneIdempotencyKeys(workCtx, store, clock, log) })

	serveErr := make(chan error, 1)
	go func() { serveErr <- httpServer.Serve(ln) }()
	select {
	case err := <-serveErr:
		stopWork()
		wg.Wait()
		return err
	case <-ctx.Done():
	}
	stopSignals() // a second SIGTERM or Ctrl-C now kills the process at once
	log.Info("shutting down: draining requests and jobs", "timeout", c.drainTimeout.String())
	drainCtx, cancel := context.WithTimeout(context.Background(), c.drainTimeout)
	defer cancel()
	if err := httpServer.Shutdown(drainCtx); err != nil {
		log.Warn("requests still in flight at the drain timeout", "err", err)
	}
	stopWork()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-drainCtx.Done():
		// End the jobs still running and give their outcomes a moment to
		// be recorded; any job left running is retried once its lease ends.
		log.Warn("jobs still running at the drain timeout; cancelling them")
		runner.Abort()
		dispatcher.Abort()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			log.Warn("jobs did not stop; they will be rescued when their leases end")
		}
	}
	if err := <-serveErr; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Info("stopped")
	return nil
}

// pruneIdempotencyKeys forgets Idempotency-Key responses after their 24 h.
// Every process may run it; deleting is idempotent.
func pruneIdempotencyKeys(ctx context.Context, store tote.Store, clock tote.Clock, log *slog.Logger) {
	t := time.NewTicker(10 * time.Minute)
	defer t.Stop()
	for {
		if n, err := store.PruneIdempotencyKeys(ctx, clock.Now().Add(-tote.IdempotencyKeyTTL)); err != nil && ctx.Err() == nil {
			log.Error("prune idempotency keys", "err", err)
		} else if n > 0 {
			log.Info("pruned idempotency keys", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// envInt and envDuration read a flag's default from the environment; a
// value that does not parse is remembered in envErrs and refused, rather
// than quietly replaced by the default.
var envErrs []error

func envInt(name string, def int) int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		envErrs = append(envErrs, fmt.Errorf("%s=%q: not a whole number", name, s))
		return def
	}
	return v
}

func envBool(name string) bool {
	s := os.Getenv(name)
	if s == "" {
		return false
	}
	v, err := strconv.ParseBool(s)
	if err != nil {
		envErrs = append(envErrs, fmt.Errorf("%s=%q: not true or false", name, s))
	}
	return v
}

func envDuration(name string, def time.Duration) time.Duration {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		envErrs = append(envErrs, fmt.Errorf("%s=%q: not a duration such as 30s", name, s))
		return def
	}
	return v
}

// selfURL is how this process reaches its own listener.
func selfURL(addr net.Addr) string {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok {
		return "http://" + addr.String()
	}
	ip := tcp.IP
	if ip == nil || ip.IsUnspecified() {
		ip = net.IPv4(127, 0, 0, 1)
	}
	return "http://" + net.JoinHostPort(ip.String(), strconv.Itoa(tcp.Port))
}

// servePprof serves Go's runtime profiles on their own listener, so they
// are never reachable through the API's address.
func servePprof(ctx context.Context, addr string, log *slog.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("--pprof-addr: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	context.AfterFunc(ctx, func() { srv.Close() })
	log.Info("serving profiles", "addr", ln.Addr().String())
	return nil
}
