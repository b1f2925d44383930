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
	"github.com/toteorg/tote/jsonpath"
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
	data, err := readBody(r)
	if err != nil {
		return err
	}
	return decodeBytes(data, v)
}

// readBody reads a request body: ETOOLARGE over the limit.
func readBody(r *http.Request) ([]byte, error) {
	data, err := io.ReadAll(r.Body)
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return nil, &tote.Error{Code: tote.ETOOLARGE, Message: fmt.Sprintf("Request body is larger than %d bytes.", tooLarge.Limit)}
	} else if err != nil {
		return nil, &tote.Error{Code: tote.EMALFORMED, Message: "The request body could not be read: " + err.Error() + "."}
	}
	return data, nil
}

// decodeBytes is decode of a body already read.
func decodeBytes(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	err := dec.Decode(v)
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
	case errors.As(err, &syntax):
		return &tote.Error{Code: tote.EMALFORMED, Message: fmt.Sprintf("Malformed JSON at byte %d: %v.", syntax.Offset, err)}
	case errors.As(err, &typ):
		// The path with array indexes (order.bags[1].skus[0].quantity);
		// the decoder's own leaves them out.
		field := cmp.Or(jsonpath.At(data, typ.Offset), typ.Field, "body")
		return tote.Invalid(tote.FieldError{Field: field, Message: "must be " + jsonpath.Kind(typ.Type)})
	case errors.Is(err, io.EOF):
		return &tote.Error{Code: tote.EMALFORMED, Message: "Request body is empty; a JSON object is required."}
	default: // unexpected EOF and the like
		return &tote.Error{Code: tote.EMALFORMED, Message: "Malformed JSON: " + err.Error() + "."}
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
