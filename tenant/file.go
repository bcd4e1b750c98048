package tenant

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"

	"go.yaml.in/yaml/v4"

	"github.com/pgw/pgw/problem"
	"github.com/pgw/pgw/wire"
)

// The policy file (PGW_TENANTS, `gateway tenants export`) is YAML or JSON
// (JSON is read by the same YAML decoder):
//
//	tenants:
//	  acme:
//	    grace: 30s
//	    statuses: [{name: lunch, base: away, label: At lunch}]
//
// Each policy is checked by Parse; errors are named
// tenants.<tenant>.<field>.

// ReadFile parses a policy file. A file that is not YAML/JSON at all is
// err; a readable file with invalid tenants or fields reports every one in
// errs (and policies holds only the valid tenants).
func ReadFile(data []byte) (policies map[string]Policy, errs []problem.FieldError, err error) {
	var tree any
	if len(bytes.TrimSpace(data)) > 0 {
		if err := yaml.Unmarshal(data, &tree); err != nil {
			return nil, nil, fmt.Errorf("not YAML or JSON: %w", err)
		}
	}
	tree = normalize(tree)
	policies = map[string]Policy{}
	top, ok := tree.(map[string]any)
	if !ok {
		return nil, []problem.FieldError{{Field: "tenants", Reason: "the file must be an object with a tenants map (tenant id → policy)"}}, nil
	}
	for _, k := range sortedKeys(top) {
		if k != "tenants" {
			errs = append(errs, problem.FieldError{Field: k, Reason: "is not a field of the policy file (fields: tenants)"})
		}
	}
	ts, ok := top["tenants"].(map[string]any)
	if !ok {
		errs = append(errs, problem.FieldError{Field: "tenants", Reason: fmt.Sprintf("must be a map of tenant id → policy, got %s", kind(top["tenants"]))})
		return policies, errs, nil
	}
	for _, t := range sortedKeys(ts) {
		if !wire.ValidID(t) {
			errs = append(errs, problem.FieldError{Field: "tenants." + trunc(t), Reason: "is not a valid tenant id (" + wire.IDPattern + ")"})
			continue
		}
		p, perrs := Parse(ts[t], "tenants."+t+".")
		if len(perrs) > 0 {
			errs = append(errs, perrs...)
			continue
		}
		policies[t] = p
	}
	return policies, errs, nil
}

// WriteFile renders policies in the file format (YAML), tenants sorted.
func WriteFile(policies map[string]Policy) ([]byte, error) {
	names := make([]string, 0, len(policies))
	for t := range policies {
		names = append(names, t)
	}
	sort.Strings(names)
	// Through JSON so the YAML has the API's field names and shapes.
	ts := map[string]any{}
	for _, t := range names {
		raw, err := json.Marshal(policies[t])
		if err != nil {
			return nil, err
		}
		var tree any
		if err := json.Unmarshal(raw, &tree); err != nil {
			return nil, err
		}
		ts[t] = tree
	}
	return yaml.Marshal(map[string]any{"tenants": ts})
}

// normalize turns what a YAML decoder gives into JSON's shapes: maps with
// string keys, lists as []any.
func normalize(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = normalize(e)
		}
		return x
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[fmt.Sprint(k)] = normalize(e)
		}
		return m
	case []any:
		for i, e := range x {
			x[i] = normalize(e)
		}
		return x
	}
	return v
}
