package tote

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Error codes. The list is append-only: clients and the HTTP layer branch on
// these values, and http/ maps each to one status.
const (
	ECONFLICT     = "conflict"     // invalid transition, idempotency-key reuse, duplicate
	EINTERNAL     = "internal"     // a bug or an unexpected failure
	EINVALID      = "invalid"      // well-formed input that breaks a rule (422)
	ENOTFOUND     = "not_found"    // unknown, or not the caller's (404)
	EUNAUTHORIZED = "unauthorized" // missing or wrong credentials (401)
	EFORBIDDEN    = "forbidden"    // authenticated but not allowed (403)
	EUNAVAILABLE  = "unavailable"  // a dependency is down; retry later (503)
	EMALFORMED    = "malformed"    // the request body is not valid JSON (400)
	ETOOLARGE     = "too_large"    // the request body is over the limit (413)
	EREJECTED     = "rejected"     // the merchant's platform refused the order (422)
)

// Error is an error a caller should see. Message is safe to show; the HTTP
// layer writes Code and Message and logs whatever error wraps an Error.
type Error struct {
	Code    string
	Message string
	// Fields lists field-level validation problems, when there are any.
	Fields []FieldError
	// Err, when set, is the sentinel this error is an instance of (for
	// errors.Is), such as ErrInvalidTransition.
	Err error
}

// FieldError names one invalid input field and what is wrong with it.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Text limits: how long a piece of text a caller sends may be. Each is
// stored, and many are indexed (PostgreSQL refuses an index entry over a
// third of a page, about 2.7 KB), so each has a bound.
const (
	MaxText  = 255 // names, ids a caller chooses, address lines
	MaxEmail = 254 // RFC 5321
)

// TooLong returns the error for field if value has more than max
// characters.
func TooLong(field, value string, max int) (FieldError, bool) {
	if utf8.RuneCountInString(value) <= max {
		return FieldError{}, false
	}
	return FieldError{Field: field, Message: fmt.Sprintf("must be at most %d characters", max)}, true
}

// Storable reports whether s is text every store can hold and compare:
// valid UTF-8 without NUL characters (PostgreSQL refuses both). A key from
// a URL path that is not can name nothing stored.
func Storable(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

func (e *Error) Error() string {
	return fmt.Sprintf("tote error: code=%s message=%s", e.Code, e.Message)
}

// Unwrap returns the sentinel this error is an instance of, if any.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code and formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalid returns an EINVALID error naming each bad field.
func Invalid(fields ...FieldError) *Error {
	msg := "invalid input"
	if len(fields) > 0 {
		msg = fields[0].Field + ": " + fields[0].Message
		if len(fields) > 1 {
			msg += fmt.Sprintf(" (and %d more)", len(fields)-1)
		}
	}
	return &Error{Code: EINVALID, Message: msg, Fields: fields}
}

// ErrorCode returns the code of the first *Error in err's chain, or EINTERNAL
// when there is none (an error the caller was never meant to see).
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the message of the first *Error in err's chain, or a
// generic message for internal errors, so no internal detail leaks.
func ErrorMessage(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Message
	}
	return "Internal error."
}

// ErrorFields returns the field errors of the first *Error in err's chain.
func ErrorFields(err error) []FieldError {
	var e *Error
	if errors.As(err, &e) {
		return e.Fields
	}
	return nil
}

// Sentinels that code branches on.
var (
	// ErrNotFound is returned by store lookups when no row matches.
	ErrNotFound = &Error{Code: ENOTFOUND, Message: "Not found."}
	// ErrInvalidTransition is wrapped by every refused status change; the
	// wrapping *Error names the current status and the trigger.
	ErrInvalidTransition = errors.New("invalid transition")
)
