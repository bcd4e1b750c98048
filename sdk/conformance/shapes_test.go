package conformance

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"

	"github.com/pgw/pgw/wire"
)

// TestPresenceVectorsAreWirePresence: every PRESENCE object in the shared
// vectors (a member with type "presence", wherever it sits) is exactly the
// gateway's wire.Presence: it decodes with no unknown member and encodes
// back to the same JSON. The SDKs are tested against these vectors, so the
// one Go shape and both clients' reading of it cannot drift apart.
func TestPresenceVectorsAreWirePresence(t *testing.T) {
	n := 0
	for _, file := range []string{"ws.json", "http.json"} {
		var doc any
		readJSON(t, file, &doc)
		walkObjects(doc, file, func(where string, obj map[string]any) {
			if obj["type"] != wire.TypePresence {
				return
			}
			n++
			raw, _ := json.Marshal(obj)
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.DisallowUnknownFields()
			var p wire.Presence
			if err := dec.Decode(&p); err != nil {
				t.Errorf("%s: %s is not a wire.Presence: %v", where, raw, err)
				return
			}
			back, _ := json.Marshal(p)
			var again map[string]any
			_ = json.Unmarshal(back, &again)
			if !reflect.DeepEqual(again, obj) {
				t.Errorf("%s: wire.Presence encodes\n  %s\nthe vector has\n  %s", where, back, raw)
			}
		})
	}
	if n == 0 {
		t.Fatal("no PRESENCE object in ws.json or http.json")
	}
}

// walkObjects calls fn on every JSON object inside v, with its path.
func walkObjects(v any, where string, fn func(string, map[string]any)) {
	switch x := v.(type) {
	case map[string]any:
		fn(where, x)
		for k, e := range x {
			walkObjects(e, where+"."+k, fn)
		}
	case []any:
		for i, e := range x {
			walkObjects(e, fmt.Sprintf("%s[%d]", where, i), fn)
		}
	}
}
