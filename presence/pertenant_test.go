package presence

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/pgw/pgw/wire"
)

// A tenant's own grace and connection cap (contract §9) through
// Options.PerTenant.
func TestMemoryPerTenantGraceAndCap(t *testing.T) {
	opt := DefaultOptions()
	opt.Grace = time.Second
	opt.PerTenant = func(tenant string) (time.Duration, int) {
		if tenant == "acme" {
			return time.Hour, 1
		}
		return 0, 0
	}
	m := NewMemory(opt)
	ctx := context.Background()
	now := time.Now()
	conn := func(tenant, id string) ConnInfo {
		return ConnInfo{Tenant: tenant, User: "u1", Session: tenant + "-s" + id, Conn: tenant + "-c" + id, Node: "n1", Device: wire.DeviceDesktop, Window: "main"}
	}
	if _, err := m.Connect(ctx, conn("acme", "1"), now); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Connect(ctx, conn("acme", "2"), now); !errors.Is(err, ErrTooManyConnections) {
		t.Fatalf("second acme connection: %v, want ErrTooManyConnections", err)
	}
	for _, id := range []string{"1", "2"} {
		if _, err := m.Connect(ctx, conn("globex", id), now); err != nil {
			t.Fatalf("globex connection %s: %v", id, err)
		}
	}
	for _, c := range []ConnInfo{conn("acme", "1"), conn("globex", "1"), conn("globex", "2")} {
		if _, err := m.Disconnect(ctx, c.Ref(), now); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := m.ExpireDue(ctx, now.Add(2*time.Second)); err != nil {
		t.Fatal(err)
	}
	if p, _ := m.Get(ctx, "globex", "u1"); p.Status != wire.Offline {
		t.Fatalf("globex after its 1s grace: %s", p.Status)
	}
	if p, _ := m.Get(ctx, "acme", "u1"); p.Status != wire.Online {
		t.Fatalf("acme within its 1h grace: %s", p.Status)
	}
}
