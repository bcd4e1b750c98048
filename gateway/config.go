package gateway

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/pgw/pgw/gateway/login"
	"github.com/pgw/pgw/gateway/origin"
	"github.com/pgw/pgw/ipt"
	"github.com/pgw/pgw/presence"
	"github.com/pgw/pgw/wire"
)

// Config is everything a node is told. DefaultConfig documents each default;
// Validate checks the whole at start and names the setting that is wrong.
// Every field is a flag and a PGW_* environment variable (see Settings).
type Config struct {
	// Addr is the listen address for WebSocket, HTTP API, health and metrics
	// (PGW_ADDR). Default 127.0.0.1:8080.
	Addr string
	// AdminAddr is a second listener for /metrics and /debug/pprof/
	// (PGW_ADMIN_ADDR). Default empty: none; /metrics stays on Addr and
	// pprof is served nowhere. When set, Addr serves neither.
	AdminAddr string
	// RedisURL selects the Redis store (PGW_REDIS_URL): redis://host:port/db,
	// or several comma-separated host:port for Redis Cluster. Default empty:
	// the in-process store (one node only).
	RedisURL string
	// NATSURL is the NATS server, comma-separated for a cluster
	// (PGW_NATS_URL); it may carry user:password@ or token@, and tls://.
	// Default empty: an embedded NATS server, in-process only (no listener).
	NATSURL string
	// NATS credentials and TLS for an external NATS (PGW_NATS_USER,
	// PGW_NATS_PASSWORD, PGW_NATS_NKEY: an nkey seed file, PGW_NATS_CREDS: a
	// credentials file, PGW_NATS_TLS_CA, PGW_NATS_TLS_CERT, PGW_NATS_TLS_KEY:
	// PEM files). Default empty.
	NATSUser, NATSPassword, NATSNKey, NATSCreds string
	NATSTLSCA, NATSTLSCert, NATSTLSKey          string
	// ClusterSecret signs every NATS message the nodes publish; messages
	// not signed with it are dropped (PGW_CLUSTER_SECRET). Every node of a
	// deployment needs the same one. Default empty: derived from
	// JWTSecret; with neither, the embedded NATS uses a random one and an
	// external NATS is refused.
	ClusterSecret string
	// JWTSecret is the HS256 secret (PGW_JWT_SECRET). Default empty: a random
	// secret is made and a ready dev token is logged at start.
	JWTSecret string
	// JWTKeys is a PEM or JWKS file of public keys for RS256/ES256/EdDSA,
	// chosen by kid (PGW_JWT_KEYS). Default empty.
	JWTKeys string
	// JWTAudience and JWTIssuer, when set, must match the token's aud and
	// iss (PGW_JWT_AUDIENCE, PGW_JWT_ISSUER). Default empty: not checked.
	JWTAudience string
	JWTIssuer   string
	// JWTAlgorithms pins the accepted algorithms (PGW_JWT_ALGORITHMS,
	// comma-separated: HS256, RS256, ES256, EdDSA). Default empty: HS256
	// when a secret is set, plus the algorithms of the keys in PGW_JWT_KEYS.
	JWTAlgorithms []string
	// JWTLeeway is the clock skew allowed on exp, nbf and iat
	// (PGW_JWT_LEEWAY). Default 0.
	JWTLeeway time.Duration
	// NodeID names this node in welcome, Redis and NATS (PGW_NODE_ID).
	// Default: host name + random suffix. A node restarted with the same id
	// first cleans up what its earlier run left.
	NodeID string
	// Grace is how long a session outlives its last connection
	// (PGW_GRACE). Default 5s.
	Grace time.Duration
	// NodeTTL: a node missing its heartbeat this long is dead (PGW_NODE_TTL).
	// Default 8s; heartbeats go every NodeTTL/4.
	NodeTTL time.Duration
	// AllowedOrigins is the browser Origin allow-list (PGW_ALLOWED_ORIGINS):
	// comma-separated origins such as file:// or app://desktop, "*" allows
	// any real origin, "null" must be listed literally. Default empty: only
	// the gateway's own origin (PublicURL). A request without an Origin
	// header (non-browser client) is allowed; rules in package origin.
	AllowedOrigins []string
	// PublicURL is the URL browsers use to reach the gateway: its origin is
	// the gateway's own (always allowed), and it is the base of links the
	// node prints (PGW_PUBLIC_URL). Default empty: http:// + Addr. The own
	// origin is never taken from the request's Host header.
	PublicURL string
	// Prefix starts every Redis key and NATS subject (PGW_PREFIX). Default pgw.
	Prefix string
	// LogFormat is text or json (PGW_LOG_FORMAT). Default text.
	LogFormat string
	// LogLevel is debug, info, warn or error (PGW_LOG_LEVEL). Default info.
	LogLevel string
	// Drain is how long a shutdown spreads its 1001 closes (PGW_DRAIN).
	// Default 10s.
	Drain time.Duration
	// BridgeTTL: an HTTP-only bridge counts as connected while it posts at
	// least this often (PGW_BRIDGE_TTL). Default 30s.
	BridgeTTL time.Duration
	// VersionTTL is how long an offline user keeps the version of its
	// offline change (contract §3.2, PGW_VERSION_TTL). Default 168h.
	VersionTTL time.Duration
	// Heartbeat is the server's WebSocket ping period (PGW_HEARTBEAT).
	// Default 25s.
	Heartbeat time.Duration
	// PongWait closes a connection that sent nothing (pong or frame) for
	// this long (PGW_PONG_WAIT). Default 60s.
	PongWait time.Duration
	// HelloWait is how long a new connection has to send hello
	// (PGW_HELLO_WAIT). Default 10s.
	HelloWait time.Duration
	// Reader is how idle connections wait for their next frame
	// (PGW_READER): "epoll" (Linux: no goroutine per idle connection, see
	// reader.go) or "goroutine" (one parked reader goroutine each). Empty
	// means epoll. Default epoll.
	Reader string
	// MaxFrame is the inbound frame limit in bytes (PGW_MAX_FRAME).
	// Default 65536.
	MaxFrame int64
	// RateLimit and RateBurst bound the frames per connection per second
	// (PGW_RATE_LIMIT, PGW_RATE_BURST). Default 50 and 100.
	RateLimit float64
	RateBurst int
	// RateSustain closes a flooding connection 4429: one whose frames keep
	// being dropped by the rate limits for this long with no quiet second
	// (a whole second without a dropped frame) in between
	// (PGW_RATE_SUSTAIN). Default 5s.
	RateSustain time.Duration
	// ResyncEvery is the period of the node's anti-entropy: every watched
	// user is re-read from the store this often and what a lost NATS
	// message or a store call whose reply was lost kept from the node's
	// subscribers is delivered then (PGW_RESYNC_EVERY; 0 turns it off).
	// Default 10s: a subscriber is never stuck longer than that.
	ResyncEvery time.Duration
	// OutboundQueue is how many frames may wait for a slow client before it
	// is closed 1008 slow_consumer (PGW_OUTBOUND_QUEUE). Default 256.
	OutboundQueue int
	// MaxSubscriptions caps the users one connection watches
	// (PGW_MAX_SUBSCRIPTIONS). Default 10000.
	MaxSubscriptions int
	// MaxConnsPerUser caps one user's connections over all nodes
	// (PGW_MAX_CONNS_PER_USER). Default 32.
	MaxConnsPerUser int
	// MaxBatch caps the users of one subscribe or query (PGW_MAX_BATCH).
	// Default 1000.
	MaxBatch int
	// MaxBody caps an HTTP request body in bytes (PGW_MAX_BODY). Default 1 MiB.
	MaxBody int64
	// RequestTimeout is how long one HTTP request's headers and body may
	// take to arrive (PGW_REQUEST_TIMEOUT); headers alone get at most 10s.
	// A slower client is cut off. Upgraded WebSockets are not affected.
	// Default 30s.
	RequestTimeout time.Duration
	// MaxHTTPConnsPerIP caps the open HTTP connections of one client
	// address (PGW_MAX_HTTP_CONNS_PER_IP); a WebSocket leaves the count
	// once upgraded. Behind a proxy every client shares the proxy's
	// address: raise it, and cap per client in the proxy. Default 512.
	MaxHTTPConnsPerIP int
	// ExpiringNotice is how long before exp a connection is sent expiring
	// (PGW_EXPIRING_NOTICE). Default 60s.
	ExpiringNotice time.Duration
	// TenantsFile is a policy file (YAML or JSON, §9) loaded at start into
	// the store for every tenant that has no stored policy (PGW_TENANTS).
	// Default empty.
	TenantsFile string
	// Login sessions kept in Redis by a web app (contract §2.1, package
	// gateway/login; docs/login-sessions.md).
	// LoginKey is the session hash's key with {id} where the session id
	// goes (PGW_LOGIN_KEY), e.g. spring:session:sessions:{id}. Default
	// empty: login sessions are off.
	LoginKey string
	// LoginRedisURL is the app's Redis, in PGW_REDIS_URL's format
	// (PGW_LOGIN_REDIS_URL). Default empty: PGW_REDIS_URL.
	LoginRedisURL string
	// LoginCookie names the cookie holding the session id
	// (PGW_LOGIN_COOKIE). Default SESSION.
	LoginCookie string
	// LoginCookieBase64: the cookie value is base64 of the id, as Spring
	// Session writes it (PGW_LOGIN_COOKIE_BASE64). Default true.
	LoginCookieBase64 bool
	// LoginUserField, LoginTenantField and LoginRolesField name the hash
	// fields read (PGW_LOGIN_USER_FIELD, PGW_LOGIN_TENANT_FIELD,
	// PGW_LOGIN_ROLES_FIELD). Defaults sessionAttr:pgw.user,
	// sessionAttr:pgw.tenant, sessionAttr:pgw.roles.
	LoginUserField, LoginTenantField, LoginRolesField string
	// LoginCheck is how often the sessions of live login connections are
	// checked: a logout in the app closes them within this (PGW_LOGIN_CHECK).
	// Default 5s.
	LoginCheck time.Duration
}

