package gateway

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pgw/pgw/gateway/auth"
	"github.com/pgw/pgw/internal/testenv"
	"github.com/pgw/pgw/presence"
	"github.com/pgw/pgw/wire"
)

// The HTTP API tests run a real node on a free port and talk real HTTP
// through specTransport, which checks every exchange against
// docs/openapi.yaml.

// mintToken mints a token with full control of the claims and the secret.
func mintToken(t testing.TB, secret string, c auth.Claims) string {
	t.Helper()
	if c.Expires.IsZero() {
		c.Expires = time.Now().Add(time.Hour)
	}
	tok, err := auth.Sign([]byte(secret), c)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// wantAPIProblem checks an answer is the problem with status and code, and
// that errors[] names exactly fields (when fields is not nil).
func wantAPIProblem(t *testing.T, r apiResp, status int, code string, fields []string) {
	t.Helper()
	if r.status != status || r.code() != code {
		t.Fatalf("got %d %q, want %d %q: %s", r.status, r.code(), status, code, r.raw)
	}
	if fields != nil && !slices.Equal(r.fields(), fields) {
		t.Fatalf("errors[] fields %q, want %q: %s", r.fields(), fields, r.raw)
	}
	if d, _ := r.json["detail"].(string); d == "" {
		t.Fatalf("problem without detail: %s", r.raw)
	}
}

func TestAPIGetPresence(t *testing.T) {
	tn := startNode(t, nil)
	c := newAPIClient(t, tn)
	connectUser(t, tn, "alice", "acme", "sa", "main")
	acme := token(t, "bob", "acme")

	r := c.do(apiReq{method: "GET", path: "/v1/presence/alice", token: acme})
	if r.status != 200 || r.json["status"] != "online" || r.json["user"] != "alice" || r.json["tenant"] != "acme" {
		t.Fatalf("alice: %d %s", r.status, r.raw)
	}
	never := c.do(apiReq{method: "GET", path: "/v1/presence/nobody", token: acme})
	if never.status != 200 || never.json["status"] != "offline" || never.json["version"] != 0.0 {
		t.Fatalf("never seen: %d %s", never.status, never.raw)
	}
	// Another tenant's alice is not reachable: the same answer as a user
	// nobody has seen (its own tenant, offline, version 0).
	other := c.do(apiReq{method: "GET", path: "/v1/presence/alice", token: token(t, "eve", "other")})
	want := strings.ReplaceAll(strings.ReplaceAll(string(never.raw), `"nobody"`, `"alice"`), `"acme"`, `"other"`)
	if other.status != 200 || string(other.raw) != want {
		t.Fatalf("other tenant: %d %s, want %s", other.status, other.raw, want)
	}
	bad := c.do(apiReq{method: "GET", path: "/v1/presence/a.b", token: acme, invalid: true})
	wantAPIProblem(t, bad, 400, "invalid_argument", []string{"user"})
	if bad.json["instance"] != "/v1/presence/a.b" || bad.json["title"] != "Invalid argument" {
		t.Fatalf("instance/title: %s", bad.raw)
	}
}

func TestAPIAuthFailures(t *testing.T) {
	tn := startNode(t, nil)
	c := newAPIClient(t, tn)
	expired := mintToken(t, testSecret, auth.Claims{Subject: "u1", Tenant: "acme", Expires: time.Now().Add(-time.Hour)})
	forged := mintToken(t, "another-secret-0123456789abcdef-012345", auth.Claims{Subject: "u1", Tenant: "acme"})
	const realm = `Bearer realm="pgw"`
	const refused = `Bearer realm="pgw", error="invalid_token"`
	cases := []struct {
		name      string
		auth      string
		code      string
		challenge string
	}{
		{"no token", "", "token_missing", realm},
		{"not a jwt", "Bearer not-a-jwt", "token_malformed", refused},
		{"wrong scheme", "Basic dTE6cHc=", "token_malformed", refused},
		{"expired", "Bearer " + expired, "token_expired", refused},
		{"bad signature", "Bearer " + forged, "token_signature", refused},
	}
	routes := []apiReq{
		{method: "GET", path: "/v1/presence/u1"},
		{method: "POST", path: "/v1/presence/query", body: `{"users":["u1"]}`},
		{method: "PUT", path: "/v1/presence/u1/status", body: `{"status":"busy"}`},
		{method: "DELETE", path: "/v1/sessions/s1"},
		{method: "POST", path: "/v1/ipt/events", body: `{"bridge":"b1","events":[]}`},
		{method: "POST", path: "/v1/ipt/sync", body: `{"bridge":"b1","devices":[]}`},
	}
	for _, tc := range cases {
		for _, rt := range routes {
			t.Run(tc.name+"/"+rt.method+" "+rt.path, func(t *testing.T) {
				rt.auth = tc.auth
				r := c.do(rt)
				wantAPIProblem(t, r, 401, tc.code, nil)
				if got := r.header.Get("WWW-Authenticate"); got != tc.challenge {
					t.Fatalf("WWW-Authenticate %q, want %q", got, tc.challenge)
				}
			})
		}
	}
}

func TestAPIQueryPresence(t *testing.T) {
	tn := startNode(t, func(c *Config) { c.MaxBatch = 3; c.MaxBody = 256 })
	c := newAPIClient(t, tn)
	connectUser(t, tn, "alice", "acme", "sa", "main")
	tok := token(t, "bob", "acme")

	r := c.do(apiReq{method: "POST", path: "/v1/presence/query", token: tok, body: `{"users":["alice","nobody"]}`})
	list, _ := r.json["presence"].([]any)
	if r.status != 200 || len(list) != 2 || list[0].(map[string]any)["status"] != "online" || list[1].(map[string]any)["status"] != "offline" {
		t.Fatalf("query: %d %s", r.status, r.raw)
	}
	r = c.do(apiReq{method: "POST", path: "/v1/presence/query", token: tok, body: `{"users":[]}`})
	if r.status != 200 || string(r.raw) != `{"presence":[]}`+"\n" {
		t.Fatalf("empty query: %d %s", r.status, r.raw)
	}

	cases := []struct {
		name   string
		ctype  string
		body   string
		status int
		code   string
		fields []string
		detail string // a part of the detail
	}{
		{"too many users", "", `{"users":["a","b","c","d"]}`, 400, "invalid_argument", []string{"users"}, "at most 3"},
		{"bad user id", "", `{"users":["a","b c"]}`, 400, "invalid_argument", []string{"users[1]"}, "users[1]"},
		{"users missing", "", `{}`, 400, "invalid_argument", []string{"users"}, "required"},
		{"users of the wrong type", "", `{"users":"alice"}`, 400, "invalid_argument", []string{"users"}, "must be an array"},
		{"user of the wrong type", "", `{"users":[7]}`, 400, "invalid_argument", []string{"users"}, "must be a string"},
		{"body not an object", "", `["alice"]`, 400, "invalid_argument", []string{"body"}, "must be an object"},
		{"unknown field", "", `{"users":["a"],"tenant":"x"}`, 400, "unknown_field", []string{"tenant"}, "tenant"},
		{"invalid JSON", "", `{"users":["a",]}`, 400, "malformed_json", nil, "at byte 15"},
		{"truncated JSON", "", `{"users":["a"`, 400, "malformed_json", nil, "at byte 13"},
		{"trailing data", "", `{"users":["a"]} {}`, 400, "malformed_json", nil, "at byte"},
		{"empty body", "application/json", ``, 400, "malformed_json", nil, "empty"},
		{"text content type", "text/plain", `{"users":["a"]}`, 415, "unsupported_media_type", nil, "text/plain"},
		{"no content type", "-", `{"users":["a"]}`, 415, "unsupported_media_type", nil, "missing"},
		{"too large", "", `{"users":["` + strings.Repeat("a", 300) + `"]}`, 413, "payload_too_large", nil, "256 bytes"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := c.do(apiReq{method: "POST", path: "/v1/presence/query", token: tok, ctype: tc.ctype, body: tc.body, invalid: true})
			wantAPIProblem(t, r, tc.status, tc.code, tc.fields)
			if d, _ := r.json["detail"].(string); !strings.Contains(d, tc.detail) {
				t.Fatalf("detail %q does not contain %q", d, tc.detail)
			}
		})
	}
}

