package wire

import "regexp"

// IDPattern is the contract's identifier rule (§2) for tenant, user,
// session, bridge and node ids, as shown in errors: ids become NATS subject
// tokens and Redis key parts, so '.', '*', '>', '{', '}', ':' and spaces are
// refused.
const IDPattern = `^[A-Za-z0-9_-]{1,128}$`

var idPattern = regexp.MustCompile(IDPattern)

// ValidID reports whether s is a valid tenant, user, session, bridge or
// node id.
func ValidID(s string) bool { return idPattern.MatchString(s) }

// MaxFrameIDLen is the longest string a frame's id may be (a number is
// always accepted).
const MaxFrameIDLen = 64