// DefaultConfig returns the contract's defaults (§6, §8). The rules'
// parameters are the packages' own defaults (presence.DefaultOptions,
// ipt.DefaultOptions), so a package used alone behaves as the gateway does.
func DefaultConfig() Config {
	p, t := presence.DefaultOptions(), ipt.DefaultOptions()
	return Config{
		Addr:              "127.0.0.1:8080",
		Prefix:            p.Prefix,
		LogFormat:         "text",
		LogLevel:          "info",
		Grace:             p.Grace,
		NodeTTL:           p.NodeTTL,
		Drain:             10 * time.Second,
		BridgeTTL:         t.BridgeTTL,
		VersionTTL:        p.VersionTTL,
		Heartbeat:         25 * time.Second,
		PongWait:          60 * time.Second,
		HelloWait:         10 * time.Second,
		Reader:            ReaderEpoll,
		MaxFrame:          64 << 10,
		RateLimit:         50,
		RateBurst:         100,
		RateSustain:       5 * time.Second,
		ResyncEvery:       10 * time.Second,
		OutboundQueue:     256,
		MaxSubscriptions:  10000,
		MaxConnsPerUser:   p.MaxConnsPerUser,
		MaxBatch:          1000,
		MaxBody:           1 << 20,
		RequestTimeout:    30 * time.Second,
		MaxHTTPConnsPerIP: 512,
		ExpiringNotice:    60 * time.Second,

		LoginCookie:       login.DefaultCookie,
		LoginCookieBase64: true,
		LoginUserField:    login.DefaultUserField,
		LoginTenantField:  login.DefaultTenantField,
		LoginRolesField:   login.DefaultRolesField,
		LoginCheck:        login.DefaultCheck,
	}
}

