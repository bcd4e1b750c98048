package gateway

import (
	"strings"
	"testing"
	"time"

	"github.com/pgw/pgw/gateway/auth"
)

// connectFunc opens a user's window of an app session and waits for welcome.
type connectFunc func(user, tenant, session, window string) (*client, map[string]any)

// authModes are the two ways a user connection authenticates: a JWT, or a
// login session kept in Redis by a web app (§2.1) — main windows send its
// cookie on the upgrade, child windows hello.login. Presence must not tell
// them apart.
var authModes = []string{"token", "login"}

// windowsNode starts a node (changed by mod) whose users connect by mode.
func windowsNode(t *testing.T, mode string, mod func(*Config)) (*testNode, connectFunc) {
	t.Helper()
	if mode == "token" {
		tn := startNode(t, mod)
		return tn, func(user, tenant, session, window string) (*client, map[string]any) {
			return connectUser(t, tn, user, tenant, session, window)
		}
	}
	e := startLoginNode(t, mod)
	return e.tn, func(user, tenant, session, window string) (*client, map[string]any) {
		id := "login-" + tenant + "-" + user
		e.session(t, id, user, tenant)
		return connectLogin(t, e.tn, id, window == "main", session, window)
	}
}

func TestMainAndChildWindowsAreOneSession(t *testing.T) {
	for _, mode := range authModes {
		t.Run(mode, func(t *testing.T) {
			tn, connect := windowsNode(t, mode, func(c *Config) { c.Grace = 300 * time.Millisecond })
			watcher, _ := connectUser(t, tn, "w", "acme", "sw", "main")
			r := watcher.request(map[string]any{"type": "subscribe", "users": []string{"u1"}})
			if r["type"] != "ok" {
				t.Fatalf("subscribe: %v", r)
			}
			main, w1 := connect("u1", "acme", "app1", "main")
			child, w2 := connect("u1", "acme", "app1", "child")
			if w1["session"] != "app1" || w2["session"] != "app1" {
				t.Fatalf("sessions: %v %v", w1["session"], w2["session"])
			}
			watcher.waitFrame(0, 2*time.Second, func(f map[string]any) bool { return f["type"] == "presence" && f["status"] == "online" })

			// Close the child: nothing changes (the session lives on in main).
			_ = child.ws.Close()
			// Close main: offline exactly once, after the grace.
			_ = main.ws.Close()
			watcher.waitFrame(0, 3*time.Second, func(f map[string]any) bool { return f["type"] == "presence" && f["status"] == "offline" })
			fs := watcher.presenceFrames("u1")
			if got := statusesOf(fs); got != "online,offline" {
				t.Fatalf("presence frames: %s", got)
			}
			var last float64
			for _, f := range fs {
				v := f["version"].(float64)
				if v <= last {
					t.Fatalf("version went from %v to %v", last, v)
				}
				last = v
			}
		})
	}
}

// watch connects a subscriber of users and returns it.
func watch(t *testing.T, tn *testNode, users ...string) *client {
	t.Helper()
	w, _ := connectUser(t, tn, "watcher", "acme", "", "main")
	if r := w.request(map[string]any{"type": "subscribe", "users": users}); r["type"] != "ok" {
		t.Fatalf("subscribe: %v", r)
	}
	return w
}

// collapse drops consecutive repeats from a comma-separated list.
func collapse(list string) string {
	var out []string
	for _, s := range strings.Split(list, ",") {
		if len(out) == 0 || out[len(out)-1] != s {
			out = append(out, s)
		}
	}
	return strings.Join(out, ",")
}

// checkVersions fails when versions of a user's stream do not strictly increase.
func checkVersions(t *testing.T, fs []map[string]any) {
	t.Helper()
	var last float64
	for _, f := range fs {
		v := f["version"].(float64)
		if v <= last {
			t.Fatalf("version went from %v to %v in %v", last, v, fs)
		}
		last = v
	}
}

