package storetest_test

import (
	"os"
	"testing"

	"github.com/toteorg/tote/storetest"
)

func TestMain(m *testing.M) {
	storetest.ReportPostgres()
	os.Exit(m.Run())
}

func TestSQLite(t *testing.T) {
	t.Parallel()
	storetest.Run(t, storetest.SQLite)
}

func TestPostgres(t *testing.T) {
	t.Parallel()
	storetest.Run(t, storetest.Postgres)
}

// TestTwins runs the cases that need two stores (two processes) on one
// database.
func TestTwins(t *testing.T) {
	t.Parallel()
	storetest.EachKind(t, func(t *testing.T, k storetest.Kind) { storetest.RunTwins(t, k.Twin) })
}