// busSecret is the secret NATS messages are signed with: ClusterSecret,
// else JWTSecret (every node of a deployment shares it, and whoever holds
// it can already mint any token).
func (c *Config) busSecret() string {
	if c.ClusterSecret != "" {
		return c.ClusterSecret
	}
	return c.JWTSecret
}

// OwnOrigin is the URL whose origin is the gateway's own: PublicURL, or
// http:// + Addr when it is not set.
func (c *Config) OwnOrigin() string {
	if c.PublicURL != "" {
		return c.PublicURL
	}
	return "http://" + c.Addr
}

// DefaultNodeID is the host name plus a random suffix, as a valid id.
func DefaultNodeID() string {
	h, _ := os.Hostname()
	h = strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			return r
		}
		return '-'
	}, h)
	if h == "" {
		h = "node"
	}
	if len(h) > 100 {
		h = h[:100]
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	return h + "-" + hex.EncodeToString(b[:])
}

// validRedisURL: empty, redis://…, rediss://…, or comma-separated host:port.
func validRedisURL(u string) bool {
	if u == "" || strings.HasPrefix(u, "redis://") || strings.HasPrefix(u, "rediss://") {
		return true
	}
	for _, a := range strings.Split(u, ",") {
		if _, _, err := net.SplitHostPort(strings.TrimSpace(a)); err != nil {
			return false
		}
	}
	return true
}

