package auth

import (
	"encoding/json"
	"slices"
	"strconv"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/pgw/pgw/problem"
	"github.com/pgw/pgw/wire"
)

// Roles a token may carry (contract §2).
const (
	RoleUser   = "user"   // a person's client; the default when roles is absent
	RoleBridge = "bridge" // an IP-phone bridge
	RoleAdmin  = "admin"  // may act on other users of its tenant
	// RoleOperator may read and change any tenant's policy (§9), whatever
	// its own tenant claim; it grants nothing else.
	RoleOperator = "operator"
)

// Claims is what a verified token says about its holder.
type Claims struct {
	Subject string   // sub: the user id
	Tenant  string   // tenant: the tenant id
	Roles   []string // roles; ["user"] when the token has none
	Session string   // sid: binds the token to one session; "" when absent
	// Bridges (claim bridges) lists bridge ids a bridge token may report
	// besides its sub (a gateway process serving several PBXs).
	Bridges  []string
	Expires  time.Time // exp (required)
	IssuedAt time.Time // iat; zero when absent
}

// ReportsFor reports whether a bridge token may report for bridge id: its
// sub, or one listed in its bridges claim (contract §3.1; the tenant
// policy of §9 may narrow this further).
func (c Claims) ReportsFor(bridge string) bool {
	return bridge == c.Subject || slices.Contains(c.Bridges, bridge)
}

// HasRole reports whether the claims carry role.
func (c Claims) HasRole(role string) bool { return slices.Contains(c.Roles, role) }

// knownRole reports whether r is one of the contract's roles.
func knownRole(r string) bool {
	return r == RoleUser || r == RoleBridge || r == RoleAdmin || r == RoleOperator
}

// claimState records how a claim appeared in the token.
type claimState uint8

const (
	claimAbsent  claimState = iota // missing or null
	claimPresent                   // present with the right JSON type
	claimBadType                   // present with the wrong JSON type
)

// The claim types below never fail to decode: they record a wrong JSON type
// instead, so the refusal is token_claims naming the claim rather than a
// generic token_malformed from encoding/json.

// stringClaim is a claim that must be a JSON string.
type stringClaim struct {
	v     string
	state claimState
}

func (c *stringClaim) UnmarshalJSON(b []byte) error {
	*c = stringClaim{}
	switch {
	case string(b) == "null":
	case len(b) >= 2 && b[0] == '"' && plainASCII(b[1:len(b)-1]):
		// The common case; the decoder already checked the syntax.
		c.v, c.state = string(b[1:len(b)-1]), claimPresent
	case len(b) >= 2 && b[0] == '"':
		if json.Unmarshal(b, &c.v) == nil {
			c.state = claimPresent
		} else {
			c.state = claimBadType
		}
	default:
		c.state = claimBadType
	}
	return nil
}

// plainASCII reports whether a JSON string body needs no unescaping.
func plainASCII(b []byte) bool {
	for _, ch := range b {
		if ch == '\\' || ch >= 0x80 {
			return false
		}
	}
	return true
}

// timeClaim is a NumericDate claim (RFC 7519 §2): seconds since the epoch.
type timeClaim struct {
	v     jwt.NumericDate
	state claimState
}

// maxNumericDate bounds a NumericDate (about year 33658) so the float to
// time conversion cannot overflow.
const maxNumericDate = 1e12

func (c *timeClaim) UnmarshalJSON(b []byte) error {
	*c = timeClaim{}
	if string(b) == "null" {
		return nil
	}
	c.state = claimBadType
	if len(b) == 0 || (b[0] != '-' && (b[0] < '0' || b[0] > '9')) {
		return nil
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || f < 0 || f > maxNumericDate {
		return nil
	}
	sec := int64(f)
	nsec := int64((f - float64(sec)) * 1e9)
	c.v = *jwt.NewNumericDate(time.Unix(sec, nsec))
	c.state = claimPresent
	return nil
}

// listClaim is a claim that is an array of strings, or (when single is
// set, as for aud) one string.
type listClaim struct {
	v     []string
	state claimState
}

func (c *listClaim) decode(b []byte, single bool) {
	*c = listClaim{}
	switch {
	case string(b) == "null":
	case len(b) > 0 && b[0] == '[':
		if v, ok := plainStringArray(b); ok {
			c.v, c.state = v, claimPresent
		} else if json.Unmarshal(b, &c.v) == nil {
			c.state = claimPresent
		} else {
			// encoding/json leaves what it decoded before the bad element.
			c.v, c.state = nil, claimBadType
		}
	case single && len(b) > 0 && b[0] == '"':
		var s string
		if json.Unmarshal(b, &s) == nil {
			c.v, c.state = []string{s}, claimPresent
		} else {
			c.state = claimBadType
		}
	default:
		c.state = claimBadType
	}
}

// plainStringArray decodes a JSON array of strings that need no
// unescaping, the common shape of roles and aud, without a second
// encoding/json pass; ok is false for anything else. The decoder has
// already checked b is valid JSON, so only JSON whitespace can appear.
func plainStringArray(b []byte) (v []string, ok bool) {
	i := 1 // past '['
	ws := func() {
		for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
			i++
		}
	}
	ws()
	if i < len(b) && b[i] == ']' {
		return []string{}, true
	}
	for i < len(b) {
		if b[i] != '"' {
			return nil, false
		}
		end := i + 1
		for end < len(b) && b[end] != '"' {
			if b[end] == '\\' || b[end] >= 0x80 {
				return nil, false
			}
			end++
		}
		if end >= len(b) {
			return nil, false
		}
		v = append(v, string(b[i+1:end]))
		i = end + 1
		ws()
		if i >= len(b) {
			return nil, false
		}
		switch b[i] {
		case ']':
			return v, true
		case ',':
			i++
			ws()
		default:
			return nil, false
		}
	}
	return nil, false
}

