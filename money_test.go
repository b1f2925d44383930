package tote

import (
	"errors"
	"math"
	"testing"
)

func usd(n int64) Money { return Money{Amount: n, Currency: "USD"} }

func TestMoneyArithmetic(t *testing.T) {
	t.Parallel()
	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		if got, err := usd(1999).Add(usd(1)); err != nil || got != usd(2000) {
			t.Errorf("Add = (%v, %v)", got, err)
		}
		if got, err := usd(5).Sub(usd(7)); err != nil || got != usd(-2) || !got.IsNegative() {
			t.Errorf("Sub = (%v, %v)", got, err)
		}
		if c, err := usd(5).Cmp(usd(7)); err != nil || c != -1 {
			t.Errorf("Cmp = (%d, %v)", c, err)
		}
		if c, _ := usd(7).Cmp(usd(7)); c != 0 {
			t.Errorf("Cmp equal = %d", c)
		}
		if c, _ := usd(8).Cmp(usd(7)); c != 1 {
			t.Errorf("Cmp greater = %d", c)
		}
		if got, err := SumMoney("USD", usd(1), usd(2), usd(3)); err != nil || got != usd(6) {
			t.Errorf("SumMoney = (%v, %v)", got, err)
		}
		if got, err := SumMoney("EUR"); err != nil || got != (Money{Currency: "EUR"}) || !got.IsZero() {
			t.Errorf("SumMoney() = (%v, %v)", got, err)
		}
		if s := usd(1999).String(); s != "1999 USD" {
			t.Errorf("String = %q", s)
		}
	})
	t.Run("ErrCurrencyMismatch", func(t *testing.T) {
		t.Parallel()
		eur := Money{Amount: 1, Currency: "EUR"}
		_, err1 := usd(1).Add(eur)
		_, err2 := usd(1).Sub(eur)
		_, err3 := usd(1).Cmp(eur)
		_, err4 := SumMoney("USD", usd(1), eur)
		for i, err := range []error{err1, err2, err3, err4} {
			if !errors.Is(err, ErrCurrencyMismatch) || ErrorCode(err) != EINVALID {
				t.Errorf("op %d: error %v, want EINVALID wrapping ErrCurrencyMismatch", i, err)
			}
		}
	})
	t.Run("ErrAmountOverflow", func(t *testing.T) {
		t.Parallel()
		_, err1 := usd(math.MaxInt64).Add(usd(1))
		_, err2 := usd(math.MinInt64).Sub(usd(1))
		_, err3 := usd(math.MinInt64).Add(usd(-1))
		_, err4 := usd(0).Sub(usd(math.MinInt64))
		for i, err := range []error{err1, err2, err3, err4} {
			if !errors.Is(err, ErrAmountOverflow) || ErrorCode(err) != EINVALID {
				t.Errorf("op %d: error %v, want EINVALID wrapping ErrAmountOverflow", i, err)
			}
		}
		if got, err := usd(math.MaxInt64).Sub(usd(math.MaxInt64)); err != nil || !got.IsZero() {
			t.Errorf("MaxInt64 - MaxInt64 = (%v, %v)", got, err)
		}
		if got, err := usd(-1).Sub(usd(math.MaxInt64)); err != nil || got.Amount != math.MinInt64 {
			t.Errorf("-1 - MaxInt64 = (%v, %v)", got, err)
		}
	})
}

func TestMoneyValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		m      Money
		fields int
	}{
		{usd(0), 0},
		{usd(10), 0},
		{Money{Amount: 1, Currency: "usd"}, 1},
		{Money{Amount: 1, Currency: "US"}, 1},
		{Money{Amount: 1, Currency: ""}, 1},
		{Money{Amount: -1, Currency: "USD"}, 1},
		{Money{Amount: -1, Currency: "U$D"}, 2},
	} {
		err := tc.m.Validate()
		if got := len(ErrorFields(err)); got != tc.fields || (tc.fields > 0) != (ErrorCode(err) == EINVALID) {
			t.Errorf("%v.Validate() = %v with %d fields, want %d", tc.m, err, got, tc.fields)
		}
	}
}