// validateLogin checks the PGW_LOGIN_* settings when login sessions are on.
func (c *Config) validateLogin() error {
	if c.LoginKey == "" {
		return nil
	}
	if err := login.CheckKey(c.LoginKey); err != nil {
		return err
	}
	if err := login.CheckCookieName(c.LoginCookie); err != nil {
		return err
	}
	if !validRedisURL(c.LoginRedisURL) {
		return fmt.Errorf("PGW_LOGIN_REDIS_URL: %q is neither redis://host:port/db nor comma-separated host:port", c.LoginRedisURL)
	}
	if c.LoginRedisURL == "" && c.RedisURL == "" {
		return fmt.Errorf("PGW_LOGIN_REDIS_URL: login sessions (PGW_LOGIN_KEY) need the app's Redis: set PGW_LOGIN_REDIS_URL or PGW_REDIS_URL")
	}
	for _, f := range []struct{ env, v string }{{"PGW_LOGIN_USER_FIELD", c.LoginUserField},
		{"PGW_LOGIN_TENANT_FIELD", c.LoginTenantField}, {"PGW_LOGIN_ROLES_FIELD", c.LoginRolesField}} {
		if f.v == "" {
			return fmt.Errorf("%s: must not be empty", f.env)
		}
	}
	if c.LoginCheck <= 0 {
		return fmt.Errorf("PGW_LOGIN_CHECK: must be a positive duration, got %v", c.LoginCheck)
	}
	return nil
}