func TestWindowCloseOrders(t *testing.T) {
	cases := []struct {
		name  string
		close []string // windows closed, in order
		want  string   // presence statuses the watcher sees
	}{
		{"child only", []string{"child"}, "online"},
		{"main while child open", []string{"main"}, "online"},
		{"child then main", []string{"child", "main"}, "online,offline"},
		{"main then child", []string{"main", "child"}, "online,offline"},
	}
	for _, mode := range authModes {
		for _, tc := range cases {
			t.Run(mode+"/"+tc.name, func(t *testing.T) {
				windowCloseOrder(t, mode, tc.close, tc.want)
			})
		}
	}
}

// windowCloseOrder opens a main and a child window of one session, closes
// them in closeOrder and checks the watcher sees exactly want.
func windowCloseOrder(t *testing.T, mode string, closeOrder []string, want string) {
	tn, connect := windowsNode(t, mode, func(c *Config) { c.Grace = 200 * time.Millisecond })
	w := watch(t, tn, "u1")
	wins := map[string]*client{}
	wins["main"], _ = connect("u1", "acme", "app", "main")
	wins["child"], _ = connect("u1", "acme", "app", "child")
	w.waitFrame(0, 2*time.Second, func(f map[string]any) bool { return f["status"] == "online" })
	for _, name := range closeOrder {
		_ = wins[name].ws.Close()
	}
	if strings.HasSuffix(want, "offline") {
		w.waitFrame(0, 3*time.Second, func(f map[string]any) bool { return f["status"] == "offline" })
	} else {
		// Prove nothing comes: a marker change of another user
		// arrives after any frame the closes could have caused,
		// well past the grace.
		marker(t, tn, w, 3*200*time.Millisecond)
	}
	fs := w.presenceFrames("u1")
	if got := statusesOf(fs); got != want {
		t.Fatalf("watcher saw %s, want %s", got, want)
	}
	checkVersions(t, fs)
}

// marker proves that nothing more is coming: it lets d pass (an absence
// can only be seen after the time in which it could have happened — this
// wait is the claim under test, not synchronisation), then makes one change
// of user "marker", which w watches, and waits for it. NATS and the hub keep
// order, so every frame caused before the marker is then in w.
func marker(t *testing.T, tn *testNode, w *client, d time.Duration) {
	t.Helper()
	if r := w.request(map[string]any{"type": "subscribe", "users": []string{"marker"}}); r["type"] != "ok" {
		t.Fatal(r)
	}
	time.Sleep(d)
	from := w.count()
	connectUser(t, tn, "marker", "acme", "", "main")
	w.waitFrame(from, 2*time.Second, func(f map[string]any) bool { return f["user"] == "marker" })
}

func TestReconnectWithinGraceNeverShowsOffline(t *testing.T) {
	tn := startNode(t, func(c *Config) { c.Grace = time.Second })
	w := watch(t, tn, "u1")
	c, _ := connectUser(t, tn, "u1", "acme", "app", "main")
	w.waitFrame(0, 2*time.Second, func(f map[string]any) bool { return f["status"] == "online" })
	for range 3 {
		_ = c.ws.Close()
		c.waitClose(2 * time.Second)
		c, _ = connectUser(t, tn, "u1", "acme", "app", "main")
	}
	marker(t, tn, w, 1500*time.Millisecond)
	if got := statusesOf(w.presenceFrames("u1")); got != "online" {
		t.Fatalf("watcher saw %s", got)
	}
}

