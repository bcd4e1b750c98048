package gateway

import (
	"bufio"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pgw/pgw/internal/testenv"
)

// buildGateway builds cmd/gateway into a temporary directory with the go on
// PATH (go test puts its own toolchain's bin first on the tests' PATH).
func buildGateway(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("no go on PATH to build the gateway: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "gateway")
	cmd := exec.Command(goBin, "build", "-o", bin, "./cmd/gateway")
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/gateway: %v\n%s", err, out)
	}
	return bin
}

// TestDrainOnSIGTERM: a built gateway with open connections gets SIGTERM:
// each connection receives bye shutdown and close 1001, /readyz turns 503
// meanwhile, and the process exits 0.
func TestDrainOnSIGTERM(t *testing.T) {
	bin := buildGateway(t)
	port := testenv.FreePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cmd := exec.Command(bin, "--addr", addr, "--jwt-secret", testSecret, "--drain", "1s", "--node-id", "drain1")
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	logs := make(chan string, 1000)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			select {
			case logs <- sc.Text():
			default:
			}
		}
		close(logs)
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	tn := &testNode{t: t, url: "ws://" + addr + "/v1/ws", base: "http://" + addr}
	testenv.WaitFor(t, 10*time.Second, func() error { return httpStatus(tn.base+"/readyz", 200) })

	var clients []*client
	for i := range 5 {
		c, _ := connectUser(t, tn, fmt.Sprintf("u%d", i), "acme", "", "main")
		clients = append(clients, c)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for _, c := range clients {
		ce := c.waitClose(10 * time.Second)
		if ce.Code != 1001 || ce.Text != "shutdown" {
			t.Fatalf("close %d %q, want 1001 shutdown", ce.Code, ce.Text)
		}
		bye, _ := c.waitFrame(0, time.Second, func(f map[string]any) bool { return f["type"] == "bye" })
		if bye["reason"] != "shutdown" {
			t.Fatalf("bye %v", bye)
		}
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			var all []string
			for l := range logs {
				all = append(all, l)
			}
			t.Fatalf("exit: %v\n%s", err, strings.Join(all, "\n"))
		}
	case <-time.After(20 * time.Second):
		t.Fatal("gateway did not exit within 20s of SIGTERM")
	}
}

// httpStatus returns nil when GET url answers want.
func httpStatus(url string, want int) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != want {
		return fmt.Errorf("GET %s: %d, want %d", url, resp.StatusCode, want)
	}
	return nil
}
