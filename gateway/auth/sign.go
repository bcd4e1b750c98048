package auth

import (
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/pgw/pgw/wire"
)

// Sentinel errors of Sign: the claims would make a token Verify refuses.
var (
	// errNoSecret: Sign needs an HS256 secret.
	errNoSecret = errors.New("no HS256 secret")
	// errSignClaims: a claim Verify would refuse.
	errSignClaims = errors.New("bad claims")
)

// signedClaims is the payload Sign writes.
type signedClaims struct {
	jwt.RegisteredClaims
	Tenant string   `json:"tenant"`
	Roles  []string `json:"roles,omitempty"`
	Sid    string   `json:"sid,omitempty"`
}

// Sign returns an HS256 token for c, for `gateway token`, the load harness
// and tests. c.Expires is required; a zero c.IssuedAt becomes now; nil
// Roles are left out of the token (Verify reads that as ["user"]). Claims
// Verify would refuse (bad ids, unknown roles) are refused here.
func Sign(secret []byte, c Claims) (string, error) {
	return sign(secret, c, "", "", time.Now())
}

// Sign is the package Sign with this Verifier's secret, audience and
// issuer, so the token passes this Verifier (gateway token, dev token).
func (v *Verifier) Sign(c Claims) (string, error) {
	return sign(v.secret, c, v.audience, v.issuer, v.now())
}

func sign(secret []byte, c Claims, aud, iss string, now time.Time) (string, error) {
	if len(secret) == 0 {
		return "", errNoSecret
	}
	if err := checkSignClaims(c); err != nil {
		return "", err
	}
	iat := c.IssuedAt
	if iat.IsZero() {
		iat = now
	}
	sc := signedClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   c.Subject,
			Issuer:    iss,
			ExpiresAt: jwt.NewNumericDate(c.Expires),
			IssuedAt:  jwt.NewNumericDate(iat),
		},
		Tenant: c.Tenant,
		Roles:  c.Roles,
		Sid:    c.Session,
	}
	if aud != "" {
		sc.Audience = jwt.ClaimStrings{aud}
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, sc).SignedString(secret)
}

func checkSignClaims(c Claims) error {
	switch {
	case !wire.ValidID(c.Subject):
		return fmt.Errorf("%w: sub %q is not a valid id (%s)", errSignClaims, c.Subject, wire.IDPattern)
	case !wire.ValidID(c.Tenant):
		return fmt.Errorf("%w: tenant %q is not a valid id (%s)", errSignClaims, c.Tenant, wire.IDPattern)
	case c.Session != "" && !wire.ValidID(c.Session):
		return fmt.Errorf("%w: sid %q is not a valid id (%s)", errSignClaims, c.Session, wire.IDPattern)
	case c.Expires.IsZero():
		return fmt.Errorf("%w: exp is required", errSignClaims)
	}
	for _, r := range c.Roles {
		if !knownRole(r) {
			return fmt.Errorf("%w: unknown role %q (allowed: user, bridge, admin, operator)", errSignClaims, r)
		}
	}
	return nil
}
