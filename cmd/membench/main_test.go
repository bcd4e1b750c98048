package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestRefusesWithoutGateway builds the command and checks it names its one
// required flag (the measurement itself is tested in internal/membench).
func TestRefusesWithoutGateway(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "membench")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin).CombinedOutput()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), "--gateway is required") {
		t.Fatalf("exit %v, output %q", err, out)
	}
}

// --redis-only without a redis-server to run is refused, not a run of
// nothing.
func TestRedisOnlyNeedsRedisServer(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "membench")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "--gateway", "/nonexistent", "--redis-only").CombinedOutput()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), "--redis-only needs --redis-server") {
		t.Fatalf("exit %v, output %q", err, out)
	}
}
