package postgres

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/toteorg/tote"
)

// nullString stores an empty external id as NULL, which the partial unique
// indexes ignore.
func nullString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func checkRows(tag interface{ RowsAffected() int64 }, err error, what string) error {
	if err == nil && tag.RowsAffected() == 0 {
		err = pgx.ErrNoRows
	}
	return interpretError(err, what)
}

// CreateMerchant inserts m and sets its ID.
func (tx *Tx) CreateMerchant(ctx context.Context, m *tote.Merchant) error {
	sandbox, err := json.Marshal(m.Sandbox)
	if err != nil {
		return fmt.Errorf("postgres: encode sandbox behaviour: %w", err)
	}
	err = tx.tx.QueryRow(ctx, `
		INSERT INTO merchants (external_id, name, platform, currency, commission_rate, sandbox,
			date_created, date_last_modified)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
		nullString(m.ExternalID), m.Name, m.Platform, m.Currency, m.CommissionRate, sandbox,
		m.DateCreated, m.DateModified).Scan(&m.ID)
	return interpretError(err, "create merchant")
}

// UpdateMerchant saves every field but ID and DateCreated.
func (tx *Tx) UpdateMerchant(ctx context.Context, m *tote.Merchant) error {
	sandbox, err := json.Marshal(m.Sandbox)
	if err != nil {
		return fmt.Errorf("postgres: encode sandbox behaviour: %w", err)
	}
	tag, err := tx.tx.Exec(ctx, `
		UPDATE merchants SET external_id = $1, name = $2, platform = $3, currency = $4,
			commission_rate = $5, sandbox = $6, date_last_modified = $7
		WHERE id = $8`,
		nullString(m.ExternalID), m.Name, m.Platform, m.Currency, m.CommissionRate, sandbox,
		m.DateModified, m.ID)
	return checkRows(tag, err, fmt.Sprintf("update merchant %d", m.ID))
}

const merchantColumns = `id, external_id, name, platform, currency, commission_rate, sandbox,
	date_created, date_last_modified`

func scanMerchant(row pgx.Row) (*tote.Merchant, error) {
	var m tote.Merchant
	var ext *string
	var sandbox []byte
	if err := row.Scan(&m.ID, &ext, &m.Name, &m.Platform, &m.Currency, &m.CommissionRate, &sandbox,
		&m.DateCreated, &m.DateModified); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(sandbox, &m.Sandbox); err != nil {
		return nil, fmt.Errorf("decode sandbox behaviour of merchant %d: %w", m.ID, err)
	}
	m.ExternalID = str(ext)
	m.DateCreated, m.DateModified = m.DateCreated.UTC(), m.DateModified.UTC()
	return &m, nil
}

// LockMerchant reads the merchant with FOR UPDATE: a change of it, or of
// what it sells, waits for another one to commit and then sees it.
func (tx *Tx) LockMerchant(ctx context.Context, id int64) (*tote.Merchant, error) {
	m, err := scanMerchant(tx.tx.QueryRow(ctx, `SELECT `+merchantColumns+` FROM merchants WHERE id = $1 FOR UPDATE`, id))
	if err != nil {
		return nil, interpretError(err, fmt.Sprintf("lock merchant %d", id))
	}
	return m, nil
}

func (r reader) FindMerchantByID(ctx context.Context, id int64) (*tote.Merchant, error) {
	m, err := scanMerchant(r.q.QueryRow(ctx, `SELECT `+merchantColumns+` FROM merchants WHERE id = $1`, id))
	if err != nil {
		return nil, interpretError(err, fmt.Sprintf("find merchant %d", id))
	}
	return m, nil
}

func (r reader) FindMerchantByExternalID(ctx context.Context, externalID string) (*tote.Merchant, error) {
	m, err := scanMerchant(r.q.QueryRow(ctx,
		`SELECT `+merchantColumns+` FROM merchants WHERE external_id = $1`, externalID))
	if err != nil {
		return nil, interpretError(err, fmt.Sprintf("find merchant %q", externalID))
	}
	return m, nil
}

func (r reader) FindMerchants(ctx context.Context, page tote.Page) ([]*tote.Merchant, int64, error) {
	var total int64
	if err := r.q.QueryRow(ctx, `SELECT count(*) FROM merchants`).Scan(&total); err != nil {
		return nil, 0, interpretError(err, "count merchants")
	}
	rows, err := r.q.Query(ctx, `SELECT `+merchantColumns+` FROM merchants ORDER BY id LIMIT $1 OFFSET $2`,
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
	err := tx.tx.QueryRow(ctx, `
		INSERT INTO skus (merchant_id, external_id, name, price, currency, inventory, weight,
			requires_shipping, product_type, date_created, date_last_modified)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id`,
		s.MerchantID, nullString(s.ExternalID), s.Name, s.Price, s.Currency, s.Inventory, s.Weight,
		s.RequiresShipping, s.ProductType, s.DateCreated, s.DateModified).Scan(&s.ID)
	return interpretError(err, "create sku")
}

// UpdateSKU saves every field but ID, MerchantID and DateCreated.
func (tx *Tx) UpdateSKU(ctx context.Context, s *tote.SKU) error {
	tag, err := tx.tx.Exec(ctx, `
		UPDATE skus SET external_id = $1, name = $2, price = $3, currency = $4, inventory = $5,
			weight = $6, requires_shipping = $7, product_type = $8, date_last_modified = $9
		WHERE id = $10`,
		nullString(s.ExternalID), s.Name, s.Price, s.Currency, s.Inventory, s.Weight,
		s.RequiresShipping, s.ProductType, s.DateModified, s.ID)
	return checkRows(tag, err, fmt.Sprintf("update sku %d", s.ID))
}

const skuColumns = `id, merchant_id, external_id, name, price, currency, inventory, weight,
	requires_shipping, product_type, date_created, date_last_modified`

func scanSKU(row pgx.Row) (*tote.SKU, error) {
	var s tote.SKU
	var ext *string
	if err := row.Scan(&s.ID, &s.MerchantID, &ext, &s.Name, &s.Price, &s.Currency, &s.Inventory,
		&s.Weight, &s.RequiresShipping, &s.ProductType, &s.DateCreated, &s.DateModified); err != nil {
		return nil, err
	}
	s.ExternalID = str(ext)
	s.DateCreated, s.DateModified = s.DateCreated.UTC(), s.DateModified.UTC()
	return &s, nil
}

func (r reader) FindSKUByID(ctx context.Context, id int64) (*tote.SKU, error) {
	s, err := scanSKU(r.q.QueryRow(ctx, `SELECT `+skuColumns+` FROM skus WHERE id = $1`, id))
	if err != nil {
		return nil, interpretError(err, fmt.Sprintf("find sku %d", id))
	}
	return s, nil
}

func (r reader) FindSKUByExternalID(ctx context.Context, merchantID int64, externalID string) (*tote.SKU, error) {
	s, err := scanSKU(r.q.QueryRow(ctx,
		`SELECT `+skuColumns+` FROM skus WHERE merchant_id = $1 AND external_id = $2`, merchantID, externalID))
	if err != nil {
		return nil, interpretError(err, fmt.Sprintf("find sku %q of merchant %d", externalID, merchantID))
	}
	return s, nil
}

func (r reader) FindSKUs(ctx context.Context, merchantID int64, page tote.Page) ([]*tote.SKU, int64, error) {
	where, args := ``, []any{}
	if merchantID != 0 {
		where, args = ` WHERE merchant_id = $1`, append(args, merchantID)
	}
	var total int64
	if err := r.q.QueryRow(ctx, `SELECT count(*) FROM skus`+where, args...).Scan(&total); err != nil {
		return nil, 0, interpretError(err, "count skus")
	}
	n := len(args)
	rows, err := r.q.Query(ctx, `SELECT `+skuColumns+` FROM skus`+where+
		fmt.Sprintf(` ORDER BY id LIMIT $%d OFFSET $%d`, n+1, n+2), append(args, page.Size, page.Offset())...)
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
	err := tx.tx.QueryRow(ctx, `
		INSERT INTO shipping_methods (merchant_id, external_id, label, carrier, price, type,
			min_subtotal, max_subtotal, date_created)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
		m.MerchantID, nullString(m.ExternalID), m.Label, m.Carrier, m.Price, m.Type,
		m.MinSubtotal, m.MaxSubtotal, m.DateCreated).Scan(&m.ID)
	return interpretError(err, "create shipping method")
}

