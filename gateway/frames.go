package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	jsonv2 "github.com/go-json-experiment/json"

	"github.com/pgw/pgw/problem"
	"github.com/pgw/pgw/tenant"
	"github.com/pgw/pgw/wire"
)

// frame is a decoded client frame. Fields of every type are decoded at once:
// a frame's own type decides which matter. Pointers tell absent from zero.
type frame struct {
	Type    string          `json:"type"`
	ID      json.RawMessage `json:"id,omitempty"`
	Token   string          `json:"token"`
	Login   string          `json:"login"`
	Session string          `json:"session"`
	Window  string          `json:"window"`
	Device  string          `json:"device"`
	Client  string          `json:"client"`
	Status  *string         `json:"status"`
	Note    *string         `json:"note"`
	Idle    *bool           `json:"idle"`
	Users   []string        `json:"users"`
	Tenant  *bool           `json:"tenant"`
	Watch   bool            `json:"watch"` // hello: watch only, no presence (watch.go)
	// raw is the whole frame, for types decoded further (ipt.*).
	raw []byte
}

// decodeFrame parses one client frame. It returns the frame (with its id
// whenever the id could be read, so an error can still be answered to it)
// and the problem with the frame, if any: malformed_frame for text that is
// not a JSON object with a string type, invalid_argument naming every
// member of the wrong JSON type, every duplicate member, or a bad id.
// Member names match exactly; members no frame type defines are ignored.
// An id of null is no id.
func decodeFrame(data []byte) (*frame, *problem.Problem) {
	f := &frame{raw: data}
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return f, problem.New(problem.MalformedFrame, "a frame must be one JSON object, got %s", describeStart(trimmed))
	}
	var me memberErrors
	if !decodeWellFormed(trimmed, f) {
		*f = frame{raw: data}
		var err error
		if me, err = decodeMembers(trimmed, f, ""); err != nil {
			var syn *json.SyntaxError
			if errors.As(err, &syn) {
				return &frame{raw: data}, problem.New(problem.MalformedFrame, "invalid JSON at byte %d: %v", syn.Offset, err)
			}
			return &frame{raw: data}, problem.New(problem.MalformedFrame, "invalid JSON: %v", err)
		}
	}
	if string(f.ID) == "null" {
		f.ID = nil
	}
	idErr := checkID(f.ID)
	if idErr != nil {
		f.ID = nil
	}
	var errs []problem.FieldError
	for _, fe := range me.fields {
		switch fe.Field {
		case "type":
			return f, problem.New(problem.MalformedFrame, "type %s", fe.Reason)
		case "id":
			idErr = nil // reported below with the others
		}
		errs = append(errs, fe)
	}
	if f.Type == "" {
		return f, problem.New(problem.MalformedFrame, "a frame needs a type (a string), got none")
	}
	if idErr != nil {
		errs = append(idErr.Errors, errs...)
	}
	if len(errs) > 0 {
		return f, problem.Fields(errs...)
	}
	return f, nil
}

// decodeWellFormed is decodeFrame's fast path, for the frames clients
// normally send: valid JSON, every member one the frame defines, under its
// exact name, once, of the right JSON type. It decodes those in one pass
// (encoding/json/v2 semantics: exact names, duplicates and, with the
// option, unknown members are errors) and reports false for anything else;
// the caller then starts again with decodeMembers, which finds and names
// every problem. Both paths give the same frame for the frames this one
// takes (FuzzDecodeFrame checks it): the member-by-member decoder cost
// about 13 µs per hello, most of a frame's decoding.
func decodeWellFormed(data []byte, f *frame) bool {
	return len(data) > 0 && data[0] == '{' && jsonv2.Unmarshal(data, f, jsonv2.RejectUnknownMembers(true)) == nil
}

// checkID accepts a number or a string of at most 64 characters.
func checkID(id json.RawMessage) *problem.Problem {
	if len(id) == 0 || string(id) == "null" {
		return nil
	}
	switch id[0] {
	case '"':
		var s string
		if err := json.Unmarshal(id, &s); err != nil {
			return problem.Field("id", "is not a valid string")
		}
		if n := len([]rune(s)); n > wire.MaxFrameIDLen {
			return problem.Field("id", "must be at most %d characters, got %d", wire.MaxFrameIDLen, n)
		}
		return nil
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		if _, err := strconv.ParseFloat(string(id), 64); err != nil {
			return problem.Field("id", "is not a valid number")
		}
		return nil
	}
	return problem.Field("id", "must be a number or a string, got %s", describeStart(id))
}

