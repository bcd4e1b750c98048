package gateway

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/websocket"

	"github.com/pgw/pgw/internal/testenv"
)

func signed(t *testing.T, method jwt.SigningMethod, key any, claims jwt.MapClaims, kid string) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestHelloRefusals(t *testing.T) {
	tn := startNode(t, func(c *Config) { c.JWTAudience = "pgw"; c.JWTIssuer = "idp" })
	now := time.Now()
	good := func() jwt.MapClaims {
		return jwt.MapClaims{"sub": "u1", "tenant": "acme", "exp": now.Add(time.Hour).Unix(), "aud": "pgw", "iss": "idp"}
	}
	with := func(k string, v any) jwt.MapClaims {
		c := good()
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, good()).SignedString(jwt.UnsafeAllowNoneSignatureType)
	secret := []byte(testSecret)
	cases := []struct {
		name, token, code string
	}{
		{"alg none", none, "token_algorithm"},
		{"wrong key", signed(t, jwt.SigningMethodHS256, []byte("another-secret-of-enough-length-0123456789"), good(), ""), "token_signature"},
		{"expired", signed(t, jwt.SigningMethodHS256, secret, with("exp", now.Add(-time.Minute).Unix()), ""), "token_expired"},
		{"nbf in the future", signed(t, jwt.SigningMethodHS256, secret, with("nbf", now.Add(time.Hour).Unix()), ""), "token_not_yet_valid"},
		{"missing sub", signed(t, jwt.SigningMethodHS256, secret, with("sub", nil), ""), "token_claims"},
		{"missing tenant", signed(t, jwt.SigningMethodHS256, secret, with("tenant", nil), ""), "token_claims"},
		{"tenant with a dot", signed(t, jwt.SigningMethodHS256, secret, with("tenant", "a.b"), ""), "token_claims"},
		{"missing exp", signed(t, jwt.SigningMethodHS256, secret, with("exp", nil), ""), "token_claims"},
		{"wrong aud", signed(t, jwt.SigningMethodHS256, secret, with("aud", "other"), ""), "token_audience"},
		{"wrong iss", signed(t, jwt.SigningMethodHS256, secret, with("iss", "evil"), ""), "token_issuer"},
		{"ES256 when only HS256 is allowed", signed(t, jwt.SigningMethodES256, ec, good(), "k1"), "token_algorithm"},
		{"not a JWT", "not-a-token", "token_malformed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, tn.url, nil)
			r := c.request(map[string]any{"type": "hello", "token": tc.token, "device": "desktop"})
			if r["type"] != "error" || problemCode(r) != tc.code {
				t.Fatalf("reply %v, want error %s", r, tc.code)
			}
			e := r["error"].(map[string]any)
			if e["status"].(float64) != 401 || e["detail"] == "" {
				t.Fatalf("problem %v", e)
			}
			if strings.Contains(e["detail"].(string), tc.token) && len(tc.token) > 20 {
				t.Fatalf("detail leaks the token: %v", e["detail"])
			}
			ce := c.waitClose(3 * time.Second)
			if ce.Code != 4401 || ce.Text != tc.code {
				t.Fatalf("close %d %q, want 4401 %s", ce.Code, ce.Text, tc.code)
			}
		})
	}
	t.Run("no token at all", func(t *testing.T) {
		c := dial(t, tn.url, nil)
		r := c.request(map[string]any{"type": "hello", "device": "desktop"})
		if problemCode(r) != "token_missing" {
			t.Fatalf("reply %v", r)
		}
		if ce := c.waitClose(3 * time.Second); ce.Code != 4401 || ce.Text != "token_missing" {
			t.Fatalf("close %v", ce)
		}
	})
	t.Run("refused header token is an HTTP 401 problem", func(t *testing.T) {
		h := http.Header{"Authorization": {"Bearer " + signed(t, jwt.SigningMethodHS256, secret, with("exp", now.Add(-time.Minute).Unix()), "")}}
		_, resp, err := websocket.DefaultDialer.Dial(tn.url, h)
		if err == nil {
			t.Fatal("upgrade accepted an expired token")
		}
		if resp.StatusCode != 401 || resp.Header.Get("Content-Type") != "application/problem+json" ||
			!strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
			t.Fatalf("status %d headers %v", resp.StatusCode, resp.Header)
		}
	})
}

