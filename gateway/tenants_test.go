package gateway

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/websocket"

	"github.com/pgw/pgw/gateway/auth"
	"github.com/pgw/pgw/internal/testenv"
)

// Tenant policies (contract §9) through the API and on every node.

func operatorToken(t testing.TB) string { return token(t, "ops1", "ops", auth.RoleOperator) }

// putPolicy replaces a tenant's policy with the current ETag and fails the
// test unless it is stored.
func putPolicy(t *testing.T, c *apiClient, tok, tenantID, body string) apiResp {
	t.Helper()
	cur := c.do(apiReq{method: "GET", path: "/v1/tenants/" + tenantID, token: tok})
	if cur.status != 200 {
		t.Fatalf("GET policy: %d %s", cur.status, cur.raw)
	}
	r := c.do(apiReq{method: "PUT", path: "/v1/tenants/" + tenantID, token: tok, body: body, ifMatch: cur.header.Get("ETag")})
	if r.status != 200 {
		t.Fatalf("PUT policy: %d %s", r.status, r.raw)
	}
	return r
}

func TestTenantAPI(t *testing.T) {
	tn := startNode(t, nil)
	c := newAPIClient(t, tn)
	ops := operatorToken(t)
	admin := token(t, "boss", "acme", auth.RoleAdmin)

	r := c.do(apiReq{method: "GET", path: "/v1/tenants/acme", token: ops})
	if r.status != 200 || string(r.raw) != "{}\n" || r.header.Get("ETag") != `"0"` {
		t.Fatalf("empty policy: %d %s %q", r.status, r.raw, r.header.Get("ETag"))
	}
	wantAPIProblem(t, c.do(apiReq{method: "PUT", path: "/v1/tenants/acme", token: ops, body: `{}`, invalid: true}), 428, "precondition_required", nil)
	wantAPIProblem(t, c.do(apiReq{method: "PUT", path: "/v1/tenants/acme", token: ops, ifMatch: `"0"`,
		body: `{"grace":"never","limits":{"frame_burst":0},"statuses":[{"name":"busy","base":"away","label":"x"}]}`, invalid: true}),
		400, "invalid_argument", []string{"grace", "limits.frame_burst", "statuses[0].name"})
	wantAPIProblem(t, c.do(apiReq{method: "GET", path: "/v1/tenants/acme", token: token(t, "u1", "acme")}), 403, "forbidden", nil)
	wantAPIProblem(t, c.do(apiReq{method: "GET", path: "/v1/tenants/acme", token: token(t, "boss", "globex", auth.RoleAdmin)}), 403, "forbidden", nil)

	r = c.do(apiReq{method: "PUT", path: "/v1/tenants/acme", token: ops, ifMatch: `"0"`, body: `{"grace":"20s"}`})
	if r.status != 200 || r.header.Get("ETag") == `"0"` {
		t.Fatalf("PUT: %d %s", r.status, r.raw)
	}
	etag := r.header.Get("ETag")
	wantAPIProblem(t, c.do(apiReq{method: "PUT", path: "/v1/tenants/acme", token: ops, ifMatch: `"0"`, body: `{}`}), 412, "precondition_failed", nil)

	// A tenant admin reads its own policy and changes statuses and
	// specifics only.
	r = c.do(apiReq{method: "GET", path: "/v1/tenants/acme", token: admin})
	if r.status != 200 || r.header.Get("ETag") != etag || r.json["grace"] != "20s" {
		t.Fatalf("admin GET: %d %s", r.status, r.raw)
	}
	wantAPIProblem(t, c.do(apiReq{method: "PUT", path: "/v1/tenants/acme", token: admin, ifMatch: etag, body: `{"grace":"1m"}`}), 403, "forbidden", nil)
	r = c.do(apiReq{method: "PUT", path: "/v1/tenants/acme", token: admin, ifMatch: etag,
		body: `{"grace":"20s","statuses":[{"name":"lunch","base":"away","label":"At lunch"}],"specifics":{"summary":"call centre"}}`})
	if r.status != 200 {
		t.Fatalf("admin PUT: %d %s", r.status, r.raw)
	}

	h := c.do(apiReq{method: "GET", path: "/v1/tenants/acme/history", token: admin})
	changes, _ := h.json["changes"].([]any)
	if h.status != 200 || len(changes) != 2 {
		t.Fatalf("history: %d %s", h.status, h.raw)
	}
	newest := changes[0].(map[string]any)
	if newest["who"] != "boss" || changes[1].(map[string]any)["who"] != "ops1" || len(newest["fields"].([]any)) != 2 {
		t.Fatalf("history order or authors wrong: %s", h.raw)
	}
}

