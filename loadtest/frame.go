package loadtest

import (
	"encoding/json"

	jsonv2 "github.com/go-json-experiment/json"

	"github.com/pgw/pgw/wire"
)

// inFrame is every server frame the harness reads, decoded into one flat
// struct: the members of welcome, ok/error replies, presence, call and bye
// frames do not clash, and one type keeps the reader allocation-light.
type inFrame struct {
	Type string          `json:"type"`
	ID   json.RawMessage `json:"id,omitempty"`

	// welcome
	Conn    string `json:"conn,omitempty"`
	Session string `json:"session,omitempty"`
	Node    string `json:"node,omitempty"`

	// presence and call
	Tenant  string      `json:"tenant,omitempty"`
	User    string      `json:"user,omitempty"`
	Status  wire.Status `json:"status,omitempty"`
	Note    string      `json:"note,omitempty"`
	Version int64       `json:"version,omitempty"`
	Phone   *wire.Phone `json:"phone,omitempty"`
	Ext     string      `json:"ext,omitempty"`
	Event   string      `json:"event,omitempty"`
	Call    *wire.Call  `json:"call,omitempty"`

	// welcome (the caller's own PRESENCE) and the subscribe reply (a list)
	Presence json.RawMessage `json:"presence,omitempty"`

	// bye
	Reason string `json:"reason,omitempty"`

	// error
	Error *problemBody `json:"error,omitempty"`
}

// problemBody is the part of an RFC 9457 problem the harness counts by.
type problemBody struct {
	Status int    `json:"status"`
	Code   string `json:"code"`
	Detail string `json:"detail"`
}

// statusFrame sets the user's manual status.
type statusFrame struct {
	Type   string `json:"type"`
	ID     int64  `json:"id"`
	Status string `json:"status"`
	Note   string `json:"note,omitempty"`
}

// simpleFrame is a frame with no fields but type and id (logout).
type simpleFrame struct {
	Type string `json:"type"`
	ID   int64  `json:"id"`
}

const clientName = "pgw-loadtest/1"

// decodeIn decodes one server frame. Decoding every delivery was a third of
// the harness's CPU in a fan-out run with encoding/json; encoding/json/v2
// (go-json-experiment) takes about half as long. Where v2 is stricter than
// the old decoder (it refuses duplicate names, names differing in case,
// invalid UTF-8) the old decoder has the last word, so the harness reads
// exactly what it read before.
func decodeIn(data []byte, f *inFrame) error {
	if jsonv2.Unmarshal(data, f) == nil {
		return nil
	}
	*f = inFrame{}
	return json.Unmarshal(data, f)
}
