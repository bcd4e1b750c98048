package auth

import (
	"net/http"
	"strings"

	"github.com/pgw/pgw/problem"
)

// realmChallenge is the WWW-Authenticate value of every 401 (contract §7).
const realmChallenge = `Bearer realm="pgw"`

// BearerToken returns the token of an "Authorization: Bearer <jwt>" header
// (RFC 6750 §2.1; the scheme is case-insensitive). present reports whether
// the request carried credentials at all. A header that is not a single
// well-formed Bearer credential gives a token_malformed problem, with
// present true. The query string is never looked at (contract §2).
func BearerToken(r *http.Request) (token string, present bool, err error) {
	values := r.Header.Values("Authorization")
	switch {
	case len(values) == 0 || len(values) == 1 && strings.TrimSpace(values[0]) == "":
		return "", false, nil
	case len(values) > 1:
		return "", true, problem.New(problem.TokenMalformed, "more than one Authorization header")
	}
	scheme, rest, _ := strings.Cut(strings.TrimSpace(values[0]), " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", true, problem.New(problem.TokenMalformed, "Authorization scheme is %q, want Bearer", problem.Excerpt(scheme, 16))
	}
	token = strings.TrimLeft(rest, " ")
	if token == "" {
		return "", true, problem.New(problem.TokenMalformed, "Authorization: Bearer has no token")
	}
	if !b64token(token) {
		return "", true, problem.New(problem.TokenMalformed, "Authorization: Bearer token has characters outside RFC 6750 b64token")
	}
	return token, true, nil
}

// b64token reports whether s is an RFC 6750 §2.1 b64token:
// 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func b64token(s string) bool {
	i := 0
	for ; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/') {
			break
		}
	}
	if i == 0 {
		return false
	}
	for ; i < len(s); i++ {
		if s[i] != '=' {
			return false
		}
	}
	return true
}

// Challenge returns the WWW-Authenticate value for a 401 answering err:
// `Bearer realm="pgw"`, plus `, error="invalid_token"` when a token was
// sent and refused (RFC 6750 §3). nil and token_missing mean no token was
// sent, so no error attribute (RFC 6750 §3.1); neither is there one for a
// refused login session (login_*: a cookie, not a bearer token).
func Challenge(err error) string {
	if err == nil {
		return realmChallenge
	}
	if p := problem.As(err); p != nil {
		switch p.Code {
		case problem.TokenMissing, problem.LoginUnknown, problem.LoginExpired, problem.LoginClaims:
			return realmChallenge
		}
	}
	return realmChallenge + `, error="invalid_token"`
}