// Validate checks c and returns an error naming the first bad setting by its
// environment variable.
func (c *Config) Validate() error {
	bad := func(name, format string, args ...any) error {
		return fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...))
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return bad("PGW_ADDR", "%q is not host:port: %v", c.Addr, err)
	}
	if c.AdminAddr != "" {
		_, port, err := net.SplitHostPort(c.AdminAddr)
		if err != nil {
			return bad("PGW_ADMIN_ADDR", "%q is not host:port: %v", c.AdminAddr, err)
		}
		if c.AdminAddr == c.Addr && port != "0" {
			return bad("PGW_ADMIN_ADDR", "%q is PGW_ADDR itself: choose another port (or leave it empty)", c.AdminAddr)
		}
	}
	if c.NodeID != "" && !wire.ValidID(c.NodeID) {
		return bad("PGW_NODE_ID", "%q must match "+wire.IDPattern, c.NodeID)
	}
	if !wire.ValidID(c.Prefix) {
		return bad("PGW_PREFIX", "%q must match "+wire.IDPattern, c.Prefix)
	}
	if c.NATSURL != "" && c.busSecret() == "" {
		return bad("PGW_CLUSTER_SECRET", "is required with PGW_NATS_URL when PGW_JWT_SECRET is not set (nodes sign their NATS messages with it)")
	}
	if c.NATSURL == "" && c.NATSUser+c.NATSPassword+c.NATSNKey+c.NATSCreds+c.NATSTLSCA+c.NATSTLSCert+c.NATSTLSKey != "" {
		return bad("PGW_NATS_URL", "NATS credentials and TLS settings need an external NATS (set PGW_NATS_URL)")
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return bad("PGW_LOG_FORMAT", "%q must be text or json", c.LogFormat)
	}
	switch c.Reader {
	case "", ReaderEpoll, ReaderGoroutine:
	default:
		return bad("PGW_READER", "%q must be epoll or goroutine", c.Reader)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return bad("PGW_LOG_LEVEL", "%q must be debug, info, warn or error", c.LogLevel)
	}
	if !validRedisURL(c.RedisURL) {
		return bad("PGW_REDIS_URL", "%q is neither redis://host:port/db nor comma-separated host:port", c.RedisURL)
	}
	if err := c.validateLogin(); err != nil {
		return err
	}
	if c.PublicURL != "" {
		if _, err := origin.OfURL(c.PublicURL); err != nil {
			return bad("PGW_PUBLIC_URL", "%q: %v", c.PublicURL, err)
		}
	}
	for _, o := range c.AllowedOrigins {
		if _, err := origin.NewPolicy("", []string{o}); err != nil {
			return bad("PGW_ALLOWED_ORIGINS", "%q is not an origin (scheme://host[:port], file://, app://name, null or *): %v", o, err)
		}
	}
	positive := []struct {
		name string
		d    time.Duration
	}{{"PGW_GRACE", c.Grace}, {"PGW_NODE_TTL", c.NodeTTL}, {"PGW_BRIDGE_TTL", c.BridgeTTL},
		{"PGW_VERSION_TTL", c.VersionTTL},
		{"PGW_HEARTBEAT", c.Heartbeat}, {"PGW_PONG_WAIT", c.PongWait}, {"PGW_HELLO_WAIT", c.HelloWait},
		{"PGW_EXPIRING_NOTICE", c.ExpiringNotice}, {"PGW_RATE_SUSTAIN", c.RateSustain},
		{"PGW_REQUEST_TIMEOUT", c.RequestTimeout}}
	for _, p := range positive {
		if p.d <= 0 {
			return bad(p.name, "must be a positive duration, got %v", p.d)
		}
	}
	if c.Drain < 0 {
		return bad("PGW_DRAIN", "must not be negative, got %v", c.Drain)
	}
	if c.ResyncEvery < 0 {
		return bad("PGW_RESYNC_EVERY", "must not be negative (0 turns the periodic re-read off), got %v", c.ResyncEvery)
	}
	if c.PongWait <= c.Heartbeat {
		return bad("PGW_PONG_WAIT", "(%v) must be longer than PGW_HEARTBEAT (%v)", c.PongWait, c.Heartbeat)
	}
	ints := []struct {
		name string
		v    int64
	}{{"PGW_MAX_FRAME", c.MaxFrame}, {"PGW_RATE_BURST", int64(c.RateBurst)}, {"PGW_OUTBOUND_QUEUE", int64(c.OutboundQueue)},
		{"PGW_MAX_SUBSCRIPTIONS", int64(c.MaxSubscriptions)}, {"PGW_MAX_CONNS_PER_USER", int64(c.MaxConnsPerUser)},
		{"PGW_MAX_BATCH", int64(c.MaxBatch)}, {"PGW_MAX_BODY", c.MaxBody},
		{"PGW_MAX_HTTP_CONNS_PER_IP", int64(c.MaxHTTPConnsPerIP)}}
	for _, p := range ints {
		if p.v <= 0 {
			return bad(p.name, "must be a positive number, got %d", p.v)
		}
	}
	if c.RateLimit <= 0 {
		return bad("PGW_RATE_LIMIT", "must be positive, got %v", c.RateLimit)
	}
	return nil
}
