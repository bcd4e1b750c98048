package gateway

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if any test leaves a goroutine behind: every
// goroutine a node starts must be owned and stopped.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// Started once by the NATS client for its global timers.
		goleak.IgnoreTopFunction("github.com/nats-io/nats.go.(*timerPool).Get"),
		goleak.IgnoreAnyFunction("github.com/nats-io/nats-server/v2/server.(*Server).startGoRoutine"),
	)
}
