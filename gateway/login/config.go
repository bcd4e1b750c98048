package login

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Placeholder is the part of Config.Key that the session id replaces.
const Placeholder = "{id}"

// The hash fields Spring Session keeps its timing in (contract §2.1).
const (
	FieldLastAccessed = "lastAccessedTime"    // milliseconds since 1970
	FieldMaxInactive  = "maxInactiveInterval" // seconds; negative: never expires
)

// Defaults of contract §8.
const (
	DefaultCookie      = "SESSION"
	DefaultUserField   = "sessionAttr:pgw.user"
	DefaultTenantField = "sessionAttr:pgw.tenant"
	DefaultRolesField  = "sessionAttr:pgw.roles"
	DefaultCheck       = 5 * time.Second
)

// MaxCookieBytes bounds the cookie value read: base64 of the longest id
// (128 bytes) is 172 characters, so anything much longer is refused
// before decoding.
const MaxCookieBytes = 1024

// Config says where login sessions live and how to read them. Errors from
// New name the setting by its environment variable (PGW_LOGIN_*).
type Config struct {
	// Key is the session hash's key with Placeholder where the id goes
	// (PGW_LOGIN_KEY), e.g. spring:session:sessions:{id}. Required.
	Key string
	// Cookie is the cookie holding the session id (PGW_LOGIN_COOKIE).
	// Default SESSION.
	Cookie string
	// CookieBase64: the cookie value is base64 of the id, as Spring
	// Session writes it (PGW_LOGIN_COOKIE_BASE64). The gateway's default
	// is true; the zero value here is false.
	CookieBase64 bool
	// UserField, TenantField and RolesField name the hash fields
	// (PGW_LOGIN_USER_FIELD, PGW_LOGIN_TENANT_FIELD,
	// PGW_LOGIN_ROLES_FIELD). Defaults sessionAttr:pgw.user,
	// sessionAttr:pgw.tenant, sessionAttr:pgw.roles.
	UserField, TenantField, RolesField string
	// TenantAllowed, when set, is asked about every login's tenant after
	// the session was read (the per-tenant switch of contract §9); a
	// non-nil error refuses the login and is returned as it is (a
	// *problem.Problem with code login_claims is expected). Default nil:
	// every tenant may use logins.
	TenantAllowed func(ctx context.Context, tenant string) error
	// Now is the clock, for tests. Default nil: time.Now.
	Now func() time.Time
}

func (c *Config) withDefaults() {
	if c.Cookie == "" {
		c.Cookie = DefaultCookie
	}
	if c.UserField == "" {
		c.UserField = DefaultUserField
	}
	if c.TenantField == "" {
		c.TenantField = DefaultTenantField
	}
	if c.RolesField == "" {
		c.RolesField = DefaultRolesField
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// CheckKey validates a PGW_LOGIN_KEY value.
func CheckKey(key string) error {
	if strings.Count(key, Placeholder) != 1 {
		return fmt.Errorf("PGW_LOGIN_KEY: %q must contain %s exactly once (e.g. spring:session:sessions:{id})", key, Placeholder)
	}
	return nil
}

// CheckCookieName validates a PGW_LOGIN_COOKIE value: an RFC 6265 token.
func CheckCookieName(name string) error {
	if name == "" {
		return fmt.Errorf("PGW_LOGIN_COOKIE: must not be empty")
	}
	for _, c := range []byte(name) {
		if c <= ' ' || c >= 0x7F || strings.IndexByte(`()<>@,;:\"/[]?={}`, c) >= 0 {
			return fmt.Errorf("PGW_LOGIN_COOKIE: %q is not a cookie name (RFC 6265 token)", name)
		}
	}
	return nil
}
