package loadtest

import (
	"sync"
	"time"
)

// every calls f every period from a goroutine of its own until the returned
// stop is called; stop waits for the goroutine to end, so f is never running
// after it returns.
func every(period time.Duration, f func()) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(period)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				f()
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}
