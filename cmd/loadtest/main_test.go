package main

import (
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestBinary builds the command and runs two of its subcommands: the flag
// and subcommand logic lives in loadtest/cli (tested there); this proves the
// binary is wired to it.
func TestBinary(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "loadtest")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "freeport").Output()
	if err != nil {
		t.Fatalf("freeport: %v", err)
	}
	if port, err := strconv.Atoi(strings.TrimSpace(string(out))); err != nil || port <= 0 || port > 65535 {
		t.Fatalf("freeport printed %q", out)
	}
	cmd := exec.Command(bin, "--scenario", "nope", "--targets", "http://127.0.0.1:1", "--secret", "x")
	msg, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(msg), "scenario") {
		t.Fatalf("bad scenario accepted or not named: %v %s", err, msg)
	}
}
