// Package origin is the one place that decides whether a browser page may
// use the gateway (contract §1): the WebSocket upgrade, cookie-authenticated
// requests (§2.1) and per-tenant origin lists (§9) all call Policy.Check.
//
// The rules: a request without an Origin header is a non-browser client and
// passes unless the caller requires an origin (a login cookie authenticates
// it); the gateway's own origin comes from configuration (PGW_PUBLIC_URL),
// never from the request's Host header (DNS rebinding controls Host);
// "null" (sandboxed iframes, opaque origins) passes only when listed
// literally; an empty or repeated Origin header is a browser origin that
// matches nothing.
package origin