func TestAPISetStatus(t *testing.T) {
	tn := startNode(t, nil)
	c := newAPIClient(t, tn)
	watcher, _ := connectUser(t, tn, "w", "acme", "sw", "main")
	if r := watcher.request(map[string]any{"type": "subscribe", "users": []string{"alice"}}); r["type"] != "ok" {
		t.Fatalf("subscribe: %v", r)
	}
	connectUser(t, tn, "alice", "acme", "sa", "main")
	alice := token(t, "alice", "acme")

	r := c.do(apiReq{method: "PUT", path: "/v1/presence/alice/status", token: alice, body: `{"status":"busy","note":"in a meeting"}`})
	if r.status != 200 || r.json["status"] != "busy" || r.json["manual"] != true || r.json["note"] != "in a meeting" {
		t.Fatalf("own status: %d %s", r.status, r.raw)
	}
	// The same path as the status frame: subscribers see the change.
	watcher.waitFrame(0, 3*time.Second, func(f map[string]any) bool {
		return f["type"] == "presence" && f["user"] == "alice" && f["status"] == "busy"
	})
	r = c.do(apiReq{method: "PUT", path: "/v1/presence/alice/status", token: token(t, "boss", "acme", "admin"), body: `{"status":"dnd"}`})
	if r.status != 200 || r.json["status"] != "dnd" {
		t.Fatalf("admin: %d %s", r.status, r.raw)
	}

	cases := []struct {
		name   string
		tok    string
		path   string
		body   string
		status int
		code   string
		fields []string
	}{
		{"another user", token(t, "bob", "acme"), "/v1/presence/alice/status", `{"status":"busy"}`, 403, "forbidden", nil},
		{"bridge token for itself", token(t, "alice", "acme", "bridge"), "/v1/presence/alice/status", `{"status":"busy"}`, 403, "forbidden", nil},
		{"offline user", token(t, "nobody", "acme"), "/v1/presence/nobody/status", `{"status":"busy"}`, 409, "user_offline", nil},
		{"another tenant's user is offline there", token(t, "alice", "other"), "/v1/presence/alice/status", `{"status":"busy"}`, 409, "user_offline", nil},
		{"bad status", alice, "/v1/presence/alice/status", `{"status":"gone"}`, 400, "invalid_argument", []string{"status"}},
		{"offline is not settable", alice, "/v1/presence/alice/status", `{"status":"offline"}`, 400, "invalid_argument", []string{"status"}},
		{"status missing", alice, "/v1/presence/alice/status", `{"note":"x"}`, 400, "invalid_argument", []string{"status"}},
		{"note too long and bad status", alice, "/v1/presence/alice/status", `{"status":"x","note":"` + strings.Repeat("n", 141) + `"}`, 400, "invalid_argument", []string{"status", "note"}},
		{"note of the wrong type", alice, "/v1/presence/alice/status", `{"status":"busy","note":5}`, 400, "invalid_argument", []string{"note"}},
		{"unknown field", alice, "/v1/presence/alice/status", `{"status":"busy","manual":true}`, 400, "unknown_field", []string{"manual"}},
		{"bad user id", alice, "/v1/presence/a%20b/status", `{"status":"busy"}`, 400, "invalid_argument", []string{"user"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := c.do(apiReq{method: "PUT", path: tc.path, token: tc.tok, body: tc.body, invalid: tc.status == 400})
			wantAPIProblem(t, r, tc.status, tc.code, tc.fields)
		})
	}
}

