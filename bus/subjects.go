package bus

import (
	"strings"
)

// Subjects builds the NATS subjects of one prefix (PGW_PREFIX):
//
//	<prefix>.presence.<tenant>.<user>   PRESENCE JSON (header Pgw-Version)
//	<prefix>.call.<tenant>.<user>       call event JSON
//	<prefix>.node.<node>                control messages for one node
//	<prefix>.tenant.<tenant>            a tenant's policy record (§9)
//
// Tenant, user and node ids are validated by the caller (wire.ValidID),
// so they never contain '.', '*' or '>'.
type Subjects struct{ Prefix string }

// Presence is the subject of one user's presence changes.
func (s Subjects) Presence(tenant, user string) string {
	return s.Prefix + ".presence." + tenant + "." + user
}

// PresenceTenant is the wildcard of every presence change in a tenant.
func (s Subjects) PresenceTenant(tenant string) string {
	return s.Prefix + ".presence." + tenant + ".*"
}

// Call is the subject of telephony events of one user.
func (s Subjects) Call(tenant, user string) string { return s.Prefix + ".call." + tenant + "." + user }

// CallTenant is the wildcard of every call event in a tenant.
func (s Subjects) CallTenant(tenant string) string { return s.Prefix + ".call." + tenant + ".*" }

// Tenant is the subject of a tenant's policy changes.
func (s Subjects) Tenant(tenant string) string { return s.Prefix + ".tenant." + tenant }

// Tenants is the wildcard of every tenant's policy changes.
func (s Subjects) Tenants() string { return s.Prefix + ".tenant.*" }

// Node is the control subject of one node.
func (s Subjects) Node(node string) string { return s.Prefix + ".node." + node }

// kind of a subject, with its tenant and user when it has them.
func (s Subjects) parse(subject string) (kind, tenant, user string) {
	rest, ok := strings.CutPrefix(subject, s.Prefix+".")
	if !ok {
		return "", "", ""
	}
	parts := strings.SplitN(rest, ".", 3)
	switch {
	case len(parts) == 3 && (parts[0] == "presence" || parts[0] == "call"):
		return parts[0], parts[1], parts[2]
	case len(parts) == 2 && parts[0] == "node":
		return "node", "", ""
	case len(parts) == 2 && parts[0] == "tenant":
		return "tenant", parts[1], ""
	}
	return "", "", ""
}
