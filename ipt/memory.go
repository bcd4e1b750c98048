package ipt

import (
	"context"
	"sort"
	"sync"
	"time"
)

// memoryState is the in-process StateStore of a single node (no Redis). One
// mutex guards everything: telephony traffic is small and the store stays
// easy to read.
type memoryState struct {
	mu      sync.Mutex
	tenants map[string]*memTenant
	// http is the HTTP-only bridges' last post.
	http map[BridgeRef]time.Time
}

type memTenant struct {
	devices map[string]Device          // ext -> device
	bridges map[string]*memBridge      // bridge -> state
	session map[string]map[string]bool // session -> bridges bound to it at some time
	byUser  map[string]map[string]bool // user -> exts
}

type memBridge struct {
	seq      int64
	sequence int64 // the current sequence's id (Restart)
	session  string
	exts     map[string]bool
}

// NewMemoryState returns an empty in-process StateStore.
func NewMemoryState() StateStore {
	return &memoryState{tenants: map[string]*memTenant{}, http: map[BridgeRef]time.Time{}}
}

func (m *memoryState) tenant(t string) *memTenant {
	mt := m.tenants[t]
	if mt == nil {
		mt = &memTenant{
			devices: map[string]Device{},
			bridges: map[string]*memBridge{},
			session: map[string]map[string]bool{},
			byUser:  map[string]map[string]bool{},
		}
		m.tenants[t] = mt
	}
	return mt
}

func (mt *memTenant) bridge(b string) *memBridge {
	mb := mt.bridges[b]
	if mb == nil {
		mb = &memBridge{exts: map[string]bool{}}
		mt.bridges[b] = mb
	}
	return mb
}

func cloneDevice(d Device) Device {
	if d.Call != nil {
		c := *d.Call
		d.Call = &c
	}
	return d
}

func (m *memoryState) Device(_ context.Context, tenant, ext string) (Device, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	mt := m.tenants[tenant]
	if mt == nil {
		return Device{}, false, nil // reads never create a tenant
	}
	d, ok := mt.devices[ext]
	return cloneDevice(d), ok, nil
}

func (m *memoryState) PutDevice(_ context.Context, tenant string, d Device) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	mt := m.tenant(tenant)
	if prev, ok := mt.devices[d.Ext]; ok {
		if prev.User != d.User {
			delete(mt.byUser[prev.User], d.Ext)
			if len(mt.byUser[prev.User]) == 0 {
				delete(mt.byUser, prev.User)
			}
		}
		if prev.Bridge != d.Bridge && mt.bridges[prev.Bridge] != nil {
			delete(mt.bridges[prev.Bridge].exts, d.Ext)
		}
	}
	mt.devices[d.Ext] = cloneDevice(d)
	if mt.byUser[d.User] == nil {
		mt.byUser[d.User] = map[string]bool{}
	}
	mt.byUser[d.User][d.Ext] = true
	mt.bridge(d.Bridge).exts[d.Ext] = true
	return nil
}

func (m *memoryState) UserDevices(_ context.Context, tenant, user string) ([]Device, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	mt := m.tenants[tenant]
	if mt == nil {
		return nil, nil
	}
	out := make([]Device, 0, len(mt.byUser[user]))
	for ext := range mt.byUser[user] {
		out = append(out, cloneDevice(mt.devices[ext]))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Ext < out[j].Ext })
	return out, nil
}

func (m *memoryState) BridgeExts(_ context.Context, tenant, bridge string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	if mt := m.tenants[tenant]; mt != nil && mt.bridges[bridge] != nil {
		mb := mt.bridges[bridge]
		for ext := range mb.exts {
			out = append(out, ext)
		}
	}
	sort.Strings(out)
	return out, nil
}

func (m *memoryState) Restart(_ context.Context, tenant, bridge string, now time.Time) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	mb := m.tenant(tenant).bridge(bridge)
	mb.seq, mb.sequence = 0, max(mb.sequence+1, now.UnixMicro())
	return mb.sequence, nil
}

func (m *memoryState) Accept(_ context.Context, tenant, bridge string, seq, sequence int64) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	mb := m.tenant(tenant).bridge(bridge)
	if sequence > 0 {
		if sequence < mb.sequence {
			return false, nil
		}
		if sequence > mb.sequence {
			mb.seq, mb.sequence = 0, sequence
		}
	}
	if seq <= mb.seq {
		return false, nil
	}
	mb.seq = seq
	return true, nil
}

func (m *memoryState) Bind(_ context.Context, tenant, bridge, session string, now time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	mt := m.tenant(tenant)
	mb := mt.bridge(bridge)
	ref := BridgeRef{Tenant: tenant, Bridge: bridge}
	mb.session = session
	if session == "" {
		m.http[ref] = now
		return nil
	}
	delete(m.http, ref)
	if mt.session[session] == nil {
		mt.session[session] = map[string]bool{}
	}
	mt.session[session][bridge] = true
	return nil
}

func (m *memoryState) TakeSession(_ context.Context, tenant, session string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	mt := m.tenants[tenant]
	if mt == nil {
		return nil, nil
	}
	var out []string
	for b := range mt.session[session] {
		// The set may name bridges that moved to another session since.
		if mb := mt.bridges[b]; mb != nil && mb.session == session {
			mb.session = ""
			out = append(out, b)
		}
	}
	delete(mt.session, session)
	sort.Strings(out)
	return out, nil
}

func (m *memoryState) DueHTTP(_ context.Context, cutoff time.Time) ([]BridgeRef, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []BridgeRef
	for ref, seen := range m.http {
		if !seen.After(cutoff) {
			out = append(out, ref)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Tenant != out[j].Tenant {
			return out[i].Tenant < out[j].Tenant
		}
		return out[i].Bridge < out[j].Bridge
	})
	return out, nil
}

func (m *memoryState) ExpireHTTP(_ context.Context, ref BridgeRef, cutoff time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	seen, ok := m.http[ref]
	if !ok || seen.After(cutoff) {
		return false, nil
	}
	delete(m.http, ref)
	return true, nil
}
