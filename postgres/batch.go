package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/toteorg/tote"
)

// An order is read with five statements (order, bags, lines, errors,
// transactions). Sent one after the other they cost five round trips to
// the server, seven in a snapshot transaction; the order paths read orders
// often (every command locks and reads its order), so they are sent as one
// pgx batch instead: one round trip. The statements and the code that scans
// their rows are the same as for the reads one at a time: batchQuerier
// hands each query, in turn, the result of the statement queued for it.

type batchSender interface {
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// batchQuerier answers queries from batch results, in the order they were
// queued. A query that is not the next one queued is a bug, reported as an
// error rather than answered with another statement's rows.
type batchQuerier struct {
	br     pgx.BatchResults
	queued []string
	next   *int
}

func (b batchQuerier) take(sql string) error {
	i := *b.next
	if i >= len(b.queued) || b.queued[i] != sql {
		return fmt.Errorf("postgres: batched read out of step at statement %d", i)
	}
	*b.next = i + 1
	return nil
}

func (b batchQuerier) Exec(_ context.Context, sql string, _ ...any) (pgconn.CommandTag, error) {
	if err := b.take(sql); err != nil {
		return pgconn.CommandTag{}, err
	}
	return b.br.Exec()
}

func (b batchQuerier) Query(_ context.Context, sql string, _ ...any) (pgx.Rows, error) {
	if err := b.take(sql); err != nil {
		return nil, err
	}
	return b.br.Query()
}

func (b batchQuerier) QueryRow(_ context.Context, sql string, _ ...any) pgx.Row {
	if err := b.take(sql); err != nil {
		return errRow{err}
	}
	return b.br.QueryRow()
}

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

// orderReadSQL is what reading order id runs: the order (locked FOR
// UPDATE when lock is set), then what loadOrder reads.
func orderReadSQL(lock bool) []string {
	head := `SELECT ` + orderColumns + ` FROM orders WHERE id = $1`
	if lock {
		head += ` FOR UPDATE`
	}
	return []string{head, bagsSQL(`WHERE order_id = $1 ORDER BY id`), skusSQL(`WHERE order_id = $1`),
		orderErrorsSQL, transactionsSQL(`WHERE order_id = $1`)}
}

// readOrder reads order id and everything in it in one round trip. In
// snapshot mode the batch is wrapped in a REPEATABLE READ, read-only
// transaction, so the five statements see one snapshot; in a write
// transaction (lock) the order's row lock, taken first, keeps other
// writers of the order out while the rest is read.
func readOrder(ctx context.Context, q batchSender, id int64, lock, snapshot bool) (o *tote.Order, err error) {
	statements := orderReadSQL(lock)
	batch := &pgx.Batch{}
	if snapshot {
		batch.Queue(`BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY`)
	}
	for _, sql := range statements {
		batch.Queue(sql, id)
	}
	if snapshot {
		batch.Queue(`COMMIT`)
	}
	br := q.SendBatch(ctx, batch)
	defer func() {
		// Close reads what is left; an unfinished snapshot transaction
		// leaves its connection out of the pool (pgxpool drops it).
		if cerr := br.Close(); err == nil && cerr != nil {
			o, err = nil, interpretError(cerr, fmt.Sprintf("read order %d", id))
		}
	}()
	if snapshot {
		if _, err := br.Exec(); err != nil {
			return nil, interpretError(err, "begin snapshot")
		}
	}
	r := reader{q: batchQuerier{br: br, queued: statements, next: new(int)}}
	o, err = scanOrder(r.q.QueryRow(ctx, statements[0], id))
	if err != nil {
		return nil, interpretError(err, fmt.Sprintf("find order %d", id))
	}
	if err := r.loadOrder(ctx, o); err != nil {
		return nil, err
	}
	if snapshot {
		if _, err := br.Exec(); err != nil {
			return nil, interpretError(err, "end snapshot")
		}
	}
	return o, nil
}
