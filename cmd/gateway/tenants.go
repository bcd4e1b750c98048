package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/pgw/pgw/gateway"
	"github.com/pgw/pgw/tenant"
)

// tenants runs `gateway tenants validate FILE` and `gateway tenants export`.
func tenants(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: gateway tenants validate FILE | gateway tenants export [flags]")
		return 2
	}
	switch args[0] {
	case "validate":
		if len(args) != 2 {
			fmt.Fprintln(stderr, "usage: gateway tenants validate FILE")
			return 2
		}
		return validateTenants(args[1], stdout, stderr)
	case "export":
		return exportTenants(args[1:], getenv, stdout, stderr)
	}
	fmt.Fprintf(stderr, "gateway tenants: unknown command %q (validate, export)\n", args[0])
	return 2
}

// validateTenants checks a policy file with the API's rules and prints
// every invalid field; exit 1 when there is one.
func validateTenants(path string, stdout, stderr io.Writer) int {
	data, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintf(stderr, "gateway tenants validate: %v\n", err)
		return 2
	}
	ps, errs, err := tenant.ReadFile(data)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", path, err)
		return 1
	}
	for _, e := range errs {
		fmt.Fprintf(stderr, "%s: %s: %s\n", path, e.Field, e.Reason)
	}
	if len(errs) > 0 {
		fmt.Fprintf(stderr, "%s: %d invalid fields\n", path, len(errs))
		return 1
	}
	fmt.Fprintf(stdout, "%s: %d tenants, valid\n", path, len(ps))
	return 0
}

// exportTenants prints every stored policy in the file format. It reads
// the shared store (PGW_REDIS_URL); the embedded default keeps policies
// inside its one process, where GET /v1/tenants/{tenant} reads them.
func exportTenants(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	cfg, rest, err := gateway.LoadConfig("gateway tenants export", args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "gateway tenants export: %v\n", err)
		return 2
	}
	if len(rest) > 0 {
		fmt.Fprintf(stderr, "gateway tenants export: unexpected arguments %q\n", rest)
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := gateway.ExportTenants(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "gateway tenants export: %v\n", err)
		return 1
	}
	_, _ = stdout.Write(out)
	return 0
}
