package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// VersionHeader carries a presence message's version, so receivers can drop
// versions they have passed without decoding the JSON.
const VersionHeader = "Pgw-Version"

// Errors of the bus.
var (
	// ErrClosed: the bus was closed.
	ErrClosed = errors.New("bus closed")
	// ErrNotConnected: NATS is not reachable right now (publishes are
	// buffered by the client and sent after the reconnect).
	ErrNotConnected = errors.New("nats not connected")
)

// Config configures a Bus. Zero values take the defaults noted.
type Config struct {
	// URL of the NATS server(s), comma-separated for a cluster; it may carry
	// user:password@ or a token@, and tls:// for TLS. Empty starts an
	// embedded server in the process, with no network listener (the
	// default mode: only this node can reach it).
	URL string
	// User and Password authenticate to an external NATS (when not in URL).
	User, Password string
	// Token authenticates to an external NATS with a token.
	Token string
	// NKeyFile is a file holding an nkey seed (SU…) to authenticate with.
	NKeyFile string
	// CredsFile is a NATS credentials file (user JWT and nkey seed).
	CredsFile string
	// TLSCA, TLSCert and TLSKey are PEM files: the CA that signed the
	// server's certificate, and a client certificate and key for mutual TLS.
	TLSCA, TLSCert, TLSKey string
	// Secret is the deployment's cluster secret: every message is signed
	// with a key derived from it and messages not so signed are dropped.
	// Required with URL; empty with the embedded server means a random one.
	Secret []byte
	// Prefix of every subject (PGW_PREFIX). Required: the deployment's
	// default lives with the gateway's settings, not here.
	Prefix string
	// Node is this node's id; its control subject is <prefix>.node.<Node>.
	Node string
	// TenantWildcardAt is how many users of one tenant this node may watch
	// with one subscription each before it switches to one wildcard
	// subscription for the whole tenant. Default 64.
	TenantWildcardAt int
	// QueueLen bounds the messages waiting for the dispatcher. Default 65536.
	QueueLen int
	// Logger for connection events. Default slog.Default().
	Logger *slog.Logger
}

// Handlers receive what the bus delivers. They are called from one
// goroutine, in arrival order, and must not block for long.
type Handlers struct {
	// Presence gets a presence message: tenant, user, version and the
	// PRESENCE JSON exactly as published.
	Presence func(tenant, user string, version int64, data []byte)
	// Call gets a call event JSON of a user.
	Call func(tenant, user string, data []byte)
	// Control gets a control message sent to this node.
	Control func(data []byte)
	// Tenant gets a tenant's policy record (§9); with a Tenant handler the
	// bus subscribes to every tenant's subject from Open on.
	Tenant func(tenant string, data []byte)
	// Resync is called after NATS reconnected: messages may have been lost
	// meanwhile, so the owner re-reads the state of what it watches.
	Resync func()
}

// Bus is one node's connection to NATS.
type Bus struct {
	cfg  Config
	subj Subjects
	h    Handlers
	log  *slog.Logger
	srv  *server.Server // embedded server, nil with an external URL
	sig  signer
	// rejected counts messages dropped for a missing or bad signature
	// (dispatcher goroutine writes, Rejected reads).
	rejected atomic.Int64
	nc       *nats.Conn
	msgs     chan *nats.Msg
	done     chan struct{}
	wg       sync.WaitGroup

	mu       sync.Mutex
	closed   bool
	presence map[string]*interest // tenant -> interest
	calls    map[string]*sub      // tenant -> call wildcard
	control  *nats.Subscription
	tenants  *nats.Subscription
}

// interest is the node's presence interest in one tenant.
// interest is what a tenant's presence watch holds on this node: the
// watched users, each with its own subscription, or nil ones all covered by
// the tenant wildcard.
type interest struct {
	users    map[string]*sub
	wildcard *nats.Subscription
}

type sub struct {
	s *nats.Subscription
	n int
}

