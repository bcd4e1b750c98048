package login

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/pgw/pgw/internal/testenv"
	"github.com/pgw/pgw/problem"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const testKey = "spring:session:sessions:{id}"

// newVerifier returns a verifier on a private Redis, and that Redis.
func newVerifier(t testing.TB, now time.Time) (*Verifier, redis.UniversalClient) {
	t.Helper()
	srv := testenv.Redis(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { _ = rdb.Close() })
	v, err := New(Config{Key: testKey, CookieBase64: true, Now: func() time.Time { return now }}, rdb)
	if err != nil {
		t.Fatal(err)
	}
	return v, rdb
}

func put(t testing.TB, rdb redis.UniversalClient, id string, fields map[string]any) {
	t.Helper()
	if err := rdb.HSet(context.Background(), "spring:session:sessions:"+id, fields).Err(); err != nil {
		t.Fatal(err)
	}
}

func codeOf(err error) problem.Code {
	if p := problem.As(err); p != nil {
		return p.Code
	}
	return ""
}

func TestVerify(t *testing.T) {
	now := time.UnixMilli(1796463434051)
	v, rdb := newVerifier(t, now)
	lastMs := strconv.FormatInt(now.Add(-time.Minute).UnixMilli(), 10)
	put(t, rdb, "jdk", map[string]any{
		"sessionAttr:pgw.user":   unhex(t, javaAlice),
		"sessionAttr:pgw.tenant": unhex(t, "aced0005740004"+"61636d65"),
		"sessionAttr:pgw.roles":  unhex(t, "aced000574000a757365722c61646d696e"),
		"lastAccessedTime":       binary.BigEndian.AppendUint64(slices.Clone(javaLongDesc), uint64(now.Add(-time.Minute).UnixMilli())),
		"maxInactiveInterval":    unhex(t, javaInt1800),
	})
	put(t, rdb, "json", map[string]any{"sessionAttr:pgw.user": `"alice"`, "sessionAttr:pgw.tenant": `"acme"`,
		"sessionAttr:pgw.roles": `["user","admin"]`, "lastAccessedTime": lastMs, "maxInactiveInterval": "1800"})
	put(t, rdb, "plain", map[string]any{"sessionAttr:pgw.user": "alice", "sessionAttr:pgw.tenant": "acme"})
	put(t, rdb, "forever", map[string]any{"sessionAttr:pgw.user": "alice", "sessionAttr:pgw.tenant": "acme",
		"lastAccessedTime": "1", "maxInactiveInterval": "-1"})
	for _, tc := range []struct {
		id, roles string
		expires   time.Time
	}{
		{"jdk", "user,admin", now.Add(-time.Minute).Add(30 * time.Minute)},
		{"json", "user,admin", now.Add(-time.Minute).Add(30 * time.Minute)},
		{"plain", "user", time.Time{}},
		{"forever", "user", time.Time{}},
	} {
		l, err := v.Verify(context.Background(), tc.id)
		if err != nil {
			t.Fatalf("%s: %v", tc.id, err)
		}
		c := l.Claims
		if c.Subject != "alice" || c.Tenant != "acme" || strings.Join(c.Roles, ",") != tc.roles || c.Session != "" ||
			!c.Expires.Equal(tc.expires) {
			t.Errorf("%s: claims %+v, want alice/acme roles %s expires %v", tc.id, c, tc.roles, tc.expires)
		}
	}
}

func TestVerifyRefusals(t *testing.T) {
	now := time.UnixMilli(1796463434051)
	v, rdb := newVerifier(t, now)
	old := strconv.FormatInt(now.Add(-31*time.Minute).UnixMilli(), 10)
	good := map[string]any{"sessionAttr:pgw.user": "alice", "sessionAttr:pgw.tenant": "acme"}
	with := func(k string, val any) map[string]any {
		m := map[string]any{}
		for a, b := range good {
			m[a] = b
		}
		if val == nil {
			delete(m, k)
		} else {
			m[k] = val
		}
		return m
	}
	put(t, rdb, "expired", with("lastAccessedTime", old))
	put(t, rdb, "expired", map[string]any{"maxInactiveInterval": "1800"})
	put(t, rdb, "nouser", with("sessionAttr:pgw.user", nil))
	put(t, rdb, "notenant", with("sessionAttr:pgw.tenant", nil))
	put(t, rdb, "baduser", with("sessionAttr:pgw.user", "al*ce"))
	put(t, rdb, "badtenant", with("sessionAttr:pgw.tenant", `"ac{me}"`))
	put(t, rdb, "object", with("sessionAttr:pgw.user", unhex(t, javaList)))
	put(t, rdb, "badrole", with("sessionAttr:pgw.roles", "user,root"))
	put(t, rdb, "badtime", with("lastAccessedTime", unhex(t, javaAlice)))
	put(t, rdb, "badtime", map[string]any{"maxInactiveInterval": "1800"})
	for _, tc := range []struct {
		id     string
		code   problem.Code
		detail string
	}{
		{"missing", problem.LoginUnknown, "no login session"},
		{"expired", problem.LoginExpired, "expired"},
		{"nouser", problem.LoginClaims, "sessionAttr:pgw.user is missing"},
		{"notenant", problem.LoginClaims, "sessionAttr:pgw.tenant is missing"},
		{"baduser", problem.LoginClaims, "sessionAttr:pgw.user is not a valid id"},
		{"badtenant", problem.LoginClaims, "sessionAttr:pgw.tenant is not a valid id"},
		{"object", problem.LoginClaims, "sessionAttr:pgw.user: a Java-serialized object other than a String"},
		{"badrole", problem.LoginClaims, "sessionAttr:pgw.roles has unknown role"},
		{"badtime", problem.LoginClaims, "lastAccessedTime"},
		{"a*b", problem.LoginUnknown, "not a valid session id"},
		{"a{b}", problem.LoginUnknown, "not a valid session id"},
		{strings.Repeat("a", 129), problem.LoginUnknown, "not a valid session id"},
	} {
		_, err := v.Verify(context.Background(), tc.id)
		p := problem.As(err)
		if p == nil || p.Code != tc.code || !strings.Contains(p.Detail, tc.detail) {
			t.Errorf("%.20s: got %v, want %s with %q", tc.id, err, tc.code, tc.detail)
		}
	}
}

