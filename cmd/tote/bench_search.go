package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/toteorg/tote"
	"github.com/toteorg/tote/postgres"
	"github.com/toteorg/tote/sqlite"
)

// benchSearch seeds a fresh store with -orders orders of two apps, two bags
// each, straight in SQL, then times the order and bag searches the API
// runs (first page of 20, total count included).
func benchSearch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("tote bench search", flag.ContinueOnError)
	fs.SetOutput(stderr)
	db := fs.String("db", "sqlite", "store: sqlite or postgres")
	dbURL := fs.String("database-url", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", "PostgreSQL to use; a new schema is made and dropped")
	orders := fs.Int("orders", 1_000_000, "orders to seed (two bags each)")
	runs := fs.Int("runs", 3, "timed runs of each query (the median is printed)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var s tote.Store
	var exec func(string) error
	switch *db {
	case "sqlite":
		dir, err := os.MkdirTemp("", "tote-search-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		path := filepath.Join(dir, "tote.db")
		st, err := sqlite.Open(ctx, sqlite.Config{Path: path})
		if err != nil {
			return err
		}
		defer st.Close()
		s = st
		raw, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?_pragma=busy_timeout(10000)&_pragma=synchronous(OFF)")
		if err != nil {
			return err
		}
		defer raw.Close()
		exec = func(q string) error { _, err := raw.ExecContext(ctx, q); return err }
		now := time.Now().UnixMicro()
		if err := seed(exec, []string{
			`INSERT INTO apps (name, secret_hash, date_created) VALUES ('a', x'00', 0), ('b', x'00', 0)`,
			fmt.Sprintf(`WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n+1 FROM g WHERE n < %d)
			 INSERT INTO orders (app_id, app_order_id, status, currency, total, customer_email, date_created, date_last_modified)
			 SELECT 1 + (n %% 2), 'ao-' || n, CASE WHEN n %% 10 = 0 THEN 'REJECTED' ELSE 'COMPLETED' END, 'USD', 1000,
			   'shopper' || (n %% 50000) || '@example.com', %d - n*1000000, %d - n*1000000 FROM g`, *orders, now, now),
			`INSERT INTO bags (order_id, app_id, merchant_id, status, financial_status, fulfillment_status, currency, total,
			   date_created, date_last_modified, external_id)
			 SELECT o.id, o.app_id, 1 + (o.id % 7) + m.m, 'ACCEPTED', 'PAID', 'PROCESSING', 'USD', 500, o.date_created,
			   o.date_created, 'ext-' || o.id || '-' || m.m FROM orders o, (SELECT 0 AS m UNION ALL SELECT 1) m`,
			`ANALYZE`,
		}); err != nil {
			return err
		}
	case "postgres":
		conn, err := pgx.Connect(ctx, *dbURL)
		if err != nil {
			return err
		}
		defer conn.Close(context.Background())
		rnd := make([]byte, 4)
		rand.Read(rnd)
		schema := "bench_search_" + hex.EncodeToString(rnd)
		if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
			return err
		}
		defer conn.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		u, _ := url.Parse(*dbURL)
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		st, err := postgres.Open(ctx, u.String())
		if err != nil {
			return err
		}
		defer st.Close()
		s = st
		exec = func(q string) error { _, err := conn.Exec(ctx, "SET search_path = "+schema+"; "+q); return err }
		if err := seed(exec, []string{
			`INSERT INTO apps (name, secret_hash, date_created) VALUES ('a', '\x00', now()), ('b', '\x00', now())`,
			fmt.Sprintf(`INSERT INTO orders (app_id, app_order_id, status, currency, total, customer_email, date_created, date_last_modified)
			 SELECT 1 + (g %% 2), 'ao-' || g, CASE WHEN g %% 10 = 0 THEN 'REJECTED' ELSE 'COMPLETED' END, 'USD', 1000,
			   'shopper' || (g %% 50000) || '@example.com', now() - (g || ' seconds')::interval, now() - (g || ' seconds')::interval
			 FROM generate_series(1, %d) g`, *orders),
			`INSERT INTO bags (order_id, app_id, merchant_id, status, financial_status, fulfillment_status, currency, total,
			   date_created, date_last_modified, external_id)
			 SELECT o.id, o.app_id, 1 + (o.id % 7) + m, 'ACCEPTED', 'PAID', 'PROCESSING', 'USD', 500, o.date_created,
			   o.date_created, 'ext-' || o.id || '-' || m FROM orders o, generate_series(0, 1) m`,
			`ANALYZE`,
		}); err != nil {
			return err
		}
	default:
		return fmt.Errorf("-db must be sqlite or postgres")
	}
	fmt.Fprintf(stdout, "store=%s orders=%d bags=%d\n", *db, *orders, 2**orders)
	i64 := func(v int64) *int64 { return &v }
	str := func(v string) *string { return &v }
	rejected, accepted := tote.OrderStatusRejected, tote.BagStatusAccepted
	since := time.Now().Add(-24 * time.Hour)
	time1 := func(name string, f func() (int64, error)) error {
		var ms []float64
		var total int64
		for range *runs {
			start := time.Now()
			var err error
			if total, err = f(); err != nil {
				return err
			}
			ms = append(ms, float64(time.Since(start).Microseconds())/1000)
		}
		fmt.Fprintf(stdout, "query=%q total_elements=%d median_ms=%.1f\n", name, total, median(ms))
		return nil
	}
	page := tote.Page{Number: 1, Size: 20}
	for _, c := range []struct {
		name string
		f    tote.OrderFilter
	}{
		{"orders: newest", tote.OrderFilter{ExcludeInProgress: true}},
		{"orders: status", tote.OrderFilter{Status: &rejected, ExcludeInProgress: true}},
		{"orders: customer_email", tote.OrderFilter{CustomerEmail: str("shopper3@example.com"), ExcludeInProgress: true}},
		{"orders: app_order_id", tote.OrderFilter{AppOrderID: str("ao-777"), ExcludeInProgress: true}},
		{"orders: merchant_id", tote.OrderFilter{MerchantID: i64(3), ExcludeInProgress: true}},
		{"orders: bag_status", tote.OrderFilter{BagStatus: &accepted, ExcludeInProgress: true}},
		{"orders: date_last_modified:min (last day)", tote.OrderFilter{ModifiedMin: &since, ExcludeInProgress: true}},
	} {
		c.f.AppID = 1
		if err := time1(c.name, func() (int64, error) { _, n, err := s.FindOrders(ctx, c.f, page); return n, err }); err != nil {
			return err
		}
	}
	for _, c := range []struct {
		name string
		f    tote.BagFilter
	}{
		{"bags: newest", tote.BagFilter{}},
		{"bags: merchant_id", tote.BagFilter{MerchantID: i64(3)}},
		{"bags: external_id", tote.BagFilter{ExternalID: str("ext-777-1")}},
		{"bags: order_id", tote.BagFilter{OrderID: i64(777)}},
		{"bags: sort_by total", tote.BagFilter{Sort: tote.BagSortTotal}},
	} {
		c.f.AppID = 1
		if err := time1(c.name, func() (int64, error) { _, n, err := s.FindBags(ctx, c.f, page); return n, err }); err != nil {
			return err
		}
	}
	return nil
}

func seed(exec func(string) error, stmts []string) error {
	for _, q := range stmts {
		if err := exec(q); err != nil {
			return fmt.Errorf("seed: %w", err)
		}
	}
	return nil
}
