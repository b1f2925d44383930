package api

import (
	"net/http"
	"strconv"

	"github.com/toteorg/tote"
)

// Page sizes of paginated lists (API.md, "Pagination").
const (
	DefaultPageSize = 20
	MaxPageSize     = 100
)

// parsePage reads the query parameters page (1-based, default 1) and size
// (default 20). A size over 100 is served as 100, as Spring's pageable
// caps it (the page's size field says so); a value that is not a whole
// number, or below 1, is EINVALID naming the parameter.
func parsePage(r *http.Request) (tote.Page, error) {
	q := r.URL.Query()
	p := tote.Page{Number: 1, Size: DefaultPageSize}
	var bad []tote.FieldError
	if v := q.Get("page"); v != "" {
		n, err := strconv.ParseInt(v, 10, 32)
		if err != nil || n < 1 {
			bad = append(bad, tote.FieldError{Field: "page", Message: "must be a whole number from 1"})
		}
		p.Number = int(n)
	}
	if v := q.Get("size"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			bad = append(bad, tote.FieldError{Field: "size", Message: "must be a whole number from 1 (at most 100 are returned)"})
		}
		p.Size = min(n, MaxPageSize)
	}
	if len(bad) > 0 {
		return tote.Page{}, tote.Invalid(bad...)
	}
	return p, nil
}

// pageBody is one page of a list on the wire.
type pageBody[T any] struct {
	Content          []T   `json:"content"`
	Number           int   `json:"number"`
	Size             int   `json:"size"`
	NumberOfElements int   `json:"number_of_elements"`
	TotalElements    int64 `json:"total_elements"`
	TotalPages       int64 `json:"total_pages"`
	First            bool  `json:"first"`
	Last             bool  `json:"last"`
	Empty            bool  `json:"empty"`
}

// newPage converts the items of page p (out of total) with conv, and
// describes the page.
func newPage[D, T any](items []D, total int64, p tote.Page, conv func(D) T) pageBody[T] {
	content := make([]T, 0, len(items))
	for _, it := range items {
		content = append(content, conv(it))
	}
	pages := (total + int64(p.Size) - 1) / int64(p.Size)
	return pageBody[T]{
		Content:          content,
		Number:           p.Number,
		Size:             p.Size,
		NumberOfElements: len(content),
		TotalElements:    total,
		TotalPages:       pages,
		First:            p.Number == 1,
		Last:             int64(p.Number) >= pages,
		Empty:            len(content) == 0,
	}
}
