// Command ipt-bridge connects an Asterisk PBX (over AMI) to the pgw gateway
// as an IP-phone bridge, or simulates one for demos and load:
//
//	ipt-bridge --gateway ws://127.0.0.1:8080/v1/ws --jwt-secret S --tenant acme \
//	    --bridge-id pbx1 --ami-addr 10.0.0.2:5038 --ami-user pgw --ami-secret X \
//	    --users-file users.txt
//	ipt-bridge --token $(gateway token --sub sim --tenant acme --roles bridge) --simulate 50 --rate 20
//
// Every flag can also be set with the environment variable PGW_<FLAG> (dashes
// become underscores, e.g. PGW_AMI_SECRET); flags win. See docs/ami-bridge.md.
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
	"strings"
	"syscall"
	"time"

	"github.com/pgw/pgw/ipt/ami"
	"github.com/pgw/pgw/ipt/bridge"
)

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Stderr))
}

// run is main without the process: it returns the exit code (0 stopped by
// a signal, 1 the bridge failed, 2 bad usage).
func run(args []string, getenv func(string) string, stderr io.Writer) int {
	cfg, logger, err := parse(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "ipt-bridge:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := bridge.Run(ctx, cfg); err != nil {
		logger.Error("ipt-bridge stopped", "err", err)
		if errors.Is(err, bridge.ErrConfig) {
			return 2
		}
		return 1
	}
	logger.Info("ipt-bridge stopped")
	return 0
}

// parse reads flags, then PGW_* variables for the flags not given.
func parse(args []string, getenv func(string) string, stderr io.Writer) (bridge.Config, *slog.Logger, error) {
	fs := flag.NewFlagSet("ipt-bridge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		gateway   = fs.String("gateway", "ws://127.0.0.1:8080/v1/ws", "gateway WebSocket URL")
		token     = fs.String("token", "", "bearer token with role bridge (or use --jwt-secret and --tenant)")
		secret    = fs.String("jwt-secret", "", "HS256 secret to mint the bridge's own tokens")
		tenant    = fs.String("tenant", "", "tenant of minted tokens")
		bridgeID  = fs.String("bridge-id", "", "bridge id (default: the token's sub, else ipt-bridge)")
		tokenTTL  = fs.Duration("token-ttl", time.Hour, "lifetime of minted tokens")
		amiAddr   = fs.String("ami-addr", "127.0.0.1:5038", "Asterisk manager interface host:port")
		amiUser   = fs.String("ami-user", "", "manager.conf user")
		amiSecret = fs.String("ami-secret", "", "manager.conf secret")
		usersFile = fs.String("users-file", "", fmt.Sprintf("extension → user map: lines \"EXT USER\" or a JSON object (default: with AMI the user id is the extension; --simulate makes ext %s, %s, … owned by %s, %s, …)",
			bridge.SimulatedExt(1), bridge.SimulatedExt(2), bridge.SimulatedUser(1), bridge.SimulatedUser(2)))
		simulate  = fs.Int("simulate", 0, "simulate N extensions instead of connecting to AMI (the first N of --users-file, then generated ones: see --users-file)")
		rate      = fs.Float64("rate", 5, "simulator events per second")
		maxRate   = fs.Float64("max-frame-rate", 50, "frames per second sent to the gateway at most (its default limit); -1: no pacing")
		logFormat = fs.String("log-format", "text", "text or json")
		logLevel  = fs.String("log-level", "info", "debug, info, warn or error")
	)
	if err := fs.Parse(args); err != nil {
		return bridge.Config{}, nil, err
	}
	if fs.NArg() > 0 {
		return bridge.Config{}, nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		name := "PGW_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v := getenv(name); v != "" && !given[f.Name] && envErr == nil {
			if err := f.Value.Set(v); err != nil {
				envErr = fmt.Errorf("%s=%q: %w", name, v, err)
			}
		}
	})
	if envErr != nil {
		return bridge.Config{}, nil, envErr
	}

	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return bridge.Config{}, nil, fmt.Errorf("log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: level}
	var logger *slog.Logger
	switch *logFormat {
	case "text":
		logger = slog.New(slog.NewTextHandler(stderr, opts))
	case "json":
		logger = slog.New(slog.NewJSONHandler(stderr, opts))
	default:
		return bridge.Config{}, nil, fmt.Errorf("log-format: %q must be text or json", *logFormat)
	}

	cfg := bridge.Config{
		GatewayURL: *gateway, Token: *token, Tenant: *tenant, BridgeID: *bridgeID, TokenTTL: *tokenTTL,
		AMI:      ami.Config{Addr: *amiAddr, Username: *amiUser, Secret: *amiSecret, Logger: logger},
		Simulate: *simulate, Rate: *rate, MaxFrameRate: *maxRate, Logger: logger,
	}
	if *secret != "" {
		cfg.JWTSecret = []byte(*secret)
	}
	if cfg.BridgeID == "" && cfg.Token != "" {
		sub, err := bridge.SubjectOf(cfg.Token)
		if err != nil {
			return bridge.Config{}, nil, fmt.Errorf("token: %w", err)
		}
		cfg.BridgeID = sub
	}
	if cfg.BridgeID == "" {
		cfg.BridgeID = "ipt-bridge"
	}
	if *usersFile != "" {
		users, err := bridge.LoadUsers(*usersFile)
		if err != nil {
			return bridge.Config{}, nil, fmt.Errorf("users-file: %w", err)
		}
		cfg.Users = users
	}
	return cfg, logger, nil
}
