package bridge

import (
	"context"
	"sync"
)

// gate holds the gateway loop back while the source has nothing true to
// say: before its first sync, and after it was down for StaleAfter.
type gate struct {
	mu     sync.Mutex
	isOpen bool
	opened chan struct{} // closed while open
}

func newGate() *gate { return &gate{opened: make(chan struct{})} }

// set opens or closes the gate.
func (g *gate) set(open bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case open && !g.isOpen:
		close(g.opened)
	case !open && g.isOpen:
		g.opened = make(chan struct{})
	}
	g.isOpen = open
}

// wait blocks until the gate is open; false if ctx ended first.
func (g *gate) wait(ctx context.Context) bool {
	g.mu.Lock()
	ch := g.opened
	g.mu.Unlock()
	select {
	case <-ch:
		return true
	case <-ctx.Done():
		return false
	}
}
