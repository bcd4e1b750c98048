package membench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/pgw/pgw/gateway/auth"
	"github.com/pgw/pgw/wire"
)

// Sentinel errors of the clients.
var (
	// errUnexpectedReply: the server answered a frame with something else
	// than the contract's reply (an error frame, a close).
	errUnexpectedReply = errors.New("unexpected reply")
	// errBadConfig: the client settings cannot describe a run.
	errBadConfig = errors.New("bad client config")
)

// ClientConfig describes the connections one measurement opens.
type ClientConfig struct {
	// URL is the WebSocket endpoint (ws://host:port/v1/ws or the bare
	// server's ws://host:port/ws).
	URL string
	// Conns is how many connections to open.
	Conns int
	// Bare selects the bare echo protocol: one text frame sent and echoed,
	// no auth. Otherwise the pgw protocol: bearer token, hello, subscribe.
	Bare bool
	// Secret is the gateway's HS256 secret (pgw only).
	Secret []byte
	// Tenant of every user (pgw only).
	Tenant string
	// Windows is the connections per session (main + child windows); users
	// are Conns/Windows. Default 2.
	Windows int
	// Subscribe is how many other users each connection subscribes to (0:
	// no subscribe frame).
	Subscribe int
	// Parallel is how many connections are being opened at once. Default 32.
	Parallel int
	// Sources is how many 127.0.0.x source addresses to spread over (0: let
	// the kernel pick), for when ephemeral ports run short.
	Sources int
}

func (c *ClientConfig) defaults() error {
	if c.Windows <= 0 {
		c.Windows = 2
	}
	if c.Parallel <= 0 {
		c.Parallel = 32
	}
	if c.Conns <= 0 || c.URL == "" || c.Subscribe < 0 {
		return fmt.Errorf("%w: Conns %d, URL %q and Subscribe %d must be set", errBadConfig, c.Conns, c.URL, c.Subscribe)
	}
	if !c.Bare && (len(c.Secret) == 0 || c.Tenant == "") {
		return fmt.Errorf("%w: pgw clients need Secret and Tenant", errBadConfig)
	}
	return nil
}

// Clients are open idle connections; each has one reader goroutine that
// answers the server's pings and discards pushes.
type Clients struct {
	mu     sync.Mutex
	conns  []*websocket.Conn
	wg     sync.WaitGroup
	pushes atomic.Int64
}

// Pushes counts the frames received after the connections were set up.
func (cs *Clients) Pushes() int64 { return cs.pushes.Load() }

// Len is the number of open connections.
func (cs *Clients) Len() int {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return len(cs.conns)
}

// Close closes every connection (a close frame, then the socket) and waits
// for the readers.
func (cs *Clients) Close() {
	cs.mu.Lock()
	conns := cs.conns
	cs.conns = nil
	cs.mu.Unlock()
	deadline := time.Now().Add(time.Second)
	for _, ws := range conns {
		_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), deadline)
		_ = ws.Close()
	}
	cs.wg.Wait()
}

// Open opens cfg.Conns connections and returns when every one is set up
// (pgw: welcomed and its subscribe answered; bare: its frame echoed). On
// error the connections opened so far are closed.
func Open(ctx context.Context, cfg ClientConfig) (*Clients, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	tokens := &tokenCache{cfg: cfg, toks: map[int]string{}}
	dialer := &websocket.Dialer{
		// Small client buffers: the client process is not what is measured,
		// but it must hold N connections too.
		ReadBufferSize:   256,
		WriteBufferSize:  256,
		HandshakeTimeout: 30 * time.Second,
		NetDialContext:   sourceDialer(cfg.Sources),
	}
	cs := &Clients{}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		next     atomic.Int64
		firstErr error
		errOnce  sync.Once
		workers  sync.WaitGroup
	)
	for w := 0; w < cfg.Parallel; w++ {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= cfg.Conns {
					return
				}
				ws, err := openOne(ctx, dialer, cfg, tokens, i)
				if err != nil {
					errOnce.Do(func() { firstErr = fmt.Errorf("connection %d: %w", i, err) })
					cancel()
					return
				}
				cs.mu.Lock()
				cs.conns = append(cs.conns, ws)
				cs.mu.Unlock()
				cs.wg.Add(1)
				go cs.hold(ws)
			}
		}()
	}
	workers.Wait()
	if firstErr == nil && ctx.Err() != nil {
		firstErr = ctx.Err()
	}
	if firstErr != nil {
		cs.Close()
		return nil, firstErr
	}
	return cs, nil
}

