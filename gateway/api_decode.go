package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"os"
	"reflect"
	"strconv"
	"strings"

	"github.com/pgw/pgw/problem"
)

// HTTP bodies are decoded strictly (contract §7): JSON only, at most
// PGW_MAX_BODY bytes, no member the API does not define, every member of
// its JSON type. Each refusal names what was wrong: the byte offset of a
// syntax error, the path of an unknown or mistyped field (events[3].seq).

// readBody checks the Content-Type and reads the body, capped at the
// configured limit.
func (a *api) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if err := checkJSONType(r.Header.Get("Content-Type")); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, a.n.cfg.MaxBody))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return nil, problem.New(problem.PayloadTooLarge, "the body is larger than the limit of %d bytes (PGW_MAX_BODY)", tooBig.Limit)
	case errors.Is(err, os.ErrDeadlineExceeded):
		return nil, problem.New(problem.RequestTimeout, "the body did not arrive within the request timeout (PGW_REQUEST_TIMEOUT)")
	case err != nil:
		return nil, problem.Wrap(err, problem.MalformedJSON, "the body could not be read: %v", err)
	}
	return data, nil
}

// checkJSONType accepts application/json and any +json type, with
// parameters (charset=utf-8).
func checkJSONType(ct string) error {
	if ct == "" {
		return problem.New(problem.UnsupportedMedia, "Content-Type is missing: send application/json")
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		return problem.New(problem.UnsupportedMedia, "Content-Type %q is not JSON: send application/json", problem.Excerpt(ct, 60))
	}
	return nil
}

// decodeBody decodes a whole body strictly into v: exactly one JSON value,
// nothing after it. A struct is decoded member by member (strict_json.go):
// the problem then lists every bad member, and the members that decoded
// are set, so the caller can add its own checks with mergeFields.
func decodeBody(data []byte, v any) error {
	if isStructPtr(v) {
		me, err := decodeMembers(data, v, "")
		if err != nil {
			return memberSyntaxProblem(err, "", data)
		}
		return me.problem()
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeProblem(err, "", data)
	}
	if _, err := dec.Token(); err != io.EOF {
		return problem.New(problem.MalformedJSON, "invalid JSON at byte %d: the body must hold one JSON value and nothing after it", dec.InputOffset())
	}
	return nil
}

// decodeAt decodes one member already known to be valid JSON (a
// json.RawMessage of a body) strictly into v; path names it in problems.
// null leaves v untouched.
func decodeAt(data json.RawMessage, path string, v any) error {
	if isStructPtr(v) && len(bytes.TrimSpace(data)) > 0 && bytes.TrimSpace(data)[0] == '{' {
		me, err := decodeMembers(data, v, path)
		if err != nil {
			return memberSyntaxProblem(err, path, data)
		}
		return me.problem()
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeProblem(err, path, data)
	}
	return nil
}

// decodeProblem turns a decoding error into the problem that names its
// cause. path prefixes field names (for members decoded on their own).
func decodeProblem(err error, path string, data []byte) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return problem.New(problem.MalformedJSON, "invalid JSON at byte %d: %s", syn.Offset, strings.TrimPrefix(syn.Error(), "json: "))
	case errors.Is(err, io.EOF):
		return problem.New(problem.MalformedJSON, "the body is empty: send a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return problem.New(problem.MalformedJSON, "invalid JSON at byte %d: the body ends inside a JSON value", len(data))
	case errors.As(err, &typ):
		field := joinPath(path, typ.Field)
		if field == "" {
			field = "body"
		}
		return problem.Field(field, "must be %s, got %s", jsonKind(typ.Type.String()), typ.Value)
	}
	// encoding/json has no type for an unknown member; its message is
	// `json: unknown field "name"`.
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		if s, err := strconv.Unquote(name); err == nil {
			name = s
		}
		field := joinPath(path, name)
		p := problem.New(problem.UnknownField, "%s: is not a field of this request", field)
		p.Errors = []problem.FieldError{{Field: field, Reason: "is not a field of this request"}}
		return p
	}
	return problem.Wrap(err, problem.MalformedJSON, "invalid JSON: %v", err)
}

