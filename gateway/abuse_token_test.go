package gateway

import (
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// signMap signs arbitrary claims with the test secret.
func signMap(t *testing.T, claims jwt.MapClaims) string {
	t.Helper()
	if _, ok := claims["exp"]; !ok {
		claims["exp"] = time.Now().Add(time.Hour).Unix()
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(testSecret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// A bridge token reports only its own bridge id (its sub) or those of its
// bridges claim, over WebSocket and HTTP.
func TestBridgeIDsAreBoundToTheToken(t *testing.T) {
	tn := startNode(t, nil)
	sync := func(bridge string) map[string]any {
		return map[string]any{"type": "ipt.sync", "bridge": bridge, "devices": []map[string]any{{"ext": "1001", "user": "alice", "state": "registered"}}}
	}
	b := bridgeConn(t, tn, "pbx1", "")
	if r := b.request(sync("pbx1")); r["type"] != "ok" {
		t.Fatalf("own bridge: %v", r)
	}
	if r := b.request(sync("pbx2")); problemCode(r) != "forbidden" {
		t.Fatalf("another bridge id: %v", r)
	}
	if r := b.request(map[string]any{"type": "ipt.event", "bridge": "pbx2", "seq": 1, "ext": "1001", "event": "ringing", "call": "c1"}); problemCode(r) != "forbidden" {
		t.Fatalf("event of another bridge id: %v", r)
	}
	multi := dial(t, tn.url, nil)
	tok := signMap(t, jwt.MapClaims{"sub": "pbx-gw", "tenant": "acme", "roles": []string{"bridge"}, "bridges": []string{"pbx3", "pbx4"}})
	if r := multi.request(map[string]any{"type": "hello", "token": tok, "device": "bridge"}); r["type"] != "welcome" {
		t.Fatalf("hello: %v", r)
	}
	if r := multi.request(sync("pbx4")); r["type"] != "ok" {
		t.Fatalf("listed bridge: %v", r)
	}
	api := newAPIClient(t, tn)
	r := api.do(apiReq{method: "POST", path: "/v1/ipt/sync", token: token(t, "pbx1", "acme", "bridge"), body: `{"bridge":"pbx9","devices":[]}`})
	wantAPIProblem(t, r, 403, "forbidden", nil)
	r = api.do(apiReq{method: "POST", path: "/v1/ipt/events", token: token(t, "pbx1", "acme", "bridge"), body: `{"bridge":"pbx9","events":[]}`})
	wantAPIProblem(t, r, 403, "forbidden", nil)
	if r := api.do(apiReq{method: "POST", path: "/v1/ipt/events", token: token(t, "pbx1", "acme", "bridge"), body: `{"bridge":"pbx1","events":[]}`}); r.status != 202 {
		t.Fatalf("own bridge over HTTP: %d %s", r.status, r.raw)
	}
	// A bridges claim that breaks the id rule is refused.
	bad := dial(t, tn.url, nil)
	tok = signMap(t, jwt.MapClaims{"sub": "x", "tenant": "acme", "roles": []string{"bridge"}, "bridges": []string{"a.b"}})
	if r := bad.request(map[string]any{"type": "hello", "token": tok, "device": "bridge"}); problemCode(r) != "token_claims" {
		t.Fatalf("bad bridges claim: %v", r)
	}
}

// refresh applies what the new token says: fewer bridge ids take effect at
// once, and a token without the role the connection works as is refused
// and the connection closed 4403.
func TestRefreshAppliesTheDowngrade(t *testing.T) {
	tn := startNode(t, nil)
	b := dial(t, tn.url, nil)
	tok := signMap(t, jwt.MapClaims{"sub": "pbx-gw", "tenant": "acme", "roles": []string{"bridge"}, "bridges": []string{"pbx3", "pbx4"}})
	if r := b.request(map[string]any{"type": "hello", "token": tok, "device": "bridge"}); r["type"] != "welcome" {
		t.Fatalf("hello: %v", r)
	}
	fewer := signMap(t, jwt.MapClaims{"sub": "pbx-gw", "tenant": "acme", "roles": []string{"bridge"}, "bridges": []string{"pbx3"}})
	if r := b.request(map[string]any{"type": "refresh", "token": fewer}); r["type"] != "ok" {
		t.Fatalf("refresh: %v", r)
	}
	if r := b.request(map[string]any{"type": "ipt.sync", "bridge": "pbx4", "devices": []any{}}); problemCode(r) != "forbidden" {
		t.Fatalf("bridge dropped by the refresh still accepted: %v", r)
	}
	notBridge := signMap(t, jwt.MapClaims{"sub": "pbx-gw", "tenant": "acme", "roles": []string{"user"}})
	if r := b.request(map[string]any{"type": "refresh", "token": notBridge}); problemCode(r) != "forbidden" {
		t.Fatalf("refresh without role bridge: %v", r)
	}
	if ce := b.waitClose(5 * time.Second); ce.Code != 4403 || ce.Text != "forbidden" {
		t.Fatalf("close %v", ce)
	}
}
