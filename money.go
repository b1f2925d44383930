package tote

import (
	"errors"
	"fmt"
	"math"
)

// Money is an amount in minor units (cents for USD, yen for JPY) of one
// currency. Money is int64 minor units everywhere, end to end: never a
// float, never a decimal string inside the core. How many minor units make a
// major one depends on the currency and is the HTTP layer's business.
type Money struct {
	// Amount is in minor units. It may be negative (a difference), though
	// the amounts of an order never are.
	Amount int64
	// Currency is an ISO 4217 alphabetic code in upper case, such as "USD".
	Currency string
}

// ErrCurrencyMismatch is wrapped by the error Money arithmetic returns when
// the two amounts are in different currencies.
var ErrCurrencyMismatch = errors.New("currency mismatch")

// ErrAmountOverflow is wrapped by the error returned when an amount would
// not fit in an int64.
var ErrAmountOverflow = errors.New("amount overflow")

// ValidCurrency reports whether code is shaped like an ISO 4217 alphabetic
// code: three ASCII upper-case letters. It does not check the code exists.
func ValidCurrency(code string) bool {
	if len(code) != 3 {
		return false
	}
	for i := 0; i < len(code); i++ {
		if code[i] < 'A' || code[i] > 'Z' {
			return false
		}
	}
	return true
}

// Validate returns an EINVALID error when m's currency is malformed or its
// amount is negative, and nil otherwise. It is for amounts that come from
// outside (a refund amount, a bag total).
func (m Money) Validate() error {
	var fields []FieldError
	if !ValidCurrency(m.Currency) {
		fields = append(fields, FieldError{Field: "currency", Message: fmt.Sprintf("%q is not a three-letter currency code", m.Currency)})
	}
	if m.Amount < 0 {
		fields = append(fields, FieldError{Field: "amount", Message: "must not be negative"})
	}
	if len(fields) > 0 {
		return Invalid(fields...)
	}
	return nil
}

// IsZero reports whether the amount is zero.
func (m Money) IsZero() bool { return m.Amount == 0 }

// IsNegative reports whether the amount is below zero.
func (m Money) IsNegative() bool { return m.Amount < 0 }

// String returns the amount in minor units and the currency, such as
// "1999 USD".
func (m Money) String() string { return fmt.Sprintf("%d %s", m.Amount, m.Currency) }

// Add returns m + n. It refuses amounts in different currencies, and sums
// that overflow int64, with an EINVALID error.
func (m Money) Add(n Money) (Money, error) {
	if err := sameCurrency(m, n); err != nil {
		return Money{}, err
	}
	sum, ok := addAmounts(m.Amount, n.Amount)
	if !ok {
		return Money{}, overflow(m, "+", n)
	}
	return Money{Amount: sum, Currency: m.Currency}, nil
}

// Sub returns m - n. It refuses amounts in different currencies, and
// differences that overflow int64, with an EINVALID error. The result may be
// negative; callers that need it not to be check IsNegative.
func (m Money) Sub(n Money) (Money, error) {
	if err := sameCurrency(m, n); err != nil {
		return Money{}, err
	}
	diff, ok := subAmounts(m.Amount, n.Amount)
	if !ok {
		return Money{}, overflow(m, "-", n)
	}
	return Money{Amount: diff, Currency: m.Currency}, nil
}

// Cmp compares m and n: -1 if m < n, 0 if equal, +1 if m > n. It refuses
// amounts in different currencies.
func (m Money) Cmp(n Money) (int, error) {
	if err := sameCurrency(m, n); err != nil {
		return 0, err
	}
	switch {
	case m.Amount < n.Amount:
		return -1, nil
	case m.Amount > n.Amount:
		return 1, nil
	}
	return 0, nil
}

// SumMoney returns the sum of ms in currency; zero of currency when ms is
// empty. Any amount in another currency, or an overflow, is an error.
func SumMoney(currency string, ms ...Money) (Money, error) {
	total := Money{Currency: currency}
	for _, m := range ms {
		var err error
		if total, err = total.Add(m); err != nil {
			return Money{}, err
		}
	}
	return total, nil
}

func sameCurrency(m, n Money) error {
	if m.Currency != n.Currency {
		return &Error{
			Code:    EINVALID,
			Message: fmt.Sprintf("currency mismatch: %s and %s", m.Currency, n.Currency),
			Err:     ErrCurrencyMismatch,
		}
	}
	return nil
}

func overflow(m Money, op string, n Money) error {
	return &Error{
		Code:    EINVALID,
		Message: fmt.Sprintf("amount overflow: %d %s %d", m.Amount, op, n.Amount),
		Err:     ErrAmountOverflow,
	}
}

// addAmounts returns a + b and whether it fits in an int64.
func addAmounts(a, b int64) (int64, bool) {
	if (b > 0 && a > math.MaxInt64-b) || (b < 0 && a < math.MinInt64-b) {
		return 0, false
	}
	return a + b, true
}

// subAmounts returns a - b and whether it fits in an int64.
func subAmounts(a, b int64) (int64, bool) {
	if (b < 0 && a > math.MaxInt64+b) || (b > 0 && a < math.MinInt64+b) {
		return 0, false
	}
	return a - b, true
}
