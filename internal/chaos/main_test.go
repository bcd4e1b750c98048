package chaos

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a test leaves a goroutine behind (clients,
// proxies and servers are all stopped at the test's end).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// Started once by the NATS client for its global timers.
		goleak.IgnoreTopFunction("github.com/nats-io/nats.go.(*timerPool).Get"),
		goleak.IgnoreAnyFunction("github.com/nats-io/nats-server/v2/server.(*Server).startGoRoutine"),
	)
}
