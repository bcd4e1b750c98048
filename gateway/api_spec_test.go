package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/pgw/pgw/problem"
)

// openapiPath is docs/openapi.yaml seen from this package.
const openapiPath = "../docs/openapi.yaml"

// openapiSpec is docs/openapi.yaml, loaded and validated once per test binary.
var openapiSpec = sync.OnceValues(func() (*openapi3.T, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile(openapiPath)
	if err != nil {
		return nil, err
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, err
	}
	// Requests go to a free port, not the documented server: match paths
	// only.
	doc.Servers = nil
	return doc, nil
})

// openapiRouter finds the documented operation of a request.
var openapiRouter = sync.OnceValues(func() (routers.Router, error) {
	doc, err := openapiSpec()
	if err != nil {
		return nil, err
	}
	return legacy.NewRouter(doc)
})

// invalidKey marks a request context: the test sends a request the
// document does not allow on purpose (bad body, wrong content type), so
// only its response is checked.
type invalidKey struct{}

// specTransport checks every request and response of the HTTP tests
// against docs/openapi.yaml, so the document cannot drift from the server:
// a request the test means to be valid must match its operation; every
// response must be a documented status with its documented headers and
// body schema; a request outside the document must get a 404 or 405
// problem.
type specTransport struct {
	t    testing.TB
	base http.RoundTripper
}

func (tr *specTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	tr.t.Helper()
	doc, err := openapiSpec()
	if err != nil {
		tr.t.Fatalf("%s: %v", openapiPath, err)
	}
	router, err := openapiRouter()
	if err != nil {
		tr.t.Fatalf("%s: router: %v", openapiPath, err)
	}
	var reqBody []byte
	if req.Body != nil {
		reqBody, _ = io.ReadAll(req.Body)
		_ = req.Body.Close()
	}
	restore := func() {
		if reqBody != nil {
			req.Body = io.NopCloser(bytes.NewReader(reqBody))
		}
	}
	restore()
	ctx := context.Background()
	invalid := req.Context().Value(invalidKey{}) != nil
	opts := &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, IncludeResponseStatus: true}
	route, params, findErr := router.FindRoute(req)
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts}
	what := req.Method + " " + req.URL.Path
	switch {
	case findErr != nil && !invalid:
		tr.t.Errorf("%s is not an operation of %s: %v", what, openapiPath, findErr)
	case findErr == nil && !invalid:
		if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
			tr.t.Errorf("request %s does not match %s: %v", what, openapiPath, err)
		}
		restore()
	}
	resp, err := tr.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if findErr == nil {
		restore()
		out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode,
			Header: resp.Header, Body: io.NopCloser(bytes.NewReader(body)), Options: opts}
		if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
			tr.t.Errorf("response %d to %s does not match %s: %v\nbody: %s", resp.StatusCode, what, openapiPath, err, body)
		}
		return resp, nil
	}
	// Outside the document: the router's 404 and 405 problems.
	if resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusMethodNotAllowed {
		tr.t.Errorf("%s (not documented) answered %d, want 404 or 405", what, resp.StatusCode)
	}
	checkProblemSchema(tr.t, doc, resp, body)
	return resp, nil
}

// checkProblemSchema checks an undocumented answer is a Problem.
func checkProblemSchema(t testing.TB, doc *openapi3.T, resp *http.Response, body []byte) {
	t.Helper()
	if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type %q, want application/problem+json", ct)
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Errorf("problem body is not JSON: %v: %s", err, body)
		return
	}
	if err := doc.Components.Schemas["Problem"].Value.VisitJSON(v, openapi3.EnableJSONSchema2020()); err != nil {
		t.Errorf("body does not match the Problem schema: %v: %s", err, body)
	}
}

// apiClient is the HTTP client of the API tests: every exchange goes
// through specTransport.
type apiClient struct {
	t    testing.TB
	base string
	hc   *http.Client
}

func newAPIClient(t testing.TB, tn *testNode) *apiClient {
	return &apiClient{t: t, base: tn.base, hc: &http.Client{
		Timeout:   10 * time.Second,
		Transport: &specTransport{t: t, base: http.DefaultTransport},
	}}
}

// apiReq is one request of a test.
type apiReq struct {
	method, path string
	token        string // "" sends no Authorization
	auth         string // a raw Authorization value (wins over token)
	ctype        string // "" with a body means application/json; "-" sends none
	body         string
	invalid      bool // the request breaks the document on purpose
	ifMatch      string
	header       http.Header // more request headers (Cookie, Origin)
}

// apiResp is an answer, with its body decoded when it is JSON.
type apiResp struct {
	status int
	header http.Header
	raw    []byte
	json   map[string]any
}