// rolesClaim is the roles claim: an array of strings only.
type rolesClaim struct{ listClaim }

func (c *rolesClaim) UnmarshalJSON(b []byte) error { c.decode(b, false); return nil }

// audClaim is aud: one string or an array of strings (RFC 7519 §4.1.3).
type audClaim struct{ listClaim }

func (c *audClaim) UnmarshalJSON(b []byte) error { c.decode(b, true); return nil }

// tokenClaims is the payload of a token being verified. It implements
// jwt.Claims so that jwt's validator checks exp, nbf, iat, aud and iss.
type tokenClaims struct {
	Sub    stringClaim `json:"sub"`
	Tenant stringClaim `json:"tenant"`
	Sid    stringClaim `json:"sid"`
	Iss    stringClaim `json:"iss"`
	Roles  rolesClaim  `json:"roles"`
	Bridge rolesClaim  `json:"bridges"`
	Aud    audClaim    `json:"aud"`
	Exp    timeClaim   `json:"exp"`
	Nbf    timeClaim   `json:"nbf"`
	Iat    timeClaim   `json:"iat"`
}

var _ jwt.Claims = (*tokenClaims)(nil)

// claimTypeProblem is the refusal of a claim with the wrong JSON type.
func claimTypeProblem(claim, want string) *problem.Problem {
	return problem.New(problem.TokenClaims, "claim %s is not %s", claim, want)
}

func (c *tokenClaims) date(t *timeClaim, name string) (*jwt.NumericDate, error) {
	switch t.state {
	case claimPresent:
		return &t.v, nil
	case claimBadType:
		return nil, claimTypeProblem(name, "a NumericDate (seconds since 1970, 0 to 1e12)")
	}
	return nil, nil
}

// GetExpirationTime implements jwt.Claims.
func (c *tokenClaims) GetExpirationTime() (*jwt.NumericDate, error) { return c.date(&c.Exp, "exp") }

// GetNotBefore implements jwt.Claims.
func (c *tokenClaims) GetNotBefore() (*jwt.NumericDate, error) { return c.date(&c.Nbf, "nbf") }

// GetIssuedAt implements jwt.Claims.
func (c *tokenClaims) GetIssuedAt() (*jwt.NumericDate, error) { return c.date(&c.Iat, "iat") }

// GetAudience implements jwt.Claims.
func (c *tokenClaims) GetAudience() (jwt.ClaimStrings, error) {
	if c.Aud.state == claimBadType {
		return nil, claimTypeProblem("aud", "a string or an array of strings")
	}
	return c.Aud.v, nil
}

// GetIssuer implements jwt.Claims.
func (c *tokenClaims) GetIssuer() (string, error) {
	if c.Iss.state == claimBadType {
		return "", claimTypeProblem("iss", "a string")
	}
	return c.Iss.v, nil
}

// GetSubject implements jwt.Claims.
func (c *tokenClaims) GetSubject() (string, error) {
	if c.Sub.state == claimBadType {
		return "", claimTypeProblem("sub", "a string")
	}
	return c.Sub.v, nil
}

// claims checks what jwt's validator does not (sub, tenant, sid, roles)
// and returns the verified Claims.
func (c *tokenClaims) claims() (Claims, *problem.Problem) {
	for _, id := range [...]struct {
		name     string
		c        *stringClaim
		required bool
	}{{"sub", &c.Sub, true}, {"tenant", &c.Tenant, true}, {"sid", &c.Sid, false}} {
		switch {
		case id.c.state == claimBadType:
			return Claims{}, claimTypeProblem(id.name, "a string")
		case id.c.state == claimAbsent && id.required:
			return Claims{}, problem.New(problem.TokenClaims, "claim %s is missing", id.name)
		case id.c.state == claimPresent && !wire.ValidID(id.c.v):
			return Claims{}, problem.New(problem.TokenClaims, "claim %s is not a valid id (%s)", id.name, wire.IDPattern)
		}
	}
	if c.Roles.state == claimBadType {
		return Claims{}, claimTypeProblem("roles", "an array of strings")
	}
	for _, r := range c.Roles.v {
		if !knownRole(r) {
			return Claims{}, problem.New(problem.TokenClaims, "claim roles has unknown role %q (allowed: user, bridge, admin, operator)", problem.Excerpt(r, 32))
		}
	}
	if c.Bridge.state == claimBadType {
		return Claims{}, claimTypeProblem("bridges", "an array of strings")
	}
	for _, b := range c.Bridge.v {
		if !wire.ValidID(b) {
			return Claims{}, problem.New(problem.TokenClaims, "claim bridges has %q, not a valid id (%s)", problem.Excerpt(b, 32), wire.IDPattern)
		}
	}
	roles := c.Roles.v
	if len(roles) == 0 {
		roles = []string{RoleUser}
	}
	out := Claims{
		Subject: c.Sub.v,
		Tenant:  c.Tenant.v,
		Roles:   roles,
		Session: c.Sid.v,
		Bridges: c.Bridge.v,
		Expires: c.Exp.v.Time,
	}
	if c.Iat.state == claimPresent {
		out.IssuedAt = c.Iat.v.Time
	}
	return out, nil
}

// KnownRole reports whether r is one of the contract's roles: the one rule
// for tokens and login sessions alike.
func KnownRole(r string) bool { return knownRole(r) }
