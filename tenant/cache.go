package tenant

import (
	"sort"
	"sync"
)

// Cache is a node's copy of the policies it applies. It only moves
// forward: a record is taken only when its version is above the one held,
// so a late or repeated message (or a re-read racing a publish) never
// brings back an older policy.
type Cache struct {
	mu   sync.RWMutex
	recs map[string]Record
}

// NewCache returns an empty cache.
func NewCache() *Cache { return &Cache{recs: map[string]Record{}} }

// Offer takes r when it is newer than what the cache holds for its
// tenant, and reports whether it did.
func (c *Cache) Offer(r Record) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cur, ok := c.recs[r.Tenant]; ok && cur.Version >= r.Version {
		return false
	}
	if r.Version == 0 {
		return false
	}
	c.recs[r.Tenant] = r
	return true
}

// Get returns the tenant's record (Version 0 when the node knows none).
func (c *Cache) Get(tenant string) Record {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if r, ok := c.recs[tenant]; ok {
		return r
	}
	return Record{Tenant: tenant}
}

// Policy returns the tenant's policy, nil when it has none.
func (c *Cache) Policy(tenant string) *Policy {
	c.mu.RLock()
	defer c.mu.RUnlock()
	r, ok := c.recs[tenant]
	if !ok {
		return nil
	}
	p := r.Policy
	return &p
}

// Tenants lists the tenants the cache holds, sorted.
func (c *Cache) Tenants() []string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]string, 0, len(c.recs))
	for t := range c.recs {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// Origins is the union of every tenant's origins (the first check of a
// browser whose tenant is not known before its hello).
func (c *Cache) Origins() []string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	var out []string
	seen := map[string]bool{}
	for _, r := range c.recs {
		for _, o := range r.Policy.Origins {
			if !seen[o] {
				seen[o] = true
				out = append(out, o)
			}
		}
	}
	sort.Strings(out)
	return out
}