func TestAPIDeleteSession(t *testing.T) {
	tn := startNode(t, nil)
	c := newAPIClient(t, tn)
	main, _ := connectUser(t, tn, "alice", "acme", "s1", "main")
	child, _ := connectUser(t, tn, "alice", "acme", "s1", "child")
	connectUser(t, tn, "carol", "acme", "s2", "main")

	cases := []struct {
		name   string
		tok    string
		path   string
		status int
		code   string
	}{
		{"another user", token(t, "bob", "acme"), "/v1/sessions/s1", 403, "forbidden"},
		{"unknown session", token(t, "alice", "acme"), "/v1/sessions/nosuch", 404, "unknown_session"},
		{"another tenant", token(t, "alice", "other", "admin"), "/v1/sessions/s1", 404, "unknown_session"},
		{"bad id", token(t, "alice", "acme"), "/v1/sessions/a.b", 400, "invalid_argument"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wantAPIProblem(t, c.do(apiReq{method: "DELETE", path: tc.path, token: tc.tok, invalid: tc.status == 400}), tc.status, tc.code, nil)
		})
	}
	// Another tenant's session reveals nothing: byte for byte the answer to
	// a session that does not exist.
	foreign := c.do(apiReq{method: "DELETE", path: "/v1/sessions/s1", token: token(t, "alice", "other", "admin")})
	unknown := c.do(apiReq{method: "DELETE", path: "/v1/sessions/zz", token: token(t, "alice", "other", "admin")})
	if strings.ReplaceAll(string(foreign.raw), "s1", "zz") != string(unknown.raw) || foreign.header.Get("Content-Type") != unknown.header.Get("Content-Type") {
		t.Fatalf("another tenant's session answers\n%s\nunknown session answers\n%s", foreign.raw, unknown.raw)
	}

	r := c.do(apiReq{method: "DELETE", path: "/v1/sessions/s1", token: token(t, "alice", "acme")})
	if r.status != 204 || len(r.raw) != 0 {
		t.Fatalf("own session: %d %s", r.status, r.raw)
	}
	// The same effect as logout: every connection of the session gets bye
	// logged_out and close 1000.
	for _, cl := range []*client{main, child} {
		cl.waitFrame(0, 3*time.Second, func(f map[string]any) bool { return f["type"] == "bye" && f["reason"] == "logged_out" })
		if ce := cl.waitClose(3 * time.Second); ce == nil || ce.Code != 1000 || ce.Text != "logged_out" {
			t.Fatalf("close: %v", ce)
		}
	}
	p := c.do(apiReq{method: "GET", path: "/v1/presence/alice", token: token(t, "bob", "acme")})
	if p.json["status"] != "offline" {
		t.Fatalf("after logout (no grace): %s", p.raw)
	}
	r = c.do(apiReq{method: "DELETE", path: "/v1/sessions/s2", token: token(t, "boss", "acme", "admin")})
	if r.status != 204 {
		t.Fatalf("admin: %d %s", r.status, r.raw)
	}
	wantAPIProblem(t, c.do(apiReq{method: "DELETE", path: "/v1/sessions/s1", token: token(t, "alice", "acme")}), 404, "unknown_session", nil)
}