// Two PUTs with the same ETag on two nodes: one 200, one 412, and the
// history names the winner.
func TestTenantConcurrentPuts(t *testing.T) {
	tc := startCluster(t, 2, nil)
	ops := [2]string{token(t, "alice-ops", "ops", auth.RoleOperator), token(t, "bob-ops", "ops", auth.RoleOperator)}
	clients := [2]*apiClient{newAPIClient(t, tc.nodes[0]), newAPIClient(t, tc.nodes[1])}
	for round := 0; round < 5; round++ {
		etag := clients[0].do(apiReq{method: "GET", path: "/v1/tenants/acme", token: ops[0]}).header.Get("ETag")
		var wg sync.WaitGroup
		res := make([]apiResp, 2)
		for i := range res {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res[i] = clients[i].do(apiReq{method: "PUT", path: "/v1/tenants/acme", token: ops[i], ifMatch: etag,
					body: fmt.Sprintf(`{"specifics":{"summary":"round %d by %d"}}`, round, i)})
			}()
		}
		wg.Wait()
		winner := -1
		for i, r := range res {
			if r.status == 200 {
				winner = i
			} else if r.status != 412 || r.code() != "precondition_failed" {
				t.Fatalf("round %d: %d %s", round, r.status, r.raw)
			}
		}
		if winner < 0 || res[0].status == res[1].status {
			t.Fatalf("round %d: statuses %d and %d, want one 200 and one 412", round, res[0].status, res[1].status)
		}
		h := clients[0].do(apiReq{method: "GET", path: "/v1/tenants/acme/history", token: ops[0]})
		first := h.json["changes"].([]any)[0].(map[string]any)
		want := []string{"alice-ops", "bob-ops"}[winner]
		if first["who"] != want || !strings.Contains(string(h.raw), fmt.Sprintf("round %d by %d", round, winner)) {
			t.Fatalf("round %d: newest change %v, want by %s", round, first, want)
		}
	}
}

// A policy reaches every node within a second; disabled closes every
// connection of that tenant on every node, and no other tenant's.
func TestTenantDisabledClosesEveryNode(t *testing.T) {
	tc := startCluster(t, 2, nil)
	var acme []*client
	for i, tn := range tc.nodes {
		c, _ := connectUser(t, tn, fmt.Sprintf("a%d", i), "acme", fmt.Sprintf("sa%d", i), "main")
		acme = append(acme, c)
	}
	other, _ := connectUser(t, tc.nodes[1], "g1", "globex", "sg1", "main")

	put := time.Now() // before the GET and PUT of putPolicy
	putPolicy(t, newAPIClient(t, tc.nodes[0]), operatorToken(t), "acme", `{"disabled":true}`)
	for i, c := range acme {
		// The contract says 1 s; the deadline is generous for a loaded
		// machine and the time taken is logged (docs/tenants.md).
		ce := c.waitClose(5 * time.Second)
		t.Logf("acme connection on node %d closed %v after the policy change began (GET + PUT)", i+1, time.Since(put))
		if ce.Code != 4403 || ce.Text != "tenant_disabled" {
			t.Fatalf("acme connection on node %d closed %d %q, want 4403 tenant_disabled", i+1, ce.Code, ce.Text)
		}
		if _, i := c.waitFrame(0, time.Second, func(f map[string]any) bool { return f["type"] == "bye" && f["reason"] == "tenant_disabled" }); i < 0 {
			t.Fatal("no bye")
		}
	}
	if r := other.request(map[string]any{"type": "idle", "idle": true}); r["type"] != "ok" {
		t.Fatalf("globex connection affected: %v", r)
	}
	// New connections and calls of the tenant are refused on every node.
	for _, tn := range tc.nodes {
		h := http.Header{"Authorization": {"Bearer " + token(t, "a9", "acme")}}
		_, resp, err := websocket.DefaultDialer.Dial(tn.url, h)
		if err == nil || resp == nil || resp.StatusCode != 403 {
			t.Fatalf("upgrade of a disabled tenant: %v %v", err, resp)
		}
		c := dial(t, tn.url, nil)
		r := c.request(map[string]any{"type": "hello", "token": token(t, "a9", "acme"), "device": "desktop"})
		if problemCode(r) != "tenant_disabled" || c.waitClose(5*time.Second).Code != 4403 {
			t.Fatalf("hello of a disabled tenant: %v", r)
		}
		wantAPIProblem(t, newAPIClient(t, tn).do(apiReq{method: "GET", path: "/v1/presence/a1", token: token(t, "a9", "acme")}), 403, "tenant_disabled", nil)
	}
}