func TestLogoutClosesEveryWindowAtOnce(t *testing.T) {
	tn := startNode(t, func(c *Config) { c.Grace = time.Minute })
	w := watch(t, tn, "u1")
	main, _ := connectUser(t, tn, "u1", "acme", "app", "main")
	child, _ := connectUser(t, tn, "u1", "acme", "app", "child")
	other, _ := connectUser(t, tn, "u1", "acme", "phone-app", "main")
	if r := child.request(map[string]any{"type": "logout"}); r["type"] != "ok" {
		t.Fatalf("logout: %v", r)
	}
	for _, c := range []*client{main, child} {
		ce := c.waitClose(3 * time.Second)
		if ce.Code != 1000 || ce.Text != "logged_out" {
			t.Fatalf("close %v", ce)
		}
		bye, _ := c.waitFrame(0, time.Second, func(f map[string]any) bool { return f["type"] == "bye" })
		if bye["reason"] != "logged_out" {
			t.Fatalf("bye %v", bye)
		}
	}
	// The other session keeps the user online: sessions 2 → 1, no grace.
	w.waitFrame(0, 2*time.Second, func(f map[string]any) bool {
		return f["type"] == "presence" && f["sessions"] == float64(1)
	})
	if r := other.request(map[string]any{"type": "logout"}); r["type"] != "ok" {
		t.Fatal(r)
	}
	// Offline at once although the grace is a minute.
	w.waitFrame(0, 2*time.Second, func(f map[string]any) bool { return f["status"] == "offline" })
	checkVersions(t, w.presenceFrames("u1"))
}

func TestManualStatusAndIdleRules(t *testing.T) {
	tn := startNode(t, nil)
	w := watch(t, tn, "u1")
	a, _ := connectUser(t, tn, "u1", "acme", "desk", "main")
	b, _ := connectUser(t, tn, "u1", "acme", "laptop", "main")
	step := func(c *client, frame map[string]any, want map[string]any) {
		t.Helper()
		from := w.count()
		if r := c.request(frame); r["type"] != "ok" {
			t.Fatalf("%v: %v", frame, r)
		}
		if want == nil {
			return // this step changes nothing the watcher sees
		}
		w.waitFrame(from, 2*time.Second, func(f map[string]any) bool {
			for k, v := range want {
				if f[k] != v {
					return false
				}
			}
			return f["type"] == "presence"
		})
	}
	step(a, map[string]any{"type": "idle", "idle": true}, nil)
	// One idle session of two: still online (no frame). Both idle: away.
	step(b, map[string]any{"type": "idle", "idle": true}, map[string]any{"status": "away", "manual": false})
	step(a, map[string]any{"type": "status", "status": "dnd", "note": "focus"}, map[string]any{"status": "dnd", "manual": true, "note": "focus"})
	// A manual status wins over idleness and survives the other session's idle flip.
	step(b, map[string]any{"type": "status", "status": "online"}, map[string]any{"status": "away", "manual": false})
	step(a, map[string]any{"type": "idle", "idle": false}, map[string]any{"status": "online"})
	fs := w.presenceFrames("u1")
	// Two windows' connects publish from two goroutines: the watcher may see
	// only the newer (sessions 2) of the two online frames, never an older
	// one after a newer; so compare statuses with repeats collapsed.
	if got := collapse(statusesOf(fs)); got != "online,away,dnd,away,online" {
		t.Fatalf("statuses %s", got)
	}
	checkVersions(t, fs)
	// The status reply carries the new presence.
	r := a.request(map[string]any{"type": "status", "status": "busy"})
	if p, _ := r["presence"].(map[string]any); p["status"] != "busy" {
		t.Fatalf("status reply %v", r)
	}
}

func TestManualStatusEndsWhenTheUserGoesOffline(t *testing.T) {
	tn := startNode(t, func(c *Config) { c.Grace = 100 * time.Millisecond })
	w := watch(t, tn, "u1")
	c, _ := connectUser(t, tn, "u1", "acme", "s1", "main")
	c.request(map[string]any{"type": "status", "status": "busy"})
	_ = c.ws.Close()
	w.waitFrame(0, 2*time.Second, func(f map[string]any) bool { return f["status"] == "offline" })
	from := w.count()
	connectUser(t, tn, "u1", "acme", "s2", "main")
	f, _ := w.waitFrame(from, 2*time.Second, func(f map[string]any) bool { return f["type"] == "presence" })
	if f["status"] != "online" || f["manual"] != false {
		t.Fatalf("after coming back: %v", f)
	}
}

