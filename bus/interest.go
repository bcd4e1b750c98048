package bus

import (
	"fmt"
	"maps"
)

// Watch marks a user's presence as watched on this node; the first time it
// subscribes (per user, or per tenant once the tenant has
// Config.TenantWildcardAt watched users). It is idempotent: the owner of the
// node's interest (the gateway's hub) counts its local watchers and calls
// Watch for the first and Unwatch after the last. Call Flush before reading
// the state the subscription covers.
func (b *Bus) Watch(tenant, user string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return ErrClosed
	}
	in := b.presence[tenant]
	if in == nil {
		in = &interest{users: map[string]*sub{}}
		b.presence[tenant] = in
	}
	if _, ok := in.users[user]; ok {
		return nil
	}
	if in.wildcard != nil {
		in.users[user] = nil
		return nil
	}
	if len(in.users)+1 >= b.cfg.TenantWildcardAt {
		// Many users of this tenant are watched here: one wildcard costs less
		// than a subscription each. Subscribe it before dropping the per-user
		// ones; a message seen twice meanwhile is dropped by its version.
		w, err := b.nc.ChanSubscribe(b.subj.PresenceTenant(tenant), b.msgs)
		if err != nil {
			b.forgetEmpty(tenant, in)
			return fmt.Errorf("nats subscribe tenant %s: %w", tenant, err)
		}
		in.wildcard = w
		for u, s := range in.users {
			_ = s.s.Unsubscribe()
			in.users[u] = nil
		}
		in.users[user] = nil
		return nil
	}
	s, err := b.nc.ChanSubscribe(b.subj.Presence(tenant, user), b.msgs)
	if err != nil {
		b.forgetEmpty(tenant, in)
		return fmt.Errorf("nats subscribe %s/%s: %w", tenant, user, err)
	}
	in.users[user] = &sub{s: s}
	return nil
}

// Unwatch ends the watch of a user's presence: its subscription goes (the
// tenant wildcard goes when the tenant has no watched user left). Unwatching
// a user not watched changes nothing.
func (b *Bus) Unwatch(tenant, user string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	in := b.presence[tenant]
	if in == nil {
		return
	}
	s, ok := in.users[user]
	if !ok {
		return
	}
	if s != nil {
		_ = s.s.Unsubscribe()
	}
	delete(in.users, user)
	if len(in.users) == 0 && in.wildcard != nil {
		_ = in.wildcard.Unsubscribe()
		in.wildcard = nil
	}
	b.forgetEmpty(tenant, in)
}

// forgetEmpty drops a tenant's interest once it watches nobody.
func (b *Bus) forgetEmpty(tenant string, in *interest) {
	if len(in.users) == 0 && in.wildcard == nil {
		delete(b.presence, tenant)
	}
}

// WatchTenant marks every presence change of a tenant as watched
// (subscribe {tenant:true}); idempotent like Watch.
func (b *Bus) WatchTenant(tenant string) error { return b.Watch(tenant, "*") }

// UnwatchTenant ends what WatchTenant started.
func (b *Bus) UnwatchTenant(tenant string) { b.Unwatch(tenant, "*") }

// Watched returns the users (and "*" for whole tenants) watched on this node,
// per tenant.
func (b *Bus) Watched() map[string][]string {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make(map[string][]string, len(b.presence))
	for t, in := range b.presence {
		for u := range maps.Keys(in.users) {
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
