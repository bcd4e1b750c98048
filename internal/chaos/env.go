package chaos

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/pgw/pgw/internal/testenv"
)

// Secret is the HS256 secret of every node of a run.
const Secret = "chaos-secret-0123456789abcdef0123456789"

// EnvOptions shapes the servers of a run.
type EnvOptions struct {
	Nodes   int
	Cluster bool // Redis Cluster of three masters instead of one redis-server
	Grace   time.Duration
	NodeTTL time.Duration
	Prefix  string
	// LogLevel of the nodes (default warn); their logs end a failed test.
	LogLevel string
	// Extra gateway flags (e.g. soak limits).
	Args []string
}

// Env is the servers of one run: Redis, NATS, a toxiproxy server and the
// gateway processes, each node reaching Redis and NATS through its own
// proxies.
type Env struct {
	t     testing.TB
	opt   EnvOptions
	bin   string
	Redis *testenv.RedisServer // nil for the cluster variant
	// ClusterAddrs are the masters of the cluster variant.
	ClusterAddrs []string
	NATS         *testenv.NATSServer
	toxi         *toxiproxy.ApiServer
	Nodes        []*Node
	rdb          redis.UniversalClient // direct (unproxied) client for checks
}

// Node is one gateway process and its proxies.
type Node struct {
	ID        string
	Addr      string
	args      []string
	bin       string
	logf      string
	RedisPxs  []*toxiproxy.Proxy
	NATSProxy *toxiproxy.Proxy

	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{}
	kills   int  // how many times it was killed (a connection's epoch)
	stopped bool // SIGSTOPped
}

// NewEnv starts everything and stops it when the test ends.
func NewEnv(t testing.TB, opt EnvOptions) *Env {
	t.Helper()
	e := &Env{t: t, opt: opt, bin: BuildGateway(t)}
	e.NATS = testenv.NATS(t)
	e.toxi = toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	if opt.Cluster {
		e.ClusterAddrs = testenv.RedisCluster(t)
		e.rdb = redis.NewClusterClient(&redis.ClusterOptions{Addrs: e.ClusterAddrs})
	} else {
		e.Redis = testenv.Redis(t)
		e.rdb = redis.NewClient(&redis.Options{Addr: e.Redis.Addr})
	}
	t.Cleanup(func() { _ = e.rdb.Close() })
	for i := range opt.Nodes {
		n := &Node{ID: fmt.Sprintf("n%d", i+1), bin: e.bin, logf: filepath.Join(t.TempDir(), fmt.Sprintf("n%d.log", i+1))}
		n.Addr = fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
		var redisURL string
		if opt.Cluster {
			// Cluster redirects name the masters' own addresses, so the
			// cluster variant reaches Redis directly; its faults are on NATS
			// and the nodes.
			redisURL = strings.Join(e.ClusterAddrs, ",")
		} else {
			p := e.proxy(n.ID+"-redis", e.Redis.Addr)
			n.RedisPxs = append(n.RedisPxs, p)
			redisURL = "redis://" + p.Listen + "/0"
		}
		n.NATSProxy = e.proxy(n.ID+"-nats", strings.TrimPrefix(e.NATS.URL, "nats://"))
		n.args = append([]string{"--addr", n.Addr, "--redis-url", redisURL,
			"--nats-url", "nats://" + n.NATSProxy.Listen, "--node-id", n.ID, "--jwt-secret", Secret,
			"--grace", opt.Grace.String(), "--node-ttl", opt.NodeTTL.String(), "--prefix", opt.Prefix,
			"--log-level", cmp.Or(opt.LogLevel, "warn")}, opt.Args...)
		e.Nodes = append(e.Nodes, n)
		if err := n.start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			n.Kill()
			if t.Failed() {
				b, _ := os.ReadFile(n.logf)
				keep := filepath.Join(os.TempDir(), fmt.Sprintf("pgw-chaos-%d-%s.log", time.Now().Unix(), n.ID))
				if os.WriteFile(keep, b, 0o644) == nil {
					t.Logf("the whole log of node %s: %s", n.ID, keep)
				}
				if len(b) > 6000 {
					b = b[len(b)-6000:]
				}
				t.Logf("end of the log of node %s:\n%s", n.ID, b)
			}
		})
	}
	for _, n := range e.Nodes {
		e.WaitReady(n, 30*time.Second)
	}
	t.Cleanup(func() {
		for _, p := range e.toxi.Collection.Proxies() {
			p.Stop()
		}
	})
	return e
}