func (c *apiClient) do(r apiReq) apiResp {
	c.t.Helper()
	ctx := context.Background()
	if r.invalid {
		ctx = context.WithValue(ctx, invalidKey{}, true)
	}
	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, c.base+r.path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	for k, vs := range r.header {
		req.Header[k] = vs
	}
	switch {
	case r.auth != "":
		req.Header.Set("Authorization", r.auth)
	case r.token != "":
		req.Header.Set("Authorization", "Bearer "+r.token)
	}
	if r.ifMatch != "" {
		req.Header.Set("If-Match", r.ifMatch)
	}
	switch {
	case r.ctype == "-":
	case r.ctype != "":
		req.Header.Set("Content-Type", r.ctype)
	case r.body != "":
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", r.method, r.path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := apiResp{status: resp.StatusCode, header: resp.Header, raw: raw}
	_ = json.Unmarshal(raw, &out.json)
	return out
}

// code is the problem code of the answer.
func (r apiResp) code() string { s, _ := r.json["code"].(string); return s }

// fields lists the errors[].field of a problem answer.
func (r apiResp) fields() []string {
	var out []string
	list, _ := r.json["errors"].([]any)
	for _, e := range list {
		m, _ := e.(map[string]any)
		s, _ := m["field"].(string)
		out = append(out, s)
	}
	return out
}

// httpRoutes are every route the node serves, as mux patterns: the API's
// and the operations routes Handler registers.
func httpRoutes() []string {
	return []string{routeGetPresence, routeQueryPresence, routeSetStatus, routeDeleteSession, routeIPTEvents, routeIPTSync,
		routeGetTenant, routePutTenant, routeTenantHistory,
		"GET /v1/ws", "POST /v1/ws", "GET /livez", "GET /healthz", "GET /readyz", "GET /metrics", "GET /", "GET /board/"}
}

func TestAPIOpenAPIListsEveryRoute(t *testing.T) {
	doc, err := openapiSpec()
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented[method+" "+path] = true
		}
	}
	served := map[string]bool{}
	for _, r := range httpRoutes() {
		served[r] = true
		if !documented[r] {
			t.Errorf("route %s is not in %s", r, openapiPath)
		}
	}
	// Every documented operation exists on a real node: it answers neither
	// the router's 404 nor its 405.
	tn := startNode(t, nil)
	for op := range documented {
		if !served[op] {
			t.Errorf("%s documents %s, which is not a route of the node", openapiPath, op)
		}
		method, path, _ := strings.Cut(op, " ")
		path = strings.NewReplacer("{user}", "u1", "{session}", "s1", "{tenant}", "t1").Replace(path)
		req, _ := http.NewRequest(method, tn.base+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var p struct{ Code string }
		_ = json.NewDecoder(resp.Body).Decode(&p)
		_ = resp.Body.Close()
		if resp.StatusCode == http.StatusMethodNotAllowed || p.Code == "not_found" {
			t.Errorf("%s: the node answers %d %s", op, resp.StatusCode, p.Code)
		}
	}
}

func TestAPIOpenAPIProblemCodesMatchTable(t *testing.T) {
	doc, err := openapiSpec()
	if err != nil {
		t.Fatal(err)
	}
	var documented []string
	for _, v := range doc.Components.Schemas["ProblemCode"].Value.Enum {
		documented = append(documented, v.(string))
	}
	var withStatus []string
	for _, in := range problem.Table() {
		if in.Status != 0 {
			withStatus = append(withStatus, string(in.Code))
		}
	}
	if !slices.Equal(documented, withStatus) {
		t.Fatalf("ProblemCode enum of %s:\n%q\nthe codes with an HTTP status in problem.Table():\n%q", openapiPath, documented, withStatus)
	}
}

// recordingTB records what specTransport reports.
type recordingTB struct {
	testing.TB
	mu     sync.Mutex
	errors []string
}

func (r *recordingTB) Helper() {}
func (r *recordingTB) Errorf(format string, args ...any) {
	r.mu.Lock()
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
	r.mu.Unlock()
}
func (r *recordingTB) Fatalf(format string, args ...any) { r.Errorf(format, args...) }

// TestAPISpecTransportCatchesDrift shows the checker fails when a server
// drifts from the document (so the API tests passing means something).
func TestAPISpecTransportCatchesDrift(t *testing.T) {
	presenceJSON := `{"type":"presence","tenant":"acme","user":"u1","status":"online","manual":false,"sessions":1,"devices":["desktop"],"version":3}`
	problemJSON := `{"type":"about:blank","title":"Token missing","status":401,"code":"token_missing","detail":"no token","instance":"/v1/presence/u1"}`
	cases := []struct {
		name   string
		status int
		ctype  string
		header map[string]string
		body   string
		drift  bool
	}{
		{"conforming presence", 200, "application/json", nil, presenceJSON, false},
		{"extra presence field", 200, "application/json", nil, strings.Replace(presenceJSON, `"version":3`, `"version":3,"colour":"red"`, 1), true},
		{"unknown status", 200, "application/json", nil, strings.Replace(presenceJSON, `"online"`, `"asleep"`, 1), true},
		{"missing devices", 200, "application/json", nil, strings.Replace(presenceJSON, `"devices":["desktop"],`, ``, 1), true},
		{"undocumented status", 418, "application/problem+json", nil, problemJSON, true},
		{"conforming 401", 401, "application/problem+json", map[string]string{"WWW-Authenticate": `Bearer realm="pgw"`}, problemJSON, false},
		{"401 without challenge", 401, "application/problem+json", nil, problemJSON, true},
		{"problem as plain JSON", 401, "application/json", map[string]string{"WWW-Authenticate": `Bearer realm="pgw"`}, problemJSON, true},
		{"unknown problem code", 401, "application/problem+json", map[string]string{"WWW-Authenticate": `Bearer realm="pgw"`}, strings.Replace(problemJSON, "token_missing", "token_lost", 1), true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tc.header {
					w.Header().Set(k, v)
				}
				w.Header().Set("Content-Type", tc.ctype)
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, tc.body)
			}))
			defer srv.Close()
			rec := &recordingTB{TB: t}
			hc := &http.Client{Timeout: 5 * time.Second, Transport: &specTransport{t: rec, base: http.DefaultTransport}}
			req, _ := http.NewRequest("GET", srv.URL+"/v1/presence/u1", nil)
			req.Header.Set("Authorization", "Bearer x")
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_ = resp.Body.Close()
			if got := len(rec.errors) > 0; got != tc.drift {
				t.Fatalf("drift reported: %v, want %v: %q", got, tc.drift, rec.errors)
			}
		})
	}
}
