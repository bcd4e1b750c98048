package testenv

import (
	"fmt"
	"net/http"
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

// WaitReady polls url (a /readyz or /livez of a process the test started)
// until it answers 200 or timeout passes. exited, when not nil, is closed
// when that process ends: the test then fails at once, since waiting longer
// cannot make a dead process ready.
func WaitReady(t testing.TB, timeout time.Duration, url string, exited <-chan struct{}) {
	t.Helper()
	hc := &http.Client{Timeout: time.Second}
	WaitFor(t, timeout, func() error {
		select {
		case <-exited:
			t.Fatalf("the process behind %s exited before it was ready", url)
		default:
		}
		resp, err := hc.Get(url)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s: HTTP %d", url, resp.StatusCode)
		}
		return nil
	})
}
