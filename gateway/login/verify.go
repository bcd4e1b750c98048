package login

import (
	"context"
	"encoding/base64"
	"net/http"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pgw/pgw/gateway/auth"
	"github.com/pgw/pgw/problem"
	"github.com/pgw/pgw/wire"
)

// Verifier reads login sessions from the app's Redis. It is immutable after
// New and safe for concurrent use.
type Verifier struct {
	cfg            Config
	rdb            redis.UniversalClient
	prefix, suffix string   // Key around Placeholder
	fields         []string // one HMGET: user, tenant, roles, lastAccessedTime, maxInactiveInterval
}

// Field positions in Verifier.fields.
const (
	iUser = iota
	iTenant
	iRoles
	iLastAccessed
	iMaxInactive
)

// New checks cfg and returns a Verifier reading from rdb (which the caller
// keeps owning).
func New(cfg Config, rdb redis.UniversalClient) (*Verifier, error) {
	cfg.withDefaults()
	if err := CheckKey(cfg.Key); err != nil {
		return nil, err
	}
	if err := CheckCookieName(cfg.Cookie); err != nil {
		return nil, err
	}
	prefix, suffix, _ := strings.Cut(cfg.Key, Placeholder)
	return &Verifier{cfg: cfg, rdb: rdb, prefix: prefix, suffix: suffix,
		fields: []string{cfg.UserField, cfg.TenantField, cfg.RolesField, FieldLastAccessed, FieldMaxInactive}}, nil
}

// CookieName is the configured cookie (PGW_LOGIN_COOKIE).
func (v *Verifier) CookieName() string { return v.cfg.Cookie }

// Login is a verified login session.
type Login struct {
	// ID is the session id (the Redis key's variable part).
	ID string
	// Claims are what a token would say: Subject, Tenant, Roles; Expires
	// is when the session expires as last read (zero: never). Session
	// (sid) is always empty: logins bind no session id.
	Claims auth.Claims
	// user and tenant are the raw field values, so a check round notices
	// a session that now names someone else without decoding them.
	user, tenant string
}

// Cookie returns the session id of the request's login cookie. present
// reports whether the cookie was sent; a cookie that cannot hold an id
// (too long, not base64 when CookieBase64, not a valid id) gives a
// login_unknown problem with present true.
func (v *Verifier) Cookie(r *http.Request) (id string, present bool, err error) {
	ck, err := r.Cookie(v.cfg.Cookie)
	if err != nil {
		return "", false, nil
	}
	id, err = v.CookieValue(ck.Value)
	return id, true, err
}

// CookieValue turns a cookie value into a session id.
func (v *Verifier) CookieValue(val string) (string, error) {
	name := v.cfg.Cookie
	if len(val) > MaxCookieBytes {
		return "", problem.New(problem.LoginUnknown, "cookie %s is %d bytes, more than the %d allowed", name, len(val), MaxCookieBytes)
	}
	if val == "" {
		return "", problem.New(problem.LoginUnknown, "cookie %s is empty", name)
	}
	id := val
	if v.cfg.CookieBase64 {
		enc := base64.StdEncoding
		if !strings.HasSuffix(val, "=") && len(val)%4 != 0 {
			enc = base64.RawStdEncoding // Java's decoder takes unpadded base64 too
		}
		b, err := enc.Strict().DecodeString(val)
		if err != nil {
			return "", problem.New(problem.LoginUnknown, "cookie %s is not base64 (PGW_LOGIN_COOKIE_BASE64 is true)", name)
		}
		id = string(b)
	}
	if !wire.ValidID(id) {
		return "", problem.New(problem.LoginUnknown, "cookie %s does not hold a valid session id (%s)", name, idRule)
	}
	return id, nil
}

// idRule is wire.ValidID's rule (contract §2), for details.
const idRule = wire.IDPattern

// key is the Redis key of a session id that ValidID accepted.
func (v *Verifier) key(id string) string { return v.prefix + id + v.suffix }

