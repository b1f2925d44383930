package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/toteorg/tote"
)

func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

func nullInt64(p *int64) sql.NullInt64 {
	if p == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: *p, Valid: true}
}

func fromNullInt64(v sql.NullInt64) *int64 {
	if !v.Valid {
		return nil
	}
	n := v.Int64
	return &n
}

// CreateMerchant inserts m and sets its ID.
func (tx *Tx) CreateMerchant(ctx context.Context, m *tote.Merchant) error {
	sandbox, err := json.Marshal(m.Sandbox)
	if err != nil {
		return fmt.Errorf("sqlite: encode sandbox behaviour: %w", err)
	}
	err = tx.tx.QueryRowContext(ctx, `
		INSERT INTO merchants (external_id, name, platform, currency, commission_rate, sandbox,
			date_created, date_last_modified)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		nullString(m.ExternalID), m.Name, m.Platform, m.Currency, nullInt64(m.CommissionRate), sandbox,
		micros(m.DateCreated), micros(m.DateModified)).Scan(&m.ID)
	return interpretError(err, "create merchant")
}

// UpdateMerchant saves every field but ID and DateCreated.
func (tx *Tx) UpdateMerchant(ctx context.Context, m *tote.Merchant) error {
	sandbox, err := json.Marshal(m.Sandbox)
	if err != nil {
		return fmt.Errorf("sqlite: encode sandbox behaviour: %w", err)
	}
	res, err := tx.tx.ExecContext(ctx, `
		UPDATE merchants SET external_id = ?, name = ?, platform = ?, currency = ?,
			commission_rate = ?, sandbox = ?, date_last_modified = ?
		WHERE id = ?`,
		nullString(m.ExternalID), m.Name, m.Platform, m.Currency, nullInt64(m.CommissionRate), sandbox,
		micros(m.DateModified), m.ID)
	return checkCatalogUpdated(res, err, fmt.Sprintf("update merchant %d", m.ID))
}

func checkCatalogUpdated(res sql.Result, err error, what string) error {
	if err != nil {
		return interpretError(err, what)
	}
	return checkUpdated(res, nil, what)
}

const merchantColumns = `id, external_id, name, platform, currency, commission_rate, sandbox,
	date_created, date_last_modified`

func scanMerchant(row interface{ Scan(...any) error }) (*tote.Merchant, error) {
	var m tote.Merchant
	var ext sql.NullString
	var rate sql.NullInt64
	var sandbox []byte
	var created, modified int64
	if err := row.Scan(&m.ID, &ext, &m.Name, &m.Platform, &m.Currency, &rate, &sandbox, &created, &modified); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(sandbox, &m.Sandbox); err != nil {
		return nil, fmt.Errorf("decode sandbox behaviour of merchant %d: %w", m.ID, err)
	}
	m.ExternalID, m.CommissionRate = ext.String, fromNullInt64(rate)
	m.DateCreated, m.DateModified = fromMicros(created), fromMicros(modified)
	return &m, nil
}

// LockMerchant returns the merchant; the transaction already holds
// SQLite's write lock.
func (tx *Tx) LockMerchant(ctx context.Context, id int64) (*tote.Merchant, error) {
	return tx.FindMerchantByID(ctx, id)
}

func (r reader) FindMerchantByID(ctx context.Context, id int64) (*tote.Merchant, error) {
	m, err := scanMerchant(r.q.QueryRowContext(ctx, `SELECT `+merchantColumns+` FROM merchants WHERE id = ?`, id))
	if err != nil {
		return nil, interpretError(err, fmt.Sprintf("find merchant %d", id))
	}
	return m, nil
}

func (r reader) FindMerchantByExternalID(ctx context.Context, externalID string) (*tote.Merchant, error) {
	m, err := scanMerchant(r.q.QueryRowContext(ctx,
		`SELECT `+merchantColumns+` FROM merchants WHERE external_id = ?`, externalID))
	if err != nil {
		return nil, interpretError(err, fmt.Sprintf("find merchant %q", externalID))
	}
	return m, nil
}

func (r reader) FindMerchants(ctx context.Context, page tote.Page) ([]*tote.Merchant, int64, error) {
	var total int64
	if err := r.q.QueryRowContext(ctx, `SELECT count(*) FROM merchants`).Scan(&total); err != nil {
		return nil, 0, interpretError(err, "count merchants")
	}
	rows, err := r.q.QueryContext(ctx, `SELECT `+merchantColumns+` FROM merchants ORDER BY id LIMIT ? OFFSET ?`,
		page.Size, page.Offset())
	if err != nil {
		return nil, 0, interpretError(err, "find merchants")
	}
	defer rows.Close()
	merchants := []*tote.Merchant{}
	for rows.Next() {
		m, err := scanMerchant(rows)
		if err != nil {
			return nil, 0, interpretError(err, "scan merchant")
		}
		merchants = append(merchants, m)
	}
	return merchants, total, interpretError(rows.Err(), "find merchants")
}

// CreateSKU inserts s and sets its ID.
func (tx *Tx) CreateSKU(ctx context.Context, s *tote.SKU) error {
	err := tx.tx.QueryRowContext(ctx, `
		INSERT INTO skus (merchant_id, external_id, name, price, currency, inventory, weight,
			requires_shipping, product_type, date_created, date_last_modified)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		s.MerchantID, nullString(s.ExternalID), s.Name, s.Price, s.Currency, s.Inventory, s.Weight,
		s.RequiresShipping, s.ProductType, micros(s.DateCreated), micros(s.DateModified)).Scan(&s.ID)
	return interpretError(err, "create sku")
}

