package bridge

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if any test leaves a goroutine running: every
// goroutine of the client, fake server and bridge must be owned and stopped.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
