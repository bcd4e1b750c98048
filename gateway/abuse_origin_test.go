package gateway

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
)

// dialStatus dials with headers and returns the HTTP status of the answer
// (101 when upgraded).
func dialStatus(t *testing.T, url string, h http.Header) int {
	t.Helper()
	ws, resp, err := websocket.DefaultDialer.Dial(url, h)
	if err == nil {
		ws.Close()
		return 101
	}
	if resp == nil {
		t.Fatalf("dial: %v", err)
	}
	if resp.StatusCode != 101 && resp.Header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("refusal %d is not a problem: %v", resp.StatusCode, resp.Header)
	}
	return resp.StatusCode
}

// The gateway's own origin is PGW_PUBLIC_URL, never the request's Host (DNS
// rebinding controls Host); null passes only when listed; an empty Origin
// header is a browser origin that matches nothing (contract §1).
func TestOrigins(t *testing.T) {
	tn := startNode(t, func(c *Config) { c.AllowedOrigins = []string{"file://", "app://desk"} })
	own := startNode(t, func(c *Config) { c.PublicURL = "https://pgw.example.com/base/" })
	cases := []struct {
		name string
		url  string
		h    http.Header
		want int
	}{
		{"no Origin (non-browser client)", tn.url, nil, 101},
		{"listed file://", tn.url, http.Header{"Origin": {"file://"}}, 101},
		{"listed custom scheme", tn.url, http.Header{"Origin": {"app://desk"}}, 101},
		{"file:// does not imply null", tn.url, http.Header{"Origin": {"null"}}, 403},
		{"empty Origin is not no Origin", tn.url, http.Header{"Origin": {""}}, 403},
		{"rebound Host does not make an origin own", tn.url, http.Header{"Origin": {"http://evil.example:1234"}, "Host": {"evil.example:1234"}}, 403},
		{"the request's Host is not the own origin", own.url, http.Header{"Origin": {"http://" + strings.TrimPrefix(own.base, "http://")}}, 403},
		{"PGW_PUBLIC_URL is the own origin", own.url, http.Header{"Origin": {"https://pgw.example.com"}}, 101},
		{"unlisted", tn.url, http.Header{"Origin": {"app://other"}}, 403},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := dialStatus(t, c.url, c.h); got != c.want {
				t.Fatalf("status %d, want %d", got, c.want)
			}
		})
	}
	withNull := startNode(t, func(c *Config) { c.AllowedOrigins = []string{"null"} })
	if got := dialStatus(t, withNull.url, http.Header{"Origin": {"null"}}); got != 101 {
		t.Fatalf("null listed literally: %d", got)
	}
}

// By default the own origin is http:// + PGW_ADDR.
func TestOriginDefaultIsAddr(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Addr = "10.0.0.1:9000"
	if got := cfg.OwnOrigin(); got != "http://10.0.0.1:9000" {
		t.Fatalf("own origin %q", got)
	}
	cfg.PublicURL = "https://pgw.example.com/"
	if got := cfg.OwnOrigin(); got != "https://pgw.example.com/" {
		t.Fatalf("own origin %q", got)
	}
}

// Bad origin settings stop the node at start, naming the variable.
func TestOriginSettings(t *testing.T) {
	wantSettingError(t, map[string]string{"PGW_ALLOWED_ORIGINS": "example.com"}, "PGW_ALLOWED_ORIGINS")
	wantSettingError(t, map[string]string{"PGW_ALLOWED_ORIGINS": "https://h/path"}, "PGW_ALLOWED_ORIGINS")
	wantSettingError(t, map[string]string{"PGW_PUBLIC_URL": "pgw.example.com"}, "PGW_PUBLIC_URL")
	cfg, _, err := LoadConfig("t", []string{"--public-url", "https://pgw.example.com/x/"}, envOf(map[string]string{"PGW_ALLOWED_ORIGINS": "null, file://"}), io.Discard)
	if err != nil || cfg.PublicURL != "https://pgw.example.com/x/" || len(cfg.AllowedOrigins) != 2 {
		t.Fatalf("cfg %+v err %v", cfg, err)
	}
}
