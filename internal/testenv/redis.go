package testenv

import (
	"bufio"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// RedisServer is a redis-server process private to one test.
type RedisServer struct {
	t    testing.TB
	cmd  *exec.Cmd
	dir  string
	Port int
	// Addr is 127.0.0.1:port and URL redis://127.0.0.1:port/0; both stay the
	// same across Restart.
	Addr string
	URL  string
	// Extra arguments passed to every start (e.g. cluster options).
	args []string
}

// RedisBinary returns the redis-server path, failing the test with what to
// do when it is missing (make test installs it).
func RedisBinary(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redis-server not found on PATH: run `make test` (it installs redis-server) or `apt-get install redis-server`")
	}
	return p
}

// Redis starts a redis-server on a free port, keeping nothing on disk, and
// kills it at the end of the test.
func Redis(t testing.TB, extraArgs ...string) *RedisServer {
	t.Helper()
	r := &RedisServer{t: t, dir: t.TempDir(), args: extraArgs}
	for attempt := 0; ; attempt++ {
		r.Port = FreePort(t)
		if err := r.start(); err == nil {
			break
		} else if attempt == 4 {
			t.Fatalf("redis-server: %v", err)
		}
	}
	r.Addr = fmt.Sprintf("127.0.0.1:%d", r.Port)
	r.URL = "redis://" + r.Addr + "/0"
	t.Cleanup(r.Kill)
	return r
}

func (r *RedisServer) start() error {
	args := append([]string{"--port", strconv.Itoa(r.Port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", r.dir, "--protected-mode", "no"}, r.args...)
	cmd := exec.Command(RedisBinary(r.t), args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	ready := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(out)
		var lines []string
		for sc.Scan() {
			line := sc.Text()
			if strings.Contains(line, "Ready to accept connections") {
				ready <- nil
				// Keep draining so the process never blocks on stdout.
				for sc.Scan() {
				}
				return
			}
			lines = append(lines, line)
		}
		ready <- fmt.Errorf("redis-server exited: %s", strings.Join(lines, "\n"))
	}()
	select {
	case err := <-ready:
		if err != nil {
			_ = cmd.Wait()
			return err
		}
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return fmt.Errorf("redis-server on port %d not ready in 10s", r.Port)
	}
	r.cmd = cmd
	return nil
}

// Kill stops the server with SIGKILL (nothing is kept: it has no disk state).
func (r *RedisServer) Kill() {
	if r.cmd != nil {
		_ = r.cmd.Process.Kill()
		_ = r.cmd.Wait()
		r.cmd = nil
	}
}

// Restart kills the server and starts a new, empty one on the same port.
func (r *RedisServer) Restart() {
	r.t.Helper()
	r.Kill()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := r.start()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("redis restart: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// FreePort returns a TCP port that was free a moment ago on 127.0.0.1.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
