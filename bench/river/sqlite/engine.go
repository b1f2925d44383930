package main

// This file is identical in the pg and sqlite modules: it is the River
// glue, generic over the driver's transaction type. Keep the copies in sync
// (cmp pg/engine.go sqlite/engine.go).

import (
	"context"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/rivermigrate"
	riverbench "github.com/toteorg/tote/bench/river"
)

type noopArgs struct{}

func (noopArgs) Kind() string { return "noop" }

type noopWorker struct {
	river.WorkerDefaults[noopArgs]
	onWork func(jobID int64)
}

func (w *noopWorker) Work(_ context.Context, job *river.Job[noopArgs]) error {
	w.onWork(job.ID)
	return nil
}

// txFuncs are the store's transaction operations (pgx.Tx or *sql.Tx).
type txFuncs[TTx any] struct {
	begin    func(context.Context) (TTx, error)
	commit   func(context.Context, TTx) error
	rollback func(context.Context, TTx)
}

// client implements riverbench.Client on a River client.
type client[TTx any] struct {
	river     *river.Client[TTx]
	tx        txFuncs[TTx]
	closePool func()
	stopOnce  sync.Once
	stopErr   error
}

// newClient runs River's migrations through driver and makes a client that
// is not started; closePool is called once the client has stopped.
func newClient[TTx any](ctx context.Context, driver riverdriver.Driver[TTx], tx txFuncs[TTx], closePool func(), o riverbench.Options) (*client[TTx], error) {
	migrator, err := rivermigrate.New(driver, &rivermigrate.Config{Logger: slog.New(slog.DiscardHandler)})
	if err == nil {
		_, err = migrator.Migrate(ctx, rivermigrate.DirectionUp, nil)
	}
	if err != nil {
		closePool()
		return nil, err
	}
	workers := river.NewWorkers()
	river.AddWorker(workers, &noopWorker{onWork: o.OnWork})
	rc, err := river.NewClient(driver, &river.Config{
		FetchCooldown:     o.FetchCooldown,
		FetchPollInterval: o.FetchPollInterval,
		Logger:            o.Logger,
		Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: o.Workers}},
		Workers:           workers,
	})
	if err != nil {
		closePool()
		return nil, err
	}
	return &client[TTx]{river: rc, tx: tx, closePool: closePool}, nil
}

func (c *client[TTx]) inTx(ctx context.Context, fn func(TTx) error) error {
	tx, err := c.tx.begin(ctx)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		c.tx.rollback(ctx, tx)
		return err
	}
	return c.tx.commit(ctx, tx)
}

func (c *client[TTx]) InsertBatch(ctx context.Context, n int) error {
	params := make([]river.InsertManyParams, n)
	for i := range params {
		params[i] = river.InsertManyParams{Args: noopArgs{}}
	}
	return c.inTx(ctx, func(tx TTx) error {
		_, err := c.river.InsertManyTx(ctx, tx, params)
		return err
	})
}

func (c *client[TTx]) InsertOne(ctx context.Context) (int64, time.Time, error) {
	var id int64
	err := c.inTx(ctx, func(tx TTx) error {
		res, err := c.river.InsertTx(ctx, tx, noopArgs{}, nil)
		if err == nil {
			id = res.Job.ID
		}
		return err
	})
	return id, time.Now(), err
}

func (c *client[TTx]) Start(ctx context.Context) error { return c.river.Start(ctx) }

// Stop stops the client (gracefully, then by cancelling work) and closes
// the pool; calls after the first return the first one's result.
func (c *client[TTx]) Stop() error {
	c.stopOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if c.stopErr = c.river.Stop(ctx); c.stopErr != nil {
			c.stopErr = c.river.StopAndCancel(ctx)
		}
		c.closePool()
	})
	return c.stopErr
}

// riverVersion is the River version this program was built with.
func riverVersion() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			if dep.Path == "github.com/riverqueue/river" {
				return dep.Version
			}
		}
	}
	return "unknown"
}
