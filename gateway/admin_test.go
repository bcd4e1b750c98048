package gateway

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func adminGet(t *testing.T, url string) (int, string, string) {
	t.Helper()
	hc := &http.Client{Timeout: 10 * time.Second}
	resp, err := hc.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(body)
}

// TestAdminListener: with PGW_ADMIN_ADDR, /metrics and /debug/pprof/ are
// served there only; the public listener answers them 404 problem.
func TestAdminListener(t *testing.T) {
	tn := startNode(t, func(c *Config) { c.AdminAddr = "127.0.0.1:0" })
	deadline := time.Now().Add(10 * time.Second)
	for tn.AdminAddr() == "" && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond) // polling for the bind, with a deadline
	}
	if tn.AdminAddr() == "" {
		t.Fatal("admin listener not bound within 10s")
	}
	admin := "http://" + tn.AdminAddr()
	if code, _, body := adminGet(t, admin+"/metrics"); code != 200 || !strings.Contains(body, "pgw_") {
		t.Fatalf("admin /metrics: %d %.200s", code, body)
	}
	if code, _, body := adminGet(t, admin+"/debug/pprof/"); code != 200 || !strings.Contains(body, "goroutine") {
		t.Fatalf("admin /debug/pprof/: %d %.200s", code, body)
	}
	if code, _, body := adminGet(t, admin+"/debug/pprof/heap?debug=1"); code != 200 || !strings.Contains(body, "heap profile") {
		t.Fatalf("admin heap profile: %d %.200s", code, body)
	}
	if code, ctype, body := adminGet(t, admin+"/v1/presence/alice"); code != 404 || ctype != "application/problem+json" {
		t.Fatalf("admin serves the API: %d %s %.200s", code, ctype, body)
	}
	for _, path := range []string{"/metrics", "/debug/pprof/", "/debug/pprof/heap"} {
		code, ctype, body := adminGet(t, tn.base+path)
		var p struct{ Code string }
		_ = json.Unmarshal([]byte(body), &p)
		if code != 404 || ctype != "application/problem+json" || p.Code != "not_found" {
			t.Fatalf("public %s: %d %s %.200s", path, code, ctype, body)
		}
	}
	if code, _, _ := adminGet(t, tn.base+"/readyz"); code != 200 {
		t.Fatalf("public /readyz: %d", code)
	}
}

// TestAdminListenerOff: without PGW_ADMIN_ADDR /metrics stays on the public
// listener (contract §7) and pprof is served nowhere.
func TestAdminListenerOff(t *testing.T) {
	tn := startNode(t, nil)
	if code, _, body := adminGet(t, tn.base+"/metrics"); code != 200 || !strings.Contains(body, "pgw_") {
		t.Fatalf("public /metrics: %d %.200s", code, body)
	}
	for _, path := range []string{"/debug/pprof/", "/debug/pprof/heap", "/debug/pprof/profile"} {
		if code, ctype, body := adminGet(t, tn.base+path); code != 404 || ctype != "application/problem+json" {
			t.Fatalf("public %s: %d %s %.200s", path, code, ctype, body)
		}
	}
	if tn.AdminAddr() != "" {
		t.Fatalf("AdminAddr %q without PGW_ADMIN_ADDR", tn.AdminAddr())
	}
}

// TestAdminAddrValidated: a bad or clashing admin address is refused at
// start, naming the setting.
func TestAdminAddrValidated(t *testing.T) {
	for _, addr := range []string{"nonsense", "127.0.0.1:8080"} {
		c := DefaultConfig()
		c.AdminAddr = addr
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "PGW_ADMIN_ADDR") {
			t.Errorf("AdminAddr %q: %v", addr, err)
		}
	}
}
