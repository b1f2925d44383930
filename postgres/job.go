package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/toteorg/tote"
)

const jobColumns = `id, kind, args, state, attempt, max_attempts, run_at, created_at,
	attempted_at, attempted_by, lease_until, last_error, finalized_at`

// CompleteJobs marks waiting jobs completed.
func (tx *Tx) CompleteJobs(ctx context.Context, ids []int64, now time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := tx.tx.Exec(ctx, `UPDATE jobs SET state = 'completed', finalized_at = $1
		WHERE id = ANY($2) AND state = 'available'`, now, ids)
	return interpretError(err, "complete jobs")
}

// DueJobs makes waiting jobs due at at.
func (tx *Tx) DueJobs(ctx context.Context, ids []int64, at time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	if _, err := tx.tx.Exec(ctx, `UPDATE jobs SET run_at = $1 WHERE id = ANY($2) AND state = 'available'`, at, ids); err != nil {
		return interpretError(err, "make jobs due")
	}
	tx.insertedJobs = true // wake the local runner after the commit
	return nil
}

// InsertJobs adds jobs in the transaction; they are claimable once it commits.
func (tx *Tx) InsertJobs(ctx context.Context, jobs []tote.JobParams) ([]int64, error) {
	ids := make([]int64, 0, len(jobs))
	for _, j := range jobs {
		j, err := j.Prepared()
		if err != nil {
			return nil, err
		}
		var id int64
		err = tx.tx.QueryRow(ctx, `
			INSERT INTO jobs (kind, args, state, max_attempts, run_at, created_at)
			VALUES ($1, $2, 'available', $3, $4, $5) RETURNING id`,
			j.Kind, []byte(j.Args), j.MaxAttempts, j.RunAt, j.CreatedAt).Scan(&id)
		if err != nil {
			return nil, interpretError(err, "insert job")
		}
		ids = append(ids, id)
	}
	tx.insertedJobs = true
	return ids, nil
}

// ClaimJobs marks due jobs running. FOR UPDATE SKIP LOCKED lets many
// workers, in many processes, claim at once without waiting on each other
// or taking the same row.
func (s *Store) ClaimJobs(ctx context.Context, p tote.ClaimJobsParams) ([]*tote.Job, error) {
	kinds := p.Kinds
	if kinds == nil {
		kinds = []string{}
	}
	rows, err := s.pool.Query(ctx, `
		WITH due AS (
			SELECT id FROM jobs
			WHERE state = 'available' AND run_at <= $1
				AND (cardinality($2::text[]) = 0 OR kind = ANY($2))
			ORDER BY run_at, id
			LIMIT $3
			FOR UPDATE SKIP LOCKED)
		UPDATE jobs SET state = 'running', attempt = jobs.attempt + 1, attempted_at = $1,
			attempted_by = $4, lease_until = $5
		FROM due WHERE jobs.id = due.id
		RETURNING jobs.id, jobs.kind, jobs.args, jobs.state, jobs.attempt, jobs.max_attempts,
			jobs.run_at, jobs.created_at, jobs.attempted_at, jobs.attempted_by, jobs.lease_until,
			jobs.last_error, jobs.finalized_at`,
		p.Now, kinds, p.Limit, p.Worker, p.Now.Add(p.Lease))
	if err != nil {
		return nil, interpretError(err, "claim jobs")
	}
	return scanJobs(rows)
}

// RecordJobOutcomes ends attempts in one transaction, each fenced by its
// attempt number; the updates go to the server as one batch.
func (s *Store) RecordJobOutcomes(ctx context.Context, outcomes []tote.JobOutcome) ([]bool, error) {
	batch := &pgx.Batch{}
	for _, o := range outcomes {
		if o.State == tote.JobStateAvailable {
			batch.Queue(`
				UPDATE jobs SET state = 'available', run_at = $1, last_error = $2, lease_until = NULL
				WHERE id = $3 AND attempt = $4 AND state = 'running'`,
				o.RetryAt, o.Error, o.ID, o.Attempt)
		} else {
			batch.Queue(`
				UPDATE jobs SET state = $1, last_error = $2, lease_until = NULL, finalized_at = $3
				WHERE id = $4 AND attempt = $5 AND state = 'running'`,
				o.State, o.Error, o.Now, o.ID, o.Attempt)
		}
	}
	recorded := make([]bool, len(outcomes))
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		br := tx.SendBatch(ctx, batch)
		defer br.Close()
		for i := range outcomes {
			tag, err := br.Exec()
			if err != nil {
				return err
			}
			recorded[i] = tag.RowsAffected() == 1
		}
		return br.Close()
	})
	if err != nil {
		return nil, interpretError(err, "record job outcomes")
	}
	return recorded, nil
}