func TestCookie(t *testing.T) {
	v, _ := newVerifier(t, time.Now())
	id := "88918ecf-370e-4d1e-bf89-6a5b5b261f7c"
	for _, tc := range []struct {
		name, value, id string
		code            problem.Code
	}{
		{"spring's encoding", base64.StdEncoding.EncodeToString([]byte(id)), id, ""},
		{"unpadded", base64.RawStdEncoding.EncodeToString([]byte("abcd")), "abcd", ""},
		{"not base64", "not base64!", "", problem.LoginUnknown},
		{"base64 of a star", base64.StdEncoding.EncodeToString([]byte("*")), "", problem.LoginUnknown},
		{"base64 of a brace", base64.StdEncoding.EncodeToString([]byte("a{b}")), "", problem.LoginUnknown},
		{"10 KiB", strings.Repeat("QUFB", 10<<10/4), "", problem.LoginUnknown},
	} {
		r, _ := http.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Cookie", "other=1; SESSION="+tc.value)
		got, present, err := v.Cookie(r)
		if !present || got != tc.id || codeOf(err) != tc.code {
			t.Errorf("%s: %q, %v, %v; want %q, %s", tc.name, got, present, err, tc.id, tc.code)
		}
	}
	r, _ := http.NewRequest(http.MethodGet, "/", nil)
	if _, present, err := v.Cookie(r); present || err != nil {
		t.Errorf("no cookie: present %v, %v", present, err)
	}
}

func TestNewChecksSettings(t *testing.T) {
	for _, c := range []Config{{Key: "spring:session:sessions:"}, {Key: "{id}:{id}"}, {Key: "s:{id}", Cookie: "SES SION"}} {
		if _, err := New(c, nil); err == nil || !strings.Contains(err.Error(), "PGW_LOGIN_") {
			t.Errorf("New(%+v) = %v, want an error naming the setting", c, err)
		}
	}
}

// revoker counts revocations.
type revoker struct {
	mu sync.Mutex
	n  int
}

func (r *revoker) Revoke() { r.mu.Lock(); r.n++; r.mu.Unlock() }
func (r *revoker) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n
}

func TestTrackerRevokes(t *testing.T) {
	now := time.UnixMilli(1796463434051)
	clock := now
	var mu sync.Mutex
	v, rdb := newVerifier(t, now)
	v.cfg.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	fresh := strconv.FormatInt(now.UnixMilli(), 10)
	for _, id := range []string{"stays", "deleted", "expires", "changes"} {
		put(t, rdb, id, map[string]any{"sessionAttr:pgw.user": `"alice"`, "sessionAttr:pgw.tenant": `"acme"`,
			"lastAccessedTime": fresh, "maxInactiveInterval": "600"})
	}
	put(t, rdb, "stays", map[string]any{"maxInactiveInterval": "3600"})
	tr := NewTracker(v)
	conns := map[string][]*revoker{}
	for _, id := range []string{"stays", "deleted", "expires", "changes"} {
		l, err := v.Verify(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		for range 2 {
			r := &revoker{}
			tr.Add(l, r)
			conns[id] = append(conns[id], r)
		}
	}
	tr.Remove("stays", conns["stays"][1])
	if r, err := tr.Check(context.Background()); err != nil || r != (Round{Sessions: 4}) {
		t.Fatalf("first round: %+v, %v", r, err)
	}
	ctx := context.Background()
	rdb.Del(ctx, "spring:session:sessions:deleted")
	rdb.HSet(ctx, "spring:session:sessions:changes", "sessionAttr:pgw.user", `"bob"`)
	mu.Lock()
	clock = now.Add(20 * time.Minute)
	mu.Unlock()
	r, err := tr.Check(ctx)
	if err != nil || r != (Round{Sessions: 4, Revoked: 3, Closed: 6}) {
		t.Fatalf("second round: %+v, %v", r, err)
	}
	for id, rs := range conns {
		for i, c := range rs {
			want := 1
			if id == "stays" {
				want = 0
			}
			if c.count() != want {
				t.Errorf("%s conn %d revoked %d times, want %d", id, i, c.count(), want)
			}
		}
	}
	if tr.Sessions() != 1 {
		t.Errorf("tracker still holds %d sessions, want 1", tr.Sessions())
	}
}
