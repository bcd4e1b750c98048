package tenant

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/pgw/pgw/presence"
)

// Memory is the in-process Store of the embedded default (one node).
type Memory struct {
	mu      sync.Mutex
	records map[string]Record
	history map[string][]Change // newest first
}

// NewMemory returns an empty in-process store.
func NewMemory() *Memory {
	return &Memory{records: map[string]Record{}, history: map[string][]Change{}}
}

var _ Store = (*Memory)(nil)

func (m *Memory) Get(_ context.Context, tenant string) (Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if r, ok := m.records[tenant]; ok {
		return r, nil
	}
	return Record{Tenant: tenant}, nil
}

func (m *Memory) Put(_ context.Context, tenant string, ifVersion int64, p Policy, who string, now time.Time) (Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	cur, ok := m.records[tenant]
	if !ok {
		cur = Record{Tenant: tenant}
	}
	if cur.Version != ifVersion {
		return cur, fmt.Errorf("tenant %q at version %d, not %d: %w", tenant, cur.Version, ifVersion, ErrStale)
	}
	r := Record{Tenant: tenant, Version: presence.NextVersion(cur.Version, now), Policy: p}
	m.records[tenant] = r
	h := append([]Change{{Who: who, When: now.UTC(), Version: r.Version, Fields: Diff(cur.Policy, p)}}, m.history[tenant]...)
	if len(h) > HistoryKeep {
		h = h[:HistoryKeep]
	}
	m.history[tenant] = h
	return r, nil
}

func (m *Memory) History(_ context.Context, tenant string, limit int) ([]Change, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	h := m.history[tenant]
	if limit > 0 && len(h) > limit {
		h = h[:limit]
	}
	return append([]Change{}, h...), nil
}

func (m *Memory) Tenants(context.Context) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]string, 0, len(m.records))
	for t := range m.records {
		out = append(out, t)
	}
	sort.Strings(out)
	return out, nil
}
