package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pgw/pgw/ipt/bridge"
)

func TestParse(t *testing.T) {
	dir := t.TempDir()
	users := filepath.Join(dir, "users.txt")
	if err := os.WriteFile(users, []byte("1001 alice\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tok, err := bridge.MintToken([]byte("k"), "acme", "pbx7", time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		args  []string
		env   map[string]string
		check func(bridge.Config) string
		err   string
	}{
		{"flags", []string{"--jwt-secret", "k", "--tenant", "acme", "--bridge-id", "b1", "--users-file", users},
			nil, func(c bridge.Config) string {
				if string(c.JWTSecret) != "k" || c.Tenant != "acme" || c.BridgeID != "b1" || c.Users["1001"] != "alice" {
					return "flags not applied"
				}
				return ""
			}, ""},
		{"env fills, flags win", []string{"--ami-user", "flag"},
			map[string]string{"PGW_AMI_USER": "env", "PGW_AMI_SECRET": "s", "PGW_SIMULATE": "3", "PGW_TOKEN": tok},
			func(c bridge.Config) string {
				if c.AMI.Username != "flag" || c.AMI.Secret != "s" || c.Simulate != 3 {
					return "env/flag precedence wrong"
				}
				if c.BridgeID != "pbx7" {
					return "bridge id not taken from the token's sub: " + c.BridgeID
				}
				return ""
			}, ""},
		{"bad env value names the variable", nil, map[string]string{"PGW_RATE": "fast"}, nil, "PGW_RATE"},
		{"missing users file", []string{"--users-file", filepath.Join(dir, "nope")}, nil, nil, "users-file"},
		{"bad log format", []string{"--log-format", "xml"}, nil, nil, "log-format"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			getenv := func(k string) string { return tc.env[k] }
			cfg, _, err := parse(tc.args, getenv, io.Discard)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want one naming %s", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if msg := tc.check(cfg); msg != "" {
				t.Fatal(msg)
			}
		})
	}
}

func TestRunExitsWithUsageOnBadConfig(t *testing.T) {
	if code := run([]string{"--gateway", "http://x"}, func(string) string { return "" }, io.Discard); code != 2 {
		t.Fatalf("exit code %d, want 2", code)
	}
}

// --help says who owns the simulated extensions the way the simulator
// names them (not "user id = extension", which holds only with AMI).
func TestHelpNamesSimulatedUsers(t *testing.T) {
	var errb strings.Builder
	if code := run([]string{"-h"}, func(string) string { return "" }, &errb); code != 0 {
		t.Fatalf("exit %d", code)
	}
	want := "--simulate makes ext " + bridge.SimulatedExt(1) + ", " + bridge.SimulatedExt(2) + ", … owned by " + bridge.SimulatedUser(1)
	if !strings.Contains(errb.String(), want) {
		t.Fatalf("help does not say %q:\n%s", want, errb.String())
	}
}