func describeStart(b []byte) string {
	if len(b) == 0 {
		return "nothing"
	}
	switch b[0] {
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	case '{':
		return "an object"
	}
	return "a number or invalid JSON"
}

// jsonKind turns a Go type into the JSON kind a client understands.
func jsonKind(goType string) string {
	switch {
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	case goType == "string", goType == "*string":
		return "a string"
	case goType == "bool", goType == "*bool":
		return "a boolean"
	case strings.Contains(goType, "int"), strings.Contains(goType, "float"):
		return "a number"
	}
	return "an object"
}

// checkUsers validates a users list of subscribe, unsubscribe or a query.
func checkUsers(users []string, max int) *problem.Problem {
	if len(users) > max {
		return problem.Field("users", "must list at most %d users, got %d", max, len(users))
	}
	var errs []problem.FieldError
	for i, u := range users {
		if !wire.ValidID(u) {
			errs = append(errs, problem.FieldError{Field: "users[" + strconv.Itoa(i) + "]",
				Reason: fmt.Sprintf("%q is not a valid user id ("+wire.IDPattern+")", problem.Excerpt(u, 40))})
		}
	}
	if len(errs) > 0 {
		return problem.Fields(errs...)
	}
	return nil
}

// Outbound frames. They are marshalled once and queued as bytes.

// reply is the body of an ok frame: okWith sets its type and id and encodes
// it once.
type reply interface{ header() *okHeader }

// okHeader starts every ok frame; alone it is the ok of a frame with no
// result.
type okHeader struct {
	Type string          `json:"type"`
	ID   json.RawMessage `json:"id,omitempty"`
}

func (h *okHeader) header() *okHeader { return h }

// statusOK answers status with the presence it made.
type statusOK struct {
	okHeader
	Presence wire.Presence `json:"presence"`
}

// refreshOK answers refresh with the new expiry (Unix seconds).
type refreshOK struct {
	okHeader
	Expires int64 `json:"expires"`
}

// syncOK answers ipt.sync with the number of devices taken.
type syncOK struct {
	okHeader
	Devices int `json:"devices"`
}

// eventOK answers an ipt.event that was ignored (a sequence already seen).
type eventOK struct {
	okHeader
	Ignored bool `json:"ignored"`
}

type errorFrame struct {
	Type  string           `json:"type"`
	ID    json.RawMessage  `json:"id,omitempty"`
	Error *problem.Problem `json:"error"`
}

type welcomeFrame struct {
	Type      string          `json:"type"`
	ID        json.RawMessage `json:"id,omitempty"`
	Conn      string          `json:"conn"`
	Session   string          `json:"session"`
	User      string          `json:"user"`
	Tenant    string          `json:"tenant"`
	Node      string          `json:"node"`
	Heartbeat int64           `json:"heartbeat"`
	Expires   int64           `json:"expires"`
	Presence  wire.Presence   `json:"presence"`
	Watch     bool            `json:"watch,omitempty"` // a watch-only connection (watch.go)
	// Statuses are the tenant's custom statuses (§9), so a client can show
	// the label of a PRESENCE's custom name; absent when it has none.
	Statuses []tenant.Status `json:"statuses,omitempty"`
}

type presenceListFrame struct {
	Type     string            `json:"type"`
	ID       json.RawMessage   `json:"id,omitempty"`
	Presence []json.RawMessage `json:"presence"`
}

type expiringFrame struct {
	Type    string `json:"type"`
	Expires int64  `json:"expires"`
}

func byeFrame(reason problem.Code) []byte {
	b, _ := json.Marshal(struct {
		Type   string `json:"type"`
		Reason string `json:"reason"`
	}{wire.TypeBye, string(reason)})
	return b
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		// Only our own frame types are marshalled; failing is a bug.
		panic("gateway: marshal frame: " + err.Error())
	}
	return b
}
