package tenant

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/pgw/pgw/gateway/auth"
	"github.com/pgw/pgw/gateway/origin"
	"github.com/pgw/pgw/problem"
	"github.com/pgw/pgw/wire"
)

// Bounds of a policy: generous for real companies, small enough that one
// policy can never weigh on a node.
const (
	MaxGrace         = time.Hour
	MaxConnsPerUser  = 10000
	MaxSubscriptions = 1000000
	MaxFramesPerSec  = 10000.0
	MaxFrameBurst    = 100000
	MaxStatuses      = 32
	MaxLabel         = 64
	MaxListItems     = 100 // origins, bridges, contacts, caveats
	MaxItem          = 500 // characters of one origin, contact or caveat
	MaxSummary       = 1000
	MaxIntegration   = 8000
	MaxNotes         = 64 << 10
	MaxKeysJSON      = 64 << 10
)

// builtIn are the status names a custom status may not reuse (§9).
var builtIn = []string{"online", "away", "busy", "dnd", "offline"}

// fields is the policy's members in documentation order.
var fields = []string{"grace", "limits", "origins", "statuses", "jwt", "login", "bridges", "disabled", "specifics"}

// ParseJSON reads a POLICY JSON object (the HTTP API's body). A syntax
// error is returned as err; a well-formed body with invalid fields returns
// every invalid field in errs.
func ParseJSON(data []byte) (p Policy, errs []problem.FieldError, err error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var tree any
	if err := dec.Decode(&tree); err != nil {
		return Policy{}, nil, err
	}
	if dec.More() {
		return Policy{}, nil, fmt.Errorf("the body must hold one JSON value and nothing after it")
	}
	p, errs = Parse(tree, "")
	return p, errs, nil
}

// Parse checks a decoded POLICY (JSON numbers as json.Number or float64,
// as a YAML or JSON decoder gives them) and builds the Policy. Every
// invalid field is reported, named by its path after prefix (for a file:
// "tenants.acme."); the Policy is only meaningful when errs is empty.
func Parse(tree any, prefix string) (Policy, []problem.FieldError) {
	v := &validator{prefix: prefix}
	var p Policy
	obj, ok := tree.(map[string]any)
	if !ok {
		v.bad("", "must be an object with the fields %s", strings.Join(fields, ", "))
		return p, v.errs
	}
	for _, k := range sortedKeys(obj) {
		if !slices.Contains(fields, k) {
			v.bad(k, "is not a policy field (fields: %s)", strings.Join(fields, ", "))
		}
	}
	if x, ok := obj["grace"]; ok {
		if d, ok := v.duration("grace", x); ok {
			dd := Duration(d)
			p.Grace = &dd
		}
	}
	if x, ok := obj["limits"]; ok {
		p.Limits = v.limits(x)
	}
	if x, ok := obj["origins"]; ok {
		p.Origins = v.list("origins", x, func(f string, s string) bool {
			if reason := OriginProblem(s); reason != "" {
				v.bad(f, "%s", reason)
				return false
			}
			return true
		})
	}
	if x, ok := obj["statuses"]; ok {
		p.Statuses = v.statuses(x)
	}
	if x, ok := obj["jwt"]; ok {
		p.JWT = v.jwt(x)
	}
	if x, ok := obj["login"]; ok {
		if m, ok := v.object("login", x, "enabled"); ok {
			if e, ok := m["enabled"]; ok {
				if b, ok := v.boolean("login.enabled", e); ok {
					p.Login = &Login{Enabled: &b}
				}
			} else {
				p.Login = &Login{}
			}
		}
	}
	if x, ok := obj["bridges"]; ok {
		p.Bridges = v.list("bridges", x, v.id)
	}
	if x, ok := obj["disabled"]; ok {
		if b, ok := v.boolean("disabled", x); ok {
			p.Disabled = b
		}
	}
	if x, ok := obj["specifics"]; ok {
		p.Specifics = v.specifics(x)
	}
	if p.Login != nil && p.Login.Enabled == nil {
		p.Login = nil
	}
	return p, v.errs
}

// OriginProblem says why s is not an origin of an allow-list ("" when it
// is one): the rule of PGW_ALLOWED_ORIGINS (origin.Normalize), plus * and
// null.
func OriginProblem(s string) string {
	if s == "*" || s == "null" {
		return ""
	}
	if _, err := origin.Normalize(s); err != nil {
		return fmt.Sprintf("%q is not an origin: %v", trunc(s), err)
	}
	return ""
}

type validator struct {
	prefix string
	errs   []problem.FieldError
}

