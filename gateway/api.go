package gateway

import (
	"net/http"
	"path"
	"strconv"
	"strings"

	"github.com/pgw/pgw/problem"
)

// The HTTP API routes of contract §7, as Go 1.22 method patterns. The
// patterns are also the route label of pgw_http_requests_total and the
// paths of docs/openapi.yaml (a test checks that both list the same
// operations).
const (
	routeGetPresence   = "GET /v1/presence/{user}"
	routeQueryPresence = "POST /v1/presence/query"
	routeSetStatus     = "PUT /v1/presence/{user}/status"
	routeDeleteSession = "DELETE /v1/sessions/{session}"
	routeIPTEvents     = "POST /v1/ipt/events"
	routeIPTSync       = "POST /v1/ipt/sync"
	routeGetTenant     = "GET /v1/tenants/{tenant}"
	routePutTenant     = "PUT /v1/tenants/{tenant}"
	routeTenantHistory = "GET /v1/tenants/{tenant}/history"
)

// routes registers the HTTP API of contract §7. Every handler authenticates
// the bearer token, applies the API rate limit and answers errors as
// problems (api_handler.go); the rules themselves are the node's operations
// shared with the WebSocket frames (ops.go, telephony.go).
func (n *Node) routes(mux *http.ServeMux) {
	a := newAPI(n)
	a.handle(mux, routeGetPresence, a.getPresence)
	a.handle(mux, routeQueryPresence, a.queryPresence)
	a.handle(mux, routeSetStatus, a.setStatus)
	a.handle(mux, routeDeleteSession, a.deleteSession)
	a.handle(mux, routeIPTEvents, a.iptEvents)
	a.handle(mux, routeIPTSync, a.iptSync)
	a.handle(mux, routeGetTenant, a.getTenant)
	a.handle(mux, routePutTenant, a.putTenant)
	a.handle(mux, routeTenantHistory, a.getTenantHistory)
}

// unmatchedRoute is the route label of requests no pattern matched, so the
// label never carries a client-chosen path.
const unmatchedRoute = "unmatched"

// withProblems answers unknown paths with a 404 problem and wrong methods
// with a 405 problem carrying Allow (the mux's own answers are plain text).
// It also counts every request but the WebSocket upgrade in
// pgw_http_requests_total by route pattern and status.
func (n *Node) withProblems(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !canonicalPath(r.URL.Path) {
			// The mux would redirect (307) to the cleaned path; a path a
			// client did not mean is unknown, answered as a problem.
			n.metrics.httpRequests.WithLabelValues(unmatchedRoute, "404").Inc()
			n.writeProblem(w, r, problem.New(problem.NotFound, "no route %s %s: paths are canonical (no //, . or .. segments)", r.Method, problem.Excerpt(r.URL.Path, 100)))
			return
		}
		h, pattern := mux.Handler(r)
		if pattern == "GET /v1/ws" {
			// Upgrades are counted by pgw_connects_total; the hijacked
			// connection must see the server's own ResponseWriter.
			mux.ServeHTTP(w, r)
			return
		}
		rec := &statusRecorder{ResponseWriter: w}
		defer func() {
			route := pattern
			if route == "" {
				route = unmatchedRoute
			}
			n.metrics.httpRequests.WithLabelValues(route, strconv.Itoa(rec.code())).Inc()
		}()
		if pattern != "" {
			mux.ServeHTTP(rec, r)
			return
		}
		fallback := &capture{header: http.Header{}}
		h.ServeHTTP(fallback, r)
		if fallback.status == http.StatusMethodNotAllowed {
			allow := fallback.header.Get("Allow")
			rec.Header().Set("Allow", allow)
			n.writeProblem(rec, r, problem.New(problem.MethodNotAllowed, "%s is not allowed on %s; allowed: %s", r.Method, r.URL.Path, strings.ReplaceAll(allow, ",", ", ")))
			return
		}
		n.writeProblem(rec, r, problem.New(problem.NotFound, "no route %s %s", r.Method, r.URL.Path))
	})
}

// canonicalPath reports whether the mux would serve p as it is (no
// redirect to a cleaned path).
func canonicalPath(p string) bool {
	if p == "" || p[0] != '/' {
		return false
	}
	c := path.Clean(p)
	if p[len(p)-1] == '/' && c != "/" {
		c += "/"
	}
	return c == p
}

// capture records what the mux's fallback handler would answer.
type capture struct {
	header http.Header
	status int
}

func (c *capture) Header() http.Header { return c.header }
func (c *capture) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	return len(b), nil
}
func (c *capture) WriteHeader(s int) { c.status = s }

// statusRecorder remembers the status a handler answered, for the metrics.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// code is the answered status (200 when the handler wrote nothing).
func (s *statusRecorder) code() int {
	if s.status == 0 {
		return http.StatusOK
	}
	return s.status
}

// Unwrap lets http.ResponseController reach the server's writer (Flush,
// deadlines) through the recorder.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// Flush passes flushes through (promhttp flushes compressed output).
func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