func TestAPITelephony(t *testing.T) {
	tn := startNode(t, func(c *Config) { c.MaxBatch = 5 })
	c := newAPIClient(t, tn)
	alice, _ := connectUser(t, tn, "alice", "acme", "sa", "main")
	bridge := token(t, "pbx1", "acme", "bridge")
	viewer := token(t, "bob", "acme")

	phone := func() map[string]any {
		t.Helper()
		r := c.do(apiReq{method: "GET", path: "/v1/presence/alice", token: viewer})
		ph, _ := r.json["phone"].(map[string]any)
		return ph
	}
	r := c.do(apiReq{method: "POST", path: "/v1/ipt/sync", token: bridge,
		body: `{"bridge":"pbx1","devices":[{"ext":"1001","user":"alice","state":"registered"}]}`})
	if r.status != 202 || r.json["devices"] != 1.0 {
		t.Fatalf("sync: %d %s", r.status, r.raw)
	}
	if ph := phone(); ph["state"] != "idle" || ph["ext"] != "1001" {
		t.Fatalf("phone after sync: %v", ph)
	}
	r = c.do(apiReq{method: "POST", path: "/v1/ipt/events", token: bridge,
		body: `{"bridge":"pbx1","events":[{"seq":1,"ext":"1001","event":"ringing","call":"c1","direction":"inbound","peer":"+4930123"}]}`})
	if r.status != 202 || r.json["accepted"] != 1.0 || r.json["ignored"] != 0.0 {
		t.Fatalf("event: %d %s", r.status, r.raw)
	}
	if ph := phone(); ph["state"] != "ringing" {
		t.Fatalf("phone after ringing: %v", ph)
	}
	// publishIPT: the user's connections get the call frame.
	alice.waitFrame(0, 3*time.Second, func(f map[string]any) bool {
		return f["type"] == "call" && f["event"] == "ringing" && f["ext"] == "1001"
	})
	// A resend is acknowledged and ignored; an empty list is a heartbeat.
	r = c.do(apiReq{method: "POST", path: "/v1/ipt/events", token: bridge,
		body: `{"bridge":"pbx1","events":[{"bridge":"pbx1","seq":1,"ext":"1001","event":"ringing","call":"c1"}]}`})
	if r.status != 202 || r.json["ignored"] != 1.0 {
		t.Fatalf("resend: %d %s", r.status, r.raw)
	}
	r = c.do(apiReq{method: "POST", path: "/v1/ipt/events", token: bridge, body: `{"bridge":"pbx1","events":[]}`})
	if r.status != 202 || r.json["accepted"] != 0.0 {
		t.Fatalf("heartbeat: %d %s", r.status, r.raw)
	}

	cases := []struct {
		name   string
		tok    string
		path   string
		body   string
		status int
		code   string
		fields []string
	}{
		{"events need role bridge", viewer, "/v1/ipt/events", `{"bridge":"pbx1","events":[]}`, 403, "forbidden", nil},
		{"sync needs role bridge", token(t, "boss", "acme", "admin"), "/v1/ipt/sync", `{"bridge":"pbx1","devices":[]}`, 403, "forbidden", nil},
		{"every bad event field", bridge, "/v1/ipt/events",
			`{"bridge":"pbx1","events":[{"seq":2,"ext":"1001","event":"answered"},{"seq":0,"ext":"1001","event":"boom"},{"seq":3,"ext":"a b","event":"ended","direction":"up"}]}`,
			400, "invalid_argument", []string{"events[1].seq", "events[1].event", "events[2].ext", "events[2].direction"}},
		{"event field of the wrong type", bridge, "/v1/ipt/events", `{"bridge":"pbx1","events":[{"seq":2,"ext":"1001","event":"held"},{"seq":"3","ext":"1001","event":"held"}]}`,
			400, "invalid_argument", []string{"events[1].seq"}},
		{"unknown event field", bridge, "/v1/ipt/events", `{"bridge":"pbx1","events":[{"seq":2,"ext":"1001","event":"held","colour":"red"}]}`,
			400, "unknown_field", []string{"events[0].colour"}},
		{"event of another bridge", bridge, "/v1/ipt/events", `{"bridge":"pbx1","events":[{"bridge":"pbx2","seq":2,"ext":"1001","event":"held"}]}`,
			400, "invalid_argument", []string{"events[0].bridge"}},
		{"events missing", bridge, "/v1/ipt/events", `{"bridge":"pbx1"}`, 400, "invalid_argument", []string{"events"}},
		{"bridge missing", bridge, "/v1/ipt/events", `{"events":[]}`, 400, "invalid_argument", []string{"bridge"}},
		{"too many events", bridge, "/v1/ipt/events", `{"bridge":"pbx1","events":[` + strings.TrimSuffix(strings.Repeat(`{"seq":9,"ext":"1001","event":"held"},`, 6), ",") + `]}`,
			400, "invalid_argument", []string{"events"}},
		{"unknown extension", bridge, "/v1/ipt/events", `{"bridge":"pbx1","events":[{"seq":2,"ext":"1001","event":"answered","call":"c1"},{"seq":3,"ext":"9999","event":"registered"}]}`,
			404, "unknown_extension", []string{"events[1].ext"}},
		{"bad sync device", bridge, "/v1/ipt/sync", `{"bridge":"pbx1","devices":[{"ext":"1001","user":"alice","state":"on"}]}`,
			400, "invalid_argument", []string{"devices[0].state"}},
		{"unknown sync call field", bridge, "/v1/ipt/sync", `{"bridge":"pbx1","devices":[{"ext":"1001","user":"alice","state":"registered","call":{"id":"c1","state":"held","x":1}}]}`,
			400, "unknown_field", []string{"devices[0].call.x"}},
		{"sync call field of the wrong type", bridge, "/v1/ipt/sync", `{"bridge":"pbx1","devices":[{"ext":"1001","user":"alice","state":"registered","call":{"id":5,"state":"held"}}]}`,
			400, "invalid_argument", []string{"devices[0].call.id"}},
		{"sync invalid JSON", bridge, "/v1/ipt/sync", `{"bridge":"pbx1",,}`, 400, "malformed_json", nil},
		{"sync wrong content type", bridge, "/v1/ipt/sync", `{"bridge":"pbx1"}`, 415, "unsupported_media_type", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := apiReq{method: "POST", path: tc.path, token: tc.tok, body: tc.body, invalid: tc.status == 400 || tc.status == 415}
			if tc.status == 415 {
				req.ctype = "application/x-www-form-urlencoded"
			}
			wantAPIProblem(t, c.do(req), tc.status, tc.code, tc.fields)
		})
	}
	// The event before the unknown extension was applied (answered).
	if ph := phone(); ph["state"] != "in_call" {
		t.Fatalf("phone after the partly applied batch: %v", ph)
	}
}

