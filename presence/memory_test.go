package presence_test

import (
	"testing"

	"github.com/pgw/pgw/presence"
	"github.com/pgw/pgw/presence/storetest"
)

// TestMemoryContract runs the store contract suite on the in-process store.
func TestMemoryContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T, opt presence.Options) presence.Store {
		return presence.NewMemory(opt)
	})
}
