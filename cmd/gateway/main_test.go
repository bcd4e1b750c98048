package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/pgw/pgw/gateway/auth"
)

const secret = "cmd-test-secret-0123456789abcdef-0123"

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestTokenSubcommandMintsAVerifiableToken(t *testing.T) {
	var out, errb bytes.Buffer
	code := run([]string{"token", "--sub", "alice", "--tenant", "acme", "--roles", "user,admin", "--sid", "s1"},
		env(map[string]string{"PGW_JWT_SECRET": secret, "PGW_JWT_AUDIENCE": "pgw"}), &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	v, err := auth.New(auth.Config{Secret: []byte(secret), Audience: "pgw"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := v.Verify(strings.TrimSpace(out.String()))
	if err != nil {
		t.Fatalf("minted token refused: %v", err)
	}
	if c.Subject != "alice" || c.Tenant != "acme" || c.Session != "s1" || !c.HasRole(auth.RoleAdmin) {
		t.Fatalf("claims %+v", c)
	}
}

func TestBadInvocationsNameTheProblem(t *testing.T) {
	cases := []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"token", "--tenant", "acme"}, map[string]string{"PGW_JWT_SECRET": secret}, "--sub is required"},
		{[]string{"token", "--sub", "a", "--tenant", "acme"}, nil, "--jwt-secret (PGW_JWT_SECRET) is required"},
		{[]string{"serve", "--grace", "soon"}, nil, "grace"},
		{[]string{"serve"}, map[string]string{"PGW_LOG_FORMAT": "xml"}, "PGW_LOG_FORMAT"},
		{[]string{"serve"}, map[string]string{"PGW_GRACE": "-1s"}, "PGW_GRACE"},
		{[]string{"fly"}, nil, `unknown command "fly"`},
	}
	for _, tc := range cases {
		var out, errb bytes.Buffer
		if code := run(tc.args, env(tc.env), &out, &errb); code != 2 {
			t.Errorf("%v: exit %d, want 2", tc.args, code)
		}
		if !strings.Contains(errb.String(), tc.want) {
			t.Errorf("%v: stderr %q does not name %q", tc.args, errb.String(), tc.want)
		}
	}
}