// Open connects to NATS (starting the embedded server when cfg.URL is empty)
// and subscribes to the node's control subject.
func Open(ctx context.Context, cfg Config, h Handlers) (*Bus, error) {
	if cfg.Prefix == "" {
		return nil, errors.New("bus: Config.Prefix is empty")
	}
	if cfg.TenantWildcardAt <= 0 {
		cfg.TenantWildcardAt = 64
	}
	if cfg.QueueLen <= 0 {
		cfg.QueueLen = 1 << 16
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	b := &Bus{cfg: cfg, subj: Subjects{cfg.Prefix}, h: h, log: cfg.Logger,
		msgs: make(chan *nats.Msg, cfg.QueueLen), done: make(chan struct{}),
		presence: map[string]*interest{}, calls: map[string]*sub{}}
	secret := cfg.Secret
	if len(secret) == 0 {
		if cfg.URL != "" {
			return nil, errors.New("a cluster secret is required with an external NATS (nodes sign their messages)")
		}
		secret = randomSecret()
	}
	b.sig = newSigner(secret)
	opts, err := cfg.authOptions()
	if err != nil {
		return nil, err
	}
	url := cfg.URL
	if url == "" {
		srv, err := startEmbedded()
		if err != nil {
			return nil, err
		}
		b.srv = srv
		opts = append(opts, nats.InProcessServer(srv))
		b.log.Info("embedded NATS server started (in-process, no listener)")
	}
	nc, err := nats.Connect(url, append(opts,
		nats.Name("pgw-"+cfg.Node),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250*time.Millisecond),
		nats.ReconnectJitter(100*time.Millisecond, time.Second),
		nats.RetryOnFailedConnect(true),
		nats.PingInterval(5*time.Second),
		nats.MaxPingsOutstanding(2),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			b.log.Warn("nats disconnected", "err", err)
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			b.log.Info("nats reconnected", "url", nc.ConnectedUrlRedacted())
			b.enqueueResync()
		}),
		nats.ClosedHandler(func(*nats.Conn) { b.log.Debug("nats connection closed") }),
		nats.ErrorHandler(func(_ *nats.Conn, s *nats.Subscription, err error) {
			subject := ""
			if s != nil {
				subject = s.Subject
			}
			b.log.Error("nats async error", "subject", subject, "err", err)
			if errors.Is(err, nats.ErrSlowConsumer) {
				// Messages were dropped: re-read the truth.
				b.enqueueResync()
			}
		}),
	)...)
	if err != nil {
		b.shutdownEmbedded()
		return nil, fmt.Errorf("nats connect %s: %w", redact(url), err)
	}
	b.nc = nc
	ctl, err := nc.ChanSubscribe(b.subj.Node(cfg.Node), b.msgs)
	if err != nil {
		nc.Close()
		b.shutdownEmbedded()
		return nil, fmt.Errorf("nats subscribe control: %w", err)
	}
	b.control = ctl
	if h.Tenant != nil {
		ts, err := nc.ChanSubscribe(b.subj.Tenants(), b.msgs)
		if err != nil {
			nc.Close()
			b.shutdownEmbedded()
			return nil, fmt.Errorf("nats subscribe tenants: %w", err)
		}
		b.tenants = ts
	}
	b.wg.Add(1)
	go b.dispatch()
	if err := b.Flush(ctx); err != nil && !errors.Is(err, ErrNotConnected) {
		b.log.Warn("nats flush at start", "err", err)
	}
	return b, nil
}

// resyncSubject marks a message put on the message queue so a resync runs in
// order with the messages (after everything received before the reconnect).
const resyncSubject = "_pgw.resync"

func (b *Bus) enqueueResync() {
	select {
	case b.msgs <- &nats.Msg{Subject: resyncSubject}:
	case <-b.done:
	}
}

func startEmbedded() (*server.Server, error) {
	// DontListen: clients connect in-process only (nats.InProcessServer);
	// no other process on the machine can reach this server.
	srv, err := server.NewServer(&server.Options{DontListen: true, NoLog: true, NoSigs: true})
	if err != nil {
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		return nil, errors.New("embedded nats: not ready in 10s")
	}
	return srv, nil
}

func (b *Bus) shutdownEmbedded() {
	if b.srv != nil {
		b.srv.Shutdown()
		b.srv.WaitForShutdown()
	}
}

// dispatch hands queued messages to the handlers, one at a time and in order.
func (b *Bus) dispatch() {
	defer b.wg.Done()
	for {
		select {
		case <-b.done:
			return
		case m := <-b.msgs:
			b.deliver(m)
		}
	}
}

