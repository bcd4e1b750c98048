package origin

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/pgw/pgw/problem"
)

// Policy is an allow-list of browser origins plus the gateway's own origin.
// The zero value allows no browser origin. It is immutable once built.
type Policy struct {
	any  bool
	own  string
	list map[string]bool
}

// NewPolicy builds the policy of the gateway at publicURL (its own origin,
// PGW_PUBLIC_URL) with the allowed origins (PGW_ALLOWED_ORIGINS, or a
// tenant's list): "*" allows any origin, "null" the opaque origin, others
// are origins such as https://app.example.com, file:// or app://desktop.
// Entries are normalised (scheme and host lower case, default port and a
// trailing slash dropped), so they match what browsers send. An entry that
// is not an origin is an error naming it.
func NewPolicy(publicURL string, allowed []string) (Policy, error) {
	p := Policy{list: map[string]bool{}}
	if publicURL != "" {
		own, err := OfURL(publicURL)
		if err != nil {
			return Policy{}, fmt.Errorf("public URL %q: %w", publicURL, err)
		}
		p.own = own
	}
	for _, o := range allowed {
		switch o {
		case "*":
			p.any = true
			continue
		case "null":
			p.list["null"] = true
			continue
		}
		n, err := Normalize(o)
		if err != nil {
			return Policy{}, fmt.Errorf("origin %q: %w", o, err)
		}
		p.list[n] = true
	}
	return p, nil
}

// Normalize returns the origin of a URL as a browser serialises it:
// scheme://host[:port] with scheme and host in lower case and the scheme's
// default port dropped; file:// for file URLs; scheme://name for custom
// schemes (app://desktop).
func Normalize(raw string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return "", fmt.Errorf("not a URL: %v", err)
	}
	if u.Scheme == "" {
		return "", fmt.Errorf("no scheme: write scheme://host[:port], file:// or app://name")
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme == "file" {
		return "file://", nil
	}
	if u.Host == "" {
		return "", fmt.Errorf("no host: write %s://host[:port]", scheme)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" || (u.Path != "" && u.Path != "/") {
		return "", fmt.Errorf("an origin has no user, path, query or fragment")
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if strings.Contains(host, ":") {
		host = "[" + host + "]" // IPv6 literal
	}
	if (scheme == "http" && port == "80") || (scheme == "https" && port == "443") {
		port = ""
	}
	if port != "" {
		host += ":" + port
	}
	return scheme + "://" + host, nil
}

// OfURL returns the origin of a base URL that may have a path
// (PGW_PUBLIC_URL = https://example.com/pgw/ is at https://example.com).
func OfURL(raw string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return "", fmt.Errorf("not a URL: %v", err)
	}
	u.Path, u.RawPath = "", ""
	return Normalize(u.String())
}

// Of returns the request's Origin. present is false only when the request
// has no Origin header at all (a non-browser client). An empty Origin header
// or several of them are present with a value no policy allows: a browser
// sent them, and they must not pass as "no origin".
func Of(h http.Header) (value string, present bool) {
	vs, ok := h["Origin"]
	if !ok {
		return "", false
	}
	if len(vs) != 1 {
		return "", true
	}
	return vs[0], true
}

// Allows reports whether a browser page at origin (the value of an Origin
// header) may use the gateway: any origin under "*", the own origin, a
// listed one. "null" passes only when listed literally (never under "*"),
// "" never.
func (p Policy) Allows(origin string) bool {
	switch origin {
	case "":
		return false
	case "null":
		return p.list["null"]
	}
	if p.any {
		return true
	}
	n, err := Normalize(origin)
	if err != nil {
		return false
	}
	return n == p.own || p.list[n]
}

// Check applies §1 to a request's headers: no Origin passes unless
// needOrigin (a request authenticated by a login cookie, which a foreign
// page can make a browser send: cross-site WebSocket hijacking and CSRF);
// otherwise the origin must be allowed. A refusal is a 403 forbidden
// problem naming the origin.
func (p Policy) Check(h http.Header, needOrigin bool) error {
	o, present := Of(h)
	switch {
	case !present && !needOrigin:
		return nil
	case !present:
		return problem.New(problem.Forbidden, "Origin: a request authenticated by a login cookie must carry an allowed Origin header")
	case p.Allows(o):
		return nil
	}
	return problem.New(problem.Forbidden, "Origin: %q is not allowed (PGW_ALLOWED_ORIGINS, PGW_PUBLIC_URL)", problem.Excerpt(o, 100))
}
