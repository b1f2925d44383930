package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/toteorg/tote"
)

const jobColumns = `id, kind, args, state, attempt, max_attempts, run_at, created_at,
	attempted_at, attempted_by, lease_until, last_error, finalized_at`

// The statements run once per job.
const (
	sqlInsertJob = `
		INSERT INTO jobs (kind, args, state, max_attempts, run_at, created_at)
		VALUES (?, ?, 'available', ?, ?, ?) RETURNING id`
	sqlJobRetry = `
		UPDATE jobs SET state = 'available', run_at = ?, last_error = ?, lease_until = NULL
		WHERE id = ? AND attempt = ? AND state = 'running'`
	sqlJobEnd = `
		UPDATE jobs SET state = ?, last_error = ?, lease_until = NULL, finalized_at = ?
		WHERE id = ? AND attempt = ? AND state = 'running'`
)

// InsertJobs adds jobs in the transaction; they are claimable once it commits.
func (tx *Tx) InsertJobs(ctx context.Context, jobs []tote.JobParams) ([]int64, error) {
	ids := make([]int64, 0, len(jobs))
	for _, j := range jobs {
		j, err := j.Prepared()
		if err != nil {
			return nil, err
		}
		var id int64
		err = tx.tx.QueryRowContext(ctx, sqlInsertJob,
			j.Kind, []byte(j.Args), j.MaxAttempts, micros(j.RunAt), micros(j.CreatedAt)).Scan(&id)
		if err != nil {
			return nil, interpretError(err, "insert job")
		}
		ids = append(ids, id)
	}
	tx.insertedJobs = true
	return ids, nil
}

// CompleteJobs marks waiting jobs completed.
func (tx *Tx) CompleteJobs(ctx context.Context, ids []int64, now time.Time) error {
	for _, id := range ids {
		if _, err := tx.tx.ExecContext(ctx, `UPDATE jobs SET state = 'completed', finalized_at = ?
			WHERE id = ? AND state = 'available'`, micros(now), id); err != nil {
			return interpretError(err, fmt.Sprintf("complete job %d", id))
		}
	}
	return nil
}

// DueJobs makes waiting jobs due at at.
func (tx *Tx) DueJobs(ctx context.Context, ids []int64, at time.Time) error {
	for _, id := range ids {
		if _, err := tx.tx.ExecContext(ctx, `UPDATE jobs SET run_at = ? WHERE id = ? AND state = 'available'`,
			micros(at), id); err != nil {
			return interpretError(err, fmt.Sprintf("make job %d due", id))
		}
	}
	if len(ids) > 0 {
		tx.insertedJobs = true // wake the local runner after the commit
	}
	return nil
}

// ClaimJobs marks due jobs running. SQLite has a single writer, so a plain
// UPDATE … WHERE id IN (SELECT … LIMIT) cannot hand one job to two claimers.
// The limit is written "? + 0": SQLite plans a bare "LIMIT ?" with the
// bound value, so a prepared claim would be planned (and parsed) again
// whenever the number of free workers changes, nearly every call.
func (s *Store) ClaimJobs(ctx context.Context, p tote.ClaimJobsParams) ([]*tote.Job, error) {
	now := micros(p.Now)
	args := []any{now, p.Worker, micros(p.Now.Add(p.Lease)), now}
	kinds := ""
	if len(p.Kinds) > 0 {
		kinds = ` AND kind IN (?` + strings.Repeat(`, ?`, len(p.Kinds)-1) + `)`
		for _, k := range p.Kinds {
			args = append(args, k)
		}
	}
	args = append(args, p.Limit)
	var jobs []*tote.Job
	err := s.inWriteTx(ctx, func(tx *Tx) error {
		rows, err := tx.tx.QueryContext(ctx, `
			UPDATE jobs SET state = 'running', attempt = attempt + 1, attempted_at = ?, attempted_by = ?,
				lease_until = ?
			WHERE id IN (
				SELECT id FROM jobs WHERE state = 'available' AND run_at <= ?`+kinds+`
				ORDER BY run_at, id LIMIT ? + 0)
			RETURNING `+jobColumns, args...)
		if err != nil {
			return interpretError(err, "claim jobs")
		}
		jobs, err = scanJobs(rows)
		return err
	})
	return jobs, err
}

