package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"sync"
)

// Statement cache. In the pure-Go driver, parsing a statement costs about
// as much as running it (a quarter of the CPU of placing an order, and a
// third of a webhook delivery's, before this). So every statement the store
// runs is prepared once per connection and reused: the first time a query
// is seen it runs unprepared and is noted; it is then prepared on its pool
// at a moment that cannot wait on a connection held by the caller (the
// writer prepares between two groups, on its own connection; the readers'
// statements are prepared by a goroutine holding none), and from then on
// every call reuses it. database/sql prepares a statement again on each
// further connection of the pool the first time it runs there, and keeps it.
//
// The cache is bounded, so the rare queries built from many filter
// combinations cannot grow it without end: past the bound they run
// unprepared, as before.

const maxCachedStatements = 512

type stmtCache struct {
	db *sql.DB

	mu      sync.RWMutex
	stmts   map[string]*sql.Stmt // nil value: it would not prepare; run it as is
	pending map[string]struct{}
	closed  bool
	noted   chan struct{} // signalled when a query is noted (capacity 1)
}

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, stmts: map[string]*sql.Stmt{}, pending: map[string]struct{}{}, noted: make(chan struct{}, 1)}
}

// lookup returns query's prepared statement, or nil (after noting the query
// to be prepared) if there is none yet.
func (c *stmtCache) lookup(query string) *sql.Stmt {
	c.mu.RLock()
	st, known := c.stmts[query]
	_, waiting := c.pending[query]
	n := len(c.stmts) + len(c.pending)
	c.mu.RUnlock()
	if known || waiting || n >= maxCachedStatements {
		return st
	}
	c.mu.Lock()
	if !c.closed && len(c.stmts)+len(c.pending) < maxCachedStatements {
		c.pending[query] = struct{}{}
	}
	c.mu.Unlock()
	select {
	case c.noted <- struct{}{}:
	default:
	}
	return nil
}

// prepare prepares the noted queries. The caller must not hold a connection
// of the cache's pool.
func (c *stmtCache) prepare(ctx context.Context) {
	c.mu.Lock()
	if len(c.pending) == 0 || c.closed {
		c.mu.Unlock()
		return
	}
	queries := make([]string, 0, len(c.pending))
	for q := range c.pending {
		queries = append(queries, q)
	}
	c.mu.Unlock()
	for _, q := range queries {
		st, err := c.db.PrepareContext(ctx, q)
		if err != nil {
			st = nil // it will fail again when run, with the caller's context
		}
		c.mu.Lock()
		delete(c.pending, q)
		if c.closed {
			if st != nil {
				st.Close()
			}
		} else {
			c.stmts[q] = st
		}
		c.mu.Unlock()
	}
}

// prepareInBackground prepares noted queries as they come, until stop is
// closed.
func (c *stmtCache) prepareInBackground(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	for {
		select {
		case <-stop:
			return
		case <-c.noted:
			c.prepare(ctx) // a prepare waiting for a connection ends at stop
		}
	}
}

func (c *stmtCache) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	var errs []error
	for _, st := range c.stmts {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	c.stmts = map[string]*sql.Stmt{}
	return errors.Join(errs...)
}

// poolQuerier runs statements on a pool, prepared when they can be.
type poolQuerier struct {
	db    *sql.DB
	cache *stmtCache
}

func (q poolQuerier) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := q.cache.lookup(query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return q.db.ExecContext(ctx, query, args...)
}

func (q poolQuerier) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := q.cache.lookup(query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return q.db.QueryContext(ctx, query, args...)
}

func (q poolQuerier) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := q.cache.lookup(query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return q.db.QueryRowContext(ctx, query, args...)
}

// txQuerier runs statements in a transaction, prepared when they can be
// (Tx.StmtContext reuses the statement already prepared on the
// transaction's connection).
//
// detached is set for the writer's group transaction, which several
// commands share: there a statement is not interrupted when its caller's
// context ends (the driver would interrupt the connection, and SQLite roll
// back the whole group, other commands' writes included). A command whose
// context has ended when a statement starts gets the context's error
// instead, and is rolled back to its savepoint alone.
type txQuerier struct {
	tx       *sql.Tx
	cache    *stmtCache
	detached bool
}

func (q txQuerier) context(ctx context.Context) (context.Context, error) {
	if !q.detached {
		return ctx, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return context.WithoutCancel(ctx), nil
}

func (q txQuerier) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	ctx, err := q.context(ctx)
	if err != nil {
		return nil, err
	}
	if st := q.cache.lookup(query); st != nil {
		return q.tx.StmtContext(ctx, st).ExecContext(ctx, args...)
	}
	return q.tx.ExecContext(ctx, query, args...)
}

func (q txQuerier) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	ctx, err := q.context(ctx)
	if err != nil {
		return nil, err
	}
	if st := q.cache.lookup(query); st != nil {
		return q.tx.StmtContext(ctx, st).QueryContext(ctx, args...)
	}
	return q.tx.QueryContext(ctx, query, args...)
}

// QueryRowContext cannot return an error of its own: a detached one whose
// context has ended runs the statement uncancellable, and the command's
// next statement (or its caller) sees the context's error.
func (q txQuerier) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if q.detached {
		ctx = context.WithoutCancel(ctx)
	}
	if st := q.cache.lookup(query); st != nil {
		return q.tx.StmtContext(ctx, st).QueryRowContext(ctx, args...)
	}
	return q.tx.QueryRowContext(ctx, query, args...)
}
