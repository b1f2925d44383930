package main

import (
	"context"
	"flag"
	"fmt"
	"io"
)

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fmt.Fprintln(stderr, "Usage: tote bench jobs [flags]")
	return flag.ErrHelp
}
