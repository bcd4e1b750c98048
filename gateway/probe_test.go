package gateway

import (
	"encoding/json"
	"net/http"
	"testing"
)

// probe POSTs /v1/ws with headers and returns the status and the problem
// code (empty for 204).
func probe(t *testing.T, base string, h http.Header) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+"/v1/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNoContent {
		return resp.StatusCode, ""
	}
	var p struct {
		Code, Detail string
	}
	if err := json.NewDecoder(resp.Body).Decode(&p); err != nil || resp.Header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("probe answered %d %s without a problem body: %v", resp.StatusCode, resp.Header.Get("Content-Type"), err)
	}
	return resp.StatusCode, p.Code
}

// POST /v1/ws answers what the upgrade would (a browser page cannot read a
// refused upgrade's status): each case is dialled and probed with the same
// headers, and the probe's verdict must match the upgrade's.
func TestProbeAnswersWhatTheUpgradeWould(t *testing.T) {
	tn := startNode(t, func(c *Config) { c.PublicURL = "http://board.example:8080" })
	cases := []struct {
		name string
		h    http.Header
		want int
		code string
	}{
		{"no Origin", nil, 101, ""},
		{"the public URL's origin", http.Header{"Origin": {"http://board.example:8080"}}, 101, ""},
		{"the port dropped by a proxy", http.Header{"Origin": {"http://board.example"}}, 403, "forbidden"},
		{"another origin", http.Header{"Origin": {"http://127.0.0.1:8080"}}, 403, "forbidden"},
		{"a bad header token", http.Header{"Authorization": {"Bearer x.y.z"}}, 401, "token_malformed"},
		{"a good header token", http.Header{"Authorization": {"Bearer " + token(t, "u1", "acme")}}, 101, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := dialStatus(t, tn.url, c.h); got != c.want {
				t.Fatalf("upgrade: %d, want %d", got, c.want)
			}
			want := c.want
			if want == 101 {
				want = http.StatusNoContent
			}
			if got, code := probe(t, tn.base, c.h); got != want || code != c.code {
				t.Fatalf("probe: %d %q, want %d %q", got, code, want, c.code)
			}
		})
	}
	tn.draining.Store(true)
	if got, code := probe(t, tn.base, nil); got != http.StatusServiceUnavailable || code != "unavailable" {
		t.Fatalf("probe of a draining node: %d %q", got, code)
	}
	tn.draining.Store(false)
}
