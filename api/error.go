package api

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"strings"

	"github.com/toteorg/tote"
)

// codes maps each error code to its HTTP status. It is the only place that
// knows this mapping.
var codes = map[string]int{
	tote.EMALFORMED:    http.StatusBadRequest,
	tote.EUNAUTHORIZED: http.StatusUnauthorized,
	tote.EFORBIDDEN:    http.StatusForbidden,
	tote.ENOTFOUND:     http.StatusNotFound,
	tote.ECONFLICT:     http.StatusConflict,
	tote.ETOOLARGE:     http.StatusRequestEntityTooLarge,
	tote.EINVALID:      http.StatusUnprocessableEntity,
	tote.EREJECTED:     http.StatusUnprocessableEntity,
	tote.EINTERNAL:     http.StatusInternalServerError,
	tote.EUNAVAILABLE:  http.StatusServiceUnavailable,
}

// errorBody is the error shape of API.md.
type errorBody struct {
	Code    int               `json:"code"`
	Error   string            `json:"error"`
	Message string            `json:"message"`
	Errors  []tote.FieldError `json:"errors,omitempty"`
}

// Error writes err as the API's JSON error body. Internal errors are logged
// with their whole chain and shown to the caller only as a generic message.
func Error(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	code := tote.ErrorCode(err)
	status, ok := codes[code]
	if !ok {
		status = http.StatusInternalServerError
	}
	if status >= 500 {
		log.ErrorContext(r.Context(), "request failed", "err", err)
	} else {
		log.InfoContext(r.Context(), "request refused", "code", code, "err", err)
	}
	writeJSON(w, status, errorBody{
		Code:    status,
		Error:   code,
		Message: tote.ErrorMessage(err),
		Errors:  tote.ErrorFields(err),
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// decode reads a JSON request body into v. Syntax errors are EMALFORMED
// (400), a body over the limit ETOOLARGE (413), a value of the wrong type
// EINVALID (422) naming the field.
func decode(r *http.Request, v any) error {
	data, err := io.ReadAll(r.Body)
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return &tote.Error{Code: tote.ETOOLARGE, Message: fmt.Sprintf("Request body is larger than %d bytes.", tooLarge.Limit)}
	} else if err != nil {
		return &tote.Error{Code: tote.EMALFORMED, Message: "The request body could not be read: " + err.Error() + "."}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	err = dec.Decode(v)
	if err == nil && dec.More() {
		return &tote.Error{Code: tote.EMALFORMED, Message: "Malformed JSON: unexpected data after the JSON value."}
	}
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case err == nil:
		if field := nulField(reflect.ValueOf(v), ""); field != "" {
			return tote.Invalid(tote.FieldError{Field: field, Message: "must not contain NUL characters"})
		}
		return nil
	case errors.As(err, &tooLarge):
		return &tote.Error{Code: tote.ETOOLARGE, Message: fmt.Sprintf("Request body is larger than %d bytes.", tooLarge.Limit)}
	case errors.As(err, &syntax):
		return &tote.Error{Code: tote.EMALFORMED, Message: fmt.Sprintf("Malformed JSON at byte %d: %v.", syntax.Offset, err)}
	case errors.As(err, &typ):
		// The path with array indexes (order.bags[1].skus[0].quantity);
		// the decoder's own leaves them out.
		field := cmp.Or(pathAt(data, typ.Offset), typ.Field, "body")
		return tote.Invalid(tote.FieldError{Field: field, Message: "must be " + jsonKind(typ.Type.Kind().String())})
	case errors.Is(err, io.EOF):
		return &tote.Error{Code: tote.EMALFORMED, Message: "Request body is empty; a JSON object is required."}
	default: // unexpected EOF and the like
		return &tote.Error{Code: tote.EMALFORMED, Message: "Malformed JSON: " + err.Error() + "."}
	}
}

// pathAt returns the JSON path (a.b[2].c) of the value that
// json.UnmarshalTypeError's offset points at: the first value of data
// that ends at or after it, or whose opening bracket does; "" if none.
func pathAt(data []byte, offset int64) string {
	type level struct {
		array   bool
		index   int    // in an array: the current element
		key     string // in an object: the current member
		wantKey bool   // in an object: the next token is a key (or the end)
	}
	var stack []level
	path := func() string {
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

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "slice", "array":
		return "an array"
	case "struct", "map":
		return "an object"
	default:
		return "a number"
	}
}

// nulField returns the JSON path of the first string in v holding a NUL
// character (which PostgreSQL cannot store in text), or "".
func nulField(v reflect.Value, path string) string {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			return nulField(v.Elem(), path)
		}
	case reflect.String:
		if strings.ContainsRune(v.String(), 0) {
			return cmp.Or(path, "body")
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			if f := nulField(v.Index(i), fmt.Sprintf("%s[%d]", path, i)); f != "" {
				return f
			}
		}
	case reflect.Map:
		for _, k := range v.MapKeys() {
			if f := nulField(v.MapIndex(k), join(path, fmt.Sprint(k.Interface()))); f != "" {
				return f
			}
		}
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			if !t.Field(i).IsExported() {
				continue
			}
			name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
			if name == "" {
				name = t.Field(i).Name
			}
			if f := nulField(v.Field(i), join(path, name)); f != "" {
				return f
			}
		}
	}
	return ""
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}