func (v *validator) bad(field, format string, args ...any) {
	name := strings.TrimSuffix(v.prefix+field, ".")
	if name == "" {
		name = "policy"
	}
	v.errs = append(v.errs, problem.FieldError{Field: name, Reason: fmt.Sprintf(format, args...)})
}

func (v *validator) object(field string, x any, allowed ...string) (map[string]any, bool) {
	m, ok := x.(map[string]any)
	if !ok {
		v.bad(field, "must be an object (%s), got %s", strings.Join(allowed, ", "), kind(x))
		return nil, false
	}
	for _, k := range sortedKeys(m) {
		if !slices.Contains(allowed, k) {
			v.bad(field+"."+k, "is not a field of %s (fields: %s)", field, strings.Join(allowed, ", "))
		}
	}
	return m, true
}

func (v *validator) str(field string, x any, max int) (string, bool) {
	s, ok := x.(string)
	if !ok {
		v.bad(field, "must be a string, got %s", kind(x))
		return "", false
	}
	if !utf8.ValidString(s) {
		v.bad(field, "must be valid UTF-8")
		return "", false
	}
	if n := utf8.RuneCountInString(s); n > max {
		v.bad(field, "must be at most %d characters, got %d", max, n)
		return "", false
	}
	return s, true
}

func (v *validator) boolean(field string, x any) (bool, bool) {
	b, ok := x.(bool)
	if !ok {
		v.bad(field, "must be true or false, got %s", kind(x))
	}
	return b, ok
}

func (v *validator) number(field string, x any) (float64, bool) {
	switch n := x.(type) {
	case json.Number:
		f, err := n.Float64()
		if err == nil && !math.IsInf(f, 0) {
			return f, true
		}
	case float64:
		return n, true
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case uint64:
		return float64(n), true
	}
	v.bad(field, "must be a number, got %s", kind(x))
	return 0, false
}

func (v *validator) integer(field string, x any, min, max int) (int, bool) {
	f, ok := v.number(field, x)
	if !ok {
		return 0, false
	}
	if f != math.Trunc(f) || f < float64(min) || f > float64(max) {
		v.bad(field, "must be a whole number from %d to %d, got %v", min, max, f)
		return 0, false
	}
	return int(f), true
}

func (v *validator) duration(field string, x any) (time.Duration, bool) {
	s, ok := x.(string)
	if !ok {
		v.bad(field, "must be a duration string such as \"30s\" or \"2m\", got %s", kind(x))
		return 0, false
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		v.bad(field, "%q is not a duration such as \"30s\" or \"2m\"", trunc(s))
		return 0, false
	}
	if d <= 0 || d > MaxGrace {
		v.bad(field, "must be more than 0s and at most %v, got %v", MaxGrace, d)
		return 0, false
	}
	return d, true
}

func (v *validator) id(field, s string) bool {
	if !wire.ValidID(s) {
		v.bad(field, "%q is not a valid id ("+wire.IDPattern+")", trunc(s))
		return false
	}
	return true
}

// list checks a list of strings: each item is checked by item; duplicates
// are refused.
func (v *validator) list(field string, x any, item func(field, s string) bool) []string {
	arr, ok := x.([]any)
	if !ok {
		v.bad(field, "must be a list of strings, got %s", kind(x))
		return nil
	}
	if len(arr) > MaxListItems {
		v.bad(field, "must have at most %d items, got %d", MaxListItems, len(arr))
		return nil
	}
	out := []string{}
	seen := map[string]bool{}
	for i, e := range arr {
		f := fmt.Sprintf("%s[%d]", field, i)
		s, ok := v.str(f, e, MaxItem)
		if !ok || (item != nil && !item(f, s)) {
			continue
		}
		if seen[s] {
			v.bad(f, "%q is listed twice", trunc(s))
			continue
		}
		seen[s] = true
		out = append(out, s)
	}
	return out
}

func (v *validator) limits(x any) *Limits {
	m, ok := v.object("limits", x, "connections_per_user", "subscriptions", "frames_per_second", "frame_burst")
	if !ok {
		return nil
	}
	l := &Limits{}
	if e, ok := m["connections_per_user"]; ok {
		if n, ok := v.integer("limits.connections_per_user", e, 1, MaxConnsPerUser); ok {
			l.ConnectionsPerUser = &n
		}
	}
	if e, ok := m["subscriptions"]; ok {
		if n, ok := v.integer("limits.subscriptions", e, 1, MaxSubscriptions); ok {
			l.Subscriptions = &n
		}
	}
	if e, ok := m["frames_per_second"]; ok {
		if f, ok := v.number("limits.frames_per_second", e); ok {
			if f <= 0 || f > MaxFramesPerSec {
				v.bad("limits.frames_per_second", "must be more than 0 and at most %v, got %v", MaxFramesPerSec, f)
			} else {
				l.FramesPerSecond = &f
			}
		}
	}
	if e, ok := m["frame_burst"]; ok {
		if n, ok := v.integer("limits.frame_burst", e, 1, MaxFrameBurst); ok {
			l.FrameBurst = &n
		}
	}
	return l
}