// UpdateSKU saves every field but ID, MerchantID and DateCreated.
func (tx *Tx) UpdateSKU(ctx context.Context, s *tote.SKU) error {
	res, err := tx.tx.ExecContext(ctx, `
		UPDATE skus SET external_id = ?, name = ?, price = ?, currency = ?, inventory = ?,
			weight = ?, requires_shipping = ?, product_type = ?, date_last_modified = ?
		WHERE id = ?`,
		nullString(s.ExternalID), s.Name, s.Price, s.Currency, s.Inventory, s.Weight,
		s.RequiresShipping, s.ProductType, micros(s.DateModified), s.ID)
	return checkCatalogUpdated(res, err, fmt.Sprintf("update sku %d", s.ID))
}

const skuColumns = `id, merchant_id, external_id, name, price, currency, inventory, weight,
	requires_shipping, product_type, date_created, date_last_modified`

func scanSKU(row interface{ Scan(...any) error }) (*tote.SKU, error) {
	var s tote.SKU
	var ext sql.NullString
	var created, modified int64
	if err := row.Scan(&s.ID, &s.MerchantID, &ext, &s.Name, &s.Price, &s.Currency, &s.Inventory,
		&s.Weight, &s.RequiresShipping, &s.ProductType, &created, &modified); err != nil {
		return nil, err
	}
	s.ExternalID = ext.String
	s.DateCreated, s.DateModified = fromMicros(created), fromMicros(modified)
	return &s, nil
}

func (r reader) FindSKUByID(ctx context.Context, id int64) (*tote.SKU, error) {
	s, err := scanSKU(r.q.QueryRowContext(ctx, `SELECT `+skuColumns+` FROM skus WHERE id = ?`, id))
	if err != nil {
		return nil, interpretError(err, fmt.Sprintf("find sku %d", id))
	}
	return s, nil
}

func (r reader) FindSKUByExternalID(ctx context.Context, merchantID int64, externalID string) (*tote.SKU, error) {
	s, err := scanSKU(r.q.QueryRowContext(ctx,
		`SELECT `+skuColumns+` FROM skus WHERE merchant_id = ? AND external_id = ?`, merchantID, externalID))
	if err != nil {
		return nil, interpretError(err, fmt.Sprintf("find sku %q of merchant %d", externalID, merchantID))
	}
	return s, nil
}

func (r reader) FindSKUs(ctx context.Context, merchantID int64, page tote.Page) ([]*tote.SKU, int64, error) {
	where, args := ``, []any{}
	if merchantID != 0 {
		where, args = ` WHERE merchant_id = ?`, append(args, merchantID)
	}
	var total int64
	if err := r.q.QueryRowContext(ctx, `SELECT count(*) FROM skus`+where, args...).Scan(&total); err != nil {
		return nil, 0, interpretError(err, "count skus")
	}
	rows, err := r.q.QueryContext(ctx, `SELECT `+skuColumns+` FROM skus`+where+` ORDER BY id LIMIT ? OFFSET ?`,
		append(args, page.Size, page.Offset())...)
	if err != nil {
		return nil, 0, interpretError(err, "find skus")
	}
	defer rows.Close()
	skus := []*tote.SKU{}
	for rows.Next() {
		s, err := scanSKU(rows)
		if err != nil {
			return nil, 0, interpretError(err, "scan sku")
		}
		skus = append(skus, s)
	}
	return skus, total, interpretError(rows.Err(), "find skus")
}