func TestAPIRoutingProblems(t *testing.T) {
	tn := startNode(t, nil)
	c := newAPIClient(t, tn)
	tok := token(t, "alice", "acme")
	cases := []struct {
		name, method, path string
		status             int
		code, allow        string
	}{
		{"unknown path", "GET", "/v1/nothing", 404, "not_found", ""},
		{"unknown version", "GET", "/v2/presence/alice", 404, "not_found", ""},
		{"wrong method on presence", "POST", "/v1/presence/alice", 405, "method_not_allowed", "GET, HEAD"},
		{"wrong method on query", "GET", "/v1/ipt/sync", 405, "method_not_allowed", "POST"},
		{"wrong method on sessions", "GET", "/v1/sessions/s1", 405, "method_not_allowed", "DELETE"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := c.do(apiReq{method: tc.method, path: tc.path, token: tok, invalid: true})
			wantAPIProblem(t, r, tc.status, tc.code, nil)
			if got := r.header.Get("Allow"); got != tc.allow {
				t.Fatalf("Allow %q, want %q", got, tc.allow)
			}
		})
	}
}

func TestAPIRateLimit(t *testing.T) {
	tn := startNode(t, func(c *Config) { c.RateLimit = 0.01; c.RateBurst = 3 })
	c := newAPIClient(t, tn)
	alice := token(t, "alice", "acme")
	for i := range 3 {
		if r := c.do(apiReq{method: "GET", path: "/v1/presence/x", token: alice}); r.status != 200 {
			t.Fatalf("request %d: %d %s", i, r.status, r.raw)
		}
	}
	r := c.do(apiReq{method: "GET", path: "/v1/presence/x", token: alice})
	wantAPIProblem(t, r, 429, "rate_limited", nil)
	if s, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || s < 1 {
		t.Fatalf("Retry-After %q", r.header.Get("Retry-After"))
	}
	// The budget is per principal: another user is not slowed down.
	if r := c.do(apiReq{method: "GET", path: "/v1/presence/x", token: token(t, "bob", "acme")}); r.status != 200 {
		t.Fatalf("bob: %d %s", r.status, r.raw)
	}
	// Refused tokens share their client address's budget.
	for range 3 {
		wantAPIProblem(t, c.do(apiReq{method: "GET", path: "/v1/presence/x"}), 401, "token_missing", nil)
	}
	wantAPIProblem(t, c.do(apiReq{method: "GET", path: "/v1/presence/x"}), 429, "rate_limited", nil)
}