// A change made while NATS is down reaches every node once it is back.
func TestTenantChangeWhileNATSDown(t *testing.T) {
	tc := startCluster(t, 2, nil)
	tc.nats.Shutdown()
	testenv.WaitFor(t, 10*time.Second, func() error {
		for _, tn := range tc.nodes {
			if tn.bus.Connected() {
				return fmt.Errorf("node %s still connected", tn.ID())
			}
		}
		return nil
	})
	r := putPolicy(t, newAPIClient(t, tc.nodes[0]), operatorToken(t), "acme", `{"grace":"42s"}`)
	etag := r.header.Get("ETag")
	if got := tc.nodes[1].policies.Get("acme").ETag(); got == etag {
		t.Fatalf("node 2 has the change although NATS is down")
	}
	tc.nats.Restart()
	testenv.WaitFor(t, 15*time.Second, func() error {
		for _, tn := range tc.nodes {
			if got := tn.policies.Get("acme").ETag(); got != etag {
				return fmt.Errorf("node %s has %s, want %s", tn.ID(), got, etag)
			}
		}
		return nil
	})
}

// Per-tenant grace and connection limit on two nodes sharing Redis.
func TestTenantGraceAndLimits(t *testing.T) {
	tc := startCluster(t, 2, nil)
	putPolicy(t, newAPIClient(t, tc.nodes[0]), operatorToken(t), "acme", `{"grace":"1h","limits":{"connections_per_user":1,"subscriptions":2}}`)
	testenv.WaitFor(t, 5*time.Second, func() error {
		if tc.nodes[1].policy("acme") == nil {
			return fmt.Errorf("node 2 has no policy yet")
		}
		return nil
	})
	a, _ := connectUser(t, tc.nodes[0], "a1", "acme", "sa1", "main")
	// A second connection of the same acme user, on the other node, is over
	// the tenant's cap of 1; globex keeps the node's 32.
	c2 := dial(t, tc.nodes[1].url, nil)
	r := c2.request(map[string]any{"type": "hello", "token": token(t, "a1", "acme"), "session": "sa1b", "device": "desktop"})
	if problemCode(r) != "too_many_connections" || c2.waitClose(5*time.Second).Code != 4429 {
		t.Fatalf("second acme connection: %v", r)
	}
	g1, _ := connectUser(t, tc.nodes[0], "g1", "globex", "sg1", "main")
	g2, _ := connectUser(t, tc.nodes[1], "g1", "globex", "sg2", "main")
	if r := a.request(map[string]any{"type": "subscribe", "users": []string{"x", "y", "z"}}); problemCode(r) != "too_many_subscriptions" {
		t.Fatalf("acme subscribe over its limit: %v", r)
	}
	if r := g1.request(map[string]any{"type": "subscribe", "users": []string{"x", "y", "z"}}); r["type"] != "ok" {
		t.Fatalf("globex subscribe: %v", r)
	}
	// Grace: both users leave; globex (300ms) goes offline, acme (1h) stays.
	watcher, _ := connectUser(t, tc.nodes[1], "w", "globex", "sw", "main")
	watcher.request(map[string]any{"type": "subscribe", "users": []string{"g1"}})
	_ = a.ws.Close()
	_ = g1.ws.Close()
	_ = g2.ws.Close()
	watcher.waitFrame(0, 10*time.Second, func(f map[string]any) bool {
		return f["type"] == "presence" && f["user"] == "g1" && f["status"] == "offline"
	})
	// The grace queue is ordered by end time: acme's entry ends an hour
	// later, so once globex's passed, acme's is still waiting.
	p, err := tc.nodes[1].store.Get(t.Context(), "acme", "a1")
	if err != nil || p.Status != "online" {
		t.Fatalf("acme user after globex's grace: %+v %v", p, err)
	}
}

