package loadtest

import (
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Token mints an HS256 JWT with the contract's claims (§2). roles may be nil
// (the gateway reads that as ["user"]); sid, when set, binds the token to
// one session.
func Token(secret, tenant, sub string, roles []string, sid string, ttl time.Duration) (string, error) {
	now := time.Now()
	claims := jwt.MapClaims{
		"sub":    sub,
		"tenant": tenant,
		"iat":    now.Unix(),
		"exp":    now.Add(ttl).Unix(),
	}
	if len(roles) > 0 {
		claims["roles"] = roles
	}
	if sid != "" {
		claims["sid"] = sid
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(secret))
	if err != nil {
		return "", fmt.Errorf("sign token for %s/%s: %w", tenant, sub, err)
	}
	return s, nil
}

// tokenTTL outlives any run, so no connection sees `expiring` mid-test.
const tokenTTL = 6 * time.Hour