func (v *validator) statuses(x any) []Status {
	arr, ok := x.([]any)
	if !ok {
		v.bad("statuses", "must be a list of {name, base, label}, got %s", kind(x))
		return nil
	}
	if len(arr) > MaxStatuses {
		v.bad("statuses", "must have at most %d statuses, got %d", MaxStatuses, len(arr))
		return nil
	}
	out := []Status{}
	seen := map[string]bool{}
	for i, e := range arr {
		f := fmt.Sprintf("statuses[%d]", i)
		m, ok := v.object(f, e, "name", "base", "label")
		if !ok {
			continue
		}
		var s Status
		good := true
		if n, ok := m["name"]; !ok {
			v.bad(f+".name", "is required")
			good = false
		} else if name, ok := v.str(f+".name", n, 128); !ok || !v.id(f+".name", name) {
			good = false
		} else if slices.Contains(builtIn, name) {
			v.bad(f+".name", "%q is a built-in status; a custom status needs its own name", name)
			good = false
		} else if seen[name] {
			v.bad(f+".name", "%q is defined twice", name)
			good = false
		} else {
			seen[name], s.Name = true, name
		}
		if b, ok := m["base"]; !ok {
			v.bad(f+".base", "is required: one of online, away, busy, dnd")
			good = false
		} else if base, ok := v.str(f+".base", b, 16); !ok {
			good = false
		} else if !wire.ValidManual(wire.Status(base)) {
			v.bad(f+".base", "must be one of online, away, busy, dnd, got %q", trunc(base))
			good = false
		} else {
			s.Base = base
		}
		if l, ok := m["label"]; !ok {
			v.bad(f+".label", "is required: the text people see")
			good = false
		} else if label, ok := v.str(f+".label", l, MaxLabel); !ok {
			good = false
		} else if strings.TrimSpace(label) == "" {
			v.bad(f+".label", "must not be blank")
			good = false
		} else {
			s.Label = label
		}
		if good {
			out = append(out, s)
		}
	}
	return out
}

func (v *validator) jwt(x any) *JWT {
	m, ok := v.object("jwt", x, "issuer", "audience", "keys")
	if !ok {
		return nil
	}
	j := &JWT{}
	if e, ok := m["issuer"]; ok {
		j.Issuer, _ = v.str("jwt.issuer", e, MaxItem)
	}
	if e, ok := m["audience"]; ok {
		j.Audience, _ = v.str("jwt.audience", e, MaxItem)
	}
	if e, ok := m["keys"]; ok {
		if _, isObj := e.(map[string]any); !isObj {
			v.bad("jwt.keys", "must be a JWKS object {\"keys\":[…]}, got %s", kind(e))
		} else if raw, err := json.Marshal(e); err != nil {
			v.bad("jwt.keys", "cannot be encoded as JSON: %v", err)
		} else if len(raw) > MaxKeysJSON {
			v.bad("jwt.keys", "must be at most %d bytes of JSON, got %d", MaxKeysJSON, len(raw))
		} else if _, err := auth.NewTenantJWT("", "", raw); err != nil {
			v.bad("jwt.keys", "%v", err)
		} else {
			j.Keys = raw
		}
	}
	return j
}

func (v *validator) specifics(x any) *Specifics {
	m, ok := v.object("specifics", x, "summary", "integration", "contacts", "caveats", "notes")
	if !ok {
		return nil
	}
	s := &Specifics{}
	if e, ok := m["summary"]; ok {
		s.Summary, _ = v.str("specifics.summary", e, MaxSummary)
	}
	if e, ok := m["integration"]; ok {
		s.Integration, _ = v.str("specifics.integration", e, MaxIntegration)
	}
	if e, ok := m["contacts"]; ok {
		s.Contacts = v.list("specifics.contacts", e, nil)
	}
	if e, ok := m["caveats"]; ok {
		s.Caveats = v.list("specifics.caveats", e, nil)
	}
	if e, ok := m["notes"]; ok {
		s.Notes, _ = v.str("specifics.notes", e, MaxNotes)
	}
	return s
}

// kind names a decoded value's JSON type for a reason.
func kind(x any) string {
	switch x.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case json.Number, float64, int, int64, uint64:
		return "a number"
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", x)
}

func trunc(s string) string { return problem.Excerpt(s, 60) }

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
