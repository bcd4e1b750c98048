package auth

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestSignRoundTrip(t *testing.T) {
	// Sign stamps iat with the real clock, so this Verifier uses it too.
	now := time.Now().Truncate(time.Second)
	v, err := New(Config{Secret: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		in   Claims
		want Claims
	}{
		{
			name: "iat set to now, roles default",
			in:   Claims{Subject: "u1", Tenant: "acme", Expires: now.Add(time.Hour)},
			want: Claims{Subject: "u1", Tenant: "acme", Roles: []string{RoleUser}, Expires: now.Add(time.Hour)},
		},
		{
			name: "all claims",
			in:   Claims{Subject: "b1", Tenant: "acme", Roles: []string{RoleBridge}, Session: "s1", Expires: now.Add(time.Minute), IssuedAt: now.Add(-time.Minute)},
			want: Claims{Subject: "b1", Tenant: "acme", Roles: []string{RoleBridge}, Session: "s1", Expires: now.Add(time.Minute), IssuedAt: now.Add(-time.Minute)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := Sign(testSecret, tt.in)
			if err != nil {
				t.Fatal(err)
			}
			got, err := v.Verify(tok)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if tt.in.IssuedAt.IsZero() {
				// Sign used the real clock; it must have set iat.
				if got.IssuedAt.IsZero() || time.Since(got.IssuedAt) > time.Minute {
					t.Errorf("iat = %v, want about now", got.IssuedAt)
				}
				got.IssuedAt = time.Time{}
			}
			if !equalClaims(got, tt.want) {
				t.Errorf("claims = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestVerifierSignAddsAudienceAndIssuer(t *testing.T) {
	v, err := New(Config{Secret: testSecret, Audience: testAudience, Issuer: testIssuer, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	in := Claims{Subject: "u1", Tenant: "acme", Roles: []string{RoleAdmin}, Expires: testNow.Add(time.Hour)}
	tok, err := v.Sign(in)
	if err != nil {
		t.Fatal(err)
	}
	got, err := v.Verify(tok)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if !got.IssuedAt.Equal(testNow) || !slices.Equal(got.Roles, in.Roles) {
		t.Errorf("claims = %+v", got)
	}
	// The package Sign sets neither, so this Verifier refuses its tokens.
	plain, err := Sign(testSecret, in)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(plain); err == nil {
		t.Error("token without aud/iss accepted by a Verifier that checks them")
	}
}

func TestSignRefuses(t *testing.T) {
	ok := Claims{Subject: "u1", Tenant: "acme", Expires: testNow.Add(time.Hour)}
	with := func(f func(*Claims)) Claims { c := ok; f(&c); return c }
	tests := []struct {
		name   string
		secret []byte
		in     Claims
		want   error
		detail string
	}{
		{"no secret", nil, ok, errNoSecret, ""},
		{"bad sub", testSecret, with(func(c *Claims) { c.Subject = "a*b" }), errSignClaims, "sub"},
		{"empty tenant", testSecret, with(func(c *Claims) { c.Tenant = "" }), errSignClaims, "tenant"},
		{"bad sid", testSecret, with(func(c *Claims) { c.Session = "s 1" }), errSignClaims, "sid"},
		{"no exp", testSecret, with(func(c *Claims) { c.Expires = time.Time{} }), errSignClaims, "exp"},
		{"unknown role", testSecret, with(func(c *Claims) { c.Roles = []string{"root"} }), errSignClaims, "root"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Sign(tt.secret, tt.in)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.detail) {
				t.Errorf("err %q does not name %q", err, tt.detail)
			}
		})
	}
}
