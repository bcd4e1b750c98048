package auth

import (
	"slices"
	"sync/atomic"

	"github.com/golang-jwt/jwt/v5"

	"github.com/pgw/pgw/problem"
)

// TenantJWT is one tenant's own token rules (contract §9): keys from the
// tenant's identity provider, accepted only for tokens whose tenant claim
// is that tenant, and the issuer and audience the tenant's tokens must
// carry (checked for every token of the tenant, whoever signed it).
type TenantJWT struct {
	issuer, audience string
	keys             map[string]publicKey // by kid; "" is the tenant's default key
	algs             []string
}

// NewTenantJWT checks a tenant's jwt settings: jwks (may be empty) is a JWK
// Set read with the same rules as PGW_JWT_KEYS (public keys only, RSA ≥
// 2048 bits, P-256, Ed25519, unique kids).
func NewTenantJWT(issuer, audience string, jwks []byte) (*TenantJWT, error) {
	t := &TenantJWT{issuer: issuer, audience: audience}
	if len(jwks) == 0 {
		return t, nil
	}
	keys, err := parseJWKS(jwks)
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, errNoKeys
	}
	t.keys = keys
	for _, a := range supportedAlgs {
		for _, k := range keys {
			if k.alg == a && !slices.Contains(t.algs, a) {
				t.algs = append(t.algs, a)
			}
		}
	}
	return t, nil
}

// tenantRules is a TenantJWT bound to a Verifier's clock and leeway.
type tenantRules struct {
	jwt    *TenantJWT
	parser *jwt.Parser // nil when the tenant has no keys
	keyfn  jwt.Keyfunc
}

// tenantTable is the Verifier's view of every tenant's rules; replaced
// whole (copy on write) so Verify reads it without a lock.
type tenantTable struct {
	rules map[string]*tenantRules
	// owners lists the tenants whose keys have a kid.
	owners map[string][]string
}

// tenantState is the part of a Verifier that policies change.
type tenantState struct {
	table  atomic.Pointer[tenantTable]
	peeker *jwt.Parser
}

// SetTenant installs (or with nil removes) a tenant's own rules. A policy
// change calls it; Verify sees the change at once.
func (v *Verifier) SetTenant(tenant string, t *TenantJWT) {
	v.tenantMu.Lock()
	defer v.tenantMu.Unlock()
	old := v.tenants.table.Load()
	next := &tenantTable{rules: map[string]*tenantRules{}, owners: map[string][]string{}}
	if old != nil {
		for k, r := range old.rules {
			if k != tenant {
				next.rules[k] = r
			}
		}
	}
	if t != nil && (t.issuer != "" || t.audience != "" || len(t.keys) > 0) {
		r := &tenantRules{jwt: t}
		if len(t.keys) > 0 {
			opts := []jwt.ParserOption{jwt.WithValidMethods(t.algs), jwt.WithExpirationRequired(), jwt.WithIssuedAt(),
				jwt.WithLeeway(v.leeway), jwt.WithTimeFunc(v.now), jwt.WithStrictDecoding()}
			if t.audience != "" {
				opts = append(opts, jwt.WithAudience(t.audience))
			}
			if t.issuer != "" {
				opts = append(opts, jwt.WithIssuer(t.issuer))
			}
			r.parser = jwt.NewParser(opts...)
			r.keyfn = func(tok *jwt.Token) (any, error) { return tenantKey(t, tok) }
		}
		next.rules[tenant] = r
	}
	for name, r := range next.rules {
		for kid := range r.jwt.keys {
			next.owners[kid] = append(next.owners[kid], name)
		}
	}
	if len(next.rules) == 0 {
		next = nil
	}
	v.tenants.table.Store(next)
}

// tenantKey is the keyfunc of a tenant's own keys.
func tenantKey(t *TenantJWT, tok *jwt.Token) (any, error) {
	kid, _ := tok.Header["kid"].(string)
	k, ok := t.keys[kid]
	if !ok {
		return nil, problem.New(problem.TokenUnknownKey, "no key of the tenant has kid %q", problem.Excerpt(kid, 64))
	}
	if k.alg != tok.Method.Alg() {
		return nil, problem.New(problem.TokenAlgorithm, "alg %s does not fit key %q, which is %s", tok.Method.Alg(), problem.Excerpt(kid, 64), k.alg)
	}
	return k.key, nil
}

// verifyTenant decides whether token belongs to a tenant's own keys. It
// returns handled=false when the node's own keys (or secret) verify it.
// The tenant claim read before verification only picks the key set: the
// key that verifies must belong to the tenant the claim names, so a
// company's identity provider can never sign for another (token_claims).
func (v *Verifier) verifyTenant(token string, tt *tenantTable) (Claims, bool, error) {
	var peek tokenClaims
	t, _, err := v.tenants.peeker.ParseUnverified(token, &peek)
	if err != nil || t.Method == nil || t.Method.Alg() == AlgHS256 {
		return Claims{}, false, nil
	}
	kid, _ := t.Header["kid"].(string)
	if _, global := v.keys[kid]; global {
		return Claims{}, false, nil
	}
	owners := tt.owners[kid]
	if len(owners) == 0 {
		return Claims{}, false, nil
	}
	tenant := peek.Tenant.v
	if peek.Tenant.state != claimPresent || !slices.Contains(owners, tenant) {
		return Claims{}, true, problem.New(problem.TokenClaims,
			"claim tenant: key %q is a tenant's own key and signs only that tenant's tokens", problem.Excerpt(kid, 64))
	}
	r := tt.rules[tenant]
	var tc tokenClaims
	parsed, err := r.parser.ParseWithClaims(token, &tc, r.keyfn)
	if err != nil {
		p := v.refusal(err, parsed, &tc)
		// claimsProblem names the node's audience and issuer; name the
		// tenant's instead.
		switch {
		case r.jwt.audience != "" && !slices.Contains(tc.Aud.v, r.jwt.audience) && p.Code == problem.TokenClaims:
			p = problem.Wrap(err, problem.TokenAudience, "aud is missing or does not name the tenant's audience")
		case r.jwt.issuer != "" && tc.Iss.v != r.jwt.issuer && p.Code == problem.TokenClaims:
			p = problem.Wrap(err, problem.TokenIssuer, "iss is missing or is not the tenant's issuer")
		}
		return Claims{}, true, p
	}
	c, p := tc.claims()
	if p != nil {
		return Claims{}, true, p
	}
	if c.Tenant != tenant {
		// Unreachable: the same bytes were read twice. Kept as the rule.
		return Claims{}, true, problem.New(problem.TokenClaims, "claim tenant does not match the key's tenant")
	}
	return c, true, nil
}

// checkTenantClaims applies a tenant's issuer and audience to a token the
// node's own keys verified.
func (tt *tenantTable) check(tenant string, tc *tokenClaims) *problem.Problem {
	r := tt.rules[tenant]
	if r == nil {
		return nil
	}
	if r.jwt.audience != "" && !slices.Contains(tc.Aud.v, r.jwt.audience) {
		return problem.New(problem.TokenAudience, "aud is missing or does not name the audience of tenant %q", tenant)
	}
	if r.jwt.issuer != "" && tc.Iss.v != r.jwt.issuer {
		return problem.New(problem.TokenIssuer, "iss is missing or is not the issuer of tenant %q", tenant)
	}
	return nil
}