func (b *Bus) deliver(m *nats.Msg) {
	if m.Subject == resyncSubject {
		if b.h.Resync != nil {
			b.h.Resync()
		}
		return
	}
	kind, tenant, user := b.subj.parse(m.Subject)
	if kind != "" && !b.sig.verify(m) {
		if b.rejected.Add(1) == 1 || b.rejected.Load()%1000 == 0 {
			b.log.Warn("unsigned or forged NATS message dropped (is another deployment sharing PGW_PREFIX, or PGW_CLUSTER_SECRET different on some node?)",
				"subject", m.Subject, "rejected", b.rejected.Load())
		}
		return
	}
	switch kind {
	case "presence":
		if b.h.Presence == nil {
			return
		}
		v, err := strconv.ParseInt(m.Header.Get(VersionHeader), 10, 64)
		if err != nil {
			b.log.Warn("presence message without version dropped", "subject", m.Subject)
			return
		}
		b.h.Presence(tenant, user, v, m.Data)
	case "call":
		if b.h.Call != nil {
			b.h.Call(tenant, user, m.Data)
		}
	case "node":
		if b.h.Control != nil {
			b.h.Control(m.Data)
		}
	case "tenant":
		if b.h.Tenant != nil {
			b.h.Tenant(tenant, m.Data)
		}
	}
}

// PublishPresence publishes a user's PRESENCE JSON with its version.
func (b *Bus) PublishPresence(tenant, user string, version int64, data []byte) error {
	m := &nats.Msg{Subject: b.subj.Presence(tenant, user), Data: data, Header: nats.Header{}}
	m.Header.Set(VersionHeader, strconv.FormatInt(version, 10))
	return b.publish(m)
}

// PublishCall publishes a call event JSON on the user's call subject.
func (b *Bus) PublishCall(tenant, user string, data []byte) error {
	return b.publish(&nats.Msg{Subject: b.subj.Call(tenant, user), Data: data})
}

// PublishControl sends a control message to one node.
func (b *Bus) PublishControl(node string, data []byte) error {
	return b.publish(&nats.Msg{Subject: b.subj.Node(node), Data: data})
}

// PublishTenant publishes a tenant's policy record to every node.
func (b *Bus) PublishTenant(tenant string, data []byte) error {
	return b.publish(&nats.Msg{Subject: b.subj.Tenant(tenant), Data: data})
}

func (b *Bus) publish(m *nats.Msg) error {
	b.sig.sign(m)
	if err := b.nc.PublishMsg(m); err != nil {
		if errors.Is(err, nats.ErrConnectionClosed) {
			return ErrClosed
		}
		return fmt.Errorf("nats publish %s: %w", m.Subject, err)
	}
	return nil
}

// Flush waits until NATS has processed everything sent so far (so a new
// subscription is active before the caller reads the state it covers).
func (b *Bus) Flush(ctx context.Context) error {
	if !b.nc.IsConnected() {
		return ErrNotConnected
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
	}
	return b.nc.FlushWithContext(ctx)
}

// Rejected is how many messages were dropped for a missing or bad
// signature.
func (b *Bus) Rejected() int64 { return b.rejected.Load() }

// Connected reports whether NATS is connected now (readiness).
func (b *Bus) Connected() bool { return b.nc.IsConnected() }

// ClientURL is the URL of the server the bus uses, credentials redacted
// ("" for the embedded server, which has no URL: it is in-process only).
func (b *Bus) ClientURL() string {
	if b.srv != nil {
		return ""
	}
	return b.nc.ConnectedUrlRedacted()
}

// Close drains the NATS connection (pending publishes are sent), stops the
// dispatcher and the embedded server.
func (b *Bus) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	b.mu.Unlock()
	var err error
	if b.nc.IsConnected() {
		// Drain flushes publishes and unsubscribes; wait for it to finish.
		closed := make(chan struct{})
		b.nc.SetClosedHandler(func(*nats.Conn) { close(closed) })
		if err = b.nc.Drain(); err == nil {
			select {
			case <-closed:
			case <-time.After(5 * time.Second):
				b.nc.Close()
			}
		} else {
			b.nc.Close()
		}
	} else {
		b.nc.Close()
	}
	close(b.done)
	b.wg.Wait()
	b.shutdownEmbedded()
	return err
}
