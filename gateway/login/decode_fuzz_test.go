package login

import (
	"strings"
	"testing"
	"time"

	"github.com/pgw/pgw/gateway/auth"
	"github.com/pgw/pgw/problem"
	"github.com/pgw/pgw/wire"
)

// FuzzLoginDecode drives the login cookie decoder and the session hash
// decoder (JSON, Java-serialized, plain text values) with anything: never a
// panic; a refusal is a login_* problem with a detail; an accepted login
// keeps the rules of contract §2.1 (ids, known roles).
func FuzzLoginDecode(f *testing.F) {
	javaString := "\xac\xed\x00\x05t\x00\x05alice"
	f.Add("YWxpY2UtMQ==", `"alice"`, `"acme"`, `["user","admin"]`, "1767225600000", "1800")
	f.Add("YWxpY2UtMQ", javaString, "acme", "user,admin", "\xac\xed\x00\x05sr\x00\x0ejava.lang.Long", "-1")
	f.Add("!!", "a.b", "", `[1]`, "x", "")
	f.Add(strings.Repeat("QQ", 300), `{"@class":"x"}`, `["java.lang.String","acme"]`, `"admin"`, "9e99", "1e400")
	v, err := New(Config{Key: "spring:session:sessions:{id}", CookieBase64: true,
		Now: func() time.Time { return time.Unix(1767225600, 0) }}, nil)
	if err != nil {
		f.Fatal(err)
	}
	isLogin := func(err error) bool {
		p := problem.As(err)
		return p != nil && strings.HasPrefix(string(p.Code), "login_") && p.Detail != "" && p.Status == 401
	}
	f.Fuzz(func(t *testing.T, cookie, user, tenant, roles, last, maxInactive string) {
		id, err := v.CookieValue(cookie)
		if err != nil {
			if !isLogin(err) {
				t.Fatalf("cookie refusal is not a login_* problem: %#v", err)
			}
			id = "s1"
		} else if !wire.ValidID(id) {
			t.Fatalf("cookie gave an invalid id %q", id)
		}
		l, err := v.read(id, []any{user, tenant, roles, last, maxInactive})
		if err != nil {
			if !isLogin(err) {
				t.Fatalf("refusal is not a login_* problem: %#v", err)
			}
			return
		}
		if !wire.ValidID(l.Claims.Subject) || !wire.ValidID(l.Claims.Tenant) || len(l.Claims.Roles) == 0 {
			t.Fatalf("accepted a login that breaks the rules: %+v", l.Claims)
		}
		for _, r := range l.Claims.Roles {
			if !auth.KnownRole(r) {
				t.Fatalf("unknown role accepted: %q", r)
			}
		}
	})
}
