package jsonpath

import (
	"reflect"
	"testing"
)

func TestAt(t *testing.T) {
	data := `{"order": {"bags": [{"skus": [{"quantity": 1}]}, {"skus": [{"quantity": 2}, {"quantity": "3"}]}], "customer": [1, 2]}, "n": 5}`
	for _, c := range []struct {
		after, want string
	}{
		{`"3"`, "order.bags[1].skus[1].quantity"},
		{`"quantity": 1`, "order.bags[0].skus[0].quantity"},
		{`"customer": [`, "order.customer"}, // an array where an object belongs
		{`[1`, "order.customer[0]"},
		{`"n": 5`, "n"},
	} {
		end := int64(indexEnd(data, c.after))
		if got := At([]byte(data), end); got != c.want {
			t.Errorf("value before byte %d (%s): path %q, want %q", end, c.after, got, c.want)
		}
	}
	// A number past float64's range is still a token.
	huge := `{"bags": [{"skus": [{"quantity": 1e400}]}]}`
	if got := At([]byte(huge), int64(indexEnd(huge, "1e400"))); got != "bags[0].skus[0].quantity" {
		t.Errorf("1e400: path %q", got)
	}
	if got := At([]byte(`{"a": 1}`), 9); got != "" {
		t.Errorf("no value ends past the end, got %q", got)
	}
}

func indexEnd(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i + len(sub)
		}
	}
	return -1
}

func TestKind(t *testing.T) {
	for _, c := range []struct {
		v    any
		want string
	}{
		{"", "a string"}, {false, "a boolean"}, {[]int{}, "an array"}, {struct{}{}, "an object"},
		{map[string]int{}, "an object"}, {int64(0), "a number"}, {new(int64), "a number"},
	} {
		if got := Kind(reflect.TypeOf(c.v)); got != c.want {
			t.Errorf("Kind(%T) = %q, want %q", c.v, got, c.want)
		}
	}
}

func TestUnknown(t *testing.T) {
	type Inner struct {
		Price int    `json:"price"`
		Label string `json:"label,omitempty"`
	}
	type Base struct {
		Name string `json:"name"`
	}
	type Outer struct {
		Base
		Items  []Inner        `json:"items"`
		Labels map[string]int `json:"labels"`
		Extra  any            `json:"extra"`
		One    *Inner         `json:"one"`
		Skip   string         `json:"-"`
		Plain  int
	}
	typ := reflect.TypeFor[Outer]()
	for _, c := range []struct{ data, want string }{
		{`{"name": "a", "items": [{"price": 1}, {"price": 2, "label": "x"}], "labels": {"any": 1}, "extra": {"what": [1]}, "one": {"price": 3}, "Plain": 1}`, ""},
		{`{"NAME": "a", "ITEMS": [{"Price": 1}], "plain": 2}`, ""}, // keys match regardless of case, as encoding/json
		{`{"items": [{"price": 1}, {"price": 2, "colour": "red"}]}`, "items[1].colour"},
		{`{"one": {"price": 1, "cost": 2}}`, "one.cost"},
		{`{"name": "a", "nickname": "b"}`, "nickname"},
		{`{"Skip": "x"}`, "Skip"},
		{`{"items": [`, ""}, // not valid JSON: another error's business
	} {
		if got := Unknown([]byte(c.data), typ); got != c.want {
			t.Errorf("Unknown(%s) = %q, want %q", c.data, got, c.want)
		}
	}
}

// selfDecoding takes any JSON: Unknown does not look inside it.
type selfDecoding struct{ raw []byte }

func (s *selfDecoding) UnmarshalJSON(b []byte) error { s.raw = b; return nil }

func TestUnknownSkipsSelfDecoding(t *testing.T) {
	type doc struct {
		O selfDecoding  `json:"o"`
		P *selfDecoding `json:"p"`
	}
	for _, data := range []string{`{"o": {"zz": 1}}`, `{"p": {"zz": [1]}}`} {
		if got := Unknown([]byte(data), reflect.TypeFor[doc]()); got != "" {
			t.Errorf("Unknown(%s) = %q, want none", data, got)
		}
	}
}