// CreateShippingMethod inserts m and sets its ID.
func (tx *Tx) CreateShippingMethod(ctx context.Context, m *tote.ShippingMethod) error {
	err := tx.tx.QueryRowContext(ctx, `
		INSERT INTO shipping_methods (merchant_id, external_id, label, carrier, price, type,
			min_subtotal, max_subtotal, date_created)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		m.MerchantID, nullString(m.ExternalID), m.Label, m.Carrier, m.Price, m.Type,
		nullInt64(m.MinSubtotal), nullInt64(m.MaxSubtotal), micros(m.DateCreated)).Scan(&m.ID)
	return interpretError(err, "create shipping method")
}

// UpdateShippingMethod saves every field but ID, MerchantID and DateCreated.
func (tx *Tx) UpdateShippingMethod(ctx context.Context, m *tote.ShippingMethod) error {
	res, err := tx.tx.ExecContext(ctx, `
		UPDATE shipping_methods SET external_id = ?, label = ?, carrier = ?, price = ?, type = ?,
			min_subtotal = ?, max_subtotal = ?
		WHERE id = ?`,
		nullString(m.ExternalID), m.Label, m.Carrier, m.Price, m.Type,
		nullInt64(m.MinSubtotal), nullInt64(m.MaxSubtotal), m.ID)
	return checkCatalogUpdated(res, err, fmt.Sprintf("update shipping method %d", m.ID))
}

const shippingMethodColumns = `id, merchant_id, external_id, label, carrier, price, type,
	min_subtotal, max_subtotal, date_created`

func scanShippingMethod(row interface{ Scan(...any) error }) (*tote.ShippingMethod, error) {
	var m tote.ShippingMethod
	var ext sql.NullString
	var lo, hi sql.NullInt64
	var created int64
	if err := row.Scan(&m.ID, &m.MerchantID, &ext, &m.Label, &m.Carrier, &m.Price, &m.Type,
		&lo, &hi, &created); err != nil {
		return nil, err
	}
	m.ExternalID, m.MinSubtotal, m.MaxSubtotal = ext.String, fromNullInt64(lo), fromNullInt64(hi)
	m.DateCreated = fromMicros(created)
	return &m, nil
}

func (r reader) FindShippingMethodByID(ctx context.Context, id int64) (*tote.ShippingMethod, error) {
	m, err := scanShippingMethod(r.q.QueryRowContext(ctx,
		`SELECT `+shippingMethodColumns+` FROM shipping_methods WHERE id = ?`, id))
	if err != nil {
		return nil, interpretError(err, fmt.Sprintf("find shipping method %d", id))
	}
	return m, nil
}

func (r reader) FindShippingMethods(ctx context.Context, merchantID int64) ([]*tote.ShippingMethod, error) {
	rows, err := r.q.QueryContext(ctx,
		`SELECT `+shippingMethodColumns+` FROM shipping_methods WHERE merchant_id = ? ORDER BY id`, merchantID)
	if err != nil {
		return nil, interpretError(err, "find shipping methods")
	}
	defer rows.Close()
	methods := []*tote.ShippingMethod{}
	for rows.Next() {
		m, err := scanShippingMethod(rows)
		if err != nil {
			return nil, interpretError(err, "scan shipping method")
		}
		methods = append(methods, m)
	}
	return methods, interpretError(rows.Err(), "find shipping methods")
}

// SaveTaxRate creates or replaces the merchant's rate for (Country, State).
func (tx *Tx) SaveTaxRate(ctx context.Context, r *tote.TaxRate) error {
	var created int64
	err := tx.tx.QueryRowContext(ctx, `
		INSERT INTO tax_rates (merchant_id, country, state, rate_ppm, applies_to_shipping, date_created)
		VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (merchant_id, country, state) DO UPDATE SET
			rate_ppm = excluded.rate_ppm, applies_to_shipping = excluded.applies_to_shipping
		RETURNING id, date_created`,
		r.MerchantID, r.Country, r.State, r.RatePPM, r.AppliesToShipping, micros(r.DateCreated)).
		Scan(&r.ID, &created)
	if err != nil {
		return interpretError(err, "save tax rate")
	}
	r.DateCreated = fromMicros(created) // a replaced rate keeps its creation date
	return nil
}

func (r reader) FindTaxRates(ctx context.Context, merchantID int64) ([]*tote.TaxRate, error) {
	rows, err := r.q.QueryContext(ctx, `
		SELECT id, merchant_id, country, state, rate_ppm, applies_to_shipping, date_created
		FROM tax_rates WHERE merchant_id = ? ORDER BY country, state, id`, merchantID)
	if err != nil {
		return nil, interpretError(err, "find tax rates")
	}
	defer rows.Close()
	rates := []*tote.TaxRate{}
	for rows.Next() {
		var t tote.TaxRate
		var created int64
		if err := rows.Scan(&t.ID, &t.MerchantID, &t.Country, &t.State, &t.RatePPM,
			&t.AppliesToShipping, &created); err != nil {
			return nil, interpretError(err, "scan tax rate")
		}
		t.DateCreated = fromMicros(created)
		rates = append(rates, &t)
	}
	return rates, interpretError(rows.Err(), "find tax rates")
}
