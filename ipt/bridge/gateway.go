package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/pgw/pgw/problem"
	"github.com/pgw/pgw/wire"
)

// defaultFrameLimit is the gateway's default inbound frame limit (§6): a
// bigger ipt.sync is refused with close 1009 unless the gateway was
// configured higher.
const defaultFrameLimit = 64 << 10

// maxInflight bounds the ids remembered while waiting for ok/error, so a
// gateway that never answers cannot grow the bridge's memory.
const maxInflight = 10000

// gwConn is one welcomed gateway connection. The core writes frames; its
// reader goroutine matches replies, answers pings and expiring, and closes
// done when the connection ends.
type gwConn struct {
	ws   *websocket.Conn
	cfg  Config
	log  *slog.Logger
	wait time.Duration // read deadline: a ping or frame is expected within it

	wmu sync.Mutex // one writer at a time (core frames, refresh)

	mu       sync.Mutex
	nextID   int64
	inflight map[int64]string // id → what was sent, for the log of an error reply
	err      error            // why the connection ended
	local    bool             // the bridge itself closed it (closeLocal)

	// onTransient is called (from the reader) when the gateway refused a
	// frame for a reason that passes (429, 5xx): what it missed must be
	// restored with a sync.
	onTransient func()

	done chan struct{}
}

// dialGateway upgrades, sends hello and waits for welcome. A returned error
// wraps ErrGatewayRefused when the contract says not to retry.
func dialGateway(ctx context.Context, cfg Config, onTransient func()) (*gwConn, error) {
	token, err := cfg.token()
	if err != nil {
		return nil, err
	}
	d := websocket.Dialer{HandshakeTimeout: cfg.HandshakeTimeout, Proxy: http.ProxyFromEnvironment}
	ws, resp, err := d.DialContext(ctx, cfg.GatewayURL, http.Header{"Authorization": {"Bearer " + token}})
	if err != nil {
		if resp != nil {
			defer resp.Body.Close()
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			err = fmt.Errorf("upgrade: HTTP %d: %s", resp.StatusCode, body)
			if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
				err = fmt.Errorf("%w: %w", ErrGatewayRefused, err)
			}
		}
		return nil, err
	}
	c := &gwConn{
		ws: ws, cfg: cfg, log: cfg.Logger, wait: time.Minute,
		inflight: map[int64]string{}, nextID: 1, done: make(chan struct{}), onTransient: onTransient,
	}
	if err := c.write(wire.HelloFrame{Type: wire.TypeHello, ID: 1, Session: cfg.Session, Device: wire.DeviceBridge, Client: clientName}); err != nil {
		ws.Close()
		return nil, err
	}
	if err := c.awaitWelcome(); err != nil {
		ws.Close()
		return nil, err
	}
	ws.SetPingHandler(func(data string) error {
		_ = ws.SetReadDeadline(time.Now().Add(c.wait))
		err := ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(cfg.WriteTimeout))
		if errors.Is(err, websocket.ErrCloseSent) {
			return nil
		}
		return err
	})
	go c.readLoop()
	return c, nil
}

// awaitWelcome reads until welcome. An error reply to hello is followed by
// a close (4401 for a token_* code), which decides the returned error.
func (c *gwConn) awaitWelcome() error {
	_ = c.ws.SetReadDeadline(time.Now().Add(c.cfg.HandshakeTimeout))
	var refusal *problem.Problem
	for {
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			if refusal != nil {
				err = fmt.Errorf("%w (hello refused: %s)", err, refusal.Error())
			}
			return c.classify(fmt.Errorf("before welcome: %w", err))
		}
		var in inbound
		if err := json.Unmarshal(data, &in); err != nil {
			continue
		}
		switch in.Type {
		case wire.TypeWelcome:
			if in.Heartbeat > 0 {
				// The server pings every heartbeat ms: allow two to be lost.
				c.wait = 2*time.Duration(in.Heartbeat)*time.Millisecond + 10*time.Second
			}
			_ = c.ws.SetReadDeadline(time.Now().Add(c.wait))
			c.log.Info("gateway: welcome", "conn", in.Conn, "session", in.Session, "node", in.Node)
			return nil
		case wire.TypeError:
			refusal = in.Error
		}
	}
}

// closeOf returns the close code and reason of a read error; 0 when the
// connection failed without a close frame.
func closeOf(err error) (int, string) {
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		return ce.Code, ce.Text
	}
	return 0, ""
}

// reconnectDelay is the contract's close-code table (§6) seen from a
// bridge: stop for good, reconnect at once with jitter, or back off.
type reconnectDelay int

const (
	reconnectStop reconnectDelay = iota
	reconnectAtOnce
	reconnectBackoff
)

// ruleFor applies the contract's rule (problem.ReconnectRule). "Only with a
// new token" (4401) is retried only when the bridge mints its tokens and the
// reason is token_expired: the retry carries a new token; a token the bridge
// was given cannot get better by retrying.
func ruleFor(code int, reason string, canRenew bool) reconnectDelay {
	switch problem.ReconnectRule(code) {
	case problem.ReconnectAtOnce:
		return reconnectAtOnce
	case problem.ReconnectNewToken:
		if canRenew && reason == string(problem.TokenExpired) {
			return reconnectBackoff
		}
		return reconnectStop
	case problem.ReconnectNo:
		return reconnectStop
	}
	return reconnectBackoff // 1008, 4408, 4429, 4500, codes the gateway never sends (1006)
}