// proxy starts a toxiproxy proxy on a free port in front of upstream.
func (e *Env) proxy(name, upstream string) *toxiproxy.Proxy {
	p := toxiproxy.NewProxy(e.toxi, name, "127.0.0.1:0", upstream)
	if err := e.toxi.Collection.Add(p, true); err != nil {
		e.t.Fatalf("toxiproxy %s: %v", name, err)
	}
	return p
}

// Proxies are every proxy of the run (the fault targets).
func (e *Env) Proxies() []*toxiproxy.Proxy {
	var ps []*toxiproxy.Proxy
	for _, n := range e.Nodes {
		ps = append(ps, n.RedisPxs...)
		ps = append(ps, n.NATSProxy)
	}
	return ps
}

// HealProxies removes every toxic (removing a timeout toxic closes the
// connections it held, as a healed network would).
func (e *Env) HealProxies() {
	for _, p := range e.Proxies() {
		p.Toxics.ResetToxics(context.Background())
	}
}

// BuildGateway builds cmd/gateway once per test process into a temporary
// directory (RemoveBuilt deletes it); later calls reuse the binary.
func BuildGateway(t testing.TB) string {
	t.Helper()
	built.once.Do(func() {
		// go test puts its own GOROOT/bin first on the PATH of the tests it runs.
		goBin, err := exec.LookPath("go")
		if err != nil {
			built.err = fmt.Errorf("the go command is not on PATH (needed to build cmd/gateway): %v", err)
			return
		}
		dir, err := os.MkdirTemp("", "pgw-chaos-")
		if err != nil {
			built.err = err
			return
		}
		built.dir = dir
		bin := filepath.Join(dir, "gateway")
		cmd := exec.Command(goBin, "build", "-o", bin, "./cmd/gateway")
		cmd.Dir = "../.."
		if out, err := cmd.CombinedOutput(); err != nil {
			built.err = fmt.Errorf("go build ./cmd/gateway: %v\n%s", err, out)
			return
		}
		built.bin = bin
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.bin
}

var built struct {
	once     sync.Once
	dir, bin string
	err      error
}

// RemoveBuilt deletes the binary BuildGateway made (TestMain calls it).
func RemoveBuilt() {
	if built.dir != "" {
		_ = os.RemoveAll(built.dir)
	}
}

func (n *Node) start() error {
	out, err := os.OpenFile(n.logf, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer out.Close()
	cmd := exec.Command(n.bin, n.args...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")} // no PGW_* of the caller
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start node %s: %v", n.ID, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	n.mu.Lock()
	n.cmd, n.exited, n.stopped = cmd, exited, false
	n.mu.Unlock()
	return nil
}

// Pid is the running process's id (0 when killed).
func (n *Node) Pid() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return 0
	}
	return n.cmd.Process.Pid
}

// Epoch counts the node's kills: a connection opened in an earlier epoch
// may have been cut without a close frame.
func (n *Node) Epoch() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.kills
}

// Down reports whether the node is killed or stopped.
func (n *Node) Down() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.cmd == nil || n.stopped
}

// Kill sends SIGKILL (continuing a stopped process first is not needed:
// SIGKILL ends it either way) and waits for the exit.
func (n *Node) Kill() {
	n.mu.Lock()
	cmd, exited := n.cmd, n.exited
	if cmd != nil {
		n.kills++
	}
	n.cmd = nil
	n.stopped = false
	n.mu.Unlock()
	if cmd != nil {
		_ = cmd.Process.Signal(syscall.SIGKILL)
		<-exited
	}
}

// Restart starts a killed node again with the same id and address.
func (n *Node) Restart() error {
	n.mu.Lock()
	running := n.cmd != nil
	n.mu.Unlock()
	if running {
		return nil
	}
	return n.start()
}

// Exited reports whether the process ended on its own (a gateway started
// while Redis is down exits: "start failed"); Kill then Restart, as a
// supervisor would, starts it again.
func (n *Node) Exited() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return false
	}
	select {
	case <-n.exited:
		return true
	default:
		return false
	}
}