func TestAPIKeyedLimiterForgetsIdleKeys(t *testing.T) {
	k := newKeyedLimiter(10, 2) // refills in 0.2s, forgotten after 1.2s idle
	now := time.Unix(1000, 0)
	for i := range minSweep {
		if _, ok := k.allow(fmt.Sprint("k", i), now); !ok {
			t.Fatalf("key %d refused", i)
		}
	}
	if _, ok := k.allow("late", now.Add(2*time.Second)); !ok {
		t.Fatal("late refused")
	}
	if len(k.buckets) != 1 {
		t.Fatalf("%d buckets after the sweep, want 1", len(k.buckets))
	}
	k.allow("x", now)
	k.allow("x", now)
	if wait, ok := k.allow("x", now); ok || wait != 1 {
		t.Fatalf("third request within the burst of 2: ok=%v wait=%d", ok, wait)
	}
}

// switchableStore is the in-process store with a switch that makes it answer
// like a Redis that is down.
type switchableStore struct {
	presence.Store
	down atomic.Bool
}

func (s *switchableStore) err() error {
	if s.down.Load() {
		return fmt.Errorf("presence: redis get: %w: connection refused", presence.ErrUnavailable)
	}
	return nil
}

func (s *switchableStore) Get(ctx context.Context, tenant, user string) (wire.Presence, error) {
	if err := s.err(); err != nil {
		return wire.Presence{}, err
	}
	return s.Store.Get(ctx, tenant, user)
}

