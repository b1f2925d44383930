package api

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/toteorg/tote"
	"github.com/toteorg/tote/webhook"
)

var (
	jobsDesc = prometheus.NewDesc("tote_jobs",
		"Durable jobs by state (completed and discarded ones until pruned).", []string{"state"}, nil)
	jobsAgeDesc = prometheus.NewDesc("tote_jobs_oldest_due_age_seconds",
		"How long the oldest due job has been waiting to be claimed (0 when none waits).", nil, nil)
	deliveriesDueDesc = prometheus.NewDesc("tote_webhook_deliveries_due",
		"Webhook deliveries whose attempt is due and not yet taken by a dispatcher.", nil, nil)
	deliveriesAgeDesc = prometheus.NewDesc("tote_webhook_deliveries_oldest_due_age_seconds",
		"How long the oldest due webhook delivery has been waiting (0 when none waits).", nil, nil)
	attemptsDesc = prometheus.NewDesc("tote_webhook_attempts_total",
		"Webhook delivery attempts made by this process, by outcome: succeeded, retried (failed; tried again later), failed (for good).",
		[]string{"outcome"}, nil)
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

// deliveryCollector reads the delivery queue from the store at scrape time,
// and this process's attempts from its dispatcher.
type deliveryCollector struct {
	store      tote.WebhookStore
	dispatcher *webhook.Dispatcher
	clock      tote.Clock
	log        *slog.Logger
}

func (c *deliveryCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- deliveriesDueDesc
	ch <- deliveriesAgeDesc
	if c.dispatcher != nil {
		ch <- attemptsDesc
	}
}

func (c *deliveryCollector) Collect(ch chan<- prometheus.Metric) {
	if c.dispatcher != nil {
		a := c.dispatcher.Attempts()
		ch <- prometheus.MustNewConstMetric(attemptsDesc, prometheus.CounterValue, float64(a.Succeeded), "succeeded")
		ch <- prometheus.MustNewConstMetric(attemptsDesc, prometheus.CounterValue, float64(a.Retried), "retried")
		ch <- prometheus.MustNewConstMetric(attemptsDesc, prometheus.CounterValue, float64(a.Failed), "failed")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := c.store.DeliveryStats(ctx, c.clock.Now())
	if err != nil {
		c.log.Error("collect webhook delivery stats", "err", err)
		ch <- prometheus.NewInvalidMetric(deliveriesDueDesc, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(deliveriesDueDesc, prometheus.GaugeValue, float64(st.Due))
	ch <- prometheus.MustNewConstMetric(deliveriesAgeDesc, prometheus.GaugeValue, st.OldestDue.Seconds())
}
