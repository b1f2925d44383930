package sqlite

import (
	"context"
	"strings"
	"time"

	"github.com/toteorg/tote"
)

// where collects the conditions of a search.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, args ...any) {
	w.conds = append(w.conds, cond)
	w.args = append(w.args, args...)
}

func (w *where) sql() string { return " WHERE " + strings.Join(w.conds, " AND ") }

func addID(w *where, col string, v *int64) {
	if v != nil {
		w.add(col+" = ?", *v)
	}
}

func addText[S ~string](w *where, col string, v *S) {
	if v != nil {
		w.add(col+" = ?", string(*v))
	}
}

func addRange(w *where, col string, lo, hi *time.Time) {
	if lo != nil {
		w.add(col+" >= ?", micros(*lo))
	}
	if hi != nil {
		w.add(col+" <= ?", micros(*hi))
	}
}

// FindOrders returns a page of an app's orders, newest first.
func (r reader) FindOrders(ctx context.Context, f tote.OrderFilter, page tote.Page) ([]*tote.Order, int64, error) {
	w := &where{}
	w.add("app_id = ?", f.AppID)
	addID(w, "id", f.OrderID)
	addText(w, "app_order_id", f.AppOrderID)
	addText(w, "status", f.Status)
	if f.CustomerEmail != nil {
		w.add("customer_email = ?", strings.ToLower(*f.CustomerEmail))
	}
	addRange(w, "date_created", f.CreatedMin, f.CreatedMax)
	addRange(w, "date_last_modified", f.ModifiedMin, f.ModifiedMax)
	if f.ExcludeInProgress {
		w.add("status <> ?", tote.OrderStatusInProgress)
	}
	if f.BagID != nil || f.BagStatus != nil || f.MerchantID != nil {
		b := &where{}
		addID(b, "id", f.BagID)
		addText(b, "status", f.BagStatus)
		addID(b, "merchant_id", f.MerchantID)
		if f.BagID != nil || f.MerchantID != nil {
			// Selective: driven from the bags' (app, merchant) index.
			w.add("id IN (SELECT order_id FROM bags WHERE app_id = ? AND "+strings.Join(b.conds, " AND ")+")",
				append([]any{f.AppID}, b.args...)...)
		} else {
			// A status matches many bags: check each candidate order's.
			w.add("EXISTS (SELECT 1 FROM bags WHERE bags.order_id = orders.id AND "+strings.Join(b.conds, " AND ")+")", b.args...)
		}
	}
	var total int64
	if err := r.q.QueryRowContext(ctx, `SELECT count(*) FROM orders`+w.sql(), w.args...).Scan(&total); err != nil {
		return nil, 0, interpretError(err, "count orders")
	}
	rows, err := r.q.QueryContext(ctx, `SELECT `+orderColumns+` FROM orders`+w.sql()+
		` ORDER BY date_created DESC, id DESC LIMIT ? OFFSET ?`, append(w.args, page.Size, page.Offset())...)
	if err != nil {
		return nil, 0, interpretError(err, "find orders")
	}
	var orders []*tote.Order
	for rows.Next() {
		o, err := scanOrder(rows)
		if err != nil {
			rows.Close()
			return nil, 0, interpretError(err, "scan order")
		}
		orders = append(orders, o)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, 0, interpretError(err, "find orders")
	}
	for _, o := range orders {
		if err := r.loadOrder(ctx, o); err != nil {
			return nil, 0, err
		}
	}
	return orders, total, nil
}

var bagSortColumns = map[tote.BagSort]string{
	tote.BagSortID:            "id",
	tote.BagSortDateCreated:   "date_created",
	tote.BagSortDateModified:  "date_last_modified",
	tote.BagSortDateSubmitted: "date_submitted",
	tote.BagSortTotal:         "total",
	tote.BagSortSubTotal:      "sub_total",
	tote.BagSortShipping:      "shipping_total",
	tote.BagSortTax:           "tax_total",
}

// FindBags returns a page of an app's bags.
func (r reader) FindBags(ctx context.Context, f tote.BagFilter, page tote.Page) ([]*tote.Bag, int64, error) {
	w := &where{}
	w.add("app_id = ?", f.AppID)
	addID(w, "id", f.ID)
	addID(w, "order_id", f.OrderID)
	addID(w, "merchant_id", f.MerchantID)
	addText(w, "external_id", f.ExternalID)
	addText(w, "status", f.Status)
	addText(w, "financial_status", f.FinancialStatus)
	addText(w, "fulfillment_status", f.FulfillmentStatus)
	if f.AppOrderID != nil {
		w.add("order_id IN (SELECT id FROM orders WHERE app_id = ? AND app_order_id = ?)", f.AppID, *f.AppOrderID)
	}
	addRange(w, "date_created", f.CreatedMin, f.CreatedMax)
	addRange(w, "date_submitted", f.SubmittedMin, f.SubmittedMax)
	addRange(w, "date_last_modified", f.ModifiedMin, f.ModifiedMax)
	var total int64
	if err := r.q.QueryRowContext(ctx, `SELECT count(*) FROM bags`+w.sql(), w.args...).Scan(&total); err != nil {
		return nil, 0, interpretError(err, "count bags")
	}
	col, ok := bagSortColumns[f.Sort]
	if !ok {
		col = "id"
	}
	dir := " DESC"
	if f.Ascending {
		dir = " ASC"
	}
	nulls := "" // only date_submitted can be NULL: not yet submitted bags sort last
	if f.Sort == tote.BagSortDateSubmitted {
		nulls = " NULLS LAST"
	}
	bags, err := r.findBags(ctx, w.sql()+` ORDER BY `+col+dir+nulls+`, id`+dir+` LIMIT ? OFFSET ?`,
		append(w.args, page.Size, page.Offset())...)
	if err != nil {
		return nil, 0, err
	}
	for _, b := range bags {
		if err := r.loadSkus(ctx, []*tote.Bag{b}, `WHERE bag_id = ?`, b.ID); err != nil {
			return nil, 0, err
		}
		if b.Transactions, err = r.findTransactions(ctx, `WHERE order_id = ? AND bag_id = ?`, b.OrderID, b.ID); err != nil {
			return nil, 0, err
		}
	}
	return bags, total, nil
}