func joinPath(path, field string) string {
	switch {
	case path == "":
		return field
	case field == "":
		return path
	}
	return path + "." + field
}

// prefixFields returns err with every field of its problem under prefix
// (seq → events[3].seq) and the detail saying where; other errors pass.
func prefixFields(err error, prefix string) error {
	p := problem.As(err)
	if p == nil {
		return err
	}
	cp := *p
	cp.Errors = make([]problem.FieldError, len(p.Errors))
	for i, fe := range p.Errors {
		cp.Errors[i] = problem.FieldError{Field: joinPath(prefix, fe.Field), Reason: fe.Reason}
	}
	cp.Detail = prefix + ": " + p.Detail
	if len(cp.Errors) > 0 && cp.Code == problem.InvalidArgument {
		// Rebuilt so the detail names the first field in full.
		q := problem.Fields(cp.Errors...)
		cp.Detail = q.Detail
	}
	return &cp
}

func isStructPtr(v any) bool {
	t := reflect.TypeOf(v)
	return t != nil && t.Kind() == reflect.Pointer && t.Elem().Kind() == reflect.Struct
}

// memberSyntaxProblem is the problem of a body (or member at path) that is
// not one JSON object.
func memberSyntaxProblem(err error, path string, data []byte) error {
	if errors.Is(err, errNotObject) {
		field := path
		if field == "" {
			field = "body"
		}
		return problem.Field(field, "must be an object, got %s", describeStart(bytes.TrimSpace(data)))
	}
	// Let the plain decoder name the error and its byte offset in the
	// whole body.
	dec := json.NewDecoder(bytes.NewReader(data))
	var v any
	if err := dec.Decode(&v); err != nil {
		return decodeProblem(err, path, data)
	}
	return problem.New(problem.MalformedJSON, "invalid JSON at byte %d: the body must hold one JSON value and nothing after it", dec.InputOffset())
}

// problem is the problem of what decodeMembers found (nil when nothing):
// unknown_field when only unknown members, else invalid_argument with one
// entry per member.
func (me memberErrors) problem() error {
	if len(me.fields) == 0 && len(me.unknown) == 0 {
		return nil
	}
	unknown := make([]problem.FieldError, len(me.unknown))
	for i, u := range me.unknown {
		unknown[i] = problem.FieldError{Field: u, Reason: "is not a field of this request"}
	}
	if len(me.fields) == 0 {
		p := problem.New(problem.UnknownField, "%s: is not a field of this request", me.unknown[0])
		p.Errors = unknown
		return p
	}
	return problem.Fields(append(me.fields, unknown...)...)
}

// mergeFields joins the field problems of a body's decoding and of the
// caller's checks into one problem with one entry per field (a field
// already reported keeps its first entry). Any other error wins as it is.
func mergeFields(errs ...error) error {
	var all []problem.FieldError
	seen := map[string]bool{}
	onlyUnknown := true
	for _, err := range errs {
		if err == nil {
			continue
		}
		p := problem.As(err)
		if p == nil || (p.Code != problem.InvalidArgument && p.Code != problem.UnknownField) ||
			(len(p.Errors) == 1 && p.Errors[0].Field == "body") {
			// Not field problems, or no member could be read at all (the
			// body is not an object): the caller's checks have nothing to
			// add.
			return err
		}
		if p.Code != problem.UnknownField {
			onlyUnknown = false
		}
		for _, fe := range p.Errors {
			if !seen[fe.Field] {
				seen[fe.Field] = true
				all = append(all, fe)
			}
		}
	}
	switch {
	case len(all) == 0:
		return nil
	case onlyUnknown:
		p := problem.New(problem.UnknownField, "%s: is not a field of this request", all[0].Field)
		p.Errors = all
		return p
	}
	return problem.Fields(all...)
}
