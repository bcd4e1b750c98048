package bridge

import (
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// MintToken returns an HS256 token for a bridge: sub is the bridge id,
// tenant the tenant, roles ["bridge"], valid from now for ttl.
func MintToken(secret []byte, tenant, bridgeID string, ttl time.Duration, now time.Time) (string, error) {
	claims := jwt.MapClaims{
		"sub":    bridgeID,
		"tenant": tenant,
		"roles":  []string{"bridge"},
		"iat":    now.Unix(),
		"exp":    now.Add(ttl).Unix(),
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(secret)
	if err != nil {
		return "", fmt.Errorf("bridge: sign token: %w", err)
	}
	return s, nil
}

// SubjectOf returns the sub claim of a token without verifying it: the
// gateway verifies; the bridge only needs a default bridge id.
func SubjectOf(token string) (string, error) {
	var claims jwt.RegisteredClaims
	if _, _, err := jwt.NewParser().ParseUnverified(token, &claims); err != nil {
		return "", fmt.Errorf("bridge: read token: %w", err)
	}
	return claims.Subject, nil
}

// token returns the bearer token for the next connection: the static one,
// or a freshly minted one.
func (c Config) token() (string, error) {
	if c.Token != "" {
		return c.Token, nil
	}
	return MintToken(c.JWTSecret, c.Tenant, c.BridgeID, c.TokenTTL, time.Now())
}

// canRenew reports whether the bridge can answer expiring with refresh.
func (c Config) canRenew() bool { return c.Token == "" }
