package main_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/toteorg/tote/api/apitest"
	"github.com/toteorg/tote/storetest"
)

var toteBin string

// TestMain builds the real binary once; the tests run it as a user would.
func TestMain(m *testing.M) {
	storetest.ReportPostgres()
	dir, err := os.MkdirTemp("", "tote-bin-")
	if err != nil {
		panic(err)
	}
	toteBin = filepath.Join(dir, "tote")
	build := exec.Command("go", "build", "-race", "-o", toteBin, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build tote:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// server is a running `tote serve`.
type server struct {
	cmd  *exec.Cmd
	url  string
	done chan error
	// started holds the messages logged before it listened.
	started []string
}

func serve(t *testing.T, args ...string) *server {
	t.Helper()
	cmd := exec.Command(toteBin, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)...)
	cmd.Env = append(os.Environ(), "TOTE_ADMIN_KEY=e2e-admin")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{cmd: cmd, done: make(chan error, 1)}
	addr := make(chan string, 1)
	var started []string
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var rec struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &rec) != nil {
				continue
			}
			if rec.Msg == "tote listening" {
				addr <- rec.Addr
				break
			}
			started = append(started, rec.Msg)
		}
		io.Copy(io.Discard, stderr)
	}()
	go func() { s.done <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-s.done
	})
	select {
	case a := <-addr:
		s.url = "http://" + a
		s.started = started
	case err := <-s.done:
		t.Fatalf("tote serve exited: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("tote serve did not start listening within 30s")
	}
	return s
}

func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	out, err := exec.Command(toteBin, args...).Output()
	return string(out), err
}

func get(t *testing.T, url string, header map[string]string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	apitest.Check(t, req.Method, req.URL.RequestURI(), res.StatusCode, b)
	return res.StatusCode, string(b)
}

func post(t *testing.T, url, body string, header map[string]string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	apitest.Check(t, req.Method, req.URL.RequestURI(), res.StatusCode, b)
	return res.StatusCode, string(b)
}

// TestServe walks the "done" list on each store: the server comes
// up, an app made with the CLI gets past authentication, bad requests get
// 4xx JSON errors, and SIGTERM stops it cleanly.
func TestServe(t *testing.T) {
	t.Parallel()
	storetest.EachKind(t, func(t *testing.T, k storetest.Kind) {
		flag, value := k.URL(t)
		out, err := run(t, "migrate", flag, value)
		if err != nil || !strings.Contains(out, "up to date") {
			t.Fatalf("tote migrate: %v: %s", err, out)
		}
		s := serve(t, flag, value)
		if k.Name == "postgres" {
			checkAutovacuumWarning(t, value, s.started)
		}
		if code, body := get(t, s.url+"/healthz", nil); code != 200 {
			t.Fatalf("healthz = %d %s", code, body)
		}
		if code, _ := get(t, s.url+"/readyz", nil); code != 200 {
			t.Fatalf("readyz = %d", code)
		}

		out, err = run(t, "apps", "create", "--name", "Channel One", flag, value)
		if err != nil {
			t.Fatalf("tote apps create: %v", err)
		}
		var app struct {
			ID     int64  `json:"id"`
			Name   string `json:"name"`
			Secret string `json:"secret"`
		}
		if err := json.Unmarshal([]byte(out), &app); err != nil || app.ID <= 0 || app.Secret == "" || app.Name != "Channel One" {
			t.Fatalf("apps create printed %q (%v)", out, err)
		}
		creds := map[string]string{"X-Violet-App-Id": fmt.Sprint(app.ID), "X-Violet-App-Secret": app.Secret}
		if code, body := get(t, s.url+"/v1/orders/1", creds); code != 404 || !strings.Contains(body, `"not_found"`) {
			t.Fatalf("authenticated request = %d %s, want past authentication (404 here)", code, body)
		}
		creds["X-Violet-App-Secret"] = app.Secret + "nope"
		if code, body := get(t, s.url+"/v1/orders/1", creds); code != 401 || !strings.Contains(body, `"code":401`) {
			t.Fatalf("wrong secret = %d %s, want 401 with the error body", code, body)
		}
		admin := map[string]string{"Authorization": "Bearer e2e-admin"}
		if code, body := post(t, s.url+"/v1/admin/apps", `{"name": `, admin); code != 400 {
			t.Fatalf("malformed JSON = %d %s", code, body)
		}
		if code, body := post(t, s.url+"/v1/admin/apps", `{"name": "`+strings.Repeat("x", 2<<20)+`"}`, admin); code != 413 {
			t.Fatalf("oversized body = %d %s", code, body)
		}

		s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-s.done:
			if err != nil {
				t.Fatalf("after SIGTERM tote serve exited with %v, want 0", err)
			}
			s.done <- nil // for the cleanup
		case <-time.After(30 * time.Second):
			t.Fatal("tote serve did not stop within 30s of SIGTERM")
		}
	})
}

// checkAutovacuumWarning checks that tote serve warned at start exactly
// when the PostgreSQL server at url runs without autovacuum (a server-wide
// setting a test cannot change, so which branch runs depends on the server:
// CI's has it off).
func checkAutovacuumWarning(t *testing.T, url string, started []string) {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var setting string
	if err := pool.QueryRow(context.Background(), "SHOW autovacuum").Scan(&setting); err != nil {
		t.Fatal(err)
	}
	warned := slices.ContainsFunc(started, func(m string) bool { return strings.Contains(m, "autovacuum off") })
	if warned != (setting == "off") {
		t.Errorf("autovacuum is %s on the server; tote serve warned about it: %v (start log %q)", setting, warned, started)
	}
}

func TestCommandLineErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, args := range [][]string{
		{},
		{"frobnicate"},
		{"apps", "create", "--data-dir", dir}, // no name
		{"apps", "create", "--name", "x", "--commission-rate", "300", "--data-dir", dir},
		{"serve", "--addr", "127.0.0.1:0", "--database-url", "postgres://nobody@127.0.0.1:1/none"},
		{"serve", "--addr", "127.0.0.1:0", "--data-dir", dir, "--reconcile-interval", "0s"},
	} {
		cmd := exec.Command(toteBin, args...)
		out, err := cmd.CombinedOutput()
		if err == nil {
			t.Errorf("tote %v succeeded, want a failure: %s", args, out)
		} else if len(out) == 0 {
			t.Errorf("tote %v failed silently", args)
		}
	}
}

// TestCatalogImport: `tote catalog import examples/demo-catalog.json` run
// twice yields the same catalog (the second run changes nothing), which the
// server then lists; `tote merchants create` adds one by hand.
func TestCatalogImport(t *testing.T) {
	t.Parallel()
	storetest.EachKind(t, func(t *testing.T, k storetest.Kind) {
		flag, value := k.URL(t)
		importDemo := func() string {
			t.Helper()
			cmd := exec.Command(toteBin, "catalog", "import", flag, value, "examples/demo-catalog.json")
			cmd.Dir = "../.." // the repository root, as in the README
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("tote catalog import: %v: %s", err, out)
			}
			return string(out)
		}
		first := importDemo()
		for _, want := range []string{"merchants:        2 created, 0 updated, 0 unchanged", "skus:             6 created",
			"shipping methods: 4 created", "tax rates:        2 created"} {
			if !strings.Contains(first, want) {
				t.Fatalf("first import printed\n%s\nwant a line with %q", first, want)
			}
		}
		second := importDemo()
		for _, want := range []string{"merchants:        0 created, 0 updated, 2 unchanged", "skus:             0 created, 0 updated, 6 unchanged",
			"shipping methods: 0 created, 0 updated, 4 unchanged", "tax rates:        0 created, 0 updated, 2 unchanged"} {
			if !strings.Contains(second, want) {
				t.Fatalf("second import printed\n%s\nwant a line with %q", second, want)
			}
		}

		out, err := run(t, "merchants", "create", "--name", "Hand Made", "--currency", "USD", "--commission-rate", "7.5",
			"--sandbox-submit", "REJECT", flag, value)
		if err != nil {
			t.Fatalf("tote merchants create: %v", err)
		}
		var m struct {
			ID             int64   `json:"id"`
			Name           string  `json:"name"`
			CommissionRate float64 `json:"commission_rate"`
			Sandbox        struct {
				Submit string `json:"submit"`
			} `json:"sandbox"`
		}
		if err := json.Unmarshal([]byte(out), &m); err != nil || m.ID != 3 || m.Name != "Hand Made" || m.CommissionRate != 7.5 || m.Sandbox.Submit != "REJECT" {
			t.Fatalf("merchants create printed %q (%v)", out, err)
		}
		for _, args := range [][]string{
			{"merchants", "create", flag, value}, // no name
			{"merchants", "create", "--name", "x", "--sandbox-submit", "MAYBE", flag, value},
			{"merchants", "create", "--name", "x", "--commission-rate", "101", flag, value},
			{"catalog", "import", flag, value}, // no file
			{"catalog", "import", flag, value, "no-such-file.json"},
			{"catalog", "import", flag, value, "main.go"}, // not JSON
		} {
			if out, err := exec.Command(toteBin, args...).CombinedOutput(); err == nil || len(out) == 0 {
				t.Errorf("tote %v: err %v, output %q; want a failure with a message", args, err, out)
			}
		}

		s := serve(t, flag, value)
		out, err = run(t, "apps", "create", "--name", "Channel", flag, value)
		if err != nil {
			t.Fatalf("tote apps create: %v", err)
		}
		var app struct {
			ID     int64  `json:"id"`
			Secret string `json:"secret"`
		}
		if err := json.Unmarshal([]byte(out), &app); err != nil {
			t.Fatal(err)
		}
		creds := map[string]string{"X-Violet-App-Id": fmt.Sprint(app.ID), "X-Violet-App-Secret": app.Secret}
		code, body := get(t, s.url+"/v1/catalog/skus", creds)
		var page struct {
			Content []struct {
				Name      string `json:"name"`
				Price     int64  `json:"price"`
				Inventory int64  `json:"inventory"`
			} `json:"content"`
			TotalElements int64 `json:"total_elements"`
		}
		if err := json.Unmarshal([]byte(body), &page); code != 200 || err != nil || page.TotalElements != 6 || len(page.Content) != 6 {
			t.Fatalf("GET /v1/catalog/skus = %d %s, want the 6 SKUs of the demo catalog", code, body)
		}
		if c := page.Content[0]; c.Name != "Trail Tee, Medium" || c.Price != 2500 || c.Inventory != 1000000 {
			t.Fatalf("first SKU = %+v", c)
		}
		code, body = get(t, s.url+"/v1/admin/merchants", map[string]string{"Authorization": "Bearer e2e-admin"})
		if code != 200 || !strings.Contains(body, `"total_elements":3`) {
			t.Fatalf("GET /v1/admin/merchants = %d %s, want 3 merchants", code, body)
		}
	})
}
