package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/pgw/pgw/board"
	"github.com/pgw/pgw/gateway/auth"
	"github.com/pgw/pgw/problem"
)

// Handler returns the node's HTTP handler: /v1/ws, the HTTP API, health and
// metrics (unless PGW_ADMIN_ADDR moves them to AdminHandler).
func (n *Node) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/ws", n.serveWS)
	mux.HandleFunc("POST /v1/ws", n.probeWS)
	mux.HandleFunc("GET /livez", n.livez)
	mux.HandleFunc("GET /healthz", n.livez)
	mux.HandleFunc("GET /readyz", n.readyz)
	if n.cfg.AdminAddr == "" {
		mux.Handle("GET /metrics", n.metricsHandler()) // else only on the admin listener (admin.go)
	}
	mux.Handle("GET /board/", board.Handler())
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/board/", http.StatusFound)
	})
	n.routes(mux)
	return n.withProblems(mux)
}

func (n *Node) livez(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"status":"ok"}` + "\n"))
}

func (n *Node) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := n.Ready(ctx); err != nil {
		p := problem.New(problem.Unavailable, "not ready: %v", err)
		p.RetryAfter = 1
		n.writeProblem(w, r, p)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"status":"ready","node":` + strconv.Quote(n.cfg.NodeID) + `}` + "\n"))
}

// writeProblem answers with an RFC 9457 problem (application/problem+json).
func (n *Node) writeProblem(w http.ResponseWriter, r *http.Request, err error) {
	p := problemOf(err)
	if p.Code == problem.Internal {
		n.log.Error("request failed", "path", r.URL.Path, "err", err)
	}
	cp := *p
	if cp.Instance == "" {
		cp.Instance = r.URL.Path
	}
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	if cp.Status == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", auth.Challenge(p))
	}
	if cp.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(cp.RetryAfter))
	}
	status := cp.Status
	if status == 0 {
		status = http.StatusInternalServerError
	}
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false) // details name things like <jwt>; keep them readable
	_ = enc.Encode(&cp)
}