// UpdateShippingMethod saves every field but ID, MerchantID and DateCreated.
func (tx *Tx) UpdateShippingMethod(ctx context.Context, m *tote.ShippingMethod) error {
	tag, err := tx.tx.Exec(ctx, `
		UPDATE shipping_methods SET external_id = $1, label = $2, carrier = $3, price = $4,
			type = $5, min_subtotal = $6, max_subtotal = $7
		WHERE id = $8`,
		nullString(m.ExternalID), m.Label, m.Carrier, m.Price, m.Type, m.MinSubtotal, m.MaxSubtotal, m.ID)
	return checkRows(tag, err, fmt.Sprintf("update shipping method %d", m.ID))
}

const shippingMethodColumns = `id, merchant_id, external_id, label, carrier, price, type,
	min_subtotal, max_subtotal, date_created`

func scanShippingMethod(row pgx.Row) (*tote.ShippingMethod, error) {
	var m tote.ShippingMethod
	var ext *string
	if err := row.Scan(&m.ID, &m.MerchantID, &ext, &m.Label, &m.Carrier, &m.Price, &m.Type,
		&m.MinSubtotal, &m.MaxSubtotal, &m.DateCreated); err != nil {
		return nil, err
	}
	m.ExternalID, m.DateCreated = str(ext), m.DateCreated.UTC()
	return &m, nil
}

