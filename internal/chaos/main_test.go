package chaos

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"
)

// TestMain removes the gateway binary the tests built, and fails the
// package if a test leaves a goroutine behind (clients, proxies and servers
// are all stopped at the test's end).
func TestMain(m *testing.M) {
	code := m.Run()
	RemoveBuilt()
	if code == 0 {
		if err := goleak.Find(
			// Started once by the NATS client for its global timers.
			goleak.IgnoreTopFunction("github.com/nats-io/nats.go.(*timerPool).Get"),
			goleak.IgnoreAnyFunction("github.com/nats-io/nats-server/v2/server.(*Server).startGoRoutine"),
		); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}
