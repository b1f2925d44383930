package catalog_test

import (
	"testing"

	"github.com/toteorg/tote/catalog"
)

func TestParseTaxRate(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int64{
		"0.0725": 72500, "0.06": 60000, "0": 0, "0.0": 0, "1": 1_000_000, "1.000000": 1_000_000,
		"0.000001": 1, "0.07250000": 72500, " 0.1 ": 100000, "00.5": 500000,
	} {
		got, ok := catalog.ParseTaxRate(in)
		if !ok || got != want {
			t.Errorf("ParseTaxRate(%q) = %d, %v; want %d", in, got, ok, want)
		}
	}
	for _, in := range []string{"", ".5", "5.", "1.0000001", "0.0000001", "-0.1", "+0.1", "1e-2", "7.25%",
		"1.5", "0x1", "0,07", "99999999999999999999999", "0200000000000000", "9223372036854.775808", "0.07.1", "NaN"} {
		if got, ok := catalog.ParseTaxRate(in); ok {
			t.Errorf("ParseTaxRate(%q) = %d, want a refusal", in, got)
		}
	}
}

func TestParsePercent(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int64{"10": 1000, "12.5": 1250, "0.01": 1, "100": 10000, "0": 0, "7.50": 750} {
		got, ok := catalog.ParsePercent(in)
		if !ok || got != want {
			t.Errorf("ParsePercent(%q) = %d, %v; want %d", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "-1", "101", "100.01", "10.555", "ten", "1e1"} {
		if got, ok := catalog.ParsePercent(in); ok {
			t.Errorf("ParsePercent(%q) = %d, want a refusal", in, got)
		}
	}
}

func TestFormatRoundTrip(t *testing.T) {
	t.Parallel()
	for ppm, want := range map[int64]string{72500: "0.0725", 60000: "0.06", 0: "0", 1_000_000: "1", 1: "0.000001", 100000: "0.1"} {
		if got := catalog.FormatTaxRate(ppm); got != want {
			t.Errorf("FormatTaxRate(%d) = %q, want %q", ppm, got, want)
		}
		if back, ok := catalog.ParseTaxRate(want); !ok || back != ppm {
			t.Errorf("ParseTaxRate(FormatTaxRate(%d)) = %d", ppm, back)
		}
	}
	for bp, want := range map[int64]string{1250: "12.5", 1000: "10", 1: "0.01", 0: "0", 10000: "100"} {
		if got := catalog.FormatPercent(bp); got != want {
			t.Errorf("FormatPercent(%d) = %q, want %q", bp, got, want)
		}
	}
}

func FuzzParseTaxRate(f *testing.F) {
	for _, s := range []string{"0.0725", "1", "0.000001", "1.5", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ppm, ok := catalog.ParseTaxRate(s)
		if !ok {
			return
		}
		if ppm < 0 || ppm > 1_000_000 {
			t.Fatalf("ParseTaxRate(%q) = %d, out of range", s, ppm)
		}
		if back, ok := catalog.ParseTaxRate(catalog.FormatTaxRate(ppm)); !ok || back != ppm {
			t.Fatalf("round trip of %q: %d → %q → %d", s, ppm, catalog.FormatTaxRate(ppm), back)
		}
	})
}
