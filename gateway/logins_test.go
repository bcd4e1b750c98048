package gateway

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/redis/go-redis/v9"

	"github.com/pgw/pgw/internal/testenv"
	"github.com/pgw/pgw/problem"
)

// The login sessions of contract §2.1 against a real node: the session
// hashes live in a Redis of their own (as an app's would), the node's
// presence store in another, so what the gateway does to the app's Redis
// is seen alone.

const (
	appOrigin   = "https://app.example"
	loginKeyFmt = "spring:session:sessions:{id}"
)

// loginEnv is a node with login sessions on, and the app's Redis.
type loginEnv struct {
	tn    *testNode
	app   *redis.Client // the app's session Redis
	store *redis.Client // the node's presence Redis
}

func startLoginNode(t *testing.T, mod func(*Config)) *loginEnv {
	t.Helper()
	appSrv, storeSrv := testenv.Redis(t), testenv.Redis(t)
	e := &loginEnv{app: redis.NewClient(&redis.Options{Addr: appSrv.Addr}), store: redis.NewClient(&redis.Options{Addr: storeSrv.Addr})}
	t.Cleanup(func() { _ = e.app.Close(); _ = e.store.Close() })
	e.tn = startNode(t, func(c *Config) {
		c.RedisURL, c.LoginRedisURL, c.LoginKey = storeSrv.URL, appSrv.URL, loginKeyFmt
		c.AllowedOrigins = []string{appOrigin}
		c.LoginCheck = 100 * time.Millisecond
		if mod != nil {
			mod(c)
		}
	})
	return e
}

// session stores a login session as a JSON serializer writes it.
func (e *loginEnv) session(t testing.TB, id, user, tenant string, more ...string) {
	t.Helper()
	vals := []any{"sessionAttr:pgw.user", `"` + user + `"`, "sessionAttr:pgw.tenant", `"` + tenant + `"`,
		"lastAccessedTime", time.Now().UnixMilli(), "maxInactiveInterval", 1800, "creationTime", time.Now().UnixMilli()}
	for _, m := range more {
		vals = append(vals, m)
	}
	if err := e.app.HSet(context.Background(), strings.Replace(loginKeyFmt, "{id}", id, 1), vals...).Err(); err != nil {
		t.Fatal(err)
	}
}

func (e *loginEnv) logout(t testing.TB, id string) {
	t.Helper()
	if err := e.app.Del(context.Background(), strings.Replace(loginKeyFmt, "{id}", id, 1)).Err(); err != nil {
		t.Fatal(err)
	}
}

// cookieHeader is a request header with the login cookie as Spring Session
// writes it, and origin when not empty.
func cookieHeader(value, origin string) http.Header {
	h := http.Header{}
	h.Set("Cookie", "SESSION="+value)
	if origin != "" {
		h.Set("Origin", origin)
	}
	return h
}

func b64(id string) string { return base64.StdEncoding.EncodeToString([]byte(id)) }

// connectLogin opens a window authenticated by login session id: with the
// cookie on the upgrade, or with hello.login.
func connectLogin(t testing.TB, tn *testNode, id string, viaCookie bool, session, window string) (*client, map[string]any) {
	t.Helper()
	hello := map[string]any{"type": "hello", "session": session, "window": window, "device": "desktop"}
	var c *client
	if viaCookie {
		c = dial(t, tn.url, cookieHeader(b64(id), appOrigin))
	} else {
		c = dial(t, tn.url, nil)
		hello["login"] = id
	}
	w := c.request(hello)
	if w["type"] != "welcome" {
		t.Fatalf("hello with login: %v", w)
	}
	return c, w
}

func TestLoginConnects(t *testing.T) {
	e := startLoginNode(t, nil)
	e.session(t, "s-alice", "alice", "acme", "sessionAttr:pgw.roles", `["user","admin"]`)
	for _, viaCookie := range []bool{true, false} {
		c, w := connectLogin(t, e.tn, "s-alice", viaCookie, "", "main")
		if w["user"] != "alice" || w["tenant"] != "acme" {
			t.Fatalf("welcome: %v", w)
		}
		if exp, _ := w["expires"].(float64); exp < float64(time.Now().Add(29*time.Minute).Unix()) {
			t.Fatalf("welcome expires %v, want the session's expiry (30 min ahead)", w["expires"])
		}
		// Roles come from the session: admin may set another user's status.
		r := c.request(map[string]any{"type": "subscribe", "users": []string{"alice"}})
		if r["type"] != "ok" {
			t.Fatalf("subscribe: %v", r)
		}
	}
	// A token wins over the cookie: the connection is the token's user.
	h := cookieHeader(b64("s-alice"), appOrigin)
	c := dial(t, e.tn.url, h)
	if w := c.request(map[string]any{"type": "hello", "token": token(t, "bob", "acme"), "device": "desktop"}); w["user"] != "bob" {
		t.Fatalf("token and cookie: %v", w)
	}
	h.Set("Authorization", "Bearer "+token(t, "carol", "acme"))
	c = dial(t, e.tn.url, h)
	if w := c.request(map[string]any{"type": "hello", "login": "s-alice", "device": "desktop"}); w["user"] != "carol" {
		t.Fatalf("header token and hello.login: %v", w)
	}
}

