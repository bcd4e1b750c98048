package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"sync"

	"github.com/pgw/pgw/problem"
)

// encoding/json matches member names case-insensitively, keeps the last of
// duplicate members and stops at the first member of a wrong type. Bodies
// and frames are decoded stricter (contract §3, §7): decodeMembers takes a
// JSON object member by member into a struct, matching names exactly,
// refusing duplicates and reporting every bad member.

// memberErrors is what decodeMembers found wrong, member by member.
type memberErrors struct {
	fields  []problem.FieldError // duplicates and members of a wrong type
	unknown []string             // members the struct does not define
}

// decodeMembers decodes the JSON object data into the struct v points to.
// Members of a wrong JSON type are left zero and reported; so are
// duplicates and unknown members (paths under path). err is a syntax
// error, or data not being one object.
func decodeMembers(data []byte, v any, path string) (memberErrors, error) {
	var me memberErrors
	rv := reflect.ValueOf(v).Elem()
	fields := fieldsOf(rv.Type())
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return me, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return me, errNotObject
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return me, err
		}
		name, _ := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return me, err
		}
		at := joinPath(path, name)
		if seen[name] {
			me.fields = append(me.fields, problem.FieldError{Field: at, Reason: "appears more than once"})
			continue
		}
		seen[name] = true
		idx, ok := fields[name]
		if !ok {
			me.unknown = append(me.unknown, at)
			continue
		}
		f := rv.FieldByIndex(idx)
		if err := json.Unmarshal(raw, f.Addr().Interface()); err != nil {
			f.SetZero()
			var typ *json.UnmarshalTypeError
			reason := "is not valid: " + err.Error()
			if errors.As(err, &typ) {
				at = joinPath(at, typ.Field)
				reason = fmt.Sprintf("must be %s, got %s", jsonKind(typ.Type.String()), typ.Value)
			}
			me.fields = append(me.fields, problem.FieldError{Field: at, Reason: reason})
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return me, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return me, errTrailing
	}
	return me, nil
}

var (
	errNotObject = errors.New("not a JSON object")
	errTrailing  = errors.New("data after the JSON object")
)

// fieldsOf maps the exact JSON names of a struct's members to their field
// index (json tags; embedded structs are flattened; "-" is skipped).
func fieldsOf(t reflect.Type) map[string][]int {
	if m, ok := fieldCache.Load(t); ok {
		return m.(map[string][]int)
	}
	m := map[string][]int{}
	var walk func(t reflect.Type, prefix []int)
	walk = func(t reflect.Type, prefix []int) {
		for i := range t.NumField() {
			sf := t.Field(i)
			idx := append(append([]int(nil), prefix...), i)
			tag := sf.Tag.Get("json")
			name, _, _ := strings.Cut(tag, ",")
			switch {
			case name == "-":
				continue
			case sf.Anonymous && name == "" && sf.Type.Kind() == reflect.Struct:
				walk(sf.Type, idx)
				continue
			case !sf.IsExported():
				continue
			case name == "":
				name = sf.Name
			}
			m[name] = idx
		}
	}
	walk(t, nil)
	fieldCache.Store(t, m)
	return m
}

var fieldCache sync.Map // reflect.Type -> map[string][]int
