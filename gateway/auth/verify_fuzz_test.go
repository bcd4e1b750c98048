package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/pgw/pgw/problem"
	"github.com/pgw/pgw/wire"
)

// hs256 signs any payload bytes (valid JSON or not) with the test secret.
func hs256(header, payload []byte) string {
	enc := base64.RawURLEncoding
	signing := enc.EncodeToString(header) + "." + enc.EncodeToString(payload)
	m := hmac.New(sha256.New, testSecret)
	m.Write([]byte(signing))
	return signing + "." + enc.EncodeToString(m.Sum(nil))
}

// FuzzVerifyClaims drives the hello/claims path with correctly signed
// tokens whose header and payload are anything: Verify never panics, a
// refusal is a token_* problem with a detail, and accepted claims keep
// every rule of contract §2 (ids, roles, bridges, exp).
func FuzzVerifyClaims(f *testing.F) {
	hdr := []byte(`{"alg":"HS256","typ":"JWT"}`)
	for _, p := range []string{
		`{"sub":"u1","tenant":"acme","exp":4102444800}`,
		`{"sub":"u1","tenant":"acme","exp":4102444800,"roles":["bridge"],"bridges":["pbx1","pbx2"],"sid":"s1"}`,
		`{"sub":"a.b","tenant":"acme","exp":4102444800}`,
		`{"sub":"u1","tenant":"acme","exp":"soon"}`,
		`{"sub":"u1","tenant":"acme","exp":4102444800,"roles":"admin"}`,
		`{"sub":"u1","tenant":"acme","exp":4102444800,"bridges":[1]}`,
		`{"sub":"u1","tenant":"acme","exp":1e300,"nbf":-1,"iat":null}`,
		`{"sub":"u\u0000","tenant":"acme","exp":4102444800,"aud":["x",7]}`,
		`[]`, `null`, `{`, ``,
	} {
		f.Add(hdr, []byte(p))
	}
	f.Add([]byte(`{"alg":"none"}`), []byte(`{"sub":"u1","tenant":"acme","exp":4102444800}`))
	f.Add([]byte(`{"alg":"HS256","kid":"../../etc/passwd","crit":["x"]}`), []byte(`{"sub":"u1","tenant":"acme","exp":4102444800}`))
	v, err := New(Config{Secret: testSecret, Now: clock})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, header, payload []byte) {
		cl, err := v.Verify(hs256(header, payload))
		if err != nil {
			p := problem.As(err)
			if p == nil || !strings.HasPrefix(string(p.Code), "token_") || p.Detail == "" || p.Status != 401 {
				t.Fatalf("refusal is not a token_* problem: %#v", err)
			}
			return
		}
		if !wire.ValidID(cl.Subject) || !wire.ValidID(cl.Tenant) || (cl.Session != "" && !wire.ValidID(cl.Session)) {
			t.Fatalf("accepted ids that break the rule: %+v", cl)
		}
		if len(cl.Roles) == 0 || cl.Expires.IsZero() {
			t.Fatalf("accepted claims without roles or exp: %+v", cl)
		}
		for _, r := range cl.Roles {
			if !knownRole(r) {
				t.Fatalf("unknown role accepted: %q", r)
			}
		}
		for _, b := range cl.Bridges {
			if !wire.ValidID(b) {
				t.Fatalf("bridge id that breaks the rule accepted: %q", b)
			}
		}
	})
}
