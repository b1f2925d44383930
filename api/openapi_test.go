package api_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/toteorg/tote/api"
	"github.com/toteorg/tote/api/apitest"
	paymentsandbox "github.com/toteorg/tote/payment/sandbox"
	platformsandbox "github.com/toteorg/tote/platform/sandbox"
	"github.com/toteorg/tote/storetest"
)

// checkAgainstOpenAPI holds a response to the OpenAPI document.
func checkAgainstOpenAPI(t *testing.T, method, path string, r response) {
	t.Helper()
	apitest.Check(t, method, path, r.status, r.body)
}

// TestOpenAPIDocument: the document is OpenAPI 3.1, every route the server
// serves is documented, and every documented route is served.
func TestOpenAPIDocument(t *testing.T) {
	doc := apitest.Document(t)
	if doc["openapi"] != "3.1.0" {
		t.Fatalf("openapi = %v, want 3.1.0", doc["openapi"])
	}
	var documented []string
	for path, item := range doc["paths"].(map[string]any) {
		for method := range item.(map[string]any) {
			documented = append(documented, strings.ToUpper(method)+" "+path)
		}
	}
	served := (&api.Server{OperatorRoutes: sandboxRoutes()}).Routes()
	slices.Sort(documented)
	slices.Sort(served)
	if !slices.Equal(documented, served) {
		t.Fatalf("openapi.json documents\n  %v\nthe server serves\n  %v", documented, served)
	}
	// Every $ref resolves.
	raw, _ := json.Marshal(doc)
	for _, m := range regexp.MustCompile(`"\$ref":"#/([^"]+)"`).FindAllStringSubmatch(string(raw), -1) {
		func() {
			defer func() {
				if recover() != nil {
					t.Errorf("dangling $ref #/%s", m[1])
				}
			}()
			apitest.Lookup(doc, strings.Split(m[1], "/"))
		}()
	}
}

func TestOpenAPIServed(t *testing.T) {
	b := setup(t, storetest.SQLite, adminKey)
	r := b.do(http.MethodGet, "/openapi.json", nil, nil)
	want, _ := os.ReadFile("openapi.json")
	if r.status != 200 || !bytes.Equal(r.body, want) || r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /openapi.json = %d %s, %d bytes", r.status, r.header.Get("Content-Type"), len(r.body))
	}
}

// sandboxRoutes are the operator routes tote serve adds for its sandboxes.
func sandboxRoutes() []api.Route {
	var out []api.Route
	for _, rt := range (&platformsandbox.Platform{}).OperatorRoutes() {
		out = append(out, api.Route{Method: rt.Method, Path: rt.Path, Handler: rt.Handler})
	}
	for _, rt := range (&paymentsandbox.Provider{}).OperatorRoutes() {
		out = append(out, api.Route{Method: rt.Method, Path: rt.Path, Handler: rt.Handler})
	}
	return out
}
