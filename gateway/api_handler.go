package gateway

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"time"

	"github.com/pgw/pgw/gateway/auth"
	"github.com/pgw/pgw/problem"
)

// api is the HTTP API of one node. It holds what only the API needs (the
// request rate limiter); every rule it applies is one of the node's.
type api struct {
	n       *Node
	limiter *keyedLimiter
}

func newAPI(n *Node) *api {
	return &api{n: n, limiter: newKeyedLimiter(n.cfg.RateLimit, n.cfg.RateBurst)}
}

// apiFunc serves one route for an authenticated caller. It writes the
// success response itself; a returned error becomes the problem response.
type apiFunc func(ctx context.Context, w http.ResponseWriter, r *http.Request, cl auth.Claims) error

// handle registers fn at pattern behind authentication, the rate limit and
// the problem writer.
func (a *api) handle(mux *http.ServeMux, pattern string, fn apiFunc) {
	mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		cl, authErr := a.authenticate(r)
		// The limiter is keyed by the principal when the token verified
		// and by the client address otherwise, so one user's scripts do
		// not starve colleagues behind the same NAT, and a client probing
		// tokens is throttled too.
		key := "ip:" + clientIP(r)
		if authErr == nil {
			key = "sub:" + cl.Tenant + "/" + cl.Subject
		}
		if wait, ok := a.limiter.allow(key, time.Now()); !ok {
			p := problem.New(problem.RateLimited, "more than %g requests/s (burst %d) for this client; retry after %d s", a.n.cfg.RateLimit, a.n.cfg.RateBurst, wait)
			p.RetryAfter = wait
			a.n.writeProblem(w, r, p)
			return
		}
		if authErr != nil {
			a.n.writeProblem(w, r, authErr)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			// A write also draws from the user's budget shared with its
			// WebSocket frames on this node (§6).
			if wait, ok := a.n.allowWrite(cl.Tenant, cl.Subject, time.Now()); !ok {
				p := problem.New(problem.RateLimited, "more than %g writes/s (burst %d) for user %s over its connections and requests on this node; retry after %d s", a.n.cfg.RateLimit, a.n.cfg.RateBurst, cl.Subject, wait)
				p.RetryAfter = wait
				a.n.writeProblem(w, r, p)
				return
			}
		}
		if err := a.n.admitTenant(cl.Tenant); err != nil {
			a.n.writeProblem(w, r, err)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), opTimeout)
		defer cancel()
		if err := fn(ctx, w, r, cl); err != nil {
			a.n.writeProblem(w, r, err)
		}
	})
}

// authenticate verifies the request's bearer token (contract §2, §7), or
// without one the login cookie (§2.1). A missing token is token_missing
// (401 without error="invalid_token"); a refused one carries its own
// token_* or login_* code.
func (a *api) authenticate(r *http.Request) (auth.Claims, error) {
	tok, present, err := auth.BearerToken(r)
	if err == nil && !present {
		if cl, ok, err := a.apiCookie(r); ok {
			return cl, err
		}
		err = problem.New(problem.TokenMissing, "no token: send Authorization: Bearer <jwt>")
	}
	if err != nil {
		a.n.metrics.authFailures.WithLabelValues(string(codeOf(err))).Inc()
		return auth.Claims{}, err
	}
	cl, err := a.n.auth.Verify(tok)
	if err != nil {
		a.n.metrics.authFailures.WithLabelValues(string(codeOf(err))).Inc()
		return auth.Claims{}, err
	}
	return cl, nil
}

// clientIP is the peer address of the request. Forwarding headers are not
// trusted: behind a proxy every client shares the proxy's budget until it
// authenticates (then the budget is per principal).
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// writeJSON answers status with v as JSON (notes and peers verbatim: no
// HTML escaping, the body is never HTML).
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}
