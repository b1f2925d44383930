package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/toteorg/tote"
	"github.com/toteorg/tote/api"
	"github.com/toteorg/tote/catalog"
)

const merchantsUsage = `Usage: tote merchants create --name NAME [--platform SANDBOX] [--currency USD]
       [--commission-rate PERCENT] [--external-id ID] [--sandbox-submit ACCEPT|REJECT|FAIL_RETRYABLE|TIMEOUT]
       [--sandbox-fail-times N] [--sandbox-latency-ms N] [--sandbox-cartless] [--sandbox-push-events=false]
       [--sandbox-backorder] [--data-dir DIR | --database-url URL]`

func runMerchants(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "create" {
		fmt.Fprintln(stderr, merchantsUsage)
		return flag.ErrHelp
	}
	fs := flag.NewFlagSet("tote merchants create", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var sf storeFlags
	sf.register(fs)
	var in catalog.MerchantInput
	var sb catalog.SandboxInput
	var rate string
	pushEvents := true
	fs.StringVar(&in.Name, "name", "", "the merchant's name (required)")
	fs.StringVar(&in.Platform, "platform", tote.PlatformSandbox, "the merchant's commerce platform")
	fs.StringVar(&in.Currency, "currency", "USD", "ISO 4217 currency of the merchant's prices")
	fs.StringVar(&rate, "commission-rate", "", "percentage of each bag's total the channel keeps, e.g. 10 (default: the app's)")
	fs.StringVar(&in.ExternalID, "external-id", "", "the merchant's id in catalog import files")
	fs.StringVar(&sb.Submit, "sandbox-submit", tote.SandboxAccept, "how the sandbox platform answers submissions: ACCEPT, REJECT, FAIL_RETRYABLE or TIMEOUT")
	fs.IntVar(&sb.FailTimes, "sandbox-fail-times", 0, "with FAIL_RETRYABLE: attempts that fail before one is accepted")
	fs.IntVar(&sb.LatencyMS, "sandbox-latency-ms", 0, "delay of every answer of the sandbox platform, in milliseconds")
	fs.BoolVar(&sb.Cartless, "sandbox-cartless", false, "the sandbox platform places orders without a cart")
	fs.BoolVar(&pushEvents, "sandbox-push-events", true, "the sandbox platform notifies Tote of changes (false: only reconciliation finds them)")
	fs.BoolVar(&sb.Backorder, "sandbox-backorder", false, "the sandbox platform backorders items")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "tote merchants create: unexpected argument %q\n%s\n", fs.Arg(0), merchantsUsage)
		return flag.ErrHelp
	}
	sb.PushEvents = &pushEvents
	in.CommissionRate, in.Sandbox = catalog.Decimal(rate), &sb
	store, _, err := sf.open(ctx)
	if err != nil {
		return err
	}
	defer store.Close()
	svc := &catalog.Service{Store: store, Clock: tote.SystemClock{}}
	m, err := svc.CreateMerchant(ctx, in)
	if err != nil {
		return cliFieldError(err)
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(api.ToMerchantResponse(m))
}

const catalogUsage = `Usage: tote catalog import [--data-dir DIR | --database-url URL] FILE.json

Loads merchants with their SKUs, shipping methods and tax rates, in one
transaction. Entries are matched by external_id, so importing the same file
again changes nothing. Format: docs/decisions/0006-catalog-import.md.`

func runCatalog(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "import" {
		fmt.Fprintln(stderr, catalogUsage)
		return flag.ErrHelp
	}
	fs := flag.NewFlagSet("tote catalog import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var sf storeFlags
	sf.register(fs)
	// Flags may come before or after the file name.
	var files []string
	rest := args[1:]
	for {
		if err := fs.Parse(rest); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		files, rest = append(files, fs.Arg(0)), fs.Args()[1:]
	}
	if len(files) != 1 {
		fmt.Fprintln(stderr, catalogUsage)
		return flag.ErrHelp
	}
	f, err := os.Open(files[0])
	if err != nil {
		return err
	}
	file, err := catalog.ReadFile(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("%s: %w", files[0], cliFieldError(err))
	}
	store, _, err := sf.open(ctx)
	if err != nil {
		return err
	}
	defer store.Close()
	svc := &catalog.Service{Store: store, Clock: tote.SystemClock{}}
	sum, err := svc.Import(ctx, file)
	if err != nil {
		return fmt.Errorf("%s: %w", files[0], cliFieldError(err))
	}
	fmt.Fprintf(stdout, "imported %s into %s\n", files[0], sf.describe())
	for _, line := range []struct {
		what string
		c    catalog.Counts
	}{
		{"merchants", sum.Merchants}, {"skus", sum.SKUs}, {"shipping methods", sum.ShippingMethods}, {"tax rates", sum.TaxRates},
	} {
		fmt.Fprintf(stdout, "  %-17s %d created, %d updated, %d unchanged\n", line.what+":", line.c.Created, line.c.Updated, line.c.Unchanged)
	}
	return nil
}

// cliFieldError is cliError listing every invalid field, one a line.
func cliFieldError(err error) error {
	fields := tote.ErrorFields(err)
	if len(fields) <= 1 {
		return cliError(err)
	}
	msg := "invalid input:"
	for _, f := range fields {
		msg += "\n  " + f.Field + ": " + f.Message
	}
	return fmt.Errorf("%s", msg)
}
