package board

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHandlerServesFiles(t *testing.T) {
	srv := httptest.NewServer(Handler())
	t.Cleanup(srv.Close)
	client := srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	tests := []struct {
		name        string
		method      string
		path        string
		wantStatus  int
		wantType    string
		wantBodyHas string
		wantCache   string
		wantAllow   string
		wantProblem string // problem code, for error answers
	}{
		{"index", http.MethodGet, "/board/", 200, "text/html; charset=utf-8", `<script src="app.js" defer></script>`, "no-cache", "", ""},
		{"index by name", http.MethodGet, "/board/index.html", 200, "text/html; charset=utf-8", "<title>Presence board</title>", "no-cache", "", ""},
		{"script", http.MethodGet, "/board/app.js", 200, "text/javascript; charset=utf-8", `"/v1/ws"`, "no-cache", "", ""},
		{"style", http.MethodGet, "/board/style.css", 200, "text/css; charset=utf-8", ".tiles", "no-cache", "", ""},
		{"icon", http.MethodGet, "/board/favicon.svg", 200, "image/svg+xml", "<svg", "no-cache", "", ""},
		{"head", http.MethodHead, "/board/app.js", 200, "text/javascript; charset=utf-8", "", "no-cache", "", ""},
		{"unknown file", http.MethodGet, "/board/nope.js", 404, "application/problem+json", "nope.js", "no-store", "", "not_found"},
		{"directory escape", http.MethodGet, "/board/static/app.js", 404, "application/problem+json", "", "no-store", "", "not_found"},
		{"outside prefix", http.MethodGet, "/elsewhere", 404, "application/problem+json", "", "no-store", "", "not_found"},
		{"post refused", http.MethodPost, "/board/", 405, "application/problem+json", "POST", "no-store", "GET, HEAD", "method_not_allowed"},
		{"no slash redirects", http.MethodGet, "/board", 301, "", "", "", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, srv.URL+tc.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status = %d, want %d (body %s)", resp.StatusCode, tc.wantStatus, body)
			}
			if got := resp.Header.Get("Content-Security-Policy"); got != ContentSecurityPolicy {
				t.Errorf("Content-Security-Policy = %q, want %q", got, ContentSecurityPolicy)
			}
			if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options = %q, want nosniff", got)
			}
			if tc.wantStatus == 301 {
				if loc := resp.Header.Get("Location"); loc != "/board/" {
					t.Errorf("Location = %q, want /board/", loc)
				}
				return
			}
			if got := resp.Header.Get("Content-Type"); got != tc.wantType {
				t.Errorf("Content-Type = %q, want %q", got, tc.wantType)
			}
			if got := resp.Header.Get("Cache-Control"); got != tc.wantCache {
				t.Errorf("Cache-Control = %q, want %q", got, tc.wantCache)
			}
			if got := resp.Header.Get("Allow"); got != tc.wantAllow {
				t.Errorf("Allow = %q, want %q", got, tc.wantAllow)
			}
			if tc.method == http.MethodHead && len(body) != 0 {
				t.Errorf("HEAD returned a body of %d bytes", len(body))
			}
			if !strings.Contains(string(body), tc.wantBodyHas) {
				t.Errorf("body does not contain %q:\n%.300s", tc.wantBodyHas, body)
			}
			if tc.wantProblem != "" {
				var p struct {
					Status int    `json:"status"`
					Code   string `json:"code"`
					Detail string `json:"detail"`
				}
				if err := json.Unmarshal(body, &p); err != nil {
					t.Fatalf("problem body is not JSON: %v: %s", err, body)
				}
				if p.Code != tc.wantProblem || p.Status != tc.wantStatus || p.Detail == "" {
					t.Errorf("problem = %+v, want code %s, status %d and a detail", p, tc.wantProblem, tc.wantStatus)
				}
			}
		})
	}
}

// TestCSPIsStrict guards the policy itself: no inline script or style, no
// foreign origin, WebSocket only to the page's own host or ws:/wss:.
func TestCSPIsStrict(t *testing.T) {
	directives := map[string]string{}
	for _, d := range strings.Split(ContentSecurityPolicy, ";") {
		name, value, _ := strings.Cut(strings.TrimSpace(d), " ")
		directives[name] = value
	}
	want := map[string]string{
		"default-src":     "'self'",
		"script-src":      "'self'",
		"style-src":       "'self'",
		"connect-src":     "'self' ws: wss:",
		"object-src":      "'none'",
		"frame-ancestors": "'none'",
	}
	for name, value := range want {
		if directives[name] != value {
			t.Errorf("CSP %s = %q, want %q", name, directives[name], value)
		}
	}
	for _, bad := range []string{"unsafe-inline", "unsafe-eval", "http:", "https:", "*"} {
		if strings.Contains(ContentSecurityPolicy, bad) {
			t.Errorf("CSP contains %q: %s", bad, ContentSecurityPolicy)
		}
	}
}

// TestPageHasNoInlineCode checks the page obeys its own CSP: an inline script,
// style or event handler would be blocked by the browser and break the board.
func TestPageHasNoInlineCode(t *testing.T) {
	srv := httptest.NewServer(Handler())
	t.Cleanup(srv.Close)
	for _, name := range []string{"/board/", "/board/app.js", "/board/style.css"} {
		resp, err := srv.Client().Get(srv.URL + name)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		page := strings.ToLower(string(body))
		for _, bad := range []string{"<script>", "<style", " style=", " onclick=", " onload=", "http://", "https://", "innerhtml", "eval("} {
			if strings.Contains(page, bad) {
				t.Errorf("%s contains %q, which the CSP or the offline rule forbids", name, bad)
			}
		}
	}
}

func TestConditionalGetAnswers304(t *testing.T) {
	srv := httptest.NewServer(Handler())
	t.Cleanup(srv.Close)
	resp, err := srv.Client().Get(srv.URL + "/board/app.js")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	etag := resp.Header.Get("ETag")
	if etag == "" {
		t.Fatal("no ETag on app.js")
	}
	req, err := http.NewRequest(http.MethodGet, srv.URL+"/board/app.js", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("If-None-Match", etag)
	resp, err = srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotModified {
		t.Fatalf("status = %d, want 304 for a matching If-None-Match", resp.StatusCode)
	}
}
