package tenant

import (
	"encoding/json"
	"slices"
	"time"
)

// Policy is one tenant's POLICY (§9). Every field is optional: where the
// policy is silent the node's settings apply. Build it with Parse (or
// ParseJSON), never by hand from untrusted input.
type Policy struct {
	// Grace replaces PGW_GRACE for the tenant's sessions.
	Grace *Duration `json:"grace,omitempty"`
	// Limits replace PGW_MAX_CONNS_PER_USER, PGW_MAX_SUBSCRIPTIONS,
	// PGW_RATE_LIMIT and PGW_RATE_BURST for new connections.
	Limits *Limits `json:"limits,omitempty"`
	// Origins, when set, is the tenant's browser Origin allow-list,
	// used instead of PGW_ALLOWED_ORIGINS for its connections.
	Origins []string `json:"origins,omitempty"`
	// Statuses are custom manual statuses, each shown as its base to
	// clients that know only the five built-in ones.
	Statuses []Status `json:"statuses,omitempty"`
	// JWT is the tenant's own identity provider.
	JWT *JWT `json:"jwt,omitempty"`
	// Login switches login sessions (§2.1) for the tenant.
	Login *Login `json:"login,omitempty"`
	// Bridges lists the bridge ids allowed to report for the tenant;
	// empty allows any.
	Bridges []string `json:"bridges,omitempty"`
	// Disabled refuses every connection and HTTP call of the tenant.
	Disabled bool `json:"disabled,omitempty"`
	// Specifics are the company's integration notes (shown on the board).
	Specifics *Specifics `json:"specifics,omitempty"`
}

// Limits are the per-tenant limits of §6; nil fields keep the node's.
type Limits struct {
	ConnectionsPerUser *int     `json:"connections_per_user,omitempty"`
	Subscriptions      *int     `json:"subscriptions,omitempty"`
	FramesPerSecond    *float64 `json:"frames_per_second,omitempty"`
	FrameBurst         *int     `json:"frame_burst,omitempty"`
}

// Status is one custom manual status.
type Status struct {
	Name  string `json:"name"`
	Base  string `json:"base"`
	Label string `json:"label"`
}

// JWT is a tenant's own token rules: keys (a JWKS object) accepted only
// for the tenant's own tokens, and the issuer and audience its tokens
// must carry.
type JWT struct {
	Issuer   string          `json:"issuer,omitempty"`
	Audience string          `json:"audience,omitempty"`
	Keys     json.RawMessage `json:"keys,omitempty"`
}

// Login switches the login sessions of §2.1 for one tenant.
type Login struct {
	// Enabled defaults to true; false refuses the tenant's login
	// sessions with login_claims.
	Enabled *bool `json:"enabled,omitempty"`
}

// Specifics are the company's notes in one shape, so support,
// infrastructure and development read the same page.
type Specifics struct {
	Summary     string   `json:"summary,omitempty"`
	Integration string   `json:"integration,omitempty"`
	Contacts    []string `json:"contacts,omitempty"`
	Caveats     []string `json:"caveats,omitempty"`
	// Notes is Markdown; the board renders it without raw HTML.
	Notes string `json:"notes,omitempty"`
}

// Duration is a time.Duration written as a Go duration string ("30s").
type Duration time.Duration

// MarshalJSON writes the duration as a string such as "1m30s".
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads a duration string (Parse has already checked it).
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// Empty reports whether the policy says nothing (all node defaults).
func (p *Policy) Empty() bool {
	b, _ := json.Marshal(p)
	return string(b) == "{}"
}

// LoginEnabled reports whether the tenant's login sessions are accepted
// (§9: default true).
func (p *Policy) LoginEnabled() bool {
	return p == nil || p.Login == nil || p.Login.Enabled == nil || *p.Login.Enabled
}

// FindStatus returns the custom status named name.
func (p *Policy) FindStatus(name string) (Status, bool) {
	if p == nil {
		return Status{}, false
	}
	i := slices.IndexFunc(p.Statuses, func(s Status) bool { return s.Name == name })
	if i < 0 {
		return Status{}, false
	}
	return p.Statuses[i], true
}

// BridgeAllowed reports whether bridge may report for the tenant.
func (p *Policy) BridgeAllowed(bridge string) bool {
	return p == nil || len(p.Bridges) == 0 || slices.Contains(p.Bridges, bridge)
}

// Record is a stored policy with its version. Version 0 means the tenant
// has no stored policy (Policy is then empty).
type Record struct {
	Tenant  string `json:"tenant"`
	Version int64  `json:"version"`
	Policy  Policy `json:"policy"`
}

// ETag is the record's entity tag, quoted as HTTP wants it. Versions
// follow presence.NextVersion (above the last and never below the clock in
// microseconds), so an ETag is never reused even after the store lost its
// data. A tenant with
// no stored policy has the ETag of version 0, so the first PUT carries
// If-Match like every other.
func (r Record) ETag() string { return ETagOf(r.Version) }

// ETagOf is the entity tag of a version.
func ETagOf(v int64) string { return `"` + itoa(v) + `"` }

func itoa(v int64) string {
	b, _ := json.Marshal(v)
	return string(b)
}