// TestLoginCookieNeedsAllowedOrigin: an upgrade authenticated by the cookie
// without an allowed Origin is refused 403 before the upgrade (cross-site
// WebSocket hijacking), and nothing is read from the app's Redis.
func TestLoginCookieNeedsAllowedOrigin(t *testing.T) {
	e := startLoginNode(t, nil)
	e.session(t, "s-alice", "alice", "acme")
	for _, origin := range []string{"", "https://evil.example"} {
		resp := upgradeStatus(t, e.tn, cookieHeader(b64("s-alice"), origin))
		if resp.status != http.StatusForbidden || resp.code != string(problem.Forbidden) {
			t.Errorf("origin %q: %d %s, want 403 forbidden", origin, resp.status, resp.code)
		}
	}
}

type upgradeAnswer struct {
	status int
	code   string
}

// upgradeStatus tries an upgrade that should be refused and returns the
// HTTP answer.
func upgradeStatus(t *testing.T, tn *testNode, h http.Header) upgradeAnswer {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	ws, resp, err := d.Dial(tn.url, h)
	if err == nil {
		_ = ws.Close()
		t.Fatalf("upgrade with %v succeeded, want a refusal", h)
	}
	if resp == nil {
		t.Fatalf("upgrade: %v", err)
	}
	defer resp.Body.Close()
	var p struct {
		Code string `json:"code"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&p)
	return upgradeAnswer{resp.StatusCode, p.Code}
}

// TestLoginRevoked: the app deletes the session (the user logged out);
// every connection using it gets bye login_revoked and close 4401 within
// PGW_LOGIN_CHECK, connections of other logins stay, and the user goes
// offline after the grace.
func TestLoginRevoked(t *testing.T) {
	e := startLoginNode(t, nil)
	e.session(t, "s-alice", "alice", "acme")
	e.session(t, "s-bob", "bob", "acme")
	watcher := watch(t, e.tn, "alice")
	main, _ := connectLogin(t, e.tn, "s-alice", true, "app", "main")
	child, _ := connectLogin(t, e.tn, "s-alice", false, "app", "child")
	bob, _ := connectLogin(t, e.tn, "s-bob", true, "", "main")
	// A watch-only viewer (the board) on the same login.
	board := dial(t, e.tn.url, cookieHeader(b64("s-alice"), appOrigin))
	if w := board.request(map[string]any{"type": "hello", "watch": true, "device": "web"}); w["type"] != "welcome" || w["user"] != "alice" {
		t.Fatalf("watch-only hello with the cookie: %v", w)
	}
	watcher.waitFrame(0, 5*time.Second, func(f map[string]any) bool { return f["user"] == "alice" && f["status"] == "online" })
	// A login connection has no token to refresh.
	if r := main.request(map[string]any{"type": "refresh", "token": token(t, "alice", "acme")}); problemCode(r) != string(problem.InvalidArgument) {
		t.Fatalf("refresh on a login connection: %v", r)
	}

	e.logout(t, "s-alice")
	for _, c := range []*client{main, child, board} {
		c.waitFrame(0, 5*time.Second, func(f map[string]any) bool { return f["type"] == "bye" && f["reason"] == "login_revoked" })
		if ce := c.waitClose(5 * time.Second); ce.Code != problem.CloseAuth || ce.Text != string(problem.LoginRevoked) {
			t.Fatalf("closed %d %q, want 4401 login_revoked", ce.Code, ce.Text)
		}
	}
	watcher.waitFrame(0, 5*time.Second, func(f map[string]any) bool { return f["user"] == "alice" && f["status"] == "offline" })
	if r := bob.request(map[string]any{"type": "idle", "idle": false}); r["type"] != "ok" {
		t.Fatalf("bob's connection after alice's logout: %v", r)
	}
}

// TestLoginHTTPAPI: the HTTP API accepts the cookie; a state-changing
// request needs an allowed Origin.
func TestLoginHTTPAPI(t *testing.T) {
	e := startLoginNode(t, nil)
	e.session(t, "s-alice", "alice", "acme")
	connectLogin(t, e.tn, "s-alice", true, "", "main")
	api := newAPIClient(t, e.tn)
	r := api.do(apiReq{method: "GET", path: "/v1/presence/alice", header: cookieHeader(b64("s-alice"), "")})
	if r.status != http.StatusOK || r.json["status"] != "online" {
		t.Fatalf("GET with the cookie: %d %s", r.status, r.raw)
	}
	body := `{"status":"busy"}`
	r = api.do(apiReq{method: "PUT", path: "/v1/presence/alice/status", body: body, header: cookieHeader(b64("s-alice"), "")})
	wantAPIProblem(t, r, http.StatusForbidden, string(problem.Forbidden), nil)
	r = api.do(apiReq{method: "PUT", path: "/v1/presence/alice/status", body: body, header: cookieHeader(b64("s-alice"), "https://evil.example")})
	wantAPIProblem(t, r, http.StatusForbidden, string(problem.Forbidden), nil)
	r = api.do(apiReq{method: "PUT", path: "/v1/presence/alice/status", body: body, header: cookieHeader(b64("s-alice"), appOrigin)})
	if r.status != http.StatusOK || r.json["status"] != "busy" {
		t.Fatalf("PUT with the cookie and Origin: %d %s", r.status, r.raw)
	}
	r = api.do(apiReq{method: "GET", path: "/v1/presence/alice", header: cookieHeader(b64("gone"), "")})
	wantAPIProblem(t, r, http.StatusUnauthorized, string(problem.LoginUnknown), nil)
	if got := r.header.Get("WWW-Authenticate"); got != `Bearer realm="pgw"` {
		t.Fatalf("WWW-Authenticate %q after a refused login", got)
	}
}

// TestLoginBadInput: each bad login is refused with its own code, and
// nothing is written to either Redis (the app's sees only HMGET; the
// store gets no connection key).
func TestLoginBadInput(t *testing.T) {
	e := startLoginNode(t, nil)
	ctx := context.Background()
	expired := time.Now().Add(-31 * time.Minute).UnixMilli()
	e.session(t, "s-expired", "alice", "acme", "lastAccessedTime", "", "maxInactiveInterval", "1800")
	e.app.HSet(ctx, "spring:session:sessions:s-expired", "lastAccessedTime", expired)
	e.app.HSet(ctx, "spring:session:sessions:s-nouser", "sessionAttr:pgw.tenant", `"acme"`)
	e.app.HSet(ctx, "spring:session:sessions:s-notenant", "sessionAttr:pgw.user", `"alice"`)
	e.session(t, "s-baduser", "al ice", "acme")
	e.session(t, "s-badtenant", "alice", "ac.me")
	// A Java-serialized ArrayList where the user should be.
	list := "\xac\xed\x00\x05sr\x00\x13java.util.ArrayListx\x81\xd2\x1d\x99\xc7a\x9d\x03\x00\x01I\x00\x04sizexp\x00\x00\x00\x01w\x04\x00\x00\x00\x01t\x00\x05alicex"
	e.app.HSet(ctx, "spring:session:sessions:s-object", "sessionAttr:pgw.user", list, "sessionAttr:pgw.tenant", `"acme"`)
	if err := e.app.ConfigResetStat(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	before := e.app.DBSize(ctx).Val()

	type how struct {
		cookie string // raw cookie value; "" uses hello.login
		login  string
	}
	for _, tc := range []struct {
		name   string
		how    how
		code   problem.Code
		detail string
	}{
		{"unknown id", how{cookie: b64("s-none")}, problem.LoginUnknown, "no login session"},
		{"unknown id in hello", how{login: "s-none"}, problem.LoginUnknown, "no login session"},
		{"expired", how{cookie: b64("s-expired")}, problem.LoginExpired, "expired"},
		{"missing user", how{login: "s-nouser"}, problem.LoginClaims, "sessionAttr:pgw.user is missing"},
		{"missing tenant", how{cookie: b64("s-notenant")}, problem.LoginClaims, "sessionAttr:pgw.tenant is missing"},
		{"invalid user", how{cookie: b64("s-baduser")}, problem.LoginClaims, "sessionAttr:pgw.user is not a valid id"},
		{"invalid tenant", how{login: "s-badtenant"}, problem.LoginClaims, "sessionAttr:pgw.tenant is not a valid id"},
		{"serialized object", how{cookie: b64("s-object")}, problem.LoginClaims, "sessionAttr:pgw.user: a Java-serialized object other than a String"},
		{"cookie not base64", how{cookie: "%%%not-base64"}, problem.LoginUnknown, "not base64"},
		{"10 KiB cookie", how{cookie: strings.Repeat("QUFB", 10<<10/4)}, problem.LoginUnknown, "more than the 1024 allowed"},
		{"id with star in cookie", how{cookie: b64("spring:*")}, problem.LoginUnknown, "valid session id"},
		{"id with star", how{login: "*"}, problem.LoginUnknown, "valid session id"},
		{"id with brace", how{login: "a{b}"}, problem.LoginUnknown, "valid session id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c *client
			hello := map[string]any{"type": "hello", "device": "desktop"}
			if tc.how.cookie != "" {
				c = dial(t, e.tn.url, cookieHeader(tc.how.cookie, appOrigin))
			} else {
				c = dial(t, e.tn.url, nil)
				hello["login"] = tc.how.login
			}
			r := c.request(hello)
			p, _ := r["error"].(map[string]any)
			if r["type"] != "error" || problemCode(r) != string(tc.code) || !strings.Contains(p["detail"].(string), tc.detail) {
				t.Fatalf("reply %v, want error %s with %q", r, tc.code, tc.detail)
			}
			if ce := c.waitClose(5 * time.Second); ce.Code != problem.CloseAuth || ce.Text != string(tc.code) {
				t.Fatalf("closed %d %q, want 4401 %s", ce.Code, ce.Text, tc.code)
			}
		})
	}
	// Nothing written: the app's Redis saw reads of sessions only, and the
	// node's store holds no connection key.
	stats := e.app.Info(ctx, "commandstats").Val()
	var cmds []string
	for _, line := range strings.Split(stats, "\n") {
		if name, _, ok := strings.Cut(strings.TrimPrefix(line, "cmdstat_"), ":"); ok && strings.HasPrefix(line, "cmdstat_") {
			cmds = append(cmds, name)
		}
	}
	for _, c := range cmds {
		if !slices.Contains([]string{"hmget", "info", "ping", "hello", "client|setinfo", "client|setname", "config|resetstat", "dbsize"}, c) {
			t.Errorf("the app's Redis saw %s (all commands: %v); the gateway may only read sessions", c, cmds)
		}
	}
	if after := e.app.DBSize(ctx).Val(); after != before {
		t.Errorf("the app's Redis holds %d keys, had %d", after, before)
	}
	if keys := e.store.Keys(ctx, "*:conn:*").Val(); len(keys) != 0 {
		t.Errorf("refused logins left connection keys: %v", keys)
	}
}

// TestLoginSettings: login sessions need a Redis and a key with {id}.
func TestLoginSettings(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"PGW_LOGIN_KEY": "spring:session:sessions:{id}"}, "PGW_LOGIN_REDIS_URL"},
		{map[string]string{"PGW_LOGIN_KEY": "spring:session:sessions:", "PGW_REDIS_URL": "redis://127.0.0.1:1/0"}, "PGW_LOGIN_KEY"},
		{map[string]string{"PGW_LOGIN_KEY": "s:{id}", "PGW_REDIS_URL": "redis://127.0.0.1:1/0", "PGW_LOGIN_CHECK": "0s"}, "PGW_LOGIN_CHECK"},
		{map[string]string{"PGW_LOGIN_KEY": "s:{id}", "PGW_REDIS_URL": "redis://127.0.0.1:1/0", "PGW_LOGIN_COOKIE_BASE64": "maybe"}, "PGW_LOGIN_COOKIE_BASE64"},
		{map[string]string{"PGW_LOGIN_KEY": "s:{id}", "PGW_LOGIN_REDIS_URL": "not a url"}, "PGW_LOGIN_REDIS_URL"},
	} {
		_, _, err := LoadConfig("gateway", nil, func(k string) string { return tc.env[k] }, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want an error naming %s", tc.env, err, tc.want)
		}
	}
	c, _, err := LoadConfig("gateway", []string{"--login-key", "s:{id}", "--login-cookie-base64=false", "--login-check", "2s"},
		func(k string) string { return map[string]string{"PGW_REDIS_URL": "redis://127.0.0.1:1/0"}[k] }, nil)
	if err != nil || c.LoginKey != "s:{id}" || c.LoginCookieBase64 || c.LoginCheck != 2*time.Second || c.LoginCookie != "SESSION" {
		t.Fatalf("flags: %+v, %v", c, err)
	}
}
