package tote

import (
	"encoding/json"
	"time"
)

// JobState is where a durable job is in its life.
type JobState string

const (
	// JobStateAvailable: waiting to run at RunAt. Entered on insert, and
	// again after a failed attempt that will be retried or a rescue.
	JobStateAvailable JobState = "available"
	// JobStateRunning: claimed by a worker until LeaseUntil. Left when the
	// worker records the outcome, or when the lease runs out and the rescuer
	// takes it back.
	JobStateRunning JobState = "running"
	// JobStateCompleted: ran successfully. Terminal.
	JobStateCompleted JobState = "completed"
	// JobStateDiscarded: failed permanently, or ran out of attempts. Terminal.
	JobStateDiscarded JobState = "discarded"
)

// JobStates returns every job state.
func JobStates() []JobState {
	return []JobState{JobStateAvailable, JobStateRunning, JobStateCompleted, JobStateDiscarded}
}

// Job is a unit of work that must survive a crash: a bag submission attempt,
// a webhook delivery, a reconciliation sweep. It is written in the same
// transaction as the state change that called for it.
type Job struct {
	ID          int64
	Kind        string
	Args        json.RawMessage
	State       JobState
	Attempt     int // attempts started so far, including the current one
	MaxAttempts int
	RunAt       time.Time
	CreatedAt   time.Time
	// AttemptedBy names the worker holding the job while it is running.
	AttemptedBy string
	AttemptedAt *time.Time
	// LeaseUntil is when a running job is presumed abandoned by its worker.
	LeaseUntil  *time.Time
	LastError   string
	FinalizedAt *time.Time
}

// JobParams describes a job to insert.
type JobParams struct {
	Kind string
	// Args is the job's JSON input; nil means {}.
	Args json.RawMessage
	// RunAt is when the job becomes due; required.
	RunAt time.Time
	// CreatedAt is when the job was asked for; zero means RunAt.
	CreatedAt   time.Time
	MaxAttempts int // zero: DefaultJobMaxAttempts
}

// DefaultJobMaxAttempts is used when JobParams.MaxAttempts is zero.
const DefaultJobMaxAttempts = 5

// Prepared returns p with its defaults filled in, or EINVALID when p cannot
// be a job. Both stores insert only prepared jobs, so they agree on what a
// job is.
func (p JobParams) Prepared() (JobParams, error) {
	switch {
	case p.Kind == "":
		return p, Errorf(EINVALID, "job: no kind")
	case p.RunAt.IsZero():
		return p, Errorf(EINVALID, "job %s: no run_at", p.Kind)
	case p.MaxAttempts < 0:
		return p, Errorf(EINVALID, "job %s: negative max_attempts", p.Kind)
	}
	if len(p.Args) == 0 {
		p.Args = json.RawMessage(`{}`)
	} else if !json.Valid(p.Args) {
		return p, Errorf(EINVALID, "job %s: args are not JSON", p.Kind)
	}
	if p.MaxAttempts == 0 {
		p.MaxAttempts = DefaultJobMaxAttempts
	}
	if p.CreatedAt.IsZero() {
		p.CreatedAt = p.RunAt
	}
	return p, nil
}

// JobLease names one attempt of a running job, for extending its lease.
type JobLease struct {
	ID      int64
	Attempt int
}

// ClaimJobsParams says who claims how many due jobs, and for how long.
type ClaimJobsParams struct {
	Worker string
	Kinds  []string // the kinds this worker can run; empty means all
	Limit  int
	Now    time.Time
	Lease  time.Duration // how long the claim holds before a rescue may take it back
}

// JobOutcome records the end of one attempt. Attempt fences the write: an
// outcome for an attempt that is no longer the job's current one (because
// the job was rescued and claimed again) changes nothing.
type JobOutcome struct {
	ID      int64
	Attempt int
	Now     time.Time
	// State is JobStateCompleted, JobStateDiscarded, or JobStateAvailable
	// (retry at RetryAt).
	State   JobState
	RetryAt time.Time
	Error   string
}

// JobStats describes the queue for metrics.
type JobStats struct {
	// Count of jobs by state (completed and discarded jobs until pruned).
	Count map[JobState]int64
	// OldestDue is the age of the oldest available job whose RunAt has passed,
	// zero if none is waiting.
	OldestDue time.Duration
}
