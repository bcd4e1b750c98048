package bridge

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/pgw/pgw/problem"
)

func verify(t *testing.T, token string, secret []byte) jwt.MapClaims {
	t.Helper()
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(token, claims, func(*jwt.Token) (any, error) { return secret, nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired())
	if err != nil {
		t.Fatalf("token does not verify: %v", err)
	}
	return claims
}

func TestMintToken(t *testing.T) {
	secret := []byte("k")
	tok, err := MintToken(secret, "acme", "b1", time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	c := verify(t, tok, secret)
	if c["sub"] != "b1" || c["tenant"] != "acme" {
		t.Fatalf("claims %v", c)
	}
	if sub, err := SubjectOf(tok); err != nil || sub != "b1" {
		t.Fatalf("SubjectOf = %q, %v", sub, err)
	}
	expired, _ := MintToken(secret, "acme", "b1", time.Minute, time.Now().Add(-time.Hour))
	if _, err := jwt.Parse(expired, func(*jwt.Token) (any, error) { return secret, nil }); !errors.Is(err, jwt.ErrTokenExpired) {
		t.Fatalf("expired token parsed: %v", err)
	}
}

func TestRuleFor(t *testing.T) {
	tests := []struct {
		code     int
		reason   string
		canRenew bool
		want     reconnectDelay
	}{
		{1000, "logged_out", false, reconnectStop},
		{1001, "shutdown", false, reconnectAtOnce},
		{1003, "binary_frame", false, reconnectStop},
		{1006, "", false, reconnectBackoff},
		{1008, "slow_consumer", false, reconnectBackoff},
		{1009, "frame_too_large", false, reconnectStop},
		{1011, "", false, reconnectBackoff},
		{4400, "protocol_violation", false, reconnectStop},
		{4401, "token_expired", false, reconnectStop},
		{4401, "token_expired", true, reconnectBackoff},
		{4401, "token_signature", true, reconnectStop},
		{4403, "forbidden", false, reconnectStop},
		{4408, "hello_timeout", false, reconnectBackoff},
		{4429, "too_many_connections", false, reconnectBackoff},
		{4500, "internal", false, reconnectBackoff},
	}
	for _, tc := range tests {
		if got := ruleFor(tc.code, tc.reason, tc.canRenew); got != tc.want {
			t.Errorf("ruleFor(%d, %q, %v) = %d, want %d", tc.code, tc.reason, tc.canRenew, got, tc.want)
		}
	}
}

// TestRuleForMatchesSharedTable checks the bridge's policy against the
// close-code table every client is checked against
// (sdk/conformance/close-codes.json, generated from problem.Table()): each
// listed code and reason, and codes the table does not list.
func TestRuleForMatchesSharedTable(t *testing.T) {
	raw, err := os.ReadFile("../../sdk/conformance/close-codes.json")
	if err != nil {
		t.Fatal(err)
	}
	var table struct {
		Codes []struct {
			Close     int      `json:"close"`
			Reconnect string   `json:"reconnect"`
			Reasons   []string `json:"reasons"`
		} `json:"closeCodes"`
		Unlisted string `json:"unlisted"`
	}
	if err := json.Unmarshal(raw, &table); err != nil {
		t.Fatal(err)
	}
	if len(table.Codes) < 10 || table.Unlisted == "" {
		t.Fatalf("close-codes.json has %d codes and unlisted %q: not the table", len(table.Codes), table.Unlisted)
	}
	// What the bridge does for each SDK rule name: it never holds a token
	// it cannot renew, so new_token stops unless it mints its own.
	want := func(rule, reason string, canRenew bool) reconnectDelay {
		switch rule {
		case "no":
			return reconnectStop
		case "at_once":
			return reconnectAtOnce
		case "backoff":
			return reconnectBackoff
		case "new_token":
			if canRenew && reason == string(problem.TokenExpired) {
				return reconnectBackoff
			}
			return reconnectStop
		}
		t.Fatalf("unknown rule %q in close-codes.json", rule)
		return 0
	}
	for _, c := range table.Codes {
		for _, reason := range c.Reasons {
			for _, renew := range []bool{false, true} {
				if got, w := ruleFor(c.Close, reason, renew), want(c.Reconnect, reason, renew); got != w {
					t.Errorf("close %d %q (renew %v): bridge does %d, the table says %s (%d)", c.Close, reason, renew, got, c.Reconnect, w)
				}
			}
		}
	}
	for _, code := range []int{1005, 1006, 1011, 1012, 1013} {
		if got, w := ruleFor(code, "", false), want(table.Unlisted, "", false); got != w {
			t.Errorf("unlisted close %d: bridge does %d, the table says %s (%d)", code, got, table.Unlisted, w)
		}
	}
}

func TestBackoffIsBoundedAndGrows(t *testing.T) {
	b := backoff{min: 10 * time.Millisecond, max: 80 * time.Millisecond}
	ceilings := []time.Duration{10, 20, 40, 80, 80, 80}
	for i, c := range ceilings {
		c *= time.Millisecond
		for j := 0; j < 50; j++ {
			bb := b
			if d := bb.next(); d < 0 || d > c {
				t.Fatalf("attempt %d: delay %v outside [0, %v]", i, d, c)
			}
		}
		b.next()
	}
	b.reset()
	if d := b.next(); d > 10*time.Millisecond {
		t.Fatalf("after reset: %v", d)
	}
}

func TestParseUsers(t *testing.T) {
	tests := []struct {
		name, in string
		want     Users
		err      string
	}{
		{"lines", "# ext user\n1001 alice\n\n1002\tbob\n", Users{"1001": "alice", "1002": "bob"}, ""},
		{"json", ` {"1001":"alice","200":"u_2"}`, Users{"1001": "alice", "200": "u_2"}, ""},
		{"empty", "", Users{}, ""},
		{"three fields", "1001 alice smith\n", nil, "line 1"},
		{"bad user id", "1001 a.lice\n", nil, "a.lice"},
		{"bad extension", "10/01 alice\n", nil, "10/01"},
		{"duplicate ext", "1001 alice\n1001 bob\n", nil, "line 2: extension 1001 listed twice"},
		{"bad json", `{"1001":1}`, nil, "JSON"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseUsers(strings.NewReader(tc.in))
			if tc.err != "" {
				if !errors.Is(err, ErrUsersFile) || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want ErrUsersFile mentioning %q", err, tc.err)
				}
				return
			}
			if err != nil || len(got) != len(tc.want) {
				t.Fatalf("got %v, %v; want %v", got, err, tc.want)
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Fatalf("got %v, want %v", got, tc.want)
				}
			}
		})
	}
}

func TestNilUsersMapsIdentity(t *testing.T) {
	var u Users
	if user, ok := u.User("1001"); !ok || user != "1001" {
		t.Fatalf("User = %q %v", user, ok)
	}
	if _, ok := u.User("a.b"); ok {
		t.Fatal("an invalid id must not map")
	}
}