// classify wraps err with ErrGatewayRefused when its close code says stop.
func (c *gwConn) classify(err error) error {
	code, reason := closeOf(err)
	if code != 0 && ruleFor(code, reason, c.cfg.canRenew()) == reconnectStop {
		return fmt.Errorf("%w: close %d %q: %w", ErrGatewayRefused, code, reason, err)
	}
	return err
}

func (c *gwConn) readLoop() {
	defer close(c.done)
	for {
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			c.mu.Lock()
			if c.err == nil {
				c.err = err
			}
			c.inflight = nil
			c.mu.Unlock()
			return
		}
		_ = c.ws.SetReadDeadline(time.Now().Add(c.wait))
		var in inbound
		if err := json.Unmarshal(data, &in); err != nil {
			c.log.Warn("gateway: unreadable frame", "err", err)
			continue
		}
		switch in.Type {
		case wire.TypeOK, wire.TypeError:
			c.reply(in)
		case wire.TypeBye:
			c.log.Info("gateway: bye", "reason", in.Reason)
		case wire.TypeExpiring:
			c.refresh(in.Expires)
		}
	}
}

// reply matches an ok or error to what was sent, and logs errors with it.
func (c *gwConn) reply(in inbound) {
	id, _ := in.ID.(float64) // the bridge only sends numeric ids
	c.mu.Lock()
	what, ok := c.inflight[int64(id)]
	delete(c.inflight, int64(id))
	c.mu.Unlock()
	if in.Type == wire.TypeOK {
		return
	}
	if !ok {
		what = "a frame without id"
	}
	level := slog.LevelWarn
	if what == "ipt.sync" {
		level = slog.LevelError // the gateway did not take the bridge's truth
	}
	c.log.Log(context.Background(), level, "gateway: error reply", "to", what, "problem", in.Error)
	if in.Error != nil && (in.Error.Status == 429 || in.Error.Status >= 500) &&
		(what == "ipt.sync" || what == "ipt.event") && c.onTransient != nil {
		c.onTransient()
	}
}

// refresh answers expiring with a new token when the bridge can mint one.
func (c *gwConn) refresh(expires int64) {
	if !c.cfg.canRenew() {
		c.log.Warn("gateway: token expiring and cannot be renewed (static --token)", "expires", time.Unix(expires, 0).UTC())
		return
	}
	token, err := c.cfg.token()
	if err != nil {
		c.log.Error("gateway: mint refresh token", "err", err)
		return
	}
	id := c.reserve("refresh")
	if err := c.write(wire.RefreshFrame{Type: wire.TypeRefresh, ID: id, Token: token}); err != nil {
		c.log.Warn("gateway: send refresh", "err", err)
	}
}

// reserve returns the id for the next frame and remembers what it is.
func (c *gwConn) reserve(what string) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nextID++
	if c.inflight != nil && len(c.inflight) < maxInflight {
		c.inflight[c.nextID] = what
	}
	return c.nextID
}

// write sends one frame. A failed write closes the socket, so the reader
// ends and the connection is redialled.
func (c *gwConn) write(frame any) error {
	data, err := json.Marshal(frame)
	if err != nil {
		return fmt.Errorf("gateway: encode frame: %w", err)
	}
	if len(data) > defaultFrameLimit {
		c.log.Warn("gateway: frame over the gateway's default 64 KiB limit; raise its frame limit or split the PBX over several bridge ids",
			"bytes", len(data))
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.ws.SetWriteDeadline(time.Now().Add(c.cfg.WriteTimeout))
	if err := c.ws.WriteMessage(websocket.TextMessage, data); err != nil {
		c.mu.Lock()
		if c.err == nil {
			c.err = fmt.Errorf("gateway: write: %w", err)
		}
		c.mu.Unlock()
		_ = c.ws.Close()
		return err
	}
	return nil
}

// closeErr returns why the connection ended (after done).
func (c *gwConn) closeErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// closeLocal ends the connection on the bridge's own decision without
// waiting: a close frame, and a short read deadline so the reader ends even
// if the gateway never echoes it.
func (c *gwConn) closeLocal(reason string) {
	c.mu.Lock()
	c.local = true
	c.mu.Unlock()
	_ = c.ws.WriteControl(websocket.CloseMessage,
		websocket.FormatCloseMessage(websocket.CloseNormalClosure, reason), time.Now().Add(time.Second))
	_ = c.ws.SetReadDeadline(time.Now().Add(2 * time.Second))
}

// closedLocally reports whether closeLocal ended the connection.
func (c *gwConn) closedLocally() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.local
}

// shutdown says goodbye with 1000 and waits briefly for the gateway's
// echo, so the gateway sees a clean close rather than a dropped socket.
func (c *gwConn) shutdown() {
	_ = c.ws.WriteControl(websocket.CloseMessage,
		websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bridge stopping"), time.Now().Add(time.Second))
	t := time.NewTimer(2 * time.Second)
	defer t.Stop()
	select {
	case <-c.done:
	case <-t.C:
	}
	_ = c.ws.Close()
	<-c.done
}
