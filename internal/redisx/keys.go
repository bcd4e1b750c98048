package redisx

import "strings"

// Keys builds every Redis key of pgw, presence's and telephony's alike, in
// one layout (docs/redis.md lists them):
//
//	<prefix>:<kind>[:{<hash tag>}][:<rest>...]
//
// The hash tag decides the Redis Cluster slot: keys a script or a pipeline
// must touch together share one. A user's keys carry {tenant:user}
// (contract §5), a tenant's {tenant}, a node's {node}.
type Keys struct{ prefix string }

// NewKeys returns the builder of the keys under prefix (PGW_PREFIX).
func NewKeys(prefix string) Keys { return Keys{prefix: prefix} }

// Prefix is the prefix the keys start with.
func (k Keys) Prefix() string { return k.prefix }

// Global is a key of the whole deployment, with no hash tag.
func (k Keys) Global(kind string, rest ...string) string { return k.join(kind, "", rest) }

// User is a key of one user, tagged {tenant:user}.
func (k Keys) User(kind, tenant, user string, rest ...string) string {
	return k.join(kind, tenant+":"+user, rest)
}

// Tenant is a key of one tenant, tagged {tenant}.
func (k Keys) Tenant(kind, tenant string, rest ...string) string { return k.join(kind, tenant, rest) }

// Tagged is a key tagged with any other tag (a node id, tenant:session).
func (k Keys) Tagged(kind, tag string, rest ...string) string { return k.join(kind, tag, rest) }

func (k Keys) join(kind, tag string, rest []string) string {
	var b strings.Builder
	b.WriteString(k.prefix)
	b.WriteByte(':')
	b.WriteString(kind)
	if tag != "" {
		b.WriteString(":{")
		b.WriteString(tag)
		b.WriteByte('}')
	}
	for _, r := range rest {
		b.WriteByte(':')
		b.WriteString(r)
	}
	return b.String()
}
