// Package storetest is the conformance suite every tote.Store must pass,
// and the helpers that open a fresh store of each kind for a test. The
// SQLite store always runs; the PostgreSQL store runs when
// TOTE_TEST_DATABASE_URL is set (CI always sets it) and skips loudly when
// it is not.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/toteorg/tote"
	"github.com/toteorg/tote/postgres"
	"github.com/toteorg/tote/sqlite"
)

// PostgresURLEnv names the variable holding the test database's URL.
const PostgresURLEnv = "TOTE_TEST_DATABASE_URL"

// Opener opens a new, empty store for one test and closes it when the test
// ends.
type Opener func(t testing.TB) tote.Store

// Kind is one store implementation under test.
type Kind struct {
	Name string
	Open Opener
	// Twin opens two independent stores (separate pools, as two processes
	// would have) on one new database.
	Twin func(t testing.TB) (tote.Store, tote.Store)
	// URL makes a new empty database and returns how `tote serve` or a
	// child process reaches it: a --data-dir for SQLite, a
	// --database-url for PostgreSQL.
	URL func(t testing.TB) (flag, value string)
}

// Kinds returns both store implementations.
func Kinds() []Kind {
	return []Kind{
		{Name: "sqlite", Open: SQLite, Twin: sqliteTwin, URL: func(t testing.TB) (string, string) {
			return "--data-dir", t.TempDir()
		}},
		{Name: "postgres", Open: Postgres, Twin: postgresTwin, URL: func(t testing.TB) (string, string) {
			return "--database-url", PostgresSchemaURL(t)
		}},
	}
}

func sqliteTwin(t testing.TB) (tote.Store, tote.Store) {
	path := filepath.Join(t.TempDir(), "tote.db")
	return OpenSQLiteAt(t, path), OpenSQLiteAt(t, path)
}

func postgresTwin(t testing.TB) (tote.Store, tote.Store) {
	u := PostgresSchemaURL(t)
	return OpenPostgresAt(t, u), OpenPostgresAt(t, u)
}

// EachKind runs f once per store kind, as parallel subtests named after it.
func EachKind(t *testing.T, f func(t *testing.T, k Kind)) {
	for _, k := range Kinds() {
		t.Run(k.Name, func(t *testing.T) {
			t.Parallel()
			f(t, k)
		})
	}
}

// Each runs f once per store kind, as parallel subtests named after it.
func Each(t *testing.T, f func(t *testing.T, open Opener)) {
	for _, k := range Kinds() {
		t.Run(k.Name, func(t *testing.T) {
			t.Parallel()
			f(t, k.Open)
		})
	}
}

// SQLite opens a store on a new database file in the test's temp dir.
func SQLite(t testing.TB) tote.Store {
	t.Helper()
	return OpenSQLiteAt(t, filepath.Join(t.TempDir(), "tote.db"))
}

// OpenSQLiteAt opens the store at path and closes it when the test ends.
func OpenSQLiteAt(t testing.TB, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), sqlite.Config{Path: path})
	if err != nil {
		t.Fatalf("open sqlite store: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Postgres opens a store in a new schema of the test database, so tests run
// in parallel without seeing each other, and drops the schema afterwards.
func Postgres(t testing.TB) tote.Store {
	t.Helper()
	return OpenPostgresAt(t, PostgresSchemaURL(t))
}

// OpenPostgresAt opens the store at url and closes it when the test ends.
func OpenPostgresAt(t testing.TB, url string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), url)
	if err != nil {
		t.Fatalf("open postgres store: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// PostgresSchemaURL creates a fresh schema in the test database and returns
// a URL whose connections use it; the schema is dropped when the test ends.
// It skips the test when TOTE_TEST_DATABASE_URL is not set, and fails it
// instead when CI is set: CI never skips the PostgreSQL suite.
func PostgresSchemaURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv(PostgresURLEnv)
	if base == "" && os.Getenv("CI") != "" {
		t.Fatalf("%s is not set, and CI must run the PostgreSQL suite (.ci/run sets it)", PostgresURLEnv)
	}
	if base == "" {
		t.Skipf("SKIPPING PostgreSQL store test: %s is not set (CI always sets it; see README)", PostgresURLEnv)
	}
	ctx := context.Background()
	b := make([]byte, 6)
	rand.Read(b)
	schema := "test_" + hex.EncodeToString(b)
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect to %s: %v", PostgresURLEnv, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("connect to drop schema: %v", err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema: %v", err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse %s: %v", PostgresURLEnv, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	if q.Get("pool_max_conns") == "" {
		q.Set("pool_max_conns", "8")
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// ReportPostgres prints, from a TestMain, whether the PostgreSQL suite runs,
// so a skipped run is visible in the output and not only with -v.
func ReportPostgres() {
	if os.Getenv(PostgresURLEnv) == "" {
		fmt.Fprintf(os.Stderr, "\n*** %s is not set: PostgreSQL store tests are SKIPPED ***\n\n", PostgresURLEnv)
	} else {
		fmt.Fprintf(os.Stderr, "PostgreSQL store tests run against %s\n", PostgresURLEnv)
	}
}