// hold reads until the connection ends: gorilla answers pings while
// reading, so the server's heartbeat keeps the connection alive.
func (cs *Clients) hold(ws *websocket.Conn) {
	defer cs.wg.Done()
	for {
		if _, _, err := ws.NextReader(); err != nil {
			return
		}
		cs.pushes.Add(1)
	}
}

// openOne dials connection i and runs its setup exchange.
func openOne(ctx context.Context, d *websocket.Dialer, cfg ClientConfig, tokens *tokenCache, i int) (*websocket.Conn, error) {
	user := i / cfg.Windows
	hdr := http.Header{}
	if !cfg.Bare {
		tok, err := tokens.get(user)
		if err != nil {
			return nil, err
		}
		hdr.Set("Authorization", "Bearer "+tok)
	}
	ws, resp, err := d.DialContext(ctx, cfg.URL, hdr)
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	_ = ws.SetReadDeadline(time.Now().Add(30 * time.Second))
	if cfg.Bare {
		err = exchangeBare(ws)
	} else {
		err = exchangePGW(ws, cfg, user, i%cfg.Windows)
	}
	if err != nil {
		_ = ws.Close()
		return nil, err
	}
	_ = ws.SetReadDeadline(time.Time{})
	return ws, nil
}

func exchangeBare(ws *websocket.Conn) error {
	if err := ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"ping"}`)); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	if _, _, err := ws.ReadMessage(); err != nil {
		return fmt.Errorf("read echo: %w", err)
	}
	return nil
}

// exchangePGW sends hello in the user's session (window main or child) and
// subscribes to the next cfg.Subscribe users.
func exchangePGW(ws *websocket.Conn, cfg ClientConfig, user, window int) error {
	win := "main"
	if window > 0 {
		win = "child"
	}
	hello, _ := json.Marshal(wire.HelloFrame{Type: wire.TypeHello, ID: 1, Session: fmt.Sprintf("s%d", user), Window: win, Device: wire.DeviceDesktop, Client: "membench/1"})
	if err := request(ws, string(hello), wire.TypeWelcome, 1); err != nil {
		return fmt.Errorf("hello: %w", err)
	}
	if cfg.Subscribe == 0 {
		return nil
	}
	users := cfg.Conns / cfg.Windows
	list := make([]string, 0, cfg.Subscribe)
	for k := 1; k <= cfg.Subscribe; k++ {
		list = append(list, userID((user+k)%max(users, 1)))
	}
	b, _ := json.Marshal(wire.SubscribeFrame{Type: wire.TypeSubscribe, ID: 2, Users: list})
	if err := request(ws, string(b), wire.TypeOK, 2); err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	return nil
}

// request writes frame and reads until the reply with id (pushes before it
// are skipped); the reply must have type want.
func request(ws *websocket.Conn, frame, want string, id int) error {
	if err := ws.WriteMessage(websocket.TextMessage, []byte(frame)); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			return fmt.Errorf("read: %w", err)
		}
		var r struct {
			Type string          `json:"type"`
			ID   json.RawMessage `json:"id"`
		}
		if err := json.Unmarshal(data, &r); err != nil {
			return fmt.Errorf("%w: %s", errUnexpectedReply, data)
		}
		if string(r.ID) != strconv.Itoa(id) {
			continue
		}
		if r.Type != want {
			return fmt.Errorf("%w: %s", errUnexpectedReply, data)
		}
		return nil
	}
}

func userID(u int) string { return "u" + strconv.Itoa(u) }

// tokenCache signs one token per user (two windows share it).
type tokenCache struct {
	cfg  ClientConfig
	mu   sync.Mutex
	toks map[int]string
}

func (t *tokenCache) get(user int) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if tok, ok := t.toks[user]; ok {
		return tok, nil
	}
	tok, err := auth.Sign(t.cfg.Secret, auth.Claims{Subject: userID(user), Tenant: t.cfg.Tenant,
		Roles: []string{auth.RoleUser}, Expires: time.Now().Add(24 * time.Hour)})
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	t.toks[user] = tok
	return tok, nil
}

// sourceDialer spreads connections over 127.0.0.2 … 127.0.0.(1+n) so N may
// exceed one source address's ephemeral ports; n == 0 lets the kernel pick.
func sourceDialer(n int) func(ctx context.Context, network, addr string) (net.Conn, error) {
	var next atomic.Uint64
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		d := net.Dialer{}
		if n > 0 {
			i := next.Add(1) % uint64(n)
			d.LocalAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(2+i))}
		}
		return d.DialContext(ctx, network, addr)
	}
}
