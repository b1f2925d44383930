package api

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/toteorg/tote"
)

var (
	jobsDesc = prometheus.NewDesc("tote_jobs",
		"Durable jobs by state (completed and discarded ones until pruned).", []string{"state"}, nil)
	jobsAgeDesc = prometheus.NewDesc("tote_jobs_oldest_due_age_seconds",
		"How long the oldest due job has been waiting to be claimed (0 when none waits).", nil, nil)
)

// queueCollector reads the job queue's depth and age from the store at
// scrape time, so every process reports the shared queue as it is.
type queueCollector struct {
	store tote.JobQueue
	clock tote.Clock
	log   *slog.Logger
}

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- jobsDesc
	ch <- jobsAgeDesc
}

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := c.store.JobStats(ctx, c.clock.Now())
	if err != nil {
		c.log.Error("collect job stats", "err", err)
		ch <- prometheus.NewInvalidMetric(jobsDesc, err)
		return
	}
	for _, state := range tote.JobStates() {
		ch <- prometheus.MustNewConstMetric(jobsDesc, prometheus.GaugeValue, float64(st.Count[state]), string(state))
	}
	ch <- prometheus.MustNewConstMetric(jobsAgeDesc, prometheus.GaugeValue, st.OldestDue.Seconds())
}
