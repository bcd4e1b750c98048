package tenant

import (
	"encoding/json"
	"reflect"
	"slices"
	"sort"
	"strings"
)

// FieldChange is one field of a policy that a change altered: From is
// absent when the field was unset, To when it was removed.
type FieldChange struct {
	Field string          `json:"field"`
	From  json.RawMessage `json:"from,omitempty"`
	To    json.RawMessage `json:"to,omitempty"`
}

// Diff lists the fields that differ between two policies, by path
// (limits.frame_burst, specifics.notes). Objects are compared member by
// member; lists and jwt.keys as a whole.
func Diff(from, to Policy) []FieldChange {
	a, b := flatten(from), flatten(to)
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	out := []FieldChange{}
	for k := range keys {
		x, inA := a[k]
		y, inB := b[k]
		if inA && inB && reflect.DeepEqual(x, y) {
			continue
		}
		c := FieldChange{Field: k}
		if inA {
			c.From, _ = json.Marshal(x)
		}
		if inB {
			c.To, _ = json.Marshal(y)
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Field < out[j].Field })
	return out
}

// Only reports whether every change is of one of the given top-level
// fields (what a tenant admin may change).
func Only(changes []FieldChange, allowed ...string) (others []string) {
	for _, c := range changes {
		top, _, _ := strings.Cut(c.Field, ".")
		if !slices.Contains(allowed, top) {
			others = append(others, c.Field)
		}
	}
	return others
}

// flatten maps every leaf path of p's JSON to its decoded value.
func flatten(p Policy) map[string]any {
	raw, _ := json.Marshal(p)
	var tree map[string]any
	_ = json.Unmarshal(raw, &tree)
	out := map[string]any{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		m, ok := v.(map[string]any)
		if !ok || prefix == "jwt.keys" {
			out[prefix] = v
			return
		}
		for k, e := range m {
			walk(strings.TrimPrefix(prefix+"."+k, "."), e)
		}
	}
	walk("", tree)
	return out
}
