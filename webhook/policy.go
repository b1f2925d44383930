package webhook

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/toteorg/tote"
)

// DefaultSchedule is the wait before each retry: ten attempts over about
// 24 hours.
var DefaultSchedule = []time.Duration{10 * time.Second, time.Minute, 5 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 4 * time.Hour, 8 * time.Hour, 8 * time.Hour}

// DefaultPause pauses an endpoint with more than 50 failures in 30 minutes
// for 1 h, then 3 h, then 24 h, then disables its subscription.
var DefaultPause = tote.PausePolicy{Failures: 50, Window: 30 * time.Minute,
	Pauses: []time.Duration{time.Hour, 3 * time.Hour, 24 * time.Hour}}

// ParseSchedule reads a retry schedule: comma-separated durations, e.g.
// "10s,1m,5m,30m,1h,2h,4h,8h,8h" (each a wait before the next attempt).
func ParseSchedule(s string) ([]time.Duration, error) {
	var out []time.Duration
	for _, part := range strings.Split(s, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(part))
		if err != nil || d < 0 {
			return nil, fmt.Errorf("retry schedule %q: %q is not a duration such as 30s", s, part)
		}
		out = append(out, d)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("retry schedule %q is empty", s)
	}
	return out, nil
}

// Policy decides what an attempt's result means for its delivery.
type Policy struct {
	// Schedule is the wait before each retry (nil: DefaultSchedule); a
	// delivery gets len(Schedule)+1 attempts.
	Schedule []time.Duration
	// Jitter spreads each wait by up to ± this fraction (default 0.1), so
	// deliveries that failed together do not retry together.
	Jitter float64
	// Pause is the endpoint health rule (zero Failures: DefaultPause).
	Pause tote.PausePolicy
}

func (p Policy) withDefaults() Policy {
	if p.Schedule == nil {
		p.Schedule = DefaultSchedule
	}
	if p.Jitter == 0 {
		p.Jitter = 0.1
	}
	if p.Pause.Failures == 0 {
		p.Pause = DefaultPause
	}
	return p
}

// Attempts is how many attempts a delivery gets.
func (p Policy) Attempts() int { return len(p.withDefaults().Schedule) + 1 }

func jitter(d time.Duration, fraction float64) time.Duration {
	if d <= 0 || fraction <= 0 {
		return d
	}
	spread := float64(d) * fraction
	return d + time.Duration((rand.Float64()*2-1)*spread)
}

// maxErrorLength bounds the error text kept with an attempt.
const maxErrorLength = 500

// Outcome turns the result of attempt number d.Attempts+1 into the
// delivery's next state:
//   - a 2xx: SUCCEEDED;
//   - 410 Gone: FAILED, and the subscription is disabled;
//   - another 4xx but 408 and 429: FAILED at once (the request is wrong; a
//     retry would not help);
//   - anything else (408, 429, 5xx, 3xx, no answer): retried after the
//     schedule's wait, or the endpoint's Retry-After on a 429 or 503, until
//     the attempts run out (FAILED).
//
// Every failed attempt counts towards pausing the endpoint.
func (p Policy) Outcome(d *tote.Delivery, r Result, now time.Time) tote.DeliveryOutcome {
	p = p.withDefaults()
	o := tote.DeliveryOutcome{DeliveryID: d.ID, Attempts: d.Attempts, Now: now, Sent: true,
		StatusCode: r.StatusCode, Duration: r.Duration}
	if r.Err != nil && !r.OK() {
		o.Error = r.Err.Error()
		if len(o.Error) > maxErrorLength {
			o.Error = strings.ToValidUTF8(o.Error[:maxErrorLength], "")
		}
	}
	attempt := d.Attempts + 1
	code := r.StatusCode
	switch {
	case r.OK():
		o.Status, o.Succeeded = tote.DeliveryStatusSucceeded, true
		return o
	case code == 410:
		o.Status, o.DisableWebhook = tote.DeliveryStatusFailed, true
	case code >= 400 && code < 500 && code != 408 && code != 429:
		o.Status = tote.DeliveryStatusFailed
	case attempt > len(p.Schedule):
		o.Status = tote.DeliveryStatusFailed
	default:
		// Retry-After is honoured as "not sooner than": a shorter one does
		// not use up the schedule's attempts faster.
		wait := max(jitter(p.Schedule[attempt-1], p.Jitter), r.RetryAfter)
		o.Status, o.NextAttempt = tote.DeliveryStatusInProgress, now.Add(wait)
	}
	pause := p.Pause
	o.Pause = &pause
	return o
}
