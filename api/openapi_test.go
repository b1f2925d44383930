package api_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/toteorg/tote/api"
	paymentsandbox "github.com/toteorg/tote/payment/sandbox"
	platformsandbox "github.com/toteorg/tote/platform/sandbox"
	"github.com/toteorg/tote/storetest"
)

var openapi struct {
	once     sync.Once
	doc      map[string]any
	compiler *jsonschema.Compiler
	err      error

	mu       sync.Mutex
	compiled map[string]*jsonschema.Schema
}

const docURL = "file:///openapi.json"

func loadOpenAPI(t *testing.T) map[string]any {
	t.Helper()
	openapi.once.Do(func() {
		raw, err := os.ReadFile("openapi.json")
		if err != nil {
			openapi.err = err
			return
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			openapi.err = err
			return
		}
		openapi.doc = doc.(map[string]any)
		openapi.compiler = jsonschema.NewCompiler()
		openapi.compiled = map[string]*jsonschema.Schema{}
		openapi.err = openapi.compiler.AddResource(docURL, doc)
	})
	if openapi.err != nil {
		t.Fatalf("load openapi.json: %v", openapi.err)
	}
	return openapi.doc
}

var pathParam = regexp.MustCompile(`\{[^}]+\}`)

// specPath finds the documented path template that matches a request path.
func specPath(doc map[string]any, path string) (string, bool) {
	paths := doc["paths"].(map[string]any)
	for tmpl := range paths {
		if regexp.MustCompile("^" + pathParam.ReplaceAllString(tmpl, `[^/]+`) + "$").MatchString(path) {
			return tmpl, true
		}
	}
	return "", false
}

func pointer(parts ...string) string {
	for i, p := range parts {
		parts[i] = strings.ReplaceAll(strings.ReplaceAll(p, "~", "~0"), "/", "~1")
	}
	return "#/" + strings.Join(parts, "/")
}

// checkAgainstOpenAPI fails the test unless the response's status is
// documented for the route and its JSON body matches the documented schema.
// Requests to undocumented paths must get the error body.
func checkAgainstOpenAPI(t *testing.T, method, path string, r response) {
	t.Helper()
	doc := loadOpenAPI(t)
	path, _, _ = strings.Cut(path, "?")
	tmpl, ok := specPath(doc, path)
	var schemaRef string
	if !ok || doc["paths"].(map[string]any)[tmpl].(map[string]any)[strings.ToLower(method)] == nil {
		if r.status < 400 {
			t.Fatalf("%s %s answered %d but is not in openapi.json", method, path, r.status)
		}
		schemaRef = pointer("components", "schemas", "Error")
	} else {
		op := doc["paths"].(map[string]any)[tmpl].(map[string]any)[strings.ToLower(method)].(map[string]any)
		resp, ok := op["responses"].(map[string]any)[strconv.Itoa(r.status)].(map[string]any)
		if !ok {
			if r.status < 400 || r.status == 413 && method == "GET" {
				t.Fatalf("%s %s answered %d, not documented for %s", method, path, r.status, tmpl)
			}
			// Auth and generic errors apply to every route; they still
			// must have the error body.
			schemaRef = pointer("components", "schemas", "Error")
		} else {
			ptr := []string{"paths", tmpl, strings.ToLower(method), "responses", strconv.Itoa(r.status)}
			if ref, ok := resp["$ref"].(string); ok {
				ptr = strings.Split(strings.TrimPrefix(ref, "#/"), "/")
				resp = lookup(doc, ptr)
			}
			content, _ := resp["content"].(map[string]any)
			if content["application/json"] == nil {
				return // not JSON (metrics)
			}
			schemaRef = pointer(append(ptr, "content", "application/json", "schema")...)
		}
	}
	schema, err := compile(schemaRef)
	if err != nil {
		t.Fatalf("compile %s: %v", schemaRef, err)
	}
	body, err := jsonschema.UnmarshalJSON(bytes.NewReader(r.body))
	if err != nil {
		t.Fatalf("%s %s: body is not JSON: %v: %s", method, path, err, r.body)
	}
	if err := schema.Validate(body); err != nil {
		t.Fatalf("%s %s → %d does not match openapi.json %s:\n%v\nbody: %s", method, path, r.status, schemaRef, err, r.body)
	}
}

// compile compiles (once) the schema at ref; the compiler is not safe for
// concurrent use.
func compile(ref string) (*jsonschema.Schema, error) {
	openapi.mu.Lock()
	defer openapi.mu.Unlock()
	if s, ok := openapi.compiled[ref]; ok {
		return s, nil
	}
	s, err := openapi.compiler.Compile(docURL + ref)
	if err == nil {
		openapi.compiled[ref] = s
	}
	return s, err
}

func lookup(doc map[string]any, ptr []string) map[string]any {
	var cur any = doc
	for _, p := range ptr {
		cur = cur.(map[string]any)[strings.ReplaceAll(strings.ReplaceAll(p, "~1", "/"), "~0", "~")]
	}
	return cur.(map[string]any)
}

// TestOpenAPIDocument: the document is OpenAPI 3.1, every route the server
// serves is documented, and every documented route is served.
func TestOpenAPIDocument(t *testing.T) {
	doc := loadOpenAPI(t)
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
			lookup(doc, strings.Split(m[1], "/"))
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
