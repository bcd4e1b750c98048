package gateway

import (
	"slices"
	"testing"
)

// Bodies: one errors[] entry per bad field; exact member names; duplicate
// members refused (contract §7).
func TestStrictBodies(t *testing.T) {
	tn := startNode(t, nil)
	c := newAPIClient(t, tn)
	connectUser(t, tn, "alice", "acme", "", "main")
	alice := token(t, "alice", "acme")
	cases := []struct {
		name, method, path, body string
		status                   int
		code                     string
		fields                   []string
	}{
		{"every bad field of a status", "PUT", "/v1/presence/alice/status", `{"status":"gone","note":5,"extra":1}`, 400, "invalid_argument", []string{"status", "note", "extra"}},
		{"every bad id of a query", "POST", "/v1/presence/query", `{"users":["a.b","c*","ok","d>"]}`, 400, "invalid_argument", []string{"users[0]", "users[1]", "users[3]"}},
		{"names are exact", "POST", "/v1/presence/query", `{"Users":["a"]}`, 400, "invalid_argument", []string{"Users", "users"}},
		{"only unknown", "POST", "/v1/presence/query", `{"users":["a"],"more":1}`, 400, "unknown_field", []string{"more"}},
		{"duplicate members", "PUT", "/v1/presence/alice/status", `{"status":"busy","status":"dnd"}`, 400, "invalid_argument", []string{"status"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := c.do(apiReq{method: tc.method, path: tc.path, token: alice, body: tc.body, invalid: true})
			wantAPIProblem(t, r, tc.status, tc.code, nil)
			got, want := r.fields(), slices.Clone(tc.fields)
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("errors[] fields %q, want %q (any order): %s", r.fields(), tc.fields, r.raw)
			}
		})
	}
}

// Frames: the same rules, plus id null is no id and a frame without type is
// malformed.
func TestStrictFrames(t *testing.T) {
	tn := startNode(t, nil)
	c, _ := connectUser(t, tn, "u1", "acme", "", "main")
	fieldsOf := func(f map[string]any) []string {
		e, _ := f["error"].(map[string]any)
		var out []string
		for _, x := range e["errors"].([]any) {
			out = append(out, x.(map[string]any)["field"].(string))
		}
		return out
	}
	r := c.request(map[string]any{"type": "subscribe", "users": []string{"a.b", "c*", "ok", "d>"}})
	if got := fieldsOf(r); len(got) != 3 || got[0] != "users[0]" || got[1] != "users[1]" || got[2] != "users[3]" {
		t.Fatalf("subscribe: %v", r)
	}
	r = c.request(map[string]any{"type": "status", "status": "gone", "note": 5})
	if got := fieldsOf(r); len(got) != 2 || !slices.Contains(got, "status") || !slices.Contains(got, "note") {
		t.Fatalf("status: %v", r)
	}
	from := c.count()
	c.send(`{"type":"status","status":"busy","status":"dnd","id":"dup"}`)
	f, _ := c.waitFrame(from, 5e9, func(f map[string]any) bool { return f["id"] == "dup" })
	if problemCode(f) != "invalid_argument" || fieldsOf(f)[0] != "status" {
		t.Fatalf("duplicate: %v", f)
	}
	from = c.count()
	c.send(`{"Type":"status","status":"busy","id":"case"}`)
	f, _ = c.waitFrame(from, 5e9, func(f map[string]any) bool { return f["id"] == "case" })
	if problemCode(f) != "malformed_frame" {
		t.Fatalf("Type is not type: %v", f)
	}
	from = c.count()
	c.send(`{"id":"notype","status":"busy"}`)
	f, _ = c.waitFrame(from, 5e9, func(f map[string]any) bool { return f["id"] == "notype" })
	if problemCode(f) != "malformed_frame" {
		t.Fatalf("no type: %v", f)
	}
	from = c.count()
	c.send(`{"type":"idle","idle":true,"id":null}`)
	c.send(`{"type":"idle","idle":false,"id":"marker"}`)
	c.waitFrame(from, 5e9, func(f map[string]any) bool { return f["id"] == "marker" })
	for _, f := range c.all()[from:] {
		if v, ok := f["id"]; ok && v == nil {
			t.Fatalf("id null echoed: %v", f)
		}
		if f["type"] == "ok" && f["id"] == nil {
			t.Fatalf("a frame with id null was answered as if it had an id: %v", f)
		}
	}
}
