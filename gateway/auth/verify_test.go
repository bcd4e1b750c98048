package auth

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/pgw/pgw/problem"
)

// baseConfig: HS256 secret, a PEM file with an RSA key (kid rsa1) and an
// Ed25519 key (kid ed1), audience and issuer checked, fixed clock.
func baseConfig(t testing.TB, k keys) Config {
	return Config{
		Secret:   testSecret,
		KeysFile: writePEM(t, pemKey{"rsa1", &k.rsa.PublicKey}, pemKey{"ed1", k.ed.Public()}),
		Audience: testAudience,
		Issuer:   testIssuer,
		Now:      clock,
	}
}

func TestVerifyRefusals(t *testing.T) {
	k := newKeys(t)
	otherRSA, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsaPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: must(x509.MarshalPKIXPublicKey(&k.rsa.PublicKey))})
	hs := func(c jwt.MapClaims) string { return signToken(t, jwt.SigningMethodHS256, testSecret, "", c) }
	b64 := base64.RawURLEncoding.EncodeToString

	tests := []struct {
		name   string
		cfg    func(*Config) // changes to baseConfig; nil for none
		token  string
		code   problem.Code
		detail string // a part the detail must contain
	}{
		{name: "empty", token: "", code: problem.TokenMissing, detail: "no token"},
		{name: "alg none", token: signToken(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "", claims()), code: problem.TokenAlgorithm, detail: "none"},
		{name: "alg unknown to jwt", token: b64([]byte(`{"alg":"XX999","typ":"JWT"}`)) + "." + b64([]byte(`{"sub":"u1"}`)) + ".c2ln", code: problem.TokenAlgorithm, detail: "XX999"},
		{name: "alg missing", token: b64([]byte(`{"typ":"JWT"}`)) + "." + b64([]byte(`{"sub":"u1"}`)) + ".c2ln", code: problem.TokenMalformed, detail: "alg"},
		{name: "wrong HS256 secret", token: signToken(t, jwt.SigningMethodHS256, []byte("another-secret-another-secret-xx"), "", claims()), code: problem.TokenSignature, detail: "signature"},
		{name: "HS256 signed with the RSA public key (key confusion)", token: signToken(t, jwt.SigningMethodHS256, rsaPEM, "rsa1", claims()), code: problem.TokenSignature, detail: "signature"},
		{name: "RS256 signed by another key", token: signToken(t, jwt.SigningMethodRS256, otherRSA, "rsa1", claims()), code: problem.TokenSignature, detail: "signature"},
		{name: "expired", token: hs(claims(set("exp", testNow.Add(-time.Second).Unix()))), code: problem.TokenExpired, detail: "expired at 2026-03-01T11:59:59Z"},
		{name: "nbf in the future", token: hs(claims(set("nbf", testNow.Add(time.Minute).Unix()))), code: problem.TokenNotYetValid, detail: "nbf"},
		{name: "iat in the future", token: hs(claims(set("iat", testNow.Add(time.Minute).Unix()))), code: problem.TokenNotYetValid, detail: "iat"},
		{name: "missing sub", token: hs(claims(del("sub"))), code: problem.TokenClaims, detail: "sub is missing"},
		{name: "null sub", token: hs(claims(set("sub", nil))), code: problem.TokenClaims, detail: "sub is missing"},
		{name: "sub not a string", token: hs(claims(set("sub", 42))), code: problem.TokenClaims, detail: "sub is not a string"},
		{name: "bad sub id", token: hs(claims(set("sub", "u 1"))), code: problem.TokenClaims, detail: "sub is not a valid id"},
		{name: "missing tenant", token: hs(claims(del("tenant"))), code: problem.TokenClaims, detail: "tenant is missing"},
		{name: "bad tenant id", token: hs(claims(set("tenant", "a.b"))), code: problem.TokenClaims, detail: "tenant is not a valid id"},
		{name: "tenant not a string", token: hs(claims(set("tenant", []string{"acme"}))), code: problem.TokenClaims, detail: "tenant is not a string"},
		{name: "bad sid", token: hs(claims(set("sid", "s>1"))), code: problem.TokenClaims, detail: "sid is not a valid id"},
		{name: "missing exp", token: hs(claims(del("exp"))), code: problem.TokenClaims, detail: "exp is missing"},
		{name: "exp not a number", token: hs(claims(set("exp", "tomorrow"))), code: problem.TokenClaims, detail: "exp is not a NumericDate"},
		{name: "exp negative", token: hs(claims(set("exp", -5))), code: problem.TokenClaims, detail: "exp is not a NumericDate"},
		{name: "wrong aud", token: hs(claims(set("aud", []string{"other", "another"}))), code: problem.TokenAudience, detail: "aud"},
		{name: "empty aud", token: hs(claims(set("aud", ""))), code: problem.TokenAudience, detail: "aud"},
		{name: "missing aud", token: hs(claims(del("aud"))), code: problem.TokenAudience, detail: "aud"},
		{name: "aud not a string", token: hs(claims(set("aud", 7))), code: problem.TokenClaims, detail: "aud is not"},
		{name: "wrong iss", token: hs(claims(set("iss", "https://evil.example"))), code: problem.TokenIssuer, detail: "iss"},
		{name: "empty iss", token: hs(claims(set("iss", ""))), code: problem.TokenIssuer, detail: "iss"},
		{name: "iss not a string", token: hs(claims(set("iss", 1))), code: problem.TokenClaims, detail: "iss is not a string"},
		{name: "missing iss", token: hs(claims(del("iss"))), code: problem.TokenIssuer, detail: "iss"},
		{name: "unknown kid", token: signToken(t, jwt.SigningMethodRS256, k.rsa, "nope", claims()), code: problem.TokenUnknownKey, detail: `kid "nope"`},
		{name: "no kid and no default key", token: signToken(t, jwt.SigningMethodRS256, k.rsa, "", claims()), code: problem.TokenUnknownKey, detail: "no kid"},
		{name: "kid not a string", token: func() string {
			tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims())
			tok.Header["kid"] = 1
			return must(tok.SignedString(k.rsa))
		}(), code: problem.TokenMalformed, detail: "kid"},
		{name: "alg does not fit the kid's key", token: signToken(t, jwt.SigningMethodEdDSA, k.ed, "rsa1", claims()), code: problem.TokenAlgorithm, detail: "does not fit"},
		{name: "RS256 when only HS256 is allowed", cfg: func(c *Config) { c.Algorithms = []string{AlgHS256} }, token: signToken(t, jwt.SigningMethodRS256, k.rsa, "rsa1", claims()), code: problem.TokenAlgorithm, detail: "RS256"},
		{name: "RS256 with no keys file", cfg: func(c *Config) { c.KeysFile = "" }, token: signToken(t, jwt.SigningMethodRS256, k.rsa, "rsa1", claims()), code: problem.TokenAlgorithm, detail: "allowed: HS256"},
		{name: "HS256 when only keys are configured", cfg: func(c *Config) { c.Secret = nil }, token: hs(claims()), code: problem.TokenAlgorithm, detail: "HS256"},
		{name: "malformed string", token: "not-a-jwt", code: problem.TokenMalformed, detail: "three dot-separated parts"},
		{name: "header not base64", token: "!!!." + b64([]byte(`{}`)) + ".c2ln", code: problem.TokenMalformed, detail: "header is not base64url"},
		{name: "payload not an object", token: b64([]byte(`{"alg":"HS256"}`)) + "." + b64([]byte(`[1]`)) + ".c2ln", code: problem.TokenMalformed, detail: "payload is not a JSON object"},
		{name: "too long", token: strings.Repeat("a", MaxTokenBytes+1), code: problem.TokenMalformed, detail: "bytes"},
		{name: "unknown role", token: hs(claims(set("roles", []string{"user", "root"}))), code: problem.TokenClaims, detail: `unknown role "root"`},
		{name: "roles not an array", token: hs(claims(set("roles", "admin"))), code: problem.TokenClaims, detail: "roles is not an array"},
		{name: "roles with a number", token: hs(claims(set("roles", []any{"user", 1}))), code: problem.TokenClaims, detail: "roles is not an array of strings"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := baseConfig(t, k)
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			v, err := New(cfg)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			c, err := v.Verify(tt.token)
			if err == nil {
				t.Fatalf("Verify accepted the token: %+v", c)
			}
			p := problem.As(err)
			if p == nil {
				t.Fatalf("Verify error %v (%T) is not a problem", err, err)
			}
			if p.Code != tt.code {
				t.Errorf("code = %s, want %s (detail %q)", p.Code, tt.code, p.Detail)
			}
			if !strings.Contains(p.Detail, tt.detail) {
				t.Errorf("detail %q does not contain %q", p.Detail, tt.detail)
			}
			if p.Close() != problem.CloseAuth {
				t.Errorf("close code = %d, want %d", p.Close(), problem.CloseAuth)
			}
			assertNoToken(t, err, tt.token)
		})
	}
}

