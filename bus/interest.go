package bus

import (
	"fmt"
	"maps"
)

// Watch registers one more local watcher of a user's presence. The first
// watcher of a user subscribes (per user, or per tenant once the tenant has
// Config.TenantWildcardAt watched users). Call Flush before reading the
// state the subscription covers.
func (b *Bus) Watch(tenant, user string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return ErrClosed
	}
	in := b.presence[tenant]
	if in == nil {
		in = &interest{users: map[string]*sub{}, count: map[string]int{}}
		b.presence[tenant] = in
	}
	in.count[user]++
	if in.count[user] > 1 || in.wildcard != nil {
		return nil
	}
	if len(in.count) >= b.cfg.TenantWildcardAt {
		// Many users of this tenant are watched here: one wildcard costs less
		// than a subscription each. Subscribe it before dropping the per-user
		// ones; a message seen twice meanwhile is dropped by its version.
		w, err := b.nc.ChanSubscribe(b.subj.PresenceTenant(tenant), b.msgs)
		if err != nil {
			in.count[user]--
			return fmt.Errorf("nats subscribe tenant %s: %w", tenant, err)
		}
		in.wildcard = w
		for u, s := range in.users {
			_ = s.s.Unsubscribe()
			delete(in.users, u)
		}
		return nil
	}
	s, err := b.nc.ChanSubscribe(b.subj.Presence(tenant, user), b.msgs)
	if err != nil {
		in.count[user]--
		if in.count[user] == 0 {
			delete(in.count, user)
		}
		return fmt.Errorf("nats subscribe %s/%s: %w", tenant, user, err)
	}
	in.users[user] = &sub{s: s}
	return nil
}

// Unwatch removes one local watcher of a user's presence; the last one
// unsubscribes (the tenant wildcard goes when the tenant has no watcher).
func (b *Bus) Unwatch(tenant, user string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	in := b.presence[tenant]
	if in == nil || in.count[user] == 0 {
		return
	}
	in.count[user]--
	if in.count[user] > 0 {
		return
	}
	delete(in.count, user)
	if s := in.users[user]; s != nil {
		_ = s.s.Unsubscribe()
		delete(in.users, user)
	}
	if len(in.count) == 0 {
		if in.wildcard != nil {
			_ = in.wildcard.Unsubscribe()
		}
		delete(b.presence, tenant)
	}
}

// WatchTenant registers one local watcher of every presence change of a
// tenant (subscribe {tenant:true}).
func (b *Bus) WatchTenant(tenant string) error { return b.Watch(tenant, "*") }

// UnwatchTenant removes one watcher registered with WatchTenant.
func (b *Bus) UnwatchTenant(tenant string) { b.Unwatch(tenant, "*") }

// Watched returns the users (and "*" for whole tenants) watched on this node,
// per tenant, for a resync.
func (b *Bus) Watched() map[string][]string {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make(map[string][]string, len(b.presence))
	for t, in := range b.presence {
		for u := range maps.Keys(in.count) {
			out[t] = append(out[t], u)
		}
	}
	return out
}

// WatchCalls registers one local connection of a tenant that wants call
// events (every connection of a user gets its `call` frames). One wildcard
// per tenant: call events are few next to presence, and a subscription per
// connected user would cost memory on every idle connection.
func (b *Bus) WatchCalls(tenant string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return ErrClosed
	}
	if s := b.calls[tenant]; s != nil {
		s.n++
		return nil
	}
	s, err := b.nc.ChanSubscribe(b.subj.CallTenant(tenant), b.msgs)
	if err != nil {
		return fmt.Errorf("nats subscribe calls %s: %w", tenant, err)
	}
	b.calls[tenant] = &sub{s: s, n: 1}
	return nil
}

// UnwatchCalls removes one registration of WatchCalls.
func (b *Bus) UnwatchCalls(tenant string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if s := b.calls[tenant]; s != nil {
		s.n--
		if s.n == 0 {
			_ = s.s.Unsubscribe()
			delete(b.calls, tenant)
		}
	}
}
