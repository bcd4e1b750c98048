package tenant

import (
	"context"
	"errors"
	"time"
)

// Errors of a Store.
var (
	// ErrStale: the policy changed since the version the caller read
	// (HTTP 412). The stored record is returned with it.
	ErrStale = errors.New("policy changed since it was read")
	// ErrUnavailable: the backing store does not answer.
	ErrUnavailable = errors.New("tenant store unavailable")
)

// HistoryKeep is how many changes per tenant a store keeps, newest first.
const HistoryKeep = 1000

// Change is one entry of a tenant's history: who changed the policy
// (the token's sub, or "PGW_TENANTS" for the file loaded at start), when,
// the version it made, and every field that changed.
type Change struct {
	Who     string        `json:"who"`
	When    time.Time     `json:"when"`
	Version int64         `json:"version"`
	Fields  []FieldChange `json:"fields"`
}

// Store keeps tenant policies, versioned, with their history. Every
// method is safe for concurrent use.
type Store interface {
	// Get returns the tenant's record (Version 0 when none is stored).
	Get(ctx context.Context, tenant string) (Record, error)
	// Put replaces the tenant's policy when its stored version is still
	// ifVersion (0: none stored), atomically with its history entry.
	// ErrStale (with the current record) otherwise.
	Put(ctx context.Context, tenant string, ifVersion int64, p Policy, who string, now time.Time) (Record, error)
	// History returns the tenant's changes, newest first, at most limit.
	History(ctx context.Context, tenant string, limit int) ([]Change, error)
	// Tenants lists every tenant with a stored policy.
	Tenants(ctx context.Context) ([]string, error)
}