// RecordJobOutcomes ends attempts in one transaction, each fenced by its
// attempt number.
func (s *Store) RecordJobOutcomes(ctx context.Context, outcomes []tote.JobOutcome) ([]bool, error) {
	recorded := make([]bool, len(outcomes))
	err := s.inWriteTx(ctx, func(tx *Tx) error {
		for i, o := range outcomes {
			var res sql.Result
			var err error
			if o.State == tote.JobStateAvailable {
				res, err = tx.tx.ExecContext(ctx, sqlJobRetry, micros(o.RetryAt), o.Error, o.ID, o.Attempt)
			} else {
				res, err = tx.tx.ExecContext(ctx, sqlJobEnd, o.State, o.Error, micros(o.Now), o.ID, o.Attempt)
			}
			if err != nil {
				return interpretError(err, fmt.Sprintf("record outcome of job %d", o.ID))
			}
			n, _ := res.RowsAffected()
			recorded[i] = n == 1
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return recorded, nil
}

// ExtendJobLeases is a running worker's heartbeat.
func (s *Store) ExtendJobLeases(ctx context.Context, leases []tote.JobLease, until time.Time) (int64, error) {
	var n int64
	err := s.inWriteTx(ctx, func(tx *Tx) error {
		n = 0
		for _, l := range leases {
			res, err := tx.tx.ExecContext(ctx, `UPDATE jobs SET lease_until = ?
				WHERE id = ? AND attempt = ? AND state = 'running'`, micros(until), l.ID, l.Attempt)
			if err != nil {
				return interpretError(err, "extend job lease")
			}
			m, _ := res.RowsAffected()
			n += m
		}
		return nil
	})
	return n, err
}

// RescueJobs takes back jobs whose worker's lease ran out.
func (s *Store) RescueJobs(ctx context.Context, now time.Time) (int64, error) {
	return s.execWrite(ctx, "rescue jobs", `
		UPDATE jobs SET
			state = CASE WHEN attempt >= max_attempts THEN 'discarded' ELSE 'available' END,
			finalized_at = CASE WHEN attempt >= max_attempts THEN ? ELSE NULL END,
			run_at = ?, lease_until = NULL,
			last_error = 'rescued: lease expired (worker lost)'
		WHERE state = 'running' AND lease_until < ?`, micros(now), micros(now), micros(now))
}

// PruneJobs deletes finished jobs.
func (s *Store) PruneJobs(ctx context.Context, before time.Time) (int64, error) {
	return s.execWrite(ctx, "prune jobs",
		`DELETE FROM jobs WHERE finalized_at IS NOT NULL AND finalized_at < ?`, micros(before))
}

// JobStats counts jobs by state and ages the oldest due one.
func (s *Store) JobStats(ctx context.Context, now time.Time) (tote.JobStats, error) {
	st := tote.JobStats{Count: map[tote.JobState]int64{}}
	rows, err := s.q.QueryContext(ctx, `SELECT state, count(*) FROM jobs GROUP BY state`)
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
	var oldest sql.NullInt64
	err = s.q.QueryRowContext(ctx,
		`SELECT min(run_at) FROM jobs WHERE state = 'available' AND run_at <= ?`, micros(now)).Scan(&oldest)
	if err != nil {
		return st, interpretError(err, "job stats")
	}
	if oldest.Valid {
		st.OldestDue = now.Sub(fromMicros(oldest.Int64))
	}
	return st, nil
}

func (r reader) FindJobByID(ctx context.Context, id int64) (*tote.Job, error) {
	rows, err := r.q.QueryContext(ctx, `SELECT `+jobColumns+` FROM jobs WHERE id = ?`, id)
	if err != nil {
		return nil, interpretError(err, "find job")
	}
	jobs, err := scanJobs(rows)
	if err != nil {
		return nil, err
	} else if len(jobs) == 0 {
		return nil, interpretError(sql.ErrNoRows, fmt.Sprintf("find job %d", id))
	}
	return jobs[0], nil
}

func scanJobs(rows *sql.Rows) ([]*tote.Job, error) {
	defer rows.Close()
	var jobs []*tote.Job
	for rows.Next() {
		var j tote.Job
		var args []byte
		var runAt, created int64
		var attemptedAt, lease, finalized sql.NullInt64
		if err := rows.Scan(&j.ID, &j.Kind, &args, &j.State, &j.Attempt, &j.MaxAttempts, &runAt,
			&created, &attemptedAt, &j.AttemptedBy, &lease, &j.LastError, &finalized); err != nil {
			return nil, interpretError(err, "scan job")
		}
		j.Args, j.RunAt, j.CreatedAt = args, fromMicros(runAt), fromMicros(created)
		j.AttemptedAt, j.LeaseUntil, j.FinalizedAt = fromNullMicros(attemptedAt), fromNullMicros(lease), fromNullMicros(finalized)
		jobs = append(jobs, &j)
	}
	return jobs, interpretError(rows.Err(), "scan jobs")
}
