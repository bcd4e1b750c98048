package membench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pgw/pgw/gateway"
	"github.com/pgw/pgw/internal/testenv"
)

// Environment of the in-process measurement. The client side runs in a
// subprocess (this test binary re-executed) so the node's process holds
// only its own half of each connection.
const (
	envClientURL = "PGW_MEMBENCH_CLIENT_URL" // set: this process is the client side
	envSecret    = "PGW_MEMBENCH_SECRET"
	envConns     = "PGW_MEMBENCH_CONNS"   // connections (default 300)
	envProfile   = "PGW_MEMBENCH_PROFILE" // directory for heap/goroutine profiles
)

func TestMain(m *testing.M) {
	if url := os.Getenv(envClientURL); url != "" {
		os.Exit(clientMain(url))
	}
	if os.Getenv(envProfile) != "" {
		runtime.MemProfileRate = 1 // every allocation, before the node exists
	}
	os.Exit(m.Run())
}

// clientMain is the client subprocess: it opens the connections, prints
// "ready N", holds them until stdin closes, then closes them.
func clientMain(url string) int {
	n, _ := strconv.Atoi(os.Getenv(envConns))
	cs, err := Open(context.Background(), ClientConfig{URL: url, Conns: n, Secret: []byte(os.Getenv(envSecret)),
		Tenant: "membench", Windows: 2, Subscribe: 10, Sources: 4})
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	fmt.Println("ready", cs.Len())
	_, _ = io.Copy(io.Discard, os.Stdin)
	cs.Close()
	return 0
}

// TestIdleConnMemory measures, in process, what an idle pgw connection
// (authenticated, in a session, subscribed to 10 users) adds to the node's
// heap and stacks after a forced GC, and fails when it exceeds a bound far
// above today's figure (a regression such as a per-connection buffer or
// goroutine kept). PGW_MEMBENCH_CONNS=10000 PGW_MEMBENCH_PROFILE=dir gives
// the figures of docs/benchmarks-memory.md and heap profiles for pprof.
func TestIdleConnMemory(t *testing.T) {
	conns := 300
	if v := os.Getenv(envConns); v != "" {
		var err error
		if conns, err = strconv.Atoi(v); err != nil {
			t.Fatalf("%s: %v", envConns, err)
		}
	}
	tests := []struct {
		name    string
		redis   bool
		maxConn float64 // bytes of heap+stacks per connection
	}{
		{name: "memory-store", maxConn: 24 << 10},
		{name: "redis-store", redis: true, maxConn: 32 << 10},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			const secret = "membench-secret-0123456789abcdef-0123"
			cfg := gateway.DefaultConfig()
			cfg.Addr = "127.0.0.1:0"
			cfg.JWTSecret = secret
			cfg.Drain = 0
			if tc.redis {
				cfg.RedisURL = testenv.Redis(t).URL
			}
			n, err := gateway.New(context.Background(), cfg, gateway.Deps{Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatalf("new node: %v", err)
			}
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			served := make(chan error, 1)
			go func() { served <- n.Serve(ctx, l) }()
			t.Cleanup(func() {
				cancel()
				select {
				case <-served:
				case <-time.After(30 * time.Second):
					t.Error("node did not stop in 30s")
				}
			})

			before := settledMem()
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), envClientURL+"=ws://"+l.Addr().String()+"/v1/ws",
				envSecret+"="+secret, envConns+"="+strconv.Itoa(conns))
			stdin, err := cmd.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			cmd.Stderr = os.Stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = stdin.Close(); _ = cmd.Wait() })
			ready := make(chan string, 1)
			go func() {
				line, _ := bufio.NewReader(stdout).ReadString('\n')
				ready <- strings.TrimSpace(line)
			}()
			select {
			case line := <-ready:
				if line != "ready "+strconv.Itoa(conns) {
					t.Fatalf("client subprocess: %q", line)
				}
			case <-time.After(5 * time.Minute):
				t.Fatal("client subprocess not ready in 5m")
			}
			after := settledMem()
			heap := float64(after.HeapInuse) - float64(before.HeapInuse)
			stacks := float64(after.StackInuse) - float64(before.StackInuse)
			live := float64(after.HeapAlloc) - float64(before.HeapAlloc)
			per := (heap + stacks) / float64(conns)
			t.Logf("%d conns: heap+stacks %s/conn (heap in use %s, live objects %s, stacks %s), goroutines %d",
				conns, KiB(per), KiB(heap/float64(conns)), KiB(live/float64(conns)), KiB(stacks/float64(conns)), runtime.NumGoroutine())
			if dir := os.Getenv(envProfile); dir != "" {
				writeProfiles(t, dir, tc.name)
			}
			if per > tc.maxConn {
				t.Errorf("idle connection costs %s of heap+stacks, bound %s", KiB(per), KiB(tc.maxConn))
			}
		})
	}
}

// settledMem forces two GC cycles (the second frees what the first's
// finalizers released) and returns the memory statistics.
func settledMem() runtime.MemStats {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m
}

func writeProfiles(t *testing.T, dir, name string) {
	t.Helper()
	for _, p := range []string{"heap", "goroutine"} {
		f, err := os.Create(filepath.Join(dir, p+"-"+name+".pprof"))
		if err != nil {
			t.Fatal(err)
		}
		if err := pprof.Lookup(p).WriteTo(f, 0); err != nil {
			t.Fatal(err)
		}
		_ = f.Close()
	}
}