// assertNoToken checks that neither the detail nor the error text (what a
// log would print) holds the token or any of its parts.
func assertNoToken(t *testing.T, err error, token string) {
	t.Helper()
	for _, part := range strings.Split(token, ".") {
		if len(part) < 8 {
			continue // too short to tell apart from ordinary words
		}
		if strings.Contains(err.Error(), part) {
			t.Errorf("error text %q contains a part of the token", err.Error())
		}
	}
}

func TestVerifyAccepts(t *testing.T) {
	k := newKeys(t)
	jwksCfg := func(c *Config) { c.KeysFile = writeJWKS(t, pemKey{"ec1", k.ec.Public()}) }
	hs := func(c jwt.MapClaims) string { return signToken(t, jwt.SigningMethodHS256, testSecret, "", c) }

	tests := []struct {
		name  string
		cfg   func(*Config)
		token string
		want  Claims
	}{
		{
			name:  "HS256, roles default to user",
			token: hs(claims()),
			want:  Claims{Subject: "u1", Tenant: "acme", Roles: []string{RoleUser}, Expires: testNow.Add(time.Hour), IssuedAt: testNow.Add(-time.Minute)},
		},
		{
			name:  "HS256 ignores a kid",
			token: signToken(t, jwt.SigningMethodHS256, testSecret, "whatever", claims()),
			want:  Claims{Subject: "u1", Tenant: "acme", Roles: []string{RoleUser}, Expires: testNow.Add(time.Hour), IssuedAt: testNow.Add(-time.Minute)},
		},
		{
			name:  "RS256 from a PEM file",
			token: signToken(t, jwt.SigningMethodRS256, k.rsa, "rsa1", claims(set("roles", []string{RoleBridge}))),
			want:  Claims{Subject: "u1", Tenant: "acme", Roles: []string{RoleBridge}, Expires: testNow.Add(time.Hour), IssuedAt: testNow.Add(-time.Minute)},
		},
		{
			name:  "EdDSA from a PEM file",
			token: signToken(t, jwt.SigningMethodEdDSA, k.ed, "ed1", claims()),
			want:  Claims{Subject: "u1", Tenant: "acme", Roles: []string{RoleUser}, Expires: testNow.Add(time.Hour), IssuedAt: testNow.Add(-time.Minute)},
		},
		{
			name:  "ES256 from a JWKS file",
			cfg:   jwksCfg,
			token: signToken(t, jwt.SigningMethodES256, k.ec, "ec1", claims(set("roles", []string{RoleUser, RoleAdmin}))),
			want:  Claims{Subject: "u1", Tenant: "acme", Roles: []string{RoleUser, RoleAdmin}, Expires: testNow.Add(time.Hour), IssuedAt: testNow.Add(-time.Minute)},
		},
		{
			name:  "default key for a token without kid",
			cfg:   func(c *Config) { c.KeysFile = writePEM(t, pemKey{"", &k.rsa.PublicKey}) },
			token: signToken(t, jwt.SigningMethodRS256, k.rsa, "", claims()),
			want:  Claims{Subject: "u1", Tenant: "acme", Roles: []string{RoleUser}, Expires: testNow.Add(time.Hour), IssuedAt: testNow.Add(-time.Minute)},
		},
		{
			name:  "sid, empty roles, no iat, aud as a list",
			token: hs(claims(set("sid", "s-1_A"), set("roles", []string{}), del("iat"), set("aud", []string{"x", testAudience}))),
			want:  Claims{Subject: "u1", Tenant: "acme", Roles: []string{RoleUser}, Session: "s-1_A", Expires: testNow.Add(time.Hour)},
		},
		{
			name:  "aud and iss not checked when not configured",
			cfg:   func(c *Config) { c.Audience, c.Issuer = "", "" },
			token: hs(claims(del("aud"), set("iss", "anyone"))),
			want:  Claims{Subject: "u1", Tenant: "acme", Roles: []string{RoleUser}, Expires: testNow.Add(time.Hour), IssuedAt: testNow.Add(-time.Minute)},
		},
		{
			name:  "leeway covers exp, nbf and iat",
			cfg:   func(c *Config) { c.Leeway = 30 * time.Second },
			token: hs(claims(set("exp", testNow.Add(-10*time.Second).Unix()), set("nbf", testNow.Add(10*time.Second).Unix()), set("iat", testNow.Add(10*time.Second).Unix()))),
			want:  Claims{Subject: "u1", Tenant: "acme", Roles: []string{RoleUser}, Expires: testNow.Add(-10 * time.Second), IssuedAt: testNow.Add(10 * time.Second)},
		},
		{
			name:  "escaped strings",
			token: signRawHS256(t, `{"sub":"\u0075\u0032","tenant":"ac\u006de","exp":`+strconv.FormatInt(testNow.Add(time.Hour).Unix(), 10)+`,"iat":`+strconv.FormatInt(testNow.Add(-time.Minute).Unix(), 10)+`,"aud":"pgw","iss":"https://idp.example"}`),
			want:  Claims{Subject: "u2", Tenant: "acme", Roles: []string{RoleUser}, Expires: testNow.Add(time.Hour), IssuedAt: testNow.Add(-time.Minute)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := baseConfig(t, k)
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			v, err := New(cfg)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			got, err := v.Verify(tt.token)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if !equalClaims(got, tt.want) {
				t.Errorf("claims = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func equalClaims(a, b Claims) bool {
	return a.Subject == b.Subject && a.Tenant == b.Tenant && slices.Equal(a.Roles, b.Roles) &&
		a.Session == b.Session && a.Expires.Equal(b.Expires) && a.IssuedAt.Equal(b.IssuedAt)
}

func TestLeewayBoundary(t *testing.T) {
	v, err := New(Config{Secret: testSecret, Leeway: 30 * time.Second, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		expAgo time.Duration
		code   problem.Code // "" accepted
	}{
		{29 * time.Second, ""},
		{31 * time.Second, problem.TokenExpired},
	} {
		_, err := v.Verify(signToken(t, jwt.SigningMethodHS256, testSecret, "", claims(set("exp", testNow.Add(-tt.expAgo).Unix()))))
		switch {
		case tt.code == "" && err != nil:
			t.Errorf("exp %s ago: %v, want accepted", tt.expAgo, err)
		case tt.code != "" && (problem.As(err) == nil || problem.As(err).Code != tt.code):
			t.Errorf("exp %s ago: %v, want %s", tt.expAgo, err, tt.code)
		}
	}
}

func TestHasRole(t *testing.T) {
	c := Claims{Roles: []string{RoleUser, RoleAdmin}}
	for _, tt := range []struct {
		role string
		want bool
	}{{RoleUser, true}, {RoleAdmin, true}, {RoleBridge, false}, {"", false}} {
		if got := c.HasRole(tt.role); got != tt.want {
			t.Errorf("HasRole(%q) = %v, want %v", tt.role, got, tt.want)
		}
	}
}

// TestVerifyConcurrent lets the race detector see one Verifier shared by
// many goroutines, as on the connect path.
func TestVerifyConcurrent(t *testing.T) {
	v, err := New(Config{Secret: testSecret, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	good := signToken(t, jwt.SigningMethodHS256, testSecret, "", claims())
	bad := signToken(t, jwt.SigningMethodHS256, testSecret, "", claims(del("tenant")))
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			for range 50 {
				if _, err := v.Verify(good); err != nil {
					errs <- err
					return
				}
				if _, err := v.Verify(bad); err == nil {
					errs <- errors.New("bad token accepted")
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func BenchmarkVerifyHS256(b *testing.B) {
	v, err := New(Config{Secret: testSecret, Audience: testAudience, Issuer: testIssuer, Now: clock})
	if err != nil {
		b.Fatal(err)
	}
	tok := signToken(b, jwt.SigningMethodHS256, testSecret, "", claims(set("roles", []string{RoleUser}), set("sid", "s1")))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := v.Verify(tok); err != nil {
			b.Fatal(err)
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