func TestSubscribeTenantAndUnsubscribe(t *testing.T) {
	tn := startNode(t, nil)
	connectUser(t, tn, "a", "acme", "", "main")
	connectUser(t, tn, "z", "zeta", "", "main")
	board, _ := connectUser(t, tn, "boss", "acme", "", "main")
	r := board.request(map[string]any{"type": "subscribe", "tenant": true})
	list := r["presence"].([]any)
	users := map[string]bool{}
	for _, p := range list {
		users[p.(map[string]any)["user"].(string)] = true
	}
	if !users["a"] || !users["boss"] || users["z"] || len(users) != 2 {
		t.Fatalf("tenant list %v", users)
	}
	from := board.count()
	connectUser(t, tn, "b", "acme", "", "main")
	board.waitFrame(from, 2*time.Second, func(f map[string]any) bool { return f["user"] == "b" && f["status"] == "online" })
	board.request(map[string]any{"type": "unsubscribe", "tenant": true})
	from = board.count()
	connectUser(t, tn, "c", "acme", "", "main")
	marker(t, tn, board, 0)
	for _, f := range board.all()[from:] {
		if f["user"] == "c" {
			t.Fatalf("frame after unsubscribe: %v", f)
		}
	}
	// Offline users are listed for explicit users, with version 0 when never seen.
	r = board.request(map[string]any{"type": "subscribe", "users": []string{"nobody"}})
	p := r["presence"].([]any)[0].(map[string]any)
	if p["status"] != "offline" || p["version"] != float64(0) {
		t.Fatalf("never-seen user %v", p)
	}
}

func TestBridgeIsNeverPresent(t *testing.T) {
	tn := startNode(t, nil)
	w := watch(t, tn, "pbx1")
	c := dial(t, tn.url, nil)
	r := c.request(map[string]any{"type": "hello", "token": token(t, "pbx1", "acme", "bridge")})
	if r["type"] != "welcome" {
		t.Fatalf("bridge hello %v", r)
	}
	if r := c.request(map[string]any{"type": "status", "status": "busy"}); problemCode(r) != "forbidden" {
		t.Fatalf("bridge status %v", r)
	}
	marker(t, tn, w, 0)
	if fs := w.presenceFrames("pbx1"); len(fs) != 0 {
		t.Fatalf("bridge made its sub present: %v", fs)
	}
}

func TestTokenExpiryAndRefresh(t *testing.T) {
	tn := startNode(t, func(c *Config) { c.ExpiringNotice = 2 * time.Second })
	short := func(sub string, d time.Duration) string {
		tok, err := auth.Sign([]byte(testSecret), auth.Claims{Subject: sub, Tenant: "acme", Expires: time.Now().Add(d)})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	c := dial(t, tn.url, nil)
	c.request(map[string]any{"type": "hello", "token": short("u1", 2500*time.Millisecond), "device": "desktop"})
	exp, _ := c.waitFrame(0, 3*time.Second, func(f map[string]any) bool { return f["type"] == "expiring" })
	if exp["expires"] == nil {
		t.Fatalf("expiring %v", exp)
	}
	if r := c.request(map[string]any{"type": "refresh", "token": short("u2", time.Hour)}); problemCode(r) != "forbidden" {
		t.Fatalf("refresh with another sub: %v", r)
	}
	r := c.request(map[string]any{"type": "refresh", "token": short("u1", time.Hour)})
	if r["type"] != "ok" || r["expires"].(float64) < float64(time.Now().Add(50*time.Minute).Unix()) {
		t.Fatalf("refresh %v", r)
	}
	// Not refreshed: closed 4401 token_expired.
	d := dial(t, tn.url, nil)
	d.request(map[string]any{"type": "hello", "token": short("u3", 1200*time.Millisecond), "device": "desktop"})
	if ce := d.waitClose(4 * time.Second); ce.Code != 4401 || ce.Text != "token_expired" {
		t.Fatalf("close %v", ce)
	}
	// c is still open.
	if r := c.request(map[string]any{"type": "idle", "idle": false}); r["type"] != "ok" {
		t.Fatalf("after refresh: %v", r)
	}
}