func TestFramesBeforeWelcome(t *testing.T) {
	tn := startNode(t, func(c *Config) { c.HelloWait = 300 * time.Millisecond })
	cases := []struct {
		name  string
		frame any
		code  int
	}{
		{"other type first", map[string]any{"type": "status", "status": "away"}, 4400},
		{"malformed JSON first", "{not json", 4400},
		{"bad window", map[string]any{"type": "hello", "token": token(t, "u", "acme"), "device": "desktop", "window": "side"}, 4400},
		{"bad session id", map[string]any{"type": "hello", "token": token(t, "u", "acme"), "device": "desktop", "session": "a.b"}, 4400},
		{"device bridge without role", map[string]any{"type": "hello", "token": token(t, "u", "acme"), "device": "bridge"}, 4403},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, tn.url, nil)
			c.send(tc.frame)
			if ce := c.waitClose(3 * time.Second); ce.Code != tc.code {
				t.Fatalf("close %d %q, want %d", ce.Code, ce.Text, tc.code)
			}
		})
	}
	t.Run("no hello in time", func(t *testing.T) {
		c := dial(t, tn.url, nil)
		ce := c.waitClose(3 * time.Second)
		if ce.Code != 4408 || ce.Text != "hello_timeout" {
			t.Fatalf("close %d %q", ce.Code, ce.Text)
		}
	})
	t.Run("bad field names the field", func(t *testing.T) {
		c := dial(t, tn.url, nil)
		r := c.request(map[string]any{"type": "hello", "token": token(t, "u", "acme"), "device": "toaster"})
		e := r["error"].(map[string]any)
		errs := e["errors"].([]any)
		if e["status"].(float64) != 400 || errs[0].(map[string]any)["field"] != "device" {
			t.Fatalf("problem %v", e)
		}
	})
}

func TestSessionOfAnotherUserIsForbidden(t *testing.T) {
	tn := startNode(t, nil)
	connectUser(t, tn, "alice", "acme", "shared", "main")
	c := dial(t, tn.url, nil)
	r := c.request(map[string]any{"type": "hello", "token": token(t, "bob", "acme"), "session": "shared", "device": "desktop"})
	if problemCode(r) != "forbidden" {
		t.Fatalf("reply %v", r)
	}
	if ce := c.waitClose(3 * time.Second); ce.Code != 4403 || ce.Text != "forbidden" {
		t.Fatalf("close %v", ce)
	}
}

// Session ids are scoped by tenant: another tenant's user with the same id
// gets a fresh session of its own (not "belongs to another user", which
// would reveal the id is in use and let one tenant squat another's ids).
func TestSessionIDsAreScopedByTenant(t *testing.T) {
	bothStores(t, func(t *testing.T, redisURL string) {
		tn := startNode(t, func(c *Config) { c.RedisURL = redisURL })
		connectUser(t, tn, "alice", "acme", "shared", "main")
		other, w := connectUser(t, tn, "alice", "other", "shared", "main")
		if w["session"] != "shared" || w["tenant"] != "other" {
			t.Fatalf("welcome %v", w)
		}
		// Each tenant's logout ends only its own session.
		other.request(map[string]any{"type": "logout"})
		if ce := other.waitClose(3 * time.Second); ce.Code != 1000 {
			t.Fatalf("close %v", ce)
		}
		if p, _ := tn.store.Get(context.Background(), "acme", "alice"); p.Status != "online" || p.Sessions != 1 {
			t.Fatalf("acme's session was touched: %+v", p)
		}
	})
}

