package cli

import (
	"bytes"
	"runtime/debug"
	"strings"
	"testing"
	"time"
)

func TestParseFlagsAndEnvironment(t *testing.T) {
	t.Setenv("LOADTEST_USERS", "321")
	t.Setenv("LOADTEST_SUBS", "9")
	t.Setenv("PGW_JWT_SECRET", "from-env")
	var stderr bytes.Buffer
	cfg, out, err := parse([]string{"--scenario", "fanout", "--targets", "http://a:1, http://b:2", "--subs", "4",
		"--duration", "2s", "--json", "r.json", "--progress=false"}, &stderr)
	if err != nil {
		t.Fatalf("parse: %v (%s)", err, stderr.String())
	}
	tests := []struct {
		name      string
		got, want any
	}{
		{"scenario", cfg.Scenario, "fanout"},
		{"targets", strings.Join(cfg.Targets, "|"), "http://a:1|http://b:2"},
		{"flag beats env", cfg.Subs, 4},
		{"env fills the rest", cfg.Users, 321},
		{"secret from PGW_JWT_SECRET", cfg.Secret, "from-env"},
		{"duration", cfg.Duration, 2 * time.Second},
		{"json", out.json, "r.json"},
		{"text defaults to stdout", out.text, "-"},
		{"progress", out.progress, false},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %v, want %v", tt.name, tt.got, tt.want)
		}
	}
}

func TestMainExitCodes(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"unknown command", []string{"fly"}, ExitError, `unknown command "fly"`},
		{"bad flag", []string{"--nope"}, ExitError, "flag provided but not defined"},
		{"invalid config names the field", []string{"--scenario", "soak", "--targets", "http://127.0.0.1:1", "--secret", "s", "--progress=false"}, ExitError, "scenario"},
		{"cleanup refuses the default prefix", []string{"cleanup", "--prefix", "pgw"}, ExitError, "refusing"},
		{"freeport prints a port", []string{"freeport"}, ExitPass, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := Main(tt.args, strings.NewReader(""), &stdout, &stderr)
			if code != tt.code || !strings.Contains(stderr.String(), tt.msg) {
				t.Fatalf("exit %d, stderr %q; want %d containing %q", code, stderr.String(), tt.code, tt.msg)
			}
		})
	}
}

// The harness runs its collector at harnessGCPercent, unless GOGC says
// otherwise.
func TestHarnessGC(t *testing.T) {
	prev := debug.SetGCPercent(100)
	defer debug.SetGCPercent(prev)
	t.Setenv("GOGC", "")
	harnessGC()
	if got := debug.SetGCPercent(100); got != harnessGCPercent {
		t.Fatalf("GC percent %d without GOGC, want %d", got, harnessGCPercent)
	}
	t.Setenv("GOGC", "77")
	harnessGC()
	if got := debug.SetGCPercent(100); got != 100 {
		t.Fatalf("GC percent %d with GOGC set, want it left alone (100)", got)
	}
}
