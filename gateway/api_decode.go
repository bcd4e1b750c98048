package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"os"
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
// nothing after it.
func decodeBody(data []byte, v any) error {
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