func (r reader) FindShippingMethodByID(ctx context.Context, id int64) (*tote.ShippingMethod, error) {
	m, err := scanShippingMethod(r.q.QueryRow(ctx,
		`SELECT `+shippingMethodColumns+` FROM shipping_methods WHERE id = $1`, id))
	if err != nil {
		return nil, interpretError(err, fmt.Sprintf("find shipping method %d", id))
	}
	return m, nil
}

func (r reader) FindShippingMethods(ctx context.Context, merchantID int64) ([]*tote.ShippingMethod, error) {
	rows, err := r.q.Query(ctx,
		`SELECT `+shippingMethodColumns+` FROM shipping_methods WHERE merchant_id = $1 ORDER BY id`, merchantID)
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
	err := tx.tx.QueryRow(ctx, `
		INSERT INTO tax_rates (merchant_id, country, state, rate_ppm, applies_to_shipping, date_created)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (merchant_id, country, state) DO UPDATE SET
			rate_ppm = excluded.rate_ppm, applies_to_shipping = excluded.applies_to_shipping
		RETURNING id, date_created`,
		r.MerchantID, r.Country, r.State, r.RatePPM, r.AppliesToShipping, r.DateCreated).
		Scan(&r.ID, &r.DateCreated)
	if err != nil {
		return interpretError(err, "save tax rate")
	}
	r.DateCreated = r.DateCreated.UTC() // a replaced rate keeps its creation date
	return nil
}

func (r reader) FindTaxRates(ctx context.Context, merchantID int64) ([]*tote.TaxRate, error) {
	rows, err := r.q.Query(ctx, `
		SELECT id, merchant_id, country, state, rate_ppm, applies_to_shipping, date_created
		FROM tax_rates WHERE merchant_id = $1 ORDER BY country, state, id`, merchantID)
	if err != nil {
		return nil, interpretError(err, "find tax rates")
	}
	defer rows.Close()
	rates := []*tote.TaxRate{}
	for rows.Next() {
		var t tote.TaxRate
		if err := rows.Scan(&t.ID, &t.MerchantID, &t.Country, &t.State, &t.RatePPM,
			&t.AppliesToShipping, &t.DateCreated); err != nil {
			return nil, interpretError(err, "scan tax rate")
		}
		t.DateCreated = t.DateCreated.UTC()
		rates = append(rates, &t)
	}
	return rates, interpretError(rows.Err(), "find tax rates")
}