// A tenant's own key signs only that tenant's tokens.
func TestTenantKeys(t *testing.T) {
	tn := startNode(t, nil)
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	jwks := fmt.Sprintf(`{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"acme-1","x":%q}]}`, base64.RawURLEncoding.EncodeToString(pub))
	putPolicy(t, newAPIClient(t, tn), operatorToken(t), "acme", `{"jwt":{"issuer":"https://idp.acme","keys":`+jwks+`}}`)
	sign := func(tenantID, iss string) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, jwt.MapClaims{"sub": "u1", "tenant": tenantID, "iss": iss, "exp": time.Now().Add(time.Hour).Unix()})
		tok.Header["kid"] = "acme-1"
		s, err := tok.SignedString(priv)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	hello := func(tok string) map[string]any {
		c := dial(t, tn.url, nil)
		return c.request(map[string]any{"type": "hello", "token": tok, "device": "desktop"})
	}
	if r := hello(sign("acme", "https://idp.acme")); r["type"] != "welcome" {
		t.Fatalf("acme token with acme's key: %v", r)
	}
	if r := hello(sign("globex", "https://idp.acme")); problemCode(r) != "token_claims" {
		t.Fatalf("globex token with acme's key: %v", r)
	}
	if r := hello(sign("acme", "https://other")); problemCode(r) != "token_issuer" {
		t.Fatalf("acme token with a wrong issuer: %v", r)
	}
	// The node's own secret still signs acme tokens, but they must carry
	// the tenant's issuer.
	if r := hello(token(t, "u2", "acme")); problemCode(r) != "token_issuer" {
		t.Fatalf("acme token without the tenant's issuer: %v", r)
	}
	if r := hello(token(t, "u2", "globex")); r["type"] != "welcome" {
		t.Fatalf("globex token: %v", r)
	}
}

// A tenant's origins: checked before the upgrade when the token is on it,
// else against every list at the upgrade and the tenant's at hello.
func TestTenantOrigins(t *testing.T) {
	tn := startNode(t, nil)
	putPolicy(t, newAPIClient(t, tn), operatorToken(t), "acme", `{"origins":["https://desk.acme.example"]}`)
	from := func(tok string) http.Header {
		h := http.Header{"Origin": {"https://desk.acme.example"}}
		if tok != "" {
			h.Set("Authorization", "Bearer "+tok)
		}
		return h
	}
	c := dial(t, tn.url, from(token(t, "a1", "acme")))
	if r := c.request(map[string]any{"type": "hello", "device": "web"}); r["type"] != "welcome" {
		t.Fatalf("acme from its origin: %v", r)
	}
	if _, resp, err := websocket.DefaultDialer.Dial(tn.url, from(token(t, "g1", "globex"))); err == nil || resp == nil || resp.StatusCode != 403 {
		t.Fatalf("globex from acme's origin with the header token: %v %v", err, resp)
	}
	if _, resp, err := websocket.DefaultDialer.Dial(tn.url, http.Header{"Origin": {"https://evil.example"}}); err == nil || resp == nil || resp.StatusCode != 403 {
		t.Fatalf("an origin in no list: %v %v", err, resp)
	}
	g := dial(t, tn.url, from(""))
	if r := g.request(map[string]any{"type": "hello", "token": token(t, "g1", "globex"), "device": "web"}); problemCode(r) != "forbidden" {
		t.Fatalf("globex hello from acme's origin: %v", r)
	}
	if ce := g.waitClose(5 * time.Second); ce.Code != 4403 {
		t.Fatalf("closed %d %q, want 4403", ce.Code, ce.Text)
	}
	a := dial(t, tn.url, from(""))
	if r := a.request(map[string]any{"type": "hello", "token": token(t, "a2", "acme"), "device": "web"}); r["type"] != "welcome" {
		t.Fatalf("acme hello from its origin: %v", r)
	}
}

