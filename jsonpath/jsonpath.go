// Package jsonpath names the place of a value in a JSON document, so that
// a decoding error can name the field with its array indexes
// (order.bags[1].skus[0].quantity), which encoding/json's own errors leave
// out.
package jsonpath

import (
	"bytes"
	"encoding"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
)

// level is one level of the way to a value: an array's element, or an
// object's member.
type level struct {
	array   bool
	index   int    // in an array: the current element
	key     string // in an object: the current member
	wantKey bool   // in an object: the next token is a key (or the end)
	// For Unknown: the type of the object (struct or map) or of the
	// array's elements, nil when anything goes; and of the member whose
	// key was just read.
	typ, next reflect.Type
}

// pathOf writes the way down stack as a path: a.b[2].c.
func pathOf(stack []level) string {
	var b strings.Builder
	for _, l := range stack {
		if l.array {
			fmt.Fprintf(&b, "[%d]", l.index)
		} else {
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(l.key)
		}
	}
	return b.String()
}

// At returns the JSON path (a.b[2].c) of the value an offset of data
// points at (a json.UnmarshalTypeError's): the first value of data that
// ends at or after it, or whose opening bracket does; "" if none.
func At(data []byte, offset int64) string {
	var stack []level
	path := func() string { return pathOf(stack) }
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber() // a number out of float64's range is still a token
	for {
		tok, err := dec.Token()
		if err != nil {
			return ""
		}
		top := len(stack) - 1
		if top >= 0 && !stack[top].array && stack[top].wantKey {
			if key, ok := tok.(string); ok {
				stack[top].key, stack[top].wantKey = key, false
				continue
			}
		}
		if tok == json.Delim('{') || tok == json.Delim('[') {
			// The decoder reports a composite of the wrong type just
			// past its opening.
			if dec.InputOffset() >= offset {
				return path()
			}
			stack = append(stack, level{array: tok == json.Delim('['), wantKey: tok == json.Delim('{')})
			continue
		}
		if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
			stack = stack[:top]
		}
		// A value has ended (a scalar, or the object or array just closed).
		if dec.InputOffset() >= offset {
			return path()
		}
		if n := len(stack) - 1; n >= 0 {
			if stack[n].array {
				stack[n].index++
			} else {
				stack[n].wantKey = true
			}
		}
	}
}

// Kind words what a value of type t is in JSON: "a string", "a number"...
func Kind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	default:
		return "a number"
	}
}

// Unknown returns the path (a.b[2].c) of the first object member of data
// that no field of t, the type data decodes into, takes: the member
// json.Decoder.DisallowUnknownFields refuses, whose error names only the
// key. "" if every member has a field (or data is not valid JSON). It
// follows encoding/json's common rules (json tags, then case-insensitive
// names, embedded structs, types that decode themselves), not its every
// corner (two embedded fields of one name at one depth): a caller checks
// that the path ends with the key the decoder named.
func Unknown(data []byte, t reflect.Type) string {
	var stack []level
	path := func() string { return pathOf(stack) }
	valueType := func() reflect.Type { // of the value about to be read
		if len(stack) == 0 {
			return t
		}
		if l := stack[len(stack)-1]; l.array {
			return l.typ
		} else {
			return l.next
		}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	for {
		tok, err := dec.Token()
		if err != nil {
			return ""
		}
		if top := len(stack) - 1; top >= 0 && !stack[top].array && stack[top].wantKey {
			if key, ok := tok.(string); ok {
				l := &stack[top]
				l.key, l.wantKey, l.next = key, false, nil
				if l.typ != nil {
					switch l.typ.Kind() {
					case reflect.Struct:
						f, ok := field(l.typ, key)
						if !ok {
							return path()
						}
						l.next = f
					case reflect.Map:
						l.next = l.typ.Elem()
					}
				}
				continue
			}
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			typ := valueType()
			for typ != nil && typ.Kind() == reflect.Pointer {
				typ = typ.Elem()
			}
			if typ != nil && decodesItself(typ) {
				typ = nil // its own UnmarshalJSON decides what it takes
			}
			if typ != nil && tok == json.Delim('[') {
				if k := typ.Kind(); k == reflect.Slice || k == reflect.Array {
					typ = typ.Elem()
				} else {
					typ = nil
				}
			} else if typ != nil && typ.Kind() != reflect.Struct && typ.Kind() != reflect.Map {
				typ = nil // an interface, or the wrong type: another error's business
			}
			stack = append(stack, level{array: tok == json.Delim('['), wantKey: tok == json.Delim('{'), typ: typ})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
		if n := len(stack) - 1; n >= 0 {
			if stack[n].array {
				stack[n].index++
			} else {
				stack[n].wantKey = true
			}
		}
	}
}

var (
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// decodesItself reports whether values of t (or *t) decode themselves,
// where encoding/json checks no field.
func decodesItself(t reflect.Type) bool {
	p := reflect.PointerTo(t)
	return t.Implements(jsonUnmarshaler) || p.Implements(jsonUnmarshaler) ||
		t.Implements(textUnmarshaler) || p.Implements(textUnmarshaler)
}

// field finds the type of struct t's field that JSON key takes, as
// encoding/json does: its json tag's name (or the field's name), exactly,
// else regardless of case; then the fields of embedded structs.
func field(t reflect.Type, key string) (reflect.Type, bool) {
	var fold reflect.Type
	var embedded []reflect.Type
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if f.Anonymous && name == "" {
			if e := f.Type; e.Kind() == reflect.Struct || e.Kind() == reflect.Pointer && e.Elem().Kind() == reflect.Struct {
				embedded = append(embedded, e)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if name == key {
			return f.Type, true
		}
		if fold == nil && strings.EqualFold(name, key) {
			fold = f.Type
		}
	}
	if fold != nil {
		return fold, true
	}
	for _, e := range embedded {
		if e.Kind() == reflect.Pointer {
			e = e.Elem()
		}
		if f, ok := field(e, key); ok {
			return f, true
		}
	}
	return nil, false
}
