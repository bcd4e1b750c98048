package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
)

// openapiPath is docs/openapi.yaml seen from this package.
const openapiPath = "../docs/openapi.yaml"

// spec is docs/openapi.yaml, loaded and validated once per test binary.
var spec = sync.OnceValues(func() (*openapi3.T, error) {
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

// specRouter finds the documented operation of a request.
var specRouter = sync.OnceValues(func() (routers.Router, error) {
	doc, err := spec()
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
	doc, err := spec()
	if err != nil {
		tr.t.Fatalf("%s: %v", openapiPath, err)
	}
	router, err := specRouter()
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
	switch {
	case r.auth != "":
		req.Header.Set("Authorization", r.auth)
	case r.token != "":
		req.Header.Set("Authorization", "Bearer "+r.token)
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
