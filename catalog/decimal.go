package catalog

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
)

// parseDecimal reads an unsigned decimal such as "12.5" or "0.0725" exactly,
// as an integer count of 10^-scale units: parseDecimal("0.0725", 6) is
// 72500. Digits past scale must be zeros. ok is false for anything else
// (signs, exponents, empty parts, overflow); no float is involved.
func parseDecimal(s string, scale int) (n int64, ok bool) {
	whole, frac, dot := strings.Cut(s, ".")
	if whole == "" || (dot && frac == "") {
		return 0, false
	}
	if len(frac) > scale {
		if strings.Trim(frac[scale:], "0") != "" {
			return 0, false
		}
		frac = frac[:scale]
	}
	frac += strings.Repeat("0", scale-len(frac))
	for _, c := range whole + frac {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := int64(c - '0')
		if n > (math.MaxInt64-d)/10 { // n*10+d would overflow
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}

// formatDecimal writes n units of 10^-scale as the shortest exact decimal:
// formatDecimal(72500, 6) is "0.0725", formatDecimal(1000, 2) is "10".
func formatDecimal(n int64, scale int) string {
	neg := n < 0
	if neg {
		n = -n
	}
	var unit int64 = 1
	for range scale {
		unit *= 10
	}
	s := strconv.FormatInt(n/unit, 10)
	if f := n % unit; f != 0 {
		frac := strconv.FormatInt(f, 10)
		s += "." + strings.TrimRight(strings.Repeat("0", scale-len(frac))+frac, "0")
	}
	if neg {
		s = "-" + s
	}
	return s
}

// RatePPMScale is the number of decimals a tax rate keeps (parts per million).
const RatePPMScale = 6

// ParseTaxRate reads a tax rate written as a decimal fraction ("0.0725" is
// 7.25%) exactly, in parts per million (72500). It must be between 0 and 1
// with at most six decimals.
func ParseTaxRate(s string) (int64, bool) {
	ppm, ok := parseDecimal(strings.TrimSpace(s), RatePPMScale)
	if !ok || ppm > 1_000_000 {
		return 0, false
	}
	return ppm, true
}

// FormatTaxRate writes a rate in parts per million as a decimal fraction:
// 72500 is "0.0725".
func FormatTaxRate(ppm int64) string { return formatDecimal(ppm, RatePPMScale) }

// ParsePercent reads a percentage ("12.5" is 12.5%) exactly, in basis points
// (1250). It must be between 0 and 100 with at most two decimals.
func ParsePercent(s string) (int64, bool) {
	bp, ok := parseDecimal(strings.TrimSpace(s), 2)
	if !ok || bp > 10_000 {
		return 0, false
	}
	return bp, true
}

// FormatPercent writes basis points as a percentage: 1250 is "12.5".
func FormatPercent(bp int64) string { return formatDecimal(bp, 2) }

// Decimal is a decimal number as written in JSON, either as a number (12.5)
// or as a string ("0.0725"), kept as its exact text: never a float. Any
// other JSON value is kept as its text too, so that validation, not
// decoding, names the field. null is "".
type Decimal string

// UnmarshalJSON keeps the text of the value.
func (d *Decimal) UnmarshalJSON(b []byte) error {
	switch {
	case string(b) == "null":
		*d = ""
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*d = Decimal(s)
	default:
		*d = Decimal(b)
	}
	return nil
}
