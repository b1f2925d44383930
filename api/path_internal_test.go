package api

import "testing"

func TestPathAt(t *testing.T) {
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
		if got := pathAt([]byte(data), end); got != c.want {
			t.Errorf("value before byte %d (%s): path %q, want %q", end, c.after, got, c.want)
		}
	}
	// A number past float64's range is still a token.
	huge := `{"bags": [{"skus": [{"quantity": 1e400}]}]}`
	if got := pathAt([]byte(huge), int64(indexEnd(huge, "1e400"))); got != "bags[0].skus[0].quantity" {
		t.Errorf("1e400: path %q", got)
	}
	if got := pathAt([]byte(`{"a": 1}`), 9); got != "" {
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
