package auth

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/pgw/pgw/problem"
)

// Verifier checks tokens against one Config. It is immutable after New and
// safe for concurrent use.
type Verifier struct {
	parser   *jwt.Parser // built once by New; Verify shares it
	keyfunc  jwt.Keyfunc // v.key, bound once
	secret   []byte
	hmacKey  any                  // secret boxed once: returning a []byte as any allocates
	keys     map[string]publicKey // by kid; "" is the default key
	algs     []string             // allowed, as given to jwt.WithValidMethods
	audience string
	issuer   string
	leeway   time.Duration
	now      func() time.Time

	// Tenants' own rules (§9), changed by SetTenant while Verify runs.
	tenantMu sync.Mutex
	tenants  tenantState
}

// Algorithms returns the algs this Verifier accepts, for the start-up log.
func (v *Verifier) Algorithms() []string { return slices.Clone(v.algs) }

// Verify checks token (signature, alg, exp/nbf/iat, aud, iss and the
// gateway's claims) and returns its claims. Every refusal is a
// *problem.Problem with a token_* code whose detail names the cause and
// never contains the token.
func (v *Verifier) Verify(token string) (Claims, error) {
	if token == "" {
		return Claims{}, problem.New(problem.TokenMissing, "no token was sent")
	}
	if len(token) > MaxTokenBytes {
		return Claims{}, problem.New(problem.TokenMalformed, "token is %d bytes, more than the %d allowed", len(token), MaxTokenBytes)
	}
	tt := v.tenants.table.Load()
	if tt != nil && len(tt.owners) > 0 {
		if c, handled, err := v.verifyTenant(token, tt); handled {
			return c, err
		}
	}
	var tc tokenClaims
	t, err := v.parser.ParseWithClaims(token, &tc, v.keyfunc)
	if err != nil {
		return Claims{}, v.refusal(err, t, &tc)
	}
	c, p := tc.claims()
	if p != nil {
		return Claims{}, p
	}
	if tt != nil {
		if p := tt.check(c.Tenant, &tc); p != nil {
			return Claims{}, p
		}
	}
	return c, nil
}

// key is the jwt.Keyfunc: HS256 takes the secret whatever the kid; the
// others take the key the kid names, and only for the alg that key is for
// (so a public key can never serve as an HMAC secret, nor an RSA key for
// ES256). jwt has already refused algs outside v.algs.
func (v *Verifier) key(t *jwt.Token) (any, error) {
	alg := t.Method.Alg()
	if alg == AlgHS256 {
		return v.hmacKey, nil
	}
	var kid string
	if raw, ok := t.Header["kid"]; ok {
		s, ok := raw.(string)
		if !ok {
			return nil, problem.New(problem.TokenMalformed, "header kid is not a string")
		}
		kid = s
	}
	k, ok := v.keys[kid]
	if !ok {
		if kid == "" {
			return nil, problem.New(problem.TokenUnknownKey, "token has no kid and no default key (one without kid) is configured")
		}
		return nil, problem.New(problem.TokenUnknownKey, "no key has kid %q", problem.Excerpt(kid, 64))
	}
	if k.alg != alg {
		return nil, problem.New(problem.TokenAlgorithm, "alg %s does not fit key %q, which is %s", alg, problem.Excerpt(kid, 64), k.alg)
	}
	return k.key, nil
}

// refusal maps a jwt error to the problem a client sees. jwt's own text is
// kept as the cause for logs (it never contains the token); the detail is
// ours. t and tc may be partly filled, never trusted beyond naming a cause.
func (v *Verifier) refusal(err error, t *jwt.Token, tc *tokenClaims) *problem.Problem {
	// Problems raised by v.key and by the claim getters come back wrapped.
	if p := problem.As(err); p != nil {
		return p
	}
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return problem.Wrap(err, problem.TokenMalformed, "not a well-formed JWT (%s)", malformedCause(err))
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		// ParseUnverified: alg missing or unknown to jwt.
		alg, ok := headerAlg(t)
		if !ok {
			return problem.Wrap(err, problem.TokenMalformed, "header alg is missing or not a string")
		}
		return v.algProblem(err, alg)
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		// jwt reports an alg outside WithValidMethods (none included) as an
		// invalid signature; tell the two apart.
		if alg, ok := headerAlg(t); ok && !slices.Contains(v.algs, alg) {
			return v.algProblem(err, alg)
		}
		return problem.Wrap(err, problem.TokenSignature, "signature does not verify")
	case errors.Is(err, jwt.ErrTokenInvalidClaims):
		return v.claimsProblem(err, tc)
	}
	return problem.Wrap(err, problem.TokenMalformed, "token refused")
}

func (v *Verifier) algProblem(err error, alg string) *problem.Problem {
	if strings.EqualFold(alg, "none") {
		return problem.Wrap(err, problem.TokenAlgorithm, "alg none is never accepted")
	}
	return problem.Wrap(err, problem.TokenAlgorithm, "alg %q is not allowed (allowed: %s)", problem.Excerpt(alg, 16), strings.Join(v.algs, ", "))
}

// claimsProblem picks one cause among jwt's joined validation errors:
// shape first (a missing claim), then time, then audience and issuer.
func (v *Verifier) claimsProblem(err error, tc *tokenClaims) *problem.Problem {
	now := v.now()
	switch {
	case tc.Exp.state == claimAbsent:
		return problem.Wrap(err, problem.TokenClaims, "claim exp is missing")
	case errors.Is(err, jwt.ErrTokenExpired):
		return problem.Wrap(err, problem.TokenExpired, "token expired at %s (now %s)", tc.Exp.v.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return problem.Wrap(err, problem.TokenNotYetValid, "nbf %s is in the future (now %s)", tc.Nbf.v.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return problem.Wrap(err, problem.TokenNotYetValid, "iat %s is in the future (now %s)", tc.Iat.v.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	// Missing, empty or wrong: jwt says ErrTokenRequiredClaimMissing for
	// the first two, so compare the claims themselves.
	case v.audience != "" && !slices.Contains(tc.Aud.v, v.audience):
		return problem.Wrap(err, problem.TokenAudience, "aud is missing or does not name this gateway's audience")
	case v.issuer != "" && tc.Iss.v != v.issuer:
		return problem.Wrap(err, problem.TokenIssuer, "iss is missing or is not this gateway's issuer")
	}
	return problem.Wrap(err, problem.TokenClaims, "claims refused")
}

// headerAlg is the token's alg header, when there is one.
func headerAlg(t *jwt.Token) (string, bool) {
	if t == nil {
		return "", false
	}
	alg, ok := t.Header["alg"].(string)
	return alg, ok
}

// malformedCause says at which stage jwt gave up, in our words: jwt's
// nested decoder text may quote bytes of the token.
func malformedCause(err error) string {
	msg := err.Error()
	for _, c := range [...]struct{ jwt, say string }{
		{"invalid number of segments", "not three dot-separated parts"},
		{"could not base64 decode header", "header is not base64url"},
		{"could not JSON decode header", "header is not a JSON object"},
		{"could not base64 decode claim", "payload is not base64url"},
		{"could not JSON decode claim", "payload is not a JSON object"},
		{"could not base64 decode signature", "signature is not base64url"},
	} {
		if strings.Contains(msg, c.jwt) {
			return c.say
		}
	}
	return "unreadable"
}