// Only the listed bridges may report for a tenant, over HTTP and frames.
func TestTenantBridges(t *testing.T) {
	tn := startNode(t, nil)
	c := newAPIClient(t, tn)
	putPolicy(t, c, operatorToken(t), "acme", `{"bridges":["pbx1"]}`)
	// The token may report for both ids (its bridges claim): the policy
	// decides.
	bridge := signMap(t, jwt.MapClaims{"sub": "pbx", "tenant": "acme", "roles": []string{auth.RoleBridge}, "bridges": []string{"pbx1", "pbx2"}})
	if r := c.do(apiReq{method: "POST", path: "/v1/ipt/sync", token: bridge, body: `{"bridge":"pbx1","devices":[]}`}); r.status != 202 {
		t.Fatalf("listed bridge: %d %s", r.status, r.raw)
	}
	wantAPIProblem(t, c.do(apiReq{method: "POST", path: "/v1/ipt/sync", token: bridge, body: `{"bridge":"pbx2","devices":[]}`}), 403, "forbidden", nil)
	wantAPIProblem(t, c.do(apiReq{method: "POST", path: "/v1/ipt/events", token: bridge, body: `{"bridge":"pbx2","events":[]}`}), 403, "forbidden", nil)
	// globex has no list: any bridge.
	if r := c.do(apiReq{method: "POST", path: "/v1/ipt/sync", token: token(t, "pbx2", "globex", auth.RoleBridge), body: `{"bridge":"pbx2","devices":[]}`}); r.status != 202 {
		t.Fatalf("globex bridge: %d %s", r.status, r.raw)
	}
	ws := dial(t, tn.url, nil)
	if r := ws.request(map[string]any{"type": "hello", "token": bridge, "device": "bridge"}); r["type"] != "welcome" {
		t.Fatalf("bridge hello: %v", r)
	}
	if r := ws.request(map[string]any{"type": "ipt.sync", "bridge": "pbx2", "devices": []any{}}); problemCode(r) != "forbidden" {
		t.Fatalf("unlisted bridge frame: %v", r)
	}
	if r := ws.request(map[string]any{"type": "ipt.sync", "bridge": "pbx1", "devices": []any{}}); r["type"] != "ok" {
		t.Fatalf("listed bridge frame: %v", r)
	}
}

