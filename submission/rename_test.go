package submission

import (
	"errors"
	"fmt"
	"testing"

	"github.com/toteorg/tote"
)

// An estimate groups its flat skus list into bags by merchant; its errors
// name the place in that list, not the bag.
func TestRenameFields(t *testing.T) {
	positions := [][]int{{0, 2}, {1}} // skus 0 and 2 are one merchant's, 1 another's
	bad := fields{
		{Field: "order.bags[1].skus[0].sku_id", Message: "a"},
		{Field: "order.bags[0].skus[1].quantity", Message: "b"},
		{Field: "order.bags[0].shipping_method", Message: "c"},
		{Field: "base_currency", Message: "d"},
	}
	var te *tote.Error
	if err := renameFields(bad, positions); !errors.As(err, &te) {
		t.Fatalf("err = %v", err)
	}
	var got []string
	for _, f := range te.Fields {
		got = append(got, f.Field)
	}
	if want := "[skus[1].sku_id skus[2].quantity skus[0] base_currency]"; fmt.Sprint(got) != want {
		t.Fatalf("fields %v, want %s", got, want)
	}
	if te.Message != "skus[1].sku_id: a (and 3 more)" {
		t.Fatalf("message %q", te.Message)
	}
}
