package sqlite

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/toteorg/tote"
)

// Group commit. SQLite writes one transaction at a time, and with
// synchronous=FULL each commit waits for the disk, so a commit per command
// caps the store at the disk's flushes per second. Commands that arrive
// while a batch is being written wait, then run together: each in a
// SAVEPOINT of one transaction (a command that fails rolls back to its
// savepoint, leaving the others), then one COMMIT for all of them. A
// command's InTx returns only after that commit, so an acknowledged write is
// as durable as before; under load there are simply fewer flushes.

const maxGroup = 64

type writeReq struct {
	ctx  context.Context
	fn   func(*Tx) error
	done chan error
}

var errClosed = errors.New("sqlite: store is closed")

func (s *Store) startWriter() {
	s.writes = make(chan *writeReq, maxGroup)
	s.stop = make(chan struct{})
	s.writerDone = make(chan struct{})
	go s.writer()
}

func (s *Store) stopWriter() {
	s.stopOnce.Do(func() { close(s.stop) })
	<-s.writerDone
}

// InTx runs fn in a transaction on the writer connection, grouped with the
// commands that arrive meanwhile (see above). Nothing fn wrote is kept if
// it returns an error. fn must not call the store's write methods itself.
func (s *Store) InTx(ctx context.Context, fn func(tote.Tx) error) error {
	return s.inWriteTx(ctx, func(tx *Tx) error { return fn(tx) })
}

// inWriteTx is InTx for the store's own methods: every write of the store
// goes through the writer, so the writer connection is never waited for by
// anyone else, and each write shares its group's commit.
func (s *Store) inWriteTx(ctx context.Context, fn func(*Tx) error) error {
	req := &writeReq{ctx: ctx, fn: fn, done: make(chan error, 1)}
	select {
	case s.writes <- req:
	case <-s.stop:
		return errClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-req.done:
		return err
	case <-s.writerDone:
		// The writer stopped; it answers everything it took, but a request
		// queued after its last look at the queue is never taken.
		select {
		case err := <-req.done:
			return err
		default:
			return errClosed
		}
	}
}

// optimizeEvery is how often a long-running writer has SQLite refresh the
// planner's statistics (PRAGMA optimize, as SQLite advises for
// long-lived connections; it analyzes only tables that changed a lot).
const optimizeEvery = time.Hour

func (s *Store) optimize(ctx context.Context) {
	if _, err := s.write.ExecContext(ctx, `PRAGMA optimize`); err != nil {
		return // statistics are an optimization; the next hour tries again
	}
	dropSamples(ctx, s.write)
}

func (s *Store) writer() {
	defer close(s.writerDone)
	lastOptimize := time.Now()
	batch := make([]*writeReq, 0, maxGroup)
	for {
		select {
		case req := <-s.writes:
			batch = append(batch[:0], req)
		case <-s.stop:
			for {
				select {
				case req := <-s.writes:
					req.done <- errClosed
				default:
					return
				}
			}
		}
	gather:
		for len(batch) < maxGroup {
			select {
			case req := <-s.writes:
				batch = append(batch, req)
			default:
				break gather
			}
		}
		s.runGroup(batch)
		// Between groups the writer holds its connection, idle: the
		// statements seen for the first time are prepared now, and the
		// planner's statistics are brought up to date now and then.
		s.writeCache.prepare(context.Background())
		if time.Since(lastOptimize) > optimizeEvery {
			lastOptimize = time.Now()
			s.optimize(context.Background())
		}
	}
}

func (s *Store) runGroup(batch []*writeReq) {
	ctx := context.Background()
	sqlTx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		for _, req := range batch {
			req.done <- fmt.Errorf("sqlite: begin: %w", err)
		}
		return
	}
	defer sqlTx.Rollback()
	// detached: a command's caller going away must not interrupt the
	// connection, which would roll back the whole group (see txQuerier).
	q := txQuerier{tx: sqlTx, cache: s.writeCache, detached: true}
	results := make([]error, len(batch))
	jobs := false
	// broken is set when the group's transaction can no longer be trusted
	// (a savepoint could not be taken, rolled back to or released): then no
	// further command runs and none of the group commits.
	var broken error
	for i, req := range batch {
		if err := req.ctx.Err(); err != nil {
			results[i] = err
			continue
		}
		if _, err := q.ExecContext(ctx, "SAVEPOINT command"); err != nil {
			broken = interpretError(err, "savepoint")
			break
		}
		tx := &Tx{reader: reader{q: q}, tx: q}
		if err := call(req.fn, tx); err != nil {
			results[i] = err
			if _, rerr := q.ExecContext(ctx, "ROLLBACK TO command"); rerr != nil {
				broken = interpretError(rerr, "rollback to savepoint")
				break
			}
		} else {
			jobs = jobs || tx.insertedJobs
		}
		if _, err := q.ExecContext(ctx, "RELEASE command"); err != nil {
			broken = interpretError(err, "release savepoint")
			break
		}
	}
	var cerr error
	if broken != nil {
		cerr = fmt.Errorf("the group's transaction was rolled back: %w", broken)
	} else {
		cerr = sqlTx.Commit()
	}
	for i, req := range batch {
		if results[i] == nil && cerr != nil {
			results[i] = fmt.Errorf("sqlite: commit: %w", cerr)
		}
		req.done <- results[i]
	}
	if cerr == nil && jobs && s.AfterCommitJobs != nil {
		s.AfterCommitJobs()
	}
}

// call runs fn, turning a panic into an error so one command cannot take
// the writer (and every other command waiting on it) down.
func call(fn func(*Tx) error, tx *Tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("sqlite: command panicked: %v\n%s", p, debug.Stack())
		}
	}()
	return fn(tx)
}

// execWrite runs one statement through the writer and returns the rows it
// changed.
func (s *Store) execWrite(ctx context.Context, what, query string, args ...any) (int64, error) {
	var n int64
	err := s.inWriteTx(ctx, func(tx *Tx) error {
		res, err := tx.tx.ExecContext(ctx, query, args...)
		if err != nil {
			return interpretError(err, what)
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}
