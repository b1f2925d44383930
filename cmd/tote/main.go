// Command tote is the Tote server and its operator tools:
//
//	tote serve     run the API and the workers
//	tote migrate   bring the database schema up to date
//	tote apps      manage apps (channels)
//	tote merchants manage merchants
//	tote catalog   import a catalog file
//	tote bench     measure this machine
//
// Every command takes --data-dir (embedded SQLite, default ./tote-data) or
// --database-url (PostgreSQL), or their TOTE_* environment variables.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

const usage = `Usage: tote <command> [flags]

Commands:
  serve      run the HTTP API and the background workers
  migrate    bring the database schema up to date and exit
  apps       manage apps: tote apps create --name NAME
  merchants  manage merchants: tote merchants create --name NAME --currency USD
  catalog    load merchants, SKUs, shipping and tax: tote catalog import FILE.json
  bench      measure this machine: tote bench jobs | dos | search

Run 'tote <command> -h' for a command's flags.
`

func main() {
	// Only tote serve handles signals (it drains); the other commands stop
	// at once.
	err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(2)
	} else if err != nil {
		fmt.Fprintln(os.Stderr, "tote:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return flag.ErrHelp
	}
	switch cmd, rest := args[0], args[1:]; cmd {
	case "serve":
		return runServe(ctx, rest, stderr)
	case "migrate":
		return runMigrate(ctx, rest, stdout, stderr)
	case "apps":
		return runApps(ctx, rest, stdout, stderr)
	case "merchants":
		return runMerchants(ctx, rest, stdout, stderr)
	case "catalog":
		return runCatalog(ctx, rest, stdout, stderr)
	case "bench":
		return runBench(ctx, rest, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprintf(stderr, "tote: unknown command %q\n\n%s", cmd, usage)
		return flag.ErrHelp
	}
}