func TestFrameErrorsKeepTheConnection(t *testing.T) {
	tn := startNode(t, nil)
	c, _ := connectUser(t, tn, "u1", "acme", "s1", "main")
	cases := []struct {
		name  string
		frame map[string]any
		code  string
		field string
		st    float64
	}{
		{"unknown type", map[string]any{"type": "dance"}, "unknown_type", "", 400},
		{"bad status", map[string]any{"type": "status", "status": "sleepy"}, "invalid_argument", "status", 400},
		{"missing status", map[string]any{"type": "status"}, "invalid_argument", "status", 400},
		{"long note", map[string]any{"type": "status", "status": "busy", "note": strings.Repeat("x", 141)}, "invalid_argument", "note", 400},
		{"idle not a bool", map[string]any{"type": "idle", "idle": "yes"}, "invalid_argument", "idle", 400},
		{"users not ids", map[string]any{"type": "subscribe", "users": []string{"ok", "a b"}}, "invalid_argument", "users[1]", 400},
		{"too many users", map[string]any{"type": "subscribe", "users": manyUsers(1001)}, "invalid_argument", "users", 400},
		{"subscribe nothing", map[string]any{"type": "subscribe"}, "invalid_argument", "users", 400},
		{"ipt from a user", map[string]any{"type": "ipt.sync", "bridge": "b1", "devices": []any{}}, "forbidden", "", 403},
		{"hello again", map[string]any{"type": "hello", "token": token(t, "u1", "acme"), "device": "desktop"}, "invalid_argument", "type", 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := c.request(tc.frame)
			e, _ := r["error"].(map[string]any)
			if r["type"] != "error" || e["code"] != tc.code || e["status"].(float64) != tc.st || e["detail"] == "" {
				t.Fatalf("reply %v", r)
			}
			if tc.field != "" {
				errs, _ := e["errors"].([]any)
				if len(errs) == 0 || errs[0].(map[string]any)["field"] != tc.field {
					t.Fatalf("errors %v, want field %s", e["errors"], tc.field)
				}
			}
		})
	}
	t.Run("malformed JSON", func(t *testing.T) {
		from := c.count()
		c.send("{nope")
		f, _ := c.waitFrame(from, 2*time.Second, func(f map[string]any) bool { return f["type"] == "error" })
		if problemCode(f) != "malformed_frame" {
			t.Fatalf("reply %v", f)
		}
	})
	t.Run("string ids are echoed", func(t *testing.T) {
		from := c.count()
		c.send(map[string]any{"type": "idle", "idle": false, "id": "abc"})
		f, _ := c.waitFrame(from, 2*time.Second, func(f map[string]any) bool { return f["id"] == "abc" })
		if f["type"] != "ok" {
			t.Fatalf("reply %v", f)
		}
	})
	// The connection is still usable after all of that.
	if r := c.request(map[string]any{"type": "status", "status": "busy", "note": "in a meeting"}); r["type"] != "ok" {
		t.Fatalf("status after errors: %v", r)
	}
}

func manyUsers(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = "u" + strings.Repeat("x", i%5) + string(rune('a'+i%26))
	}
	return out
}

func TestTransportLimits(t *testing.T) {
	tn := startNode(t, func(c *Config) { c.MaxFrame = 1024 })
	t.Run("oversize frame closes 1009", func(t *testing.T) {
		c, _ := connectUser(t, tn, "u1", "acme", "", "main")
		c.send(`{"type":"status","status":"away","note":"` + strings.Repeat("x", 2000) + `"}`)
		if ce := c.waitClose(3 * time.Second); ce.Code != 1009 || ce.Text != "frame_too_large" {
			t.Fatalf("close %v", ce)
		}
	})
	t.Run("binary frame closes 1003", func(t *testing.T) {
		c, _ := connectUser(t, tn, "u2", "acme", "", "main")
		_ = c.ws.WriteMessage(websocket.BinaryMessage, []byte{1, 2, 3})
		if ce := c.waitClose(3 * time.Second); ce.Code != 1003 {
			t.Fatalf("close %v", ce)
		}
	})
	t.Run("refused origin is a 403 problem", func(t *testing.T) {
		_, resp, err := websocket.DefaultDialer.Dial(tn.url, http.Header{"Origin": {"https://evil.example"}})
		if err == nil || resp.StatusCode != 403 || resp.Header.Get("Content-Type") != "application/problem+json" {
			t.Fatalf("err %v resp %v", err, resp)
		}
	})
}

