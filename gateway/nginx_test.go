package gateway

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pgw/pgw/internal/testenv"
)

// nginxTemplate is the production nginx config; the test and
// scripts/cluster.sh fill its placeholders the same way.
const nginxTemplate = "../deploy/nginx.conf"

// startNginx runs nginx in the foreground on listen (host:port) in front of
// upstreams (host:port), with the shipped deploy/nginx.conf unchanged but
// for its placeholders, its pid, logs and temp files in a temporary
// directory and one worker (so round robin is one sequence). The test's end
// stops nginx.
func startNginx(t *testing.T, listen string, upstreams []string) {
	t.Helper()
	bin, err := exec.LookPath("nginx")
	if err != nil {
		t.Fatalf("nginx not found on PATH: run scripts/ensure-services.sh (apt-get install -y nginx-light)")
	}
	tmpl, err := os.ReadFile(nginxTemplate)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var servers []string
	for _, u := range upstreams {
		servers = append(servers, "server "+u+" max_fails=1 fail_timeout=5s;")
	}
	conf := strings.NewReplacer("@WORKERS@", "1", "@DIR@", dir, "@LISTEN@", listen,
		"@SERVERS@", strings.Join(servers, "\n        ")).Replace(string(tmpl))
	for _, line := range strings.Split(conf, "\n") {
		if strings.Contains(line, "@") && !strings.HasPrefix(strings.TrimSpace(line), "#") {
			t.Fatalf("placeholder left in the nginx config: %q", line)
		}
	}
	confPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-p", dir, "-c", confPath, "-e", filepath.Join(dir, "error.log"), "-g", "daemon off;")
	out, err := os.Create(filepath.Join(dir, "stderr.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("nginx: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		// SIGTERM is nginx's fast shutdown (workers too); SIGKILL if stuck.
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			for _, f := range []string{"stderr.log", "error.log"} {
				b, _ := os.ReadFile(filepath.Join(dir, f))
				t.Logf("nginx %s:\n%s", f, b)
			}
		}
	})
	// nginx's error.log is in the failure output (the cleanup above).
	testenv.WaitReady(t, 10*time.Second, "http://"+listen+"/livez", exited)
}

// freeAddr is 127.0.0.1 with a free port: never nginx's default 80, so a
// proxy config that drops the port (Host $host) shows.
func freeAddr(t *testing.T) string { return fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)) }

// nginx passes the Host the browser sent, port included ($http_host): an
// upstream that builds URLs or checks names from Host behind a non-default
// port must not see the port dropped ($host drops it).
func TestNginxPassesHostWithPort(t *testing.T) {
	var mu sync.Mutex
	hosts := map[string]string{}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hosts[r.URL.Path] = r.Host
		mu.Unlock()
	}))
	defer up.Close()
	listen := freeAddr(t)
	startNginx(t, listen, []string{strings.TrimPrefix(up.URL, "http://")})
	for _, path := range []string{"/v1/presence/u1", "/v1/ws"} {
		resp, err := http.Get("http://" + listen + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		mu.Lock()
		got := hosts[path]
		mu.Unlock()
		if got != listen {
			t.Errorf("%s: upstream saw Host %q, want %q (the port kept)", path, got, listen)
		}
	}
}

func TestNginxMainAndChildOnDifferentNodes(t *testing.T) {
	const grace = time.Second
	// The nodes know their public URL: nginx's address, on a non-default port.
	proxy := freeAddr(t)
	cl := startCluster(t, 3, func(c *Config) { c.Grace, c.PublicURL = grace, "http://"+proxy })
	var upstreams []string
	for _, n := range cl.nodes {
		upstreams = append(upstreams, strings.TrimSuffix(strings.TrimPrefix(n.url, "ws://"), "/v1/ws"))
	}
	startNginx(t, proxy, upstreams)
	lb := &testNode{url: "ws://" + proxy + "/v1/ws", base: "http://" + proxy}

	// A browser page loaded through nginx (the board) sends its origin:
	// allowed on every node; another origin is refused with a problem that
	// nginx passes through, and the probe says the same.
	for range cl.nodes {
		if got := dialStatus(t, lb.url, http.Header{"Origin": {"http://" + proxy}}); got != 101 {
			t.Fatalf("upgrade through nginx with the page's origin: %d", got)
		}
		if got, code := probe(t, lb.base, http.Header{"Origin": {"http://" + proxy}}); got != http.StatusNoContent {
			t.Fatalf("probe through nginx with the page's origin: %d %s", got, code)
		}
	}
	if got := dialStatus(t, lb.url, http.Header{"Origin": {"http://evil.example"}}); got != http.StatusForbidden {
		t.Fatalf("upgrade through nginx from another origin: %d", got)
	}
	if got, code := probe(t, lb.base, http.Header{"Origin": {"http://evil.example"}}); got != http.StatusForbidden || code != "forbidden" {
		t.Fatalf("probe through nginx from another origin: %d %q", got, code)
	}

	w := watch(t, lb, "u1")
	main, mw := connectUser(t, lb, "u1", "acme", "app", "main")
	child, chw := connectUser(t, lb, "u1", "acme", "app", "child")
	if mw["node"] == chw["node"] {
		t.Fatalf("round robin put both windows on %v", mw["node"])
	}
	t.Logf("main on %v, child on %v", mw["node"], chw["node"])
	w.waitFrame(0, 5*time.Second, func(f map[string]any) bool { return f["user"] == "u1" && f["status"] == "online" })

	// The HTTP API through the proxy; /metrics is not public.
	req, _ := http.NewRequest("GET", lb.base+"/v1/presence/u1", nil)
	req.Header.Set("Authorization", "Bearer "+token(t, "w", "acme"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /v1/presence/u1 through nginx: %v %v", resp, err)
	}
	resp.Body.Close()
	if resp, err := http.Get(lb.base + "/metrics"); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("/metrics through nginx: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}

	// Closing the child changes nothing; closing main too: offline once,
	// after the grace.
	_ = child.ws.Close()
	marker(t, lb, w, grace+500*time.Millisecond)
	_ = main.ws.Close()
	w.waitFrame(0, grace+5*time.Second, func(f map[string]any) bool { return f["user"] == "u1" && f["status"] == "offline" })
	marker(t, lb, w, 0)
	fs := w.presenceFrames("u1")
	if got := statusesOf(fs); got != "online,offline" {
		t.Fatalf("subscriber behind nginx saw %s: %v", got, fs)
	}
	checkVersions(t, fs)
}
