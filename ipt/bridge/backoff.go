package bridge

import (
	"context"
	"math/rand/v2"
	"time"
)

// backoff yields reconnect delays: exponential with full jitter, so a fleet
// of bridges that lost the same gateway does not come back in lockstep.
// Not safe for concurrent use; each loop owns its own.
type backoff struct {
	min, max time.Duration
	attempt  int
}

// next returns the delay before the next attempt and counts the attempt.
func (b *backoff) next() time.Duration {
	ceil := b.max
	if b.attempt < 30 {
		if d := b.min << b.attempt; d > 0 && d < b.max {
			ceil = d
		}
	}
	b.attempt++
	return rand.N(ceil + 1)
}

// reset starts over after a connection proved stable.
func (b *backoff) reset() { b.attempt = 0 }

// sleep waits d or until ctx ends; it reports whether the wait completed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