func TestAllowedOrigins(t *testing.T) {
	tn := startNode(t, func(c *Config) { c.AllowedOrigins = []string{"file://", "app://desk"} })
	for _, o := range []string{"file://", "app://desk"} {
		ws, _, err := websocket.DefaultDialer.Dial(tn.url, http.Header{"Origin": {o}})
		if err != nil {
			t.Fatalf("origin %s refused: %v", o, err)
		}
		ws.Close()
	}
	if _, resp, err := websocket.DefaultDialer.Dial(tn.url, http.Header{"Origin": {"app://other"}}); err == nil || resp.StatusCode != 403 {
		t.Fatalf("app://other accepted")
	}
}

func TestRateLimit(t *testing.T) {
	tn := startNode(t, func(c *Config) { c.RateLimit = 1; c.RateBurst = 5; c.RateSustain = 300 * time.Millisecond })
	c, _ := connectUser(t, tn, "u1", "acme", "", "main")
	for range 5 {
		c.send(map[string]any{"type": "idle", "idle": false})
	}
	from := c.count()
	c.send(map[string]any{"type": "idle", "idle": false})
	f, _ := c.waitFrame(from, 2*time.Second, func(f map[string]any) bool { return f["type"] == "error" })
	if problemCode(f) != "rate_limited" || f["error"].(map[string]any)["status"].(float64) != 429 {
		t.Fatalf("reply %v", f)
	}
	floodUntilClosed(t, c, 10*time.Millisecond)
}

func TestCaps(t *testing.T) {
	tn := startNode(t, func(c *Config) { c.MaxSubscriptions = 3; c.MaxConnsPerUser = 2 })
	c, _ := connectUser(t, tn, "u1", "acme", "", "main")
	if r := c.request(map[string]any{"type": "subscribe", "users": []string{"a", "b"}}); r["type"] != "ok" {
		t.Fatal(r)
	}
	r := c.request(map[string]any{"type": "subscribe", "users": []string{"c", "d"}})
	if problemCode(r) != "too_many_subscriptions" || r["error"].(map[string]any)["status"].(float64) != 413 {
		t.Fatalf("reply %v", r)
	}
	connectUser(t, tn, "u1", "acme", "", "main")
	extra := dial(t, tn.url, nil)
	extra.send(map[string]any{"type": "hello", "token": token(t, "u1", "acme"), "device": "desktop"})
	if ce := extra.waitClose(3 * time.Second); ce.Code != 4429 || ce.Text != "too_many_connections" {
		t.Fatalf("close %v", ce)
	}
}

func TestSlowConsumerIsClosedAndNodeStaysHealthy(t *testing.T) {
	tn := startNode(t, func(c *Config) { c.OutboundQueue = 8; c.RateLimit = 10000; c.RateBurst = 10000 })
	// A raw socket that never reads: its receive buffer fills, then the queue.
	slow := dial(t, tn.url, nil)
	slow.request(map[string]any{"type": "hello", "token": token(t, "slow", "acme"), "device": "desktop"})
	slow.request(map[string]any{"type": "subscribe", "users": []string{"busy"}})
	busy, _ := connectUser(t, tn, "busy", "acme", "", "main")
	notes := strings.Repeat("n", 130)
	// Block the slow client's reader (it cannot record a frame while we hold
	// its lock), then flood far more frames than its socket buffers and the
	// queue hold.
	func() {
		slow.mu.Lock()
		defer slow.mu.Unlock()
		for i := range 3000 {
			st := "busy"
			if i%2 == 0 {
				st = "dnd"
			}
			busy.send(map[string]any{"type": "status", "status": st, "note": notes})
		}
		testenv.WaitFor(t, 10*time.Second, func() error {
			if readCounter(tn.metrics.slowConsumers) == 0 {
				return errors.New("slow consumer not closed yet")
			}
			return nil
		})
	}()
	if ce := slow.waitClose(5 * time.Second); ce.Code != 1008 || ce.Text != "slow_consumer" {
		// The close frame may be lost behind a full socket; a reset is fine too.
		if ce.Code != -1 && ce.Code != 1006 {
			t.Fatalf("close %v", ce)
		}
	}
	// The node still serves.
	fresh, _ := connectUser(t, tn, "fresh", "acme", "", "main")
	if r := fresh.request(map[string]any{"type": "subscribe", "users": []string{"busy"}}); r["type"] != "ok" {
		t.Fatalf("after slow consumer: %v", r)
	}
}
