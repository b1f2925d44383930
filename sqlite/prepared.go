package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// The statements on the hot path of webhook delivery are prepared once, when
// the store opens, instead of parsed on every call: in the pure-Go driver,
// parsing a statement costs more than running it (about a third of the CPU
// of a delivery before this). A transaction uses the writer's prepared
// statement through Tx.StmtContext, which reuses it on the one writer
// connection.

// stmts holds prepared statements by their SQL.
type stmts map[string]*sql.Stmt

func prepareAll(ctx context.Context, db *sql.DB, queries []string) (stmts, error) {
	out := stmts{}
	for _, q := range queries {
		st, err := db.PrepareContext(ctx, q)
		if err != nil {
			out.close()
			return nil, fmt.Errorf("sqlite: prepare %s: %w", strings.Join(strings.Fields(q), " ")[:min(len(q), 60)], err)
		}
		out[q] = st
	}
	return out, nil
}

func (p stmts) close() error {
	var errs []error
	for _, st := range p {
		errs = append(errs, st.Close())
	}
	return errors.Join(errs...)
}

// stmt returns query's prepared statement bound to the transaction, or nil
// if it is not one of the prepared ones.
func (tx *Tx) stmt(ctx context.Context, query string) *sql.Stmt {
	if st := tx.stmts[query]; st != nil {
		return tx.tx.StmtContext(ctx, st)
	}
	return nil
}

func (tx *Tx) execPrepared(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := tx.stmt(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return tx.tx.ExecContext(ctx, query, args...)
}

func (tx *Tx) queryRowPrepared(ctx context.Context, query string, args ...any) *sql.Row {
	if st := tx.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return tx.tx.QueryRowContext(ctx, query, args...)
}

func (tx *Tx) queryPrepared(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := tx.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return tx.tx.QueryContext(ctx, query, args...)
}
