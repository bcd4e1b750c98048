package gateway

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pgw/pgw/gateway/auth"
	"github.com/pgw/pgw/gateway/login"
	"github.com/pgw/pgw/presence"
	"github.com/pgw/pgw/problem"
)

// Login sessions beside JWT (contract §2.1): the node's side of package
// login — where the id comes from on the upgrade, in hello and on HTTP
// requests, the Origin rule for cookies, and the revocation loop.

// logins is the node's login-session state; nil fields when PGW_LOGIN_KEY
// is empty.
type logins struct {
	verifier *login.Verifier
	tracker  *login.Tracker
	own      redis.UniversalClient // a client of PGW_LOGIN_REDIS_URL the node closes; nil when shared
}

// openLogins builds the verifier on the app's Redis: the store's client
// when PGW_LOGIN_REDIS_URL is empty or the same, its own client otherwise.
func (n *Node) openLogins() error {
	cfg := n.cfg
	if cfg.LoginKey == "" {
		return nil
	}
	rdb := n.redis
	if rdb == nil || (cfg.LoginRedisURL != "" && cfg.LoginRedisURL != cfg.RedisURL) {
		url := cfg.LoginRedisURL
		if url == "" {
			url = cfg.RedisURL
		}
		c, err := presence.NewRedisClient(url)
		if err != nil {
			return fmt.Errorf("PGW_LOGIN_REDIS_URL: %w", err)
		}
		rdb, n.logins.own = c, c
	}
	v, err := login.New(login.Config{Key: cfg.LoginKey, Cookie: cfg.LoginCookie, CookieBase64: cfg.LoginCookieBase64,
		UserField: cfg.LoginUserField, TenantField: cfg.LoginTenantField, RolesField: cfg.LoginRolesField,
		TenantAllowed: n.loginTenantAllowed}, rdb)
	if err != nil {
		n.closeLogins()
		return err
	}
	n.logins.verifier, n.logins.tracker = v, login.NewTracker(v)
	n.loop("logins", cfg.LoginCheck, n.checkLogins)
	return nil
}

func (n *Node) closeLogins() {
	if n.logins.own != nil {
		_ = n.logins.own.Close()
	}
}

// loginTenantAllowed is asked about the tenant of every login session read:
// a tenant whose policy has login.enabled false refuses its login sessions
// with login_claims (contract §9; the default is true).
func (n *Node) loginTenantAllowed(_ context.Context, tenant string) error {
	if !n.policy(tenant).LoginEnabled() {
		return problem.New(problem.LoginClaims, "tenant %q does not accept login sessions (its policy has login.enabled false)", tenant)
	}
	return nil
}

// checkLogins is one revocation round: every login session of this node's
// connections is read once; the connections of those gone are closed.
func (n *Node) checkLogins(ctx context.Context, _ time.Time) {
	r, err := n.logins.tracker.Check(ctx)
	n.metrics.loginChecks.Add(float64(r.Sessions))
	if r.Closed > 0 {
		n.log.Info("login sessions revoked", "sessions", r.Revoked, "connections", r.Closed)
	}
	if err != nil {
		n.log.Warn("login session check failed; nothing revoked this round", "err", err)
	}
}

// unixOrZero is welcome's expires: Unix seconds, 0 for a login session that
// never expires.
func unixOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

// Revoke ends a connection whose login session is gone (login.Revoker).
func (c *conn) Revoke() { c.closeWith(problem.CloseAuth, problem.LoginRevoked, true) }

// A request authenticated by the login cookie must carry an allowed Origin
// when it upgrades or changes state (§2.1): the node's one origin rule,
// origin.Policy.Check with needOrigin set, decides — first against every
// list (the tenant is not known before the session is read), then, once it
// is, against the tenant's (§9; at hello for an upgrade).

// upgradeLogin is the login cookie of an upgrade without a bearer token:
// the session id, or why the cookie holds none. It is resolved at hello,
// where a token still wins.
type upgradeLogin struct {
	id  string
	err error
}

// upgradeCookie reads the login cookie of an upgrade request that carried
// no bearer token. It returns nil when there is none (or logins are off),
// and a problem when the cookie comes without an allowed Origin.
func (n *Node) upgradeCookie(r *http.Request) (*upgradeLogin, error) {
	if n.logins.verifier == nil {
		return nil, nil
	}
	id, present, err := n.logins.verifier.Cookie(r)
	if !present {
		return nil, nil
	}
	if err := n.originsUnion().Check(r.Header, true); err != nil {
		return nil, err
	}
	return &upgradeLogin{id: id, err: err}, nil
}

// verifyLogin reads a login session; nil login means from hello.login.
func (n *Node) verifyLogin(ctx context.Context, id string) (login.Login, error) {
	if n.logins.verifier == nil {
		return login.Login{}, problem.New(problem.LoginUnknown, "login sessions are not enabled on this gateway (PGW_LOGIN_KEY is empty)")
	}
	l, err := n.logins.verifier.Verify(ctx, id)
	if err != nil {
		n.metrics.authFailures.WithLabelValues(string(codeOf(err))).Inc()
	}
	return l, err
}

// helloLogin resolves the login of a hello that carried no token: its
// login field, else the upgrade's cookie. ok is false when there is none.
func (c *conn) helloLogin(ctx context.Context, f *frame) (l login.Login, ok bool, err error) {
	switch {
	case f.Login != "":
		l, err = c.n.verifyLogin(ctx, f.Login)
	case c.pre != nil && c.pre.cookie != nil && c.pre.cookie.err != nil:
		c.n.metrics.authFailures.WithLabelValues(string(codeOf(c.pre.cookie.err))).Inc()
		err = c.pre.cookie.err
	case c.pre != nil && c.pre.cookie != nil:
		l, err = c.n.verifyLogin(ctx, c.pre.cookie.id)
	default:
		return login.Login{}, false, nil
	}
	return l, true, err
}

// apiCookie authenticates an HTTP API request by the login cookie (no
// bearer token was sent). ok is false when there is no cookie.
func (a *api) apiCookie(r *http.Request) (cl auth.Claims, ok bool, err error) {
	n := a.n
	if n.logins.verifier == nil {
		return auth.Claims{}, false, nil
	}
	id, present, err := n.logins.verifier.Cookie(r)
	if !present {
		return auth.Claims{}, false, nil
	}
	changes := r.Method != http.MethodGet && r.Method != http.MethodHead
	if changes {
		if err := n.originsUnion().Check(r.Header, true); err != nil {
			return auth.Claims{}, true, err
		}
	}
	if err != nil {
		n.metrics.authFailures.WithLabelValues(string(codeOf(err))).Inc()
		return auth.Claims{}, true, err
	}
	l, err := n.verifyLogin(r.Context(), id)
	if err == nil && changes {
		err = n.tenantOrigins(l.Claims.Tenant).Check(r.Header, true)
	}
	return l.Claims, true, err
}
