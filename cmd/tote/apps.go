package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/toteorg/tote"
	"github.com/toteorg/tote/api"
	"github.com/toteorg/tote/tenant"
)

func runApps(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "create" {
		fmt.Fprintln(stderr, "Usage: tote apps create --name NAME [--commission-rate PERCENT] [--data-dir DIR | --database-url URL]")
		return flag.ErrHelp
	}
	fs := flag.NewFlagSet("tote apps create", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var sf storeFlags
	sf.register(fs)
	name := fs.String("name", "", "the app's name (required)")
	rate := fs.Float64("commission-rate", 0, "percentage of each bag's total the channel keeps, e.g. 10")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	bp, err := api.ParsePercent(*rate, "commission-rate")
	if err != nil {
		return cliError(err)
	}
	store, _, err := sf.open(ctx)
	if err != nil {
		return err
	}
	defer store.Close()
	apps := &tenant.Service{Store: store, Clock: tote.SystemClock{}}
	app, secret, err := apps.CreateApp(ctx, tenant.CreateAppParams{Name: *name, CommissionRate: bp})
	if err != nil {
		return cliError(err)
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(api.ToAppResponse(app, secret))
}

// cliError shows a user error by its message and anything else in full.
func cliError(err error) error {
	if tote.ErrorCode(err) == tote.EINTERNAL {
		return err
	}
	return errors.New(tote.ErrorMessage(err))
}