// A custom status across nodes: PRESENCE status is its base and custom its
// name; an unknown name lists the tenant's choices.
func TestTenantCustomStatusAcrossNodes(t *testing.T) {
	tc := startCluster(t, 2, nil)
	c := newAPIClient(t, tc.nodes[0])
	putPolicy(t, c, operatorToken(t), "acme", `{"statuses":[{"name":"lunch","base":"away","label":"At lunch"},{"name":"field_work","base":"busy","label":"Field work"}]}`)
	testenv.WaitFor(t, 5*time.Second, func() error {
		if tc.nodes[1].policy("acme") == nil {
			return fmt.Errorf("node 2 has no policy yet")
		}
		return nil
	})
	watcher, welcome := connectUser(t, tc.nodes[1], "w", "acme", "sw", "main")
	if st, _ := welcome["statuses"].([]any); len(st) != 2 {
		t.Fatalf("welcome without the tenant's statuses: %v", welcome)
	}
	watcher.request(map[string]any{"type": "subscribe", "users": []string{"a1"}})
	a, _ := connectUser(t, tc.nodes[0], "a1", "acme", "sa1", "main")
	r := a.request(map[string]any{"type": "status", "status": "lunch", "note": "back at 2"})
	p, _ := r["presence"].(map[string]any)
	if r["type"] != "ok" || p["status"] != "away" || p["custom"] != "lunch" || p["manual"] != true {
		t.Fatalf("status lunch: %v", r)
	}
	watcher.waitFrame(0, 5*time.Second, func(f map[string]any) bool {
		return f["type"] == "presence" && f["user"] == "a1" && f["status"] == "away" && f["custom"] == "lunch" && f["note"] == "back at 2"
	})
	r = a.request(map[string]any{"type": "status", "status": "nap"})
	if problemCode(r) != "invalid_argument" || !strings.Contains(fmt.Sprint(r["error"]), "online, away, busy, dnd, lunch, field_work") {
		t.Fatalf("unknown custom status: %v", r)
	}
	// Over HTTP, and back to a built-in status (custom absent again).
	h := c.do(apiReq{method: "PUT", path: "/v1/presence/a1/status", token: token(t, "a1", "acme"), body: `{"status":"field_work"}`})
	if h.status != 200 || h.json["status"] != "busy" || h.json["custom"] != "field_work" {
		t.Fatalf("HTTP custom status: %d %s", h.status, h.raw)
	}
	wantAPIProblem(t, c.do(apiReq{method: "PUT", path: "/v1/presence/a1/status", token: token(t, "g1", "globex", auth.RoleAdmin), body: `{"status":"lunch"}`}), 400, "invalid_argument", []string{"status"})
	a.request(map[string]any{"type": "status", "status": "dnd"})
	f, _ := watcher.waitFrame(0, 5*time.Second, func(f map[string]any) bool {
		return f["type"] == "presence" && f["user"] == "a1" && f["status"] == "dnd"
	})
	if _, has := f["custom"]; has {
		t.Fatalf("custom left on a built-in status: %v", f)
	}
}

// The in-process store keeps custom statuses the same way.
func TestTenantCustomStatusEmbedded(t *testing.T) {
	tn := startNode(t, nil)
	putPolicy(t, newAPIClient(t, tn), operatorToken(t), "acme", `{"statuses":[{"name":"lunch","base":"away","label":"At lunch"}]}`)
	a, _ := connectUser(t, tn, "a1", "acme", "sa1", "main")
	r := a.request(map[string]any{"type": "status", "status": "lunch"})
	if p, _ := r["presence"].(map[string]any); p["status"] != "away" || p["custom"] != "lunch" {
		t.Fatalf("status lunch: %v", r)
	}
}

// login.enabled false refuses the tenant's login sessions (§2.1) with
// login_claims; other tenants' and the tenant's JWTs still work.
func TestTenantLoginDisabled(t *testing.T) {
	e := startLoginNode(t, nil)
	putPolicy(t, newAPIClient(t, e.tn), operatorToken(t), "acme", `{"login":{"enabled":false}}`)
	e.session(t, "s-acme", "alice", "acme")
	e.session(t, "s-globex", "gina", "globex")
	c := dial(t, e.tn.url, nil)
	if r := c.request(map[string]any{"type": "hello", "login": "s-acme", "device": "web"}); problemCode(r) != "login_claims" {
		t.Fatalf("acme login: %v", r)
	}
	if ce := c.waitClose(5 * time.Second); ce.Code != 4401 || ce.Text != "login_claims" {
		t.Fatalf("closed %d %q, want 4401 login_claims", ce.Code, ce.Text)
	}
	g := dial(t, e.tn.url, nil)
	if r := g.request(map[string]any{"type": "hello", "login": "s-globex", "device": "web"}); r["type"] != "welcome" {
		t.Fatalf("globex login: %v", r)
	}
	j := dial(t, e.tn.url, nil)
	if r := j.request(map[string]any{"type": "hello", "token": token(t, "alice", "acme"), "device": "web"}); r["type"] != "welcome" {
		t.Fatalf("acme JWT: %v", r)
	}
}
