// Package apitest holds a Tote server's responses to its OpenAPI document
// (api/openapi.json), for the tests of any package that talk to the server
// over HTTP: the API's own, and the end-to-end tests of `tote serve`.
package apitest

import (
	"bytes"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/toteorg/tote/api"
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

// Document returns the OpenAPI document the server serves, parsed.
func Document(t testing.TB) map[string]any {
	t.Helper()
	openapi.once.Do(func() {
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(api.OpenAPIDocument()))
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

// operation finds the documented operation for a request: among the path
// templates that match the path and document the method, the one with the
// fewest parameters (POST /v1/orders/search is that route, not
// /v1/orders/{order_id}).
func operation(doc map[string]any, method, path string) (tmpl string, op map[string]any) {
	best := -1
	for t, item := range doc["paths"].(map[string]any) {
		if !regexp.MustCompile("^" + pathParam.ReplaceAllString(t, `[^/]+`) + "$").MatchString(path) {
			continue
		}
		o, ok := item.(map[string]any)[strings.ToLower(method)].(map[string]any)
		if n := len(pathParam.FindAllString(t, -1)); ok && (best < 0 || n < best) {
			tmpl, op, best = t, o, n
		}
	}
	return tmpl, op
}

func pointer(parts ...string) string {
	for i, p := range parts {
		parts[i] = strings.ReplaceAll(strings.ReplaceAll(p, "~", "~0"), "/", "~1")
	}
	return "#/" + strings.Join(parts, "/")
}

// Check fails the test unless the response's status is documented for the
// route and its JSON body matches the documented schema. Auth and generic
// errors apply to every route, and a request to an undocumented path must
// be refused; both must have the error body.
func Check(t testing.TB, method, path string, status int, body []byte) {
	t.Helper()
	doc := Document(t)
	path, _, _ = strings.Cut(path, "?")
	tmpl, op := operation(doc, method, path)
	var schemaRef string
	if op == nil {
		if status < 400 {
			t.Fatalf("%s %s answered %d but is not in openapi.json", method, path, status)
		}
		schemaRef = pointer("components", "schemas", "Error")
	} else {
		resp, ok := op["responses"].(map[string]any)[strconv.Itoa(status)].(map[string]any)
		if !ok {
			if status < 400 || status == 413 && method == "GET" {
				t.Fatalf("%s %s answered %d, not documented for %s", method, path, status, tmpl)
			}
			schemaRef = pointer("components", "schemas", "Error")
		} else {
			ptr := []string{"paths", tmpl, strings.ToLower(method), "responses", strconv.Itoa(status)}
			if ref, ok := resp["$ref"].(string); ok {
				ptr = strings.Split(strings.TrimPrefix(ref, "#/"), "/")
				resp = Lookup(doc, ptr)
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
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("%s %s: body is not JSON: %v: %s", method, path, err, body)
	}
	if err := schema.Validate(v); err != nil {
		t.Fatalf("%s %s → %d does not match openapi.json %s:\n%v\nbody: %s", method, path, status, schemaRef, err, body)
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

// Lookup returns the object at a JSON pointer's segments (escaped, as in a
// $ref after "#/"); it panics when there is none.
func Lookup(doc map[string]any, ptr []string) map[string]any {
	var cur any = doc
	for _, p := range ptr {
		cur = cur.(map[string]any)[strings.ReplaceAll(strings.ReplaceAll(p, "~1", "/"), "~0", "~")]
	}
	return cur.(map[string]any)
}