func (s *switchableStore) SetStatus(ctx context.Context, tenant, user string, st wire.Status, note string, now time.Time) (presence.Change, error) {
	if err := s.err(); err != nil {
		return presence.Change{}, err
	}
	return s.Store.SetStatus(ctx, tenant, user, st, note, now)
}

func (s *switchableStore) Ping(ctx context.Context) error {
	if err := s.err(); err != nil {
		return err
	}
	return s.Store.Ping(ctx)
}

// startNodeWithStore is startNode with a store of the test's.
func startNodeWithStore(t *testing.T, st presence.Store) *testNode {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Addr, cfg.JWTSecret, cfg.Drain = "127.0.0.1:0", testSecret, 0
	n, err := New(context.Background(), cfg, Deps{Store: st, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	tn := &testNode{Node: n, t: t, cancel: cancel, done: make(chan error, 1), url: "ws://" + l.Addr().String() + "/v1/ws", base: "http://" + l.Addr().String()}
	go func() { tn.done <- n.Serve(ctx, l) }()
	t.Cleanup(tn.stop)
	return tn
}

func TestAPIUnavailable(t *testing.T) {
	st := &switchableStore{Store: presence.NewMemory(presence.DefaultOptions())}
	tn := startNodeWithStore(t, st)
	c := newAPIClient(t, tn)
	connectUser(t, tn, "alice", "acme", "sa", "main")
	alice := token(t, "alice", "acme")
	st.down.Store(true)
	for _, req := range []apiReq{
		{method: "GET", path: "/v1/presence/alice", token: alice},
		{method: "PUT", path: "/v1/presence/alice/status", token: alice, body: `{"status":"away"}`},
		{method: "GET", path: "/readyz"},
	} {
		r := c.do(req)
		wantAPIProblem(t, r, 503, "unavailable", nil)
		if r.header.Get("Retry-After") == "" {
			t.Fatalf("%s %s: no Retry-After", req.method, req.path)
		}
	}
	st.down.Store(false)
	if r := c.do(apiReq{method: "GET", path: "/v1/presence/alice", token: alice}); r.status != 200 {
		t.Fatalf("after recovery: %d %s", r.status, r.raw)
	}
}

func TestAPIOperationsRoutes(t *testing.T) {
	tn := startNode(t, nil)
	c := newAPIClient(t, tn)
	for _, path := range []string{"/livez", "/healthz", "/readyz", "/metrics"} {
		if r := c.do(apiReq{method: "GET", path: path}); r.status != 200 {
			t.Fatalf("%s: %d %s", path, r.status, r.raw)
		}
	}
	ws := func(auth string) apiResp {
		req, _ := http.NewRequest("GET", tn.base+"/v1/ws", nil)
		req.Header.Set("Upgrade", "websocket")
		req.Header.Set("Connection", "Upgrade")
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := c.hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		return apiResp{status: resp.StatusCode, header: resp.Header, raw: raw}
	}
	if r := ws("Bearer not-a-jwt"); r.status != 401 || r.header.Get("WWW-Authenticate") != `Bearer realm="pgw", error="invalid_token"` {
		t.Fatalf("ws with a bad token: %d %v %s", r.status, r.header, r.raw)
	}
	if r := ws(""); r.status != 400 { // no Sec-WebSocket-Key: the library refuses the handshake
		t.Fatalf("ws handshake without key: %d %s", r.status, r.raw)
	}
}

func TestAPIMetricsCountRoutes(t *testing.T) {
	tn := startNode(t, nil)
	c := newAPIClient(t, tn)
	alice := token(t, "alice", "acme")
	c.do(apiReq{method: "GET", path: "/v1/presence/secret-user-id", token: alice})
	c.do(apiReq{method: "GET", path: "/v1/presence/secret-user-id"})
	c.do(apiReq{method: "GET", path: "/no/such/secret-path", invalid: true})
	m := c.do(apiReq{method: "GET", path: "/metrics"})
	text := string(m.raw)
	for _, want := range []string{
		`pgw_http_requests_total{route="GET /v1/presence/{user}",status="200"} 1`,
		`pgw_http_requests_total{route="GET /v1/presence/{user}",status="401"} 1`,
		`pgw_http_requests_total{route="unmatched",status="404"} 1`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(text, "secret") {
		t.Error("metrics carry a client-chosen id or path")
	}
}

// TestAPIBridgeHeartbeat: an HTTP-only bridge counts as connected while it
// posts at least once per PGW_BRIDGE_TTL (an empty events list is enough);
// once silent, its devices turn unknown.
func TestAPIBridgeHeartbeat(t *testing.T) {
	const ttl = time.Second
	tn := startNode(t, func(c *Config) { c.BridgeTTL = ttl })
	c := newAPIClient(t, tn)
	bridge := token(t, "pbx1", "acme", "bridge")
	viewer := token(t, "bob", "acme")
	phoneState := func() string {
		r := c.do(apiReq{method: "GET", path: "/v1/presence/alice", token: viewer})
		ph, _ := r.json["phone"].(map[string]any)
		s, _ := ph["state"].(string)
		return s
	}
	r := c.do(apiReq{method: "POST", path: "/v1/ipt/sync", token: bridge,
		body: `{"bridge":"pbx1","devices":[{"ext":"1001","user":"alice","state":"registered"}]}`})
	if r.status != 202 {
		t.Fatalf("sync: %d %s", r.status, r.raw)
	}
	// Heartbeats for several TTLs (and expiry sweeps) keep the device.
	tick := time.NewTicker(ttl / 5)
	defer tick.Stop()
	for end := time.Now().Add(5 * ttl / 2); time.Now().Before(end); <-tick.C {
		if r := c.do(apiReq{method: "POST", path: "/v1/ipt/events", token: bridge, body: `{"bridge":"pbx1","events":[]}`}); r.status != 202 {
			t.Fatalf("heartbeat: %d %s", r.status, r.raw)
		}
		if s := phoneState(); s != "idle" {
			t.Fatalf("phone %q while the bridge heartbeats, want idle", s)
		}
	}
	testenv.WaitFor(t, 5*time.Second, func() error {
		if s := phoneState(); s != "unknown" {
			return fmt.Errorf("phone %q after the bridge went silent, want unknown", s)
		}
		return nil
	})
}
