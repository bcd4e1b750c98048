package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pgw/pgw/gateway"
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

// syncBuffer is a bytes.Buffer safe to read while a command writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startGateway runs a node alone (in-process store, embedded NATS) on a
// free port with the test secret and returns its address.
func startGateway(t *testing.T) string {
	t.Helper()
	cfg := gateway.DefaultConfig()
	cfg.Addr, cfg.JWTSecret = "127.0.0.1:0", secret
	n, err := gateway.New(context.Background(), cfg, gateway.Deps{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Serve(ctx, l) }()
	t.Cleanup(func() { cancel(); <-done })
	return l.Addr().String()
}

func mint(t *testing.T, sub string) string {
	t.Helper()
	var out, errb bytes.Buffer
	if code := run([]string{"token", "--sub", sub, "--tenant", "acme"}, env(map[string]string{"PGW_JWT_SECRET": secret}), &out, &errb); code != 0 {
		t.Fatalf("token: %s", errb.String())
	}
	return strings.TrimSpace(out.String())
}

// waitOutput waits (with a deadline, not a sleep) until out has every want.
func waitOutput(t *testing.T, out *syncBuffer, want ...string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		s := out.String()
		missing := ""
		for _, w := range want {
			if !strings.Contains(s, w) {
				missing = w
				break
			}
		}
		if missing == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("output never had %q:\n%s", missing, s)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// gateway connect sends hello and the frames given, and prints every frame
// the gateway sends, one per line: the README tour's WebSocket step.
func TestConnectPrintsFrames(t *testing.T) {
	addr := startGateway(t)
	getenv := env(map[string]string{"PGW_ADDR": addr})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errb syncBuffer
	code := make(chan int, 1)
	go func() {
		code <- connect(ctx, []string{"--token", mint(t, "alice"), "--session", "app-1",
			`{"type":"subscribe","users":["bob"]}`, `{"type":"status","status":"busy","note":"in a meeting"}`}, getenv, &out, &errb)
	}()
	waitOutput(t, &out, `{"type":"welcome","id":1,`, `"session":"app-1"`, `{"type":"ok","id":2,"presence":[{"type":"presence","tenant":"acme","user":"bob","status":"offline"`,
		`{"type":"ok","id":3,"presence":{"type":"presence","tenant":"acme","user":"alice","status":"busy","note":"in a meeting"`)
	// Bob comes online: alice's connection is pushed the change.
	var bout, berr syncBuffer
	bctx, bcancel := context.WithCancel(context.Background())
	bcode := make(chan int, 1)
	go func() { bcode <- connect(bctx, []string{"--token", mint(t, "bob")}, getenv, &bout, &berr) }()
	waitOutput(t, &out, `{"type":"presence","tenant":"acme","user":"bob","status":"online"`)
	bcancel()
	cancel()
	if c := <-code; c != 0 {
		t.Errorf("connect exit %d: %s", c, errb.String())
	}
	if c := <-bcode; c != 0 {
		t.Errorf("bob's connect exit %d: %s", c, berr.String())
	}
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if !strings.HasPrefix(line, "{") || !strings.HasSuffix(line, "}") {
			t.Errorf("not one JSON object per line: %q", line)
		}
	}
}

// A refused hello, a frame that is not JSON and an unreachable gateway each
// say what is wrong.
func TestConnectNamesTheProblem(t *testing.T) {
	addr := startGateway(t)
	getenv := env(map[string]string{"PGW_ADDR": addr})
	var out, errb syncBuffer
	if c := connect(context.Background(), []string{"--token", "not-a-jwt"}, getenv, &out, &errb); c != 1 || !strings.Contains(errb.String(), "code 4401 token_malformed") {
		t.Errorf("refused token: exit %d, stderr %q, stdout %q", c, errb.String(), out.String())
	}
	var out2, errb2 syncBuffer
	if c := connect(context.Background(), []string{"--token", "x", `{"type":`}, getenv, &out2, &errb2); c != 2 || !strings.Contains(errb2.String(), "frame 1 is not a JSON object") {
		t.Errorf("bad frame: exit %d, stderr %q", c, errb2.String())
	}
	var out4, errb4 syncBuffer
	if c := connect(context.Background(), nil, getenv, &out4, &errb4); c != 2 || !strings.Contains(errb4.String(), "--token (PGW_TOKEN) is required") {
		t.Errorf("no token: exit %d, stderr %q", c, errb4.String())
	}
}

// A second gateway on a taken address says so and what to do, before it
// starts anything else.
func TestServeOnATakenPortSaysWhatToDo(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var out, errb bytes.Buffer
	code := run([]string{"serve", "--addr", l.Addr().String()}, env(map[string]string{"PGW_JWT_SECRET": secret}), &out, &errb)
	if code != 1 || !strings.Contains(errb.String(), l.Addr().String()+" is already in use") || !strings.Contains(errb.String(), "PGW_ADDR=") {
		t.Fatalf("exit %d, stderr %q", code, errb.String())
	}
}

func TestTenantsValidate(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"tenants", "validate", "../../deploy/tenants.example.yaml"}, env(nil), &out, &errb); code != 0 {
		t.Fatalf("example file refused (exit %d): %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "3 tenants, valid") {
		t.Fatalf("stdout %q", out.String())
	}
	bad := t.TempDir() + "/bad.yaml"
	if err := os.WriteFile(bad, []byte("tenants:\n  acme:\n    grace: soon\n    disabled: maybe\n  globex:\n    colour: blue\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	errb.Reset()
	if code := run([]string{"tenants", "validate", bad}, env(nil), &out, &errb); code != 1 {
		t.Fatalf("bad file: exit %d", code)
	}
	for _, want := range []string{"tenants.acme.grace:", "tenants.acme.disabled:", "tenants.globex.colour:", "3 invalid fields"} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("stderr does not name %q:\n%s", want, errb.String())
		}
	}
	errb.Reset()
	if code := run([]string{"tenants", "export"}, env(nil), &out, &errb); code != 1 || !strings.Contains(errb.String(), "PGW_REDIS_URL") {
		t.Errorf("export without Redis: %s", errb.String())
	}
}
