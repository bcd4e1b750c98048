// Command gateway runs a pgw node (`gateway` or `gateway serve`) or prints a
// signed development token (`gateway token`). Every setting is a flag and a
// PGW_* environment variable; flags win. See docs/operations.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/pgw/pgw/gateway"
	"github.com/pgw/pgw/gateway/auth"
)

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

func run(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(args, getenv, stderr)
	case "token":
		return token(args, getenv, stdout, stderr)
	case "connect":
		return connect(context.Background(), args, getenv, stdout, stderr)
	case "tenants":
		return tenants(args, getenv, stdout, stderr)
	case "help":
		fmt.Fprintln(stdout, "usage: gateway [serve] [flags] | gateway token --sub U --tenant T [--roles r1,r2] [--ttl 1h] [--sid S]\n"+
			"       | gateway connect --token JWT [frame JSON ...] | gateway tenants validate FILE | gateway tenants export [flags]\n"+
			"run `gateway serve -h` (or token -h, connect -h) for every setting")
		return 0
	}
	fmt.Fprintf(stderr, "gateway: unknown command %q (serve, token, connect, tenants, help)\n", cmd)
	return 2
}

func newLogger(cfg gateway.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// defaultGCPercent is the GC target the node runs with when GOGC is not set:
// an idle node is mostly connection state, and at Go's default of 100 the
// runtime keeps as much freed heap again (about 4 KiB per idle connection,
// docs/benchmarks.md); 50 trades more frequent GC for less memory.
const defaultGCPercent = 50

func serve(args []string, getenv func(string) string, stderr io.Writer) int {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
	cfg, rest, err := gateway.LoadConfig("gateway serve", args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "gateway: %v\n", err)
		return 2
	}
	if len(rest) > 0 {
		fmt.Fprintf(stderr, "gateway: unexpected arguments %q\n", rest)
		return 2
	}
	log := newLogger(cfg, stderr)
	// The address first: a port already taken is the most common start-up
	// failure (a second `make run`), and it should say so before anything
	// else starts.
	l, err := gateway.Listen(cfg.Addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			fmt.Fprintf(stderr, "gateway: %s is already in use (another gateway? `make run` or `make demo` still running?): "+
				"stop it, or choose another address, e.g. PGW_ADDR=127.0.0.1:8081 (or --addr)\n", cfg.Addr)
		} else {
			fmt.Fprintf(stderr, "gateway: PGW_ADDR %s: %v\n", cfg.Addr, err)
		}
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	node, err := gateway.New(ctx, cfg, gateway.Deps{Logger: log})
	if err != nil {
		l.Close()
		log.Error("start failed", "err", err)
		return 1
	}
	if tok := node.DevToken(24 * time.Hour); tok != "" {
		base := strings.TrimSuffix(cfg.OwnOrigin(), "/")
		log.Warn("no PGW_JWT_SECRET: using a random secret; tokens die with this process")
		fmt.Fprintf(stderr, "\n  dev token (sub dev, tenant dev, roles user+admin, 24h):\n  %s\n\n  board:   %s/board/#token=%s\n  connect: ws://%s/v1/ws\n\n",
			tok, base, tok, cfg.Addr)
	}
	if err := node.Serve(ctx, l); err != nil {
		log.Error("serve failed", "err", err)
		return 1
	}
	return 0
}

// token prints a signed HS256 token made with the configured secret.
func token(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("gateway token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	sub := fs.String("sub", "", "user id (sub claim, required)")
	tenant := fs.String("tenant", "", "tenant id (required)")
	roles := fs.String("roles", "", "comma-separated roles: user, bridge, admin, operator (default user)")
	ttl := fs.Duration("ttl", time.Hour, "lifetime of the token")
	sid := fs.String("sid", "", "bind the token to one session id")
	secret := fs.String("jwt-secret", getenv("PGW_JWT_SECRET"), "HS256 secret (PGW_JWT_SECRET)")
	aud := fs.String("jwt-audience", getenv("PGW_JWT_AUDIENCE"), "aud claim (PGW_JWT_AUDIENCE)")
	iss := fs.String("jwt-issuer", getenv("PGW_JWT_ISSUER"), "iss claim (PGW_JWT_ISSUER)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	switch {
	case *secret == "":
		fmt.Fprintln(stderr, "gateway token: --jwt-secret (PGW_JWT_SECRET) is required: the node must be started with the same secret")
		return 2
	case *sub == "":
		fmt.Fprintln(stderr, "gateway token: --sub is required")
		return 2
	case *tenant == "":
		fmt.Fprintln(stderr, "gateway token: --tenant is required")
		return 2
	case *ttl <= 0:
		fmt.Fprintln(stderr, "gateway token: --ttl must be positive")
		return 2
	}
	c := auth.Claims{Subject: *sub, Tenant: *tenant, Session: *sid, Expires: time.Now().Add(*ttl)}
	if *roles != "" {
		c.Roles = strings.Split(*roles, ",")
	}
	v, err := auth.New(auth.Config{Secret: []byte(*secret), Audience: *aud, Issuer: *iss})
	if err != nil {
		fmt.Fprintf(stderr, "gateway token: %v\n", err)
		return 2
	}
	tok, err := v.Sign(c)
	if err != nil {
		fmt.Fprintf(stderr, "gateway token: %v\n", err)
		return 2
	}
	fmt.Fprintln(stdout, tok)
	return 0
}