// Verify reads session id with one HMGET and returns the login. Refusals
// are problems: login_unknown (no such session, or an id that breaks the
// ids rule), login_expired, login_claims (naming the field); a Redis
// failure is unavailable.
func (v *Verifier) Verify(ctx context.Context, id string) (Login, error) {
	if !wire.ValidID(id) {
		return Login{}, problem.New(problem.LoginUnknown, "login is not a valid session id (%s)", idRule)
	}
	vals, err := v.rdb.HMGet(ctx, v.key(id), v.fields...).Result()
	if err != nil {
		p := problem.Wrap(err, problem.Unavailable, "the login session store does not answer")
		p.RetryAfter = 1
		return Login{}, p
	}
	all := true
	for _, x := range vals {
		if x != nil {
			all = false
		}
	}
	if all {
		return Login{}, problem.New(problem.LoginUnknown, "no login session has this id (logged out, expired or never existed)")
	}
	l, err := v.read(id, vals)
	if err != nil {
		return Login{}, err
	}
	if !l.Claims.Expires.IsZero() && !v.cfg.Now().Before(l.Claims.Expires) {
		return Login{}, problem.New(problem.LoginExpired, "the login session expired at %s (lastAccessedTime + maxInactiveInterval)", l.Claims.Expires.UTC().Format(time.RFC3339))
	}
	if v.cfg.TenantAllowed != nil {
		if err := v.cfg.TenantAllowed(ctx, l.Claims.Tenant); err != nil {
			return Login{}, err
		}
	}
	return l, nil
}

// read decodes one HMGET reply.
func (v *Verifier) read(id string, vals []any) (Login, error) {
	str := func(i int) ([]byte, bool) {
		s, ok := vals[i].(string)
		return []byte(s), ok
	}
	l := Login{ID: id}
	for _, f := range [...]struct {
		i   int
		out *string
		raw *string
	}{{iUser, &l.Claims.Subject, &l.user}, {iTenant, &l.Claims.Tenant, &l.tenant}} {
		name := v.fields[f.i]
		b, ok := str(f.i)
		if !ok {
			return Login{}, problem.New(problem.LoginClaims, "field %s is missing from the login session", name)
		}
		s, err := textValue(b)
		if err != nil {
			return Login{}, fieldProblem(name, err)
		}
		if !wire.ValidID(s) {
			return Login{}, problem.New(problem.LoginClaims, "field %s is not a valid id (%s)", name, idRule)
		}
		*f.out, *f.raw = s, string(b)
	}
	l.Claims.Roles = []string{auth.RoleUser}
	if b, ok := str(iRoles); ok {
		roles, err := rolesValue(b)
		if err != nil {
			return Login{}, fieldProblem(v.fields[iRoles], err)
		}
		for _, r := range roles {
			if !auth.KnownRole(r) {
				return Login{}, problem.New(problem.LoginClaims, "field %s has unknown role %q (allowed: user, bridge, admin)", v.fields[iRoles], problem.Excerpt(r, 32))
			}
		}
		if len(roles) > 0 {
			l.Claims.Roles = roles
		}
	}
	exp, err := v.expiry(vals)
	if err != nil {
		return Login{}, err
	}
	l.Claims.Expires = exp
	return l, nil
}

// expiry is lastAccessedTime + maxInactiveInterval, zero when the session
// never expires (negative interval) or has no timing fields.
func (v *Verifier) expiry(vals []any) (time.Time, error) {
	la, okA := vals[iLastAccessed].(string)
	mi, okM := vals[iMaxInactive].(string)
	if !okA || !okM {
		return time.Time{}, nil
	}
	last, err := numberValue([]byte(la))
	if err != nil {
		return time.Time{}, fieldProblem(FieldLastAccessed, err)
	}
	interval, err := numberValue([]byte(mi))
	if err != nil {
		return time.Time{}, fieldProblem(FieldMaxInactive, err)
	}
	if interval < 0 {
		return time.Time{}, nil
	}
	const maxMillis = 1 << 53 // far beyond year 10000; keeps the sum from overflowing
	if last < 0 || last > maxMillis || interval > maxMillis/1000 {
		return time.Time{}, problem.New(problem.LoginClaims, "field %s or %s is out of range", FieldLastAccessed, FieldMaxInactive)
	}
	return time.UnixMilli(last + interval*1000), nil
}

func fieldProblem(name string, err error) *problem.Problem {
	return problem.New(problem.LoginClaims, "field %s: %v", name, err)
}
