package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"

	"github.com/pgw/pgw/gateway/auth"
	"github.com/pgw/pgw/wire"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8090", "listen address")
	secret := flag.String("jwt-secret", "", "HS256 secret of the clients' tokens")
	redisURL := flag.String("redis-url", "", "Redis URL")
	natsURL := flag.String("nats-url", "", "NATS URL")
	prefix := flag.String("prefix", "bare", "Redis key and NATS subject prefix")
	node := flag.String("node-id", "bare", "this node's id")
	flag.Parse()
	if err := run(*addr, *secret, *redisURL, *natsURL, *prefix, *node); err != nil {
		slog.Error("barefanout", "err", err)
		os.Exit(1)
	}
}

func run(addr, secret, redisURL, natsURL, prefix, node string) error {
	s, err := newServer(secret, redisURL, natsURL, prefix, node)
	if err != nil {
		return err
	}
	defer s.close()
	srv := &http.Server{Addr: addr, Handler: s.handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
		<-sig
		_ = srv.Close() // hijacked connections die with the process
	}()
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// newServer connects to Redis and NATS and subscribes to every change.
func newServer(secret, redisURL, natsURL, prefix, node string) (*server, error) {
	v, err := auth.New(auth.Config{Secret: []byte(secret)})
	if err != nil {
		return nil, err
	}
	ropt, err := redis.ParseURL(redisURL)
	if err != nil {
		return nil, fmt.Errorf("--redis-url: %w", err)
	}
	nc, err := nats.Connect(natsURL, nats.Name("barefanout-"+node))
	if err != nil {
		return nil, fmt.Errorf("--nats-url: %w", err)
	}
	s := &server{node: node, prefix: prefix, auth: v, rdb: redis.NewClient(ropt), nc: nc,
		watchers: map[string][]*client{},
		delivered: prometheus.NewCounter(prometheus.CounterOpts{Name: "pgw_presence_delivered_total",
			Help: "Presence frames written to watchers."})}
	if _, err := nc.Subscribe(prefix+".bare.>", s.onChange); err != nil {
		s.close()
		return nil, err
	}
	if err := nc.Flush(); err != nil { // the subscription is in place
		s.close()
		return nil, err
	}
	return s, nil
}

func (s *server) close() {
	s.nc.Close()
	_ = s.rdb.Close()
}

// handler serves /metrics (the Go and process collectors, which the
// harness reads CPU from), /readyz and /v1/ws.
func (s *server) handler() http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), s.delivered)
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("GET /v1/ws", s.serveWS)
	return mux
}

type server struct {
	node, prefix string
	auth         *auth.Verifier
	rdb          *redis.Client
	nc           *nats.Conn
	delivered    prometheus.Counter
	ids, version atomic.Int64

	mu       sync.RWMutex
	watchers map[string][]*client // tenant + "." + user → local watchers
}

// client is one connection; wmu serialises its writes.
type client struct {
	ws           *websocket.Conn
	wmu          sync.Mutex
	tenant, user string
	watches      []string
}

var upgrader = websocket.Upgrader{ReadBufferSize: 256, WriteBufferSize: 1024, WriteBufferPool: &sync.Pool{},
	CheckOrigin: func(*http.Request) bool { return true }}

func (s *server) serveWS(w http.ResponseWriter, r *http.Request) {
	claims, err := s.auth.Verify(strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
	if err != nil {
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	ws, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	c := &client{ws: ws, tenant: claims.Tenant, user: claims.Subject}
	go s.read(c)
}

// frame is what the harness sends: hello, subscribe, status.
type frame struct {
	Type    string          `json:"type"`
	ID      json.RawMessage `json:"id"`
	Session string          `json:"session"`
	Users   []string        `json:"users"`
	Status  wire.Status     `json:"status"`
	Note    string          `json:"note"`
}

func (s *server) read(c *client) {
	defer s.drop(c)
	for {
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			return
		}
		var f frame
		if json.Unmarshal(data, &f) != nil {
			return
		}
		var reply string
		switch f.Type {
		case wire.TypeHello:
			session := f.Session
			if session == "" {
				session = "s" + strconv.FormatInt(s.ids.Add(1), 10)
			}
			reply = fmt.Sprintf(`{"type":"welcome","id":%s,"conn":"%s-%d","session":%q,"node":%q}`, f.ID, s.node, s.ids.Add(1), session, s.node)
		case wire.TypeSubscribe:
			s.watch(c, f.Users)
			reply = `{"type":"ok","id":` + string(f.ID) + `}`
		case wire.TypeStatus:
			if err := s.change(c, f); err != nil {
				reply = `{"type":"error","id":` + string(f.ID) + `,"error":{"status":503,"code":"unavailable"}}`
			} else {
				reply = `{"type":"ok","id":` + string(f.ID) + `}`
			}
		default:
			continue
		}
		c.wmu.Lock()
		err = c.ws.WriteMessage(websocket.TextMessage, []byte(reply))
		c.wmu.Unlock()
		if err != nil {
			return
		}
	}
}

// change stores the status (one Redis round trip) and publishes the
// presence frame, encoded once here.
func (s *server) change(c *client, f frame) error {
	v := time.Now().UnixMicro()
	for {
		last := s.version.Load()
		v = max(v, last+1)
		if s.version.CompareAndSwap(last, v) {
			break
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := s.rdb.HSet(ctx, s.prefix+":bare:"+c.tenant+":"+c.user, "status", string(f.Status), "note", f.Note, "v", v).Err(); err != nil {
		return err
	}
	data, err := json.Marshal(wire.Presence{Type: wire.TypePresence, Tenant: c.tenant, User: c.user, Status: f.Status,
		Note: f.Note, Manual: true, Sessions: 1, Devices: []string{wire.DeviceDesktop}, Version: v})
	if err != nil {
		return err
	}
	return s.nc.Publish(s.prefix+".bare."+c.tenant+"."+c.user, data)
}

// onChange writes a published presence to this node's watchers of its user.
func (s *server) onChange(m *nats.Msg) {
	key := strings.TrimPrefix(m.Subject, s.prefix+".bare.")
	s.mu.RLock()
	list := s.watchers[key]
	s.mu.RUnlock()
	if len(list) == 0 {
		return
	}
	pm, err := websocket.NewPreparedMessage(websocket.TextMessage, m.Data)
	if err != nil {
		return
	}
	for _, c := range list {
		c.wmu.Lock()
		err := c.ws.WritePreparedMessage(pm)
		c.wmu.Unlock()
		if err == nil {
			s.delivered.Inc()
		}
	}
}

func (s *server) watch(c *client, users []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, u := range users {
		k := c.tenant + "." + u
		s.watchers[k] = append(s.watchers[k], c)
		c.watches = append(c.watches, k)
	}
}

func (s *server) drop(c *client) {
	_ = c.ws.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range c.watches {
		// A new slice: onChange may be walking the old one.
		var list []*client
		for _, x := range s.watchers[k] {
			if x != c {
				list = append(list, x)
			}
		}
		if len(list) == 0 {
			delete(s.watchers, k)
		} else {
			s.watchers[k] = list
		}
	}
}