// ExtendJobLeases is a running worker's heartbeat.
func (s *Store) ExtendJobLeases(ctx context.Context, leases []tote.JobLease, until time.Time) (int64, error) {
	ids := make([]int64, len(leases))
	attempts := make([]int64, len(leases))
	for i, l := range leases {
		ids[i], attempts[i] = l.ID, int64(l.Attempt)
	}
	tag, err := s.pool.Exec(ctx, `
		UPDATE jobs SET lease_until = $1
		FROM unnest($2::bigint[], $3::bigint[]) AS l(id, attempt)
		WHERE jobs.id = l.id AND jobs.attempt = l.attempt AND jobs.state = 'running'`,
		until, ids, attempts)
	if err != nil {
		return 0, interpretError(err, "extend job leases")
	}
	return tag.RowsAffected(), nil
}

// RescueJobs takes back jobs whose worker's lease ran out.
func (s *Store) RescueJobs(ctx context.Context, now time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, `
		UPDATE jobs SET
			state = CASE WHEN attempt >= max_attempts THEN 'discarded' ELSE 'available' END,
			finalized_at = CASE WHEN attempt >= max_attempts THEN $1::timestamptz ELSE NULL END,
			run_at = $1, lease_until = NULL,
			last_error = 'rescued: lease expired (worker lost)'
		WHERE state = 'running' AND lease_until < $1`, now)
	if err != nil {
		return 0, interpretError(err, "rescue jobs")
	}
	return tag.RowsAffected(), nil
}

// PruneJobs deletes finished jobs.
func (s *Store) PruneJobs(ctx context.Context, before time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx,
		`DELETE FROM jobs WHERE finalized_at IS NOT NULL AND finalized_at < $1`, before)
	if err != nil {
		return 0, interpretError(err, "prune jobs")
	}
	return tag.RowsAffected(), nil
}

// JobStats counts jobs by state and ages the oldest due one.
func (s *Store) JobStats(ctx context.Context, now time.Time) (tote.JobStats, error) {
	st := tote.JobStats{Count: map[tote.JobState]int64{}}
	rows, err := s.pool.Query(ctx, `SELECT state, count(*) FROM jobs GROUP BY state`)
	if err != nil {
		return st, interpretError(err, "job stats")
	}
	defer rows.Close()
	for rows.Next() {
		var state tote.JobState
		var n int64
		if err := rows.Scan(&state, &n); err != nil {
			return st, interpretError(err, "job stats")
		}
		st.Count[state] = n
	}
	if err := rows.Err(); err != nil {
		return st, interpretError(err, "job stats")
	}
	var oldest *time.Time
	err = s.pool.QueryRow(ctx,
		`SELECT min(run_at) FROM jobs WHERE state = 'available' AND run_at <= $1`, now).Scan(&oldest)
	if err != nil {
		return st, interpretError(err, "job stats")
	}
	if oldest != nil {
		st.OldestDue = now.Sub(*oldest)
	}
	return st, nil
}

func (r reader) FindJobByID(ctx context.Context, id int64) (*tote.Job, error) {
	rows, err := r.q.Query(ctx, `SELECT `+jobColumns+` FROM jobs WHERE id = $1`, id)
	if err != nil {
		return nil, interpretError(err, "find job")
	}
	jobs, err := scanJobs(rows)
	if err != nil {
		return nil, err
	} else if len(jobs) == 0 {
		return nil, interpretError(pgx.ErrNoRows, fmt.Sprintf("find job %d", id))
	}
	return jobs[0], nil
}

func scanJobs(rows pgx.Rows) ([]*tote.Job, error) {
	defer rows.Close()
	var jobs []*tote.Job
	for rows.Next() {
		var j tote.Job
		var args []byte
		if err := rows.Scan(&j.ID, &j.Kind, &args, &j.State, &j.Attempt, &j.MaxAttempts, &j.RunAt,
			&j.CreatedAt, &j.AttemptedAt, &j.AttemptedBy, &j.LeaseUntil, &j.LastError,
			&j.FinalizedAt); err != nil {
			return nil, interpretError(err, "scan job")
		}
		j.Args = args
		j.RunAt, j.CreatedAt = j.RunAt.UTC(), j.CreatedAt.UTC()
		j.AttemptedAt, j.LeaseUntil, j.FinalizedAt = utc(j.AttemptedAt), utc(j.LeaseUntil), utc(j.FinalizedAt)
		jobs = append(jobs, &j)
	}
	return jobs, interpretError(rows.Err(), "scan jobs")
}
