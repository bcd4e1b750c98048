package testenv

import (
	"testing"
	"time"
)

// WaitFor polls f every 10ms until it returns nil or timeout passes, then
// fails the test with f's last error (nats-server's checkFor).
func WaitFor(t testing.TB, timeout time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var err error
	for {
		if err = f(); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still failing after %v: %v", timeout, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
