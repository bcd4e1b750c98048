package gateway

import (
	"net/http"
	"strings"

	"github.com/pgw/pgw/problem"
)

// routes registers the HTTP API of contract §7.
func (n *Node) routes(mux *http.ServeMux) {}

// withProblems answers unknown paths with a 404 problem and wrong methods
// with a 405 problem carrying Allow (the mux's own answers are plain text).
func (n *Node) withProblems(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, pattern := mux.Handler(r)
		if pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		rec := &capture{header: http.Header{}}
		h.ServeHTTP(rec, r)
		if rec.status == http.StatusMethodNotAllowed {
			allow := rec.header.Get("Allow")
			w.Header().Set("Allow", allow)
			n.writeProblem(w, r, problem.New(problem.MethodNotAllowed, "%s is not allowed on %s; allowed: %s", r.Method, r.URL.Path, strings.ReplaceAll(allow, ",", ", ")))
			return
		}
		n.writeProblem(w, r, problem.New(problem.NotFound, "no route %s %s", r.Method, r.URL.Path))
	})
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