// Stop sends SIGSTOP; Cont sends SIGCONT.
func (n *Node) Stop() { n.signal(syscall.SIGSTOP, true) }

// Cont resumes a stopped node.
func (n *Node) Cont() { n.signal(syscall.SIGCONT, false) }

func (n *Node) signal(s syscall.Signal, stopped bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd != nil {
		_ = n.cmd.Process.Signal(s)
		n.stopped = stopped
	}
}

// URL is the node's WebSocket endpoint; Base its HTTP base.
func (n *Node) URL() string  { return "ws://" + n.Addr + "/v1/ws" }
func (n *Node) Base() string { return "http://" + n.Addr }

// WaitReady polls /readyz of n until it answers 200.
func (e *Env) WaitReady(n *Node, timeout time.Duration) {
	e.t.Helper()
	hc := &http.Client{Timeout: 2 * time.Second}
	testenv.WaitFor(e.t, timeout, func() error {
		resp, err := hc.Get(n.Base() + "/readyz")
		if err != nil {
			return fmt.Errorf("node %s: %v", n.ID, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("node %s: readyz %d", n.ID, resp.StatusCode)
		}
		return nil
	})
}

// ConnKeys returns the connection ids of every :conn: key in Redis (the
// id is the key's last part, as in welcome's conn).
func (e *Env) ConnKeys(ctx context.Context) (map[string]bool, error) {
	ids := map[string]bool{}
	pattern := e.opt.Prefix + ":conn:*"
	scan := func(ctx context.Context, c *redis.Client) error {
		it := c.Scan(ctx, 0, pattern, 1000).Iterator()
		for it.Next(ctx) {
			k := it.Val()
			ids[k[strings.LastIndexByte(k, ':')+1:]] = true
		}
		return it.Err()
	}
	switch c := e.rdb.(type) {
	case *redis.ClusterClient:
		var mu sync.Mutex
		err := c.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
			part := map[string]bool{}
			it := m.Scan(ctx, 0, pattern, 1000).Iterator()
			for it.Next(ctx) {
				k := it.Val()
				part[k[strings.LastIndexByte(k, ':')+1:]] = true
			}
			mu.Lock()
			for k := range part {
				ids[k] = true
			}
			mu.Unlock()
			return it.Err()
		})
		return ids, err
	case *redis.Client:
		return ids, scan(ctx, c)
	}
	return nil, fmt.Errorf("unknown redis client %T", e.rdb)
}

// RedisUsedMemory is INFO memory's used_memory summed over the masters.
func (e *Env) RedisUsedMemory(ctx context.Context) (int64, error) {
	var total int64
	one := func(ctx context.Context, c *redis.Client) error {
		s, err := c.Info(ctx, "memory").Result()
		if err != nil {
			return err
		}
		for _, line := range strings.Split(s, "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "used_memory:"); ok {
				var n int64
				fmt.Sscan(v, &n)
				total += n
			}
		}
		return nil
	}
	switch c := e.rdb.(type) {
	case *redis.ClusterClient:
		var mu sync.Mutex
		err := c.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
			mu.Lock()
			defer mu.Unlock()
			return one(ctx, m)
		})
		return total, err
	case *redis.Client:
		return total, one(ctx, c)
	}
	return 0, fmt.Errorf("unknown redis client %T", e.rdb)
}

// NodesSettled reports nil when every node's heartbeat is in Redis and no
// node is marked reaped: nobody is about to be declared dead, and every
// node that was has re-asserted (its heartbeat consumed the mark).
func (e *Env) NodesSettled(ctx context.Context) error {
	for _, n := range e.Nodes {
		beat, err := e.rdb.Exists(ctx, e.opt.Prefix+":node:{"+n.ID+"}").Result()
		if err != nil {
			return err
		}
		reaped, err := e.rdb.Exists(ctx, e.opt.Prefix+":reaped:{"+n.ID+"}").Result()
		if err != nil {
			return err
		}
		if beat == 0 || reaped == 1 {
			return fmt.Errorf("node %s: heartbeat key %d, reaped mark %d", n.ID, beat, reaped)
		}
	}
	return nil
}
