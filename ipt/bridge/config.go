package bridge

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/pgw/pgw/ipt/ami"
	"github.com/pgw/pgw/wire"
)

// Errors of the bridge, wrapped with %w and the detail that caused them.
var (
	// ErrConfig: a Config field is missing or invalid; the message names it.
	ErrConfig = errors.New("bridge: invalid config")
	// ErrGatewayRefused: the gateway refused the bridge in a way the contract
	// says not to retry (HTTP 401/403 at the upgrade, or close 1000, 1003,
	// 1009, 4400, 4401, 4403). Run stops and returns it.
	ErrGatewayRefused = errors.New("bridge: gateway refused the bridge")
	// ErrUsersFile: the users file cannot be read or has a bad line.
	ErrUsersFile = errors.New("bridge: bad users file")
)

// Config is everything Run needs. Zero durations take the defaults below.
type Config struct {
	// GatewayURL is the gateway's WebSocket endpoint, e.g. ws://127.0.0.1:8080/v1/ws.
	GatewayURL string
	// BridgeID is this bridge's id: the "bridge" field of every frame and, for
	// minted tokens, the JWT sub. Must match wire.IDPattern.
	BridgeID string
	// Token is a ready bearer token with role bridge. Alternatively set
	// JWTSecret and Tenant and the bridge mints a fresh HS256 token for every
	// connection and answers expiring with refresh.
	Token     string
	JWTSecret []byte
	Tenant    string
	// TokenTTL is the lifetime of minted tokens (default 1h).
	TokenTTL time.Duration
	// Session is the session id sent in hello (default "bridge-<BridgeID>"),
	// stable so a reconnect within the gateway's grace continues the session.
	Session string

	// AMI is the Asterisk manager connection; unused when Simulate > 0.
	AMI ami.Config
	// Users maps extensions to user ids; nil maps every extension to the
	// user id equal to it.
	Users Users

	// Simulate > 0 replaces AMI with a simulator driving that many extensions.
	Simulate int
	// Rate is the simulator's events per second (default 5).
	Rate float64
	// Seed makes the simulator repeatable; 0 seeds from the clock.
	Seed uint64

	// BackoffMin and BackoffMax bound the reconnect delays of both sides
	// (defaults 250ms and 30s); each delay is drawn uniformly from
	// [0, min(BackoffMax, BackoffMin·2^attempt)] (full jitter).
	BackoffMin, BackoffMax time.Duration
	// StaleAfter is how long the PBX may be unreachable before the bridge
	// leaves the gateway (default 15s): the bridge then knows nothing true,
	// and a bridge that is gone makes the gateway show its devices as
	// unknown after its grace, instead of stuck registered. It connects
	// again once the PBX is back and synchronised.
	StaleAfter time.Duration
	// MaxFrameRate paces the frames sent to the gateway (default 50/s with
	// a burst of MaxFrameBurst, default 100: the gateway's default limit, so
	// a burst of PBX events is delayed rather than refused with 429).
	// Negative disables pacing (for a gateway configured higher).
	MaxFrameRate  float64
	MaxFrameBurst int
	// ResyncDelay is how long after a transient error reply (429, 5xx) the
	// bridge sends a fresh ipt.sync to restore what the gateway missed
	// (default 2s, plus up to as much jitter).
	ResyncDelay time.Duration
	// HandshakeTimeout bounds the WebSocket upgrade and the wait for
	// welcome (default 10s, the gateway's own hello wait).
	HandshakeTimeout time.Duration
	// WriteTimeout bounds each frame written to the gateway (default 10s).
	WriteTimeout time.Duration

	// Logger receives the bridge's logs (default slog.Default()).
	Logger *slog.Logger
}

func (c Config) withDefaults() (Config, error) {
	if c.TokenTTL <= 0 {
		c.TokenTTL = time.Hour
	}
	if c.Session == "" {
		c.Session = "bridge-" + c.BridgeID
	}
	if c.Rate <= 0 {
		c.Rate = 5
	}
	if c.BackoffMin <= 0 {
		c.BackoffMin = 250 * time.Millisecond
	}
	if c.BackoffMax <= 0 {
		c.BackoffMax = 30 * time.Second
	}
	if c.MaxFrameRate == 0 {
		c.MaxFrameRate = 50
	}
	if c.MaxFrameBurst <= 0 {
		c.MaxFrameBurst = 100
	}
	if c.ResyncDelay <= 0 {
		c.ResyncDelay = 2 * time.Second
	}
	if c.StaleAfter <= 0 {
		c.StaleAfter = 15 * time.Second
	}
	if c.HandshakeTimeout <= 0 {
		c.HandshakeTimeout = 10 * time.Second
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 10 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.AMI.Logger == nil {
		c.AMI.Logger = c.Logger
	}
	u, err := url.Parse(c.GatewayURL)
	switch {
	case c.GatewayURL == "":
		return c, fmt.Errorf("%w: gateway: missing (e.g. ws://127.0.0.1:8080/v1/ws)", ErrConfig)
	case err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "":
		return c, fmt.Errorf("%w: gateway: %q is not a ws:// or wss:// URL", ErrConfig, c.GatewayURL)
	case !wire.ValidID(c.BridgeID):
		return c, fmt.Errorf("%w: bridge-id: %q must match "+wire.IDPattern, ErrConfig, c.BridgeID)
	case !wire.ValidID(c.Session):
		return c, fmt.Errorf("%w: session: %q must match "+wire.IDPattern, ErrConfig, c.Session)
	case c.Token == "" && len(c.JWTSecret) == 0:
		return c, fmt.Errorf("%w: token: set a token, or a jwt-secret and tenant to mint one", ErrConfig)
	case c.Token == "" && !wire.ValidID(c.Tenant):
		return c, fmt.Errorf("%w: tenant: %q must match "+wire.IDPattern+" to mint a token", ErrConfig, c.Tenant)
	case c.Simulate < 0:
		return c, fmt.Errorf("%w: simulate: %d must not be negative", ErrConfig, c.Simulate)
	case c.Simulate == 0 && c.AMI.Addr == "":
		return c, fmt.Errorf("%w: ami-addr: missing (or use --simulate N)", ErrConfig)
	}
	return c, nil
}
