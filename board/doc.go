// Package board owns the live presence board: a static, build-free web page
// (HTML, CSS and JavaScript embedded with go:embed) that shows one tenant's
// users as tiles and follows their presence over the gateway's own WebSocket
// at /v1/ws, and the http.Handler that serves it under /board/ with strict
// security headers (a Content-Security-Policy without inline scripts).
//
// The package only serves files. It must not touch the presence store, the
// bus or the WebSocket server: the page talks to the gateway exactly like any
// other client of the contract, with a token the viewer supplies.
package board
