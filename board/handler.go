package board

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/pgw/pgw/problem"
)

// Prefix is the URL path the board lives under. Handler expects the full
// request path (mount it with mux.Handle(Prefix, Handler()), no StripPrefix).
const Prefix = "/board/"

// ContentSecurityPolicy is sent with every response of the board. The page
// loads nothing but its own files (no inline script or style, no CDN, no
// external font) and connects only to the gateway's WebSocket; ws: and wss:
// are named because CSP levels before 3 do not let 'self' cover them.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; " +
	"img-src 'self' data:; font-src 'self'; connect-src 'self' ws: wss:; " +
	"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// cacheControl makes browsers revalidate every file (cheap: the ETag turns
// it into a 304). The files have no content hash in their names, so any
// longer max-age would keep an old app.js after an upgrade.
const cacheControl = "no-cache"

//go:embed static
var staticFS embed.FS

// asset is one embedded file, read once when the handler is built.
type asset struct {
	body        []byte
	contentType string
	etag        string
}

// contentTypes maps the extensions the board ships to their media types;
// set explicitly so the result does not depend on the host's mime tables.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".svg":  "image/svg+xml",
	".png":  "image/png",
	".ico":  "image/x-icon",
}

// handler serves the embedded files from memory.
type handler struct {
	assets   map[string]asset // keyed by the name under static/, "index.html" for the index
	modified time.Time        // the handler's start, for Last-Modified
}

// Handler returns the http.Handler of the board: the page at /board/ (and a
// redirect from /board), its assets under /board/. Only GET and HEAD are
// allowed; unknown files get a 404 problem.
func Handler() http.Handler {
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		panic("board: embedded static directory missing: " + err.Error()) // a build error, not a runtime one
	}
	h := &handler{assets: map[string]asset{}, modified: time.Now().UTC().Truncate(time.Second)}
	err = fs.WalkDir(sub, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := fs.ReadFile(sub, name)
		if err != nil {
			return err
		}
		ct, ok := contentTypes[path.Ext(name)]
		if !ok {
			ct = "application/octet-stream"
		}
		sum := sha256.Sum256(body)
		h.assets[name] = asset{body: body, contentType: ct, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
		return nil
	})
	if err != nil {
		panic("board: reading embedded files: " + err.Error())
	}
	return h
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Content-Security-Policy", ContentSecurityPolicy)
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "no-referrer")
	hdr.Set("X-Frame-Options", "DENY")

	if r.URL.Path == strings.TrimSuffix(Prefix, "/") {
		http.Redirect(w, r, Prefix, http.StatusMovedPermanently)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hdr.Set("Allow", "GET, HEAD")
		writeProblem(w, problem.New(problem.MethodNotAllowed, "method %s is not allowed on %s; use GET or HEAD", r.Method, r.URL.Path))
		return
	}
	name, ok := strings.CutPrefix(r.URL.Path, Prefix)
	if !ok {
		writeProblem(w, problem.New(problem.NotFound, "path %q is not under %s", r.URL.Path, Prefix))
		return
	}
	if name == "" {
		name = "index.html"
	}
	a, ok := h.assets[name]
	if !ok {
		writeProblem(w, problem.New(problem.NotFound, "the board has no file %q", name))
		return
	}
	hdr.Set("Content-Type", a.contentType)
	hdr.Set("Cache-Control", cacheControl)
	hdr.Set("ETag", a.etag)
	// ServeContent answers If-None-Match (304), ranges and HEAD.
	http.ServeContent(w, r, name, h.modified, bytes.NewReader(a.body))
}

// writeProblem sends p as application/problem+json (contract §7).
func writeProblem(w http.ResponseWriter, p *problem.Problem) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p) // the status is sent; a failed body write has no one to tell
}
