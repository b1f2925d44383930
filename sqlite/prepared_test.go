package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
)

func TestStatementCache(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, Config{Path: filepath.Join(t.TempDir(), "t.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := newStmtCache(s.read)
	defer c.close()
	q := poolQuerier{db: s.read, cache: c}
	const query = `SELECT count(*) FROM apps WHERE id > ?`

	count := func() int {
		t.Helper()
		var n int
		if err := q.QueryRowContext(ctx, query, 0).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(); n != 0 {
		t.Fatalf("count = %d", n)
	}
	if c.lookup(query) != nil {
		t.Fatal("prepared before prepare ran")
	}
	c.prepare(ctx)
	if c.lookup(query) == nil {
		t.Fatal("a query run once is not prepared after prepare")
	}
	if _, err := s.execWrite(ctx, "insert app", `INSERT INTO apps (name, secret_hash, commission_rate, webhook_key, date_created) VALUES ('a', x'00', 0, x'00', 0)`); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 1 {
		t.Fatalf("the prepared query sees %d apps, want 1", n)
	}

	// A query that does not prepare is remembered as such and still
	// reports its error when run.
	bad := `SELECT nope FROM apps`
	if _, err := q.QueryContext(ctx, bad); err == nil {
		t.Fatal("bad query ran")
	}
	c.prepare(ctx)
	if _, err := q.QueryContext(ctx, bad); err == nil {
		t.Fatal("bad query ran once noted")
	}

	// Past the bound, queries run unprepared and are not kept.
	for i := range maxCachedStatements + 10 {
		var n int
		if err := q.QueryRowContext(ctx, fmt.Sprintf(`SELECT %d`, i)).Scan(&n); err != nil || n != i {
			t.Fatalf("SELECT %d = %d, %v", i, n, err)
		}
	}
	c.prepare(ctx)
	if len(c.stmts) > maxCachedStatements {
		t.Fatalf("%d statements cached, bound %d", len(c.stmts), maxCachedStatements)
	}
}

// TestNoStatisticsSamples: statistics survive a reopen without their value
// samples, which would have every statement with a bound value on an
// indexed column planned (parsed) anew at each call.
func TestNoStatisticsSamples(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "t.db")
	s, err := Open(ctx, Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 500 {
		if _, err := s.execWrite(ctx, "insert app", `INSERT INTO apps (name, secret_hash, commission_rate, webhook_key, date_created)
			VALUES (?, x'00', 0, x'00', ?)`, fmt.Sprint("app ", i%7), i); err != nil {
			t.Fatal(err)
		}
		if _, err := s.execWrite(ctx, "insert job", `INSERT INTO jobs (kind, args, state, max_attempts, run_at, created_at)
			VALUES ('k', x'7b7d', 'available', 1, ?, 0)`, i); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	s, err = Open(ctx, Config{Path: path}) // PRAGMA optimize analyzes the grown tables
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var stat1, stat4 int
	if err := s.q.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'jobs'`).Scan(&stat1); err != nil {
		t.Fatal(err)
	}
	if err := s.q.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_stat4`).Scan(&stat4); err != nil {
		t.Fatal(err)
	}
	if stat1 == 0 || stat4 != 0 {
		t.Fatalf("jobs has %d row-count statistics (want some) and the database %d samples (want none)", stat1, stat4)
	}
}
